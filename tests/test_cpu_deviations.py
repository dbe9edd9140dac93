"""The engine's known deviations from the 68010 (docs/CPU.md), each pinned: if the engine changes,
these fail and the list must change. Musashi (a reference 68010) shows what a 68010 does, where it
models it; where it does not (address errors), the Programmer's Reference Manual is the reference."""

from __future__ import annotations

import cpu_reference
import pytest
from test_cpu import CODE, DATA, Machine

from emulator.cpu import Registers, Stop

SP = 0x8000  # a stack inside the reference's 1 MB (the Machine maps page 7 for it)


def both(code: str, d: list[int] | None = None) -> tuple:
    """(the engine's registers and stop, the reference's outcome) from the same start."""
    d = d or [0] * 8
    a = [DATA] + [0] * 6 + [SP]
    m = Machine(code)
    m.map(7, 3)  # read|write: the stack page below SP
    m.mmu.write(m.ctx, DATA, bytes(range(256)))
    m.cpu.write_registers(Registers(list(d), list(a), CODE))
    r = m.run(100)
    ref = cpu_reference.run(
        bytes.fromhex(code), at=CODE, d=d, a=a, memory={DATA: bytes(range(256))}
    )
    return m.cpu.read_registers(), r, ref


def test_addx_predecrement_a7_byte_moves_a7_by_one():
    """addx.b -(a7),-(a7): a 68010 keeps A7 even (by 2 each); the engine moves it by 1 each."""
    # move.l sp,d5; move.w #0x1234,-(sp); addx.b -(sp),-(sp); move.l sp,d6; trap #0
    regs, r, ref = both("2a0f3f3c1234df0f2c0f4e40")
    assert r.stop is Stop.TRAP
    assert ref.d[6] == SP - 2 - 4 and regs.d[6] == SP - 2 - 2


def test_link_a7_pushes_the_old_a7():
    """link a7,#-8: a 68010 pushes A7 after the decrement; the engine pushes the value before it."""
    # move.l sp,d5; link sp,#-8; move.l (8,sp),d6; move.l sp,d7; trap #0
    regs, r, ref = both("2a0f4e57fff82c2f00082e0f4e40")
    assert r.stop is Stop.TRAP and regs.d[7] == ref.d[7] == SP - 4 - 8
    assert ref.d[6] == SP - 4 and regs.d[6] == SP


def test_bcd_on_invalid_digits():
    """abcd 0x0b + 0xfa (digits above 9, undefined in the manual): the engine differs from a 68010."""
    # move.b #0xfa,d0; move.b #0x0b,d1; abcd d1,d0; move.w ccr,d2; trap #0
    regs, r, ref = both("103c00fa123c000bc10142c24e40")
    assert regs.d[2] == ref.d[2] == 0x11  # the flags agree
    assert ref.d[0] & 0xFF == 0x6B and regs.d[0] & 0xFF == 0x65


@pytest.mark.parametrize("code", ["61ff00000004", "60ff00000004"])
def test_a_long_branch_is_an_illegal_instruction(code):
    """bsr.l/bra.l (68020): on a 68010 the 0xFF displacement is a short branch to an odd address,
    an address error; the engine reports an illegal instruction (the process ends either way)."""
    regs, r, ref = both(code + "4e714e40", d=[0] * 8)
    assert r.stop is Stop.EXCEPTION and r.exception == "illegal instruction" and r.pc == CODE
    assert ref.vector != 32  # the reference does not run on either


def test_odd_address_accesses_raise_no_address_error():
    """A word or long access at an odd address is an address error on a 68010; the engine (and
    Musashi) perform it. Checking every access would need a per-access hook or a patched engine."""
    # lea 0x2001,a0; move.w (a0),d0; move.l d0,(a0); trap #0
    regs, r, ref = both("41f82001301020804e40")
    assert r.stop is Stop.TRAP and ref.vector == 32
    assert regs.d[0] == ref.d[0] == 0x0102


def test_a_jump_to_an_odd_address_is_a_line_f_exception():
    """jmp 0x1001: a 68010 takes an address error (vector 3); the engine and Musashi report line-F."""
    regs, r, ref = both("4ef81001")
    assert r.stop is Stop.EXCEPTION and r.vector == ref.vector == 11


def test_movem_predecrement_stores_the_initial_register():
    """movem.l d0/a0,-(a0): the 68000/68010 store a0's initial value (a 68020 stores a0 - 8; so did
    Unicorn's UC_CPU_M68K_M68000, which builds an m68020)."""
    m = Machine("41f8210048e080804e40")  # lea 0x2100,a0; movem.l d0/a0,-(a0); trap #0
    assert m.run(100).stop is Stop.TRAP
    assert m.mmu.read(m.ctx, 0x20FC, 4) == (0x2100).to_bytes(4, "big")


@pytest.mark.parametrize("insn", ["80fc0001", "85fc0001"])  # divu.w #1,d0 / divs.w #1,d2
def test_divide_overflow_leaves_undefined_flags_as_the_engine_chooses(insn):
    """A quotient over 16 bits: V set and C cleared (the manual), N and Z undefined. From X N Z V C
    the engine keeps X N and clears Z; Musashi keeps every flag (C too, against the manual)."""
    reg = (int(insn[:2], 16) >> 1) & 7
    d = [0] * 8
    d[reg] = 0x10000
    regs, r, ref = both("44fc001f" + insn + "42c14e40", d=d)  # move.w #0x1f,ccr; div; move.w ccr,d1
    assert r.stop is Stop.TRAP and regs.d[reg] == ref.d[reg] == 0x10000  # the operand is kept
    assert regs.d[1] == 0x1A and ref.d[1] == 0x1F


@pytest.mark.parametrize("insn", ["80d8", "81d8", "80e0", "81e0"])  # div[us].w (a0)+,d0 / -(a0)
def test_divide_by_zero_leaves_an_postincrement_or_predecrement_undone(insn):
    """A zero divisor through (a0)+ or -(a0): a 68010 takes vector 5 with A0 updated; the engine
    (and the CPU layer's divs.w, which reports it as the engine does) leaves A0 as it was."""
    m = Machine(insn + "4e40")
    m.mmu.write(m.ctx, DATA, bytes(16))
    a = [DATA + 8] + [0] * 6 + [SP]
    m.cpu.write_registers(Registers([5] + [0] * 7, list(a), CODE))
    r = m.run(100)
    ref = cpu_reference.run(bytes.fromhex(insn + "4e40"), at=CODE, d=[5] + [0] * 7, a=a,
                            memory={DATA: bytes(16)})  # fmt: skip
    assert r.vector == ref.vector == 5
    assert ref.a[0] == DATA + 8 + (2 if insn.endswith("d8") else -2)  # the 68010
    assert m.cpu.read_registers().a[0] == DATA + 8  # the engine
