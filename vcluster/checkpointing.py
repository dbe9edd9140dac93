"""The console's side of checkpoints and restarts (issue 16): the `checkpoint` line and the events.

`checkpoint PROG every SECONDS` asks the program manager of the logical host
PROG runs in (PM_CHECKPOINT, wherever it lives) to checkpoint it that often;
`checkpoint PROG now` asks for one checkpoint at once. The restarts the home
decides (vkernel/checkpoint.py) are told as events: `restart` (from, to,
checkpoint age, pages restored) and `cannot_restart`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import ops
from vkernel.messages import pack, signed, unpack

if TYPE_CHECKING:
    from vcluster.session import Session

S = 1_000_000_000
MAX_INTERVAL_S = 3600.0
USAGE = "usage: checkpoint PROG every SECONDS   or   checkpoint PROG now"


def parse_interval(value: str, what: str = "checkpoint") -> float:
    """A checkpoint interval in seconds: above 0.01 and at most an hour."""
    from vcluster.session import LineError

    try:
        seconds = float(value)
    except ValueError:
        raise LineError(f"{what}: {value!r} is not a number of seconds") from None
    if not 0.01 <= seconds <= MAX_INTERVAL_S:
        raise LineError(f"{what}: the interval is at least 0.01 s and at most {MAX_INTERVAL_S:g} s")
    return seconds


def checkpoint_line(session: Session, argv: list[str]) -> str:
    from vcluster.session import LineError

    if len(argv) == 4 and argv[2] == "every":
        interval_ms = max(10, round(parse_interval(argv[3]) * 1000))
    elif len(argv) == 3 and argv[2] == "now":
        interval_ms = 0
    else:
        raise LineError(USAGE)
    pid, name, _host = session._program_of("checkpoint", argv[1])
    result: list[int] = []
    request(session, pid, interval_ms, result.append)
    deadline = session.sim.now + 5 * S
    while not result and session.sim.now < deadline and session.sim.step():
        pass
    if not result:
        return f"checkpoint {name} ({pid:#010x}): no answer within 5 s"
    if result[0] < 0:
        raise LineError(
            f"checkpoint {name} ({pid:#010x}): {abi.ERROR_NAMES.get(-result[0], result[0])}"
        )
    host = host_of(session, pid) or _host
    if interval_ms:
        return f"checkpointing {name} ({pid:#010x}) on {host} every {interval_ms / 1000:g} s"
    return f"checkpointing {name} ({pid:#010x}) on {host} now"


def host_of(session: Session, pid: int) -> str | None:
    """The powered machine that runs pid now, or None."""
    for k in session.kernels.values():
        if k.powered and pid in k.processes:
            return k.name
    return None


def request(session: Session, pid: int, interval_ms: int, done) -> None:
    """PM_CHECKPOINT to the program manager of pid's logical host; done(0 or -error)."""
    k = session.home

    def agent(me: int) -> Generator[Any, Any, None]:
        pm = abi.make_pid(abi.pid_lhid(pid), abi.LOCAL_PROGRAM_MANAGER)
        replier, reply = yield ops.Send(
            pm, pack(abi.PM_CHECKPOINT, pid, interval_ms), timeout_ms=5000
        )
        done(replier if replier <= 0 else signed(unpack(reply)[0]))

    k.spawn_server(k.system_lh, "sh:checkpoint", agent, on_crash=lambda exc: done(-abi.EIO))


def start_option(argv: list[str], default_s: float = 0.0) -> tuple[list[str], int]:
    """`PROG ARGS [@ HOST] checkpoint=S`: the line without the option, and S in ms (0: none;
    without the option, the config's `checkpoint.interval_s`)."""
    if argv and argv[-1].startswith("checkpoint="):
        return argv[:-1], max(10, round(parse_interval(argv[-1].split("=", 1)[1]) * 1000))
    return argv, round(default_s * 1000) if default_s else 0


def survives(session: Session, pid: int) -> bool:
    """Whether a program's home watches it (it is checkpointed): a crash of its host restarts it."""
    return any(
        k.powered and k.checkpoints is not None and k.checkpoints.watching(pid)
        for k in session.kernels.values()
    )


def restarts_of(session: Session, pid: int) -> list[tuple[float, dict[str, Any]]]:
    """(time, record) of each restart of pid, for the path of hosts a program ran on."""
    return [(r["time"], r) for r in session.restarts if r["kind"] == "restart" and r["pid"] == pid]


def attach(session: Session, kernel) -> None:
    """Tell the session's log the restarts kernel's checkpoints decide."""
    if kernel.checkpoints is not None:
        kernel.checkpoints.listeners.append(lambda record: _on_record(session, record))


def _on_record(session: Session, record: dict[str, Any]) -> None:
    names = {j.pid: j.argv[0] for j in session.jobs if j.pid}
    record["program"] = record.get("program") or names.get(record["pid"], "?")
    session.restarts.append(record)
    what = f"{record['program']} ({record['pid']:#010x})"
    if record["kind"] == "restart":
        text = (
            f"{what} restarted on {record['to']} from checkpoint {record['checkpoint']} "
            f"(taken {record['checkpoint_age_s']:g} s before; {record['pages_restored']} pages "
            f"restored; {record['from']} lost it, running again {record['recovery_s']:g} s later)"
        )
    elif record["kind"] == "home":
        text = (
            f"{what} is watched from {record['to']} now: its home does not answer "
            f"({record['from']} runs it, checkpoint {record['checkpoint']})"
        )
    else:
        text = (
            f"cannot restart {what} (lost on {record['from']}): {record['why']}; "
            f"its checkpoint {record['checkpoint']} is kept"
        )
    session.log(text, **{key: value for key, value in record.items() if key != "time"})
