"""`bench migrate`'s multi-round workloads: large written sets that make the pre-copy stop rule run round after round.

The Table 4-1 workloads dirty at most a few hundred KB a second in logical
hosts that are mostly never written, so each of them migrates in one or two
rounds. These two write megabytes:

- `recsort` (guest/src/hosted-programs/recsort, hosted C on newlib): a merge
  sort of 3072 records of 512 bytes (1.5 MB) between two arrays; every pass
  writes the whole data set front to back, so pre-copy chases it.
- `sweeper 3072 256 S` (guest/src/hosted-programs/sweeper): the synthetic
  with a known rate: 3 MB of pages, each holding data, of which it dirties
  exactly 256 KB a second (a word in the next page every 15.6 ms, whatever CPU
  it gets), so the pages dirtied in a round of T seconds are T x 256 / 4.

Each runs on ws2 of the tiny cluster with 4 MB workstations (the same as the
Table 4-1 rows: a logical host of 3.1 MB fits beside the kernel's frames at
both ends; a workstation takes 256 KB..16 MB), once unmigrated (its output is
the reference) and once migrated by `migrateprog` at `at_s`, with the
packaged migration policy (freeze_target_ms 50, min_shrink 0.8, max_rounds 5).
Each row gives every pre-copy round (pages and bytes copied, how long it
took, pages dirtied meanwhile: the residue the next round or the freeze
copies, the stop rule's estimate of the freeze) and s/MB both over the bytes
copied and over the whole logical host.
"""

from __future__ import annotations

from typing import Any

from vcluster import bench_split, migrate_split
from vcluster.session import Session
from vkernel import workloads as wl

MB = 1024 * 1024
KB = 1024
PAGE_KB = 4

# name -> (console line, kind, migrate at (s), dirty rate KB/s (known) or None, run limit (s))
MULTI_ROUND: dict[str, tuple[str, str, float, float | None, float]] = {
    "recsort": (
        "recsort 3072 512",
        "real (hosted C: a merge sort of 1.5 MB of records)",
        4.0,
        None,
        120.0,
    ),
    "sweeper": (
        "sweeper 3072 256 20",
        "synthetic (256 KB/s of pages dirtied, exactly)",
        4.0,
        256.0,
        60.0,
    ),
}


def run_program(
    line: str, limit_s: float, migrate_at: float | None = None, memory: int = wl.WORKSTATION_MEMORY
):
    """Run `line` on ws2 (migrated at `migrate_at` if given); its output, exit status, final host
    and the migration record (None unmigrated)."""
    session = Session(wl.workstation_config(memory=memory))
    bench_split.trace(session)  # the ledgers keep their intervals: the split columns
    session.execute(f"{line} @ {wl.HOST}")
    if migrate_at is not None:
        session.execute(f"wait {migrate_at}")
        session.execute(f"migrateprog {line.split()[0]}")
    if not session.run_until_done(limit_s):
        raise RuntimeError(f"{line}: still running after {limit_s:g} simulated seconds")
    (job,) = session.jobs
    record = session.migrations[0] if session.migrations else None
    if migrate_at is not None and record is None:
        raise RuntimeError(f"{line}: migrateprog at {migrate_at:g} s did not migrate it")
    return {
        "output": session.output_of(job),
        "exit_status": job.exit_status,
        "host_final": session.host_final.get(job.pid),
        "record": record,
        "split": migrate_split.columns(session, record) if record and record["ok"] else {},
    }


def round_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The pre-copy rounds of the attempt that moved the program, as the bench reports them."""
    rounds = record.get("precopy_rounds") or []
    last = max((r["attempt"] for r in rounds), default=None)
    return [
        {
            "round": r["round"],
            "ms": r["ms"],
            "pages": r["pages"],
            "bytes": r["bytes"],
            "dirtied_pages": r["dirtied_pages"],
            "residue_kb": r["residue_bytes"] // KB,
            "estimate_ms": r["estimate_ms"],
        }
        for r in rounds
        if r["attempt"] == last
    ]


def multi_round_row(name: str, migrate_at: float | None = None) -> dict[str, Any]:
    """Run one multi-round workload unmigrated and migrated; its bench row."""
    line, kind, at_s, rate, limit = MULTI_ROUND[name]
    at_s = at_s if migrate_at is None else migrate_at
    plain = run_program(line, limit)
    moved = run_program(line, limit, at_s)
    r = moved["record"]
    rounds = round_rows(r)
    host_kb = rounds[0]["pages"] * PAGE_KB if rounds else 0  # round 1 copies every mapped page
    copied_mb = r["bytes"] / MB
    row: dict[str, Any] = {
        "name": name,
        "program": line,
        "kind": kind,
        "dirty_rate_kb_s": rate,
        "migrate_at_s": at_s,
        "logical_host_kb": host_kb,
        "ok": r["ok"],
        "rounds": r["rounds"],
        "stop_reason": r["stop_reason"],
        "per_round": rounds,
        "precopy_bytes": r["precopy_bytes"],
        "freeze_pages": r.get("freeze_pages", 0),
        "freeze_bytes": r["freeze_bytes"],
        "state_bytes": r["state_bytes"],
        "bytes": r["bytes"],
        "written_kb": r.get("written_pages", 0) * PAGE_KB,
        "freeze_ms": r["freeze_ms"],
        "copy_ms": r["copy_ms"],
        "total_ms": r["total_ms"],
        "s_per_mb": round(r["copy_ms"] / 1000 / copied_mb, 3) if copied_mb else None,
        "s_per_mb_host": round(r["copy_ms"] / 1000 / (host_kb / KB), 3) if host_kb else None,
        "output": moved["output"],
        "output_matches_unmigrated": moved["output"] == plain["output"]
        and moved["exit_status"] == 0,
        "host_final": moved["host_final"],
        "freeze_split": moved["split"].get("freeze"),
        "copy_split": moved["split"].get("copy"),
    }
    return row


def run_rows(names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The rows of `names` (None: every multi-round workload; (): none)."""
    unknown = [n for n in names or () if n not in MULTI_ROUND]
    if unknown:
        raise ValueError(
            f"unknown multi-round workload {unknown[0]!r}; known: {', '.join(MULTI_ROUND)}"
        )
    return [multi_round_row(n) for n in (tuple(MULTI_ROUND) if names is None else names)]


def targets(rows: list[dict[str, Any]]) -> dict[str, bool]:
    """What the multi-round rows must show: three rounds or more, a written set over 1 MB."""
    return {
        "multi_round_3": bool(rows) and all(r["ok"] and r["rounds"] >= 3 for r in rows),
        "multi_round_written_1mb": bool(rows) and all(r["written_kb"] > 1024 for r in rows),
    }


def lines(rows: list[dict[str, Any]]) -> list[str]:
    """The human table of the multi-round rows: a line a workload, then a line a round."""
    out = [
        f"{'multi-round':12s} {'host KB':>7s} {'rounds':>6s} {'written KB':>10s} {'KB sent':>8s} "
        f"{'freeze ms':>9s} {'s/MB sent':>9s} {'s/MB host':>9s}  stop rule"
    ]
    for r in rows:
        out.append(
            f"{r['name']:12s} {r['logical_host_kb']:7d} {r['rounds']:6d} {r['written_kb']:10d} "
            f"{r['bytes'] // KB:8d} {r['freeze_ms']:9.1f} {_num(r['s_per_mb']):>9s} "
            f"{_num(r['s_per_mb_host']):>9s}  {r['stop_reason']}"
        )
        for p in r["per_round"]:
            out.append(
                f"  round {p['round']}: {p['pages']:4d} pages, {p['bytes'] // KB:5d} KB in {p['ms']:7.1f} ms; "
                f"dirtied meanwhile {p['dirtied_pages']:4d} pages (residue {p['residue_kb']} KB, "
                f"freeze estimate {p['estimate_ms']:.1f} ms)"
            )
        out.append(
            f"  frozen: {r['freeze_pages']} pages, {r['freeze_bytes'] // KB} KB, {r['freeze_ms']:.1f} ms"
        )
    return out


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(result: dict[str, Any]) -> str:
    """`vcluster bench migrate`'s human table: the Table 4-1 rows, the multi-round rows and their
    rounds, the targets (and the rows of bench_migrate's own `table`, when it has one)."""
    from vcluster import bench_migrate

    out = ["bench migrate"]
    rows = result.get("workloads") or []
    if rows:
        out.append(
            f"{'workload':16s} {'host KB':>7s} {'rounds':>6s} {'KB sent':>8s} {'freeze ms':>9s} "
            f"{'total ms':>9s} {'s/MB sent':>9s} {'s/MB host':>9s}  dirty KB per 0.2/1/3 s (paper)"
        )
        for r in rows:
            dirty = " ".join(
                f"{r['dirty_kb'][k]:.1f}({r['paper_dirty_kb'][k]:g})" for k in r["paper_dirty_kb"]
            )
            out.append(
                f"{r['label']:16s} {r['logical_host_kb']:7d} {r['rounds']:6d} {r['bytes'] // KB:8d} "
                f"{r['freeze_ms']:9.1f} {r['total_ms']:9.1f} {_num(r['s_per_mb']):>9s} "
                f"{_num(r.get('s_per_mb_host')):>9s}  {dirty}"
            )
    multi = result.get("multi_round") or []
    if multi:
        out += ["", *lines(multi)]
    out.append("")
    out.append(
        f"V: {result.get('v_s_per_mb')} s/MB, freezes {result.get('v_freeze_ms')} ms; "
        f"worst freeze here {result.get('max_freeze_ms')} ms, worst copy rate {result.get('max_s_per_mb')} s/MB"
    )
    checks = {**(result.get("targets") or {}), **(result.get("multi_round_targets") or {})}
    out.append("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    extra = bench_migrate.table(result) if hasattr(bench_migrate, "table") else []
    width = max((len(k) for k, _ in extra), default=0)
    out += [f"  {k.ljust(width)}  {v}" for k, v in extra]
    if result.get("notes"):
        out.append(f"notes: {result['notes']}")
    return "\n".join(out)
