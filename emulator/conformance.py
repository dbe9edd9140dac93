"""The SingleStepTests/m68000 conformance runner: one 68000 instruction per case, run on the CPU layer.

The public suite (MIT licence, generated from MAME's microcoded 68000) holds
one `.json.bin` file per instruction: each case gives the registers, SR, the
two prefetched words and the RAM bytes before and after one instruction,
with the bus cycles (not compared here). The runner plays each case the way
the V kernel uses the CPU: the case's RAM pages are mapped into a fresh MMU
context (the instruction's pages read-execute, every other page
read-write), the user registers are set, and one instruction runs; then D0-D7,
A0-A7 (A7 is the user stack pointer), PC, the condition codes of
`Cpu.read_registers().sr` and the whole of every mapped page are compared.

Conventions of the suite: its PC is MAME's "next prefetch address", 4 bytes
past the instruction (before and after); addresses are 24-bit (the 68000's
bus ignores the high byte of an address register), which our MMU does not
do (it faults at and above 16 MB), so the runner aliases every data access
above 16 MB onto its low 24 bits through one extra TLB-fill hook (only for
accesses the MMU refused; instruction fetches above 16 MB stay faults, and
the one instruction has run by then), and masks the addresses of the
accesses the CPU layer makes itself for instructions it emulates.

One instruction exactly: a slice runs whole translation blocks, so the
runner places `trap #15` right after the instruction (on the code page,
replacing a prefetched word the instruction does not execute) and expects
the slice to end there, or at a taken branch's target.

Skipped (counted by reason): supervisor-mode cases (the engine runs user mode
only; with --supervisor-as-user those of unprivileged instructions are
played in user mode with A7 = the SSP, the privileged ones still skipped),
an instruction in page 0 (never executable) and a
store into the instruction's own page (pages are never writable and
executable at once). Cases that expect an exception are judged by the vector
alone (no exception frames are built: the kernel turns exceptions into
process reports): the vector the 68000 took is the vector-table entry in the
case's RAM that holds the handler its final PC points to.

    python -m emulator.conformance SUITE_DIR [--per-file N] [--json] [--details]

Each file runs in a child process, so an engine crash (the m68020 model
segfaulted on some words) costs one case, counted as failed, not the run.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gzip
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from struct import Struct

from unicorn import unicorn_const as ucc
from unicorn.unicorn_py3.unicorn import HOOK_TLB_FILL_CFUNC, uc_tlb_entry, uclib

from emulator.cpu import EXCEPTION_NAMES, TRAP_FIRST, Cpu, Registers, SliceResult, Stop
from emulator.mmu import Mmu, Prot

FILE_MAGIC = 0x1A3F5D71
CASE_MAGIC = 0xABC12367
NAME_MAGIC = 0x89ABCDEF
STATE_MAGIC = 0x01234567
CYCLES_MAGIC = 0x456789AB

ADDRESS_MASK = 0xFFFFFF  # the 68000's 24-bit bus
PAGE = Mmu.PAGE_SIZE
SENTINEL_TRAP = 15
SENTINEL = (0x4E40 | SENTINEL_TRAP).to_bytes(2, "big")  # trap #15
S_BIT = 0x2000  # the suite ends a case before a trace exception: T is just a bit

VECTOR_NAMES = {v: EXCEPTION_NAMES[v] for v in range(2, 12)}  # the suite's: bus error .. line-F

_U32x2 = Struct("<II")
_U32 = Struct("<I")
_REGS = Struct("<19I2I")  # d0-d7, a0-a6, usp, ssp, sr, pc; two prefetch words
_RAM = Struct("<IH")


class SuiteError(ValueError):
    """A suite file that is not in the SingleStepTests binary format."""


@dataclass(frozen=True)
class State:
    d: tuple[int, ...]
    a: tuple[int, ...]  # a0-a6
    usp: int
    ssp: int
    sr: int
    pc: int  # the next prefetch address: the instruction is at pc - 4
    ram: dict[int, int]  # address -> byte


@dataclass(frozen=True)
class Case:
    name: str
    initial: State
    final: State
    data_reads: frozenset[int]  # addresses of user/supervisor data-space reads (bus cycles)


def _block(buf: bytes, pos: int, magic: int, what: str) -> tuple[int, int]:
    """(start of the payload, end of the block) of a size-prefixed block."""
    if pos + 8 > len(buf):
        raise SuiteError(f"truncated {what} at byte {pos}")
    size, got = _U32x2.unpack_from(buf, pos)
    if got != magic or size < 8 or pos + size > len(buf):
        raise SuiteError(f"bad {what} block at byte {pos}")
    return pos + 8, pos + size


def _state(buf: bytes, pos: int) -> tuple[State, int]:
    start, end = _block(buf, pos, STATE_MAGIC, "state")
    v = _REGS.unpack_from(buf, start)
    (n,) = _U32.unpack_from(buf, start + _REGS.size)
    ram: dict[int, int] = {}
    p = start + _REGS.size + 4
    for _ in range(n):
        addr, word = _RAM.unpack_from(buf, p)
        p += _RAM.size
        ram[addr & ADDRESS_MASK] = word >> 8
        ram[(addr | 1) & ADDRESS_MASK] = word & 0xFF
    if p > end:
        raise SuiteError(f"state block at byte {pos} overruns its size")
    return State(tuple(v[0:8]), tuple(v[8:15]), v[15], v[16], v[17], v[18], ram), end


def _data_reads(buf: bytes, pos: int) -> tuple[frozenset[int], int]:
    start, end = _block(buf, pos, CYCLES_MAGIC, "transactions")
    _cycles, n = _U32x2.unpack_from(buf, start)
    p = start + 8
    reads = set()
    for _ in range(n):
        kind = buf[p]
        p += 5
        if kind:
            fc, addr = _U32x2.unpack_from(buf, p)
            if kind == 2 and fc in (1, 5):  # a data-space read
                reads.add(addr & ADDRESS_MASK & ~1)
            p += 20
    return frozenset(reads), end


def read_cases(path: str | Path) -> Iterator[Case]:
    """The cases of one `.json.bin` file (or the same bytes gzipped, `.json.bin.gz`), in order."""
    raw = Path(path).read_bytes()
    buf = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    if len(buf) < 8:
        raise SuiteError(f"{path}: too short for a suite file")
    magic, count = _U32x2.unpack_from(buf, 0)
    if magic != FILE_MAGIC:
        raise SuiteError(f"{path}: not a SingleStepTests .json.bin file (magic {magic:#x})")
    pos = 8
    for _ in range(count):
        start, end = _block(buf, pos, CASE_MAGIC, "case")
        nstart, nend = _block(buf, start, NAME_MAGIC, "name")
        (length,) = _U32.unpack_from(buf, nstart)
        name = buf[nstart + 4 : nstart + 4 + length].decode("utf-8", "replace")
        initial, p = _state(buf, nend)
        final, p = _state(buf, p)
        reads, p = _data_reads(buf, p)
        yield Case(name, initial, final, reads)
        pos = end


def case_blocks(path: str | Path) -> tuple[int, list[bytes]]:
    """The raw bytes of each case of a file (for writing a sampled subset)."""
    buf = Path(path).read_bytes()
    magic, count = _U32x2.unpack_from(buf, 0)
    if magic != FILE_MAGIC:
        raise SuiteError(f"{path}: not a SingleStepTests .json.bin file")
    out, pos = [], 8
    for _ in range(count):
        _start, end = _block(buf, pos, CASE_MAGIC, "case")
        out.append(buf[pos:end])
        pos = end
    return count, out


def pack_cases(blocks: Iterable[bytes]) -> bytes:
    blocks = list(blocks)
    return _U32x2.pack(FILE_MAGIC, len(blocks)) + b"".join(blocks)


# --- judging ------------------------------------------------------------------------------
@dataclass
class Verdict:
    """How one case went: 'pass' | 'fail' | 'skip' | 'vector-match' | 'vector-mismatch', and why."""

    outcome: str
    reason: str = ""
    expected_vector: int | None = None
    got_vector: int | None = None
    cause: str = ""  # a key of CAUSES for a failure or a vector mismatch


def expected_vector(case: Case) -> int | None:
    """The exception vector the 68000 took, or None if the case expects none.

    An exception sets S; the handler address is read from the vector table,
    so the vector is the table entry in the initial RAM that holds the final
    PC's instruction (from supervisor mode, that read is the only sign).
    """
    ini, fin = case.initial, case.final
    if not ini.sr & S_BIT and not fin.sr & S_BIT:
        return None
    handler = (case.final.pc - 4) & ADDRESS_MASK
    ram = case.initial.ram
    for v in range(2, 256):
        a = 4 * v
        if all(a + i in ram for i in range(4)):
            value = int.from_bytes(bytes(ram[a + i] for i in range(4)), "big")
            if value & ADDRESS_MASK == handler:
                return v
    if ini.sr & S_BIT:
        return None  # from supervisor mode, only the vector read shows an exception
    return -1  # an exception whose vector the case does not show


def vector_name(v: int | None) -> str:
    if v is None:
        return "none"
    if TRAP_FIRST <= v < TRAP_FIRST + 16:
        return f"trap #{v - TRAP_FIRST}"
    return VECTOR_NAMES.get(v, f"vector {v}")


def _ea_words(mode: int, reg: int, size: int) -> int:
    """Extension words of an effective address (size 1, 2 or 4 bytes for an immediate)."""
    if mode < 5:
        return 0
    if mode < 7:
        return 1
    if reg == 1:
        return 2  # (xxx).l
    if reg == 4:
        return 2 if size == 4 else 1  # #imm
    return 1  # (xxx).w, (d16,PC), (d8,PC,Xn)


_SIZE = {0: 1, 1: 2, 2: 4, 3: 2}  # the size field in bits 7-6 (3: a word-sized form)


def instruction_length(opcode: int) -> int:
    """Bytes of a 68000 instruction from its first word (68000 encodings: brief extensions only)."""
    mode, reg = (opcode >> 3) & 7, opcode & 7
    size = _SIZE[(opcode >> 6) & 3]
    top = opcode >> 12
    words = 1
    if top == 0:
        if opcode & 0x0138 == 0x0108:  # MOVEP
            return 4
        if opcode & 0x0100:  # BTST/BCHG/BCLR/BSET Dn,<ea>
            return 2 * (1 + _ea_words(mode, reg, 1))
        if opcode & 0x0F00 == 0x0800:  # the same with an immediate bit number
            return 2 * (2 + _ea_words(mode, reg, 1))
        if opcode & 0x3F == 0x3C:  # ORI/ANDI/EORI to CCR or SR
            return 4
        return 2 * (1 + (2 if size == 4 else 1) + _ea_words(mode, reg, size))
    if top in (1, 2, 3):  # MOVE, MOVEA
        size = {1: 1, 2: 4, 3: 2}[top]
        dmode, dreg = (opcode >> 6) & 7, (opcode >> 9) & 7
        return 2 * (1 + _ea_words(mode, reg, size) + _ea_words(dmode, dreg, size))
    if top == 4:
        if opcode in (0x4E72, 0x4E74) or opcode & 0xFFF8 == 0x4E50:  # STOP, RTD, LINK
            return 4
        if opcode & 0xFFFE == 0x4E7A:  # MOVEC
            return 4
        if (
            opcode & 0xFFF0 in (0x4E40, 0x4E60)
            or opcode & 0xFFF8 == 0x4E58
            or 0x4E70 <= opcode <= 0x4E77
        ):
            return 2
        if opcode & 0xFB80 == 0x4880 and mode != 0:  # MOVEM: a register mask word
            return 2 * (2 + _ea_words(mode, reg, 2))
        if opcode & 0xF1C0 in (0x41C0, 0x4180) or opcode & 0xFFC0 in (
            0x4E80,
            0x4EC0,
            0x4840,
            0x4800,
            0x4AC0,
            0x40C0,
            0x42C0,
            0x44C0,
            0x46C0,
        ):
            size = 2  # LEA, CHK, JSR, JMP, PEA, NBCD, TAS, MOVE to/from SR/CCR
        return 2 * (words + _ea_words(mode, reg, size))
    if top == 5:
        if opcode & 0xF0F8 == 0x50C8:  # DBcc
            return 4
        return 2 * (1 + _ea_words(mode, reg, 1 if opcode & 0xC0 == 0xC0 else size))
    if top == 6:
        return 4 if opcode & 0xFF == 0 else 2
    if top in (7, 0xA, 0xF):
        return 2
    if top in (8, 0xC) and opcode & 0x01F0 == 0x0100:  # SBCD, ABCD
        return 2
    if top == 0xC and opcode & 0x01F8 in (0x0140, 0x0148, 0x0188):  # EXG
        return 2
    if top in (9, 0xD) and opcode & 0x0130 == 0x0100 and opcode & 0xC0 != 0xC0:  # SUBX, ADDX
        return 2
    if top == 0xB and opcode & 0x0138 == 0x0108 and opcode & 0xC0 != 0xC0:  # CMPM
        return 2
    if top in (8, 9, 0xB, 0xC, 0xD) and opcode & 0xC0 == 0xC0:  # DIV, MUL, SUBA, CMPA, ADDA
        size = 4 if top in (9, 0xB, 0xD) and opcode & 0x100 else 2
    if top == 0xE:
        if opcode & 0xC0 != 0xC0:
            return 2  # register shifts and rotates
        size = 2
    return 2 * (1 + _ea_words(mode, reg, size))


def is_privileged(opcode: int) -> bool:
    """Instructions whose 68000 behaviour needs S: to/from SR, MOVE USP, RESET, STOP, RTE."""
    return (
        opcode in (0x007C, 0x027C, 0x0A7C, 0x4E70, 0x4E72, 0x4E73)
        or opcode & 0xFFC0 in (0x40C0, 0x46C0)
        or opcode & 0xFFF0 == 0x4E60
    )


def is_branch(opcode: int) -> bool:
    """Bcc/BRA/BSR, DBcc, JMP, JSR, RTS, RTR, RTE: they end a translation block by themselves."""
    return (
        opcode >> 12 == 6
        or opcode & 0xF0F8 == 0x50C8
        or opcode & 0xFF80 == 0x4E80
        or opcode in (0x4E73, 0x4E75, 0x4E77)
    )


CAUSES = {
    "index-bit8": "(d8,An,Xn)/(d8,PC,Xn) extension word with bit 8 set: the engine raises "
    "address error (a 68000 ignores the bit; compilers never set it)",
    "bitnum-high-byte": "BTST/BCHG/BCLR/BSET #n whose bit-number word has a nonzero high byte: "
    "illegal instruction in the engine (a 68000 ignores that byte; compilers emit 0)",
    "bcd": "ABCD/SBCD/NBCD: condition codes (V, N are undefined in the manual) or results on "
    "invalid BCD digits differ",
    "div-overflow-flags": "DIVU/DIVS overflow: N and Z (undefined in the manual) differ",
    "chk-flags": "CHK without a trap: Z, V, C (undefined in the manual) differ",
    "memory-shift": "memory ASL/ASR/LSR .w: wrong shift kind or V (the manual is exact here)",
    "x-byte-a7": "ADDX.b/SUBX.b -(A7): the engine moves A7 by 1, a 68000 by 2",
    "unlk-a7": "UNLK A7: the engine adds 4 after loading A7",
    "jsr-sp": "JSR through A7: the engine takes the target after pushing the return address",
    "bcc-ff": "Bcc.s with displacement 0xFF: illegal instruction in the engine (a 68000 "
    "takes it as -1; no compiler emits it, the target would be odd)",
    "rtr-trapv": "RTR and TRAPV: illegal instruction in the engine",
    "no-address-error": "no address error: an odd word/long access faults on its (unmapped) page "
    "or is done, a branch to an odd address is taken",
    "move-from-sr": "MOVE from SR in user mode: a 68010 traps it (privilege violation, as the "
    "CPU layer does), the suite's 68000 allows it",
    "crash": "the engine crashed",
    "unexplained": "not explained yet",
}


def _indexed(opcode: int) -> bool:
    modes = [((opcode >> 3) & 7, opcode & 7)]
    if opcode >> 12 in (1, 2, 3):  # MOVE: the destination EA too
        modes.append(((opcode >> 6) & 7, (opcode >> 9) & 7))
    return any(m == 6 or (m == 7 and r == 3) for m, r in modes)


def cause(case: Case, v: Verdict) -> str:
    """Which known engine deviation explains a failure or a vector mismatch ('' for none needed).

    Also an address-error case that matched only because the engine raised
    address error for an index extension word with bit 8 set (a coincidence).
    """
    coincidence = v.outcome == "vector-match" and v.expected_vector == 3
    if v.outcome not in ("fail", "vector-mismatch") and not coincidence:
        return ""
    ram = case.initial.ram
    instr = (case.initial.pc - 4) & ADDRESS_MASK
    words = [(ram.get(instr + i, 0) << 8) | ram.get(instr + i + 1, 0) for i in range(0, 10, 2)]
    op = words[0]
    if coincidence:
        # the engine raises address error only for index-bit8: a match there is a coincidence
        return "index-bit8" if _indexed(op) and any(w & 0x100 for w in words[1:4]) else ""
    if v.reason.startswith("engine crashed"):
        return "crash"
    got_address_error = v.got_vector == 3 or v.reason.endswith("address error")
    if got_address_error and _indexed(op) and any(w & 0x100 for w in words[1:4]):
        return "index-bit8"
    if op & 0xFF00 == 0x0800 and v.got_vector == 4 and words[1] & 0xFF00:
        return "bitnum-high-byte"
    if op >> 12 == 6 and op & 0xFF == 0xFF and v.got_vector == 4:
        return "bcc-ff"
    if op in (0x4E76, 0x4E77) and v.got_vector == 4:
        return "rtr-trapv"
    if op & 0xFFC0 == 0x40C0 and v.got_vector in (8, None):
        return "move-from-sr"  # trapped, or (an engine without the 68010 rule) a zero system byte
    if v.expected_vector == 3:
        return "no-address-error"
    if v.outcome == "vector-mismatch":
        return "unexplained"
    if op & 0xF1F0 in (0xC100, 0x8100) or op & 0xFFC0 == 0x4800:
        return "bcd"
    if op & 0xF0C0 == 0x80C0 and v.reason == "ccr" and case.final.sr & 2:
        return "div-overflow-flags"
    if op & 0xF1C0 == 0x4180 and v.reason == "ccr":
        return "chk-flags"
    if op & 0xF8C0 == 0xE0C0 and op & 0x0600 in (0x0000, 0x0200):  # ASd/LSd <ea>
        return "memory-shift"
    if op & 0xB1F8 == 0x9108 and 7 in ((op >> 9) & 7, op & 7):
        return "x-byte-a7"
    if op == 0x4E5F:
        return "unlk-a7"
    if op & 0xFFC7 == 0x4E87:
        return "jsr-sp"
    return "unexplained"


def _low_24_bits(access, ctx: int, vaddr: int, *args):
    return access(ctx, vaddr & ADDRESS_MASK, *args)


class _HighAlias:
    """A second TLB-fill hook: a data access at or above 16 MB uses the page of its low 24 bits.

    The MMU's own fill (C) refuses such an address first and only then is this
    hook asked; a fetch above 16 MB stays a fault. Runs only on TLB misses.
    The Mmu's engine_load/engine_store (the accesses of the instructions the
    CPU layer emulates itself) get the low 24 bits too. The runner is the one
    module besides emulator.cpu that touches unicorn, for this hook alone.
    """

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu
        self._cb = HOOK_TLB_FILL_CFUNC(self._fill)
        self._handle = ctypes.c_size_t()
        uc = cpu._uc
        err = uclib.uc_hook_add(
            uc._uch,
            ctypes.byref(self._handle),
            ucc.UC_HOOK_TLB_FILL,
            ctypes.cast(self._cb, ctypes.c_void_p),
            None,
            ctypes.c_uint64(1 << 24),
            ctypes.c_uint64(0xFFFFFFFF),
        )
        if err:
            raise RuntimeError(f"uc_hook_add (TLB fill) failed: error {err}")
        # the accesses the CPU layer makes itself for an instruction it emulates exactly
        mmu = cpu.mmu
        for name in ("engine_load", "engine_store"):
            access = getattr(mmu, name, None)
            if access is not None:
                setattr(mmu, name, functools.partial(_low_24_bits, access))

    def _fill(self, _uc: object, vaddr: int, access: int, entry: object, _user: object) -> bool:
        mmu = self._cpu.mmu
        if mmu.current is None or access == ucc.UC_MEM_FETCH:
            return False
        e = mmu.entry(mmu.current, (vaddr & ADDRESS_MASK) >> 12)
        if e is None:
            return False
        need = Prot.WRITE if access == ucc.UC_MEM_WRITE else Prot.READ
        if need not in e.prot:
            return False
        perms = ucc.UC_PROT_READ | (ucc.UC_PROT_WRITE if Prot.WRITE in e.prot else 0)
        ent = ctypes.cast(entry, ctypes.POINTER(uc_tlb_entry)).contents
        ent.paddr = e.frame * PAGE
        ent.perms = perms
        return True


class Runner:
    """Plays cases on one Cpu; each case gets a fresh MMU context and frames."""

    FRAMES = 64  # physical frames for one case's pages

    def __init__(self, *, supervisor_as_user: bool = False) -> None:
        self.supervisor_as_user = supervisor_as_user
        self.cpu = Cpu(self.FRAMES * PAGE)
        self.mmu = self.cpu.mmu
        self._alias = _HighAlias(self.cpu)

    def close(self) -> None:
        self.cpu.close()

    def run(self, case: Case) -> Verdict:
        v = self._play(case)
        v.cause = cause(case, v)
        return v

    def _play(self, case: Case) -> Verdict:
        ini, fin = case.initial, case.final
        instr = (ini.pc - 4) & ADDRESS_MASK
        ram = dict(ini.ram)
        opcode = (ram.get(instr, 0) << 8) | ram.get((instr + 1) & ADDRESS_MASK, 0)
        supervisor = bool(ini.sr & S_BIT)
        if supervisor and not self.supervisor_as_user:
            return Verdict("skip", "supervisor mode")
        if supervisor and (is_privileged(opcode) or fin.usp != ini.usp):
            return Verdict("skip", "supervisor mode (privileged)")
        vector = expected_vector(case)
        sentinel = None
        end = instr + 6  # a branch's words (the 68000 prefetched them)
        if not is_branch(opcode):
            # right after the instruction (the next one, or what a missed exception would run)
            sentinel = (instr + instruction_length(opcode)) & ADDRESS_MASK
            if sentinel in case.data_reads:
                return Verdict("skip", "reads its next instruction word as data")
            end = sentinel + 2
        code_pages = {a >> 12 for a in (instr, (end - 1) & ADDRESS_MASK)}
        if 0 in code_pages:
            return Verdict("skip", "code in page 0")
        pages = code_pages | {a >> 12 for a in ram} | {a >> 12 for a in fin.ram}
        if len(pages) > self.FRAMES:
            return Verdict("skip", "too many pages")
        if sentinel is not None:
            ram[sentinel] = SENTINEL[0]
            ram[(sentinel + 1) & ADDRESS_MASK] = SENTINEL[1]
        mmu, cpu = self.mmu, self.cpu
        ctx = mmu.create_context()
        frames = {}
        try:
            for i, vpage in enumerate(sorted(pages)):
                image = bytearray(PAGE)
                base = vpage << 12
                for a, b in ram.items():
                    if a >> 12 == vpage:
                        image[a - base] = b
                cpu.phys_write(i * PAGE, bytes(image))
                frames[vpage] = i
                mmu.map(
                    ctx,
                    vpage,
                    i,
                    Prot.READ | Prot.EXEC if vpage in code_pages else Prot.READ | Prot.WRITE,
                )
            mmu.switch(ctx)
            stack = ini.ssp if supervisor else ini.usp
            cpu.write_registers(Registers(list(ini.d), [*ini.a, stack], instr, ini.sr & 0x1F))
            result = cpu.run(1)
            return self._judge(case, vector, sentinel, code_pages, frames, result)
        finally:
            mmu.destroy_context(ctx)

    def _judge(
        self,
        case: Case,
        vector: int | None,
        sentinel: int | None,
        code_pages: set[int],
        frames: dict[int, int],
        r: SliceResult,
    ) -> Verdict:
        fin = case.final
        if (
            r.stop is Stop.FAULT
            and r.fault_access == "write"
            and ((r.fault_address or 0) & ADDRESS_MASK) >> 12 in code_pages
        ):
            return Verdict("skip", "stores into its code page")
        instr = (case.initial.pc - 4) & ADDRESS_MASK
        # where did the one instruction end?
        pc = got = None  # the PC after it ran | the vector it took (-1: a stop that is neither)
        if (
            r.stop is Stop.TRAP
            and r.trap == SENTINEL_TRAP
            and sentinel is not None
            and ((r.pc - 2) & ADDRESS_MASK == sentinel and r.executed == 2)
        ):
            pc = (r.pc - 2) & 0xFFFFFFFF
        elif r.stop is Stop.BUDGET and r.executed == 1:
            pc = r.pc  # a branch: stopped before the target's block
        elif r.stop is Stop.FAULT and r.fault_access == "fetch" and r.executed == 1:
            pc = r.pc  # a branch to a page that is not executable (or above 16 MB)
        elif r.stop is Stop.TRAP and (r.pc - 2) & ADDRESS_MASK == instr:
            got = TRAP_FIRST + (r.trap or 0)
        elif r.stop is Stop.EXCEPTION and r.vector is not None and r.pc & ADDRESS_MASK == instr:
            got = r.vector
        else:
            got = -1
        if vector is not None:
            if got == vector:
                return Verdict("vector-match", "", vector, got)
            if got is None:
                what = "no exception"
            elif got >= 0:
                what = vector_name(got)
            else:
                what = _stop(r)
            return Verdict(
                "vector-mismatch", f"expected {vector_name(vector)}, got {what}", vector, got
            )
        if pc is None:
            what = vector_name(got) if got is not None and got >= 0 else _stop(r)
            return Verdict("fail", f"stop: {what}", None, got)
        regs = self.cpu.read_registers()
        bad = []
        if pc != (fin.pc - 4) & 0xFFFFFFFF:
            bad.append("pc")
        if regs.d != list(fin.d):
            bad.append("d")
        if regs.a != [*fin.a, fin.ssp if case.initial.sr & S_BIT else fin.usp]:
            bad.append("a")
        if (regs.sr & 0x1F) != (fin.sr & 0x1F):
            bad.append("ccr")
        if self._ram_differs(case, sentinel, frames):
            bad.append("ram")
        return Verdict("fail", "+".join(bad)) if bad else Verdict("pass")

    def _ram_differs(self, case: Case, sentinel: int | None, frames: dict[int, int]) -> bool:
        expect = {}
        for vpage in frames:
            expect[vpage] = bytearray(PAGE)
        for a, b in case.initial.ram.items():
            expect[a >> 12][a & 0xFFF] = b
        for a, b in case.final.ram.items():
            expect[a >> 12][a & 0xFFF] = b
        skip = set()
        if sentinel is not None:
            skip = {sentinel, (sentinel + 1) & ADDRESS_MASK}
        for vpage, frame in frames.items():
            got = bytearray(self.cpu.phys_read(frame * PAGE, PAGE))
            for a in skip:
                if a >> 12 == vpage:
                    got[a & 0xFFF] = expect[vpage][a & 0xFFF]
            if got != expect[vpage]:
                return True
        return False


def _stop(r: SliceResult) -> str:
    if r.stop is Stop.FAULT:
        return f"{r.fault_kind} {r.fault_access} fault"
    if r.stop is Stop.BUDGET:
        return f"ran {r.executed} instructions"
    return "ran on to " + r.describe().split(" at pc")[0]


# --- files and the suite --------------------------------------------------------------------
@dataclass
class FileReport:
    name: str
    cases: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    vector_matched: int = 0
    vector_mismatched: int = 0
    skip_reasons: Counter = field(default_factory=Counter)
    fail_reasons: Counter = field(default_factory=Counter)
    vectors: Counter = field(default_factory=Counter)  # 'expected -> got' for exception cases
    causes: Counter = field(default_factory=Counter)  # CAUSES keys of failures and mismatches

    def add(self, v: Verdict) -> None:
        self.cases += 1
        if v.cause:
            self.causes[v.cause] += 1
        if v.outcome == "pass":
            self.passed += 1
        elif v.outcome == "fail":
            self.failed += 1
            self.fail_reasons[v.reason] += 1
        elif v.outcome == "skip":
            self.skipped += 1
            self.skip_reasons[v.reason] += 1
        else:
            if v.outcome == "vector-match":
                self.vector_matched += 1
            else:
                self.vector_mismatched += 1
            self.vectors[
                f"{vector_name(v.expected_vector)} -> "
                + ("same" if v.outcome == "vector-match" else v.reason.split(", got ")[-1])
            ] += 1

    def as_dict(self) -> dict:
        return {
            "file": self.name,
            "cases": self.cases,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "exception_vector_matched": self.vector_matched,
            "exception_vector_mismatched": self.vector_mismatched,
            "skip_reasons": dict(self.skip_reasons),
            "fail_reasons": dict(self.fail_reasons),
            "exception_vectors": dict(self.vectors),
            "causes": dict(self.causes),
        }


def file_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bin", ".json"):
        name = name.removesuffix(suffix)
    return name


def sample(cases: list, n: int | None) -> list:
    """n cases spread evenly over the file (reproducible), or all of them."""
    if n is None or n >= len(cases):
        return cases
    return [cases[i * len(cases) // n] for i in range(n)]


def run_file(runner: Runner, path: Path, per_file: int | None = None) -> FileReport:
    report = FileReport(file_name(path))
    for case in sample(list(read_cases(path)), per_file):
        report.add(runner.run(case))
    return report


def suite_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.name.endswith((".json.bin", ".json.bin.gz")))
    if not files:
        raise SuiteError(f"{root}: no .json.bin files")
    return files


def format_table(reports: list[FileReport]) -> str:
    head = f"{'file':<14} {'cases':>6} {'passed':>7} {'failed':>7} {'skipped':>8} {'exc ok':>7} {'exc bad':>8}"
    lines = [head, "-" * len(head)]
    total = FileReport("total")
    for r in reports:
        lines.append(
            f"{r.name:<14} {r.cases:>6} {r.passed:>7} {r.failed:>7} {r.skipped:>8} "
            f"{r.vector_matched:>7} {r.vector_mismatched:>8}"
        )
        for k in ("cases", "passed", "failed", "skipped", "vector_matched", "vector_mismatched"):
            setattr(total, k, getattr(total, k) + getattr(r, k))
        total.skip_reasons.update(r.skip_reasons)
    lines.append("-" * len(head))
    lines.append(
        f"{'total':<14} {total.cases:>6} {total.passed:>7} {total.failed:>7} {total.skipped:>8} "
        f"{total.vector_matched:>7} {total.vector_mismatched:>8}"
    )
    lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in total.skip_reasons.most_common()))
    return "\n".join(lines)


WORKER_TIMEOUT = 1800  # seconds for one file in a child process (2,500 cases take seconds)


def _worker(path: Path, per_file: int | None, start: int, supervisor: bool = False) -> int:
    """Print one JSON line per case from index start (flushed: a crash loses nothing before it)."""
    runner = Runner(supervisor_as_user=supervisor)
    cases = sample(list(read_cases(path)), per_file)
    for i in range(start, len(cases)):
        v = runner.run(cases[i])
        print(
            json.dumps([i, v.outcome, v.reason, v.expected_vector, v.got_vector, v.cause]),
            flush=True,
        )
    return 0


def run_file_isolated(
    path: Path, per_file: int | None = None, *, supervisor_as_user: bool = False
) -> FileReport:
    """run_file in child processes: an engine crash costs one case ('engine crashed'), not the run."""
    report = FileReport(file_name(path))
    total = len(sample(list(read_cases(path)), per_file))
    start = 0
    while start < total:
        cmd = [sys.executable, "-m", "emulator.conformance", str(path), "--worker", str(start)]
        if per_file is not None:
            cmd += ["--per-file", str(per_file)]
        if supervisor_as_user:
            cmd.append("--supervisor-as-user")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
            out, rc, err = done.stdout, done.returncode, done.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            rc, err = None, "timed out"
        last = start - 1
        for line in out.splitlines():
            if not line.startswith("["):
                continue  # the engine's own messages ("code should not be reached" before an abort)
            i, outcome, reason, ev, gv, why = json.loads(line)
            report.add(Verdict(outcome, reason, ev, gv, why))
            last = i
        if rc == 0 and last == total - 1:
            break
        if rc is not None and rc > 0:
            raise SuiteError(f"{path}: the worker failed: {err.strip().splitlines()[-1:]}")
        crash = "timed out" if rc is None else f"signal {-rc}"
        report.add(Verdict("fail", f"engine crashed ({crash})", cause="crash"))
        start = last + 2  # past the case that crashed
    return report


def write_sample(files: list[Path], out: Path, per_file: int, *, per_vector: int = 3) -> int:
    """Write a CI subset as gzipped .json.bin.gz files; returns the bytes written.

    Of each file: per_file user-mode cases spread evenly, then the first
    cases of each exception vector the file holds until per_vector of each
    are in (divide by zero is rare in DIVU/DIVS). Reproducible: no randomness.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in files:
        _count, blocks = case_blocks(path)
        user = [
            (i, c)
            for i, (b, c) in enumerate(zip(blocks, read_cases(path), strict=True))
            if not c.initial.sr & S_BIT
        ]
        chosen = {i for i, _c in sample(user, per_file)}
        have = Counter(expected_vector(c) for i, c in user if i in chosen)
        for i, c in user:
            v = expected_vector(c)
            if v is not None and i not in chosen and have[v] < per_vector:
                chosen.add(i)
                have[v] += 1
        data = gzip.compress(pack_cases(blocks[i] for i in sorted(chosen)), 9, mtime=0)
        (out / f"{file_name(path)}.json.bin.gz").write_bytes(data)
        written += len(data)
    return written


def format_details(reports: list[FileReport]) -> str:
    """Per file: failures, exception vectors and causes; then every cause with its files."""
    lines = []
    by_cause: dict[str, Counter] = {}
    for r in reports:
        if r.fail_reasons or r.vector_mismatched:
            lines.append(
                f"{r.name}: failed {dict(r.fail_reasons)} vectors {dict(r.vectors)}"
                f" causes {dict(r.causes)}"
            )
        for c, n in r.causes.items():
            by_cause.setdefault(c, Counter())[r.name] += n
    lines.append("")
    lines.append("by cause:")
    for c, files in sorted(by_cause.items(), key=lambda kv: -sum(kv[1].values())):
        lines.append(f"  {c} ({sum(files.values())}): {CAUSES.get(c, c)}")
        lines.append("    " + ", ".join(f"{f} {n}" for f, n in files.most_common()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m emulator.conformance",
        description="Run SingleStepTests/m68000 cases against the CPU layer.",
    )
    ap.add_argument("suite", type=Path, help="the suite directory (its v1/) or one .json.bin file")
    ap.add_argument(
        "--per-file", type=int, default=None, metavar="N", help="N cases per file, evenly spread"
    )
    ap.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    ap.add_argument("--details", action="store_true", help="failure and vector reasons per file")
    ap.add_argument(
        "--write-sample",
        type=Path,
        metavar="DIR",
        help="instead of running: write --per-file user-mode cases of each file to DIR",
    )
    ap.add_argument(
        "--supervisor-as-user",
        action="store_true",
        help="also play supervisor-mode cases of unprivileged instructions, A7 = SSP",
    )
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.per_file is not None and args.per_file <= 0:
        ap.error("--per-file must be positive")
    try:
        if args.worker is not None:
            return _worker(args.suite, args.per_file, args.worker, args.supervisor_as_user)
        files = suite_files(args.suite)
        if args.write_sample is not None:
            if args.per_file is None:
                ap.error("--write-sample needs --per-file")
            n = write_sample(files, args.write_sample, args.per_file)
            print(f"wrote {len(files)} files, {n} bytes, to {args.write_sample}")
            return 0
        t0 = time.monotonic()
        reports = [
            run_file_isolated(path, args.per_file, supervisor_as_user=args.supervisor_as_user)
            for path in files
        ]
    except (SuiteError, OSError) as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = {
            "per_file": args.per_file,
            "seconds": round(time.monotonic() - t0, 1),
            "files": [r.as_dict() for r in reports],
        }
        print(json.dumps(out, indent=1))
    else:
        print(format_table(reports))
        if args.details:
            print(format_details(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
