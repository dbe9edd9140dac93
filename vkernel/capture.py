"""The state of a logical host, captured out of a kernel and restored into one (issue 16).

One API for everything that moves or copies a logical host (migration, checkpoints, restarts):
`capture` reads what the kernel, the transport and the program manager know of it (processes
with their registers and true SR, team layouts, message queues, requests received and not
answered, outstanding Sends, timers, group memberships, program-manager records, the
transport's retained answers) as a JSON-able dict; `remove` deletes it here; `stage` checks a
captured state against a frozen copy and prepares it; `restore` makes the copy run under the
original id. Pages travel separately (the caller copies them); the Kernel's capture_lh,
remove_lh, stage_lh and restore_lh, and the Transport's capture_lh, release_lh and restore_lh,
are the entry points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.mmu import Prot
from guest import abi
from vkernel.kernel import IpcRequest, Outstanding
from vkernel.messages import pack
from vkernel.packets import Kind, Packet
from vkernel.process import LogicalHost, Priority, Process, State
from vkernel.servers.program_manager import CreatorState, ProgramRecord
from vkernel.transport import Origin, SendTxn

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

MAX_VPAGE = 1 << 16  # a page header carries a vpage in 16 bits


def _hex(b: bytes) -> str:
    return b.hex()


def _req_out(req: IpcRequest) -> dict[str, Any]:
    origin = req.remote
    return {
        "sender": req.sender,
        "msg": _hex(req.msg),
        "group": req.group,
        "origin": None
        if origin is None
        else {
            "mac": _hex(origin.mac),
            "seq": origin.seq,
            "src": origin.src_pid,
            "group": origin.group,
        },
    }


def _req_in(d: dict[str, Any]) -> IpcRequest:
    o = d["origin"]
    origin = None if o is None else Origin(bytes.fromhex(o["mac"]), o["seq"], o["src"], o["group"])
    return IpcRequest(d["sender"], bytes.fromhex(d["msg"]), remote=origin, group=d["group"])


def check_pages(pages: Any) -> None:
    """A layout's page list: [vpage, prot] pairs in bounds."""
    if not isinstance(pages, list):
        raise ValueError("pages")
    for entry in pages:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not all(isinstance(v, int) for v in entry)
            or not 0 <= entry[0] < MAX_VPAGE
            or not 0 < entry[1] < 8
        ):
            raise ValueError(f"page {entry!r}")


@dataclass
class Plan:
    """What the switch does on the source, decided when the state is captured."""

    convert: list[tuple[IpcRequest, int, int | None]] = field(
        default_factory=list
    )  # (req, seq, receiver)
    drop_requests: list[tuple[Process, IpcRequest]] = field(
        default_factory=list
    )  # at local servers
    restart_local: list[Process] = field(default_factory=list)  # local senders to restart
    txn_local: list[tuple[Process, int, bytes, int]] = field(
        default_factory=list
    )  # (sender, seq, msg, dst)


class LhCapture:
    """The state of one logical host, out of a kernel and back into one (see the module doc)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def team_layout(self, index: int, team) -> dict[str, Any]:
        """One team's address space: its mapped pages with their protection, and its layout."""
        mmu = self.k.mmu
        pages = []
        for vp in mmu.mapped_pages(team.ctx):
            entry = mmu.entry(team.ctx, vp)
            pages.append([vp, int(entry.prot)])
        return {
            "index": index,
            "name": team.name,
            "argv": team.argv,
            "text": list(team.text),
            "data": list(team.data),
            "brk": team.brk,
            "heap_start": team.heap_start,
            "stack_low": team.stack_low,
            "bkpts": {str(a): n for a, n in self.k.mmu.bkpts(team.ctx).items()},
            "pages": pages,
        }

    # --- capture: everything the kernel and program manager know of the logical host ----------------
    def capture(self, lh: LogicalHost, teams, plan: Plan, worker: int = 0) -> dict[str, Any]:
        """Everything the kernel, transport and program manager know of lh (JSON-able), and in
        plan what removing it here must do; `worker` is a process that asked to move it."""
        k = self.k
        tr = k.transport
        team_index = {id(t): i for i, t in enumerate(teams)}
        members = set(lh.processes)
        procs = []
        for proc in sorted(lh.processes.values(), key=lambda p: p.pid):
            r = proc.registers
            entry: dict[str, Any] = {
                "pid": proc.pid,
                "name": proc.name,
                "priority": int(proc.priority),
                "team": team_index.get(id(proc.team)) if proc.team is not None else None,
                "state": proc.state.name,
                "suspended": proc.suspended and not proc.evicted,
                "registers": {"d": list(r.d), "a": list(r.a), "pc": r.pc, "sr": r.sr},
                "creator": proc.creator,
                "cpu_ns": proc.cpu_ns,
                "groups": sorted(proc.groups),
                "receive_target": proc.receive_target,
                "move_dst": proc.move_dst,
                "wake_at": proc.wakeup.time if proc.wakeup is not None else None,
                "receive_deadline_at": proc.receive_deadline.time
                if proc.receive_deadline is not None
                else None,
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
                    moved = IpcRequest(
                        sender_pid,
                        req.msg,
                        remote=Origin(k.machine.mac, seq, sender_pid),
                        group=req.group,
                    )
                    pending.append(_req_out(moved))
                else:
                    pending.append(_req_out(req))
            entry["pending"] = pending
            entry["awaiting"] = self._capture_send(proc, members, plan, worker)
            procs.append(entry)
        # frozen-time requests: local senders restart after the switch
        for req, _dst in lh.deferred:
            if req.remote is None:
                sender = k.processes.get(req.sender)
                if sender is not None and sender.pid not in members:
                    plan.restart_local.append(sender)
        # requests to its local groups that servers here took: their answers stay here (a request
        # deferred by the freeze was not taken: its retransmission reaches the new host)
        deferred_keys = {
            (req.sender, req.remote.seq) for req, _dst in lh.deferred if req.remote is not None
        }
        ipc = tr.capture_lh(lh.lhid, deferred_keys)
        pm = k.servers.get("program")
        programs = []
        creator: dict[str, Any] = {"exits": {}}
        if pm is not None:
            for pid in sorted(members):
                rec = pm.programs.get(pid)
                if rec is not None:
                    programs.append(
                        rec.__dict__
                        | {
                            "argv": list(rec.argv),
                            "stdout": list(rec.stdout),
                            "stdin": list(rec.stdin),
                        }
                    )
            state = pm.creators.get(lh.lhid)
            if state is not None:
                creator["exits"] = {str(c): s for c, s in state.exits.items()}
        return {
            "lhid": lh.lhid,
            "name": lh.name,
            "remote": lh.remote,
            "teams": [self.team_layout(i, t) for i, t in enumerate(teams)],
            "processes": procs,
            "retained": ipc["retained"],
            "programs": programs,
            "creator": creator,
            "redirects": ipc["redirects"],
            "source_mac": _hex(k.machine.mac),
            "checkpoint_policy": k.checkpoints.export(lh.lhid) if k.checkpoints else None,
        }

    def _capture_send(
        self, proc: Process, members: set[int], plan: Plan, worker: int = 0
    ) -> dict[str, Any] | None:
        """How the new host continues an outstanding Send of proc."""
        k = self.k
        out = proc.awaiting
        if proc.state is not State.SEND_BLOCKED or out is None:
            return None
        base = {
            "dst": out.dst,
            "msg_addr": out.msg_addr,
            "group": out.group,
            "msg": _hex(out.msg),
            "stamp": list(out.stamp) if out.stamp else None,
        }
        txn = out.transaction
        if txn is not None:  # remote or group: the transaction itself moves
            if k.transport.sends.get((proc.pid, txn.seq)) is txn:
                return base | {
                    "mode": "move",
                    "seq": txn.seq,
                    "msg": _hex(txn.msg),
                    "txn_group": txn.group,
                }
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
        return base | {
            "mode": "move",
            "seq": seq,
            "msg": _hex(req.msg),
            "txn_group": False,
            "dst": receiver.pid,
        }

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
    def remove(self, lh: LogicalHost, plan: Plan, dest_mac: bytes) -> None:
        """Delete lh here (its new copy lives at dest_mac): what waited for it follows `plan`."""
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
        tr.release_lh(members)
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

    def _map(self, team, vp: int, prot: int) -> None:
        if self.k.mmu.entry(team.ctx, vp) is None:
            self.k.memory.map_zero(team, vp, Prot(prot), charge=False)

    def stage(self, lh: LogicalHost, teams, old_lhid: int, state: dict[str, Any]) -> dict[str, Any]:
        """Check a captured state and stage everything restore() needs (so that it cannot fail),
        for the logical host lh (a frozen copy under its own id) that becomes old_lhid; the
        address spaces take their final layout. Raises on anything malformed."""
        from emulator.cpu import Registers

        k = self.k
        if not isinstance(state, dict) or state.get("lhid") != old_lhid:
            raise ValueError("not the state of this logical host")
        if old_lhid in k.lhs:
            raise ValueError(f"logical host {old_lhid:#x} already exists here")
        specs = state["teams"]
        if not isinstance(specs, list) or len(specs) != len(teams):
            raise ValueError("team count")
        for spec in specs:
            check_pages(spec["pages"])
            if not 0 <= spec["index"] < len(teams):
                raise ValueError("team index")
            for v in (
                *spec["text"],
                *spec["data"],
                spec["brk"],
                spec["heap_start"],
                spec["stack_low"],
                *(int(a) for a in spec["bkpts"]),
                *spec["bkpts"].values(),
            ):
                if not isinstance(v, int):
                    raise ValueError("team layout")
        staged: dict[str, Any] = {
            "checkpoint_policy": state.get("checkpoint_policy"),
            "remote": bool(state["remote"]),
            "procs": [],
            "retained": [],
            "programs": [],
            "exits": {},
            "redirects": [],
        }
        pids = set()
        for p in state["processes"]:
            team = teams[p["team"]] if p["team"] is not None else None
            pid = p["pid"]
            if abi.pid_lhid(pid) != old_lhid or pid in pids or abi.is_group(pid) or team is None:
                raise ValueError(f"process {pid!r}")
            pids.add(pid)
            proc = Process(
                pid=pid, lh=lh, name=str(p["name"]), priority=Priority(p["priority"]), team=team
            )
            r = p["registers"]
            proc.registers = Registers(
                d=[int(v) for v in r["d"]][:8],
                a=[int(v) for v in r["a"]][:8],
                pc=int(r["pc"]),
                sr=int(r["sr"]),
            )
            proc.state = State[p["state"]]
            if proc.state is State.RUNNING:
                proc.state = State.READY
            proc.suspended = bool(p["suspended"])
            proc.creator = int(p["creator"])
            proc.cpu_ns = int(p["cpu_ns"])
            proc.receive_target = int(p["receive_target"])
            proc.move_dst = int(p["move_dst"])
            queue = [_req_in(req) for req in p["msg_queue"]]
            pending = [_req_in(d) for d in p["pending"]]
            groups = [int(g) for g in p["groups"]]
            for key in ("wake_at", "receive_deadline_at"):
                if p[key] is not None and not isinstance(p[key], int):
                    raise ValueError(key)
            aw = p["awaiting"]
            if aw is not None:
                if aw["mode"] not in ("move", "restart", "lost", "migrated", "internal"):
                    raise ValueError("awaiting")
                bytes.fromhex(aw["msg"])
                int(aw["dst"]), int(aw["msg_addr"])
            staged["procs"].append((proc, p, queue, pending, groups))
        for src, seq, server in state.get("redirects", ()):
            staged["redirects"].append((int(src), int(seq), int(server)))
        for entry in state["retained"]:
            staged["retained"].append(
                (
                    (int(entry["src"]), int(entry["seq"])),
                    Packet(
                        Kind(entry["kind"]),
                        entry["seq"],
                        entry["replier"],
                        entry["src"],
                        status=entry["status"],
                        lhid=old_lhid,
                        msg=bytes.fromhex(entry["msg"]),
                    ),
                )
            )
        for rec in state["programs"]:
            rec = dict(rec)
            rec["stdout"] = tuple(rec["stdout"])
            rec["stdin"] = tuple(rec["stdin"])
            staged["programs"].append(ProgramRecord(**rec))
        staged["exits"] = {int(c): int(s) for c, s in state["creator"]["exits"].items()}
        # the address spaces take their final layout (still frozen, under the copy's own id)
        mmu = k.mmu
        for spec in specs:
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
        return staged

    def restore(self, lh: LogicalHost, teams, old: int, staged: dict[str, Any]) -> None:
        """The staged copy takes the original id and starts running."""
        k = self.k
        tr = k.transport
        # the new copy takes the original logical-host id
        k.lhs.pop(lh.lhid, None)
        lh.lhid = old
        lh.copy_of = 0
        lh.remote = staged["remote"]
        k.lhs[old] = lh
        tr.forget(old)
        procs = []
        for proc, p, queue, pending_reqs, groups in staged["procs"]:
            lh.processes[proc.pid] = proc
            k.processes[proc.pid] = proc
            proc.msg_queue.extend(queue)
            pending = k.pending_of(proc)
            for req in pending_reqs:
                pending[req.sender] = req
                if req.remote is not None:
                    tr.in_progress[(req.remote.src_pid, req.remote.seq)] = proc.pid
            procs.append((proc, p, groups))
            index = abi.pid_index(proc.pid)
            lh.next_index = max(lh.next_index, index + 1) & 0x7FFF or 1
        tr.restore_lh(staged["redirects"], staged["retained"])
        pm = k.servers.get("program")
        if pm is not None:
            for rec in staged["programs"]:
                pm.programs[rec.pid] = rec
            if staged["exits"]:
                pm.creators.setdefault(old, CreatorState()).exits.update(staged["exits"])
        # unfreeze: the new copy runs
        lh.frozen = False
        for proc, p, groups in procs:
            for gid in groups:
                k.join_group(proc, gid)
            if p["wake_at"] is not None:
                proc.wakeup = k.sim.at(
                    max(k.sim.now, p["wake_at"]), lambda proc=proc: k._wake(proc, 0)
                )
            if p["receive_deadline_at"] is not None:
                proc.receive_deadline = k.sim.at(
                    max(k.sim.now, p["receive_deadline_at"]),
                    lambda proc=proc: k._receive_timeout(proc),
                )
            aw = p["awaiting"]
            if aw is not None:
                self._resume_send(proc, aw)
        for proc, _p, _g in procs:
            if proc.state is State.READY:
                k._enqueue(proc)
            elif proc.state is State.RECEIVE_BLOCKED and proc.msg_queue:
                k._complete_receive(proc)
        deferred, lh.deferred = lh.deferred, []
        for req, dst in deferred:
            k.deliver(req, dst)
        tr.announce(old)
        for i in (1, 2):  # again, in case the broadcast is lost (senders also rebind on their own)
            k.sim.at(
                k.sim.now + i * tr.rto, lambda: tr.announce(old) if k.lhs.get(old) is lh else None
            )
        if k.pager is not None:
            for team in teams:
                if team.backing and not team.lazy:  # a lazy rfork's: on demand
                    k.pager.prefetch(team)
        if k.checkpoints is not None:
            k.checkpoints.adopt(lh, staged.get("checkpoint_policy"))
        k.dispatch()

    def _resume_send(self, proc: Process, aw: dict[str, Any]) -> None:
        k = self.k
        tr = k.transport
        out = Outstanding(
            dst=aw["dst"],
            msg_addr=aw["msg_addr"],
            group=aw["group"],
            msg=bytes.fromhex(aw["msg"]),
            stamp=tuple(aw["stamp"]) if aw.get("stamp") else None,
        )
        proc.awaiting = out
        mode = aw["mode"]
        if mode == "move":
            txn = SendTxn(
                proc, aw["dst"], bytes.fromhex(aw["msg"]), aw["seq"], group=aw["txn_group"]
            )
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
