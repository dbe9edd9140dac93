"""Two busy Ethernet segments joined by a gateway, run in one process or under `mpirun -n 2`.

`python tests/parallel_chatter.py SEED STOP_AFTER` prints one JSON line: when the run stopped (the
STOP_AFTER-th frame received by a station of segment `a`, on rank 0), and every segment's
counters and received frames at that instant. Under mpirun, segment `b` runs on rank 1
(netsim/parallel.py) and reports from its stop journal; it also prints what it had counted by the
end of its last window (`b_overran`), to show the journal was needed. tests/test_mpi.py compares
the two runs' lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emulator.cluster import _handover  # noqa: E402
from netsim.ethernet import Segment  # noqa: E402
from netsim.frame import BROADCAST  # noqa: E402
from netsim.gateway import Gateway  # noqa: E402
from netsim.scheduler import Simulator  # noqa: E402

STATIONS = 4
MS = 1_000_000


def _chatter(sim, rng, ifs, others):
    """A station's traffic: a frame now (broadcast, to the other segment, or local), the next later."""

    def chatter(st, n: int) -> None:
        r = rng.random()
        dst = BROADCAST if r < 0.1 else (rng.choice(others) if r < 0.4 else rng.choice(ifs).mac)
        st.send(dst + st.mac + b"\x08\x00" + bytes([n & 0xFF]) * rng.randrange(46, 400))
        sim.schedule(rng.randrange(50_000, 600_000), lambda: chatter(st, n + 1))

    return chatter


def build(seed: int, stop_after: int):
    sim = Simulator(seed)
    sim.declare_sources(["a", "b"])
    segs, heard = {}, {}
    for name in ("a", "b"):
        with sim.acting(sim.source_id(name)):
            seg = Segment(sim, name=name, loss_rate=0.02)
            segs[name] = seg
            ifs = [
                seg.attach(bytes([2, 0, 0, 0, ord(name), i + 1]), f"{name}{i}")
                for i in range(STATIONS)
            ]
            log = heard[name] = []

            def receive(frame, st=None, log=log, name=name):
                log.append((sim.now, hashlib.sha1(frame).hexdigest()[:8]))
                if name == "a" and len(log) == stop_after:
                    sim.stop()

            for st in ifs:
                st.on_receive = receive
            others = [
                bytes([2, 0, 0, 0, ord("b" if name == "a" else "a"), i + 1])
                for i in range(STATIONS)
            ]

            chatter = _chatter(sim, seg.rng, ifs, others)
            for st in ifs:
                sim.at(seg.rng.randrange(0, MS), lambda st=st, chatter=chatter: chatter(st, 0))
    gw = Gateway(
        sim,
        "gw",
        [segs["a"], segs["b"]],
        latency_ns=300_000,
        bandwidth_bps=10_000_000,
        queue_frames=64,
    )
    gw.handover = lambda b, at, frame, a, epoch: _handover(sim, gw, b, at, frame, a, epoch)
    return sim, segs, heard, gw


def snapshot(seg, heard) -> dict:
    return {"counters": dataclasses.asdict(seg.counters), "busy": seg._busy_total, "heard": heard}


def main() -> None:
    seed, stop_after = int(sys.argv[1]), int(sys.argv[2])
    sim, segs, heard, gw = build(seed, stop_after)
    ranks = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    if ranks == 1:
        sim.run(until=int(os.environ.get("UNTIL_NS", 60 * 1000 * MS)))
        out = {"stop_ns": sim.now, **{n: snapshot(segs[n], heard[n]) for n in segs}}
        print(json.dumps(out, sort_keys=True))
        return
    from mpi4py import MPI

    from netsim.parallel import ParallelRun

    comm = MPI.COMM_WORLD
    mine = "a" if comm.rank == 0 else "b"
    runner = ParallelRun(
        sim,
        comm,
        {"a": 0, "b": 1},
        [gw],
        stopper=0,
        watch=lambda: (
            dataclasses.astuple(segs[mine].counters),
            segs[mine]._busy_total,
            len(heard[mine]),
        ),
    )
    sim.run(until=int(os.environ.get("UNTIL_NS", 60 * 1000 * MS)))
    live = snapshot(segs[mine], heard[mine])
    if runner.observed is not None:
        counters, busy, n = runner.observed
        fields = [f.name for f in dataclasses.fields(segs[mine].counters)]
        seen = {
            "counters": dict(zip(fields, counters, strict=True)),
            "busy": busy,
            "heard": heard[mine][:n],
        }
    else:
        seen = live
    got = comm.gather((mine, seen, live, sim.now), root=0)
    if comm.rank == 0:
        out = {"stop_ns": got[0][3], **{n: s for n, s, _, _ in got}}
        out_line = json.dumps(out, sort_keys=True)
        print(out_line)
        print(json.dumps({"b_overran": got[1][2] != got[1][1]}), file=sys.stderr)


if __name__ == "__main__":
    main()
