"""The large config under load: `@ *` spreads programs over idle hosts; `vcluster bench scale` keys."""

from __future__ import annotations

import pytest

from configs.loader import MAX_MACHINES, ConfigError, load_config_text
from configs.schema import GatewayConfig
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


def test_a_size_beyond_one_segment_is_an_internetwork_of_full_segments_in_a_star():
    cfg = bench_scale.config(2500)  # through the loader: its checks passed (a tree, 1,024 a wire)
    names = [m.name for m in cfg.machines]
    assert sorted(names) == sorted([f"ws{i}" for i in range(1, 2501)] + ["fs1"])
    assert len({m.mac for m in cfg.machines}) == 2501
    assert cfg.console_host == "ws1" and cfg.file_server.name == "fs1"
    # ceil(2500 / 1000) segments of at most 1,000 workstations; the console's and the file
    # server's is the hub, every other one hangs off it by a gateway of default latency
    segs = [s.name for s in cfg.segments]
    assert len(segs) == 3 and len(cfg.gateways) == 2
    hub = cfg.segment_of(cfg.machine("ws1"))
    assert cfg.segment_of(cfg.file_server) == hub
    per: dict[str, list[str]] = {s: [] for s in segs}
    for m in cfg.machines:
        per[cfg.segment_of(m)].append(m.name)
    assert sorted(len([n for n in v if n.startswith("ws")]) for v in per.values()) == [
        500,
        1000,
        1000,
    ]
    assert {frozenset(g.segments) for g in cfg.gateways} == {
        frozenset((hub, s)) for s in segs if s != hub
    }
    default = GatewayConfig(name="gw")
    assert all(g.latency_us == default.latency_us for g in cfg.gateways)
    assert all(g.bandwidth_bps == default.bandwidth_bps for g in cfg.gateways)
    assert bench_scale.segments_of(2500) == {"segments": 3, "gateways": 2}
    assert bench_scale.segments_of(1000) == {"segments": 1, "gateways": 0}
    assert len(bench_scale.config(1000).segments) == 0  # up to one wire: the one segment


def test_the_internetwork_of_five_thousand_workstations_loads():
    cfg = bench_scale.config(5000)
    assert len(cfg.machines) == 5001 and len(cfg.segments) == 5 and len(cfg.gateways) == 4


def test_bench_scale_says_what_is_wrong_with_its_hosts_option():
    out = vcluster("bench", "scale", "--hosts", "120,many", "--json")
    assert out.returncode == 1 and out.stdout == ""
    assert "--hosts '120,many': workstation counts separated by commas" in out.stderr


def test_a_config_of_more_machines_than_the_loader_takes_is_refused_with_its_limit():
    entries = -(-(MAX_MACHINES + 1) // 1000)  # an entry repeats at most 1,024
    text = "machines:\n" + "".join(
        f"  - name: ws{{i}}\n    count: 1000\n    first: {1 + 1000 * k}\n" for k in range(entries)
    )
    with pytest.raises(ConfigError, match=f"too many machines \\(a config takes {MAX_MACHINES}\\)"):
        load_config_text(text)
