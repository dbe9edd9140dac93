"""Tests of netsim.bench: the numbers behind `vcluster bench net --json`."""

from __future__ import annotations

import json

from netsim.bench import bench_ethernet, bench_scheduler, run_bench


def test_bench_parts_are_consistent() -> None:
    s = bench_scheduler(events=20_000, processes=8)
    assert s["events"] >= 20_000
    assert s["events_per_second"] > 10_000
    e = bench_ethernet(stations=10, sim_seconds=0.5)
    assert e["frames"] > 350  # ~400 max-size frames fit in 0.5 s
    assert 0.9 < e["utilization"] <= 1.0  # type: ignore[operator]
    assert e["collisions"] > 0
    assert e["delivered"] == e["frames"]
    assert e["sim_to_wall"] > 1  # type: ignore[operator]


def test_run_bench_keys_and_json() -> None:
    result = json.loads(json.dumps(run_bench()))
    for key in ("events_per_second", "frames_per_second", "sim_to_wall"):
        assert isinstance(result[key], float) and result[key] > 0
    assert result["ethernet"]["stations"] == 10
    assert (
        result["ethernet"]["sim_seconds"] / result["ethernet"]["wall_seconds"]
        == result["sim_to_wall"]
    )
