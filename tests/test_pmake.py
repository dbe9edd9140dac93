"""pmake: a parallel make over remote execution (guest/src/programs/pmake.c), and its benchmark."""

from __future__ import annotations

import dataclasses
import re

import pytest
from helpers import config

from vcluster import bench, bench_pmake
from vcluster.session import Session

S = 1_000_000_000
MS = 1_000_000

# six jobs: a -> (b, c) -> d; e; all needs d and e (and runs a job of its own)
SIX = """\
# six jobs with dependencies
all: d e ; spin 0.5
a: ; spin 0.5
b: a ; spin 0.5
c: a ; spin 0.5
d: b c ; spin 0.5      # a comment after a rule
e: ; spin 0.5
"""
SPIN_HALF = "spin: 50000 iterations, checksum 0xe88caeda\n"


class Run:
    """pmake (or another console line) on a cluster, with every guest exit and PM record observed."""

    def __init__(self, makefile: str | None, line: str, cfg=None, sample_ms: int = 0, limit_s: float = 120.0):
        images = {"test.mk": makefile.encode()} if makefile is not None else None
        self.session = s = Session(cfg or config(), images=images)
        self.exits: list[dict] = []
        self.creators: dict[int, tuple[int, str]] = {}  # child pid -> (creator pid, host)
        self.alive_samples: list[int] = []
        for k in s.kernels.values():
            k.on_exit.append(lambda proc, status, k=k: self._exit(k, proc, status))
        if sample_ms:
            self._sample(sample_ms)
        s.execute(line)
        self.finished = s.run_until_done(limit_s)
        self.job = s.jobs[0]
        self.output = s.output_of(self.job)
        self.status = self.job.exit_status

    def _exit(self, k, proc, status):
        if proc.team is not None:
            self.exits.append({"pid": proc.pid, "argv": list(proc.team.argv), "host": k.name,
                               "status": status, "time": self.session.sim.now})

    def _sample(self, every_ms: int):
        s = self.session

        def tick():
            alive = 0
            for k in s.kernels.values():
                pm = k.servers.get("program")
                for record in (pm.programs.values() if pm else ()):
                    self.creators.setdefault(record.pid, (record.creator, k.name))
                alive += sum(1 for p in k.processes.values()
                             if p.team is not None and p.name != "pmake")
            self.alive_samples.append(alive)
            if not s.jobs or not all(j.done for j in s.jobs):
                s.sim.at(s.sim.now + every_ms * MS, tick)

        s.sim.at(s.sim.now + every_ms * MS, tick)

    def children(self) -> list[dict]:
        return [e for e in self.exits if e["argv"][0] != "pmake"]

    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("pmake: ")]


def idle_cluster(workstations: int):
    """tiny with `workstations` workstations in all (ws1 the console's), every owner away."""
    cfg = config()
    ws1 = cfg.machine("ws1")
    machines = [dataclasses.replace(ws1, name=f"ws{i + 1}", mac="") for i in range(workstations)]
    server = next(m for m in cfg.machines if m.role == "fileserver")
    return dataclasses.replace(cfg, machines=(*machines, dataclasses.replace(server, mac="")))


# --- a build that succeeds -------------------------------------------------------------------


@pytest.fixture(scope="module")
def six() -> Run:
    return Run(SIX, "pmake test.mk 2", sample_ms=50)


def test_six_jobs_all_succeed(six):
    assert six.finished and six.status == 0, six.output
    assert six.lines()[-1] == "pmake: 6 jobs, all succeeded"
    assert six.output.count(SPIN_HALF) == 6
    started = [line.split()[-1] for line in six.lines() if line.startswith("pmake: started ")]
    done = [line.split()[1] for line in six.lines() if line.endswith(" done")]
    assert sorted(started) == sorted(done) == ["a", "all", "b", "c", "d", "e"]


def test_dependencies_come_first(six):
    lines = six.lines()

    def at(text: str) -> int:
        return lines.index(text)

    for target, deps in {"b": "a", "c": "a", "d": "bc", "all": "de"}.items():
        for dep in deps:
            assert at(f"pmake: {dep} done") < at(f"pmake: started {target}"), lines


def test_jobs_run_remotely_as_children_of_pmake(six):
    children = six.children()
    assert len(children) == 6 and all(c["status"] == 0 for c in children)
    assert {c["host"] for c in children} <= {"ws2", "ws3"}  # never the origin ws1
    assert all(c["argv"] == ["spin", "0.5"] for c in children)
    # the jobs are pmake's children, not console jobs
    assert [j.argv[0] for j in six.session.jobs] == ["pmake"]
    seen = {pid: creator for pid, creator in six.creators.items() if pid in {c["pid"] for c in children}}
    assert len(seen) == 6
    assert {creator for creator, _host in seen.values()} == {six.job.pid}
    assert {host for _creator, host in seen.values()} <= {"ws2", "ws3"}


def test_never_more_than_jobs_at_once(six):
    assert max(six.alive_samples) == 2


def test_jobs_limit_with_more_idle_hosts():
    """Five independent jobs, six idle workstations: JOBS=2 keeps two alive, JOBS=5 runs all five."""
    mk = "all: a b c d e\n" + "".join(f"{t}: ; spin 0.5\n" for t in "abcde")
    for jobs, most in ((1, 1), (2, 2), (5, 5)):
        run = Run(mk, f"pmake test.mk {jobs}", cfg=idle_cluster(7), sample_ms=50)
        assert run.status == 0 and run.lines()[-1] == "pmake: 5 jobs, all succeeded", run.output
        assert max(run.alive_samples) == most, (jobs, run.alive_samples)
        assert "ws1" not in {c["host"] for c in run.children()}


def test_deterministic(six):
    again = Run(SIX, "pmake test.mk 2")
    assert again.output == six.output
    assert [(e["host"], e["time"]) for e in again.exits] == [(e["host"], e["time"]) for e in six.exits]


# --- failures ---------------------------------------------------------------------------------

FAILING = """\
all: d e f
a: ; spin 0.2
b: a ; exitwith 3 broken
c: a ; spin 0.2
d: b c ; echo built-d
e: ; echo built-e
f: d ; echo built-f
"""


def test_a_failing_job_stops_its_dependents():
    run = Run(FAILING, "pmake test.mk 2")
    assert run.finished and run.status == 1, run.output
    lines = run.lines()
    assert "pmake: b failed (exit 3)" in lines
    assert "pmake: d not built (b failed)" in lines
    assert "pmake: f not built (b failed)" in lines
    assert "pmake: all not built (b failed)" in lines
    assert lines[-1] == "pmake: 6 jobs, 1 failed, 2 not started"
    # the independent jobs ran (make -k), the dependents never started
    assert "exitwith: broken" in run.output and "built-e" in run.output
    assert "built-d" not in run.output and "built-f" not in run.output
    assert not any(line in lines for line in ("pmake: started d", "pmake: started f"))
    assert sorted(c["argv"][0] for c in run.children()) == ["echo", "exitwith", "spin", "spin"]
    # pmake waited for the running jobs before ending
    end = next(e["time"] for e in run.exits if e["argv"][0] == "pmake")
    assert all(c["time"] <= end for c in run.children())


def test_a_job_that_cannot_start_fails():
    run = Run("all: a b\na: ; nosuchprogram 1\nb: ; echo fine\n", "pmake test.mk")
    assert run.status == 1
    assert "pmake: a: could not start (ENOENT)" in run.lines()
    assert run.lines()[-1] == "pmake: 2 jobs, 1 failed"


@pytest.mark.parametrize("makefile, line, message", [
    (None, "pmake nosuch.mk", "pmake: nosuch.mk: ENOENT"),
    ("a: b ; echo x\n", "pmake test.mk", "pmake: test.mk:1: no rule for b"),
    ("a: b ; echo x\nb: a ; echo y\n", "pmake test.mk", "pmake: test.mk:1: dependency cycle through a"),
    ("a b: ; echo x\n", "pmake test.mk", "pmake: test.mk:1: expected one target before ':'"),
    ("# only\nno colon here\n", "pmake test.mk", "pmake: test.mk:2: expected 'target: deps ; command'"),
    ("a: ; echo x\na: ; echo y\n", "pmake test.mk", "pmake: test.mk:2: a second rule for a"),
    ("a: ;\n", "pmake test.mk", "pmake: test.mk:1: empty command after ';' for a"),
    ("a: ; echo x\n", "pmake test.mk 4 zz", "pmake: no rule for zz"),
    ("a: ; echo x\n", "pmake test.mk 0", "usage: pmake MAKEFILE [JOBS [TARGET...]]"),
    ("a: ; echo x\n", "pmake", "usage: pmake MAKEFILE [JOBS [TARGET...]]"),
])
def test_clean_errors(makefile, line, message):
    run = Run(makefile, line)
    assert run.status == 2
    assert run.output.startswith(message), run.output
    assert run.children() == []


def test_goals_on_the_command_line():
    run = Run(SIX, "pmake test.mk 3 c e")
    assert run.status == 0
    assert run.lines()[-1] == "pmake: 3 jobs, all succeeded"  # a, c, e
    assert sorted(line.split()[-1] for line in run.lines() if "started" in line) == ["a", "c", "e"]


def test_no_idle_host_runs_the_job_here():
    """Both other workstations' owners are back: after its tries, pmake runs the job on the origin."""
    cfg = config()
    s = Session(cfg, images={"test.mk": b"a: ; echo here\n"})
    s.execute("owner ws2 on")
    s.execute("owner ws3 on")
    s.execute("pmake test.mk")
    assert s.run_until_done(60)
    out = s.output_of(s.jobs[0])
    assert "pmake: started a here (no idle host)" in out
    assert out.endswith("pmake: 1 jobs, all succeeded\n")
    assert s.jobs[0].exit_status == 0


# --- the benchmark -----------------------------------------------------------------------------


def test_the_build_graph():
    assert bench_pmake.jobs_count() == 24
    assert bench_pmake.total_seconds() == 69.5
    assert bench_pmake.critical_seconds() == 11.5
    text = bench_pmake.BUILD_MK
    assert "kernel.p: kernel.i ; workload parser 3" in text
    assert "vsys: kernel.o ipc.o memory.o files.o shell.o ; workload linker 3" in text
    assert bench_pmake.list_schedule_seconds(1) == 69.5
    assert bench_pmake.list_schedule_seconds(8) == 11.5


def test_registered_as_pmake():
    assert "pmake" in bench.names()
    assert bench.load("pmake") is bench_pmake.run_bench


@pytest.fixture(scope="module")
def result():
    return bench_pmake.run_bench()


def test_bench_speedup(result):
    seconds, speedup = result["seconds"], result["speedup"]
    assert set(seconds) == {"1", "2", "4", "8"}
    assert seconds["1"] > seconds["2"] > seconds["4"] > seconds["8"] > result["critical_path_seconds"]
    assert seconds["1"] > result["work_seconds"]
    assert speedup["8"] >= 5.0 and result["meets_target"]
    assert speedup["8"] <= result["bound_speedup"]
    assert result["sprite_speedup"] == [3.0, 6.0]
    assert result["summary"] == "pmake: 24 jobs, all succeeded"
    assert result["jobs_on_origin"] == 0
    assert result["max_jobs_alive"] == {"1": 1, "2": 2, "4": 4, "8": 8}
    for n in ("1", "2", "4", "8"):
        assert sum(result["jobs_per_host"][n].values()) == 24
        assert len(result["jobs_per_host"][n]) == int(n)
        net = result["net"][n]
        assert 0 < net["utilization"] < 0.1 and net["frames"] > 0
    # the model of pmake's policy explains the measurements within a few percent
    for n in ("2", "4", "8"):
        assert result["model_seconds"][n] == pytest.approx(seconds[n], rel=0.05)
    assert re.search(r"critical path", result["explanation"])
