"""The program manager: creates, loads, starts, waits for, kills and suspends programs on its machine."""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import locate, ops, selection
from vkernel.exactly_once import INCARNATION_SERIALS
from vkernel.gossip import LoadVector
from vkernel.memory import MemoryError_
from vkernel.messages import error, pack, signed, unpack
from vkernel.process import Priority, Process, State
from vkernel.servers import program_query

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

# program manager to program manager, for migration (docs/ABI.md reserves 0x210..0x21F)
MG_INIT = 0x210  # old lhid, team count, layout address, length, migration id -> receiver, new lhid, id, name
MG_PAGES = 0x211  # blob address, length, page count (receiver MoveFrom's the pages)
MG_STATE = 0x212  # blob address, length, migration id: prepare (staged, still frozen) -> id
MG_ABORT = 0x213  # migration id: the source gave up; the receiver discards its copy
MG_COMMIT = 0x214  # migration id: "go" (the source has deleted its copy); the receiver's copy runs
MG_OUTCOME = 0x215  # old lhid, migration id -> outcome (a receiver that waited for "go" in vain asks)
MG_WHERE = 0x216  # old lhid, migration id (to the group): a copy that may be the one lives here -> id
CK_DONE = 0x220  # creator, pid, serial, host name (16 bytes): a checkpoint is complete (to the home)
CK_RESTART = 0x221  # lhid: restart it here from its last checkpoint -> serial, pages, age ms, host name
CK_FORK = 0x222  # lhid, file serial, parent pid, flags, page server: build an rfork child here from its file -> child pid

IMAGE_CHUNK = 32 * 1024  # V moved 32 KB as a unit
NAME_AT = 0
BUFFER_AT = 4096


def parse_argv_block(block: bytes) -> list[str]:
    """NUL-terminated strings ending with an empty one."""
    argv: list[str] = []
    for part in block.split(b"\0"):
        if not part:
            break
        argv.append(part.decode("latin-1"))
    return argv


def argv_block(argv: list[str]) -> bytes:
    return b"".join(a.encode("latin-1") + b"\0" for a in argv) + b"\0"


def query_host_msg(name: str | None) -> bytes:
    raw = (name or "").encode("latin-1")[: abi.PM_QUERY_NAME_MAX]
    return struct.pack(">II", abi.PM_QUERY_HOST, len(raw)) + raw.ljust(24, b"\0")


@dataclass
class ProgramRecord:
    """What the program manager knows of a program it runs (migrates with its logical host)."""

    pid: int
    name: str
    argv: list[str]
    creator: int
    lhid: int
    remote: bool
    host_started: str
    started_ns: int
    stdout: tuple[int, int] = (0, 0)
    stdin: tuple[int, int] = (0, 0)
    fileserver: int = 0


@dataclass
class CreatorState:
    """Per creator logical host: exit statuses of its children and processes waiting for them."""

    exits: dict[int, int] = field(default_factory=dict)
    waiters: dict[int, list[int]] = field(default_factory=dict)  # child pid -> waiting pids


class ProgramManager:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.proc: Process | None = None
        self.programs: dict[int, ProgramRecord] = {}
        self.creators: dict[int, CreatorState] = {}  # creator lhid -> state
        self.reported: OrderedDict[int, int] = OrderedDict()  # PM_EXITED notice ids taken -> child
        self.notices = 0
        self.willing: bool = True
        self.started = 0
        self.creating = 0  # programs being created: they count in this host's load
        self.query_answers = 0  # "@ *" answers sent (not declines)
        self.gossip: LoadVector | None = None  # idle.selection: gossip
        kernel.on_exit.append(self.on_exit)

    def start(self) -> Process:
        self.proc = self.k.spawn_server(self.k.system_lh, "program-manager", self.body, restart=True)
        self.k.program_manager = self.proc
        if selection.mode(self.k) == selection.GOSSIP and self.k.transport is not None:
            self.gossip = LoadVector(self)
            self.gossip.start()
        return self.proc

    def changed(self) -> None:
        """This host's load changed: tell the others now (gossip)."""
        if self.gossip is not None:
            self.gossip.report()

    # --- the receive loop ------------------------------------------------------------
    def body(self, pid: int) -> Generator[Any, Any, None]:
        yield ops.JoinGroup(abi.PROGRAM_MANAGER_GROUP)
        while True:
            sender, msg = yield ops.Receive()
            code = unpack(msg)[0]
            if code == abi.PM_EXEC:
                worker = yield ops.Spawn("pm-exec", self.exec_worker)
                yield ops.Forward(sender, worker, msg)
            elif code == abi.PM_QUERY_HOST:
                if not unpack(msg)[1] and not self.k.is_local(sender):  # "@ *" or a migration's query
                    # weighing the query is work scheduled behind the host's guests: answered
                    # from a process of its own, so the manager goes on receiving meanwhile
                    yield ops.Spawn("pm-query", lambda me, s=sender, m=msg: self.answer_query(s, m))
                else:
                    yield ops.Reply(sender, self.answer_or_decline(sender, self.query_host(sender, msg)))
            elif code == abi.PM_WAIT:
                reply = self.wait(sender, unpack(msg)[1])
                if reply is not None:
                    yield ops.Reply(sender, reply)
            elif code == abi.PM_EXITED:
                _, child, status, creator, nonce, inc = unpack(msg)[:6]
                forger = self.k.processes.get(sender)
                if forger is not None and forger.team is not None:
                    yield ops.Reply(sender, error(abi.EPERM))  # program managers send it, not guests
                    continue
                watch = self.k.checkpoints.watching(child) if self.k.checkpoints else None
                if inc and watch is not None and (inc - 1 < watch.incarnation or watch.restarting):
                    # the exit of a void incarnation (a copy cut off in a partition, restarted
                    # elsewhere since): the restarted one ends the program
                    yield ops.Reply(sender, error(abi.EKILLED))
                    continue
                self.record_exit(abi.pid_lhid(creator), child, signed(status), nonce)
                yield ops.Reply(sender, pack(0))
            elif code in (abi.PM_KILL, abi.PM_SUSPEND, abi.PM_RESUME):
                yield ops.Reply(sender, pack(self.control(code, unpack(msg)[1])))
            elif code == abi.PM_LIST:
                _, buf, size = unpack(msg)[:3]
                text = self.listing().encode()[:size]
                result = yield ops.MoveTo(sender, buf, text)
                yield ops.Reply(sender, pack(result if isinstance(result, int) and result < 0 else 0, len(text)))
            elif code == abi.PM_QUERY_PROGRAM:  # which programs of a name (or a pid) run here
                yield ops.Reply(sender, self.answer_or_decline(sender, program_query.answer(self.k, msg)))
            elif code == abi.PM_MIGRATE and self.k.migration is not None:
                worker = yield ops.Spawn("pm-migrate", self.k.migration.migrate_worker)
                yield ops.Forward(sender, worker, msg)
            elif code == MG_INIT and self.k.migration is not None:
                worker = yield ops.Spawn("pm-receive", self.k.migration.receive_worker)
                yield ops.Forward(sender, worker, msg)
            elif code == MG_OUTCOME and self.k.migration is not None:
                yield ops.Reply(sender, self.k.migration.outcome_reply(msg))
            elif code == MG_WHERE and self.k.migration is not None:
                yield ops.Reply(sender, self.answer_or_decline(sender, self.k.migration.where_reply(msg)))
            elif code in (abi.PM_CHECKPOINT, abi.PM_RFORK, CK_DONE, CK_RESTART, CK_FORK) and self.k.checkpoints is not None:
                yield from self.k.checkpoints.serve(sender, code, msg)
            else:
                yield ops.Reply(sender, error(abi.EBADCALL))

    # --- "@ host" and "@ *" --------------------------------------------------------------
    def query_host(self, sender: int, msg: bytes) -> bytes | None:
        """Answer "@ host" naming this machine, or "@ *" when willing; otherwise stay silent.

        For "@ *", longs 2..5 may name system logical hosts to leave out (hosts a
        migration already tried) and long 6 the memory needed in KB.
        """
        m = unpack(msg)
        length = m[1]
        free_kb = self.k.frames.free_count * 4
        if length:
            name = msg[8 : 8 + min(length, abi.PM_QUERY_NAME_MAX)].decode("latin-1")
            if name != self.k.name:
                return None  # not us: stay silent, another program manager answers
        elif self.k.is_local(sender) or not self.is_willing():
            return None  # "@ *" never picks the origin, and only willing hosts answer
        elif self.k.system_lh.lhid in m[2:6] or free_kb < m[6] + self.k.config.idle.min_free_memory_kb:
            return None
        load = int(self.host_load() * 100)
        name = self.k.name.encode("latin-1")[:16].ljust(16, b"\0")
        return pack(0, self.proc.pid if self.proc else 0, load, free_kb)[:16] + name

    def answer_query(self, sender: int, msg: bytes) -> Generator[Any, Any, None]:
        """Answer an "@ *" query for the manager after weighing it (vkernel/selection.py).

        The weighing is CPU work at guest priority: at once on an idle machine, behind the
        guests of a loaded one, so the least loaded host answers first (first-reply, V's way:
        every willing member answers, straight to the requester). Under `scaled` a member
        then waits a random delay scaled by its load and the group's size and stays silent if
        it overhears another member's answer (answers go to the group): a query draws a few
        answers, whatever the size of the network.
        """
        k = self.k
        how = selection.mode(k)
        yield ops.Run(selection.weigh_us(k), Priority.GUEST, selection.weigh_charges(k))
        if self.proc is None or k.transport is None:
            return
        req = k.pending_of(self.proc).get(sender)
        if req is None:
            return
        if how == selection.SCALED and self.is_willing():
            yield ops.Delay(selection.scaled_delay_ns(k, self.host_load()))
        elif how == selection.GOSSIP and self.is_willing() and self.gossip is not None:
            m = unpack(msg)
            leave = {lhid for lhid in m[2:6] if lhid} | {abi.pid_lhid(sender)}
            query = (req.remote.src_pid, req.remote.seq) if req.remote is not None else (sender, 0)
            if not self.gossip.first(query, leave, m[6]):
                yield ops.Delay(k.transport.query_timeout // 2)  # the safety net: none answered
        if self.proc is None or k.pending_of(self.proc).get(sender) is not req:
            return  # answered meanwhile, or the sender's next request: that one has its own worker
        if how != selection.FIRST_REPLY and k.transport.answered_by_another(req):
            k.reply(self.proc, None, sender)
            return
        answer = self.answer_or_decline(sender, self.query_host(sender, msg))
        if how == selection.FIRST_REPLY:
            k.transport.answer_directly(req)
        if answer is not None:
            self.query_answers += 1
        k.reply(self.proc, answer, sender)

    def answer_or_decline(self, sender: int, answer: bytes | None) -> bytes | None:
        """A query's answer; no answer (None) only to a group with other members to answer it: a
        Send to this program manager itself (or its local group) must not wait forever: -ENOENT."""
        req = self.k.pending_of(self.proc).get(sender) if self.proc is not None else None
        if answer is None and (req is None or not req.group or self.k.local_group_target(req.group)):
            return error(abi.ENOENT)
        return answer

    def is_willing(self) -> bool:
        if not (self.willing and self.k.willing()):
            return False
        policy = self.k.config.idle
        return policy.answer_any_query or self.host_load() <= policy.load_threshold

    def host_load(self) -> float:
        """Runnable programs plus programs being created here."""
        return self.k.load() + self.creating

    # --- exec -----------------------------------------------------------------------------
    def exec_worker(self, pid: int) -> Generator[Any, Any, None]:
        sender, msg = yield ops.Receive()
        self.creating += 1
        self.changed()
        try:
            reply = yield from self.create_program(pid, sender, msg)
        finally:
            self.creating -= 1
            self.changed()
        yield ops.Reply(sender, reply)

    def create_program(self, pid: int, sender: int, msg: bytes) -> Generator[Any, Any, bytes]:
        k = self.k
        yield ops.charge(k.cost, "program_manager_op_us")
        _, argv_addr, argv_len, flags, out_pid, out_inst, in_pid, in_inst = unpack(msg)
        if not 0 < argv_len <= 4096:
            return error(abi.EINVAL)
        block = yield ops.MoveFrom(sender, argv_addr, argv_len)
        if isinstance(block, int):
            return error(-block)
        argv = parse_argv_block(block)
        if not argv:
            return error(abi.EINVAL)
        if (yield from locate.file_server(k)) <= 0:  # asked of its group at this kernel's first use
            return error(abi.ENOENT)
        image = yield from self.fetch_image(pid, argv[0])
        if isinstance(image, int):
            return error(image)
        yield ops.charge(k.cost, "team_create_us", "process_create_us")
        from emulator.loader import LoaderError, load_image

        try:
            parsed = load_image(image)
        except LoaderError as exc:
            log.info("%s: %s is not a runnable image: %s", k.name, argv[0], exc)
            return error(abi.EINVAL)
        requester = k.processes.get(sender)
        remote = requester is None
        if requester is not None and requester.team is not None:
            lh = requester.lh  # a sub-program runs in its parent's logical host
            remote = lh.remote
        else:
            lh = k.new_logical_host(remote=remote, name=argv[0])
        team = k.memory.create_team(lh, argv[0], argv)
        try:
            k.memory.load_image(team, parsed)
            venv = {
                "magic": abi.VENV_MAGIC,
                "stdin_pid": in_pid,
                "stdin_inst": in_inst,
                "stdout_pid": out_pid,
                "stdout_inst": out_inst,
                "stderr_pid": out_pid,
                "stderr_inst": out_inst,
                "fileserver_pid": k.file_server_pid,
                "creator_pid": sender,
                "home_lhid": abi.pid_lhid(sender),
                "flags": abi.VENV_REMOTE if remote else 0,
            }
            sp = k.memory.setup_stack(team, argv, [f"HOST={k.name}"], venv)
        except MemoryError_:
            k.memory.destroy_team(team)
            if not lh.processes and not lh.teams:
                k.lhs.pop(lh.lhid, None)
            return error(abi.ENOMEM)
        # V's priority scheduling: locally invoked programs before remote guests (unless the
        # config says one round robin for all)
        guest = remote and k.config.cpu.local_priority
        proc = k.new_process(lh, argv[0], Priority.GUEST if guest else Priority.LOCAL, team)
        proc.creator = sender
        from emulator.cpu import Registers

        proc.registers = Registers(d=[0] * 8, a=[0] * 7 + [sp], pc=parsed.entry, sr=0)
        self.programs[proc.pid] = ProgramRecord(
            pid=proc.pid, name=argv[0], argv=argv, creator=sender, lhid=lh.lhid, remote=remote,
            host_started=k.name, started_ns=k.sim.now, stdout=(out_pid, out_inst),
            stdin=(in_pid, in_inst), fileserver=k.file_server_pid,
        )
        self.started += 1
        if flags & abi.PM_EXEC_CHECKPOINT and k.checkpoints is not None and lh.processes.keys() == {proc.pid}:
            # started checkpointed: its first checkpoint (the loaded image) is cut before it runs;
            # what it sends waits until that checkpoint is on the file server (checkpoint.first)
            lh.held = True
            k.make_ready(proc)
            ok = yield from k.checkpoints.first(pid, lh, flags >> 8)
            if not ok and proc.state is State.DEAD and k.lhs.get(lh.lhid) is not lh:
                return pack(0, proc.pid)  # it ran to its end meanwhile (with no effect to lose)
            if not ok:
                self.programs.pop(proc.pid, None)
                if k.lhs.get(lh.lhid) is lh:  # it had no effect: it goes without an exit
                    from vkernel.capture import Plan

                    k.remove_lh(lh, Plan(), b"\xff" * 6)
                return error(abi.EIO)
        else:
            k.make_ready(proc)
        log.info("%s: started %s as %#x%s", k.name, " ".join(argv), proc.pid, " (remote)" if remote else "")
        return pack(0, proc.pid)

    def fetch_image(self, pid: int, name: str) -> Generator[Any, Any, bytes | int]:
        """Read a program image from the file server with the I/O protocol (the server MoveTo's it)."""
        k = self.k
        fs = yield from locate.file_server(k)  # asked of the file server group if not known
        if fs <= 0:
            return abi.ENOENT
        raw = name.encode("latin-1")
        mem = k.server_memory(k.processes[pid])
        mem[NAME_AT : NAME_AT + len(raw)] = raw
        replier, reply = yield ops.Send(fs, pack(abi.FS_OPEN, NAME_AT, len(raw), abi.FS_MODE_READ))
        if replier <= 0:
            locate.forget(k, fs, replier)
            return abi.EIO
        status, inst, size = unpack(reply)[:3]
        if status:
            return -signed(status)
        data = bytearray()
        while len(data) < size:
            count = min(IMAGE_CHUNK, size - len(data))
            replier, reply = yield ops.Send(fs, pack(abi.IO_READ, inst, BUFFER_AT, count, len(data)))
            status, got = unpack(reply)[:2]
            if replier <= 0 or status or got == 0:
                break
            data += mem[BUFFER_AT : BUFFER_AT + got]
        yield ops.Send(fs, pack(abi.IO_CLOSE, inst))
        if len(data) != size:
            return abi.EIO
        return bytes(data)

    # --- exits and waiting -----------------------------------------------------------------
    def on_exit(self, proc: Process, status: int) -> None:
        record = self.programs.pop(proc.pid, None)
        if record is None:
            return
        self.changed()
        creator_lhid = abi.pid_lhid(record.creator)
        log.info("%s: %s (%#x) exited with %d", self.k.name, record.name, proc.pid, status)
        if creator_lhid in self.k.lhs:
            self.record_exit(creator_lhid, proc.pid, status)
        else:
            self.notices += 1
            nonce = (self.k.system_lh.lhid << 16 | (self.notices & 0xFFFF)) or 1
            # word 5: 1 + the incarnation of a checkpointed program (its home refuses a void one's)
            ck = self.k.checkpoints
            pol = ck.policies.get(proc.lhid) if ck is not None else None
            inc = 0 if pol is None else 1 + pol.serial // INCARNATION_SERIALS
            notice = pack(abi.PM_EXITED, proc.pid, status, record.creator, nonce, inc)
            group = abi.make_pid(creator_lhid, abi.LOCAL_PROGRAM_MANAGER)

            bound = self.k.sim.now + int(self.k.config.migration.timeout_s * 1e9)

            def notify(pid: int) -> Generator[Any, Any, None]:
                # again while unanswered (a partition), within a bound; the creator's program
                # manager takes a repeated notice once (record_exit)
                while True:
                    replier, _ = yield ops.Send(group, notice)
                    if replier > 0 or self.k.sim.now >= bound:
                        return

            self.k.spawn_server(self.k.system_lh, "pm-exit-notice", notify)

    def record_exit(self, creator_lhid: int, child: int, status: int, notice: int = 0) -> None:
        """A child of a process of creator_lhid ended: answer who waits for it, or keep the status.
        Each exit counts once (a notice sent again after a lost answer is a repeat: same id)."""
        if notice:
            if notice in self.reported:
                return
            self.reported[notice] = child
            while len(self.reported) > 4096:
                self.reported.popitem(last=False)
        if self.k.checkpoints is not None:
            self.k.checkpoints.ended(child)
        state = self.creators.setdefault(creator_lhid, CreatorState())
        for key in (child, 0):  # a waiter for this child first, then one waiting for any child
            waiting = state.waiters.get(key)
            if waiting and self.proc is not None:
                waiter = waiting.pop(0)
                if not waiting:
                    del state.waiters[key]
                self.k.reply(self.proc, pack(0, status, child), waiter)
                return
        state.exits[child] = status

    def wait(self, sender: int, child: int) -> bytes | None:
        """PM_WAIT for one child, or for any child (pid 0); each exit status is reported once."""
        state = self.creators.setdefault(abi.pid_lhid(sender), CreatorState())
        if child == 0 and state.exits:
            child = next(iter(state.exits))
        if child in state.exits:
            return pack(0, state.exits.pop(child), child)
        state.waiters.setdefault(child, []).append(sender)
        return None

    # --- management ----------------------------------------------------------------------
    def control(self, code: int, pid: int) -> int:
        proc = self.k.processes.get(pid)
        if proc is None or proc.team is None:
            return -abi.ENOPROC
        if code == abi.PM_KILL:
            self.k.exit_process(proc, -abi.EKILLED, reason="killed")
        elif code == abi.PM_SUSPEND:
            self.k.suspend(proc)
        else:
            self.k.resume(proc)
        return 0

    def listing(self) -> str:
        lines = []
        for proc in sorted(self.k.processes.values(), key=lambda p: p.pid):
            if proc.team is None:
                continue
            state = "suspended" if proc.suspended else proc.state.value
            if proc.lh.frozen:
                state = "frozen"
            if proc.lh.migration_state:
                state = proc.lh.migration_state  # a migration's state (docs/PROTOCOL.md, Migration)
            lines.append(
                f"{proc.pid:#010x} {proc.name} {self.k.name} {proc.lhid:#06x} {state} "
                f"{proc.cpu_ns // 1_000_000} {proc.team.memory_bytes // 1024}"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    def program_of(self, proc: Process) -> ProgramRecord | None:
        return self.programs.get(proc.pid)

    def running_programs(self) -> list[ProgramRecord]:
        return [r for r in self.programs.values() if r.pid in self.k.processes
                and self.k.processes[r.pid].state is not State.DEAD]
