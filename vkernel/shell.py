"""The command interpreter's V side: processes on the user's home workstation that act for its console.

Each console command that touches programs runs as a small process in the
home machine's system logical host and uses nothing but V IPC: a host query
to the program manager group, PM_EXEC to the chosen program manager, PM_WAIT
to its own program manager, PM_KILL and friends to the program manager of the
program's logical host.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from guest import abi
from vkernel import ops
from vkernel.kernel import Kernel
from vkernel.messages import pack, signed, unpack
from vkernel.migration import is_program_manager
from vkernel.servers import program_query
from vkernel.servers.program_manager import argv_block, query_host_msg

ARGV_AT = 0
INPUT_CHUNK = 4096
QUERY_ATTEMPTS = 3  # PM_QUERY_HOST tries of a console `@ HOST` / `@ *` line
START_ATTEMPTS = 3  # starts of a checkpointed program whose host did not answer (then on "@ *")
QUERY_RETRY_MS = 200  # between them  # bytes of standard input an agent hands over at a time
FIND_ATTEMPTS = 2  # PM_QUERY_PROGRAM group Sends of a round before "nobody (else) runs it"
HOSTILE_ATTEMPTS = 3  # more of them when a process that is no program manager answered first


@dataclass
class Found:
    """What the program managers answered to a PM_QUERY_PROGRAM: each pid with the program manager
    that runs it, the names they gave (a query for a pid), and whether every host could be asked
    (False: more hosts answered than a query can leave out)."""

    pms: dict[int, int] = field(default_factory=dict)  # pid -> program manager pid
    names: dict[int, str] = field(default_factory=dict)
    complete: bool = True
    error: int = 0  # the agent failed (-EIO)


@dataclass
class Job:
    """A program started from the console."""

    serial: int
    argv: list[str]
    host: str | None  # None: local; "*": any idle host
    stdout_instance: int
    pid: int = 0
    host_started: str = ""
    exit_status: int | None = None
    error: str | None = None
    done: bool = False
    checkpoint_ms: int = 0  # checkpoint it this often from its start (issue 16); 0 = not asked
    on_done: list[Callable[[Job], None]] = field(default_factory=list)

    def finish(self) -> None:
        self.done = True
        for fn in self.on_done:
            fn(self)


class Shell:
    """Starts agents on the home kernel; `hosts_by_pm` maps a program manager pid to its host name."""

    def __init__(self, home: Kernel, host_of_pm: Callable[[int], str]) -> None:
        self.k = home
        self.host_of_pm = host_of_pm
        self.display = home.servers["display"]

    def exec(self, job: Job) -> None:
        def failed(exc: Exception) -> None:  # the agent itself failed: the job ends with the reason
            if not job.done:
                job.error = f"{job.argv[0]}: the console's agent failed: {type(exc).__name__}: {exc}"
                job.finish()

        self.k.spawn_server(self.k.system_lh, f"sh:{job.argv[0]}", lambda pid: self._exec(pid, job),
                            on_crash=failed)

    def _find_host(self, pid: int, host: str) -> Generator[Any, Any, int]:
        """Ask the program manager group; returns a program manager pid or -error."""
        name = None if host == "*" else host
        if name == self.k.name:
            return self.k.program_manager.pid
        # A query the group left unanswered (lost frames, every host busy at that instant) is
        # asked again, as pmake does, before the console says no host answered.
        for attempt in range(QUERY_ATTEMPTS):
            if attempt:
                yield ops.Delay(QUERY_RETRY_MS * 1_000_000)
            replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, query_host_msg(name))
            if replier > 0:
                status, pm = unpack(reply)[:2]
                return pm if status == 0 else -signed(status)
            if replier != -abi.ETIMEOUT:
                return replier
        return replier

    def _exec(self, pid: int, job: Job) -> Generator[Any, Any, None]:
        try:
            yield from self._exec_steps(pid, job)
        except Exception:
            if not job.done:  # the agent failed: say so rather than leave the job hanging
                job.error = job.error or f"{job.argv[0]}: the console's agent ended unexpectedly"
                job.finish()
            raise

    def _exec_steps(self, pid: int, job: Job) -> Generator[Any, Any, None]:
        k = self.k
        if job.host is None:
            pm = k.program_manager.pid
        else:
            pm = yield from self._find_host(pid, job.host)
            if pm <= 0:
                job.error = (f"no host named {job.host!r} answered" if job.host != "*"
                             else "no idle host answered '@ *'")
                job.exit_status = None
                job.finish()
                return
        block = argv_block(job.argv)
        k.memory.write(k.processes[pid], ARGV_AT, block)
        display_pid = k.display_server.pid if k.display_server else 0
        # `checkpoint=S`: checkpointed from its start: it runs once its first checkpoint (the
        # loaded image) is on the file server and its home (our program manager) has it
        flags = abi.PM_EXEC_CHECKPOINT | job.checkpoint_ms << 8 if job.checkpoint_ms else 0
        started_on = None
        for attempt in range(START_ATTEMPTS if job.checkpoint_ms else 1):
            replier, reply = yield ops.Send(pm, pack(abi.PM_EXEC, ARGV_AT, len(block), flags,
                                                     display_pid, job.stdout_instance,
                                                     display_pid, job.stdout_instance))
            status, child = unpack(reply)[:2]
            if replier > 0 or not job.checkpoint_ms:
                break
            # its host did not answer (a crash during the start): if its home has its first
            # checkpoint it runs (and restarts from it); else it never ran: start it elsewhere
            watch = k.checkpoints.created_by(pid) if k.checkpoints is not None else None
            if watch is not None:
                replier, status, child, started_on = 1, 0, watch.pid, watch.host
                break
            if k.checkpoints is not None:  # what its first checkpoint left on the file server
                k.checkpoints.forget_start(pid, pm)
            if attempt + 1 < START_ATTEMPTS:
                pm = yield from self._find_host(pid, "*")
                if pm <= 0:
                    break
        if replier <= 0 or status:
            code = -replier if replier <= 0 else -signed(status)
            job.error = f"{job.argv[0]}: could not start: {abi.ERROR_NAMES.get(code, code)}"
            job.finish()
            return
        job.pid = child
        job.host_started = started_on or self.host_of_pm(pm)
        my_pm = abi.make_pid(k.system_lh.lhid, abi.LOCAL_PROGRAM_MANAGER)
        replier, reply = yield ops.Send(my_pm, pack(abi.PM_WAIT, child))
        status, exit_status = unpack(reply)[:2]
        job.exit_status = signed(exit_status) if replier > 0 and status == 0 else None
        job.finish()

    def input(self, instance: int, data: bytes, end: bool = False) -> None:
        """Hand typed input for a program's standard input (its display instance) to the display server."""
        chunks = [data[i : i + INPUT_CHUNK] for i in range(0, len(data), INPUT_CHUNK)] or [b""]

        def agent(me: int) -> Generator[Any, Any, None]:
            proc = self.k.processes[me]
            for i, chunk in enumerate(chunks):
                if chunk:
                    self.k.memory.write(proc, ARGV_AT, chunk)
                last = end and i == len(chunks) - 1
                yield ops.Send(self.k.display_server.pid,
                               pack(abi.IO_INPUT, instance, ARGV_AT, len(chunk), int(last)))

        self.k.spawn_server(self.k.system_lh, "sh:input", agent)

    def control(self, code: int, pid: int, done: Callable[[int], None]) -> None:
        """PM_KILL / PM_SUSPEND / PM_RESUME to the program manager of pid's logical host."""

        def agent(me: int) -> Generator[Any, Any, None]:
            target = abi.make_pid(abi.pid_lhid(pid), abi.LOCAL_PROGRAM_MANAGER)
            replier, reply = yield ops.Send(target, pack(code, pid))
            done(replier if replier <= 0 else signed(unpack(reply)[0]))

        self.k.spawn_server(self.k.system_lh, "sh:control", agent, on_crash=lambda exc: done(-abi.EIO))

    def migrate(self, targets: list[int], destroy: bool, done: Callable[[list[int]], None]) -> None:
        """PM_MIGRATE for each pid (to the program manager of its logical host), or pid 0 here."""

        def agent(me: int) -> Generator[Any, Any, None]:
            results = []
            flags = abi.PM_MIGRATE_DESTROY if destroy else 0
            for pid in targets:
                if pid:
                    pm = abi.make_pid(abi.pid_lhid(pid), abi.LOCAL_PROGRAM_MANAGER)
                else:
                    pm = self.k.program_manager.pid
                replier, reply = yield ops.Send(pm, pack(abi.PM_MIGRATE, pid, flags))
                results.append(replier if replier <= 0 else signed(unpack(reply)[0]))
            done(results)

        self.k.spawn_server(self.k.system_lh, "sh:migrateprog", agent,
                            on_crash=lambda exc: done([-abi.EIO] * max(1, len(targets))))

    def find_programs(self, name: str | None, pid: int, done: Callable[[Found], None]) -> None:
        """Ask the program manager group which programs are named `name` (or which runs `pid`):
        round by round, each leaving out the hosts that have answered, until a round goes
        unanswered (FIND_ATTEMPTS group Sends, each bounded by host_query_timeout_ms)."""

        def agent(me: int) -> Generator[Any, Any, None]:
            found = Found()
            excluded: list[int] = []
            while len(excluded) <= program_query.MAX_EXCLUDED:
                msg = program_query.request(name, pid, excluded)
                unanswered = hostile = 0
                while unanswered < FIND_ATTEMPTS and hostile <= HOSTILE_ATTEMPTS:
                    replier, reply = yield ops.Send(abi.PROGRAM_MANAGER_GROUP, msg)
                    if replier > 0 and not is_program_manager(replier, self.k.lh_stride):
                        hostile += 1  # an answer that is not a program manager's is no answer
                    elif replier == -abi.ETIMEOUT:
                        unanswered += 1
                    else:
                        break
                if replier <= 0 or not is_program_manager(replier, self.k.lh_stride) or unpack(reply)[0]:
                    break  # nobody (else) runs it
                count, pids, pname = program_query.parse_answer(reply, name is None)
                count = min(count, program_query.MAX_MATCHES)
                while len(pids) < count:  # the rest of a long answer, asked of that manager
                    more_r, more = yield ops.Send(replier, program_query.request(name, 0, (), len(pids)))
                    if more_r != replier or unpack(more)[0]:
                        break
                    _, extra, _ = program_query.parse_answer(more, False)
                    if not extra or set(extra) <= set(pids):
                        break
                    pids += extra
                pids = [p for p in pids if p > 0 and not abi.is_group(p) and abi.pid_lhid(p)]
                for p in pids:
                    found.pms.setdefault(p, replier)
                    if pname:
                        found.names[p] = pname
                if name is None or abi.pid_lhid(replier) in excluded:
                    break  # a pid runs in one place
                excluded.append(abi.pid_lhid(replier))
            else:
                found.complete = False
            done(found)

        self.k.spawn_server(self.k.system_lh, "sh:find", agent,
                            on_crash=lambda exc: done(Found(error=-abi.EIO)))
