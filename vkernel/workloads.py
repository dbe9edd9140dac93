"""The migration workloads: guest programs that dirty pages at the rates of the V paper's Table 4-1.

`workload NAME SECONDS` (guest/src/programs/workload.c) models one program of
Table 4-1: make, cc68 (the C compiler's control program), its five passes
(preprocessor, parser, optimizer, assembler, linking loader: "linker" here)
and TeX. This module holds the models' figures and the arithmetic of the
measurement; vcluster/dirty_rates.py boots a cluster, runs one and measures what pre-copy
would see: how many distinct pages the program modifies within an interval.

The measurement (`vcluster.dirty_rates.measure_dirty_rates`): the program runs alone on ws2 of the
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


def base_ns(intervals: tuple[float, ...]) -> int:
    """The sampling period: the gcd of the intervals, to the millisecond."""
    ms = [round(i * 1000) for i in intervals]
    if any(m <= 0 or abs(m - i * 1000) > 1e-6 for m, i in zip(ms, intervals, strict=True)):
        raise ValueError(f"intervals must be positive whole milliseconds: {intervals}")
    return math.gcd(*ms) * 1_000_000


def window_average_kb(
    slots: list[frozenset[int]], k: int, page_kb: float = 4.0
) -> tuple[float, int]:
    """Average KB over every window of k consecutive slots, and the number of windows."""
    n = len(slots) - k + 1
    if n <= 0:
        return math.nan, 0
    total = 0
    for j in range(n):
        total += len(frozenset().union(*slots[j : j + k]))
    return page_kb * total / n, n
