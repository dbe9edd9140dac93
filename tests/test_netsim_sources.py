"""Per-source tie-breaks and per-segment random streams (netsim/scheduler.py): a segment's run
does not depend on which other segments share the clock, nor on the order they were declared."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.ethernet import Segment
from netsim.frame import BROADCAST
from netsim.scheduler import DEFAULT_SOURCE, Simulator


def _mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, i >> 8, i & 0xFF])


def _chatter(sim: Simulator, name: str, stations: int, frames: int) -> list:
    """A busy segment: stations sending at times drawn from the segment's own stream; returns
    what its first station received, with times."""
    seg = Segment(sim, name=name, loss_rate=0.05)
    ifs = [seg.attach(_mac(i + 1), f"{name}-s{i}") for i in range(stations)]
    got: list = []
    ifs[0].on_receive = lambda f: got.append((sim.now, bytes(f)))
    rng = seg.rng
    for n in range(frames):
        src = ifs[rng.randrange(stations)]
        dst = BROADCAST if rng.random() < 0.3 else ifs[rng.randrange(stations)].mac
        payload = bytes([n & 0xFF]) * rng.randrange(46, 200)
        frame = dst + src.mac + b"\x08\x00" + payload
        sim.at(rng.randrange(0, 2_000_000), lambda s=src, f=frame: s.send(f))
    return [got, seg]


def _run(names: list[str], seed: int) -> dict[str, tuple]:
    """Every segment in `names` on one clock, each under its own source id."""
    sim = Simulator(seed)
    sim.declare_sources(names)
    runs = {}
    for name in names:
        with sim.acting(sim.source_id(name)):
            runs[name] = _chatter(sim, name, 4, 60)
    sim.run()
    return {name: (tuple(got), seg.counters) for name, (got, seg) in runs.items()}


def test_streams_are_a_function_of_seed_and_name() -> None:
    a, b = Simulator(7), Simulator(7)
    b.stream("other").random()  # drawing from another stream first changes nothing
    assert [a.stream("lab").random() for _ in range(5)] == [
        b.stream("lab").random() for _ in range(5)
    ]
    assert a.stream(DEFAULT_SOURCE) is a.rng
    assert Simulator(7).rng.random() == random.Random(7).random()  # one segment: as before
    assert Simulator(7).stream("lab").random() != Simulator(8).stream("lab").random()


def test_simultaneous_events_run_source_by_source_then_in_order() -> None:
    sim = Simulator()
    sim.declare_sources(["b", "a"])  # ids by name: a=0, b=1
    order: list[str] = []
    with sim.acting(sim.source_id("b")):
        sim.at(10, lambda: order.append("b1"))
        sim.at(10, lambda: order.append("b2"))
    with sim.acting(sim.source_id("a")):
        sim.at(10, lambda: order.append("a1"))
    sim.at(5, lambda: sim.at(10, lambda: order.append("a2")))  # the front acts for a (id 0)
    sim.run()
    assert order == ["a1", "a2", "b1", "b2"]
    assert sim.source == 0  # the front's source is back


def test_events_inherit_the_source_of_the_event_scheduling_them() -> None:
    sim = Simulator()
    sim.declare_sources(["x", "y"])
    seen: list[int] = []
    y = sim.source_id("y")

    def tick(k: int) -> None:
        seen.append(sim.source)
        if k:
            sim.schedule(1, lambda: tick(k - 1))

    with sim.acting(y):
        sim.at(0, lambda: tick(3))
    sim.at_for(2, y, lambda: seen.append(-sim.source))  # scheduled by x, runs as y
    sim.run()
    assert seen == [y, y, -y, y, y]


def test_declare_sources_refuses_once_events_exist() -> None:
    sim = Simulator()
    sim.at(1, lambda: None)
    try:
        sim.declare_sources(["a"])
    except RuntimeError:
        pass
    else:
        raise AssertionError("declare_sources after scheduling must fail")


@settings(max_examples=12, deadline=None)
@given(
    names=st.lists(
        st.sampled_from(["alpha", "beta", "gamma", "delta", "eps"]),
        min_size=2,
        max_size=4,
        unique=True,
    ),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_a_segment_runs_the_same_whatever_shares_the_clock(names, seed, data) -> None:
    """The reference is each segment run alone on its own clock; declaring the segments in
    another order, or together with others, changes no frame, time or counter of any of them."""
    alone = {name: _run([name], seed)[name] for name in names}
    shuffled = data.draw(st.permutations(names))
    together = _run(list(shuffled), seed)
    for name in names:
        assert together[name][0] == alone[name][0]
        assert together[name][1] == alone[name][1]
