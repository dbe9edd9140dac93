"""The pictures: `bench NAME --plot FILE.png` and `run --timeline FILE.png` write valid PNGs of the JSON's own numbers.

Each picture is drawn from a benchmark's (or a run's) JSON; the plotting
functions return the series they drew, and these must be the JSON's numbers,
unchanged. A PNG is valid when it has the signature, decodes (Pillow), has
the figure's size and holds more than a blank canvas.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from helpers import ROOT, vcluster, vcluster_json
from PIL import Image

from vcluster import bench_migrate, bench_pmake, bench_rexec, plots


def check_png(path, size: tuple[int, int] | None = None) -> None:
    data = path.read_bytes()
    assert data[:8] == plots.PNG_SIGNATURE
    assert len(data) > 8_000
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        image.load()
        if size is not None:
            assert image.size == size
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24)
    # drawn data, not empty axes: axes, ticks and text are grey; bars, lines and phases are coloured
    coloured = sum(n for n, (r, g, b) in colours if max(r, g, b) - min(r, g, b) > 60)
    assert coloured > 0.002 * rgb.width * rgb.height  # a blank figure has none


@pytest.fixture(scope="module")
def migrate_result(tmp_path_factory):
    result = bench_migrate.run_bench(names=("tex", "linker"))
    path = tmp_path_factory.mktemp("migrate") / "migrate.json"
    path.write_text(json.dumps(result, sort_keys=True))
    return json.loads(path.read_text()), path  # as the JSON says it (keys are strings)


def test_migrate_picture_draws_the_bench_json(migrate_result, tmp_path):
    result, _ = migrate_result
    out = tmp_path / "migrate.png"
    drawn = plots.plot_migrate(result, out)
    check_png(out, (1300, 900))
    for row in result["workloads"]:
        d = drawn["dirty"][row["name"]]
        keys = sorted(row["paper_dirty_kb"], key=float)
        assert d["intervals"] == [float(k) for k in keys]
        assert d["measured_kb"] == [row["dirty_kb"][k] for k in keys]
        assert d["paper_kb"] == [row["paper_dirty_kb"][k] for k in keys]
    assert {r["name"] for r in result["multi_round"]} == set(drawn["rounds"])
    for row in result["multi_round"]:
        d = drawn["rounds"][row["name"]]
        assert len(d["round"]) == row["rounds"] >= 3
        assert d["sent_kb"] == [p["bytes"] / 1024 for p in row["per_round"]]
        assert d["residue_kb"] == [p["residue_kb"] for p in row["per_round"]]
        assert d["freeze_kb"] == row["freeze_bytes"] / 1024
    every = result["workloads"] + result["multi_round"]
    assert drawn["freeze_ms"] == {r["name"]: r["freeze_ms"] for r in every}
    assert drawn["v_freeze_ms"] == result["v_freeze_ms"] == [5.0, 210.0]
    assert drawn["s_per_mb"] == {
        r["name"]: {"copied": r["s_per_mb"], "host": r["s_per_mb_host"]} for r in every
    }
    assert drawn["v_s_per_mb"] == result["v_s_per_mb"]


def test_bench_migrate_plot_from_an_earlier_json(migrate_result, tmp_path):
    _, saved = migrate_result
    out = tmp_path / "m.png"
    proc = vcluster("bench", "migrate", "--from", str(saved), "--plot", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"drew {out}" in proc.stderr
    check_png(out)
    # the human table shows every round of the multi-round workloads
    assert "round 3:" in proc.stdout and "s/MB host" in proc.stdout
    assert "recsort" in proc.stdout and "sweeper" in proc.stdout


def test_pmake_picture_is_its_speedups_beside_sprites(tmp_path):
    result = json.loads(json.dumps(bench_pmake.run_bench(machines=(1, 2, 4))))
    out = tmp_path / "pmake.png"
    drawn = plots.plot_pmake(result, out)
    check_png(out, (700, 500))
    assert drawn["machines"] == [1, 2, 4]
    assert drawn["speedup"] == [result["speedup"][k] for k in ("1", "2", "4")]
    assert drawn["ideal"] == [result["ideal_speedup"][k] for k in ("1", "2", "4")]
    assert drawn["sprite_speedup"] == result["sprite_speedup"] == [3.0, 6.0]
    base = result["seconds"]["1"]
    assert drawn["model"] == [round(base / result["model_seconds"][k], 3) for k in ("1", "2", "4")]


def scaling_rows() -> list[dict]:
    """Rows in the shape bench rexec's `selection_scaling` gives (hosts, load, selection, ...)."""
    rows = []
    for load, slope in ((0, 0.1), (3, 0.6)):
        for selection in ("first-reply", "scaled"):
            for hosts in (3, 12, 120):
                median = 12.0 + slope * hosts**0.5 + (3 if selection == "scaled" else 0)
                rows.append(
                    {
                        "hosts": hosts,
                        "load": load,
                        "selection": selection,
                        "median_ms": median,
                        "p99_ms": median * 1.7,
                        "answers_per_query": min(hosts, 4),
                        "queries": 40,
                    }
                )
    return rows


@pytest.fixture(scope="module")
def rexec_result():
    # the V comparison as the bench measures it (its quick selection rows, where it has them)
    quick = (
        {"quick": True} if "quick" in inspect.signature(bench_rexec.run_bench).parameters else {}
    )
    return json.loads(json.dumps(bench_rexec.run_bench(**quick)))


def test_rexec_picture_with_selection_scaling_rows(rexec_result, tmp_path):
    result = {**rexec_result, "selection_scaling": scaling_rows()}
    out = tmp_path / "rexec.png"
    drawn = plots.plot_rexec(result, out)
    check_png(out, (1300, 500))
    bars = {b["what"]: (b["ms"], b["v_ms"]) for b in drawn["bars"]}
    assert bars["selection"] == (result["selection_ms"], result["v_selection_ms"])
    assert bars["set-up + destroy"] == (result["setup_ms"], result["v_setup_ms"])
    assert bars["load per 100 KB"] == (result["load_ms_per_100KB"], result["v_load_ms_per_100KB"])
    lines = {(s["load"], s["selection"]): s for s in drawn["selection_scaling"]}
    assert len(lines) == 4
    for row in result["selection_scaling"]:
        line = lines[(row["load"], row["selection"])]
        i = line["hosts"].index(row["hosts"])
        assert (line["median_ms"][i], line["p99_ms"][i]) == (row["median_ms"], row["p99_ms"])
        assert line["answers_per_query"][i] == row["answers_per_query"]
    assert all(line["hosts"] == [3, 12, 120] for line in lines.values())


def test_rexec_picture_without_scaling_rows_draws_the_v_comparison(rexec_result, tmp_path):
    out = tmp_path / "rexec.png"
    drawn = plots.plot_rexec(
        {k: v for k, v in rexec_result.items() if k != "selection_scaling"}, out
    )
    check_png(out, (700, 500))
    assert drawn["selection_scaling"] == [] and len(drawn["bars"]) >= 3


def test_run_timeline_draws_each_phase_of_the_summary(tmp_path):
    out = tmp_path / "timeline.png"
    proc, summary = vcluster_json(
        "tiny", "sweeper 1024 256 10 @ ws2", "wait 3", "migrateprog sweeper", "--timeline", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert f"drew the migration timeline in {out}" in proc.stderr
    check_png(out)
    (m,) = summary["migrations"]
    assert m["ok"] and m["rounds"] >= 3  # 1 MB on a 2 MB workstation, 64 pages a second dirtied
    assert sum(r["bytes"] for r in m["precopy_rounds"]) == m["precopy_bytes"]
    drawn = plots.plot_timeline(summary, tmp_path / "again.png")
    (line,) = drawn["migrations"]
    names = [p["phase"] for p in line["phases"]]
    assert names == [
        "locate",
        "init",
        *[f"round {n}" for n in range(1, m["rounds"] + 1)],
        "freeze",
        "switch",
    ]
    # every phase starts at its state's time and ends where the next begins, up to "done"
    times = [t for t, state in m["states"] if not state.startswith("committing deleted")]
    assert [p["start"] for p in line["phases"]] == times[:-1]
    assert [p["end"] for p in line["phases"]] == times[1:]
    assert m["states"][-1][1] == "done" and line["outcome"] == "done"
    # the same picture from the saved summary, by the module's own command
    saved = tmp_path / "run.json"
    saved.write_text(proc.stdout)
    again = tmp_path / "from-file.png"
    cmd = [sys.executable, "-m", "vcluster.plots", "timeline", str(saved), str(again)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == out.read_bytes()  # the same JSON, the same picture


def test_plot_refusals_are_clear_and_early(tmp_path):
    cases = [
        (("bench", "cpu", "--plot", str(tmp_path / "x.png")), 2, "no --plot picture for cpu"),
        (("bench", "migrate", "--plot", str(tmp_path / "no" / "x.png")), 2, "no directory"),
        (("bench", "migrate", "--plot", str(tmp_path)), 2, "is a directory"),
        (
            (
                "bench",
                "pmake",
                "--from",
                str(tmp_path / "none.json"),
                "--plot",
                str(tmp_path / "p.png"),
            ),
            2,
            "No such file",
        ),
        (("bench", "pmake", "--from", str(tmp_path / "x.json")), 2, "give --plot FILE too"),
        (("run", "tiny", "hello", "--timeline", str(tmp_path / "no" / "t.png")), 2, "no directory"),
    ]
    for args, status, text in cases:
        proc = vcluster(*args, timeout=120)
        assert proc.returncode == status and text in proc.stderr, (
            args,
            proc.returncode,
            proc.stderr,
        )
    # JSON that lacks what the picture needs: said, exit 1, no file
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"seconds": {"1": 3.0}}))
    proc = vcluster("bench", "pmake", "--from", str(wrong), "--plot", str(tmp_path / "p.png"))
    assert proc.returncode == 1 and "no speedup" in proc.stderr
    assert not (tmp_path / "p.png").exists()
    # a run that migrated nothing has no timeline: said, exit 1, the programs' output intact
    proc = vcluster("run", "tiny", "hello", "--timeline", str(tmp_path / "t.png"))
    assert proc.returncode == 1 and "migrated nothing" in proc.stderr
    assert "Hello from the V-System!" in proc.stdout


def test_timeline_of_a_migration_that_tried_twice(tmp_path):
    # ws3, the first host tried, crashes in round 1: that attempt is given up, ws1 takes it
    proc, summary = vcluster_json(
        "tiny", "sweeper 1024 256 10 @ ws2", "wait 3", "at 3.5 crash ws3", "migrateprog sweeper"
    )
    (m,) = summary["migrations"]
    assert m["ok"] and [a["ok"] for a in m["attempts"]] == [False, True]
    assert {r["attempt"] for r in m["precopy_rounds"]} == {2}
    assert sum(r["bytes"] for r in m["precopy_rounds"]) == m["precopy_bytes"]
    drawn = plots.plot_timeline(summary, tmp_path / "t.png")
    check_png(tmp_path / "t.png")
    phases = drawn["migrations"][0]["phases"]
    names = [p["phase"] for p in phases]
    assert names[:4] == ["locate", "init", "round 1", "locate"]
    rounds = [p for p in phases if p["phase"].startswith("round")]
    assert [p["given_up"] for p in rounds] == [True] + [False] * m["rounds"]
