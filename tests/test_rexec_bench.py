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
    return bench_rexec.run_bench()


def test_registered_as_rexec():
    assert "rexec" in bench.names()
    assert bench.load("rexec") is bench_rexec.run_bench


def test_keys_and_v_figures_beside_them(result):
    for key, v in (("selection_ms", 23), ("setup_ms", 40), ("load_ms_per_100KB", 330)):
        assert isinstance(result[key], float) and result[key] > 0
        assert result[f"v_{key}"] == v
    assert isinstance(result["explanation"], str) and "host_query_us" in result["explanation"]


def test_each_figure_is_at_or_below_vs(result):
    assert result["selection_ms"] <= result["v_selection_ms"]
    assert result["setup_ms"] <= result["v_setup_ms"]
    assert result["load_ms_per_100KB"] <= result["v_load_ms_per_100KB"]
    assert result["within_v"] == {"selection": True, "setup": True, "load": True}


def test_the_figures_hang_together(result):
    # the host chosen is not the origin; an idle workstation that overheard another's answer
    # keeps its own back, so one or two answered
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
    proc = vcluster("bench", "rexec", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"selection_ms", "setup_ms", "load_ms_per_100KB", "v_selection_ms", "v_setup_ms",
            "v_load_ms_per_100KB", "explanation"} <= data.keys()
    proc = vcluster("bench", "rexec")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("bench rexec\n") and "selection_ms" in proc.stdout
