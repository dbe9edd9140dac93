"""`vcluster bench migrate`: its keys, its targets, and that migrated workloads print what they would."""

from __future__ import annotations

import json

from helpers import vcluster

from vcluster.bench_migrate import V_S_PER_MB, run_bench


def test_bench_migrate_two_workloads_meet_the_targets():
    result = run_bench(names=("tex", "make"))
    rows = {r["name"]: r for r in result["workloads"]}
    assert set(rows) == {"tex", "make"}
    for row in rows.values():
        for key in ("dirty_kb", "paper_dirty_kb", "rounds", "bytes", "freeze_ms", "total_ms", "s_per_mb"):
            assert key in row
        assert row["ok"] and row["output_matches_unmigrated"]
        assert row["host_final"] != "ws2"
        assert row["freeze_ms"] < 210.0
        assert row["s_per_mb"] <= V_S_PER_MB / 2
        for interval, paper in row["paper_dirty_kb"].items():
            assert abs(row["dirty_kb"][interval] / paper - 1) <= 0.2
        assert 1500 <= row["logical_host_kb"] <= 2100
    assert result["targets"] == {"dirty_within_20pct": True, "freeze_below_v": True, "copy_rate_2x_v": True}


def test_bench_migrate_cli_prints_json():
    proc = vcluster("bench", "migrate", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [r["name"] for r in result["workloads"]] == [
        "make", "cc68", "preprocessor", "parser", "optimizer", "assembler", "linker", "tex"
    ]
    assert all(r["output_matches_unmigrated"] for r in result["workloads"])
    # the multi-round workloads: three rounds or more, over 1 MB written during pre-copy
    assert [r["name"] for r in result["multi_round"]] == ["recsort", "sweeper"]
    assert result["multi_round_targets"] == {"multi_round_3": True, "multi_round_written_1mb": True}
    for r in result["multi_round"]:
        assert r["rounds"] >= 3 and r["output_matches_unmigrated"]
        assert sum(p["bytes"] for p in r["per_round"]) == r["precopy_bytes"]
