"""End to end through the V kernel: programs loaded from the file server over the simulated Ethernet."""

from __future__ import annotations

from helpers import config, programs_by_name, run_session, vcluster, vcluster_json


def primes_reference(n: int) -> int:
    sieve = bytearray([1]) * (n + 1)
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return sum(sieve)


def test_cli_run_hello_loads_from_file_server_and_reports_json():
    proc, summary = vcluster_json("configs/tiny.yaml", "hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "Hello from the V-System!"
    (hello,) = summary["programs"]
    assert hello["exit_status"] == 0
    assert hello["host_started"] == hello["host_final"] == "ws1"
    assert hello["output"] == "Hello from the V-System!\n"
    # the image came over the wire: at least its ~10 KB went through the Ethernet
    assert summary["net"]["bytes"] > 10_000
    assert summary["net"]["frames"] > 10


def test_primes_matches_python_reference():
    _, summary = run_session(["primes 1000", "primes 2000"])
    outputs = [p["output"] for p in summary["programs"]]
    assert outputs == [f"primes <= 1000: {primes_reference(1000)}\n", f"primes <= 2000: {primes_reference(2000)}\n"]


def test_remote_exec_at_host_and_at_any():
    proc, summary = vcluster_json("configs/tiny.yaml", "echo hi @ ws2", "primes 2000 @ *")
    assert proc.returncode == 0, proc.stderr
    progs = programs_by_name(summary)
    assert progs["echo"]["output"] == "hi\n"
    assert progs["echo"]["host_final"] == "ws2"
    assert progs["primes"]["output"] == "primes <= 2000: 303\n"
    assert progs["primes"]["host_final"] not in ("ws1", "fs1")  # never the origin, never the server
    assert "hi" in proc.stdout and "primes <= 2000: 303" in proc.stdout


def test_faulting_guest_is_reported_and_the_others_finish():
    _, summary = run_session(["spin 1", "faults divzero", "faults unmapped", "hello"])
    progs = summary["programs"]
    spin, divzero, unmapped, hello = progs
    assert spin["exit_status"] == 0 and spin["output"].startswith("spin: ")
    assert hello["exit_status"] == 0
    assert divzero["output"] == "faults: divzero\n"
    assert "divide by zero" in divzero["fault"] and "on ws1" in divzero["fault"]
    assert "unmapped" in unmapped["fault"]
    assert divzero["exit_status"] != 0 and unmapped["exit_status"] != 0


def test_every_fault_kind_ends_only_that_program():
    kinds = ["bkpt", "illegal", "divzero", "unmapped", "protected", "null", "stackoverflow"]
    _, summary = run_session([f"faults {k}" for k in kinds] + ["hello"], max_sim_seconds=60)
    *faulted, hello = summary["programs"]
    assert hello["output"] == "Hello from the V-System!\n"
    expect = {"bkpt": "bkpt", "illegal": "illegal instruction", "divzero": "divide by zero",
              "unmapped": "unmapped", "protected": "protection", "null": "unmapped",
              "stackoverflow": "unmapped"}
    for kind, prog in zip(kinds, faulted, strict=True):
        assert prog["output"] == f"faults: {kind}\n"
        assert prog["fault"] is not None and expect[kind] in prog["fault"], (kind, prog["fault"])


def test_same_config_and_seed_give_identical_json():
    args = ("configs/tiny.yaml", "echo one @ ws2", "primes 500 @ *", "dirtier 32 16 1", "--seed", "7")
    first = vcluster("run", *args, "--json")
    second = vcluster("run", *args, "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


def test_unknown_program_and_bad_line_are_refused():
    proc = vcluster("run", "configs/tiny.yaml", "nosuchprog")
    assert proc.returncode == 2
    assert "no program 'nosuchprog'" in proc.stderr
    proc = vcluster("run", "configs/tiny.yaml", "echo hi @ ws9")
    assert proc.returncode == 2
    assert "unknown host 'ws9'" in proc.stderr


def test_no_willing_host_for_any_is_a_clear_error():
    cfg = config("tiny")
    # every other workstation's owner is at the keyboard: nobody answers "@ *"
    import dataclasses

    machines = tuple(
        dataclasses.replace(m, owner=dataclasses.replace(m.owner, present=True)) if m.name in ("ws2", "ws3") else m
        for m in cfg.machines
    )
    cfg = dataclasses.replace(cfg, machines=machines)
    session, summary = run_session(["primes 100 @ *"], cfg)
    (prog,) = summary["programs"]
    assert prog["error"] == "no idle host answered '@ *'"
    assert prog["pid"] == 0
    assert not any(p for k in session.kernels.values() for p in k.processes.values() if p.team is not None)
