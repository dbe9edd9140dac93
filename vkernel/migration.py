"""Live migration of logical hosts with pre-copy (the V paper, section 3).

The five steps, as processes of the two program managers talking V IPC:

1. locate: the source's migration worker asks the program manager group for a
   willing host (excluding hosts already tried);
2. initialise: MG_INIT to that program manager, which forwards it to a
   receiver process; the receiver creates a new logical host under a new id,
   with teams whose pages are mapped but empty;
3. pre-copy: MG_PAGES batches (the receiver MoveFrom's them out of the
   worker); round 1 copies every mapped page, later rounds the pages the MMU's
   modified bits mark since the previous round; a stop rule ends the rounds;
4. freeze and complete: the logical host is frozen (no process runs; requests
   to it are deferred and answered with reply-pending; replies to it are
   dropped), the residue is copied, then MG_STATE carries the kernel-server
   and program-manager state (processes, registers, MMU layout, IPC state,
   group memberships, program records); the receiver gives the new copy the
   original logical-host id and unfreezes it;
5. the worker deletes the old copy; requests queued for it are discarded (their
   remote senders retransmit to the new host through the rebound cache; local
   senders restart their Send); the new host broadcasts the new binding.

If the new host stops answering at any step before the switch, the old copy
is unfrozen and keeps running, and another host is tried (bounded).
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.mmu import Prot
from guest import abi
from vkernel import ops
from vkernel.kernel import IpcRequest, Outstanding
from vkernel.messages import error, pack, signed, unpack
from vkernel.packets import Kind, Packet
from vkernel.process import LogicalHost, Priority, Process, State
from vkernel.servers.program_manager import (
    MG_ABORT,
    MG_INIT,
    MG_PAGES,
    MG_STATE,
    CreatorState,
    ProgramRecord,
)
from vkernel.transport import Origin, SendTxn

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

PAGE = abi.PAGE_SIZE
MS = 1_000_000
BATCH_BYTES = 128 * 1024 + 4096  # data per MG_PAGES request: four trains of 32 KB, plus headers
PAGE_HEADER = struct.Struct(">HHB3x")  # team index, vpage, prot (| ZERO_FLAG: no data follows)
ZERO_FLAG = 0x80
ZERO_PAGE = bytes(abi.PAGE_SIZE)
BUF = 0  # the worker's buffer in its own (server) memory
MOVING_WAIT_STEPS = 200


class MigrationFailed(Exception):
    """The destination stopped answering or refused; the old copy keeps running."""


def _hex(b: bytes) -> str:
    return b.hex()


def _req_out(req: IpcRequest) -> dict[str, Any]:
    origin = req.remote
    return {
        "sender": req.sender,
        "msg": _hex(req.msg),
        "group": req.group,
        "origin": None if origin is None else {"mac": _hex(origin.mac), "seq": origin.seq,
                                               "src": origin.src_pid, "group": origin.group},
    }


def _req_in(d: dict[str, Any]) -> IpcRequest:
    o = d["origin"]
    origin = None if o is None else Origin(bytes.fromhex(o["mac"]), o["seq"], o["src"], o["group"])
    return IpcRequest(d["sender"], bytes.fromhex(d["msg"]), remote=origin, group=d["group"])


@dataclass
class Plan:
    """What the switch does on the source, decided when the state is captured."""

    convert: list[tuple[IpcRequest, int, int | None]] = field(default_factory=list)  # (req, seq, receiver)
    drop_requests: list[tuple[Process, IpcRequest]] = field(default_factory=list)  # at local servers
    restart_local: list[Process] = field(default_factory=list)  # local senders to restart
    txn_local: list[tuple[Process, int, bytes, int]] = field(default_factory=list)  # (sender, seq, msg, dst)


class MigrationEngine:
    """One per kernel: the source side (migrate_worker) and the destination side (receive_worker)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.policy = kernel.config.migration
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # (side, lhid, state, detail) at every state transition of either end (vcluster/invariants.py)
        self.transition_listeners: list[Callable[..., None]] = []
        self.records: list[dict[str, Any]] = []
        self.copy_ns = 0  # time spent copying pages in the current attempt
        kernel.migration = self

    # ================================================================ source side
    def migrate_worker(self, pid: int) -> Generator[Any, Any, None]:
        """Serves one PM_MIGRATE: pid 0 = every remotely executed program here."""
        k = self.k
        sender, msg = yield ops.Receive()
        _, target, flags = unpack(msg)[:3]
        destroy = bool(flags & abi.PM_MIGRATE_DESTROY)
        if target == 0:
            lhs = [lh for lh in k.lhs.values() if lh.remote and not lh.frozen and lh.teams]
        else:
            lh = k.lhs.get(abi.pid_lhid(target))
            if lh is None or lh.system or not lh.teams or lh.frozen:
                yield ops.Reply(sender, error(abi.ENOPROC))
                return
            lhs = [lh]
        moved = 0
        failed = 0
        for lh in lhs:
            record = yield from self.migrate_lh(pid, lh, destroy)
            if record["ok"]:
                moved += 1
            elif not record.get("destroyed"):
                failed += 1
        yield ops.Reply(sender, pack(-abi.EIO if failed else 0, moved, len(lhs)))

    def migrate_lh(self, pid: int, lh: LogicalHost, destroy: bool,
                   eviction: bool = False) -> Generator[Any, Any, dict[str, Any]]:
        k = self.k
        names = sorted({p.name for p in lh.processes.values() if p.team is not None})
        record: dict[str, Any] = {
            "program": names[0] if len(names) == 1 else ",".join(names),
            "pids": sorted(p.pid for p in lh.processes.values()),
            "lhid": lh.lhid, "from": k.name, "to": None, "ok": False, "rounds": 0,
            "precopy_bytes": 0, "freeze_bytes": 0, "state_bytes": 0, "bytes": 0, "copy_ms": 0.0,
            "freeze_ms": 0.0, "total_ms": 0.0, "stop_reason": None, "attempts": [],
            "residual": self.residual_dependencies(lh), "destroyed": False, "error": None,
            "started": k.sim.now / 1e9, "eviction": eviction,
        }
        start = k.sim.now
        lh.migrating = True
        try:
            yield from self._migrate(pid, lh, destroy, eviction, record)
        finally:
            lh.migrating = False
        record["bytes"] = record["precopy_bytes"] + record["freeze_bytes"] + record["state_bytes"]
        record["total_ms"] = round((k.sim.now - start) / MS, 3)
        self.records.append(record)
        for listener in self.listeners:
            listener(record)
        return record

    def _migrate(self, pid: int, lh: LogicalHost, destroy: bool, eviction: bool,
                 record: dict[str, Any]) -> Generator[Any, Any, None]:
        k = self.k
        excluded: list[int] = []
        for _ in range(self.policy.attempts):
            found = yield from self.find_host(pid, lh, excluded)
            if found is None:
                record["error"] = "no willing host answered"
                break
            dest_pm, dest_name = found
            excluded.append(abi.pid_lhid(dest_pm))
            try:
                yield from self.attempt(pid, lh, dest_pm, dest_name, record)
            except MigrationFailed as exc:
                record["attempts"].append({"host": dest_name, "ok": False, "error": str(exc)})
                record["error"] = f"{dest_name}: {exc}"
                log.info("%s: migration of %s to %s failed: %s", k.name, record["program"], dest_name, exc)
                continue
            record["attempts"].append({"host": dest_name, "ok": True})
            record["ok"] = True
            record["to"] = record.get("to_name") or dest_name
            record["error"] = None
            break
        home = self._home_pm(lh)
        if not record["ok"] and eviction and home is not None and lh.lhid in k.lhs:
            # nobody idle: an evicted program goes back to its home machine
            try:
                yield from self.attempt(pid, lh, home, "home", record)
            except MigrationFailed as exc:
                record["attempts"].append({"host": "home", "ok": False, "error": str(exc)})
                record["error"] = f"home: {exc}"
            else:
                record["attempts"].append({"host": record.get("to_name") or "home", "ok": True})
                record["ok"] = True
                record["to"] = record.get("to_name") or "home"
                record["error"] = None
        if not record["ok"] and destroy and lh.lhid in k.lhs:
            for proc in list(lh.processes.values()):
                k.exit_process(proc, -abi.EKILLED, reason="migrateprog -n: no host accepted it")
            record["destroyed"] = True

    def _home_pm(self, lh: LogicalHost) -> int | None:
        """The program manager of the machine a guest came from (its creator's), if not this one."""
        pm = self.k.servers.get("program")
        for proc in lh.processes.values():
            rec = pm.programs.get(proc.pid) if pm else None
            if rec is not None and rec.creator and not self.k.is_local(rec.creator):
                return abi.make_pid(abi.pid_lhid(rec.creator), abi.LOCAL_PROGRAM_MANAGER)
        return None

    def residual_dependencies(self, lh: LogicalHost) -> list[str]:
        """State of this program that lives on this machine and would not move with it."""
        k = self.k
        found = []
        pm = k.servers.get("program")
        for proc in lh.processes.values():
            rec = pm.programs.get(proc.pid) if pm else None
            if rec is None:
                continue
            for what, pid in (("standard output", rec.stdout[0]), ("standard input", rec.stdin[0]),
                              ("file server", rec.fileserver)):
                if pid and k.is_local(pid) and abi.pid_lhid(pid) != lh.lhid:
                    server = k.processes.get(pid)
                    found.append(f"{proc.name}: {what} is {server.name if server else hex(pid)} on {k.name}")
        for proc in lh.processes.values():
            for gid in proc.groups:
                if abi.pid_lhid(gid) and abi.pid_lhid(gid) != lh.lhid and k.is_local(gid):
                    found.append(f"{proc.name}: member of local group {gid:#x} on {k.name}")
        return sorted(set(found))

    def find_host(self, pid: int, lh: LogicalHost, excluded: list[int]) -> Generator[Any, Any, tuple[int, str] | None]:
        need_kb = sum(t.memory_bytes for t in lh.teams) // 1024
        longs = [0] * 4
        for i, lhid in enumerate(excluded[:4]):
            longs[i] = lhid
        query = pack(abi.PM_QUERY_HOST, 0, *longs, need_kb)
        replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query)
        if replier <= 0:
            return None
        status, pm = unpack(reply)[:2]
        if status:
            return None
        name = reply[16:32].rstrip(b"\0").decode("latin-1") or hex(pm)
        return pm, name

    def attempt(self, pid: int, lh: LogicalHost, dest_pm: int, dest_name: str,
                record: dict[str, Any]) -> Generator[Any, Any, None]:
        k = self.k
        mmu = k.mmu
        teams = list(lh.teams)
        yield from self._await_residency(lh)
        # pages the file server already holds (flushed while this host was idle, unmodified since)
        backing = k.flusher.backing_for(lh) if k.flusher is not None else None
        backed: dict[int, set[int]] = {}
        if backing is not None:
            for i, team in enumerate(teams):
                modified = set(mmu.modified_pages(team.ctx))
                backed[i] = {vp for vp in k.flusher.clean_pages(backing, i)
                             if vp not in modified and mmu.entry(team.ctx, vp) is not None}
        layout = [self._team_layout(i, t) for i, t in enumerate(teams)]
        for i, spec in enumerate(layout):
            spec["backed"] = sorted(backed.get(i, ()))
        record["backed_bytes"] = sum(len(v) for v in backed.values()) * PAGE
        blob = json.dumps({"lhid": lh.lhid, "name": lh.name, "teams": layout,
                           "backing_file": backing.name if backing is not None else ""}).encode()
        self._put(pid, blob)
        replier, reply = yield ops.Send(dest_pm, pack(MG_INIT, lh.lhid, len(teams), BUF, len(blob)))
        if replier <= 0:
            raise MigrationFailed(f"no answer to the migration request ({self._err(replier)})")
        status, receiver, new_lhid = unpack(reply)[:3]
        if status:
            raise MigrationFailed(f"refused: {self._err(signed(status))}")
        record["new_lhid"] = new_lhid
        self.copy_ns = 0
        record["to_name"] = reply[16:32].rstrip(b"\0").decode("latin-1") or dest_name
        # --- pre-copy rounds -------------------------------------------------------
        pages = [(i, vp) for i, t in enumerate(teams) for vp in mmu.mapped_pages(t.ctx)
                 if vp not in backed.get(i, ())]
        previous: int | None = None
        rounds = 0
        try:
            while True:
                rounds += 1
                self._clear(teams, pages)
                t0 = k.sim.now
                record["precopy_bytes"] += yield from self.send_pages(pid, receiver, teams, pages)
                elapsed = max(1, k.sim.now - t0)
                residue = self._modified(teams)
                estimate_ms = len(residue) * elapsed / max(1, len(pages)) / MS
                if estimate_ms <= self.policy.freeze_target_ms:
                    reason = f"residue of {len(residue)} pages copies in {estimate_ms:.1f} ms, under the freeze target"
                    break
                if previous is not None and len(residue) >= self.policy.min_shrink * previous:
                    reason = f"residue no longer shrinking ({previous} -> {len(residue)} pages)"
                    break
                if rounds >= self.policy.max_rounds:
                    reason = f"round cap of {self.policy.max_rounds}"
                    break
                previous = len(residue)
                pages = residue
            record["rounds"] = rounds
            record["stop_reason"] = reason
            # --- freeze and complete the copy ------------------------------------------
            freeze_start = k.sim.now
            lh.frozen = True
            yield from self._settle(lh)
            residue = self._modified(teams)
            self._clear(teams, residue)
            record["freeze_bytes"] = yield from self.send_pages(pid, receiver, teams, residue)
            plan = Plan()
            state = self.capture(lh, teams, plan, receiver, worker=pid)
            blob = json.dumps(state).encode()
            record["state_bytes"] = len(blob)
            objects = len(lh.processes) + len(teams)
            yield ops.Compute(k.cost.ks_pm_state_copy_base_us + k.cost.ks_pm_state_copy_per_object_us * objects)
            self._put(pid, blob)
            replier, reply = yield ops.Send(receiver, pack(MG_STATE, BUF, len(blob)))
            if replier <= 0:
                raise MigrationFailed(f"no answer while switching ({self._err(replier)})")
            status, hi, lo = unpack(reply)[:3]
            if status:
                raise MigrationFailed(f"switch refused: {self._err(signed(status))}")
        except MigrationFailed:
            self._abort_remote(receiver)
            self.unfreeze(lh)
            raise
        unfrozen_at = (hi << 32) | lo
        dest_mac = self._mac_of(receiver)
        if backing is not None:
            backing.handed_over = True  # the new host's pager reads the file, then removes it
        self.delete(lh, plan, dest_mac)
        record["freeze_ms"] = round((unfrozen_at - freeze_start) / MS, 3)
        record["copy_ms"] = round(self.copy_ns / MS, 3)
        log.info("%s: migrated %s to %s: %d rounds, freeze %.1f ms", k.name, record["program"], dest_name,
                 rounds, record["freeze_ms"])

    # --- helpers of the source ----------------------------------------------------------
    @staticmethod
    def _err(code: int) -> str:
        return abi.ERROR_NAMES.get(-code, str(code))

    def _put(self, pid: int, data: bytes) -> None:
        mem = self.k.server_memory(self.k.processes[pid])
        if len(mem) < len(data):
            mem.extend(bytes(len(data) - len(mem)))
        mem[BUF : BUF + len(data)] = data

    def _mac_of(self, pid: int) -> bytes:
        return self.k.transport.station_of(pid) or b"\xff" * 6

    def _team_layout(self, index: int, team) -> dict[str, Any]:
        mmu = self.k.mmu
        pages = []
        for vp in mmu.mapped_pages(team.ctx):
            entry = mmu.entry(team.ctx, vp)
            pages.append([vp, int(entry.prot)])
        return {
            "index": index, "name": team.name, "argv": team.argv, "text": list(team.text),
            "data": list(team.data), "brk": team.brk, "heap_start": team.heap_start,
            "stack_low": team.stack_low, "bkpts": {str(a): n for a, n in self.k.mmu.bkpts(team.ctx).items()},
            "pages": pages,
        }

    def _clear(self, teams, pages: list[tuple[int, int]]) -> None:
        by_team: dict[int, list[int]] = {}
        for i, vp in pages:
            by_team.setdefault(i, []).append(vp)
        for i, vps in by_team.items():
            self.k.mmu.clear_modified(teams[i].ctx, vps)

    def _modified(self, teams) -> list[tuple[int, int]]:
        return [(i, vp) for i, t in enumerate(teams) for vp in self.k.mmu.modified_pages(t.ctx)]

    def send_pages(self, pid: int, receiver: int, teams, pages: list[tuple[int, int]]) -> Generator[Any, Any, int]:
        """Copy pages to the receiver in MG_PAGES batches of up to BATCH_BYTES; returns the bytes sent.

        An all-zero page travels as its 8-byte header alone (the receiver zero-fills it)."""
        mmu = self.k.mmu
        sent = 0
        started = self.k.sim.now
        parts: list[bytes] = []
        size = 0
        count = 0
        for n, (i, vp) in enumerate(pages):
            entry = mmu.entry(teams[i].ctx, vp)
            if entry is not None:  # else unmapped since (the heap shrank): the final layout says so
                data = self.k.cpu.phys_read(entry.frame * PAGE, PAGE)
                if data == ZERO_PAGE:
                    parts.append(PAGE_HEADER.pack(i, vp, int(entry.prot) | ZERO_FLAG))
                    size += PAGE_HEADER.size
                else:
                    parts.append(PAGE_HEADER.pack(i, vp, int(entry.prot)))
                    parts.append(data)
                    size += PAGE_HEADER.size + PAGE
                count += 1
            if parts and (size + PAGE_HEADER.size + PAGE > BATCH_BYTES or n == len(pages) - 1):
                blob = b"".join(parts)
                sent += len(blob)
                self._put(pid, blob)
                replier, reply = yield ops.Send(receiver, pack(MG_PAGES, BUF, len(blob), count))
                if replier <= 0:
                    raise MigrationFailed(f"no answer while copying pages ({self._err(replier)})")
                if unpack(reply)[0]:
                    raise MigrationFailed(f"pages refused: {self._err(signed(unpack(reply)[0]))}")
                parts, size, count = [], 0, 0
        self.copy_ns += self.k.sim.now - started
        return sent

    def _settle(self, lh: LogicalHost) -> Generator[Any, Any, None]:
        """Let a running slice end and in-flight bulk transfers of the logical host finish."""
        k = self.k
        for _ in range(MOVING_WAIT_STEPS):
            running = k.running is not None and k.running.lh is lh and k.slice_event is not None
            moving = any(p.state is State.MOVING for p in lh.processes.values())
            if not running and not moving:
                return
            wait = k.slice_event.time - k.sim.now + 1 if running else 5 * MS
            yield ops.Delay(max(1, wait))
        raise MigrationFailed("a transfer of the program did not finish")

    def _await_residency(self, lh: LogicalHost) -> Generator[Any, Any, None]:
        """A logical host that arrived by the file server moves on only once it is all resident."""
        k = self.k
        waited = 0
        while any(t.backing for t in lh.teams):
            if k.pager is not None:
                for team in lh.teams:
                    if team.backing:
                        k.pager.request(team, set(team.backing))
            if waited > self.policy.timeout_s * 1000:
                raise MigrationFailed("its pages are still coming from the file server")
            yield ops.Delay(20 * MS)
            waited += 20

    def _abort_remote(self, receiver: int) -> None:
        """Best effort: tell the receiver to drop its half-built copy (it also times out)."""
        def body(pid: int) -> Generator[Any, Any, None]:
            yield ops.Send(receiver, pack(MG_ABORT))

        self.k.spawn_server(self.k.system_lh, "mg-abort", body)

    def unfreeze(self, lh: LogicalHost) -> None:
        """The migration failed: the old copy runs on, and what waited for it is delivered."""
        k = self.k
        lh.frozen = False
        deferred, lh.deferred = lh.deferred, []
        for req, dst in deferred:
            k.deliver(req, dst)
        for proc in lh.processes.values():
            if proc.state is State.RECEIVE_BLOCKED and proc.msg_queue:
                k._complete_receive(proc)
            elif proc.state is State.READY:
                k._enqueue(proc)
        k.dispatch()

    # --- capture: everything the kernel and program manager know of the logical host ----------------
    def capture(self, lh: LogicalHost, teams, plan: Plan, receiver: int, worker: int = 0) -> dict[str, Any]:
        k = self.k
        tr = k.transport
        dest_mac = self._mac_of(receiver)
        team_index = {id(t): i for i, t in enumerate(teams)}
        members = set(lh.processes)
        procs = []
        for proc in sorted(lh.processes.values(), key=lambda p: p.pid):
            r = proc.registers
            entry: dict[str, Any] = {
                "pid": proc.pid, "name": proc.name, "priority": int(proc.priority),
                "team": team_index.get(id(proc.team)) if proc.team is not None else None,
                "state": proc.state.name, "suspended": proc.suspended and not proc.evicted,
                "registers": {"d": list(r.d), "a": list(r.a), "pc": r.pc, "sr": r.sr},
                "creator": proc.creator, "cpu_ns": proc.cpu_ns, "groups": sorted(proc.groups),
                "receive_target": proc.receive_target, "move_dst": proc.move_dst,
                "wake_at": proc.wakeup.time if proc.wakeup is not None else None,
                "receive_deadline_at": proc.receive_deadline.time if proc.receive_deadline is not None else None,
            }
            # requests waiting for this process: local senders outside restart, remote ones retransmit
            queue = []
            for req in proc.msg_queue:
                if req.remote is None and req.sender in members:
                    queue.append(_req_out(req))
                elif req.remote is None:
                    sender = k.processes.get(req.sender)
                    if sender is not None:
                        plan.restart_local.append(sender)
            entry["msg_queue"] = queue
            # requests it received and has not answered: they move with it
            pending = []
            for sender_pid, req in k.pending_of(proc).items():
                if req.remote is None and sender_pid not in members:
                    sender = k.processes.get(sender_pid)
                    if sender is None:
                        continue
                    seq = tr.next_seq()
                    plan.txn_local.append((sender, seq, req.msg, proc.pid))
                    moved = IpcRequest(sender_pid, req.msg, remote=Origin(k.machine.mac, seq, sender_pid),
                                       group=req.group)
                    pending.append(_req_out(moved))
                else:
                    pending.append(_req_out(req))
            entry["pending"] = pending
            entry["awaiting"] = self._capture_send(proc, members, plan, dest_mac, worker)
            procs.append(entry)
        # frozen-time requests: local senders restart after the switch
        for req, _dst in lh.deferred:
            if req.remote is None:
                sender = k.processes.get(req.sender)
                if sender is not None and sender.pid not in members:
                    plan.restart_local.append(sender)
        retained = []
        for (src, seq), (_expiry, packet) in tr.retained.items():
            if abi.pid_lhid(packet.src_pid) == lh.lhid:
                retained.append({"src": src, "seq": seq, "kind": int(packet.kind), "replier": packet.src_pid,
                                 "msg": _hex(packet.msg), "status": packet.status})
        # requests to this logical host's local groups that servers here took: their answers stay
        # here, so the new host sends retransmissions of them back here
        redirects = []
        for (src, seq), group in tr.taken_for.items():
            if abi.pid_lhid(group) == lh.lhid and ((src, seq) in tr.in_progress or (src, seq) in tr.retained):
                server = k.local_group_target(group)
                if server is not None:
                    redirects.append([src, seq, server])
        pm = k.servers.get("program")
        programs = []
        creator: dict[str, Any] = {"exits": {}}
        if pm is not None:
            for pid in sorted(members):
                rec = pm.programs.get(pid)
                if rec is not None:
                    programs.append(rec.__dict__ | {"argv": list(rec.argv), "stdout": list(rec.stdout),
                                                    "stdin": list(rec.stdin)})
            state = pm.creators.get(lh.lhid)
            if state is not None:
                creator["exits"] = {str(c): s for c, s in state.exits.items()}
        return {
            "lhid": lh.lhid, "name": lh.name, "remote": lh.remote,
            "teams": [self._team_layout(i, t) for i, t in enumerate(teams)],
            "processes": procs, "retained": retained, "programs": programs, "creator": creator,
            "redirects": redirects,
            "source_mac": _hex(k.machine.mac),
        }

    def _capture_send(self, proc: Process, members: set[int], plan: Plan, dest_mac: bytes,
                      worker: int = 0) -> dict[str, Any] | None:
        """How the new host continues an outstanding Send of proc."""
        k = self.k
        out = proc.awaiting
        if proc.state is not State.SEND_BLOCKED or out is None:
            return None
        base = {"dst": out.dst, "msg_addr": out.msg_addr, "group": out.group, "msg": _hex(out.msg)}
        txn = out.transaction
        if txn is not None:  # remote or group: the transaction itself moves
            if k.transport.sends.get((proc.pid, txn.seq)) is txn:
                return base | {"mode": "move", "seq": txn.seq, "msg": _hex(txn.msg), "txn_group": txn.group}
        # a local Send on this machine: find the request
        found = self._find_request(proc.pid)
        if found is None:
            return base | {"mode": "lost"}
        receiver, req, where = found
        if receiver.pid in members:
            return base | {"mode": "internal"}
        if receiver.pid == worker:
            # it asked to migrate itself: its PM_MIGRATE is answered where it arrives
            plan.drop_requests.append((receiver, req))
            return base | {"mode": "migrated", "replier": worker}
        if abi.is_group(out.dst) and abi.pid_lhid(out.dst) == proc.lhid:
            # its own local group (kernel server / program manager): ask the new machine's
            plan.drop_requests.append((receiver, req))
            return base | {"mode": "restart", "msg": _hex(req.msg)}
        seq = k.transport.next_seq()
        plan.convert.append((req, seq, receiver.pid if where == "pending" else None))
        return base | {"mode": "move", "seq": seq, "msg": _hex(req.msg), "txn_group": False,
                       "dst": receiver.pid}

    def _find_request(self, sender: int) -> tuple[Process, IpcRequest, str] | None:
        k = self.k
        for proc in k.processes.values():
            for req in proc.msg_queue:
                if req.sender == sender and req.remote is None:
                    return proc, req, "queue"
            req = k._pending.get(proc.pid, {}).get(sender)
            if req is not None and req.remote is None:
                return proc, req, "pending"
        return None

    # --- the switch on the source: delete the old copy ---------------------------------------
    def delete(self, lh: LogicalHost, plan: Plan, dest_mac: bytes) -> None:
        k = self.k
        tr = k.transport
        members = set(lh.processes)
        for proc in list(lh.processes.values()):
            for event in (proc.wakeup, proc.receive_deadline):
                if event is not None:
                    k.sim.cancel(event)
            out = proc.awaiting
            if out is not None and out.transaction is not None:
                tr.cancel(out.transaction)
            for gid in list(proc.groups):
                k.leave_group(proc, gid)
            k.block(proc, State.DEAD)
            proc.state = State.DEAD
            k.processes.pop(proc.pid, None)
            k._pending.pop(proc.pid, None)
            k._server_mem.pop(proc.pid, None)
            if k.loaded_pid == proc.pid:
                k.loaded_pid = None
        for team in list(lh.teams):
            if k.loaded_ctx == team.ctx:
                k.loaded_ctx = None
            k.memory.destroy_team(team)
        lh.processes.clear()
        k.lhs.pop(lh.lhid, None)
        # requests from the moved processes to servers here now come from the new host
        for req, seq, receiver in plan.convert:
            req.remote = Origin(dest_mac, seq, req.sender)
            if receiver is not None:
                tr.in_progress[(req.sender, seq)] = receiver
        for receiver, req in plan.drop_requests:
            if req in receiver.msg_queue:
                receiver.msg_queue.remove(req)
            pending = k._pending.get(receiver.pid, {})
            if pending.get(req.sender) is req:
                del pending[req.sender]
        pm = k.servers.get("program")
        if pm is not None:
            for pid in members:
                pm.programs.pop(pid, None)
            pm.creators.pop(lh.lhid, None)
            for state in pm.creators.values():
                for child, waiters in list(state.waiters.items()):
                    state.waiters[child] = [w for w in waiters if w not in members]
        # forget the dedup state of requests to the moved processes: retransmissions go to the new host
        for key, target in list(tr.in_progress.items()):
            if target in members:
                del tr.in_progress[key]
        for key, (_exp, packet) in list(tr.retained.items()):
            if packet.src_pid in members:
                del tr.retained[key]
        for key in [key for key, state in tr.bulk_in.items() if state.target in members]:
            del tr.bulk_in[key]
        lh.deferred.clear()
        # local senders to the moved processes: restart their Send (it is remote now)
        for sender in dict.fromkeys(plan.restart_local):
            out = sender.awaiting
            if sender.state is State.SEND_BLOCKED and out is not None:
                k.send(sender, out.msg, out.dst, msg_addr=out.msg_addr)
        for sender, seq, msg, dst in plan.txn_local:
            if sender.state is State.SEND_BLOCKED and sender.awaiting is not None:
                txn = SendTxn(sender, dst, msg, seq, group=False)
                tr.sends[(sender.pid, seq)] = txn
                sender.awaiting.transaction = txn
                sender.awaiting.dst = dst
                tr._send_txn(txn)
        k.dispatch()

    # ================================================================ destination side
    def receive_worker(self, pid: int) -> Generator[Any, Any, None]:
        """Serves one incoming migration: MG_INIT (forwarded by the program manager), then MG_PAGES
        batches, then MG_STATE (the switch) or MG_ABORT."""
        k = self.k
        sender, msg = yield ops.Receive()
        _, old_lhid, nteams, addr, length = unpack(msg)[:5]
        raw = yield ops.MoveFrom(sender, addr, length)
        if isinstance(raw, int):
            yield ops.Reply(sender, error(-raw))
            return
        layout = json.loads(raw)
        if old_lhid in k.lhs:
            yield ops.Reply(sender, error(abi.EINVAL))
            return
        lh = k.new_logical_host(remote=True, name=layout.get("name", ""))
        lh.frozen = True  # an incoming copy: nothing runs in it until the switch
        lh.copy_of = old_lhid
        teams = []
        try:
            for spec in layout["teams"]:
                team = k.memory.create_team(lh, spec["name"], spec["argv"])
                teams.append(team)
                backed = set(spec.get("backed", ()))
                if backed:
                    team.backing_file = layout["backing_file"]
                    team.backing_index = spec["index"]
                for vp, prot in spec["pages"]:
                    if vp in backed:
                        team.backing[vp] = prot  # non-resident: the pager brings it from the file server
                    else:
                        self._map(team, vp, prot)
        except Exception as exc:  # out of memory: refuse, leave nothing behind
            log.info("%s: cannot take logical host %#x: %s", k.name, old_lhid, exc)
            self._discard(lh)
            yield ops.Reply(sender, error(abi.ENOMEM))
            return
        yield ops.Reply(sender, pack(0, pid, lh.lhid)[:16] + k.name.encode("latin-1")[:16].ljust(16, b"\0"))
        migrator = sender
        timeout_ms = int(self.policy.timeout_s * 1000)
        while True:
            sender, msg = yield ops.Receive(timeout_ms=timeout_ms)
            if sender == 0:
                log.info("%s: incoming migration of %#x timed out", k.name, old_lhid)
                self._discard(lh)
                return
            m = unpack(msg)
            if sender != migrator:
                yield ops.Reply(sender, error(abi.EINVAL))
                continue
            if m[0] == MG_PAGES:
                data = yield ops.MoveFrom(sender, m[1], m[2])
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                try:
                    self._install_pages(teams, data)
                except Exception as exc:
                    log.info("%s: migration pages refused: %s", k.name, exc)
                    yield ops.Reply(sender, error(abi.ENOMEM))
                    continue
                yield ops.Reply(sender, pack(0))
            elif m[0] == MG_STATE:
                data = yield ops.MoveFrom(sender, m[1], m[2])
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                try:
                    self.install(lh, teams, json.loads(data))
                except Exception as exc:
                    log.exception("%s: migration state refused: %s", k.name, exc)
                    self._discard(lh)
                    yield ops.Reply(sender, error(abi.EINVAL))
                    return
                now = k.sim.now
                yield ops.Reply(sender, pack(0, now >> 32, now & 0xFFFFFFFF))
                return
            else:  # MG_ABORT or anything else: give up the copy
                self._discard(lh)
                yield ops.Reply(sender, pack(0))
                return

    def _map(self, team, vp: int, prot: int) -> None:
        if self.k.mmu.entry(team.ctx, vp) is None:
            self.k.memory.map_zero(team, vp, Prot(prot), charge=False)

    def _install_pages(self, teams, data: bytes) -> None:
        k = self.k
        off = 0
        while off < len(data):
            i, vp, prot = PAGE_HEADER.unpack_from(data, off)
            off += PAGE_HEADER.size
            team = teams[i]
            team.backing.pop(vp, None)  # modified since the flush: this copy is the one
            self._map(team, vp, prot & ~ZERO_FLAG)
            entry = k.mmu.entry(team.ctx, vp)
            if prot & ZERO_FLAG:
                k.cpu.phys_write(entry.frame * PAGE, ZERO_PAGE)
            else:
                k.cpu.phys_write(entry.frame * PAGE, data[off : off + PAGE])
                off += PAGE

    def _discard(self, lh: LogicalHost) -> None:
        k = self.k
        for team in list(lh.teams):
            k.memory.destroy_team(team)
        k.lhs.pop(lh.lhid, None)

    def install(self, lh: LogicalHost, teams, state: dict[str, Any]) -> None:
        """The switch on the destination: the copy takes the original id and starts running."""
        from emulator.cpu import Registers

        k = self.k
        tr = k.transport
        old = state["lhid"]
        if old in k.lhs:
            raise ValueError(f"logical host {old:#x} already exists here")
        mmu = k.mmu
        for spec in state["teams"]:
            team = teams[spec["index"]]
            keep = {vp for vp, _ in spec["pages"]}
            for vp, prot in spec["pages"]:
                if vp not in team.backing:
                    self._map(team, vp, prot)
            for vp in [vp for vp in team.backing if vp not in keep]:
                del team.backing[vp]
            for vp in mmu.mapped_pages(team.ctx):
                if vp not in keep:
                    k.frames.free(mmu.unmap(team.ctx, vp))
            team.pages = len(keep) - len(team.backing)
            team.text = tuple(spec["text"])
            team.data = tuple(spec["data"])
            team.brk = spec["brk"]
            team.heap_start = spec["heap_start"]
            team.stack_low = spec["stack_low"]
            for addr, n in spec["bkpts"].items():
                mmu.add_bkpt(team.ctx, int(addr), n)
            team.bkpts = frozenset(int(a) for a in spec["bkpts"])
        # the new copy takes the original logical-host id
        k.lhs.pop(lh.lhid, None)
        lh.lhid = old
        lh.copy_of = 0
        lh.remote = state["remote"]
        k.lhs[old] = lh
        tr.forget(old)
        procs = []
        for p in state["processes"]:
            team = teams[p["team"]] if p["team"] is not None else None
            proc = Process(pid=p["pid"], lh=lh, name=p["name"], priority=Priority(p["priority"]), team=team)
            r = p["registers"]
            proc.registers = Registers(d=list(r["d"]), a=list(r["a"]), pc=r["pc"], sr=r["sr"])
            proc.state = State[p["state"]]
            if proc.state is State.RUNNING:
                proc.state = State.READY
            proc.suspended = p["suspended"]
            proc.creator = p["creator"]
            proc.cpu_ns = p["cpu_ns"]
            proc.receive_target = p["receive_target"]
            proc.move_dst = p["move_dst"]
            lh.processes[proc.pid] = proc
            k.processes[proc.pid] = proc
            for req in p["msg_queue"]:
                proc.msg_queue.append(_req_in(req))
            pending = k.pending_of(proc)
            for d in p["pending"]:
                req = _req_in(d)
                pending[req.sender] = req
                if req.remote is not None:
                    tr.in_progress[(req.remote.src_pid, req.remote.seq)] = proc.pid
            procs.append((proc, p))
            index = abi.pid_index(proc.pid)
            lh.next_index = max(lh.next_index, index + 1) & 0x7FFF or 1
        for src, seq, server in state.get("redirects", ()):
            tr.redirects[(src, seq)] = server
            while len(tr.redirects) > 4096:
                tr.redirects.popitem(last=False)
        for entry in state["retained"]:
            packet = Packet(Kind(entry["kind"]), entry["seq"], entry["replier"], entry["src"],
                            status=entry["status"], lhid=old, msg=bytes.fromhex(entry["msg"]))
            tr._retain((entry["src"], entry["seq"]), packet)
        pm = k.servers.get("program")
        if pm is not None:
            for rec in state["programs"]:
                rec = dict(rec)
                rec["stdout"] = tuple(rec["stdout"])
                rec["stdin"] = tuple(rec["stdin"])
                pm.programs[rec["pid"]] = ProgramRecord(**rec)
            exits = {int(c): s for c, s in state["creator"]["exits"].items()}
            if exits:
                pm.creators.setdefault(old, CreatorState()).exits.update(exits)
        # unfreeze: the new copy runs
        lh.frozen = False
        for proc, p in procs:
            for gid in p["groups"]:
                k.join_group(proc, gid)
            if p["wake_at"] is not None:
                proc.wakeup = k.sim.at(max(k.sim.now, p["wake_at"]), lambda proc=proc: k._wake(proc, 0))
            if p["receive_deadline_at"] is not None:
                proc.receive_deadline = k.sim.at(max(k.sim.now, p["receive_deadline_at"]),
                                                 lambda proc=proc: k._receive_timeout(proc))
            aw = p["awaiting"]
            if aw is not None:
                self._resume_send(proc, aw)
        for proc, _p in procs:
            if proc.state is State.READY:
                k._enqueue(proc)
            elif proc.state is State.RECEIVE_BLOCKED and proc.msg_queue:
                k._complete_receive(proc)
        tr.announce(old)
        if k.pager is not None:
            for team in teams:
                if team.backing:
                    k.pager.prefetch(team)
        k.dispatch()

    def _resume_send(self, proc: Process, aw: dict[str, Any]) -> None:
        k = self.k
        tr = k.transport
        out = Outstanding(dst=aw["dst"], msg_addr=aw["msg_addr"], group=aw["group"], msg=bytes.fromhex(aw["msg"]))
        proc.awaiting = out
        mode = aw["mode"]
        if mode == "move":
            txn = SendTxn(proc, aw["dst"], bytes.fromhex(aw["msg"]), aw["seq"], group=aw["txn_group"])
            tr.sends[(proc.pid, txn.seq)] = txn
            out.transaction = txn
            tr._send_txn(txn)
        elif mode == "restart":
            proc.state = State.READY  # send() blocks it again
            k.send(proc, bytes.fromhex(aw["msg"]), aw["dst"], msg_addr=aw["msg_addr"])
        elif mode == "lost":
            # the request is nowhere to be found (its receiver vanished): send it again from here
            proc.state = State.READY
            k.send(proc, bytes.fromhex(aw["msg"]), aw["dst"], msg_addr=aw["msg_addr"])
        elif mode == "migrated":
            proc.state = State.SEND_BLOCKED
            k.finish_send(proc, aw["replier"], pack(0, 1, 1))
        # "internal": the request sits in a moved process's queue or pending list, nothing to do
