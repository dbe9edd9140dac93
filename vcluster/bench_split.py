"""Emergent vs calibrated time of a benchmark figure, from the charge ledgers of the machines involved.

A benchmark turns tracing on for every kernel of its session (`trace`), takes
the simulated times of the span it measures, and asks `measure` for the split
of those intervals on the machines the figure's critical path runs through
(vkernel/ledger.py, `split`, says how an interval is attributed). `columns`
turns a split into the figure's JSON columns: `emergent_ms` with
`emergent_by_cause` {disk, instructions, wire and waits: ms}, `calibrated_ms`,
`calibrated_by_constant` {constant: ms}, `calibrated_charges` {constant: how
many charges overlapped the span}, and `kind`: a row is a "calibration check"
when constants set from the V paper's own figures make up at least half of it
(it restates V's numbers), a "reproduction" otherwise (it comes out of
instructions, frames, the disk and costs taken from elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vcluster.costs import from_paper
from vkernel import ops
from vkernel.ledger import Split, split

MS = 1_000_000
CALIBRATION_CHECK_SHARE = 0.5


def trace(session) -> None:
    """Keep every charge's interval on every machine of the session from now on."""
    for kernel in session.kernels.values():
        kernel.ledger.trace()


def spans_of(session, hosts: Iterable[str]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for name in dict.fromkeys(hosts):
        spans = session.kernels[name].ledger.spans
        if spans is None:
            raise RuntimeError(f"{name}: the ledger was not traced (bench_split.trace)")
        out += spans
    return out


def waited_ms(session, host: str, t0: int, t1: int) -> float:
    """The calibrated waits (ops.Delay with a charge, e.g. a program manager deciding whether to
    answer a host query) that began on `host` within [t0, t1), in ms, as charged."""
    ledger = session.kernels[host].ledger
    return sum(
        (end - start) / MS
        for start, end, name in ledger.spans or ()
        if name in ledger.waits and t0 <= start < t1
    )


def charged_units(session, host: str, name: str, t0: int, t1: int) -> float:
    """How many units of constant `name` `host` charged in charges that began within [t0, t1)."""
    value_ns = ops.constant(session.config, name) * 1000
    if not value_ns:
        return 0.0
    return sum(
        (end - start) / value_ns
        for start, end, charged in session.kernels[host].ledger.spans or ()
        if charged == name and t0 <= start < t1
    )


def served(session, host: str, t0: int, t1: int) -> list[tuple[int, int, float, bool]]:
    """The file server requests `host` took within [t0, t1), from its ledger, in order: (when it
    took the request, when the request's data began to move, pages of data moved, whether the
    data came in: a write). A request is a file_server_op_us charge; its data, the page_copy_us
    charged after it until the next request (after t1 too); it came in when the file server
    received more packets than it sent meanwhile (a MoveFrom of the written data, against a
    MoveTo of the read)."""
    ledger = session.kernels[host].ledger
    page_ns = ops.constant(session.config, "page_copy_us") * 1000
    out: list[list] = []  # [when, first data, pages, packets received - sent]
    for start, end, name in sorted(s for s in ledger.spans or () if s[0] >= t0):
        if name == "file_server_op_us":
            if start >= t1:
                break
            out.append([start, 0, 0.0, 0])
        elif not out:
            continue
        elif name == "page_copy_us" and page_ns:
            if not out[-1][2]:
                out[-1][1] = start
            out[-1][2] += (end - start) / page_ns
        elif name in ("packet_receive_us", "packet_send_us"):
            out[-1][3] += 1 if name == "packet_receive_us" else -1
    return [(when, first, pages, net > 0) for when, first, pages, net in out]


def measure(session, hosts: Iterable[str], intervals: Iterable[tuple[int, int]]) -> Split:
    """The split of the sum of `intervals` (simulated ns) over the machines `hosts`."""
    hosts = tuple(dict.fromkeys(hosts))
    spans = spans_of(session, hosts)
    activity = [a for name in hosts for a in session.kernels[name].ledger.activity or ()]
    total = Split()
    for t0, t1 in intervals:
        if t1 > t0:
            total = total + split(spans, t0, t1, activity)
    return total


def columns(s: Split, figure_ms: float | None = None) -> dict[str, Any]:
    """The JSON columns of a figure of `figure_ms` (default: the span itself) split as `s` (its
    split scaled to the figure first, for a figure per 100 KB or per MB)."""
    figure = s.span_ns / MS if figure_ms is None else figure_ms
    factor = figure * MS / s.span_ns if s.span_ns else 0.0
    by = {name: round(ns * factor / MS, 3) for name, ns in sorted(s.by_constant.items())}
    calibrated = round(s.calibrated_ns * factor / MS, 3)
    paper = sum(ns for name, ns in s.by_constant.items() if from_paper(name)) * factor / MS
    share = paper / figure if figure else 0.0
    causes = {cause: round(ns * factor / MS, 3) for cause, ns in sorted(s.by_cause.items())}
    return {
        "emergent_ms": round(figure - calibrated, 3),
        "emergent_by_cause": causes,
        "calibrated_ms": calibrated,
        "calibrated_by_constant": by,
        "calibrated_charges": dict(sorted(s.charges.items())),
        "charges": sum(s.charges.values()),
        "paper_constant_share": round(share, 4),
        "kind": "calibration check" if share >= CALIBRATION_CHECK_SHARE else "reproduction",
    }


def row_line(
    figure: str,
    unit: str,
    measured: float,
    v: Any,
    cols: dict[str, Any],
    model: float | None = None,
) -> str:
    """One line of a human table: the figure, V's, the two parts, the biggest emergent cause and
    the three biggest constants."""
    top = sorted(cols["calibrated_by_constant"].items(), key=lambda kv: -kv[1])[:3]
    named = ", ".join(f"{name} {ms:g}" for name, ms in top) or "-"
    causes = sorted(cols.get("emergent_by_cause", {}).items(), key=lambda kv: -kv[1])[:1]
    named = "; ".join([f"{cause} {ms:g}" for cause, ms in causes if ms >= 0.001] + [named])
    shown_model = f"{model:>9.3f}" if model is not None else f"{'-':>9}"
    return (
        f"  {figure:<22} {measured:>9.3f} {unit:<13} {str(v):>8}  {shown_model}  "
        f"{cols['emergent_ms']:>9.3f}  {cols['calibrated_ms']:>9.3f}  {cols['kind']:<17}  {named}"
    )


def table_header() -> str:
    return (
        f"  {'figure':<22} {'measured':>9} {'unit':<13} {'V':>8}  {'model':>9}  {'emergent':>9}  "
        f"{'calibrated':>9}  {'kind':<17}  largest emergent cause; constants (ms)"
    )
