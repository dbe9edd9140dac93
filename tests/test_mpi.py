"""Runs across MPI ranks (netsim/parallel.py, vcluster/mpirun.py) against the one-process run.

The reference is always the one-process run of the same config and seed: `mpirun -n K vcluster
run` must print the same bytes (the programs' output and the --json summary: migrations, events,
counters). And the one-process run itself must not depend on the order segments are declared in,
nor on a segment with nothing to do being added: the per-segment tie-break and random streams.
The mpirun tests skip, saying why, where mpirun or mpi4py is missing (CI installs both).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from configs.loader import load_config
from tests.helpers import ROOT
from vcluster.session import Session

SEGMENTS4 = ROOT / "configs" / "segments4.yaml"

# a program on each segment, two crossing gateways (lan2 <-> lan3 through lan1), an IPC pair on one
LINES = [
    "hello @ ws3",
    "primes 3000 @ ws5",
    "ipcserver 4 @ ws8",
    "ipcclient 4 16 6 quit @ ws7",
    "ipcserver 6 @ ws4",
    "ipcclient 6 8 3 quit @ ws6",
    "spin 0.5 @ ws2",
]

MPIRUN = shutil.which("mpirun")
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or not HAVE_MPI4PY,
    reason="needs mpirun and mpi4py (apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py)",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=str(ROOT))
    return env


def vrun(ranks: int, args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    """`vcluster run ARGS` in one process (ranks 0) or under `mpirun -n RANKS`."""
    cmd = [sys.executable, "-m", "vcluster.cli", "run", *args]
    if ranks:
        cmd = [MPIRUN, "--oversubscribe", "-n", str(ranks), *cmd]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=_env()
    )


@pytest.fixture(scope="module")
def reference() -> subprocess.CompletedProcess:
    return vrun(0, [str(SEGMENTS4), "--json", *LINES])


@needs_mpi
@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_run_across_ranks_prints_what_the_one_process_run_prints(reference, ranks: int) -> None:
    assert reference.returncode == 0, reference.stderr
    summary = json.loads(reference.stdout.splitlines()[-1])
    assert [p["exit_status"] for p in summary["programs"]] == [0] * len(LINES)
    assert "ipcclient: done" in summary["programs"][5]["output"]  # lan3 -> lan2, two gateways
    got = vrun(ranks, [str(SEGMENTS4), "--json", *LINES])
    assert got.returncode == 0, got.stderr
    assert got.stdout == reference.stdout  # outputs and the whole --json summary, byte for byte
    shares = [line for line in got.stderr.splitlines() if line.startswith("vcluster: rank ")]
    assert len(shares) == ranks  # each rank ran its share (netsim.parallel.place)
    assert "lan2" in shares[1] and "lan1" in shares[0]
    assert all("frames handed over" in line for line in shares)


@needs_mpi
def test_an_eviction_on_another_rank_is_in_rank_0s_summary() -> None:
    """ws3's owner comes back (lan2, rank 1): its guest is evicted there; the --json summary,
    migration record included, is the one-process run's."""
    args = [str(SEGMENTS4), "--json", "dirtier 256 32 8 @ ws3", "wait 2", "owner ws3 on"]
    alone = vrun(0, args)
    summary = json.loads(alone.stdout.splitlines()[-1])
    assert [(m["from"], m["ok"], m["eviction"]) for m in summary["migrations"]] == [
        ("ws3", True, True)
    ]
    split = vrun(2, args)
    assert split.returncode == alone.returncode == 0, split.stderr
    assert split.stdout == alone.stdout


@needs_mpi
def test_lines_that_need_other_ranks_machines_are_refused() -> None:
    got = vrun(2, [str(SEGMENTS4), "hello @ ws3", "ps"], timeout=120)
    assert got.returncode == 2
    assert "ps: not available in a run across MPI ranks" in got.stderr
    assert "Hello" in got.stdout  # the rest of the run goes on
    got = vrun(2, [str(SEGMENTS4), "--pcap", "/tmp/x.pcap", "hello @ ws3"], timeout=120)
    assert got.returncode == 2 and "--pcap: not available" in got.stderr


# --- the one-process run does not depend on the segments' order or on an idle extra one -------

EXTRA = """
  - name: lan0
"""
EXTRA_GATEWAY = """
  - name: gw0
    segments: [lan1, lan0]
    latency_us: 10000
"""
EXTRA_MACHINES = """
  - name: ws{i}
    count: 2
    first: 9
    segment: lan0
"""


def _variant(tmp_path: Path, how: str) -> Path:
    text = SEGMENTS4.read_text()
    head, rest = text.split("segments:\n", 1)
    seg_block, rest = rest.split("\ngateways:\n", 1)
    gw_block, machines = rest.split("\nmachines:\n", 1)
    if how == "reversed":
        entries = [e for e in seg_block.split("\n") if e.strip().startswith("- name:")]
        seg_block = "\n".join(reversed(entries))
    if how == "extra":
        seg_block += EXTRA.rstrip("\n")
        gw_block += EXTRA_GATEWAY.rstrip("\n")
        machines += EXTRA_MACHINES
    path = tmp_path / f"segments4-{how}.yaml"
    path.write_text(
        f"{head}segments:\n{seg_block}\n\ngateways:\n{gw_block}\n\nmachines:\n{machines}"
    )
    return path


def _outcome(path: Path) -> dict:
    """What the run did on lan1..lan4 and at the console: everything but the extra segment."""
    session = Session(load_config(str(path)))
    for line in LINES[:4]:
        session.execute(line)
    assert session.run_until_done(120)
    summary = session.summary()
    summary.pop("net")  # the first segment's counters: which one is first is what changes here
    summary.pop("config")
    summary["segments"].pop("lan0", None)  # the extra segment and gateway, and its port on lan1
    summary["gateways"].pop("gw0", None)
    if "gw0" in session.cluster.gateways:
        summary["segments"]["lan1"]["stations"] -= 1  # its count of stations
    segs = {n: s.stats() for n, s in session.cluster.segments.items() if n != "lan0"}
    port = segs["lan1"]["stations"].pop("gw0", None)  # the extra gateway's port on lan1
    if port is not None:  # it hears lan1's frames (promiscuous) and sends none (lan0 is silent)
        assert port["frames_sent"] == 0
        segs["lan1"]["delivered"] -= port["frames_received"]
    gws = {n: g.stats() for n, g in session.cluster.gateways.items() if n != "gw0"}
    session.close()
    return {"summary": summary, "segments": segs, "gateways": gws}


@pytest.mark.slow
def test_the_one_process_run_does_not_depend_on_other_segments(tmp_path: Path) -> None:
    base = _outcome(_variant(tmp_path, "base"))
    assert [p["exit_status"] for p in base["summary"]["programs"]] == [0] * 4
    assert base["segments"]["lan4"]["frames"] > 100  # the IPC pair's traffic
    for how in ("reversed", "extra"):
        assert _outcome(_variant(tmp_path, how)) == base, how


# --- the runner alone: two busy segments, a gateway, a stop on rank 0 mid-window ---------------

CHATTER = ROOT / "tests" / "parallel_chatter.py"


def _chatter(ranks: int, seed: int, stop_after: int) -> tuple[str, str]:
    cmd = [sys.executable, str(CHATTER), str(seed), str(stop_after)]
    if ranks > 1:
        cmd = [MPIRUN, "--oversubscribe", "-n", str(ranks), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT, env=_env())
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@needs_mpi
def test_the_other_rank_reports_what_it_had_at_the_stop() -> None:
    """Segment b (rank 1) keeps chattering past the instant segment a (rank 0) stops the run; its
    counters and the frames it heard are those of the one-process run at that instant."""
    overran = []
    for seed in (2, 5):
        alone, _ = _chatter(1, seed, 1200)
        split, err = _chatter(2, seed, 1200)
        assert json.loads(alone)["b"]["counters"]["frames"] > 100
        assert split == alone
        overran.append('"b_overran": true' in err)
    assert any(overran)  # the stop journal was needed (b had run on), not just the live counters


@needs_mpi
def test_a_window_hands_over_more_than_32_kb(tmp_path: Path) -> None:
    """40 ms gateways: a window carries dozens of full frames to the other rank in one message
    (mpi4py's irecv buffer is 32 KB; past it the run aborted or hung: a message is received
    once probed, whatever its size)."""
    config = tmp_path / "segments4-40ms.yaml"
    config.write_text(SEGMENTS4.read_text().replace("latency_us: 10000", "latency_us: 40000"))
    args = [str(config), "--json", "ipcserver 9 @ ws4", "ipcclient 9 16 3 quit @ ws6"]
    alone = vrun(0, args)
    assert alone.returncode == 0, alone.stderr
    split = vrun(2, args, timeout=120)
    assert split.returncode == 0, split.stderr
    assert split.stdout == alone.stdout
