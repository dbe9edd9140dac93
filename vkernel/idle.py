"""The idle detector and eviction daemon of a workstation: who may use it, and taking it back.

A workstation is willing to take remote programs ("@ *", migrations) when its
owner has given no input for `idle.idle_after_s`, its load (runnable programs,
plus programs being created) is at most `idle.load_threshold`, and enough
memory is free. When the owner comes back, every remotely executed program is
suspended at once (the owner's own programs get the CPU immediately) and then
migrated away: to another idle host, or else back to its home machine. It is
destroyed only if the policy says so (`idle.kill_on_evict`); otherwise a guest
that found nowhere to go runs on at guest priority and its eviction is retried
every `idle.evict_retry_s`. Each migration ends within `migration.timeout_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from vkernel import ops
from vkernel.process import LogicalHost

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

S = 1_000_000_000


class IdleDetector:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.policy = kernel.config.idle
        owner = kernel.machine.owner
        self.last_input_ns = (
            owner.last_input_ns if owner.present else -(1 << 62)
        )  # never touched: idle
        kernel.owner_present = owner.present
        owner.listeners.append(self.on_owner)
        kernel.idle = self
        self.evicting = False
        self.evictions = 0

    # --- who may use this machine ------------------------------------------------------
    def idle(self) -> bool:
        if self.k.owner_present:
            return False
        return self.k.sim.now - self.last_input_ns >= int(self.policy.idle_after_s * S)

    def willing(self) -> bool:
        k = self.k
        if not k.powered:
            return False
        if self.policy.answer_any_query:
            return True
        if not self.idle() or self.evicting:
            return False
        if k.load() > self.policy.load_threshold:
            return False
        return k.frames.free_count * 4 >= self.policy.min_free_memory_kb

    # --- the owner comes and goes ---------------------------------------------------------
    def on_owner(self, now_ns: int, present: bool) -> None:
        k = self.k
        k.owner_present = present
        self.last_input_ns = now_ns
        if present and self.policy.evict and not self.evicting:
            guests = self.guests()
            if guests:
                self.evict(guests)

    def guests(self) -> list[LogicalHost]:
        return [lh for lh in self.k.lhs.values() if lh.remote and lh.teams and not lh.frozen]

    def evict(self, guests: list[LogicalHost]) -> None:
        """Suspend every remote program now; migrate them away in a process of the kernel."""
        k = self.k
        self.evicting = True
        self.evictions += 1
        for lh in guests:
            self._suspend(lh)
        log.info("%s: owner is back: evicting %d logical host(s)", k.name, len(guests))
        k.spawn_server(k.system_lh, "evictor", self._evictor, restart=True)

    def _evictor(self, pid: int) -> Generator[Any, Any, None]:
        """Each round migrates every guest (each migration ends within migration.timeout_s: moved,
        destroyed, or left running here); a guest that could not go runs on here at guest priority
        until the next round, evict_retry_s later, while the owner stays."""
        k = self.k
        engine = k.migration
        try:
            while True:
                left = self.guests()
                if not left:
                    break
                stuck = []
                for lh in left:
                    if k.lhs.get(lh.lhid) is not lh or lh.frozen or lh.migrating:
                        continue  # ended, or moving already (a migrateprog of it)
                    self._suspend(lh)
                    record = yield from engine.migrate_lh(
                        pid, lh, destroy=self.policy.kill_on_evict, eviction=True
                    )
                    if (
                        not record["ok"]
                        and not record.get("destroyed")
                        and k.lhs.get(lh.lhid) is lh
                    ):
                        stuck.append(lh)
                        self._resume(
                            lh
                        )  # aborted: it runs where it was, below the owner's programs
                if not stuck or not k.owner_present:  # all gone, or the owner left again
                    break
                log.info(
                    "%s: %d guest(s) found no host; eviction again in %g s",
                    k.name,
                    len(stuck),
                    self.policy.evict_retry_s,
                )
                yield ops.Delay(int(self.policy.evict_retry_s * S))
        finally:
            for lh in self.guests():  # what stays (owner gone, or nowhere to go) runs on
                self._resume(lh)
            self.evicting = False

    def _suspend(self, lh: LogicalHost) -> None:
        for proc in lh.processes.values():
            if proc.team is not None and not proc.suspended:
                proc.evicted = True
                self.k.suspend(proc)

    def _resume(self, lh: LogicalHost) -> None:
        for proc in lh.processes.values():
            if proc.evicted:
                proc.evicted = False
                self.k.resume(proc)
