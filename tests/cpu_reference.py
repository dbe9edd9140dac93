"""A reference 68010 for the CPU tests: Musashi (PyPI machine68k, test-only) running code in user mode."""

from __future__ import annotations

from dataclasses import dataclass

import machine68k

HALT = 0x400  # `bra.s .`: every exception vector points here


@dataclass
class Outcome:
    d: list[int]
    a: list[int]  # a[7] is the user stack pointer
    ccr: int
    vector: int  # the exception that ended the run (32 + n for trap #n)
    ram: bytes

    def read(self, addr: int, n: int) -> bytes:
        return self.ram[addr : addr + n]


def run(
    code: bytes,
    *,
    at: int = 0x1000,
    d: list[int] | None = None,
    a: list[int] | None = None,
    ccr: int = 0,
    memory: dict[int, bytes] | None = None,
    max_steps: int = 100_000,
) -> Outcome:
    """Run code from `at` in user mode until its first exception (a trap #0 ends a fragment)."""
    a = list(a or [0] * 8)
    high = max([at, *a, *(memory or {})], default=0)
    # 1 MB unless the code touches more (16 MB, the whole 24-bit space, is slower to set up)
    m = machine68k.Machine(machine68k.CPUType.M68010, 1024 if high < 0xF0000 else 16 * 1024)
    cpu, mem = m.cpu, m.mem
    mem.w16(HALT, 0x60FE)
    for vector in range(2, 64):
        mem.w32(vector * 4, HALT + 2 + vector * 2)
    for vector in range(2, 64):
        mem.w16(HALT + 2 + vector * 2, 0x60FE)
    mem.w32(0, 0x800)  # reset: supervisor stack and pc
    mem.w32(4, HALT)
    cpu.pulse_reset()
    cpu.execute(1)  # the reset itself
    mem.w_block(at, code)
    for addr, data in (memory or {}).items():
        mem.w_block(addr, data)
    regs = machine68k.Register
    cpu.w_sr(ccr & 0x1F)  # user mode: A7 is the user stack pointer from here
    cpu.w_isp(0x800)
    cpu.w_reg(regs.A7, a[7] & 0xFFFFFFFF)
    for i, v in enumerate(d or [0] * 8):
        cpu.w_reg(regs.D0 + i, v & 0xFFFFFFFF)
    for i in range(7):
        cpu.w_reg(regs.A0 + i, a[i] & 0xFFFFFFFF)
    cpu.w_pc(at)
    for _ in range(max_steps):
        pc = cpu.r_pc()
        if HALT <= pc < HALT + 2 + 64 * 2:
            break
        cpu.execute(1)
    else:
        raise AssertionError("the reference did not finish")
    vector = (pc - HALT - 2) // 2
    dregs = [cpu.r_reg(regs.D0 + i) & 0xFFFFFFFF for i in range(8)]
    aregs = [cpu.r_reg(regs.A0 + i) & 0xFFFFFFFF for i in range(7)] + [cpu.r_usp() & 0xFFFFFFFF]
    ram = bytes(mem.r_block(0, mem.get_ram_size_bytes()))
    outcome = Outcome(dregs, aregs, cpu.r_sr() & 0x1F, vector, ram)
    m.cleanup()  # machine68k frees its memory only here
    return outcome
