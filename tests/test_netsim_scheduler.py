"""Tests of netsim.scheduler: ordering, ties, cancellation, run/step/stop, determinism."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.scheduler import Event, Simulator


def test_events_run_in_time_order_and_clock_follows() -> None:
    sim = Simulator()
    seen: list[tuple[int, str]] = []
    sim.at(300, lambda: seen.append((sim.now, "c")))
    sim.at(100, lambda: seen.append((sim.now, "a")))
    sim.schedule(200, lambda: seen.append((sim.now, "b")))
    sim.run()
    assert seen == [(100, "a"), (200, "b"), (300, "c")]
    assert sim.now == 300
    assert sim.events_run == 3
    assert sim.peek() is None


def test_ties_break_by_insertion_order_even_when_scheduled_during_run() -> None:
    sim = Simulator()
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        sim.schedule(0, lambda: seen.append("late-0"))  # same time, inserted last
        sim.at(50, lambda: seen.append("late-50"))

    sim.at(50, first)
    sim.at(50, lambda: seen.append("second"))
    sim.at(50, lambda: seen.append("third"))
    sim.run()
    assert seen == ["first", "second", "third", "late-0", "late-50"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_property_order_is_time_then_insertion(times: list[int]) -> None:
    sim = Simulator()
    seen: list[int] = []
    for i, t in enumerate(times):
        sim.at(t, lambda i=i: seen.append(i))
    sim.run()
    assert seen == sorted(range(len(times)), key=lambda i: (times[i], i))
    assert sim.events_run == len(times)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.booleans()),
        max_size=80,
    )
)
def test_property_cancelled_events_never_run_rest_keep_order(spec: list[tuple[int, bool]]) -> None:
    sim = Simulator()
    seen: list[int] = []
    events = [sim.at(t, lambda i=i: seen.append(i)) for i, (t, _) in enumerate(spec)]
    for ev, (_, kill) in zip(events, spec, strict=True):
        if kill:
            sim.cancel(ev)
    live = [i for i, (_, kill) in enumerate(spec) if not kill]
    assert sim.pending == len(live)
    sim.run()
    assert seen == sorted(live, key=lambda i: (spec[i][0], i))
    assert all(ev.cancelled == kill for ev, (_, kill) in zip(events, spec, strict=True))
    assert all(ev.fired != kill for ev, (_, kill) in zip(events, spec, strict=True))


def test_cancel_semantics_and_peek_skips_cancelled() -> None:
    sim = Simulator()
    seen: list[str] = []
    a = sim.at(10, lambda: seen.append("a"))
    b = sim.at(20, lambda: seen.append("b"))
    assert isinstance(a, Event)
    assert (a.time, b.time) == (10, 20)
    assert a.pending and not a.cancelled and not a.fired
    sim.cancel(a)
    sim.cancel(a)  # twice: no-op
    assert a.cancelled and not a.pending
    assert sim.peek() == 20
    assert sim.pending == 1
    sim.run()
    assert seen == ["b"]
    assert b.fired
    sim.cancel(b)  # after it ran: no-op
    assert not b.cancelled
    assert sim.pending == 0


def test_event_cancelled_by_an_earlier_event_at_the_same_time() -> None:
    sim = Simulator()
    seen: list[str] = []
    victim: list[Event] = []
    sim.at(5, lambda: sim.cancel(victim[0]))
    victim.append(sim.at(5, lambda: seen.append("victim")))
    sim.run()
    assert seen == []
    assert sim.events_run == 1


def test_mass_cancellation_compacts_and_keeps_order() -> None:
    sim = Simulator()
    seen: list[int] = []
    events = [sim.at(i % 97, lambda i=i: seen.append(i)) for i in range(10_000)]
    for i, ev in enumerate(events):
        if i % 10:
            sim.cancel(ev)
    assert len(sim._heap) < 10_000  # compacted
    assert sim.pending == 1000
    sim.run()
    assert seen == sorted(range(0, 10_000, 10), key=lambda i: (i % 97, i))


def test_run_until_stops_at_that_time_and_sets_clock() -> None:
    sim = Simulator()
    seen: list[int] = []
    for t in (100, 200, 300):
        sim.at(t, lambda: seen.append(sim.now))
    sim.run(until=200)  # events at exactly `until` run
    assert seen == [100, 200]
    assert sim.now == 200
    sim.run(until=250)
    assert sim.now == 250
    assert sim.peek() == 300
    sim.run(until=10_000)
    assert seen == [100, 200, 300]
    assert sim.now == 10_000  # idle time still advances the clock
    with pytest.raises(ValueError):
        sim.run(until=5)
    sim.run_for(500)
    assert sim.now == 10_500


def test_scheduling_in_the_past_is_refused() -> None:
    sim = Simulator()
    sim.run(until=1000)
    with pytest.raises(ValueError):
        sim.at(999, lambda: None)
    with pytest.raises(ValueError):
        sim.schedule(-1, lambda: None)
    assert sim.at(1000, lambda: None).time == 1000


def test_stop_returns_after_current_event() -> None:
    sim = Simulator()
    seen: list[int] = []

    def stopper() -> None:
        seen.append(sim.now)
        sim.stop()

    sim.at(10, lambda: seen.append(sim.now))
    sim.at(20, stopper)
    sim.at(30, lambda: seen.append(sim.now))
    sim.run(until=1000)
    assert seen == [10, 20]
    assert sim.now == 20  # not `until`
    sim.run()
    assert seen == [10, 20, 30]


def test_step() -> None:
    sim = Simulator()
    seen: list[int] = []
    c = sim.at(7, lambda: seen.append(7))
    sim.at(9, lambda: seen.append(9))
    sim.cancel(c)
    assert sim.step() is True
    assert seen == [9] and sim.now == 9
    assert sim.step() is False
    assert sim.events_run == 1


def test_rng_is_seeded_and_owned_by_the_simulation() -> None:
    a, b, c = Simulator(seed=42), Simulator(seed=42), Simulator(seed=43)
    xs = [a.rng.random() for _ in range(5)]
    assert xs == [b.rng.random() for _ in range(5)]
    assert xs != [c.rng.random() for _ in range(5)]
    ref = random.Random(42)
    assert xs == [ref.random() for _ in range(5)]


def _random_workload(seed: int) -> list[tuple[int, int]]:
    """Eight processes that wake after random delays (ties included) and now
    and then cancel and reschedule another's next wake-up."""
    sim = Simulator(seed=seed)
    trace: list[tuple[int, int]] = []
    nxt: dict[int, Event] = {}
    wakes: dict[int, Callable[[], None]] = {}

    def make(pid: int) -> Callable[[], None]:
        def wake() -> None:
            trace.append((sim.now, pid))
            if len(trace) >= 3000:
                return
            if sim.rng.random() < 0.1:
                victim = sim.rng.randrange(8)
                if victim != pid:
                    sim.cancel(nxt[victim])
                    nxt[victim] = sim.schedule(sim.rng.randrange(5), wakes[victim])
            nxt[pid] = sim.schedule(sim.rng.choice((0, 1, 3, 1000)), wake)

        return wake

    for pid in range(8):
        wakes[pid] = make(pid)
        nxt[pid] = sim.schedule(0, wakes[pid])
    sim.run()
    return trace


def test_same_seed_same_trace_different_seed_different_trace() -> None:
    t1 = _random_workload(7)
    t2 = _random_workload(7)
    t3 = _random_workload(8)
    assert len(t1) >= 3000
    assert t1 == t2
    assert t1 != t3


def test_run_is_not_reentrant() -> None:
    sim = Simulator()
    errors: list[str] = []

    def nested() -> None:
        for call in (sim.run, sim.step):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))

    sim.at(1, nested)
    sim.run()
    assert len(errors) == 2
    sim.at(2, lambda: None)
    sim.run()  # usable afterwards
    assert sim.now == 2
