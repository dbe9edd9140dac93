"""Paging logical hosts to the file server (the V paper, section 3.2).

The flusher (on a workstation, while it is idle) keeps each remotely executed
program's pages written to a backing file on the file server: all of them
once, then, every `idle.flush_interval_ms`, the pages the MMU's modified bits
mark since. When the owner comes back, the eviction moves only what was
modified since the last flush, plus the kernel state; the new host maps the
rest as non-resident pages backed by that file.

The pager (on every workstation) brings non-resident pages in: on demand when
a process faults on one (or a system call, or a transfer, touches one), and in
the background until the logical host needs nothing from the file server; it
then removes the backing file. The program never depends on its old host.

A lazy rfork's child (vkernel/rfork.py) is paged the same way from its parent's
snapshot, served from the parent's host: only on demand, a cluster of
`rfork.cluster_pages` a fault (the faulting page and its neighbours not yet
fetched: one request, one train in answer). Every request has the transport's
bound; when the parent's host does not answer (or the snapshot is gone) the
pager goes on from the cut's copy on the file server if there is one, else the
child ends with a fault report (RemoteFork.source_lost).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.mmu import Prot
from guest import abi
from vkernel import locate, ops
from vkernel.kernel import IpcRequest
from vkernel.messages import error, pack, signed, unpack
from vkernel.process import LogicalHost, Team

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

PAGE = abi.PAGE_SIZE
READ_RETRY_NS = 50_000_000  # the pager retries a failed read of the backing file after this
REPLAY_RETRY_NS = 200_000_000  # a lazy child waiting for its parent's restart asks again after this
TEAM_SPAN = 16 * 1024 * 1024  # each team's pages live at team_index * 16 MB in the backing file
RUN_PAGES = 8  # pages per file-server request (32 KB, one train)
NAME_AT = 0
BUF = 4096
ZERO_PAGE = bytes(PAGE)
MAX_TEAMS = 4  # the file system's largest file holds four teams' address spaces


def _why(replier: int, status: int) -> str:
    """Why a served backing's request failed, in words."""
    if replier <= 0:
        return f"no answer within the transport's bound ({abi.ERROR_NAMES.get(-replier, replier)})"
    code = -signed(status)
    return f"its snapshot is gone ({abi.ERROR_NAMES.get(code, code)})"


def _bound_ms(k: Kernel) -> int:
    return int(k.cost.retransmit_timeout_ms * (k.cost.max_retransmits + 1))


def backing_name(lhid: int, host: str) -> str:
    """One file per logical host per host that flushes it (a host it moves to flushes anew)."""
    return f"swap.{lhid:04x}.{host}"


def offset_of(team_index: int, vpage: int) -> int:
    return team_index * TEAM_SPAN + vpage * PAGE


def runs(vpages: list[int], limit: int = RUN_PAGES) -> list[list[int]]:
    """Contiguous runs of sorted pages, each at most `limit` long."""
    out: list[list[int]] = []
    for vp in sorted(vpages):
        if out and vp == out[-1][-1] + 1 and len(out[-1]) < limit:
            out[-1].append(vp)
        else:
            out.append([vp])
    return out


@dataclass
class FlushState:
    """What the file server holds of one logical host."""

    name: str
    instance: int = 0
    flushed: dict[int, set[int]] = field(default_factory=dict)  # team index -> vpages in the file
    # pages whose modified bits a flush under way has cleared but whose new contents are not in
    # the file yet: they are not clean in the file, whatever `flushed` says
    in_flight: dict[int, set[int]] = field(default_factory=dict)
    complete: bool = False  # every page was written at least once
    handed_over: bool = False  # an eviction gave the file to the new host's pager
    flushes: int = 0
    bytes: int = 0


class Flusher:
    """Keeps remote guests' pages on the file server while this workstation is idle."""

    def __init__(self, kernel: Kernel, interval_ms: int) -> None:
        self.k = kernel
        self.interval_ns = int(interval_ms * 1_000_000)
        self.states: dict[int, FlushState] = {}
        self.proc = kernel.spawn_server(kernel.system_lh, "flusher", self.body, restart=True)
        kernel.flusher = self
        kernel.on_exit.append(self._on_exit)

    def _on_exit(self, proc, status: int) -> None:
        """The last process of a flushed logical host ended: remove its file now."""
        st = self.states.get(proc.lhid)
        if st is None or proc.lhid in self.k.lhs and self.k.lhs[proc.lhid].processes:
            return
        del self.states[proc.lhid]
        if not st.handed_over:
            self.k.spawn_server(
                self.k.system_lh, "flusher-cleanup", lambda pid: self._remove(pid, st)
            )

    def body(self, pid: int) -> Generator[Any, Any, None]:
        k = self.k
        while True:
            yield ops.Delay(self.interval_ns)
            if k.idle is not None and (k.owner_present or k.idle.evicting):
                continue  # only while the owner is away
            for lhid in [lhid for lhid in self.states if lhid not in k.lhs]:
                st = self.states.pop(
                    lhid
                )  # gone: exited (remove its file) or moved (the file moved)
                if not st.handed_over:
                    yield from self._remove(pid, st)
            for lh in list(k.lhs.values()):
                resident = not any(t.backing for t in lh.teams)
                if (
                    lh.remote
                    and lh.teams
                    and resident
                    and not lh.frozen
                    and not lh.migrating
                    and len(lh.teams) <= MAX_TEAMS
                ):
                    yield from self.flush(pid, lh)

    def backing_for(self, lh: LogicalHost) -> FlushState | None:
        st = self.states.get(lh.lhid)
        return st if st is not None and st.complete else None

    def clean_pages(self, st: FlushState, index: int) -> set[int]:
        """Pages of team `index` whose current contents are in the file (modified bits aside)."""
        return st.flushed.get(index, set()) - st.in_flight.get(index, set())

    def flush(self, pid: int, lh: LogicalHost) -> Generator[Any, Any, None]:
        k = self.k
        mmu = k.mmu
        st = self.states.get(lh.lhid)
        if st is None:
            st = FlushState(backing_name(lh.lhid, k.name))
            self.states[lh.lhid] = st
        teams = list(lh.teams)
        # decide and clear at once (a migration never starts in between: we run to our next yield)
        work: list[tuple[int, dict[int, bytes]]] = []
        for i, team in enumerate(teams):
            done = st.flushed.setdefault(i, set())
            pages = mmu.modified_pages(team.ctx) if st.complete else mmu.mapped_pages(team.ctx)
            mmu.clear_modified(team.ctx, pages)
            data: dict[int, bytes] = {}
            for vp in pages:
                entry = mmu.entry(team.ctx, vp)
                if entry is None:
                    continue
                page = k.cpu.phys_read(entry.frame * PAGE, PAGE)
                if page == ZERO_PAGE and vp not in done:
                    done.add(vp)  # the file reads zeros where nothing was ever written
                    continue
                data[vp] = page
            work.append((i, data))
            st.in_flight.setdefault(i, set()).update(data)
        if not st.instance:
            inst = yield from self._open(pid, st.name)
            if inst is None:
                return
            st.instance = inst
        for i, data in work:
            for run in runs(list(data)):
                blob = b"".join(data[vp] for vp in run)
                k.memory.write(k.processes[pid], BUF, blob)
                replier, reply = yield ops.Send(
                    k.file_server_pid,
                    pack(abi.FS_WRITE_AT, st.instance, BUF, len(blob), offset_of(i, run[0])),
                )
                if replier <= 0 or unpack(reply)[0]:
                    log.info("%s: flushing %s failed", k.name, st.name)
                    return
                st.flushed[i].update(run)
                st.in_flight[i].difference_update(run)
                st.bytes += len(blob)
        st.complete = True
        st.flushes += 1

    def _open(self, pid: int, name: str) -> Generator[Any, Any, int | None]:
        k = self.k
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        fs = yield from locate.file_server(k)
        msg = pack(abi.FS_OPEN, NAME_AT, len(raw), abi.FS_MODE_WRITE)
        replier, reply = (yield ops.Send(fs, msg)) if fs > 0 else (fs, bytes(32))
        locate.forget(k, fs, replier)
        status, inst = unpack(reply)[:2]
        if replier <= 0 or status:
            log.info("%s: cannot create %s on the file server", k.name, name)
            return None
        return inst

    def _remove(self, pid: int, st: FlushState) -> Generator[Any, Any, None]:
        k = self.k
        if st.instance:
            yield ops.Send(k.file_server_pid, pack(abi.IO_CLOSE, st.instance))
        raw = st.name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        yield ops.Send(k.file_server_pid, pack(abi.FS_REMOVE, NAME_AT, len(raw)))


@dataclass
class PageRequest:
    team: Team
    vpages: set[int]
    callback: Callable[[], None] | None


class Pager:
    """Brings non-resident pages in from backing files: on demand first, then in the background."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.demand: deque[PageRequest] = deque()
        self.background: deque[Team] = deque()
        self.instances: dict[str, int] = {}
        self.servers: dict[str, int] = {}  # backing files served elsewhere (a lazy rfork's parent)
        # ... and their copy on the file server, if any: (file, its size once complete)
        self.fallbacks: dict[str, tuple[str, int]] = {}
        self.sources: dict[str, str] = {}  # ... and the host serving them (for reports)
        self.cluster = max(1, int(kernel.config.rfork.cluster_pages))
        self.why: dict[str, str] = {}  # why a served backing's last request failed
        self.switched: set[str] = set()  # fallbacks in use (their parent's host is gone)
        # a checkpointed parent's lazy child waits this long (ns) for the parent's restart to
        # serve its pages again (rfork.py, a replayed fork), from when its parent's host failed
        self.replays: dict[str, int] = {}
        self.lost_at: dict[str, int] = {}
        self.pages_in = 0
        self.proc = kernel.spawn_server(kernel.system_lh, "pager", self.body, restart=True)
        kernel.pager = self

    # --- asking for pages ---------------------------------------------------------------
    def missing(self, team: Team | None, addr: int, n: int) -> set[int]:
        """Non-resident pages of team in [addr, addr + n)."""
        if team is None or not team.backing or n <= 0:
            return set()
        first, last = addr // PAGE, (addr + n - 1) // PAGE
        return {vp for vp in range(first, last + 1) if vp in team.backing}

    def request(
        self, team: Team, vpages: set[int], callback: Callable[[], None] | None = None
    ) -> None:
        self.demand.append(PageRequest(team, set(vpages), callback))
        self._ring()

    def prefetch(self, team: Team) -> None:
        self.background.append(team)
        self._ring()

    def _ring(self) -> None:
        """Wake the pager: a message from the kernel (pid 0) to its process."""
        if self.proc.state.name == "RECEIVE_BLOCKED" or not self.proc.msg_queue:
            self.k.deliver(IpcRequest(0, pack(1)), self.proc.pid)

    # --- the pager process -----------------------------------------------------------------
    def body(self, pid: int) -> Generator[Any, Any, None]:
        k = self.k
        while True:
            sender, _ = yield ops.Receive()
            if sender:  # not the kernel's doorbell (pid 0, which needs no answer): refused
                yield ops.Reply(sender, error(abi.EBADCALL))
                continue
            k.reply(self.proc, None, sender)
            while self.demand or self.background:
                if self.demand:
                    req = self.demand[0]
                    todo = sorted(vp for vp in req.vpages if vp in req.team.backing)
                    if not todo or req.team.dead:
                        self.demand.popleft()
                        if req.callback is not None and not req.team.dead:
                            req.callback()
                        continue
                    team, vpages = req.team, todo
                else:
                    team = self.background[0]
                    if team.dead or not team.backing:
                        self.background.popleft()
                        yield from self._release(pid, team)
                        continue
                    vpages = sorted(team.backing)
                run = runs(vpages)[0]
                if team.lazy:
                    run = self._cluster(team, run)
                ok = yield from self._read(pid, team, run)
                if ok is None:  # a lazy child's source is gone
                    yield from self._lost(pid, team, run[0])
                elif not ok:
                    yield ops.Delay(READ_RETRY_NS)

    def _cluster(self, team: Team, run: list[int]) -> list[int]:
        """A lazy child's fault: the run and its neighbours still in the backing (after it, then
        before it), up to the cluster size, contiguous (one read, one train)."""
        out = list(run)
        limit = max(self.cluster, len(out))
        while len(out) < limit and out[-1] + 1 in team.backing:
            out.append(out[-1] + 1)
        while len(out) < limit and out[0] - 1 in team.backing:
            out.insert(0, out[0] - 1)
        return out

    def _lost(self, pid: int, team: Team, vpage: int) -> Generator[Any, Any, None]:
        """A lazy child's pages cannot come from its parent's host: from the cut's copy on the
        file server if there is one, else the child ends (a fault report naming the page)."""
        k = self.k
        name = team.backing_file
        wait = self.replays.get(name)
        if wait is not None and k.sim.now - self.lost_at.setdefault(name, k.sim.now) < wait:
            copy = self.fallbacks.get(name)
            if not (copy and (yield from self._complete(pid, *copy))):
                # its parent restarts from its checkpoint and replays the fork: the replay
                # serves the pages again (a new server, RemoteFork._again); ask again meanwhile
                self.instances.pop(name, None)
                yield ops.Delay(REPLAY_RETRY_NS)
                return
        self.replays.pop(name, None)
        self.lost_at.pop(name, None)
        self.servers.pop(name, None)
        self.instances.pop(name, None)
        fallback, end = self.fallbacks.pop(name, ("", 0))
        why = self.why.pop(name, "no answer")
        if fallback and not (yield from self._complete(pid, fallback, end)):
            why += "; its copy on the file server is not complete"
            yield from self._remove(pid, fallback)  # its writer is gone with the parent's host
            fallback = ""
        if fallback:
            log.info(
                "%s: %s does not answer (%s): paging %s from %s",
                k.name,
                self.sources.get(name, "?"),
                why,
                name,
                fallback,
            )
            for lh in k.lhs.values():
                for t in lh.teams:
                    if t.backing_file == name:
                        t.backing_file = fallback
            self.switched.add(fallback)
            return
        if k.rfork is not None:
            k.rfork.source_lost(team, vpage, why)

    def _complete(self, pid: int, name: str, end: int) -> Generator[Any, Any, bool]:
        """Whether file `name` on the file server holds its last page (ends at `end`)."""
        k = self.k
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        fs = yield from locate.file_server(k)
        if fs <= 0:
            return False
        msg = pack(abi.FS_OPEN, NAME_AT, len(raw), abi.FS_MODE_READ)
        replier, reply = yield ops.Send(fs, msg, timeout_ms=_bound_ms(k))
        locate.forget(k, fs, replier)
        status, inst = unpack(reply)[:2]
        if replier <= 0 or status:
            return False
        replier, reply = yield ops.Send(
            k.file_server_pid,
            pack(abi.IO_READ, inst, BUF, PAGE, end - PAGE),
            timeout_ms=_bound_ms(k),
        )
        complete = replier > 0 and unpack(reply)[0] == 0 and unpack(reply)[1] == PAGE
        yield ops.Send(k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=_bound_ms(k))
        return complete

    def _read(self, pid: int, team: Team, run: list[int]) -> Generator[Any, Any, bool | None]:
        """Read a run of pages in; False: try again later; None: a served backing's source is
        gone (its host did not answer within the transport's bound, or refused)."""
        k = self.k
        name = team.backing_file
        server = self.servers.get(name)  # None: the file server (located)
        served = server is not None
        lookup = False
        inst = self.instances.get(name)
        if inst is None:
            raw = name.encode()
            k.memory.write(k.processes[pid], NAME_AT, raw)
            if server is None:
                server = yield from locate.file_server(k)
                lookup = True
            msg = pack(abi.FS_OPEN, NAME_AT, len(raw), abi.FS_MODE_READ)
            replier, reply = (yield ops.Send(server, msg)) if server > 0 else (server, bytes(32))
            if lookup:
                locate.forget(k, server, replier)
            status, inst = unpack(reply)[:2]
            if replier <= 0 or status:
                log.warning(
                    "%s: backing file %s: %s",
                    k.name,
                    name,
                    signed(status) if replier > 0 else replier,
                )
                if served:
                    self.why[name] = _why(replier, status)
                return None if served else False
            self.instances[name] = inst
        count = len(run) * PAGE
        replier, reply = yield ops.Send(
            self.servers.get(name, k.file_server_pid),
            pack(abi.IO_READ, inst, BUF, count, offset_of(team.backing_index, run[0])),
        )
        status, got = unpack(reply)[:2]
        if replier <= 0 or status:
            if served:
                self.why[name] = _why(replier, status)
            return None if served else False
        got = max(0, min(got, count))
        data = bytes(k.server_memory(k.processes[pid])[BUF : BUF + got]).ljust(count, b"\0")
        if team.dead:
            return True
        for j, vp in enumerate(run):
            prot = team.backing.pop(vp, None)
            if prot is None:
                continue  # arrived some other way meanwhile (a residue page)
            k.memory.map_zero(team, vp, Prot(prot), charge=False)
            entry = k.mmu.entry(team.ctx, vp)
            k.cpu.phys_write(entry.frame * PAGE, data[j * PAGE : (j + 1) * PAGE])
            self.pages_in += 1
            team.fetched += 1
        if team.lazy and not team.backing:
            self.background.append(team)  # all fetched: let the snapshot go (_release)
        return True

    def _release(self, pid: int, team: Team) -> Generator[Any, Any, None]:
        """A team is all resident: when no team needs its backing file any more, remove the file."""
        k = self.k
        name = team.backing_file
        team.backing_file = ""
        if not name or any(t.backing_file == name for lh in k.lhs.values() for t in lh.teams):
            return
        server = self.servers.pop(name, None)
        if name in self.switched:  # the cut's copy a lazy child went on from: ours to remove
            self.switched.discard(name)
        elif server is not None or team.lazy:  # a lazy child's: its parent's host frees it
            inst = self.instances.pop(name, None)
            self.fallbacks.pop(name, None)
            self.replays.pop(name, None)
            self.lost_at.pop(name, None)
            if server is not None and inst is not None:
                yield ops.Send(server, pack(abi.IO_CLOSE, inst), timeout_ms=_bound_ms(k))
            return
        inst = self.instances.pop(name, None)
        if inst is not None:
            yield ops.Send(k.file_server_pid, pack(abi.IO_CLOSE, inst))
        yield from self._remove(pid, name)

    def _remove(self, pid: int, name: str) -> Generator[Any, Any, None]:
        k = self.k
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        yield ops.Send(
            k.file_server_pid, pack(abi.FS_REMOVE, NAME_AT, len(raw)), timeout_ms=_bound_ms(k)
        )
