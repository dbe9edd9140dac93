"""`vcluster bench faults`: the torture sweep (vcluster/torture.py), counted per scenario and loss rate.

Every loss scenario (a client/server pair with the server migrated, a dirtier
migrated, an eviction, `@ *` remote executions) at loss 0, 5, 10, 20, 30% x
`seeds` seeds, and every timed fault (crash or partition of the destination or
of the source, kill, exit) at 50 instants across pre-copy, freeze and switch,
and the issue's reproducers once each (rows `issue-N-...`), and the checkpointed
programs' scenarios (issue 16, rows `ck-KIND-PROGRAM`, vcluster/torture_checkpoint.py:
crashes at 24 instants of the run, under loss, twice, partitions, the file server's crash,
migration, eviction, no idle host).
A row counts runs, completed (every check passed and every output is the
fault-free one), clean_errors (every check passed, some program ended with an
error naming its cause), and the runs with each problem: hangs, two_copies,
no_copy, duplicates, lost, wrong_output, tracebacks, bad_events (a restart event missing or
untrue). V's promise: all the
problem columns 0. `failures` lists every failing run with the command line
that replays it (the table shows the first 40).
"""

from __future__ import annotations

import time
from typing import Any

from vcluster import torture

COLUMNS = ("runs", "completed", "clean_errors", *torture.PROBLEMS)
FAILURES_LISTED = 40


def run_bench(
    seeds: int = 20, quick: bool = False, cases: list[torture.Case] | None = None
) -> dict[str, Any]:
    """The sweep (or just `cases`), counted per scenario and loss rate."""
    if quick:
        seeds = min(seeds, 3)
    instants = 10 if quick else torture.INSTANTS
    t0 = time.perf_counter()
    rows: dict[tuple[str, float], dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    for case in cases if cases is not None else torture.cases(seeds=seeds, instants=instants):
        verdict = torture.run_case(case)
        row = rows.setdefault(
            (case.scenario, case.loss),
            {
                "scenario": case.scenario,
                "loss": case.loss,
                **{c: 0 for c in COLUMNS},
                "wall_s": 0.0,
            },
        )
        row["runs"] += 1
        row["wall_s"] += verdict.wall_s
        row["completed"] += verdict.completed
        row["clean_errors"] += verdict.ok and not verdict.completed
        for key in torture.PROBLEMS:
            row[key] += bool(verdict.problems[key])
        for why in verdict.clean_errors:
            errors[why] = errors.get(why, 0) + 1
        if not verdict.ok:
            failures.append(
                {
                    "case": verdict.case.ident,
                    "problems": {k: v[:3] for k, v in verdict.problems.items() if v},
                    "replay": verdict.command,
                }
            )
    table = []
    for row in rows.values():
        row["wall_ms_per_run"] = round(row.pop("wall_s") * 1000 / row["runs"], 1)
        table.append(row)
    totals = {c: sum(r[c] for r in table) for c in COLUMNS}
    wall = time.perf_counter() - t0
    return {
        "seeds": seeds,
        "instants": instants,
        "rows": table,
        "totals": totals,
        "clean_error_causes": dict(sorted(errors.items(), key=lambda kv: -kv[1])),
        "failures": failures,
        "wall_seconds": round(wall, 1),
        "wall_ms_per_run": round(wall * 1000 / max(1, totals["runs"]), 1),
        "promise": "hangs, two_copies, no_copy, duplicates, lost, wrong_output, tracebacks and "
        "bad_events all 0",
    }


def render(result: dict[str, Any]) -> str:
    """The human table: one row per scenario and loss rate, then the failures to replay."""
    head = ["scenario", "loss", *COLUMNS, "ms/run"]
    rows = [
        [
            r["scenario"],
            f"{r['loss']:.0%}",
            *(str(r[c]) for c in COLUMNS),
            f"{r['wall_ms_per_run']:.0f}",
        ]
        for r in result["rows"]
    ]
    rows.append(
        [
            "total",
            "",
            *(str(result["totals"][c]) for c in COLUMNS),
            f"{result['wall_ms_per_run']:.0f}",
        ]
    )
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    out = [
        f"bench faults: {result['seeds']} seeds per loss rate, {result['instants']} instants per timed "
        f"fault, {result['wall_seconds']} s"
    ]
    for cells in (head, *rows):
        out.append(
            "  ".join(
                c.rjust(w) if i > 1 else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    if result["clean_error_causes"]:
        out.append(
            "clean errors: "
            + "; ".join(f"{why} x{n}" for why, n in result["clean_error_causes"].items())
        )
    for f in result["failures"][:FAILURES_LISTED]:
        out.append(f"FAIL {f['case']}: {', '.join(f['problems'])}")
        for key, seen in f["problems"].items():
            out.append(f"  {key}: {seen[0][:300]}")
        out.append(f"  {f['replay']}")
    if len(result["failures"]) > FAILURES_LISTED:
        out.append(
            f"... and {len(result['failures']) - FAILURES_LISTED} more failures (--json lists them all)"
        )
    return "\n".join(out)
