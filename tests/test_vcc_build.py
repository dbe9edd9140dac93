"""A real build in the cluster: pmake runs vcc over its own sources on idle workstations.

The reference is always the same compiler built natively by the host's gcc
compiling the same files (vcluster/vcc_build.py): every .s the cluster writes
to the file server, and the last step's sums, must be byte-identical to it,
also when the owners come back mid-compile and the jobs are evicted.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import ROOT, vcluster
from vcluster import bench_build as bb
from vcluster import vcc_build as vb

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="no host gcc for the native reference"
)

SMALL = ["cexpr", "main", "util"]


def test_files_put_then_pmake_builds_on_idle_workstations_and_files_get_gives_the_native_bytes(
    tmp_path,
):
    text = (ROOT / "configs" / "tiny.yaml").read_text().replace("image: null", "image: disk.img")
    cfg = tmp_path / "build.yaml"
    cfg.write_text(text)
    tree = vb.source_files()
    (tmp_path / vb.MAKEFILE).write_text(vb.makefile_text(SMALL))
    for name in ["vcc.h", *(f"{n}.c" for n in SMALL)]:
        (tmp_path / name).write_bytes(tree[name])
    for name in ["vcc.h", vb.MAKEFILE, *(f"{n}.c" for n in SMALL)]:
        put = vcluster("files", "put", str(tmp_path / name), "--config", str(cfg))
        assert put.returncode == 0, put.stderr
    run = vcluster("run", str(cfg), f"pmake {vb.MAKEFILE} 2", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    (pmake,) = summary["programs"]
    assert pmake["exit_status"] == 0 and pmake["host_started"] == "ws1"
    assert "pmake: 4 jobs, all succeeded" in pmake["output"]
    want = vb.native_outputs(SMALL)
    assert (
        vb.sum_text(want, SMALL) in pmake["output"]
    )  # the last job's lines, printed where pmake runs
    for n in SMALL:
        got = vcluster("files", "get", f"{n}.s", str(tmp_path / f"{n}.got"), "--config", str(cfg))
        assert got.returncode == 0, got.stderr
        assert (tmp_path / f"{n}.got").read_bytes() == want[n], (
            f"{n}.s differs from the native build"
        )
    assert (
        vcluster(
            "files", "get", vb.SUM_FILE, str(tmp_path / "sum"), "--config", str(cfg)
        ).returncode
        == 0
    )
    assert (tmp_path / "sum").read_text() == vb.sum_text(want, SMALL)


def test_every_compile_runs_remotely_and_the_build_is_identical_on_one_and_on_three_workstations():
    want = vb.native_outputs(SMALL)
    one = bb.run_build(1, SMALL, want=want)
    three = bb.run_build(3, SMALL, want=want)
    for r in (one, three):
        assert r["identical"] and r["sum_ok"], r["differ"]
        assert r["summary"] == "pmake: 4 jobs, all succeeded"
        assert "ws1" not in r["jobs_per_host"]  # `@ *` never picks the origin while others are idle
        assert r["jobs"] == 4 and r["exec_ms"] > 0
        assert r["file_server"]["bytes_written"] >= sum(len(v) for v in want.values())
    assert len(three["jobs_per_host"]) >= 2
    assert three["seconds"] < one["seconds"]


def test_outputs_summed_in_parts_then_combined_give_zlibs_sums_of_the_whole():
    names = ["cexpr", "main", "util", "init"]
    want = vb.native_outputs(names)
    r = bb.run_build(2, names, want=want, parts=2)
    assert r["identical"] and r["sum_ok"], (
        r
    )  # vcc.sum: the parts' lines, and zlib's Adler-32 of them all
    assert r["summary"] == "pmake: 7 jobs, all succeeded"
    order = vb.sum_order(bb.build_order(names), 2)
    assert sorted(order) == sorted(names) and order != bb.build_order(names)


def test_owners_coming_back_mid_compile_evict_the_jobs_and_the_outputs_are_still_the_native_ones():
    names = ["decl", "main", "util"]
    want = vb.native_outputs(names)
    idle = bb.run_build(2, names, want=want)
    back = bb.run_build(2, names, owners=(("ws2", 1.2), ("ws3", 1.2)), want=want)
    assert idle["identical"] and back["identical"], back["differ"]
    assert back["summary"] == "pmake: 4 jobs, all succeeded"
    interrupted = [o for o in back["owners"] if o["compiling"]]
    assert interrupted, back["owners"]  # a compile was running where an owner came back
    evictions = [m for m in back["migrations"] if m["eviction"]]
    assert evictions and all(m["ok"] for m in evictions), back["migrations"]
    assert {m["from"] for m in evictions} >= {o["host"] for o in interrupted}
    assert all(m["rounds"] >= 1 and m["precopy_bytes"] > 0 for m in evictions)
    # nothing is compiled twice: a migrated compile goes on where it was
    assert back["compile_cpu_s"].keys() == idle["compile_cpu_s"].keys()
    assert back["cpu_seconds"] == pytest.approx(idle["cpu_seconds"], rel=0.02)


def test_a_compile_migrated_mid_run_writes_the_native_bytes():
    m = bb.migrate_mid_compile("decl", at=1.0)
    assert m["ok"] and m["identical"] and m["exit_status"] == 0, m
    assert m["from"] == "ws2" and m["to"] != "ws2"
    assert m["rounds"] >= 1 and m["freeze_ms"] > 0


def test_vcc_dirty_rates_are_measured_per_interval_and_grow_with_it():
    d = bb.measure_dirty("decl")
    kb = [d["kb"][k] for k in ("0.2", "1.0")]
    assert d["exit_status"] == 0
    assert 0 < kb[0] <= kb[1] <= d["host_kb"]


@pytest.mark.slow
def test_bench_build_json_has_the_sweep_the_owners_and_table_4_1():
    proc = vcluster("bench", "build", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["identical"] and not r["failures"]
    assert set(r["seconds"]) == {"1", "2", "4", "8"}
    assert r["speedup"]["8"] > r["speedup"]["2"] > 1.0
    assert r["owners"]["evictions"] >= 1 and r["owners"]["identical"]
    assert r["owners"]["work_lost_cpu_s"] < 0.5
    assert set(r["table_4_1_kb"]) == {"preprocessor", "parser", "optimizer", "assembler"}
    assert all(v["0.2"] > 0 for v in r["dirty_kb"].values())
    assert r["migrated"]["identical"] and r["migrated"]["rounds"] >= 1
    for n in r["file_server"].values():
        assert n["requests"] > 0 and 0 < n["cache_hit_rate"] <= 1
    assert r["speedup"]["8"] <= r["bound_speedup"]
    assert r["speedup"]["8"] >= 3.0  # Sprite's 3..6x
    table = bb.render(r)  # the human table of `vcluster bench build`
    assert "outputs identical to the native build: True" in table
    assert "V parser" in table and "evictions" in table


def test_vcluster_run_with_an_owner_back_mid_build_evicts_a_compile_and_prints_the_native_sums(
    tmp_path,
):
    names = ["decl", "main", "util"]
    tree = vb.source_files()
    files = []
    for name in ["vcc.h", *(f"{n}.c" for n in names)]:
        (tmp_path / name).write_bytes(tree[name])
        files += ["--file", str(tmp_path / name)]
    (tmp_path / "mk").write_text(vb.makefile_text(bb.build_order(names)))
    files += ["--file", f"{tmp_path / 'mk'}={vb.MAKEFILE}"]
    lines = [f"pmake {vb.MAKEFILE} 2", "wait 1.2", "owner ws2 on", "owner ws3 on"]
    run = vcluster("run", "tiny", *files, *lines, "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    evictions = [m for m in summary["migrations"] if m["eviction"]]
    assert evictions and all(m["ok"] and m["program"] == "vcc" for m in evictions), summary[
        "migrations"
    ]
    assert "evicted vcc from ws" in run.stderr
    (pmake,) = summary["programs"]
    assert "pmake: 4 jobs, all succeeded" in pmake["output"]
    want = vb.native_outputs(names)
    assert vb.sum_text(want, bb.build_order(names)) in pmake["output"]
