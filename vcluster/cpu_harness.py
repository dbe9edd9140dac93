"""The bare CPU layer for the CPU benchmark: one program on a Cpu and its Mmu, slice by slice.

Not a kernel. The program's memory is vkernel's own (vkernel.memory.TeamMemory
on `BareMachine`: loading, the initial stack, sbrk, demand stack growth) and
the trap handler only keeps the run going: SYS_EXIT ends it, an IO_WRITE Send
to the console is kept (so that every slicing can be checked to print the
same), SYS_SBRK goes to TeamMemory, SYS_TIME reads the instruction clock
(plus what SYS_DELAY asked to sleep), SYS_GETPID is the program's pid; every
other call is counted and answered -EBADCALL. A stop the stack does not grow
over ends the run with the CPU's own description of it (`SliceResult.describe`);
fault reports, system calls and their checks are the V kernel's
(vkernel/kernel.py, vkernel/syscalls.py).
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from configs.schema import CostModel
from emulator.cpu import DEFAULT_SLICE, Cpu, Registers, SliceResult, Stop
from emulator.loader import Image, load_image
from emulator.memory import FrameAllocator
from emulator.mmu import Mmu
from guest import abi
from vkernel.memory import MemoryError_, TeamMemory
from vkernel.process import LogicalHost, Team

PAGE = Mmu.PAGE_SIZE
LHID = 1
PROGRAM_PID = abi.make_pid(LHID, 1)
CONSOLE_PID = abi.make_pid(LHID, 2)  # stdout and stderr: the console, whose bytes are kept


class BareMachine:
    """What vkernel's TeamMemory needs of a kernel: a CPU with its MMU and page frames; no
    kernel time is charged (time here is instructions x ns)."""

    def __init__(self, memory_bytes: int) -> None:
        self.cpu = Cpu(memory_bytes)
        self.mmu = self.cpu.mmu
        self.frames = FrameAllocator(memory_bytes // PAGE)
        self.cost = CostModel()

    def kernel_work(self, us: float) -> None:
        pass

    def server_memory(self, proc):  # pragma: no cover - the harness runs no Python process
        raise TypeError("the bare CPU runs no server")


@dataclass
class LoadedProgram:
    team: Team
    registers: Registers
    output: bytearray = field(default_factory=bytearray)
    exit_status: int | None = None
    delay_ns: int = 0
    calls: Counter[int] = field(default_factory=Counter)  # system calls by number

    @property
    def ctx(self) -> int:
        return self.team.ctx


@dataclass(frozen=True)
class ProgramResult:
    output: str  # everything written to the console, in order
    exit_status: int | None  # None: it did not exit (a stop, or the instruction limit)
    stopped: str | None  # why it stopped without exiting: the CPU's description, or the limit
    instructions: int
    sim_ns: int
    calls: dict[int, int]


def _signed(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class BareCpu:
    """A Sun-2-class CPU, MMU and memory_bytes of RAM running one program at a time."""

    def __init__(
        self,
        memory_bytes: int = 2 * 1024 * 1024,
        ns_per_instruction: int = 1000,
        slice_instructions: int = DEFAULT_SLICE,
    ) -> None:
        self.machine = BareMachine(memory_bytes)
        self.cpu = self.machine.cpu
        self.mmu = self.machine.mmu
        self.frames = self.machine.frames
        self.memory = TeamMemory(self.machine)
        self.lh = LogicalHost(LHID, name="bare")
        self.ns_per_instruction = ns_per_instruction
        self.slice_instructions = slice_instructions

    def load(self, image: Image, argv: list[str], envp: list[str] | None = None) -> LoadedProgram:
        """A team with the image and its initial stack (vkernel's TeamMemory); registers ready."""
        team = self.memory.create_team(self.lh, argv[0] if argv else "program", argv)
        self.memory.load_image(team, image)
        venv = {
            "stdout_pid": CONSOLE_PID,
            "stdout_inst": 1,
            "stderr_pid": CONSOLE_PID,
            "stderr_inst": 2,
            "creator_pid": CONSOLE_PID,
            "home_lhid": LHID,
        }
        sp = self.memory.setup_stack(team, argv, envp or [], venv)
        return LoadedProgram(team, Registers.initial(image.entry, sp))

    def unload(self, prog: LoadedProgram) -> None:
        self.memory.destroy_team(prog.team)

    def run_program(
        self,
        image_path: str | Path | Image,
        argv: list[str],
        max_instructions: int = 1_000_000_000,
        *,
        envp: list[str] | None = None,
    ) -> ProgramResult:
        """Run a program to its exit, a stop, or max_instructions; its memory is given back."""
        image = image_path if isinstance(image_path, Image) else load_image(image_path)
        prog = self.load(image, argv, envp)
        try:
            self.mmu.switch(prog.ctx)
            self.cpu.write_registers(prog.registers)
            executed = 0
            stopped: str | None = None
            while prog.exit_status is None:
                if executed >= max_instructions:
                    pc = self.cpu.read_registers().pc
                    stopped = f"limit: {max_instructions} instructions executed (pc 0x{pc:08X})"
                    break
                result = self.cpu.run(min(self.slice_instructions, max_instructions - executed))
                executed += result.executed
                stopped = self.handle(prog, result, executed)
                if stopped is not None:
                    break
            return ProgramResult(
                prog.output.decode("utf-8", errors="replace"),
                prog.exit_status,
                stopped,
                executed,
                executed * self.ns_per_instruction + prog.delay_ns,
                dict(prog.calls),
            )
        finally:
            self.unload(prog)

    def handle(self, prog: LoadedProgram, result: SliceResult, executed: int) -> str | None:
        """After a slice: serve a trap or grow the stack (None: run on), else why the run ends.
        The CPU holds the program's registers and context; executed is its clock."""
        if result.stop is Stop.BUDGET:
            return None
        if result.stop is Stop.TRAP and result.trap == 0:
            self._trap(prog, executed)
            return None
        if (
            result.stop is Stop.FAULT
            and result.fault_kind == "unmapped"
            and result.fault_address is not None
            and result.fault_access != "fetch"
        ):
            try:
                if self.memory.grow_stack(prog.team, result.fault_address):
                    return None
            except MemoryError_:
                pass
        return result.describe()

    def _trap(self, prog: LoadedProgram, executed: int) -> None:
        regs = self.cpu.read_registers()
        number, d1 = regs.d[0], regs.d[1]
        prog.calls[number] += 1
        if number == abi.SYS_EXIT:
            prog.exit_status = _signed(d1)
            return
        if number == abi.SYS_SEND and regs.d[2] == CONSOLE_PID:
            result = self._console(prog, d1)
        elif number == abi.SYS_SBRK:
            try:
                result = self.memory.sbrk(prog.team, _signed(d1))
            except MemoryError_:
                result = -abi.ENOMEM
        elif number == abi.SYS_TIME:
            now_ns = executed * self.ns_per_instruction + prog.delay_ns
            result = now_ns // 1_000_000
            regs.d[1] = (now_ns // 1000) % 1000
        elif number == abi.SYS_DELAY:
            prog.delay_ns += max(0, _signed(d1)) * 1_000_000
            result = 0
        elif number == abi.SYS_GETPID:
            result = PROGRAM_PID
        else:
            result = -abi.EBADCALL
        regs.d[0] = result & 0xFFFFFFFF
        self.cpu.write_registers(regs)

    def _console(self, prog: LoadedProgram, msg_addr: int) -> int:
        """An IO_WRITE to the console: its bytes are kept, the reply says all were written."""
        if not self.mmu.check(prog.ctx, msg_addr, abi.MSG_SIZE, write=True):
            return -abi.EFAULT
        code, _inst, buf, count = struct.unpack(">4i", self.mmu.read(prog.ctx, msg_addr, 16))
        buf &= 0xFFFFFFFF
        if (
            code == abi.IO_WRITE
            and 0 <= count
            and self.mmu.check(prog.ctx, buf, count, write=False)
        ):
            prog.output += self.mmu.read(prog.ctx, buf, count)
            reply = (abi.OK, count)
        else:
            reply = (-abi.EBADCALL, 0)
        self.mmu.write(prog.ctx, msg_addr, struct.pack(">8i", *reply, 0, 0, 0, 0, 0, 0))
        return CONSOLE_PID

    def close(self) -> None:
        self.cpu.close()
