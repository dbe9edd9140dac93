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
other ranks run on to it if they are behind, and may have run past it.  They keep a journal of what they
report (``watch()``, called after each event while ``stoppable()``) and report it as it stood
just before the stopping event (``observed``), the instant the one-process run stopped at.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Hashable, Iterable, Sequence
from time import perf_counter, sleep
from typing import Any

from netsim.scheduler import SOURCE_SHIFT, Event, Simulator

__all__ = ["ParallelRun", "place", "lookahead_of"]

log = logging.getLogger(__name__)

_INF = float("inf")
_TAG = 17  # the windows' exchange (MPI keeps the messages of a pair in order)
_SPINS = 200  # polls before the waiting rank starts to sleep between them
_NAP_S = 20e-6
SILENT_S = 600.0  # a rank that has not answered a window's exchange for this long has failed


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
        self.sync_s = (
            0.0  # wall seconds spent in the exchanges (waiting for the other ranks included)
        )
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
        """Windows until `until`: each rank runs to its own safe time (``_end``), then all swap
        their hand-overs and next event times. After a stop the others catch up to it."""
        sim = self.sim
        comm = self.comm
        self._purge()
        nxt = sim.peek()
        t0 = perf_counter()
        nexts = comm.allgather(_INF if nxt is None else nxt)
        self.sync_s += perf_counter() - t0
        journaling = self.watch is not None and self.rank != self.stopper and self.stoppable()
        self._journal = []
        stop: tuple[int, int] | None = None
        while True:
            if stop is not None:
                nexts[self.stopper] = _INF  # it stopped: it runs nothing more
            g = min(nexts)
            if stop is not None and g > stop[0]:
                break  # every rank has run every event up to the stop
            if stop is None and (g == _INF or (until is not None and g > until)):
                break
            end = self._end(nexts, g)
            if stop is not None:
                end = min(end, stop[0])
            elif until is not None:
                end = min(end, until)
            mine_stop = None
            frozen = stop is not None and self.rank == self.stopper
            if end >= sim.now and not frozen:
                self.windows += 1
                if journaling:
                    self._prune(g)
                    self._run(end, self._note)
                else:
                    self._run(end)
                if sim.was_stopped:
                    mine_stop = sim.stopped_key
            nxt = sim.peek()
            mine = _INF if nxt is None else nxt
            out = self._outbox
            to = [
                min((m[0] for m in box), default=_INF) for box in out
            ]  # what each rank gets from us
            self._outbox = [[] for _ in range(self.size)]
            t0 = perf_counter()
            got = self._exchange([(box, mine, to, mine_stop) for box in out])
            self.sync_s += perf_counter() - t0
            for box, _, _, _ in got:
                self._deliver(box)
            # each rank's next event, the hand-overs on their way to it included
            nexts = [min(n, min(t[r] for _, _, t, _ in got)) for r, (_, n, _, _) in enumerate(got)]
            stops = [(k, r) for r, (_, _, _, k) in enumerate(got) if k is not None]
            if stops and stop is None:
                stop, who = min(stops)
                if who != self.stopper:
                    raise RuntimeError(
                        f"rank {who} stopped the clock; only rank {self.stopper} may"
                    )
                self.stopped_at = stop
        if stop is not None:
            self._stop_at(stop, journaling)
        elif until is not None:
            sim.now = max(sim.now, until)

    def _exchange(self, payloads: list[Any]) -> list[Any]:
        """``alltoall`` that waits by polling, spinning a little then sleeping: on a box with
        fewer cores than busy processes a blocked MPI wait takes the CPU from the rank it waits
        for (measured: 2 ranks on 2 loaded cores, 0.75 ms a window against 1.3..3 ms). A message
        is received once probed, whatever its size."""
        comm = self.comm
        me = self.rank
        sends = [comm.isend(payloads[r], dest=r, tag=_TAG) for r in range(self.size) if r != me]
        got: list[Any] = [None] * self.size
        got[me] = payloads[me]
        waiting = [r for r in range(self.size) if r != me]
        spins = 0
        while waiting:
            for r in list(waiting):
                if comm.iprobe(source=r, tag=_TAG):
                    got[r] = comm.recv(source=r, tag=_TAG)
                    waiting.remove(r)
                    spins = 0
            if waiting:
                spins += 1
                if spins > _SPINS:
                    if spins == _SPINS + 1:
                        since = perf_counter()
                    elif perf_counter() - since > SILENT_S:
                        raise RuntimeError(f"rank(s) {waiting} silent for {SILENT_S:g} s (wall)")
                    sleep(_NAP_S)
        for req in sends:
            req.wait()
        return got

    def _end(self, nexts: list[float], g: float) -> int:
        """This rank's safe time: nothing can reach it before the earliest event of another rank
        (hand-overs on their way to it included) plus the lookahead, nor before the answer to a
        hand-over of its own earliest event (its next + 2 lookaheads)."""
        L = self.lookahead  # noqa: N806
        others = min((n for r, n in enumerate(nexts) if r != self.rank), default=_INF)
        end = min(others + L, nexts[self.rank] + 2 * L, g + 2 * L) - 1  # an idle rank: g + 2L
        return int(end) if end != _INF else 1 << 62

    def _prune(self, g: float) -> None:
        """Keep the journal from the last entry before `g` on (no stop can come before g)."""
        j = self._journal
        if not j:
            j.append(((-1, -1), self.watch()))  # type: ignore[misc]
            return
        i = 0
        while i + 1 < len(j) and j[i + 1][0][0] < g:
            i += 1
        if i:
            del j[:i]

    def stats(self) -> dict[str, Any]:
        """This rank's share: its segments, events run, windows, messages received, sync time."""
        names = self.sim.source_names
        return {
            "rank": self.rank,
            "segments": [n for i, n in enumerate(names) if self.local[i]],
            "events": self.sim.events_run,
            "windows": self.windows,
            "messages": self.messages,
            "sync_s": round(self.sync_s, 3),
        }

    def _note(self, ev: Event) -> None:
        snap = self.watch()  # type: ignore[misc]
        if snap != self._journal[-1][1]:
            self._journal.append(((ev[0], ev[1]), snap))

    def _stop_at(self, key: tuple[int, int], journaling: bool) -> None:
        """A rank stopped at event `key`: this rank's report is as it stood just before it."""
        self._ended = True
        sim = self.sim
        if self.rank == self.stopper:
            return  # ours: the clock and the state are the stopping event's
        if journaling and self._journal:
            self.observed = next(s for k, s in reversed(self._journal) if k < key)
        sim.now = key[0]
