"""The torture harness: seeded runs of console lines under faults, in-process, checked against V's promises.

A case is a scenario (console lines with faults in them), a loss rate, a seed
and, for the timed faults, an instant. It runs in-process through `Session`
exactly as `vcluster run` would (the same lines, in order, then until every
program has ended) and is checked against the promises of the V paper:

- the run ends before its limit (else: a hang); every migration record ends
  within `migration.timeout_s`;
- the one-copy invariant holds throughout, sampled every millisecond of
  simulated time while a logical host is frozen or migrating (every 20 ms
  otherwise): at most one unfrozen copy of a logical host on the powered
  machines, and at least one copy of every program that has not ended;
- no request is lost or duplicated: the server's own count (ipcserver prints
  every request it received) against what the client saw;
- each program's output and exit status are those of the fault-free run of
  the same lines (same seed, no fault lines), or a clean error naming the cause
  (the console's error, or the program's own report of a V error code);
- no traceback: no log record with an exception, nothing on stderr that looks
  like one, no Python exception out of the session.

`replay(case)` is the one `python -m vcluster.cli run ...` line that repeats a
case (the invariant sampler only observes: it changes nothing in the run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import re
import shlex
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from guest import abi
from vcluster.invariants import OneCopyChecker
from vcluster.session import LineError, Session, load
from vkernel.checkpoint import INCARNATION

S = 1_000_000_000
MS = 1_000_000
CONFIG = "tiny"
LOSSES = (0.0, 0.05, 0.1, 0.2, 0.3)
INSTANTS = 50
LIMIT_S = 300.0  # the simulated-time limit of one run (the fault-free runs take 1-15 s)
HOT_STEP_NS = 1 * MS  # invariant sampling while a logical host is frozen or migrating
COLD_STEP_NS = 20 * MS
DAEMON_GRACE_S = 30.0  # a server told to quit (or killed) has this long to end

PROBLEMS = (
    "hangs",
    "two_copies",
    "no_copy",
    "duplicates",
    "lost",
    "wrong_output",
    "hijacks",
    "tracebacks",
    "bad_events",  # a restart/cannot_restart event missing or untrue (vcluster/torture_checkpoint.py)
)
JOINED = "hijacker: joined group"
ERROR_WORDS = tuple(abi.ERROR_NAMES.values())
SERVED = re.compile(r"ipcserver: served (\d+) requests")
# the kernel counts system calls by their abi name (the IPC client's group PINGs)
SEND_GROUP = abi.SYSCALL_NAMES[abi.SYS_SEND_GROUP]


class Limit(BaseException):  # not an Exception: no server's or line's handler takes it
    """The clock passed the run's limit inside a line that waits (migrateprog, kill), or the run
    took WALL_LIMIT_S of wall-clock time (the simulation spinning without its clock moving)."""


WALL_LIMIT_S = 120.0


@contextlib.contextmanager
def _wall_limit(seconds: float):
    """Raise Limit in the main thread after `seconds` of wall-clock time (elsewhere: no bound)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def expired(_signum, _frame):
        raise Limit(f"{seconds:g} s of wall-clock time")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclasses.dataclass(frozen=True)
class Case:
    scenario: str
    loss: float = 0.0
    seed: int = 1
    instant: int | None = None  # index into the scenario's fault instants

    @property
    def ident(self) -> str:
        text = f"{self.scenario}-loss{self.loss:g}-seed{self.seed}"
        return text if self.instant is None else f"{text}-at{self.instant}"


@dataclasses.dataclass
class Scenario:
    """`lines(case, timeline)` gives the faulted lines and the fault-free reference lines.

    `daemons` are servers that run until a client tells them to quit: when the
    clients are done and a daemon still runs, it gets DAEMON_GRACE_S, then is
    killed (that is no hang when the client failed first). `timed` scenarios
    take their fault instants from the fault-free run's migration timeline."""

    name: str
    lines: Callable[[Case, dict[str, Any] | None], tuple[list[str], list[str]]]
    about: str
    daemons: tuple[str, ...] = ()
    timed: bool = False
    lossy: bool = True
    hostile: tuple[str, ...] = ()  # programs not in the fault-free run: they must be refused
    once: tuple[float, int] | None = None  # a reproducer: run at this (loss, seed) only
    files: bool = False  # the files it leaves on the file server are the fault-free run's too
    # more checks: check(case, run, ref, problems) adds to problems (the restart events)
    check: Callable[[Case, Any, Any, dict[str, list[str]]], None] | None = None
    timeline_of: Callable[[int], dict[str, Any]] | None = None  # its instants' source, by seed


# ------------------------------------------------------------------ scenarios
def _loss(case: Case) -> list[str]:
    return [f"fault loss {case.loss:g}"] if case.loss else []


def _ipc(case, _t):
    head = ["ipcserver 1 @ ws2", "wait 1", "ipcclient 1 64 8 quit"]
    tail = ["wait 2", "migrateprog ipcserver"]
    return head + _loss(case) + tail, head + tail


def _dirtier(case, _t):
    head = ["dirtier 256 64 6 @ ws2", "wait 1"]
    tail = ["wait 1", "migrateprog dirtier"]
    return head + _loss(case) + tail, head + tail


def _evict(case, _t):
    head = ["dirtier 256 32 6 @ ws3", "wait 1"]
    tail = ["wait 1", "owner ws3 on"]
    return head + _loss(case) + tail, head + tail


def _rexec(case, _t):
    body = [
        "hello @ *",
        "primes 2000 @ *",
        "spin 1 @ *",
        "wait 0.5",
        "hello @ *",
        "dirtier 64 32 1 @ *",
    ]
    return _loss(case) + body, body


PARTITION_S = 3.0  # longer than a Send's retransmissions (8 x 200 ms): operations across it fail


def _hostile(case, _t):
    """A guest tries to take the program manager group (0x8001) and answer every request while
    the console starts programs '@ *' and migrates one; a protected kernel refuses it (EPERM)."""
    body = [
        "wait 0.5",
        "hello @ *",
        "primes 2000 @ *",
        "dirtier 256 64 4 @ ws2",
        "wait 2",
        "migrateprog dirtier",
        "hello @ *",
    ]
    return ["hijacker 0x8001 @ ws3", *_loss(case), *body], body


TIMED_HEAD = ["dirtier 256 64 6 @ ws2", "wait 2"]


def instant(timeline: dict[str, Any], index: int) -> float:
    """The index-th of INSTANTS fault instants (seconds) across one migration: 25 spread over
    pre-copy, 15 over the freeze, 10 around the switch (from just before the destination
    unfreezes its copy to just after the source has heard so)."""
    start, freeze, switch, end = (timeline[k] for k in ("start", "freeze", "switch", "end"))
    spans = [(start, freeze, 25), (freeze, switch, 15), (switch - 0.002, end + 0.002, 10)]
    for lo, hi, n in spans:
        if index < n:
            return round(lo + (hi - lo) * (index + 0.5) / n, 6)
        index -= n
    raise IndexError("instant index out of range")


def _timed(fault: str, who: str):
    def lines(case: Case, timeline):
        ref = [*TIMED_HEAD, "migrateprog dirtier"]
        if timeline is None or case.instant is None:
            return ref, ref
        host = timeline["to"] if who == "dest" else timeline["from"]
        t = instant(timeline, case.instant)
        if fault == "crash":
            faults = [f"at {t:.6f} crash {host}", f"at {t + 1:.6f} power {host} on"]
        elif fault == "partition":
            faults = [f"at {t:.6f} fault partition {host}", f"at {t + PARTITION_S:.6f} fault heal"]
        else:  # kill the program being migrated
            faults = [f"at {t:.6f} kill dirtier"]
            return [*TIMED_HEAD, *faults, "migrateprog dirtier"], [*TIMED_HEAD, *faults]
        return [*TIMED_HEAD, *faults, "migrateprog dirtier"], ref

    return lines


def _exit_during(case: Case, timeline):
    """primes ends while its own migration runs: the migrateprog starts from 400 ms before the end
    of primes in the fault-free run, in steps of 9 ms (the last ones after it)."""
    ref = ["primes 30000 @ ws2"]
    if timeline is None or case.instant is None:
        return ref, ref
    at = max(0.05, round(timeline["program_end"] - 0.40 + 0.009 * case.instant, 3))
    return [*ref, f"wait {at:g}", "migrateprog primes"], ref


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "ipc-pair",
            _ipc,
            "ipcclient (ws1) <-> ipcserver (ws2), the server migrated mid-run",
            daemons=("ipcserver",),
        ),
        Scenario("dirtier", _dirtier, "dirtier 256 KB at 64 KB/s migrated from ws2"),
        Scenario("eviction", _evict, "the owner of ws3 comes back while dirtier runs there"),
        Scenario("rexec", _rexec, "six '@ *' remote executions"),
        Scenario(
            "hostile",
            _hostile,
            "a guest joins the program manager group; '@ *' and migrateprog",
            daemons=("hijacker",),
            hostile=("hijacker",),
        ),
        Scenario(
            "crash-dest",
            _timed("crash", "dest"),
            "the destination crashes mid-migration, powered on 1 s later",
            timed=True,
            lossy=False,
        ),
        Scenario(
            "crash-source",
            _timed("crash", "source"),
            "the source crashes mid-migration, powered on 1 s later",
            timed=True,
            lossy=False,
        ),
        Scenario(
            "partition-dest",
            _timed("partition", "dest"),
            "the destination is cut off for 3 s mid-migration",
            timed=True,
            lossy=False,
        ),
        Scenario(
            "partition-source",
            _timed("partition", "source"),
            "the source is cut off for 3 s mid-migration",
            timed=True,
            lossy=False,
        ),
        Scenario(
            "kill-during",
            _timed("kill", "source"),
            "the program is killed while it migrates",
            timed=True,
            lossy=False,
        ),
        Scenario(
            "exit-during",
            _exit_during,
            "the program exits while it migrates",
            timed=True,
            lossy=False,
        ),
    )
}


def _reproducer(before: list[str], after: list[str]):
    def lines(case: Case, _t):
        return [*before, *_loss(case), *after], [*before, *after]

    return lines


IPC20 = ["ipcserver 1 @ ws2", "wait 1", "ipcclient 1 64 20 quit"]
# the deterministic reproducers of issue 12, each one case (the bench's "issue-N" rows)
REPRODUCERS = (
    Scenario(
        "issue-1-movefrom-hang",
        _reproducer(IPC20, ["wait 2", "migrateprog ipcserver"]),
        "a MoveFrom that lost packets hung forever",
        daemons=("ipcserver",),
        lossy=False,
        once=(0.2, 3),
    ),
    Scenario(
        "issue-2-split-brain",
        _reproducer(IPC20, ["wait 2", "migrateprog ipcserver", "wait 20", "ps"]),
        "the switch reply lost: ipcserver ran on ws2 and ws3",
        daemons=("ipcserver",),
        lossy=False,
        once=(0.3, 28),
    ),
    Scenario(
        "issue-4-exit-during-migration",
        lambda case, _t: (
            ["primes 30000 @ ws2", "wait 0.55", "migrateprog primes"],
            ["primes 30000 @ ws2"],
        ),
        "primes exits during its own migration: KeyError in pm-migrate",
        lossy=False,
        once=(0.0, 1),
    ),
    Scenario(
        "issue-5-enotawaiting",
        _reproducer([], ["hello @ ws2"]),
        "hello @ ws2 under 10% loss: could not start: ENOTAWAITING",
        lossy=False,
        once=(0.1, 3),
    ),
)
SCENARIOS.update({s.name: s for s in REPRODUCERS})
LOSS_SCENARIOS = tuple(s.name for s in SCENARIOS.values() if s.lossy)
TIMED_SCENARIOS = tuple(s.name for s in SCENARIOS.values() if s.timed)


def replay(lines: list[str], seed: int, limit_s: float = LIMIT_S) -> str:
    """The command line that repeats a run (without the invariant sampler, which only observes)."""
    return (
        f"python -m vcluster.cli run {CONFIG} {' '.join(shlex.quote(x) for x in lines)} "
        f"--seed {seed} --max-sim-seconds {limit_s:g} --json"
    )


# ------------------------------------------------------------------ the invariant
VOID_LIMIT_S = 10.0  # a void incarnation (a cut-off copy restarted elsewhere) goes within this


def incarnation(kernel: Any, lhid: int) -> int | None:
    """The incarnation of the copy of checkpointed lhid on kernel (None: not checkpointed there)."""
    cks = getattr(kernel, "checkpoints", None)
    pol = cks.policies.get(lhid) if cks is not None else None
    if pol is None:
        return None
    return max(pol.serial, pol.writing) // INCARNATION


def copies(session: Session) -> dict[int, list[tuple[str, bool]]]:
    """Every copy of every guest logical host on the powered machines: lhid -> [(host, frozen)]."""
    found: dict[int, list[tuple[str, bool]]] = {}
    for k in session.kernels.values():
        if not k.powered:
            continue
        for lh in k.lhs.values():
            if lh.system or not lh.processes:
                continue
            found.setdefault(lh.lhid, []).append((k.name, lh.frozen))
    return found


class Watch:
    """Samples the one-copy invariant (vcluster.invariants, which also checks at every migration
    state transition) on the simulated clock, notes programs that vanished without ending, and
    the migration's timeline (first frozen copy, first switched copy)."""

    def __init__(self, session: Session, deadline_ns: int) -> None:
        self.session = session
        self.deadline_ns = deadline_ns
        self.uncommitted: set[int] = set()  # lhids last seen before their first checkpoint
        self.checker = OneCopyChecker(
            session, void=self.void, unstarted=self.uncommitted.__contains__
        )
        self.voids: dict[tuple[int, str], list[float]] = {}  # (lhid, host) -> [first, last] seen
        self.first_host: dict[int, str] = {}  # lhid -> the host its first running copy was on
        self.hooked: set[int] = set()
        self.kernels: list[Any] = []  # every kernel seen (a machine powered on again is a new one)
        self.timeline: dict[str, float] = {}
        self.stopped = False
        self._tick()

    def void(self, kernel: Any, lh: Any) -> bool:
        """A void incarnation: a copy of a checkpointed program its home has restarted elsewhere
        since (docs/CHECKPOINT.md, a partition past detect_s: the cut-off copy runs on until its
        next checkpoint's notice is refused), not a second live copy. It must go within
        VOID_LIMIT_S (violations)."""
        mine = incarnation(kernel, lh.lhid)
        if mine is None:
            return False
        newest = max(
            [
                w.incarnation
                for k in self.session.kernels.values()
                if k.powered and getattr(k, "checkpoints", None) is not None
                for w in [k.checkpoints.watches.get(lh.lhid)]
                if w is not None
            ]
            + [
                incarnation(k, lh.lhid) or 0
                for k in self.session.kernels.values()
                if k.powered and k is not kernel and lh.lhid in k.lhs
            ],
            default=0,
        )
        if mine >= newest:
            return False
        now = self.session.sim.now / S
        self.voids.setdefault((lh.lhid, kernel.name), [now, now])[1] = now
        return True

    @property
    def samples(self) -> int:
        return self.checker.checks

    @property
    def violations(self) -> list[str]:
        out = [
            f"two copies: {v}" if "unfrozen copies" in v else f"no copy: {v}"
            for v in self.checker.violations[:20]
        ]
        for (lhid, host), (first, last) in self.voids.items():
            if last - first > VOID_LIMIT_S:
                out.append(
                    f"two copies: a void incarnation of {lhid:#06x} ran on {host} from "
                    f"{first:.3f} to {last:.3f} s (over {VOID_LIMIT_S:g} s)"
                )
        return out

    def _hook(self) -> None:
        for k in self.session.kernels.values():
            if id(k) not in self.hooked:
                self.hooked.add(id(k))
                self.kernels.append(k)

    def check(self) -> bool:
        """One sample; True when a logical host is frozen or migrating (sample again soon)."""
        session = self.session
        self._hook()
        # started checkpointed, its first checkpoint not complete: it has had no effect, and
        # when it goes (its host or the file server crashed) the console starts it again
        for k in session.kernels.values():
            cks = getattr(k, "checkpoints", None)
            if k.powered and cks is not None:
                for lhid, pol in cks.policies.items():
                    if lhid in k.lhs:
                        (self.uncommitted.discard if pol.committed else self.uncommitted.add)(lhid)
        self.checker.check("tick")
        now = session.sim.now / S
        hot = any(
            lh.frozen or lh.migrating
            for k in session.kernels.values()
            if k.powered
            for lh in k.lhs.values()
            if not lh.system
        )
        for lhid, where in copies(session).items():
            running = [host for host, frozen in where if not frozen]
            if any(frozen for _, frozen in where) and "freeze" not in self.timeline:
                self.timeline["freeze"] = now
            first = self.first_host.setdefault(lhid, running[0]) if running else None
            if first and any(h != first for h in running) and "switch" not in self.timeline:
                self.timeline["switch"] = now  # a copy runs somewhere else now
        return hot

    def _tick(self) -> None:
        if self.stopped:
            return
        if self.session.sim.now > self.deadline_ns:
            raise Limit(f"past the limit at {self.session.sim.now / S:.3f} s")
        hot = self.check()
        self.session.sim.schedule(HOT_STEP_NS if hot else COLD_STEP_NS, self._tick)


# ------------------------------------------------------------------ one run
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).strip()
            self.tracebacks.append(text)


@dataclasses.dataclass
class Run:
    """What one run did: per program, the summary's entry; plus what the harness saw."""

    lines: list[str]
    seed: int
    summary: dict[str, Any] | None = None
    ended: bool = False  # every program ended before the limit
    refusals: list[str] = dataclasses.field(default_factory=list)  # LineErrors of the lines
    hangs: list[str] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    tracebacks: list[str] = dataclasses.field(default_factory=list)
    killed: list[str] = dataclasses.field(default_factory=list)  # daemons the harness ended
    timeline: dict[str, Any] = dataclasses.field(default_factory=dict)
    pings: int = 0  # SendGroup calls made on ws1 (the IPC client's kernel)
    samples: int = 0
    wall_s: float = 0.0
    sim_s: float = 0.0
    files: dict[str, bytes] = dataclasses.field(
        default_factory=dict
    )  # on the file server at the end
    checkpoints: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # every one taken
    voids: dict[tuple[int, str], list[float]] = dataclasses.field(default_factory=dict)  # Watch's


def execute(
    lines: list[str],
    seed: int,
    *,
    daemons: tuple[str, ...] = (),
    limit_s: float = LIMIT_S,
    setup: Callable[[Session], None] | None = None,
    wall_limit_s: float = WALL_LIMIT_S,
) -> Run:
    """Boot, execute the lines in order as `vcluster run` does, run until every program ended.
    `setup(session)` runs after the boot (a test plants something there)."""
    run = Run(list(lines), seed)
    t0 = time.perf_counter()
    records = _Records()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [records]  # the run's log is checked, not printed
    stderr = io.StringIO()
    session = None
    try:
        with contextlib.redirect_stderr(stderr):
            session = Session(load(CONFIG, seed))
            session.limit_s = limit_s + DAEMON_GRACE_S * 2 + 1  # `wait` refuses lines past it
            watch = Watch(session, int((limit_s + 1) * S))
            if setup is not None:
                setup(session)
            try:
                with _wall_limit(wall_limit_s):
                    _drive(session, run, daemons, limit_s)
            except Limit as exc:
                run.hangs.append(f"a console line was still waiting at the limit ({exc})")
            except Exception:
                run.tracebacks.append("out of the session:\n" + traceback.format_exc().strip())
            watch.stopped = True
            watch._hook()
            # a server that raised: the kernel lives on (it reports and restarts it), but it is a
            # Python exception in the kernel all the same
            run.tracebacks += [
                f"{f.host}: {f.name}: {f.what}"
                for k in watch.kernels
                for f in k.faults
                if f.what.startswith(("server failed", "server crashed"))
            ]
            run.violations = watch.violations
            run.voids = dict(watch.voids)
            run.samples = watch.samples
            run.timeline = dict(watch.timeline)
            with contextlib.suppress(Exception):
                run.summary = session.summary()
            run.pings = session.kernels["ws1"].stats.by_call.get(SEND_GROUP, 0)
            run.sim_s = session.sim.now / S
            run.files = user_files(session)
            run.checkpoints = [
                {**t, "host": k.name}
                for k in watch.kernels
                if getattr(k, "checkpoints", None) is not None
                for t in k.checkpoints.taken
            ]
    finally:
        root.handlers[:] = saved
        if session is not None:
            session.close()
    run.tracebacks += records.tracebacks
    if "Traceback" in stderr.getvalue():
        run.tracebacks.append("on stderr:\n" + stderr.getvalue().strip())
    if run.summary is not None:
        timeout_ms = load(CONFIG, seed).migration.timeout_s * 1000
        for m in run.summary["migrations"]:
            if m["total_ms"] > timeout_ms:
                run.hangs.append(
                    f"the migration of {m['program']} took {m['total_ms']:.0f} ms, over "
                    f"migration.timeout_s ({timeout_ms / 1000:g} s)"
                )
    run.wall_s = time.perf_counter() - t0
    return run


def _drive(session: Session, run: Run, daemons: tuple[str, ...], limit_s: float) -> None:
    limit = int(limit_s * S)
    for line in run.lines:
        try:
            session.execute(line)
        except LineError as exc:
            run.refusals.append(f"{line}: {exc}")
            continue
        except Limit:
            raise
        except Exception:  # `vcluster run` reports it and goes on with the next line
            run.tracebacks.append(f"out of {line!r}:\n" + traceback.format_exc().strip())
            continue
    clients = [j for j in session.jobs if j.argv[0] not in daemons]
    done = lambda: all(j.done for j in clients)  # noqa: E731

    def stop_when_clients_done(_job) -> None:
        if done():
            session.sim.stop()

    for job in clients:
        job.on_done.append(stop_when_clients_done)
    if not done() and session.sim.now < limit:
        session.sim.run(until=limit)
    if not done():
        still = [f"{j.argv[0]} (pid {j.pid:#x})" for j in clients if not j.done]
        run.hangs.append(
            f"still running at the {limit_s:g} s limit: {', '.join(still)}; " + _ps(session)
        )
        return
    rest = [j for j in session.jobs if not j.done]
    if not rest:
        run.ended = True
        return
    # the servers: they quit when told, or get killed when their client failed first
    if not session.run_until_done(session.sim.now / S + DAEMON_GRACE_S):
        for job in rest:
            if not job.done and job.pid:
                run.killed.append(job.argv[0])
                session.shell.control(abi.PM_KILL, job.pid, lambda r: None)
        if not session.run_until_done(session.sim.now / S + DAEMON_GRACE_S):
            still = [f"{j.argv[0]} (pid {j.pid:#x})" for j in session.jobs if not j.done]
            run.hangs.append(
                f"not ended {DAEMON_GRACE_S:g} s after being killed: {', '.join(still)}; "
                + _ps(session)
            )
            return
    run.ended = True


def user_files(session: Session) -> dict[str, bytes] | None:
    """The files on the file server's disk but the checkpoints' and rforks' own (None: the file
    server is down)."""
    out: dict[str, bytes] = {}
    for k in session.kernels.values():
        if k.machine.role == "fileserver" and not k.powered:
            return None
        fs = getattr(k.machine, "filesystem", None)
        if fs is None or not k.powered:
            continue
        for name in fs.list():
            if not name.startswith(("ckpt.", "rfork.")):
                out[name] = fs.read(name, 0, fs.size(name))
    return out


def _ps(session: Session) -> str:
    rows = session.ps_rows()
    return "ps: " + (
        "; ".join(f"{r['name']} on {r['host']} {r['state']}" for r in rows) or "nothing"
    )


# ------------------------------------------------------------------ classification
@dataclasses.dataclass
class Verdict:
    case: Case
    lines: list[str]
    problems: dict[str, list[str]]  # PROBLEMS key -> what was seen
    clean_errors: list[str]
    wall_s: float
    sim_s: float

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    @property
    def completed(self) -> bool:
        return self.ok and not self.clean_errors

    @property
    def command(self) -> str:
        return replay(self.lines, self.case.seed)

    def report(self) -> str:
        lines = [f"{self.case.ident}: " + ", ".join(k for k, v in self.problems.items() if v)]
        for key, seen in self.problems.items():
            for text in seen[:5]:
                lines.append(f"  {key}: {text}")
        lines.append(f"  replay: {self.command}")
        return "\n".join(lines)


def _clean_error(prog: dict[str, Any], ref: dict[str, Any]) -> str | None:
    """Why prog's difference from the fault-free ref is a clean error, or None if it is not one:
    the console said why (it could not start, it was lost with its machine), or the program
    stopped with a nonzero status after printing a prefix of ref's output and lines that name a
    V error code."""
    if prog["error"]:
        return prog["error"]
    if prog["exit_status"] in (None, 0):
        return None
    got, want = prog["output"].splitlines(), ref["output"].splitlines()
    n = 0
    while n < len(got) and n < len(want) and got[n] == want[n]:
        n += 1
    extra = got[n:]
    if extra and all(any(word in line for word in ERROR_WORDS) for line in extra):
        return f"{prog['name']}: {extra[-1]}"
    if prog["exit_status"] == -abi.EKILLED and n == len(got):
        return f"{prog['name']}: killed"
    return None


def _short(text: str) -> str:
    """A traceback as its first line (what crashed) and its last (the exception)."""
    lines = text.strip().splitlines()
    return lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"


def classify(case: Case, run: Run, ref: Run) -> Verdict:
    problems: dict[str, list[str]] = {key: [] for key in PROBLEMS}
    clean: list[str] = list(run.refusals)
    problems["hangs"] += run.hangs
    for text in run.violations:
        problems["two_copies" if text.startswith("two copies") else "no_copy"].append(text)
    problems["tracebacks"] += [_short(t) for t in run.tracebacks]
    if run.summary is None or ref.summary is None:
        return Verdict(case, run.lines, problems, clean, run.wall_s, run.sim_s)
    sc = SCENARIOS.get(case.scenario)
    hostile = sc.hostile if sc is not None else ()
    for prog in run.summary["programs"]:
        if prog["name"] in hostile:
            if JOINED in prog["output"]:
                problems["hijacks"].append(f"{prog['name']}: {prog['output'].splitlines()[0]!r}")
            elif "EPERM" not in prog["output"] and (prog["output"] or prog["error"]):
                clean.append(f"{prog['name']}: {(prog['error'] or prog['output']).strip()}")
            # refused with EPERM: what a protected kernel does, the run is still completed
    wanted = ref.summary["programs"]
    progs = [p for p in run.summary["programs"] if p["name"] not in hostile]
    for i, prog in enumerate(progs):
        want = wanted[i] if i < len(wanted) and wanted[i]["name"] == prog["name"] else None
        if want is None:
            problems["wrong_output"].append(f"{prog['name']}: not in the fault-free run")
            continue
        if prog["name"] in run.killed:
            continue  # a server whose client failed: ended by the harness
        if run.hangs and prog["exit_status"] is None and not prog["error"]:
            continue  # still running: part of the hang
        # a second copy that ran on prints the output again
        last = want["output"].splitlines()[-1:] if want["output"] else []
        if last and prog["output"].splitlines().count(last[0]) > 1:
            problems["duplicates"].append(
                f"{prog['name']} printed {last[0]!r} twice: two copies ran"
            )
        # ipcserver's count of requests is checked against the client (_server_counts)
        if (
            SERVED.sub("", prog["output"]) == SERVED.sub("", want["output"])
            and prog["exit_status"] == want["exit_status"]
            and not prog["error"]
        ):
            continue
        why = _clean_error(prog, want)
        if why == f"{prog['name']}: killed" and not any(" kill " in f" {x} " for x in run.lines):
            why = None  # nobody asked for a kill
        if why is None:
            problems["wrong_output"].append(
                f"{prog['name']}: exit {prog['exit_status']} error {prog['error']!r} output "
                f"{prog['output'][-300:]!r}; fault-free: exit {want['exit_status']} "
                f"output {want['output'][-300:]!r}"
            )
        else:
            clean.append(why)
    _server_counts(run, progs, problems)
    if (
        sc is not None
        and sc.files
        and not clean
        and None not in (run.files, ref.files)
        and run.files != ref.files
    ):
        differ = sorted(n for n in {*run.files, *ref.files} if run.files.get(n) != ref.files.get(n))
        problems["wrong_output"].append(f"files differ from the fault-free run's: {differ[:8]}")
    if sc is not None and sc.check is not None:
        sc.check(case, run, ref, problems)
    return Verdict(case, run.lines, problems, clean, run.wall_s, run.sim_s)


def _server_counts(run: Run, progs: list[dict], problems: dict[str, list[str]]) -> None:
    """ipcserver counts every request it received (the QUIT too); the client made 1 group PING
    (more when one failed and it tried again), then a GET and a PUT per round, then the QUIT
    (and, restarted from a checkpoint, again what it had sent since)."""
    server = next((p for p in progs if p["name"] == "ipcserver"), None)
    client = next((p for p in progs if p["name"] == "ipcclient"), None)
    if server is None or client is None:
        return
    if "ipcserver" in run.killed:
        if client["exit_status"] == 0:
            problems["hangs"].append("ipcserver did not end after the client's QUIT was answered")
        return
    found = SERVED.search(server["output"])
    if found is None:
        return
    served = int(found.group(1))
    rounds = len(re.findall(r"^round \d+: ", client["output"], re.M))
    pings = max(1, run.pings)
    if client["exit_status"] == 0:
        low, high = 2 * rounds + 2, 2 * rounds + 1 + pings
    else:  # stopped at a failed request, which the server may or may not have received
        low, high = 2 * rounds + 1, 2 * rounds + 3 + pings
    # a client restarted from its checkpoint sends again what it sent since (IPC with other
    # programs is at least once, docs/CHECKPOINT.md): at most every request once more a restart
    restarts = sum(
        1
        for r in run.summary.get("restarts", ())
        if r["kind"] == "restart" and r["pid"] == client["pid"]
    )
    high += restarts * (2 * rounds + 2)
    if served < low:
        problems["lost"].append(
            f"ipcserver served {served} requests, the client completed {rounds} rounds "
            f"(at least {low} requests)"
        )
    if served > high:
        problems["duplicates"].append(
            f"ipcserver served {served} requests, the client made at most {high} "
            f"({rounds} rounds, {pings} group PINGs)"
        )


# ------------------------------------------------------------------ the suite's entry points
_runs: dict[tuple[tuple[str, ...], int], Run] = {}
_timelines: dict[tuple[str, int], dict[str, Any] | None] = {}


def fault_free(lines: list[str], seed: int, daemons: tuple[str, ...] = ()) -> Run:
    """The run of lines (no fault lines in them) for a seed, run once per process."""
    key = (tuple(lines), seed)
    if key not in _runs:
        _runs[key] = execute(lines, seed, daemons=daemons)
    return _runs[key]


def timeline(scenario: str, seed: int) -> dict[str, Any] | None:
    """For a timed scenario, from its fault-free run: the migration's start, first freeze (the
    source's copy frozen), switch (the destination's copy running) and end, in seconds, its
    hosts and rounds; for exit-during, the time the program ends."""
    key = (scenario, seed)
    if key not in _timelines:
        sc = SCENARIOS[scenario]
        if sc.timeline_of is not None:
            _timelines[key] = sc.timeline_of(seed)
        else:
            _timelines[key] = _timeline(scenario, seed) if sc.timed else None
    return _timelines[key]


def _timeline(scenario: str, seed: int) -> dict[str, Any]:
    if scenario == "exit-during":
        return {"program_end": fault_free(["primes 30000 @ ws2"], seed).sim_s}
    base = fault_free([*TIMED_HEAD, "migrateprog dirtier"], seed)
    (m,) = base.summary["migrations"]
    end = next(e["time"] for e in base.summary["events"] if e.get("kind") == "migration")
    timeline = {
        "start": end - m["total_ms"] / 1000,
        "freeze": base.timeline.get("freeze", end - m["freeze_ms"] / 1000),
        "switch": base.timeline.get("switch", end),
        "end": end,
        "from": m["from"],
        "to": m["to"],
        "rounds": m["rounds"],
    }
    # the migration's own record of its states (h-mig): [time, state] from locating to done
    states = [(t, name.split()[0]) for t, name in m.get("states", ())]
    first = {}
    for t, name in states:
        first.setdefault(name, t)
    if {"frozen", "committing", "done"} <= set(first):
        timeline.update(
            start=states[0][0],
            freeze=first["frozen"],
            switch=first["committing"],
            end=first["done"],
        )
    return timeline


def run_case(case: Case) -> Verdict:
    sc = SCENARIOS[case.scenario]
    lines, ref_lines = sc.lines(case, timeline(case.scenario, case.seed))
    ref = fault_free(ref_lines, case.seed, sc.daemons)
    run = execute(lines, case.seed, daemons=sc.daemons)
    return classify(case, run, ref)


def cases(
    seeds: int = 20, instants: int = INSTANTS, losses: tuple[float, ...] = LOSSES
) -> list[Case]:
    """The sweep: every loss scenario x loss rate x seeds 1..seeds, every timed scenario at
    `instants` instants (seed 1), and the issue's reproducers."""
    out = [
        Case(name, loss, seed)
        for name in LOSS_SCENARIOS
        for loss in losses
        for seed in range(1, seeds + 1)
    ]
    step = INSTANTS / instants
    for name in TIMED_SCENARIOS:
        out += [Case(name, 0.0, 1, int(i * step)) for i in range(instants)]
    out += [Case(s.name, *s.once) for s in REPRODUCERS]
    return out + torture_checkpoint.cases(seeds=seeds, quick=instants < INSTANTS)


# the checkpointed programs' scenarios (issue 16) register themselves in SCENARIOS
from vcluster import torture_checkpoint  # noqa: E402
