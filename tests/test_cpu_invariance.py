"""Slice-size invariance: however a run is cut into slices, with register reads, write-backs and
context switches between them, it ends as one unsliced run does (random code and the guest programs).

Hypothesis prints the falsifying program, budget plan and actions; with print_blob a failure
replays with @reproduce_failure. The programs: tests/cpu_programs.py.
"""

from __future__ import annotations

import hashlib

import capstone
import cpu_programs
import cpu_reference
import pytest
from helpers import config, run_session
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_cpu import CODE, DATA, RX, STACK_TOP, Machine

from emulator.cpu import Registers, Stop
from vcluster.session import Session

# the other process: moveq #-3,d0; 1: addq.l #1,d0; cmpi.l #3,d0; bne.s 1b; add.l d0,d0; bra.s 1b
OTHER_CODE = bytes.fromhex("70fd52800c800000000366f6d08060f2")
ACTIONS = ["none", "read", "write-back", "kernel", "switch"]
MAX_SLICES = 20_000

_md = capstone.Cs(capstone.CS_ARCH_M68K, capstone.CS_MODE_M68K_010 | capstone.CS_MODE_BIG_ENDIAN)


def listing(code: bytes) -> str:
    return "\n".join(f"{i.address:#06x}  {i.mnemonic} {i.op_str}" for i in _md.disasm(code, CODE))


class Run:
    """One program in a Machine; a second context holds another process to switch to."""

    def __init__(self, code: bytes) -> None:
        self.m = Machine(code)
        mmu = self.m.mmu
        self.other = mmu.create_context()
        frame = self.m.frames.alloc()
        self.m.cpu.phys_write(frame * 4096, OTHER_CODE + bytes(4096 - len(OTHER_CODE)))
        mmu.map(self.other, CODE >> 12, frame, RX)
        self.other_regs = Registers.initial(CODE, 0)

    def outcome(self, executed: int) -> tuple:
        m = self.m
        regs = m.cpu.read_registers()
        data = m.mmu.read(m.ctx, DATA, 4096) + m.mmu.read(m.ctx, STACK_TOP - 4096, 4096)
        return regs, executed, hashlib.sha256(data).hexdigest()

    def unsliced(self) -> tuple:
        r = self.m.run(10**9)
        assert r.stop is Stop.TRAP and r.trap == 0, r
        return self.outcome(r.executed)

    def unsliced_state(self) -> tuple:
        """((registers, the data page), executed, digest) of one unsliced run."""
        regs, executed, digest = self.unsliced()
        return (regs, self.m.mmu.read(self.m.ctx, DATA, 4096)), executed, digest

    def sliced(self, plan: list[tuple[int, str]]) -> tuple:
        m, cpu = self.m, self.m.cpu
        executed = 0
        for n in range(MAX_SLICES):
            budget, action = plan[n % len(plan)]
            r = cpu.run(budget)
            executed += r.executed
            if r.stop is Stop.TRAP:
                return self.outcome(executed)
            assert r.stop is Stop.BUDGET, r
            if action == "read":
                cpu.read_registers()
            elif action == "write-back":
                cpu.write_registers(cpu.read_registers())
            elif action == "kernel":  # the V kernel's slice: registers out, and in again
                saved = cpu.read_registers()
                cpu.write_registers(Registers.initial(0, 0))
                cpu.write_registers(saved)
            elif action == "switch":  # another process in another context runs a slice
                saved = cpu.read_registers()
                m.mmu.switch(self.other)
                cpu.write_registers(self.other_regs)
                assert cpu.run(budget % 97 + 1).stop is Stop.BUDGET
                self.other_regs = cpu.read_registers()
                m.mmu.switch(m.ctx)
                cpu.write_registers(saved)
        raise AssertionError(f"no trap within {MAX_SLICES} slices")


budgets = st.integers(1, 40) | st.integers(1, 1_000_000)
plans = st.lists(st.tuples(budgets, st.sampled_from(ACTIONS)), min_size=1, max_size=30)


@settings(
    max_examples=60, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prog=cpu_programs.program(DATA), plan=plans)
def test_random_code_ends_the_same_however_it_is_sliced(prog, plan):
    code, _sub = prog
    note(f"program:\n{listing(code)}")
    note(f"budgets and actions: {plan}")
    want = Run(code).unsliced()
    got = Run(code).sliced(plan)
    assert got == want


@settings(max_examples=30, deadline=None, print_blob=True)
@given(prog=cpu_programs.program(DATA, cpu_programs.DEFINED))
def test_random_code_unsliced_ends_as_on_a_reference_68010(prog):
    """The reference of the property above is itself right: Musashi runs the same program
    (without divides: their overflow leaves N and Z undefined, see docs/CPU.md)."""
    code, _sub = prog
    note(f"program:\n{listing(code)}")
    regs, _executed, _digest = Run(code).unsliced_state()
    m_regs, data = regs
    ref = cpu_reference.run(code, at=CODE, a=[0] * 7 + [0x8000])
    assert (m_regs.d, m_regs.a[:7], m_regs.sr) == (ref.d, ref.a[:7], ref.ccr)
    assert data == ref.read(DATA, 4096)


# --- the guest programs through the V kernel ----------------------------------------------
SLICES = [100, 1_000, 7_777, 20_000, 1_000_000]
PROGRAMS = [
    "hello",
    "echo one two three",
    "primes 30000",
    "spin 1",
    "exitwith 3 three",
    "faults divzero",
    "dirtier 64 64 1",
    "workload cc68 1",
    "sleeper 1",
]


def outputs(lines: list[str], slice_instructions: int, *, migrations: int = 0) -> tuple:
    cfg = config(cpu=config().cpu.__class__(slice_instructions=slice_instructions))
    _, summary = run_session(lines, cfg, max_sim_seconds=60)
    (prog,) = summary["programs"]
    assert len(summary["migrations"]) == migrations
    return prog["output"], prog["exit_status"], prog["fault"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("line", PROGRAMS)
def test_guest_programs_print_the_same_at_every_slice_size(line):
    results = {n: outputs([line], n) for n in SLICES}
    want = results[1_000_000]
    assert want[0], "no output"
    for n, got in results.items():
        assert got == want, f"{line!r} at {n}-instruction slices: {got} != {want}"


@pytest.mark.slow
@settings(max_examples=10, deadline=None, print_blob=True)
@given(
    prog=st.sampled_from(["spin 2", "primes 80000", "workload parser 2"]),
    slice_instructions=st.sampled_from([1_000, 7_777, 20_000]) | st.integers(100, 1_000_000),
    wait_ms=st.integers(400, 1200),  # the program is loaded (about 0.3 s) and still running
)
def test_a_migration_at_any_instant_changes_nothing(prog, slice_instructions, wait_ms):
    """The registers (the true SR among them) travel with the logical host: both ends agree."""
    note(f"slice {slice_instructions}, migrate after {wait_ms} ms")
    want = outputs([f"{prog} @ ws2"], 1_000_000)
    cfg = config(cpu=config().cpu.__class__(slice_instructions=slice_instructions))
    session = Session(cfg)
    session.execute(f"{prog} @ ws2")
    session.execute(f"wait {wait_ms / 1000}")
    (pid,) = [r["pid"] for r in session.ps_rows() if r["host"] == "ws2"]
    session.execute(f"migrateprog {pid:#x}")  # by pid: at this instant (a name asks for 0.4 s)
    assert session.run_until_done(60)
    summary = session.summary()
    (got,) = summary["programs"]
    assert len(summary["migrations"]) == 1
    assert (got["output"], got["exit_status"], got["fault"] is not None) == want
