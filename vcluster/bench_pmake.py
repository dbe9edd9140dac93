"""`vcluster bench pmake`: a 24-job parallel build on 1, 2, 4 and 8 idle workstations, next to Sprite.

Sprite's pmake ran the jobs of a make file on idle hosts through remote
execution and reported speed-ups of 3..6 for compilations on a few to a dozen
machines. This benchmark runs the guest `pmake` (guest/src/programs/pmake.c)
on the console's workstation of a cluster built from the `tiny` config: the
console's own workstation (the origin, which `@ *` never picks), N idle
workstations (4 MB each: a workload's logical host is 1.5..2 MB) and the file
server. The make file, installed on the file server's disk, is BUILD_MK: a
program of five source files, each compiled by the four passes of the C
compiler as a chain of jobs (preprocessor -> parser -> optimizer ->
assembler), then linked by the linking loader, and three documents formatted
by TeX, independent of the program: 5 x 4 + 1 + 3 = 24 jobs, each a
`workload NAME SECONDS` (the models of the V paper's Table 4-1, vkernel/workloads.py).

The work is total_seconds() = 69.5 s of workload time; the critical path (a
compile chain, 8.5 s, then the 3 s link) is critical_seconds() = 11.5 s, so no
schedule beats 6.04x on any number of machines, before the costs that every
job pays (host selection, PM_EXEC, loading its image over the wire, the exit
notice), five of them on the critical path. `pmake` runs JOBS = N jobs at
once: one per idle workstation (an idle workstation takes one guest: its load
then exceeds the idle policy's threshold, so `@ *` skips it until the guest
ends). The result's `explanation` says where the time goes, with a model of
pmake's policy (`list_schedule_seconds`) beside the measurements.

`seconds` is the simulated wall time of the build (pmake's start to its exit),
`speedup` is seconds(1) / seconds(N), `net` the wire's counters over the build.
"""

from __future__ import annotations

import dataclasses
import heapq
import struct
from typing import Any

S = 1_000_000_000
MB = 1024 * 1024

MACHINES = (1, 2, 4, 8)
WORKSTATION_MEMORY = 4 * MB
SPRITE_SPEEDUP = (3.0, 6.0)  # Sprite's pmake on compilations: 3..6x
TARGET_SPEEDUP_8 = 5.0
MAKEFILE = "build.mk"

# the program: five source files, each through the compiler's four passes
SOURCES = ("kernel", "ipc", "memory", "files", "shell")
# (target suffix, workload, CPU seconds): the chain of one source file
PASSES = (
    ("i", "preprocessor", 1.5),
    ("p", "parser", 3.0),
    ("s", "optimizer", 2.5),
    ("o", "assembler", 1.5),
)
PROGRAM = "vsys"
LINK = ("linker", 3.0)  # the linking loader
# the documents, formatted by TeX
DOCUMENTS = (("manual", 10.0), ("paper", 8.0), ("slides", 6.0))


@dataclasses.dataclass(frozen=True)
class Rule:
    target: str
    deps: tuple[str, ...]
    workload: str = ""  # "" = a phony group
    seconds: float = 0.0

    def line(self) -> str:
        text = f"{self.target}: {' '.join(self.deps)}".rstrip()
        if self.workload:
            text += f" ; workload {self.workload} {self.seconds:g}"
        return text


def rules() -> list[Rule]:
    """The build, in the make file's order (pmake starts ready jobs in this order)."""
    out = [Rule("all", (PROGRAM, "docs"))]
    for src in SOURCES:
        prev: tuple[str, ...] = ()
        for suffix, workload, seconds in PASSES:
            out.append(Rule(f"{src}.{suffix}", prev, workload, seconds))
            prev = (f"{src}.{suffix}",)
    out.append(Rule(PROGRAM, tuple(f"{src}.o" for src in SOURCES), *LINK))
    out.append(Rule("docs", tuple(f"{doc}.dvi" for doc, _ in DOCUMENTS)))
    out.extend(Rule(f"{doc}.dvi", (), "tex", seconds) for doc, seconds in DOCUMENTS)
    return out


def makefile_text() -> str:
    lines = [
        "# build.mk: the 24-job build of `vcluster bench pmake` (vcluster/bench_pmake.py)",
        "# five source files through the C compiler's passes, a link, three documents",
        "",
    ]
    lines += [r.line() for r in rules()]
    return "\n".join(lines) + "\n"


BUILD_MK = makefile_text()


def total_seconds() -> float:
    return sum(r.seconds for r in rules())


def critical_seconds() -> float:
    """The longest chain of job seconds through the graph."""
    by_name = {r.target: r for r in rules()}
    memo: dict[str, float] = {}

    def longest(name: str) -> float:
        if name not in memo:
            r = by_name[name]
            memo[name] = r.seconds + max((longest(d) for d in r.deps), default=0.0)
        return memo[name]

    return longest("all")


def jobs_count() -> int:
    return sum(1 for r in rules() if r.workload)


def cluster_config(idle: int, base: str = "tiny"):
    """`base` with the console's workstation, `idle` idle workstations (4 MB each) and the file server."""
    from configs.loader import load_config, resolve_config

    cfg = load_config(resolve_config(base))
    origin = cfg.machine(cfg.console_host)
    assert origin.name == "ws1", "the bench names the idle workstations ws2.."
    server = next(m for m in cfg.machines if m.role == "fileserver")
    workstations = [dataclasses.replace(origin, memory=WORKSTATION_MEMORY, mac="")]
    for i in range(idle):
        workstations.append(dataclasses.replace(origin, name=f"ws{i + 2}", memory=WORKSTATION_MEMORY, mac="",
                                                owner=dataclasses.replace(origin.owner, present=False, trace=())))
    return dataclasses.replace(cfg, name=f"{cfg.name}-pmake{idle}",
                               machines=(*workstations, dataclasses.replace(server, mac="")))


def run_build(idle: int, jobs: int | None = None, max_sim_seconds: float = 600.0) -> dict[str, Any]:
    """The build on `idle` idle workstations with JOBS = jobs (default: idle)."""
    from vcluster.session import Session

    jobs = jobs or idle
    cfg = cluster_config(idle)
    session = Session(cfg, images={MAKEFILE: BUILD_MK.encode()})
    sim = session.sim
    placed: dict[str, int] = {}  # host -> jobs run there
    busy_ns: dict[str, int] = {}  # host -> CPU of the jobs run there
    alive = {"now": 0, "max": 0, "execs": 0, "exec_ns": 0}
    ended: dict[str, int] = {}

    def on_exit(kernel, proc, status):
        if proc.team is None:
            return
        if proc.name == "workload":
            placed[kernel.name] = placed.get(kernel.name, 0) + 1
            busy_ns[kernel.name] = busy_ns.get(kernel.name, 0) + proc.cpu_ns
            alive["now"] -= 1
        elif proc.name == "pmake":
            ended["ns"] = sim.now

    for k in session.kernels.values():
        k.on_exit.append(lambda proc, status, k=k: on_exit(k, proc, status))
    _count_starts(session, alive)

    start_ns = sim.now
    session.execute(f"pmake {MAKEFILE} {jobs}")
    done = session.run_until_done(max_sim_seconds)
    job = session.jobs[0]
    output = session.output_of(job)
    summary_line = next((line for line in reversed(output.splitlines())
                         if line.startswith("pmake: ") and " jobs, " in line), "")
    seconds = (ended.get("ns", sim.now) - start_ns) / S
    result = {
        "machines": idle,
        "jobs": jobs,
        "seconds": round(seconds, 3),
        "exit_status": job.exit_status,
        "finished": done,
        "summary": summary_line,
        "jobs_per_host": dict(sorted(placed.items())),
        "on_origin": placed.get(cfg.console_host, 0),
        "max_alive": alive["max"],
        "cpu_seconds": round(sum(busy_ns.values()) / S, 3),
        "first_job_s": round((alive.get("first_ns", 0) - start_ns) / S, 3),
        "exec_ms": round(alive["exec_ns"] / max(1, alive["execs"]) / 1e6, 3),
        "net": session.net_summary(),
    }
    session.close()
    return result


def watch_creations(session, name: str, created) -> None:
    """Call created(kernel, began_ns) each time a program manager has created a program called
    `name` (its PM_EXEC succeeded): the benchmarks' instrumentation, the kernels are unchanged."""
    for k in session.kernels.values():
        pm = k.servers.get("program")
        if pm is None:
            continue
        create = pm.create_program

        def counted(pid, sender, msg, create=create, k=k):
            began = k.sim.now
            reply = yield from create(pid, sender, msg)
            status, child = struct.unpack(">iI", reply[:8])
            proc = k.processes.get(child)
            if status == 0 and proc is not None and proc.name == name:
                created(k, began)
            return reply

        pm.create_program = counted


def _count_starts(session, alive: dict[str, int]) -> None:
    """Count the workloads alive (for max_alive) as their program managers create them."""

    def created(k, began):
        alive["now"] += 1
        alive["max"] = max(alive["max"], alive["now"])
        alive["execs"] += 1
        alive["exec_ns"] += k.sim.now - began
        alive.setdefault("first_ns", k.sim.now)

    watch_creations(session, "workload", created)


def list_schedule_seconds(n: int, overhead_s: float = 0.0, start_s: float = 0.0) -> float:
    """pmake's policy as a model: ready jobs start in the file's order, at most n at once, each
    taking its seconds + overhead_s (no host selection queue, no wire); the build starts at start_s."""
    by_name = {r.target: r for r in rules()}
    jobs = [r for r in rules() if r.workload]
    done: set[str] = set()
    started: set[str] = set()
    running: list[tuple[float, str]] = []
    now = start_s

    def built(name: str) -> bool:
        r = by_name[name]
        return name in done if r.workload else all(built(d) for d in r.deps)

    while len(done) < len(jobs):
        for r in jobs:
            if len(running) < n and r.target not in started and all(built(d) for d in r.deps):
                started.add(r.target)
                heapq.heappush(running, (now + r.seconds + overhead_s, r.target))
        now, name = heapq.heappop(running)
        done.add(name)
    return now


def explain(result: dict[str, Any], runs: dict[int, dict[str, Any]]) -> str:
    one = runs[min(runs)]
    per_job = result["per_job_overhead_s"]
    last = max(runs)
    gap = runs[last]["seconds"] - result["critical_path_seconds"]
    return (
        f"The work is {result['work_seconds']:g} s of workload time ({one['cpu_seconds']:g} s of CPU measured: "
        f"each workload also loads, allocates its arena and checksums what it wrote) and the critical path "
        f"(one compile chain, then the link) {result['critical_path_seconds']:g} s, so no schedule beats "
        f"{result['bound_speedup']:g}x. On one machine every job pays {per_job * 1000:.0f} ms beyond its "
        f"seconds: its extra CPU, the remote exec (host selection, then PM_EXEC at the chosen host, "
        f"{one['exec_ms']:g} ms: the argv, the image fetched from the file server, the team created), "
        f"the exit notice back to the origin and pmake's next start; pmake itself starts its first "
        f"job {one['first_job_s']:g} s after it is typed (its own image, the make file). On {last} machines "
        f"the build takes {gap:.2f} s more than the critical path: pmake starts jobs one at a time, so the "
        f"fifth chain starts four remote execs after the first, and each of the five jobs on the critical "
        f"path pays the per-job cost. pmake's policy alone (the model `list_schedule_seconds`: the file's "
        f"order, JOBS at once, the measured per-job cost) predicts "
        + ", ".join(f"{n}: {result['model_seconds'][str(n)]:g} s" for n in runs)
        + "; with no per-job cost at all it gives "
        + ", ".join(f"{n}: {list_schedule_seconds(n):g} s" for n in runs)
        + ". On 4 machines five compile chains do not divide: in the file's order the next pass of a chain "
        f"comes before the fifth file, so four chains run to their ends first, then the fifth chain and "
        f"the TeX jobs, and the fifth chain and the link finish nearly alone (no simple order of the "
        f"file does better; make does not schedule the "
        f"critical path first). The wire is nearly idle (utilisation at most "
        f"{max(r['net']['utilization'] for r in runs.values()):.1%}: images of 14 KB, 32-byte messages), "
        f"so loading over one wire and the file server are not what limits the speed-up."
    )


def run_bench(machines: tuple[int, ...] = MACHINES) -> dict[str, Any]:
    runs = {n: run_build(n) for n in machines}
    for n, r in runs.items():
        if not r["finished"] or r["exit_status"] != 0:
            raise RuntimeError(f"bench pmake: the build on {n} machines did not succeed: {r}")
    one = runs[min(machines)]
    base = one["seconds"]
    total, critical = total_seconds(), critical_seconds()
    per_job = (base - one["first_job_s"] - total) / jobs_count() if min(machines) == 1 else 0.0
    result: dict[str, Any] = {
        "jobs": jobs_count(),
        "work_seconds": total,
        "cpu_seconds": one["cpu_seconds"],
        "critical_path_seconds": critical,
        "bound_speedup": round(total / critical, 3),
        "seconds": {str(n): r["seconds"] for n, r in runs.items()},
        "speedup": {str(n): round(base / r["seconds"], 3) for n, r in runs.items()},
        "ideal_speedup": {str(n): round(min(n, total / critical), 3) for n in machines},
        "sprite_speedup": list(SPRITE_SPEEDUP),
        "target_speedup_8": TARGET_SPEEDUP_8,
        "net": {str(n): {k: r["net"][k] for k in ("utilization", "frames", "collisions")} for n, r in runs.items()},
        "jobs_per_host": {str(n): r["jobs_per_host"] for n, r in runs.items()},
        "jobs_on_origin": sum(r["on_origin"] for r in runs.values()),
        "max_jobs_alive": {str(n): r["max_alive"] for n, r in runs.items()},
        "per_job_overhead_s": round(per_job, 3),
        "first_job_s": one["first_job_s"],
        "exec_ms": one["exec_ms"],
        "model_seconds": {str(n): round(list_schedule_seconds(n, per_job, one["first_job_s"]), 3) for n in machines},
        "summary": runs[max(machines)]["summary"],
        "makefile": MAKEFILE,
    }
    if 8 in runs:
        result["meets_target"] = result["speedup"]["8"] >= TARGET_SPEEDUP_8
    result["explanation"] = explain(result, runs)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run_bench(), indent=2, sort_keys=True))
