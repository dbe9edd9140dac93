"""Host selection (vkernel/selection.py): the first answer to `@ *` comes from the least loaded
host because a program manager's answer is work scheduled behind that host's guests (V,
section 2.1), and `scaled` keeps the answers per query bounded as the cluster grows (issue 17).

References: the busy programs each test puts on each host (independent of the mechanism), the
cost model's formula for an idle host's answer, the slice length of the config, and, for the
answer counts, first-reply's own N - 1 answers (every willing member answers)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import ROOT, config, run_session, vcluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.loader import load_config_text
from configs.schema import ConfigError
from netsim import frame as wire
from vcluster import bench_select
from vkernel import packets as pk
from vkernel import selection

MS = 1_000_000


def idle_answer_model_ms(cfg, processes: int) -> float:
    """Query out, the weighing on an idle host (a context switch, then the work), answer back."""
    c = cfg.cost
    frame = max(wire.MIN_FRAME, wire.HEADER + pk.HEADER_SIZE + pk.MSG_SIZE)
    bits = (wire.PREAMBLE + frame + wire.FCS) * 8 + wire.IFG_BITS
    one_way = (c.packet_send_us + c.packet_receive_us) / 1000 + bits * 1e3 / cfg.network.bitrate
    weigh = (c.program_manager_op_us + processes * c.pm_examine_process_us) / 1000
    return 2 * one_way + c.context_switch_us / 1000 + weigh


# --- first-reply: the least loaded host answers first ------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_the_first_answer_comes_from_a_least_loaded_host(loads):
    row = bench_select.run_row(4, 0, "first-reply", queries=3, busy=loads)
    assert not [q.error for q in row.queries if q.error]
    least = min(loads)
    for q in row.queries:
        assert row.busy[q.host] == least, (loads, q.host)
        assert q.answerers == 3  # first-reply: every willing member answers


def test_selection_latency_grows_with_load_as_the_scheduler_says():
    cfg = load_config_text(bench_select.config_text(3, "first-reply"))
    slice_ms = cfg.cpu.slice_ns / MS
    medians = {}
    for load in (0, 1, 3):
        row = bench_select.summarize(bench_select.run_row(3, load, "first-reply", queries=8))
        assert row["unanswered"] == 0 and row["least_loaded"]
        medians[load] = row["median_ms"]
    assert medians[0] < medians[1] < medians[3]
    # an idle host answers after the cost model's work alone; its process table: the servers
    model = idle_answer_model_ms(cfg, processes=5)
    assert medians[0] == pytest.approx(model, rel=0.1)
    # a host with L busy guests runs the weighing after the running slice and L - 1 more
    for load in (1, 3):
        assert (load - 1) * slice_ms < medians[load] < load * slice_ms + 3 * model


# --- scaled: answers per query bounded at 120 hosts --------------------------------------------


@pytest.mark.slow
def test_scaled_answers_stay_bounded_at_120_hosts_where_first_reply_draws_every_host():
    v = bench_select.summarize(bench_select.run_row(120, 0, "first-reply", queries=4))
    scaled = bench_select.summarize(bench_select.run_row(120, 0, "scaled", queries=8))
    assert v["answers_per_query"] == v["candidates"] == 119  # V: every idle member answers
    assert scaled["unanswered"] == 0 and scaled["least_loaded"]
    assert scaled["answers_per_query"] <= 5 and scaled["max_answers"] <= 12
    assert scaled["median_ms"] < 2 * v["median_ms"]  # bounded answers without a long wait


def test_scaled_keeps_the_least_loaded_first_and_answers_few():
    row = bench_select.summarize(bench_select.run_row(12, 1, "scaled", queries=8))
    first = bench_select.summarize(bench_select.run_row(12, 1, "first-reply", queries=4))
    assert row["unanswered"] == 0 and row["least_loaded"]
    assert first["answers_per_query"] >= 11
    assert row["answers_per_query"] < first["answers_per_query"] / 3


def test_the_scaled_delay_follows_its_formula():
    from vcluster.session import Session

    cfg = load_config_text(bench_select.config_text(12, "scaled"))
    session = Session(cfg)
    k = session.kernels["ws2"]
    window = cfg.idle.scaled_window_delays * selection.answer_delay_ns(k)
    delays = [selection.scaled_delay_ns(k, 0) for _ in range(2000)]
    assert all(0 <= d <= window for d in delays)
    at_once = sum(d == 0 for d in delays) / len(delays)
    assert at_once == pytest.approx(1 / 12, abs=0.03)  # P(u <= 1/N)
    loaded = [selection.scaled_delay_ns(k, 2) for _ in range(200)]
    assert all(2 * window <= d <= 3 * window for d in loaded)
    session.close()


def test_across_gateways_the_suppression_window_spans_the_widest_path_s_latency():
    # an answer is overheard on the farthest segment after the gateways of the path between
    # them: the window of `scaled` waits for it (else every segment answers on its own)
    one = config("large")
    cfg = config("segments")
    gw1, gw2 = cfg.gateways
    cfg = dataclasses.replace(cfg, gateways=(gw1, dataclasses.replace(gw2, latency_us=3000.0)))

    class K:
        config = cfg
        cost = cfg.cost

    class One:
        config = one
        cost = one.cost

    farthest_us = gw1.latency_us + 3000.0  # lan2 -> lan1 -> lan3, the star's two arms
    assert selection.answer_delay_ns(K) - selection.answer_delay_ns(One) == farthest_us * 1000


# --- gossip: load vectors in the background ----------------------------------------------------


@pytest.mark.slow
def test_gossip_answers_stay_at_gossip_answers_at_120_hosts():
    cfg = load_config_text(bench_select.config_text(120, "gossip"))
    row = bench_select.summarize(bench_select.run_row(120, 0, "gossip", queries=6))
    assert row["unanswered"] == 0 and row["least_loaded"]
    assert row["answerers_per_query"] == cfg.idle.gossip_answers  # every vector agrees


def test_gossip_picks_the_least_loaded_and_spreads_queries_over_equals():
    row = bench_select.run_row(12, 1, "gossip", queries=10)
    summary = bench_select.summarize(row)
    assert summary["unanswered"] == 0 and summary["least_loaded"]
    assert summary["answerers_per_query"] <= 2
    assert len({q.host for q in row.queries}) >= 3  # ties broken per query, not one favourite


def test_every_host_reports_its_load_once_and_every_vector_knows_them():
    from vcluster.session import Session

    cfg = load_config_text(bench_select.config_text(12, "gossip"))
    session = Session(cfg)
    session.execute(f"wait {cfg.idle.gossip_interval_ms * 1.1 / 1000}")
    vectors = [
        k.servers["program"].gossip for k in session.kernels.values() if "program" in k.servers
    ]
    assert [v.sent for v in vectors] == [1] * 12  # idle and unchanged: one report each
    assert all(len(v.entries) == 11 for v in vectors)
    assert session.summary()["net"]["frames"] == 12
    session.execute("spin 0.2 @ ws5")
    session.execute("wait 0.05")
    ws5 = session.kernels["ws5"].servers["program"].gossip.pm.proc.pid
    heard = session.kernels["ws2"].servers["program"].gossip.entries[ws5]
    assert heard.load >= 100  # ws5 said at once that it is creating (then running) a program
    assert session.kernels["ws5"].servers["program"].gossip.sent >= 2
    session.close()


def test_a_late_worker_does_not_answer_the_sender_s_next_query():
    # gossip's fallback waits half the query timeout; the bench asks again every GAP_MS: the
    # fallback of query 1 must not answer query 2 (every host would)
    row = bench_select.summarize(bench_select.run_row(12, 0, "gossip", queries=4))
    assert row["answerers_per_query"] <= 2 and row["max_answers"] <= 4


# --- config: modes, auto, validation -----------------------------------------------------------


def test_auto_is_first_reply_for_small_clusters_and_scaled_above():
    from vcluster.session import Session

    small = Session(config("tiny"))
    assert {selection.mode(k) for k in small.kernels.values()} == {"first-reply"}
    small.close()
    big = load_config_text(bench_select.config_text(20, "auto"))
    assert big.idle.selection == "auto" and big.idle.selection_auto_hosts == 16
    few = dataclasses.replace(big, idle=dataclasses.replace(big.idle, selection_auto_hosts=32))
    big_session, few_session = Session(big), Session(few)
    assert selection.mode(big_session.kernels["ws2"]) == "scaled"
    assert selection.mode(few_session.kernels["ws2"]) == "first-reply"
    big_session.close()
    few_session.close()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("selection", "gossipy", "must be one of first-reply, scaled, gossip, auto"),
        ("gossip_interval_ms", 5, "gossip_interval_ms"),
        ("gossip_answers", 0, "gossip_answers"),
        ("selection_auto_hosts", 0, "selection_auto_hosts"),
        ("scaled_window_delays", 0, "scaled_window_delays"),
    ],
)
def test_bad_selection_settings_are_refused_clearly(field, value, words):
    text = f"idle:\n  {field}: {value}\nmachines:\n  - name: ws1\n  - name: fs1\n    role: fileserver\n"
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "bad.yaml")
    assert words in str(err.value) and str(err.value).startswith("bad.yaml:")


def test_a_server_s_scheduled_work_is_not_a_program_in_the_load():
    session, _ = run_session([], cfg=config("tiny"))
    k = session.kernels["ws2"]
    assert k.load() == 0
    pm = k.servers["program"]
    assert pm.host_load() == 0 and pm.is_willing()
    session.close()


# --- end to end: `@ *` under each mode ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["first-reply", "scaled", "gossip"])
def test_run_at_star_under_each_selection(tmp_path, mode):
    text = (ROOT / "configs" / "tiny.yaml").read_text()
    text = text.replace("\nidle:\n", f"\nidle:\n  selection: {mode}\n", 1)
    assert f"selection: {mode}" in text
    path = tmp_path / "tiny-select.yaml"
    path.write_text(text)
    proc = vcluster("run", str(path), "--json", "hello @ *", "hello @ *", "primes 200 @ *")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not summary["errors"]
    progs = summary["programs"]
    assert [p["exit_status"] for p in progs] == [0, 0, 0]
    assert all(p["host_started"] in ("ws2", "ws3") for p in progs)


# --- faults: `@ *` and evictions under loss with the scalable selections -----------------------


@pytest.mark.parametrize("mode", ["scaled", "gossip"])
@pytest.mark.parametrize(("scenario", "loss"), [("rexec", 0.1), ("rexec", 0.3), ("eviction", 0.1)])
def test_the_torture_cases_hold_under_scalable_selection(monkeypatch, mode, scenario, loss):
    """The torture harness's checks (hangs, copies, lost or repeated requests, output against
    the fault-free run of the same selection) with `idle.selection` set to `mode`."""
    from vcluster import torture

    plain = torture.load

    def load(name, seed=None):
        cfg = plain(name, seed)
        return dataclasses.replace(cfg, idle=dataclasses.replace(cfg.idle, selection=mode))

    monkeypatch.setattr(torture, "load", load)
    verdict = torture.run_case(torture.Case(scenario, loss, 1))
    assert verdict.ok, verdict.report()
