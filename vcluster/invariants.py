"""The one-copy invariant of migration (the V paper's atomic transfer), checked at any instant.

"Atomic transfer is required so that the rest of the system at no time detects there being
other than one copy" (paper, section 3). For every logical host that holds a program, over
all powered kernels of a cluster:

- at most one copy is unfrozen (an unfrozen copy runs, answers IPC and LH_QUERY);
- at least one copy exists, unless its program ended (every process of it that was seen
  exited: it finished, was killed, or was destroyed by `migrateprog -n`) or the machines
  that held it crashed.

A copy is a logical host in a kernel's `lhs` that has teams or processes: under its own id,
or, for a copy a migration is building, under the id it copies (`LogicalHost.copy_of`).

Use it from a test, a benchmark or a torture run:

    checker = OneCopyChecker(session)   # a vcluster Session, or a callable giving the kernels
    checker.watch(step_ms=1)            # check every simulated ms and at every migration
    ...                                 # state transition (MigrationEngine.transition_listeners)
    checker.stop()
    checker.assert_held()               # AssertionError listing every violation

`copies(kernels)` gives the raw census: lhid -> [Copy(host, lhid, frozen, pids)].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

S = 1_000_000_000
IDLE_TICKS = 600  # checks a second apart while nothing else is scheduled, at most


@dataclass(frozen=True)
class Copy:
    host: str
    lhid: int  # the id it has on that host (an incoming copy's own id until the switch)
    frozen: bool
    pids: tuple[int, ...]  # its guest processes


def copies(
    kernels: Iterable[Any], void: Callable[[Any, Any], bool] | None = None
) -> dict[int, list[Copy]]:
    """Every copy of every logical host that holds a program, by the logical host's id (but
    those void(kernel, lh) says are void)."""
    found: dict[int, list[Copy]] = {}
    for k in kernels:
        if not k.powered:
            continue
        for lh in list(k.lhs.values()):
            if lh.system or not (lh.teams or lh.processes):
                continue
            if void is not None and void(k, lh):
                continue
            pids = tuple(sorted(p.pid for p in lh.processes.values() if p.team is not None))
            found.setdefault(lh.copy_of or lh.lhid, []).append(
                Copy(k.name, lh.lhid, lh.frozen, pids)
            )
    return found


def unfrozen(found: list[Copy]) -> int:
    return sum(1 for c in found if not c.frozen)


class OneCopyChecker:
    """Checks the one-copy invariant whenever asked, at fine time steps, and at every migration
    state transition; records violations (with the simulated time and what was seen)."""

    def __init__(
        self,
        cluster: Any,
        void: Callable[[Any, Any], bool] | None = None,
        unstarted: Callable[[int], bool] | None = None,
    ) -> None:
        self.void = void  # void(kernel, lh): a copy that is not a live one (see copies())
        # unstarted(lhid): its program had not started when it went (its start is tried again)
        self.unstarted = unstarted
        if callable(cluster):
            self._kernels: Callable[[], Iterable[Any]] = cluster
            self.sim = None
        else:  # a Session (its kernels change when a machine is powered on again)
            self._kernels = lambda: list(cluster.kernels.values())
            self.sim = cluster.sim
        self.violations: list[str] = []
        self.checks = 0
        self.max_unfrozen = 0
        self.exited: set[int] = set()  # guest pids that ended (any kernel)
        self.seen: dict[int, set[int]] = {}  # lhid -> guest pids ever seen in it
        self.last: dict[int, list[Copy]] = {}
        self._hooked: set[int] = set()
        self._crashed: set[int] = set()
        self._event = None
        self._step_ns = 0
        self._idle = 0
        self.check("start")

    # --- hooks -------------------------------------------------------------------------
    def _hook(self, kernels: list[Any]) -> None:
        for k in kernels:
            if id(k) in self._hooked:
                continue
            self._hooked.add(id(k))
            k.on_exit.append(self._on_exit)
            if self.sim is None:
                self.sim = getattr(k, "sim", None)
            engine = getattr(k, "migration", None)
            listeners = getattr(engine, "transition_listeners", None)
            if listeners is not None:
                listeners.append(lambda *event, k=k: self.check(f"{k.name}: migration {event}"))

    def _on_exit(self, proc: Any, status: int) -> None:
        if proc.team is not None:
            self.exited.add(proc.pid)

    # --- the check ------------------------------------------------------------------------
    def check(self, where: str = "") -> bool:
        """Check now; True if the invariant holds (violations are recorded either way)."""
        kernels = list(self._kernels())
        self._hook(kernels)
        self.checks += 1
        now = self.sim.now / S if self.sim is not None else 0.0
        crashed = {id(k) for k in kernels if not k.powered}
        new_crash = bool(crashed - self._crashed)
        self._crashed |= crashed
        found = copies(kernels, self.void)
        ok = True
        for lhid, cs in found.items():
            n = unfrozen(cs)
            self.max_unfrozen = max(self.max_unfrozen, n)
            self.seen.setdefault(lhid, set()).update(p for c in cs for p in c.pids)
            if n > 1:
                ok = False
                self.violations.append(
                    f"t={now:.6f} {where}: logical host {lhid:#06x} has {n} unfrozen copies: {cs}"
                )
        for lhid, before in self.last.items():
            if lhid in found:
                continue
            pids = self.seen.get(lhid, set())
            if pids <= self.exited:
                continue  # its program ended (or it never held one: an incoming copy given up)
            if self.unstarted is not None and self.unstarted(lhid):
                continue  # a start given up before it had any effect (tried again elsewhere)
            if new_crash or not any(
                k.powered and k.name == c.host for c in before for k in kernels
            ):
                continue  # lost with the machine that held it
            ok = False
            self.violations.append(
                f"t={now:.6f} {where}: logical host {lhid:#06x} has no copy left "
                f"(last seen {before}); its program has not ended"
            )
        self.last = found
        return ok

    # --- checking as the simulation runs ---------------------------------------------------
    def watch(self, step_ms: float = 1.0) -> None:
        """Check every step_ms of simulated time (every second, for at most IDLE_TICKS seconds,
        while nothing else is scheduled)."""
        self._step_ns = max(1, int(step_ms * 1_000_000))
        self._idle = 0
        if self._event is None and self.sim is not None:
            self._event = self.sim.at(self.sim.now + self._step_ns, self._tick)

    def _tick(self) -> None:
        self._event = None
        self.check("tick")
        # with nothing else pending only the front can change anything: look again now and then,
        # but not forever (a loop stepping the simulator until something happens must end)
        self._idle = 0 if self.sim.pending > 0 else self._idle + 1
        if self._idle <= IDLE_TICKS:
            step = self._step_ns if not self._idle else max(self._step_ns, S)
            self._event = self.sim.at(self.sim.now + step, self._tick)

    def stop(self) -> None:
        if self._event is not None and self.sim is not None:
            self.sim.cancel(self._event)
        self._event = None
        self.check("stop")

    def assert_held(self) -> None:
        assert not self.violations, "one-copy invariant violated:\n" + "\n".join(
            self.violations[:20]
        )
