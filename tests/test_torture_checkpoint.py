"""The torture suite's checkpointed programs (issue 16): crashes over a whole run, loss, two crashes,
partitions, the file server's crash, migration, eviction and no idle host, against V's promises.

Each case runs through vcluster/torture.py (against the fault-free run of the same lines) and
vcluster/torture_checkpoint.py's checks: the files are the fault-free run's and the restart
events are true. CI runs six of the 24 instants of every scenario, three of them unmarked
(before the first checkpoint is complete, during a checkpoint's write, late in the run), and
the lossy crashes at each loss rate for seeds 1 and 2 (seed 1 unmarked); the whole sweep, with
20 seeds and every instant (about 1,100 runs, 6 minutes): `python -m vcluster.cli bench faults`.
"""

from __future__ import annotations

import pytest

from guest import abi
from vcluster import torture
from vcluster import torture_checkpoint as tc
from vcluster.session import Session, load
from vkernel import exactly_once
from vkernel.packets import Kind, Packet
from vkernel.transport import LH_RESTARTED

FAST_INSTANTS = (1, 5, 17)  # before the first checkpoint, during a write, late
CI_INSTANTS = range(1, 24, 4)  # of the 24: the bench (`vcluster bench faults`) runs them all
CI_WAITED = range(0, 16, 5)
CI_SEEDS = 2  # of the lossy crashes
WAITED = ("migrate", "evict", "noidle")


def _kind(name: str) -> str:
    return name.split("-", 1)[1].rsplit("-", 1)[0]


def _fast(case: torture.Case) -> bool:
    kind = _kind(case.scenario)
    if kind == "lossy":
        return case.seed == 1
    if kind in WAITED:
        return case.instant in (0, 5, 15)
    return case.instant in FAST_INSTANTS


def _marks(case: torture.Case):
    return [] if _fast(case) else [pytest.mark.slow]


def _in_ci(case: torture.Case) -> bool:
    kind = _kind(case.scenario)
    if kind == "lossy":
        return case.seed <= CI_SEEDS
    return case.instant in (CI_WAITED if kind in WAITED else CI_INSTANTS)


CASES = [
    pytest.param(c, id=c.ident, marks=_marks(c)) for c in tc.cases(seeds=CI_SEEDS) if _in_ci(c)
]


@pytest.mark.parametrize("case", CASES)
def test_checkpointed_program_under_faults(case):
    verdict = torture.run_case(case)
    assert verdict.ok, verdict.report()


def test_the_instants_cover_before_the_first_checkpoint_its_writes_and_the_whole_run():
    tl = tc.timeline_of("dirtier")(1)
    times = [tc.ck_instant(tl, i) for i in range(tc.CK_INSTANTS)]
    first_done = tl["writes"][0][1]
    assert all(0 < t < first_done for t in times[: tc.BEFORE_FIRST])
    writing = times[tc.BEFORE_FIRST : tc.BEFORE_FIRST + tc.WRITING]
    assert all(any(lo < t < hi for lo, hi in tl["writes"][1:]) for t in writing)
    rest = times[tc.BEFORE_FIRST + tc.WRITING :]
    assert rest == sorted(rest) and first_done < rest[0] and rest[-1] < tl["end"]


def test_every_program_and_kind_is_a_scenario():
    names = {s.name for s in tc.SCENARIOS}
    for kind in tc.KINDS:
        for prog in tc.PROGRAMS:
            assert (tc.scenario_name(kind, prog) in names) == ((prog, kind) not in tc.SKIP)
    assert len(tc.cases(seeds=20)) > 900  # the bench's sweep


def test_an_untrue_restart_event_is_caught():
    """The checks fail on a restart whose `from` is wrong and on a crash with no restart after."""
    case = torture.Case("ck-crash-dirtier", 0.0, 1, 17)
    verdict = torture.run_case(case)
    assert verdict.ok, verdict.report()
    sc = torture.SCENARIOS[case.scenario]
    lines, ref_lines = sc.lines(case, torture.timeline(case.scenario, 1))
    run = torture.execute(lines, 1)
    ref = torture.fault_free(ref_lines, 1)
    [restart] = [r for r in run.summary["restarts"] if r["kind"] == "restart"]
    restart["from"] = "ws3"  # a host that never crashed
    problems = {k: [] for k in torture.PROBLEMS}
    tc.check_events(case, run, ref, problems)
    assert any("neither crashed" in p for p in problems["bad_events"]), problems
    run.summary["restarts"] = []
    problems = {k: [] for k in torture.PROBLEMS}
    tc.check_events(case, run, ref, problems)
    assert any("no restart" in p for p in problems["bad_events"]), problems


# ------------------------------------------------------------------ what the sweep found (fixed)
@pytest.mark.parametrize(("case", "before"), tc.FOUND, ids=[c.ident for c, _ in tc.FOUND])
def test_what_the_sweep_found_is_fixed(case, before):
    """Each failed before its fix (`before` says how); now every check passes."""
    verdict = torture.run_case(case)
    assert verdict.ok, verdict.report()


def test_a_crash_just_after_a_migration_restarts_from_the_host_it_went_to():
    """Found by ck-migrate-*: the home heard where a checkpointed program runs only from its next
    checkpoint's notice, so a crash of the new host in the interval after a migration was
    reported (and its `restart` event said) "from" the host it had left. The new host now tells
    the home at once (vkernel/checkpoint.py `adopt`)."""
    case = torture.Case("ck-migrate-primes", 0.0, 1, 1)  # crash 0.05 s after the migration
    verdict = torture.run_case(case)
    assert verdict.ok, verdict.report()
    sc = torture.SCENARIOS[case.scenario]
    run = torture.execute(sc.lines(case, None)[0], 1)
    [restart] = [r for r in run.summary["restarts"] if r["kind"] == "restart"]
    assert restart["from"] == "ws3" and restart["to"] == "ws2"


def test_a_copy_that_hears_it_was_restarted_elsewhere_goes_at_once():
    """Found by ck-lossy-*: under 10% loss the home's probes of ws2 went unanswered past
    detect_s and it restarted primes on ws3 while ws2's copy ran on (its checkpoints failing, so
    no notice told it to go): two running copies for 0.57 s. The kernel that hears the LH_HERE
    "restarted" of a logical host it runs now removes its copy at once, without an exit."""
    session = Session(load(torture.CONFIG, 1))
    session.execute("dirtier 64 32 6 @ ws2 checkpoint=1")
    session.execute("wait 1.5")
    job = session.jobs[-1]
    lhid = job.pid >> 16
    ws2, ws3 = session.kernels["ws2"], session.kernels["ws3"]
    assert lhid in ws2.lhs
    announce = Packet(Kind.LH_HERE, 1, 0, 0, lhid=lhid, status=LH_RESTARTED)
    ws2.transport.handle(ws3.machine.mac, announce)
    assert lhid not in ws2.lhs and not job.done
    # a stamped request of the old incarnation is refused by a server that heard the restart
    ws1 = session.kernels["ws1"]
    ws1.transport.handle(ws3.machine.mac, announce)
    stamp = exactly_once.STAMP
    old = (abi.IO_WRITE, 1, 0, 0, 0, stamp, 0, 0)
    assert exactly_once.void(ws1, job.pid, old)
    assert not exactly_once.void(ws1, job.pid, (*old[:5], stamp + 1, 0, 0))


def test_a_replay_that_diverged_is_shown_from_its_first_difference():
    """Found by ck-twice-on-ipc: the restarted client's replay printed its error where the first
    incarnation had printed a round: the display took it for output already shown."""
    dedup = exactly_once.WriteDedup(keep=64)
    assert dedup.fresh(1, 0x04010001, 0, b"round 1\nround 2\n") == b"round 1\nround 2\n"
    assert dedup.fresh(1, 0x04010001, 0, b"round 1\n") == b""  # a faithful replay: not again
    assert dedup.fresh(1, 0x04010001, 8, b"no server\n") == b"no server\n"  # diverged
    assert dedup.fresh(1, 0x04010001, 18, b"done\n") == b"done\n"  # the stream goes on from it
    plain = exactly_once.WriteDedup()  # the file server's: by position only
    plain.fresh(1, 0x04010001, 0, b"abcd")
    assert plain.fresh(1, 0x04010001, 0, b"abXd") == b""
