"""`vcluster run` as a person types it: options anywhere, configs named wrong, lines it does not take, labels."""

from __future__ import annotations

import json

from tests.helpers import vcluster

HELLO = "Hello from the V-System!\n"


def test_options_anywhere_on_the_run_line_give_what_options_last_give(tmp_path):
    last = vcluster("run", "tiny", "hello", "--json")
    assert last.returncode == 0, last.stderr
    for args in (("--json", "tiny", "hello"), ("tiny", "--json", "hello")):
        proc = vcluster("run", *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(HELLO)
        summary = json.loads(proc.stdout.splitlines()[-1])
        assert summary["config"] == "tiny" and summary["programs"][0]["output"] == HELLO
        assert summary["net"] == json.loads(last.stdout.splitlines()[-1])["net"]
    pcap = tmp_path / "f.pcap"
    proc = vcluster("run", "configs/tiny.yaml", "--pcap", str(pcap), "hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == HELLO
    assert pcap.stat().st_size > 24  # a pcap header and frames


def test_an_unknown_config_name_is_an_error_naming_the_packaged_ones():
    proc = vcluster("run", "nosuchconfig", "hello")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "'nosuchconfig' is no config" in proc.stderr
    for name in ("tiny", "lab", "large"):
        assert name in proc.stderr
    assert "a path to a YAML file works too" in proc.stderr
    # a program's name first is still a line
    proc = vcluster("run", "--config", "tiny", "hello", "hello")
    assert proc.returncode == 0 and proc.stdout == HELLO * 2, proc.stderr


def test_console_only_lines_in_run_say_so():
    for line in ("speed 2", "pause", "step", "resume", "view ws2"):
        proc = vcluster("run", "tiny", line, "hello")
        assert proc.returncode == 2, (line, proc.stderr)
        first = proc.stderr.splitlines()[0]
        assert first.startswith(f"vcluster: line 1: {line.split()[0]} "), first
        assert "is a line of the interactive console" in first, first
        assert " only (vcluster boot, vcluster attach)" in proc.stderr, proc.stderr
        assert "no program" not in proc.stderr
        assert proc.stdout == HELLO  # the run goes on with the next line


def test_a_file_server_as_a_target_is_not_a_workstation():
    proc = vcluster("run", "tiny", "hello @ fs1")
    assert proc.returncode == 2
    assert "fs1 is the file server, not a workstation" in proc.stderr, proc.stderr


def test_labelled_output_prefixes_each_line_with_the_program():
    plain = vcluster("run", "tiny", "echo one two @ ws2", "primes 2000 @ ws3", "hello")
    labelled = vcluster(
        "run", "tiny", "--label", "echo one two @ ws2", "primes 2000 @ ws3", "hello"
    )
    assert plain.returncode == labelled.returncode == 0, labelled.stderr
    want = {
        "[1 echo] one two",
        "[2 primes] primes <= 2000: 303",
        "[3 hello] Hello from the V-System!",
    }
    assert set(labelled.stdout.splitlines()) == want
    # the same lines, less their labels
    unlabelled = sorted(line.split("] ", 1)[1] for line in labelled.stdout.splitlines())
    assert unlabelled == sorted(plain.stdout.splitlines())


def test_run_tells_each_program_s_end_on_stderr_and_stdout_stays_the_output():
    proc = vcluster("run", "tiny", "hello", "exitwith 3")
    assert proc.returncode == 1
    assert proc.stdout.startswith(HELLO)
    assert "[1] hello on ws1: exited 0" in proc.stderr.splitlines()
    assert "[2] exitwith 3 on ws1: exited 3" in proc.stderr.splitlines()


def test_help_of_every_command():
    for command in ("boot", "serve", "attach", "run", "bench", "files", "guest", "wireshark"):
        proc = vcluster(command, "--help")
        assert proc.returncode == 0 and f"usage: vcluster {command}" in proc.stdout
        # a description paragraph after the usage
        assert len(proc.stdout.split("\n\n")[1]) > 40, command
    run = vcluster("run", "--help").stdout
    assert run.startswith("usage: vcluster run [OPTIONS] [CONFIG] LINE [LINE ...]")
    assert "stderr" in run and "--label" in run
    bench = vcluster("bench", "--help").stdout
    from vcluster.bench import BENCHMARKS

    for name, (_, _, what) in BENCHMARKS.items():
        assert f"  {name}" in bench and what in bench


# --- every console line answers ---------------------------------------------------------------


def test_every_console_line_answers_ok_or_a_clear_error():
    lines = [
        "spin 5 @ ws2",
        "spin 5 @ ws3",
        "wait 0.3",
        "suspend 1",
        "resume 1",
        "owner ws3 on",
        "owner ws3 off",
        "fault loss 0.01",
        "fault partition ws3",
        "fault heal",
        "fault loss 0",
        "crash ws3",
        "hosts",
        "power ws3 on",
        "kill 1",
    ]
    proc = vcluster("run", "tiny", *lines)
    assert proc.returncode == 1, proc.stderr  # spin on ws3 was lost in the crash
    out = proc.stdout.splitlines()
    spin = [line for line in out if line.startswith("suspended spin (0x")]
    assert spin and spin[0].endswith(" on ws2")
    pid = spin[0].split("(")[1].split(")")[0]
    expected = [
        f"suspended spin ({pid}) on ws2",
        f"resumed spin ({pid}) on ws2",
        "ws3: owner present",
        "ws3: owner away",
        "the network loses 0.01 of its frames",
        "the network is partitioned: ws3 apart from the other hosts",
        "the network is whole again (no partition)",
        "the network loses 0 of its frames",
    ]
    assert out[: len(expected)] == expected
    crashed = out[len(expected)]
    assert crashed.startswith("ws3 crashed") and "programs lost: spin (0x" in crashed
    hosts = out[len(expected) + 1 : len(expected) + 6]
    assert hosts[0].split()[:4] == ["host", "role", "state", "owner"]
    ws3 = next(line.split() for line in hosts if line.startswith("ws3"))
    assert ws3[2] == "down"  # a crashed host is down
    # aligned: every column starts where its header does
    assert len({len(line.split("workstation")[0]) for line in hosts if "workstation" in line}) == 1
    assert out[len(expected) + 6] == "ws3 powered on: its kernel booted afresh"
    assert out[len(expected) + 7] == f"killed spin ({pid}) on ws2"
    assert "[1] spin 5 on ws2: killed" in proc.stderr.splitlines()
    assert "vcluster: spin: lost when ws3 crashed" in proc.stderr


def test_kill_takes_a_pid_a_job_number_or_a_name_and_a_missing_pid_is_no_such_program_at_once():
    proc = vcluster(
        "run",
        "tiny",
        "--json",
        "spin 5 @ ws2",
        "primes 900000 @ ws3",
        "sleeper 5",
        "wait 0.5",
        "ps",
        "kill 0x7777",
        "kill 2",
        "kill spin",
        "kill 9",
        "kill nosuch",
    )
    assert proc.returncode == 2  # three kills were refused
    out = proc.stdout.splitlines()
    summary = json.loads(out[-1])
    pids = {p["name"]: p["pid"] for p in summary["programs"]}
    assert f"killed primes ({pids['primes']:#010x}) on ws3" in out
    assert f"killed spin ({pids['spin']:#010x}) on ws2" in out
    sleeper = next(line for line in out if line.split()[1:2] == ["sleeper"]).split()[0]
    errors = {e["line"]: e["error"] for e in summary["errors"]}
    assert (
        errors[6]
        == "kill: no such program 0x7777: no pid or # of a running program (`ps` lists them)"
    )
    assert errors[9].startswith("kill: no such program 9")
    assert errors[10].startswith("kill: no such program 'nosuch'")
    # refused at once: no 5 s wait (after the kills at 0.5 s) for an answer that cannot come
    assert summary["sim_seconds"] < 0.5 + 5
    ends = {p["name"]: p["exit_status"] for p in summary["programs"]}
    assert ends["spin"] == ends["primes"] == -10 and ends["sleeper"] == 0  # EKILLED; sleeper ran on
    again = vcluster("run", "tiny", "sleeper 2", "wait 0.2", f"kill {sleeper}")
    assert (
        again.returncode == 1 and f"killed sleeper ({sleeper}) on ws1" in again.stdout.splitlines()
    )
    assert "[1] sleeper 2 on ws1: killed" in again.stderr.splitlines()


def test_exit_statuses_are_named():
    proc = vcluster(
        "run",
        "tiny",
        "owner ws1 on",
        "owner ws3 on",
        "hello",
        "exitwith 7",
        "faults divzero",
        "spin 3 @ ws2",
        "wait 1",
        "migrateprog -n spin",
    )
    err = proc.stderr.splitlines()
    assert "[1] hello on ws1: exited 0" in err
    assert "[2] exitwith 7 on ws1: exited 7" in err
    assert any(
        line.startswith("[3] faults divzero on ws1: fault: exception: divide by zero")
        for line in err
    ), err
    assert "[4] spin 3 on ws2: destroyed (-n)" in err
    assert proc.stderr.count("divide by zero") == 1  # the fault is said once, in its exit line


def test_the_exit_line_names_the_final_host_and_the_way_there():
    proc = vcluster(
        "run",
        "tiny",
        "--json",
        "dirtier 256 32 6 @ ws2",
        "wait 1",
        "migrateprog dirtier",
        "wait 0.5",
        "migrateprog dirtier",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    moves = [(m["from"], m["to"]) for m in summary["migrations"] if m["ok"]]
    assert len(moves) == 2 and moves[0][0] == "ws2" and moves[0][1] == moves[1][0]
    (dirtier,) = summary["programs"]
    assert dirtier["host_final"] == moves[1][1]
    line = f"[1] dirtier 256 32 6 on {moves[1][1]} (from ws2 via {moves[0][1]}): exited 0"
    assert line in proc.stderr.splitlines(), proc.stderr
    answers = [
        line for line in proc.stdout.splitlines()[:-1] if line.startswith("migrated dirtier")
    ]
    assert len(answers) == 2
    for answer, m in zip(answers, [m for m in summary["migrations"] if m["ok"]], strict=True):
        rounds = f"{m['rounds']} pre-copy round{'' if m['rounds'] == 1 else 's'},"
        assert answer.startswith(f"migrated dirtier from {m['from']} to {m['to']}: {rounds}"), (
            answer
        )


def test_a_failing_bench_exits_non_zero_and_says_why(monkeypatch, capsys):
    import sys
    import types

    from vcluster import bench

    module = types.ModuleType("fake_bench")
    module.failing = lambda: {"programs": 20, "failures": ["burst: 3 of 20 programs did not start"]}
    module.passing = lambda: {"programs": 20, "failures": []}
    module.raising = lambda: 1 / 0
    monkeypatch.setitem(sys.modules, "fake_bench", module)
    for name in ("failing", "passing", "raising"):
        monkeypatch.setitem(bench.BENCHMARKS, name, ("fake_bench", name, name))
    assert bench.main("passing", True) == 0
    assert json.loads(capsys.readouterr().out) == {"programs": 20, "failures": []}
    assert bench.main("failing", False) == 1
    err = capsys.readouterr().err
    assert err == "vcluster bench failing: burst: 3 of 20 programs did not start\n"
    assert bench.main("raising", False) == 1
    assert "vcluster bench raising: failed: ZeroDivisionError" in capsys.readouterr().err


def test_run_prints_an_eviction_as_a_line_on_stderr():
    proc = vcluster("run", "tiny", "--json", "dirtier 256 32 6 @ ws3", "wait 1", "owner ws3 on")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    (evicted,) = [e for e in summary["events"] if e["kind"] == "migration"]
    assert evicted["text"].startswith("evicted dirtier from ws3 to ")
    assert f"[{evicted['time']:10.3f}] {evicted['text']}" in proc.stderr.splitlines()
    # stdout: the line's answer and the program's output, as without the eviction
    assert proc.stdout.splitlines()[:2] == [
        "ws3: owner present",
        summary["programs"][0]["output"].rstrip("\n"),
    ]


def test_labels_by_default_only_on_a_terminal_when_the_lines_start_several_programs(monkeypatch):
    import io
    import sys

    from vcluster.cli import _label

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    two = ["hello", "wait 1", "echo hi @ ws2"]
    one = ["hello", "wait 1", "ps", "kill hello"]
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not _label(None, two) and _label(True, one)
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert _label(None, two) and not _label(None, one) and not _label(False, two)


def test_a_crashed_host_lists_no_programs_and_shows_down():
    proc = vcluster(
        "run", "tiny", "spin 3 @ ws3", "wait 0.3", "ps ws3", "crash ws3", "ps ws3", "hosts"
    )
    out = proc.stdout.splitlines()
    assert out[0].split()[:2] == ["pid", "name"] and out[1].split()[1:3] == ["spin", "ws3"]
    assert out[2].startswith("ws3 crashed")
    assert out[3].split()[:2] == ["pid", "name"] and out[4].split()[0] == "host"  # no row between
    assert next(line for line in out if line.startswith("ws3  workstation")).split()[2] == "down"
