"""Crash the host running a checkpointed program at seeded instants (issue 16): the program
completes on another host with output byte-identical to an uncrashed run, and files identical.

Four long programs (primes, dirtier, a file-writing program, the client of a client/server
pair), checkpoints every 1 s, 6 instants each drawn from a seeded generator over the program's
uncrashed run (after its first checkpoint is complete): 24 crashes, about 15 s in all.
"""

from __future__ import annotations

import dataclasses
import functools
import random

import pytest

from tests.helpers import config
from vcluster.session import Session
from vkernel import checkpoint as ck

S = 1_000_000_000
INSTANTS = 6

# (name, line to crash, lines before it, where the line runs)
WORKLOADS = {
    "primes": ("primes 300000", (), "ws2"),
    "dirtier": ("dirtier 64 32 6", (), "ws2"),
    "files": ("files big out.bin 512", (), "ws2"),
    "client": ("ipcclient 5 8 16 quit", ("ipcserver 5 @ ws2",), "ws3"),
}


def _run(name: str, crash_s: float | None):
    line, before, host = WORKLOADS[name]
    session = Session(dataclasses.replace(config("tiny"), seed=1))
    for b in before:
        session.execute(b)
    session.execute(f"{line} @ {host} checkpoint=1")
    job = session.jobs[-1]
    crashed = False
    first_s = None  # when the home first heard of a complete checkpoint
    if crash_s is None:
        while not job.done and session.sim.now < 600 * S:
            session.sim.run(until=session.sim.now + S // 50)
            if first_s is None and session.home.checkpoints.watches:
                first_s = session.sim.now / S
    else:
        session.sim.run(until=int(crash_s * S))
        if not job.done:
            session.execute(f"crash {host}")
            crashed = True
    assert session.run_until_done(600.0), "programs still running at the limit"
    fs = session.kernels["fs1"].machine.filesystem
    files = {n: fs.read(n, 0, fs.size(n)) for n in fs.list() if not n.startswith(ck.PREFIX)}
    return session, job, files, crashed, first_s


@functools.cache
def reference(name: str):
    """The uncrashed (checkpointed) run: output, exit status, files, and the window of instants
    in which a crash is survived by a restart: from the first complete checkpoint to the end
    (before it the program has had no effect and the console starts it again elsewhere:
    tests/test_checkpoint.py's crash before the first interval)."""
    session, job, files, _, first_s = _run(name, None)
    assert first_s is not None
    return session.output_of(job), job.exit_status, files, (first_s, session.sim.now / S)


def fractions(name: str) -> list[float]:
    """Seeded places in the window, as fractions of it."""
    rng = random.Random(f"ckpt-{name}")
    return sorted(round(rng.random(), 4) for _ in range(INSTANTS))


CASES = [pytest.param(name, f, id=f"{name}-{f}") for name in WORKLOADS for f in fractions(name)]


@pytest.mark.parametrize(("name", "fraction"), CASES)
def test_a_crash_at_any_instant_completes_elsewhere_identically(name, fraction):
    output, status, files, (first_s, end_s) = reference(name)
    crash_s = first_s + fraction * (end_s - first_s - 0.05)
    session, job, got_files, crashed, _ = _run(name, crash_s)
    assert crashed
    assert session.output_of(job) == output
    assert job.exit_status == status == 0
    assert got_files == files
    [restart] = session.restarts
    assert restart["kind"] == "restart" and restart["to"] != WORKLOADS[name][2]
    assert session.final_host(job) == restart["to"]


def test_the_sweep_covers_twenty_instants_or_more():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)
