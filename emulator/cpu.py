"""The 68010 CPU: a Unicorn m68k engine run in instruction-budgeted slices (the only module that imports unicorn)."""

from __future__ import annotations

import ctypes
import enum
import logging
import struct
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

from unicorn import UC_ARCH_M68K, UC_MODE_BIG_ENDIAN, UC_PROT_ALL, Uc, UcError
from unicorn import unicorn_const as ucc
from unicorn.m68k_const import (
    UC_M68K_REG_A7,
    UC_M68K_REG_D0,
    UC_M68K_REG_PC,
    UC_M68K_REG_SR,
)
from unicorn.unicorn_py3.unicorn import uclib

from emulator import decode, exact, native
from emulator.mmu import GuestAddressError, Mmu

log = logging.getLogger(__name__)

DEFAULT_SLICE = 20_000  # instructions in one scheduling slice (20 ms at 1 MIPS)
DEFAULT_MEMORY = 2 * 1024 * 1024
# the translated-code cache of one engine (Unicorn reserves 1 GB of address space otherwise)
TCG_BUFFER_BYTES = 16 * 1024 * 1024

ILLEGAL = 0x4AFC  # what a bkpt is replaced with

# The CPU model: QEMU's "m68000". Unicorn 2.1.4's model enum is out of step
# with QEMU's model table (qemu/target/m68k/cpu.c m68k_cpus_type_infos starts
# m68000, m68020, ...; the enum starts UC_CPU_M68K_M5206 = 0, M68000 = 1), so
# UC_CPU_M68K_M68000 builds an m68020: (d8,An,Xn) honours scale bits, 68020
# instructions (bitfields, 32-bit mul/div, cas, bsr.l) run instead of raising
# illegal instruction, and some line-F words crashed the engine. Value 0 is
# the real 68000 feature set (M68000, USP, WORD_INDEX, MOVEP), which is what
# gcc -mcpu=68010 code needs. Pinned by tests/test_cpu_exact.py.
CPU_MODEL_68000 = 0

# m68k exception vectors as Unicorn's UC_HOOK_INTR reports them (trap #n is 32 + n)
EXCEPTION_NAMES = {
    2: "bus error",
    3: "address error",
    4: "illegal instruction",
    5: "divide by zero",
    6: "chk",
    7: "trapv",
    8: "privilege violation",
    9: "trace",
    10: "line-A",
    11: "line-F",
    14: "format error",
    15: "uninitialized interrupt",
    24: "spurious interrupt",
    48: "FP branch on unordered",
    49: "FP inexact",
    50: "FP divide by zero",
    51: "FP underflow",
    52: "FP operand error",
    53: "FP overflow",
    54: "FP signaling NaN",
    55: "FP unimplemented data type",
}
TRAP_FIRST, TRAP_LAST = 32, 47
ACCESS_NAMES = {16: "read", 17: "write", 18: "fetch"}
_REGS = struct.Struct("=18I")  # sr, d0..d7, a0..a7, pc in host order, as the C core takes them


@dataclass
class Registers:
    """The user-visible registers; a[7] is the user stack pointer, sr holds only the condition codes."""

    d: list[int]
    a: list[int]
    pc: int
    sr: int = 0

    def copy(self) -> Registers:
        return Registers(list(self.d), list(self.a), self.pc, self.sr)

    @classmethod
    def initial(cls, pc: int, sp: int) -> Registers:
        return cls([0] * 8, [0] * 7 + [sp], pc, 0)


class Stop(enum.Enum):
    BUDGET = "budget"
    TRAP = "trap"
    EXCEPTION = "exception"
    FAULT = "fault"


class SliceResult(NamedTuple):
    """Why and where a slice ended, and how many instructions it executed (exactly). Immutable.

    A NamedTuple rather than a frozen dataclass: one is built per slice and
    this is five times cheaper to construct.
    """

    stop: Stop
    executed: int
    pc: int  # the PC now: after the trap for TRAP, at the faulting instruction for FAULT/EXCEPTION
    trap: int | None = None
    exception: str | None = None
    fault_address: int | None = None  # the page address Unicorn's TLB reports (4 KB aligned)
    fault_access: str | None = None  # 'read' | 'write' | 'fetch'
    fault_kind: str | None = None  # 'unmapped' | 'protection' | 'copy-on-write'
    bkpt: int | None = None  # n of `bkpt #n` when exception == 'bkpt'
    vector: int | None = None  # the 68k exception vector for EXCEPTION
    # Cpu.run with chain: whole slices that ran before this one in the same engine run
    chained: int = 0  # how many (each ended by the budget)
    chained_executed: int = 0  # their instructions, all told

    def describe(self) -> str:
        """One line for a fault report: 'fault: write to unmapped page at 0x00F00000 (pc 0x00001234)'."""
        if self.stop is Stop.FAULT:
            prep = {"read": "read from", "write": "write to", "fetch": "fetch from"}.get(
                self.fault_access or "", str(self.fault_access)
            )
            kind = "protected" if self.fault_kind == "protection" else self.fault_kind
            return (
                f"fault: {prep} {kind} page at 0x{self.fault_address or 0:08X} (pc 0x{self.pc:08X})"
            )
        if self.stop is Stop.EXCEPTION:
            what = f"bkpt #{self.bkpt}" if self.exception == "bkpt" else self.exception
            return f"exception: {what} at pc 0x{self.pc:08X}"
        if self.stop is Stop.TRAP:
            return f"trap #{self.trap} at pc 0x{(self.pc - 2) & 0xFFFFFFFF:08X}"
        return f"budget: {self.executed} instructions (pc 0x{self.pc:08X})"


class CpuError(RuntimeError):
    """The engine could not be set up."""


def _fn_address(name: str) -> int:
    addr = ctypes.cast(getattr(uclib, name), ctypes.c_void_p).value
    if not addr:
        raise CpuError(f"libunicorn has no {name}")
    return addr


def _release(engine: list[Uc], lib: Any, st: Any) -> None:
    if engine:  # the engine was created (Cpu._start_engine)
        finalizer = getattr(engine[0], "_Uc__finalizer", None)
        if finalizer is None:  # another binding version: leave the engine to its own finalizer
            return
        finalizer()  # uc_close first: no hook may run on a freed state
    lib.vc_free(st)


class Cpu:
    """One workstation's 68010: physical RAM mapped once, contexts through the Mmu, slices by budget.

    Model: QEMU's m68000 (CPU_MODEL_68000; no 68010 model exists, and
    gcc -mcpu=68010 user code is 68000 code). The engine runs in user mode only (SR = 0); exceptions never
    reach a guest vector table, they end the slice and the kernel handles them.

    The engine (Unicorn's uc_open, its translation buffer, hooks) is created on the first
    guest instruction (`run`): until then registers live in Python, host stores go straight
    into RAM and TLB flushes have nothing to flush, so a workstation that never runs guest
    code costs no engine. Physical RAM is an anonymous mapping: untouched frames cost nothing.
    """

    def __init__(
        self, memory_bytes: int = DEFAULT_MEMORY, *, tcg_buffer_bytes: int = TCG_BUFFER_BYTES
    ) -> None:
        if (
            memory_bytes <= 0
            or memory_bytes % Mmu.PAGE_SIZE
            or memory_bytes > (native.PTE_FRAME + 1) * Mmu.PAGE_SIZE
        ):
            raise ValueError(
                f"memory size {memory_bytes} is not a positive multiple of 4 KB up to 256 MB"
            )
        ffi, lib = native.load()
        self._ffi = ffi
        self._lib = lib
        st = lib.vc_new(memory_bytes, 4096)
        if st == ffi.NULL:
            raise CpuError("cannot allocate the emulator state")
        self._st = st
        self.memory_bytes = memory_bytes
        self._tcg_buffer_bytes = tcg_buffer_bytes
        self._engine: list[Uc] = []  # [the engine] once created
        self._finalizer = weakref.finalize(self, _release, self._engine, lib, st)
        self._regs = ffi.new("uint32_t[18]")
        self._decoded_before = self._until_before = 0
        self._last = ffi.new("uint32_t[3]")
        self._pending: Registers | None = Registers.initial(0, 0)  # registers while no engine
        self.mmu = Mmu(self)
        self.instructions = 0
        self.slices = 0
        self._capstone = None  # the decoder, made when first needed (see _md)

    @property
    def _md(self):
        if self._capstone is None:
            self._capstone = decode.decoder()
        return self._capstone

    @property
    def has_engine(self) -> bool:
        """Whether the Unicorn engine exists (it is created by the first `run`)."""
        return bool(self._engine)

    @property
    def _uc(self) -> Uc:
        if not self._engine:
            self._start_engine()
        return self._engine[0]

    def _start_engine(self) -> None:
        """Create the engine, map RAM into it, install the C hooks, load the registers."""
        if not self._finalizer.alive:
            raise CpuError("this Cpu is closed")
        ffi, lib, st = self._ffi, self._lib, self._st
        memory_bytes = self.memory_bytes
        uc = Uc(UC_ARCH_M68K, UC_MODE_BIG_ENDIAN)
        self._engine.append(uc)
        uc.ctl_set_tcg_buffer_size(self._tcg_buffer_bytes)  # before anything initialises it
        uc.ctl_set_cpu_model(CPU_MODEL_68000)
        uc.ctl_set_tlb_mode(ucc.UC_TLB_VIRTUAL)
        uc.mem_map_ptr(0, memory_bytes, UC_PROT_ALL, int(ffi.cast("uintptr_t", st.ram)))
        st.uc = ffi.cast("void *", uc._uch.value)
        for field, name in (
            ("emu_start", "uc_emu_start"),
            ("emu_stop", "uc_emu_stop"),
            ("ctl", "uc_ctl"),
            ("hook_add", "uc_hook_add"),
            ("reg_read_batch", "uc_reg_read_batch"),
            ("reg_write_batch", "uc_reg_write_batch"),
            ("reg_read", "uc_reg_read"),
            ("reg_write", "uc_reg_write"),
            ("mem_write", "uc_mem_write"),
            ("context_alloc", "uc_context_alloc"),
            ("context_save", "uc_context_save"),
            ("context_free", "uc_context_free"),
            ("get_ccr", "cpu_m68k_get_ccr_m68k"),
        ):
            setattr(st, field, ffi.cast("void *", _fn_address(name)))
        err = lib.vc_install_hooks(st)
        if err:
            raise CpuError(f"uc_hook_add failed: error {err}")
        err = lib.vc_ccr_init(st)
        if err:
            raise CpuError(f"cannot read the condition codes exactly (check {err} failed)")
        # SR first (user mode), then the stack pointer: the engine's reset SR is supervisor
        regs, self._pending = self._pending, None
        self.write_registers(regs)

    # --- registers ------------------------------------------------------------------
    def read_registers(self) -> Registers:
        if self._pending is not None:
            return self._pending.copy()
        regs = self._regs
        if self._lib.vc_regs_read(self._st, regs):
            raise CpuError("reading the registers failed")
        v = self._ffi.unpack(regs, 18)  # a list of ints (a slice of the array would alias it)
        return Registers(v[1:9], v[9:17], v[17], v[0] & 0x1F)

    def write_registers(self, r: Registers) -> None:
        if self._pending is not None:  # no engine yet: kept as the engine would keep them
            v = [x & 0xFFFFFFFF for x in (*r.d, *r.a, r.pc)]
            self._pending = Registers(v[:8], v[8:16], v[16], r.sr & 0x1F)
            return
        regs = self._regs
        try:
            packed = _REGS.pack(r.sr & 0x1F, *r.d, *r.a, r.pc)
        except struct.error:  # negative or wide values: keep their low 32 bits
            packed = _REGS.pack(*(v & 0xFFFFFFFF for v in (r.sr & 0x1F, *r.d, *r.a, r.pc)))
        self._ffi.memmove(regs, packed, 72)
        if self._lib.vc_regs_write(self._st, regs):
            raise CpuError("uc_reg_write_batch failed")

    @property
    def pc(self) -> int:
        return self.read_registers().pc

    def set_pc(self, pc: int) -> None:
        if self._pending is not None:
            self._pending.pc = pc & 0xFFFFFFFF
            return
        self._lib.vc_write_reg(self._st, UC_M68K_REG_PC, pc & 0xFFFFFFFF)

    # --- physical memory ----------------------------------------------------------------
    def phys_read(self, addr: int, n: int) -> bytes:
        if addr < 0 or n < 0 or addr + n > self.memory_bytes:
            raise ValueError(f"physical range {addr:#x}+{n} outside {self.memory_bytes} bytes")
        return bytes(self._ffi.buffer(self._st.ram + addr, n))

    def phys_write(self, addr: int, data: bytes) -> None:
        """A host store: invalidates translated code of the range (no modified bits: see Mmu.write)."""
        n = len(data)
        if addr < 0 or addr + n > self.memory_bytes:
            raise ValueError(f"physical range {addr:#x}+{n} outside {self.memory_bytes} bytes")
        if n and not self._engine:  # no translated code to invalidate
            self._ffi.memmove(self._st.ram + addr, bytes(data), n)
        elif n and self._lib.vc_phys_write(self._st, addr, self._ffi.from_buffer(bytes(data)), n):
            raise CpuError(f"uc_mem_write at {addr:#x} failed")

    def phys_view(self, addr: int, n: int) -> memoryview:
        """A read-only view of physical memory (no copy) for bulk readers such as page snapshots."""
        return memoryview(self._ffi.buffer(self._st.ram + addr, n)).toreadonly()

    # --- running --------------------------------------------------------------------------
    def run(self, budget: int, chain: int = 0) -> SliceResult:
        """Run the current MMU context in user mode until the budget, a trap, an exception or a fault.

        The slice executes whole translation blocks while they fit in the
        budget; the first block always runs, so a slice makes progress even
        with a budget smaller than its first block. `executed` is exact.

        chain: a new slice of `budget` begins where the last one ended by
        the budget, in the same engine run, while the instructions of the
        slices before it are fewer than `chain` (0: one slice). Each slice
        of a chain ends and begins exactly where separate runs would; the
        result is the last one's, with the others in `chained` and
        `chained_executed`.
        """
        if not self._engine:
            self._start_engine()
        lib, st = self._lib, self._st
        budget = max(1, int(budget))
        st.chain_limit = max(0, int(chain))
        keep = 0
        until = 0  # an instruction to emulate the slice is running up to (see _resolve_suspect)
        until_block = (0, 0)  # the block it is in
        while True:
            err = lib.vc_run_until(st, until) if until else lib.vc_run(st, budget, keep)
            reason = st.reason
            if err == 0:
                if reason == native.STOP_NONE and until and st.pc == until:
                    until = 0
                    # the block that ends there may have counted the stop as an instruction
                    self._lib.vc_last_block(st, self._last)
                    st.left += self._last[2] - self._until_before
                    verdict = self._emulate(st.pc)
                    if verdict is None:
                        keep = 1
                        continue
                    return self._finish(verdict)
                if reason == native.STOP_BUDGET:
                    executed = st.executed
                    chained = st.chain_slices
                    if chained:
                        before = st.chain_done
                        self.instructions += executed + before
                        self.slices += 1 + chained
                        return SliceResult(
                            Stop.BUDGET, executed, st.pc, chained=chained, chained_executed=before
                        )
                    self.instructions += executed
                    self.slices += 1
                    return SliceResult(Stop.BUDGET, executed, st.pc)
                if reason == native.STOP_INTR:
                    verdict = self._exception(st.intno)
                    if verdict is None:  # an instruction the engine lacks, emulated
                        keep = 1
                        continue
                    return self._finish(verdict)
                if reason == native.STOP_SUSPECT:
                    if until and (st.stop_pc, st.stop_size) == until_block:
                        # the engine did not split the block where capstone said: never loop
                        log.warning(
                            "block %#x+%d: no stop at %#x, run as the engine does",
                            st.stop_pc,
                            st.stop_size,
                            until,
                        )
                        lib.vc_clear_suspect(st, st.stop_pc, st.stop_size)
                        until = 0
                        keep = 1
                        continue
                    verdict = self._resolve_suspect()
                    keep = 1
                    if verdict is None:
                        continue
                    if isinstance(verdict, int):  # emulate the instruction there
                        if verdict == st.stop_pc:
                            verdict = self._emulate(verdict)
                            if verdict is None:
                                continue
                            return self._finish(verdict)
                        # run the block up to it: the engine translates [start, until) afresh
                        lib.vc_remove_tb(st, st.stop_pc, st.stop_pc + st.stop_size)
                        until = verdict
                        until_block = (st.stop_pc, st.stop_size)
                        self._until_before = self._decoded_before
                        continue
                    return self._finish(verdict)
            elif err == ucc.UC_ERR_EXCEPTION and reason == native.STOP_FAULT:
                return self._finish(self._fault())
            # nothing Unicorn should do to us: report, never loop
            msg = ucc_strerror(err) if err else "the engine stopped by itself"
            log.warning("unexpected engine stop: err %s reason %s pc %#x", err, reason, st.pc)
            return self._finish(
                SliceResult(Stop.EXCEPTION, st.executed, st.pc, exception=f"emulator: {msg}")
            )

    def _finish(self, result: SliceResult) -> SliceResult:
        chained = self._st.chain_slices
        if chained:
            before = self._st.chain_done
            result = result._replace(chained=chained, chained_executed=before)
            self.instructions += before
            self.slices += chained
        self.instructions += result.executed
        self.slices += 1
        return result

    def _exception(self, intno: int) -> SliceResult | None:
        st = self._st
        pc = st.pc
        if intno == 4:
            word = self._word(pc)
            if word in (exact.RTR, exact.TRAPV, exact.RTD):
                # Unicorn's m68000 lacks them: emulated (the block counted the instruction)
                return self._emulate(pc, word, counted=True)
        if TRAP_FIRST <= intno <= TRAP_LAST:
            # a trap ends its block, so the whole block (the trap included) ran
            self.set_pc(pc + 2)
            return SliceResult(
                Stop.TRAP, st.executed, (pc + 2) & 0xFFFFFFFF, trap=intno - TRAP_FIRST
            )
        if intno == 6:
            # Unicorn's chk helper leaves the PC 2 bytes into the instruction: point at it
            pc = (pc - 2) & 0xFFFFFFFF
            self.set_pc(pc)
        executed = st.executed - self._not_run(pc)
        name = EXCEPTION_NAMES.get(intno, f"exception vector {intno}")
        bkpt = None
        if intno == 4:
            ctx = self.mmu.current
            if ctx is not None:
                bkpt = self.mmu.bkpts(ctx).get(pc)
            if bkpt is not None:
                name = "bkpt"
        return SliceResult(Stop.EXCEPTION, executed, pc, exception=name, bkpt=bkpt, vector=intno)

    def _fault(self) -> SliceResult:
        st = self._st
        pc = st.pc
        access = ACCESS_NAMES.get(st.fault_access, str(st.fault_access))
        executed = st.executed
        if access != "fetch":
            # a data fault stops its block part-way; a fetch fault comes before its block
            executed -= self._not_run(pc)
        kind = {native.FAULT_UNMAPPED: "unmapped", native.FAULT_COW: "copy-on-write"}.get(
            st.fault_kind, "protection"
        )
        return SliceResult(
            Stop.FAULT,
            executed,
            pc,
            fault_address=st.fault_vaddr,
            fault_access=access,
            fault_kind=kind,
        )

    def _code(self, start: int, size: int) -> bytes | None:
        ctx = self.mmu.current
        if ctx is None or size <= 0:
            return None
        try:
            return self.mmu.read(ctx, start, size)
        except GuestAddressError:
            return None

    def _not_run(self, pc: int) -> int:
        """Instructions of the slice's last block at or after pc: counted when it began, they did not run."""
        out = self._last
        self._lib.vc_last_block(self._st, out)
        start, size, icount = out[0], out[1], out[2]
        if not icount or not start <= pc < start + size:
            return 0
        code = self._code(start, pc - start)
        done = 0
        end = start
        if code is not None:
            for addr, isize, _m, _o in decode.instructions(self._md, code, start):
                done += 1
                end = addr + isize
        if end != pc:
            log.warning("cannot decode the block at %#x up to pc %#x: counted whole", start, pc)
            return 0
        return max(0, icount - done)

    def _resolve_suspect(self) -> SliceResult | int | None:
        """A block was stopped before it ran because some word of it is suspect: decode it.

        Returns the address of an instruction to emulate (the first one the
        engine gets wrong), None to let the block run (a bkpt was patched, or
        every suspect word is an extension word), or a result to report.
        """
        st = self._st
        start, size, icount = st.stop_pc, st.stop_size, st.stop_icount
        last = start + size - 2
        code = self._code(start, size)
        ctx = self.mmu.current
        insns: list[tuple[int, int, str]] = []
        if code is not None:
            for addr, isize, mnemonic, _o in decode.instructions(self._md, code, start):
                insns.append((addr, isize, mnemonic))
        agree = bool(insns) and insns[-1][0] + insns[-1][1] == start + size and len(insns) == icount
        if ctx is not None and code is not None:
            # instruction starts: every decoded one, and where capstone stopped (a 68020 word)
            starts = [addr for addr, _s, _m in insns]
            stopped = insns[-1][0] + insns[-1][1] if insns else start
            if stopped < start + size:
                starts.append(stopped)
            for i, addr in enumerate(starts):
                if exact.is_emulated(int.from_bytes(code[addr - start : addr - start + 2], "big")):
                    self._decoded_before = i  # instructions of the block before it
                    return addr
        if agree and ctx is not None and code is not None:
            if insns[-1][0] == last and insns[-1][2] == "bkpt":
                n = code[-1] & 7
                phys = self.mmu.translate(ctx, last)
                if phys is not None:
                    self.mmu.add_bkpt(ctx, last, n)
                    self.phys_write(phys, ILLEGAL.to_bytes(2, "big"))
                    log.info(
                        "bkpt #%d at %#x (outside the loader's functions): replaced by illegal",
                        n,
                        last,
                    )
                    return None
            # every suspect word is an extension word of some instruction
            self._lib.vc_clear_suspect(st, start, size)
            return None
        if code is None or (int.from_bytes(code[-2:], "big") & 0xFFF8) != 0x4848:
            # the decoders disagree on code that ends in no bkpt: the engine runs it as it is
            log.warning("block %#x+%d cannot be decoded: run as the engine does", start, size)
            self._lib.vc_clear_suspect(st, start, size)
            return None
        # the decoders disagree: never run it; report the bkpt where it would be
        n = code[-1] & 7
        self.set_pc(last)
        log.warning(
            "block %#x+%d ends in a bkpt opcode that cannot be decoded safely: reported as bkpt",
            start,
            size,
        )
        return SliceResult(Stop.EXCEPTION, st.executed, last, exception="bkpt", bkpt=n, vector=4)

    def _word(self, vaddr: int) -> int | None:
        code = self._code(vaddr, 2)
        return None if code is None else int.from_bytes(code, "big")

    def _emulate(
        self, pc: int, word: int | None = None, *, counted: bool = False
    ) -> SliceResult | None:
        """Run the instruction at pc exactly (emulator.exact); None if it completed.

        counted: the engine's block count already holds it (it raised an
        exception there); otherwise it is counted here when it completes.
        """
        st = self._st
        ctx = self.mmu.current
        if word is None:
            word = self._word(pc)
        before = st.budget - st.left - (1 if counted else 0)  # instructions of the slice before it
        regs = self.read_registers()
        mem = _EngineMemory(self.mmu, ctx)
        if word is None or ctx is None:
            verdict: exact.Fault | int | None = exact.ILLEGAL_VECTOR
        elif word == exact.TRAPV:
            verdict = exact.trapv(regs)
        elif word == exact.RTR:
            verdict = exact.rtr(regs, mem)
        elif word == exact.RTD:
            disp = self._word(pc + 2)
            verdict = exact.ILLEGAL_VECTOR if disp is None else exact.rtd(disp, regs, mem)
        elif exact.is_move_from_ccr(word):
            length = exact.move_from_ccr_length(word) or 2
            ext = self._code(pc + 2, length - 2) if length > 2 else b""
            verdict = (
                exact.ILLEGAL_VECTOR if ext is None else exact.move_from_ccr(word, ext, regs, mem)
            )
        elif exact.is_divs_w(word):
            length = exact.divs_w_length(word) or 2
            ext = self._code(pc + 2, length - 2) if length > 2 else b""
            verdict = exact.ILLEGAL_VECTOR if ext is None else exact.divs_w(word, ext, regs, mem)
        elif exact.is_move_from_sr(word):
            verdict = exact.PRIVILEGE_VECTOR
        elif exact.is_68020_only(word):
            verdict = exact.ILLEGAL_VECTOR
        else:
            length = exact.memory_shift_length(word) or 2
            ext = self._code(pc + 2, length - 2) if length > 2 else b""
            verdict = (
                exact.ILLEGAL_VECTOR if ext is None else exact.memory_shift(word, ext, regs, mem)
            )
        if verdict is None:
            self.write_registers(regs)
            if not counted:
                st.left -= 1
            return None
        if isinstance(verdict, exact.Fault):
            return SliceResult(
                Stop.FAULT,
                before,
                pc,
                fault_address=verdict.vaddr,
                fault_access=verdict.access,
                fault_kind=verdict.kind,
            )
        name = EXCEPTION_NAMES.get(verdict, f"exception vector {verdict}")
        return SliceResult(Stop.EXCEPTION, before, pc, exception=name, vector=verdict)

    # --- internals for the Mmu ---------------------------------------------------------------
    @property
    def native(self) -> tuple[Any, Any, Any]:
        """(ffi, lib, state) of the C core, for the Mmu."""
        return self._ffi, self._lib, self._st

    def flush_tlb(self) -> None:
        if not self._engine:  # nothing translated or cached yet: only counted
            self._st.flushes += 1
            return
        if self._lib.vc_flush_tlb(self._st):
            raise CpuError("TLB flush failed")

    def code_changed(self) -> None:
        """Drop all translated code and cached block counts (some frame that held code is reused)."""
        if not self._engine:
            self._st.code_flushes += 1
            return
        if self._lib.vc_code_changed(self._st):
            raise CpuError("translation-block flush failed")

    def trace_writes(self) -> WriteTrace:
        """A context manager recording the frames of every guest store (slow: tests and debugging only)."""
        return WriteTrace(self)

    def stats(self) -> dict[str, int]:
        st = self._st
        return {
            "instructions": self.instructions,
            "slices": self.slices,
            "tlb_fills": int(st.fills),
            "block_cache_misses": int(st.misses),
            "block_count_mismatches": int(st.tb_mismatch),
            "tlb_flushes": int(st.flushes),
            "code_flushes": int(st.code_flushes),
        }

    def close(self) -> None:
        """Release the engine and its memory now (otherwise when the Cpu is collected).

        Any later use of this Cpu or its Mmu raises CpuError (never touches freed memory).
        """
        if self._finalizer.alive:
            self._pending = None  # registers too: read through the closed core, which raises
            closed = _ClosedCore()
            self._lib = self._st = closed
            self.mmu._lib = self.mmu._st = closed
            self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive


class _EngineMemory:
    """Guest memory for emulator.exact: the MMU's checks and bits, as the engine's TLB applies them."""

    def __init__(self, mmu: Mmu, ctx: int | None) -> None:
        self._mmu = mmu
        self._ctx = ctx

    def load(self, vaddr: int, n: int) -> bytes | exact.Fault:
        got = self._mmu.engine_load(self._ctx, vaddr, n)
        return exact.Fault(got[0], "read", got[1]) if isinstance(got, tuple) else got

    def store(self, vaddr: int, data: bytes) -> exact.Fault | None:
        got = self._mmu.engine_store(self._ctx, vaddr, data)
        return None if got is None else exact.Fault(got[0], "write", got[1])


class _ClosedCore:
    """Stands in for the C core after Cpu.close(): every call raises."""

    def __getattr__(self, name: str) -> Any:
        raise CpuError("this Cpu is closed")


def ucc_strerror(err: int) -> str:
    try:
        return uclib.uc_strerror(err).decode("ascii")
    except Exception:  # only for a message
        return f"error {err}"


class WriteTrace:
    """Records the page frame of each guest store while active, through a Python UC_HOOK_MEM_WRITE.

    An oracle for tests of the modified bits, which never depend on it: a
    Python hook on every store costs a hundred times the store. In virtual
    TLB mode Unicorn reports the physical address of the store.
    """

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu
        self._handle: int | None = None
        self.frames: set[int] = set()

    def _on_write(
        self, uc: Uc, access: int, address: int, size: int, value: int, user: Any
    ) -> None:
        self.frames.add(address >> 12)
        self.frames.add((address + max(size, 1) - 1) >> 12)

    def pages(self, ctx: int) -> set[int]:
        """The virtual pages of ctx whose frames were stored to."""
        mmu = self._cpu.mmu
        out = set()
        for vpage in mmu.mapped_pages(ctx):
            entry = mmu.entry(ctx, vpage)
            if entry is not None and entry.frame in self.frames:
                out.add(vpage)
        return out

    def __enter__(self) -> WriteTrace:
        cpu = self._cpu
        self._handle = cpu._uc.hook_add(ucc.UC_HOOK_MEM_WRITE, self._on_write)
        cpu.code_changed()  # code translated before the hook existed would not report its stores
        cpu.flush_tlb()
        return self

    def __exit__(self, *exc: object) -> None:
        cpu = self._cpu
        if self._handle is not None:
            cpu._uc.hook_del(self._handle)
            self._handle = None
        cpu.code_changed()
        cpu.flush_tlb()


class RawEngine:
    """A bare engine for comparison (vcluster/bench_cpu_layer.py): 16 MB flat, no MMU, no budget.

    With `text` (byte ranges [start, end)) its pages get the guest's W^X
    permissions: text read-execute, everything else read-write, through the
    same virtual TLB the guest uses (an identity fill in C: native.py's
    vc_raw_fill). Without it, the whole 16 MB is one read-write-execute
    mapping in Unicorn's default TLB mode, where every store takes the slow
    path of a writable-and-executable page.

    An exception (a trap included) ends emu_start as an unhandled interrupt
    with the PC still at the instruction; run() returns 32 + n for `trap #n`
    and -1 for anything else.
    """

    SIZE = 16 * 1024 * 1024

    def __init__(
        self,
        *,
        tcg_buffer_bytes: int = TCG_BUFFER_BYTES,
        text: list[tuple[int, int]] | None = None,
    ) -> None:
        uc = Uc(UC_ARCH_M68K, UC_MODE_BIG_ENDIAN)
        uc.ctl_set_tcg_buffer_size(tcg_buffer_bytes)
        uc.ctl_set_cpu_model(CPU_MODEL_68000)  # the same model as Cpu: see CPU_MODEL_68000
        uc.mem_map(0, self.SIZE, UC_PROT_ALL)
        uc.reg_write(UC_M68K_REG_SR, 0)  # user mode before the stack pointer
        self._uc: Uc | None = uc
        self._perms: Any = None
        if text is not None:
            self._wx(uc, text)

    def _wx(self, uc: Uc, text: list[tuple[int, int]]) -> None:
        ffi, lib = native.load()
        page = Mmu.PAGE_SIZE
        perms = ffi.new("uint8_t[]", self.SIZE // page)
        ffi.memmove(
            perms, bytes([ucc.UC_PROT_READ | ucc.UC_PROT_WRITE]) * (self.SIZE // page), len(perms)
        )
        for start, end in text:
            for vpage in range(start // page, -(-end // page)):
                perms[vpage] = ucc.UC_PROT_READ | ucc.UC_PROT_EXEC
        uc.ctl_set_tlb_mode(ucc.UC_TLB_VIRTUAL)
        handle = ffi.new("size_t *")
        hook_add = ffi.cast("void *", _fn_address("uc_hook_add"))
        if lib.vc_raw_install(ffi.cast("void *", uc._uch.value), hook_add, perms, handle):
            raise CpuError("uc_hook_add of the raw TLB fill failed")
        self._perms = perms  # the hook reads it: it lives as long as the engine

    @property
    def uc(self) -> Uc:
        if self._uc is None:
            raise CpuError("engine closed")
        return self._uc

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, bytes(data))

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.uc.mem_read(addr, n))

    def set_initial(self, pc: int, sp: int) -> None:
        self.uc.reg_write(UC_M68K_REG_SR, 0)
        self.uc.reg_write(UC_M68K_REG_A7, sp)
        self.uc.reg_write(UC_M68K_REG_PC, pc)

    @property
    def pc(self) -> int:
        return int(self.uc.reg_read(UC_M68K_REG_PC))

    def dregs(self) -> list[int]:
        return [int(self.uc.reg_read(UC_M68K_REG_D0 + i)) for i in range(8)]

    def run(self) -> int:
        try:
            self.uc.emu_start(self.pc, 0)
        except UcError as exc:
            if exc.errno != ucc.UC_ERR_EXCEPTION:
                raise
        word = int.from_bytes(self.read(self.pc, 2), "big")
        return TRAP_FIRST + (word & 0xF) if word & 0xFFF0 == 0x4E40 else -1

    def set_d0_and_skip_trap(self, d0: int) -> None:
        self.uc.reg_write(UC_M68K_REG_D0, d0 & 0xFFFFFFFF)
        self.uc.reg_write(UC_M68K_REG_PC, self.pc + 2)

    def close(self) -> None:
        self._uc = None
