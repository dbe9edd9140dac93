"""`vcluster bench segments --ranks 1,2`: one run of four segments on 1, 2... MPI ranks, the same bytes.

The workload (configs/segments4.yaml, four segments joined by 10 ms gateways): an IPC client and
server on each segment, moving 64 KB each way per round, and one pair whose requests cross two
gateways. Each rank count runs it as a user would, `vcluster run --json` (1 rank: without mpirun;
K ranks: `mpirun -n K`), and its stdout (the programs' output and the --json summary) must be
the 1-rank run's byte for byte: a difference is a failure (exit 1). Reported: wall seconds of
each (boot and MPI start-up included), the speed-up over 1 rank, and from each rank its
segments, events, windows and the wall seconds it spent waiting on the others.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "segments4.yaml"
ROUNDS = 40
LINES = [
    line
    for group, client, server in (
        (1, "ws1", "ws2"),
        (2, "ws3", "ws4"),
        (3, "ws5", "ws6"),
        (4, "ws7", "ws8"),
    )
    for line in (f"ipcserver {group} @ {server}", f"ipcclient {group} 64 {ROUNDS} quit @ {client}")
] + ["ipcserver 9 @ ws4", "ipcclient 9 16 10 quit @ ws6"]  # lan3 -> lan1 -> lan2
TIMEOUT_S = 900
_SHARE = re.compile(
    r"vcluster: rank (\d+): (.*?): (\d+) events, (\d+) windows, (\d+) frames handed over to it, "
    r"([\d.]+) s waiting on the others"
)


def _command(ranks: int) -> list[str]:
    cmd = [sys.executable, "-m", "vcluster.cli", "run", str(CONFIG), "--json", *LINES]
    if ranks == 1:
        return cmd
    return ["mpirun", "--oversubscribe", "-n", str(ranks), *cmd]


def run_once(ranks: int) -> dict[str, Any]:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    t0 = time.perf_counter()
    done = subprocess.run(
        _command(ranks), capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT, env=env
    )
    wall = time.perf_counter() - t0
    shares = [
        {
            "rank": int(m[1]),
            "segments": m[2].split(", "),
            "events": int(m[3]),
            "windows": int(m[4]),
            "handed_over": int(m[5]),
            "waiting_s": float(m[6]),
        }
        for m in _SHARE.finditer(done.stderr)
    ]
    return {
        "ranks": ranks,
        "wall_s": round(wall, 3),
        "status": done.returncode,
        "stdout": done.stdout,
        "stderr_tail": done.stderr.strip().splitlines()[-3:],
        "shares": shares,
    }


def run_bench(ranks: str | None = None) -> dict[str, Any]:
    counts = parse_ranks(ranks or "1,2")
    failures: list[str] = []
    if any(k > 1 for k in counts) and shutil.which("mpirun") is None:
        raise RuntimeError(
            "mpirun not found (apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py)"
        )
    runs = [run_once(k) for k in counts]
    reference = next((r for r in runs if r["ranks"] == 1), None) or run_once(1)
    summary = json.loads(reference["stdout"].splitlines()[-1]) if reference["stdout"] else {}
    rows = []
    for r in runs:
        same = r["stdout"] == reference["stdout"]
        if r["status"] != 0:
            failures.append(
                f"{r['ranks']} rank(s): exit {r['status']}: {' / '.join(r['stderr_tail'])}"
            )
        elif not same:
            failures.append(f"{r['ranks']} ranks: the output differs from the 1-rank run's")
        rows.append(
            {
                "ranks": r["ranks"],
                "wall_s": r["wall_s"],
                "identical": same,
                "speedup": round(reference["wall_s"] / r["wall_s"], 3) if r["wall_s"] else None,
                "shares": r["shares"],
            }
        )
    programs = summary.get("programs", [])
    return {
        "bench": "segments",
        "config": CONFIG.name,
        "lines": LINES,
        "sim_seconds": summary.get("sim_seconds"),
        "programs_ok": sum(1 for p in programs if p.get("exit_status") == 0),
        "programs": len(programs),
        "cores": os.cpu_count(),
        "runs": rows,
        "failures": failures,
    }


def parse_ranks(text: str) -> list[int]:
    from vcluster.bench_scale import counts_option

    return counts_option(text, "--ranks", "rank counts")


def render(result: dict[str, Any]) -> str:
    lines = [
        f"bench segments: {result['config']}, {result['programs_ok']}/{result['programs']} programs "
        f"exited 0, {result['sim_seconds']} simulated s, {result['cores']} cores",
        f"{'ranks':>5} {'wall s':>8} {'speed-up':>8} {'same bytes':>10}  per rank: segments "
        "(events, windows, s waiting)",
    ]
    for r in result["runs"]:
        shares = (
            "; ".join(
                f"{s['rank']}: {'+'.join(s['segments'])} ({s['events']}, {s['windows']}, {s['waiting_s']:g})"
                for s in r["shares"]
            )
            or "-"
        )
        lines.append(
            f"{r['ranks']:>5} {r['wall_s']:>8.2f} {r['speedup']:>8.2f} "
            f"{'yes' if r['identical'] else 'NO':>10}  {shares}"
        )
    return "\n".join(lines)
