"""A booted cluster with its kernels and a console that takes console lines; headless `run` and `boot`."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from configs.loader import ConfigError, load_config, resolve_config
from emulator.cluster import Cluster
from guest import abi, build
from vcluster import checkpointing, names, segments
from vkernel.boot import boot_kernel
from vkernel.filesystem import FsError
from vkernel.kernel import FaultReport, Kernel
from vkernel.shell import Job, Shell

log = logging.getLogger(__name__)

S = 1_000_000_000
ARGV_MAX = 4096  # a program's argv block (NUL-terminated strings) as the program manager takes it
MAX_SIM_SECONDS = 1_000_000.0  # a cluster's simulated time never passes this (about 11.6 days)


# lines of the interactive console (`vcluster boot`/`attach`) that a cluster without one has no use for
CONSOLE_ONLY = ("speed", "pause", "step", "view", "zoom", "clear", "help", "quit", "exit", "shutdown")


class LineError(ValueError):
    """A console line that cannot be executed; the message says why."""


def parse_seconds(value: object, what: str = "wait") -> float:
    """A number of simulated seconds from a console word (or a JSON number): finite, not negative."""
    if isinstance(value, bool):
        raise LineError(f"{what}: not a number of seconds: {value!r}")
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            raise LineError(f"{what}: not a number of seconds: {value!r}") from None
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        raise LineError(f"{what}: not a number of seconds: {value!r}")
    if not math.isfinite(seconds):
        raise LineError(f"{what}: not a finite number of seconds: {value!r}")
    if seconds < 0:
        raise LineError(f"{what}: the number of seconds is not negative")
    return seconds


def parse_limit(value: object) -> float:
    """A run's limit (--max-sim-seconds): finite, above 0, at most MAX_SIM_SECONDS."""
    seconds = parse_seconds(value, "--max-sim-seconds")
    if not 0 < seconds <= MAX_SIM_SECONDS:
        raise LineError(f"--max-sim-seconds: above 0 and at most {MAX_SIM_SECONDS:g}")
    return seconds


class Session:
    """One cluster, booted, and the console of its user (who sits at `config.console_host`)."""

    def __init__(
        self,
        config,
        *,
        pcap: str | None = None,
        echo: Callable[[str], None] | None = None,
        images: dict[str, bytes] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> None:
        """Boot `config`. `images` adds (or replaces) program images on the file server's disk;
        `progress(done, total, name)` hears each machine come up."""
        if images:
            config = dataclasses.replace(config, programs=tuple(dict.fromkeys((*config.programs, *images))))
        self.config = config
        by_path = dict(config.program_paths)  # images of the user's, named by path in the config
        images = {**{name: (Path(by_path[name]) if name in by_path else build.image_path(name)).read_bytes()
                     for name in config.programs if name not in (images or {})},
                  **(images or {})}
        self.images = images

        def factory(sim, machine, cfg, index):
            return boot_kernel(sim, machine, cfg, index, images if machine.disk is not None else None)

        self.cluster = Cluster(config, kernel_factory=factory, progress=progress)
        self.sim = self.cluster.sim
        self.kernels: dict[str, Kernel] = {k.name: k for k in self.cluster.kernels}
        self.pcap = None
        self.pcaps: dict[str, Any] = {}  # segment -> its capture (vcluster/segments.py)
        if pcap:
            segments.open_captures(self, pcap)
        self._pm_hosts = {k.system_lh.lhid: k.name for k in self.kernels.values()}
        self.home = self.kernels[config.console_host]
        self.shell = Shell(self.home, lambda pm: self._pm_hosts.get(abi.pid_lhid(pm), "?"))
        self.jobs: list[Job] = []
        # standard input of the programs started: None = open, typed with `input`/`eof`
        # lines (the console); bytes = every program reads these, then its end (`run --stdin`)
        self.stdin: bytes | None = None
        for name, host in config.files:  # the config's `files:`, on the disk from boot
            self.put_file(name, Path(host).read_bytes())
        self.host_final: dict[int, str] = {}
        self.echo = echo
        display = self.home.servers["display"]
        display.listeners.append(self._on_output)
        for k in self.kernels.values():
            k.on_exit.append(lambda proc, status, k=k: self._on_exit(k, proc, status))
            k.on_server_fault.append(self._on_server_fault)
            if k.migration is not None:
                k.migration.listeners.append(self._on_migration)
        self.migrations: list[dict[str, Any]] = []
        self._awaiting_jobs = False  # run_until_done is running: the last job's end stops the clock
        self.log_listeners: list[Callable[[str], None]] = []  # migrations, evictions, crashes...
        self.events: list[dict[str, Any]] = []  # the same, as records (for --json and the console)
        self.limit_s = MAX_SIM_SECONDS  # no line runs the clock past this (a run's --max-sim-seconds)
        self.end_listeners: list[Callable[[Job], None]] = []  # each job as it ends
        self.answering = False  # a line whose answer tells its events (migrateprog, crash, power) is running
        self.restarts: list[dict[str, Any]] = []  # restarts from checkpoints (vcluster/checkpointing.py)
        for k in self.kernels.values():
            checkpointing.attach(self, k)

    # --- observing -------------------------------------------------------------------
    def _on_output(self, instance: int, sender: int, text: str) -> None:
        if self.echo is not None:
            self.echo(text)

    def _on_exit(self, kernel: Kernel, proc, status: int) -> None:
        if proc.team is not None:
            self.host_final[proc.pid] = kernel.name

    def _on_server_fault(self, report) -> None:
        self.log(f"{report.host}: server {report.name} {report.what.removeprefix('server ')}",
                 kind="server_fault", host=report.host, server=report.name)

    def output_of(self, job: Job) -> str:
        return self.home.servers["display"].output(job.stdout_instance)

    def log(self, text: str, **record: Any) -> None:
        """Something the user should see happen: a migration, an eviction, a crash."""
        stamped = f"[{self.sim.now / S:10.3f}] {text}"
        self.events.append({"time": round(self.sim.now / S, 9), "text": text, **record})
        for listener in self.log_listeners:
            listener(stamped)

    # --- console lines ----------------------------------------------------------------
    def execute(self, line: str) -> str | None:
        """Execute one console line; returns a message for the user, or None."""
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise LineError(f"{line!r}: {exc}") from None
        if not argv:
            return None
        cmd = argv[0]
        if cmd in ("owner", "crash", "power") and len(argv) > 1 and argv[1] in self.kernels:
            source = self.cluster.source_of(argv[1])  # it acts for that machine's segment
            if self.sim.source != source:
                with self.sim.acting(source):
                    return self.execute(line)
        if cmd in CONSOLE_ONLY or argv == ["resume"]:
            if cmd in ("speed", "pause", "step", "resume"):  # a real-time clock's (a Runner takes them)
                what = "resume (the clock)" if cmd == "resume" else cmd
                raise LineError(f"{what} is a line of the interactive console only (vcluster boot, vcluster "
                                "attach); here the clock runs as fast as it can: say `wait SECONDS`")
            hint = " (a control client sends {\"cmd\": \"shutdown\"})" if cmd == "shutdown" else ""
            raise LineError(f"{cmd} is a line of the interactive console's screen only (vcluster boot, "
                            f"vcluster attach){hint}")
        if cmd == "wait":
            if len(argv) != 2:
                raise LineError("usage: wait SECONDS")
            self.sim.run(until=self.wait_target(parse_seconds(argv[1])))
            return None
        if cmd == "hosts":
            return self.hosts_text()
        if cmd == "ps":
            return self.ps_text(argv[1] if len(argv) > 1 else None)
        if cmd in ("kill", "suspend", "resume"):
            return self.control(cmd, argv)
        if cmd == "migrateprog":
            return self.migrateprog(argv)
        if cmd == "owner":
            return self.owner(argv)
        if cmd == "fault":
            return self.fault(argv)
        if cmd == "crash":
            return self.crash(argv)
        if cmd == "power":
            return self.power(argv)
        if cmd == "at":
            return self.at(argv)
        if cmd == "checkpoint":
            return checkpointing.checkpoint_line(self, argv)
        if cmd in ("input", "eof"):
            return self.input(cmd, argv)
        return self.start(argv)

    # console lines an `at` may schedule: they act at once and never wait on the clock
    AT_COMMANDS = ("crash", "power", "fault", "owner", "kill", "suspend", "resume")

    def at(self, argv: list[str]) -> str | None:
        """at SECONDS LINE: execute LINE when the simulated clock reads SECONDS (absolute), e.g. a
        crash in the middle of a following `migrateprog`. What LINE says is logged as an event."""
        if len(argv) < 3 or argv[2] not in self.AT_COMMANDS:
            raise LineError(f"usage: at SECONDS LINE, LINE one of: {', '.join(self.AT_COMMANDS)}")
        try:
            seconds = float(argv[1])
        except ValueError:
            raise LineError(f"at: not a number of seconds: {argv[1]!r}") from None
        if not math.isfinite(seconds) or seconds * S < self.sim.now or seconds > self.limit_s:
            raise LineError(f"at: {argv[1]} is not a time from now ({self.sim.now / S:.9f} s) on")
        line = shlex.join(argv[2:])

        def fire() -> None:
            try:
                if argv[2] in ("kill", "suspend", "resume"):
                    message = self._control_later(argv[2], argv[2:])
                else:
                    message = self.execute(line)
            except LineError as exc:
                message = str(exc)
            self.log(f"at {argv[1]}: {line}" + (f": {message}" if message else ""), kind="at", line=line)

        self.sim.at(max(self.sim.now, round(seconds * S)), fire)
        return None

    def _control_later(self, cmd: str, argv: list[str]) -> str | None:
        """kill/suspend/resume PROG (a name or a pid) from inside the clock: the answer is logged."""
        if len(argv) != 2:
            raise LineError(f"usage: {cmd} PROG")
        code = {"kill": abi.PM_KILL, "suspend": abi.PM_SUSPEND, "resume": abi.PM_RESUME}[cmd]

        def answered(result: int, pid: int) -> None:
            if result < 0:
                self.log(f"{cmd} {pid:#x}: {abi.ERROR_NAMES.get(-result, result)}", kind="at")

        def found(answer) -> None:  # the program managers' answer (vcluster/names.py)
            if not answer.pms:
                self.log(f"{cmd}: no running program {argv[1]!r}", kind="at")
            for pid in answer.pms:
                self.shell.control(code, pid, lambda r, pid=pid: answered(r, pid))

        names.ask(self, *names.parse(argv[1]), found)
        return None

    def wait_target(self, seconds: float, what: str = "wait") -> int:
        """The instant (ns) `seconds` from now, refused when it is past the limit of the clock."""
        target = self.sim.now / S + seconds
        if target > self.limit_s:
            raise LineError(f"{what}: {seconds:g} s would end at {target:g} s, past the limit of "
                            f"{self.limit_s:g} simulated seconds (--max-sim-seconds)")
        return self.sim.now + int(seconds * S)

    def migrateprog(self, argv: list[str]) -> str | None:
        """migrateprog [-n] [PROG]: migrate the logical host of PROG (a name or a pid), or with no
        PROG every remotely executed program on the console's workstation. Waits until done."""
        args = argv[1:]
        destroy = "-n" in args
        args = [a for a in args if a != "-n"]
        if len(args) > 1:
            raise LineError("usage: migrateprog [-n] [PROG]")
        if args:
            why = self._why_not_running(args[0])  # as the line was typed: the query takes a while
            mine = [j for j in self.jobs if j.argv[0] == args[0] and not j.done]
            if mine and not any(j.pid for j in mine):  # the console is still starting it
                raise LineError(f"migrateprog: no running program {args[0]!r}{why}")
            targets = self._programs_named(args[0])
            if not targets:
                raise LineError(f"migrateprog: no running program {args[0]!r}{why}")
        else:
            targets = [0]
        results: list[list[int]] = []
        before = len(self.migrations)
        self.shell.migrate(targets, destroy, results.append)
        # every migration ends within migration.timeout_s; the run's limit bounds the wait anyway
        bound = (self.config.migration.timeout_s + 10) * max(1, len(targets))
        deadline = int(min(self.limit_s, self.sim.now / S + bound) * S)
        self.answering = True  # the answer tells every migration done meanwhile
        try:
            while not results and self.sim.now <= deadline and self.sim.step():
                pass
        finally:
            self.answering = False
        done = self.migrations[before:]
        if not results:
            return f"migrateprog: no answer within {bound:g} s (the migration goes on)"
        if not done:
            failed = [code for code in results[0] if code < 0]
            if failed:
                names = ", ".join(abi.ERROR_NAMES.get(-code, str(code)) for code in failed)
                return f"migrateprog: failed: {names}"
            return "migrateprog: nothing to migrate" if results[0] == [0] * len(targets) else None
        return "\n".join(self._describe_migration(r) for r in done)

    def _why_not_running(self, what: str) -> str:
        """Why the program the console started as `what` runs nowhere (or ""): not yet, or no more."""
        jobs = [j for j in self.jobs if j.argv[0] == what or (j.pid and f"{j.pid:#x}" == what)]
        if not jobs:
            return ""
        job = jobs[-1]
        if job.done:
            return f" ({what} has already ended)" if not job.error else f" ({job.error})"
        return f" ({what} has not started yet)"

    def _programs_named(self, what: str) -> list[int]:
        """Pids of running programs named what (or the pid itself), one per logical host, as the
        program managers answer a PM_QUERY_PROGRAM over the wire (vcluster/names.py)."""
        name, pid = names.parse(what)
        found = names.find(self, name, pid)
        if found is None or found.error:
            raise LineError(f"{what}: the program managers did not answer within "
                            f"{names.bound_s(self):g} s")
        if not found.complete:
            raise LineError(f"programs named {what!r} run on more hosts than one query can ask: "
                            "say which by pid")
        return list(found.pms)

    def _on_migration(self, record: dict[str, Any]) -> None:
        self.migrations.append(record)
        self.log(self._describe_migration(record), kind="migration", program=record["program"],
                 **{"from": record["from"], "to": record["to"], "ok": record["ok"]})

    @staticmethod
    def _describe_migration(r: dict[str, Any]) -> str:
        if r["ok"]:
            verb = "evicted" if r.get("eviction") else "migrated"
            text = (f"{verb} {r['program']} from {r['from']} to {r['to']}: {r['rounds']} pre-copy round{'' if r['rounds'] == 1 else 's'}, "
                    f"{r['bytes'] // 1024} KB, frozen {r['freeze_ms']:.1f} ms, total {r['total_ms']:.1f} ms")
        elif r.get("destroyed"):
            text = f"{r['program']} on {r['from']}: no host accepted it: destroyed (-n)"
        else:
            text = f"{r['program']} stays on {r['from']}: {r['error']}"
        for dep in r.get("residual", []):
            text += f"\n  residual dependency: {dep}"
        return text

    def _host(self, name: str) -> Kernel:
        kernel = self.kernels.get(name)
        if kernel is None:
            raise LineError(f"unknown host {name!r}; hosts: {', '.join(self.kernels)}")
        return kernel

    def owner(self, argv: list[str]) -> str | None:
        if len(argv) != 3 or argv[2] not in ("on", "off"):
            raise LineError("usage: owner HOST on|off")
        kernel = self._host(argv[1])
        present = argv[2] == "on"
        kernel.machine.owner.set(self.sim.now, present)
        kernel.owner_present = present
        return f"{kernel.name}: owner {'present' if present else 'away'}"

    def fault(self, argv: list[str]) -> str | None:
        if len(self.cluster.segments) > 1:  # every segment, or the one named (vcluster/segments.py)
            return segments.fault(self, argv)
        segment = self.cluster.segment
        if len(argv) == 3 and argv[1] == "loss":
            try:
                rate = float(argv[2])
            except ValueError:
                raise LineError(f"fault loss: not a rate: {argv[2]!r}") from None
            if not 0.0 <= rate <= 1.0:
                raise LineError("fault loss: the rate is between 0 and 1")
            segment.set_loss(rate)
            return f"the network loses {rate:g} of its frames"
        if len(argv) >= 3 and argv[1] == "partition":
            for name in argv[2:]:
                self._host(name)
            segment.partition(argv[2:])
            return f"the network is partitioned: {' '.join(argv[2:])} apart from the other hosts"
        if argv[1:] == ["heal"]:
            segment.heal()
            return "the network is whole again (no partition)"
        raise LineError("usage: fault loss RATE | fault partition HOST... | fault heal")

    def crash(self, argv: list[str]) -> str | None:
        if len(argv) != 2:
            raise LineError("usage: crash HOST")
        if argv[1] in self.cluster.gateways:
            return segments.crash_gateway(self, argv[1])
        kernel = self._host(argv[1])
        if kernel is self.home:
            raise LineError(f"{argv[1]} is the console's own workstation")
        if not kernel.powered:
            return f"{kernel.name} is already down"
        lost = {p.pid: p.name for p in kernel.processes.values() if p.team is not None}
        restarting = {pid: name for pid, name in lost.items() if checkpointing.survives(self, pid)}
        lost = {pid: name for pid, name in lost.items() if pid not in restarting}
        if kernel.migration is not None:  # a copy staged here whose source has given its own up
            others = [k for k in self.kernels.values() if k is not kernel and k.powered]
            names = {j.pid: j.argv[0] for j in self.jobs}
            for pid, lhid in kernel.migration.staged():
                if not any(lhid in k.lhs for k in others):
                    lost[pid] = names.get(pid, "?")
        # a copy another machine holds frozen, waiting for this one to say whether it is the one
        # (this machine's migration of it was committing): it waits until this machine is back
        waiting = {pid: k.name for k in self.kernels.values() if k is not kernel and k.migration is not None
                   for pid in k.migration.waiting_for(kernel.system_lh.lhid)}
        # (not when the program runs on elsewhere: that copy is a given-up attempt's, discarded later)
        elsewhere = {p.pid for k in self.kernels.values() if k is not kernel and k.powered
                     for p in k.processes.values() if p.team is not None}
        waiting = {pid: host for pid, host in waiting.items() if pid not in elsewhere}
        kernel.crash()
        self.answering = True
        try:
            self.log(f"{kernel.name} crashed", kind="crash", host=kernel.name,
                     restarting=sorted(restarting))  # the pids its programs' homes restart
        finally:
            self.answering = False
        for job in self.jobs:
            if job.pid in lost and not job.done:
                job.error = f"{job.argv[0]}: lost when {kernel.name} crashed"
                job.finish()
            elif job.pid in waiting and not job.done:
                job.error = (f"{job.argv[0]}: lost when {kernel.name} crashed while migrating it: its copy "
                             f"on {waiting[job.pid]} stays frozen until {kernel.name} can say it is the one")
                job.finish()
        gone = ", ".join(f"{name} ({pid:#010x})" for pid, name in sorted(lost.items()))
        frozen = "".join(f"; {name} stays frozen on {waiting[pid]} until {kernel.name} is back"
                         for pid, name in ((j.pid, j.argv[0]) for j in self.jobs) if pid in waiting)
        later = "".join(f"; {name} ({pid:#010x}) restarts from its checkpoint"
                        for pid, name in sorted(restarting.items()))
        return (f"{kernel.name} crashed (down until `power {kernel.name} on`); programs lost: "
                f"{gone or 'none'}{frozen}{later}")

    def power(self, argv: list[str]) -> str | None:
        if len(argv) != 3 or argv[2] != "on":
            raise LineError("usage: power HOST on")
        if argv[1] in self.cluster.gateways:
            return segments.power_gateway(self, argv[1])
        old = self._host(argv[1])
        if old.powered:
            return f"{old.name} is already on"
        index = self.cluster.kernels.index(old)
        machine = old.machine
        machine.power_cycle()
        images = None
        if machine.disk is not None:
            images = self.images
        kernel = boot_kernel(self.sim, machine, self.config, index, images)
        self.cluster.kernels[index] = kernel
        self.kernels[kernel.name] = kernel
        kernel.on_exit.append(lambda proc, status, k=kernel: self._on_exit(k, proc, status))
        kernel.on_server_fault.append(self._on_server_fault)
        if kernel.migration is not None:
            kernel.migration.listeners.append(self._on_migration)
        checkpointing.attach(self, kernel)
        self._pm_hosts[kernel.system_lh.lhid] = kernel.name
        self.answering = True
        try:
            self.log(f"{kernel.name} powered on", kind="power", host=kernel.name)
        finally:
            self.answering = False
        return f"{kernel.name} powered on: its kernel booted afresh"

    def start(self, argv: list[str]) -> str | None:
        argv, checkpoint_ms = checkpointing.start_option(argv, self.config.checkpoint.interval_s)
        host: str | None = None
        if "@" in argv:
            at = argv.index("@")
            if at != len(argv) - 2:
                raise LineError("usage: PROG ARGS @ HOST   or   PROG ARGS @ *")
            host = argv[-1]
            argv = argv[:at]
            if host in self.cluster.gateways:
                raise LineError(f"{host} is a gateway, not a workstation; workstations: "
                                f"{', '.join(k.name for k in self.kernels.values() if k.machine.role != 'fileserver')}")
            if host != "*" and host not in self.kernels:
                raise LineError(f"unknown host {host!r}; hosts: {', '.join(self.kernels)}")
            if host != "*" and self.kernels[host].machine.role == "fileserver":
                workstations = [k.name for k in self.kernels.values() if k.machine.role != "fileserver"]
                raise LineError(f"{host} is the file server, not a workstation; workstations: "
                                f"{', '.join(workstations)}")
        if not argv:
            raise LineError("no program named")
        for arg in argv:
            if "\0" in arg or not all(ord(c) < 256 for c in arg):
                raise LineError(f"{argv[0]}: an argument is Latin-1 text without NUL: {arg!r}")
        if sum(len(a) + 1 for a in argv) + 1 > ARGV_MAX:
            raise LineError(f"{argv[0]}: the arguments are longer than {ARGV_MAX} bytes in all")
        if argv[0] not in self.config.programs:
            raise LineError(f"no program {argv[0]!r} on the file server; programs: {', '.join(self.config.programs)}")
        display = self.home.servers["display"]
        job = Job(serial=len(self.jobs) + 1, argv=argv, host=host, stdout_instance=display.new_instance(),
                  checkpoint_ms=checkpoint_ms)
        job.on_done.append(self._job_done)
        self.jobs.append(job)
        if self.stdin is not None:
            self.shell.input(job.stdout_instance, self.stdin, end=True)
        self.shell.exec(job)
        return None

    def input(self, cmd: str, argv: list[str]) -> str | None:
        """`input JOB TEXT...`: a line for JOB's standard input; `eof JOB`: the end of it.
        JOB is the console's job number (#), the program's name or its pid."""
        if len(argv) < 2 or (cmd == "eof" and len(argv) != 2):
            raise LineError("usage: input JOB TEXT...   or   eof JOB")
        what = argv[1]
        live = [j for j in self.jobs if not j.done]
        try:
            number = int(what, 0)
        except ValueError:
            number = None
        found = [j for j in live if j.serial == number or (number and j.pid == number)]
        found = found or [j for j in live if j.argv[0] == what]
        if not found:
            raise LineError(f"{cmd}: no running program {what!r}")
        job = found[-1]
        if cmd == "eof":
            self.shell.input(job.stdout_instance, b"", end=True)
            return f"#{job.serial} {job.argv[0]}: end of input"
        data = (" ".join(argv[2:]) + "\n").encode("latin-1", "replace")
        self.shell.input(job.stdout_instance, data)
        return f"#{job.serial} {job.argv[0]}: {len(data)} bytes of input"

    def _job_done(self, job: Job) -> None:
        if job.error:
            print(f"vcluster: {job.error}", file=sys.stderr)
        for listener in self.end_listeners:
            listener(job)
        if self._awaiting_jobs and all(j.done for j in self.jobs):
            self.sim.stop()

    def control(self, cmd: str, argv: list[str]) -> str | None:
        """kill|suspend|resume PROG: PROG is a pid, the console's job number (#) or a program's name."""
        if len(argv) != 2:
            raise LineError(f"usage: {cmd} PID|#|NAME   (a pid, the programs table's #, or a program's name)")
        pid, name, host = self._program_of(cmd, argv[1])
        code = {"kill": abi.PM_KILL, "suspend": abi.PM_SUSPEND, "resume": abi.PM_RESUME}[cmd]
        result: list[int] = []
        self.shell.control(code, pid, result.append)
        deadline = self.sim.now + 5 * S
        while not result and self.sim.now < deadline and self.sim.step():
            pass
        if not result:
            return f"{cmd} {name} ({pid:#010x}): no answer within 5 s"
        if result[0] < 0:
            raise LineError(f"{cmd} {name} ({pid:#010x}): {abi.ERROR_NAMES.get(-result[0], result[0])}")
        done = {"kill": "killed", "suspend": "suspended", "resume": "resumed"}[cmd]
        return f"{done} {name} ({pid:#010x}) on {host}"

    def _program_of(self, cmd: str, what: str) -> tuple[int, str, str]:
        """The running program `what` names (a job number, a pid or a name): (pid, name, host), as
        the program managers answer over the wire (vcluster/names.py), or a LineError that says why
        there is none (within the query's bound, never a wait for a migration's timeout)."""
        name, pid = names.parse(what)
        try:
            number = int(what, 0)
        except ValueError:
            number = None
        if number is not None and number < names.FIRST_PID:  # the programs table's #
            jobs = [j for j in self.jobs if j.serial == number]
            if not jobs:
                raise LineError(f"{cmd}: no such program {what}: no pid or # of a running program "
                                "(`ps` lists them)")
            job = jobs[0]
            found = names.find(self, None, job.pid) if job.pid else None
            if found is not None and job.pid in found.pms:
                return job.pid, job.argv[0], names.host_of(self, found, job.pid)
            if job.done:
                raise LineError(f"{cmd}: #{job.serial} ({job.argv[0]}) has already ended: {self.end_text(job)}")
            raise LineError(f"{cmd}: #{job.serial} ({job.argv[0]}) has not started yet")
        why = self._why_not_running(what)  # as the line was typed: the query takes a while
        found = names.find(self, name, pid)
        if found is None or found.error:
            raise LineError(f"{cmd} {what}: the program managers did not answer within "
                            f"{names.bound_s(self):g} s")
        if name is None:
            if pid in found.pms:
                return pid, found.names.get(pid, "?"), names.host_of(self, found, pid)
            raise LineError(f"{cmd}: no such program {what}: no pid or # of a running program "
                            "(`ps` lists them)")
        named = sorted(found.pms)
        if len(named) == 1 and found.complete:
            return named[0], what, names.host_of(self, found, named[0])
        if named:
            raise LineError(f"{cmd}: several programs are named {what!r}: "
                            f"{', '.join(f'{pid:#010x}' for pid in named)}"
                            f"{'' if found.complete else ', ...'}; say which by pid or #")
        raise LineError(f"{cmd}: no such program {what!r}{why} (`ps` lists them)")

    # --- how programs ended ---------------------------------------------------------------
    def end_text(self, job: Job) -> str:
        """How a job ended, in words: `exited 0`, `killed`, `destroyed (-n)`, `fault: ...`, or its error."""
        if job.error:
            return job.error
        if not job.done:
            return "running" if job.pid else "starting"
        for k in self.kernels.values():
            for f in k.faults:
                if f.pid == job.pid and job.pid:
                    return f"fault: {f.what.removeprefix('fault: ')} (pc {f.pc:#08x})"
        if any(job.pid in r.get("pids", ()) and r.get("destroyed") for r in self.migrations):
            return "destroyed (-n)"
        if job.exit_status == -abi.EKILLED:
            return "killed"
        if job.exit_status is None:
            return "ended (exit status unknown)"
        return f"exited {job.exit_status}"

    def hosts_of(self, job: Job) -> list[str]:
        """The hosts a job's program ran on, in order: where it started, then each migration's end."""
        path = [job.host_started] if job.host_started else []
        moves = [(r["started"], r) for r in self.migrations
                 if r.get("ok") and job.pid and job.pid in r.get("pids", ()) and r.get("to")]
        moves += checkpointing.restarts_of(self, job.pid)  # restarts after a crash (issue 16)
        for _, r in sorted(moves, key=lambda m: m[0]):
            if not path:
                path.append(r["from"])
            path.append(r["to"])
        return path

    def final_host(self, job: Job) -> str | None:
        """Where a job's program ended (or is now): its exit's host, else its last migration's end."""
        if job.pid in self.host_final:
            return self.host_final[job.pid]
        path = self.hosts_of(job)
        return path[-1] if path else None

    def where_text(self, job: Job) -> str:
        """`ws8 (from ws3 via ws6)`: the final host and the way it came."""
        path = self.hosts_of(job) or [job.host or self.config.console_host]
        if len(path) == 1:
            return path[0]
        via = f" via {', '.join(path[1:-1])}" if len(path) > 2 else ""
        return f"{path[-1]} (from {path[0]}{via})"

    def job_line(self, job: Job) -> str:
        """The line that says a job has ended: `[4] dirtier 512 on ws8 (from ws3 via ws6): exited 0`."""
        return f"[{job.serial}] {' '.join(job.argv)} on {self.where_text(job)}: {self.end_text(job)}"

    def run_until_done(self, max_sim_seconds: float) -> bool:
        """Run until every started program has ended; False if the limit came first."""
        limit = int(max_sim_seconds * S)
        if self.jobs and not all(j.done for j in self.jobs) and limit > self.sim.now:
            self._awaiting_jobs = True
            try:
                self.sim.run(until=limit)
            finally:
                self._awaiting_jobs = False
        return all(j.done for j in self.jobs)

    # --- views ----------------------------------------------------------------------------
    def host_state(self, k: Kernel) -> str:
        """A host in the console's words: down, owner (present at the keyboard), busy or idle."""
        idle = self.config.idle
        if not k.powered:
            return "down"
        if k.owner_present:
            return "owner"
        if k.load() > idle.load_threshold or k.frames.free_count * 4 < idle.min_free_memory_kb:
            return "busy"
        return "idle"

    def hosts_text(self) -> str:
        """The hosts, with the columns and words of the console's hosts panel."""
        rows = [("host", "role", "state", "owner", "load", "mem KB", "free KB", "programs", "logical hosts")]
        for k in self.kernels.values():
            up = k.powered
            lhs = ", ".join(f"{lh.lhid:#06x}" for lh in sorted(k.lhs.values(), key=lambda lh: lh.lhid)
                            if not lh.system) if up else ""
            rows.append((k.name, k.machine.role, self.host_state(k), "present" if k.owner_present else "-",
                         f"{k.load():.1f}" if up else "-", str(k.machine.config.memory // 1024),
                         str(k.frames.free_count * 4) if up else "-",
                         str(sum(1 for p in k.processes.values() if p.team is not None)) if up else "-",
                         lhs or "-"))
        rows, right = segments.host_rows(self, rows)  # several segments: a segment column, gateways
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = []
        for r in rows:
            cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))]
            lines.append(" ".join(cells).rstrip())
        return "\n".join(lines)

    def ps_rows(self, host: str | None = None) -> list[dict[str, Any]]:
        rows = []
        for k in self.kernels.values():
            if (host is not None and k.name != host) or not k.powered:  # a crashed host runs nothing
                continue
            for proc in sorted(k.processes.values(), key=lambda p: p.pid):
                if proc.team is None:
                    continue
                state = "suspended" if proc.suspended else ("frozen" if proc.lh.frozen else proc.state.value)
                state = proc.lh.migration_state or state  # e.g. precopy-2, frozen, committing
                rows.append({
                    "pid": proc.pid, "name": proc.name, "host": k.name, "lhid": proc.lhid,
                    "segment": segments.segment_of(self, k.name),
                    "state": state, "cpu_ms": proc.cpu_ns // 1_000_000,
                    "memory_kb": proc.team.memory_bytes // 1024,
                })
                if proc.team.lazy:  # a lazy rfork's child: its pages fetched and still to come
                    rows[-1].update(pages_fetched=proc.team.fetched,
                                    pages_remaining=len(proc.team.backing))
        return rows

    def ps_text(self, host: str | None = None) -> str:
        if host is not None and host not in self.kernels:
            raise LineError(f"unknown host {host!r}")
        several = len(self.cluster.segments) > 1  # then a segment column after the host
        seg = lambda text: f"{text:8s} " if several else ""  # noqa: E731
        lines = [f"{'pid':10s} {'name':10s} {'host':8s} {seg('segment')}{'lhid':6s} {'state':14s} {'cpu ms':>7s} {'mem KB':>6s}"]
        for r in self.ps_rows(host):
            lines.append(f"{r['pid']:#010x} {r['name']:10s} {r['host']:8s} {seg(r['segment'])}{r['lhid']:#06x} "
                         f"{r['state']:14s} {r['cpu_ms']:7d} {r['memory_kb']:6d}"
                         + (f"  lazy: {r['pages_fetched']} pages fetched, {r['pages_remaining']} "
                            "to come" if "pages_fetched" in r else ""))
        return "\n".join(lines)

    def net_summary(self) -> dict[str, Any]:
        """The wire's counters (several segments: their sums, the busiest one's utilisation)."""
        return segments.net_counters(segments.net_stats(self))

    def summary(self) -> dict[str, Any]:
        programs = []
        faults = {f.pid: str(f) for k in self.kernels.values() for f in k.faults}
        for job in self.jobs:
            programs.append({
                "pid": job.pid,
                "name": job.argv[0],
                "argv": job.argv,
                "host_requested": job.host,
                "host_started": job.host_started or None,
                "host_final": self.final_host(job),
                "exit_status": job.exit_status,
                "output": self.output_of(job),
                "error": job.error,
                "fault": faults.get(job.pid),
            })
        return {
            "config": self.config.name,
            "seed": self.config.seed,
            "sim_seconds": round(self.sim.now / S, 9),
            "programs": programs,
            "migrations": [self._migration_summary(r) for r in self.migrations],
            "restarts": self.restarts,  # restarts from checkpoints and refusals (docs/CHECKPOINT.md)
            "rforks": self.rfork_summary(),
            "events": self.events,
            "net": self.net_summary(),
            "segments": segments.segments_summary(self),  # each segment's `net`, each gateway's
            "gateways": segments.gateways_summary(self),
            "file_servers": self.file_server_summary(),
        }

    def rfork_summary(self) -> list[dict[str, Any]]:
        """Each rfork (vkernel/rfork.py): parent, child, hosts, the pages copied, and for a lazy
        one the child's pages touched/fetched/to come, its snapshot's end and the child's fault."""
        children = {c["child"]: (k.name, c) for k in self.kernels.values() if k.rfork
                    for c in k.rfork.children.values()}
        faults = {f.pid: f.what for k in self.kernels.values() for f in k.faults}
        out = []
        for k in self.kernels.values():
            for rec in k.rfork.records if k.rfork else ():
                host, child = children.get(rec["child"], (None, {}))
                snap = k.rfork.served.get(rec["file"])
                out.append({key: rec[key] for key in ("parent", "child", "lazy", "pages", "copied_pages",
                                                      "latency_ms", "fallback")}
                           | {"from": k.name, "to": host, "pages_touched": child.get("touched"),
                              "pages_fetched": child.get("fetched"), "pages_remaining": child.get("remaining"),
                              "pages_shipped": len(snap.shipped) if snap else None,
                              "round_trips": snap.round_trips if snap else None,
                              "snapshot_freed": snap.freed_why or None if snap else None,
                              "child_fault": faults.get(rec["child"]),
                              "replayed": rec.get("replayed", False)})
        return out

    def file_server_summary(self) -> dict[str, Any]:
        """Each file server's requests, block cache (hit rate) and disk (seeks, busy time)."""
        return {k.name: k.servers["file"].report() for k in self.kernels.values() if "file" in k.servers}

    @staticmethod
    def _migration_summary(r: dict[str, Any]) -> dict[str, Any]:
        keys = ("program", "from", "to", "ok", "rounds", "precopy_bytes", "freeze_bytes", "state_bytes",
                "bytes", "freeze_ms", "total_ms", "copy_ms", "stop_reason", "attempts", "residual",
                "destroyed", "error", "eviction", "state", "states", "commit_acked", "id", "ended",
                "timeout_s", "precopy_rounds", "written_pages", "freeze_pages")
        summary = {key: r.get(key) for key in keys}
        summary["backed_bytes"] = r.get("backed_bytes", 0)  # left on the file server (flushed)
        return summary

    def put_file(self, name: str, data: bytes) -> None:
        """Put a file on the file server's disk (what `run --file` and tests use to feed programs)."""
        for kernel in self.kernels.values():
            fs = getattr(kernel.machine, "filesystem", None)
            if fs is not None:
                fs.install(name, data)
                return
        raise LineError("this cluster has no file server")

    def close(self) -> None:
        for writer in self.pcaps.values():
            writer.close()
        self.pcaps = {}
        self.pcap = None


def load(config: str | None, seed: int | None = None):
    cfg = load_config(resolve_config(config))
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    return cfg


def load_or_report(config: str | None, seed: int | None = None, errors: list[str] | None = None):
    """The config, or None after saying on stderr what is wrong with it (file:line: field: ...)."""
    try:
        return load(config, seed)
    except (ConfigError, OSError) as exc:
        print(f"vcluster: {exc}", file=sys.stderr)
        if errors is not None:
            errors.append(str(exc))
        return None


def line_error(exc: Exception) -> str:
    """What a console line that failed says: its LineError, or the exception named (no traceback)."""
    if isinstance(exc, LineError):
        return str(exc)
    log.debug("console line failed", exc_info=exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def boot_error(exc: Exception) -> str:
    """Why a config could not boot: a disk or file problem says itself; anything else is named."""
    if isinstance(exc, FsError | OSError | ValueError):
        return str(exc)
    return line_error(exc)


def run_lines(
    config: str | None,
    lines: list[str],
    *,
    as_json: bool = False,
    seed: int | None = None,
    max_sim_seconds: float = 600.0,
    pcap: str | None = None,
    screenshots: list[tuple[str, str]] | None = None,
    screenshot_errors: list[str] | None = None,
    images: list[str] | None = None,
    files: list[str] | None = None,
    stdin: str | None = None,
    label: bool = False,
    timeline: str | None = None,
) -> int:
    """Headless `vcluster run`; `screenshots` are (host, path) frame buffers saved as PNG at the end,
    `timeline` a PNG of the run's migrations, phase by phase (vcluster/plots.py).

    stdout is the programs' output (with `label`, each line begins `[# NAME] `), the answers of
    lines (ps, hosts, migrateprog...) and with `as_json` the summary as the last line. stderr
    tells what happens meanwhile: migrations and evictions, crashes, each program's end
    (`[1] hello on ws1: exited 0`), and a line that fails (`vcluster: line N: ...`); the run goes
    on with the next line."""
    errors: list[dict[str, Any]] = []
    problems: list[str] = []
    cfg = load_or_report(config, seed, problems)
    if cfg is not None:
        try:
            max_sim_seconds = parse_limit(max_sim_seconds)
        except LineError as exc:
            print(f"vcluster: {exc}", file=sys.stderr)
            problems.append(str(exc))
            cfg = None
    if cfg is None:
        if as_json:
            errors = [{"line": 0, "text": None, "error": why} for why in problems]
            print(json.dumps({"config": config, "errors": errors, "programs": [], "migrations": [],
                              "events": []}, sort_keys=True))
        return 2

    labeller = _Labeller() if label else None

    def echo(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    extra: dict[str, bytes] = {}
    for path in images or ():
        image = Path(path)
        try:
            data = image.read_bytes()
        except OSError as exc:
            print(f"vcluster: --image {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        if data[:4] != b"\x7fELF":
            print(f"vcluster: --image {path}: not a guest image (no ELF header)", file=sys.stderr)
            return 2
        extra[image.name] = data
    host_files: dict[str, bytes] = {}
    for spec in files or ():
        host, _, name = spec.partition("=")
        try:
            host_files[name or Path(host).name] = Path(host).read_bytes()
        except OSError as exc:
            print(f"vcluster: --file {host}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    stdin_data = b""  # headless: a program's standard input is at its end at once
    if stdin is not None:
        try:
            stdin_data = sys.stdin.buffer.read() if stdin == "-" else Path(stdin).read_bytes()
        except OSError as exc:
            print(f"vcluster: --stdin {stdin}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        session = Session(cfg, pcap=pcap, echo=None if labeller else echo, images=extra or None)
    except Exception as exc:  # a config that loads but cannot boot (a disk image, a pcap path)
        why = f"cannot boot {cfg.name}: {boot_error(exc)}"
        print(f"vcluster: {why}", file=sys.stderr)
        if as_json:
            print(json.dumps({"config": cfg.name, "errors": [{"line": 0, "text": None, "error": why}],
                              "programs": [], "migrations": [], "events": []}, sort_keys=True))
        return 2
    session.limit_s = max_sim_seconds
    if labeller is not None:
        labeller.session = session
        session.home.servers["display"].listeners.append(labeller.output)

    def tell(stamped: str) -> None:
        if not session.answering:
            print(stamped, file=sys.stderr, flush=True)

    session.log_listeners.append(tell)

    def ended(job: Job) -> None:
        if not job.error:  # an error has been said already (`vcluster: ...`)
            print(session.job_line(job), file=sys.stderr, flush=True)

    session.end_listeners.append(ended)
    # a program's fault is said once, in its exit line; others' (a program's children) at the end
    kernel_log = logging.getLogger("vkernel.kernel")
    quiet = _GuestFaults()
    kernel_log.addFilter(quiet)
    for name, data in host_files.items():
        session.put_file(name, data)
    session.stdin = stdin_data
    status = 0

    def failed(number: int, text: str | None, why: str) -> None:
        errors.append({"line": number, "text": text, "error": why})
        where = f"line {number}: " if number else ""
        print(f"vcluster: {where}{why}", file=sys.stderr)

    try:
        for number, line in enumerate(lines, 1):
            try:
                message = session.execute(line)
            except Exception as exc:
                failed(number, line, line_error(exc))
                continue
            if message:
                print(message)
        try:
            if not session.run_until_done(max_sim_seconds):
                print(f"vcluster: stopped at the limit of {max_sim_seconds:g} simulated seconds "
                      "with programs still running", file=sys.stderr)
                status = 1
        except Exception as exc:
            failed(0, None, f"the simulation stopped: {line_error(exc)}")
        started = {j.pid for j in session.jobs}
        for report in quiet.held:
            if report.pid not in started:
                print(f"vcluster: {report}", file=sys.stderr)
        if any(j.error or j.exit_status != 0 for j in session.jobs):
            status = status or 1
        if errors:
            status = 2
        if as_json:
            print(json.dumps({**session.summary(), "errors": errors}, sort_keys=True))
        if timeline is not None:
            status = _draw_timeline(session, timeline) or status
    finally:
        for host, path in screenshots or ():
            try:
                session.kernels[host].machine.frame_buffer.save_png(path)
            except (KeyError, OSError) as exc:
                if screenshot_errors is not None:
                    screenshot_errors.append(f"{host}:{path}: {exc}")
        kernel_log.removeFilter(quiet)
        session.close()
    return status


def _draw_timeline(session: Session, path: str) -> int:
    """`run --timeline FILE`: the migrations of the summary, drawn; 1 (and why) if it cannot be."""
    from vcluster import plots

    try:
        plots.plot_timeline(session.summary(), path)
    except plots.PlotError as exc:
        print(f"vcluster: --timeline: {exc}", file=sys.stderr)
        return 1
    print(f"vcluster: drew the migration timeline in {path}", file=sys.stderr)
    return 0


class _GuestFaults(logging.Filter):
    """Holds back the kernel's warnings of guest faults (`vcluster run` says them itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[FaultReport] = []

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 1 and isinstance(args[0], FaultReport) and not args[0].what.startswith("server "):
            self.held.append(args[0])
            return False
        return True


class _Labeller:
    """`run --label`: each line of a program's output begins `[# NAME] ` (its job number and name)."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self.at_start: dict[int, bool] = {}  # display instance -> the next text begins a line

    def output(self, instance: int, sender: int, text: str) -> None:
        jobs = [j for j in self.session.jobs if j.stdout_instance == instance] if self.session else []
        tag = f"[{jobs[0].serial} {jobs[0].argv[0]}] " if jobs else "[?] "
        out = []
        for piece in text.splitlines(keepends=True):
            if self.at_start.get(instance, True):
                out.append(tag)
            out.append(piece)
            self.at_start[instance] = piece.endswith("\n")
        sys.stdout.write("".join(out))
        sys.stdout.flush()


def boot_headless(config: str | None, *, seed: int | None = None, max_sim_seconds: float = 60.0) -> int:
    """Boot a config without the console: say what booted, run it a while, print the hosts."""
    cfg = load_or_report(config, seed)
    if cfg is None:
        return 2
    try:
        session = Session(cfg, echo=lambda text: sys.stdout.write(text))
    except Exception as exc:
        print(f"vcluster: cannot boot {cfg.name}: {boot_error(exc)}", file=sys.stderr)
        return 2
    joined = (f" on {len(cfg.segments)} segments joined by {len(cfg.gateways)} gateways"
              if len(cfg.segments) > 1 else "")
    print(f"booted {cfg.name} ({cfg.source_path}): {len(cfg.machines)} machines{joined}, seed {cfg.seed}, "
          f"console at {cfg.console_host}")
    session.execute("hello")
    session.run_until_done(max_sim_seconds)
    print(session.hosts_text())
    print("(headless: in a terminal, `vcluster boot` attaches the console; `vcluster serve` keeps a "
          "cluster up for scripts)")
    session.close()
    return 0
