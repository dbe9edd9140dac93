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
least one of the machines involved was doing (or, for a calibrated wait, an
ops.Delay that names its constant, waiting out) cost-model work is calibrated, shared equally among
the constants charging during it; every other interval is emergent (guest
instructions, frames on the wire and their queueing, the disk's seeks,
rotations and transfers, and idle waits for any of them). The two add up to
the span exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

UNNAMED = "unnamed"  # kernel time charged without naming a constant (only tests and tools do)
# what emergent time is spent on, in the order an instant is attributed when several overlap;
# the rest ("wire and waits") is frames on the wire, their queueing, and waits on other machines
EMERGENT_CAUSES = ("disk", "instructions")
REST = "wire and waits"


class Ledger:
    """One machine's charges: name -> [charges, units, ns]; the intervals too while traced."""

    __slots__ = ("entries", "spans", "waits", "activity")

    def __init__(self) -> None:
        self.entries: dict[str, list] = {}
        self.spans: list[tuple[int, int, str]] | None = None
        self.waits: set[str] = set()  # the constants charged as waits (ops.Delay), not CPU
        # while traced, the emergent work too: guest slices ("instructions"), disk waits ("disk")
        self.activity: list[tuple[int, int, str]] | None = None

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
            self.activity = []

    def note(self, kind: str, start: int, end: int) -> None:
        """While traced: emergent work of this machine over [start, end) (EMERGENT_CAUSES)."""
        if self.activity is not None and end > start:
            self.activity.append((start, end, kind))

    def snapshot(self) -> dict[str, tuple[int, float, int]]:
        """(charges, units, ns) by constant name, as of now."""
        return {name: (e[0], e[1], e[2]) for name, e in self.entries.items()}

    def total_ns(self) -> int:
        return sum(e[2] for e in self.entries.values())


@dataclass
class Split:
    """A measured span cut into calibrated time (by constant) and emergent time (by cause), in ns."""

    span_ns: int = 0
    calibrated_ns: float = 0.0
    by_constant: dict[str, float] = field(default_factory=dict)
    charges: dict[str, int] = field(default_factory=dict)  # charges overlapping the span
    by_cause: dict[str, float] = field(default_factory=dict)  # the emergent time, by cause

    @property
    def emergent_ns(self) -> float:
        return self.span_ns - self.calibrated_ns

    def __add__(self, other: Split) -> Split:
        return Split(
            self.span_ns + other.span_ns,
            self.calibrated_ns + other.calibrated_ns,
            _sum(self.by_constant, other.by_constant),
            _sum(self.charges, other.charges),
            _sum(self.by_cause, other.by_cause),
        )


def _sum(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def split(
    spans: Iterable[tuple[int, int, str]],
    t0: int,
    t1: int,
    activity: Iterable[tuple[int, int, str]] = (),
) -> Split:
    """Cut [t0, t1) by the charge intervals `spans` (of the machines involved): the time covered
    by k charges at once counts 1/k to each of their constants; the uncovered time is emergent,
    given to the first of EMERGENT_CAUSES active then in `activity` (the machines' guest slices
    and disk waits), else to REST."""
    points: list[tuple[int, int, int, str]] = []  # (time, step, 0 charge / 1 activity, name)
    charges: dict[str, int] = {}
    for start, end, name in spans:
        a, b = max(start, t0), min(end, t1)
        if a < b:
            points.append((a, 1, 0, name))
            points.append((b, -1, 0, name))
            charges[name] = charges.get(name, 0) + 1
    for start, end, kind in activity:
        a, b = max(start, t0), min(end, t1)
        if a < b:
            points.append((a, 1, 1, kind))
            points.append((b, -1, 1, kind))
    points.sort(key=lambda p: (p[0], p[1]))
    active: dict[str, int] = {}
    busy: dict[str, int] = {}
    depth = 0
    by: dict[str, float] = {}
    causes: dict[str, float] = {}
    calibrated = 0.0
    last = t0
    for t, step, is_activity, name in points + [(t1, 0, 1, "")]:
        if t > last:
            length = t - last
            if depth:
                calibrated += length
                for active_name, n in active.items():
                    by[active_name] = by.get(active_name, 0.0) + length * n / depth
            else:
                cause = next((c for c in EMERGENT_CAUSES if busy.get(c)), REST)
                causes[cause] = causes.get(cause, 0.0) + length
        last = t
        table = busy if is_activity else active
        if not is_activity:
            depth += step
        count = table.get(name, 0) + step
        if count:
            table[name] = count
        else:
            table.pop(name, None)
    return Split(t1 - t0, calibrated, by, charges, causes)
