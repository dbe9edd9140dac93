"""The CPU is exact at its boundaries: the true condition codes survive register reads and
write-backs, and the engine is QEMU's real 68000 model. Musashi (a reference 68010) is the oracle."""

from __future__ import annotations

import cpu_reference
import pytest
from test_cpu import CODE, DATA, RW, RX, STACK_TOP, Machine

from emulator.cpu import Registers, Stop
from emulator.mmu import Prot

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


# --- instructions the engine gets wrong or lacks, emulated exactly (emulator.exact) ----------
SHIFT_KINDS = {"as": 0, "ls": 1, "rox": 2, "ro": 3}  # rotates are right in the engine: checked too
OPERAND = DATA + 0x100
# (mode, reg, extension words, a0, d3) for each memory-alterable mode reaching OPERAND
SHIFT_MODES = {
    "(a0)": (2, 0, b"", OPERAND, 0),
    "(a0)+": (3, 0, b"", OPERAND, 0),
    "-(a0)": (4, 0, b"", OPERAND + 2, 0),
    "(d16,a0)": (5, 0, (0x10).to_bytes(2, "big"), OPERAND - 0x10, 0),
    "(d8,a0,d3.w)": (6, 0, bytes.fromhex("3004"), OPERAND - 0x14, 0x10),
    "abs.w": (7, 0, OPERAND.to_bytes(2, "big"), 0, 0),
    "abs.l": (7, 1, OPERAND.to_bytes(4, "big"), 0, 0),
}
SHIFT_VALUES = [0x0000, 0x4000, 0x8000, 0xC000, 0xE492, 0x8001]
PREFIX = bytes.fromhex("70017202")  # moveq #1,d0; moveq #2,d1: the shift is not first in its block
SUFFIX = bytes.fromhex("42c74e40")  # move.w ccr,d7; trap #0


@pytest.mark.parametrize("mode", sorted(SHIFT_MODES))
@pytest.mark.parametrize("kind", sorted(SHIFT_KINDS))
@pytest.mark.parametrize("first", [True, False], ids=["first", "inside"])
def test_memory_shifts_match_the_reference(kind, mode, first):
    """lsr.w (a0) on 0xe492 is 0x7249 (the engine gave 0xf249); asr.w (a0)+ shifts arithmetically;
    asl.w sets V. Both directions, every memory mode, at a block's start and inside it."""
    m_, reg, ext, a0, d3 = SHIFT_MODES[mode]
    for left in (0, 1):
        word = 0xE0C0 | SHIFT_KINDS[kind] << 9 | left << 8 | m_ << 3 | reg
        code = (b"" if first else PREFIX) + word.to_bytes(2, "big") + ext + SUFFIX
        m = Machine(code)
        for value in SHIFT_VALUES:
            for ccr in (0x00, 0x1F):
                mem = {OPERAND: value.to_bytes(2, "big")}
                start = Registers(
                    [0, 0, 0, d3, 0, 0, 0, 0], [a0] + [0] * 6 + [STACK_TOP], CODE, ccr
                )
                ref = cpu_reference.run(code, at=CODE, d=start.d, a=start.a, ccr=ccr, memory=mem)
                m.mmu.write(m.ctx, OPERAND, mem[OPERAND])
                m.cpu.write_registers(start)
                r = m.run(1000)
                assert r.stop is Stop.TRAP and r.executed == len(code) // 2 - (len(ext) // 2), r
                regs = m.cpu.read_registers()
                got = (m.mmu.read(m.ctx, OPERAND, 2).hex(), regs.d[7], regs.a[0], regs.sr)
                want = (ref.read(OPERAND, 2).hex(), ref.d[7], ref.a[0], ref.ccr)
                assert got == want, (f"{word:#06x}", hex(value), ccr)


def test_a_memory_shift_in_a_loop_at_every_budget():
    """A loop of lsr.w (a0)+ and asr.w -(a1) between other instructions, cut at every budget 1..40."""
    # lea 0x2000,a0; lea 0x2200,a1; moveq #31,d7; 1: addq.l #1,d0; lsr.w (a0)+; addx.l d0,d1;
    # asr.w -(a1); scs d2; add.b d2,d3; dbra d7,1b; trap #0
    code = bytes.fromhex("41f8200043f822007e1f5280e2d8d380e0e155c2d60251cffff24e40")
    pattern = bytes((i * 37 + 11) & 0xFF for i in range(512))
    ref = cpu_reference.run(code, at=CODE, a=[0] * 7 + [STACK_TOP], memory={DATA: pattern})
    outcomes = set()
    for budget in [*range(1, 41), 10**6]:
        m = Machine(code)
        m.mmu.write(m.ctx, DATA, pattern)
        executed = 0
        while True:
            r = m.run(budget)
            executed += r.executed
            if r.stop is Stop.TRAP:
                break
            assert r.stop is Stop.BUDGET and (r.executed <= budget or budget < 7), r
            m.cpu.write_registers(m.cpu.read_registers())
        regs = m.cpu.read_registers()
        outcomes.add(
            (executed, tuple(regs.d), tuple(regs.a), regs.sr, m.mmu.read(m.ctx, DATA, 512))
        )
    assert len(outcomes) == 1
    ((executed, d, a, sr, data),) = outcomes
    assert executed == 4 + 32 * 7
    assert (list(d), list(a[:7]), sr, data) == (ref.d, ref.a[:7], ref.ccr, ref.read(DATA, 512))


def test_a_memory_shift_faults_restartably_and_sets_the_modified_bit():
    """lsr.w (a0)+ on an unmapped page: a read fault, a0 unchanged; mapped read-only: a write
    fault; then writable: it completes, and the page is referenced and modified."""
    code = PREFIX + bytes.fromhex("e2d8") + SUFFIX  # ...; lsr.w (a0)+; move.w ccr,d7; trap #0
    m = Machine(code)
    target = 0x5000
    m.cpu.write_registers(Registers([0] * 8, [target] + [0] * 6 + [STACK_TOP], CODE))
    r = m.run(1000)
    assert (r.stop, r.fault_access, r.fault_kind, r.fault_address) == (
        Stop.FAULT,
        "read",
        "unmapped",
        0x5000,
    )
    assert r.pc == CODE + 4 and r.executed == 2
    assert m.cpu.read_registers().a[0] == target
    frame = m.map(5, Prot.READ, (0x8001).to_bytes(2, "big"))
    r = m.run(1000)
    assert (r.stop, r.fault_access, r.fault_kind, r.pc, r.executed) == (
        Stop.FAULT,
        "write",
        "protection",
        CODE + 4,
        0,
    )
    assert m.cpu.read_registers().a[0] == target
    m.mmu.map(m.ctx, 5, frame, RW)
    m.mmu.clear_modified(m.ctx)
    m.mmu.clear_referenced(m.ctx)
    r = m.run(1000)
    assert r.stop is Stop.TRAP and r.executed == 3
    regs = m.cpu.read_registers()
    ref = cpu_reference.run(
        code, at=CODE, a=[target] + [0] * 6 + [STACK_TOP], memory={target: b"\x80\x01"}
    )
    assert (regs.a[0], regs.d[7]) == (ref.a[0], ref.d[7]) == (target + 2, 0x11)  # X C
    assert m.mmu.read(m.ctx, target, 2) == ref.read(target, 2) == b"\x40\x00"
    assert 5 in m.mmu.modified_pages(m.ctx) and 5 in m.mmu.referenced_pages(m.ctx)
    assert m.cpu.instructions == 2 + 3


def test_a_memory_shift_in_code_written_at_run_time():
    """Code stored by the guest, then made executable (W^X), is checked like loaded code."""
    m = Machine("4e40")
    m.mmu.write(m.ctx, OPERAND, b"\xe4\x92")
    routine = PREFIX + bytes.fromhex("e2d0") + SUFFIX  # lsr.w (a0)
    frame = m.map(6, RW, routine)
    m.mmu.map(m.ctx, 6, frame, RX)
    m.cpu.write_registers(Registers([0] * 8, [OPERAND] + [0] * 6 + [STACK_TOP], 0x6000))
    assert m.run(1000).stop is Stop.TRAP
    assert m.mmu.read(m.ctx, OPERAND, 2) == b"\x72\x49"


# (name, code, the stop the 68010 takes) m68k-linux-gnu-as -m68010
RETURNS_AND_TRAPV = {
    # pea 1f; move.w #0x1f,-(sp); rtr; nop; 1: move.w ccr,d1; trap #0
    "rtr": ("487a000a3f3c001f4e774e7142c14e40", Stop.TRAP),
    # pea 1f; rtd #8; nop; 1: moveq #3,d0; trap #0
    "rtd": ("487a00084e7400084e7170034e40", Stop.TRAP),
    # move.w #0,ccr; trapv; moveq #7,d0; trap #0  (V clear: nothing happens)
    "trapv, V clear": ("44fc00004e7670074e40", Stop.TRAP),
    # move.w #2,ccr; trapv  (V set: the trapv exception, vector 7)
    "trapv, V set": ("44fc00024e76", Stop.EXCEPTION),
    # rte in user mode: a privilege violation (vector 8)
    "rte": ("4e73", Stop.EXCEPTION),
}


@pytest.mark.parametrize("name", sorted(RETURNS_AND_TRAPV))
@pytest.mark.parametrize("budget", [1, 2, 1000])
def test_rtr_rtd_trapv_rte_as_the_68010_does(name, budget):
    code, stop = RETURNS_AND_TRAPV[name]
    ref = reference(code)
    m = Machine(code)
    executed = 0
    while True:
        r = m.run(budget)
        executed += r.executed
        if r.stop is not Stop.BUDGET:
            break
        m.cpu.write_registers(m.cpu.read_registers())
    assert r.stop is stop
    regs = m.cpu.read_registers()
    assert regs.d == ref.d and regs.a == ref.a and regs.sr == ref.ccr
    if stop is Stop.TRAP:
        assert ref.vector == 32
    else:
        assert r.vector == ref.vector and r.pc == regs.pc
        assert r.exception == {7: "trapv", 8: "privilege violation"}[r.vector]
    assert executed == m.cpu.instructions


def test_an_emulated_instruction_that_faults_is_restartable():
    """rtr with its stack on an unmapped page: a read fault at the rtr, nothing changed."""
    m = Machine("4e774e40")  # rtr; trap #0
    m.cpu.write_registers(Registers([0] * 8, [0] * 7 + [0x7000], CODE, 0x04))
    r = m.run(100)
    assert (r.stop, r.fault_access, r.fault_address, r.pc, r.executed) == (
        Stop.FAULT,
        "read",
        0x7000,
        CODE,
        0,
    )
    assert m.cpu.read_registers() == Registers([0] * 8, [0] * 7 + [0x7000], CODE, 0x04)
    m.map(7, RW, bytes.fromhex("0011") + (CODE + 2).to_bytes(4, "big"))
    r = m.run(100)
    assert r.stop is Stop.TRAP and r.executed == 2
    assert m.cpu.read_registers().sr == 0x11


# --- 68010 faithfulness: what a 68010 refuses ------------------------------------------------
REFUSED = {  # m68k-linux-gnu-as -m68020; each followed by trap #0
    "bfextu d0{#4:#8},d1": ("e9c01108", 4),
    "mulu.l d0,d1": ("4c001000", 4),
    "divs.l d0,d1": ("4c401801", 4),
    "extb.l d0": ("49c0", 4),
    "cas.l d0,d1,(a0)": ("0ed00040", 4),
    "link.l a6,#-8": ("480efffffff8", 4),
    "trapcc": ("54fc", 4),
    "pack d0,d1,#0": ("83400000", 4),
    "chk.l d0,d1": ("4300", 4),
    "move.w sr,d0": ("40c0", 8),  # privileged on the 68010 (not on the 68000)
}


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("first", [True, False], ids=["first", "inside"])
def test_68020_instructions_and_move_from_sr_raise_what_a_68010_raises(name, first):
    insn, vector = REFUSED[name]
    code = ("" if first else PREFIX.hex()) + insn + "4e40"
    ref = reference(code)
    m = Machine(code)
    r = m.run(1000)
    assert (r.stop, r.vector, ref.vector) == (Stop.EXCEPTION, vector, vector)
    assert r.exception == {4: "illegal instruction", 8: "privilege violation"}[vector]
    assert r.pc == CODE + (0 if first else 4) and r.executed == (0 if first else 2)
    regs = m.cpu.read_registers()
    assert regs.d == ref.d and regs.a == ref.a and regs.pc == r.pc


def test_the_scale_of_an_index_is_ignored_like_a_68010():
    """(d8,An,Xn*4) and *2: the 68000/68010 ignore the scale bits of a brief extension word."""
    for code in ("10305c004e40", "10305a004e40"):  # move.b (0,a0,d5.l*4),d0 / *2; trap #0
        m = Machine(code)
        m.mmu.write(m.ctx, DATA, bytes(range(0x10, 0x20)))
        start = Registers([0, 0, 0, 0, 0, 1, 0, 0], [DATA] + [0] * 6 + [STACK_TOP], CODE)
        m.cpu.write_registers(start)
        regs = finish(m)
        ref = cpu_reference.run(
            bytes.fromhex(code),
            at=CODE,
            d=start.d,
            a=[DATA] + [0] * 6 + [0x8000],
            memory={DATA: bytes(range(0x10, 0x20))},
        )
        assert regs.d[0] == ref.d[0] == 0x11


MOVE_FROM_CCR = {  # move.w ccr,<ea> (m68k-linux-gnu-as -m68010) in every data-alterable mode
    "d2": "42c2",
    "(a0)": "42d0",
    "(a0)+": "42d8",
    "-(a0)": "42e0",
    "(4,a0)": "42e80004",
    "(2,a0,d6.w)": "42f06002",
    "abs.w": "42f82100",
    "abs.l": "42f900002100",
}


@pytest.mark.parametrize("ea", sorted(MOVE_FROM_CCR))
def test_move_from_ccr_then_a_logic_op_then_addx(ea):
    """eor.b d0,d0; move.w ccr,<ea>; eor.b d0,d6 (Z clear); addx.b d0,d0 (0: Z unchanged):
    the engine's own MOVE from CCR left its lazy flags so that Z came out set."""
    code = "b100" + MOVE_FROM_CCR[ea] + "b106d10042c14e40"
    for d6 in (1, 0x100):
        for ccr in (0x00, 0x1F):
            d = [0, 0, 0, 0, 0, 0, d6, 0]
            a = [0x2100] + [0] * 6 + [0x8000]
            ref = cpu_reference.run(bytes.fromhex(code), at=CODE, d=d, a=a, ccr=ccr)
            m = Machine(code)
            m.mmu.write(m.ctx, 0x2100 - 2, bytes(12))
            m.cpu.write_registers(Registers(list(d), list(a), CODE, ccr))
            regs = finish(m)
            assert (regs.d, regs.a[:7], regs.sr) == (ref.d, ref.a[:7], ref.ccr), (ea, d6, ccr)
            assert m.mmu.read(m.ctx, 0x2100 - 2, 12) == ref.read(0x2100 - 2, 12)


# divs.w <ea>,d0 with d0 = 0x80000000 and a divisor of -1 from each kind of source; the engine's
# own divide helper computed INT_MIN / -1 on the host (SIGFPE: the whole process died)
# move.l #0x80000000,d0; moveq #-1,d1; lea 0x2000,a0; move.w #-1,(a0); move.w #0x1f,ccr
DIVS_SETUP = "203c8000000072ff41f8200030bcffff44fc0010"
DIVS_MIN = {
    "Dn": "81c1",  # divs.w d1,d0
    "#imm": "81fcffff",  # divs.w #-1,d0
    "(An)": "81d0",  # divs.w (a0),d0
    "(An)+": "81d8",  # divs.w (a0)+,d0
    "d16(PC)": "81fa0004",  # divs.w (4,pc),d0: the -1 after the trap
}


@pytest.mark.parametrize("source", sorted(DIVS_MIN))
def test_divs_of_the_most_negative_long_by_minus_one_overflows(source):
    """The quotient 2^31 does not fit 16 bits: V set, C cleared, X kept, d0 unchanged (PRM 4-93;
    Musashi special-cases it to a quotient of 0 and Z), and the process lives on."""
    code = DIVS_SETUP + DIVS_MIN[source] + "4e40ffff"  # ...; trap #0; -1
    m = Machine(code)
    r = m.run(1000)
    assert r.stop is Stop.TRAP and r.executed == 7, r
    regs = m.cpu.read_registers()
    assert regs.d[0] == 0x80000000
    assert regs.sr & 0x13 == 0x12  # X kept, V set, C clear (N, Z undefined)
    assert regs.a[0] == 0x2000 + (2 if source == "(An)+" else 0)
    ref = reference(code)
    assert ref.d[0] == 0 and ref.ccr & 0x4  # the reference's special case, not the 68000's


# moveq #-7,d2; moveq #15,d7; 1: move.l d2,d0; divs.w d7,d0; smi d4; add.b d4,d5; add.l d0,d3;
# subq.l #3,d2; dbra d7,1b (d7 = 0 last: a divide by zero ends it); trap #0. No other emulated
# instruction in the block: the C scanner alone must stop before the divs.
DIVS_LOOP = "74f97e0f200281c75bc4da04d680578251cffff24e40"


def test_divs_in_a_loop_at_every_budget_and_its_divide_by_zero():
    """divs.w inside a block, cut at every budget 1..40: the same registers and count as Musashi;
    the loop's last divide is by zero, reported at the divs as the engine reports divu's."""
    ref = reference(DIVS_LOOP)
    assert ref.vector == 5
    outcomes = set()
    for budget in [*range(1, 41), 10**6]:
        m = Machine(DIVS_LOOP)
        executed = 0
        while True:
            r = m.run(budget)
            executed += r.executed
            if r.stop is not Stop.BUDGET:
                break
            assert r.executed <= budget or budget < 7, r
            m.cpu.write_registers(m.cpu.read_registers())
        regs = m.cpu.read_registers()
        outcomes.add((executed, r.stop, r.exception, r.vector, r.pc, tuple(regs.d), regs.pc))
    assert len(outcomes) == 1, outcomes
    ((executed, stop, exception, vector, pc, d, _pc),) = outcomes
    assert (stop, exception, vector, pc) == (Stop.EXCEPTION, "divide by zero", 5, CODE + 6)
    assert executed == 2 + 7 * 15 + 1
    assert list(d) == ref.d


@pytest.mark.parametrize("first", [True, False], ids=["first", "inside"])
def test_divide_by_zero_is_reported_alike_for_divs_and_divu(first):
    """divs.w #0,d0 (emulated) and divu.w #0,d0 (the engine's): the same stop, pc and count."""
    prefix = "" if first else "4e714e71"
    got = []
    for word in ("81fc", "80fc"):
        m = Machine(prefix + word + "00004e40")
        r = m.run(1000)
        got.append((r.stop, r.exception, r.vector, r.pc, r.executed, m.cpu.read_registers()))
    assert got[0] == got[1]
    assert got[0][:5] == (
        Stop.EXCEPTION,
        "divide by zero",
        5,
        CODE + len(prefix) // 2,
        len(prefix) // 4,
    )


# divu.w cannot trap on the host: unsigned, and a zero divisor raises vector 5 before dividing
DIVU_EDGES = [(0x80000000, 0xFFFF), (0xFFFFFFFF, 1), (0xFFFFFFFF, 0xFFFF), (0x80000000, 0)]


@pytest.mark.parametrize("dividend,divisor", DIVU_EDGES)
def test_divu_edges_match_the_reference(dividend, divisor):
    code = f"80fc{divisor:04x}42c74e40"  # divu.w #divisor,d0; move.w ccr,d7; trap #0
    m = Machine(code)
    m.cpu.write_registers(Registers([dividend] + [0] * 7, [0] * 7 + [STACK_TOP], CODE))
    r = m.run(1000)
    ref = cpu_reference.run(bytes.fromhex(code), at=CODE, d=[dividend] + [0] * 7,
                            a=[0] * 7 + [STACK_TOP])  # fmt: skip
    regs = m.cpu.read_registers()
    if divisor == 0:
        assert ref.vector == r.vector == 5 and regs.d[0] == dividend
    else:
        assert r.stop is Stop.TRAP and regs.d[0] == ref.d[0]
        assert regs.d[7] & 0x12 == ref.d[7] & 0x12  # X and V (N Z undefined on overflow)
