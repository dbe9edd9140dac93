"""PM_QUERY_PROGRAM: which programs of a name (or which pid) a program manager runs, asked of the group.

A V user's command names a program by name or pid and asks the program
managers where it is; nobody reads another machine's tables. The request
(docs/ABI.md, "Program manager"):

    long 0      PM_QUERY_PROGRAM
    byte 4      name length (0: the query names a pid, the long at byte 16)
    byte 5      how many hosts to leave out (0..MAX_EXCLUDED)
    bytes 6-7   offset: the first match to report (the rest of a long answer)
    bytes 8-15  the system logical hosts left out, 16 bits each: their program
                managers stay silent (they have answered already)
    bytes 16-31 the name (its first NAME_MAX bytes; longer names also match on length)

A program manager with matches answers (status 0, how many it runs, then up to
PIDS_PER_REPLY pids from the offset; for a pid: 1, the pid, its creator and
its name in bytes 16..31); one without stays silent (a Send to it directly:
-ENOENT). A program is a team process outside a system logical host, one per
logical host (the first pid), or the staged copy of one that a migration is
committing here. `Shell.find_programs` asks round by round, leaving out the
hosts that answered, until a round goes unanswered.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from guest import abi
from vkernel.messages import pack, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

NAME_MAX = 16  # bytes of a name a query carries
MAX_EXCLUDED = 4  # hosts a query can leave out
PIDS_PER_REPLY = 6
MAX_MATCHES = 4096  # of one program manager's answer that a querier takes
_HEAD = struct.Struct(">IBBH4H")  # code, name length, excluded count, offset, excluded lhids


def request(
    name: str | None, pid: int = 0, excluded: list[int] | tuple[int, ...] = (), offset: int = 0
) -> bytes:
    """The query for programs named `name`, or (name None) for `pid`."""
    if len(excluded) > MAX_EXCLUDED:
        raise ValueError(f"at most {MAX_EXCLUDED} hosts left out")
    raw = b"" if name is None else name.encode("latin-1")
    if name is not None and not 0 < len(raw) <= 255:
        raise ValueError("a program's name is 1..255 bytes")
    lhids = [lh & 0xFFFF for lh in excluded] + [0] * (MAX_EXCLUDED - len(excluded))
    head = _HEAD.pack(abi.PM_QUERY_PROGRAM, len(raw), len(excluded), min(offset, 0xFFFF), *lhids)
    tail = raw[:NAME_MAX].ljust(NAME_MAX, b"\0") if name is not None else struct.pack(">I12x", pid)
    return head + tail


def parse_request(msg: bytes) -> tuple[int, bytes, int, int, tuple[int, ...]]:
    """(name length, name's first bytes, pid, offset, excluded lhids) of a query."""
    msg = msg.ljust(abi.MSG_SIZE, b"\0")[: abi.MSG_SIZE]
    _code, length, count, offset, *lhids = _HEAD.unpack_from(msg)
    tail = msg[_HEAD.size :]
    pid = 0 if length else struct.unpack_from(">I", tail)[0]
    return (
        length,
        tail[: min(length, NAME_MAX)],
        pid,
        offset,
        tuple(lhids[: min(count, MAX_EXCLUDED)]),
    )


def processes(k: Kernel) -> list[tuple[int, str, int, int]]:
    """(pid, name, creator, lhid) of every process of the programs this machine runs, by pid; and
    of the staged copies a migration is committing here (prepared, frozen: between the source's
    deletion of its copy and "go" they are the program, docs/PROTOCOL.md rule 17), under the
    logical host they copy."""
    found = [
        (p.pid, p.name, p.creator, p.lhid)
        for p in sorted(k.processes.values(), key=lambda p: p.pid)
        if p.team is not None and not p.lh.system
    ]
    if k.migration is not None:
        for inc in k.migration.incoming.values():
            if inc.state == "frozen-copy" and inc.staged:
                found += [
                    (p.pid, p.name, p.creator, inc.old_lhid)
                    for p, *_ in inc.staged["procs"]
                    if p.team is not None
                ]
    return found


def programs(k: Kernel) -> list[tuple[int, str, int]]:
    """(pid, name, creator) of the programs this machine runs: one per logical host, its first pid."""
    first: dict[int, tuple[int, str, int]] = {}
    for pid, name, creator, lhid in processes(k):
        first.setdefault(lhid, (pid, name, creator))
    return list(first.values())


def answer(k: Kernel, msg: bytes) -> bytes | None:
    """This program manager's answer to a query, or None when it has nothing to say."""
    length, name, pid, offset, excluded = parse_request(msg)
    if k.system_lh.lhid in excluded:
        return None  # it has answered this query already
    if not length:  # any process of a program, not only the first of its logical host
        for p, pname, creator, _lhid in processes(k):
            if p == pid:
                raw = pname.encode("latin-1")[:NAME_MAX].ljust(NAME_MAX, b"\0")
                return pack(0, 1, p, creator)[:16] + raw
        return None
    pids = [
        p
        for p, pname, _ in programs(k)
        if (raw := pname.encode("latin-1"))[:NAME_MAX] == name and len(raw) == length
    ]
    if not pids or offset >= len(pids):
        return None
    return pack(0, len(pids), *pids[offset : offset + PIDS_PER_REPLY])


def parse_answer(reply: bytes, by_pid: bool) -> tuple[int, list[int], str]:
    """(how many the answering program manager runs, the pids in this answer, the name for a pid)."""
    m = unpack(reply)
    if by_pid:
        return 1, [m[2]], reply[16:32].rstrip(b"\0").decode("latin-1")
    return m[1], [p for p in m[2 : 2 + PIDS_PER_REPLY] if p][: m[1]], ""
