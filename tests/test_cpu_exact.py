"""The CPU is exact at its boundaries: the true condition codes survive register reads and
write-backs, and the engine is QEMU's real 68000 model. Musashi (a reference 68010) is the oracle."""

from __future__ import annotations

import cpu_reference
import pytest
from test_cpu import CODE, DATA, RW, RX, STACK_TOP, Machine

from emulator.cpu import Registers, Stop

# Each: set-up; one flag-setting instruction; bra.w 1f (ends the block, so a slice of
# 3 instructions stops exactly between the flags and their use); 1: move.w ccr,d7;
# s<cc> d6 (the branch condition the flags decide); trap #0. (m68k-linux-gnu-as -m68010)
# The value: (code, instructions up to the bra).
FLAG_CASES = {
    "subq.l #1 from 0": ("700053806000000242c755c64e40", 3),  # X N C (0x19), scs taken
    "cmp.l 2 from 1": ("70017202b0816000000242c755c64e40", 4),  # N C (0x09), scs taken
    "tst.l 0": ("700172004a816000000242c757c64e40", 4),  # Z (0x04), seq taken
    "add.l 5 + -5": ("700572fbd0816000000242c755c64e40", 4),  # X Z C (0x15), scs taken
}


def reference(code: str) -> cpu_reference.Outcome:
    return cpu_reference.run(bytes.fromhex(code), at=CODE, a=[0] * 7 + [STACK_TOP])


def finish(m: Machine, budget: int = 1000) -> Registers:
    r = m.run(budget)
    assert r.stop is Stop.TRAP and r.trap == 0, r
    return m.cpu.read_registers()


@pytest.mark.parametrize("name", sorted(FLAG_CASES))
def test_flags_read_at_a_slice_end_are_the_true_ones(name):
    code, first = FLAG_CASES[name]
    ref = reference(code)
    m = Machine(code)
    r = m.run(first)  # stops after the flag-setting block, before the flags are used
    assert r.stop is Stop.BUDGET and r.executed == first
    regs = m.cpu.read_registers()
    assert regs.sr == ref.d[7], f"read {regs.sr:#x}, the reference has {ref.d[7]:#x}"
    assert m.cpu.read_registers() == regs  # reading twice changes nothing


@pytest.mark.parametrize("name", sorted(FLAG_CASES))
@pytest.mark.parametrize("boundary", ["none", "read", "read+write-back", "context switch"])
def test_flags_survive_every_kind_of_boundary(name, boundary):
    code, first = FLAG_CASES[name]
    ref = reference(code)
    m = Machine(code)
    if boundary == "none":
        regs = finish(m)
    else:
        assert m.run(first).stop is Stop.BUDGET
        saved = m.cpu.read_registers()
        if boundary == "read+write-back":
            m.cpu.write_registers(saved)
        elif boundary == "context switch":
            # what the kernel does between two processes: another context runs in between
            other = m.mmu.create_context()
            frame = m.frames.alloc()
            m.cpu.phys_write(frame * 4096, bytes.fromhex("7000b0804e40"))  # moveq #0; cmp.l d0,d0
            m.mmu.map(other, CODE >> 12, frame, RX)
            m.mmu.switch(other)
            m.cpu.write_registers(Registers.initial(CODE, 0))
            assert m.run(100).stop is Stop.TRAP
            assert m.cpu.read_registers().sr == 0x04
            m.mmu.switch(m.ctx)
            m.cpu.write_registers(saved)
        regs = finish(m)
    assert regs.d[:8] == ref.d, (boundary, [hex(v) for v in regs.d], [hex(v) for v in ref.d])
    assert regs.sr == ref.ccr


def test_a_read_leaves_the_engine_alone():
    """add.l giving X Z C: reading SR through Unicorn's API made the engine hold X V and skip bcs."""
    m = Machine(
        "700572fbd0816000000265024e40700a4e40"
    )  # ...; bra.w 1f; 1: bcs.s 2f; trap #0; 2: moveq #10,d0; trap #0
    assert m.run(4).stop is Stop.BUDGET
    assert m.cpu.read_registers().sr == 0x15
    regs = finish(m)
    assert regs.d[0] == 10  # bcs was taken


def test_every_ccr_value_written_is_what_the_guest_sees():
    """SR written through the register API, judged by the guest's own conditions (scc, addx)."""
    # bra.w 1f; 1: shi (a0)+ ... sle (a0)+ (14 conditions); moveq #0,d0; addx.l d0,d0; trap #0
    code = "6000000252d853d854d855d856d857d858d859d85ad85bd85cd85dd85ed85fd87000d1804e40"
    conditions = [
        "hi",
        "ls",
        "cc",
        "cs",
        "ne",
        "eq",
        "vc",
        "vs",
        "pl",
        "mi",
        "ge",
        "lt",
        "gt",
        "le",
    ]
    for ccr in range(32):
        ref = cpu_reference.run(
            bytes.fromhex(code), at=CODE, a=[DATA] + [0] * 6 + [STACK_TOP], ccr=ccr
        )
        m = Machine(code)
        m.cpu.write_registers(Registers([0] * 8, [DATA] + [0] * 6 + [STACK_TOP], CODE, ccr))
        regs = finish(m)
        got = m.mmu.read(m.ctx, DATA, len(conditions))
        want = ref.read(DATA, len(conditions))
        assert got == want, (
            ccr,
            dict(zip(conditions, got, strict=True)),
            dict(zip(conditions, want, strict=True)),
        )
        assert regs.d[0] == ref.d[0] == ccr >> 4  # X went through addx


def test_the_model_is_the_68000_scale_bits_are_ignored():
    """move.b (0,a0,d5.l*8),d0: a 68000/68010 ignores the scale (QEMU's m68020 applies it)."""
    m = Machine("10305e004e40")  # move.b (0,a0,d5.l*8),d0; trap #0
    m.mmu.write(m.ctx, DATA, bytes(range(0x10, 0x20)))
    start = Registers([0, 0, 0, 0, 0, 1, 0, 0], [DATA] + [0] * 6 + [STACK_TOP], CODE)
    m.cpu.write_registers(start)
    regs = finish(m)
    ref = cpu_reference.run(
        bytes.fromhex("10305e004e40"),
        at=CODE,
        d=start.d,
        a=start.a,
        memory={DATA: bytes(range(0x10, 0x20))},
    )
    assert regs.d[0] == ref.d[0] == 0x11  # DATA + 1, not DATA + 8


def test_flags_survive_a_fault_and_its_restart():
    """subq sets X N C; the next store faults (demand paging); the kernel maps, writes back, resumes."""
    code = "7000538048f80001500042c755c64e40"  # ...; movem.l d0,0x5000.w; move.w ccr,d7; scs d6; trap #0
    ref = reference(code)
    m = Machine(code)
    r = m.run(1000)
    assert r.stop is Stop.FAULT and r.fault_address == 0x5000 and r.executed == 2
    saved = m.cpu.read_registers()
    assert saved.sr == ref.ccr == 0x19
    m.map(5, RW)
    m.cpu.write_registers(saved)
    regs = finish(m)
    assert regs.d == ref.d and regs.sr == ref.ccr
