"""`vcluster bench cpu`: guest MIPS under the MMU and slice budget, and under the V kernel, vs raw Unicorn.

emulator.bench measures the CPU layer (a slice budget and a context switch per
slice, against the same image on a bare engine with no hooks). This adds the
same program run by the V kernel of a booted cluster (its scheduler, system
calls and simulator around the slices), timed in the same run, so that every
ratio here is measured against the same raw figure.
"""

from __future__ import annotations

import time
from typing import Any

from emulator import bench as cpu_bench
from vcluster.session import Session, load

SPIN_SECONDS = 200  # 200 M instructions


def under_kernel(seconds: int = SPIN_SECONDS, repeats: int = 3) -> dict[str, Any]:
    """Best of `repeats`: instructions per host second of `spin` on a kernel, once it is running."""
    best: dict[str, Any] | None = None
    for _ in range(repeats):
        session = Session(load("tiny"))
        session.execute(f"spin {seconds} @ ws2")
        session.execute("wait 0.2")  # loaded and running
        kernel = session.kernels["ws2"]
        before = kernel.stats.instructions
        t0 = time.perf_counter()
        session.run_until_done(seconds * 2 + 60)
        wall = time.perf_counter() - t0
        executed = kernel.stats.instructions - before
        run = {"instructions": executed, "seconds": round(wall, 4), "mips": round(executed / wall / 1e6, 1),
               "slices": kernel.stats.slices, "output": session.output_of(session.jobs[0]).strip()}
        if best is None or run["mips"] > best["mips"]:
            best = run
    assert best is not None
    return best


def run_bench() -> dict[str, Any]:
    result = cpu_bench.run_bench()
    kernel = under_kernel()
    result["kernel"] = kernel | {"ratio": round(kernel["mips"] / result["raw_mips"], 3)}
    result["notes"] = (
        "spin is a register-only loop that Unicorn runs at ~2 ns a 10-instruction block; an exact "
        "instruction budget needs a per-block hook, and Unicorn's dispatch of even an empty C block "
        "hook costs ~35% there; memory_bound (primes) is where programs spend their time"
    )
    return result
