"""What a server written in Python yields to the kernel: the V primitives as values.

A server is a generator run as a V process. It yields one of these operations
and is resumed with the result, exactly as a guest process traps and gets d0:

    sender, msg = yield Receive()
    data = yield MoveFrom(sender, address, count)
    yield Reply(sender, reply_message)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Receive:
    timeout_ms: int | None = None  # resumes with (sender_pid, msg) or (0, b"") on timeout


@dataclass(frozen=True)
class Send:
    pid: int
    msg: bytes  # resumes with (replier_pid, reply_msg); replier_pid <= 0 is a failure (-error)
    timeout_ms: int | None = (
        None  # a bound: then it fails with -ETIMEOUT, whatever the receiver does
    )


@dataclass(frozen=True)
class Reply:
    pid: int
    msg: bytes  # resumes with 0 or -error


@dataclass(frozen=True)
class Forward:
    from_pid: int
    to_pid: int
    msg: bytes


@dataclass(frozen=True)
class MoveTo:
    pid: int
    dst: int
    data: bytes  # resumes with 0 or -error


@dataclass(frozen=True)
class MoveFrom:
    pid: int
    src: int
    count: int  # resumes with bytes, or an int -error


@dataclass(frozen=True)
class Delay:
    ns: int  # sleeps; the CPU is free
    charge: str = ""  # a calibrated wait: the CostModel constant it stands for (the ledger's name)


@dataclass(frozen=True)
class DeviceWait:
    ns: int  # blocks on a device (the disk) this long; the CPU is free for other processes


@dataclass(frozen=True)
class Compute:
    us: float  # the server uses the CPU this long (the cost model)
    charges: tuple[tuple[str, float], ...] = ()  # the CostModel constants it is, (name, units)


def charge(cost, *charges: str | tuple[str, float]) -> Compute:
    """A Compute of cost-model constants by name: each a CostModel field (once) or (name, units);
    the kernel charges their values and ledgers each under its name (Kernel.charge)."""
    pairs = tuple((c, 1) if isinstance(c, str) else (c[0], c[1]) for c in charges)
    return Compute(sum(getattr(cost, name) * units for name, units in pairs), pairs)


@dataclass(frozen=True)
class Run:
    """CPU work scheduled like a program: the server waits in the ready queue of `priority`
    (vkernel.process.Priority) behind the processes there, and runs in slices; a Compute, by
    contrast, is kernel work that takes the CPU at once."""

    us: float
    priority: int
    charges: tuple[tuple[str, float], ...] = ()  # the CostModel constants it is, (name, units)


@dataclass(frozen=True)
class JoinGroup:
    gid: int


@dataclass(frozen=True)
class Spawn:
    """Start another Python process in the same logical host; resumes with its pid."""

    name: str
    body: object  # a callable(pid) -> generator
