"""netsim benchmark: scheduler events per host second and a saturated 10-station Ethernet.

``run_bench()`` backs ``vcluster bench net --json``; ``python -m netsim.bench``
prints the same dictionary as JSON.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time

from netsim.ethernet import Interface, Segment
from netsim.scheduler import Simulator

__all__ = ["bench_ethernet", "bench_scheduler", "run_bench"]

log = logging.getLogger(__name__)


def bench_scheduler(events: int = 1_000_000, processes: int = 64) -> dict[str, float]:
    """``processes`` self-rescheduling callbacks with varied delays, ``events`` in all."""
    sim = Simulator(seed=1)
    delays = [sim.rng.randrange(1, 100_000) for _ in range(4096)]
    budget = [events]

    def make(i: int) -> None:
        idx = [i * 61]

        def tick() -> None:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            idx[0] = (idx[0] + 1) & 4095
            sim.schedule(delays[idx[0]], tick)

        sim.schedule(delays[i & 4095], tick)

    for i in range(processes):
        make(i)
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    return {
        "events": sim.events_run,
        "wall_seconds": wall,
        "events_per_second": sim.events_run / wall,
    }


def bench_ethernet(
    stations: int = 10, sim_seconds: float = 10.0, frame_len: int = 1514, seed: int = 1
) -> dict[str, object]:
    """``stations`` stations that always have a frame queued, all sending to one sink."""
    sim = Simulator(seed=seed)
    seg = Segment(sim, name="bench")
    sink = seg.attach(bytes([2, 0, 0, 0, 0, 0]), "sink")
    received = [0]

    def on_receive(frame: bytes) -> None:
        received[0] += 1

    sink.on_receive = on_receive
    senders: list[Interface] = []
    for i in range(stations):
        st = seg.attach(bytes([2, 0, 0, 0, 1, i]), f"st{i}")
        frame = sink.mac + st.mac + b"\x88\xb5" + bytes(frame_len - 14)

        def refill(sent: bytes, ok: bool, st: Interface = st) -> None:
            st.send(sent)

        st.on_tx_done = refill
        for _ in range(2):
            st.send(frame)
        senders.append(st)
    until = int(sim_seconds * 1e9)
    t0 = time.perf_counter()
    sim.run(until=until)
    wall = time.perf_counter() - t0
    c = seg.counters
    sent = [s.counters.frames_sent for s in senders]
    payload_bits = c.frames * (frame_len - 14) * 8
    return {
        "stations": stations,
        "frame_len": frame_len,
        "sim_seconds": sim_seconds,
        "wall_seconds": wall,
        "frames": c.frames,
        "frames_per_second": c.frames / wall,
        "sim_to_wall": sim_seconds / wall,
        "events": sim.events_run,
        "events_per_frame": sim.events_run / max(c.frames, 1),
        "collisions": c.collisions,
        "dropped_collisions": c.dropped_collisions,
        "utilization": seg.utilization(),
        "payload_mbps": payload_bits / sim_seconds / 1e6,
        "share_min": min(sent) / max(c.frames, 1),
        "share_max": max(sent) / max(c.frames, 1),
        "delivered": received[0],
    }


def run_bench() -> dict[str, object]:
    """The ``vcluster bench net`` numbers (a few seconds of wall time)."""
    sched = bench_scheduler()
    ether = bench_ethernet(sim_seconds=30.0)
    return {
        "bench": "net",
        "python": platform.python_version(),
        "events_per_second": sched["events_per_second"],
        "frames_per_second": ether["frames_per_second"],
        "sim_to_wall": ether["sim_to_wall"],
        "scheduler": sched,
        "ethernet": ether,
    }


def main() -> int:
    """Print ``run_bench()`` as JSON."""
    logging.basicConfig(level=logging.INFO)
    result = run_bench()
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
