"""Tests of emulator.cpu: exact instruction budgets, traps, exceptions, faults, bkpt, registers."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cpu import DEFAULT_SLICE, Cpu, CpuError, Registers, SliceResult, Stop
from emulator.loader import install, load_image, make_elf
from emulator.memory import FrameAllocator
from emulator.mmu import Prot
from vcluster import bench_cpu_layer as bench

RX = Prot.READ | Prot.EXEC
RW = Prot.READ | Prot.WRITE
CODE = 0x1000  # vpage 1
DATA = 0x2000  # vpage 2
STACK_TOP = 0xF00000

# Hand-assembled snippets (m68k-linux-gnu-as -m68010), each at 0x1000.
TRAP = "70074e4372014e40"  # moveq #7,d0; trap #3; moveq #1,d1; trap #0
ILLEGAL = "4e714e714afc"  # nop; nop; illegal
DIVZERO = "4e71720080c14e71"  # nop; moveq #0,d1; divu.w d1,d0; nop
CHK = "70ff41bc000a"  # moveq #-1,d0; chk.w #10,d0
PRIVILEGE = "4e7146fc2700"  # nop; move.w #0x2700,sr
LINE_A = "4e71a000"  # nop; .word 0xA000
LINE_F = "4e71f000"  # nop; .word 0xF000
TRAPV = "44fc00024e76"  # move #2,ccr; trapv  (V set: emulated, Unicorn's 68000 lacks trapv)
READ_UNMAPPED = "4e71203900800000"  # nop; move.l 0x800000,d0
WRITE_UNMAPPED = "4e7123c000800000"  # nop; move.l d0,0x800000
WRITE_TEXT = "4e7141fa00022080"  # nop; lea start(pc),a0; start: move.l d0,(a0)
FETCH_DATA = "4e714ef82000"  # nop; jmp 0x2000.w
FETCH_UNMAPPED = "4e714ef900800000"  # nop; jmp 0x800000
JUMP_NULL = "4e7191c84ed0"  # nop; suba.l a0,a0; jmp (a0)
NULL_READ = "20380000"  # move.l 0.w,d0
FALSE_BKPT = "70054ef84848"  # moveq #5,d0; jmp 0x4848.w  (the block's last word is 0x4848)
BKPT = "70017202484b7403"  # moveq #1,d0; moveq #2,d1; bkpt #3; moveq #3,d2
RESUME = "700121c0500052804e40"  # moveq #1,d0; move.l d0,0x5000.w; addq.l #1,d0; trap #0
STORE_LOOP = "41f82000323c03ff20c0528051c9fffa4e40"  # lea 0x2000,a0; move.w #1023,d1; 1: move.l d0,(a0)+; addq.l #1,d0; dbra d1,1b; trap #0


class Machine:
    """A Cpu with one context: code at 0x1000 (R|X), a data page at 0x2000 (R|W), a stack page."""

    def __init__(self, code: str | bytes, *, data: bool = True) -> None:
        self.cpu = Cpu(1024 * 1024)
        self.mmu = self.cpu.mmu
        self.frames = FrameAllocator(256)
        self.ctx = self.mmu.create_context()
        raw = bytes.fromhex(code) if isinstance(code, str) else code
        self.map(CODE >> 12, RX, raw)
        if data:
            self.map(DATA >> 12, RW)
        self.map((STACK_TOP >> 12) - 1, RW)
        self.mmu.switch(self.ctx)
        self.cpu.write_registers(Registers.initial(CODE, STACK_TOP))

    def map(self, vpage: int, prot: Prot, content: bytes = b"") -> int:
        frame = self.frames.alloc()
        self.cpu.phys_write(frame * 4096, content + bytes(4096 - len(content)))
        self.mmu.map(self.ctx, vpage, frame, prot)
        return frame

    def run(self, budget: int = 1000) -> SliceResult:
        return self.cpu.run(budget)


# --- traps ------------------------------------------------------------------------------
def test_trap_is_a_value_and_pc_moves_past_it():
    m = Machine(TRAP)
    r = m.run()
    assert r.stop is Stop.TRAP and r.trap == 3
    assert r.pc == CODE + 4 and r.executed == 2
    regs = m.cpu.read_registers()
    assert regs.pc == CODE + 4 and regs.d[0] == 7
    r = m.run()
    assert (r.stop, r.trap, r.executed, r.pc) == (Stop.TRAP, 0, 2, CODE + 8)
    assert m.cpu.read_registers().d[1] == 1
    assert r.describe() == "trap #0 at pc 0x00001006"
    assert m.cpu.instructions == 4


def test_registers_round_trip():
    m = Machine(TRAP)
    regs = Registers(
        [1, 2, 3, 0xFFFFFFFF, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0xEFFFF0], CODE, 0x1F
    )
    m.cpu.write_registers(regs)
    assert m.cpu.read_registers() == regs
    regs.d[0] = -1  # negative values keep their low 32 bits
    regs.sr = 0x2704  # only the condition codes: the CPU never leaves user mode
    m.cpu.write_registers(regs)
    back = m.cpu.read_registers()
    assert back.d[0] == 0xFFFFFFFF and back.sr == 0x04


# --- exceptions -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "name", "pc", "executed"),
    [
        (ILLEGAL, "illegal instruction", CODE + 4, 2),
        (DIVZERO, "divide by zero", CODE + 4, 2),
        (CHK, "chk", CODE + 2, 1),
        (PRIVILEGE, "privilege violation", CODE + 2, 1),
        (LINE_A, "line-A", CODE + 2, 1),
        (LINE_F, "line-F", CODE + 2, 1),
        (TRAPV, "trapv", CODE + 4, 1),
    ],
)
def test_exceptions_are_reported_at_the_instruction(code, name, pc, executed):
    m = Machine(code)
    r = m.run()
    assert r.stop is Stop.EXCEPTION
    assert r.exception == name
    assert r.pc == pc
    assert r.executed == executed  # the excepting instruction does not count
    assert r.describe() == f"exception: {name} at pc 0x{pc:08X}"
    # the host is fine and the same CPU keeps working
    m.cpu.write_registers(Registers.initial(CODE, STACK_TOP))
    again = m.run()
    assert again.stop is Stop.EXCEPTION and again.exception == name


# --- faults -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "access", "kind", "address", "pc", "executed"),
    [
        (READ_UNMAPPED, "read", "unmapped", 0x800000, CODE + 2, 1),
        (WRITE_UNMAPPED, "write", "unmapped", 0x800000, CODE + 2, 1),
        (WRITE_TEXT, "write", "protection", 0x1000, CODE + 6, 2),
        (FETCH_DATA, "fetch", "protection", 0x2000, 0x2000, 2),
        (FETCH_UNMAPPED, "fetch", "unmapped", 0x800000, 0x800000, 2),
        (NULL_READ, "read", "unmapped", 0x0, CODE, 0),
        (JUMP_NULL, "fetch", "unmapped", 0x0, 0x0, 3),
    ],
)
def test_faults_name_access_kind_page_and_pc(code, access, kind, address, pc, executed):
    m = Machine(code)
    r = m.run()
    assert r.stop is Stop.FAULT
    assert (r.fault_access, r.fault_kind, r.fault_address, r.pc) == (access, kind, address, pc)
    assert r.executed == executed
    prep = {"read": "read from", "write": "write to", "fetch": "fetch from"}[access]
    shown = "protected" if kind == "protection" else kind
    assert r.describe() == f"fault: {prep} {shown} page at 0x{address:08X} (pc 0x{pc:08X})"


def test_fault_then_map_then_resume_counts_each_instruction_once():
    m = Machine(RESUME)
    r = m.run()
    assert r.stop is Stop.FAULT and r.fault_address == 0x5000 and r.executed == 1
    m.map(5, RW)  # what demand paging does
    r2 = m.run()
    assert r2.stop is Stop.TRAP and r2.executed == 3
    assert m.cpu.read_registers().d[0] == 2
    assert m.mmu.read(m.ctx, 0x5000, 4) == b"\0\0\0\1"
    assert m.cpu.instructions == 4


def test_fetch_fault_does_not_discount_the_jump():
    m = Machine(FETCH_UNMAPPED)
    r = m.run()
    assert r.executed == 2  # nop and jmp ran; the target block never began


# --- bkpt -------------------------------------------------------------------------------
def test_bkpt_outside_functions_is_caught_by_the_block_hook():
    m = Machine(BKPT)
    r = m.run()
    assert r.stop is Stop.EXCEPTION and r.exception == "bkpt" and r.bkpt == 3
    assert r.pc == CODE + 4 and r.executed == 2  # the two moveq ran, precisely
    assert r.describe() == "exception: bkpt #3 at pc 0x00001004"
    assert m.cpu.read_registers().d[1] == 2
    assert m.mmu.bkpts(m.ctx) == {CODE + 4: 3}


def test_bkpt_in_a_function_is_patched_by_the_loader():
    code = bytes.fromhex(BKPT)
    image = load_image(make_elf(code, functions={"f": (CODE, len(code))}))
    assert image.bkpts == {CODE + 4: 3}
    cpu = Cpu(1024 * 1024)
    frames = FrameAllocator(256)
    ctx = cpu.mmu.create_context()
    info = install(cpu.mmu, frames, ctx, image)
    assert info.bkpts == {CODE + 4: 3}
    assert cpu.mmu.read(ctx, CODE + 4, 2) == b"\x4a\xfc"  # illegal in its place
    cpu.mmu.switch(ctx)
    cpu.write_registers(Registers.initial(image.entry, STACK_TOP))
    r = cpu.run(100)
    assert (r.exception, r.bkpt, r.pc, r.executed) == ("bkpt", 3, CODE + 4, 2)


def test_bkpt_opcode_as_an_extension_word_is_not_a_bkpt():
    m = Machine(FALSE_BKPT)
    m.map(4, RX, bytes(0x848) + bytes.fromhex("4e40"))  # trap #0 at 0x4848
    r = m.run()
    assert r.stop is Stop.TRAP and r.trap == 0 and r.pc == 0x484A
    assert r.executed == 3
    assert m.mmu.bkpts(m.ctx) == {}
    assert m.mmu.read(m.ctx, CODE + 4, 2) == b"\x48\x48"  # untouched


def test_bkpt_never_hangs_the_host():
    """bkpt hangs Unicorn 2.1.4 for good; a subprocess with a timeout proves it never executes."""
    script = textwrap.dedent(
        f"""
        from emulator.cpu import Cpu, Registers
        from emulator.mmu import Prot
        for word in range(0x4848, 0x4850):
            cpu = Cpu(1024 * 1024)
            ctx = cpu.mmu.create_context()
            cpu.phys_write(0x5000, bytes.fromhex("4e71") + word.to_bytes(2, "big"))
            cpu.mmu.map(ctx, 1, 5, Prot.READ | Prot.EXEC)
            cpu.mmu.switch(ctx)
            cpu.write_registers(Registers.initial({CODE}, 0))
            r = cpu.run(1000)
            assert (r.exception, r.bkpt, r.pc, r.executed) == ("bkpt", word & 7, {CODE} + 2, 1), r
        print("survived")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "survived" in proc.stdout


# --- budgets ----------------------------------------------------------------------------
def _run_builtin(rounds: int, budget: int) -> tuple[list[int], Registers]:
    image = bench.builtin_image(rounds)
    cpu = Cpu(1024 * 1024)
    frames = FrameAllocator(256)
    ctx = cpu.mmu.create_context()
    install(cpu.mmu, frames, ctx, image)
    cpu.mmu.switch(ctx)
    cpu.write_registers(Registers.initial(image.entry, 0))
    slices = []
    while True:
        r = cpu.run(budget)
        slices.append(r.executed)
        if r.stop is not Stop.BUDGET:
            assert r.stop is Stop.TRAP
            return slices, cpu.read_registers()


@pytest.mark.parametrize("budget", [1, 7, 100, 999, DEFAULT_SLICE, 10**9])
def test_budget_counts_exactly(budget):
    slices, regs = _run_builtin(2, budget)
    assert sum(slices) == bench.builtin_instructions(2)
    # a slice runs whole blocks within its budget; only its first block may exceed it
    # (the longest block here is the first: 4 set-up instructions, the outer move and 10 in the loop)
    longest = 15
    assert all(n <= max(budget, longest) for n in slices)
    if budget >= longest:
        assert all(
            n > budget - longest for n in slices[:-1]
        )  # it stops only when the next block does not fit
    assert regs.d[5] == 0  # all rounds done


def test_same_budget_same_slices():
    a, ra = _run_builtin(1, 777)
    b, rb = _run_builtin(1, 777)
    assert a == b and ra == rb


def test_memory_loop_counts_exactly_and_stores():
    m = Machine(STORE_LOOP)
    total = 0
    while True:
        r = m.run(333)
        total += r.executed
        if r.stop is Stop.TRAP:
            break
    assert total == 2 + 1024 * 3 + 1
    data = m.mmu.read(m.ctx, DATA, 4096)
    assert struct.unpack(">1024I", data) == tuple(range(1024))


def test_stats_and_close():
    m = Machine(TRAP)
    m.run()
    stats = m.cpu.stats()
    assert stats["instructions"] == 2 and stats["block_count_mismatches"] == 0
    m.cpu.close()
    m.cpu.close()  # idempotent
    assert m.cpu.closed
    for use in (
        lambda: m.run(),
        m.cpu.read_registers,
        lambda: m.cpu.phys_read(0, 4),
        lambda: m.cpu.phys_write(0, b"x"),
        lambda: m.mmu.switch(m.ctx),
        lambda: m.mmu.map(m.ctx, 9, 9, RW),
    ):
        with pytest.raises(CpuError):
            use()


def test_loader_does_not_patch_an_extension_word():
    code = bytes.fromhex(FALSE_BKPT)
    image = load_image(make_elf(code, functions={"f": (CODE, len(code))}))
    assert image.bkpts == {}


def test_rewritten_code_is_retranslated_and_recounted():
    """A frame that held code gets new code (a program loaded into recycled frames): no stale translation."""
    m = Machine("70014e40")  # moveq #1,d0; trap #0
    assert m.run().executed == 2 and m.cpu.read_registers().d[0] == 1
    frame = m.mmu.entry(m.ctx, 1).frame
    m.cpu.phys_write(
        frame * 4096, bytes.fromhex("700270034e40")
    )  # moveq #2,d0; moveq #3,d0; trap #0
    m.cpu.write_registers(Registers.initial(CODE, STACK_TOP))
    r = m.run()
    assert r.executed == 3 and m.cpu.read_registers().d[0] == 3
    assert m.cpu.stats()["code_flushes"] >= 1


def test_code_across_a_page_boundary():
    """A block that straddles two pages, and a fault part-way through its second page's data."""
    m = Machine(bytes(4096 - 4) + bytes.fromhex("4e714e71"), data=False)
    m.map(2, RX, bytes.fromhex("4e7123c0008000004e40"))  # nop; move.l d0,0x800000; trap #0
    m.cpu.write_registers(Registers.initial(CODE + 4096 - 4, STACK_TOP))
    r = m.run()
    assert (r.stop, r.fault_access, r.pc, r.executed) == (Stop.FAULT, "write", 0x2002, 3)
    m.map(0x800, RW)
    r = m.run()
    assert (r.stop, r.executed) == (Stop.TRAP, 2)
    assert m.cpu.instructions == 5


# --- the bench's raw engine ---------------------------------------------------------------
# at 0x1000 (text): movea.l #0x1000,a0; move.l d0,(a0); trap #0. At 0x3000 (data): moveq #1,d0; trap #0
STORE_TO_TEXT = bytes.fromhex("207c0000100020804e40")
CODE_IN_DATA = bytes.fromhex("70014e40")


@pytest.mark.parametrize("wx", [False, True])
def test_raw_engine_has_the_guests_wx_permissions_only_when_asked(wx):
    """The bench's W^X baseline really is W^X: a store to its text and a fetch from its data fault."""
    from emulator.cpu import RawEngine

    def run(start: int) -> tuple[int, int, int, bytes]:
        eng = RawEngine(text=[(0x1000, 0x1000 + len(STORE_TO_TEXT))] if wx else None)
        try:
            eng.write(0x1000, STORE_TO_TEXT)
            eng.write(0x3000, CODE_IN_DATA)
            eng.set_initial(start, 0x8000)
            return eng.run(), eng.pc, eng.dregs()[0], eng.read(0x1000, 4)
        finally:
            eng.close()

    if wx:
        assert run(0x1000) == (
            -1,
            0x1006,
            0,
            STORE_TO_TEXT[:4],
        )  # stopped at the store, text intact
        assert run(0x3000) == (-1, 0x3000, 0, STORE_TO_TEXT[:4])  # never fetched
    else:  # one read-write-execute mapping: both run to the trap
        assert run(0x1000) == (32, 0x1008, 0, bytes(4))
        assert run(0x3000) == (32, 0x3002, 1, STORE_TO_TEXT[:4])


# --- chains: slices that follow one another in one engine run -----------------------------
def _run_chained(
    rounds: int, budget: int, chain: int
) -> tuple[list[tuple[int, int, int]], Registers]:
    image = bench.builtin_image(rounds)
    cpu = Cpu(1024 * 1024)
    frames = FrameAllocator(256)
    ctx = cpu.mmu.create_context()
    install(cpu.mmu, frames, ctx, image)
    cpu.mmu.switch(ctx)
    cpu.write_registers(Registers.initial(image.entry, 0))
    runs = []
    while True:
        r = cpu.run(budget, chain)
        runs.append((r.chained, r.chained_executed, r.executed))
        if r.stop is not Stop.BUDGET:
            assert r.stop is Stop.TRAP
            total = sum(c + 1 for c, _, _ in runs)
            assert (cpu.slices, cpu.instructions) == (total, bench.builtin_instructions(rounds))
            return runs, cpu.read_registers()


@settings(max_examples=12, deadline=None)
@given(budget=st.integers(1, 30_000), chain=st.integers(0, 400_000))
def test_a_chain_of_slices_ends_each_slice_where_separate_runs_do(budget, chain):
    """cpu.run(budget, chain) runs slice after slice while the chain is below `chain` instructions;
    the slices are the ones separate runs of `budget` take, and the end state is the same."""
    budget = max(budget, 50)  # keep the separate runs' count modest
    slices, regs = _run_builtin(1, budget)
    runs, chained_regs = _run_chained(1, budget, chain)
    expected, i = [], 0
    while i < len(slices):
        before = n = 0
        while i < len(slices) - 1 and before + slices[i] < chain:
            before += slices[i]
            n += 1
            i += 1
        expected.append((n, before, slices[i]))
        i += 1
    assert runs == expected
    assert chained_regs == regs
