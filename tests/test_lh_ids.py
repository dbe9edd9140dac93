"""Logical-host ids fit a pid's 16 bits in any cluster: machine i owns a range of `lh_stride` ids
(512 each up to 127 machines, smaller powers of two above), the system logical host its first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from configs.loader import load_config
from guest import abi
from vcluster.session import Session
from vkernel.kernel import LH_PER_MACHINE, lh_stride
from vkernel.migration import is_program_manager


@given(st.integers(min_value=1, max_value=8000))
def test_every_machine_range_fits_sixteen_bits_and_none_overlaps(machines):
    stride = lh_stride(machines)
    assert stride >= 8 and stride & (stride - 1) == 0
    assert (machines + 1) * stride <= 0x10000  # the last machine's last id is a 16-bit lhid
    assert (
        stride == LH_PER_MACHINE or (machines + 1) * stride * 2 > 0x10000
    )  # the largest that fits


def test_small_clusters_keep_the_old_ids():
    assert lh_stride(3) == lh_stride(127) == 512
    assert lh_stride(128) == 256 and lh_stride(1000) == 64


def test_too_many_machines_is_a_clear_error():
    with pytest.raises(ValueError, match="16-bit"):
        lh_stride(40_000)


@pytest.mark.slow
def test_two_hundred_workstations_have_distinct_pids_and_run_programs_far_apart(tmp_path):
    """ws13 and ws141 shared pids with 512 ids a machine (141 x 512 passes 16 bits)."""
    path = tmp_path / "wide.yaml"
    path.write_text(
        "name: wide\nseed: 3\nconsole_host: ws1\nidle:\n  answer_any_query: false\n"
        'machines:\n  - name: "ws{i}"\n    count: 200\n    memory: 1MB\n'
        "  - name: fs1\n    role: fileserver\n    memory: 4MB\n    disk:\n      image: null\n      size: 16MB\n"
    )
    session = Session(load_config(str(path)))
    kernels = session.kernels
    system = {name: k.system_lh.lhid for name, k in kernels.items()}
    assert len(set(system.values())) == len(system) == 201
    assert all(0 < lhid < 0x10000 for lhid in system.values())
    for k in kernels.values():
        pm = k.servers["program_manager"].pid if "program_manager" in k.servers else None
        if pm is not None:
            assert is_program_manager(pm, k.lh_stride) and abi.pid_lhid(pm) == k.system_lh.lhid
    for line in ("hello @ ws13", "hello @ ws141", "hello @ ws200"):
        session.execute(line)
    assert session.run_until_done(60)
    programs = session.summary()["programs"]
    assert sorted(p["host_final"] for p in programs) == ["ws13", "ws141", "ws200"]
    assert all(
        p["exit_status"] == 0 and p["output"] == "Hello from the V-System!\n" for p in programs
    )
    assert len({p["pid"] for p in programs}) == 3
    assert len({abi.pid_lhid(p["pid"]) for p in programs}) == 3
