"""One workstation (CPU, MMU, memory) running one program at a time under a minimal trap handler, until the V kernel."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from emulator.cpu import DEFAULT_SLICE, Cpu, Registers, SliceResult, Stop
from emulator.loader import Image, install, load_image
from emulator.memory import FrameAllocator, OutOfMemory
from emulator.mmu import Mmu, Prot
from guest import abi
from guest.startup import build_initial_stack

log = logging.getLogger(__name__)

PAGE = Mmu.PAGE_SIZE
RW = Prot.READ | Prot.WRITE
LHID = 1
PROGRAM_PID = abi.make_pid(LHID, 1)
CONSOLE_PID = abi.make_pid(LHID, 2)  # stdout and stderr: the console's display server
STDOUT_INST, STDERR_INST = 1, 2
STACK_GUARD = 64 * 1024  # faults this far below the stack limit are reported as a stack overflow


@dataclass(frozen=True)
class FaultReport:
    """How a program ended abnormally: 'fault: write to unmapped page at 0x00F00000 (pc 0x00001234)'."""

    kind: str  # 'fault' | 'exception' | 'trap' | 'limit'
    message: str
    pc: int
    address: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ProgramResult:
    output: str  # everything written to stdout and stderr, in order
    exit_status: int | None  # None: it did not exit (fault or instruction limit)
    fault: FaultReport | None
    instructions: int
    sim_ns: int


def _signed(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class LoadedProgram:
    """The state of a loaded program that the minimal handler needs."""

    def __init__(self, ctx: int, brk: int, stack_low: int, registers: Registers) -> None:
        self.ctx = ctx
        self.registers = registers
        self.heap_start = brk
        self.brk = brk
        self.stack_low = stack_low
        self.output = bytearray()
        self.exit_status: int | None = None
        self.delay_ns = 0


class Workstation:
    """A Sun-2-class machine: a 68010 with an MMU and memory_bytes of RAM.

    run_program() stands in for the V kernel: it loads an image into a fresh
    context and handles SYS_EXIT, SYS_SEND of IO_WRITE to the console,
    SYS_SBRK, SYS_TIME, SYS_DELAY and SYS_GETPID; every other call gets
    -EBADCALL (a Send to anyone but the console gets -ENOPROC).
    """

    def __init__(
        self,
        memory_bytes: int = 2 * 1024 * 1024,
        ns_per_instruction: int = 1000,
        slice_instructions: int = DEFAULT_SLICE,
    ) -> None:
        self.cpu = Cpu(memory_bytes)
        self.mmu = self.cpu.mmu
        self.frames = FrameAllocator(memory_bytes // PAGE)
        self.ns_per_instruction = ns_per_instruction
        self.slice_instructions = slice_instructions

    # --- programs --------------------------------------------------------------------
    def run_program(
        self,
        image_path: str | Path | Image,
        argv: list[str],
        max_instructions: int = 1_000_000_000,
        *,
        envp: list[str] | None = None,
    ) -> ProgramResult:
        """Load and run a program to its exit, a fault, or max_instructions; the host always survives."""
        image = image_path if isinstance(image_path, Image) else load_image(image_path)
        ctx = self.mmu.create_context()
        try:
            return self._run(ctx, image, argv, envp or [], max_instructions)
        finally:
            for vpage in self.mmu.mapped_pages(ctx):
                self.frames.free(self.mmu.unmap(ctx, vpage))
            self.mmu.destroy_context(ctx)

    def _run(
        self, ctx: int, image: Image, argv: list[str], envp: list[str], limit: int
    ) -> ProgramResult:
        prog = self.load(ctx, image, argv, envp)
        self.mmu.switch(ctx)
        self.cpu.write_registers(prog.registers)
        executed = 0
        fault: FaultReport | None = None
        while prog.exit_status is None:
            if executed >= limit:
                pc = self.cpu.read_registers().pc
                fault = FaultReport(
                    "limit", f"limit: {limit} instructions executed (pc 0x{pc:08X})", pc
                )
                break
            result = self.cpu.run(min(self.slice_instructions, limit - executed))
            executed += result.executed
            fault = self.handle(prog, result, executed)
            if fault is not None:
                break
        sim_ns = executed * self.ns_per_instruction + prog.delay_ns
        output = prog.output.decode("utf-8", errors="replace")
        return ProgramResult(output, prog.exit_status, fault, executed, sim_ns)

    def load(
        self, ctx: int, image: Image, argv: list[str], envp: list[str] | None = None
    ) -> LoadedProgram:
        """Install image in ctx with its initial stack; the program's registers are ready to run."""
        info = install(self.mmu, self.frames, ctx, image)
        venv = {
            "stdout_pid": CONSOLE_PID,
            "stdout_inst": STDOUT_INST,
            "stderr_pid": CONSOLE_PID,
            "stderr_inst": STDERR_INST,
            "creator_pid": CONSOLE_PID,
            "home_lhid": LHID,
        }
        blob, sp = build_initial_stack(argv, envp or [], venv)
        low = min(sp, abi.STACK_TOP - abi.STACK_INITIAL) // PAGE * PAGE
        for vpage in range(low // PAGE, abi.STACK_TOP // PAGE):
            self._map_zero(ctx, vpage)
        self.mmu.write(ctx, abi.STACK_TOP - len(blob), blob, force=True)
        return LoadedProgram(ctx, info.brk, low, Registers.initial(info.entry, sp))

    def handle(self, prog: LoadedProgram, result: SliceResult, executed: int) -> FaultReport | None:
        """The minimal kernel: serve a system call or grow the stack; a report if the program must end.

        executed: the program's instructions so far (its clock). The CPU must
        hold the program's registers and context.
        """
        if result.stop is Stop.BUDGET:
            return None
        if result.stop is Stop.TRAP and result.trap == 0:
            self._syscall(prog, executed)
            return None
        if result.stop is Stop.FAULT and self._grow_stack(prog, result):
            return None
        return self._report(prog, result)

    def _report(self, prog: LoadedProgram, result: SliceResult) -> FaultReport:
        if result.stop is Stop.TRAP:
            pc = (result.pc - 2) & 0xFFFFFFFF
            return FaultReport(
                "trap", f"exception: trap #{result.trap} (not a system call) at pc 0x{pc:08X}", pc
            )
        message = result.describe()
        limit = abi.STACK_TOP - abi.STACK_MAX
        if (
            result.stop is Stop.FAULT
            and result.fault_kind == "unmapped"
            and result.fault_address is not None
            and limit - STACK_GUARD <= result.fault_address < limit
        ):
            message += f": stack overflow (the stack may grow to {abi.STACK_MAX // 1024} KB)"
        kind = "fault" if result.stop is Stop.FAULT else "exception"
        return FaultReport(kind, message, result.pc, result.fault_address)

    # --- memory ------------------------------------------------------------------------
    def _map_zero(self, ctx: int, vpage: int) -> None:
        frame = self.frames.alloc()
        self.cpu.phys_write(frame * PAGE, bytes(PAGE))
        self.mmu.map(ctx, vpage, frame, RW)

    def _grow_stack(self, prog: LoadedProgram, result: SliceResult) -> bool:
        addr = result.fault_address
        if result.fault_kind != "unmapped" or result.fault_access == "fetch" or addr is None:
            return False
        if not abi.STACK_TOP - abi.STACK_MAX <= addr < prog.stack_low:
            return False
        try:
            for vpage in range(
                prog.stack_low // PAGE - 1, addr // PAGE - 1, -1
            ):  # downwards, contiguous
                self._map_zero(prog.ctx, vpage)
                prog.stack_low = vpage * PAGE
        except OutOfMemory:
            return False
        return True

    def _sbrk(self, prog: LoadedProgram, increment: int) -> int:
        old = prog.brk
        new = old + increment
        if new < prog.heap_start or new > abi.STACK_TOP - abi.STACK_MAX:
            return -abi.ENOMEM
        first, last = (old + PAGE - 1) // PAGE, (new + PAGE - 1) // PAGE
        mapped = []
        try:
            for vpage in range(first, last):
                self._map_zero(prog.ctx, vpage)
                mapped.append(vpage)
        except OutOfMemory:
            for vpage in mapped:
                self.frames.free(self.mmu.unmap(prog.ctx, vpage))
            return -abi.ENOMEM
        for vpage in range(last, first):  # shrinking
            self.frames.free(self.mmu.unmap(prog.ctx, vpage))
        prog.brk = new
        return old

    # --- the minimal system-call handler ---------------------------------------------------
    def _syscall(self, prog: LoadedProgram, executed: int) -> None:
        regs = self.cpu.read_registers()
        number = regs.d[0]
        d1 = regs.d[1]
        result: int
        if number == abi.SYS_EXIT:
            prog.exit_status = _signed(d1)
            return
        if number == abi.SYS_SEND:
            result = self._send(prog, d1, regs.d[2])
        elif number == abi.SYS_SBRK:
            result = self._sbrk(prog, _signed(d1))
        elif number == abi.SYS_TIME:
            now_ns = executed * self.ns_per_instruction + prog.delay_ns
            result = now_ns // 1_000_000
            regs.d[1] = (now_ns // 1000) % 1000
        elif number == abi.SYS_DELAY:
            prog.delay_ns += max(0, _signed(d1)) * 1_000_000
            result = 0
        elif number == abi.SYS_GETPID:
            result = {abi.PID_SELF: PROGRAM_PID, abi.PID_CREATOR: CONSOLE_PID}.get(d1, -abi.ENOPROC)
        else:
            log.info("program made system call %d: -EBADCALL", number)
            result = -abi.EBADCALL
        regs.d[0] = result & 0xFFFFFFFF
        self.cpu.write_registers(regs)

    def _send(self, prog: LoadedProgram, msg_addr: int, pid: int) -> int:
        if pid != CONSOLE_PID:
            return -abi.ENOPROC
        if not self.mmu.check(prog.ctx, msg_addr, abi.MSG_SIZE, write=True):
            return -abi.EFAULT
        msg = list(struct.unpack(">8i", self.mmu.read(prog.ctx, msg_addr, abi.MSG_SIZE)))
        code, _inst, buf, count = msg[0], msg[1], msg[2] & 0xFFFFFFFF, msg[3]
        if code != abi.IO_WRITE:
            reply = [-abi.EBADCALL, 0, 0, 0, 0, 0, 0, 0]
        elif count < 0 or not self.mmu.check(prog.ctx, buf, count, write=False):
            reply = [-abi.EFAULT, 0, 0, 0, 0, 0, 0, 0]
        else:
            data = self.mmu.read(prog.ctx, buf, count)
            prog.output += data
            reply = [abi.OK, count, 0, 0, 0, 0, 0, 0]
        self.mmu.write(prog.ctx, msg_addr, struct.pack(">8i", *reply))
        return CONSOLE_PID

    def close(self) -> None:
        self.cpu.close()
