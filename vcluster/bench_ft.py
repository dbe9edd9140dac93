"""`vcluster bench ft`: what checkpoints cost and what a crash then costs (issue 16).

For each Table 4-1 workload (the `workload` program, CPU-bound: its run time is
its CPU work) on ws2 of the 4 MB tiny cluster:

* overhead: the run time with checkpoints every 0.5, 1 and 5 s against the run
  without (slowdown), and per checkpoint the bytes written to the file server
  and the freeze (the cut: from freezing the logical host to its running on);
* recovery: ws2 crashes halfway through a run checkpointed every 1 s; the home
  restarts it elsewhere: recovery_s is from the last answer the home had from
  ws2 to the program running again (detection plus restart), lost_work_s the
  work redone (the checkpoint's age at the crash), delay_s the run's end against
  the uncrashed one, and the output must be the uncrashed run's.

Simulated time throughout, under the 1985 cost model (docs/CONFIG.md): moving a
4 KB page through the network interface costs the host `cost.page_copy_us` of
CPU, so the overhead grows with the pages a workload dirties per interval.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vcluster.session import Session
from vkernel import workloads as wl

S = 1_000_000_000
INTERVALS = (0.5, 1.0, 5.0)
HOST = "ws2"
TARGET_OVERHEAD = 0.02  # at 1 s: libckpt's 1.94 % for forked incremental checkpoints
SWEEP = (2.0, 3.0, 10.0)  # tried besides INTERVALS for the shortest interval under the target


# the mechanisms of issue 16, each measured on its own at 1 s against the default (the first)
MODES: dict[str, dict[str, Any]] = {
    "fork": {},  # the default: copy-on-write cut, the writer at system priority, no compression
    "freeze": {"copy": "freeze"},  # the program stays frozen until its pages are sent
    "compress": {"compress": True},  # compressed differences (Plank, Xu and Netzer 1995)
    "background": {"writer_priority": "background"},  # the writer below the program
}
WATCHED = "ws2"


def _run(
    name: str, seconds: float, interval: float | None, crash: bool = False, mode: str = "fork"
) -> dict[str, Any]:
    cfg = wl.workstation_config()
    cfg = dataclasses.replace(cfg, seed=1)
    cfg = dataclasses.replace(cfg, checkpoint=dataclasses.replace(cfg.checkpoint, **MODES[mode]))
    session = Session(cfg)
    option = f" checkpoint={interval:g}" if interval else ""
    session.execute(f"{wl.command(name, seconds)} @ {HOST}{option}")
    job = session.jobs[-1]
    if crash:
        session.sim.run(until=int(seconds / 2 * S))
        if not job.done:
            session.execute(f"crash {HOST}")
    if not session.run_until_done(20 * seconds + 60):
        raise RuntimeError(f"{name}: still running at the limit")
    taken = [t for k in session.kernels.values() if k.checkpoints for t in k.checkpoints.taken]
    return {
        "elapsed_s": session.sim.now / S,
        "output": session.output_of(job),
        "exit_status": job.exit_status,
        "checkpoints": taken,
        "restarts": list(session.restarts),
        "ledger": session.kernels[HOST].ledger.snapshot(),
    }


def _seconds(target: dict[str, Any]) -> str:
    """'from 3 s (the floor allows 1.95 s)': the shortest interval measured under the target."""
    got = target["measured_s"]
    tried = max(float(i) for i in target["slowdowns"])
    when = f"from {got:g} s" if got is not None else f"at no interval up to {tried:g} s"
    return f"{when} (the floor allows {target['floor_s']:g} s)"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def cpu_per_kb_us(cost) -> float:
    """The sending CPU's time per KB written to the file server, under the cost model: the copy
    through the interface (page_copy_us a 4 KB page) and one packet send a bulk packet."""
    return cost.page_copy_us / 4 + cost.packet_send_us * 1024 / cost.bulk_packet_bytes


def table_kb(name: str, interval: float) -> float:
    """KB a workload dirties within `interval` (Table 4-1): interpolated between its 0.2/1/3 s
    figures; past 3 s its 3 s figure (a lower bound: it can only grow)."""
    points = list(zip(wl.PAPER_INTERVALS, wl.PAPER_DIRTY_KB[name], strict=True))
    if interval <= points[0][0]:
        return points[0][1] * interval / points[0][0]
    for (t0, k0), (t1, k1) in zip(points, points[1:], strict=False):
        if interval <= t1:
            return k0 + (k1 - k0) * (interval - t0) / (t1 - t0)
    return points[-1][1]


def floor_slowdown(name: str, interval: float, cost) -> float:
    """The cost model's floor on the overhead: (KB dirtied per interval, Table 4-1) x (CPU per
    KB sent) / interval; nothing else counted (no cut, no full checkpoint, no reply)."""
    return table_kb(name, interval) * cpu_per_kb_us(cost) / (interval * 1e6)


def floor_interval_s(name: str, cost) -> float:
    """The shortest interval (from Table 4-1's 0.2 s, in 0.05 s steps) at which the cost model's
    floor is under the target; past 3 s Table 4-1's 3 s figure stands for the KB dirtied, a lower
    bound, so a figure past 3 s is a lower bound too."""
    t = wl.PAPER_INTERVALS[0]
    while floor_slowdown(name, t, cost) >= TARGET_OVERHEAD:
        t = round(t + 0.05, 2)
    return t


def _by_constant(run: dict[str, Any], plain: dict[str, Any]) -> dict[str, float]:
    """ms of the watched host's CPU each cost constant took beyond the plain run's."""
    out = {}
    for key, (_n, _units, ns) in run["ledger"].items():
        extra = (ns - plain["ledger"].get(key, (0, 0, 0))[2]) / 1e6
        if abs(extra) >= 0.5:
            out[key] = round(extra, 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _cell(got: dict[str, Any], plain: dict[str, Any], name: str, interval: float) -> dict:
    cks = got["checkpoints"]
    later = cks[1:] or cks  # the first copies every page; the later ones are incremental
    times = [c["time"] for c in cks]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    cost = wl.workstation_config().cost
    return {
        "slowdown": round(got["elapsed_s"] / plain["elapsed_s"] - 1, 4),
        "floor_slowdown": round(floor_slowdown(name, interval, cost), 4),
        "checkpoints": len(cks),
        "achieved_interval_s": round(_mean(gaps), 3) if gaps else None,
        "first_bytes": cks[0]["bytes"] if cks else 0,
        "bytes_per_checkpoint": round(_mean([c["bytes"] for c in later])),
        "raw_bytes_per_checkpoint": round(_mean([c["raw_bytes"] for c in later])),
        "pages_per_checkpoint": round(_mean([c["pages"] for c in later]), 1),
        "cow_copies_per_checkpoint": round(_mean([c["cow_copies"] for c in later]), 1),
        "kept_kb": max((c["kept_kb"] for c in cks), default=0.0),
        "freeze_ms": round(_mean([c["freeze_ms"] for c in cks]), 3),
        "freeze_ms_max": max((c["freeze_ms"] for c in cks), default=0.0),
        "overhead_ms_by_constant": _by_constant(got, plain),
    }


def run_bench(quick: bool = False) -> dict[str, Any]:
    rows = []
    failures: list[str] = []
    names = ("make", "parser", "tex") if quick else wl.WORKLOADS
    cost = wl.workstation_config().cost
    for name in names:
        seconds = 6.0 if quick else wl.DEFAULT_SECONDS[name]
        plain = _run(name, seconds, None)
        row: dict[str, Any] = {"name": name, "label": wl.PAPER_LABELS[name], "seconds": seconds}
        row["plain_s"] = round(plain["elapsed_s"], 3)
        for interval in INTERVALS:
            got = _run(name, seconds, interval)
            if got["output"] != plain["output"]:
                failures.append(f"{name} at {interval:g} s: output differs from the plain run")
            row[f"every_{interval:g}s"] = _cell(got, plain, name, interval)
        sweep = {f"{i:g}": row[f"every_{i:g}s"]["slowdown"] for i in INTERVALS}
        for interval in SWEEP:
            got = _run(name, seconds, interval)
            sweep[f"{interval:g}"] = round(got["elapsed_s"] / plain["elapsed_s"] - 1, 4)
        sweep = dict(sorted(sweep.items(), key=lambda kv: float(kv[0])))
        row["interval_for_target"] = {
            "floor_s": floor_interval_s(name, cost),
            "measured_s": next(
                (float(i) for i, slow in sweep.items() if slow < TARGET_OVERHEAD), None
            ),
            "slowdowns": sweep,
        }
        row["modes_at_1s"] = {"fork": row["every_1s"]}
        for mode in MODES:
            if mode == "fork":
                continue
            got = _run(name, seconds, 1.0, mode=mode)
            if got["output"] != plain["output"]:
                failures.append(f"{name} ({mode}): output differs from the plain run")
            row["modes_at_1s"][mode] = _cell(got, plain, name, 1.0)
        at_1s = row["every_1s"]
        row["target_met"] = at_1s["slowdown"] < TARGET_OVERHEAD
        if not row["target_met"]:
            kb = table_kb(name, 1.0)
            failures.append(
                f"{name}: {at_1s['slowdown'] * 100:.2f}% at 1 s, over the "
                f"{TARGET_OVERHEAD * 100:g}% target; the cost model's floor is "
                f"{at_1s['floor_slowdown'] * 100:.2f}% ({kb:.1f} KB x "
                f"{cpu_per_kb_us(cost):.0f} us/KB a second; 2% allows "
                f"{TARGET_OVERHEAD * 1e6 / cpu_per_kb_us(cost):.1f} KB); under "
                f"{TARGET_OVERHEAD * 100:g}% {_seconds(row['interval_for_target'])}"
            )
        crashed = _run(name, seconds, 1.0, crash=True)
        restart = next((r for r in crashed["restarts"] if r["kind"] == "restart"), None)
        if restart is None:
            failures.append(f"{name}: not restarted after the crash")
        elif crashed["output"] != plain["output"] or crashed["exit_status"] != 0:
            failures.append(f"{name}: the restarted run's output differs from the plain run's")
        row["recovery"] = (
            None
            if restart is None
            else {
                "recovery_s": restart["recovery_s"],
                "detect_s": restart["detect_s"],
                "lost_work_s": restart["checkpoint_age_s"],
                "pages_restored": restart["pages_restored"],
                "delay_s": round(crashed["elapsed_s"] - plain["elapsed_s"], 3),
                "to": restart["to"],
            }
        )
        rows.append(row)
    at_1s = [r["every_1s"]["slowdown"] for r in rows]
    result = {
        "workloads": rows,
        "mean_slowdown_at_1s": round(_mean(at_1s), 4),
        "max_slowdown_at_1s": max(at_1s),
        "under_target_at_1s": [r["name"] for r in rows if r["target_met"]],
        "target_slowdown_at_1s": TARGET_OVERHEAD,
        "cpu_per_kb_sent_us": cpu_per_kb_us(cost),
        "target_kb_per_s": round(TARGET_OVERHEAD * 1e6 / cpu_per_kb_us(cost), 1),
        "mean_recovery_s": round(
            _mean([r["recovery"]["recovery_s"] for r in rows if r["recovery"]]), 3
        ),
        "failures": failures,
        "notes": (
            "slowdown: run time with checkpoints / without - 1 (the default mode, fork: a "
            "copy-on-write cut); floor_slowdown: Table 4-1's KB per interval x the sending CPU's "
            "time per KB (cost.page_copy_us / 4 + cost.packet_send_us) / interval, the least the "
            "cost model allows; overhead_ms_by_constant: the watched host's ledger against the "
            "plain run's; bytes per checkpoint as sent and raw (before compression; the first "
            "copies every page, zero pages go as 8-byte headers); achieved_interval_s: between "
            "completed checkpoints' cuts (None: fewer than two completed); modes_at_1s: freeze "
            "(frozen until the pages are sent), compress (compressed differences; kept_kb the "
            "copies the kernel keeps), background (the writer below the program: a CPU-bound "
            "program leaves it no CPU, so no checkpoint completes while it computes); recovery_s: "
            "from the home's last answer from the crashed host to the program running elsewhere "
            "(detection is checkpoint.detect_s); lost_work_s: the checkpoint's age at the crash. "
            "rfork: a program with a 1.5 MB heap forks (eager: every page copied, through the "
            "file server; lazy: copy-on-reference from the parent's host, rfork.cluster_pages a "
            "fault in one train; lazy_single: a page a fault) and its child touches 64 KB, a "
            "tenth of the parent's pages (counted from its mapped pages at the cut, less the "
            "pages every child touches), 512 KB or 1.5 MB of it; fork_ms is until the call "
            "returns in the parent, child_ms until the parent has the child's exit status "
            "(split into emergent and calibrated time over the parent's host, the file server "
            "and the child's, calibrated_top the constants that cost most); pages_touched from "
            "the child's referenced bits, pages_shipped the pages sent (touched + prefetched + "
            "the first ones through the file server), round_trips the page requests; "
            "cluster_sweep_512kb the cluster's size swept; exec_ms a remote exec and run of hello. "
            "interval_for_target: slowdowns at INTERVALS and SWEEP, measured_s the shortest of "
            "them under the target, floor_s the shortest interval at which the floor is (Table "
            "4-1 interpolated; past 3 s its 3 s figure: a lower bound)."
        ),
    }
    result["rfork"] = rfork_bench()
    failures += rfork_failures(result["rfork"])
    return result


RFORK_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

static long digest(const char *heap, long touch)
{
    long i, sum = 0;
    for (i = 0; i < touch; i += 256)
        sum = sum * 31 + heap[i];
    return sum & 0x7F;
}

int main(int argc, char **argv)
{
    long size = atol(argv[1]) * 1024, touch = atol(argv[2]) * 1024, i;
    int lazy = argv[3][0] == 'l';
    char *heap = malloc(size);
    ProcessId child;
    if (!heap)
        return 2;
    for (i = 0; i < size; i += 256)
        heap[i] = (char)(i >> 8);
    child = rfork_flags("*", lazy ? RFORK_LAZY : 0);
    if (child < 0)
        return 1;
    if (child == 0)
        return (int)digest(heap, touch); /* the child reads its copy */
    /* the parent's own copy is the reference */
    printf("%ld %ld\n", wait_program(child), digest(heap, touch));
    return 0;
}
"""
HEAP_KB = 1536
TOUCHED_KB = (64, "tenth", 512, 1536)
CLUSTERS = (1, 2, 4, 8, 16)  # pages a fault, swept at 512 KB touched
TARGET_LAZY_SPEEDUP = 10.0  # a child touching a tenth of its parent's pages (Accent's order)
RFORK_HOSTS = ("ws2", "fs1")  # the parent's host and the file server; the child's is found


def _rfork_run(image: bytes, kb: int, mode: str, cluster: int | None = None) -> dict[str, Any]:
    """One fork of the rforker with a HEAP_KB heap whose child touches `kb` KB of it: `mode`
    eager or lazy (with `cluster` pages a fault; None: the config's)."""
    from vcluster import bench_split

    cfg = wl.workstation_config()
    if cluster is not None:
        cfg = dataclasses.replace(cfg, rfork=dataclasses.replace(cfg.rfork, cluster_pages=cluster))
    session = Session(cfg, images={"rforker": image})
    bench_split.trace(session)
    session.execute(f"rforker {HEAP_KB} {kb} {mode[:1]} @ ws2")
    if not session.run_until_done(300):
        raise RuntimeError(f"rfork {mode} {kb} KB: still running at the limit")
    job = session.jobs[-1]
    parent = session.kernels["ws2"].rfork
    [rec] = parent.records
    [(host, child)] = [
        (k.name, c) for k in session.kernels.values() if k.rfork for c in k.rfork.children.values()
    ]
    end = session.sim.now
    snap = parent.served.get(rec["file"])
    cols = bench_split.columns(
        bench_split.measure(session, (*RFORK_HOSTS, host), [(int(rec["started_s"] * S), end)])
    )
    top = sorted(cols["calibrated_by_constant"].items(), key=lambda kv: -kv[1])[:4]
    return {
        "fork_ms": rec["latency_ms"],
        "child_ms": round((end / S - rec["started_s"]) * 1000, 3),
        "parent_pages": rec["pages"],
        "pages_copied": rec["copied_pages"],  # through the file server (lazily: the first pages)
        "pages_touched": child["touched"],  # the child's referenced bits at its end
        "pages_shipped": rec["copied_pages"] + (len(snap.shipped) if snap else 0),
        "round_trips": snap.round_trips if snap else 0,
        "snapshot_freed": (not snap.live) if snap else None,
        "emergent_ms": cols["emergent_ms"],
        "calibrated_ms": cols["calibrated_ms"],
        "calibrated_top": dict(top),
        "ok": job.exit_status == 0 and _agree(session.output_of(job)),
        "output": session.output_of(job).strip(),  # the child's exit status, as the parent saw it
    }


def _agree(output: str) -> bool:
    """The child's digest of what it touched (its exit status) is the parent's of its own."""
    words = output.split()
    return len(words) == 2 and words[0] == words[1]


def rfork_bench() -> dict[str, Any] | str:
    """Eager against lazy rfork (clustered, and a page a fault), beside a remote exec (needs
    the cross compiler to build the forking program; without it, a sentence saying so)."""
    import tempfile
    from pathlib import Path

    from guest import hosted

    if hosted.missing():
        return "not measured: the m68k cross compiler is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rforker.c"
        src.write_text(RFORK_SOURCE)
        image = hosted.build_program([src], Path(tmp) / "rforker").read_bytes()
    rows = []
    tenth: dict[str, Any] = {}
    for kb in TOUCHED_KB:
        row: dict[str, Any] = {"touched_kb": kb}
        if kb == "tenth":
            # a tenth of the parent's mapped pages, less those any child touches (code, stack)
            first = rows[0]
            parent_pages = first["eager"]["parent_pages"]
            base = first["lazy_single"]["pages_touched"] - 64 // 4
            want = round(parent_pages / 10)
            kb = 4 * max(1, want - base)
            tenth = {"parent_pages": parent_pages, "pages_wanted": want, "heap_kb": kb}
            row.update(touched_kb=kb, tenth=True)
        row["eager"] = _rfork_run(image, kb, "eager")
        row["lazy"] = _rfork_run(image, kb, "lazy")
        row["lazy_single"] = _rfork_run(image, kb, "lazy", cluster=1)
        for mode in ("lazy", "lazy_single"):
            row[f"{mode}_speedup"] = round(
                row["eager"]["child_ms"] / max(row[mode]["child_ms"], 1e-9), 2
            )
        rows.append(row)
    sweep = []
    for cluster in CLUSTERS:  # the cluster's size: fewer round trips, a few pages more shipped
        run = _rfork_run(image, 512, "lazy", cluster=cluster)
        sweep.append(
            {"cluster_pages": cluster}
            | {key: run[key] for key in ("child_ms", "round_trips", "pages_shipped", "ok")}
        )
    session = Session(wl.workstation_config())
    session.execute("hello @ ws2")
    session.run_until_done(60)
    [at_tenth] = [r for r in rows if r.get("tenth")]
    tenth.update(
        pages_touched=at_tenth["lazy"]["pages_touched"],
        lazy_speedup=at_tenth["lazy_speedup"],
        target=TARGET_LAZY_SPEEDUP,
        target_met=at_tenth["lazy_speedup"] >= TARGET_LAZY_SPEEDUP,
    )
    return {
        "heap_kb": HEAP_KB,
        "cluster_pages": wl.workstation_config().rfork.cluster_pages,
        "rows": rows,
        "tenth": tenth,
        "cluster_sweep_512kb": sweep,
        "exec_ms": round(session.sim.now / 1e6, 3),
    }


def rfork_failures(rf: dict[str, Any] | str) -> list[str]:
    """The rfork part's checks: every run right, the snapshots freed, the target met."""
    if not isinstance(rf, dict):
        return []
    out = []
    for row in rf["rows"]:
        for mode in ("eager", "lazy", "lazy_single"):
            run = row[mode]
            if not run["ok"]:
                out.append(f"rfork {mode} touching {row['touched_kb']} KB: wrong output or status")
            if run["output"] != row["eager"]["output"]:
                out.append(f"rfork {mode} touching {row['touched_kb']} KB: not the eager output")
            if mode != "eager" and not run["snapshot_freed"]:
                out.append(f"rfork {mode} touching {row['touched_kb']} KB: snapshot not freed")
    out += [
        f"rfork lazy touching 512 KB, {r['cluster_pages']} pages a fault: wrong output or status"
        for r in rf["cluster_sweep_512kb"]
        if not r["ok"]
    ]
    t = rf["tenth"]
    if not t["target_met"]:
        out.append(
            f"rfork: lazy only {t['lazy_speedup']}x faster than eager for a child touching a "
            f"tenth of its parent's pages (target {t['target']:g}x)"
        )
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        "bench ft: checkpoint overhead and recovery (simulated time; slowdown vs no checkpoints)",
        f"{'workload':16s} {'plain s':>8s} "
        + " ".join(f"{f'@{i:g}s slow':>10s} {'KB/ck':>6s} {'frz ms':>6s}" for i in INTERVALS)
        + f" {'recov s':>8s} {'lost s':>7s}",
    ]
    for r in result["workloads"]:
        cells = []
        for i in INTERVALS:
            c = r[f"every_{i:g}s"]
            cells.append(
                f"{c['slowdown'] * 100:9.2f}% {c['bytes_per_checkpoint'] / 1024:6.1f} "
                f"{c['freeze_ms']:6.1f}"
            )
        rec = r["recovery"] or {}
        lines.append(
            f"{r['label']:16s} {r['plain_s']:8.2f} "
            + " ".join(cells)
            + f" {rec.get('recovery_s', float('nan')):8.2f} {rec.get('lost_work_s', float('nan')):7.2f}"
        )
    lines.append("shortest interval under the target, measured (the floor allows)")
    for r in result["workloads"]:
        lines.append(f"  {r['label']:16s} {_seconds(r['interval_for_target'])}")
    lines.append(
        f"at 1 s by mode (slowdown / floor {'':4s}"
        + " ".join(f"{m:>11s}" for m in MODES)
        + "   KB sent a checkpoint fork/compress, achieved interval)"
    )
    for r in result["workloads"]:
        modes = r["modes_at_1s"]
        cells = []
        for m in MODES:
            c = modes[m]
            cells.append(f"{c['slowdown'] * 100:10.2f}%")
        fork = modes["fork"]
        ach = fork["achieved_interval_s"]
        lines.append(
            f"  {r['label']:16s} floor {fork['floor_slowdown'] * 100:5.2f}%"
            + " ".join(cells)
            + f"   {fork['bytes_per_checkpoint'] / 1024:.1f}"
            f"/{modes['compress']['bytes_per_checkpoint'] / 1024:.1f} KB, "
            + (f"{ach:.2f} s" if ach else "none")
            + ("" if r["target_met"] else "  (over the target)")
        )
    rf = result.get("rfork")
    if isinstance(rf, dict):
        lines.append(
            f"rfork of a {rf['heap_kb']} KB heap (child_ms: until its exit status is back;"
            f" a remote exec of hello: {rf['exec_ms']:.0f} ms)"
        )
        lines.append(
            f"  {'touched':>13s} {'eager ms':>9s} {'lazy ms':>9s} {'x':>6s} {'touched':>7s} "
            f"{'shipped':>7s} {'trips':>5s} {'1-page ms':>9s} {'x':>6s} {'trips':>5s}"
        )
        for row in rf["rows"]:
            e, lz, one = row["eager"], row["lazy"], row["lazy_single"]
            what = f"{row['touched_kb']} KB" + (" (1/10)" if row.get("tenth") else "")
            lines.append(
                f"  {what:>13s} {e['child_ms']:9.1f} {lz['child_ms']:9.1f} "
                f"{row['lazy_speedup']:5.1f}x {lz['pages_touched']:7d} {lz['pages_shipped']:7d} "
                f"{lz['round_trips']:5d} {one['child_ms']:9.1f} {row['lazy_single_speedup']:5.1f}x "
                f"{one['round_trips']:5d}"
            )
        lines.append(
            "  512 KB touched, pages a fault: "
            + ", ".join(
                f"{r['cluster_pages']}: {r['child_ms']:.0f} ms ({r['round_trips']} trips)"
                for r in rf["cluster_sweep_512kb"]
            )
        )
        t = rf["tenth"]
        lines.append(
            f"  a tenth of the parent's {t['parent_pages']} pages: lazy {t['lazy_speedup']}x "
            f"faster than eager (target {t['target']:g}x: {'met' if t['target_met'] else 'MISSED'})"
        )
    elif rf:
        lines.append(f"rfork: {rf}")
    lines.append(
        f"mean slowdown at 1 s: {result['mean_slowdown_at_1s'] * 100:.2f}% (target under "
        f"{result['target_slowdown_at_1s'] * 100:g}%: {', '.join(result['under_target_at_1s']) or 'none'})"
    )
    return "\n".join(lines)
