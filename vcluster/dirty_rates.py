"""Measuring the migration workloads' dirty-page rates (vkernel/workloads.py has the models and the
paper's Table 4-1): a booted cluster runs one and the MMU's modified bits are sampled every slot."""

from __future__ import annotations

from typing import Any

from vcluster.session import Session
from vkernel.process import State
from vkernel.workloads import (
    DEFAULT_SECONDS,
    HOST,
    PAPER_DIRTY_KB,
    PAPER_INTERVALS,
    PAPER_LABELS,
    WORKLOADS,
    base_ns,
    command,
    window_average_kb,
    workstation_config,
)

S = 1_000_000_000


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
    line = command(name, seconds)
    if seconds is None:
        seconds = DEFAULT_SECONDS[name]
    intervals = tuple(float(i) for i in intervals)
    base = base_ns(intervals)
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
        lines.append(
            f"{PAPER_LABELS.get(r['name'], r['name']):16s} {r['host_kb']:7d}  " + "  ".join(cells)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        description="Dirty-page rates of the migration workloads (Table 4-1)."
    )
    parser.add_argument("names", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    results = [measure_dirty_rates(n, args.seconds) for n in args.names]
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
