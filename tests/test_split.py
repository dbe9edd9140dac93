"""Emergent vs calibrated time: the charge ledger, the split of a span, and `bench rexec`'s columns."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.schema import CostModel
from guest import build
from vcluster import bench_rexec, costs
from vcluster.session import load
from vkernel import ops
from vkernel.ledger import UNNAMED, Ledger, split

ROOT = Path(__file__).resolve().parent.parent
KB = 1024


# --- the split of a span -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.integers(0, 300), st.sampled_from("abc")), max_size=30
    ),
    st.integers(0, 600),
    st.integers(0, 700),
    st.lists(
        st.tuples(
            st.integers(0, 1000), st.integers(0, 300), st.sampled_from(("disk", "instructions"))
        ),
        max_size=10,
    ),
)
def test_split_adds_up_and_matches_a_unit_by_unit_count(charges, t0, length, work):
    spans = [(s, s + n, name) for s, n, name in charges]
    activity = [(s, s + n, kind) for s, n, kind in work]
    t1 = t0 + length
    s = split(spans, t0, t1, activity)
    # the reference: every nanosecond of the span looked at on its own
    covered = 0
    by: dict[str, float] = {}
    causes: dict[str, int] = {}
    for t in range(t0, t1):
        active = [name for a, b, name in spans if a <= t < b]
        if active:
            covered += 1
            for name in active:
                by[name] = by.get(name, 0.0) + 1 / len(active)
        else:
            busy = {kind for a, b, kind in activity if a <= t < b}
            cause = "disk" if "disk" in busy else "instructions" if busy else "wire and waits"
            causes[cause] = causes.get(cause, 0) + 1
    assert s.by_cause == pytest.approx(causes)
    assert s.span_ns == length
    assert s.calibrated_ns == pytest.approx(covered)
    assert s.emergent_ns == pytest.approx(length - covered)
    assert sum(s.by_constant.values()) == pytest.approx(s.calibrated_ns)
    for name in set(by) | set(s.by_constant):
        assert s.by_constant.get(name, 0.0) == pytest.approx(by.get(name, 0.0))


def test_ledger_counts_units_and_time():
    ledger = Ledger()
    ledger.add("page_copy_us", 0.25, 0, 625_000)
    ledger.trace()
    ledger.add("page_copy_us", 0.5, 10, 1_250_000)
    assert ledger.snapshot() == {"page_copy_us": (2, 0.75, 1_875_000)}
    assert ledger.spans == [(10, 1_250_010, "page_copy_us")]


# --- the ledger sees every constant the code charges ------------------------------------------


def _images():
    base = build.image_path("hello").read_bytes()
    return {"load100k": bench_rexec.padded_image(base, 100 * KB)}


def _all_named(session):
    names = set(costs.SOURCES)
    for kernel in session.kernels.values():
        charged = kernel.ledger.snapshot()
        assert UNNAMED not in charged, f"{kernel.name}: kernel time charged without a name"
        assert set(charged) <= names, set(charged) - names
        # each constant's time is its value times the units charged
        for name, (n, units, ns) in charged.items():
            assert ns == pytest.approx(ops.constant(kernel.config, name) * units * 1000, abs=n)


def test_every_charge_is_a_named_cost_model_constant():
    from vcluster.session import Session

    session = Session(load("tiny"), images=_images())
    session.execute("load100k @ *")
    session.execute("hello")
    session.run_until_done(60)
    _all_named(session)
    # the display server drew every character the two programs printed, one charge a write
    printed = sum(len(session.output_of(job)) for job in session.jobs)
    units = session.home.ledger.snapshot()["display_char_us"][1]
    assert printed > 0 and units == printed
    session.close()


def test_migration_eviction_and_paging_charge_only_named_constants():
    from vcluster.session import Session
    from vkernel.workloads import workstation_config

    cfg = workstation_config()
    cfg = dataclasses.replace(cfg, idle=dataclasses.replace(cfg.idle, flush_interval_ms=500))
    session = Session(cfg)
    session.execute("dirtier 256 32 6 @ ws2")
    session.execute("bigdata 600 16 20 @ ws3")
    session.execute("wait 3")
    session.execute("migrateprog dirtier")
    session.execute("owner ws3 on")
    session.run_until_done(120)
    assert len(session.migrations) == 2 and all(r["ok"] for r in session.migrations)
    _all_named(session)
    charged = set().union(*(k.ledger.snapshot() for k in session.kernels.values()))
    assert {"ks_pm_state_copy_base_us", "page_copy_us", "file_server_op_us"} <= charged
    session.close()


# (part of a remote execution, constant, charges of it on that part's critical path)
CASES = (
    ("setup", "team_create_us", 1),
    ("setup", "process_create_us", 1),
    ("setup", "team_destroy_us", 1),
    ("setup", "page_zero_us", 4),  # the four pages of the initial stack
    ("fetch", "file_server_op_us", 6),  # FS_OPEN, four IO_READs of 100 KB, IO_CLOSE
    ("selection", "program_manager_op_us", 1),
)


@pytest.mark.parametrize("case", CASES, ids=[f"{p}-{n}" for p, n, _ in CASES])
@settings(max_examples=2, deadline=None)
@given(extra_us=st.integers(0, 20_000))
def test_a_constant_moves_the_figure_and_its_calibrated_part_alike(case, extra_us):
    """Raise one constant: the measured figure grows by what the code charges on its critical
    path, the calibrated part under that name grows by as much, the emergent part stays. A
    constant charged but not ledgered would move the figure and not the ledger. (The image
    fetch is the warm one: a cold one moves the disk's rotational waits with the clock.)"""
    part, name, times = case
    base = CostModel()

    def figure(cost):
        cfg = dataclasses.replace(load("tiny"), cost=cost)
        trial = bench_rexec.run_trials(cfg, "load100k", _images(), 2)[-1]
        assert not trial.error
        s = (
            trial.splits["create"] + trial.splits["destroy"]
            if part == "setup"
            else trial.splits[part]
        )
        return s.span_ns, s.by_constant.get(name, 0.0), s.emergent_ns

    span0, by0, em0 = figure(base)
    span1, by1, em1 = figure(dataclasses.replace(base, **{name: getattr(base, name) + extra_us}))
    # (other machines' background work may shift a charge or two by a fraction of a ms; a
    # constant charged but not ledgered would leave the calibrated part where it was)
    expected = times * extra_us * 1000
    slack = max(500_000, 0.02 * expected)
    assert span1 - span0 == pytest.approx(expected, abs=slack)
    assert by1 - by0 == pytest.approx(expected, abs=slack)
    assert em1 == pytest.approx(em0, abs=1_000_000)


# --- bench rexec's columns ------------------------------------------------------------------


@pytest.fixture(scope="module")
def result():
    return bench_rexec.run_bench(quick=True)


def test_rexec_rows_split_and_agree_with_their_model(result):
    rows = {r["figure"]: r for r in result["comparisons"]}
    assert set(rows) == {"selection", "setup", "load", "load_warm"}
    assert rows["selection"]["measured_ms"] == result["selection_ms"]
    assert rows["setup"]["measured_ms"] == result["setup_ms"]
    assert rows["load"]["measured_ms"] == result["load_ms_per_100KB"]
    for r in rows.values():
        assert r["emergent_ms"] + r["calibrated_ms"] == pytest.approx(r["measured_ms"], abs=0.002)
        assert sum(r["emergent_by_cause"].values()) == pytest.approx(r["emergent_ms"], abs=0.01)
        assert sum(r["calibrated_by_constant"].values()) == pytest.approx(
            r["calibrated_ms"], abs=0.02
        )
        assert r["emergent_ms"] >= -0.001 and r["charges"] > 0
        assert abs(r["model_ms"] / r["measured_ms"] - 1) <= 0.05, r
    # what is known of each: the cold load's emergent part is the disk's time; set-up is mostly
    # constants set from V's own figures; selection is the weighing's work (estimates) and the
    # messages
    assert rows["load"]["emergent_ms"] >= result["load_cold"]["disk_ms"]
    assert rows["load"]["emergent_by_cause"]["disk"] == pytest.approx(
        result["load_cold"]["disk_ms"], rel=0.05
    )
    assert "disk" not in rows["load_warm"]["emergent_by_cause"]
    assert rows["setup"]["kind"] == "calibration check"
    assert rows["load"]["kind"] == rows["selection"]["kind"] == "reproduction"
    assert {"program_manager_op_us", "pm_examine_process_us"} <= set(
        rows["selection"]["calibrated_by_constant"]
    )


def test_rexec_explanation_carries_the_run_constants(result):
    text = result["explanation"]
    for r in result["comparisons"]:
        assert f"model {r['model_ms']}" in text
    assert "page_copy_us" in text  # charged per packet, and said so


def test_model_follows_the_constants():
    """A cost raised in the config moves the model and the measurement together."""
    cfg = load("tiny")
    slow = dataclasses.replace(cfg, cost=dataclasses.replace(cfg.cost, page_copy_us=5000))
    for c in (cfg, slow):
        model = bench_rexec.model.Model(c)
        trial = bench_rexec.run_trials(c, "load100k", _images(), 1)[0]
        terms = model.fetch(len(trial.program), trial.image_bytes, trial.disk["disk_busy_ns"] / 1e6)
        assert abs(bench_rexec.model.total(terms) / (trial.fetch_ns / 1e6) - 1) <= 0.05


# --- the constants table --------------------------------------------------------------------


def test_every_cost_constant_has_a_source():
    names = {f.name for f in dataclasses.fields(CostModel)}
    assert names <= set(costs.SOURCES)
    # the others are cost constants of other sections, by their dotted names
    for name in set(costs.SOURCES) - names:
        section, field = name.split(".")
        assert isinstance(ops.constant(load("tiny"), name), int | float), name


def test_architecture_carries_the_constants_table():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    assert costs.markdown() in doc, (
        "docs/ARCHITECTURE.md is stale: paste `python -m vcluster.costs`"
    )


# --- bench migrate and bench evict ------------------------------------------------------------


def _check_rows(rows, within_model=True):
    for r in rows:
        assert r["emergent_ms"] + r["calibrated_ms"] == pytest.approx(r["measured_ms"], abs=0.002)
        assert sum(r["emergent_by_cause"].values()) == pytest.approx(r["emergent_ms"], abs=0.01)
        assert sum(r["calibrated_by_constant"].values()) == pytest.approx(
            r["calibrated_ms"], abs=0.02
        )
        assert r["kind"] in ("reproduction", "calibration check") and r["charges"] > 0
        if within_model:
            assert abs(r["model_ms"] / r["measured_ms"] - 1) <= 0.05, r


def test_migrate_freeze_and_copy_rate_split_and_agree_with_their_model():
    from vcluster.bench_migrate import run_bench

    result = run_bench(names=("tex", "make"), multi_round=("sweeper",))
    rows = {r["figure"]: r for r in result["comparisons"]}
    assert set(rows) == {
        "tex freeze",
        "tex copy",
        "make freeze",
        "make copy",
        "sweeper freeze",
        "sweeper copy",
    }
    (sweeper,) = result["multi_round"]
    assert sweeper["rounds"] >= 3 and rows["sweeper freeze"]["measured_ms"] == sweeper["freeze_ms"]
    _check_rows(rows.values())
    for w in result["workloads"]:
        assert rows[f"{w['name']} freeze"]["measured_ms"] == w["freeze_ms"]
        assert rows[f"{w['name']} copy"]["measured_ms"] / 1000 == pytest.approx(
            w["s_per_mb"], abs=0.001
        )
        # the state copy is V's 14 ms + 9 ms per object, on the freeze's critical path in full
        by = rows[f"{w['name']} freeze"]["calibrated_by_constant"]
        assert by["ks_pm_state_copy_base_us"] == pytest.approx(14.0, abs=0.5)
    # the copy rate restates page_copy_us (back-solved from V's 3 s/MB): a calibration check
    assert rows["tex copy"]["kind"] == "calibration check"


def test_evict_rows_split_and_agree_with_their_model_the_flusher_beside_the_migration():
    from vcluster import bench_evict

    result = bench_evict.run_bench()
    rows = {r["figure"]: r for r in result["comparisons"]}
    assert set(rows) == {
        f"{key} ({label})"
        for key in ("evict", "freeze", "copy")
        for label in ("precopy only", "flushing")
    }
    _check_rows(rows.values())
    assert rows["evict (precopy only)"]["measured_ms"] == result["precopy_only"]["evict_ms"]
    assert rows["evict (flushing)"]["measured_ms"] == result["evict_ms"]
    # with flushing the flusher's writes share the source's CPU with the migration: the model
    # counts them from the file server's ledger, the same bytes as the flusher's own count
    flushed = rows["evict (flushing)"]
    assert flushed["flusher_writes"] > 0
    assert flushed["flusher_kb"] * 1024 == result["with_flushing"]["flushed_bytes"] > 0
    assert "the flusher's writes" in flushed["model"] and "flusher" in flushed["model_note"]
    # and the new host's page-ins come after the eviction's end: not part of it
    assert flushed["page_ins_after_ms"] > 0
    assert rows["evict (precopy only)"]["flusher_writes"] == 0


@pytest.mark.parametrize("settle_s", [7.75, 8.25])
def test_an_eviction_with_flushing_agrees_with_its_model_whenever_the_owner_returns(settle_s):
    """The owner back at another point of the flusher's pass: other writes overlap other phases
    (the set-up, the pre-copy pass, the freeze), the model still within 5% of each row."""
    from vcluster import bench_evict

    run = bench_evict.evict_once(bench_evict.FLUSH_MS, settle_s)
    assert run["guest_exit_status"] == 0
    rows = run["split"]
    _check_rows(rows.values())
    assert rows["evict"]["flusher_writes"] > 0


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 50_000))
def test_the_state_copy_constant_moves_the_freeze_and_its_column_alike(extra_us):
    from vcluster import bench_migrate

    def freeze(cost):
        import vkernel.workloads as wl

        original = wl.workstation_config
        try:
            wl.workstation_config = lambda: dataclasses.replace(original(), cost=cost)
            moved = bench_migrate.migrate_workload("make", wl.DEFAULT_SECONDS["make"])
        finally:
            wl.workstation_config = original
        part = moved["split"]["freeze"]
        return part["measured_ms"], part["calibrated_by_constant"]["ks_pm_state_copy_base_us"]

    base = CostModel()
    f0, c0 = freeze(base)
    f1, c1 = freeze(dataclasses.replace(base, ks_pm_state_copy_base_us=14_000 + extra_us))
    assert f1 - f0 == pytest.approx(extra_us / 1000, abs=0.05)
    assert c1 - c0 == pytest.approx(extra_us / 1000, abs=0.05)


def test_the_disk_model_defaults_are_the_config_s():
    """emulator/disk.py's own defaults (for a disk built without a config) are DiskConfig's."""
    from configs.schema import DiskConfig
    from emulator import disk

    d = DiskConfig()
    assert disk.SEEK_NS == d.seek_ms * 1e6 and disk.TRACK_SEEK_NS == d.track_seek_ms * 1e6
    assert (disk.RPM, disk.TRANSFER_BYTES_PER_S, disk.HEADS) == (
        d.rpm,
        d.transfer_bytes_per_s,
        d.heads,
    )


def test_cli_table_shows_both_columns_as_the_json_has_them():
    import json

    from helpers import vcluster

    proc = vcluster("bench", "rexec", "--json", "--quick")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["comparisons"]
    proc = vcluster("bench", "rexec", "--quick")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "emergent" in line and "calibrated" in line)
    shown = {line.split()[0]: line for line in lines[header + 1 :] if line.strip()}
    for r in rows:
        line = shown[r["figure"]]
        for key in ("measured_ms", "emergent_ms", "calibrated_ms", "model_ms"):
            assert f"{r[key]:.3f}" in line, (key, line)
        assert r["kind"] in line
