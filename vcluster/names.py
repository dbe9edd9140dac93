"""Programs named as a V user's command names them: `kill|suspend|resume|migrateprog NAME|PID|#` ask the
program managers over the wire (PM_QUERY_PROGRAM: vkernel/servers/program_query.py, the console's
agent `Shell.find_programs`); the front reads no kernel's process table for it. Monitoring views
(`ps`, `hosts`, the console's panels) still read the kernels directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from guest import abi
from vkernel.servers import program_query
from vkernel.shell import FIND_ATTEMPTS, Found

if TYPE_CHECKING:
    from vcluster.session import Session

S = 1_000_000_000
FIRST_PID = 1 << 16  # no process has logical host 0: smaller numbers are the console's job numbers


def bound_s(session: Session) -> float:
    """Simulated seconds a query may take at most: every round unanswered, plus the direct asks."""
    cost = session.config.cost
    rounds = program_query.MAX_EXCLUDED + 1
    direct = (cost.max_retransmits + 2) * cost.retransmit_timeout_ms / 1000
    return rounds * (FIND_ATTEMPTS * cost.host_query_timeout_ms / 1000 + direct) + 1


def parse(what: str) -> tuple[str | None, int]:
    """(name, 0) for a program's name, (None, pid) for a pid; job numbers are the caller's."""
    try:
        number = int(what, 0)
    except ValueError:
        return what, 0
    return (None, number) if number >= FIRST_PID else (what, 0)


def ask(session: Session, name: str | None, pid: int, done: Callable[[Found], None]) -> None:
    """Ask, from inside the clock: `done` hears the answer."""
    if name is not None:  # program names are Latin-1 (argv is), 1..255 bytes: no other can run
        try:
            raw = name.encode("latin-1")
        except UnicodeEncodeError:
            raw = b""
        if not 0 < len(raw) <= 255:
            done(Found())
            return
    session.shell.find_programs(name, pid, done)


def find(session: Session, name: str | None, pid: int = 0) -> Found | None:
    """Ask and run the clock until the answer (None: none within the bound or the run's limit)."""
    answers: list[Found] = []
    ask(session, name, pid, answers.append)
    deadline = int(min(session.limit_s, session.sim.now / S + bound_s(session)) * S)
    while not answers and session.sim.now <= deadline and session.sim.step():
        pass
    return answers[0] if answers else None


def host_of(session: Session, found: Found, pid: int) -> str:
    """The host whose program manager answered for pid."""
    return session._pm_hosts.get(abi.pid_lhid(found.pms.get(pid, 0)), "?")
