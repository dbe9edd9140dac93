"""Remote execution (issue 5): `prog @ host`, `prog @ *`, and managing programs wherever they run.

The basic CLI case (`echo hi @ ws2`, `primes 2000 @ *`, --json host_final) and the
owner-present `@ *` refusal are in test_vkernel_run.py; these tests go further.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Callable

import pytest
from helpers import config, programs_by_name, run_session, vcluster, vcluster_json

from guest import abi
from vcluster.session import LineError, Session
from vkernel import packets as pk
from vkernel.process import Priority
from vkernel.shell import Job, Shell

S = 1_000_000_000
MS = 1_000_000
PM_CODES = {abi.PM_EXEC: "PM_EXEC", abi.PM_QUERY_HOST: "PM_QUERY_HOST", abi.PM_LIST: "PM_LIST",
            abi.PM_KILL: "PM_KILL", abi.PM_SUSPEND: "PM_SUSPEND", abi.PM_RESUME: "PM_RESUME"}


# --- helpers ------------------------------------------------------------------------------


def wire_requests(session: Session) -> list[str]:
    """Start recording the program-manager requests that cross the wire (by name, in order)."""
    seen: list[str] = []

    def tap(_time: int, frame: bytes) -> None:
        try:
            _dst, _src, p = pk.parse_frame(frame)
        except pk.PacketError:
            return
        if p.kind is pk.Kind.SEND and len(p.msg) >= 4 and not p.flags & pk.Flag.IS_RETRANSMISSION:
            code = struct.unpack(">I", p.msg[:4])[0]
            if code in PM_CODES:
                seen.append(PM_CODES[code])

    session.cluster.segment.add_tap(tap)
    return seen


def spin_output(seconds: int) -> str:
    """What `spin SECONDS` prints: SECONDS * 100 000 xorshift32 steps from 0x2545F491."""
    x, n = 0x2545F491, seconds * 100_000
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
    return f"spin: {n} iterations, checksum {x:#010x}\n"


def guest_processes(session: Session) -> list[tuple[str, str]]:
    return [(p.name, k.name) for k in session.kernels.values() for p in k.processes.values() if p.team is not None]


def exits(session: Session) -> list[dict]:
    """Record every guest process that ends: name, argv, machine, status, priority, time, CPU time."""
    ended: list[dict] = []
    for k in session.kernels.values():
        def hook(proc, status, k=k):
            if proc.team is not None:
                ended.append({"pid": proc.pid, "name": proc.name, "argv": proc.team.argv, "host": k.name,
                              "status": status, "priority": proc.priority, "time": session.sim.now,
                              "cpu_ns": proc.cpu_ns})
        k.on_exit.append(hook)
    return ended


def run_until(session: Session, done: Callable[[], bool], limit_s: float = 60.0) -> None:
    deadline = session.sim.now + int(limit_s * S)
    while not done() and session.sim.now < deadline and session.sim.step():
        pass
    assert done(), "condition not reached before the limit"


def ps_rows(text: str) -> list[dict[str, str]]:
    header, *rows = text.splitlines()
    assert header.split() == ["pid", "name", "host", "lhid", "state", "cpu", "ms", "mem", "KB"]
    out = []
    for row in rows:
        pid, name, host, lhid, state, cpu_ms, mem_kb = row.split()
        out.append({"pid": pid, "name": name, "host": host, "lhid": lhid, "state": state,
                    "cpu_ms": cpu_ms, "mem_kb": mem_kb})
    return out


def pid_from_ps(session: Session, name: str, host: str) -> int:
    (row,) = [r for r in ps_rows(session.execute("ps")) if r["name"] == name and r["host"] == host]
    return int(row["pid"], 16)


def other_user(session: Session, host: str) -> tuple[Shell, Callable[[list[str], str | None], Job]]:
    """The console of another workstation's user: a Shell on that kernel, output to its display."""
    kernel = session.kernels[host]
    shell = Shell(kernel, lambda pm: session._pm_hosts.get(abi.pid_lhid(pm), "?"))
    display = kernel.servers["display"]

    def start(argv: list[str], at: str | None) -> Job:
        job = Job(serial=1000 + len(argv), argv=argv, host=at, stdout_instance=display.new_instance())
        shell.exec(job)
        return job

    return shell, start


def control_from(shell: Shell, session: Session, code: int, pid: int) -> int:
    result: list[int] = []
    shell.control(code, pid, result.append)
    run_until(session, lambda: bool(result), 5)
    return result[0]


# --- the command line --------------------------------------------------------------------


def test_cli_prints_both_outputs_and_at_any_takes_an_idle_machine_other_than_the_origin():
    proc = vcluster("run", "configs/tiny.yaml", "echo hi @ ws2", "primes 2000 @ *")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["hi", "primes <= 2000: 303"]
    # ws3's owner is at the keyboard: "@ *" must take the one idle machine that is not the origin
    proc, summary = vcluster_json("configs/tiny.yaml", "owner ws3 on", "echo hi @ ws2", "primes 2000 @ *")
    assert proc.returncode == 0, proc.stderr
    progs = programs_by_name(summary)
    assert progs["echo"]["host_started"] == progs["echo"]["host_final"] == "ws2"
    assert progs["echo"]["output"] == "hi\n"
    assert progs["primes"]["host_started"] == progs["primes"]["host_final"] == "ws2"
    assert progs["primes"]["output"] == "primes <= 2000: 303\n"


@pytest.mark.parametrize("origin", ["ws1", "ws2"])
def test_at_any_never_picks_the_origin_even_when_it_is_the_idlest(origin):
    session, summary = run_session(["primes 100 @ *"] * 4, config("tiny", console_host=origin))
    hosts = [p["host_final"] for p in summary["programs"]]
    assert all(p["output"] == "primes <= 100: 25\n" for p in summary["programs"])
    assert origin not in hosts and "fs1" not in hosts  # the file server runs no programs
    assert set(hosts) <= {"ws1", "ws2", "ws3"} - {origin}


# --- unknown hosts ---------------------------------------------------------------------------


def test_unknown_host_is_refused_at_the_console_before_anything_starts():
    session = Session(config())
    requests = wire_requests(session)
    with pytest.raises(LineError, match=r"unknown host 'ws9'.*ws1, ws2, ws3"):
        session.execute("echo hi @ ws9")
    session.execute("wait 1")
    assert session.jobs == [] and guest_processes(session) == [] and requests == []
    assert all(k.servers["program"].started == 0 for k in session.kernels.values() if "program" in k.servers)
    # the CLI says so and runs nothing: status 2, and the JSON summary names the line (issue 12)
    proc = vcluster("run", "configs/tiny.yaml", "echo hi @ ws9", "--json")
    assert proc.returncode == 2
    assert "line 1: unknown host 'ws9'" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["programs"] == [] and summary["errors"][0]["line"] == 1
    assert "unknown host 'ws9'" in summary["errors"][0]["error"]


def test_a_host_that_does_not_answer_is_a_clear_error_and_nothing_is_started():
    session = Session(config())
    session.execute("crash ws2")  # in the config, but silent: the query for it times out
    requests = wire_requests(session)
    session.execute("echo hi @ ws2")
    assert session.run_until_done(30)
    (job,) = session.jobs
    assert job.error == "no host named 'ws2' answered"
    assert job.pid == 0 and job.exit_status is None and session.output_of(job) == ""
    assert set(requests) == {"PM_QUERY_HOST"}  # asked, never PM_EXEC
    assert guest_processes(session) == []
    assert all(k.servers["program"].started == 0 for k in session.kernels.values() if k.powered and "program" in k.servers)


def test_a_guest_asking_for_a_host_that_does_not_exist_gets_an_error():
    # No guest program calls remote_exec with a host name (parent always uses "*"); gps HOST calls
    # query_host(HOST), the routine remote_exec starts with, so it takes the same path.
    session = Session(config())
    requests = wire_requests(session)
    session.execute("gps ws9")
    assert session.run_until_done(30)
    (prog,) = session.summary()["programs"]
    assert prog["output"] == "gps: ws9: ETIMEOUT\n"
    assert prog["exit_status"] == 1
    assert set(requests) == {"PM_QUERY_HOST"}


# --- no willing host ---------------------------------------------------------------------------


def test_no_willing_host_from_the_cli_is_a_clear_error():
    proc, summary = vcluster_json("configs/tiny.yaml", "owner ws2 on", "owner ws3 on", "primes 100 @ *")
    assert proc.returncode == 1
    assert "vcluster: no idle host answered '@ *'" in proc.stderr
    (prog,) = summary["programs"]
    assert prog["error"] == "no idle host answered '@ *'"
    assert prog["pid"] == 0 and prog["host_started"] is None and prog["output"] == ""


def test_no_willing_host_when_every_other_machine_is_loaded():
    session = Session(config())
    requests = wire_requests(session)
    session.execute("spin 3 @ ws2")
    session.execute("spin 3 @ ws3")
    session.execute("wait 0.5")  # both running: load 1 > the 0.3 threshold
    assert all(session.kernels[h].load() >= 1 for h in ("ws2", "ws3"))
    session.execute("primes 100 @ *")
    assert session.run_until_done(30)
    spin2, spin3, primes = session.jobs
    assert primes.error == "no idle host answered '@ *'" and primes.pid == 0
    assert spin2.exit_status == spin3.exit_status == 0  # the loaded hosts were not disturbed
    assert requests.count("PM_EXEC") == 2


def test_no_willing_host_when_no_machine_has_the_memory():
    cfg = config("tiny", idle__min_free_memory_kb=4096)  # more than a 2 MB workstation has
    session, summary = run_session(["primes 100 @ *", "primes 100 @ ws3"], cfg)
    anywhere, named = summary["programs"]
    assert anywhere["error"] == "no idle host answered '@ *'"
    assert named["output"] == "primes <= 100: 25\n" and named["host_final"] == "ws3"


def test_a_guest_finding_no_willing_host_gets_an_error():
    session, summary = run_session(["owner ws2 on", "owner ws3 on", "parent 2 exitwith"])
    (parent,) = summary["programs"]
    assert parent["output"] == (
        "parent: child 1: could not start (ETIMEOUT)\n"
        "parent: child 2: could not start (ETIMEOUT)\n"
    )
    assert parent["exit_status"] == 0
    assert [name for name, _ in guest_processes(session)] == []


# --- kill, suspend, resume -------------------------------------------------------------------


def test_kill_a_remote_program_from_the_console():
    session = Session(config())
    ws2 = session.kernels["ws2"]
    free_before = ws2.frames.free_count
    session.execute("sleeper 5 @ ws2")
    session.execute("wait 0.5")
    pid = pid_from_ps(session, "sleeper", "ws2")
    (job,) = session.jobs
    assert pid == job.pid and abi.pid_lhid(pid) in ws2.lhs
    assert session.execute(f"kill {pid:#x}") == f"killed sleeper ({pid:#010x}) on ws2"
    assert session.run_until_done(10)
    assert session.sim.now < 1 * S  # it did not sleep its 5 s
    assert job.exit_status == -abi.EKILLED and job.error is None
    assert session.output_of(job) == ""
    assert ps_rows(session.execute("ps ws2")) == []
    assert abi.pid_lhid(pid) not in ws2.lhs  # its logical host is gone with it
    assert ws2.frames.free_count == free_before  # and its memory
    # it is gone: the console says so once the program managers' query goes unanswered (two group
    # Sends, vcluster/names.py), rather than wait for the kill's own Send to time out
    now = session.sim.now
    with pytest.raises(LineError, match=f"kill: no such program {pid:#x}"):
        session.execute(f"kill {pid:#x}")
    assert session.sim.now - now <= 2 * session.config.cost.host_query_timeout_ms * 1_000_000 + S // 100


def test_kill_a_cpu_bound_remote_program_from_another_users_workstation():
    session = Session(config())
    session.execute("spin 5 @ ws2")
    session.execute("wait 0.5")
    (job,) = session.jobs
    shell3, _ = other_user(session, "ws3")  # management works from any machine: PM_KILL goes to
    assert control_from(shell3, session, abi.PM_KILL, job.pid) == 0  # the pid's logical host
    assert session.run_until_done(10)
    assert job.exit_status == -abi.EKILLED
    assert session.sim.now < 1 * S


def test_suspend_then_resume_a_remote_cpu_bound_program():
    reference = Session(config())
    ref_exits = exits(reference)
    reference.execute("spin 2 @ ws2")
    assert reference.run_until_done(30)
    (ref_job,) = reference.jobs
    (ref_exit,) = ref_exits

    session = Session(config())
    ended = exits(session)
    session.execute("spin 2 @ ws2")
    session.execute("wait 0.6")  # spin runs from ~0.14 s (its image loaded)
    pid = pid_from_ps(session, "spin", "ws2")
    assert session.execute(f"suspend {pid:#x}") == f"suspended spin ({pid:#010x}) on ws2"
    session.execute("wait 0.05")  # the slice in progress ends
    (row,) = ps_rows(session.execute("ps ws2"))
    assert row["state"] == "suspended" and int(row["pid"], 16) == pid
    cpu = session.kernels["ws2"].processes[pid].cpu_ns
    assert 400 * MS < cpu < 700 * MS
    session.execute("wait 1")
    assert session.kernels["ws2"].processes[pid].cpu_ns == cpu  # no CPU while suspended
    assert session.kernels["ws2"].load() == 0  # and the machine is idle meanwhile
    (row,) = ps_rows(session.execute("ps ws2"))
    assert row["state"] == "suspended" and int(row["cpu_ms"]) == cpu // MS
    assert session.execute(f"resume {pid:#x}") == f"resumed spin ({pid:#010x}) on ws2"
    assert session.run_until_done(30)
    (job,) = session.jobs
    (end,) = ended
    assert job.exit_status == 0
    assert session.output_of(job) == reference.output_of(ref_job) == spin_output(2)
    assert end["cpu_ns"] == ref_exit["cpu_ns"]  # the same instructions, just later
    delay = end["time"] - ref_exit["time"]
    assert abs(delay - 1.05 * S) < 50 * MS  # late by the time it was suspended, within a slice or two


def test_suspend_then_resume_a_remote_sleeper_from_another_users_workstation():
    reference, _ = run_session(["sleeper 2 @ ws3"])
    session = Session(config())
    ended = exits(session)
    session.execute("sleeper 2 @ ws3")
    session.execute("wait 0.55")
    (job,) = session.jobs
    shell2, _ = other_user(session, "ws2")
    assert control_from(shell2, session, abi.PM_SUSPEND, job.pid) == 0
    session.execute("wait 1")
    (row,) = ps_rows(session.execute("ps ws3"))
    assert row["state"] == "suspended" and row["name"] == "sleeper"
    assert control_from(shell2, session, abi.PM_RESUME, job.pid) == 0
    assert session.run_until_done(30)
    assert session.output_of(job) == reference.output_of(reference.jobs[0]) == "sleeper: slept 2 s\n"
    assert job.exit_status == 0
    # its Delay ended while it was suspended: it carried on only when resumed
    (end,) = ended
    assert 0.85 * S < end["time"] - reference.sim.now < 1.05 * S  # 1 s, less the Delay step under way


def test_a_guest_parent_sees_a_killed_remote_child_exit_with_ekilled():
    session = Session(config())
    session.execute("parent 2 sleeper")  # children "sleeper 1" and "sleeper 2", both remote
    session.execute("wait 0.5")
    rows = [r for r in ps_rows(session.execute("ps")) if r["name"] == "sleeper"]
    assert len(rows) == 2 and all(r["host"] != "ws1" for r in rows)
    longest = session.kernels[rows[-1]["host"]].processes[int(rows[-1]["pid"], 16)]
    assert longest.team.argv == ["sleeper", "2"]
    assert session.execute(f"kill {longest.pid:#x}").startswith(f"killed sleeper ({longest.pid:#010x}) on ")
    assert session.run_until_done(30)
    (parent,) = session.jobs
    assert session.output_of(parent) == (
        "parent: started child 1\n"
        "parent: started child 2\n"
        "sleeper: slept 1 s\n"
        "parent: child 1 exited with 0\n"
        "parent: child 2 exited with -10\n"
    )


# --- a guest that remote-executes children ---------------------------------------------------


def test_a_guest_remote_executes_four_children_and_collects_their_exit_codes():
    session = Session(config())
    ended = exits(session)
    session.execute("parent 4 exitwith")
    assert session.run_until_done(60)
    (parent,) = session.jobs
    assert parent.exit_status == 0
    lines = session.output_of(parent).splitlines()
    assert [line for line in lines if line.startswith("parent:")] == [
        "parent: started child 1",
        "parent: started child 2",
        "parent: started child 3",
        "parent: started child 4",
        "parent: child 1 exited with 1",
        "parent: child 2 exited with 2",
        "parent: child 3 exited with 3",
        "parent: child 4 exited with 4",
    ]
    # the children's own output reached the parent's standard output (the user's console)
    assert sorted(line for line in lines if line.startswith("exitwith:")) == [f"exitwith: {k}" for k in range(1, 5)]
    children = [e for e in ended if e["name"] == "exitwith"]
    assert sorted((e["argv"], e["status"]) for e in children) == [(["exitwith", str(k)], k) for k in range(1, 5)]
    for child in children:
        assert child["host"] not in ("ws1", "fs1")  # on other machines, found with "@ *"
        assert child["priority"] is Priority.GUEST  # and run there as remote guests
    assert {c["host"] for c in children} == {"ws2", "ws3"}  # the first willing answer wins, either
    assert [e["host"] for e in ended if e["name"] == "parent"] == ["ws1"]


# --- ps ---------------------------------------------------------------------------------------


def test_ps_shows_remote_programs_on_all_machines_or_one():
    session = Session(config())
    session.execute("spin 3 @ ws2")
    session.execute("sleeper 3 @ ws3")
    session.execute("sleeper 3")
    session.execute("wait 0.7")  # three images loaded from one file server: spin runs from ~0.3 s
    spin, remote_sleeper, local_sleeper = session.jobs
    rows = ps_rows(session.execute("ps"))
    assert [(r["name"], r["host"]) for r in rows] == [("sleeper", "ws1"), ("spin", "ws2"), ("sleeper", "ws3")]
    by_host = {r["host"]: r for r in rows}
    row = by_host["ws2"]
    assert int(row["pid"], 16) == spin.pid
    assert int(row["lhid"], 16) == abi.pid_lhid(spin.pid) and abi.pid_lhid(spin.pid) in session.kernels["ws2"].lhs
    assert row["state"] in ("running", "ready")
    assert 350 <= int(row["cpu_ms"]) <= 500 and int(row["mem_kb"]) >= 16
    assert by_host["ws3"]["state"] == "delayed" and int(by_host["ws3"]["pid"], 16) == remote_sleeper.pid
    assert int(by_host["ws1"]["pid"], 16) == local_sleeper.pid
    # one host
    assert [(r["name"], r["host"]) for r in ps_rows(session.execute("ps ws3"))] == [("sleeper", "ws3")]
    assert ps_rows(session.execute("ps fs1")) == []
    with pytest.raises(LineError, match="unknown host 'ws9'"):
        session.execute("ps ws9")
    # the same through the program managers (PM_LIST), from guest code: gps HOST
    session.execute("gps ws3")
    session.execute("wait 0.2")
    assert session.output_of(session.jobs[-1]) == "sleeper delayed\n"
    session.execute("kill " + hex(spin.pid))
    assert session.run_until_done(30)


def test_ps_on_the_command_line():
    proc = vcluster("run", "configs/tiny.yaml", "spin 1 @ ws2", "wait 0.5", "ps", "ps ws1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.split()[:2] == ["pid", "name"]]
    assert len(headers) == 2
    first = lines[headers[0] + 1].split()
    assert first[1:3] == ["spin", "ws2"] and first[3].startswith("0x") and int(first[5]) > 0 and int(first[6]) > 0
    assert lines[headers[1] + 1].startswith("spin:")  # "ps ws1" listed nothing; then spin's output


# --- priority: remote guests run below locally invoked programs ------------------------------


def local_spin_with_guest(with_guest: bool) -> dict:
    session = Session(config())
    ws1 = session.kernels["ws1"]
    slices: list[tuple[int, str, bool]] = []  # (time, name, a local program was ready)
    run_slice = ws1._run_slice

    def watched(proc):
        local_ready = any(p.priority is Priority.LOCAL and ws1._runnable(p) for q in ws1.ready for p in q)
        slices.append((session.sim.now, proc.name, proc.priority, local_ready))
        run_slice(proc)

    ws1._run_slice = watched
    ended = exits(session)
    guest = None
    if with_guest:
        # ws2's user runs "spin 6 @ ws1": a remote guest on the console's own workstation
        _, start = other_user(session, "ws2")
        guest = start(["spin", "6"], "ws1")
        session.execute("wait 0.5")
        assert guest.host_started == "ws1" and ws1.processes[guest.pid].priority is Priority.GUEST
    else:
        session.execute("wait 0.5")
    t0 = session.sim.now
    session.execute("spin 3")
    local = session.jobs[0]
    cpu_samples = []
    def local_ended() -> bool:
        return any(e["name"] == "spin" and e["priority"] is Priority.LOCAL for e in ended)

    while not local_ended():  # sample the guest's CPU every 0.25 s until the local program ends
        until = session.sim.now + S // 4
        while session.sim.now < until and not local_ended():
            assert session.sim.step()
        if guest is not None and guest.pid in ws1.processes:
            cpu_samples.append(ws1.processes[guest.pid].cpu_ns)
    run_until(session, lambda: local.done, 10)
    (local_end,) = [e for e in ended if e["name"] == "spin" and e["priority"] is Priority.LOCAL]
    result = {"session": session, "local_elapsed": local_end["time"] - t0, "local_end": local_end["time"],
              "slices": slices, "cpu_samples": cpu_samples, "guest": guest, "ended": ended,
              "local_output": session.output_of(local)}
    if guest is not None:
        run_until(session, lambda: guest.done, 30)
        result["guest_output"] = session.kernels["ws2"].servers["display"].output(guest.stdout_instance)
    return result


def test_a_remote_guest_does_not_slow_a_local_program():
    alone = local_spin_with_guest(False)
    beside = local_spin_with_guest(True)
    assert alone["local_output"] == beside["local_output"] == spin_output(3)
    assert abs(beside["local_elapsed"] - alone["local_elapsed"]) <= 0.05 * alone["local_elapsed"]


def test_a_remote_guest_gets_the_cpu_only_when_the_local_program_is_idle():
    beside = local_spin_with_guest(True)
    # no guest slice ever started while a locally invoked program was ready to run
    guest_slices = [s for s in beside["slices"] if s[2] is Priority.GUEST]
    assert guest_slices and not [s for s in guest_slices if s[3]]
    # while the local spin ran (3 s), the guest's CPU time hardly moved: a slice while the local
    # program was loading or writing its output, no more
    samples = beside["cpu_samples"]
    assert len(samples) >= 10 and samples[-1] - samples[0] <= 3 * 20 * MS
    # the guest finished after the local program, its 6 s of CPU mostly after it; its output went
    # to the console of the user who started it (ws2), not to ws1's
    (guest_end,) = [e for e in beside["ended"] if e["priority"] is Priority.GUEST]
    assert guest_end["host"] == "ws1" and guest_end["time"] > beside["local_end"]
    assert beside["guest_output"] == spin_output(6)
    assert "600000" not in beside["session"].output_of(beside["session"].jobs[0])


# --- network transparency ---------------------------------------------------------------------


def test_a_remote_program_gets_the_same_arguments_environment_and_stdio():
    session = Session(config())
    stacks: dict[str, tuple] = {}
    for k in session.kernels.values():
        setup = k.memory.setup_stack

        def recorded(team, argv, envp, venv, k=k, setup=setup):
            stacks[k.name] = (list(argv), list(envp), dict(venv))
            return setup(team, argv, envp, venv)

        k.memory.setup_stack = recorded
    session.execute("echo a 'b  c' d")
    session.execute("echo a 'b  c' d @ ws2")
    assert session.run_until_done(30)
    local, remote = session.summary()["programs"]
    assert local["output"] == remote["output"] == "a b  c d\n"
    assert (local["host_final"], remote["host_final"]) == ("ws1", "ws2")
    (largv, lenv, lvenv), (rargv, renv, rvenv) = stacks["ws1"], stacks["ws2"]
    assert largv == rargv == ["echo", "a", "b  c", "d"]
    assert lenv == ["HOST=ws1"] and renv == ["HOST=ws2"]  # the only difference: where it runs
    home = session.kernels["ws1"]
    for venv, job in zip((lvenv, rvenv), session.jobs, strict=True):
        assert venv["stdout_pid"] == venv["stderr_pid"] == home.display_server.pid  # the user's console
        assert venv["stdout_inst"] == job.stdout_instance
        # standard input: the same console, the program's own instance (docs/ABI.md, I/O protocol)
        assert (venv["stdin_pid"], venv["stdin_inst"]) == (home.display_server.pid, job.stdout_instance)
        # the file server's process (each kernel found it by asking the file server group)
        fs = next(p.pid for p in session.kernels["fs1"].processes.values() if p.name == "file-server")
        assert venv["fileserver_pid"] == fs
        assert venv["home_lhid"] == home.system_lh.lhid
    same = ("stdin_pid", "fileserver_pid", "home_lhid", "magic")
    assert {k: lvenv[k] for k in same} == {k: rvenv[k] for k in same}
    assert (lvenv["flags"], rvenv["flags"]) == (0, abi.VENV_REMOTE)
    # nothing was written on ws2's own display
    assert all(not "".join(v) for v in session.kernels["ws2"].servers["display"].outputs.values())


def test_a_remote_program_talks_to_the_servers_of_the_machine_it_runs_on():
    # gps asks its own program manager (GetPid(PID_PROGRAM_MANAGER)): remotely, that of ws2 or ws3
    session, summary = run_session(["sleeper 2", "sleeper 2 @ ws3", "wait 0.5", "gps", "gps @ ws2", "gps @ ws3"])
    outputs = {(p["name"], p["host_final"]): p["output"] for p in summary["programs"] if p["name"] == "gps"}
    assert outputs == {
        ("gps", "ws1"): "gps awaiting-reply\nsleeper delayed\n",
        ("gps", "ws2"): "gps awaiting-reply\n",
        ("gps", "ws3"): "gps awaiting-reply\nsleeper delayed\n",
    }


def test_no_guest_is_left_anywhere_after_a_mixed_run():
    cfg = dataclasses.replace(config(), seed=3)
    session, summary = run_session(["echo x @ ws3", "primes 500 @ *", "parent 2 exitwith", "hello"], cfg)
    assert all(p["exit_status"] is not None for p in summary["programs"])
    assert guest_processes(session) == []
    assert all(not k.lhs.keys() - {k.system_lh.lhid} for k in session.kernels.values())
