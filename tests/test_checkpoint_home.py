"""The home role moves (issue 16, docs/CHECKPOINT.md): a checkpointed program's home (the program
manager of the host that started it) crashes; the host running the program finds its next
checkpoint's notice unanswered and another program manager adopts the watch, so that a later
crash of the running host is still survived: the program is restarted by the new home and ends
with the files of the uncrashed run. The reference is the same run without crashes."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import config
from vcluster import checkpointing
from vcluster.session import Session
from vkernel import checkpoint as ck
from vkernel.shell import Job, Shell

S = 1_000_000_000
ARGV = ["files", "big", "out.bin", "512"]


def _cluster():
    """tiny with a fourth workstation: with the home and the running host crashed, a host to
    adopt the watch and one to restart the program on."""
    cfg = config("tiny")
    *ws, fs = cfg.machines
    ws4 = dataclasses.replace(ws[-1], name="ws4", mac="08:00:20:00:00:05")
    return dataclasses.replace(cfg, machines=(*ws, ws4, fs))


def _files(session: Session) -> dict[str, bytes]:
    fs = session.kernels["fs1"].machine.filesystem
    return {n: fs.read(n, 0, fs.size(n)) for n in fs.list() if n == "out.bin"}


def _start(session: Session) -> Job:
    """Started from ws2 (a console there: its program manager is the home), run on ws3."""
    shell = Shell(session.kernels["ws2"], lambda pm: "?")
    job = Job(serial=99, argv=list(ARGV), host="ws3", stdout_instance=0, checkpoint_ms=1000)
    shell.exec(job)
    return job


def _until(session: Session, pred, limit_s: float) -> None:
    end = session.sim.now + int(limit_s * S)
    while not pred() and session.sim.now < end and session.sim.step():
        pass
    assert pred(), "condition not reached within the bound"


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, bytes], float]:
    session = Session(_cluster())
    job = _start(session)
    _until(session, lambda: job.pid != 0 and checkpointing.host_of(session, job.pid) is None, 120)
    return _files(session), session.sim.now / S


@pytest.mark.parametrize("home_crash_s", [1.5, 2.6])
def test_a_crashed_homes_watch_moves_and_a_later_crash_is_still_survived(reference, home_crash_s):
    files, ended_s = reference
    assert files["out.bin"] and ended_s > home_crash_s + 4
    session = Session(_cluster())
    job = _start(session)
    session.sim.run(until=int(home_crash_s * S))
    assert session.kernels["ws2"].checkpoints.watching(job.pid)
    session.execute("crash ws2")
    _until(session, lambda: any(r["kind"] == "home" for r in session.restarts), 5)
    [moved] = [r for r in session.restarts if r["kind"] == "home"]
    assert moved["pid"] == job.pid and moved["from"] == "ws3" and moved["to"] in ("ws1", "ws4")
    new_home = session.kernels[moved["to"]].checkpoints
    assert new_home.watching(job.pid)
    [event] = [e for e in session.events if e.get("kind") == "home"]
    assert event["text"].endswith(
        f"is watched from {moved['to']} now: its home does not answer "
        f"(ws3 runs it, checkpoint {moved['checkpoint']})"
    )
    session.sim.run(until=session.sim.now + S)  # a checkpoint told to the new home
    assert checkpointing.host_of(session, job.pid) == "ws3"
    session.execute("crash ws3")
    _until(session, lambda: not new_home.watching(job.pid), 120)  # restarted, and ended
    [restart] = [r for r in session.restarts if r["kind"] == "restart"]
    assert restart["from"] == "ws3" and restart["to"] not in ("ws2", "ws3", moved["to"])
    assert _files(session) == files  # written once, as uncrashed
    session.sim.run(until=session.sim.now + 3 * S)  # the new home collects its checkpoints
    fs = session.kernels["fs1"].machine.filesystem
    assert not [n for n in fs.list() if n.startswith(ck.PREFIX)]
    assert not new_home.watching(job.pid)


def test_a_home_cut_off_lets_the_watch_go_once_it_hears_of_its_successor(reference):
    """The home is alive but partitioned off past the bound: another program manager adopts the
    watch; when the partition heals the running host tells the old home, which stops watching
    without removing the files, so that the later crash of the running host is restarted once,
    by the new home."""
    files, _ = reference
    session = Session(_cluster())
    job = _start(session)
    session.sim.run(until=int(1.5 * S))
    old_home = session.kernels["ws2"].checkpoints
    assert old_home.watching(job.pid)
    session.execute("fault partition ws2")
    _until(session, lambda: any(r["kind"] == "home" for r in session.restarts), 6)
    [moved] = [r for r in session.restarts if r["kind"] == "home"]
    session.execute("fault heal")
    _until(session, lambda: not old_home.watching(job.pid), 6)
    new_home = session.kernels[moved["to"]].checkpoints
    assert new_home.watching(job.pid) and checkpointing.host_of(session, job.pid) == "ws3"
    fs = session.kernels["fs1"].machine.filesystem
    assert [n for n in fs.list() if n.startswith(ck.PREFIX)]  # the old home removed none
    session.execute("crash ws3")
    _until(session, lambda: not new_home.watching(job.pid), 120)
    # the old home, cut off, found no host to restart it on (said once); one restart, the
    # new home's
    kinds = [r["kind"] for r in session.restarts]
    assert kinds.count("restart") == 1 and kinds.count("home") == 1
    assert [r["kind"] for r in new_home.records] == ["home", "restart"]
    assert not [r for r in old_home.records if r["kind"] == "restart"]
    assert _files(session) == files
