"""Live migration of logical hosts with pre-copy (the V paper, section 3): an atomic, bounded transfer.

The steps, as processes of the two program managers talking V IPC:

1. locate: the source's migration worker asks the program manager group for a
   willing host (excluding hosts already tried); only an answer from a program
   manager (a process of a machine's system logical host) counts;
2. initialise: MG_INIT to that program manager, which forwards it to a
   receiver process; the receiver creates a new logical host under a new id
   (a copy: `copy_of` names the original), with teams whose pages are mapped
   but empty;
3. pre-copy: MG_PAGES batches (the receiver MoveFrom's them out of the
   worker); round 1 copies every mapped page, later rounds the pages the MMU's
   modified bits mark since the previous round; a stop rule ends the rounds;
4. freeze: the logical host is frozen (no process runs; requests to it are
   deferred and answered with reply-pending; replies to it are dropped), the
   residue is copied;
5. commit, a two-phase commit with the source as coordinator: MG_STATE carries
   the kernel-server and program-manager state; the receiver checks and stages
   it and answers "prepared", its copy still FROZEN. On that answer the source
   deletes its copy (the decision: from here the new copy is the only one) and
   sends MG_COMMIT ("go", retransmitted until answered); the receiver gives the
   copy the original id, unfreezes it and broadcasts the new binding. A
   receiver that waits for "go" in vain asks the source (MG_OUTCOME) what
   became of the attempt with ITS id (each attempt has its own): committed ->
   unfreeze, aborted -> discard; a source that restarted knows no record, and
   then the receiver asks every program manager (MG_WHERE) whether another
   copy lives: none answers -> unfreeze, one does -> discard.

Every state has a timer and every migration ends within `migration.timeout_s`
at the source: done, aborted with the program running where it was, or
destroyed with -n. Until the source has the "prepared" answer it may always
abort (the receiver never unfreezes without "go" or proof that the source holds
no copy); after it, the source never unfreezes. So at no instant are there two
unfrozen copies, and there is always one copy (docs/PROTOCOL.md, "Migration",
has the state table; vcluster/invariants.py checks it).
"""

from __future__ import annotations

import json
import logging
import struct
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.mmu import Prot
from guest import abi
from vkernel import ops
from vkernel.capture import Plan, check_pages
from vkernel.messages import error, pack, signed, unpack
from vkernel.process import LogicalHost, State
from vkernel.servers.program_manager import (
    MG_ABORT,
    MG_COMMIT,
    MG_INIT,
    MG_OUTCOME,
    MG_PAGES,
    MG_STATE,
    MG_WHERE,
)

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

PAGE = abi.PAGE_SIZE
MS = 1_000_000
S = 1_000_000_000
SETTLE_POLL_NS = 5 * MS  # the freeze looks again whether the logical host's transfers have ended
RESIDENCY_POLL_NS = 20 * MS  # a logical host paged in from the file server: resident yet?
BATCH_BYTES = 128 * 1024 + 4096  # data per MG_PAGES request: four trains of 32 KB, plus headers
PAGE_HEADER = struct.Struct(">HHB3x")  # team index, vpage, prot (| ZERO_FLAG: no data follows)
ZERO_FLAG = 0x80
ZERO_PAGE = bytes(abi.PAGE_SIZE)
BUF = 0  # the worker's buffer in its own (server) memory
MOVING_WAIT_STEPS = 200
MAX_TEAMS = 64
MAX_BLOB = 4 << 20  # an MG_INIT layout or MG_STATE blob larger than this is refused
MAX_VPAGE = 1 << 16  # PAGE_HEADER carries a vpage in 16 bits

# the states of the two ends (shown by ps, carried by the migration records, logged)
LOCATING, INITIALISING, PRECOPY, FROZEN, COMMITTING = (
    "locating",
    "initialising",
    "precopy",
    "frozen",
    "committing",
)
DONE, ABORTED, DESTROYED = "done", "aborted", "destroyed"
RECEIVING, FROZEN_COPY, COMMITTED, DISCARDED = "receiving", "frozen-copy", "committed", "discarded"

# MG_OUTCOME answers: what became of the source's copy in migration `id`
OUT_COMMITTED = 1  # deleted: the destination's copy is the one
OUT_ABORTED = 2  # kept (the migration was given up): the destination's copy is a duplicate
OUT_PENDING = 3  # not decided yet: ask again
OUT_NONE = (
    4  # no copy here and no record (the machine restarted since): the destination's is the one
)


class MigrationFailed(Exception):
    """The destination stopped answering, refused, or answered nonsense; the old copy keeps running."""


class ProgramEnded(MigrationFailed):
    """Every process of the logical host ended during its migration: nothing is left to move."""


HOST_QUERY_ATTEMPTS = 3  # PM_QUERY_HOST group Sends of a locate before "no willing host answered"


def is_program_manager(pid: int, stride: int) -> bool:
    """Whether pid can be a program manager: a process (not a group) of a machine's system
    logical host (the first id of the machine's range, which no guest logical host ever has;
    `stride` is the cluster's ids per machine, Kernel.lh_stride)."""
    lhid = abi.pid_lhid(pid)
    return pid > 0 and not abi.is_group(pid) and lhid != 0 and lhid % stride == 0


@dataclass
class Incoming:
    """The destination's end of one migration (the receiver's state)."""

    mig_id: int
    old_lhid: int
    migrator: int  # the source's worker
    lh: LogicalHost | None = None
    teams: list[Any] = field(default_factory=list)
    state: str = RECEIVING
    staged: dict[str, Any] | None = None  # the checked MG_STATE, applied at the commit


class MigrationEngine:
    """One per kernel: the source side (migrate_worker) and the destination side (receive_worker)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.policy = kernel.config.migration
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # (side, lhid, state, detail) at every state transition of either end (vcluster/invariants.py)
        self.transition_listeners: list[Callable[..., None]] = []
        self.records: list[dict[str, Any]] = []
        self.copy_ns = 0  # time spent copying pages in the current attempt
        self.copy_spans: list[tuple[int, int, int]] = []  # ... when, and the bytes (the benchmarks')
        self.outcomes: OrderedDict[int, int] = (
            OrderedDict()
        )  # migration id -> OUT_COMMITTED/OUT_ABORTED
        self.incoming: dict[
            int, Incoming
        ] = {}  # migration id -> the receiver's state, while it lives
        self.handing_over: set[int] = set()  # lhids deleted here whose new copy may not run yet
        self._serial = 0
        cost = kernel.cost
        # one Send's worth of retransmissions: how long an unanswered Send lasts in the transport
        self.send_bound_ms = int(cost.retransmit_timeout_ms * (cost.max_retransmits + 1))
        kernel.migration = self

    # --- states ---------------------------------------------------------------------------
    def _enter(
        self,
        side: str,
        lhid: int,
        state: str,
        detail: str = "",
        record: dict | None = None,
        lh: LogicalHost | None = None,
    ) -> None:
        """A state transition of either end: logged, recorded, shown by ps, told to the listeners."""
        k = self.k
        log.info(
            "%s: migration %s of %#06x: %s%s",
            k.name,
            side,
            lhid,
            state,
            f" ({detail})" if detail else "",
        )
        if record is not None:
            record["state"] = state
            record["states"].append(
                [round(k.sim.now / S, 9), state + (f" {detail}" if detail else "")]
            )
        if lh is not None:
            shown = f"precopy-{record['rounds']}" if state == PRECOPY and record else state
            lh.migration_state = shown if state not in (DONE, ABORTED, DESTROYED) else ""
        for listener in self.transition_listeners:
            listener(side, lhid, state, detail)

    def _new_id(self) -> int:
        """A migration id: our system lhid in the top 16 bits, a serial below. One per attempt, so
        that a destination given up in one attempt cannot take the outcome of a later one."""
        self._serial += 1
        return ((self.k.system_lh.lhid << 16) | (self._serial & 0xFFFF)) & 0xFFFFFFFF

    def _left_ms(self, deadline: int) -> int:
        left = (deadline - self.k.sim.now) // MS
        if left <= 0:
            raise MigrationFailed(
                f"not done within migration.timeout_s ({self.policy.timeout_s:g} s)"
            )
        return left

    # ================================================================ source side
    def migrate_worker(self, pid: int) -> Generator[Any, Any, None]:
        """Serves one PM_MIGRATE: pid 0 = every remotely executed program here."""
        k = self.k
        sender, msg = yield ops.Receive()
        _, target, flags = unpack(msg)[:3]
        destroy = bool(flags & abi.PM_MIGRATE_DESTROY)
        if target == 0:
            lhs = [
                lh
                for lh in k.lhs.values()
                if lh.remote and not lh.frozen and lh.teams and not lh.migrating
            ]
        else:
            lh = k.lhs.get(abi.pid_lhid(target))
            if lh is None or lh.system or not lh.teams or lh.frozen or lh.migrating:
                yield ops.Reply(sender, error(abi.ENOPROC))
                return
            lhs = [lh]
        moved = 0
        failed = 0
        for lh in lhs:
            record = yield from self.migrate_lh(pid, lh, destroy)
            if record["ok"]:
                moved += 1
            elif not record.get("destroyed") and not record.get("ended"):
                failed += 1
        yield ops.Reply(sender, pack(-abi.EIO if failed else 0, moved, len(lhs)))

    def migrate_lh(
        self, pid: int, lh: LogicalHost, destroy: bool, eviction: bool = False
    ) -> Generator[Any, Any, dict[str, Any]]:
        k = self.k
        names = sorted({p.name for p in lh.processes.values() if p.team is not None})
        start = k.sim.now
        record: dict[str, Any] = {
            "program": names[0] if len(names) == 1 else ",".join(names),
            "pids": sorted(p.pid for p in lh.processes.values()),
            "lhid": lh.lhid,
            "from": k.name,
            "to": None,
            "ok": False,
            "rounds": 0,
            "precopy_bytes": 0,
            "freeze_bytes": 0,
            "state_bytes": 0,
            "bytes": 0,
            "copy_ms": 0.0,
            "freeze_ms": 0.0,
            "total_ms": 0.0,
            "stop_reason": None,
            # one entry per pre-copy round of every attempt (their bytes sum to precopy_bytes)
            "precopy_rounds": [],
            "written_pages": 0,  # distinct pages the program wrote during the last attempt's rounds
            "freeze_pages": 0,
            "attempts": [],
            "residual": self.residual_dependencies(lh),
            "destroyed": False,
            "error": None,
            "started": start / S,
            "eviction": eviction,
            "ended": False,
            "id": self._new_id(),  # each attempt takes a fresh id (attempt()): this is the last one
            "state": None,
            "states": [],
            "commit_acked": None,
            "timeout_s": self.policy.timeout_s,
        }
        # every step ends by the deadline; the margin is for the bookkeeping after the last one
        bound = int(self.policy.timeout_s * S)
        deadline = start + bound - min(50 * MS, bound // 10)
        lh.migrating = True
        try:
            yield from self._migrate(pid, lh, destroy, eviction, record, deadline)
        except Exception as exc:  # a bug must not leave the program frozen or the requester waiting
            log.exception("%s: migration of %s failed unexpectedly", k.name, record["program"])
            record["ok"] = False
            record["error"] = f"internal error: {exc!r}"
            if lh.lhid in k.lhs and k.lhs[lh.lhid] is lh and lh.frozen:
                self.outcomes[record["id"]] = OUT_ABORTED
                self.unfreeze(lh)
        finally:
            lh.migrating = False
            lh.migration_state = ""
        if record["ok"]:
            final = DONE
        elif record["destroyed"]:
            final = DESTROYED
        else:
            final = ABORTED
        self._enter("source", record["lhid"], final, record["error"] or "", record)
        record["bytes"] = record["precopy_bytes"] + record["freeze_bytes"] + record["state_bytes"]
        record["total_ms"] = round((k.sim.now - start) / MS, 3)
        self.records.append(record)
        for listener in self.listeners:
            listener(record)
        return record

    def _migrate(
        self,
        pid: int,
        lh: LogicalHost,
        destroy: bool,
        eviction: bool,
        record: dict[str, Any],
        deadline: int,
    ) -> Generator[Any, Any, None]:
        k = self.k
        excluded: list[int] = []
        tries: list[tuple[int | None, str]] = []
        for _ in range(self.policy.attempts):
            if k.sim.now >= deadline:
                break
            try:
                self._check_alive(lh)
                self._enter("source", lh.lhid, LOCATING, record=record, lh=lh)
                found = yield from self.find_host(pid, lh, excluded, deadline)
            except ProgramEnded as exc:
                record["error"] = str(exc)
                record["ended"] = True
                return
            except MigrationFailed as exc:
                record["error"] = str(exc)
                break
            if found is None:
                record["error"] = "no willing host answered"
                break
            excluded.append(abi.pid_lhid(found[0]))
            tries.append(found)
            done = yield from self._try(pid, lh, found[0], found[1], record, deadline)
            if done or record["ended"]:
                return
        home = self._home_pm(lh)
        if eviction and home is not None and lh.lhid in k.lhs and k.sim.now < deadline:
            # nobody idle: an evicted program goes back to its home machine
            done = yield from self._try(pid, lh, home, "home", record, deadline)
            if done or record["ended"]:
                return
        if k.sim.now >= deadline and not record["error"]:
            record["error"] = f"not done within migration.timeout_s ({self.policy.timeout_s:g} s)"
        if destroy and lh.lhid in k.lhs and k.lhs[lh.lhid] is lh:
            for proc in list(lh.processes.values()):
                k.exit_process(proc, -abi.EKILLED, reason="migrateprog -n: no host accepted it")
            record["destroyed"] = True

    def _try(
        self,
        pid: int,
        lh: LogicalHost,
        dest_pm: int,
        dest_name: str,
        record: dict[str, Any],
        deadline: int,
    ) -> Generator[Any, Any, bool]:
        """One attempt at one host; True if the logical host moved."""
        try:
            yield from self.attempt(pid, lh, dest_pm, dest_name, record, deadline)
        except ProgramEnded as exc:
            record["attempts"].append(
                {"host": dest_name, "ok": False, "error": str(exc), "id": record["id"]}
            )
            record["error"] = str(exc)
            record["ended"] = True
            log.info("%s: migration of %s: %s", self.k.name, record["program"], exc)
            return False
        except MigrationFailed as exc:
            record["attempts"].append(
                {
                    "host": record.get("to_name") or dest_name,
                    "ok": False,
                    "error": str(exc),
                    "id": record["id"],
                }
            )
            record["error"] = f"{record.get('to_name') or dest_name}: {exc}"
            log.info(
                "%s: migration of %s to %s failed: %s",
                self.k.name,
                record["program"],
                dest_name,
                exc,
            )
            return False
        record["attempts"].append(
            {"host": record.get("to_name") or dest_name, "ok": True, "id": record["id"]}
        )
        record["ok"] = True
        record["to"] = record.get("to_name") or dest_name
        record["error"] = None
        return True

    def _check_alive(self, lh: LogicalHost, teams: list | None = None) -> None:
        """Raise if the logical host ended (ProgramEnded) or its teams changed (MigrationFailed)."""
        k = self.k
        if k.lhs.get(lh.lhid) is not lh or not any(
            p.team is not None for p in lh.processes.values()
        ):
            raise ProgramEnded("program ended during its migration")
        if teams is not None and (
            any(t.dead for t in teams)
            or len(lh.teams) != len(teams)
            or any(a is not b for a, b in zip(lh.teams, teams, strict=False))
        ):
            raise MigrationFailed(
                "its teams changed during the copy (a sub-program started or ended)"
            )

    def _home_pm(self, lh: LogicalHost) -> int | None:
        """The program manager of the machine a guest came from (its creator's), if not this one."""
        pm = self.k.servers.get("program")
        for proc in lh.processes.values():
            rec = pm.programs.get(proc.pid) if pm else None
            if rec is not None and rec.creator and not self.k.is_local(rec.creator):
                return abi.make_pid(abi.pid_lhid(rec.creator), abi.LOCAL_PROGRAM_MANAGER)
        return None

    def residual_dependencies(self, lh: LogicalHost) -> list[str]:
        """State of this program that lives on this machine and would not move with it."""
        k = self.k
        found = []
        pm = k.servers.get("program")
        for proc in lh.processes.values():
            rec = pm.programs.get(proc.pid) if pm else None
            if rec is None:
                continue
            for what, pid in (
                ("standard output", rec.stdout[0]),
                ("standard input", rec.stdin[0]),
                ("file server", rec.fileserver),
            ):
                if pid and k.is_local(pid) and abi.pid_lhid(pid) != lh.lhid:
                    server = k.processes.get(pid)
                    found.append(
                        f"{proc.name}: {what} is {server.name if server else hex(pid)} on {k.name}"
                    )
        for proc in lh.processes.values():
            for gid in proc.groups:
                if abi.pid_lhid(gid) and abi.pid_lhid(gid) != lh.lhid and k.is_local(gid):
                    found.append(f"{proc.name}: member of local group {gid:#x} on {k.name}")
        return sorted(set(found))

    def find_host(
        self, pid: int, lh: LogicalHost, excluded: list[int], deadline: int
    ) -> Generator[Any, Any, tuple[int, str] | None]:
        """A willing program manager, or None. An answer that does not come from a program
        manager (or names another process than its sender) is no answer."""
        need_kb = sum(t.memory_bytes for t in lh.teams) // 1024
        longs = [0] * 4
        for i, lhid in enumerate(excluded[:4]):
            longs[i] = lhid
        query = pack(abi.PM_QUERY_HOST, 0, *longs, need_kb)
        for _ in range(HOST_QUERY_ATTEMPTS):  # a query lost on the wire is asked again
            replier, reply = yield ops.Send(
                abi.PROGRAM_MANAGER_GROUP, query, timeout_ms=self._left_ms(deadline)
            )
            if replier != -abi.ETIMEOUT or self.k.sim.now >= deadline:
                break
        if replier <= 0:
            return None
        status, pm = unpack(reply)[:2]
        if status or pm != replier or not is_program_manager(pm, self.k.lh_stride) or self.k.is_local(pm):
            log.info(
                "%s: host query answered by %#x (naming %#x): not a program manager",
                self.k.name,
                replier,
                pm,
            )
            return None
        name = reply[16:32].rstrip(b"\0").decode("latin-1") or hex(pm)
        return pm, name

    def _send(
        self, dest: int, msg: bytes, deadline: int, what: str, expect_lhid: int
    ) -> Generator[Any, Any, tuple[int, ...]]:
        """Send to the destination within the deadline; the reply must come from a process of
        `expect_lhid` (the destination's system logical host) with status 0 and echo the migration
        id where the protocol says so. Anything else fails the attempt."""
        replier, reply = yield ops.Send(dest, msg, timeout_ms=self._left_ms(deadline))
        if replier <= 0:
            raise MigrationFailed(f"no answer {what} ({self._err(replier)})")
        expected = (
            abi.pid_lhid(replier) == expect_lhid if expect_lhid else is_program_manager(replier, self.k.lh_stride)
        )
        if not expected or abi.is_group(replier) or self.k.is_local(replier):
            raise MigrationFailed(f"answer {what} from {replier:#x}, not from the destination")
        m = unpack(reply)
        if m[0]:
            raise MigrationFailed(f"refused {what}: {self._err(signed(m[0]))}")
        return m

    def attempt(
        self,
        pid: int,
        lh: LogicalHost,
        dest_pm: int,
        dest_name: str,
        record: dict[str, Any],
        deadline: int,
    ) -> Generator[Any, Any, None]:
        k = self.k
        mmu = k.mmu
        mig_id = record["id"] = self._new_id()
        # a program manager's system logical host; for "home" (a local group) any machine's, then
        # the one whose receiver answers
        dest_lhid = 0 if abi.is_group(dest_pm) else abi.pid_lhid(dest_pm)
        record["to_name"] = None
        self._enter("source", lh.lhid, INITIALISING, dest_name, record, lh)
        yield from self._await_residency(lh, deadline)
        self._check_alive(lh)
        teams = list(lh.teams)
        # pages the file server already holds (flushed while this host was idle, unmodified since)
        backing = k.flusher.backing_for(lh) if k.flusher is not None else None
        backed: dict[int, set[int]] = {}
        if backing is not None:
            for i, team in enumerate(teams):
                modified = set(mmu.modified_pages(team.ctx))
                backed[i] = {
                    vp
                    for vp in k.flusher.clean_pages(backing, i)
                    if vp not in modified and mmu.entry(team.ctx, vp) is not None
                }
        layout = [k._capture().team_layout(i, t) for i, t in enumerate(teams)]
        for i, spec in enumerate(layout):
            spec["backed"] = sorted(backed.get(i, ()))
        record["backed_bytes"] = sum(len(v) for v in backed.values()) * PAGE
        blob = json.dumps(
            {
                "lhid": lh.lhid,
                "name": lh.name,
                "teams": layout,
                "backing_file": backing.name if backing is not None else "",
            }
        ).encode()
        record["init_bytes"] = len(blob)
        self._put(pid, blob)
        m = yield from self._send(
            dest_pm,
            pack(MG_INIT, lh.lhid, len(teams), BUF, len(blob), mig_id),
            deadline,
            "to the migration request",
            dest_lhid,
        )
        receiver, new_lhid = m[1], m[2]
        dest_lhid = dest_lhid or abi.pid_lhid(receiver)
        if receiver <= 0 or abi.pid_lhid(receiver) != dest_lhid or m[3] != mig_id:
            raise MigrationFailed(
                f"a malformed answer to the migration request (receiver {receiver:#x})"
            )
        name = struct.pack(">4I", *m[4:8]).rstrip(b"\0").decode("latin-1")
        record["new_lhid"] = new_lhid
        record["to_name"] = name or dest_name
        self.copy_ns = 0
        self.copy_spans = []
        # --- pre-copy rounds -------------------------------------------------------
        previous: int | None = None
        rounds = 0
        attempt_no = len(record["attempts"]) + 1
        written: set[tuple[int, int]] = set()
        frozen = False
        freeze_start = 0
        try:
            self._check_alive(lh, teams)
            pages = [
                (i, vp)
                for i, t in enumerate(teams)
                for vp in mmu.mapped_pages(t.ctx)
                if vp not in backed.get(i, ())
            ]
            while True:
                rounds += 1
                record["rounds"] = rounds
                self._enter("source", lh.lhid, PRECOPY, f"round {rounds}", record, lh)
                self._clear(teams, pages)
                t0 = k.sim.now
                sent = yield from self.send_pages(pid, receiver, lh, teams, pages, deadline)
                record["precopy_bytes"] += sent
                elapsed = max(1, k.sim.now - t0)
                residue = self._modified(teams)
                estimate_ms = len(residue) * elapsed / max(1, len(pages)) / MS
                written.update(residue)
                record["written_pages"] = len(written)
                record["precopy_rounds"].append(
                    {
                        "attempt": attempt_no,
                        "round": rounds,
                        "started": round(t0 / S, 9),
                        "ms": round(elapsed / MS, 3),
                        "pages": len(pages),
                        "bytes": sent,
                        # written while this round copied: what the next round (or the freeze) copies
                        "dirtied_pages": len(residue),
                        "residue_bytes": len(residue) * PAGE,
                        "estimate_ms": round(estimate_ms, 3),
                    }
                )
                if estimate_ms <= self.policy.freeze_target_ms:
                    reason = f"residue of {len(residue)} pages copies in {estimate_ms:.1f} ms, under the freeze target"
                    break
                if previous is not None and len(residue) >= self.policy.min_shrink * previous:
                    reason = f"residue no longer shrinking ({previous} -> {len(residue)} pages)"
                    break
                if rounds >= self.policy.max_rounds:
                    reason = f"round cap of {self.policy.max_rounds}"
                    break
                previous = len(residue)
                pages = residue
            record["stop_reason"] = reason
            # --- freeze and complete the copy ------------------------------------------
            freeze_start = k.sim.now
            lh.frozen = frozen = True
            self._enter("source", lh.lhid, FROZEN, record=record, lh=lh)
            yield from self._settle(lh)
            record["settle_ns"] = k.sim.now - freeze_start  # the running slice ends (emergent)
            self._check_alive(lh, teams)
            residue = self._modified(teams)
            self._clear(teams, residue)
            record["freeze_pages"] = len(residue)
            record["freeze_bytes"] = yield from self.send_pages(
                pid, receiver, lh, teams, residue, deadline
            )
            self._check_alive(lh, teams)
            plan = Plan()
            state = k.capture_lh(lh, plan, worker=pid, teams=teams)
            state["id"] = mig_id
            blob = json.dumps(state).encode()
            record["state_bytes"] = len(blob)
            objects = record["objects"] = len(lh.processes) + len(teams)
            record["teams"] = len(teams)
            yield ops.charge(
                k.cost, "ks_pm_state_copy_base_us", ("ks_pm_state_copy_per_object_us", objects)
            )
            self._check_alive(lh, teams)
            self._put(pid, blob)
            # --- commit, phase 1: the destination stages the state, its copy stays frozen -----
            self._enter("source", lh.lhid, COMMITTING, "prepare", record, lh)
            m = yield from self._send(
                receiver,
                pack(MG_STATE, BUF, len(blob), mig_id),
                deadline,
                "while committing",
                dest_lhid,
            )
            if m[1] != mig_id:
                raise MigrationFailed("a malformed answer while committing")
            self._check_alive(lh, teams)
        except MigrationFailed as exc:
            # nothing is decided: the destination never unfreezes without our "go", so our copy,
            # which is still here, runs on; the destination learns it (MG_ABORT, or MG_OUTCOME)
            self.outcomes[mig_id] = OUT_ABORTED
            self._trim_outcomes()
            self._abort_remote(receiver, mig_id)
            if frozen:
                self.unfreeze(lh)
            log.info("%s: migration %#x of %#06x aborted: %s", k.name, mig_id, lh.lhid, exc)
            raise
        # --- the decision: the destination holds a complete frozen copy; ours goes -----------
        self.outcomes[mig_id] = OUT_COMMITTED
        self._trim_outcomes()
        dest_mac = self._mac_of(receiver)
        if backing is not None:
            backing.handed_over = True  # the new host's pager reads the file, then removes it
        k.remove_lh(lh, plan, dest_mac)
        self.handing_over.add(lh.lhid)
        self._enter("source", lh.lhid, COMMITTING, "deleted here; go", record)
        # --- commit, phase 2: "go", until answered or the bound (the receiver also asks us) ------
        acked = False
        try:
            while k.sim.now < deadline and not acked:
                left = max(1, min((deadline - k.sim.now) // MS, self.send_bound_ms))
                replier, reply = yield ops.Send(receiver, pack(MG_COMMIT, mig_id), timeout_ms=left)
                if (
                    replier > 0
                    and abi.pid_lhid(replier) == dest_lhid
                    and unpack(reply)[:2] == (0, mig_id)
                ):
                    acked = True
                elif replier == -abi.ENOPROC:
                    break  # the receiver has ended: it committed on asking us (or its machine restarted)
        finally:
            self.handing_over.discard(record["lhid"])
        record["commit_acked"] = acked
        # the freeze ends when the new copy runs: known here when "go" is answered (our own clock)
        record["freeze_ms"] = round((k.sim.now - freeze_start) / MS, 3)
        record["copy_ms"] = round(self.copy_ns / MS, 3)
        record["freeze_span"] = (freeze_start, k.sim.now)  # simulated ns (not in the summaries)
        record["copy_spans"] = list(self.copy_spans)
        log.info(
            "%s: migrated %s to %s: %d rounds, freeze %.1f ms%s",
            k.name,
            record["program"],
            record["to_name"],
            rounds,
            record["freeze_ms"],
            "" if acked else " (go not answered)",
        )

    def _trim_outcomes(self) -> None:
        while len(self.outcomes) > 4096:
            self.outcomes.popitem(last=False)

    def outcome(self, old_lhid: int, mig_id: int) -> int:
        """MG_OUTCOME: what became of our copy of old_lhid in migration mig_id."""
        known = self.outcomes.get(mig_id)
        if known is not None:
            return known
        lh = self.k.lhs.get(old_lhid)
        if lh is not None and lh.migrating:
            return OUT_PENDING
        if lh is not None:
            return OUT_ABORTED  # it is here, and no migration of it is deciding
        return (
            OUT_NONE  # no copy here, and no record: this machine restarted since (losing its copy)
        )

    # --- helpers of the source ----------------------------------------------------------
    @staticmethod
    def _err(code: int) -> str:
        return abi.ERROR_NAMES.get(-code, str(code))

    def _put(self, pid: int, data: bytes) -> None:
        mem = self.k.server_memory(self.k.processes[pid])
        if len(mem) < len(data):
            mem.extend(bytes(len(data) - len(mem)))
        mem[BUF : BUF + len(data)] = data

    def _mac_of(self, pid: int) -> bytes:
        return self.k.transport.station_of(pid) or b"\xff" * 6

    def _clear(self, teams, pages: list[tuple[int, int]]) -> None:
        by_team: dict[int, list[int]] = {}
        for i, vp in pages:
            by_team.setdefault(i, []).append(vp)
        for i, vps in by_team.items():
            self.k.mmu.clear_modified(teams[i].ctx, vps)

    def _modified(self, teams) -> list[tuple[int, int]]:
        return [(i, vp) for i, t in enumerate(teams) for vp in self.k.mmu.modified_pages(t.ctx)]

    def send_pages(
        self,
        pid: int,
        receiver: int,
        lh: LogicalHost,
        teams,
        pages: list[tuple[int, int]],
        deadline: int,
    ) -> Generator[Any, Any, int]:
        """Copy pages to the receiver in MG_PAGES batches of up to BATCH_BYTES; returns the bytes sent.

        An all-zero page travels as its 8-byte header alone (the receiver zero-fills it)."""
        mmu = self.k.mmu
        sent = 0
        started = self.k.sim.now
        parts: list[bytes] = []
        size = 0
        count = 0
        dest_lhid = abi.pid_lhid(receiver)
        for n, (i, vp) in enumerate(pages):
            entry = mmu.entry(teams[i].ctx, vp)
            if entry is not None:  # else unmapped since (the heap shrank): the final layout says so
                data = self.k.cpu.phys_read(entry.frame * PAGE, PAGE)
                if data == ZERO_PAGE:
                    parts.append(PAGE_HEADER.pack(i, vp, int(entry.prot) | ZERO_FLAG))
                    size += PAGE_HEADER.size
                else:
                    parts.append(PAGE_HEADER.pack(i, vp, int(entry.prot)))
                    parts.append(data)
                    size += PAGE_HEADER.size + PAGE
                count += 1
            if parts and (size + PAGE_HEADER.size + PAGE > BATCH_BYTES or n == len(pages) - 1):
                blob = b"".join(parts)
                sent += len(blob)
                self._put(pid, blob)
                yield from self._send(
                    receiver,
                    pack(MG_PAGES, BUF, len(blob), count),
                    deadline,
                    "while copying pages",
                    dest_lhid,
                )
                parts, size, count = [], 0, 0
                self._check_alive(lh, teams)  # it runs meanwhile: it may have ended
        self.copy_ns += self.k.sim.now - started
        self.copy_spans.append((started, self.k.sim.now, sent))
        return sent

    def _settle(self, lh: LogicalHost) -> Generator[Any, Any, None]:
        """Let a running slice end and in-flight bulk transfers of the logical host finish."""
        k = self.k
        for _ in range(MOVING_WAIT_STEPS):
            running = k.running is not None and k.running.lh is lh and k.slice_event is not None
            moving = any(p.state is State.MOVING for p in lh.processes.values())
            if not running and not moving:
                return
            wait = k.slice_event.time - k.sim.now + 1 if running else SETTLE_POLL_NS
            yield ops.Delay(max(1, wait))
        raise MigrationFailed("a transfer of the program did not finish")

    def _await_residency(self, lh: LogicalHost, deadline: int) -> Generator[Any, Any, None]:
        """A logical host that arrived by the file server moves on only once it is all resident."""
        k = self.k
        while any(t.backing for t in lh.teams):
            if k.pager is not None:
                for team in lh.teams:
                    if team.backing:
                        k.pager.request(team, set(team.backing))
            if k.sim.now + RESIDENCY_POLL_NS >= deadline:
                raise MigrationFailed("its pages are still coming from the file server")
            yield ops.Delay(RESIDENCY_POLL_NS)
            self._check_alive(lh)

    def _abort_remote(self, receiver: int, mig_id: int) -> None:
        """Best effort: tell the receiver to drop its copy (else it asks us, MG_OUTCOME, or times out)."""
        bound = self.send_bound_ms

        def body(pid: int) -> Generator[Any, Any, None]:
            yield ops.Send(receiver, pack(MG_ABORT, mig_id), timeout_ms=bound)

        self.k.spawn_server(self.k.system_lh, "mg-abort", body)

    def unfreeze(self, lh: LogicalHost) -> None:
        """The migration failed: the old copy runs on, and what waited for it is delivered."""
        k = self.k
        lh.frozen = False
        deferred, lh.deferred = lh.deferred, []
        for req, dst in deferred:
            k.deliver(req, dst)
        for proc in lh.processes.values():
            if proc.state is State.RECEIVE_BLOCKED and proc.msg_queue:
                k._complete_receive(proc)
            elif proc.state is State.READY:
                k._enqueue(proc)
        k.dispatch()

    # ================================================================ destination side
    def receive_worker(self, pid: int) -> Generator[Any, Any, None]:
        """Serves one incoming migration: MG_INIT (forwarded by the program manager), MG_PAGES
        batches, MG_STATE (prepare: staged, the copy stays frozen), then MG_COMMIT ("go": the copy
        runs) or MG_ABORT. Every message is checked and answered; nothing raised gets out."""
        k = self.k
        sender, msg = yield ops.Receive()
        m = unpack(msg)
        inc = Incoming(mig_id=m[5], old_lhid=m[1], migrator=sender)
        try:
            yield from self._receive(pid, sender, m, inc)
        except Exception as exc:
            log.exception(
                "%s: incoming migration of %#06x failed unexpectedly", k.name, inc.old_lhid
            )
            if inc.state in (RECEIVING, FROZEN_COPY) and inc.staged is None:
                self._give_up(inc, f"internal error: {exc!r}")
            # a staged copy is kept frozen: it may be the only one (the source decides)
        finally:
            self.incoming.pop(inc.mig_id, None)

    def _incoming_enter(self, inc: Incoming, state: str, detail: str = "") -> None:
        inc.state = state
        if inc.lh is not None:
            inc.lh.migration_state = state if state not in (COMMITTED, DISCARDED) else ""
        self._enter("destination", inc.old_lhid, state, detail)

    def _give_up(self, inc: Incoming, why: str) -> None:
        if inc.lh is not None:
            self._discard(inc.lh)
        self._incoming_enter(inc, DISCARDED, why)

    def _receive(
        self, pid: int, sender: int, m: tuple[int, ...], inc: Incoming
    ) -> Generator[Any, Any, None]:
        k = self.k
        _, old_lhid, nteams, addr, length, mig_id = m[:6]
        start = k.sim.now
        deadline = start + int(self.policy.timeout_s * S)
        if not (
            0 < old_lhid < 0x10000 and 0 < nteams <= MAX_TEAMS and 0 < length <= MAX_BLOB and mig_id
        ):
            yield ops.Reply(sender, error(abi.EINVAL))
            return
        if abi.pid_lhid(sender) % k.lh_stride or k.is_local(sender) or mig_id in self.incoming:
            yield ops.Reply(sender, error(abi.EINVAL))  # not a migration worker of another machine
            return
        if old_lhid in k.lhs:
            yield ops.Reply(sender, error(abi.EINVAL))
            return
        raw = yield ops.MoveFrom(sender, addr, length)
        if isinstance(raw, int):
            yield ops.Reply(sender, error(-raw))
            return
        try:
            layout = json.loads(raw)
            self._check_layout(layout, nteams)
        except (ValueError, TypeError, KeyError) as exc:
            log.info("%s: malformed migration request from %#x: %s", k.name, sender, exc)
            yield ops.Reply(sender, error(abi.EINVAL))
            return
        self.incoming[mig_id] = inc
        lh = k.new_logical_host(remote=True, name=str(layout.get("name", "")))
        lh.frozen = True  # an incoming copy: nothing runs in it until the commit
        lh.copy_of = old_lhid
        inc.lh = lh
        self._incoming_enter(inc, RECEIVING)
        teams = inc.teams
        try:
            for spec in layout["teams"]:
                team = k.memory.create_team(lh, spec["name"], spec["argv"])
                teams.append(team)
                backed = set(spec.get("backed", ()))
                if backed:
                    team.backing_file = layout["backing_file"]
                    team.backing_index = spec["index"]
                for vp, prot in spec["pages"]:
                    if vp in backed:
                        team.backing[vp] = (
                            prot  # non-resident: the pager brings it from the file server
                        )
                    else:
                        self._map(team, vp, prot)
        except Exception as exc:  # out of memory: refuse, leave nothing behind
            log.info("%s: cannot take logical host %#x: %s", k.name, old_lhid, exc)
            self._give_up(inc, "out of memory")
            yield ops.Reply(sender, error(abi.ENOMEM))
            return
        name = k.name.encode("latin-1")[:16].ljust(16, b"\0")
        yield ops.Reply(sender, pack(0, pid, lh.lhid, mig_id)[:16] + name)
        gap_ms = max(4 * self.send_bound_ms, 2000)  # the longest pause between two of its messages
        go_wait_ms = self.send_bound_ms  # "go" follows "prepared" at once: this long, then ask
        asked = 0
        while True:
            if inc.state == RECEIVING:
                left = (deadline - k.sim.now) // MS
                if left <= 0:
                    self._give_up(inc, "timed out (migration.timeout_s)")
                    return
                wait = min(left, gap_ms)
            elif inc.state == FROZEN_COPY:
                wait = (
                    go_wait_ms if asked < 3 else max(go_wait_ms, int(self.policy.timeout_s * 1000))
                )
            else:  # committed: answer retransmitted "go"s until the source's bound has surely passed
                left = (deadline - k.sim.now) // MS
                if left <= 0:
                    return
                wait = left
            sender, msg = yield ops.Receive(timeout_ms=wait)
            if sender == 0:  # the timer of the state
                if inc.state == RECEIVING:
                    self._give_up(inc, "the source went silent")
                    return
                if inc.state == FROZEN_COPY:
                    asked += 1
                    yield from self._ask_outcome(inc)
                    if inc.state == DISCARDED:
                        return
                continue
            m = unpack(msg)
            code = m[0]
            # the migrator, or (MG_ABORT) a helper of its machine's system logical host
            if sender != inc.migrator and not (
                code == MG_ABORT and abi.pid_lhid(sender) == abi.pid_lhid(inc.migrator)
            ):
                yield ops.Reply(sender, error(abi.EINVAL))
                continue
            if code == MG_PAGES and inc.state == RECEIVING:
                if not 0 < m[2] <= 2 * BATCH_BYTES:
                    yield ops.Reply(sender, error(abi.EINVAL))
                    continue
                data = yield ops.MoveFrom(sender, m[1], m[2])
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                try:
                    self._install_pages(teams, data)
                except (ValueError, IndexError, struct.error) as exc:
                    log.info("%s: migration pages refused: %s", k.name, exc)
                    yield ops.Reply(sender, error(abi.EINVAL))
                    continue
                except Exception as exc:
                    log.info("%s: migration pages refused: %s", k.name, exc)
                    yield ops.Reply(sender, error(abi.ENOMEM))
                    continue
                yield ops.Reply(sender, pack(0))
            elif code == MG_STATE and inc.state == RECEIVING:
                if m[3] != inc.mig_id or not 0 < m[2] <= MAX_BLOB:
                    yield ops.Reply(sender, error(abi.EINVAL))
                    continue
                data = yield ops.MoveFrom(sender, m[1], m[2])
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                try:
                    state = json.loads(data)
                    self.prepare(inc, state)
                except Exception as exc:
                    log.info("%s: migration state refused: %s", k.name, exc)
                    self._give_up(inc, f"state refused: {exc}")
                    yield ops.Reply(sender, error(abi.EINVAL))
                    return
                self._incoming_enter(inc, FROZEN_COPY)
                yield ops.Reply(sender, pack(0, inc.mig_id))
            elif code == MG_STATE and inc.state == FROZEN_COPY and m[3] == inc.mig_id:
                yield ops.Reply(sender, pack(0, inc.mig_id))  # a repeat: prepared already
            elif code == MG_COMMIT and m[1] == inc.mig_id and inc.state in (FROZEN_COPY, COMMITTED):
                if inc.state == FROZEN_COPY:
                    self._commit(inc, "go")
                yield ops.Reply(sender, pack(0, inc.mig_id))  # idempotent
            elif code == MG_ABORT and m[1] == inc.mig_id and inc.state in (RECEIVING, FROZEN_COPY):
                self._give_up(inc, "aborted by the source")
                yield ops.Reply(sender, pack(0, inc.mig_id))
                return
            else:
                yield ops.Reply(sender, error(abi.EINVAL))  # out of sequence, or not this migration

    def _ask_outcome(self, inc: Incoming) -> Generator[Any, Any, None]:
        """No "go" came: ask the source's program manager what became of its copy."""
        k = self.k
        source_pm = abi.make_pid(abi.pid_lhid(inc.migrator), abi.LOCAL_PROGRAM_MANAGER)
        replier, reply = yield ops.Send(
            source_pm, pack(MG_OUTCOME, inc.old_lhid, inc.mig_id), timeout_ms=self.send_bound_ms
        )
        if replier <= 0 or abi.pid_lhid(replier) != abi.pid_lhid(inc.migrator):
            log.info(
                "%s: migration %#x: no outcome from the source (%s); the copy stays frozen",
                k.name,
                inc.mig_id,
                self._err(replier) if replier <= 0 else hex(replier),
            )
            return  # in doubt: keep the frozen copy, ask again later
        status, outcome, echoed = unpack(reply)[:3]
        if status or echoed != inc.mig_id or inc.state != FROZEN_COPY:
            return
        if outcome == OUT_COMMITTED:
            self._commit(inc, "the source deleted its copy for this migration")
        elif outcome == OUT_ABORTED:
            self._give_up(inc, "the source gave this migration up")
        elif outcome == OUT_NONE:
            # the source knows neither a copy nor this migration (it restarted since, losing both):
            # ours is the one only if no other machine holds one (this lhid, or a later attempt's
            # staged copy: only the last attempt can have been decided). Asked of every program
            # manager; while one answers, or the answer is in doubt, the copy stays frozen.
            holder = yield from self._ask_where(inc)
            if inc.state != FROZEN_COPY:
                return
            if holder:
                self._give_up(inc, f"the source restarted; a copy lives on {holder}")
            elif holder is None:
                self._commit(inc, "the source restarted and no machine holds another copy")

    def _ask_where(self, inc: Incoming) -> Generator[Any, Any, str | None]:
        """MG_WHERE to the program managers: the name of a machine that holds another copy that
        may be the one, None if none answered within the group Send's bound, "" if in doubt."""
        replier, reply = yield ops.Send(
            abi.PROGRAM_MANAGER_GROUP, pack(MG_WHERE, inc.old_lhid, inc.mig_id)
        )
        if replier == -abi.ETIMEOUT:
            return None
        if replier <= 0:
            return ""
        status, echoed = unpack(reply)[:2]
        if (
            status
            or echoed != inc.mig_id
            or not is_program_manager(replier, self.k.lh_stride)
            or self.k.is_local(replier)
        ):
            return ""  # not an answer from another machine's program manager: ask again later
        return reply[16:32].rstrip(b"\0").decode("latin-1") or hex(replier)

    def where_reply(self, msg: bytes) -> bytes | None:
        """The answer to MG_WHERE: this machine holds logical host old_lhid (running, frozen or
        being migrated), or a staged copy of a later attempt of the same source; else silence."""
        _, old_lhid, mig_id = unpack(msg)[:3]
        lh = self.k.lhs.get(old_lhid)
        here = lh is not None and not lh.system and bool(lh.processes)
        here = here or any(
            inc.old_lhid == old_lhid
            and inc.state == FROZEN_COPY
            and inc.mig_id >> 16 == mig_id >> 16
            and inc.mig_id & 0xFFFF > mig_id & 0xFFFF
            for inc in self.incoming.values()
        )
        if not here:
            return None
        name = self.k.name.encode("latin-1")[:16].ljust(16, b"\0")
        return pack(0, mig_id)[:16] + name

    def staged(self) -> list[tuple[int, int]]:
        """(pid, lhid) of the processes of copies staged here (prepared, not yet running)."""
        return [
            (proc.pid, inc.old_lhid)
            for inc in self.incoming.values()
            if inc.state == FROZEN_COPY and inc.staged
            for proc, *_ in inc.staged["procs"]
        ]

    def waiting_for(self, system_lhid: int) -> list[int]:
        """Pids of staged copies here that wait for the machine of system_lhid to say whether they
        are the one (its worker deleted its copy, or not, and could not say so)."""
        return [
            proc.pid
            for inc in self.incoming.values()
            if inc.state == FROZEN_COPY and abi.pid_lhid(inc.migrator) == system_lhid and inc.staged
            for proc, *_ in inc.staged["procs"]
        ]

    def outcome_reply(self, msg: bytes) -> bytes:
        """The program manager's answer to MG_OUTCOME."""
        _, old_lhid, mig_id = unpack(msg)[:3]
        return pack(0, self.outcome(old_lhid, mig_id), mig_id)

    def _check_layout(self, layout: Any, nteams: int) -> None:
        """An MG_INIT layout: what the receiver uses of it, with the right types and bounds."""
        if not isinstance(layout, dict) or not isinstance(layout.get("teams"), list):
            raise ValueError("not a layout")
        if len(layout["teams"]) != nteams or not isinstance(layout.get("backing_file", ""), str):
            raise ValueError("team count")
        for i, spec in enumerate(layout["teams"]):
            if (
                not isinstance(spec, dict)
                or spec.get("index") != i
                or not isinstance(spec.get("name"), str)
            ):
                raise ValueError(f"team {i}")
            if not isinstance(spec.get("argv"), list) or not all(
                isinstance(a, str) for a in spec["argv"]
            ):
                raise ValueError(f"team {i}: argv")
            self._check_pages(spec.get("pages"))
            backed = spec.get("backed", [])
            if not isinstance(backed, list) or not all(isinstance(v, int) for v in backed):
                raise ValueError(f"team {i}: backed")

    @staticmethod
    def _check_pages(pages: Any) -> None:
        check_pages(pages)

    def _map(self, team, vp: int, prot: int) -> None:
        if self.k.mmu.entry(team.ctx, vp) is None:
            self.k.memory.map_zero(team, vp, Prot(prot), charge=False)

    def _install_pages(self, teams, data: bytes) -> None:
        k = self.k
        off = 0
        while off < len(data):
            i, vp, prot = PAGE_HEADER.unpack_from(data, off)
            off += PAGE_HEADER.size
            if not 0 <= i < len(teams) or not 0 < prot & ~ZERO_FLAG < 8:
                raise ValueError(f"page header ({i}, {vp:#x}, {prot:#x})")
            if not prot & ZERO_FLAG and off + PAGE > len(data):
                raise ValueError("a page cut short")
            team = teams[i]
            team.backing.pop(vp, None)  # modified since the flush: this copy is the one
            self._map(team, vp, prot & ~ZERO_FLAG)
            entry = k.mmu.entry(team.ctx, vp)
            if prot & ZERO_FLAG:
                k.cpu.phys_write(entry.frame * PAGE, ZERO_PAGE)
            else:
                k.cpu.phys_write(entry.frame * PAGE, data[off : off + PAGE])
                off += PAGE

    def _discard(self, lh: LogicalHost) -> None:
        k = self.k
        for team in list(lh.teams):
            k.memory.destroy_team(team)
        if k.lhs.get(lh.lhid) is lh:
            k.lhs.pop(lh.lhid, None)

    # --- the commit on the destination: prepare (check and stage), then commit (run) ------------
    def prepare(self, inc: Incoming, state: dict[str, Any]) -> None:
        """MG_STATE: check the state and stage everything the commit needs, so that the commit
        cannot fail; the copy stays frozen under its own id. Raises on anything malformed."""
        if not isinstance(state, dict) or state.get("id") != inc.mig_id:
            raise ValueError("not the state of this migration")
        inc.staged = self.k.stage_lh(inc.lh, inc.old_lhid, state, teams=inc.teams)

    def _commit(self, inc: Incoming, why: str) -> None:
        """The source has given up its copy: this one takes the original id and runs."""
        k = self.k
        if inc.old_lhid in k.lhs:  # cannot happen (checked at prepare); never two
            log.warning(
                "%s: logical host %#x appeared during its commit: copy kept frozen",
                self.k.name,
                inc.old_lhid,
            )
            return
        k.restore_lh(inc.lh, inc.old_lhid, inc.staged, teams=inc.teams)
        self._incoming_enter(inc, COMMITTED, why)
