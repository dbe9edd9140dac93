"""Remote fork (issue 16): `rfork(host)` copies the calling program into a new logical host on
another machine; it returns the child's pid in the parent and 0 in the child. Eager by default;
with RFORK_LAZY the pages stay on the parent's host (see _serve_pages) and the child's pager
brings each in on first reference.

The parent's program manager (PM_RFORK, from the caller: long 1 is the program manager of
the machine to fork to) freezes the caller's logical host for a cut, captures its state
(vkernel/capture.py) and every page, unfreezes it, and writes them as a checkpoint-format
file `rfork.LHID.N` on the file server (vkernel/checkpoint.py's writer); then it asks the
target's program manager (CK_FORK) to build the child from that file. The target gives the
copy a logical host of its own, its processes the same indexes under the new id, the caller's
creator record pointing at the parent (whose PM_WAIT gets the child's exit status), and ends
the child's PM_RFORK with 0; the parent's ends with the child's pid. The file is removed.

Only a logical host with one process (a program that has not spawned) forks; its requests
in progress (none: it is in the PM_RFORK) and group memberships in its own logical host's
groups are not copied, global groups are. A program with pages still to come (a lazy child,
a program paged in after an eviction) brings them in before the cut.

Lazily, a child's fault brings in a cluster (`rfork.cluster_pages`, vkernel/paging.py): the
faulting page and its neighbours not yet fetched, one request answered by one train. The
snapshot is freed when its child has fetched every page or ended (its pager closes it), or
when the parent's host has heard nothing of the child for `checkpoint.detect_s` (its host
crashed). When the parent's host does not answer (the transport's bound) or the snapshot is
gone, the child's pages come from the file server if the parent was checkpointed (the cut is
written there too, `rfork.LHID.N.pages`), else the child ends with a fault report naming the
page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import exactly_once, ops
from vkernel.capture import Plan
from vkernel.checkpoint import (
    HEADER,
    PAGE,
    PAGE_HEADER,
    ZERO_FLAG,
    ZERO_PAGE,
    header_parts,
    page_list,
    page_runs,
)
from vkernel.exactly_once import FORKS
from vkernel.kernel import Outstanding
from vkernel.messages import error, pack, signed, unpack
from vkernel.migration import MigrationFailed
from vkernel.paging import RUN_PAGES, offset_of
from vkernel.servers.kernel_server import KS_PROCESS_INFO
from vkernel.servers.program_manager import CK_FORK

LAZY = 1  # PM_RFORK flag: copy-on-reference
FALLBACK = 2  # CK_FORK flag: the cut is on the file server too (`fallback_name`)
STAMPED = 1 << 30  # CK_FORK's number: the index of a checkpointed parent's fork (exactly once)
MS = 1_000_000
MAX_MADE = 4096  # forks remembered for their replays
RESIDENCY_WAIT_NS = 60_000 * MS  # a program forking brings its missing pages in within this

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)


def fork_name(lhid: int, n: int) -> str:
    if n & STAMPED:  # a checkpointed parent's fork, by its index among the parent's forks
        return f"rfork.{lhid:04x}.s{n & ~STAMPED:06d}"
    return f"rfork.{lhid:04x}.{n:06d}"


def fallback_name(name: str) -> str:
    """The file a checkpointed parent's lazy fork writes its cut to, paging's layout."""
    return f"{name}.pages"


@dataclass
class Snapshot:
    """A lazy fork's pages at the cut, kept on the parent's host for its child's pager."""

    name: str
    pages: dict[int, bytes]  # backing-file offset -> page (zero pages are absent)
    child: int = 0
    fallback: str = ""  # the same pages on the file server (a checkpointed parent's)
    fallback_done: bool = False
    fallback_done_s: float = 0.0  # when it was complete (simulated s)
    last: tuple[int, bytes] = (0, b"")  # the cut's highest page: a fallback's last write
    writing: bool = False
    copying: bool = False  # its fallback is to be written, or being written
    live: bool = True
    round_trips: int = 0  # IO_READ requests served
    pages_shipped: int = 0
    shipped: set[int] = field(default_factory=set)  # offsets shipped at least once
    freed_why: str = ""


def resend_fork(aw: dict[str, Any], lhid: int) -> None:
    """A restart's outstanding Send (its "awaiting"): a PM_RFORK in progress at the checkpoint's
    cut was forwarded to a worker of the crashed host's program manager: it is sent again to the
    logical host's own program manager, under its stamp (a replay of the fork)."""
    try:
        msg = bytes.fromhex(str(aw.get("msg") or ""))
    except ValueError:
        return
    if len(msg) >= 4 and unpack(msg)[0] == abi.PM_RFORK:
        aw.update(dst=abi.make_pid(lhid, abi.LOCAL_PROGRAM_MANAGER), group=True, mode="lost")


class RemoteFork:
    """One per workstation kernel, beside its Checkpoints (whose file I/O it uses)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.forks = 0
        self.records: list[dict[str, Any]] = []
        # lazy forks: the pages at the cut, served to the children's pagers from here (live
        # ones; `served` keeps every one's figures)
        self.snapshots: dict[str, Snapshot] = {}
        self.served: dict[str, Snapshot] = {}
        self.instances: dict[int, str] = {}
        self.server = None
        # the children built here: child pid -> {file, pages, fetched, touched, status, ...}
        self.children: dict[int, dict[str, Any]] = {}
        # checkpointed parents' forks built here, by file name: {"child": pid} (0: being built)
        self.made: dict[str, dict[str, int]] = {}
        self.retold: set[tuple[int, int]] = set()  # restarted parents told their exits again
        kernel.rfork = self
        kernel.on_exit.append(self._on_exit)

    resend_fork = staticmethod(resend_fork)

    # --- the parent's side ------------------------------------------------------------------
    def parent_worker(self, pid: int) -> Generator[Any, Any, None]:
        sender, msg = yield ops.Receive()
        m = unpack(msg)
        try:
            reply = yield from self._fork(pid, sender, m[1], m[2] & LAZY, exactly_once.stamped(m))
        except (ValueError, KeyError, TypeError) as exc:
            log.info("%s: rfork of %#x failed: %s", self.k.name, sender, exc)
            reply = error(abi.EINVAL)
        yield ops.Reply(sender, reply)

    def _cut(self, lh, proc, lazy: int) -> Generator[Any, Any, tuple | None]:
        """Freeze lh for a cut: (its state, the page records the child gets at once, the
        snapshot kept here for a lazy child, the cut's highest page), or None (it went)."""
        k = self.k
        lh.frozen = True
        try:
            yield from k.migration._settle(lh)
            if k.lhs.get(lh.lhid) is not lh:
                return None
            teams = list(lh.teams)
            state = k.capture_lh(lh, Plan(), teams=teams)
            records = []
            snapshot: dict[int, bytes] = {}
            last_page: dict[int, bytes] = {}  # the cut's highest page (a fallback ends with it)
            # lazily, the child still gets at once the pages its first steps touch: the stack
            # page and the one its PM_RFORK's answer lands in
            out = proc.awaiting
            first = {proc.registers.a[7] // PAGE, (out.msg_addr if out else 0) // PAGE}
            for i, team in enumerate(teams):
                for vp in k.mmu.mapped_pages(team.ctx):
                    entry = k.mmu.entry(team.ctx, vp)
                    data = k.cpu.phys_read(entry.frame * PAGE, PAGE)
                    if lazy and (not last_page or offset_of(i, vp) > max(last_page)):
                        last_page = {offset_of(i, vp): data}
                    if lazy and not (team is proc.team and vp in first):
                        if data != ZERO_PAGE:  # kept here, served on reference
                            snapshot[offset_of(i, vp)] = data
                    elif data == ZERO_PAGE:
                        records.append(PAGE_HEADER.pack(i, vp, int(entry.prot) | ZERO_FLAG))
                    else:
                        records.append(PAGE_HEADER.pack(i, vp, int(entry.prot)) + data)
            yield ops.charge(
                k.config,
                "checkpoint.freeze_base_us",
                ("checkpoint.freeze_per_object_us", len(teams)),
            )
        finally:
            if k.powered and k.lhs.get(lh.lhid) is lh and lh.frozen and not lh.migrating:
                k.migration.unfreeze(lh)
        for spec in state["teams"]:
            spec["page_runs"] = page_runs(spec.pop("pages"))
        return state, records, snapshot, last_page

    def _fork(
        self, pid: int, caller: int, target_pm: int, lazy: int = 0, index: int | None = None
    ) -> Generator[Any, Any, bytes]:
        """The fork of `caller` to target_pm. `index`: its stamp (a checkpointed caller's forks
        are counted): its file `rfork.LHID.sINDEX` stays on the file server until a checkpoint
        of the caller after the fork is complete, so that a replay of the fork (the caller
        restarted from an older checkpoint) finds it and asks the same target again, which
        answers with the child it made (and, if it ended, its exit status): one child."""
        k = self.k
        ck = k.checkpoints
        proc = k.processes.get(caller)
        if proc is None or proc.team is None:
            return error(abi.EPERM)
        lh = proc.lh
        if len(lh.processes) != 1 or lh.migrating or lh.frozen:
            return error(abi.EINVAL)
        if target_pm <= 0 or abi.is_group(target_pm):
            return error(abi.EINVAL)
        started = k.sim.now
        if not (yield from self.resident(lh)):  # pages still to come: part of the copy
            return error(abi.EIO)
        if k.lhs.get(lh.lhid) is not lh or len(lh.processes) != 1 or lh.frozen:
            return error(abi.EINVAL)
        pol = ck.policies.get(lh.lhid)
        if index is not None and pol is None:
            index = None  # no longer checkpointed: an ordinary fork
        prior = None
        if index is not None:
            n = STAMPED | index
            name = fork_name(lh.lhid, n)
            prior = yield from self._prior(pid, name, n)
            if prior is not None:  # a replay: the first fork's target, and its kind
                target_pm = int(prior["rfork"]["target"])
                lazy = int(prior["rfork"]["flags"]) & LAZY
        # --- the cut: the caller waits in its PM_RFORK; every page is copied ----------------
        snapshot: dict[int, bytes] = {}
        last_page: dict[int, bytes] = {}
        records: list[bytes] = []
        state = prior
        if prior is None or lazy:  # a lazy replay cuts again: its pages are served from here
            got = yield from self._cut(lh, proc, lazy)
            if got is None:
                return error(abi.ENOPROC)
            cut, records, snapshot, last_page = got
            state = state or cut
        if index is None:
            self.forks += 1
            n = self.forks
            name = fork_name(lh.lhid, n)
        if prior is None:
            state["checkpoint"] = {"serial": n, "chain": [n], "cut_ns": started}
            state["rfork"] = {"parent": caller, "host": k.name, "target": target_pm, "flags": lazy}
            body = b"".join(records)
            blob = json.dumps(state, separators=(",", ":")).encode()
            ok = yield from ck._write(pid, name, n, body, blob, len(records), started)
            if not ok:
                return error(abi.EIO)
        server = 0
        flags = lazy
        snap = Snapshot(name, snapshot)
        if lazy:
            # the child of a checkpointed parent must outlive the parent's host: the cut goes to
            # the file server too, in the background (its last page last: complete from then on)
            if pol is not None:
                flags |= FALLBACK
                snap.last = max(last_page.items(), default=(0, ZERO_PAGE))
            server = self._serve_pages()
            self.snapshots[name] = self.served[name] = snap
        wait_ms = 0  # a stamped lazy child waits this long for its parent's restart to serve it
        if index is not None:
            cfg = ck.cfg
            wait_ms = int((cfg.detect_s + cfg.restart_timeout_s) * 1000 + pol.interval_ns // MS * 2)
        replier, reply = yield ops.Send(
            target_pm,
            pack(CK_FORK, lh.lhid, n, caller, flags, server, wait_ms),
            timeout_ms=int(ck.cfg.restart_timeout_s * 1000),
        )
        status, child, ended, exit_status, nonce, serve = (
            unpack(reply)[:6] if replier > 0 else (0, 0, 0, 0, 0, 0)
        )
        if index is None or replier <= 0 or status:
            yield from ck._remove(pid, name)
        else:
            pol.forks[name] = index  # removed once a checkpoint after the fork is complete
        if replier <= 0 or status:
            if lazy:
                yield from self._free(pid, snap, "the child was not built")
            return error(-replier) if replier <= 0 else error(-signed(status))
        if ended and k.servers.get("program") is not None:
            # it ended before the replay asked: its exit status is the caller's once (the notice
            # of the first exit, if it comes too, is the same notice: taken once)
            k.servers["program"].record_exit(
                abi.pid_lhid(caller), child, signed(exit_status), nonce
            )
        if lazy and prior is not None and not serve:
            yield from self._free(pid, snap, "its child needs none of it")
        elif lazy:
            snap.child = child
            k.spawn_server(k.system_lh, "rfork-watch", lambda wpid: self._watch(wpid, snap))
            if flags & FALLBACK:
                snap.copying = True
                k.spawn_server(
                    k.system_lh, "rfork-copy", lambda wpid: self._write_fallback(wpid, snap)
                )
        self.records.append(
            {
                "parent": caller,
                "child": child,
                "lazy": bool(lazy),
                "file": name,
                "pages": sum(sum(r[1] for r in s["page_runs"]) for s in state["teams"]),
                "copied_pages": len(records),
                "snapshot_pages": len(snapshot),
                "fallback": bool(flags & FALLBACK),  # the cut copied to the file server too
                "bytes": len(body) + len(blob) if prior is None else 0,
                "latency_ms": round((k.sim.now - started) / 1e6, 3),
                "started_s": started / 1e9,
                "replayed": prior is not None,
            }
        )
        return pack(0, child)

    def _prior(self, pid: int, name: str, n: int) -> Generator[Any, Any, dict | None]:
        """The state a complete fork file `name` holds on the file server, or None (no file: this
        fork was not made before; not complete: it was not asked of its target)."""
        ck = self.k.checkpoints
        inst = yield from ck._open(pid, name, abi.FS_MODE_READ)
        if inst is None:
            return None
        state = None
        head = yield from ck._read_at(pid, inst, 0, HEADER.size)
        parts = None if head is None else header_parts(head, n)
        if parts is not None:
            _body_at, state_at, state_len = parts
            blob = yield from ck._read_at(pid, inst, state_at, state_len)
            state = json.loads(blob) if blob is not None else None
        yield ops.Send(self.k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=ck._bound_ms())
        if not isinstance(state, dict) or "target" not in state.get("rfork", {}):
            return None
        return state

    def committed(self, pid: int, pol, state: dict) -> Generator[Any, Any, None]:
        """A checkpoint of a forking program is complete: the files of the forks before its cut
        are needed no more (a restart from it does not replay them)."""
        done = int(((state.get("checkpoint_policy") or {}).get("io_seq") or {}).get(FORKS, 0))
        for name, index in sorted(pol.forks.items()):
            if index < done:
                del pol.forks[name]
                yield from self.k.checkpoints._remove(pid, name)

    def copied(self, lhid: int) -> Generator[Any, Any, None]:
        """Before a checkpoint of lhid is cut: the copies of its lazy forks' cuts on the file
        server are complete first. A checkpoint after a fork counts, and the fork is not
        replayed from then on, only once the child's pages are on the file server (else a
        crash between left the child without them); and the two do not share the interface
        (the checkpoint waits as long, but takes no longer)."""
        k = self.k
        end = k.sim.now + int(k.config.checkpoint.restart_timeout_s * 1e9)
        prefix = f"rfork.{lhid:04x}."
        while k.sim.now < end and any(
            s.copying and s.live and s.name.startswith(prefix) for s in self.snapshots.values()
        ):
            yield ops.Delay(20 * MS)

    def resident(self, lh) -> Generator[Any, Any, bool]:
        """Bring every page of lh still to come in (a fork or a checkpoint copies them all: a
        lazy child's, a program paged in after an eviction); False if they cannot be had."""
        if not any(t.backing for t in lh.teams):
            return True
        try:
            yield from self.k.migration._await_residency(lh, self.k.sim.now + RESIDENCY_WAIT_NS)
        except MigrationFailed as exc:
            log.info("%s: the pages of %#06x: %s", self.k.name, lh.lhid, exc)
            return False
        return self.k.lhs.get(lh.lhid) is lh

    # --- the child's side (the target's program manager) -------------------------------------
    def child_worker(self, pid: int) -> Generator[Any, Any, None]:
        sender, msg = yield ops.Receive()
        _, lhid, n, parent, flags, server, wait_ms = unpack(msg)[:7]
        name = fork_name(lhid, n)
        made = self.made.get(name) if n & STAMPED else None
        end = self.k.sim.now + int(self.k.config.checkpoint.restart_timeout_s * 1e9)
        while made is not None and not made["child"] and self.k.sim.now < end:
            yield ops.Delay(20 * MS)  # the first request's child is being built
            made = self.made.get(name)
        try:
            if made is not None and made["child"]:
                reply = self._again(made["child"], name, flags, server)
            elif made is not None:  # still being built for the first request: not a second one
                reply = error(abi.ETIMEOUT)
            else:
                if n & STAMPED:
                    self.made[name] = {"child": 0}
                    while len(self.made) > MAX_MADE:
                        del self.made[next(iter(self.made))]
                reply = yield from self._build(pid, lhid, n, parent, flags, server, wait_ms)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.info("%s: cannot build the rfork child of %#x: %s", self.k.name, parent, exc)
            reply = error(abi.EINVAL)
        if made is None and n & STAMPED and name in self.made and not self.made[name]["child"]:
            del self.made[name]  # not built: a replay builds it
        yield ops.Reply(sender, reply)

    def _again(self, child: int, name: str, flags: int, server: int) -> bytes:
        """A replayed fork (its parent restarted from a checkpoint before it): the child made
        the first time, whether it ended (and its exit status, and the id of the notice that
        told the parent's host), and whether it takes its pages from the new server (a lazy
        child with pages still to come: its parent's host was the one that crashed)."""
        k = self.k
        rec = self.children.get(child, {})
        ended = "status" in rec
        status = int(rec.get("status", 0)) & 0xFFFFFFFF
        nonce = int(rec.get("notice", 0))
        serve = 0
        pager = k.pager
        if flags & LAZY and not ended and pager is not None and server > 0:
            needs = any(t.backing_file == name for lh in k.lhs.values() for t in lh.teams)
            if needs:
                pager.servers[name] = server
                pager.instances.pop(name, None)
                pager.lost_at.pop(name, None)
                serve = 1
        log.info("%s: rfork %s replayed: child %#x (ended %s)", k.name, name, child, ended)
        return pack(0, child, int(ended), status, nonce, serve)

    def _build(
        self,
        pid: int,
        lhid: int,
        n: int,
        parent: int,
        flags: int = 0,
        server: int = 0,
        wait_ms: int = 0,
    ) -> Generator[Any, Any, bytes]:
        k = self.k
        lazy = flags & LAZY
        ck = k.checkpoints
        inst = yield from ck._open(pid, fork_name(lhid, n), abi.FS_MODE_READ)
        if inst is None:
            return error(abi.ENOENT)
        got = yield from ck._read_file(pid, inst, n)
        yield ops.Send(k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=ck._bound_ms())
        if got is None:
            return error(abi.EIO)
        state, body = got
        lh = k.new_logical_host(remote=True, name=str(state.get("name", "")))
        lh.frozen = True
        new = lh.lhid
        old = int(state["lhid"])

        def remap(p: int) -> int:
            return abi.make_pid(new, abi.pid_index(p)) if abi.pid_lhid(p) == old else p

        [proc_spec] = state["processes"]
        aw = proc_spec["awaiting"]
        proc_spec.update(
            pid=remap(proc_spec["pid"]),
            creator=parent,
            awaiting=None,
            msg_queue=[],
            pending=[],
            groups=[g for g in proc_spec["groups"] if abi.pid_lhid(g) != old],
            state="SEND_BLOCKED",
            cpu_ns=0,
        )
        child = proc_spec["pid"]
        for spec in state["teams"]:
            spec["pages"] = page_list(spec.pop("page_runs"))
        state.update(
            lhid=new,
            retained=[],
            redirects=[],
            creator={"exits": {}},
            checkpoint_policy=None,
            programs=[
                rec
                | {
                    "pid": remap(rec["pid"]),
                    "lhid": new,
                    "creator": parent,
                    "remote": True,
                    "host_started": k.name,
                    "started_ns": k.sim.now,
                }
                for rec in state["programs"]
                if rec["pid"] == proc_spec["pid"] or remap(rec["pid"]) == child
            ],
        )
        pages: dict[tuple[int, int], bytes] = {}
        off = 0
        while off < len(body):
            i, vp, prot = PAGE_HEADER.unpack_from(body, off)
            off += PAGE_HEADER.size
            if prot & ZERO_FLAG:
                pages[(i, vp)] = ZERO_PAGE
            else:
                pages[(i, vp)] = body[off : off + PAGE]
                off += PAGE
        try:
            teams = [k.memory.create_team(lh, s["name"], s["argv"]) for s in state["teams"]]
            if lazy:  # every page non-resident: its pager asks the parent's host on reference
                if k.pager is None or server <= 0:
                    raise ValueError("no pager, or no page server")
                name = fork_name(lhid, n)
                k.pager.servers[name] = server
                if flags & FALLBACK:  # complete once the cut's highest page is in it
                    end = max(
                        offset_of(i, vp) + PAGE
                        for i, spec in enumerate(state["teams"])
                        for vp, _prot in spec["pages"]
                    )
                    k.pager.fallbacks[name] = (fallback_name(name), end)
                k.pager.sources[name] = str(state.get("rfork", {}).get("host", "")) or "?"
                if n & STAMPED and wait_ms:  # a checkpointed parent's: its restart serves again
                    k.pager.replays[name] = wait_ms * MS
                for i, (team, spec) in enumerate(zip(teams, state["teams"], strict=True)):
                    team.backing = {vp: p for vp, p in spec["pages"] if (i, vp) not in pages}
                    team.backing_file = name
                    team.backing_index = i
                    team.lazy = True
                    team.lazy_pages = len(team.backing)
            k.lhs.pop(new, None)  # stage_lh checks that the id is free: it is ours
            staged = k.stage_lh(lh, new, state, teams=teams)
            for i, spec in enumerate(state["teams"]):
                for vp, _prot in spec["pages"]:
                    entry = k.mmu.entry(teams[i].ctx, vp)
                    data = pages.get((i, vp))
                    if entry is not None and data is not None:
                        k.cpu.phys_write(entry.frame * PAGE, data)
        except Exception:
            for team in list(lh.teams):
                k.memory.destroy_team(team)
            k.lhs.pop(new, None)
            raise
        yield ops.charge(
            k.cost, "ks_pm_state_copy_base_us", ("ks_pm_state_copy_per_object_us", len(teams))
        )
        k.restore_lh(lh, new, staged, teams=teams)
        proc = k.processes[child]
        # its PM_RFORK ends with 0 (the parent's with the child's pid)
        proc.awaiting = Outstanding(
            dst=aw["dst"] if aw else 0, msg_addr=aw["msg_addr"] if aw else 0
        )
        k.finish_send(proc, k.program_manager.pid, pack(0, 0))
        k.dispatch()
        self.children[child] = {
            "child": child,
            "parent": parent,
            "file": fork_name(lhid, n),
            "lazy": bool(lazy),
            "pages": sum(len(s["pages"]) for s in state["teams"]),
            "cut": [{vp for vp, _ in s["pages"]} for s in state["teams"]],
            "fetched": 0,
            "touched": None,
        }
        if n & STAMPED and fork_name(lhid, n) in self.made:
            self.made[fork_name(lhid, n)]["child"] = child
        log.info("%s: rfork child %#x of %#x (%d pages)", k.name, child, parent, len(pages))
        return pack(0, child, 0, 0, 0, 1 if lazy else 0)  # running; its pages served by the parent

    # --- the pages of lazy forks, served from the parent's host ------------------------------
    def _serve_pages(self) -> int:
        if self.server is None:
            self.server = self.k.spawn_server(
                self.k.system_lh, "rfork-pages", self._pages_body, restart=True
            )
        return self.server.pid

    def _pages_body(self, pid: int) -> Generator[Any, Any, None]:
        """The file server's protocol, for the snapshots: FS_OPEN, IO_READ, IO_CLOSE."""
        k = self.k
        while True:
            sender, msg = yield ops.Receive()
            m = unpack(msg)
            yield ops.charge(k.cost, "file_server_op_us")
            if m[0] == abi.FS_OPEN and 0 < m[2] <= 47:
                raw = yield ops.MoveFrom(sender, m[1], m[2])
                name = raw.decode("latin-1") if isinstance(raw, bytes) else ""
                if name not in self.snapshots:
                    yield ops.Reply(sender, error(abi.ENOENT))  # freed: the child looks elsewhere
                    continue
                inst = len(self.instances) + 1
                self.instances[inst] = name
                yield ops.Reply(sender, pack(0, inst, 0))
            elif m[0] == abi.IO_READ and self.instances.get(m[1]) in self.snapshots:
                snap = self.snapshots[self.instances[m[1]]]
                count, offset = min(m[3], 16 * PAGE), m[4]
                first = offset - offset % PAGE
                pages = range(first, offset + count, PAGE)
                data = b"".join(snap.pages.get(at, ZERO_PAGE) for at in pages)
                data = data[offset - first : offset - first + count]
                snap.round_trips += 1
                snap.pages_shipped += len(pages)
                snap.shipped.update(pages)
                yield ops.charge(k.cost, ("rfork_page_serve_us", len(pages)))
                result = yield ops.MoveTo(sender, m[2], data)  # one train: the cluster
                if isinstance(result, int) and result < 0:
                    yield ops.Reply(sender, error(-result))
                else:
                    yield ops.Reply(sender, pack(0, len(data)))
            elif m[0] == abi.IO_CLOSE:
                # the child's pager is done with the snapshot (all fetched, or the child ended)
                name = self.instances.pop(m[1], None)
                yield ops.Reply(sender, pack(0))
                snap = self.snapshots.get(name or "")
                if snap is not None and name not in self.instances.values():
                    yield from self._free(pid, snap, "its child is done with it")
            else:
                yield ops.Reply(sender, error(abi.EBADCALL))

    def shipped_pages(self, name: str) -> int:
        """Pages of a lazy fork's snapshot sent to its child so far (each once)."""
        snap = self.served.get(name)
        return len(snap.shipped) if snap is not None else 0

    def _free(self, pid: int, snap: Snapshot, why: str) -> Generator[Any, Any, None]:
        """The snapshot is needed no more: its pages go, and its copy on the file server."""
        if not snap.live:
            return
        snap.live = False
        snap.freed_why = why
        snap.pages = {}
        self.snapshots.pop(snap.name, None)
        log.info("%s: rfork snapshot %s freed: %s", self.k.name, snap.name, why)
        if snap.fallback and not snap.writing:  # else the writer removes it when it stops
            yield from self.k.checkpoints._remove(pid, snap.fallback)

    def _write_fallback(self, pid: int, snap: Snapshot) -> Generator[Any, Any, None]:
        """Write the cut's pages to the file server at the pager's offsets, in runs of a train,
        the cut's highest page last (the child's pager takes the file as complete once that
        page is there); stop, and remove the file, if the snapshot is freed meanwhile."""
        ck = self.k.checkpoints
        name = snap.fallback = fallback_name(snap.name)
        snap.writing = True
        inst = yield from ck._open(pid, name, abi.FS_MODE_WRITE)
        ok = inst is not None
        last_at, last_data = snap.last
        offsets = sorted(at for at in snap.pages if at != last_at)
        runs: list[list[int]] = []
        for at in offsets:
            if runs and at == runs[-1][-1] + PAGE and len(runs[-1]) < RUN_PAGES:
                runs[-1].append(at)
            else:
                runs.append([at])
        for run in runs:
            if not ok or not snap.live:
                break
            data = b"".join(snap.pages[at] for at in run)
            ok = yield from ck._write_at(pid, inst, data, run[0])
        if ok and snap.live:
            ok = yield from ck._write_at(pid, inst, last_data, last_at)
        if inst is not None:
            yield ops.Send(
                self.k.file_server_pid, pack(abi.IO_CLOSE, inst), timeout_ms=ck._bound_ms()
            )
        snap.writing = snap.copying = False
        snap.fallback_done = ok and snap.live
        snap.fallback_done_s = self.k.sim.now / 1e9 if snap.fallback_done else 0.0
        if not snap.fallback_done:
            log.info("%s: the copy of %s on the file server stopped", self.k.name, snap.name)
            yield from ck._remove(pid, name)
            snap.fallback = ""

    def _watch(self, pid: int, snap: Snapshot) -> Generator[Any, Any, None]:
        """While the snapshot lives, ask the child's kernel server after it: a child gone
        (ENOPROC) or unheard of for `checkpoint.detect_s` (its host crashed) frees it."""
        k = self.k
        detect_ns = int(k.config.checkpoint.detect_s * 1e9)
        probe_ms = max(1, int(k.config.checkpoint.detect_s * 1000 / 2))
        ks = abi.make_pid(abi.pid_lhid(snap.child), abi.LOCAL_KERNEL_SERVER)
        seen = k.sim.now
        while snap.live:
            replier, reply = yield ops.Send(
                ks, pack(KS_PROCESS_INFO, snap.child), timeout_ms=probe_ms
            )
            if not snap.live:
                return
            if replier > 0 and unpack(reply)[0] == 0:
                seen = k.sim.now
                yield ops.Delay(probe_ms * MS)
            elif replier > 0 and signed(unpack(reply)[0]) == -abi.ENOPROC:
                yield from self._free(pid, snap, "its child ended")
            elif k.sim.now - seen >= detect_ns:
                yield from self._free(pid, snap, "its child's host does not answer")
            else:
                yield ops.Delay(20 * MS)

    # --- the child's side: what its pager tells us ----------------------------------------------
    def _on_exit(self, proc, status: int) -> None:
        """A child built here ended: its status is kept (a replay of its fork gets it); a lazy
        one's pager lets the snapshot go (it tells the parent's host)."""
        rec = self.children.get(proc.pid)
        pm = self.k.servers.get("program")
        if rec is not None:
            rec["status"] = status
            if pm is not None and abi.pid_lhid(rec["parent"]) not in self.k.lhs:
                # the id of the exit notice the program manager just sent the parent's host (its
                # on_exit runs before ours): a replay's answer repeats it, so it counts once
                rec["notice"] = (self.k.system_lh.lhid << 16 | (pm.notices & 0xFFFF)) or 1
        team = proc.team
        if team is not None and team.lazy and team.dead and team.backing_file and self.k.pager:
            self.k.pager.prefetch(team)

    def parent_restarted(self, lhid: int, incarnation: int = 0) -> None:
        """Logical host lhid was restarted from a checkpoint (LH_HERE "restarted"): the exits of
        its children built here that its crashed host took may have come after that checkpoint's
        cut: they are told again, under the same notice ids (taken once), so that its
        wait_program gets them. Once an incarnation (the announcement may be heard again)."""
        k = self.k
        if (lhid, incarnation) in self.retold:
            return
        self.retold.add((lhid, incarnation))
        for rec in self.children.values():
            if abi.pid_lhid(rec["parent"]) != lhid or not rec.get("notice"):
                continue
            notice = pack(
                abi.PM_EXITED,
                rec["child"],
                rec["status"] & 0xFFFFFFFF,
                rec["parent"],
                rec["notice"],
            )
            bound = k.sim.now + int(k.config.migration.timeout_s * 1e9)

            def tell(pid: int, notice: bytes = notice, bound: int = bound) -> Generator:
                while True:
                    replier, _ = yield ops.Send(
                        abi.make_pid(lhid, abi.LOCAL_PROGRAM_MANAGER), notice
                    )
                    if replier > 0 or k.sim.now >= bound:
                        return

            k.spawn_server(k.system_lh, "rfork-exit-notice", tell)

    def team_ends(self, team) -> None:
        """A lazy child's team is being destroyed: what it touched (the MMU's referenced bits
        of the pages it had at the cut) goes in its record."""
        rec = next(
            (
                r
                for r in self.children.values()
                if abi.pid_lhid(r["child"]) == team.lh.lhid and r["lazy"]
            ),
            None,
        )
        if rec is None or rec["touched"] is not None:
            return
        cut = rec["cut"][team.backing_index] if team.backing_index < len(rec["cut"]) else set()
        rec["touched"] = len(cut.intersection(self.k.mmu.referenced_pages(team.ctx)))
        rec["fetched"] = team.fetched
        rec["remaining"] = len(team.backing)

    def source_lost(self, team, vpage: int, why: str) -> None:
        """The pages of a lazy child cannot be had (its parent's host is gone, or the snapshot,
        and nothing on the file server): the child ends as for a fault, naming the page."""
        k = self.k
        lh = team.lh
        host = k.pager.sources.get(team.backing_file, "?") if k.pager is not None else "?"
        what = (
            f"fault: page {vpage * PAGE:#08x} was still on its parent's host {host} (lazy "
            f"rfork) and cannot be fetched: {why}"
        )
        for proc in sorted(lh.processes.values(), key=lambda p: p.pid):
            if proc.team is team:
                regs = proc.registers
                k.kill(proc, what, getattr(regs, "pc", 0) or 0)
        k.dispatch()
