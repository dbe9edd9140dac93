"""Host selection against load and cluster size: the `selection_scaling` rows of `bench rexec`.

For each cluster size (workstations, the console's ws1 among them), load and selection mode
(vkernel/selection.py) a fresh cluster boots; every workstation but ws1 gets busy programs
(`spin`, CPU-bound, remote guests at guest priority): host i runs `load + i % 2` of them, so
half the candidates are the least loaded. The busy programs are placed straight into the
kernels (not through `@ host`, which would load each image over the one wire first). An agent
on ws1 then sends `QUERIES` PM_QUERY_HOST queries to the program-manager group, one every
`GAP_MS` (after `SETTLE_MS`; under gossip after every host has reported once), and measures, in simulated time, each query's first answer (selection latency),
the answers that reached the agent's kernel (late ones and answers sent again for a
retransmitted query included; `answerers_per_query` counts distinct members) and
whether the first answer came from a least loaded host. The idle policy answers up to
`LOAD_THRESHOLD`, so that loaded hosts answer too.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from guest import abi, build
from vkernel import ops
from vkernel.messages import unpack
from vkernel.process import Priority
from vkernel.servers.program_manager import query_host_msg

HOSTS = (3, 12, 120)
LOADS = (0, 1, 3)
MODES = ("first-reply", "scaled", "gossip")
QUERIES = 20
GAP_MS = 100
LOAD_THRESHOLD = 8
BUSY = "spin"
BUSY_SECONDS = "1000"
MS = 1_000_000
SETTLE_MS = 50  # after the busy programs start, before the first query


@dataclass
class Query:
    sent: int = 0
    answered: int = 0
    host: str = ""
    answers: int = 0
    error: str = ""
    seq: int = 0  # the query's transaction id (its answers echo it)
    answerers: int = 0  # distinct program managers among the answers (a retained answer is
    # sent again for each retransmission of the query that reaches its member)


@dataclass
class Row:
    hosts: int
    load: int
    selection: str
    queries: list[Query] = field(default_factory=list)
    busy: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def config_text(hosts: int, selection: str) -> str:
    return f"""
name: select{hosts}
seed: 11
console_host: ws1
idle:
  selection: {selection}
  load_threshold: {LOAD_THRESHOLD}
machines:
  - name: "ws{{i}}"
    count: {hosts}
    memory: 2MB
  - name: fs1
    role: fileserver
    memory: 8MB
    disk:
      image: null
      size: 16MB
"""


def add_busy(kernel, image: bytes, count: int) -> None:
    """Start `count` CPU-bound remote guests on `kernel` directly (as a PM_EXEC would)."""
    from emulator.cpu import Registers
    from emulator.loader import load_image

    parsed = load_image(image)
    argv = [BUSY, BUSY_SECONDS]
    for _ in range(count):
        lh = kernel.new_logical_host(remote=True, name=BUSY)
        team = kernel.memory.create_team(lh, BUSY, argv)
        kernel.memory.load_image(team, parsed)
        venv = {"magic": abi.VENV_MAGIC, "flags": abi.VENV_REMOTE}
        sp = kernel.memory.setup_stack(team, argv, [f"HOST={kernel.name}"], venv)
        proc = kernel.new_process(lh, BUSY, Priority.GUEST, team)
        proc.registers = Registers(d=[0] * 8, a=[0] * 7 + [sp], pc=parsed.entry, sr=0)
        kernel.make_ready(proc)


def run_row(
    hosts: int,
    load: int,
    selection: str,
    queries: int = QUERIES,
    busy: list[int] | None = None,
) -> Row:
    """One row; `busy` (one count per workstation after ws1) replaces the `load + i % 2` pattern."""
    import time

    from configs.loader import load_config_text
    from vcluster.session import Session

    t0 = time.perf_counter()
    cfg = load_config_text(config_text(hosts, selection), f"<select{hosts}>")
    session = Session(cfg)
    sim = session.sim
    home = session.home
    image = build.image_path(BUSY).read_bytes()
    row = Row(hosts, load, selection)
    workstations = [k for k in session.kernels.values() if "program" in k.servers]
    candidates = [k for k in workstations if k is not home]
    counts = busy if busy is not None else [load + (i + 1) % 2 for i in range(len(candidates))]
    for kernel, count in zip(candidates, counts, strict=True):
        row.busy[kernel.name] = count
        add_busy(kernel, image, count)
    settle_ns = SETTLE_MS * MS
    if selection == "gossip":  # every host has reported once (a random phase in an interval)
        settle_ns += int(cfg.idle.gossip_interval_ms * 1.1) * MS
    answers: dict[int, int] = {}  # query seq -> answers that reached the agent's kernel
    answerers: dict[int, set[int]] = {}  # query seq -> the program managers they came from
    agent_pid = [0]
    on_reply = home.transport._on_reply

    def counted(p) -> None:  # the benchmark's instrumentation: the kernel is unchanged
        if p.dst_pid == agent_pid[0]:
            answers[p.seq] = answers.get(p.seq, 0) + 1
            answerers.setdefault(p.seq, set()).add(p.src_pid)
        on_reply(p)

    home.transport._on_reply = counted

    def agent(pid: int) -> Generator[Any, Any, None]:
        agent_pid[0] = pid
        yield ops.Delay(settle_ns)
        for _ in range(queries):
            q = Query()
            row.queries.append(q)
            q.sent = sim.now
            q.seq = (home.transport._seq + 1) & 0xFFFFFFFF or 1  # what the group Send takes
            replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query_host_msg(None))
            q.answered = sim.now
            if replier > 0:
                q.host = session._pm_hosts.get(abi.pid_lhid(unpack(reply)[1]), "?")
            else:
                q.error = abi.ERROR_NAMES.get(-replier, str(replier))
            yield ops.Delay(max(0, q.sent + GAP_MS * MS - sim.now))

    done = home.spawn_server(home.system_lh, "bench:select", agent)
    limit = sim.now + settle_ns + queries * GAP_MS * 4 * MS
    while done.pid in home.processes and sim.now < limit and sim.step():
        pass
    session.close()
    for q in row.queries:
        q.answers = answers.get(q.seq, 0)
        q.answerers = len(answerers.get(q.seq, ()))
    row.wall_s = time.perf_counter() - t0
    return row


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[int(rank)]


def summarize(row: Row) -> dict[str, Any]:
    answered = [q for q in row.queries if not q.error]
    latencies = [(q.answered - q.sent) / MS for q in answered]
    least = min(row.busy.values()) if row.busy else 0
    chosen_least = [row.busy.get(q.host) == least for q in answered]
    n = len(row.queries)
    return {
        "hosts": row.hosts,
        "load": row.load,
        "selection": row.selection,
        "median_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "answers_per_query": round(sum(q.answers for q in row.queries) / n, 2) if n else 0.0,
        "max_answers": max((q.answers for q in row.queries), default=0),
        "answerers_per_query": round(sum(q.answerers for q in row.queries) / n, 2) if n else 0.0,
        "queries": n,
        "unanswered": n - len(answered),
        "least_loaded": bool(answered) and all(chosen_least),
        "least_loaded_fraction": round(sum(chosen_least) / len(answered), 3) if answered else 0.0,
        "candidates": len(row.busy),
        "wall_s": round(row.wall_s, 2),
    }


def run(
    hosts: tuple[int, ...] = HOSTS,
    loads: tuple[int, ...] = LOADS,
    modes: tuple[str, ...] = MODES,
    queries: int = QUERIES,
) -> list[dict[str, Any]]:
    """The `selection_scaling` rows, one per (hosts, load, selection)."""
    return [
        summarize(run_row(n, load, mode, queries))
        for n in hosts
        for load in loads
        for mode in modes
    ]


def table(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Human rows for `bench rexec`: one line per selection_scaling row."""
    out = [("selection_scaling", "hosts load selection    median_ms p99_ms answers/q least_loaded")]
    for r in rows:
        out.append(
            (
                "",
                f"{r['hosts']:>5} {r['load']:>4} {r['selection']:<12} {r['median_ms']:>9.2f} "
                f"{r['p99_ms']:>6.2f} {r['answers_per_query']:>9.2f} "
                f"{'yes' if r['least_loaded'] else 'no'} ({r['least_loaded_fraction']:.0%})",
            )
        )
    return out


if __name__ == "__main__":
    import json
    import sys

    sizes = tuple(int(x) for x in sys.argv[1:]) or HOSTS
    print(json.dumps(run(hosts=sizes), indent=1))
