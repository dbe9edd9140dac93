"""The V kernel of one workstation: logical hosts, the CPU scheduler, IPC and the server processes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from emulator.cpu import Stop
from guest import abi
from vkernel import exactly_once, ops
from vkernel.ledger import UNNAMED, Ledger
from vkernel.memory import MemoryError_, TeamMemory
from vkernel.process import LogicalHost, Priority, Process, State, Team
from vkernel.syscalls import SyscallTable

log = logging.getLogger(__name__)

MSG = abi.MSG_SIZE
LH_PER_MACHINE = 512  # logical-host ids per machine in clusters of up to 127 machines


def lh_stride(machines: int) -> int:
    """Logical-host ids per machine: machine i owns (i + 1) * stride .. + stride - 1, its system
    logical host the first. A pid has 16 bits of lhid, so larger clusters get a smaller power of
    two (1,000 machines: 64 each; 8,000: 8); every kernel of a cluster computes the same."""
    stride = LH_PER_MACHINE
    while stride > 2 and (max(machines, 1) + 1) * stride > 0x10000:
        stride //= 2
    if (max(machines, 1) + 1) * stride > 0x10000:
        raise ValueError(f"{machines} machines: more than a 16-bit logical-host id can number")
    return stride
MAX_RESTARTS = 100  # a server that has failed this often ends instead
THAW_RETRY_NS = 5_000_000  # a local MoveTo/MoveFrom on a frozen logical host tries again after this
STACK_GUARD = 64 * 1024  # an unmapped fault this far below the stack's limit is reported as a stack overflow


def _peer_range_ok(op: ops.MoveTo | ops.MoveFrom) -> bool:
    """A server's MoveTo/MoveFrom names bytes inside a 24-bit address space of the peer."""
    addr, count = (op.dst, len(op.data)) if isinstance(op, ops.MoveTo) else (op.src, op.count)
    return isinstance(addr, int) and isinstance(count, int) and 0 <= count and 0 <= addr <= abi.ADDRESS_SPACE - count


@dataclass(eq=False)
class IpcRequest:
    """A message waiting in a receiver's queue, or received and awaiting its reply."""

    sender: int
    msg: bytes
    remote: Any = None  # transport-level origin of a remote sender (None: local)
    group: int = 0  # the group it was sent to, if any


@dataclass
class Outstanding:
    """The Send a blocked process is waiting on."""

    dst: int
    msg_addr: int = 0  # guest buffer the reply lands in
    msg: bytes = b""  # the request, kept so that a Send can be restarted after a migration
    group: bool = False
    transaction: Any = None  # the transport's record for a remote Send
    deadline: Any = None  # the event that ends a bounded Send (ops.Send.timeout_ms)
    stamp: Any = None  # the counter its answer moves (vkernel/exactly_once.py), if stamped


@dataclass
class FaultReport:
    pid: int
    name: str
    host: str
    pc: int
    what: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid:#010x}) on {self.host}: {self.what} (pc {self.pc:#08x})"


@dataclass
class KernelStats:
    traps: int = 0
    slices: int = 0
    context_switches: int = 0
    faults: int = 0
    bad_calls: int = 0
    instructions: int = 0
    idle_ns: int = 0
    device_wait_ns: int = 0  # time servers spent blocked on a device (ops.DeviceWait), CPU free
    by_call: dict[str, int] = field(default_factory=dict)


class Kernel:
    """One machine's kernel. The hardware (cpu, mmu, frames, nic, ...) comes from emulator/."""

    def __init__(self, sim, machine, config, index: int) -> None:
        self.sim = sim
        self.machine = machine
        # this machine's random draws: its segment's stream (the same wherever the segment runs)
        self.rng = sim.stream(machine.nic.segment.name)
        self.name: str = machine.name
        self.cpu = machine.cpu
        self.mmu = machine.cpu.mmu
        self.frames = machine.frames
        self.config = config
        self.cost = config.cost
        self.ns_per_instruction: int = config.cpu.ns_per_instruction
        self.slice_instructions: int = config.cpu.slice_instructions
        self.index = index
        self.lh_stride = lh_stride(len(getattr(config, "machines", ())))
        self.stats = KernelStats()
        self.ledger = Ledger()  # every cost-model constant charged here, by name (vkernel/ledger.py)
        self._fault_retried: dict[int, int] = {}  # pid -> address of a fault retried (see _fault)
        self.memory = TeamMemory(self)
        self.syscalls = SyscallTable(self)
        self.lhs: dict[int, LogicalHost] = {}
        self.processes: dict[int, Process] = {}
        self.groups: dict[int, set[int]] = {}  # group id -> local member pids
        self._server_mem: dict[int, bytearray] = {}
        self._pending: dict[int, dict[int, IpcRequest]] = {}  # receiver pid -> sender pid -> request
        self._lh_counter = 0
        self.ready: list[list[Process]] = [[] for _ in Priority]
        self.running: Process | None = None
        self.slice_event = None
        self.kernel_free_at = 0  # end of the kernel work queued on this CPU
        self.stolen_ns = 0  # kernel time taken from the running slice
        self.ending_slice = False  # handling the end of a slice (a trap): no new slice starts meanwhile
        self.loaded_ctx: int | None = None
        self.loaded_pid: int | None = None
        self.held: Process | None = None  # whose registers the CPU may hold (hold_registers)
        self.powered = True
        self.faults: list[FaultReport] = []
        self.on_exit: list[Callable[[Process, int], None]] = []  # program manager hooks
        self.on_server_fault: list[Callable[[FaultReport], None]] = []  # a server failed (the front)
        self.transport = None  # vkernel.transport.Transport, wired at boot
        self.migration = None  # vkernel.migration engine, when present
        self.idle = None  # vkernel.idle detector, on workstations
        self.pager = None  # vkernel.paging.Pager, on workstations
        self.flusher = None  # vkernel.paging.Flusher, when the idle policy flushes
        self.checkpoints = None  # vkernel.checkpoint.Checkpoints, on workstations
        self.rfork = None  # vkernel.rfork.RemoteFork, on workstations
        self.file_server_pid = 0  # found by asking the file server group (vkernel/locate.py)
        self.locate_failures = 0  # times no file server answered it
        self.locating = False  # a background query for it is under way (locate.ensure)
        self.display_server: Process | None = None
        self.owner_present = False
        self.servers: dict[str, Any] = {}
        self.system_lh = self.new_logical_host(system=True, name=f"{self.name}-system")

    # --- ids and objects -------------------------------------------------------
    def new_lhid(self) -> int:
        stride = self.lh_stride
        base = (self.index + 1) * stride
        for _ in range(stride):
            lhid = base + self._lh_counter % stride
            self._lh_counter += 1
            if lhid not in self.lhs:
                return lhid
        raise RuntimeError(f"{self.name}: no free logical host ids")

    def new_logical_host(self, *, remote: bool = False, system: bool = False, name: str = "") -> LogicalHost:
        lh = LogicalHost(lhid=self.new_lhid(), name=name, remote=remote, system=system)
        self.lhs[lh.lhid] = lh
        return lh

    def is_local(self, pid: int) -> bool:
        return abi.pid_lhid(pid) in self.lhs

    def new_process(self, lh: LogicalHost, name: str, priority: Priority, team: Team | None = None) -> Process:
        pid = abi.make_pid(lh.lhid, lh.allocate_index())
        proc = Process(pid=pid, lh=lh, name=name, priority=priority, team=team)
        lh.processes[pid] = proc
        self.processes[pid] = proc
        return proc

    def server_memory(self, proc: Process) -> bytearray:
        return self._server_mem.setdefault(proc.pid, bytearray())

    def spawn_server(self, lh: LogicalHost, name: str, body: Callable[[int], Generator], *,
                     restart: bool = False, on_crash: Callable[[Exception], None] | None = None) -> Process:
        """Start a server written in Python as a V process (system priority). A server that raises
        is restarted (`restart`: a fresh body(pid), same pid and groups) or ends; `on_crash` hears
        the exception of one that ends (a one-shot agent)."""
        proc = self.new_process(lh, name, Priority.SYSTEM)
        proc.coroutine = body(proc.pid)
        proc.server_body = body if restart else None
        proc.on_crash = on_crash
        proc.state = State.READY
        self.sim.at(self.sim.now, lambda: self._step_server(proc))
        return proc

    # --- time on this CPU ------------------------------------------------------
    def kernel_work(self, us: float, name: str = UNNAMED) -> int:
        """Charge kernel time to this CPU (ledgered as `name`); returns when that work is done (ns)."""
        ns = int(us * 1000)
        start = max(self.sim.now, self.kernel_free_at)
        self.kernel_free_at = start + ns
        self.ledger.add(name, 1, start, ns)
        if self.slice_event is not None:
            self.stolen_ns += ns
        return self.kernel_free_at

    def charge(self, *charges: str | tuple[str, float]) -> int:
        """Charge cost-model constants to this CPU, one after the other: each a CostModel field name
        (once) or (name, units); the time is the constant's value times the units, and the ledger
        records it under that name. Returns when the work is done (ns)."""
        start = t = max(self.sim.now, self.kernel_free_at)
        for item in charges:
            name, units = (item, 1) if isinstance(item, str) else item
            ns = int(ops.constant(self.config, name) * units * 1000)
            self.ledger.add(name, units, t, ns)
            t += ns
        self.kernel_free_at = t
        if self.slice_event is not None:
            self.stolen_ns += t - start
        return t

    # --- readiness ----------------------------------------------------------------
    def complete(self, proc: Process, value: Any) -> None:
        """Finish the blocking operation of proc with value (d0 for a guest) and make it ready."""
        if proc.state is State.DEAD:
            return
        if proc.team is not None:
            if isinstance(value, bytes | bytearray):  # a MoveFrom's data lands in the guest
                self.memory.write(proc, proc.move_dst, bytes(value))
                value = 0
            if isinstance(value, int):
                proc.registers.d[0] = value & 0xFFFFFFFF
        else:
            proc.resume_value = value
        self.make_ready(proc)

    def make_ready(self, proc: Process) -> None:
        if proc.state is State.DEAD:
            return
        proc.state = State.READY
        if proc.team is None:
            self.sim.at(self.sim.now, lambda: self._step_server(proc))
            return
        self._enqueue(proc)
        self.dispatch()

    def _enqueue(self, proc: Process) -> None:
        queue = self.ready[proc.priority]
        if proc not in queue:
            queue.append(proc)

    def block(self, proc: Process, state: State) -> None:
        proc.state = state
        for queue in self.ready:
            if proc in queue:
                queue.remove(proc)

    # --- the CPU -----------------------------------------------------------------
    def _runnable(self, proc: Process) -> bool:
        return proc.state is State.READY and not proc.suspended and not proc.lh.frozen and not proc.lh.held

    def pick(self) -> Process | None:
        for queue in self.ready:
            for proc in queue:
                if self._runnable(proc):
                    queue.remove(proc)
                    return proc
        return None

    def dispatch(self) -> None:
        """Start a slice if the CPU is free and a guest is ready."""
        if self.slice_event is not None or self.ending_slice or not self.powered:
            return
        proc = self.pick()
        if proc is None:
            return
        start = max(self.sim.now, self.kernel_free_at)
        if proc.pid != self.loaded_pid:  # a context switch (registers, MMU context) comes first
            ns = int(self.cost.context_switch_us * 1000)
            self.ledger.add("context_switch_us", 1, start, ns)
            start += ns
            self.kernel_free_at = start
        self.running = proc
        proc.state = State.RUNNING
        self.slice_event = self.sim.at(start, lambda: self._run_slice(proc))

    def _run_slice(self, proc: Process) -> None:
        if proc.state is not State.RUNNING:  # killed or blocked before its slice began
            self._slice_done()
            return
        team = proc.team
        if team is None:
            self._run_work(proc)
            return
        if self.loaded_pid != proc.pid:
            self.stats.context_switches += 1
            self.loaded_pid = proc.pid
        if self.loaded_ctx != team.ctx:
            self.mmu.switch(team.ctx)
            self.loaded_ctx = team.ctx
        if not (self.held is proc and proc.registers_held):
            # the CPU holds someone else's registers, or the kernel has used (maybe changed) these
            if self.held is not None:
                self.held.release_registers()
            self.cpu.write_registers(proc.registers)
        result = self.cpu.run(self.slice_instructions, self._chain(proc))
        if result.stop is Stop.BUDGET:  # nothing for the kernel to do: registers stay in the CPU
            proc.hold_registers(self.cpu.read_registers)
            self.held = proc
        else:
            proc.registers = self.cpu.read_registers()
            self.held = None
        executed = result.chained_executed + result.executed
        duration = executed * self.ns_per_instruction
        proc.cpu_ns += duration
        if self.ledger.activity is not None:  # a benchmark's trace: the emergent work, per slice
            self.ledger.note("instructions", self.sim.now, self.sim.now + duration)
        self.stats.slices += 1 + result.chained
        self.stats.instructions += executed
        self.slice_event = self.sim.at(self.sim.now + duration, lambda: self._end_slice(proc, result))

    def _run_work(self, proc: Process) -> None:
        """A slice of a Python server's scheduled work (ops.Run): the CPU is the server's for up
        to one slice, then it queues again behind the ready processes of its priority. The
        engine is not touched: a guest's registers stay where they are."""
        if self.loaded_pid != proc.pid:
            self.stats.context_switches += 1
            self.loaded_pid = proc.pid
        duration = min(proc.work_ns, self.slice_instructions * self.ns_per_instruction)
        proc.work_ns -= duration
        self._ledger_work(proc, duration)
        proc.cpu_ns += duration
        self.stats.slices += 1
        self.slice_event = self.sim.at(self.sim.now + duration, lambda: self._end_work(proc))

    def _end_work(self, proc: Process) -> None:
        if self.stolen_ns:
            stolen, self.stolen_ns = self.stolen_ns, 0
            self.slice_event = self.sim.at(self.sim.now + stolen, lambda: self._end_work(proc))
            return
        self.slice_event = None
        self.running = None
        if proc.state is State.RUNNING:
            proc.state = State.READY
            if proc.work_ns:
                self._enqueue(proc)
            else:
                self.sim.at(self.sim.now, lambda: self._step_server(proc))
        self._slice_done()

    def _ledger_work(self, proc: Process, duration: int) -> None:
        """The ledger's record of one slice of scheduled work: its constants in order (the last
        takes any rounding), or unnamed."""
        t = self.sim.now
        left = duration
        charges = proc.work_charges
        while left > 0 and charges:
            name, units, ns = charges[0]
            take = left if len(charges) == 1 else min(left, ns)
            self.ledger.add(name, units * take / ns if ns else 0, t, take)
            t += take
            left -= take
            if take >= ns:
                charges.pop(0)
            else:
                charges[0][2] = ns - take
        if left > 0:
            self.ledger.add(UNNAMED, 1, t, left)

    def run_work(
        self, proc: Process, us: float, priority: int, charges: tuple[tuple[str, float], ...] = ()
    ) -> None:
        """Queue a Python server's CPU work at `priority` (ops.Run); it resumes when done. Named
        `charges` (CostModel constants, (name, units)) are what the ledger records it as."""
        proc.work_ns = max(1, int(us * 1000))
        proc.work_charges = [
            [name, units, int(ops.constant(self.config, name) * units * 1000)] for name, units in charges
        ]
        proc.priority = Priority(priority)
        proc.state = State.READY
        self._enqueue(proc)
        self.dispatch()

    def _chain(self, proc: Process) -> int:
        """How far this slice may run on into further slices of proc within the same event.

        Slice after slice of one process, with no other process ready to take
        the CPU at the slice ends and no event due before the next slice would
        start, is exactly what the event loop would do one slice at a time:
        the same slice ends (Cpu.run keeps them), the same simulated times and
        the same order against every other event. The CPU may start another
        slice while the instructions before it end earlier than the horizon
        (the next event, or the end of the run in progress); 0: one slice.
        """
        if self.stolen_ns or self.kernel_free_at > self.sim.now:
            return 0
        for queue in self.ready[: proc.priority + 1]:  # a slice end would pick any of these first
            for other in queue:
                if self._runnable(other):
                    return 0
        room = self.sim.horizon() - self.sim.now
        if room <= 0:
            return 0
        if room == float("inf"):
            return 1 << 62
        return -(-int(room) // self.ns_per_instruction)  # instructions X with X*ns < room

    def _runs_on(self, proc: Process) -> bool:
        """Whether the end of proc's slice (by the budget) would start its next slice at this very
        instant, with no other event due at it: then the next slice runs in this event."""
        sim = self.sim
        if proc.state is not State.RUNNING or proc.suspended or proc.lh.frozen or proc.lh.held or not self.powered:
            return False
        if self.loaded_pid != proc.pid or self.kernel_free_at > sim.now or sim.limit <= sim.now:
            return False  # a context switch first, kernel work queued, or under step()
        due = sim.peek()
        if due is not None and due <= sim.now:
            return False
        for queue in self.ready[: proc.priority + 1]:  # the dispatch would pick any of these first
            for other in queue:
                if self._runnable(other):
                    return False
        return True

    def _end_slice(self, proc: Process, result) -> None:
        if self.stolen_ns:
            stolen, self.stolen_ns = self.stolen_ns, 0
            self.slice_event = self.sim.at(self.sim.now + stolen, lambda: self._end_slice(proc, result))
            return
        if result.stop is Stop.BUDGET and self._runs_on(proc):
            self._run_slice(proc)  # what the dispatch below would start at once, without its event
            return
        self.slice_event = None
        self.running = None
        self.ending_slice = True  # processes the trap wakes wait until it is handled: one slice at a time
        try:
            self._handle_slice_end(proc, result)
        finally:
            self.ending_slice = False
        self._slice_done()

    def _handle_slice_end(self, proc: Process, result) -> None:
        if proc.state is State.RUNNING:
            proc.state = State.READY
            if result.stop is Stop.TRAP:
                self.stats.traps += 1
                self.charge("trap_us")
                if result.trap == 0:
                    self.syscalls.dispatch(proc)
                else:
                    self.kill(proc, f"trap #{result.trap} (only trap #0 is a system call)", result.pc)
            elif result.stop is Stop.FAULT:
                self._fault(proc, result)
            elif result.stop is Stop.EXCEPTION:
                self.kill(proc, f"exception: {result.exception}", result.pc)
            if proc.state is State.READY:
                self._enqueue(proc)

    def _slice_done(self) -> None:
        self.slice_event = None
        self.running = None
        self.dispatch()

    def _fault(self, proc: Process, result) -> None:
        team = proc.team
        addr = result.fault_address or 0
        if result.fault_kind == "copy-on-write" and team is not None:
            self.mmu.break_cow(team.ctx, addr // abi.PAGE_SIZE)  # saved (checkpoint.py): run it again
            return
        if self.pager is not None and result.fault_kind == "unmapped" and self.pager.missing(team, addr, 1):
            self.page_in(proc, self.pager.missing(team, addr, 1), lambda: self.make_ready(proc))
            return
        if result.fault_kind == "unmapped" and team is not None \
                and self.mmu.entry(team.ctx, addr // abi.PAGE_SIZE) is not None \
                and self._fault_retried.get(proc.pid) != addr:
            self._fault_retried[proc.pid] = addr  # once: the same fault again is a real one
            return  # mapped while the slice ran (the pager's background read): run it again
        if result.fault_kind == "unmapped" and result.fault_access in ("read", "write"):
            try:
                if team is not None and self.memory.grow_stack(team, addr):
                    return
            except MemoryError_ as exc:
                self.kill(proc, f"stack growth failed: {exc}", result.pc)
                return
        self.stats.faults += 1
        limit = abi.STACK_TOP - abi.STACK_MAX
        overflow = (result.fault_kind == "unmapped" and limit - STACK_GUARD <= addr < limit
                    and result.fault_access != "fetch")
        self.kill(
            proc,
            f"fault: {result.fault_access} of {result.fault_kind} page at {addr:#08x}"
            + (f": stack overflow (the stack may grow to {abi.STACK_MAX // 1024} KB)" if overflow else ""),
            result.pc,
        )

    # --- ending processes ------------------------------------------------------
    def kill(self, proc: Process, why: str | None, pc: int = 0, status: int = -1) -> None:
        """End a process: a fault report if why is given; the kernel lives on."""
        if why is not None:
            report = FaultReport(proc.pid, proc.name, self.name, pc, why)
            self.faults.append(report)
            log.warning("%s", report)
        self.exit_process(proc, status, reason=why)

    def exit_process(self, proc: Process, status: int, reason: str | None = None) -> None:
        if proc.state is State.DEAD:
            return
        proc.state = State.DEAD
        proc.exit_status = status
        self.block(proc, State.DEAD)
        if proc.wakeup is not None:
            self.sim.cancel(proc.wakeup)
        if proc.receive_deadline is not None:
            self.sim.cancel(proc.receive_deadline)
        # senders waiting on this process learn that it is gone
        for req in list(proc.msg_queue):
            self.fail_sender(req, -abi.ENOPROC)
        proc.msg_queue.clear()
        for req in list(self.pending_of(proc).values()):
            self.fail_sender(req, -abi.EKILLED)
        self._pending.pop(proc.pid, None)
        if proc.awaiting is not None and proc.awaiting.transaction is not None and self.transport:
            self.transport.cancel(proc.awaiting.transaction)
        for gid in list(proc.groups):
            self.leave_group(proc, gid)
        proc.lh.processes.pop(proc.pid, None)
        self.processes.pop(proc.pid, None)
        self._server_mem.pop(proc.pid, None)
        if self.loaded_pid == proc.pid:
            self.loaded_pid = None
        if self.held is proc:
            self.held = None
        team = proc.team
        if team is not None and not any(p.team is team for p in proc.lh.processes.values()):
            if self.loaded_ctx == team.ctx:
                self.loaded_ctx = None
            self.memory.destroy_team(team)
        for hook in self.on_exit:
            hook(proc, status)
        if not proc.lh.processes and not proc.lh.system and not proc.lh.frozen:
            self.lhs.pop(proc.lh.lhid, None)

    # --- servers written in Python ---------------------------------------------------
    def _step_server(self, proc: Process) -> None:
        """Run a Python process until it blocks; each yielded op is a V primitive."""
        while proc.state is State.READY and proc.coroutine is not None and not proc.work_ns:
            value, proc.resume_value = proc.resume_value, None
            proc.state = State.RUNNING
            try:
                op = proc.coroutine.send(value)
            except StopIteration as stop:
                self.exit_process(proc, stop.value if isinstance(stop.value, int) else 0)
                return
            except Exception as exc:  # a server bug must not take the kernel down
                self._server_failed(proc, exc)
                return
            proc.fresh = False
            proc.state = State.READY
            try:
                self._server_op(proc, op)
            except Exception as exc:  # an operation the kernel could not do (bad arguments)
                self._server_failed(proc, exc)
                return

    def _server_failed(self, proc: Process, exc: Exception) -> None:
        """A server raised: a fault report (one log line), an error reply (-EIO) to every request
        it held, then a fresh body at the same pid and groups (if it restarts, and got as far as
        one operation since the last restart, so a server that fails at once does not loop) or
        its end."""
        if proc.state is State.DEAD:
            return
        restart = proc.server_body is not None and not proc.fresh and proc.restarts < MAX_RESTARTS
        report = FaultReport(proc.pid, proc.name, self.name, 0,
                             f"server failed: {type(exc).__name__}: {exc}"
                             + ("; restarted" if restart else ""))
        self.faults.append(report)
        log.warning("%s", report)
        log.debug("%s: server %s failed", self.name, proc.name, exc_info=exc)
        for listener in self.on_server_fault:
            listener(report)
        held = list(self.pending_of(proc).values())
        self._pending.pop(proc.pid, None)
        for req in held:
            self.fail_sender(req, -abi.EIO)
        if not restart:
            proc.coroutine = None
            self.kill(proc, None)
            if proc.on_crash is not None:
                proc.on_crash(exc)
            return
        for event in (proc.wakeup, proc.receive_deadline):
            if event is not None:
                self.sim.cancel(event)
        proc.wakeup = proc.receive_deadline = None
        if proc.awaiting is not None and proc.awaiting.transaction is not None and self.transport:
            self.transport.cancel(proc.awaiting.transaction)
        proc.awaiting = None
        proc.restarts += 1
        proc.fresh = True
        proc.resume_value = None
        proc.coroutine = proc.server_body(proc.pid)
        proc.state = State.READY
        self.sim.at(self.sim.now, lambda: self._step_server(proc))

    def _server_op(self, proc: Process, op: Any) -> None:
        if isinstance(op, ops.Receive):
            self.receive(proc, 0, timeout_ms=op.timeout_ms)
        elif isinstance(op, ops.Send):
            self.send(proc, op.msg, op.pid)
            if op.timeout_ms is not None and proc.state is State.SEND_BLOCKED:
                self._bound_send(proc, op.timeout_ms)
        elif isinstance(op, ops.Reply):
            proc.resume_value = self.reply(proc, op.msg, op.pid)
        elif isinstance(op, ops.Forward):
            proc.resume_value = self.forward(proc, op.msg, op.from_pid, op.to_pid)
        elif isinstance(op, ops.MoveTo | ops.MoveFrom) and not _peer_range_ok(op):
            proc.resume_value = -abi.EFAULT  # a forged address: outside any address space
        elif isinstance(op, ops.MoveTo):
            self.move_to(proc, op.pid, op.dst, op.data)
        elif isinstance(op, ops.MoveFrom):
            self.move_from(proc, op.pid, op.src, op.count)
        elif isinstance(op, ops.Delay):
            if op.charge:  # a calibrated wait (a cost-model constant), not CPU: ledgered as such
                value_ns = ops.constant(self.config, op.charge) * 1000
                self.ledger.add(
                    op.charge, op.ns / value_ns if value_ns else 0, self.sim.now, max(0, op.ns), wait=True
                )
            self.delay(proc, op.ns)
        elif isinstance(op, ops.DeviceWait):  # like a Delay: blocked, charging no CPU
            self.stats.device_wait_ns += max(0, op.ns)
            self.ledger.note("disk", self.sim.now, self.sim.now + op.ns)
            self.delay(proc, op.ns)
        elif isinstance(op, ops.Compute):
            self.block(proc, State.DELAYED)
            done = self.charge(*op.charges) if op.charges else self.kernel_work(op.us)
            proc.wakeup = self.sim.at(done, lambda: self._wake(proc, 0))
        elif isinstance(op, ops.Run):
            self.run_work(proc, op.us, op.priority, op.charges)
        elif isinstance(op, ops.JoinGroup):
            proc.resume_value = self.join_group(proc, op.gid)
        elif isinstance(op, ops.Spawn):
            child = self.spawn_server(proc.lh, op.name, op.body)  # type: ignore[arg-type]
            proc.resume_value = child.pid
        else:
            self.kill(proc, f"server yielded {op!r}, not a V operation")

    # --- power -------------------------------------------------------------------------
    def crash(self) -> None:
        """The machine stops dead: every process, logical host and pending operation is gone."""
        self.powered = False
        if self.slice_event is not None:
            self.sim.cancel(self.slice_event)
            self.slice_event = None
        for proc in list(self.processes.values()):
            for event in (proc.wakeup, proc.receive_deadline):
                if event is not None:
                    self.sim.cancel(event)
            proc.state = State.DEAD
        if self.transport is not None:
            self.transport.shutdown()
        self.machine.power_off()

    # --- a logical host's state, out and in (vkernel/capture.py) --------------------------
    def _capture(self):
        from vkernel.capture import LhCapture

        if getattr(self, "_lh_capture", None) is None:
            self._lh_capture = LhCapture(self)
        return self._lh_capture

    def capture_lh(self, lh: LogicalHost, plan, worker: int = 0, teams=None) -> dict[str, Any]:
        """The whole state of lh (pages aside) as a JSON-able dict; plan records what remove_lh must do."""
        return self._capture().capture(lh, list(lh.teams if teams is None else teams), plan, worker)

    def remove_lh(self, lh: LogicalHost, plan, dest_mac: bytes) -> None:
        """Delete lh here: its processes, teams and IPC state (its copy lives at dest_mac)."""
        self._capture().remove(lh, plan, dest_mac)

    def stage_lh(self, lh: LogicalHost, old_lhid: int, state: dict[str, Any], teams=None) -> dict[str, Any]:
        """Check a captured state against lh (a frozen copy with its pages) and stage it."""
        return self._capture().stage(lh, list(lh.teams if teams is None else teams), old_lhid, state)

    def restore_lh(self, lh: LogicalHost, old_lhid: int, staged: dict[str, Any], teams=None) -> None:
        """The staged copy lh takes the id old_lhid and runs."""
        self._capture().restore(lh, list(lh.teams if teams is None else teams), old_lhid, staged)

    # --- management ------------------------------------------------------------------
    def suspend(self, proc: Process) -> None:
        proc.suspended = True
        for queue in self.ready:
            if proc in queue:
                queue.remove(proc)

    def resume(self, proc: Process) -> None:
        if not proc.suspended:
            return
        proc.suspended = False
        if proc.state is State.READY:
            self._enqueue(proc)
            self.dispatch()

    def runnable_guests(self) -> int:
        """Programs ready or running (a server's scheduled work, ops.Run, is not a program)."""
        count = sum(1 for q in self.ready for p in q if p.team is not None and self._runnable(p))
        running = self.running
        return count + (1 if running is not None and running.team is not None else 0)

    def load(self) -> float:
        """Runnable programs (a load average without the averaging)."""
        return float(self.runnable_guests())

    def willing(self) -> bool:
        """Whether this machine accepts remote programs now (the idle policy, vkernel/idle.py)."""
        if self.idle is not None:
            return self.idle.willing()
        idle = self.config.idle
        if self.owner_present or not self.powered:
            return False
        if self.load() > idle.load_threshold:
            return False
        return self.frames.free_count * 4 >= idle.min_free_memory_kb

    # --- delays ------------------------------------------------------------------
    def delay(self, proc: Process, ns: int) -> None:
        self.block(proc, State.DELAYED)
        proc.wakeup = self.sim.at(self.sim.now + max(0, ns), lambda: self._wake(proc, 0))

    def _wake(self, proc: Process, value: Any) -> None:
        proc.wakeup = None
        if proc.state is State.DELAYED:
            self.complete(proc, value)

    # --- IPC: Send / Receive / Reply / Forward ---------------------------------------
    def pending_of(self, proc: Process) -> dict[int, IpcRequest]:
        """Requests proc has received and not yet replied to, by sender pid."""
        return self._pending.setdefault(proc.pid, {})

    def send(self, proc: Process, msg: bytes, dst: int, msg_addr: int = 0, stamp: Any = None) -> None:
        """Send msg to dst (a pid or a group) and block until the reply."""
        prev = proc.awaiting
        if stamp is None and prev is not None and prev.msg == msg:
            stamp = prev.stamp  # the same request sent again (restarted, forwarded): same counter
        self.charge("ipc_op_us", "frozen_check_us")
        if dst == proc.pid:  # it would wait for itself forever
            if proc.team is not None:
                proc.registers.d[0] = -abi.EINVAL & 0xFFFFFFFF
            else:
                proc.resume_value = (-abi.EINVAL, b"")
            return
        self.block(proc, State.SEND_BLOCKED)
        proc.awaiting = Outstanding(dst=dst, msg_addr=msg_addr, group=abi.is_group(dst), msg=msg, stamp=stamp)
        if abi.is_group(dst):
            self.send_group(proc, msg, dst)
            return
        if self.is_local(dst):
            self.deliver(IpcRequest(proc.pid, msg), dst)
        elif self.transport is not None:
            proc.awaiting.transaction = self.transport.send_request(proc, dst, msg)
        else:
            self.finish_send(proc, -abi.ENOPROC, b"")

    def deliver(self, req: IpcRequest, dst: int) -> bool:
        """Queue a request at a local process; False (and the sender failed) if there is none."""
        target = self.processes.get(dst)
        if target is None or target.state is State.DEAD:
            self.fail_sender(req, -abi.ENOPROC)
            return False
        if target.lh.frozen and req.remote is None:
            target.lh.deferred.append((req, dst))  # redelivered or restarted after the freeze
            return True
        target.msg_queue.append(req)
        if target.state is State.RECEIVE_BLOCKED and not target.lh.frozen:
            self._complete_receive(target)
        return True

    def receive(self, proc: Process, buf: int, timeout_ms: int | None = None) -> None:
        proc.receive_target = buf
        if proc.msg_queue and not proc.lh.frozen:
            self._complete_receive(proc, now=True)
            return
        self.block(proc, State.RECEIVE_BLOCKED)
        if timeout_ms is not None:
            proc.receive_deadline = self.sim.at(
                self.sim.now + max(0, timeout_ms) * 1_000_000, lambda: self._receive_timeout(proc)
            )

    def _receive_timeout(self, proc: Process) -> None:
        proc.receive_deadline = None
        if proc.state is State.RECEIVE_BLOCKED:
            self.complete(proc, -abi.ETIMEOUT if proc.team is not None else (0, b""))

    def _complete_receive(self, proc: Process, now: bool = False) -> None:
        req = proc.msg_queue.popleft()
        if proc.receive_deadline is not None:
            self.sim.cancel(proc.receive_deadline)
            proc.receive_deadline = None
        self.pending_of(proc)[req.sender] = req
        if proc.team is not None:
            self.memory.write(proc, proc.receive_target, req.msg)
            value: Any = req.sender
        else:
            value = (req.sender, req.msg)
        if now:  # the process did not block: hand the value back directly
            if proc.team is not None:
                proc.registers.d[0] = req.sender
            else:
                proc.resume_value = value
            return
        self.complete(proc, value)

    def reply(self, proc: Process, msg: bytes | None, dst: int) -> int:
        """Reply to a request proc received; msg None declines (a group member that stays silent)."""
        self.charge("ipc_op_us", "frozen_check_us")
        req = self.pending_of(proc).pop(dst, None)
        if req is None:
            return -abi.ENOTAWAITING
        if msg is None:
            if req.remote is not None and self.transport is not None:
                self.transport.send_reply(req, None, proc.pid)
            return 0
        self.reply_to(req, msg, proc.pid)
        return 0

    def reply_to(self, req: IpcRequest, msg: bytes, replier: int) -> None:
        if req.remote is not None:
            self.transport.send_reply(req, msg, replier)
            return
        sender = self.processes.get(req.sender)
        if sender is None or sender.state is not State.SEND_BLOCKED or sender.awaiting is None:
            return  # gone, or a group send that another member already answered
        self.finish_send(sender, replier, msg)

    def finish_send(self, proc: Process, replier: int, msg: bytes) -> None:
        """A Send completes: the reply (or an error as replier <= 0) reaches the sender."""
        out = proc.awaiting
        if proc.state is not State.SEND_BLOCKED or out is None:
            return
        proc.awaiting = None
        if out.stamp is not None:
            exactly_once.answered(self, proc, out.stamp, replier, msg)
        if out.deadline is not None:
            self.sim.cancel(out.deadline)
        if out.transaction is not None and self.transport is not None:
            # e.g. a group Send a local member answered: its retransmissions (and their final
            # ETIMEOUT, which would land on the sender's next Send) stop here
            self.transport.cancel(out.transaction)
        if proc.team is not None:
            if replier > 0 and msg:
                self.memory.write(proc, out.msg_addr, msg.ljust(MSG, b"\0")[:MSG])
            self.complete(proc, replier)
        else:
            self.complete(proc, (replier, msg))

    def _bound_send(self, proc: Process, timeout_ms: int) -> None:
        """A server's Send with a bound (the migration engine's): at the deadline it fails with
        ETIMEOUT; a local receiver's copy of the request is withdrawn, so a late reply finds no
        sender waiting (a remote one finds no transaction)."""
        out = proc.awaiting

        def expire() -> None:
            if proc.awaiting is not out or proc.state is not State.SEND_BLOCKED:
                return
            target = self.processes.get(out.dst)
            if target is not None:
                target.msg_queue = type(target.msg_queue)(
                    r for r in target.msg_queue if not (r.sender == proc.pid and r.remote is None))
                pending = self._pending.get(target.pid, {})
                if pending.get(proc.pid) is not None and pending[proc.pid].remote is None:
                    del pending[proc.pid]
            for lh in self.lhs.values():
                if lh.deferred:
                    lh.deferred = [(r, d) for r, d in lh.deferred if not (r.sender == proc.pid and r.remote is None)]
            out.deadline = None
            self.finish_send(proc, -abi.ETIMEOUT, b"")

        out.deadline = self.sim.at(self.sim.now + max(0, timeout_ms) * 1_000_000, expire)

    def fail_sender(self, req: IpcRequest, error: int) -> None:
        if req.remote is not None:
            if self.transport is not None:
                self.transport.send_nack(req, error)
            return
        sender = self.processes.get(req.sender)
        if sender is not None and sender.awaiting is not None and not sender.awaiting.group:
            self.finish_send(sender, error, b"")

    def forward(self, proc: Process, msg: bytes, from_pid: int, to_pid: int) -> int:
        req = self.pending_of(proc).pop(from_pid, None)
        if req is None:
            return -abi.ENOTAWAITING
        new = IpcRequest(req.sender, msg, remote=req.remote, group=0)
        sender = self.processes.get(req.sender) if req.remote is None else None
        if sender is not None and sender.awaiting is not None:
            sender.awaiting.dst = to_pid
        if self.is_local(to_pid):
            if req.remote is not None and self.transport is not None:
                self.transport.notify_forwarded(req, to_pid)
            self.deliver(new, to_pid)
        elif self.transport is not None:
            self.transport.forward_request(new, to_pid)
        else:
            self.fail_sender(req, -abi.ENOPROC)
        return 0

    # --- groups -----------------------------------------------------------------
    def join_group(self, proc: Process, gid: int) -> int:
        if not abi.is_group(gid):
            return -abi.EINVAL
        if proc.team is not None and abi.is_well_known_group(gid):
            return -abi.EPERM  # a guest answering for the program managers would hijack them
        self.groups.setdefault(gid, set()).add(proc.pid)
        proc.groups.add(gid)
        if self.transport is not None:
            self.transport.joined_group(gid)
        return 0

    def leave_group(self, proc: Process, gid: int) -> int:
        members = self.groups.get(gid)
        if not members or proc.pid not in members:
            return -abi.EINVAL
        members.discard(proc.pid)
        proc.groups.discard(gid)
        if not members:
            del self.groups[gid]
        return 0

    def local_group_target(self, gid: int) -> int | None:
        """A logical host's local group (its machine's kernel server or program manager)."""
        index = abi.pid_index(gid)
        if index not in (abi.LOCAL_KERNEL_SERVER, abi.LOCAL_PROGRAM_MANAGER):
            return None
        server = self.kernel_server if index == abi.LOCAL_KERNEL_SERVER else self.program_manager
        return server.pid if server is not None else None

    kernel_server: Process | None = None
    program_manager: Process | None = None

    def send_group(self, proc: Process, msg: bytes, gid: int) -> None:
        local_target = self.local_group_target(gid)
        if local_target is not None:
            if self.is_local(gid):
                self.charge("local_group_us")
                req = IpcRequest(proc.pid, msg, group=gid)
                lh = self.lhs[abi.pid_lhid(gid)]
                if lh.frozen and proc.lh is not lh:
                    lh.deferred.append((req, local_target))  # its servers' state is being moved
                else:
                    self.deliver(req, local_target)
            elif self.transport is not None:
                proc.awaiting.transaction = self.transport.send_request(proc, gid, msg)
            else:
                self.finish_send(proc, -abi.ENOPROC, b"")
            return
        for member in sorted(self.groups.get(gid, ())):
            if member != proc.pid:
                self.deliver(IpcRequest(proc.pid, msg, group=gid), member)
        if self.transport is not None:
            proc.awaiting.transaction = self.transport.send_group(proc, gid, msg)
        elif not self.groups.get(gid):
            self.finish_send(proc, -abi.ENOPROC, b"")

    # --- MoveTo / MoveFrom -----------------------------------------------------------
    def move_to(self, proc: Process, pid: int, dst: int, data: bytes) -> None:
        target = self._move_peer(proc, pid, dst, len(data), True, lambda: self.move_to(proc, pid, dst, data),
                                 lambda req: self.transport.move_to(proc, req, dst, data))
        if target is None:
            return
        self.memory.write(target, dst, data)
        self.block(proc, State.MOVING)
        pages = -(-len(data) // abi.PAGE_SIZE)
        self.sim.at(self.charge(("local_page_copy_us", pages)), lambda: self.complete(proc, 0))

    def move_from(self, proc: Process, pid: int, src: int, count: int) -> None:
        source = self._move_peer(proc, pid, src, count, False, lambda: self.move_from(proc, pid, src, count),
                                 lambda req: self.transport.move_from(proc, req, src, count))
        if source is None:
            return
        data = self.memory.read(source, src, count)
        self.block(proc, State.MOVING)
        pages = -(-count // abi.PAGE_SIZE)
        self.sim.at(self.charge(("local_page_copy_us", pages)), lambda: self.complete(proc, data))

    def _move_peer(self, proc: Process, pid: int, addr: int, n: int, write: bool,
                   again: Callable[[], None], remote: Callable[[IpcRequest], None]) -> Process | None:
        """What MoveTo and MoveFrom check first. The peer must await a reply from proc; a remote
        peer's move goes to the transport; a frozen peer, or non-resident pages, make proc wait and
        try `again`. Returns the local peer when the bytes can move now (None: handled)."""
        self.charge("frozen_check_us")
        req = self.pending_of(proc).get(pid)
        if req is None:
            self.complete(proc, -abi.ENOTAWAITING)
            return None
        if req.remote is not None:
            self.block(proc, State.MOVING)
            remote(req)
            return None
        peer = self.processes.get(pid)
        if peer is not None and peer.lh.frozen and peer.lh is not proc.lh:
            self._retry_when_thawed(proc, again)
            return None
        missing = self.pager.missing(peer.team, addr, n) if peer is not None and self.pager else set()
        if missing:
            self.block(proc, State.MOVING)
            self.pager.request(peer.team, missing, again)
            return None
        if peer is None or not self.memory.check(peer, addr, n, write=write):
            self.complete(proc, -abi.EFAULT)
            return None
        return peer

    def page_in(self, proc: Process, vpages: set[int], then: Callable[[], None]) -> None:
        """proc waits while the pager brings non-resident pages of its team in, then `then` runs."""
        self.block(proc, State.MOVING)
        self.pager.request(proc.team, vpages, then)

    def _retry_when_thawed(self, proc: Process, again: Callable[[], None]) -> None:
        """A local MoveTo/MoveFrom on a frozen logical host waits (it may migrate meanwhile)."""
        self.block(proc, State.MOVING)
        self.sim.at(self.sim.now + THAW_RETRY_NS, again)
