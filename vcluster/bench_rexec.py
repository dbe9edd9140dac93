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
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from guest import abi, build
from netsim import frame as wire
from vcluster import bench_select
from vkernel import ops, selection
from vkernel import packets as pk
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


def _on_exit(trial: Trial, kernel, proc) -> None:
    if proc.team is not None and proc.name == trial.program and kernel.name == trial.host:
        trial.exited = kernel.sim.now


# --- the model, for the explanation -------------------------------------------------------


def wire_us(frame_bytes: int, bitrate: int) -> float:
    """Time on the wire of one frame (no contention): preamble, padded frame, FCS, then the gap."""
    bits = (wire.PREAMBLE + max(frame_bytes, wire.MIN_FRAME) + wire.FCS) * 8 + wire.IFG_BITS
    return bits * 1e6 / bitrate


def frame_bytes(msg: bool = True, data: int = 0) -> int:
    return wire.HEADER + pk.HEADER_SIZE + (pk.MSG_SIZE if msg else 0) + data


def explain(cfg, result: dict[str, Any]) -> str:
    """Where the time goes, from the cost model and the wire (the figures of `cfg`)."""
    c = cfg.cost
    bitrate = cfg.network.bitrate
    msg_wire = wire_us(frame_bytes(), bitrate) / 1000
    data_wire = wire_us(frame_bytes(msg=False, data=pk.MAX_DATA), bitrate) / 1000
    send, recv = c.packet_send_us / 1000, c.packet_receive_us / 1000
    one_way = send + msg_wire + recv  # a 32-byte message from one kernel to another
    disk = next(m.disk for m in cfg.machines if m.disk is not None)
    chunk_kb = IMAGE_CHUNK // KB
    disk_chunk = IMAGE_CHUNK / disk.transfer_bytes_per_s * 1000
    per_kb = max(send, data_wire, recv)  # the slowest stage of the pipelined train
    # one 32 KB unit: the disk, the train (filled and drained), the IO_READ request, ack and reply
    chunk = disk_chunk + c.file_server_op_us / 1000 + chunk_kb * per_kb + send + recv + 3 * one_way
    cold, warm = result["load_cold"], result["load_warm"]
    procs, pages = result["selection_examined"]
    weigh = (
        c.program_manager_op_us + procs * c.pm_examine_process_us + pages * c.pm_examine_page_us
    ) / 1000
    switch = c.context_switch_us / 1000
    return (
        f"selection {result['selection_ms']} ms (model {2 * one_way + switch + weigh:.2f}): "
        f"the query is one multicast message ({send:.2f} ms packet_send_us + {msg_wire:.3f} ms on "
        f"the wire + {recv:.2f} ms packet_receive_us = {one_way:.2f} ms), each program manager "
        f"other than the origin's weighs it as work at guest priority (an idle host runs it at "
        f"once after a {switch:g} ms context_switch_us: {c.program_manager_op_us / 1000:g} ms "
        f"program_manager_op_us + {procs} processes x pm_examine_process_us "
        f"{c.pm_examine_process_us} us + {pages} pages in use x pm_examine_page_us "
        f"{c.pm_examine_page_us} us = {weigh:.2f} ms; a loaded host runs it behind its guests) "
        f"and a willing one replies the same way ({one_way:.2f} ms); the first "
        f"reply wins ({result['query_answers']} answered). set-up/destroy {result['setup_ms']} ms = create {result['setup_create_ms']} "
        f"ms (PM_EXEC and its reply, {one_way:.2f} ms each way; a Forward to a worker; a MoveFrom "
        f"of the argv block, a request and a data packet; "
        f"{(c.team_create_us + c.process_create_us) / 1000:g} ms team_create_us + process_create_us) "
        f"+ destroy {result['setup_destroy_ms']} ms ({c.team_destroy_us / 1000:g} ms team_destroy_us, "
        f"then PM_EXITED to the creator's program manager, {one_way:.2f} ms, which answers the "
        f"PM_WAIT). load {result['load_ms_per_100KB']} ms for 100 KB = {result['load_fixed_ms']} ms "
        f"fixed (FS_OPEN with the name's MoveFrom, IO_CLOSE) + "
        f"{result['load_marginal_ms_per_100KB']} ms per 100 KB (model "
        f"{chunk * 100 / chunk_kb:.1f} with the transfer alone): IO_READ in {chunk_kb} KB units, "
        f"each file_server_op_us ({c.file_server_op_us / 1000:g} ms) and the disk's service time, "
        f"a device wait (at least the transfer, {disk_chunk:.1f} ms at "
        f"{disk.transfer_bytes_per_s / 1e6:g} MB/s, plus the seek and the rotational wait the "
        f"geometry gives), then a MoveTo of {chunk_kb} 1 KB packets in one train pipelined "
        f"through sender ({send:.2f} ms a packet), wire ({data_wire:.3f} ms a 1 KB frame) and "
        f"receiver ({recv:.2f} ms), so {per_kb:.3f} ms a KB, plus the IO_READ request, the "
        f"train's ack and the reply: {chunk:.1f} ms per {chunk_kb} KB. Cold cache "
        f"{cold['ms_per_100KB']} ms per 100 KB ({cold['disk_ms']} ms of it the disk: seek "
        f"{cold['disk_seek_ms']}, rotation {cold['disk_rotation_ms']}, transfer "
        f"{cold['disk_transfer_ms']}; hit rate {cold['cache_hit_rate']:.0%}); warm "
        f"{warm['ms_per_100KB']} ms ({warm['disk_ms']} ms the disk; hit rate "
        f"{warm['cache_hit_rate']:.0%}): the file server's block cache holds the image."
    )


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
    result["within_v"] = {
        "selection": result["selection_ms"] <= V_SELECTION_MS,
        "setup": result["setup_ms"] <= V_SETUP_MS,
        "load": result["load_ms_per_100KB"] <= V_LOAD_MS_PER_100KB,
    }
    result["explanation"] = explain(cfg, result)
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
