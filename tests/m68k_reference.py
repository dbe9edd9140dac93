"""Differential testing of the CPU layer against Musashi (machine68k): case generation, running, comparison.

One case is a few instruction words at CODE_AT with random registers, CCR and
data RAM. It runs on emulator.cpu.Cpu exactly as the kernel drives it
(write_registers, run one slice, read_registers) and on Musashi's 68010
stepped one instruction at a time, both stopping at the `trap #15` that fills
the code page around the instruction. D0-D7, A0-A7, PC, CCR and the data RAM
are compared; an exception (divide by zero, CHK) ends the case and its vector
is compared.

Layout (the same addresses on both CPUs, 24-bit):
  0x0000-0x03FF  Musashi's vector table (vector n -> HANDLERS + 2n); unmapped on the engine
  0x1000-0x11FF  Musashi's exception landing zone (a PC here names the vector)
  0x2000-0x2FFF  Musashi's supervisor stack (never compared)
  0x3000-0x3FFF  the code page (read-execute): trap #15 words in 0x3000-0x37FF with the
                 case at CODE_AT, random data in 0x3800-0x3FFF for PC-relative reads
  0x4000-0x7FFF  data RAM (read-write on both; compared byte for byte)
All of it is reachable with abs.w.

Undefined-by-the-manual flags are excluded per case (Case.ignore), with the
reason in the generator that sets it. `python -m tests.m68k_reference --cases N`
prints a per-family table.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import machine68k

from emulator.cpu import Cpu, Registers, Stop
from emulator.memory import FrameAllocator
from emulator.mmu import Prot

HANDLERS = 0x1000
SSP = 0x2F00
DATA_LO, DATA_HI = 0x4000, 0x8000
CODE_PAGE = 0x3000
CODE_AT = 0x3400
LAND_LO, LAND_HI = 0x3000, 0x3800  # trap #15 everywhere: where branches land
JUMP_HI = CODE_AT - 0x10  # JMP/JSR land below the case: never on itself
PCDATA_LO, PCDATA_HI = 0x3800, 0x4000
TRAP15 = 0x4E4F
MARGIN = 0x100  # (An)+, -(An), MOVEM and LINK stay inside the data RAM
MAX_STEPS = 2000

X, N, Z, V, C = 0x10, 0x08, 0x04, 0x02, 0x01
FLAG_NAMES = ((X, "X"), (N, "N"), (Z, "Z"), (V, "V"), (C, "C"))

VECTOR_NAMES = {4: "illegal", 5: "divide by zero", 6: "chk", 7: "trapv", 8: "privilege"}


class Retry(Exception):
    """The random choices cannot be satisfied (an address outside RAM): draw again."""


# --- cases ---------------------------------------------------------------------------
@dataclass
class Case:
    family: str
    words: list[int]
    d: list[int]
    a: list[int]
    ccr: int
    data: bytes
    pcdata: bytes
    ignore: int = 0  # CCR bits the manual leaves undefined for this case
    ignore_when_vector: int = 0  # ... and those undefined only when it takes an exception
    text: str = ""
    div: bool = False  # DIVU/DIVS: N and Z are undefined when the reference overflowed
    chk: bool = False  # CHK: N is undefined when no exception is taken

    @property
    def code(self) -> bytes:
        return b"".join(w.to_bytes(2, "big") for w in self.words)

    def describe(self) -> str:
        regs = " ".join(f"d{i}={v:08x}" for i, v in enumerate(self.d))
        regs += " " + " ".join(f"a{i}={v:08x}" for i, v in enumerate(self.a))
        return f"[{self.family}] {self.text} words={self.code.hex()} ccr={self.ccr:02x} {regs}"


@dataclass
class Outcome:
    d: list[int]
    a: list[int]
    pc: int
    ccr: int
    data: bytes
    vector: int | None = None  # the exception that ended the case
    stop: str = "trap"  # 'trap' | 'exception' | anything else the engine reports


def compare(case: Case, ref: Outcome, eng: Outcome) -> list[str]:
    """The fields that differ, each named ('ccr N: ref 1 engine 0', 'd3: ...', 'mem 0x4010: ...')."""
    diffs: list[str] = []
    if ref.stop != eng.stop or ref.vector != eng.vector:
        diffs.append(f"stop: ref {ref.stop} {ref.vector} engine {eng.stop} {eng.vector}")
        return diffs
    for i in range(8):
        if ref.d[i] != eng.d[i]:
            diffs.append(f"d{i}: ref {ref.d[i]:08x} engine {eng.d[i]:08x}")
    for i in range(8):
        if ref.a[i] != eng.a[i]:
            diffs.append(f"a{i}: ref {ref.a[i]:08x} engine {eng.a[i]:08x}")
    if ref.vector is None and ref.pc != eng.pc:
        diffs.append(f"pc: ref {ref.pc:08x} engine {eng.pc:08x}")
    ignore = case.ignore | (case.ignore_when_vector if ref.vector is not None else 0)
    for bit, name in FLAG_NAMES:
        if not bit & ignore and (ref.ccr ^ eng.ccr) & bit:
            diffs.append(
                f"ccr {name}: ref {int(bool(ref.ccr & bit))} engine {int(bool(eng.ccr & bit))}"
            )
    if ref.data != eng.data:
        for i, (r, e) in enumerate(zip(ref.data, eng.data, strict=True)):
            if r != e:
                diffs.append(f"mem {DATA_LO + i:#06x}: ref {r:02x} engine {e:02x}")
                if len(diffs) > 12:
                    break
    return diffs


# --- the two CPUs ------------------------------------------------------------------------
class Engine:
    """emulator.cpu.Cpu with one MMU context laid out as above, driven the way the kernel drives it."""

    def __init__(self) -> None:
        self.cpu = Cpu(1024 * 1024)
        mmu = self.cpu.mmu
        frames = FrameAllocator(256)
        self.ctx = mmu.create_context()
        self.data_phys = []
        for vpage in range(DATA_LO >> 12, DATA_HI >> 12):
            frame = frames.alloc()
            mmu.map(self.ctx, vpage, frame, Prot.READ | Prot.WRITE)
            self.data_phys.append(frame * 4096)
        frame = frames.alloc()
        mmu.map(self.ctx, CODE_PAGE >> 12, frame, Prot.READ | Prot.EXEC)
        self.code_phys = frame * 4096
        mmu.switch(self.ctx)

    def run(self, case: Case, *, budgets: list[int] | None = None) -> Outcome:
        """One slice (or, with budgets, one slice per budget with a register read and write-back between)."""
        cpu = self.cpu
        cpu.phys_write(self.code_phys, code_page(case))
        for i, phys in enumerate(self.data_phys):
            cpu.phys_write(phys, case.data[i * 4096 : (i + 1) * 4096])
        regs = Registers(list(case.d), list(case.a), CODE_AT, case.ccr)
        for budget in budgets or [MAX_STEPS]:
            cpu.write_registers(regs)
            result = cpu.run(budget)
            regs = cpu.read_registers()
            if result.stop is not Stop.BUDGET:
                break
        data = b"".join(cpu.phys_read(phys, 4096) for phys in self.data_phys)
        if result.stop is Stop.TRAP and result.trap == 15:
            return Outcome(regs.d, regs.a, regs.pc, regs.sr & 0x1F, data)
        if result.stop is Stop.TRAP and result.trap is not None:
            vector = 32 + result.trap
            return Outcome(regs.d, regs.a, regs.pc, regs.sr & 0x1F, data, vector, "exception")
        if result.stop is Stop.EXCEPTION and result.vector is not None:
            return Outcome(
                regs.d, regs.a, regs.pc, regs.sr & 0x1F, data, result.vector, "exception"
            )
        return Outcome(regs.d, regs.a, regs.pc, regs.sr & 0x1F, data, None, result.describe())


class Reference:
    """Musashi's 68010 (machine68k) stepped one instruction at a time."""

    R = machine68k.Register

    def __init__(self) -> None:
        self.machine = machine68k.Machine(machine68k.CPUType.M68010, 64)
        self.cpu = self.machine.cpu
        self.mem = self.machine.mem
        self.mem.set_invalid_func(self._invalid)
        self.invalid = False
        for v in range(256):
            self.mem.w32(4 * v, HANDLERS + 2 * v)
        self.mem.w32(0, SSP)
        self.mem.w32(4, CODE_AT)
        self.cpu.pulse_reset()
        self.cpu.execute(1)  # the reset itself takes the first call

    def _invalid(self, *args: object) -> None:
        self.invalid = True

    def run(self, case: Case) -> Outcome:
        cpu, mem, R = self.cpu, self.mem, self.R
        mem.w_block(CODE_PAGE, code_page(case))
        mem.w_block(DATA_LO, case.data)
        cpu.w_sr(case.ccr & 0x1F)  # user mode: A7 is the user stack pointer
        cpu.w_isp(SSP)
        for i in range(8):
            cpu.w_reg(R.D0 + i, case.d[i])
        for i in range(8):
            cpu.w_reg(R.A0 + i, case.a[i])
        cpu.w_pc(CODE_AT)
        self.invalid = False
        vector = None
        stop = "steps"
        for _ in range(MAX_STEPS):
            pc = cpu.r_pc()
            if HANDLERS <= pc < HANDLERS + 512:
                vector = (pc - HANDLERS) // 2
                stop = "exception"
                break
            if not CODE_PAGE <= pc < PCDATA_HI:
                stop = f"pc {pc:#x} outside the code page"
                break
            if mem.r16(pc) == TRAP15 and LAND_LO <= pc < LAND_HI:
                stop = "trap"
                pc += 2
                break
            cpu.execute(1)
        if self.invalid:
            stop = "invalid access"
        d = [cpu.r_reg(R.D0 + i) & 0xFFFFFFFF for i in range(8)]
        a = [cpu.r_reg(R.A0 + i) & 0xFFFFFFFF for i in range(7)]
        a.append(cpu.r_usp() & 0xFFFFFFFF if vector is not None else cpu.r_reg(R.A7) & 0xFFFFFFFF)
        return Outcome(
            d, a, pc, cpu.r_sr() & 0x1F, mem.r_block(DATA_LO, DATA_HI - DATA_LO), vector, stop
        )


def code_page(case: Case) -> bytes:
    page = bytearray(TRAP15.to_bytes(2, "big") * ((LAND_HI - LAND_LO) // 2))
    code = case.code
    off = CODE_AT - CODE_PAGE
    page[off : off + len(code)] = code
    return bytes(page) + case.pcdata


# --- operand generation ------------------------------------------------------------------
DN, AN, IND, POST, PRE, D16, IDX, ABSW, ABSL, PCD, PCX, IMM = range(12)
MODE_NAMES = ["Dn", "An", "(An)", "(An)+", "-(An)", "d16(An)", "d8(An,Xn)", "abs.w", "abs.l",
              "d16(PC)", "d8(PC,Xn)", "#imm"]  # fmt: skip
ALL = [DN, AN, IND, POST, PRE, D16, IDX, ABSW, ABSL, PCD, PCX, IMM]
DATA = [m for m in ALL if m != AN]
MEMORY = [m for m in DATA if m != DN]
CONTROL = [IND, D16, IDX, ABSW, ABSL, PCD, PCX]
ALTERABLE = [DN, AN, IND, POST, PRE, D16, IDX, ABSW, ABSL]
DATA_ALT = [m for m in ALTERABLE if m != AN]
MEM_ALT = [m for m in DATA_ALT if m != DN]
CONTROL_ALT = [IND, D16, IDX, ABSW, ABSL]
SIZE_BYTES = {0: 1, 1: 2, 2: 4}

INTERESTING = [0, 1, 2, 7, 8, 9, 0x0F, 0x10, 0x1F, 0x20, 0x3F, 0x40, 0x7F, 0x80, 0xFF, 0x100,
               0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE,
               0x80000001, 0xFFFF8000, 0x00008000, 0xFFFFFF80]  # fmt: skip


def rand_value(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.choice(INTERESTING)
    if r < 0.45:
        return rng.randrange(0, 0x100) | (rng.choice([0, 0xFFFFFF00]) if rng.random() < 0.3 else 0)
    if r < 0.55:
        return rng.randrange(0, 0x10000)
    return rng.getrandbits(32)


class Builder:
    """Collects the words of one case and the register values its operands need."""

    def __init__(self, rng: random.Random, family: str) -> None:
        self.rng = rng
        self.family = family
        self.words: list[int] = []
        self.d = [rand_value(rng) for _ in range(8)]
        self.a = [rng.getrandbits(32) for _ in range(8)]
        self.a[7] = rng.randrange(DATA_LO + 0x800, DATA_HI - 0x800, 2)
        self.pinned: set[tuple[str, int]] = {("a", 7)}
        self.ccr = rng.getrandbits(5)
        self.data = bytearray(rng.randbytes(DATA_HI - DATA_LO))
        self.pcdata = bytearray(rng.randbytes(PCDATA_HI - PCDATA_LO))
        self.ignore = 0
        self.ignore_when_vector = 0
        self.div = False
        self.chk = False
        self.regs_only = False  # operands in data registers (and immediates) only: sequences
        self.keep_an = False  # never write an address register nor index (memory sequences)
        self.text: list[str] = []

    # registers
    def reg(self, kind: str, n: int) -> int:
        return self.d[n] if kind == "d" else self.a[n]

    def pin(self, kind: str, n: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if kind == "d":
            self.d[n] = value
        else:
            self.a[n] = value
        self.pinned.add((kind, n))

    def free_an(self, avoid: tuple[int, ...] = ()) -> int:
        return self.rng.choice([n for n in range(8) if n not in avoid])

    def target(self, size: int, lo: int = DATA_LO + MARGIN, hi: int = DATA_HI - MARGIN) -> int:
        align = 1 if size == 1 else 2
        return self.rng.randrange(lo, hi - 4, align)

    def _check(
        self, addr: int, size: int, lo: int = DATA_LO + 0x40, hi: int = DATA_HI - 0x40
    ) -> None:
        if not lo <= addr < hi or (size > 1 and addr & 1):
            raise Retry

    def _base(
        self, n: int, addr: int, size: int, lo: int = DATA_LO + 0x40, hi: int = DATA_HI - 0x40
    ) -> None:
        """Make An hold addr (or, if An is already pinned, check it does something valid)."""
        if ("a", n) in self.pinned:
            self._check(self.a[n], size, lo, hi)
        else:
            self.pin("a", n, addr)

    def _index(self, want: int | None = None) -> tuple[int, int]:
        """A random index register (its brief-format bits) and the value it contributes.

        want: the contribution wanted, if the register is still free.
        """
        rng = self.rng
        kind = rng.choice("da")
        n = rng.randrange(8)
        long = rng.random() < 0.5 or (want is not None and not -0x8000 <= want < 0x8000)
        if (kind, n) not in self.pinned:
            small = rng.randrange(-0x600, 0x600, 2) if want is None else want
            if long:
                self.pin(kind, n, small)
            else:
                self.pin(kind, n, (rng.getrandbits(16) << 16) | (small & 0xFFFF))
        v = self.reg(kind, n)
        if long:
            idx = v - (1 << 32) if v & 0x80000000 else v
        else:
            idx = (v & 0xFFFF) - (0x10000 if v & 0x8000 else 0)
        ext = (0x8000 if kind == "a" else 0) | n << 12 | (0x800 if long else 0)
        return ext, idx

    def ea(
        self, modes: list[int], size: int, *, write: bool = False, pc_target: bool = False
    ) -> int:
        """An operand of size bytes (1, 2, 4) in one of modes: returns its 6-bit field, appends its words.

        pc_target: the operand is a jump target (JMP/JSR): it points into the landing zone.
        """
        rng = self.rng
        if self.regs_only:
            if DN not in modes:
                raise Retry
            modes = [DN] * 4 + ([IMM] if IMM in modes else [])
        if self.keep_an:  # the bases stay put; no index register a later instruction may change
            modes = [m for m in modes if m not in (AN, IDX, PCX)]
            if not modes:
                raise Retry
        mode = rng.choice(modes)
        if write and mode in (PCD, PCX, IMM):
            raise ValueError(f"{MODE_NAMES[mode]} is not alterable")
        if size == 1 and mode == AN:
            mode = DN
        n = rng.randrange(8)
        lo, hi = (LAND_LO, JUMP_HI) if pc_target else (DATA_LO + MARGIN, DATA_HI - MARGIN)
        self.text.append(MODE_NAMES[mode])
        if mode == DN:
            return n
        if mode == AN:
            return 0o10 | n
        if mode in (IND, POST, PRE):
            step = 2 if size == 1 and n == 7 else size
            addr = self.target(size, lo, hi)
            self._base(n, addr + (step if mode == PRE else 0), size, lo, hi)
            return (2 + mode - IND) << 3 | n
        if mode == D16:
            disp = rng.randrange(-0x2000, 0x2000)
            addr = self.target(size, lo, hi)
            self._base(n, addr - disp, 1, -(1 << 33), 1 << 33)
            self._check_pinned_disp(n, disp, size, lo, hi)
            self.words.append(disp & 0xFFFF)
            return 0o50 | n
        if mode == IDX:
            ext, idx = self._index()
            disp = rng.randrange(-128, 128)
            addr = self.target(size, lo, hi)
            if ("a", n) in self.pinned:
                if not lo <= self.a[n] + disp + idx < hi or (
                    size > 1 and (self.a[n] + disp + idx) & 1
                ):
                    raise Retry
            else:
                self.pin("a", n, addr - disp - idx)
            self.words.append(ext | (disp & 0xFF))
            return 0o60 | n
        if mode == ABSW:
            self.words.append(self.target(size, lo, hi))
            return 0o70
        if mode == ABSL:
            addr = self.target(size, lo, hi)
            self.words += [addr >> 16, addr & 0xFFFF]
            return 0o71
        if mode in (PCD, PCX):
            ext_addr = CODE_AT + 2 * len(self.words)
            if pc_target:
                addr = self.target(2, LAND_LO, JUMP_HI)
            elif rng.random() < 0.5:
                addr = self.target(size, PCDATA_LO, PCDATA_HI)
            else:
                addr = self.target(size)
            if mode == PCD:
                self.words.append((addr - ext_addr) & 0xFFFF)
                return 0o72
            disp = rng.randrange(-128, 128)
            ext, idx = self._index(addr - ext_addr - disp)
            got = ext_addr + disp + idx
            lo, hi = (LAND_LO, JUMP_HI) if pc_target else (PCDATA_LO, DATA_HI - MARGIN)
            if not lo <= got < hi or (size > 1 or pc_target) and got & 1:
                raise Retry
            self.words.append(ext | (disp & 0xFF))
            return 0o73
        # immediate
        v = rand_value(rng)
        if size == 4:
            self.words += [v >> 16, v & 0xFFFF]
        else:
            self.words.append(v & (0xFF if size == 1 else 0xFFFF))
        return 0o74

    def _check_pinned_disp(self, n: int, disp: int, size: int, lo: int, hi: int) -> None:
        addr = (self.a[n] + disp) & 0xFFFFFFFF
        if not lo <= addr < hi or (size > 1 and addr & 1):
            raise Retry

    def case(self) -> Case:
        return Case(self.family, list(self.words), list(self.d), list(self.a), self.ccr,
                    bytes(self.data), bytes(self.pcdata), self.ignore, self.ignore_when_vector,
                    " ".join(self.text), self.div, self.chk)  # fmt: skip


# --- families ------------------------------------------------------------------------------
Gen = Callable[[Builder], None]
FAMILIES: dict[str, Gen] = {}


def family(name: str) -> Callable[[Gen], Gen]:
    def register(fn: Gen) -> Gen:
        FAMILIES[name] = fn
        return fn

    return register


def _size(b: Builder, sizes: tuple[int, ...] = (0, 1, 2)) -> int:
    s = b.rng.choice(sizes)
    b.text.append("bwl"[s])
    return s


def _imm(b: Builder, size: int) -> None:
    v = rand_value(b.rng)
    if size == 2:
        b.words += [v >> 16, v & 0xFFFF]
    else:
        b.words.append(v & (0xFF if size == 0 else 0xFFFF))


@family("move")
def _move(b: Builder) -> None:
    s = _size(b)
    b.words.append(0)
    src = b.ea(ALL, SIZE_BYTES[s])
    dst = b.ea(DATA_ALT, SIZE_BYTES[s], write=True)
    b.words[0] = ({0: 1, 1: 3, 2: 2}[s] << 12) | (dst & 7) << 9 | (dst >> 3) << 6 | src


@family("movea")
def _movea(b: Builder) -> None:
    s = _size(b, (1, 2))
    b.words.append(0)
    src = b.ea(ALL, SIZE_BYTES[s])
    b.words[0] = ({1: 3, 2: 2}[s] << 12) | b.rng.randrange(8) << 9 | 1 << 6 | src


@family("moveq")
def _moveq(b: Builder) -> None:
    b.words.append(0x7000 | b.rng.randrange(8) << 9 | b.rng.randrange(256))


@family("movem")
def _movem(b: Builder) -> None:
    s = _size(b, (1, 2))
    to_mem = b.rng.random() < 0.5
    mask = b.rng.getrandbits(16)
    b.words += [0, 0]
    if to_mem:
        ea = b.ea(CONTROL_ALT + [PRE] * 3, 4 if s == 2 else 2, write=True)
    else:
        ea = b.ea(CONTROL + [POST] * 3, 4 if s == 2 else 2)
    if (ea >> 3) == 4:  # -(An): the mask is reversed (bit 0 is a7)
        b.text.append("predec")
    b.words[0] = 0x4880 | (0 if to_mem else 0x400) | (0x40 if s == 2 else 0) | ea
    b.words[1] = mask
    if to_mem and (ea >> 3) == 4 and mask & (1 << (7 - (ea & 7))):
        b.family = "movem-predec-self"  # An itself stored by movem -(An): the 68000 stores An's initial value


@family("movep")
def _movep(b: Builder) -> None:
    n = b.rng.randrange(8)
    opmode = b.rng.randrange(4, 8)
    disp = b.rng.randrange(-0x800, 0x800)
    if ("a", n) not in b.pinned:
        b.pin("a", n, b.rng.randrange(DATA_LO + 0x1000, DATA_HI - 0x1000))
    b._check(b.a[n] + disp, 1)
    b.words += [0x0008 | b.rng.randrange(8) << 9 | opmode << 6 | n, disp & 0xFFFF]


def _arith(base: int, b: Builder) -> None:
    """ADD/SUB (base 0xD000/0x9000): <ea>,Dn; Dn,<ea>; ADDA/SUBA."""
    r = b.rng.random()
    dn = b.rng.randrange(8)
    if r < 0.2 and b.keep_an:
        raise Retry
    if r < 0.2:  # xxxA
        s = _size(b, (1, 2))
        b.words.append(0)
        ea = b.ea(ALL, SIZE_BYTES[s])
        b.words[0] = base | dn << 9 | (3 if s == 1 else 7) << 6 | ea
    elif r < 0.6:
        s = _size(b)
        b.words.append(0)
        ea = b.ea(ALL, SIZE_BYTES[s])
        b.words[0] = base | dn << 9 | s << 6 | ea
    else:
        s = _size(b)
        b.words.append(0)
        ea = b.ea(MEM_ALT, SIZE_BYTES[s], write=True)
        b.words[0] = base | dn << 9 | (4 + s) << 6 | ea


def _imm_op(opcode: int, b: Builder, modes: list[int] = DATA_ALT) -> None:
    s = _size(b)
    b.words.append(0)
    _imm(b, s)
    ea = b.ea(modes, SIZE_BYTES[s], write=True)
    b.words[0] = opcode | s << 6 | ea


def _quick(sub: bool, b: Builder) -> None:
    s = _size(b)
    b.words.append(0)
    ea = b.ea(ALTERABLE, SIZE_BYTES[s], write=True)  # a byte to An is drawn as Dn
    b.words[0] = 0x5000 | b.rng.randrange(8) << 9 | (0x100 if sub else 0) | s << 6 | ea


def _extended(base: int, b: Builder, sizes: tuple[int, ...] = (0, 1, 2)) -> None:
    """ADDX/SUBX/ABCD/SBCD-style: Dy,Dx or -(Ay),-(Ax)."""
    s = _size(b, sizes)
    mem = not b.regs_only and b.rng.random() < 0.5
    x, y = b.rng.randrange(8), b.rng.randrange(8)
    if mem:
        b.text.append("-(Ay),-(Ax)")
        size = SIZE_BYTES[s]
        for n in {x, y}:
            step = 2 if size == 1 and n == 7 else size
            b._base(n, b.target(size) + step, size)
        if size == 1 and 7 in (x, y) and b.keep_an:
            raise Retry  # a listed deviation: kept out of sequences
        if size == 1 and 7 in (x, y) and base in (0xD000, 0x9000):
            b.family += "-a7-byte"  # -(A7) of a byte moves A7 by 2
    return_word = base | x << 9 | 0x100 | s << 6 | (8 if mem else 0) | y
    b.words.append(return_word)


@family("add")
def _add(b: Builder) -> None:
    _arith(0xD000, b)


@family("addi")
def _addi(b: Builder) -> None:
    _imm_op(0x0600, b)


@family("addq")
def _addq(b: Builder) -> None:
    _quick(False, b)


@family("addx")
def _addx(b: Builder) -> None:
    _extended(0xD000, b)


@family("sub")
def _sub(b: Builder) -> None:
    _arith(0x9000, b)


@family("subi")
def _subi(b: Builder) -> None:
    _imm_op(0x0400, b)


@family("subq")
def _subq(b: Builder) -> None:
    _quick(True, b)


@family("subx")
def _subx(b: Builder) -> None:
    _extended(0x9000, b)


@family("cmp")
def _cmp(b: Builder) -> None:
    r = b.rng.random()
    dn = b.rng.randrange(8)
    if r < 0.3:
        s = _size(b, (1, 2))
        b.words.append(0)
        ea = b.ea(ALL, SIZE_BYTES[s])
        b.words[0] = 0xB000 | dn << 9 | (3 if s == 1 else 7) << 6 | ea
    elif r < 0.6:
        s = _size(b)
        b.words.append(0)
        ea = b.ea(ALL, SIZE_BYTES[s])
        b.words[0] = 0xB000 | dn << 9 | s << 6 | ea
    elif r < 0.85:
        _imm_op(0x0C00, b)
    else:  # cmpm (Ay)+,(Ax)+
        if b.regs_only:
            raise Retry
        s = _size(b)
        x, y = b.rng.randrange(8), b.rng.randrange(8)
        for n in {x, y}:
            b._base(n, b.target(SIZE_BYTES[s]), SIZE_BYTES[s])
        b.text.append("cmpm")
        b.words.append(0xB108 | x << 9 | s << 6 | y)


def _logic(base: int, imm_opcode: int, b: Builder) -> None:
    r = b.rng.random()
    dn = b.rng.randrange(8)
    if r < 0.35 and base:
        s = _size(b)
        b.words.append(0)
        ea = b.ea(DATA, SIZE_BYTES[s])
        b.words[0] = base | dn << 9 | s << 6 | ea
    elif r < 0.6:
        s = _size(b)
        b.words.append(0)
        ea = b.ea(MEM_ALT if base else DATA_ALT, SIZE_BYTES[s], write=True)
        b.words[0] = (base or 0xB000) | dn << 9 | (4 + s) << 6 | ea
    elif r < 0.9:
        _imm_op(imm_opcode, b)
    else:
        b.text.append("to ccr")
        b.words += [imm_opcode | 0x3C, b.rng.randrange(256)]


@family("and")
def _and(b: Builder) -> None:
    _logic(0xC000, 0x0200, b)


@family("or")
def _or(b: Builder) -> None:
    _logic(0x8000, 0x0000, b)


@family("eor")
def _eor(b: Builder) -> None:
    _logic(0, 0x0A00, b)


@family("move-ccr")
def _move_ccr(b: Builder) -> None:
    b.words.append(0)
    ea = b.ea(DATA, 2)
    b.words[0] = 0x44C0 | ea


def _unary(opcode: int, b: Builder) -> None:
    s = _size(b)
    b.words.append(0)
    ea = b.ea(DATA_ALT, SIZE_BYTES[s], write=True)
    b.words[0] = opcode | s << 6 | ea


for _name, _op in (
    ("neg", 0x4400),
    ("negx", 0x4000),
    ("not", 0x4600),
    ("clr", 0x4200),
    ("tst", 0x4A00),
):
    FAMILIES[_name] = lambda b, _op=_op: _unary(_op, b)


@family("ext-swap-exg")
def _ext_swap_exg(b: Builder) -> None:
    n = b.rng.randrange(8)
    kind = b.rng.randrange(5)
    b.text.append(["ext.w", "ext.l", "swap", "exg d", "exg a"][kind])
    if kind == 0:
        b.words.append(0x4880 | n)
    elif kind == 1:
        b.words.append(0x48C0 | n)
    elif kind == 2:
        b.words.append(0x4840 | n)
    else:
        opmode = 0x08 if b.keep_an else b.rng.choice([0x08, 0x09, 0x11])
        b.words.append(0xC100 | b.rng.randrange(8) << 9 | opmode << 3 | n)


@family("shift-reg")
def _shift_reg(b: Builder) -> None:
    s = _size(b)
    kind = b.rng.randrange(4)
    left = b.rng.randrange(2)
    count_reg = b.rng.random() < 0.6
    c = b.rng.randrange(8)
    if count_reg:
        b.pin("d", c, (b.rng.getrandbits(26) << 6) | b.rng.randrange(64))
        b.text.append(f"{['as', 'ls', 'rox', 'ro'][kind]} d{c}")
    b.words.append(
        0xE000
        | c << 9
        | left << 8
        | s << 6
        | (0x20 if count_reg else 0)
        | kind << 3
        | b.rng.randrange(8)
    )


@family("shift-mem")
def _shift_mem(b: Builder) -> None:
    kind = b.rng.randrange(4)
    left = b.rng.randrange(2)
    b.words.append(0)
    ea = b.ea(MEM_ALT, 2, write=True)
    b.text.append(["as", "ls", "rox", "ro"][kind] + "lr"[1 - left])
    b.words[0] = 0xE0C0 | kind << 9 | left << 8 | ea


_TO_BCD = bytes((i % 100 // 10) << 4 | i % 10 for i in range(256))  # any byte to two valid digits


def _bcd_byte(rng: random.Random) -> int:
    return rng.randrange(10) << 4 | rng.randrange(10)


def _bcd(b: Builder, valid: bool) -> None:
    # ABCD/SBCD/NBCD: N and V are undefined (M68000PRM 4-3, 4-147, 4-173); X, Z, C are compared
    b.ignore = N | V
    r = b.rng.randrange(3)
    if r < 2:
        _extended(0xC000 if r == 0 else 0x8000, b, (0,))
        b.text.insert(0, ["abcd", "sbcd"][r])
    else:
        b.text.insert(0, "nbcd")
        b.words.append(0)
        b.words[0] = 0x4800 | b.ea(DATA_ALT, 1, write=True)
    if valid:
        b.d = [(v & ~0xFF) | _bcd_byte(b.rng) for v in b.d]
        b.data = bytearray(b.rng.randbytes(len(b.data)).translate(_TO_BCD))
    else:
        b.ccr &= ~X  # undefined results are easier to read without the extend


@family("bcd")
def _bcd_valid(b: Builder) -> None:
    _bcd(b, True)


@family("bcd-invalid")
def _bcd_invalid(b: Builder) -> None:
    _bcd(b, False)


@family("mul")
def _mul(b: Builder) -> None:
    b.words.append(0)
    ea = b.ea(DATA, 2)
    signed = b.rng.randrange(2)
    b.text.insert(0, "muls" if signed else "mulu")
    b.words[0] = 0xC0C0 | b.rng.randrange(8) << 9 | signed << 8 | ea


@family("div")
def _div(b: Builder) -> None:
    # DIVU/DIVS: N and Z are undefined on overflow, N Z V on divide by zero (M68000PRM 4-93, 4-97);
    # overflow is recognisable after the fact only through V, so N and Z are dropped when V is set
    b.words.append(0)
    ea = b.ea(DATA, 2)
    signed = b.rng.randrange(2)
    b.text.insert(0, "divs" if signed else "divu")
    dn = b.rng.randrange(8)
    if signed and b.rng.random() < 0.2 and ("d", dn) not in b.pinned and ea != dn:
        # divs.w of 0x80000000 by -1 (QEMU's helper divided it on the host: SIGFPE killed the
        # process; the CPU layer now emulates divs.w): drawn on purpose, from every source mode
        b.d[dn] = 0x80000000
        if ea < 0o10:
            b.d[ea] |= 0xFFFF
        elif ea == 0o74:
            b.words[-1] = 0xFFFF
        else:  # every word in memory is -1, wherever the operand is
            b.data[:] = b"\xff" * len(b.data)
            b.pcdata[:] = b"\xff" * len(b.pcdata)
        b.text.append("0x80000000/-1")
    b.words[0] = 0x80C0 | dn << 9 | signed << 8 | ea
    b.ignore_when_vector = N | Z | V | C
    b.div = True  # adjust_undefined() drops N and Z when the reference's V is set


@family("bit")
def _bit(b: Builder) -> None:
    op = b.rng.randrange(4)
    static = b.rng.random() < 0.5
    b.text.append(["btst", "bchg", "bclr", "bset"][op] + (" #" if static else " dn"))
    b.words.append(0)
    if static:
        b.words.append(b.rng.randrange(256))
    modes = (DATA if not static else [m for m in DATA if m != IMM]) if op == 0 else DATA_ALT
    ea = b.ea(modes, 1, write=op != 0)
    if static:
        b.words[0] = 0x0800 | op << 6 | ea
    else:
        b.words[0] = 0x0100 | b.rng.randrange(8) << 9 | op << 6 | ea


@family("scc")
def _scc(b: Builder) -> None:
    b.words.append(0)
    ea = b.ea(DATA_ALT, 1, write=True)
    b.words[0] = 0x50C0 | b.rng.randrange(16) << 8 | ea


@family("dbcc")
def _dbcc(b: Builder) -> None:
    n = b.rng.randrange(8)
    b.pin(
        "d",
        n,
        (b.rng.getrandbits(16) << 16) | b.rng.choice([0, 1, 2, 0xFFFF, b.rng.getrandbits(16)]),
    )
    disp = b.rng.choice([d for d in range(-0x300, 0x300, 2) if d not in (-2, 0)])  # not into itself
    b.words += [0x50C8 | b.rng.randrange(16) << 8 | n, disp & 0xFFFF]


@family("bcc")
def _bcc(b: Builder) -> None:
    cond = b.rng.randrange(16)  # 0 bra, 1 bsr
    if b.rng.random() < 0.5:
        disp = b.rng.choice([d for d in range(-0x80, 0x7F, 2) if d not in (0, -2)])
        b.words.append(0x6000 | cond << 8 | (disp & 0xFF))
    else:
        disp = b.rng.choice([d for d in range(-0x300, 0x300, 2) if d not in (-2, 0)])
        b.words += [0x6000 | cond << 8, disp & 0xFFFF]


@family("jmp-jsr")
def _jmp_jsr(b: Builder) -> None:
    jsr = b.rng.randrange(2)
    b.text.append("jsr" if jsr else "jmp")
    b.words.append(0)
    ea = b.ea(CONTROL, 2, pc_target=True)
    b.words[0] = (0x4E80 if jsr else 0x4EC0) | ea


@family("rts-rtr")
def _rts(b: Builder) -> None:
    sp = b.a[7] - DATA_LO
    ret = b.rng.randrange(LAND_LO, JUMP_HI, 2)  # never the case itself: it would pop again
    if b.rng.random() < 0.5:
        b.text.append("rts")
        b.data[sp : sp + 4] = ret.to_bytes(4, "big")
        b.words.append(0x4E75)
    else:  # rtr: the CCR word (its upper byte ignored), then the PC
        b.text.append("rtr")
        b.data[sp : sp + 6] = b.rng.getrandbits(16).to_bytes(2, "big") + ret.to_bytes(4, "big")
        b.words.append(0x4E77)


@family("link-unlk")
def _link_unlk(b: Builder) -> None:
    n = b.rng.randrange(8)
    if n == 7:
        b.family = "link-unlk-a7"  # LINK A7 / UNLK A7: what is pushed and popped
    if b.rng.random() < 0.5:
        b.text.append("link")
        b.words += [0x4E50 | n, b.rng.randrange(-0x400, 0x400, 2) & 0xFFFF]
    else:
        b.text.append("unlk")
        b._base(n, b.target(4), 4)
        b.words.append(0x4E58 | n)
        frame = b.a[n]
        if n != 7:  # the popped frame pointer: sometimes a valid stack again
            fp = b.rng.randrange(DATA_LO + 0x800, DATA_HI - 0x800, 2)
            b.data[frame - DATA_LO : frame - DATA_LO + 4] = fp.to_bytes(4, "big")


@family("lea-pea")
def _lea_pea(b: Builder) -> None:
    pea = b.rng.randrange(2)
    b.text.append("pea" if pea else "lea")
    b.words.append(0)
    ea = b.ea(CONTROL, 2)
    b.words[0] = (0x4840 if pea else 0x41C0 | b.rng.randrange(8) << 9) | ea


@family("chk")
def _chk(b: Builder) -> None:
    # CHK: Z V C are undefined; N is defined only when the exception is taken (M68000PRM 4-69)
    b.ignore = Z | V | C
    b.ignore_when_vector = 0
    b.chk = True
    b.words.append(0)
    ea = b.ea(DATA, 2)
    b.words[0] = 0x4180 | b.rng.randrange(8) << 9 | ea
    if ea >> 3 in (3, 4):
        b.family = "chk-postinc-predec"  # the exception is taken before (An)+/-(An) updates An


@family("index-scale")
def _index_scale(b: Builder) -> None:
    """move.b d8(An,Xn*s),Dn with the 68020 scale bits set: a 68000/68010 ignores them."""
    n, x = b.rng.randrange(7), b.rng.randrange(8)
    if x == n:
        x = (n + 1) % 8
    scale = b.rng.randrange(1, 4)
    b.pin("a", n, b.target(1, DATA_LO + 0x1000, DATA_HI - 0x1000))
    b.pin("d", x, b.rng.randrange(0, 0x80))
    b.text.append(f"scale {1 << scale}")
    b.words += [0x1030 | b.rng.randrange(8) << 9 | n, x << 12 | scale << 9 | b.rng.randrange(256)]


PRIVILEGED = [
    [0x46FC, 0x2700],  # move #imm,sr
    [0x027C, 0x2700],  # andi #imm,sr
    [0x007C, 0x0700],  # ori #imm,sr
    [0x0A7C, 0x2000],  # eori #imm,sr
    [0x4E72, 0x2700],  # stop #imm
    [0x4E70],  # reset
    [0x4E73],  # rte
    [0x4E60],  # move a0,usp
    [0x4E69],  # move usp,a1
    [0x4E7A, 0x0801],  # movec vbr,d0 (68010)
    [0x4E7B, 0x0000],  # movec d0,sfc (68010)
    [0x0E50, 0x0000],  # moves.w (a0),d0 (68010)
    [0x40C0],  # move sr,d0: privileged on the 68010 (not on the 68000)
]
MOVE_FROM_SR = [0x40C0]


@family("exception")
def _exception(b: Builder) -> None:
    """Each exception the kernel turns into a process report, with the vector the 68010 takes."""
    kind = b.rng.randrange(6)
    b.ignore_when_vector = X | N | Z | V | C  # the CCR at the exception is not compared
    if kind == 0:
        b.words.append(0x4AFC)  # illegal
    elif kind == 1:
        b.words.append(0xA000 | b.rng.getrandbits(12))  # line A
    elif kind == 2:
        # line F; not 0xF620-0xF627: Musashi runs them as the 68040's MOVE16 whatever its model
        word = 0xF000 | b.rng.getrandbits(12)
        b.words.append(0xF000 if 0xF620 <= word <= 0xF627 else word)
    elif kind == 3:
        b.words.append(0x4E40 | b.rng.randrange(15))  # trap #0..14 (trap #15 ends every case)
    elif kind == 4:
        b.words += [0x44FC, b.rng.choice([0, V])]  # move #v,ccr; trapv
        b.words.append(0x4E76)
    else:
        words = b.rng.choice(PRIVILEGED)
        b.words += words
        if words == MOVE_FROM_SR:
            b.family = "move-from-sr"  # a 68010 traps it in user mode, a 68000 does not
    b.text.append(f"kind {kind}")


@family("move-from-ccr")
def _move_from_ccr(b: Builder) -> None:
    """move ccr,<ea>: new in the 68010."""
    b.words.append(0)
    b.words[0] = 0x42C0 | b.ea(DATA_ALT, 2, write=True)


@family("rtd")
def _rtd(b: Builder) -> None:
    """rtd #d: new in the 68010 (pop the PC, then add d to SP)."""
    sp = b.a[7] - DATA_LO
    ret = b.rng.randrange(LAND_LO, JUMP_HI, 2)
    b.data[sp : sp + 4] = ret.to_bytes(4, "big")
    b.words += [0x4E74, b.rng.randrange(-0x200, 0x200, 2) & 0xFFFF]


@family("tas")
def _tas(b: Builder) -> None:
    b.words.append(0)
    b.words[0] = 0x4AC0 | b.ea(DATA_ALT, 1, write=True)


SEQ_PARTS: list[str] = ["add", "sub", "cmp", "and", "or", "eor", "neg", "negx", "not", "clr",
                        "tst", "shift-reg", "addx", "subx", "addq", "subq", "moveq", "mul",
                        "ext-swap-exg", "bit", "scc", "move-from-ccr", "move-ccr"]  # fmt: skip


@family("sequence")
def _sequence(b: Builder, parts: list[str] | None = None) -> None:
    """2-6 register-only instructions, each flag-setter sometimes followed by a Bcc over a moveq.

    With parts (memory sequences): operands in memory too, through address registers
    that no instruction of the sequence writes (beyond its own (An)+ and -(An)).
    """
    for _ in range(b.rng.randrange(2, 7)):
        part = b.rng.choice(parts or SEQ_PARTS)
        sub = Builder(b.rng, part)
        sub.d, sub.a, sub.pinned = b.d, b.a, b.pinned
        sub.regs_only, sub.keep_an = parts is None, parts is not None
        for _try in range(50):
            sub.words = []
            try:
                FAMILIES[part](sub)
            except Retry:
                continue
            b.words += sub.words
            if part == "move-from-ccr" and not b.family.endswith("-ccr-read"):
                b.family += "-ccr-read"  # QEMU's MOVE from CCR spoiled later flags: kept apart
            break
        b.text.append(part)
        if b.rng.random() < 0.5:  # bcc over one moveq: the flags of the instruction before decide
            cond = b.rng.randrange(2, 16)
            b.words += [0x6002 | cond << 8, 0x7000 | b.rng.randrange(8) << 9 | b.rng.randrange(256)]


MEM_PARTS = SEQ_PARTS + ["shift-mem", "shift-mem", "move", "tas"]


def _sequence_mem(b: Builder) -> None:
    _sequence(b, MEM_PARTS)


FAMILIES["sequence-sliced"] = _sequence
FAMILIES["sequence-mem"] = _sequence_mem
FAMILIES["sequence-mem-sliced"] = _sequence_mem
# run on the engine one translation block per slice, registers read and written back between
# slices as the kernel does at every slice end and context switch
SLICED = {name: [1] * MAX_STEPS for name in ("sequence-sliced", "sequence-mem-sliced")}


def generate(name: str, rng: random.Random) -> Case:
    """One case of family name (drawing again while its random choices fall outside RAM).

    Its family may come back refined: a generator names the listed deviation its
    operands fall into (movem-predec-self, addx-a7-byte, ...).
    """
    for _ in range(200):
        b = Builder(rng, name)
        try:
            FAMILIES[name](b)
        except Retry:
            continue
        return b.case()
    raise RuntimeError(f"cannot generate a {name} case")


def adjust_undefined(case: Case, ref: Outcome) -> None:
    """Flags whose definedness depends on the result (DIV overflow, CHK without exception).

    Also the two places Musashi is corrected to the manual: on DIVU/DIVS overflow it
    only sets V, leaving C as it was, where the manual says C is always cleared; and
    DIVS of 0x80000000 by -1, which it gives as a quotient of 0 (an overflow).
    """
    if case.div and ref.vector is None and case.words[0] & 0xF1C0 == 0x81C0:
        dn = (case.words[0] >> 9) & 7
        if case.d[dn] == 0x80000000 and ref.d[dn] == 0:
            # Musashi's divs.w special case for 0x80000000 / -1 (no 16-bit divisor gives a
            # quotient of 0 here): quotient 0, Z. The quotient 2^31 overflows (PRM 4-93).
            ref.d[dn] = 0x80000000
            ref.ccr = (ref.ccr & X) | V
    if case.div and ref.vector is None and ref.ccr & V:
        case.ignore |= N | Z  # DIVU/DIVS overflow: N and Z undefined (M68000PRM 4-93, 4-97)
        ref.ccr &= ~C
    if case.chk and ref.vector is None:
        case.ignore |= N  # CHK in bounds: N undefined (M68000PRM 4-69)


# --- running ---------------------------------------------------------------------------------
@dataclass
class Tally:
    cases: int = 0
    matched: int = 0
    mismatched: int = 0
    examples: list[str] = field(default_factory=list)


class Differ:
    """Both CPUs, reused across cases."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.reference = Reference()

    def check(self, case: Case, *, budgets: list[int] | None = None) -> list[str]:
        ref = self.reference.run(case)
        eng = self.engine.run(case, budgets=budgets)
        adjust_undefined(case, ref)
        return compare(case, ref, eng)

    def outcomes(self, case: Case) -> tuple[Outcome, Outcome]:
        return self.reference.run(case), self.engine.run(case)


def sweep(cases: int, seed: int, families: list[str] | None = None) -> dict[str, Tally]:
    differ = Differ()
    table: dict[str, Tally] = {}
    for name in families or list(FAMILIES):
        rng = random.Random(f"{seed}:{name}")
        for _ in range(cases):
            case = generate(name, rng)
            diffs = differ.check(case, budgets=SLICED.get(name))
            t = table.setdefault(case.family, Tally())
            t.cases += 1
            if diffs:
                t.mismatched += 1
                if len(t.examples) < 3:
                    t.examples.append(case.describe() + "\n      " + "; ".join(diffs[:4]))
            else:
                t.matched += 1
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200, help="cases per family")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--family", action="append", help="only these families")
    ap.add_argument("--examples", action="store_true", help="print up to 3 mismatches per family")
    args = ap.parse_args(argv)
    table = sweep(args.cases, args.seed, args.family)
    print(f"{'family':<20}{'cases':>8}{'matched':>9}{'mismatched':>12}")
    total = Tally()
    for name, t in table.items():
        print(f"{name:<20}{t.cases:>8}{t.matched:>9}{t.mismatched:>12}")
        total.cases += t.cases
        total.matched += t.matched
        total.mismatched += t.mismatched
        if args.examples:
            for ex in t.examples:
                print("    " + ex)
    print(f"{'total':<20}{total.cases:>8}{total.matched:>9}{total.mismatched:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
