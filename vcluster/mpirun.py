"""`mpirun -n K vcluster run CONFIG ...`: the headless run with its segments spread over MPI ranks.

Every rank boots the whole config and executes the same console lines; netsim/parallel.py makes
each rank run only its own segments' events, in windows of the smallest gateway latency. Rank 0
holds the console's segment (and every file server's): the shell, the programs' output and the
clock's stop are there. It prints; the other ranks are silent and, at the end, send rank 0 what
only they saw (their segments' counters, their machines' migrations, events, exits and faults),
stamped with when and where it happened so rank 0 merges it in the one-process run's order.
The --json summary, the programs' output and the migrations are those of the one-process run of
the same config and seed, byte for byte. The lines that would need another rank's machines at
the console (ps, hosts, kill, migrateprog, crash, power, at...) are refused, not approximated.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from netsim.parallel import ParallelRun, place
from vcluster import session as session_module
from vcluster.session import LineError, S, Session

__all__ = ["ranks", "run_lines_parallel", "ParallelSession", "placement_of"]

# console lines a run across ranks refuses: they read or change, at the console, machines that
# run on other ranks (owner and fault only set state, which each rank sets on its copies)
_NOT_ACROSS = {
    "hosts",
    "ps",
    "kill",
    "suspend",
    "resume",
    "migrateprog",
    "crash",
    "power",
    "at",
    "checkpoint",
}


def ranks() -> int:
    """How many MPI ranks this process is one of (1 outside mpirun), from the launcher's environment
    (without starting MPI)."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 1


def placement_of(config, size: int) -> dict[str, int]:
    """Segment -> rank: the console's and the file servers' segments on rank 0, the others round
    robin by name (netsim.parallel.place)."""
    pinned = {config.segment_of(config.machine(config.console_host))}
    pinned |= {config.segment_of(m) for m in config.machines if m.role == "fileserver"}
    return place(config.segment_names, size, pinned)


class ParallelSession(Session):
    """A Session whose clock runs in lockstep with the other ranks' (netsim/parallel.py)."""

    comm: Any = None  # set by run_lines_parallel before the session boots
    last: ParallelSession | None = None  # the session of the run in progress (for its stats)

    def __init__(self, config, **kwargs: Any) -> None:
        self._stamps: dict[str, list[tuple]] = {"migrations": [], "events": [], "exits": []}
        self.runner: ParallelRun | None = None
        super().__init__(config, **kwargs)
        comm = self.comm
        self.placement = placement_of(config, comm.Get_size())
        self.rank = comm.Get_rank()
        mine = {name for name, r in self.placement.items() if r == self.rank}
        self.local_segments = [n for n in config.segment_names if n in mine]
        self.local_kernels = [
            k for k in self.cluster.kernels if config.segment_of(k.machine.config) in mine
        ]
        ParallelSession.last = self
        self._reads = _readers(self)
        self._fault_lists = [k.faults for k in self.local_kernels]
        self.runner = ParallelRun(
            self.sim,
            comm,
            self.placement,
            list(self.cluster.gateways.values()),
            stopper=0,
            watch=self._observe,
            stoppable=lambda: self._awaiting_jobs,
        )

    # --- stamping what happens: when (run, in or out of the clock, time) and where (source) ---
    def _stamp(self) -> tuple:
        runner = self.runner
        runs = runner.runs if runner is not None else 0
        if self.sim._running:
            return (runs, 0, self.sim.now, self.sim.source)
        return (runs, 1, self.sim.now, -1)  # the console's, between runs: rank 0 tells them

    def log(self, text: str, **record: Any) -> None:
        super().log(text, **record)
        self._stamps["events"].append(self._stamp())

    def _on_migration(self, record: dict[str, Any]) -> None:
        self._stamps["migrations"].append(self._stamp())
        super()._on_migration(record)

    def _on_exit(self, kernel, proc, status: int) -> None:
        if proc.team is not None:
            self._stamps["exits"].append((*self._stamp(), proc.pid, kernel.name))
        super()._on_exit(kernel, proc, status)

    # --- the lines -----------------------------------------------------------------------
    def execute(self, line: str) -> str | None:
        words = line.split()
        if words and words[0] in _NOT_ACROSS:
            raise LineError(
                f"{words[0]}: not available in a run across MPI ranks (it needs the machines of "
                "other ranks at the console); run without mpirun for it"
            )
        return super().execute(line)

    def run_until_done(self, max_sim_seconds: float) -> bool:
        """As Session's, rank 0 deciding (only its shell knows the jobs)."""
        limit = int(max_sim_seconds * S)
        go = bool(self.jobs and not all(j.done for j in self.jobs) and limit > self.sim.now)
        if self.comm.bcast(go, root=0):
            self._awaiting_jobs = True
            try:
                self.sim.run(until=limit)
            finally:
                self._awaiting_jobs = False
        return self.comm.bcast(all(j.done for j in self.jobs), root=0)

    # --- what each rank reports, and rank 0's merge --------------------------------------
    def _observe(self) -> tuple:
        """What this rank reports, as raw numbers (the stop journal's snapshot, after each event)."""
        st = self._stamps
        return (
            tuple([read(obj) for _, read, obj in self._reads]),
            len(st["migrations"]),
            len(st["events"]),
            len(st["exits"]),
            tuple(map(len, self._fault_lists)),
        )

    def _report(self) -> dict[str, Any]:
        seen = self.runner.observed if self.runner is not None else None
        snap = seen if seen is not None else self._observe()
        counters, n_mig, n_ev, n_exit, n_faults = snap
        mine = self.rank
        own = [r == mine for r in self.runner.rank_of]

        def ours(stamp: tuple) -> bool:  # in the clock: the source's rank; outside it: rank 0's
            return own[stamp[3]] if stamp[1] == 0 else mine == 0

        st = self._stamps
        return {
            "counters": [
                (what, values) for (what, _, _), values in zip(self._reads, counters, strict=True)
            ],
            "migrations": [
                (s, i, m)
                for i, (s, m) in enumerate(
                    zip(st["migrations"][:n_mig], self.migrations, strict=False)
                )
                if ours(s)
            ],
            "events": [
                (s, i, e)
                for i, (s, e) in enumerate(zip(st["events"][:n_ev], self.events, strict=False))
                if ours(s)
            ],
            "exits": [
                (s[:4], i, s[4], s[5]) for i, s in enumerate(st["exits"][:n_exit]) if ours(s)
            ],
            "faults": {
                k.name: [(f.pid, str(f)) for f in k.faults[:n]]
                for k, n in zip(self.local_kernels, n_faults, strict=True)
            },
        }

    def summary(self) -> dict[str, Any]:
        """Session.summary on rank 0 over what every rank reported: the other ranks' segment and
        gateway counters put in rank 0's copies, their records merged in the one-process order."""
        reports = self.comm.gather(self._report(), root=0)
        if self.rank != 0:
            return {}
        _install(self, reports)
        merged = {
            key: sorted((x for r in reports for x in r[key]), key=lambda x: (x[0], x[1]))
            for key in ("migrations", "events", "exits")
        }
        mig, ev = self.migrations, self.events
        host_final = self.host_final
        try:
            self.migrations = [m for _, _, m in merged["migrations"]]
            self.events = [e for _, _, e in merged["events"]]
            self.host_final = {pid: host for _, _, pid, host in merged["exits"]}
            out = super().summary()
        finally:
            self.migrations, self.events, self.host_final = mig, ev, host_final
        faults = {}
        by_kernel = {k: v for r in reports for k, v in r["faults"].items()}
        for k in self.cluster.kernels:  # kernel by kernel, as Session.summary
            faults.update(dict(by_kernel.get(k.name, ())))
        for program in out["programs"]:
            program["fault"] = faults.get(program["pid"])
        return out


def _fields(obj) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(obj))


def _readers(session: ParallelSession) -> list[tuple[tuple, Callable[[Any], tuple], Any]]:
    """(what, read, object) for each counter block this rank reports: its segments' counters and
    busy time, every gateway's counters (each rank counts its own sides), the links leaving its
    sides. A read is one attrgetter call: the journal takes them all after every event."""
    out: list[tuple[tuple, Callable[[Any], tuple], Any]] = []
    busy = attrgetter("_busy_total", "_txing", "_busy_start")
    for name in session.local_segments:
        seg = session.cluster.segments[name]
        out.append((("segment", name), attrgetter(*_fields(seg.counters)), seg.counters))
        out.append((("busy", name), busy, seg))
    mine = set(session.local_segments)
    for name, gw in session.cluster.gateways.items():
        out.append((("gateway", name), attrgetter(*_fields(gw.counters)), gw.counters))
        for (a, b), link in gw.links.items():
            if gw.names[a] in mine:
                out.append(
                    (("link", name, a, b), attrgetter(*_fields(link.counters)), link.counters)
                )
    return out


def _install(session: ParallelSession, reports: list[dict[str, Any]]) -> None:
    """Rank 0's copies of the other ranks' segments, gateways and links take what those ranks
    counted (a gateway's counters: the sum of its sides' ranks')."""
    cluster = session.cluster
    sums: dict[str, list[int]] = {}
    for rank, report in enumerate(reports):
        for what, values in report["counters"]:
            kind, name = what[0], what[1]
            if kind == "gateway":
                total = sums.setdefault(name, [0] * len(values))
                sums[name] = [x + y for x, y in zip(total, values, strict=True)]
                continue
            if rank == 0:
                continue  # rank 0's own: live
            if kind == "segment":
                obj = cluster.segments[name].counters
            elif kind == "busy":
                seg = cluster.segments[name]
                seg._busy_total, seg._txing, seg._busy_start = values
                continue
            else:
                obj = cluster.gateways[name].links[(what[2], what[3])].counters
            for key, value in zip(_fields(obj), values, strict=True):
                setattr(obj, key, value)
    for name, total in sums.items():
        obj = cluster.gateways[name].counters
        for key, value in zip(_fields(obj), total, strict=True):
            setattr(obj, key, value)


def refusal(pcap: str | None, timeline: str | None, screenshots) -> str | None:
    """Why a run's options cannot cross ranks, or None."""
    if pcap:
        return (
            "--pcap: not available in a run across MPI ranks yet (each rank holds other segments)"
        )
    if timeline:
        return "--timeline: not available in a run across MPI ranks yet"
    if screenshots:
        return "--screenshot: not available in a run across MPI ranks yet"
    return None


def run_lines_parallel(config: str | None, lines: list[str], **kwargs: Any) -> int:
    """session.run_lines on this rank, its clock in lockstep with the others'; rank 0's status."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    why = refusal(kwargs.get("pcap"), kwargs.get("timeline"), kwargs.get("screenshots"))
    if why:
        if rank == 0:
            print(f"vcluster run: {why}", file=sys.stderr)
        return 2
    saved_out, saved_err = sys.stdout, sys.stderr
    quiet = open(os.devnull, "w")  # noqa: SIM115 (closed below)
    if rank != 0:
        sys.stdout = sys.stderr = quiet
    ParallelSession.comm = comm
    session_module.Session = ParallelSession  # type: ignore[misc]
    try:
        status = session_module.run_lines(config, lines, **kwargs)
    except BaseException:
        import traceback

        saved_err.write(f"vcluster: rank {rank} failed:\n{traceback.format_exc()}")
        saved_err.flush()
        comm.Abort(3)
        raise
    finally:
        session_module.Session = Session  # type: ignore[misc]
        sys.stdout, sys.stderr = saved_out, saved_err
        quiet.close()
    last = ParallelSession.last
    shares = comm.gather(last.runner.stats() if last is not None and last.runner else None, root=0)
    if rank == 0 and all(shares):
        for share in shares:
            print(
                f"vcluster: rank {share['rank']}: {', '.join(share['segments']) or 'no segment'}: "
                f"{share['events']} events, {share['windows']} windows, {share['messages']} frames "
                f"handed over to it, {share['sync_s']:g} s waiting on the others",
                file=sys.stderr,
            )
    return comm.bcast(status, root=0)
