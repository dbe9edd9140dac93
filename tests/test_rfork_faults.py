"""A lazy rfork's child and the rest of the system (issue 16): its parent's host crashing while
it still faults pages in (a fault report within the transport's bound, or, for a checkpointed
parent, the pages from the cut's copy on the file server or from its restart's replay), its snapshot freed however it ends,
a lazy child migrated or forking again, and `ps` showing its pages fetched and to come. The
reference for every page a child reads is the parent's own copy (its digest of the same pages)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import build_c, config, vcluster_json
from vcluster.session import Session

S = 1_000_000_000

pytestmark = pytest.mark.skipif(
    bool(__import__("guest.hosted").hosted.missing()), reason="no m68k cross compiler"
)

LZF = r"""
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

static char big[512 * 1024];

static long digest(long pages)
{
    long i, sum = 0;
    for (i = 0; i < pages; i++)
        sum = sum * 31 + big[i * 4096 + 64];
    return sum & 0x7FFFFFFF;
}

/* lzf HOST MODE SPIN [f]: fork lazily (l) or eagerly (e) to HOST; the child reads every page
   of its 512 KB copy, spinning SPIN loops between pages; with f it first forks again, eagerly,
   and its child reads them all at once */
int main(int argc, char **argv)
{
    long i, spin = atol(argv[3]), status, pages = sizeof big / 4096;
    volatile long work = 0;
    ProcessId child;
    for (i = 0; i < (long)sizeof big; i += 64)
        big[i] = (char)(i >> 6);
    child = rfork_flags(argv[1], argv[2][0] == 'l' ? RFORK_LAZY : 0);
    if (child < 0) {
        printf("rfork: %ld\n", child);
        return 1;
    }
    if (child == 0) {
        long sum = 0, j;
        if (argc > 4 && argv[4][0] == 'f') {
            ProcessId grandchild = rfork_flags("*", 0);
            if (grandchild == 0) {
                printf("grandchild: %ld\n", digest(pages));
                fflush(stdout);
                return 4;
            }
            printf("child: grandchild exited %ld\n", wait_program(grandchild));
            fflush(stdout);
        }
        for (i = 0; i < pages; i++) {
            sum = sum * 31 + big[i * 4096 + 64];
            for (j = 0; j < spin; j++)
                work += j;
        }
        printf("child: %ld\n", sum & 0x7FFFFFFF);
        fflush(stdout);
        return 3;
    }
    status = wait_program(child);
    printf("parent: child exited %ld, expected %ld\n", status, digest(pages));
    return 0;
}
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> bytes:
    return build_c(tmp_path_factory.mktemp("lzf"), "lzf", LZF)


def _start(image: bytes, line: str, **changes) -> Session:
    session = Session(config("tiny", **changes), images={"lzf": image})
    session.execute(line)
    return session


def _until(session: Session, pred, limit_s: float) -> None:
    end = session.sim.now + int(limit_s * S)
    while not pred() and session.sim.now < end and session.sim.step():
        pass
    assert pred(), "condition not reached within the bound"


def _child(session: Session, host: str = "ws3") -> dict:
    [rec] = session.kernels[host].rfork.children.values()
    return rec


def _lazy_row(session: Session) -> dict | None:
    return next((r for r in session.ps_rows() if "pages_fetched" in r), None)


def _faulting(session: Session) -> bool:
    row = _lazy_row(session)
    return row is not None and row["pages_fetched"] > 8 and row["pages_remaining"] > 16


def _bound_s(session: Session) -> float:
    cost = session.config.cost
    return cost.retransmit_timeout_ms * (cost.max_retransmits + 1) / 1000


def _expected(output: str) -> tuple[str, str]:
    """(the child's digest line's number, the parent's reference) from the run's output."""
    child = [ln.split()[-1] for ln in output.splitlines() if ln.startswith("child: ")]
    parent = [ln.split()[-1] for ln in output.splitlines() if ln.startswith("parent: ")]
    return (child[-1] if child else ""), (parent[-1] if parent else "")


def test_ps_shows_a_lazy_childs_pages_fetched_and_to_come(image):
    session = _start(image, "lzf ws3 l 2000 @ ws2")
    _until(session, lambda: _faulting(session), 10)
    row = _lazy_row(session)
    child = session.kernels["ws3"].processes[row["pid"]]
    assert row["host"] == "ws3" and row["pages_fetched"] == child.team.fetched
    assert row["pages_fetched"] + row["pages_remaining"] == child.team.lazy_pages
    assert (
        "lazy: " in session.ps_text() and f"{row['pages_remaining']} to come" in session.ps_text()
    )
    assert session.run_until_done(30)
    child_digest, reference = _expected(session.output_of(session.jobs[-1]))
    assert child_digest == reference != ""


def test_a_lazy_child_whose_parents_host_crashes_ends_with_a_fault_report_within_the_bound(image):
    session = _start(image, "lzf ws3 l 2000 @ ws2")
    _until(session, lambda: _faulting(session), 10)
    pid = _lazy_row(session)["pid"]
    crashed = session.sim.now
    session.execute("crash ws2")
    ws3 = session.kernels["ws3"]
    _until(session, lambda: pid not in ws3.processes, 2 * _bound_s(session) + 1)
    # within the transport's bound (and the slice and the request under way at the crash)
    assert (session.sim.now - crashed) / S <= _bound_s(session) + 0.5
    [report] = [f for f in ws3.faults if f.pid == pid]
    assert "fault: page 0x" in report.what and "parent's host ws2" in report.what
    assert "lazy rfork" in report.what and "ETIMEOUT" in report.what
    # the kernel lives on: no server failed, and ws3 runs the next program
    assert not [e for e in session.events if e.get("kind") == "server_fault"]
    assert not ws3.pager.servers and not ws3.pager.instances
    session.execute("hello @ ws3")
    assert session.run_until_done(30)
    assert session.jobs[-1].exit_status == 0 and "ws3" in session.final_host(session.jobs[-1])


def test_vcluster_run_says_the_childs_fault(image, tmp_path):
    path = tmp_path / "lzf"
    path.write_bytes(image)
    lines = ["lzf ws3 l 4000 @ ws2", "wait 1.5", "crash ws2", "wait 5"]
    proc, summary = vcluster_json("--config", "tiny", "--image", str(path), *lines)
    assert "lost when ws2 crashed" in proc.stderr, proc.stderr
    assert "on ws3: fault: page 0x" in proc.stderr and "lazy rfork" in proc.stderr
    [rf] = summary["rforks"]
    assert rf["lazy"] and rf["from"] == "ws2" and rf["to"] == "ws3"
    assert 0 < rf["pages_fetched"] and rf["pages_remaining"] > 0
    assert rf["pages_fetched"] + rf["pages_remaining"] + rf["copied_pages"] == rf["pages"]
    assert "lazy rfork" in rf["child_fault"] and rf["snapshot_freed"] is None  # ws2 is gone


def test_a_checkpointed_parents_lazy_child_goes_on_from_the_file_server(image):
    """The cut's copy on the file server (written in the background) outlives the parent's host:
    the child completes with the parent's pages, the parent restarts from its checkpoint and gets
    the child's exit status, and the copy is removed once the child ends."""
    session = _start(image, "lzf ws3 l 8000 @ ws2 checkpoint=1")
    rf = session.kernels["ws2"].rfork
    home = session.kernels["ws1"].checkpoints

    def ready() -> bool:  # the copy is complete, and the home has a checkpoint of the parent
        # taken after the fork (serial 1 is the loaded image's, before its first instruction)
        done = any(s.fallback_done for s in rf.served.values())
        return done and any(w.serial >= 2 for w in home.watches.values())

    _until(session, ready, 20)
    assert _lazy_row(session)["pages_remaining"] > 16  # still faulting
    [snap] = rf.served.values()
    fs = session.kernels["fs1"].machine.filesystem
    assert snap.fallback in fs.list()
    session.execute("crash ws2")
    job = session.jobs[-1]
    assert session.run_until_done(60)
    child_digest, reference = _expected(session.output_of(job))
    assert child_digest == reference != ""
    assert "parent: child exited 3" in session.output_of(job) and job.exit_status == 0
    assert [r["kind"] for r in session.restarts] == ["restart"]
    assert not [f for k in session.kernels.values() for f in k.faults]
    session.sim.run(until=session.sim.now + 3 * S)
    assert not [n for n in fs.list() if n.startswith("rfork.")]  # the copy is gone


def test_a_crash_before_the_copy_is_complete_waits_for_the_parents_restart(image):
    """The copy on the file server is not complete when the parent's host crashes: the child
    waits for its parent's restart, whose replay of the fork (answered with this child) serves
    the pages again from the new host; the run is the uncrashed one's and leaves no file."""
    ref = _start(image, "lzf ws3 l 2000 @ ws2 checkpoint=1")
    assert ref.run_until_done(60)
    session = _start(image, "lzf ws3 l 2000 @ ws2 checkpoint=1")
    _until(session, lambda: _faulting(session), 10)
    [snap] = session.kernels["ws2"].rfork.served.values()
    assert not snap.fallback_done
    pid = _lazy_row(session)["pid"]
    session.execute("crash ws2")
    job = session.jobs[-1]
    assert session.run_until_done(60)
    assert session.output_of(job) == ref.output_of(ref.jobs[-1]) and job.exit_status == 0
    assert not [f for k in session.kernels.values() for f in k.faults]
    [replay] = [r for r in session.kernels["ws3"].rfork.records if r["replayed"]]
    assert replay["child"] == pid and set(session.kernels["ws3"].rfork.children) == {pid}
    session.sim.run(until=session.sim.now + 3 * S)
    fs = session.kernels["fs1"].machine.filesystem
    assert not [n for n in fs.list() if n.startswith(("rfork.", "ckpt."))]


@pytest.mark.parametrize("end", ["completes", "killed", "host crashed"])
def test_the_snapshot_is_freed_however_the_child_ends(image, end):
    session = _start(image, "lzf ws3 l 2000 @ ws2")
    rf = session.kernels["ws2"].rfork
    _until(session, lambda: _faulting(session), 10)
    [snap] = rf.served.values()
    assert snap.live and rf.snapshots
    pid = _lazy_row(session)["pid"]
    if end == "killed":
        session.execute(f"kill {pid:#010x}")
    elif end == "host crashed":
        session.execute("crash ws3")
    bound = session.config.checkpoint.detect_s + 2 * _bound_s(session) + 1
    _until(session, lambda: not snap.live, 30 if end == "completes" else bound)
    assert rf.snapshots == {} and snap.pages == {}
    if end != "host crashed":
        pager = session.kernels["ws3"].pager
        assert not pager.servers and not pager.instances and not pager.fallbacks
    if end == "completes":
        assert snap.freed_why == "its child is done with it"
        assert len(snap.shipped) <= _child(session)["pages"]
    elif end == "killed":
        assert session.kernels["ws3"].processes.get(pid) is None
    else:
        assert snap.freed_why == "its child's host does not answer"


def test_a_lazy_child_migrated_fetches_its_pages_before_the_copy(image):
    """Its not-yet-fetched pages come from the parent's host before the migration's copy (the
    migration waits for residency), so the program never depends on the parent's host after."""
    session = _start(image, "lzf ws3 l 3000 @ ws2")
    _until(session, lambda: _faulting(session), 10)
    pid = _lazy_row(session)["pid"]
    session.execute(f"migrateprog {pid:#010x}")
    [mig] = [m for m in session.migrations if pid in m.get("pids", ())]
    assert mig["ok"] and mig["to"] != "ws3"
    [snap] = session.kernels["ws2"].rfork.served.values()
    assert not snap.live and snap.freed_why == "its child is done with it"
    rec = _child(session)
    assert rec["fetched"] + 1 >= rec["pages"] - 1 and rec["remaining"] == 0
    job = session.jobs[-1]
    assert session.run_until_done(60)
    child_digest, reference = _expected(session.output_of(job))
    assert child_digest == reference != ""
    assert "parent: child exited 3" in session.output_of(job)


@pytest.mark.parametrize("mode", ["l", "e"])
def test_a_lazy_child_forking_again_gives_its_child_every_page(image, mode):
    """The child forks before it has read anything: the fork brings its missing pages in
    first, so the grandchild's copy is the parent's."""
    session = _start(image, f"lzf ws3 {mode} 0 f @ ws2")
    job = session.jobs[-1]
    assert session.run_until_done(60)
    out = session.output_of(job)
    reference = _expected(out)[1]
    assert f"grandchild: {reference}" in out and "child: grandchild exited 4" in out
    assert f"child: {reference}" in out and "parent: child exited 3" in out


@pytest.mark.parametrize("mode", ["l", "e"])
def test_a_checkpointed_program_forks_and_goes_on_being_checkpointed(image, mode):
    session = _start(image, f"lzf ws3 {mode} 8000 @ ws2 checkpoint=1")
    job = session.jobs[-1]
    assert session.run_until_done(60)
    child_digest, reference = _expected(session.output_of(job))
    assert child_digest == reference != "" and job.exit_status == 0
    taken = session.kernels["ws2"].checkpoints.taken
    assert len(taken) >= 2 and taken[-1]["serial"] > taken[0]["serial"]
    # the child is not checkpointed (its parent's policy is not inherited)
    assert not session.kernels["ws3"].checkpoints.taken


def test_a_lazy_child_checkpointed_brings_its_pages_in_first_and_restarts_whole(image):
    """A checkpoint copies every page: a lazy child's still to come are fetched before the cut,
    so after its own host's crash it restarts elsewhere with the parent's pages."""
    session = _start(image, "lzf ws3 l 8000 @ ws2")
    _until(session, lambda: _faulting(session), 10)
    pid = _lazy_row(session)["pid"]
    session.execute(f"checkpoint {pid:#010x} every 1")
    home = session.kernels["ws2"].checkpoints  # the parent's host is the child's home
    _until(session, lambda: any(w.serial for w in home.watches.values()), 20)
    [first] = session.kernels["ws3"].checkpoints.taken[:1]
    assert first["full"] and first["pages"] >= _child(session)["pages"]
    assert _lazy_row(session)["pages_remaining"] == 0
    session.execute("crash ws3")
    job = session.jobs[-1]
    assert session.run_until_done(60)
    child_digest, reference = _expected(session.output_of(job))
    assert child_digest == reference != "" and "parent: child exited 3" in session.output_of(job)
    [restart] = session.restarts
    assert restart["pid"] == pid and restart["from"] == "ws3"
    assert not [f for k in session.kernels.values() for f in k.faults]


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_a_lazy_fork_on_a_lossy_wire_loses_no_page_and_frees_its_snapshot(image, seed):
    """Lost frames are the transport's to retransmit: no request fails its bound, the watch
    frees nothing early, and the child reads the parent's pages."""
    session = Session(dataclasses.replace(config("tiny"), seed=seed), images={"lzf": image})
    session.execute("fault loss 0.05")
    session.execute("lzf ws3 l 1000 @ ws2")
    job = session.jobs[-1]
    assert session.run_until_done(120)
    child_digest, reference = _expected(session.output_of(job))
    assert child_digest == reference != "" and "parent: child exited 3" in session.output_of(job)
    [snap] = session.kernels["ws2"].rfork.served.values()
    assert snap.freed_why == "its child is done with it"
    assert not [f for k in session.kernels.values() for f in k.faults]
