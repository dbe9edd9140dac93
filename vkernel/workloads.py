"""The migration workloads: guest programs that dirty pages at the rates of the V paper's Table 4-1.

`workload NAME SECONDS` (guest/src/programs/workload.c) models one program of
Table 4-1: make, cc68 (the C compiler's control program), its five passes
(preprocessor, parser, optimizer, assembler, linking loader: "linker" here)
and TeX. This module runs one on a workstation and measures what pre-copy
would see: how many distinct pages the program modifies within an interval.

The measurement (`measure_dirty_rates`): the program runs alone on ws2 of the
tiny cluster with 4 MB workstations. From the moment it exists, every `base`
seconds (the greatest common divisor of the intervals: 0.2 s for the paper's
0.2 / 1 / 3 s) a callback on the simulator reads the MMU's modified bits of
its team and clears them: slot i holds the pages written in
[t0 + i*base, t0 + (i+1)*base). The pages dirtied within a longer interval are
the union of the slots it covers (a modified bit says "written at least once
since cleared", so this is exactly what reading and clearing every interval
would give). Slots after a warm-up (`warmup`, 1 s: loading, allocating, the
first writes) and before the end of the run (the last `base` is dropped: the
final checksum and its output) are measured; for an interval of k slots every
window of k consecutive slots counts (sliding windows, one slot apart), and
the figure is the average over the windows of 4 KB x the distinct pages
written in the window. Averages over many windows allow fractions of a page:
make's 0.8 KB in 0.2 s means a page (or two) written in a fifth (a tenth) of
the windows. Pages the kernel writes into the team (syscall results,
messages) count like any other.

The paper's figures are averages over 1 KB units of its own runs; ours are
4 KB pages of one run. With one run, a longer interval can never show fewer
pages than a shorter one: the paper's linking loader (39.2 KB in 1 s, 37.8 KB
in 3 s, averages of different runs) is modelled as a working set that is all
dirty within a second and grows hardly at all after, about 39 KB at both.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

S = 1_000_000_000

# Table 4-1 of the V paper: Kbytes dirtied within an interval of 0.2 s, 1 s, 3 s.
PAPER_INTERVALS = (0.2, 1.0, 3.0)
PAPER_DIRTY_KB: dict[str, tuple[float, float, float]] = {
    "make": (0.8, 1.8, 4.2),
    "cc68": (0.6, 2.2, 6.2),
    "preprocessor": (25.0, 40.2, 59.6),
    "parser": (50.0, 76.8, 109.4),
    "optimizer": (19.8, 32.2, 41.0),
    "assembler": (21.6, 33.4, 48.4),
    "linker": (25.0, 39.2, 37.8),
    "tex": (68.6, 111.6, 142.8),
}
# the names, in the paper's order (the guest program's NAME argument)
WORKLOADS: tuple[str, ...] = tuple(PAPER_DIRTY_KB)
# the paper's row labels
PAPER_LABELS: dict[str, str] = {name: name for name in WORKLOADS} | {"linker": "linking loader"}

# Run lengths that give steady averages: make and cc68 dirty pages in bursts
# (every 6.44 s and 4.05 s), so they run for five and four bursts; a shorter
# run of them sees too few bursts for an average.
DEFAULT_SECONDS: dict[str, float] = {
    "make": 34.0,
    "cc68": 18.0,
    "preprocessor": 12.0,
    "parser": 12.0,
    "optimizer": 12.0,
    "assembler": 12.0,
    "linker": 12.0,
    "tex": 12.0,
}

HOST = "ws2"
WORKSTATION_MEMORY = 4 * 1024 * 1024


def workstation_config(name: str = "tiny", memory: int = WORKSTATION_MEMORY):
    """A packaged config with every workstation's memory set to `memory` (the bench's 4 MB)."""
    from configs.loader import load_config, resolve_config

    cfg = load_config(resolve_config(name))
    machines = tuple(
        dataclasses.replace(m, memory=memory) if m.role == "workstation" else m
        for m in cfg.machines
    )
    return dataclasses.replace(cfg, machines=machines)


def seconds_arg(seconds: float) -> str:
    """SECONDS as the program takes it: '12', '2.5' (milliseconds at most)."""
    if seconds < 0:
        raise ValueError(f"seconds must not be negative: {seconds}")
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def command(name: str, seconds: float | None = None) -> str:
    """The console line (without a host) that runs a workload: 'workload tex 12'."""
    if name not in PAPER_DIRTY_KB:
        raise ValueError(f"unknown workload {name!r}; workloads: {', '.join(WORKLOADS)}")
    return f"workload {name} {seconds_arg(DEFAULT_SECONDS[name] if seconds is None else seconds)}"


def _base_ns(intervals: tuple[float, ...]) -> int:
    """The sampling period: the gcd of the intervals, to the millisecond."""
    ms = [round(i * 1000) for i in intervals]
    if any(m <= 0 or abs(m - i * 1000) > 1e-6 for m, i in zip(ms, intervals, strict=True)):
        raise ValueError(f"intervals must be positive whole milliseconds: {intervals}")
    return math.gcd(*ms) * 1_000_000


def window_average_kb(slots: list[frozenset[int]], k: int, page_kb: float = 4.0) -> tuple[float, int]:
    """Average KB over every window of k consecutive slots, and the number of windows."""
    n = len(slots) - k + 1
    if n <= 0:
        return math.nan, 0
    total = 0
    for j in range(n):
        total += len(frozenset().union(*slots[j : j + k]))
    return page_kb * total / n, n


def measure_dirty_rates(
    name: str,
    seconds: float | None = None,
    intervals: tuple[float, ...] = PAPER_INTERVALS,
    *,
    warmup: float = 1.0,
    config=None,
    host: str = HOST,
    sample: bool = True,
    max_sim_seconds: float | None = None,
) -> dict[str, Any]:
    """Run `workload NAME SECONDS` alone on `host` and measure its dirty pages per interval.

    Returns {"name", "seconds", "intervals", "measured_kb": {interval: KB},
    "paper_kb": {interval: KB or None}, "ratio": {interval: measured/paper},
    "windows": {interval: count}, "host_kb" (the logical host: team.memory_bytes,
    at its largest), "output" (the program's line), "exit_status", "slots"
    (the sampled slots measured), "base" (the slot length, s)}. With
    sample=False nothing is sampled (the program runs undisturbed: for
    comparing outputs).
    """
    from vcluster.session import Session
    from vkernel.process import State

    line = command(name, seconds)
    if seconds is None:
        seconds = DEFAULT_SECONDS[name]
    intervals = tuple(float(i) for i in intervals)
    base = _base_ns(intervals)
    session = Session(config or workstation_config())
    kernel = session.kernels[host]
    session.execute(f"{line} @ {host}")
    sim = session.sim

    slots: list[tuple[int, frozenset[int]]] = []  # (slot start ns, pages)
    found: dict[str, Any] = {"proc": None, "t0": None, "host_bytes": 0}

    def find() -> None:
        for proc in kernel.processes.values():
            if proc.team is not None and proc.name == "workload":
                found["proc"], found["t0"] = proc, sim.now
                if sample:
                    kernel.mmu.clear_modified(proc.team.ctx)
                sim.at(sim.now + base, lambda: tick(sim.now))
                return
        if not all(j.done for j in session.jobs):
            sim.at(sim.now + 1_000_000, find)  # look again in 1 ms

    def tick(start: int) -> None:
        proc = found["proc"]
        if proc.state is State.DEAD or kernel.processes.get(proc.pid) is not proc:
            return  # exited (or gone): the partial slot is not measured
        team = proc.team
        found["host_bytes"] = max(found["host_bytes"], team.memory_bytes)
        if sample:
            pages = frozenset(kernel.mmu.modified_pages(team.ctx))
            kernel.mmu.clear_modified(team.ctx)
            slots.append((start - base, pages))
        sim.at(sim.now + base, lambda: tick(sim.now))

    def exited(proc, status) -> None:
        if proc is found["proc"]:
            found["end"], found["cpu_ns"] = sim.now, proc.cpu_ns

    kernel.on_exit.append(exited)
    sim.at(sim.now, find)
    limit = max_sim_seconds if max_sim_seconds is not None else seconds * 2 + 30
    if not session.run_until_done(sim.now / S + limit):
        raise RuntimeError(f"workload {name} {seconds}: still running after {limit} s")
    job = session.jobs[0]
    output = session.output_of(job)
    result: dict[str, Any] = {
        "name": name,
        "seconds": seconds,
        "intervals": intervals,
        "base": base / S,
        "output": output,
        "exit_status": job.exit_status,
        "paper_kb": {},
        "measured_kb": {},
        "ratio": {},
        "windows": {},
        "host_kb": found["host_bytes"] // 1024,
        "slots": [],
        "run_seconds": (found["end"] - found["t0"]) / S if "end" in found else None,
        "cpu_seconds": found["cpu_ns"] / S if "cpu_ns" in found else None,
    }
    if not sample:
        return result
    t0 = found["t0"]
    if t0 is None:
        raise RuntimeError(f"workload {name}: the program never ran on {host}")
    first = t0 + int(warmup * S)
    last = t0 + int(seconds * S) - base  # slots must end by here
    measured = [pages for start, pages in slots if start >= first and start + base <= last]
    result["slots"] = measured
    paper = dict(zip(PAPER_INTERVALS, PAPER_DIRTY_KB[name], strict=True))
    for interval in intervals:
        k = round(interval * S / base)
        kb, n = window_average_kb(measured, k)
        result["measured_kb"][interval] = kb
        result["windows"][interval] = n
        p = paper.get(interval)
        result["paper_kb"][interval] = p
        result["ratio"][interval] = kb / p if p else None
    return result


def table(results: list[dict[str, Any]]) -> str:
    """The measured rates next to the paper's, one row per workload."""
    lines = [f"{'workload':16s} {'host KB':>7s}  {'measured KB (paper KB) per 0.2 s / 1 s / 3 s'}"]
    for r in results:
        cells = []
        for interval in r["intervals"]:
            p = r["paper_kb"].get(interval)
            cells.append(f"{r['measured_kb'][interval]:6.1f} ({p if p is not None else '-':>5})")
        lines.append(f"{PAPER_LABELS.get(r['name'], r['name']):16s} {r['host_kb']:7d}  " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Dirty-page rates of the migration workloads (Table 4-1).")
    parser.add_argument("names", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    results = [measure_dirty_rates(n, args.seconds) for n in args.names]
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
