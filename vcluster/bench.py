"""Benchmarks: `vcluster bench NAME` runs one, prints a human table or one JSON object."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# name -> (module, function, one-line description)
BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "cpu": (
        "vcluster.bench_cpu",
        "run_bench",
        "guest MIPS under the MMU and budget, and under the kernel, vs raw Unicorn",
    ),
    "faults": (
        "vcluster.bench_faults",
        "run_bench",
        "the torture sweep: loss, crashes, partitions, kill, exit x seeds: hangs, copies, losses",
    ),
    "evict": (
        "vcluster.bench_evict",
        "run_bench",
        "owner comes back: time until the host is free of guests",
    ),
    "migrate": (
        "vcluster.bench_migrate",
        "run_bench",
        "pre-copy migration of the Table 4-1 workloads vs V",
    ),
    "net": (
        "netsim.bench",
        "run_bench",
        "scheduler events/s, saturated-segment frames/s, sim/wall",
    ),
    "segments": (
        "vcluster.bench_segments",
        "run_bench",
        "four segments on 1, 2... MPI ranks (--ranks 1,2): the same bytes, the speed-up",
    ),
    "scale": (
        "vcluster.bench_scale",
        "run_bench",
        "120 and 1,000 workstations: boot, RSS, idle cost; 100 and 1,000 @ * programs: selection",
    ),
    "rexec": (
        "vcluster.bench_rexec",
        "run_bench",
        "remote exec: host selection, set-up/destroy, load per 100 KB vs V",
    ),
    "ft": (
        "vcluster.bench_ft",
        "run_bench",
        "checkpoints: overhead at 0.5/1/5 s, bytes and freeze each, recovery after a crash",
    ),
    "build": (
        "vcluster.bench_build",
        "run_bench",
        "a real build: vcc compiles itself with pmake on 1, 2, 4, 8 machines, owners returning",
    ),
    "pmake": (
        "vcluster.bench_pmake",
        "run_bench",
        "a 24-job parallel build on 1, 2, 4, 8 idle machines vs Sprite's 3..6x",
    ),
}


def names() -> list[str]:
    return sorted(BENCHMARKS)


def load(name: str) -> Callable[[], dict[str, Any]]:
    module, func, _ = BENCHMARKS[name]
    return getattr(importlib.import_module(module), func)


# benches that take options: name -> the options (`vcluster bench NAME --OPTION`)
OPTIONS: dict[str, tuple[str, ...]] = {
    "faults": ("seeds", "quick"),
    "rexec": ("quick",),
    "ft": ("quick",),
    "scale": ("hosts", "quick"),
    "segments": ("ranks",),
}


def render_table(
    name: str, result: dict[str, Any], extra: list[tuple[str, str]] | None = None
) -> str:
    """The bench's own table (its module's `render`), else a plain two-column table of the
    top-level results (nested values as JSON), then `extra` rows."""
    render = getattr(importlib.import_module(BENCHMARKS[name][0]), "render", None)
    if render is not None:
        return "\n".join([render(result), *comparison_lines(result)])
    rows = [(k, v if isinstance(v, str | int) else json.dumps(v)) for k, v in result.items()
            if k != "comparisons"]
    rows += extra or []
    width = max((len(k) for k, _ in rows), default=0)
    lines = [f"bench {name}"] + [f"  {k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines + comparison_lines(result))


def comparison_lines(result: dict[str, Any]) -> list[str]:
    """The figures compared with V, each split into emergent and calibrated time (the
    `comparisons` rows of vcluster/bench_split.py), as a table under the results."""
    from vcluster.bench_split import row_line, table_header

    rows = result.get("comparisons") or []
    if not rows:
        return []
    lines = ["", "compared with V (ms; model = the charges the code makes, with this run's constants)",
             table_header()]
    for r in rows:
        lines.append(row_line(r["figure"], r["unit"], r["measured_ms"], r.get("v_ms", "-"), r,
                              r.get("model_ms")))
    return lines


def main(
    name: str,
    as_json: bool,
    *,
    plot: str | None = None,
    from_json: str | None = None,
    **options: Any,
) -> int:
    """Run one benchmark; `options` (None = not given) go to the benches that take them.
    1 when it raised or its own checks failed (its `failures`, said on stderr). `plot`: also draw
    it beside the paper's figures (vcluster/plots.py) into that PNG; `from_json`: take the result
    from that file (what an earlier --json printed) instead of running the bench."""
    if name not in BENCHMARKS:
        print(
            f"vcluster bench: unknown benchmark {name!r}; known: {', '.join(names())}",
            file=sys.stderr,
        )
        return 2
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    wrong = sorted(set(given) - set(OPTIONS.get(name, ())))
    if wrong:
        print(f"vcluster bench {name}: no option --{wrong[0]}", file=sys.stderr)
        return 2
    if given.get("seeds", 1) < 1:
        print(f"vcluster bench {name}: --seeds wants a positive number", file=sys.stderr)
        return 2
    why = _plot_refused(name, plot, from_json)
    if why:
        print(f"vcluster bench {name}: {why}", file=sys.stderr)
        return 2
    if from_json is not None:
        result = _read_result(from_json)
        if isinstance(result, str):
            print(f"vcluster bench {name}: --from {from_json}: {result}", file=sys.stderr)
            return 2
    else:
        try:
            result = load(name)(**given)
        except Exception as exc:  # a benchmark that cannot finish fails, it does not print a result
            print(f"vcluster bench {name}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        module = importlib.import_module(BENCHMARKS[name][0])
        extra = module.table(result) if hasattr(module, "table") else None  # a benchmark's own rows
        print(render_table(name, result, extra))
    failures = failures_of(result)
    for why in failures:
        print(f"vcluster bench {name}: {why}", file=sys.stderr)
    if plot is not None:
        from vcluster import plots

        try:
            plots.plot_bench(name, result, plot)
        except (plots.PlotError, KeyError, TypeError, ValueError) as exc:
            print(f"vcluster bench {name}: --plot {plot}: {plots.describe(exc)}", file=sys.stderr)
            return 1
        print(f"vcluster bench {name}: drew {plot}", file=sys.stderr)
    return 1 if failures else 0


def _plot_refused(name: str, plot: str | None, from_json: str | None) -> str | None:
    """Why `--plot FILE` / `--from JSON` cannot be done, said before a long run; None if they can."""
    if plot is None:
        return "--from draws a result: give --plot FILE too" if from_json is not None else None
    from vcluster import plots

    if name not in plots.PLOTS:
        return f"no --plot picture for {name}; pictures: {', '.join(sorted(plots.PLOTS))}"
    why = plots.check_writable(plot)
    return f"--plot: {why}" if why else None


def _read_result(path: str) -> dict[str, Any] | str:
    """A result an earlier `--json` printed (its last line), or why it cannot be had."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        return exc.strerror or str(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1] if lines else "")
    except ValueError as exc:
        return f"not the JSON of a bench --json: {exc}"
    return result if isinstance(result, dict) else "not one JSON object"


def failures_of(result: dict[str, Any]) -> list[str]:
    """What went wrong in a benchmark's run, by its own account (a `failures` list of sentences)."""
    failures = result.get("failures") or []
    return [str(f) for f in failures] if isinstance(failures, list) else [str(failures)]
