"""Conservative parallel discrete-event runner: segments on MPI ranks, joined by their gateways.

Every rank builds the whole network (the same config and seed) but runs only the events of the
segments placed on it (``place``); the others' machines stay as they were built, inert.  Events
belong to sources (netsim/scheduler.py: a segment and its machines), so a rank keeps the events
of its own sources and drops the rest.  The only coupling between segments is a gateway's timed
hand-over (netsim/gateway.py ``handover(b, deliver, frame, a, epoch)``): when side ``b`` is on
another rank it becomes a message carrying the delivery time and the ``seq`` the one-process run
would have given the event, and the receiving rank queues it under that very ``seq``.  Ties
break by source, each source's random draws are its own: so each segment sees exactly the
events, in exactly the order, of the one-process run, and the results are the same bit for bit.

Synchronisation is conservative, in windows: a hand-over is due at least ``lookahead`` (the
smallest gateway latency) after the event that made it, so once every rank knows the earliest
pending event anywhere, ``g``, all of them may run every event before ``g + lookahead`` without
hearing from the others.  After a window the ranks swap their messages in one ``alltoall``,
which also carries each rank's next event time (the next ``g``) and whether the run stopped.

``stop()`` (the last program ended, on the console's rank) ends the run at that event; the
other ranks have by then run on to the end of the window.  They keep a journal of what they
report (``watch()``, called after each event while ``stoppable()``) and report it as it stood
just before the stopping event (``observed``), the instant the one-process run stopped at.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from netsim.scheduler import SOURCE_SHIFT, Event, Simulator

__all__ = ["ParallelRun", "place", "lookahead_of"]

log = logging.getLogger(__name__)

_INF = float("inf")


def place(names: Iterable[str], ranks: int, pinned: Iterable[str] = ()) -> dict[str, int]:
    """Which rank runs each segment: the `pinned` ones (the console's and file servers'
    segments) on rank 0, the others by name, round robin from rank 1. A function of the
    names only, never of the order the config lists them in."""
    if ranks < 1:
        raise ValueError("at least one rank")
    names = sorted(set(names))
    pinned = {n for n in pinned if n in names}
    where = {n: 0 for n in pinned}
    rest = [n for n in names if n not in pinned]
    for i, name in enumerate(rest):
        where[name] = (i + (1 if pinned else 0)) % ranks
    return where


def lookahead_of(gateways: Sequence[Any]) -> int:
    """The window: the smallest latency of any gateway (ns); no gateway, no bound."""
    return min((int(g.latency_ns) for g in gateways), default=1 << 62)


class _Inbound:
    """A frame handed over from a segment to one of ours: arrives at its gateway's far port."""

    __slots__ = ("sim", "owner", "arrive", "args")

    def __init__(
        self, sim: Simulator, owner: int, arrive: Callable[..., None], args: tuple
    ) -> None:
        self.sim = sim
        self.owner = owner
        self.arrive = arrive
        self.args = args

    def __call__(self) -> None:
        self.sim.source = self.owner  # what the arrival starts is the receiving segment's
        self.arrive(*self.args)


class ParallelRun:
    """Runs `sim` on this rank of `comm` in lockstep windows with the other ranks.

    `placement` maps every source name to a rank (``place``), `gateways` are the network's
    gateways (their hand-overs are taken over), `stopper` the rank whose ``stop()`` ends a run.
    Installs itself as ``sim.run`` (a collective: every rank calls it with the same ``until``)
    and refuses ``sim.step``.
    """

    def __init__(
        self,
        sim: Simulator,
        comm: Any,
        placement: dict[str, int],
        gateways: Sequence[Any],
        *,
        stopper: int = 0,
        watch: Callable[[], Hashable] | None = None,
        stoppable: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sim = sim
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        names = sim.source_names
        missing = [n for n in names if n not in placement]
        if missing:
            raise ValueError(f"no rank for segment(s) {', '.join(missing)}")
        self.placement = dict(placement)
        self.rank_of = [placement[n] for n in names]  # by source id
        self.local = [r == self.rank for r in self.rank_of]
        self.lookahead = lookahead_of(gateways)
        if self.lookahead < 1:
            raise ValueError("a gateway without latency leaves no lookahead")
        self.stopper = stopper
        self.watch = watch
        self.stoppable = stoppable
        self.observed: Hashable | None = None  # what this rank reported at the stop (None: live)
        self.stopped_at: tuple[int, int] | None = None
        self.runs = 0  # run() calls so far (the same on every rank)
        self.windows = 0
        self.messages = 0
        self._outbox: list[list[tuple]] = [[] for _ in range(self.size)]
        self._journal: list[tuple[tuple[int, int], Hashable]] = []
        self._ended = False
        self.gateways = {g.name: g for g in gateways}
        for g in gateways:
            g.handover = self._handover_of(g)
        self._run = sim.run  # the one-process loop, for each window
        sim.run = self.run  # type: ignore[method-assign]
        sim.step = self._no_step  # type: ignore[method-assign]

    # -- the hand-over ----------------------------------------------------------------

    def _handover_of(self, gw: Any) -> Callable[[int, int, bytes, int, int], None]:
        sim = self.sim
        ids = [sim.source_id(n) for n in gw.names]

        def handover(b: int, at_ns: int, frame: bytes, a: int, epoch: int) -> None:
            owner = ids[b]
            seq = sim.next_seq()  # the seq the one-process run gives it (Simulator.at_for)
            if self.local[owner]:
                sim.insert(at_ns, seq, _Inbound(sim, owner, gw.arrive, (b, frame, a, epoch)))
            else:
                self._outbox[self.rank_of[owner]].append(
                    (at_ns, seq, owner, gw.name, b, frame, a, epoch)
                )

        return handover

    def _deliver(self, messages: Iterable[tuple]) -> None:
        sim = self.sim
        for at_ns, seq, owner, name, b, frame, a, epoch in messages:
            sim.insert(
                at_ns, seq, _Inbound(sim, owner, self.gateways[name].arrive, (b, frame, a, epoch))
            )
            self.messages += 1

    def _purge(self) -> None:
        """Drop the events of sources on other ranks (what the code outside the clock, run on
        every rank alike, scheduled for machines that are not ours)."""
        heap = self.sim._heap
        local = self.local
        keep = [
            ev
            for ev in heap
            if ev[2] is not None and (local[ev[1] >> SOURCE_SHIFT] or isinstance(ev[2], _Inbound))
        ]
        if len(keep) != len(heap):
            import heapq

            heap[:] = keep
            heapq.heapify(heap)
        self.sim._dead = 0

    # -- running ----------------------------------------------------------------------

    def _no_step(self) -> bool:
        raise RuntimeError("stepping the clock event by event is not available across MPI ranks")

    def run(self, until: int | None = None) -> None:
        """Run every rank's segments to `until` (or until no event is left anywhere, or a
        rank's stop()). Collective."""
        if self._ended:
            raise RuntimeError("the run ended at a stop(); the ranks' clocks cannot go on together")
        sim = self.sim
        if until is not None and until < sim.now:
            raise ValueError(f"run(until={until}) is before now={sim.now}")
        self.runs += 1
        try:
            self._windows(until)
        except Exception:
            # a rank that fails would leave the others waiting in the next exchange forever
            sys.__stderr__.write(f"vcluster: rank {self.rank} failed:\n{traceback.format_exc()}")
            sys.__stderr__.flush()
            self.comm.Abort(3)
            raise

    def _windows(self, until: int | None) -> None:
        from mpi4py import MPI

        sim = self.sim
        comm = self.comm
        self._purge()
        nxt = sim.peek()
        g = comm.allreduce(_INF if nxt is None else nxt, op=MPI.MIN)
        journaling = self.watch is not None and self.rank != self.stopper and self.stoppable()
        while g != _INF and (until is None or g <= until):
            end = int(g) + self.lookahead - 1
            if until is not None and end > until:
                end = until
            self.windows += 1
            if journaling:
                self._journal = [((-1, -1), self.watch())]
                self._run(end, self._note)
            else:
                self._run(end)
            stop = sim.stopped_key if sim.was_stopped else None
            nxt = sim.peek()
            mine = _INF if nxt is None else nxt
            out = self._outbox
            for box in out:
                for m in box:
                    if m[0] < mine:
                        mine = m[0]
            self._outbox = [[] for _ in range(self.size)]
            got = comm.alltoall([(box, mine, stop) for box in out])
            for box, _, _ in got:
                self._deliver(box)
            g = min(m for _, m, _ in got)
            stops = [s for _, _, s in got if s is not None]
            if stops:
                self._stop_at(min(stops), journaling)
                return
        if until is not None:
            sim.now = until

    def _note(self, ev: Event) -> None:
        snap = self.watch()  # type: ignore[misc]
        if snap != self._journal[-1][1]:
            self._journal.append(((ev[0], ev[1]), snap))

    def _stop_at(self, key: tuple[int, int], journaling: bool) -> None:
        """A rank stopped at event `key`: this rank's report is as it stood just before it."""
        self._ended = True
        self.stopped_at = key
        sim = self.sim
        if sim.was_stopped and sim.stopped_key == key:
            return  # ours: the clock and the state are the stopping event's
        if journaling:
            self.observed = next(s for k, s in reversed(self._journal) if k < key)
        sim.now = key[0]
