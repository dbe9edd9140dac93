"""The large config under load: `@ *` spreads programs over idle hosts; `vcluster bench scale` keys."""

from __future__ import annotations

from vcluster.bench_scale import fill


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
