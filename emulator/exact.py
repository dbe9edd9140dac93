"""Exact 68010 semantics of the few user-mode instructions the engine gets wrong or lacks (pure Python).

The Cpu runs these one at a time, never on a hot path (docs/CPU.md):
- ASL/ASR/LSL/LSR <ea> (memory, one bit): QEMU picks arithmetic vs logical
  from an addressing-mode bit and never sets V for ASL;
- MOVE CCR,<ea>, after which QEMU's lazily kept flags can go wrong;
- DIVS.W <ea>,Dn, whose QEMU helper divides on the host: 0x80000000 by -1
  is a SIGFPE that kills the whole process;
- RTR, TRAPV and RTD, which Unicorn's m68000 raises as illegal instructions;
- MOVE from SR, privileged on a 68010, and the 68020 instructions QEMU's
  m68000 still decodes (EXTB.L, LINK.L, CAS, TRAPcc, PACK, UNPK): the
  exceptions a 68010 takes.

Each function takes the registers (changed in place only when the instruction
completes) and a Memory, and returns what happened: None (done), a Fault (the
instruction did not run; the kernel may page in and restart it) or a vector
(an exception the instruction raises: 4 illegal, 5 divide by zero, 7 trapv).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

X, N, Z, V, C = 0x10, 0x08, 0x04, 0x02, 0x01
ILLEGAL_VECTOR, ZERO_DIVIDE_VECTOR, TRAPV_VECTOR, PRIVILEGE_VECTOR = 4, 5, 7, 8

RTR, TRAPV, RTD = 0x4E77, 0x4E76, 0x4E74


class Fault(NamedTuple):
    vaddr: int  # the page address, as the engine's TLB reports it
    access: str  # 'read' | 'write'
    kind: str  # 'unmapped' | 'protection'


class Memory(Protocol):
    """Guest memory as the engine sees it: the MMU's checks and referenced/modified bits."""

    def load(self, vaddr: int, n: int) -> bytes | Fault: ...
    def store(self, vaddr: int, data: bytes) -> Fault | None: ...


class Regs(Protocol):
    d: list[int]
    a: list[int]
    pc: int
    sr: int


def is_memory_shift(word: int) -> bool:
    """ASd/LSd <ea>: 1110 00td 11mm mrrr."""
    return word & 0xFCC0 == 0xE0C0


def is_move_from_sr(word: int) -> bool:
    """MOVE SR,<ea>: privileged on the 68010 (QEMU's m68000 lets user mode run it)."""
    return word & 0xFFC0 == 0x40C0


def is_68020_only(word: int) -> bool:
    """EXTB.L, LINK.L, CAS, TRAPcc, PACK, UNPK: illegal on a 68010, run or mis-reported by QEMU."""
    return (
        word & 0xFFF8 in (0x49C0, 0x4808)
        or (word & 0xF9C0 == 0x08C0 and word & 0x0600 != 0)
        or 0x50FA <= word & 0xF0FF <= 0x50FC
        or word & 0xF1F0 in (0x8140, 0x8180)
    )


def is_move_from_ccr(word: int) -> bool:
    """MOVE CCR,<ea>: QEMU's lazy flags go wrong after it (a logic op, then ADDX, got Z wrong)."""
    return word & 0xFFC0 == 0x42C0


def is_divs_w(word: int) -> bool:
    """DIVS.W <ea>,Dn: 1000 DDD 111 mmm rrr (QEMU's helper traps on the host for 0x80000000 / -1)."""
    return word & 0xF1C0 == 0x81C0


def is_emulated(word: int) -> bool:
    """An opcode word the C core stops before (vc_emulated_word in emulator.native)."""
    return (
        is_memory_shift(word)
        or is_divs_w(word)
        or is_move_from_ccr(word)
        or is_move_from_sr(word)
        or is_68020_only(word)
    )


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def _ea_words(mode: int, reg: int) -> int | None:
    """Extension words of a memory-alterable <ea>; None if the mode is not one."""
    if mode in (2, 3, 4):
        return 0
    if mode in (5, 6):
        return 1
    if mode == 7 and reg in (0, 1):
        return reg + 1
    return None


def memory_shift_length(word: int) -> int | None:
    """Bytes of the instruction, or None if its <ea> is not memory alterable (illegal)."""
    words = _ea_words((word >> 3) & 7, word & 7)
    return None if words is None else 2 + 2 * words


def _address(mode: int, reg: int, ext: bytes, regs: Regs) -> tuple[int, int | None]:
    """(address, An after the access or None) of a word operand in memory (68000 rules)."""
    a = regs.a
    new_a = None
    if mode == 2:
        addr = a[reg]
    elif mode == 3:
        addr = a[reg]
        new_a = (addr + 2) & 0xFFFFFFFF
    elif mode == 4:
        addr = new_a = (a[reg] - 2) & 0xFFFFFFFF
    elif mode == 5:
        addr = a[reg] + _sext(int.from_bytes(ext[0:2], "big"), 16)
    elif mode == 6:
        brief = int.from_bytes(ext[0:2], "big")
        xn = (a if brief & 0x8000 else regs.d)[(brief >> 12) & 7]
        index = xn if brief & 0x0800 else _sext(xn, 16)  # the 68000 ignores the scale bits
        addr = a[reg] + index + _sext(brief, 8)
    elif reg == 0:
        addr = _sext(int.from_bytes(ext[0:2], "big"), 16)
    else:
        addr = int.from_bytes(ext[0:4], "big")
    return addr & 0xFFFFFFFF, new_a


def move_from_ccr_length(word: int) -> int | None:
    """Bytes of MOVE CCR,<ea>, or None if <ea> is not data alterable (illegal)."""
    mode = (word >> 3) & 7
    if mode == 0:
        return 2
    if mode == 1:
        return None
    return memory_shift_length(word)


def move_from_ccr(word: int, ext: bytes, regs: Regs, mem: Memory) -> Fault | int | None:
    """MOVE CCR,<ea> (68010): the condition codes as a word; the flags are unchanged."""
    length = move_from_ccr_length(word)
    if length is None:
        return ILLEGAL_VECTOR
    mode, reg = (word >> 3) & 7, word & 7
    ccr = regs.sr & 0x1F
    if mode == 0:
        regs.d[reg] = (regs.d[reg] & 0xFFFF0000) | ccr
    else:
        addr, new_a = _address(mode, reg, ext, regs)
        fault = mem.store(addr, ccr.to_bytes(2, "big"))
        if fault is not None:
            return fault
        if new_a is not None:
            regs.a[reg] = new_a
    regs.pc = (regs.pc + length) & 0xFFFFFFFF
    return None


def memory_shift(word: int, ext: bytes, regs: Regs, mem: Memory) -> Fault | int | None:
    """Emulate ASd/LSd <ea> (word, by one) at regs.pc; ext holds the extension words."""
    mode, reg = (word >> 3) & 7, word & 7
    length = memory_shift_length(word)
    if length is None:
        return ILLEGAL_VECTOR
    a = regs.a
    addr, new_a = _address(mode, reg, ext, regs)
    got = mem.load(addr, 2)
    if isinstance(got, Fault):
        return got
    value = int.from_bytes(got, "big")
    left = word & 0x100
    arithmetic = not word & 0x200
    if left:
        result = (value << 1) & 0xFFFF
        out = value >> 15
        overflow = arithmetic and ((value >> 15) ^ (value >> 14)) & 1
    else:
        result = (value >> 1) | (value & 0x8000 if arithmetic else 0)
        out = value & 1
        overflow = 0
    ccr = (X | C if out else 0) | (V if overflow else 0)
    ccr |= N if result & 0x8000 else 0
    ccr |= Z if result == 0 else 0
    fault = mem.store(addr, result.to_bytes(2, "big"))
    if fault is not None:
        return fault
    if new_a is not None:
        a[reg] = new_a
    regs.sr = ccr
    regs.pc = (regs.pc + length) & 0xFFFFFFFF
    return None


def rtr(regs: Regs, mem: Memory) -> Fault | None:
    """RTR: CCR from the word at (A7), PC from the long after it; A7 += 6."""
    sp = regs.a[7]
    got = mem.load(sp, 6)
    if isinstance(got, Fault):
        return got
    regs.sr = got[1] & 0x1F
    regs.pc = int.from_bytes(got[2:6], "big")
    regs.a[7] = (sp + 6) & 0xFFFFFFFF
    return None


def rtd(disp: int, regs: Regs, mem: Memory) -> Fault | None:
    """RTD #d16 (68010): PC from the long at (A7); A7 += 4 + d16."""
    sp = regs.a[7]
    got = mem.load(sp, 4)
    if isinstance(got, Fault):
        return got
    regs.pc = int.from_bytes(got, "big")
    regs.a[7] = (sp + 4 + _sext(disp, 16)) & 0xFFFFFFFF
    return None


def trapv(regs: Regs) -> int | None:
    """TRAPV: the trapv exception if V is set, else nothing but the PC."""
    if regs.sr & V:
        return TRAPV_VECTOR
    regs.pc = (regs.pc + 2) & 0xFFFFFFFF
    return None


def _source_ext_words(mode: int, reg: int) -> int | None:
    """Extension words of a word-sized data-addressing source <ea>; None if the mode is not one."""
    if mode in (0, 2, 3, 4):
        return 0
    if mode in (5, 6):
        return 1
    if mode == 7 and reg <= 4:
        return 2 if reg == 1 else 1
    return None


def divs_w_length(word: int) -> int | None:
    """Bytes of DIVS.W <ea>,Dn, or None if <ea> is not a data addressing mode (illegal)."""
    words = _source_ext_words((word >> 3) & 7, word & 7)
    return None if words is None else 2 + 2 * words


def divs_w(word: int, ext: bytes, regs: Regs, mem: Memory) -> Fault | int | None:
    """DIVS.W <ea>,Dn (68000 PRM 4-93): Dn (32 bits) / <ea> (16 bits), signed.

    The quotient goes to the low word and the remainder (the dividend's sign) to
    the high word; N Z from the quotient, V C cleared, X kept. A quotient outside
    -32768..32767 (0x80000000 / -1 too) is an overflow: Dn unchanged, V set, C
    cleared; N and Z are undefined, left as the engine leaves them for DIVU and
    every other overflow: N kept, Z cleared. A zero divisor: vector 5, nothing
    changed (the engine keeps an (An)+ / -(An) update undone, as for DIVU).
    """
    length = divs_w_length(word)
    if length is None:
        return ILLEGAL_VECTOR
    mode, reg = (word >> 3) & 7, word & 7
    dn = (word >> 9) & 7
    new_a = None
    if mode == 0:
        divisor = regs.d[reg] & 0xFFFF
    elif mode == 7 and reg == 4:
        divisor = int.from_bytes(ext[0:2], "big")
    else:
        if mode == 7 and reg in (2, 3):  # d16(PC), d8(PC,Xn): based at the extension word
            brief = int.from_bytes(ext[0:2], "big")
            base = regs.pc + 2
            if reg == 2:
                addr = base + _sext(brief, 16)
            else:
                xn = (regs.a if brief & 0x8000 else regs.d)[(brief >> 12) & 7]
                addr = base + (xn if brief & 0x0800 else _sext(xn, 16)) + _sext(brief, 8)
            addr &= 0xFFFFFFFF
        else:
            addr, new_a = _address(mode, reg, ext, regs)
        got = mem.load(addr, 2)
        if isinstance(got, Fault):
            return got
        divisor = int.from_bytes(got, "big")
    if divisor == 0:
        return ZERO_DIVIDE_VECTOR
    if new_a is not None:
        regs.a[reg] = new_a
    dividend = _sext(regs.d[dn], 32)
    den = _sext(divisor, 16)
    quotient = abs(dividend) // abs(den)  # the 68000 truncates toward zero
    if (dividend < 0) != (den < 0):
        quotient = -quotient
    remainder = dividend - quotient * den  # the sign of the dividend
    x = regs.sr & X
    if not -0x8000 <= quotient <= 0x7FFF:
        regs.sr = x | (regs.sr & N) | V
    else:
        regs.d[dn] = (remainder & 0xFFFF) << 16 | (quotient & 0xFFFF)
        regs.sr = x | (N if quotient < 0 else 0) | (Z if quotient == 0 else 0)
    regs.pc = (regs.pc + length) & 0xFFFFFFFF
    return None
