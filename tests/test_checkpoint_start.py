"""A checkpointed start that failed leaves nothing on the file server (issue 16): the first
checkpoint of a program started with checkpoint=S, begun on a host that crashed before its home
had it (the console starts the program again elsewhere), or complete but whose notice found no
home (the program never runs), is removed. The reference is the uncrashed run's output, and the
file server's listing as `files list` shows it."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import config
from vcluster.session import Session
from vkernel import checkpoint as ck

S = 1_000_000_000
LINE = "ipcclient 5 64 40 quit"


def _session() -> Session:
    session = Session(dataclasses.replace(config("tiny"), seed=1))
    session.execute("ipcserver 5 @ ws2")
    return session


def _checkpoint_files(session: Session) -> list[str]:
    fs = session.kernels["fs1"].machine.filesystem
    return [n for n in fs.list() if n.startswith(ck.PREFIX)]


def _files_list(session: Session) -> str:
    session.execute("files list")
    job = session.jobs[-1]
    assert session.run_until_done(session.sim.now / S + 30) and job.exit_status == 0
    return session.output_of(job)


@pytest.fixture(scope="module")
def reference() -> tuple[str, dict]:
    """The uncrashed run: its output, and its first checkpoint (when it was cut and complete)."""
    session = _session()
    session.execute(f"{LINE} @ ws3 checkpoint=1")
    job = session.jobs[-1]
    assert session.run_until_done(120)
    return session.output_of(job), session.kernels["ws3"].checkpoints.taken[0]


@pytest.mark.parametrize("crash_s", [0.25, 0.3, 0.4, 0.45])
def test_a_start_crashed_during_its_first_checkpoint_leaves_no_file(reference, crash_s):
    output, first = reference
    assert first["time"] < crash_s < first["done"]  # its first checkpoint was being written
    session = _session()
    session.execute(f"{LINE} @ ws3 checkpoint=1")
    job = session.jobs[-1]
    session.sim.run(until=int(crash_s * S))
    session.execute("crash ws3")
    assert session.run_until_done(120)
    assert session.output_of(job) == output and job.exit_status == 0
    assert not session.restarts and job.host_started != "ws3"  # started again, elsewhere
    session.sim.run(until=session.sim.now + 3 * S)
    assert _checkpoint_files(session) == []
    listing = _files_list(session)
    assert "ipcclient" in listing and ck.PREFIX not in listing


def test_a_first_checkpoint_whose_home_is_gone_is_removed(reference):
    """Started on ws3 from ws2 (its home), ws2 crashing while ws3 writes the first checkpoint:
    the notice finds no home, the program never runs, and its checkpoint file goes."""
    from vkernel.shell import Job, Shell

    _, first = reference
    session = _session()
    shell = Shell(session.kernels["ws2"], lambda pm: "?")
    job = Job(serial=99, argv=LINE.split(), host="ws3", stdout_instance=0, checkpoint_ms=1000)
    shell.exec(job)
    session.sim.run(until=int((first["time"] + first["done"]) / 2 * S))
    assert _checkpoint_files(session)  # being written
    session.execute("crash ws2")
    session.sim.run(until=session.sim.now + 6 * S)
    ws3 = session.kernels["ws3"]
    assert not [p for p in ws3.processes.values() if p.team is not None]  # it never ran
    assert _checkpoint_files(session) == []
