"""`vcluster bench migrate`: pre-copy migration of the paper's Table 4-1 workloads, next to V's figures.

For each workload (vkernel/workloads.py, measured by vcluster/dirty_rates.py, reproduces its dirty-page rates), one
run measures the dirty KB per 0.2 / 1 / 3 s with the MMU's modified bits, and
another migrates the program from ws2 mid-run with `migrateprog`, on
workstations with 4 MB (the logical hosts are 1.5..2 MB) on the 10 Mb model.
Reported per workload: rounds, bytes sent, freeze and total time, seconds per
MB copied, beside V's 3 s per MB and 5..210 ms freezes. The migrated
program's output is checked against an unmigrated run.

Then the multi-round workloads (vcluster/bench_rounds.py: a real sort of
1.5 MB of records and a synthetic with a known dirty rate), whose written sets
make the stop rule run three rounds or more: `multi_round`, every round's
bytes, dirtied pages and residue. s/MB is given over the bytes copied
(`s_per_mb`) and over the whole logical host (`s_per_mb_host`).
"""

from __future__ import annotations

from typing import Any

from vcluster import bench_rounds, bench_split, migrate_split
from vcluster.bench_rounds import render  # noqa: F401  (the human table)
from vcluster.dirty_rates import measure_dirty_rates
from vcluster.session import Session
from vkernel import workloads as wl

V_S_PER_MB = 3.0
V_FREEZE_MS = (5.0, 210.0)
MIGRATE_AT_S = 3.0
MB = 1024 * 1024


def migrate_workload(name: str, seconds: float, at_s: float = MIGRATE_AT_S) -> dict[str, Any]:
    """Run the workload on ws2, migrate it at `at_s`, run to its end; returns the migration record."""
    session = Session(wl.workstation_config())
    bench_split.trace(session)  # the ledgers keep their intervals: the split columns
    line = wl.command(name, seconds)
    session.execute(f"{line} @ {wl.HOST}")
    session.execute(f"wait {at_s}")
    session.execute(f"migrateprog {line.split()[0]}")
    session.run_until_done(seconds + 120)
    (record,) = session.migrations
    (job,) = session.jobs
    return {
        "record": record,
        "output": session.output_of(job),
        "exit_status": job.exit_status,
        "host_final": session.host_final.get(job.pid),
        "split": migrate_split.columns(session, record) if record["ok"] else {},
    }


def run_bench(
    names: tuple[str, ...] | None = None,
    seconds: float | None = None,
    multi_round: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    rows = []
    for name in names or wl.WORKLOADS:
        run_s = seconds if seconds is not None else wl.DEFAULT_SECONDS[name]
        dirty = measure_dirty_rates(name, run_s)
        moved = migrate_workload(name, run_s)
        r = moved["record"]
        copied_mb = r["bytes"] / MB
        row = {
            "name": name,
            "label": wl.PAPER_LABELS[name],
            "dirty_kb": {str(k): round(v, 1) for k, v in dirty["measured_kb"].items()},
            "paper_dirty_kb": {
                str(k): v for k, v in zip(wl.PAPER_INTERVALS, wl.PAPER_DIRTY_KB[name], strict=True)
            },
            "logical_host_kb": dirty["host_kb"],
            "ok": r["ok"],
            "rounds": r["rounds"],
            "stop_reason": r["stop_reason"],
            "bytes": r["bytes"],
            "precopy_bytes": r["precopy_bytes"],
            "freeze_bytes": r["freeze_bytes"],
            "state_bytes": r["state_bytes"],
            "freeze_ms": r["freeze_ms"],
            "total_ms": r["total_ms"],
            "copy_ms": r["copy_ms"],
            "s_per_mb": round(r["copy_ms"] / 1000 / copied_mb, 3) if copied_mb else None,
            "s_per_mb_host": round(r["copy_ms"] / 1000 / (dirty["host_kb"] / 1024), 3)
            if dirty["host_kb"]
            else None,
            "output_matches_unmigrated": moved["output"] == dirty["output"],
            "host_final": moved["host_final"],
            "freeze_split": moved["split"].get("freeze"),
            "copy_split": moved["split"].get("copy"),
        }
        rows.append(row)
    multi = bench_rounds.run_rows(multi_round)
    worst_freeze = max(r["freeze_ms"] for r in rows)
    rates = [r["s_per_mb"] for r in rows if r["s_per_mb"]]
    return {
        "comparisons": comparisons(rows + multi),
        "workloads": rows,
        "multi_round": multi,
        "v_s_per_mb": V_S_PER_MB,
        "v_freeze_ms": list(V_FREEZE_MS),
        "max_freeze_ms": worst_freeze,
        "max_s_per_mb": max(rates) if rates else None,
        "targets": {
            "dirty_within_20pct": all(
                abs(float(r["dirty_kb"][k]) / p - 1) <= 0.2
                for r in rows
                for k, p in r["paper_dirty_kb"].items()
            ),
            "freeze_below_v": worst_freeze < V_FREEZE_MS[1],
            "copy_rate_2x_v": bool(rates) and max(rates) <= V_S_PER_MB / 2,
        },
        "multi_round_targets": bench_rounds.targets(multi) if multi else {},
        "notes": (
            "bytes count what crossed the wire: pages never written (all zeros) travel as 8-byte markers; "
            "s_per_mb is the time spent copying pages (pre-copy rounds and the frozen residue) per MB "
            "copied, V's 3 s/MB measure; total_ms adds host selection, set-up and the kernel-state copy "
            "(V: 14 ms + 9 ms per process and address space); the wire's floor is ~0.86 s/MB; "
            "s_per_mb_host is the same time per MB of the whole logical host (every mapped page, "
            "written or not); multi_round rows list every pre-copy round: pages and bytes copied, "
            "pages dirtied meanwhile (the residue the next round or the freeze copies)"
        ),
    }


def comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each workload's freeze and copy rate (ms per MB) beside V's, split into emergent and
    calibrated time (vcluster/migrate_split.py), for the table under the results."""
    out = []
    for row in rows:
        for key, figure, unit, v in (("freeze_split", "freeze", "ms", "5..210"),
                                     ("copy_split", "copy", "ms per MB", V_S_PER_MB * 1000)):
            part = row.get(key)
            if part:
                out.append({"figure": f"{row['name']} {figure}", "unit": unit, "v_ms": v, **part})
    return out
