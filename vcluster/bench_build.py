"""`vcluster bench build`: a real build in the cluster, vcc compiling its own sources through pmake.

The V paper's users mostly ran compilations remotely. Here the compiler is
vcc (guest/src/vcc, the project's own), the source tree its own ten files on
the file server, the make file `vcluster.vcc_build.makefile_text()`: one
`vcc FILE.c -o FILE.s` job per file, largest first, then `vcc -sum` reading
every output back. pmake runs on the console's workstation ws1 (the origin,
which `@ *` never picks) with JOBS = N over N idle Sun-2s (2 MB each) and the
file server. Every output is checked byte for byte against the same compiler
built natively by the host's gcc (`native_outputs`); a build that differs
fails the bench.

Measured: the build's time on 1, 2, 4 and 8 idle workstations and the
speed-up (Sprite's pmake: 3..6x); per job the remote exec (the program
manager's PM_EXEC: team set-up and the image loaded from the file server)
and the compile's CPU; the file server's requests, bytes and block-cache hit
rate; the wire's utilisation. Then the same build on 4 workstations with
owners coming back at instants drawn from a seed while compiles run there:
their jobs are evicted (migrated by pre-copy to another host, or back to the
origin) and the outputs must still be identical: evictions, work lost (CPU
run again: none, a migrated compile goes on where it was) and the slowdown.
Last, vcc's own dirty-page rates (4 KB pages written per 0.2 / 1 / 3 s, the
method of vkernel/workloads.py) compiling its largest files, beside Table
4-1's rows for V's compiler passes, and the pre-copy rounds, residue and
freeze of a compile migrated mid-run.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from vcluster import vcc_build as vb
from vcluster.bench_pmake import watch_creations

S = 1_000_000_000
KB = 1024
MB = 1024 * KB
MACHINES = (1, 2, 4, 8)
WORKSTATION_MEMORY = 2 * MB  # a Sun-2 of the paper: vcc needs well under 0.5 MB
SPRITE_SPEEDUP = (3.0, 6.0)
V_LOAD_MS_PER_100KB = 330.0
OWNERS_MACHINES = 4
OWNERS_RETURNING = 2
OWNERS_SEED = 18
DIRTY_FILES = ("expr", "lex")
PARTS = 3  # the outputs are summed in three parts, then combined
TABLE_4_1_ROWS = ("preprocessor", "parser", "optimizer", "assembler")


def cluster_config(idle: int, base: str = "tiny", memory: int = WORKSTATION_MEMORY):
    """`base` with the console's workstation ws1, `idle` idle workstations ws2.. and the file server."""
    from configs.loader import load_config, resolve_config

    cfg = load_config(resolve_config(base))
    origin = cfg.machine(cfg.console_host)
    server = next(m for m in cfg.machines if m.role == "fileserver")
    away = dataclasses.replace(origin.owner, present=False, trace=())
    workstations = [dataclasses.replace(origin, memory=memory, mac="")]
    workstations += [
        dataclasses.replace(origin, name=f"ws{i + 2}", memory=memory, mac="", owner=away)
        for i in range(idle)
    ]
    return dataclasses.replace(
        cfg,
        name=f"{cfg.name}-build{idle}",
        machines=(*workstations, dataclasses.replace(server, mac="")),
    )


def build_order(names: list[str]) -> list[str]:
    """The make file's order: the largest source first (pmake starts ready jobs in the file's order)."""
    sizes = {n: len(vb.source_files()[f"{n}.c"]) for n in names}
    return sorted(names, key=lambda n: (-sizes[n], n))


def new_session(idle: int, names: list[str], parts: int = 1):
    from vcluster.session import Session

    makefile = vb.makefile_text(names, parts).encode()
    session = Session(cluster_config(idle), images={vb.MAKEFILE: makefile})
    for name, data in vb.source_files().items():
        session.put_file(name, data)
    return session


def _watch_jobs(
    session,
    jobs: list[dict[str, Any]],
    execs: list[tuple[float, float]],
    alive: dict[str, list[int]],
) -> None:
    """Record every vcc job's end (host, CPU), every PM_EXEC of vcc (its duration) and per host the
    vcc jobs running there at once (alive[host] = [now, most])."""
    for k in session.kernels.values():

        def exited(proc, status, k=k):
            if proc.team is not None and proc.name == "vcc":
                alive.setdefault(k.name, [0, 0])[0] -= 1
                jobs.append({"argv": list(proc.team.argv), "host": k.name, "cpu_s": proc.cpu_ns / S,
                             "status": status, "end_s": session.sim.now / S,
                             "heap_kb": (proc.team.brk - proc.team.heap_start) // KB})  # fmt: skip

        k.on_exit.append(exited)

    def created(k, began):
        execs.append((began / S, (k.sim.now - began) / S))
        count = alive.setdefault(k.name, [0, 0])
        count[0] += 1
        count[1] = max(count[1], count[0])

    watch_creations(session, "vcc", created)


def run_build(
    idle: int,
    names: list[str] | None = None,
    owners: tuple[tuple[str, float], ...] = (),
    want: dict[str, bytes] | None = None,
    max_sim_seconds: float = 900.0,
    parts: int = 1,
) -> dict[str, Any]:
    """pmake builds `names` (default: all of vcc) on `idle` idle workstations, JOBS = idle.

    `owners`: (host, seconds after pmake starts) at which that host's owner comes back.
    `want`: the native outputs to compare with (computed when not given); `parts`: sum the outputs
    in that many parts, then combine them (vcc_build.makefile_text)."""
    names = build_order(list(names or vb.units()))
    want = want if want is not None else vb.native_outputs(names)
    session = new_session(idle, names, parts)
    sim = session.sim
    jobs: list[dict[str, Any]] = []
    execs: list[tuple[float, float]] = []  # (start, duration) of each PM_EXEC of vcc
    alive: dict[str, list[int]] = {}
    _watch_jobs(session, jobs, execs, alive)
    start = sim.now
    returned: list[dict[str, Any]] = []
    for host, at in owners:

        def back(host=host):
            busy = [p.team.argv[1] for p in session.kernels[host].processes.values()
                    if p.team is not None and p.name == "vcc"]  # fmt: skip
            returned.append(
                {"host": host, "at_s": round((sim.now - start) / S, 3), "compiling": busy}
            )
            session.execute(f"owner {host} on")

        sim.at(start + int(at * S), back)
    session.execute(f"pmake {vb.MAKEFILE} {idle}")
    finished = session.run_until_done(max_sim_seconds)
    pmake = session.jobs[0]
    output = session.output_of(pmake)
    summary = next((line for line in reversed(output.splitlines()) if " jobs, " in line), "")
    outputs = {n: vb.read_file(session, f"{n}.s") for n in names}
    differ = [n for n in names if outputs[n] != want[n]]
    sum_file = vb.read_file(session, vb.SUM_FILE)
    sum_ok = sum_file is not None and sum_file.decode() == vb.sum_text(
        want, vb.sum_order(names, parts)
    )
    end = max((j["end_s"] for j in jobs), default=sim.now / S)
    compiles = [j for j in jobs if j["argv"][1] != "-sum"]
    # the critical path in CPU: the longest compile of a part, its sum, then the combination
    sums = {j["argv"][2]: j["cpu_s"] for j in jobs if j["argv"][1] == "-sum"}
    cpu = {j["argv"][1][:-2]: j["cpu_s"] for j in compiles}
    groups = vb.split_parts(names, parts)
    if len(groups) == 1:
        critical = max(cpu.values(), default=0.0)
    else:
        critical = max(max(cpu.get(n, 0.0) for n in g) + sums.get(f"part{k + 1}.sum", 0.0)
                       for k, g in enumerate(groups))  # fmt: skip
    critical += sums.get(vb.SUM_FILE, 0.0)
    fs = session.file_server_summary()
    (server,) = fs.values()
    image_kb = len(session.images["vcc"]) / KB
    result = {
        "machines": idle,
        "seconds": round(end - start / S, 3),
        "finished": finished,
        "exit_status": pmake.exit_status,
        "summary": summary,
        "identical": finished and not differ and sum_ok,
        "differ": differ,
        "sum_ok": sum_ok,
        "jobs": len(jobs),
        "cpu_seconds": round(sum(j["cpu_s"] for j in jobs), 3),
        "compile_cpu_s": {j["argv"][1]: round(j["cpu_s"], 3) for j in compiles},
        "sum_cpu_s": round(sum(sums.values()), 3),
        "critical_cpu_s": round(critical, 3),
        "jobs_per_host": _count(j["host"] for j in jobs),
        "most_at_once_on_a_host": max((c[1] for c in alive.values()), default=0),
        "exec_ms": round(1000 * sum(d for _, d in execs) / max(1, len(execs)), 1),
        # the first wave: pmake starts its first JOBS jobs one after another (selection, PM_EXEC, its reply)
        "start_gap_ms": round(
            1000 * _mean_gap(sorted(b for b, _ in execs)[: max(1, min(idle, len(names)))]), 1
        ),
        "image_kb": round(image_kb, 1),
        "v_load_ms": round(V_LOAD_MS_PER_100KB * image_kb / 100, 1),
        "heap_kb_max": max((j["heap_kb"] for j in jobs), default=0),
        "file_server": {
            "requests": server["opens"] + server["reads"] + server["writes"],
            "opens": server["opens"],
            "reads": server["reads"],
            "writes": server["writes"],
            "bytes_read": server["bytes_read"],
            "bytes_written": server["bytes_written"],
            "cache_hit_rate": server["cache_hit_rate"],
        },
        "net": session.net_summary(),
        "owners": returned,
        "migrations": [session._migration_summary(r) for r in session.migrations],
    }
    session.close()
    return result


def _mean_gap(times: list[float]) -> float:
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.0


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def owner_instants(
    idle: int, seconds: float, seed: int = OWNERS_SEED, count: int = OWNERS_RETURNING
):
    """`count` distinct hosts of ws2..ws{idle+1} whose owners come back within the first half of a
    build of `seconds` (drawn from `seed`), while its compiles run."""
    rng = random.Random(seed)
    hosts = rng.sample([f"ws{i + 2}" for i in range(idle)], count)
    return tuple((h, round(rng.uniform(0.15, 0.5) * seconds, 3)) for h in hosts)


def measure_dirty(name: str, intervals: tuple[float, ...] = (0.2, 1.0, 3.0), warmup: float = 0.4):
    """vcc compiling NAME.c alone on ws2: KB of 4 KB pages written per interval (vkernel/workloads.py's
    method: modified bits read and cleared every 0.2 s, sliding windows, after `warmup`)."""
    from vkernel.process import State
    from vkernel.workloads import window_average_kb

    session = new_session(1, [name])
    sim = session.sim
    kernel = session.kernels["ws2"]
    base = int(round(min(intervals) * S))
    slots: list[tuple[int, frozenset[int]]] = []
    found: dict[str, Any] = {}

    def find():
        for proc in kernel.processes.values():
            if proc.team is not None and proc.name == "vcc":
                found["proc"], found["t0"] = proc, sim.now
                kernel.mmu.clear_modified(proc.team.ctx)
                sim.at(sim.now + base, tick)
                return
        if not all(j.done for j in session.jobs):
            sim.at(sim.now + 1_000_000, find)

    def tick():
        proc = found["proc"]
        if proc.state is State.DEAD or kernel.processes.get(proc.pid) is not proc:
            return
        found["host_kb"] = max(found.get("host_kb", 0), proc.team.memory_bytes // KB)
        slots.append((sim.now - base, frozenset(kernel.mmu.modified_pages(proc.team.ctx))))
        kernel.mmu.clear_modified(proc.team.ctx)
        sim.at(sim.now + base, tick)

    sim.at(sim.now, find)
    session.execute(f"vcc {name}.c -o {name}.s @ ws2")
    session.run_until_done(300)
    (job,) = session.jobs
    t0 = found["t0"]
    measured = [pages for start, pages in slots if start >= t0 + int(warmup * S)]
    kb = {}
    for interval in intervals:
        k = round(interval * S / base)
        value, windows = window_average_kb(measured, k)
        kb[str(interval)] = round(value, 1) if windows else None
    session.close()
    return {"file": f"{name}.c", "exit_status": job.exit_status, "kb": kb,
            "run_seconds": round(len(slots) * base / S, 1), "host_kb": found.get("host_kb", 0)}  # fmt: skip


def migrate_mid_compile(name: str = "expr", at: float = 1.5, want: dict[str, bytes] | None = None):
    """vcc compiling NAME.c on ws2, `migrateprog vcc` `at` seconds in: the migration's figures, and
    whether the output is still the native one."""
    want = want if want is not None else vb.native_outputs([name])
    session = new_session(2, [name])
    session.execute(f"vcc {name}.c -o {name}.s @ ws2")
    session.execute(f"wait {at}")
    session.execute("migrateprog vcc")
    session.run_until_done(300)
    (job,) = [j for j in session.jobs if j.argv[0] == "vcc"]
    records = [session._migration_summary(r) for r in session.migrations]
    same = vb.read_file(session, f"{name}.s") == want[name]
    session.close()
    (r,) = records or [{}]
    return {"file": f"{name}.c", "at_s": at, "exit_status": job.exit_status, "identical": same,
            "ok": r.get("ok"), "from": r.get("from"), "to": r.get("to"), "rounds": r.get("rounds"),
            "precopy_kb": round((r.get("precopy_bytes") or 0) / KB, 1),
            "residue_kb": round((r.get("freeze_bytes") or 0) / KB, 1),
            "freeze_ms": r.get("freeze_ms"), "total_ms": r.get("total_ms")}  # fmt: skip


def run_bench(machines: tuple[int, ...] = MACHINES) -> dict[str, Any]:
    from vkernel.workloads import PAPER_DIRTY_KB

    want = vb.native_outputs()
    runs = {n: run_build(n, want=want, parts=PARTS) for n in machines}
    failures = [f"the build on {n} machines: {r['summary'] or 'did not finish'}; differs: {r['differ']}"
                for n, r in runs.items() if not r["identical"] or r["exit_status"] != 0]  # fmt: skip
    base = runs[min(machines)]["seconds"]
    idle_run = runs.get(OWNERS_MACHINES) or run_build(OWNERS_MACHINES, want=want, parts=PARTS)
    owners = owner_instants(OWNERS_MACHINES, idle_run["seconds"])
    back = run_build(OWNERS_MACHINES, owners=owners, want=want, parts=PARTS)
    evictions = [m for m in back["migrations"] if m.get("eviction")]
    if not back["identical"]:
        failures.append(
            f"the build with owners returning differs from the native build: {back['differ']}"
        )
    dirty = [measure_dirty(n) for n in DIRTY_FILES]
    migrated = migrate_mid_compile(want=want)
    if not migrated["identical"] or not migrated["ok"]:
        failures.append(f"a compile migrated mid-run: {migrated}")
    one = runs[min(machines)]
    result: dict[str, Any] = {
        "compiler": "vcc (guest/src/vcc), built for the guest by m68k gcc; reference: the host's gcc build",
        "files": len(vb.units()),
        "jobs": one["jobs"],
        "source_bytes": sum(len(v) for v in vb.source_files().values()),
        "output_bytes": sum(len(v) for v in want.values()),
        "identical": all(r["identical"] for r in runs.values()) and back["identical"],
        "seconds": {str(n): r["seconds"] for n, r in runs.items()},
        "speedup": {str(n): round(base / r["seconds"], 2) for n, r in runs.items()},
        "sprite_speedup": list(SPRITE_SPEEDUP),
        "cpu_seconds": one["cpu_seconds"],
        "compile_cpu_s": one["compile_cpu_s"],
        # no schedule beats the whole CPU over the longest compile then the last step
        "bound_speedup": round(one["cpu_seconds"] / one["critical_cpu_s"], 2),
        "critical_cpu_s": one["critical_cpu_s"],
        "parts": PARTS,
        "jobs_per_host": {str(n): r["jobs_per_host"] for n, r in runs.items()},
        "most_at_once_on_a_host": {str(n): r["most_at_once_on_a_host"] for n, r in runs.items()},
        "exec_ms": {str(n): r["exec_ms"] for n, r in runs.items()},
        "start_gap_ms": {str(n): r["start_gap_ms"] for n, r in runs.items()},
        "image_kb": one["image_kb"],
        "v_load_ms": one["v_load_ms"],
        "heap_kb_max": one["heap_kb_max"],
        "file_server": {str(n): r["file_server"] for n, r in runs.items()},
        "net_utilization": {str(n): r["net"]["utilization"] for n, r in runs.items()},
        "owners": {
            "machines": OWNERS_MACHINES,
            "seed": OWNERS_SEED,
            "returned": back["owners"],
            "evictions": len(evictions),
            "evicted": [
                {
                    k: m[k]
                    for k in (
                        "from",
                        "to",
                        "ok",
                        "rounds",
                        "precopy_bytes",
                        "freeze_bytes",
                        "freeze_ms",
                    )
                }
                for m in evictions
            ],  # fmt: skip
            "seconds": back["seconds"],
            "idle_seconds": idle_run["seconds"],
            "slowdown": round(back["seconds"] / idle_run["seconds"], 3),
            "work_lost_cpu_s": round(max(0.0, back["cpu_seconds"] - idle_run["cpu_seconds"]), 3),
            "identical": back["identical"],
            "jobs_per_host": back["jobs_per_host"],
        },
        "dirty_kb": {d["file"]: d["kb"] for d in dirty},
        "dirty_host_kb": {d["file"]: d["host_kb"] for d in dirty},
        "table_4_1_kb": {row: list(PAPER_DIRTY_KB[row]) for row in TABLE_4_1_ROWS},
        "migrated": migrated,
        "failures": failures,
    }
    return result


def render(result: dict[str, Any]) -> str:
    ms = sorted(result["seconds"], key=int)
    lines = [
        f"bench build: vcc compiles its own {result['files']} files ({result['source_bytes'] // KB} KB) "
        f"with pmake, {result['jobs']} jobs; outputs identical to the native build: {result['identical']}",
        "  machines  seconds  speed-up  exec ms  start gap ms  fs requests  fs KB read/written  cache hits  wire",
    ]
    for n in ms:
        fs = result["file_server"][n]
        lines.append(
            f"  {n:>8}  {result['seconds'][n]:7.2f}  {result['speedup'][n]:7.2f}x  {result['exec_ms'][n]:7.1f}"
            f"  {result['start_gap_ms'][n]:12.1f}"
            f"  {fs['requests']:11d}  {fs['bytes_read'] // KB:8d}/{fs['bytes_written'] // KB:<9d}"
            f"  {fs['cache_hit_rate']:10.1%}  {result['net_utilization'][n]:.1%}"
        )
    o = result["owners"]
    lines.append(f"  Sprite's pmake: {result['sprite_speedup'][0]:g}..{result['sprite_speedup'][1]:g}x; "
                 f"bound (CPU / critical path): {result['bound_speedup']:g}x; "
                 f"image {result['image_kb']:g} KB (V would load it in {result['v_load_ms']:g} ms); "
                 f"heap at most {result['heap_kb_max']} KB")  # fmt: skip
    lines.append(
        f"  owners back on {len(o['returned'])} of {o['machines']} machines (seed {o['seed']}): "
        f"{o['evictions']} evictions, {o['seconds']:.2f} s vs {o['idle_seconds']:.2f} s "
        f"(slowdown {o['slowdown']:.2f}x), work lost {o['work_lost_cpu_s']:g} s CPU, identical: {o['identical']}"
    )
    lines.append("  dirty KB per 0.2 / 1 / 3 s:")
    for f, kb in result["dirty_kb"].items():
        lines.append(
            f"    vcc {f:<14} " + " / ".join("-" if v is None else f"{v:g}" for v in kb.values())
        )
    for row, kb in result["table_4_1_kb"].items():
        lines.append(f"    V {row:<16} " + " / ".join(f"{v:g}" for v in kb))
    m = result["migrated"]
    lines.append(
        f"  vcc {m['file']} migrated {m['at_s']:g} s in: {m['rounds']} pre-copy rounds, {m['precopy_kb']:g} KB, "
        f"residue {m['residue_kb']:g} KB, frozen {m['freeze_ms']} ms; identical: {m['identical']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    import json

    print(json.dumps(run_bench(), indent=2, sort_keys=True))
