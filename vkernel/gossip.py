"""Load vectors exchanged in the background: `idle.selection: gossip` (vkernel/selection.py).

Theimer and Lantz ("Finding idle machines in a workstation-based distributed system",
1989) weigh V's query-and-first-answer against hosts that keep each other informed of their
load. Here every program manager multicasts a LOAD packet to the program-manager group when
its state changes (willing or not, load, programs being created) and at least every
`REFRESH` intervals of `idle.gossip_interval_ms`; every program manager keeps the reports it
hears (its load vector; a report older than `STALE` refreshes is forgotten, so a crashed
host drops out).

A query is then answered by the hosts that every member's vector ranks first: after its
weighing a willing member ranks the willing hosts it knows, itself with its fresh state, by
(load, then a hash of the query and the host, so that concurrent queries spread over equally
loaded hosts) and answers at once if it is among the first `idle.gossip_answers`. Every
other willing member waits half the query's timeout and answers only if it has overheard no
answer meanwhile (answers are multicast), the safety net for a stale vector. A query draws
about `gossip_answers` answers whatever the size of the cluster; the price is the
background reports, one frame per change per host.
"""

from __future__ import annotations

import struct
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import ops
from vkernel import packets as pk
from vkernel.packets import Kind, Packet

if TYPE_CHECKING:
    from vkernel.kernel import Kernel
    from vkernel.servers.program_manager import ProgramManager

REFRESH = 10  # a report at least every this many intervals, changed or not
STALE = 3  # a report older than this many refresh periods is forgotten
_REPORT = struct.Struct(">IIII16s")  # PM pid, load x 100, free KB, willing, host name


@dataclass
class Entry:
    pm: int  # the program manager's pid (its lhid: that machine's system logical host)
    name: str
    load: int  # x 100
    free_kb: int
    willing: bool
    heard_ns: int


def encode_report(pm: int, load: int, free_kb: int, willing: bool, name: str) -> bytes:
    raw = name.encode("latin-1")[:16].ljust(16, b"\0")
    return _REPORT.pack(pm, load, free_kb, int(willing), raw).ljust(pk.MSG_SIZE, b"\0")


def decode_report(msg: bytes) -> tuple[int, int, int, bool, str] | None:
    if len(msg) < _REPORT.size:
        return None
    pm, load, free_kb, willing, raw = _REPORT.unpack_from(msg)
    return pm, load, free_kb, bool(willing), raw.rstrip(b"\0").decode("latin-1")


def rank_key(entry_pm: int, load: int, query: tuple[int, int]) -> tuple[int, int]:
    """Order of the hosts for one query: least loaded first, ties by a hash of query and host."""
    src, seq = query
    mix = (seq * 2654435761 ^ src * 40503 ^ entry_pm * 2246822519) & 0xFFFFFFFF
    return load, mix


class LoadVector:
    """One program manager's side of the gossip: its reports out, the others' in."""

    def __init__(self, pm: ProgramManager) -> None:
        self.pm = pm
        self.k: Kernel = pm.k
        self.entries: dict[int, Entry] = {}
        self.last: tuple[bool, int] | None = None
        self.sent = 0
        self.heard = 0

    @property
    def interval_ns(self) -> int:
        return int(self.k.config.idle.gossip_interval_ms * 1_000_000)

    def start(self) -> None:
        self.k.spawn_server(self.k.system_lh, "pm-gossip", self.body, restart=True)

    def body(self, pid: int) -> Generator[Any, Any, None]:
        """Report at a random phase (no boot storm), then check every interval."""
        rng = self.k.rng
        yield ops.Delay(int(rng.uniform(0, 1) * self.interval_ns))
        beats = 0
        while True:
            self.report(force=beats % REFRESH == 0)
            beats += 1
            yield ops.Delay(int(self.interval_ns * rng.uniform(0.9, 1.1)))

    def state(self) -> tuple[bool, int]:
        return self.pm.is_willing(), int(self.pm.host_load() * 100)

    def report(self, force: bool = False) -> None:
        """Multicast this host's state to the program managers, if it changed (or `force`)."""
        k = self.k
        pm = self.pm.proc
        if pm is None or k.transport is None or not k.powered:
            return
        now = self.state()
        if now == self.last and not force:
            return
        self.last = now
        willing, load = now
        msg = encode_report(pm.pid, load, k.frames.free_count * 4, willing, k.name)
        group = abi.PROGRAM_MANAGER_GROUP
        packet = Packet(
            Kind.LOAD, 0, pm.pid, group, flags=pk.Flag.GROUP, lhid=abi.pid_lhid(pm.pid), msg=msg
        )
        self.sent += 1
        k.transport.transmit(pk.group_mac(group), packet)

    def hear(self, p: Packet) -> None:
        report = decode_report(p.msg)
        if report is None:
            return
        pm, load, free_kb, willing, name = report
        if pm != p.src_pid or abi.pid_lhid(pm) in self.k.lhs:
            return  # not a program manager's own report, or ours looped back
        self.heard += 1
        self.entries[pm] = Entry(pm, name, load, free_kb, willing, self.k.sim.now)

    def first(self, query: tuple[int, int], leave_out: set[int], need_kb: int) -> bool:
        """Whether this host is among the first `gossip_answers` for `query` in its vector."""
        k = self.k
        me = self.pm.proc.pid if self.pm.proc is not None else 0
        horizon = k.sim.now - STALE * REFRESH * self.interval_ns
        mine = rank_key(me, self.state()[1], query)
        need = need_kb + k.config.idle.min_free_memory_kb
        ahead = 0  # willing hosts ranked before this one
        for e in self.entries.values():
            if not e.willing or e.heard_ns < horizon or e.free_kb < need:
                continue
            if abi.pid_lhid(e.pm) not in leave_out and rank_key(e.pm, e.load, query) < mine:
                ahead += 1
        return ahead < k.config.idle.gossip_answers
