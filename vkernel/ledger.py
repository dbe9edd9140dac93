"""The charge ledger: what each cost-model constant cost one machine, by name, and the split of a span.

Every place a kernel or a server charges a constant of the cost model
(configs/schema.py, CostModel) records it here: the constant's name, how many
times it was charged, in how many units (pages, characters, objects) and the
nanoseconds it took. That is a few dict updates a charge (a packet, a trap, a
server request), never on a per-instruction path.

A benchmark that wants to split a measured span into calibrated and emergent
time turns `trace()` on: then each charge also keeps its interval of simulated
time on that machine (start, end, name). `split()` cuts a span into the
intervals between charge boundaries: an interval during which the CPU of at
least one of the machines involved was doing (or, for a calibrated wait such as
host_query_us, waiting out) cost-model work is calibrated, shared equally among
the constants charging during it; every other interval is emergent (guest
instructions, frames on the wire and their queueing, the disk's seeks,
rotations and transfers, and idle waits for any of them). The two add up to
the span exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

UNNAMED = "unnamed"  # kernel time charged without naming a constant (only tests and tools do)


class Ledger:
    """One machine's charges: name -> [charges, units, ns]; the intervals too while traced."""

    __slots__ = ("entries", "spans", "waits")

    def __init__(self) -> None:
        self.entries: dict[str, list] = {}
        self.spans: list[tuple[int, int, str]] | None = None
        self.waits: set[str] = set()  # the constants charged as waits (ops.Delay), not CPU

    def add(self, name: str, units: float, start: int, ns: int, wait: bool = False) -> None:
        """Record one charge of `name` (`units` of it) taking [start, start + ns) of this machine
        (of its CPU, or of a process's time for a calibrated `wait`)."""
        if wait:
            self.waits.add(name)
        entry = self.entries.get(name)
        if entry is None:
            entry = self.entries[name] = [0, 0.0, 0]
        entry[0] += 1
        entry[1] += units
        entry[2] += ns
        if self.spans is not None and ns > 0:
            self.spans.append((start, start + ns, name))

    def trace(self) -> None:
        """Keep every charge's interval from now on (for split(); a benchmark's switch)."""
        if self.spans is None:
            self.spans = []

    def snapshot(self) -> dict[str, tuple[int, float, int]]:
        """(charges, units, ns) by constant name, as of now."""
        return {name: (e[0], e[1], e[2]) for name, e in self.entries.items()}

    def total_ns(self) -> int:
        return sum(e[2] for e in self.entries.values())


@dataclass
class Split:
    """A measured span cut into calibrated time (by constant) and emergent time, in ns."""

    span_ns: int = 0
    calibrated_ns: float = 0.0
    by_constant: dict[str, float] = field(default_factory=dict)
    charges: dict[str, int] = field(default_factory=dict)  # charges overlapping the span

    @property
    def emergent_ns(self) -> float:
        return self.span_ns - self.calibrated_ns

    def __add__(self, other: Split) -> Split:
        by = dict(self.by_constant)
        for name, ns in other.by_constant.items():
            by[name] = by.get(name, 0.0) + ns
        counts = dict(self.charges)
        for name, n in other.charges.items():
            counts[name] = counts.get(name, 0) + n
        return Split(
            self.span_ns + other.span_ns, self.calibrated_ns + other.calibrated_ns, by, counts
        )

    def scaled(self, factor: float) -> Split:
        """The same split for a figure that is this span times `factor` (ms per 100 KB, s per MB)."""
        return Split(
            round(self.span_ns * factor),
            self.calibrated_ns * factor,
            {n: ns * factor for n, ns in self.by_constant.items()},
            dict(self.charges),
        )


def split(spans: Iterable[tuple[int, int, str]], t0: int, t1: int) -> Split:
    """Cut [t0, t1) by the charge intervals `spans` (of the machines involved): the time covered
    by k charges at once counts 1/k to each of their constants; the uncovered time is emergent."""
    points: list[tuple[int, int, str]] = []
    charges: dict[str, int] = {}
    for start, end, name in spans:
        a, b = max(start, t0), min(end, t1)
        if a < b:
            points.append((a, 1, name))
            points.append((b, -1, name))
            charges[name] = charges.get(name, 0) + 1
    points.sort(key=lambda p: (p[0], p[1]))
    active: dict[str, int] = {}
    depth = 0
    by: dict[str, float] = {}
    calibrated = 0.0
    last = t0
    for t, step, name in points:
        if depth and t > last:
            length = t - last
            calibrated += length
            for active_name, n in active.items():
                by[active_name] = by.get(active_name, 0.0) + length * n / depth
        last = t
        depth += step
        count = active.get(name, 0) + step
        if count:
            active[name] = count
        else:
            active.pop(name, None)
    return Split(t1 - t0, calibrated, by, charges)
