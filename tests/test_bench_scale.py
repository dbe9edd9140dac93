"""The large config under load: `@ *` spreads programs over idle hosts; `vcluster bench scale` keys."""

from __future__ import annotations

from tests.helpers import vcluster
from vcluster import bench_scale
from vcluster.bench_scale import fill, measure_busy


def test_paced_at_star_programs_spread_one_per_idle_host_on_120_workstations():
    result = fill("large", 30, 0.03)
    assert result["machines"] == 121
    assert result["all_done"] and result["errors"] == 0
    assert result["started"] == result["exit_ok"] == 30
    assert result["hosts_used"] == 30 and result["most_on_one_host"] == 1
    # each query drew a few answers, not one from every idle host (that alone would be 119
    # frames a program). Loading a ~36 KB newlib image, exec and exit take about 70 frames
    # alone; 30 loads in 0.9 s fill the 10 Mb wire, and collisions and retransmissions bring
    # it to about 100 a program (was 45 and 55 with the 10 KB images of the old runtime).
    assert result["net"]["frames"] < 30 * 120
    for key in ("boot_seconds", "wall_seconds", "sim_to_wall", "events_per_second"):
        assert result[key] > 0


def test_an_idle_cluster_of_120_workstations_runs_no_engine_and_costs_under_a_megabyte_each():
    idle = bench_scale._in_process("idle", 120)  # a fresh process: RSS of its own
    assert idle["machines"] == 121 and idle["engines_after_idle"] == 0
    assert 0 < idle["rss_per_workstation_mb"] <= bench_scale.TARGET_IDLE_MB
    # an idle kernel's timers: a handful of events a second for the whole cluster
    assert idle["idle_events"] < 121 * bench_scale.IDLE_S


def test_every_at_star_program_starts_on_120_workstations_and_each_query_draws_few_answers():
    busy = measure_busy(120, 20)
    assert busy["started"] == busy["exit_ok"] == 20 and busy["all_done"]
    assert busy["hosts_used"] == 20
    assert busy["queries"] >= 20 and busy["unanswered"] == 0
    # scaled selection (auto above 16 workstations): bounded answers, not one per idle host
    assert busy["answers_per_query_max"] < 20
    assert 0 < busy["selection_ms_median"] <= busy["selection_ms_p99"]


def test_a_size_beyond_one_segment_is_built_as_a_what_if_with_distinct_stations():
    cfg = bench_scale.config(1500)
    names = [m.name for m in cfg.machines]
    assert names[0] == "ws1" and names[1499] == "ws1500" and names[-1] == "fs1"
    assert len({m.mac for m in cfg.machines}) == 1501
    assert cfg.console_host == "ws1" and cfg.file_server.name == "fs1"


def test_bench_scale_says_what_is_wrong_with_its_hosts_option():
    out = vcluster("bench", "scale", "--hosts", "120,many", "--json")
    assert out.returncode == 1 and out.stdout == ""
    assert "--hosts '120,many': workstation counts separated by commas" in out.stderr
