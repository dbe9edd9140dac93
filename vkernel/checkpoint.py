"""Checkpoints of logical hosts on the file server, and their restart after a host crash (issue 16).

The running side (the host a checkpointed logical host lives on): every
`interval` its checkpointer freezes the logical host for a consistent cut,
captures its state (vkernel/capture.py) and the pages modified since the
previous checkpoint (a second dirty set of the MMU, so that pre-copy and the
flusher, which clear the modified bits too, take nothing from it; the first
checkpoint, and every `full_every`-th, takes every page), unfreezes it, and
writes a file `ckpt.LHID.SERIAL` to the file server while the program runs on
(the pages as they were at the cut: copy-on-write; one of at most 32 KB in one
FS_PUT). A checkpoint counts once its header, written last, is on the file
server. After the first only increments are sent: every `full_every`-th the file
server merges the chain into a full checkpoint and lets the older files go
(vkernel/ckpt_store.py). It then tells the program's home.

The home (the program manager of the host that started the program: its
creator's) watches the logical host with a kernel-server query every
`detect_s / 2`; no answer for `detect_s` and it restarts the program from its
last complete checkpoint on an idle host (the "@ *" rules): that host's
program manager reads the chain of files, rebuilds the logical host under its
own id, stages the captured state and runs it. No host answers: "cannot
restart", the checkpoint is kept and the home asks again later.

File layout: a 64-byte header at 0 (MAGIC, serial, offset and length of the
JSON state, page count, time of the cut), page records from 4096 on (the
migration's 8-byte page header, then 4 KB unless the page is all zeros, or
with DIFF_FLAG a compressed difference), the JSON state after them (an
incremental checkpoint's: only what changed, state_delta). A checkpoint of at
most 32 KB goes in one request (MAGIC_SMALL: the records follow the header at
64; FS_PUT creates the file whole or not at all). The state's "chain" lists the
serials back to the last full checkpoint, oldest first; a restore reads back
from the newest file, each naming the one before it (merged files are full).
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.mmu import Prot
from guest import abi
from vkernel import exactly_once, locate, ops
from vkernel.capture import Plan
from vkernel.messages import error, pack, signed, unpack
from vkernel.process import LogicalHost, Priority, State
from vkernel.servers import program_query
from vkernel.servers.kernel_server import KS_PROCESS_INFO
from vkernel.servers.program_manager import CK_DONE, CK_FORK, CK_RESTART, query_host_msg

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

PAGE = abi.PAGE_SIZE
MS = 1_000_000
S = 1_000_000_000
WATCHER = "checkpoint"  # the MMU's second dirty set
MAGIC = b"VCKPT001"
MAGIC_SMALL = b"VCKPT002"  # the whole file in one write: the page records follow the header
HEADER = struct.Struct(
    ">8sIIIIQ"
)  # magic, serial, state offset, state length, pages, cut time (ns)
BODY_AT = 4096
PAGE_HEADER = struct.Struct(">HHB3x")  # team index, vpage, prot (| ZERO_FLAG: no data follows)
ZERO_FLAG = 0x80
DIFF_FLAG = 0x40  # a compressed difference follows: its length, then (offset, length, XOR) runs
DIFF_HEADER = struct.Struct(">I")
RUN = struct.Struct(">HH")
ZERO_PAGE = bytes(PAGE)
# runs of changed bytes, gaps of under RUN.size unchanged ones merged (a run's header costs more)
_CHANGED = re.compile(rb"[^\x00]+(?:\x00{1,%d}[^\x00]+)*" % (RUN.size - 1))
CHUNK = 32 * 1024  # bytes per file-server request (a train)
NAME_AT = 0
LIST_AT = 256
BUF = 64 * 1024
LIST_BYTES = 48 * 1024
PREFIX = "ckpt."
# serials of the n-th restarted incarnation start at n * INCARNATION: a copy that ran on in a
# partition (the old incarnation) neither overwrites the new one's files nor passes for it
INCARNATION = 100_000  # exactly_once.INCARNATION_SERIALS
ENDED = 1 << 31  # FS_COLLECT's keep when the program ended: every file of it goes

DELTA = "delta_removed"  # an incremental checkpoint's state holds only what changed (state_delta)
ADOPT = 1 << 31  # CK_DONE's serial: the sender's home does not answer: adopt the watch
RELEASE = ADOPT - 1  # CK_DONE's serial: another home has adopted the watch: stop watching
RELEASE_TRIES = 10  # checkpoints that tell the home replaced (one try each)


def file_name(lhid: int, serial: int) -> str:
    return f"{PREFIX}{lhid:04x}.{serial:07d}"


def parse_name(name: str) -> tuple[int, int] | None:
    """(lhid, serial) of a checkpoint file's name, or None."""
    parts = name.split(".")
    if len(parts) != 3 or parts[0] + "." != PREFIX:
        return None
    try:
        return int(parts[1], 16), int(parts[2])
    except ValueError:
        return None


def page_runs(pages: list[list[int]]) -> list[list[int]]:
    """A layout's [vpage, prot] list as [first vpage, count, prot] runs (a checkpoint's is small)."""
    runs: list[list[int]] = []
    for vp, prot in sorted(pages):
        if runs and runs[-1][0] + runs[-1][1] == vp and runs[-1][2] == prot:
            runs[-1][1] += 1
        else:
            runs.append([vp, 1, prot])
    return runs


def page_list(runs: list[list[int]]) -> list[list[int]]:
    return [[vp + i, prot] for vp, count, prot in runs for i in range(count)]


def diff_encode(old: bytes, new: bytes) -> bytes:
    """A page's compressed difference (Plank, Xu and Netzer 1995): the XOR of new against old,
    run-length encoded as (offset, length, XOR bytes) runs of the bytes that changed."""
    x = (int.from_bytes(old, "big") ^ int.from_bytes(new, "big")).to_bytes(len(new), "big")
    return b"".join(
        RUN.pack(m.start(), m.end() - m.start()) + m.group() for m in _CHANGED.finditer(x)
    )


def diff_changed(runs: bytes) -> int:
    """The bytes a difference carries (its runs' lengths)."""
    return len(runs) - RUN.size * diff_runs(runs)


def diff_runs(runs: bytes) -> int:
    n = off = 0
    while off < len(runs):
        off += RUN.size + RUN.unpack_from(runs, off)[1]
        n += 1
    return n


def header_parts(head: bytes, serial: int | None = None) -> tuple[int, int, int] | None:
    """(body_at, state_at, state_len) from a checkpoint file's header, if the file is complete
    (its header is written last) and of `serial` (any, if None); else None."""
    if len(head) < HEADER.size:
        return None
    magic, got, state_at, state_len, _pages, _cut = HEADER.unpack_from(head)
    body_at = HEADER.size if magic == MAGIC_SMALL else BODY_AT
    if magic not in (MAGIC, MAGIC_SMALL) or serial not in (None, got) or state_at < body_at:
        return None
    return body_at, state_at, state_len


def diff_apply(old: bytes, runs: bytes) -> bytes:
    """The page a difference makes of old (diff_apply(old, diff_encode(old, new)) == new)."""
    page = bytearray(old)
    off = 0
    while off < len(runs):
        at, n = RUN.unpack_from(runs, off)
        off += RUN.size
        x = int.from_bytes(runs[off : off + n], "big")
        page[at : at + n] = (int.from_bytes(page[at : at + n], "big") ^ x).to_bytes(n, "big")
        off += n
    return bytes(page)


def state_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An incremental checkpoint's state: the top-level entries of `new` that differ from `old`
    (the state of the checkpoint before it in the chain), DELTA naming those `old` had and `new`
    has not; "checkpoint" is always among them (its serial and chain)."""
    changed = {key: value for key, value in new.items() if old.get(key) != value}
    changed["checkpoint"] = new["checkpoint"]
    changed[DELTA] = sorted(key for key in old if key not in new)
    return changed


def whole_state(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The state a chain's states make, oldest (a whole one) first: each delta applied."""
    state = dict(states[0])
    state.pop(DELTA, None)
    for delta in states[1:]:
        if DELTA not in delta:
            state = dict(delta)
            continue
        for key in delta[DELTA]:
            state.pop(key, None)
        state.update((key, value) for key, value in delta.items() if key != DELTA)
    return state


def _name16(name: str) -> tuple[int, int, int, int]:
    return struct.unpack(">4I", name.encode("latin-1")[:16].ljust(16, b"\0"))


def _unname16(words: tuple[int, ...]) -> str:
    return struct.pack(">4I", *words).rstrip(b"\0").decode("latin-1")


@dataclass
class Policy:
    """The checkpointing of one logical host (moves with it: captured, restored)."""

    lhid: int
    interval_ns: int  # 0: only when asked
    serial: int = 0  # of the last complete checkpoint (0: none yet)
    chain: list[int] = field(default_factory=list)  # serials a restore of `serial` reads
    full_next: bool = True  # the next checkpoint copies every page
    since_full: int = 0
    taken: int = 0
    now: bool = False  # one asked for (PM_CHECKPOINT with interval 0)
    running: bool = False  # a checkpoint's cut is being taken
    writing: int = 0  # the serial of the checkpoint whose file is being written (0: none)
    stats: list[dict[str, Any]] = field(default_factory=list)  # one per checkpoint taken here
    io_seq: dict[str, int] = field(default_factory=dict)  # exactly-once counters (exactly_once.py)
    # compress: the content each page had at its last checkpoint (None: zeros), by (team index,
    # vpage), and the pages found rewritten whole (sent whole, no copy kept); the teams they are of
    bases: dict[tuple[int, int], bytes | None] = field(default_factory=dict)
    rewritten: set[tuple[int, int]] = field(default_factory=set)
    team_ctxs: list[int] = field(default_factory=list)
    acked: bool = False  # the home answered the last checkpoint's notice (CK_DONE)
    # the first full checkpoint of these teams, and its read-only pages not modified since
    base_serial: int = 0
    base_pages: dict[int, set[int]] = field(default_factory=dict)
    # started checkpointed (first): until its first checkpoint is complete, what it sends waits
    committed: bool = True
    waiting: list[Callable[[], None]] = field(default_factory=list)
    # the state of the last checkpoint written (the next one's state is the difference)
    last_state: dict[str, Any] | None = None
    forks: dict[str, int] = field(default_factory=dict)  # fork files kept for a replay: index
    # the program manager that adopted the watch when the creator's host stopped answering the
    # notices (0: the creator's, the home); moves with the policy
    home: int = 0
    released: int = 0  # 1: the home it replaced let the watch go; 2: being told
    release_tries: int = 0  # told so often (a crashed home never answers: a few tries)


@dataclass
class Watch:
    """The home's watch of one checkpointed program."""

    lhid: int
    pid: int
    name: str
    host: str  # where it runs, as last heard
    serial: int = 0
    taken_ns: int = 0  # when the last checkpoint's notice came
    gap_ns: int = 0  # between the last two notices (when the next one is due)
    seen_ns: int = 0  # last answer from its logical host
    restarts: int = 0
    incarnation: int = 0  # of the copy restarted last (older ones are void)
    refused: bool = False  # "cannot restart" said (not said again until a restart succeeds)
    restarting: bool = False  # the home took it for lost and is restarting it
    ended: bool = False
    creator: int = 0  # the process that started it (the console's agent that asked for it)
    adopted: bool = False  # we took the watch over from a home that stopped answering
    released: bool = False  # another home took it over from us: its files are not ours to remove


class Checkpoints:
    """One per workstation kernel: its checkpointers, its restarts and its home watches."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.cfg = kernel.config.checkpoint
        self.policies: dict[int, Policy] = {}
        self.watches: dict[int, Watch] = {}  # lhid -> watch (this is the program's home)
        self.records: list[dict[str, Any]] = []  # restarts and refusals decided here (the home)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.ended_pids: set[int] = set()  # programs of ours whose exit was reported
        self.taken: list[dict[str, Any]] = []  # every checkpoint taken here (the last 10000)
        self.saved: dict[tuple[int, int], bytes] = {}  # (ctx, vpage): copied before a write
        self.cow_copies = 0
        kernel.checkpoints = self
        kernel.mmu.on_cow = self._cow
        kernel.on_exit.append(self._on_exit)

    # ================================================================ the running side
    def serve(self, sender: int, code: int, msg: bytes) -> Generator[Any, Any, None]:
        """The program manager's requests of this subsystem (run in the program manager)."""
        k = self.k
        if code in (CK_RESTART, CK_FORK):
            here = k.processes.get(sender)
            if (
                abi.pid_lhid(sender) % k.lh_stride or k.is_local(sender)
            ) and not (  # program managers of others, or our own (a replayed fork's)
                code == CK_FORK and here is not None and here.team is None
            ):
                yield ops.Reply(sender, error(abi.EPERM))
            elif code == CK_RESTART:
                worker = yield ops.Spawn("pm-restart", self.restart_worker)
                yield ops.Forward(sender, worker, msg)
            elif k.rfork is not None:
                worker = yield ops.Spawn("pm-rfork-child", k.rfork.child_worker)
                yield ops.Forward(sender, worker, msg)
            else:
                yield ops.Reply(sender, error(abi.EBADCALL))
        elif code == abi.PM_RFORK:
            if k.rfork is None or k.processes.get(sender) is None:
                yield ops.Reply(sender, error(abi.EPERM))  # a program on this machine forks
            else:
                worker = yield ops.Spawn("pm-rfork", k.rfork.parent_worker)
                yield ops.Forward(sender, worker, msg)
        elif code == CK_DONE:
            forger = k.processes.get(sender)
            if forger is not None and forger.team is not None:
                yield ops.Reply(sender, error(abi.EPERM))  # checkpointers send it, not guests
            else:
                yield ops.Reply(sender, self.heard(sender, msg))
        else:  # PM_CHECKPOINT pid (0: the caller's own), interval ms (0: one now)
            _, pid, interval_ms = unpack(msg)[:3]
            pid = pid or sender
            guest = k.processes.get(sender)
            lh = k.lhs.get(abi.pid_lhid(pid))
            if guest is not None and guest.team is not None and abi.pid_lhid(pid) != guest.lhid:
                reply = error(abi.EPERM)  # a program checkpoints itself only
            elif lh is None or lh.system or not lh.teams or pid not in lh.processes:
                reply = error(abi.ENOPROC)
            elif interval_ms > 3_600_000:
                reply = error(abi.EINVAL)
            else:
                self.enable(lh, interval_ms)
                reply = pack(0, lh.lhid)
            yield ops.Reply(sender, reply)

    def enable(self, lh: LogicalHost, interval_ms: int) -> None:
        """Checkpoint lh every interval_ms (0: once, now); a second call changes the interval.
        The first checkpoint is taken at once (the sooner it is on the file server, the shorter
        the time a crash loses the program)."""
        pol = self.policies.get(lh.lhid)
        if pol is None:
            pol = self.policies[lh.lhid] = Policy(lh.lhid, interval_ms * MS, now=True)
            self._start(lh, pol)
        if interval_ms:
            pol.interval_ns = interval_ms * MS
        else:
            pol.now = True

    def first(self, pid: int, lh: LogicalHost, interval_ms: int) -> Generator[Any, Any, bool]:
        """A program started checkpointed (PM_EXEC_CHECKPOINT, from the program manager's exec
        worker `pid`): its first checkpoint, the loaded image, is taken before it runs an
        instruction (lh.held). True once it is on the file server and the program's home has
        it (so a crash from now on restarts the program): it runs, checkpointed every
        interval_ms. False: it has not run (the caller removes it)."""
        k = self.k
        pol = self.policies[lh.lhid] = Policy(lh.lhid, interval_ms * MS, committed=False)
        for team in lh.teams:
            k.mmu.watch_modified(team.ctx, WATCHER)
        lh.held = True
        fork = self.cfg.copy == "fork"
        # fork: it computes while its pages are written; what it sends waits (output commit)
        ok = yield from self.take(
            pid, lh, pol, after_cut=(lambda: self._release(lh)) if fork else None
        )
        if not (ok and pol.acked) or k.lhs.get(lh.lhid) is not lh:
            if self.policies.get(lh.lhid) is pol:
                del self.policies[lh.lhid]
            pol.waiting.clear()
            # it never ran: its begun checkpoint (complete or not) goes too
            yield from self._remove(pid, file_name(lh.lhid, 1))
            return False
        self._release(lh)
        pol.committed = True
        waiting, pol.waiting = pol.waiting, []
        for again in waiting:
            again()
        self._start(lh, pol, watch=False, last=pol.stats[-1]["cut_ns"])
        return True

    def gated(self, proc: Any) -> bool:
        """Whether proc's effects wait: its logical host was started checkpointed and its first
        checkpoint is not yet on the file server (a crash now must leave no trace of it)."""
        pol = self.policies.get(proc.lhid)
        return pol is not None and not pol.committed

    def hold(self, proc: Any, again: Callable[[], None]) -> None:
        """proc waits (its system call runs again) until its first checkpoint is complete."""
        self.k.block(proc, State.MOVING)
        self.policies[proc.lhid].waiting.append(again)

    def _start(
        self,
        lh: LogicalHost,
        pol: Policy,
        watch: bool = True,
        last: int | None = None,
        tell: int | None = None,
    ) -> None:
        if watch:
            for team in lh.teams:
                self.k.mmu.watch_modified(team.ctx, WATCHER)
        self.k.spawn_server(
            self.k.system_lh,
            f"ckpt-{lh.lhid:04x}",
            lambda pid: self._loop(pid, lh, pol, last, tell),
        )

    def export(self, lhid: int) -> dict[str, Any] | None:
        """The policy of lhid for its captured state (it moves with the logical host)."""
        pol = self.policies.get(lhid)
        if pol is None:
            return None
        return {
            "interval_ns": pol.interval_ns,
            "serial": pol.serial,
            # the one being written may yet complete here: the new host numbers on past it (two
            # files of one serial would overwrite each other)
            "writing": pol.writing,
            "chain": list(pol.chain),
            "taken": pol.taken,
            "io_seq": dict(pol.io_seq),
            "home": pol.home,
        }

    def adopt(self, lh: LogicalHost, spec: dict[str, Any] | None) -> None:
        """lh arrived (a migration or a restart) with this policy: checkpointing goes on here,
        with a full checkpoint first (this MMU knows nothing of what changed before)."""
        if not isinstance(spec, dict) or lh.lhid in self.policies:
            return
        complete = int(spec.get("serial", 0))
        pol = Policy(
            lh.lhid,
            int(spec.get("interval_ns", 0)),
            serial=max(complete, int(spec.get("writing", 0))),
            chain=[int(s) for s in spec.get("chain", [])],
            taken=int(spec.get("taken", 0)),
            io_seq={str(key): int(v) for key, v in dict(spec.get("io_seq", {})).items()},
            home=int(spec.get("home", 0)),
        )
        self.policies[lh.lhid] = pol
        # moved here (a migration, an eviction: it has a chain): its home hears where it runs
        # now at once, not at its next checkpoint (a crash before that would restart it "from"
        # the host it left)
        self._start(lh, pol, tell=complete if pol.chain else None)

    def _loop(
        self,
        pid: int,
        lh: LogicalHost,
        pol: Policy,
        last: int | None = None,
        tell: int | None = None,
    ) -> Generator[Any, Any, None]:
        k = self.k
        step = 20 * MS
        if last is None:  # the cut of the previous checkpoint: the next is due an interval later
            last = k.sim.now
        try:
            if tell is not None and k.lhs.get(lh.lhid) is lh:  # its home: it runs here now
                yield from self._tell_home(pid, lh, tell, last)  # (its last complete serial)
            while k.lhs.get(lh.lhid) is lh and lh.processes:
                yield ops.Delay(step)
                due = pol.interval_ns and k.sim.now - last >= pol.interval_ns
                if not (due or pol.now) or lh.frozen or lh.migrating:
                    continue
                if k.lhs.get(lh.lhid) is not lh or not lh.processes:
                    break
                pol.now = False
                last = k.sim.now
                yield from self.take(pid, lh, pol)
        finally:
            if self.policies.get(lh.lhid) is pol:
                del self.policies[lh.lhid]
            for team in lh.teams:
                if not team.dead:
                    k.mmu.unwatch_modified(team.ctx, WATCHER)

    def take(
        self,
        pid: int,
        lh: LogicalHost,
        pol: Policy,
        after_cut: Callable[[], None] | None = None,
    ) -> Generator[Any, Any, bool]:
        """One checkpoint of lh; True once its file is complete on the file server. after_cut
        runs once the cut is taken (the logical host thawed), before the pages are written."""
        k = self.k
        mmu = k.mmu
        if k.rfork is not None and not (yield from k.rfork.resident(lh)):
            return False  # pages still to come (a lazy rfork's child) could not be had
        if k.rfork is not None and k.rfork.snapshots:
            yield from k.rfork.copied(lh.lhid)  # a lazy fork's copy of its cut goes first
        fork = self.cfg.copy == "fork"
        pol.running = True
        full = pol.full_next  # the first, after a failure, or other teams (below)
        freeze_start = k.sim.now
        held = False  # copy "freeze": its programs wait until the pages are sent
        pending: list[tuple[int, Any, int, int]] = []  # (team index, team, vpage, prot) to send
        try:
            # --- the cut: frozen, no slice or transfer under way ---------------------------
            lh.frozen = True
            yield from k.migration._settle(lh)
            if k.lhs.get(lh.lhid) is not lh or not lh.processes or lh.migrating:
                return False
            teams = list(lh.teams)
            state = k.capture_lh(lh, Plan(), teams=teams)
            for team in teams:
                if not mmu.watching(team.ctx, WATCHER):
                    mmu.watch_modified(team.ctx, WATCHER)
                    full = True
            if pol.team_ctxs != [t.ctx for t in teams]:
                full = True  # other teams than the last checkpoint's: no page is known
                pol.team_ctxs, pol.bases = [t.ctx for t in teams], {}
                pol.base_serial, pol.base_pages = 0, {}
            # a full checkpoint names the read-only pages the base (the first of these teams)
            # holds, unchanged since, instead of copying them again (the restore reads the base)
            based = full and pol.base_serial > 0
            for i, team in enumerate(teams):
                dirty = mmu.drain_modified(team.ctx, WATCHER)
                kept = pol.base_pages.get(i)
                if kept:
                    kept.difference_update(dirty)
                pages = mmu.mapped_pages(team.ctx) if full else dirty
                cut = []
                for vp in pages:
                    if based and kept and vp in kept:
                        continue
                    entry = mmu.entry(team.ctx, vp)
                    if entry is not None:
                        pending.append((i, team, vp, int(entry.prot)))
                        cut.append(vp)
                # the pages stay in place until sent; a write before (a program's, or a host
                # store into it while it waits) copies them first
                mmu.copy_on_write(team.ctx, cut)
            # the kernel copies its state
            objects = len(lh.processes) + len(teams)
            yield ops.charge(
                k.config,
                "checkpoint.freeze_base_us",
                ("checkpoint.freeze_per_object_us", objects),
            )
            held = not fork and not lh.held  # copy "freeze": its programs wait for the writing
            lh.held = lh.held or held
        finally:
            self._thaw(lh)
            pol.running = False
        if after_cut is not None:
            after_cut()
        freeze_ns = k.sim.now - freeze_start
        base_candidates = list(pending) if full and not based else []
        # every full_every-th: the file server merges the chain into a full checkpoint (its CPU
        # and disk, not ours) and lets the older files go; the chains after it start from it
        merge = not full and pol.since_full + 1 >= self.cfg.full_every
        serial = pol.serial + 1
        if not full:
            chain = [*pol.chain, serial]
        else:
            chain = [pol.base_serial, serial] if based else [serial]
        state["checkpoint"] = {"serial": serial, "chain": chain, "cut_ns": freeze_start}
        for spec in state["teams"]:
            spec["page_runs"] = page_runs(spec.pop("pages"))
        # an incremental one's state: what changed since the one before it (state_delta)
        written = state if full or pol.last_state is None else state_delta(pol.last_state, state)
        blob = json.dumps(written, separators=(",", ":")).encode()
        pol.last_state = None  # until this one is written
        name = file_name(lh.lhid, serial)
        pol.writing = serial
        sent: dict[str, Any] = {
            "raw": 0,
            "diffs": 0,
            "copies": self.cow_copies,
            "pages": len(pending),
            "cut": freeze_start,
            "bytes": 0,
            "full": full,
            "merge": merge,
            "spare": pol.base_serial,
        }
        try:
            ok = yield from self._send_pages(pid, lh, pol, name, serial, pending, blob, sent)
        finally:
            for _i, team, vp, _prot in pending:  # what was not sent (a failure) is writable again
                if not team.dead:
                    mmu.release_cow(team.ctx, vp)
                self.saved.pop((team.ctx, vp), None)
            if held:
                self._release(lh)
                freeze_ns = k.sim.now - freeze_start
            pol.writing = 0
        if ok and k.lhs.get(lh.lhid) is not lh:
            # it ended (or moved) while its file was being written: the home has let its files
            # go (or the new host starts a chain of its own): this one is garbage too
            yield from self._remove(pid, name)
            return False
        if not ok:
            pol.full_next = True  # what this one drained is not on the file server
            log.info("%s: checkpoint %s failed", k.name, name)
            return False
        pol.serial, pol.chain, pol.taken = serial, [serial] if merge else chain, pol.taken + 1
        pol.last_state = state
        if full and not based:  # the base of the full checkpoints to come: its read-only pages
            pol.base_serial = serial
            pol.base_pages = {}
            for i, _team, vp, prot in base_candidates:
                if not prot & int(Prot.WRITE):
                    pol.base_pages.setdefault(i, set()).add(vp)
        pol.full_next = False
        pol.since_full = 0 if full or merge else pol.since_full + 1
        pol.stats.append(
            {
                "lhid": lh.lhid,
                "serial": serial,
                "full": full,
                "based": based,  # a full one naming its base's read-only pages
                "merged": merge,  # its chain merged into a full checkpoint by the file server
                "pages": sent["pages"],
                "bytes": sent["bytes"],
                "raw_bytes": HEADER.size + sent["raw"] + len(blob),
                "diff_pages": sent["diffs"],
                "cow_copies": self.cow_copies - sent["copies"],
                "kept_kb": round(sum(len(b) for b in pol.bases.values() if b) / 1024, 1),
                "freeze_ms": round(freeze_ns / MS, 3),
                "time": round(freeze_start / S, 6),
                "cut_ns": freeze_start,
                "done": round(k.sim.now / S, 6),
            }
        )
        self.taken.append(pol.stats[-1])
        del self.taken[:-10000]
        if full:  # the files of the previous chains (but the base) are garbage now
            spare = {pol.base_serial} if pol.base_serial else set()
            yield from self._collect(pid, lh.lhid, keep=serial, spare=spare)
        pol.acked = yield from self._tell_home(pid, lh, serial, freeze_start)
        if pol.forks and k.rfork is not None:  # a restart from this one replays no fork before it
            yield from k.rfork.committed(pid, pol, state)
        return True

    def _thaw(self, lh: LogicalHost) -> None:
        k = self.k
        if k.powered and k.lhs.get(lh.lhid) is lh and lh.frozen and not lh.migrating:
            k.migration.unfreeze(lh)

    def _release(self, lh: LogicalHost) -> None:
        """Its programs run again (copy "freeze": the checkpoint's pages are sent)."""
        k = self.k
        lh.held = False
        if k.powered and k.lhs.get(lh.lhid) is lh:
            for proc in lh.processes.values():
                if proc.state is State.READY:
                    k._enqueue(proc)
            k.dispatch()

    def _cow(self, ctx: int, vpage: int) -> None:
        """The Mmu's copy-on-write hook: a page of a checkpoint's cut is about to change before
        its writer sent it: copy it aside first (a local page copy of this CPU)."""
        entry = self.k.mmu.entry(ctx, vpage)
        self.k.mmu.release_cow(ctx, vpage)
        if entry is not None:
            self.saved[(ctx, vpage)] = self.k.cpu.phys_read(entry.frame * PAGE, PAGE)
            self.cow_copies += 1
            self.k.charge("local_page_copy_us")

    def _work(self, *charges: str | tuple[str, float]) -> Any:
        """The writer's own CPU work, at its priority (checkpoint.writer_priority)."""
        work = ops.charge(self.k.config, *charges)
        if self.cfg.writer_priority == "background":
            return ops.Run(work.us, Priority.BACKGROUND, work.charges)
        return work

    def _page_record(
        self,
        pol: Policy,
        i: int,
        vp: int,
        prot: int,
        data: bytes,
        sent: dict[str, Any],
    ) -> Generator[Any, Any, bytes]:
        """The record of one page: zero, whole, or (compress, an incremental checkpoint) its XOR
        against the copy kept at its last checkpoint (a full one's chain has nothing before)."""
        full = sent["full"]
        head = PAGE_HEADER.pack(i, vp, prot)
        if data == ZERO_PAGE:
            if self.cfg.compress:
                pol.bases[(i, vp)] = None
            return PAGE_HEADER.pack(i, vp, prot | ZERO_FLAG)
        sent["raw"] += PAGE_HEADER.size + PAGE
        if not self.cfg.compress or not prot & int(Prot.WRITE):
            return head + data
        key = (i, vp)
        if not full and key in pol.bases and key not in pol.rewritten:
            base = pol.bases[key] or ZERO_PAGE
            runs = diff_encode(base, data)
            changed = diff_changed(runs)
            # compare with the kept copy; the changed bytes go into the packet and the copy
            yield self._work("checkpoint.diff_page_us", ("local_page_copy_us", 2 * changed / PAGE))
            pol.bases[key] = data
            if changed > PAGE // 2:
                pol.rewritten.add(key)  # rewritten whole: from now on sent whole, no copy kept
            if DIFF_HEADER.size + len(runs) < PAGE:
                sent["diffs"] += 1
                return (
                    PAGE_HEADER.pack(i, vp, prot | DIFF_FLAG) + DIFF_HEADER.pack(len(runs)) + runs
                )
            return head + data
        if key not in pol.rewritten:
            yield self._work("local_page_copy_us")  # the copy kept for the next difference
            pol.bases[key] = data
        else:
            pol.bases.pop(key, None)
        return head + data

    def _send_pages(
        self,
        pid: int,
        lh: LogicalHost,
        pol: Policy,
        name: str,
        serial: int,
        pending: list[tuple[int, Any, int, int]],
        blob: bytes,
        sent: dict[str, Any],
    ) -> Generator[Any, Any, bool]:
        """Write the checkpoint file: the pages of the cut in CHUNK-sized writes (each page taken
        from its copy-on-write copy or, not written since the cut, from its frame), the state,
        then the header (the checkpoint counts from it). One of at most CHUNK bytes is one
        request (FS_PUT: the file whole or not at all); sent["merge"]: the file server then
        merges its chain (FS_PUT_MERGE, or FS_MERGE after a larger one)."""
        if self._fits(pending, blob):
            ok = yield from self._send_body(pid, 0, lh, pol, serial, pending, blob, sent, put=name)
            return ok
        # the first chunk creates the file (FS_PUT_OPEN: an open that carries the first write)
        file = {"name": name, "inst": 0}
        ok = yield from self._send_body(pid, 0, lh, pol, serial, pending, blob, sent, create=file)
        if file["inst"]:
            yield ops.Send(
                self.k.file_server_pid,
                pack(abi.IO_CLOSE, file["inst"]),
                timeout_ms=self._bound_ms(),
            )
        if ok and sent.get("merge"):
            yield from self._merge(pid, name, sent.get("spare", 0))
        return ok

    def _fits(self, pending: list[tuple[int, Any, int, int]], blob: bytes) -> bool:
        """Whether the file takes at most CHUNK bytes (one request): its header, the state, a
        page record each, whole but for the zero pages (headers alone); the pages stay as they
        are (copy-on-write). Looks at pages only until the file is too big."""
        k = self.k
        size = HEADER.size + len(blob)
        for _i, team, vp, _prot in pending:
            size += PAGE_HEADER.size
            if size > CHUNK:
                return False
            data = self.saved.get((team.ctx, vp))
            if data is None:
                entry = None if team.dead else k.mmu.entry(team.ctx, vp)
                data = ZERO_PAGE if entry is None else k.cpu.phys_read(entry.frame * PAGE, PAGE)
            size += 0 if data == ZERO_PAGE else PAGE
        return size <= CHUNK

    def _send_body(
        self,
        pid: int,
        inst: int,
        lh: LogicalHost,
        pol: Policy,
        serial: int,
        pending: list[tuple[int, Any, int, int]],
        blob: bytes,
        sent: dict[str, Any],
        put: str | None = None,
        create: dict[str, Any] | None = None,
    ) -> Generator[Any, Any, bool]:
        """The file's body and header to the open instance `inst`; with `put` (its name: it
        fits in one request) whole in one FS_PUT; with `create` (its name, "inst" 0) the first
        chunk creates it and opens it (create["inst"])."""
        k = self.k
        mmu = k.mmu
        buf = b""
        at = 0
        body_len = None
        small = put is not None  # one request of header, pages and state: all or nothing
        while pending:
            i, team, vp, prot = pending[0]
            if team.dead or k.lhs.get(lh.lhid) is not lh:
                return False
            data = self.saved.pop((team.ctx, vp), None)
            if data is None:
                entry = mmu.entry(team.ctx, vp)
                data = None if entry is None else k.cpu.phys_read(entry.frame * PAGE, PAGE)
            mmu.release_cow(team.ctx, vp)
            pending.pop(0)
            if data is None:
                continue
            record = yield from self._page_record(pol, i, vp, prot, data, sent)
            buf += record
            if not pending:  # the state follows the pages in the same writes
                body_len = at + len(buf)
                buf += blob
            while len(buf) >= CHUNK and not small:
                inst = yield from self._chunk(pid, inst, buf[:CHUNK], at, create)
                if not inst:
                    return False
                at += CHUNK
                buf = buf[CHUNK:]
        if body_len is None:  # the last pages went (unmapped) before they were sent
            body_len = at + len(buf)
            buf += blob
        if small:
            head = HEADER.pack(
                MAGIC_SMALL, serial, HEADER.size + body_len, len(blob), sent["pages"], sent["cut"]
            )
            sent["bytes"] = HEADER.size + len(buf)
            if self.cfg.writer_priority == "background":
                yield ops.Run(0.001, Priority.BACKGROUND)
            # open, write and close in one request
            flags = abi.FS_PUT_MERGE if sent.get("merge") else 0
            ok = yield from self._put_file(pid, put, head + buf, flags, sent.get("spare", 0))
            return ok
        while buf:
            inst = yield from self._chunk(pid, inst, buf[:CHUNK], at, create)
            if not inst:
                return False
            at += len(buf[:CHUNK])
            buf = buf[CHUNK:]
        head = HEADER.pack(MAGIC, serial, BODY_AT + body_len, len(blob), sent["pages"], sent["cut"])
        sent["bytes"] = HEADER.size + body_len + len(blob)
        ok = yield from self._write_at(pid, inst, head, 0)
        return ok

    def _chunk(
        self, pid: int, inst: int, data: bytes, at: int, create: dict[str, Any] | None
    ) -> Generator[Any, Any, int]:
        """One chunk of the body to instance `inst`, or (inst 0) to the file `create` names,
        created by this write and left open; the instance (0: failed)."""
        if inst:
            ok = yield from self._write_chunk(pid, inst, data, at)
            return inst if ok else 0
        if create is None:
            return 0
        if self.cfg.writer_priority == "background":
            yield ops.Run(0.001, Priority.BACKGROUND)
        got = yield from self._put_file(
            pid, create["name"], data, abi.FS_PUT_OPEN, offset=BODY_AT + at
        )
        create["inst"] = got
        return got

    def _write_chunk(self, pid: int, inst: int, data: bytes, at: int) -> Generator[Any, Any, bool]:
        if self.cfg.writer_priority == "background":
            yield ops.Run(0.001, Priority.BACKGROUND)  # the CPU, once no program wants it
        ok = yield from self._write_at(pid, inst, data, BODY_AT + at)
        return ok

    def _write(
        self,
        pid: int,
        name: str,
        serial: int,
        body: bytes,
        blob: bytes,
        pages: int,
        cut_ns: int,
    ) -> Generator[Any, Any, bool]:
        k = self.k
        inst = yield from self._open(pid, name, abi.FS_MODE_WRITE)
        if inst is None:
            return False
        data = body + blob
        ok = True
        for off in range(0, len(data), CHUNK):
            ok = yield from self._write_at(pid, inst, data[off : off + CHUNK], BODY_AT + off)
            if not ok:
                break
        if ok:  # the checkpoint counts from here: its header, written last
            head = HEADER.pack(MAGIC, serial, BODY_AT + len(body), len(blob), pages, cut_ns)
            ok = yield from self._write_at(pid, inst, head, 0)
        yield ops.Send(k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=self._bound_ms())
        return ok

    def _bound_ms(self) -> int:
        cost = self.k.cost
        return int(cost.retransmit_timeout_ms * (cost.max_retransmits + 1))

    def _open(self, pid: int, name: str, mode: int) -> Generator[Any, Any, int | None]:
        k = self.k
        fs = yield from locate.file_server(k)  # found over the wire at first use (locate.py)
        if fs <= 0:
            return None
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        replier, reply = yield ops.Send(
            fs,
            pack(abi.FS_OPEN, NAME_AT, len(raw), mode),
            timeout_ms=self._bound_ms(),
        )
        locate.forget(k, fs, replier)
        status, inst = unpack(reply)[:2]
        if replier <= 0 or status:
            return None
        return inst

    def _write_at(self, pid: int, inst: int, data: bytes, at: int) -> Generator[Any, Any, bool]:
        k = self.k
        self._put(pid, BUF, data)
        replier, reply = yield ops.Send(
            k.file_server_pid,
            pack(abi.FS_WRITE_AT, inst, BUF, len(data), at),
            timeout_ms=self._bound_ms(),
        )
        return replier > 0 and unpack(reply)[0] == 0 and unpack(reply)[1] == len(data)

    def _put_file(
        self, pid: int, name: str, data: bytes, flags: int = 0, spare: int = 0, offset: int = 0
    ) -> Generator[Any, Any, int]:
        """FS_PUT: the file `name` holding exactly `data` (at `offset`), in one request (created
        or replaced whole, or not at all); FS_PUT_MERGE in flags: the file server then merges
        its chain; FS_PUT_OPEN: it stays open, the answer is its instance. True (FS_PUT_OPEN:
        the instance) or False (0)."""
        k = self.k
        fs = yield from locate.file_server(k)
        if fs <= 0:
            return False
        raw = name.encode()
        self._put(pid, BUF, raw + data)
        replier, reply = yield ops.Send(
            fs,
            pack(abi.FS_PUT, BUF, len(raw), len(data), flags, spare, offset),
            timeout_ms=self._bound_ms(),
        )
        locate.forget(k, fs, replier)
        status, count, inst = unpack(reply)[:3]
        ok = replier > 0 and status == 0 and count == len(data)
        if flags & abi.FS_PUT_OPEN:
            return inst if ok else 0
        return ok

    def _merge(self, pid: int, name: str, spare: int) -> Generator[Any, Any, bool]:
        """FS_MERGE: the file server merges checkpoint `name`'s chain into a full checkpoint and
        removes the older files of its logical host but `spare` (vkernel/ckpt_store.py)."""
        k = self.k
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        replier, reply = yield ops.Send(
            k.file_server_pid,
            pack(abi.FS_MERGE, NAME_AT, len(raw), spare),
            timeout_ms=self._bound_ms(),
        )
        return replier > 0 and unpack(reply)[0] == 0

    def _put(self, pid: int, at: int, data: bytes) -> None:
        mem = self.k.server_memory(self.k.processes[pid])
        if len(mem) < at + len(data):
            mem.extend(bytes(at + len(data) - len(mem)))
        mem[at : at + len(data)] = data

    def _read_at(
        self, pid: int, inst: int, at: int, count: int
    ) -> Generator[Any, Any, bytes | None]:
        k = self.k
        out = []
        got_total = 0
        while got_total < count:
            n = min(CHUNK, count - got_total)
            self._put(pid, BUF, bytes(0))
            replier, reply = yield ops.Send(
                k.file_server_pid,
                pack(abi.IO_READ, inst, BUF, n, at + got_total),
                timeout_ms=self._bound_ms(),
            )
            status, got = unpack(reply)[:2]
            if replier <= 0 or status or got != n:
                return None
            out.append(bytes(k.server_memory(k.processes[pid])[BUF : BUF + n]))
            got_total += n
        return b"".join(out)

    def _list(self, pid: int) -> Generator[Any, Any, list[str] | None]:
        k = self.k
        fs = yield from locate.file_server(k)
        if fs <= 0:
            return None
        self._put(pid, LIST_AT, bytes(LIST_BYTES))
        replier, reply = yield ops.Send(
            k.file_server_pid, pack(abi.FS_LIST, LIST_AT, LIST_BYTES), timeout_ms=self._bound_ms()
        )
        status, n = unpack(reply)[:2]
        if replier <= 0 or status:
            return None
        text = bytes(k.server_memory(k.processes[pid])[LIST_AT : LIST_AT + n]).decode("latin-1")
        return [line for line in text.split("\n") if line]

    def _remove(self, pid: int, name: str) -> Generator[Any, Any, None]:
        k = self.k
        raw = name.encode()
        k.memory.write(k.processes[pid], NAME_AT, raw)
        yield ops.Send(
            k.file_server_pid, pack(abi.FS_REMOVE, NAME_AT, len(raw)), timeout_ms=self._bound_ms()
        )

    def _collect(
        self, pid: int, lhid: int, keep: int, spare: set[int] = frozenset()
    ) -> Generator[Any, Any, None]:
        """Remove lhid's checkpoint files older than `keep` (a complete full checkpoint), but
        the one in `spare` (the base its chain names): one request (FS_COLLECT), the file server
        finds them."""
        k = self.k
        fs = yield from locate.file_server(k)
        if fs <= 0:
            return
        yield ops.Send(
            fs,
            pack(abi.FS_COLLECT, lhid, keep, max(spare, default=0)),
            timeout_ms=self._bound_ms(),
        )

    def _tell_home(
        self, pid: int, lh: LogicalHost, serial: int, cut_ns: int
    ) -> Generator[Any, Any, bool]:
        """CK_DONE to the program's home; True if it took it."""
        k = self.k
        pm = k.servers.get("program")
        creator = 0
        if pm is not None:
            for p in sorted(lh.processes):
                rec = pm.programs.get(p)
                if rec is not None:
                    creator, program = rec.creator, p
                    break
        if not creator:
            return False
        pol = self.policies.get(lh.lhid)
        home = abi.make_pid(abi.pid_lhid(creator), abi.LOCAL_PROGRAM_MANAGER)
        if pol is not None and pol.home:
            home = pol.home
        msg = pack(CK_DONE, creator, program, serial, *_name16(k.name))
        replier, reply = yield ops.Send(home, msg, timeout_ms=self._bound_ms())
        if replier <= 0 and pol is not None and pol.committed:
            # the home's host does not answer (it crashed): another program manager adopts the
            # watch, so that a crash of ours is still survived
            new = yield from self._new_home(home)
            if new > 0:
                adopt = pack(CK_DONE, creator, program, serial | ADOPT, *_name16(k.name))
                replier, reply = yield ops.Send(new, adopt, timeout_ms=self._bound_ms())
                if replier > 0 and unpack(reply)[0] == 0:
                    log.info("%s: %#06x's home is now %#x", k.name, lh.lhid, new)
                    pol.home = new
        elif (
            replier > 0
            and pol is not None
            and pol.home
            and not pol.released
            and (pol.release_tries < RELEASE_TRIES)
        ):
            # the home it replaced may be alive (cut off, not crashed): it lets the watch go
            # once it hears of it, so that only one home restarts the program
            old = abi.make_pid(abi.pid_lhid(creator), abi.LOCAL_PROGRAM_MANAGER)
            release = pack(CK_DONE, creator, program, RELEASE, *_name16(k.name))
            pol.released = 2
            pol.release_tries += 1

            def tell(tpid: int) -> Generator[Any, Any, None]:
                answer, _ = yield ops.Send(old, release, timeout_ms=self._bound_ms())
                pol.released = 1 if answer > 0 else 0

            k.spawn_server(k.system_lh, "ckpt-release", tell)
        if replier > 0 and signed(unpack(reply)[0]) == -abi.EKILLED and k.lhs.get(lh.lhid) is lh:
            # the home restarted the program elsewhere meanwhile (we were cut off): this copy is
            # void; it goes without an exit (the one the home restarted ends the program)
            log.info("%s: %#06x was restarted elsewhere: this copy is removed", k.name, lh.lhid)
            k.remove_lh(lh, Plan(), b"\xff" * 6)
            return False
        return replier > 0 and unpack(reply)[0] == 0

    def _new_home(self, old: int) -> Generator[Any, Any, int]:
        """A program manager to adopt a watch: a willing host's ("@ *": never ours), or 0."""
        replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query_host_msg(None))
        if replier <= 0 or unpack(reply)[0]:
            return 0
        new = unpack(reply)[1]
        return new if new != old and abi.pid_lhid(new) % self.k.lh_stride == 0 else 0

    def _on_exit(self, proc: Any, status: int) -> None:
        """A program whose watch was adopted ended here: its home learns it (CK_DONE, serial 0),
        since the exit's notice goes to its creator's host, which no longer answers."""
        k = self.k
        pol = self.policies.get(proc.lhid)
        if pol is None or not pol.home or proc.team is None or proc.lh.processes:
            return
        creator = proc.creator
        msg = pack(CK_DONE, creator, proc.pid, 0, *_name16(k.name))
        home = pol.home
        bound = k.sim.now + int(self.cfg.restart_timeout_s * S)

        def tell(pid: int) -> Generator[Any, Any, None]:
            while True:
                replier, _ = yield ops.Send(home, msg, timeout_ms=self._bound_ms())
                if replier > 0 or k.sim.now >= bound:
                    return

        k.spawn_server(k.system_lh, "ckpt-ended", tell)

    def superseded(self, lhid: int, new_mac: bytes | None = None) -> None:
        """LH_HERE "restarted" from new_mac (None: a server refused a request of ours as from a
        void incarnation, exactly_once.refused): lhid runs again elsewhere from a checkpoint. A
        copy of it here is a void incarnation (its home took this host for crashed: a partition,
        or its probes lost): it goes at once, without an exit, before it has more effects (the
        restarted one ends the program). A copy a migration is moving, or is building here, is
        left to it."""
        k = self.k
        lh = k.lhs.get(lhid)
        if (
            lh is None
            or lh.system
            or lh.migrating
            or lh.copy_of
            or new_mac == k.machine.mac
            or not lh.processes
        ):
            return
        log.info("%s: %#06x was restarted elsewhere: this copy is removed", k.name, lhid)
        k.remove_lh(lh, Plan(), new_mac)

    # ================================================================ restart (a willing host)
    def restart_worker(self, pid: int) -> Generator[Any, Any, None]:
        """CK_RESTART lhid incarnation: rebuild lhid here from its last complete checkpoint, as
        that incarnation (the home's count of its restarts; 0: from the checkpoint's serial)."""
        k = self.k
        sender, msg = yield ops.Receive()
        lhid, incarnation, adopted = unpack(msg)[1:4]
        # an adopted home restarts it: the restarted copy's notices go to that home
        home = abi.make_pid(abi.pid_lhid(sender), abi.LOCAL_PROGRAM_MANAGER) if adopted else 0
        try:
            reply = yield from self._restart(pid, lhid, incarnation, home)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.info("%s: cannot restart %#06x: %s", k.name, lhid, exc)
            reply = error(abi.EINVAL)
        yield ops.Reply(sender, reply)

    def _read_checkpoint(
        self, pid: int, lhid: int, serial: int
    ) -> Generator[Any, Any, tuple[dict, bytes] | None]:
        inst = yield from self._open(pid, file_name(lhid, serial), abi.FS_MODE_READ)
        if inst is None:
            return None
        got = yield from self._read_file(pid, inst, serial)
        yield ops.Send(
            self.k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=self._bound_ms()
        )
        return got

    def _read_file(
        self, pid: int, inst: int, serial: int
    ) -> Generator[Any, Any, tuple[dict, bytes] | None]:
        head = yield from self._read_at(pid, inst, 0, HEADER.size)
        parts = None if head is None else header_parts(head, serial)
        if parts is None:
            return None  # not complete: a crash during it
        body_at, state_at, state_len = parts
        rest = yield from self._read_at(pid, inst, body_at, state_at + state_len - body_at)
        if rest is None:
            return None
        return json.loads(rest[state_at - body_at :]), rest[: state_at - body_at]

    def _read_chain(
        self, pid: int, lhid: int, serial: int
    ) -> Generator[Any, Any, tuple[dict, list[bytes]] | None]:
        """The state of checkpoint `serial` and the page records a restore of it applies, oldest
        first; None if a file it needs is missing or incomplete. Read back from the newest: each
        file's chain names the file before it, and one whose chain is itself alone is full (sent
        full, or merged by the file server: vkernel/ckpt_store.py)."""
        from vkernel.ckpt_store import previous

        got = yield from self._read_checkpoint(pid, lhid, serial)
        if got is None:
            return None
        state, body = got
        bodies, states = [body], [state]
        at = previous(state, serial)
        while at is not None:
            older = yield from self._read_checkpoint(pid, lhid, at)
            if older is None:
                return None
            bodies.append(older[1])
            states.append(older[0])
            at = previous(older[0], at)
        bodies.reverse()
        return whole_state(states[::-1]), bodies

    def _restart(
        self, pid: int, lhid: int, incarnation: int = 0, home: int = 0
    ) -> Generator[Any, Any, bytes]:
        k = self.k
        if lhid in k.lhs:
            return error(abi.EINVAL)
        got = None
        for _attempt in range(3):  # the files changed while being read (a merge): again
            names = yield from self._list(pid)
            if names is None:
                return error(abi.EIO)
            serials = sorted(
                (p[1] for p in map(parse_name, names) if p is not None and p[0] == lhid),
                reverse=True,
            )
            for serial in serials:  # the newest complete one whose chain is all there
                got = yield from self._read_chain(pid, lhid, serial)
                if got is not None:
                    break
                if (yield from self._list(pid)) != names:
                    break  # a merge put a full checkpoint in place of older files meanwhile
            if got is not None:
                break
        if got is None:
            return error(abi.ENOENT)
        state, bodies = got
        if lhid in k.lhs:
            return error(abi.EINVAL)
        for spec in state["teams"]:
            spec["pages"] = page_list(spec.pop("page_runs"))
        serial = int(state["checkpoint"]["serial"])
        # a new incarnation: past every one before (two restarts from one checkpoint are two)
        incarnation = max(incarnation, serial // INCARNATION + 1)
        for proc in state["processes"]:
            aw = proc.get("awaiting")
            if isinstance(aw, dict) and isinstance(aw.get("msg"), str):
                # sent again by the new incarnation: stamped as its own (servers refuse the old)
                again = exactly_once.reincarnate(bytes.fromhex(aw["msg"]), incarnation)
                aw["msg"] = again.hex()
            if isinstance(aw, dict) and aw.get("mode") == "move":
                # sent again as a new request: the receiver may have answered the old one (and
                # moved data into the memory that was lost) to the crashed host; its retained
                # answer would skip that (servers with effects dedup by stamp: exactly_once.py)
                aw["mode"] = "lost"
            if isinstance(aw, dict) and k.rfork is not None:
                k.rfork.resend_fork(aw, lhid)  # a fork in progress at the cut: replayed
        if isinstance(state.get("checkpoint_policy"), dict):  # goes on here, after this one
            nxt = incarnation * INCARNATION
            state["checkpoint_policy"] |= {"serial": nxt, "chain": []}
            if home:
                state["checkpoint_policy"]["home"] = home
        from vkernel.ckpt_store import apply_records

        pages = apply_records(bodies)
        lh = k.new_logical_host(remote=True, name=str(state.get("name", "")))
        lh.frozen = True
        lh.copy_of = lhid
        try:
            teams = [
                k.memory.create_team(lh, spec["name"], spec["argv"]) for spec in state["teams"]
            ]
            staged = k.stage_lh(lh, lhid, state, teams=teams)
            restored = 0
            for i, spec in enumerate(state["teams"]):
                for vp, _prot in spec["pages"]:
                    got = pages.get((i, vp))
                    entry = k.mmu.entry(teams[i].ctx, vp)
                    if got is not None and entry is not None:
                        k.cpu.phys_write(entry.frame * PAGE, got[1])
                        restored += 1
        except Exception:
            for team in list(lh.teams):
                k.memory.destroy_team(team)
            k.lhs.pop(lh.lhid, None)
            raise
        # rebuilding costs what a migration's install does, plus the pages' copies
        yield ops.charge(
            k.cost, "ks_pm_state_copy_base_us", ("ks_pm_state_copy_per_object_us", len(teams))
        )
        if lhid in k.lhs:
            for team in list(lh.teams):
                k.memory.destroy_team(team)
            k.lhs.pop(lh.lhid, None)
            return error(abi.EINVAL)
        k.restore_lh(lh, lhid, staged, teams=teams)
        k.transport.announce_restart(lhid, incarnation)
        cut_ns = int(state["checkpoint"]["cut_ns"])
        log.info(
            "%s: restarted %#06x from checkpoint %d (%d pages)", k.name, lhid, serial, restored
        )
        return pack(0, serial, restored, max(0, (k.sim.now - cut_ns) // MS), *_name16(k.name))

    # ================================================================ the home
    def heard(self, sender: int, msg: bytes) -> bytes:
        """CK_DONE from a checkpointer: a checkpoint of one of our programs is complete."""
        _, creator, program, serial, *name = unpack(msg)
        lhid = abi.pid_lhid(program)
        watch = self.watches.get(lhid)
        if serial == RELEASE:  # another home watches it now (we did not answer its notice)
            if watch is not None:
                watch.released = watch.ended = True
            return pack(0)
        adopted, serial = bool(serial & ADOPT), serial & ~ADOPT
        if serial == 0:  # an adopted watch's program ended (it had no other way to tell us)
            if watch is not None:
                watch.ended = True
            self.ended_pids.add(program)
            return pack(0)
        if watch is not None and serial // INCARNATION < watch.incarnation:
            return error(abi.EKILLED)  # a void incarnation (it ran on in a partition): it goes
        if watch is None:
            if program in self.ended_pids:
                return pack(0)
            watch = self.watches[lhid] = Watch(
                lhid, program, "", _unname16(tuple(name)), creator=creator
            )
            self.k.spawn_server(
                self.k.system_lh, f"ckpt-watch-{lhid:04x}", lambda pid: self._watch(pid, watch)
            )
            if adopted:
                watch.adopted = True
                watch.incarnation = serial // INCARNATION
                self._publish(
                    {
                        "kind": "home",
                        "program": "",
                        "pid": program,
                        "from": _unname16(tuple(name)),
                        "to": self.k.name,
                        "checkpoint": serial,
                    }
                )
        watch.host = _unname16(tuple(name))
        watch.serial = max(watch.serial, serial)
        if watch.taken_ns:
            watch.gap_ns = self.k.sim.now - watch.taken_ns
        watch.taken_ns = self.k.sim.now
        watch.seen_ns = self.k.sim.now
        return pack(0)

    def ended(self, pid: int) -> None:
        """A program of ours ended (its exit was reported): stop watching it."""
        for watch in self.watches.values():
            if watch.pid == pid:
                watch.ended = True
        self.ended_pids.add(pid)

    def forget_start(self, creator: int, pm: int) -> None:
        """The start of a checkpointed program by `creator` on the host of program manager pm
        failed (that host did not answer: it never ran, it is started elsewhere): the first
        checkpoint it may have begun there goes, complete (its programs' creator is ours) or
        not (its writer was on that host). Asked by the console; done from a process of ours."""
        stride = self.k.lh_stride
        host = abi.pid_lhid(pm) // stride

        def body(pid: int) -> Generator[Any, Any, None]:
            names = yield from self._list(pid)
            for name in names or ():
                parsed = parse_name(name)
                if parsed is None or parsed[1] != 1 or parsed[0] // stride != host:
                    continue
                if parsed[0] in self.watches:
                    continue
                mine = yield from self._begun_by(pid, name, creator)
                if mine:
                    yield from self._remove(pid, name)

        self.k.spawn_server(self.k.system_lh, "ckpt-forget", body)

    def _begun_by(self, pid: int, name: str, creator: int) -> Generator[Any, Any, bool]:
        """Whether checkpoint file `name` is not complete, or is of a program `creator` started."""
        inst = yield from self._open(pid, name, abi.FS_MODE_READ)
        if inst is None:
            return False
        mine = False
        head = yield from self._read_at(pid, inst, 0, HEADER.size)
        parts = None if head is None else header_parts(head)
        if parts is None:
            mine = True  # not complete (no header yet): nothing can restart from it
        else:
            _, state_at, state_len = parts
            blob = yield from self._read_at(pid, inst, state_at, state_len)
            try:
                state = json.loads(blob) if blob is not None else {}
            except ValueError:
                state = {}
            programs = state.get("programs", []) if isinstance(state, dict) else []
            mine = any(isinstance(p, dict) and p.get("creator") == creator for p in programs)
        yield ops.Send(
            self.k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=self._bound_ms()
        )
        return mine

    def created_by(self, creator: int) -> Watch | None:
        """The watch of a program `creator` started (its start's answer may have been lost)."""
        for watch in self.watches.values():
            if watch.creator == creator and not watch.ended:
                return watch
        return None

    def watching(self, pid: int) -> Watch | None:
        for watch in self.watches.values():
            if watch.pid == pid and not watch.ended:
                return watch
        return None

    def _watch(self, pid: int, watch: Watch) -> Generator[Any, Any, None]:
        k = self.k
        detect_ns = int(self.cfg.detect_s * S)
        probe_ms = max(1, int(self.cfg.detect_s * 1000 / 2))
        ks = abi.make_pid(watch.lhid, abi.LOCAL_KERNEL_SERVER)
        try:
            while not watch.ended:
                wait = self._probe_due(watch, probe_ms * MS) - k.sim.now
                if wait > 0:  # heard from it lately (a checkpoint's notice), or one is due
                    yield ops.Delay(wait)
                    continue
                # an answer after seen + detect_s would come too late: the probe ends by then
                # (past it already, after a restart that found no host: a whole probe again)
                left_ms = (watch.seen_ns + detect_ns - k.sim.now) // MS
                timeout_ms = min(probe_ms, left_ms) if left_ms > 0 else probe_ms
                replier, _ = yield ops.Send(
                    ks, pack(KS_PROCESS_INFO, watch.pid), timeout_ms=timeout_ms
                )
                if watch.ended:
                    break
                if replier > 0:
                    watch.seen_ns = k.sim.now
                    yield ops.Delay(probe_ms * MS)
                    continue
                if k.sim.now - watch.seen_ns < detect_ns:
                    yield ops.Delay(20 * MS)
                    continue
                if (yield from self._held_somewhere(watch, probe_ms)):
                    watch.seen_ns = k.sim.now  # its logical host is frozen (a migration), or
                    continue  # its probes were lost: a program manager runs it
                watch.restarting = True  # an exit the lost copy sends meanwhile is refused
                try:
                    ok = yield from self._restart_elsewhere(pid, watch)
                finally:
                    watch.restarting = False
                if not ok:
                    yield ops.Delay(int(self.cfg.retry_s * S))
            if not watch.released:  # it ended: its checkpoints are garbage
                # (its fork files kept for a replay too: ckpt_store.collect)
                yield from self._collect(pid, watch.lhid, keep=ENDED)
        finally:
            self.watches.pop(watch.lhid, None)

    def _probe_due(self, watch: Watch, probe_ns: int) -> int:
        """When the home asks the program's host whether it lives: `detect_s / 2` after it last
        heard from it; but when a checkpoint's notice is due about then (within a quarter of that,
        by the notices' last gap), a quarter later: the notice, if it comes, makes the probe
        needless (a checkpoint a second and `detect_s` 1 s: one probe between two notices, not
        two). The probe still ends by `detect_s` after the last answer (its timeout)."""
        due = watch.seen_ns + probe_ns
        slack = probe_ns // 4
        if 0 < watch.gap_ns <= 4 * probe_ns:
            expect = watch.taken_ns + watch.gap_ns
            if due - slack <= expect < due + slack:
                return due + slack
        return due

    def _held_somewhere(self, watch: Watch, timeout_ms: int) -> Generator[Any, Any, bool]:
        """Whether a powered host's program manager says it runs the program (PM_QUERY_PROGRAM by
        pid, to the group: a manager answers for a frozen or migrating logical host too, which
        its kernel server does not while it is frozen). Asked before a restart."""
        replier, reply = yield ops.Send(
            abi.PROGRAM_MANAGER_GROUP, program_query.request(None, watch.pid), timeout_ms=timeout_ms
        )
        if replier <= 0:
            return False
        status, count = unpack(reply)[:2]
        return status == 0 and count > 0

    def _restart_elsewhere(self, pid: int, watch: Watch) -> Generator[Any, Any, bool]:
        k = self.k
        started = k.sim.now
        lost_at = watch.seen_ns
        tried = 0
        for attempt in range(3):
            if attempt:
                yield ops.Delay(200 * MS)
            replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query_host_msg(None))
            if replier <= 0 or unpack(reply)[0]:
                continue
            pm = unpack(reply)[1]
            tried += 1
            replier, reply = yield ops.Send(
                pm,
                pack(CK_RESTART, watch.lhid, watch.incarnation + 1, int(watch.adopted)),
                timeout_ms=int(self.cfg.restart_timeout_s * 1000),
            )
            if watch.ended:
                return True
            if replier <= 0 or unpack(reply)[0]:
                why = signed(unpack(reply)[0]) if replier > 0 else replier
                if replier > 0 and -why == abi.ENOENT:
                    self._report(
                        watch, "cannot restart", why="no complete checkpoint on the file server"
                    )
                    return False
                continue
            _, serial, pages, age_ms, *name = unpack(reply)
            to = _unname16(tuple(name))
            record = {
                "kind": "restart",
                "program": watch.name,
                "pid": watch.pid,
                "from": watch.host,
                "to": to,
                "checkpoint": serial,
                "checkpoint_age_s": round(age_ms / 1000, 3),
                "pages_restored": pages,
                "detect_s": round((started - lost_at) / S, 3),
                "recovery_s": round((k.sim.now - lost_at) / S, 3),
            }
            watch.host, watch.restarts, watch.refused = to, watch.restarts + 1, False
            watch.incarnation = max(watch.incarnation + 1, serial // INCARNATION + 1)
            watch.seen_ns = k.sim.now
            self._publish(record)
            return True
        self._report(
            watch,
            "cannot restart",
            why="no idle host answered" if not tried else "no host could restart it",
        )
        return False

    def _report(self, watch: Watch, what: str, why: str) -> None:
        if watch.refused:
            return
        watch.refused = True
        self._publish(
            {
                "kind": "cannot_restart",
                "program": watch.name,
                "pid": watch.pid,
                "from": watch.host,
                "checkpoint": watch.serial,
                "why": why,
            }
        )

    def _publish(self, record: dict[str, Any]) -> None:
        record["time"] = round(self.k.sim.now / S, 6)
        self.records.append(record)
        for listener in self.listeners:
            listener(record)
