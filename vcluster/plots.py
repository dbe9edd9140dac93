"""Pictures of the benchmarks beside the paper's figures, and a migration's phases on the simulated time axis.

Every function here takes the JSON a benchmark (`vcluster bench NAME --json`)
or a run (`vcluster run --json`) printed, never measures anything itself,
writes one PNG and returns the series it drew (plain lists and numbers, so a
test can hold them against the JSON). matplotlib draws with its Agg canvas
(no display, no pyplot state).

- `migrate`: Table 4-1's dirty KB per interval, measured (solid) and the
  paper's (dashed); each multi-round workload's pre-copy rounds (KB copied and
  the residue dirtied meanwhile, per round, then the frozen residue); the
  freeze of every workload against V's 5..210 ms band; s/MB over the bytes
  copied and over the logical host against V's 3 s/MB.
- `pmake`: speed-up against the number of machines, the ideal and the model
  beside Sprite's 3..6x band.
- `rexec`: selection, set-up and load per 100 KB (cold, warm) beside V's
  figures, and when the JSON has `selection_scaling` rows, selection latency
  (median and p99) against cluster size, a line per load and selection.
- `timeline`: each migration of a run as a bar of phases (locate, init, each
  pre-copy round, freeze, switch) on the simulated time axis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
V_FREEZE_MS = (5.0, 210.0)
SPRITE_SPEEDUP = (3.0, 6.0)
PHASE_COLOURS = {
    "locate": "#8c8c8c",
    "init": "#c7a76c",
    "round": "#4c72b0",
    "freeze": "#c44e52",
    "switch": "#55a868",
}


class PlotError(Exception):
    """The JSON has nothing this picture can draw, or the file cannot be written."""


def _figure(rows: int, cols: int, width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _save(fig, path: str | Path) -> None:
    fig.tight_layout()
    try:
        fig.savefig(str(path), format="png")
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- bench migrate
def plot_migrate(result: dict[str, Any], path: str | Path) -> dict[str, Any]:
    rows = result.get("workloads") or []
    multi = result.get("multi_round") or []
    if not rows and not multi:
        raise PlotError("no workloads and no multi_round rows in this bench migrate JSON")
    fig, (dirty_ax, rounds_ax, freeze_ax, rate_ax) = _figure(2, 2, 13, 9)
    series: dict[str, Any] = {"dirty": {}, "rounds": {}, "freeze_ms": {}, "s_per_mb": {}}

    # Table 4-1: dirty KB within an interval, measured against the paper's
    colours = _colours(len(rows))
    for colour, r in zip(colours, rows, strict=True):
        keys = sorted(r["paper_dirty_kb"], key=float)
        xs = [float(k) for k in keys]
        measured = [float(r["dirty_kb"][k]) for k in keys]
        paper = [float(r["paper_dirty_kb"][k]) for k in keys]
        dirty_ax.plot(xs, measured, "o-", color=colour, label=r.get("label", r["name"]))
        dirty_ax.plot(xs, paper, "s--", color=colour, alpha=0.6)
        series["dirty"][r["name"]] = {"intervals": xs, "measured_kb": measured, "paper_kb": paper}
    if rows:
        from matplotlib.ticker import NullFormatter

        ticks = sorted({x for d in series["dirty"].values() for x in d["intervals"]})
        dirty_ax.set_xscale("log")
        dirty_ax.set_yscale("log")
        dirty_ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        dirty_ax.xaxis.set_minor_formatter(NullFormatter())
        dirty_ax.legend(
            fontsize=7, ncol=2, title="measured (solid) vs Table 4-1 (dashed)", title_fontsize=7
        )
    dirty_ax.set_xlabel("interval (s)")
    dirty_ax.set_ylabel("KB dirtied within the interval")
    dirty_ax.set_title("dirty-page rates vs the V paper's Table 4-1")

    # pre-copy rounds: KB copied and the residue dirtied meanwhile, then the frozen residue
    width = 0.8 / max(1, 2 * len(multi))
    most = max((len(r["per_round"]) for r in multi), default=0)
    for n, (colour, r) in enumerate(zip(_colours(len(multi)), multi, strict=True)):
        rounds = [p["round"] for p in r["per_round"]]
        sent_kb = [p["bytes"] / 1024 for p in r["per_round"]]
        residue_kb = [float(p["residue_kb"]) for p in r["per_round"]]
        xs = [x + (2 * n) * width - 0.4 + width / 2 for x in rounds]
        rounds_ax.bar(xs, sent_kb, width, color=colour, label=f"{r['name']}: KB copied")
        rounds_ax.bar(
            [x + width for x in xs],
            residue_kb,
            width,
            color=colour,
            alpha=0.45,
            hatch="//",
            label=f"{r['name']}: residue KB (dirtied meanwhile)",
        )
        frozen_x = most + 1 + (2 * n) * width - 0.4 + width / 2
        rounds_ax.bar(
            [frozen_x],
            [r["freeze_bytes"] / 1024],
            width,
            color=colour,
            edgecolor="#c44e52",
            linewidth=2,
        )
        series["rounds"][r["name"]] = {
            "round": rounds,
            "sent_kb": sent_kb,
            "residue_kb": residue_kb,
            "freeze_kb": r["freeze_bytes"] / 1024,
        }
    if multi:
        rounds_ax.set_xticks(list(range(1, most + 2)), [*map(str, range(1, most + 1)), "frozen"])
        rounds_ax.set_yscale("log")
        rounds_ax.legend(fontsize=7)
    rounds_ax.set_xlabel("pre-copy round")
    rounds_ax.set_ylabel("KB")
    rounds_ax.set_title("pre-copy rounds: bytes copied and residue per round")

    # freeze per workload against V's band
    band = tuple(result.get("v_freeze_ms") or V_FREEZE_MS)
    names = [r["name"] for r in rows] + [r["name"] for r in multi]
    freezes = [float(r["freeze_ms"]) for r in rows] + [float(r["freeze_ms"]) for r in multi]
    freeze_ax.axhspan(band[0], band[1], color="#dddddd", label=f"V: {band[0]:g}..{band[1]:g} ms")
    freeze_ax.bar(
        range(len(names)), freezes, color=["#4c72b0"] * len(rows) + ["#dd8452"] * len(multi)
    )
    freeze_ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    freeze_ax.set_ylabel("freeze (ms, simulated)")
    freeze_ax.set_title("freeze per workload vs V's 5..210 ms")
    freeze_ax.legend(fontsize=7)
    series["freeze_ms"] = dict(zip(names, freezes, strict=True))
    series["v_freeze_ms"] = [float(band[0]), float(band[1])]

    # copy rate: s/MB over the bytes copied and over the logical host, against V's 3 s/MB
    everything = rows + multi
    sent = [r.get("s_per_mb") or 0.0 for r in everything]
    host = [r.get("s_per_mb_host") or 0.0 for r in everything]
    xs = list(range(len(everything)))
    rate_ax.bar([x - 0.2 for x in xs], sent, 0.4, label="s/MB copied")
    rate_ax.bar([x + 0.2 for x in xs], host, 0.4, label="s/MB of the logical host")
    v_rate = float(result.get("v_s_per_mb") or 3.0)
    rate_ax.axhline(v_rate, color="#c44e52", linestyle="--", label=f"V: {v_rate:g} s/MB")
    rate_ax.set_xticks(xs, names, rotation=45, ha="right", fontsize=8)
    rate_ax.set_ylabel("seconds per MB")
    rate_ax.set_title("copy rate")
    rate_ax.legend(fontsize=7)
    series["s_per_mb"] = {
        n: {"copied": a, "host": b} for n, a, b in zip(names, sent, host, strict=True)
    }
    series["v_s_per_mb"] = v_rate
    _save(fig, path)
    return series


# ---------------------------------------------------------------- bench pmake
def plot_pmake(result: dict[str, Any], path: str | Path) -> dict[str, Any]:
    speedup = result.get("speedup")
    if not speedup:
        raise PlotError("no speedup in this bench pmake JSON")
    machines = sorted(speedup, key=int)
    xs = [int(n) for n in machines]
    fig, (ax,) = _figure(1, 1, 7, 5)
    low, high = result.get("sprite_speedup") or SPRITE_SPEEDUP
    ax.axhspan(low, high, color="#dddddd", label=f"Sprite's pmake: {low:g}..{high:g}x")
    measured = [float(speedup[n]) for n in machines]
    ax.plot(xs, measured, "o-", label="measured", color="#4c72b0")
    series: dict[str, Any] = {
        "machines": xs,
        "speedup": measured,
        "sprite_speedup": [float(low), float(high)],
    }
    ideal = result.get("ideal_speedup") or {}
    if ideal:
        series["ideal"] = [float(ideal[n]) for n in machines]
        ax.plot(xs, series["ideal"], ":", color="#555555", label="ideal (machines, critical path)")
    model = result.get("model_seconds") or {}
    seconds = result.get("seconds") or {}
    base = seconds.get(machines[0])
    if model and base:
        series["model"] = [round(float(base) / float(model[n]), 3) for n in machines]
        ax.plot(xs, series["model"], "x--", color="#dd8452", label="list-schedule model")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("idle machines")
    ax.set_ylabel(f"speed-up over {machines[0]} machine(s)")
    ax.set_title(f"pmake: a {result.get('jobs', '?')}-job build vs Sprite's 3..6x")
    ax.legend(fontsize=8)
    _save(fig, path)
    return series


# ---------------------------------------------------------------- bench rexec
REXEC_BARS = (
    ("selection", "selection_ms", "v_selection_ms"),
    ("set-up + destroy", "setup_ms", "v_setup_ms"),
    ("load per 100 KB", "load_ms_per_100KB", "v_load_ms_per_100KB"),
)


def plot_rexec(result: dict[str, Any], path: str | Path) -> dict[str, Any]:
    scaling = result.get("selection_scaling") or []
    bars = [(label, result[k], result.get(v)) for label, k, v in REXEC_BARS if k in result]
    for which in ("cold", "warm"):
        row = result.get(f"load_{which}")
        if isinstance(row, dict) and "ms_per_100KB" in row:
            bars.append(
                (
                    f"load per 100 KB ({which})",
                    row["ms_per_100KB"],
                    result.get("v_load_ms_per_100KB"),
                )
            )
    if not bars and not scaling:
        raise PlotError(
            "nothing to draw in this bench rexec JSON (no figures, no selection_scaling)"
        )
    fig, axes = _figure(1, 2 if scaling else 1, 13 if scaling else 7, 5)
    series: dict[str, Any] = {"bars": [], "selection_scaling": []}
    ax = axes[0]
    xs = list(range(len(bars)))
    ax.bar(
        [x - 0.2 for x in xs], [float(b[1]) for b in bars], 0.4, label="measured", color="#4c72b0"
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [float(b[2] or 0) for b in bars],
        0.4,
        label="V (the paper)",
        color="#bbbbbb",
    )
    ax.set_xticks(xs, [b[0] for b in bars], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("ms (simulated)")
    ax.set_title("remote execution vs V")
    ax.legend(fontsize=8)
    series["bars"] = [{"what": b[0], "ms": float(b[1]), "v_ms": b[2]} for b in bars]
    if scaling:
        ax = axes[1]
        groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        for row in scaling:
            groups.setdefault((row.get("load"), row.get("selection")), []).append(row)
        ordered = sorted(groups.items(), key=lambda item: (str(item[0][1]), str(item[0][0])))
        # a colour per selection, a marker per load; median solid, p99 dotted
        modes = sorted({str(sel) for _, sel in groups})
        colour_of = dict(zip(modes, _colours(len(modes)), strict=True))
        loads = sorted({str(load) for load, _ in groups})
        marker_of = {load: "os^Dvp*"[i % 7] for i, load in enumerate(loads)}
        for (load, selection), members in ordered:
            members.sort(key=lambda r: r["hosts"])
            hosts = [int(r["hosts"]) for r in members]
            median = [float(r["median_ms"]) for r in members]
            p99 = [float(r["p99_ms"]) for r in members]
            colour, marker = colour_of[str(selection)], marker_of[str(load)]
            label = f"{selection}, load {load}"
            ax.plot(hosts, median, "-", marker=marker, color=colour, label=f"{label}: median")
            ax.plot(hosts, p99, ":", marker=marker, color=colour, alpha=0.6, label=f"{label}: p99")
            series["selection_scaling"].append(
                {
                    "load": load,
                    "selection": selection,
                    "hosts": hosts,
                    "median_ms": median,
                    "p99_ms": p99,
                    "answers_per_query": [r.get("answers_per_query") for r in members],
                }
            )
        v_sel = result.get("v_selection_ms")
        if v_sel:
            ax.axhline(
                float(v_sel), color="#c44e52", linestyle="--", label=f"V: {float(v_sel):g} ms"
            )
        from matplotlib.ticker import NullFormatter

        sizes = sorted({int(r["hosts"]) for r in scaling})
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("workstations in the cluster")
        ax.set_ylabel("host selection (ms, simulated)")
        ax.set_title("selection latency vs cluster size (median solid, p99 dotted)")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)
    return series


# ---------------------------------------------------------------- run --timeline
def phase_of(state: str) -> str | None:
    """A migration record's state (`[t, "precopy round 2"]`) as a timeline phase; None at the end."""
    word = state.split()[0] if state else ""
    if word == "locating":
        return "locate"
    if word == "initialising":
        return "init"
    if word == "precopy":
        parts = state.split()
        return f"round {parts[2]}" if len(parts) >= 3 else "round"
    if word == "frozen":
        return "freeze"
    if word == "committing":
        return "switch"
    return None  # done, aborted, destroyed: the end


def phases(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The phases of one migration record: [{"phase", "start", "end"}] in simulated seconds."""
    states = record.get("states") or []
    out: list[dict[str, Any]] = []
    for (t, state), nxt in zip(states, [*states[1:], None], strict=True):
        phase = phase_of(state)
        if phase is None or nxt is None:
            continue
        if out and out[-1]["phase"] == phase and out[-1]["end"] == t:
            out[-1]["end"] = float(nxt[0])  # committing prepare -> committing go: one switch
            continue
        out.append({"phase": phase, "start": float(t), "end": float(nxt[0])})
    return out


MAX_TIMELINES = 12  # panels in one picture: the first migrations of a run


def plot_timeline(summary: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """A panel per migration (the first MAX_TIMELINES), each on its own stretch of simulated time."""
    migrations = summary.get("migrations") or []
    if not migrations:
        raise PlotError("the run migrated nothing: no timeline to draw")
    shown = migrations[:MAX_TIMELINES]
    fig, axes = _figure(len(shown), 1, 12, 0.6 + 1.5 * len(shown))
    series: dict[str, Any] = {"migrations": [], "of": len(migrations)}
    blues = ("#4c72b0", "#6f8fc7", "#2f4f8a")
    for ax, record in zip(axes, shown, strict=True):
        drawn = phases(record)
        # a round's entry starts when its state does (the same instant): several attempts repeat numbers
        rounds = {round(p["started"], 6): p for p in record.get("precopy_rounds") or []}
        span = max(1e-9, (drawn[-1]["end"] - drawn[0]["start"]) if drawn else 1.0)
        for n, p in enumerate(drawn):
            kind = p["phase"].split()[0]
            colour = blues[n % len(blues)] if kind == "round" else PHASE_COLOURS[kind]
            info = rounds.get(round(p["start"], 6)) if kind == "round" else None
            # a round with no entry never finished: its attempt was given up (another host is tried)
            p["given_up"] = kind == "round" and info is None
            ax.broken_barh(
                [(p["start"], p["end"] - p["start"])],
                (0, 1),
                color=colour,
                edgecolor="white",
                hatch="xx" if p["given_up"] else None,
                label=kind,
            )
            text = p["phase"]
            if info is not None:
                text += f"\n{info['bytes'] // 1024} KB"
            elif p["given_up"]:
                text += "\n(given up)"
            share = (p["end"] - p["start"]) / span
            if 0.02 <= share < 0.06:  # room for a short name only
                text = p["phase"].replace("round ", "r")[:6]
            if share >= 0.02:
                ax.text(
                    (p["start"] + p["end"]) / 2,
                    0.5,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
        end = record["states"][-1] if record.get("states") else None
        outcome = end[1].split()[0] if end else "?"
        title = (
            f"{record.get('program')} {record.get('from')} -> {record.get('to') or '?'}: {outcome}, "
            f"{record.get('rounds')} round(s), freeze {record.get('freeze_ms')} ms, "
            f"total {record.get('total_ms')} ms"
        )
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_yticks([])
        ax.set_xlabel("simulated time (s)", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(
            unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
        series["migrations"].append(
            {
                "program": record.get("program"),
                "from": record.get("from"),
                "to": record.get("to"),
                "ok": record.get("ok"),
                "outcome": outcome,
                "phases": drawn,
                "freeze_ms": record.get("freeze_ms"),
            }
        )
    if len(migrations) > len(shown):
        fig.suptitle(f"the first {len(shown)} of {len(migrations)} migrations", fontsize=9)
    _save(fig, path)
    return series


# ---------------------------------------------------------------- dispatch
PLOTS: dict[str, Callable[[dict[str, Any], str | Path], dict[str, Any]]] = {
    "migrate": plot_migrate,
    "pmake": plot_pmake,
    "rexec": plot_rexec,
}


def plot_bench(name: str, result: dict[str, Any], path: str | Path) -> dict[str, Any]:
    if name not in PLOTS:
        raise PlotError(f"no picture for bench {name}; pictures: {', '.join(sorted(PLOTS))}")
    return PLOTS[name](result, path)


def describe(exc: Exception) -> str:
    """A PlotError says itself; anything else is JSON without what the picture needs."""
    if isinstance(exc, PlotError):
        return str(exc)
    return f"the JSON lacks what the picture needs ({type(exc).__name__}: {exc})"


def check_writable(path: str | Path) -> str | None:
    """Why a PNG cannot be written at `path` (before a long run), or None."""
    p = Path(path)
    if p.is_dir():
        return f"{path} is a directory"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"no directory {parent}"
    return None


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    """`python -m vcluster.plots KIND JSON PNG`: draw a saved JSON (a bench's, or a run's for
    `timeline`), e.g. `vcluster run ... --json | tail -n 1 > run.json`."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m vcluster.plots", description=main.__doc__)
    parser.add_argument("kind", choices=[*sorted(PLOTS), "timeline"])
    parser.add_argument("json", help="the JSON file (its last line, when it has several)")
    parser.add_argument("png", help="the picture to write")
    args = parser.parse_args(argv)
    try:
        lines = [line for line in Path(args.json).read_text().splitlines() if line.strip()]
        data = json.loads(lines[-1] if lines else "")
    except (OSError, ValueError) as exc:
        print(
            f"vcluster.plots: {args.json}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr
        )
        return 2
    why = check_writable(args.png)
    if why or not isinstance(data, dict):
        print(f"vcluster.plots: {why or f'{args.json}: not one JSON object'}", file=sys.stderr)
        return 2
    draw = plot_timeline if args.kind == "timeline" else PLOTS[args.kind]
    try:
        draw(data, args.png)
    except (PlotError, KeyError, TypeError, ValueError) as exc:
        print(f"vcluster.plots: {describe(exc)}", file=sys.stderr)
        return 1
    print(f"vcluster.plots: drew {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
