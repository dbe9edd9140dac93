"""Discrete-event scheduler: one virtual clock in integer nanoseconds, deterministic ties.

The hot loop of the whole emulator, kept SimPy-small: a binary heap of
``[time, seq, fn]`` entries (each one is the ``Event`` handle itself).
Cancellation is lazy: a cancelled event stays in the heap and is skipped when
it surfaces (the heap is compacted if dead entries pile up).

Ties are broken by *source*, not by a global counter, so that the order of a
segment's events does not depend on what other segments do (netsim/parallel.py
runs segments on different processes and must reproduce the one-process run).
Every event belongs to a source (an Ethernet segment and the machines on it):
``seq`` is ``source << SOURCE_SHIFT | n``, ``n`` counting the events that
source scheduled.  Two events due at the same nanosecond run source by source
(ids in the order of the sources' names, ``declare_sources``), and within one
source in the order they were scheduled.  An event scheduled while an event
runs is its source's; code outside the clock (boot, the console) says whose
it acts for with ``acting``.  With the one default source the order is the
plain insertion order of earlier versions.

Randomness belongs to the simulation: ``Simulator.stream(name)`` is a
``random.Random`` of its own per segment, derived from the seed and the
name, so a segment draws the same numbers wherever it runs; ``Simulator.rng``
is the default segment's (``ether0``: ``random.Random(seed)``, as before).
Nothing in netsim touches the global ``random`` module.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DEFAULT_SOURCE", "Event", "SOURCE_SHIFT", "Simulator"]

log = logging.getLogger(__name__)

# Rebuild the heap when at least this many dead (cancelled) entries sit in it
# and they make up more than half of it.
_COMPACT_MIN = 1024

# seq = source << SOURCE_SHIFT | n: a source may schedule 2**40 events.
SOURCE_SHIFT = 40
DEFAULT_SOURCE = "ether0"  # the one segment of a cluster without `segments:`


class Event(list[Any]):
    """A scheduled callback; the handle ``Simulator.at``/``schedule`` return.

    ``time`` is when it runs (virtual ns); ``cancelled`` is True once
    ``Simulator.cancel`` was called on it before it ran; ``fired`` once it ran.

    For speed the event *is* its heap entry, a ``[time, seq, fn]`` list
    (``seq`` is unique, so entries never compare their callbacks and two
    events are equal only if they are the same event).  Treat it as opaque.
    """

    __slots__ = ()
    __hash__ = object.__hash__  # type: ignore[assignment]

    @property
    def time(self) -> int:
        """Virtual time (ns) the event is due."""
        return self[0]

    @property
    def seq(self) -> int:
        """Source and insertion number; breaks ties between events due at the same time."""
        return self[1]

    @property
    def source(self) -> int:
        """Id of the source (segment) the event belongs to."""
        return self[1] >> SOURCE_SHIFT

    @property
    def cancelled(self) -> bool:
        """True if cancelled before it ran."""
        return self[2] is None

    @property
    def fired(self) -> bool:
        """True once it ran."""
        return self[2] is _FIRED

    @property
    def pending(self) -> bool:
        """True while the event is still due to run."""
        fn = self[2]
        return fn is not None and fn is not _FIRED

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "fired" if self.fired else "pending"
        return f"<Event t={self[0]} #{self[1]} {state}>"


class Simulator:
    """The virtual clock and its event queue.

    ``now`` is the current virtual time in integer nanoseconds; it only moves
    forward, to the time of the event being run (or to ``until``).
    ``events_run`` counts callbacks executed (brought up to date when ``run``
    returns).
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.now: int = 0
        self._streams: dict[str, random.Random] = {}
        self.rng: random.Random = self.stream(DEFAULT_SOURCE)
        self.events_run: int = 0
        self._heap: list[Event] = []
        # the source whose events are running (or whom the code outside the clock acts for)
        self.source: int = 0
        self._counts: list[int] = [0]  # events each source has scheduled
        self._source_ids: dict[str, int] = {DEFAULT_SOURCE: 0}
        self._dead = 0  # cancelled events still in the heap
        self._key: tuple[int, int] = (0, 0)
        self.was_stopped = False  # the last run() returned by stop()
        self._stopped = False
        self._running = False
        # The latest time the events now running may reach: `until` of the run in
        # progress (inf without), the event's own time under step(). What an event
        # may compute ahead (a CPU running slices up to the next event) stays below it.
        self.limit: float = 0

    # -- sources and random streams -----------------------------------------

    def stream(self, name: str) -> random.Random:
        """The random stream of segment ``name``: a function of the seed and the name only
        (``ether0``'s is ``random.Random(seed)``), the same object on every call."""
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(self.seed if name == DEFAULT_SOURCE else f"{self.seed}/{name}")
            self._streams[name] = rng
        return rng

    def declare_sources(self, names: Iterable[str]) -> None:
        """Name every source of the run before anything is scheduled: ids go by name, so the
        order of simultaneous events does not depend on the order the config lists them in."""
        names = sorted(set(names))
        if not names:
            raise ValueError("at least one source")
        if self._heap or any(self._counts):
            raise RuntimeError("declare_sources() after events were scheduled")
        self._source_ids = {name: i for i, name in enumerate(names)}
        self._counts = [0] * len(names)
        self.source = 0

    def source_id(self, name: str) -> int:
        """The id of source ``name`` (declare_sources)."""
        try:
            return self._source_ids[name]
        except KeyError:
            raise KeyError(f"no source {name!r}; sources: {', '.join(self._source_ids)}") from None

    @property
    def source_names(self) -> list[str]:
        """The sources, in id order."""
        return list(self._source_ids)

    @contextmanager
    def acting(self, source: int) -> Iterator[None]:
        """Schedule for ``source`` inside the block (boot, a console line acting on a machine)."""
        saved, self.source = self.source, source
        try:
            yield
        finally:
            self.source = saved

    # -- scheduling -------------------------------------------------------

    def at(self, time_ns: int, fn: Callable[[], None]) -> Event:
        """Run ``fn()`` at absolute virtual time ``time_ns`` (not in the past)."""
        if time_ns < self.now:
            raise ValueError(f"cannot schedule in the past: {time_ns} < now {self.now}")
        src = self.source
        counts = self._counts
        counts[src] = n = counts[src] + 1
        ev = Event((time_ns, src << SOURCE_SHIFT | n, fn))
        _push(self._heap, ev)
        return ev

    def schedule(self, delay_ns: int, fn: Callable[[], None]) -> Event:
        """Run ``fn()`` ``delay_ns`` nanoseconds from now (delay >= 0)."""
        if delay_ns < 0:
            raise ValueError(f"negative delay {delay_ns}")
        src = self.source
        counts = self._counts
        counts[src] = n = counts[src] + 1
        ev = Event((self.now + delay_ns, src << SOURCE_SHIFT | n, fn))
        _push(self._heap, ev)
        return ev

    def at_for(self, time_ns: int, owner: int, fn: Callable[[], None]) -> Event:
        """Run ``fn()`` at ``time_ns`` as source ``owner`` (what it schedules is owner's), in
        the place of an event of the source scheduling it: a frame a gateway hands from one
        segment to another (its time must be at least the lookahead away)."""
        return self.at(time_ns, lambda: self._run_as(owner, fn))

    def _run_as(self, owner: int, fn: Callable[[], None]) -> None:
        self.source = owner
        fn()

    def next_seq(self) -> int:
        """Take the next ``seq`` of the source now running, as ``at`` would (for an event that
        another process will hold: netsim/parallel.py)."""
        src = self.source
        counts = self._counts
        counts[src] = n = counts[src] + 1
        return src << SOURCE_SHIFT | n

    def insert(self, time_ns: int, seq: int, fn: Callable[[], None]) -> Event:
        """Queue an event under a ``seq`` taken elsewhere (``next_seq`` of another process)."""
        if time_ns < self.now:
            raise ValueError(f"cannot schedule in the past: {time_ns} < now {self.now}")
        ev = Event((time_ns, seq, fn))
        _push(self._heap, ev)
        return ev

    @property
    def stopped_key(self) -> tuple[int, int]:
        """(time, seq) of the event that made the last ``run`` return by ``stop()``."""
        return self._key

    def cancel(self, event: Event) -> None:
        """Cancel a pending event; cancelling a fired or cancelled one is a no-op."""
        fn = event[2]
        if fn is None or fn is _FIRED:
            return
        event[2] = None
        self._dead += 1
        heap = self._heap
        if self._dead >= _COMPACT_MIN and self._dead * 2 > len(heap):
            # In place, so that a run() in progress keeps the same list.
            heap[:] = [ev for ev in heap if ev[2] is not None]
            heapq.heapify(heap)
            self._dead = 0

    # -- inspection -------------------------------------------------------

    def peek(self) -> int | None:
        """Time of the next live event, or None when nothing is pending."""
        heap = self._heap
        while heap and heap[0][2] is None:
            _pop(heap)
            self._dead -= 1
        return heap[0][0] if heap else None

    def horizon(self) -> float:
        """The first time anything else can happen: the next live event's or ``limit``, whichever is first.

        An event may compute ahead (a CPU running several slices at once) as
        long as what it computes starts before the horizon: nothing can see
        or change it in between.
        """
        nxt = self.peek()
        return self.limit if nxt is None or nxt > self.limit else nxt

    @property
    def pending(self) -> int:
        """Number of live events in the queue."""
        return len(self._heap) - self._dead

    # -- running ----------------------------------------------------------

    def stop(self) -> None:
        """Make the current ``run()`` return after the event being run."""
        self._stopped = True

    def step(self) -> bool:
        """Run the next live event; False when there is none."""
        if self._running:
            raise RuntimeError("Simulator.step() called from inside run()")
        heap = self._heap
        outside = self.source
        while heap:
            ev = _pop(heap)
            fn = ev[2]
            if fn is None:
                self._dead -= 1
                continue
            self.now = self.limit = ev[0]
            ev[2] = _FIRED
            self.events_run += 1
            self.source = ev[1] >> SOURCE_SHIFT
            self._key = (ev[0], ev[1])
            try:
                fn()
            finally:
                self.source = outside
            return True
        return False

    def run(self, until: int | None = None, watch: Callable[[Event], None] | None = None) -> None:
        """Run events in time order.

        With ``until``: run every event due at or before ``until``, then set
        the clock to ``until``.  Without: run until no event is left.  Either
        way ``stop()`` (called from an event) makes it return right after that
        event, leaving the clock at that event's time (``was_stopped``, ``stopped_key``).
        ``watch(event)``, if given, is called after each event.
        """
        if until is not None and until < self.now:
            raise ValueError(f"run(until={until}) is before now={self.now}")
        if self._running:
            raise RuntimeError("Simulator.run() called from inside an event")
        limit: float = float("inf") if until is None else until
        self.limit = limit
        heap = self._heap
        pop = _pop
        SHIFT = SOURCE_SHIFT  # noqa: N806 (a local for the hot loop)
        self._stopped = False
        self.was_stopped = False
        self._running = True
        outside = self.source
        n = 0
        ev = None
        try:
            while heap:
                ev = pop(heap)
                fn = ev[2]
                if fn is None:
                    self._dead -= 1
                    continue
                t = ev[0]
                if t > limit:
                    _push(heap, ev)  # same (time, seq): order unchanged
                    ev = None
                    break
                self.now = t
                ev[2] = _FIRED
                n += 1
                self.source = ev[1] >> SHIFT
                fn()
                if watch is not None:
                    watch(ev)
                if self._stopped:
                    self._stopped = False
                    self.was_stopped = True
                    return
            else:
                ev = None
            if until is not None:
                self.now = until
        finally:
            if ev is not None:  # the event that stopped the run (or raised)
                self._key = (ev[0], ev[1])
            self.source = outside
            self.events_run += n
            self._running = False

    def run_for(self, duration_ns: int) -> None:
        """Run for ``duration_ns`` of virtual time from now."""
        self.run(self.now + duration_ns)


def _fired() -> None:
    """Placeholder callback of an event that already ran."""


_FIRED = _fired
_push = heapq.heappush
_pop = heapq.heappop
