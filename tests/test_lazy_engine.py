"""The CPU engine is created on the first guest instruction: an idle workstation has none, a
program's first slice makes one, and state moves to and from a Cpu without one unchanged."""

from __future__ import annotations

import struct

from emulator.cpu import Cpu, Registers, Stop
from emulator.memory import FrameAllocator
from emulator.mmu import Prot
from vcluster.session import Session, load

CODE, DATA, STACK_TOP = 0x1000, 0x2000, 0xF00000
# lea 0x2000,a0; move.w #1023,d1; 1: move.l d0,(a0)+; addq.l #1,d0; dbra d1,1b; trap #0
STORE_LOOP = bytes.fromhex("41f82000323c03ff20c0528051c9fffa4e40")
PAGES = ((CODE >> 12, Prot.READ | Prot.EXEC), (DATA >> 12, Prot.READ | Prot.WRITE))


def machine(code: bytes = STORE_LOOP) -> Cpu:
    cpu = Cpu(1024 * 1024)
    frames = FrameAllocator(256)
    ctx = cpu.mmu.create_context()
    for (vpage, prot), content in zip(PAGES, (code, b""), strict=True):
        frame = frames.alloc()
        cpu.phys_write(frame * 4096, content.ljust(4096, b"\0"))
        cpu.mmu.map(ctx, vpage, frame, prot)
    cpu.mmu.switch(ctx)
    cpu.write_registers(Registers.initial(CODE, STACK_TOP))
    return cpu


def run_to_trap(cpu: Cpu, budget: int) -> int:
    total = 0
    while True:
        r = cpu.run(budget)
        total += r.executed
        if r.stop is not Stop.BUDGET:
            assert r.stop is Stop.TRAP
            return total


def move(src: Cpu, dst: Cpu) -> None:
    """What a migration does to the hardware: RAM and registers out of one Cpu into another."""
    dst.phys_write(0, src.phys_read(0, src.memory_bytes))
    dst.write_registers(src.read_registers())


def test_set_up_without_running_creates_no_engine_and_the_first_slice_does():
    cpu = machine()
    regs = Registers([1, 2, 3, 0xFFFFFFFF, 5, 6, 7, 8], [9] * 7 + [STACK_TOP], CODE, 0x1F)
    cpu.write_registers(regs)
    assert cpu.read_registers() == regs and not cpu.has_engine
    cpu.write_registers(Registers.initial(CODE, STACK_TOP))
    assert cpu.phys_read(0, 18) == STORE_LOOP and not cpu.has_engine
    r = cpu.run(1)
    assert cpu.has_engine and r.executed >= 1 and cpu.read_registers().pc == r.pc != CODE


def test_a_lazy_engine_runs_exactly_as_one_created_first():
    eager = machine()
    eager._uc  # noqa: B018 - the engine now, before any register or memory is set
    eager.write_registers(Registers.initial(CODE, STACK_TOP))
    lazy = machine()
    assert run_to_trap(lazy, 333) == run_to_trap(eager, 333) == 2 + 1024 * 3 + 1
    assert lazy.read_registers() == eager.read_registers()
    assert lazy.phys_read(0, 64 * 1024) == eager.phys_read(0, 64 * 1024)
    assert struct.unpack(">1024I", lazy.mmu.read(lazy.mmu.current, DATA, 4096)) == tuple(
        range(1024)
    )
    assert lazy.stats() == eager.stats()


def test_state_moves_to_and_from_a_cpu_without_an_engine():
    reference = machine()
    whole = run_to_trap(reference, 500)
    a = machine()
    part = a.run(700)
    assert part.stop is Stop.BUDGET  # part-way through the loop, on an engine
    b = machine()  # a machine that never ran guest code
    move(a, b)
    assert not b.has_engine
    c = machine()
    move(b, c)  # and out of it again, before it ran anything
    assert not b.has_engine and not c.has_engine
    assert part.executed + run_to_trap(c, 500) == whole
    assert c.read_registers() == reference.read_registers()
    assert c.phys_read(0, 64 * 1024) == reference.phys_read(0, 64 * 1024)


def engines(session: Session) -> dict[str, bool]:
    return {name: k.cpu.has_engine for name, k in session.kernels.items()}


def test_an_idle_cluster_has_no_engine_and_programs_create_them_where_they_run():
    session = Session(load("tiny"))
    session.execute("wait 1")
    assert not any(engines(session).values())
    session.execute("hello @ ws2")
    assert session.run_until_done(30)
    assert engines(session) == {"ws1": False, "ws2": True, "ws3": False, "fs1": False}
    assert session.summary()["programs"][0]["output"] == "Hello from the V-System!\n"


def test_migration_to_a_workstation_without_an_engine():
    alone = Session(load("tiny"))
    alone.execute("spin 2")
    assert alone.run_until_done(60)
    expected = alone.summary()["programs"][0]["output"]
    session = Session(load("tiny"))
    session.execute("spin 2")
    session.execute("wait 0.3")
    before = engines(session)
    session.execute("migrateprog spin")
    assert session.run_until_done(60)
    summary = session.summary()
    (program,) = summary["programs"]
    (migration,) = summary["migrations"]
    assert migration["ok"] and migration["from"] == "ws1"
    assert before[migration["to"]] is False and engines(session)[migration["to"]]
    assert program["host_final"] == migration["to"] and program["exit_status"] == 0
    assert program["output"] == expected
