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

Each measurement boots a fresh cluster, so every run starts from the same state.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from guest import abi, build
from netsim import frame as wire
from vkernel import ops
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


@dataclass
class Trial:
    """The timestamps (simulated ns) of one remote execution, from the agent's side and the host's."""

    program: str
    image_bytes: int
    host: str = ""
    answers: int = 0  # program managers that answered the query
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
    from vcluster.session import Session

    session = Session(cfg, images=images)
    sim = session.sim
    home = session.home
    trial = Trial(program, len(session.images[program]))

    for kernel in session.kernels.values():
        pm = kernel.servers.get("program")
        if pm is None:
            continue
        _instrument(pm, trial)
        kernel.on_exit.append(lambda proc, status, k=kernel: _on_exit(trial, k, proc))

    def agent(pid: int) -> Generator[Any, Any, None]:
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
    while not (trial.wait_answered or trial.error) and sim.now < LIMIT_NS and sim.step():
        pass
    session.close()
    if not trial.error and not trial.wait_answered:
        trial.error = "did not finish"
    return trial


def _instrument(pm, trial: Trial) -> None:
    """Timestamp this program manager's image fetch and count its answers to host queries."""
    fetch_image, query_host = pm.fetch_image, pm.query_host
    sim = pm.k.sim

    def timed_fetch(pid: int, name: str) -> Generator[Any, Any, bytes | int]:
        trial.fetch_started = sim.now
        result = yield from fetch_image(pid, name)
        trial.fetch_ended = sim.now
        return result

    def counted_query(sender: int, msg: bytes) -> bytes | None:
        answer = query_host(sender, msg)
        trial.answers += answer is not None
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
    chunk = disk_chunk + chunk_kb * per_kb + send + recv + 3 * one_way
    return (
        f"selection {result['selection_ms']} ms (model {2 * one_way + c.host_query_us / 1000:.2f}): "
        f"the query is one multicast message ({send:.2f} ms packet_send_us + {msg_wire:.3f} ms on "
        f"the wire + {recv:.2f} ms packet_receive_us = {one_way:.2f} ms), each program manager "
        f"other than the origin's decides whether to take a guest ({c.host_query_us / 1000:g} ms "
        f"host_query_us) and a willing one replies the same way ({one_way:.2f} ms); the first "
        f"reply wins. set-up/destroy {result['setup_ms']} ms = create {result['setup_create_ms']} "
        f"ms (PM_EXEC and its reply, {one_way:.2f} ms each way; a Forward to a worker; a MoveFrom "
        f"of the argv block, a request and a data packet; "
        f"{(c.team_create_us + c.process_create_us) / 1000:g} ms team_create_us + process_create_us) "
        f"+ destroy {result['setup_destroy_ms']} ms ({c.team_destroy_us / 1000:g} ms team_destroy_us, "
        f"then PM_EXITED to the creator's program manager, {one_way:.2f} ms, which answers the "
        f"PM_WAIT). load {result['load_ms_per_100KB']} ms for 100 KB = {result['load_fixed_ms']} ms "
        f"fixed (FS_OPEN with the name's MoveFrom, IO_CLOSE) + "
        f"{result['load_marginal_ms_per_100KB']} ms per 100 KB (model "
        f"{chunk * 100 / chunk_kb:.1f}): IO_READ in {chunk_kb} KB units, each the disk's sequential "
        f"transfer ({disk_chunk:.1f} ms at {disk.transfer_bytes_per_s / 1e6:g} MB/s; the file "
        f"server charges no seek and no file_server_op_us) then a MoveTo of {chunk_kb} 1 KB packets "
        f"in one train pipelined through sender ({send:.2f} ms a packet), wire ({data_wire:.3f} ms "
        f"a 1 KB frame) and receiver ({recv:.2f} ms), so {per_kb:.3f} ms a KB, plus the IO_READ "
        f"request, the train's ack and the reply: {chunk:.1f} ms per {chunk_kb} KB. The wire is the "
        f"bottleneck of a train because page_copy_us is not charged per packet on the network "
        f"path (only packet_send_us and packet_receive_us are), so loading runs at about half V's "
        f"330 ms per 100 KB."
    )


def run_bench(config: str | None = "tiny") -> dict[str, Any]:
    from vcluster.session import load

    cfg = load(config)
    base = build.image_path(BASE_PROGRAM).read_bytes()
    images = {f"load{size // KB}k": padded_image(base, size) for size in SIZES}
    small, large = (run_trial(cfg, f"load{size // KB}k", images) for size in SIZES)
    plain = run_trial(cfg, BASE_PROGRAM, images)
    for t in (small, large, plain):
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
        "config": cfg.name,
    }
    result["within_v"] = {
        "selection": result["selection_ms"] <= V_SELECTION_MS,
        "setup": result["setup_ms"] <= V_SETUP_MS,
        "load": result["load_ms_per_100KB"] <= V_LOAD_MS_PER_100KB,
    }
    result["explanation"] = explain(cfg, result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run_bench(), indent=2, sort_keys=True))
