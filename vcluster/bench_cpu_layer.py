"""The CPU layer's benchmark: guest MIPS under the MMU and slice budget (a context switch per slice; the bare
CPU of vcluster/cpu_harness.py) against raw Unicorn.

Two raw figures: `raw_mips`, the image on one read-write-execute mapping in
Unicorn's default TLB mode (the first baseline, kept for comparison), and
`raw_wx_mips`, the fair one: the same pages with the guest's W^X permissions
(text read-execute, data and stack read-write) through the same virtual TLB,
and no budget. `ratio` and `ratio_wx` are guest/raw from the same run.
"""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path
from typing import Any

from emulator.cpu import DEFAULT_SLICE, RawEngine, Stop
from emulator.loader import PF_X, Image, load_image, make_elf
from guest import abi
from vcluster.cpu_harness import CONSOLE_PID, BareCpu

log = logging.getLogger(__name__)

GUEST_BIN = Path(__file__).resolve().parent.parent / "guest" / "bin"
SPIN_IMAGE = GUEST_BIN / "spin"
PRIMES_IMAGE = GUEST_BIN / "primes"
SPIN_INSNS_PER_ITERATION = 10  # guest/src/programs/spin.c: one xorshift32 step in a dbra loop
SLICE_SIZES = (20_000, 200_000, 2_000_000)  # the figures by slice size (instructions)
UNSLICED = 1 << 62  # a budget no program reaches: one slice from start to exit
# Seconds are this process's CPU time: on a shared host, time the process waits for a core
# would otherwise fall on whichever run it happened to, and skew every ratio.
clock = time.process_time

# The built-in loop (when guest/bin/spin is absent): spin's xorshift32 step,
# 65536 iterations per outer round; d5 (the long at BUILTIN_ROUNDS_OFFSET) rounds.
#   move.l #0x2545F491,d0 ; move.l #ROUNDS,d5 ; moveq #13,d3 ; moveq #17,d4
#   outer: move.w #-1,d1
#   inner: move.l d0,d2 ; lsl.l d3,d2 ; eor.l d2,d0 ; move.l d0,d2 ; lsr.l d4,d2
#          eor.l d2,d0 ; move.l d0,d2 ; lsl.l #5,d2 ; eor.l d2,d0 ; dbra d1,inner
#   subq.l #1,d5 ; bne.s outer ; moveq #0,d0 ; moveq #0,d1 ; trap #0   (SYS_EXIT 0)
BUILTIN_CODE = bytes.fromhex(
    "203c2545f4912a3c12345678760d7811323cffff2400e7aab5802400e8aab580"
    "2400eb8ab58051c9ffec538566e2700072004e40"
)
BUILTIN_ROUNDS_OFFSET = 8


def builtin_instructions(rounds: int) -> int:
    return 4 + rounds * (1 + 65536 * SPIN_INSNS_PER_ITERATION + 2) + 3


def builtin_image(rounds: int) -> Image:
    code = bytearray(BUILTIN_CODE)
    struct.pack_into(">I", code, BUILTIN_ROUNDS_OFFSET, rounds)
    return load_image(
        make_elf(bytes(code), functions={"spin": (abi.TEXT_BASE, len(code))}), "builtin-spin"
    )


def _guest_run(
    image: Image, argv: list[str], slice_instructions: int
) -> tuple[int, float, str, int]:
    """Run under the MMU, slice by slice, switching context and registers every slice (a kernel
    switching between two processes; one alone runs on without either: vkernel.kernel._chain)."""
    ws = BareCpu(slice_instructions=slice_instructions)
    try:
        cpu, mmu = ws.cpu, ws.mmu
        prog = ws.load(image, argv)
        ctx = prog.ctx
        regs = prog.registers
        executed = 0
        slices = 0
        t0 = clock()
        while prog.exit_status is None:
            mmu.switch(
                ctx
            )  # as if another process had run in between: TLB flush, registers reloaded
            cpu.write_registers(regs)
            result = cpu.run(slice_instructions)
            regs = cpu.read_registers()
            executed += result.executed
            slices += 1
            if result.stop is not Stop.BUDGET:
                fault = ws.handle(prog, result, executed)
                regs = cpu.read_registers()
                if fault is not None:
                    raise RuntimeError(f"bench program failed: {fault}")
        elapsed = clock() - t0
        return executed, elapsed, prog.output.decode(errors="replace"), slices
    finally:
        ws.close()


def text_ranges(image: Image) -> list[tuple[int, int]]:
    """The byte ranges [start, end) of the image's executable segments."""
    return [(s.vaddr, s.vaddr + s.memsz) for s in image.segments if s.flags & PF_X]


def _raw_run(image: Image, argv: list[str], wx: bool = False) -> tuple[float, str]:
    """The same program on a bare engine: flat memory, no budget; traps end emu_start and are served here.

    wx: the guest's page permissions (text read-execute, the rest read-write)
    through the virtual TLB; otherwise one read-write-execute mapping.
    """
    from guest.startup import build_initial_stack

    eng = RawEngine(text=text_ranges(image) if wx else None)
    try:
        for seg in image.segments:
            eng.write(seg.vaddr, seg.data + bytes(seg.memsz - len(seg.data)))
        brk = (image.end + 0xFFF) & ~0xFFF
        heap_top = abi.STACK_TOP - abi.STACK_MAX
        venv = {
            "stdout_pid": CONSOLE_PID,
            "stdout_inst": 1,
            "stderr_pid": CONSOLE_PID,
            "stderr_inst": 2,
        }
        blob, sp = build_initial_stack(argv, [], venv)
        eng.write(abi.STACK_TOP - len(blob), blob)
        eng.set_initial(image.entry, sp)
        output = bytearray()
        t0 = clock()
        while True:
            vector = eng.run()
            if vector != 32:
                raise RuntimeError(f"raw run stopped by exception vector {vector} at {eng.pc:#x}")
            d = eng.dregs()
            number, result = d[0], -abi.EBADCALL
            if number == abi.SYS_EXIT:
                break
            if number == abi.SYS_SEND:
                msg = list(struct.unpack(">8i", eng.read(d[1], 32)))
                if msg[0] == abi.IO_WRITE:
                    output += eng.read(msg[2] & 0xFFFFFFFF, msg[3])
                eng.write(d[1], struct.pack(">8i", 0, msg[3], 0, 0, 0, 0, 0, 0))
                result = CONSOLE_PID
            elif number == abi.SYS_SBRK:
                old, new = brk, brk + (d[1] - (1 << 32) if d[1] & 0x80000000 else d[1])
                result = old if new <= heap_top else -abi.ENOMEM
                brk = new if new <= heap_top else brk
            elif number in (abi.SYS_TIME, abi.SYS_DELAY, abi.SYS_GETPID):
                result = 0
            eng.set_d0_and_skip_trap(result)
        elapsed = clock() - t0
        return elapsed, output.decode(errors="replace")
    finally:
        eng.close()


def _measure(
    image: Image,
    argv: list[str],
    slice_instructions: int,
    repeats: int,
    sizes: tuple[int, ...] = SLICE_SIZES,
) -> dict[str, Any]:
    """All runs of one program, each timed `repeats` times (best kept); checks that they agree.

    The guest runs at slice_instructions, at each of `sizes` and unsliced;
    the raw engine with and without W^X. The rounds interleave them so that
    other load on the host falls on all alike. Every slicing must execute the
    same instructions and print the same output (the CPU is exact at slice
    ends); two runs at one size must also take the same slices.
    """
    every = sorted({slice_instructions, *sizes, UNSLICED})
    guest: dict[int, tuple[int, float, str, int]] = {}
    raw_s = {False: float("inf"), True: float("inf")}
    for _ in range(max(1, repeats)):
        for size in every:
            n, t, out, sl = _guest_run(image, argv, size)
            if size in guest:
                pn, pt, pout, psl = guest[size]
                if (n, out, sl) != (pn, pout, psl):
                    raise RuntimeError(
                        "two guest runs of the same program differ: the budget is not deterministic"
                    )
                t = min(t, pt)
            guest[size] = (n, t, out, sl)
        for wx in (False, True):
            t, raw_out = _raw_run(image, argv, wx)
            raw_s[wx] = min(raw_s[wx], t)
            if raw_out != guest[slice_instructions][2]:
                raise RuntimeError(
                    f"raw and guest runs disagree: {raw_out!r} vs {guest[slice_instructions][2]!r}"
                )
    executed, _t, guest_out, _sl = guest[slice_instructions]
    for size, (n, _t, out, _sl) in guest.items():
        if (n, out) != (executed, guest_out):
            raise RuntimeError(
                f"slices of {size} instructions change the run: {n} instructions, {out!r} "
                f"vs {executed}, {guest_out!r} at {slice_instructions}"
            )
    raw_mips = executed / raw_s[False] / 1e6
    raw_wx_mips = executed / raw_s[True] / 1e6
    unsliced_s = guest[UNSLICED][1]

    def figures(size: int) -> dict[str, Any]:
        n, t, _out, sl = guest[size]
        mips = n / t / 1e6
        return {
            "slices": sl,
            "guest_seconds": round(t, 4),
            "guest_mips": round(mips, 1),
            "ratio": round(mips / raw_mips, 3),
            "ratio_wx": round(mips / raw_wx_mips, 3),
            "per_slice_us": per_slice_us(t, sl, n, n / unsliced_s),
        }

    head = figures(slice_instructions)
    return {
        "argv": argv,
        "instructions": executed,
        "slices": head["slices"],
        "guest_seconds": head["guest_seconds"],
        "raw_seconds": round(raw_s[False], 4),
        "raw_wx_seconds": round(raw_s[True], 4),
        "guest_mips": head["guest_mips"],
        "raw_mips": round(raw_mips, 1),
        "raw_wx_mips": round(raw_wx_mips, 1),
        "ratio": head["ratio"],
        "ratio_wx": head["ratio_wx"],
        "unsliced_mips": round(executed / unsliced_s / 1e6, 1),
        "per_slice_us": head["per_slice_us"],
        "by_slice": {str(size): figures(size) for size in sizes},
        "output": guest_out.strip(),
    }


def per_slice_us(seconds: float, slices: int, instructions: int, unsliced_ips: float) -> float:
    """Host microseconds a slice costs beyond the same instructions run as one slice."""
    return round((seconds - instructions / unsliced_ips) / max(1, slices) * 1e6, 2)


def run_bench(
    seconds: float = 0.0,
    slice_instructions: int = DEFAULT_SLICE,
    use_spin: bool = True,
    repeats: int = 3,
    memory_bound: bool = True,
    sizes: tuple[int, ...] = SLICE_SIZES,
) -> dict[str, Any]:
    """guest_mips (MMU, budget of slice_instructions, a context switch per slice) against raw.

    raw_mips/ratio: against one read-write-execute mapping (the first
    baseline); raw_wx_mips/ratio_wx: against the guest's own W^X pages and
    virtual TLB, the fair one. per_slice_us: host microseconds a slice adds
    to the unsliced guest run (unsliced_mips). by_slice: the guest figures
    at each of `sizes`.

    The headline figures run `spin` (register-only xorshift, the worst case
    for a per-block hook: a 10-instruction block costs the engine only ~2 ns
    raw). seconds: simulated seconds of spin at 1 MIPS (instructions / 1e6);
    0 picks 200 (200 M instructions, well under a second of host time each
    way). Each side is timed `repeats` times and the best time kept, so that
    other load on the host disturbs the ratio less. With memory_bound, the
    same figures for `primes 1000000` (loads and stores through the MMU)
    come under "memory_bound".
    """
    millions = seconds or 200.0
    if use_spin and SPIN_IMAGE.is_file():
        image = load_image(SPIN_IMAGE)
        argv = ["spin", f"{millions:g}"]
        iterations = round(millions * 1000) * (1000 // SPIN_INSNS_PER_ITERATION)
        program = "guest/bin/spin"
        expected_min = iterations * SPIN_INSNS_PER_ITERATION
    else:
        rounds = max(1, round(millions * 1e6 / (65536 * SPIN_INSNS_PER_ITERATION)))
        image = builtin_image(rounds)
        argv = ["builtin-spin"]
        program = "built-in xorshift loop"
        expected_min = builtin_instructions(rounds)
    result: dict[str, Any] = {"program": program}
    result.update(_measure(image, argv, slice_instructions, repeats, sizes))
    if result["instructions"] < expected_min:
        raise RuntimeError(
            f"counted {result['instructions']} instructions, fewer than the loop's {expected_min}"
        )
    result["loop_instructions"] = expected_min
    result["slice_instructions"] = slice_instructions
    if memory_bound and PRIMES_IMAGE.is_file():
        result["memory_bound"] = {
            "program": "guest/bin/primes",
            **_measure(
                load_image(PRIMES_IMAGE), ["primes", "1000000"], slice_instructions, repeats, sizes
            ),
        }
    return result


def main() -> None:  # pragma: no cover - python -m vcluster.bench_cpu_layer
    import json

    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run_bench(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
