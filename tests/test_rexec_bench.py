"""`vcluster bench rexec`: host selection, set-up/destroy and load time next to V's figures."""

from __future__ import annotations

import json

import pytest
from helpers import vcluster

from emulator.loader import load_image
from guest import build
from vcluster import bench, bench_rexec


@pytest.fixture(scope="module")
def result():
    return bench_rexec.run_bench(quick=True)


def test_registered_as_rexec():
    assert "rexec" in bench.names()
    assert bench.load("rexec") is bench_rexec.run_bench


def test_keys_and_v_figures_beside_them(result):
    for key, v in (("selection_ms", 23), ("setup_ms", 40), ("load_ms_per_100KB", 330)):
        assert isinstance(result[key], float) and result[key] > 0
        assert result[f"v_{key}"] == v
    assert isinstance(result["explanation"], str) and "pm_examine_page_us" in result["explanation"]


def test_each_figure_is_at_or_below_vs(result):
    assert result["selection_ms"] <= result["v_selection_ms"]
    assert result["setup_ms"] <= result["v_setup_ms"]
    assert result["load_ms_per_100KB"] <= result["v_load_ms_per_100KB"]
    assert result["within_v"] == {"selection": True, "setup": True, "load": True}


def test_the_figures_hang_together(result):
    # the host chosen is not the origin; tiny selects by first-reply (auto, 3 workstations):
    # both idle workstations other than the origin answer
    assert result["host_chosen"] in ("ws2", "ws3") and 1 <= result["query_answers"] <= 2
    # set-up/destroy does not depend on the image's size (the load is taken out)
    low, high = result["setup_ms_range"]
    assert high - low < 0.1
    assert result["setup_ms"] == pytest.approx(result["setup_create_ms"] + result["setup_destroy_ms"], abs=0.002)
    # loading is linear in the size: fixed part + marginal rate
    loads = result["load_ms"]
    assert loads["load200k"] == pytest.approx(result["load_fixed_ms"] + 2 * result["load_marginal_ms_per_100KB"], abs=0.01)
    assert loads["hello"] < loads["load100k"] < loads["load200k"]
    assert result["image_bytes"]["load100k"] == 100 * 1024


def test_padded_image_still_loads_as_the_same_program():
    base = build.image_path("hello").read_bytes()
    padded = bench_rexec.padded_image(base, 100 * 1024)
    assert len(padded) == 100 * 1024
    a, b = load_image(base), load_image(padded)
    assert (a.entry, a.segments) == (b.entry, b.segments)
    with pytest.raises(ValueError):
        bench_rexec.padded_image(base, 100)


def test_cli_json_and_table():
    proc = vcluster("bench", "rexec", "--json", "--quick")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"selection_ms", "setup_ms", "load_ms_per_100KB", "v_selection_ms", "v_setup_ms",
            "v_load_ms_per_100KB", "explanation", "selection_scaling"} <= data.keys()
    proc = vcluster("bench", "rexec", "--quick")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("bench rexec\n") and "selection_ms" in proc.stdout
    assert "hosts load selection" in proc.stdout  # the selection_scaling table
    for mode in ("first-reply", "scaled", "gossip"):
        assert f"   12    3 {mode}" in proc.stdout


def test_selection_scaling_rows(result):
    rows = result["selection_scaling"]
    keys = {"hosts", "load", "selection", "median_ms", "p99_ms", "answers_per_query", "queries",
            "least_loaded"}
    assert rows and all(keys <= row.keys() for row in rows)
    assert {(r["hosts"], r["load"], r["selection"]) for r in rows} == {
        (n, load, mode) for n in (3, 12) for load in (0, 1, 3)
        for mode in ("first-reply", "scaled", "gossip")
    }
    for row in rows:
        assert row["queries"] == 10 and row["least_loaded"], row
    first = {(r["hosts"], r["load"]): r for r in rows if r["selection"] == "first-reply"}
    assert [first[(12, load)]["median_ms"] for load in (0, 1, 3)] == sorted(
        first[(12, load)]["median_ms"] for load in (0, 1, 3))
    assert first[(12, 0)]["answers_per_query"] == 11  # every idle member but the origin


def test_load_cold_and_warm_rows_derive_from_the_disk(result):
    from emulator.disk import Disk

    cold, warm = result["load_cold"], result["load_warm"]
    for row in (cold, warm):
        assert row["v_ms_per_100KB"] == 330.0 and "file_server_op_us" in row["derivation"]
        # the parts add up to the measured load
        parts = row["disk_ms"] + row["file_server_op_ms"] + row["protocol_ms"]
        assert row["ms_per_100KB"] == pytest.approx(parts, abs=0.005)
        assert row["disk_ms"] == pytest.approx(
            row["disk_seek_ms"] + row["disk_rotation_ms"] + row["disk_transfer_ms"], abs=0.005
        )
    # the cold load is the same fetch as the 100 KB figure (a fresh boot)
    assert cold["ms_per_100KB"] == result["load_ms_per_100KB"]
    # cold: every block of the image (100 data, its indirect block, the directory) misses once;
    # only the indirect block read again by the later IO_READs hits
    assert cold["cache_misses"] >= 102 and cold["cache_hit_rate"] < 0.05
    # the transfer is every missed block's two 512-byte sectors, each passing in
    # 60 s / 3961 rpm / 55 sectors a track (1 859 000 B/s * 60 / 3961 / 512 = 55)
    eagle = Disk(20 * 1024 * 1024)
    sector_ms = 60e3 / 3961 / 55
    assert eagle.sector_ns == pytest.approx(sector_ms * 1e6)
    assert cold["disk_transfer_ms"] == pytest.approx(cold["cache_misses"] * 2 * sector_ms, rel=1e-3)
    # the rotational wait is less than a full turn (15.15 ms) an access
    assert 0 <= cold["disk_rotation_ms"] < cold["disk_accesses"] * 60e3 / 3961
    # warm: the block cache holds the image; no disk access, the same protocol cost
    assert warm["cache_hit_rate"] == 1.0 and warm["disk_accesses"] == 0 and warm["disk_ms"] == 0
    assert warm["protocol_ms"] == pytest.approx(cold["protocol_ms"], rel=0.01)
    assert warm["ms_per_100KB"] < cold["ms_per_100KB"]
