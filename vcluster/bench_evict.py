"""`vcluster bench evict`: from the owner's return to a workstation free of remote guests.

A guest with a 2 MB logical host full of data (`bigdata 1900 ...`, 4 MB
workstations) runs on ws3 while its owner is away; the owner's own CPU-bound
program is running there too when the owner comes back. Measured: the time
from owner activity until no remote guest runs on, or depends on, ws3
(`evict_ms`), and the owner's CPU share during that time. Two policies: with
the idle host flushing its guests' pages to the file server every
`flush_interval_ms` (V's section 3.2; only the residue moves at eviction),
and without (pre-copy of the whole logical host at eviction time).

Each figure's model (vcluster/model.py) is the lone migration's, plus the
flusher's writes of a pass under way, which go on during the eviction: the
file server's ledger says which requests wrote how much and when
(bench_split.served), and each write's train holds the source's CPU whole
(MigrationModel.competing_write). The new host's page-ins begin only after
the eviction's end (`page_ins_after_ms`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from guest.abi import PAGE_SIZE as PAGE
from vcluster import bench_split, migrate_split
from vcluster.model import MigrationModel, describe, total
from vcluster.session import Session
from vkernel.shell import Job, Shell
from vkernel.workloads import workstation_config

S = 1_000_000_000
MS = 1_000_000
GUEST = "bigdata 1900 32 40"
FLUSH_MS = 500
SETTLE_S = 8.0  # the guest fills its data and the flusher writes it all before the owner returns


def evict_once(flush_interval_ms: int, settle_s: float = SETTLE_S) -> dict[str, Any]:
    """One eviction: the owner comes back `settle_s` after the guest started."""
    cfg = workstation_config()
    cfg = dataclasses.replace(
        cfg, idle=dataclasses.replace(cfg.idle, flush_interval_ms=flush_interval_ms)
    )
    session = Session(cfg)
    bench_split.trace(session)  # the ledgers keep their intervals: the split columns
    ws3 = session.kernels["ws3"]
    session.execute(f"{GUEST} @ ws3")
    session.execute(f"wait {settle_s - 1}")
    # the owner's own program, started from ws3's console (a local program there)
    owner_shell = Shell(ws3, lambda pm: "ws3")
    owner_job = Job(serial=1000, argv=["spin", "4"], host=None, stdout_instance=0)
    owner_shell.exec(owner_job)
    session.execute("wait 1")
    owner = next(p for p in ws3.processes.values() if p.team is not None and p.name == "spin")
    lh_kb = sum(t.memory_bytes for lh in ws3.lhs.values() if lh.remote for t in lh.teams) // 1024
    cpu_before = owner.cpu_ns
    flushes = list(ws3.flusher.states.values()) if ws3.flusher is not None else []
    flushed_before = sum(st.bytes for st in flushes)
    start = session.sim.now
    session.execute("owner ws3 on")
    while any(lh.remote and lh.teams for lh in ws3.lhs.values()):
        if not session.sim.step():
            break
    evict_ns = session.sim.now - start
    end = session.sim.now
    owner_share = (owner.cpu_ns - cpu_before) / evict_ns if evict_ns else 0.0
    flushed = sum(st.bytes for st in flushes) - flushed_before
    session.run_until_done(120)
    (guest,) = session.jobs
    (record,) = session.migrations
    file_host = next(k.name for k in session.kernels.values() if "file" in k.servers)
    split = model_rows(session, record, file_host, start, end) if record["ok"] else {}
    return {
        "evict_ms": round(evict_ns / 1e6, 3),
        "owner_cpu_share": round(owner_share, 3),
        "logical_host_kb": lh_kb,
        "moved_bytes": record["bytes"],
        "backed_bytes": record.get("backed_bytes", 0),
        "freeze_ms": record["freeze_ms"],
        "flushed_bytes": flushed,  # by the flusher while the guest was evicted (its own count)
        "to": record["to"],
        "guest_output": session.output_of(guest),
        "guest_exit_status": guest.exit_status,
        "split": split,
    }


def model_rows(session, record: dict[str, Any], file_host: str, start: int, end: int):
    """The evict, freeze and copy rows: split, and the model of each, a lone migration's with the
    flusher's writes beside it (their part within the row's spans)."""
    involved = ("ws3", record["to"] or "ws3", file_host)
    measured = round((end - start) / MS, 3)
    part = bench_split.measure(session, involved, [(start, end)])
    freeze = record["freeze_span"]
    served = bench_split.served(session, file_host, 0, max(end, freeze[1]))
    copies = [(a, b) for a, b, nbytes in record["copy_spans"] if nbytes]
    spans = {"evict": [(start, end)], "freeze": [freeze], "copy": copies}
    overlaps = {
        key: [w for a, b in ss for w in flusher_writes(session, copies, served, a, b)]
        for key, ss in spans.items()
    }
    terms = {key: flusher_terms(session, ws) for key, ws in overlaps.items()}
    lone = migrate_split.evict_terms(session, record, start)
    rows = {
        "evict": {
            "measured_ms": measured,
            "model_ms": round(total(lone + terms["evict"]), 3),
            "model": describe(lone + terms["evict"], 8),
            **bench_split.columns(part, measured),
        }
    }
    rows |= migrate_split.columns(
        session, record, (file_host,), freeze_extra=terms["freeze"], copy_extra=terms["copy"]
    )
    for key, row in rows.items():
        ws = overlaps[key]
        row["flusher_writes"] = len(ws)
        row["flusher_kb"] = round(sum(nbytes * share for nbytes, share, _, _ in ws) / 1024, 1)
    # the new host's page-ins: the first request after the owner's return whose data went out
    # of the file server, how long after the eviction's end (its pager starts with the guest,
    # after the commit's "go")
    reads = [
        when
        for when, _, pages, written in bench_split.served(
            session, file_host, start, session.sim.now
        )
        if pages and not written
    ]
    rows["evict"]["page_ins_after_ms"] = round((min(reads) - end) / MS, 3) if reads else None
    return rows


def flusher_writes(
    session, copies, served, t0: int, t1: int
) -> list[tuple[int, float, bool, bool]]:
    """The flusher's writes (`served`: bench_split.served of the file server, where only the
    flusher writes then) whose trains held the source's CPU within [t0, t1): (bytes, the share of
    the train within, whether its request was, whether it was queued in a pre-copy pass of
    `copies`). A train holds the source's CPU for its sender_cpu from when it began there: the
    file server began to copy its first packet a train_lead later."""
    m = MigrationModel(session.config)
    out = []
    for _, first, pages, written in served:
        nbytes = round(pages * PAGE)
        if not nbytes or not written:
            continue
        began = first - m.train_lead(nbytes) * MS
        ends = began + m.sender_cpu(nbytes) * MS
        inside = min(ends, t1) - max(began, t0)
        if inside > 0:
            queued_in_copy = any(a <= began < b for a, b in copies)
            out.append((nbytes, inside / (ends - began), t0 <= began < t1, queued_in_copy))
    return out


def flusher_terms(session, writes) -> list[tuple[str, float]]:
    m = MigrationModel(session.config)
    return [
        term
        for nbytes, share, request, in_copy in writes
        for term in m.competing_write("the flusher's writes", nbytes, share, request, in_copy)
    ]


def flusher_note(part: dict[str, Any]) -> str:
    note = (
        f"a lone migration, and the flusher's {part['flusher_writes']} writes "
        f"({part['flusher_kb']:g} KB) on the source's CPU beside it: the CPU serves charges in "
        "order, a train whole, so the migration waits for them, less the waits for a pre-copy "
        "train's ack they fill"
    )
    if part.get("page_ins_after_ms") is not None:
        note += (
            f"; the new host's page-ins begin {part['page_ins_after_ms']:.1f} ms after the "
            "eviction's end (it runs the guest after the commit's go), outside it"
        )
    return note


def comparisons(flushed: dict[str, Any], precopy: dict[str, Any]) -> list[dict[str, Any]]:
    """The eviction (and its migration's freeze and copy rate) of each policy, split into
    emergent and calibrated time, for the table under the results."""
    out = []
    for label, run in (("flushing", flushed), ("precopy only", precopy)):
        for key, unit in (("evict", "ms"), ("freeze", "ms"), ("copy", "ms per MB")):
            part = run["split"].get(key)
            if part:
                v = {"evict": "a few s", "freeze": "5..210", "copy": 3000.0}[key]
                row = {"figure": f"{key} ({label})", "unit": unit, "v_ms": v, **part}
                if run is flushed and "model_ms" in part:
                    row["model_note"] = flusher_note(part)
                out.append(row)
    return out


def run_bench() -> dict[str, Any]:
    flushed = evict_once(FLUSH_MS)
    precopy = evict_once(0)
    return {
        "comparisons": comparisons(flushed, precopy),
        "evict_ms": flushed["evict_ms"],
        "owner_cpu_share": flushed["owner_cpu_share"],
        "logical_host_kb": flushed["logical_host_kb"],
        "flush_interval_ms": FLUSH_MS,
        "with_flushing": flushed,
        "precopy_only": precopy,
        "same_output": flushed["guest_output"] == precopy["guest_output"],
        "target_ms": 1000,
        "v": "a few seconds",
        "notes": (
            "evict_ms: owner activity until no remote guest runs on or depends on the host; with "
            "flushing only pages modified since the last flush cross at eviction, the new host "
            "pages the rest in from the file server; precopy_only copies the whole logical host"
        ),
    }
