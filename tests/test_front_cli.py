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
        assert "vcluster: line 1: " in proc.stderr and "interactive console only" in proc.stderr, proc.stderr
        assert "no program" not in proc.stderr
        assert proc.stdout == HELLO  # the run goes on with the next line


def test_a_file_server_as_a_target_is_not_a_workstation():
    proc = vcluster("run", "tiny", "hello @ fs1")
    assert proc.returncode == 2
    assert "fs1 is the file server, not a workstation" in proc.stderr, proc.stderr


def test_labelled_output_prefixes_each_line_with_the_program():
    plain = vcluster("run", "tiny", "echo one two @ ws2", "primes 2000 @ ws3", "hello")
    labelled = vcluster("run", "tiny", "--label", "echo one two @ ws2", "primes 2000 @ ws3", "hello")
    assert plain.returncode == labelled.returncode == 0, labelled.stderr
    want = {"[1 echo] one two", "[2 primes] primes <= 2000: 303", "[3 hello] Hello from the V-System!"}
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
