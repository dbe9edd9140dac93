"""A migration's freeze and copy rate split into emergent and calibrated time, beside their model.

Used by `bench migrate` and `bench evict`: the migration record carries the
freeze's span and each page-copy pass's span and bytes (vkernel/migration.py);
the split runs over the source and the destination (and any other machine the
caller names, e.g. the file server), and the model is vcluster/model.py's
MigrationModel with the run's constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vcluster import bench_split
from vcluster.model import MigrationModel, describe, total
from vkernel.migration import BATCH_BYTES, PAGE, PAGE_HEADER

MB = 1024 * 1024
MS = 1_000_000
BATCH = (BATCH_BYTES // (PAGE_HEADER.size + PAGE)) * (PAGE_HEADER.size + PAGE)  # full pages a batch


def freeze_terms(cfg, record: dict[str, Any]):
    return MigrationModel(cfg).freeze(
        record.get("settle_ns", 0) / MS,
        record["freeze_bytes"],
        BATCH,
        record.get("objects", 0),
        record["state_bytes"],
        record.get("teams", 0),
    )


def copy_terms(cfg, record: dict[str, Any]):
    m = MigrationModel(cfg)
    terms = []
    for _start, _end, nbytes in record.get("copy_spans", ()):
        terms += m.copy(nbytes, BATCH)
    return terms


def evict_terms(session, record: dict[str, Any], start: int):
    """From the owner's return (`start`, simulated ns) until nothing of the guest is left on the
    host, for a lone migration: locate (the query; the chosen manager's wait as charged), MG_INIT,
    the pre-copy passes, the freeze up to the deletion of the old copy."""
    m = MigrationModel(session.config)
    located = int(record["states"][1][0] * 1e9) if len(record["states"]) > 1 else start
    wait = bench_split.waited_ms(session, record["to"], start, located)
    # what the chosen manager weighed (vkernel/selection.py), from what it charged for it
    processes, pages = (
        round(bench_split.charged_units(session, record["to"], name, start, located))
        for name in ("pm_examine_process_us", "pm_examine_page_us")
    )
    return (
        m.selection(processes, pages, wait)
        + m.init(record.get("init_bytes", 0))
        + copy_terms(session.config, record)
        + m.freeze_to_delete(
            record.get("settle_ns", 0) / MS,
            record["freeze_bytes"],
            BATCH,
            record.get("objects", 0),
            record["state_bytes"],
        )
    )


def columns(
    session,
    record: dict[str, Any],
    hosts: tuple[str, ...] = (),
    freeze_extra: Sequence[tuple[str, float]] = (),
    copy_extra: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """`freeze` and `copy` (per MB copied, V's s/MB measure) columns of one migration; the
    extra terms are other work on their critical path (bench evict's flusher)."""
    involved = (record["from"], record["to"], *hosts)
    cfg = session.config
    copied_mb = record["bytes"] / MB
    out: dict[str, Any] = {}
    if record.get("freeze_span"):
        part = bench_split.measure(session, involved, [record["freeze_span"]])
        terms = freeze_terms(cfg, record) + list(freeze_extra)
        out["freeze"] = {
            "measured_ms": record["freeze_ms"],
            "model_ms": round(total(terms), 3),
            "model": describe(terms, 8),
            **bench_split.columns(part, record["freeze_ms"]),
        }
    spans = record.get("copy_spans") or []
    if spans and copied_mb:
        part = bench_split.measure(session, involved, [(a, b) for a, b, _ in spans])
        per_mb = record["copy_ms"] / copied_mb
        terms = [
            (label, ms / copied_mb) for label, ms in copy_terms(cfg, record) + list(copy_extra)
        ]
        out["copy"] = {
            "measured_ms": round(per_mb, 3),
            "model_ms": round(total(terms), 3),
            "model": describe(terms, 8) + " (per MB copied)",
            **bench_split.columns(part, round(per_mb, 3)),
        }
    return out
