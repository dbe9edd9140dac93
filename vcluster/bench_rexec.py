"""`vcluster bench rexec`: what remote execution costs on the simulated 10 Mb lab, next to V's figures.

The V paper (section 4.1) splits the cost of `prog @ *` into three parts,
measured on 10 MHz 68010 Suns with 2 MB on a 10 Mb Ethernet: selecting a
host, 23 ms (the first answer to the multicast query); setting up and later
destroying the execution environment on the chosen host, 40 ms; and loading
the program from the file server, 330 ms per 100 KB. This benchmark measures
the same three on the `tiny` cluster, in simulated time, by timestamping the
steps of one remote execution:

- an agent on the console's workstation (like the console's own, vkernel/shell.py)
  sends PM_QUERY_HOST to the program manager group: `selection` runs from that
  group Send to its first reply;
- it sends PM_EXEC to the program manager that answered and PM_WAIT to its own;
  the chosen program manager's `fetch_image` (FS_OPEN, IO_READ in 32 KB units,
  IO_CLOSE at the file server) is timestamped by wrapping it on that program
  manager only (the benchmark's instrumentation; the kernel is unchanged):
  `setup` = (PM_EXEC sent -> its reply, minus the image fetch) + (the program's
  exit -> the PM_WAIT reply at the agent): creating the logical host, team and
  process, and destroying them and reporting the exit back, without the program's
  own run time and without the load;
- `load` is the image fetch, measured on synthetic images of exactly 100 KB and
  200 KB (`hello` followed by a zero tail: the loader reads the ELF's segments
  only, so the tail travels from the disk over the wire and is then ignored).
- `load_cold` and `load_warm`: the 100 KB image loaded twice in one session, first
  with the file server's block cache empty (every block from the disk: seek,
  rotation and transfer from the disk section's geometry) and then warm (all from
  the cache), each split into the disk's time (emergent), file_server_op_us per
  request (calibrated) and the protocol, with the cache hit rate.

Each measurement boots a fresh cluster, so every run starts from the same state.

`comparisons` has a row per figure (selection, set-up, load cold and warm):
measured, V's, `emergent_ms` and `calibrated_ms` with `calibrated_by_constant`
over the figure's critical path (vcluster/bench_split.py), and `model_ms`, the
charges the code makes step by step (vcluster/model.py); `explanation` is
printed from the same terms.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from guest import abi, build
from vcluster import bench_select, bench_split, model
from vkernel import ops, selection
from vkernel.ledger import Split
from vkernel.messages import pack, signed, unpack
from vkernel.servers.program_manager import IMAGE_CHUNK, argv_block, query_host_msg

V_SELECTION_MS = 23.0
V_SETUP_MS = 40.0
V_LOAD_MS_PER_100KB = 330.0

KB = 1024
SIZES = (100 * KB, 200 * KB)
BASE_PROGRAM = "hello"
MS = 1_000_000
LIMIT_NS = 60 * 1_000_000_000
DISK_KEYS = (
    "cache_hits",
    "cache_misses",
    "disk_accesses",
    "disk_seeks",
    "disk_seek_ns",
    "disk_rotation_ns",
    "disk_transfer_ns",
    "disk_busy_ns",
)


@dataclass
class Trial:
    """The timestamps (simulated ns) of one remote execution, from the agent's side and the host's."""

    program: str
    image_bytes: int
    host: str = ""
    answers: int = 0  # program managers that answered the query
    examined: tuple[int, int] = (0, 0)  # processes and pages the first answerer weighed
    located_fs: bool = False  # the chosen manager had to ask who the file server is (first use)
    query_sent: int = 0
    query_answered: int = 0
    exec_sent: int = 0
    exec_answered: int = 0
    fetch_started: int = 0
    fetch_ended: int = 0
    exited: int = 0
    wait_answered: int = 0
    exit_status: int | None = None
    error: str = ""
    disk: dict[str, int] = field(default_factory=dict)  # file server counters over the fetch
    splits: dict[str, Split] = field(default_factory=dict)  # emergent vs calibrated, by part
    query_wait_ms: float = 0.0  # the chosen manager's calibrated wait before answering

    @property
    def hit_rate(self) -> float:
        total = self.disk.get("cache_hits", 0) + self.disk.get("cache_misses", 0)
        return self.disk.get("cache_hits", 0) / total if total else 0.0

    @property
    def selection_ns(self) -> int:
        return self.query_answered - self.query_sent

    @property
    def fetch_ns(self) -> int:
        return self.fetch_ended - self.fetch_started

    @property
    def create_ns(self) -> int:
        return self.exec_answered - self.exec_sent - self.fetch_ns

    @property
    def destroy_ns(self) -> int:
        return self.wait_answered - self.exited


def padded_image(base: bytes, size: int) -> bytes:
    """`base` (an ELF image) followed by zeros up to `size` bytes: loads and runs like `base`."""
    if size < len(base):
        raise ValueError(f"{size} bytes is smaller than the base image ({len(base)} bytes)")
    return base + bytes(size - len(base))


def run_trial(cfg, program: str, images: dict[str, bytes]) -> Trial:
    """Boot `cfg`, run `program @ *` once from the console's workstation, and timestamp its steps."""
    return run_trials(cfg, program, images, 1)[0]


def run_trials(cfg, program: str, images: dict[str, bytes], count: int) -> list[Trial]:
    """Boot `cfg` and run `program @ *` `count` times in a row in that one session: the first
    load finds the file server's block cache cold, the later ones warm. Each Trial carries
    the file server's cache and disk counters over its image fetch (`disk`)."""
    from vcluster.session import Session

    session = Session(cfg, images=images)
    bench_split.trace(session)
    sim = session.sim
    home = session.home
    trials = [Trial(program, len(session.images[program])) for _ in range(count)]
    current = [trials[0]]
    server = next(k.servers["file"] for k in session.kernels.values() if "file" in k.servers)

    for kernel in session.kernels.values():
        pm = kernel.servers.get("program")
        if pm is None:
            continue
        _instrument(pm, current, server)
        kernel.on_exit.append(lambda proc, status, k=kernel: _on_exit(current[0], k, proc))

    def agent(pid: int) -> Generator[Any, Any, None]:
        for trial in trials:
            current[0] = trial
            yield from one_rexec(pid, trial)
            if trial.error:
                return

    def one_rexec(pid: int, trial: Trial) -> Generator[Any, Any, None]:
        trial.query_sent = sim.now
        replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query_host_msg(None))
        trial.query_answered = sim.now
        if replier <= 0:
            trial.error = f"no host answered: {abi.ERROR_NAMES.get(-replier, replier)}"
            return
        pm = unpack(reply)[1]
        trial.host = session._pm_hosts.get(abi.pid_lhid(pm), "?")
        block = argv_block([program])
        home.server_memory(home.processes[pid])[: len(block)] = block
        display = home.servers["display"]
        chosen = session.kernels.get(trial.host)
        trial.located_fs = chosen is not None and not chosen.file_server_pid
        trial.exec_sent = sim.now
        replier, reply = yield ops.Send(pm, pack(abi.PM_EXEC, 0, len(block), 0, display.proc.pid,
                                                 display.new_instance(), 0, 0))
        trial.exec_answered = sim.now
        status, child = unpack(reply)[:2]
        if replier <= 0 or status:
            trial.error = f"PM_EXEC failed: {replier} {signed(status)}"
            return
        my_pm = abi.make_pid(home.system_lh.lhid, abi.LOCAL_PROGRAM_MANAGER)
        replier, reply = yield ops.Send(my_pm, pack(abi.PM_WAIT, child))
        trial.wait_answered = sim.now
        trial.exit_status = signed(unpack(reply)[1]) if replier > 0 else None

    home.spawn_server(home.system_lh, "bench:rexec", agent)
    last = trials[-1]
    while (
        not (last.wait_answered or any(t.error for t in trials))
        and sim.now < LIMIT_NS
        and sim.step()
    ):
        pass
    file_host = next(k.name for k in session.kernels.values() if "file" in k.servers)
    for trial in trials:
        if trial.wait_answered and not trial.error:
            _split(session, trial, home.name, file_host)
    session.close()
    for trial in trials:
        if not trial.error and not trial.wait_answered:
            trial.error = "did not finish"
    return trials


def _instrument(pm, current: list[Trial], server) -> None:
    """Timestamp this program manager's image fetch (and the file server's counters over it)
    and count its answers to host queries, for the trial under way (`current[0]`)."""
    fetch_image, query_host = pm.fetch_image, pm.query_host
    sim = pm.k.sim

    def timed_fetch(pid: int, name: str) -> Generator[Any, Any, bytes | int]:
        trial = current[0]
        trial.fetch_started = sim.now
        before = server.report()
        result = yield from fetch_image(pid, name)
        trial.fetch_ended = sim.now
        after = server.report()
        trial.disk = {key: after[key] - before[key] for key in DISK_KEYS}
        return result

    def counted_query(sender: int, msg: bytes) -> bytes | None:
        answer = query_host(sender, msg)
        if answer is not None and not current[0].answers:
            current[0].examined = selection.examined(pm.k)
        current[0].answers += answer is not None
        return answer

    pm.fetch_image = timed_fetch
    pm.query_host = counted_query


def _split(session, trial: Trial, home: str, file_host: str) -> None:
    """Each part of the trial split into emergent and calibrated time, over its critical path:
    selection and set-up run between the agent's machine and the chosen one, the image fetch
    between the chosen machine and the file server."""
    pair = (home, trial.host)
    trial.splits = {
        "selection": bench_split.measure(session, pair, [(trial.query_sent, trial.query_answered)]),
        "create": bench_split.measure(
            session, pair,
            [(trial.exec_sent, trial.fetch_started), (trial.fetch_ended, trial.exec_answered)],
        ),
        "destroy": bench_split.measure(session, pair, [(trial.exited, trial.wait_answered)]),
        "fetch": bench_split.measure(
            session, (trial.host, file_host), [(trial.fetch_started, trial.fetch_ended)]
        ),
    }
    # the chosen manager's calibrated wait before it answered (a random draw; the model takes it)
    trial.query_wait_ms = bench_split.waited_ms(
        session, trial.host, trial.query_sent, trial.query_answered
    )


def _on_exit(trial: Trial, kernel, proc) -> None:
    if proc.team is not None and proc.name == trial.program and kernel.name == trial.host:
        trial.exited = kernel.sim.now


# --- the model, for the explanation -------------------------------------------------------


def explain(cfg, result: dict[str, Any], terms: dict[str, model.Terms]) -> str:
    """Where the time goes: each figure's model, term by term (vcluster/model.py, the same
    charges the code makes, with the constants of `cfg`), and its measured split."""
    out = []
    for row in result["comparisons"]:
        by = ", ".join(f"{name} {ms:g}" for name, ms in sorted(
            row["calibrated_by_constant"].items(), key=lambda kv: -kv[1]))
        out.append(
            f"{row['figure']} {row['measured_ms']} {row['unit']} (V {row['v_ms']:g}; a "
            f"{row['kind']}): model {row['model_ms']} = {model.describe(terms[row['figure']], 0 if row['figure'] == 'selection' else 12)}; "
            f"measured emergent {row['emergent_ms']} ms (the wire, the disk, the CPU's instructions "
            f"and waits for them) + calibrated {row['calibrated_ms']} ms ({by})."
        )
    cold, warm = result["load_cold"], result["load_warm"]
    out.append(
        f"Cold cache {cold['ms_per_100KB']} ms per 100 KB ({cold['disk_ms']} ms of it the disk: "
        f"seek {cold['disk_seek_ms']}, rotation {cold['disk_rotation_ms']}, transfer "
        f"{cold['disk_transfer_ms']}; hit rate {cold['cache_hit_rate']:.0%}); warm "
        f"{warm['ms_per_100KB']} ms ({warm['disk_ms']} ms the disk; hit rate "
        f"{warm['cache_hit_rate']:.0%}): the file server's block cache holds the image."
    )
    return " ".join(out)


def models(cfg, plain: Trial, small: Trial, warm: Trial) -> dict[str, model.Terms]:
    """The model of each figure (vcluster/model.py), with the run's constants and what the chosen
    manager weighed (its processes and pages in use); a calibrated wait of it, if the selection
    charges one, is taken as charged."""
    m = model.Model(cfg)
    scale = 100 * KB / small.image_bytes
    fetch = m.fetch(len(small.program), small.image_bytes, small.disk["disk_busy_ns"] / MS)
    wait = plain.query_wait_ms
    return {
        "selection": m.selection(*plain.examined, wait),
        "setup": m.create(len(argv_block([plain.program])), max(0, plain.answers - 1),
                          plain.located_fs) + m.destroy(),
        "load": [(label, ms * scale) for label, ms in fetch],
        "load_warm": [(label, ms * scale) for label, ms in m.fetch(
            len(warm.program), warm.image_bytes, warm.disk["disk_busy_ns"] / MS)],
    }


def comparisons(cfg, plain: Trial, small: Trial, warm: Trial) -> list[dict[str, Any]]:
    """The three figures V gives, each split into emergent and calibrated time (over its
    critical path, vcluster/bench_split.py) and beside its model."""
    figures = models(cfg, plain, small, warm)
    setup = plain.splits["create"] + plain.splits["destroy"]
    per_100 = small.fetch_ns * 100 * KB / small.image_bytes / MS
    rows = [
        ("selection", plain.selection_ns / MS, V_SELECTION_MS, plain.splits["selection"]),
        ("setup", (plain.create_ns + plain.destroy_ns) / MS, V_SETUP_MS, setup),
        ("load", per_100, V_LOAD_MS_PER_100KB, small.splits["fetch"]),
        ("load_warm", warm.fetch_ns * 100 * KB / warm.image_bytes / MS, V_LOAD_MS_PER_100KB,
         warm.splits["fetch"]),
    ]
    out = []
    for figure, measured, v, part in rows:
        terms = figures[figure]
        out.append({
            "figure": figure,
            "unit": "ms per 100 KB" if figure.startswith("load") else "ms",
            "measured_ms": round(measured, 3),
            "v_ms": v,
            "model_ms": round(model.total(terms), 3),
            **bench_split.columns(part, round(measured, 3)),
        })
    return out


def load_row(cfg, trial: Trial, which: str) -> dict[str, Any]:
    """One load of 100 KB, its time split by where it went: the disk's service time (emergent:
    the geometry of the config's disk section and where the platter was), the file server's
    bookkeeping (calibrated: file_server_op_us per request) and the rest (the I/O protocol's
    messages and the 32 KB MoveTo trains: the wire, emergent, and the per-packet kernel costs,
    calibrated)."""
    d = trial.disk
    requests = 2 + -(-trial.image_bytes // IMAGE_CHUNK)  # FS_OPEN, the IO_READs, IO_CLOSE
    op_ns = requests * cfg.cost.file_server_op_us * 1000
    per_100 = 100 * KB / trial.image_bytes

    def ms(ns: float) -> float:
        return round(ns * per_100 / MS, 3)

    disk = next(m.disk for m in cfg.machines if m.disk is not None)
    return {
        "cache": which,
        "ms_per_100KB": ms(trial.fetch_ns),
        "v_ms_per_100KB": V_LOAD_MS_PER_100KB,
        "cache_hit_rate": round(trial.hit_rate, 4),
        "cache_hits": d["cache_hits"],
        "cache_misses": d["cache_misses"],
        "disk_accesses": d["disk_accesses"],
        "disk_seeks": d["disk_seeks"],
        "disk_ms": ms(d["disk_busy_ns"]),
        "disk_seek_ms": ms(d["disk_seek_ns"]),
        "disk_rotation_ms": ms(d["disk_rotation_ns"]),
        "disk_transfer_ms": ms(d["disk_transfer_ns"]),
        "file_server_op_ms": ms(op_ns),
        "protocol_ms": ms(trial.fetch_ns - d["disk_busy_ns"] - op_ns),
        "derivation": (
            f"{which} cache: {trial.image_bytes} bytes in {requests} file server requests; "
            f"{d['cache_misses']} block(s) missed the cache and were read in "
            f"{d['disk_accesses']} disk access(es) ({d['disk_seeks']} with a seek), "
            f"{d['cache_hits']} hit; the disk's service time "
            f"{d['disk_busy_ns'] / MS:.2f} ms = seek {d['disk_seek_ns'] / MS:.2f} + rotation "
            f"{d['disk_rotation_ns'] / MS:.2f} + transfer {d['disk_transfer_ns'] / MS:.2f} ms "
            f"(emergent: {disk.rpm} rpm, {disk.transfer_bytes_per_s} B/s, {disk.sector_bytes} B "
            f"sectors, seek {disk.seek_ms:g} ms average / {disk.track_seek_ms:g} ms track to "
            f"track, and the platter's angle when each access began); "
            f"{requests} x file_server_op_us {cfg.cost.file_server_op_us} us = "
            f"{op_ns / MS:.2f} ms (calibrated); the rest, "
            f"{(trial.fetch_ns - d['disk_busy_ns'] - op_ns) / MS:.2f} ms, is the I/O protocol "
            f"on the wire and in the kernels (see the explanation); scaled to 100 KB"
        ),
    }


def run_bench(config: str | None = "tiny", quick: bool = False) -> dict[str, Any]:
    """The V comparison on `config`, then `selection_scaling` (vcluster/bench_select.py) at
    3, 12 and 120 workstations (`quick`: 3 and 12, fewer queries)."""
    from vcluster.session import load

    cfg = load(config)
    base = build.image_path(BASE_PROGRAM).read_bytes()
    images = {f"load{size // KB}k": padded_image(base, size) for size in SIZES}
    small, warm = run_trials(cfg, f"load{SIZES[0] // KB}k", images, 2)  # cold, then warm
    large = run_trial(cfg, f"load{SIZES[1] // KB}k", images)
    plain = run_trial(cfg, BASE_PROGRAM, images)
    for t in (small, warm, large, plain):
        if t.error:
            raise RuntimeError(f"bench rexec: {t.program}: {t.error}")
    # per 100 KB: the whole fetch of a 100 KB image (its fixed costs included), and the slope
    per_100 = 100 * KB
    marginal = (large.fetch_ns - small.fetch_ns) * per_100 / (large.image_bytes - small.image_bytes)
    fixed = small.fetch_ns - marginal * small.image_bytes / per_100

    def ms(ns: float) -> float:
        return round(ns / MS, 3)

    setups = [t.create_ns + t.destroy_ns for t in (small, large, plain)]
    result: dict[str, Any] = {
        "selection_ms": ms(plain.selection_ns),
        "v_selection_ms": V_SELECTION_MS,
        "setup_ms": ms(plain.create_ns + plain.destroy_ns),
        "v_setup_ms": V_SETUP_MS,
        "load_ms_per_100KB": ms(small.fetch_ns * per_100 / small.image_bytes),
        "v_load_ms_per_100KB": V_LOAD_MS_PER_100KB,
        "setup_create_ms": ms(plain.create_ns),
        "setup_destroy_ms": ms(plain.destroy_ns),
        "setup_ms_range": [ms(min(setups)), ms(max(setups))],
        "load_fixed_ms": ms(fixed),
        "load_marginal_ms_per_100KB": ms(marginal),
        "load_ms": {t.program: ms(t.fetch_ns) for t in (plain, small, large)},
        "image_bytes": {t.program: t.image_bytes for t in (plain, small, large)},
        "host_chosen": plain.host,
        "query_answers": plain.answers,
        "selection_examined": list(plain.examined),
        "config": cfg.name,
    }
    result["load_cold"] = load_row(cfg, small, "cold")
    result["load_warm"] = load_row(cfg, warm, "warm")
    result["comparisons"] = comparisons(cfg, plain, small, warm)
    for which, trial in (("load_cold", small), ("load_warm", warm)):
        figure = result[which]["ms_per_100KB"]
        result[which].update(bench_split.columns(trial.splits["fetch"], figure))
    result["within_v"] = {
        "selection": result["selection_ms"] <= V_SELECTION_MS,
        "setup": result["setup_ms"] <= V_SETUP_MS,
        "load": result["load_ms_per_100KB"] <= V_LOAD_MS_PER_100KB,
    }
    result["explanation"] = explain(cfg, result, models(cfg, plain, small, warm))
    if quick:
        rows = bench_select.run(hosts=bench_select.HOSTS[:2], queries=bench_select.QUERIES // 2)
    else:
        rows = bench_select.run()
    result["selection_scaling"] = rows
    return result


def table(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The human table's extra rows: selection latency against load and cluster size."""
    return bench_select.table(result.get("selection_scaling", []))


def render(result: dict[str, Any]) -> str:
    """The human table: the figures (nested ones as JSON), then selection_scaling as a table."""
    import json

    rows = [
        (k, v if isinstance(v, str | int | float) else json.dumps(v))
        for k, v in result.items()
        if k != "selection_scaling"
    ] + table(result)
    width = max(len(k) for k, _ in rows)
    return "\n".join(["bench rexec"] + [f"  {k.ljust(width)}  {v}" for k, v in rows])


if __name__ == "__main__":
    import json

    print(json.dumps(run_bench(), indent=2, sort_keys=True))
