"""Protection of the well-known groups (issue 12, item 3): a guest cannot join them.

Before the fix, `hijacker` joined the program manager group 0x8001 and answered every
request: `@ *` then failed and a guest's remote_exec waited forever on a child that was
never started. The reference for each end-to-end case is the same run without the
hijacker.
"""

from __future__ import annotations

from helpers import programs_by_name, run_session, vcluster_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import abi


def _rule(gid: int) -> int:
    """docs/ABI.md: a group with a local index 0x8000..0x80FF is the system's (-EPERM)."""
    if not gid & 0x8000:
        return -abi.EINVAL
    return -abi.EPERM if gid & 0xFFFF < 0x8100 else 0


def test_a_guest_cannot_hijack_the_program_manager_group_and_remote_exec_works():
    alone, ref = vcluster_json("tiny", "parent 2 hello", "hello @ *", "--max-sim-seconds", "60")
    hostile, got = vcluster_json(
        "tiny", "hijacker", "wait 0.5", "parent 2 hello", "hello @ *", "--max-sim-seconds", "60"
    )
    assert "Traceback" not in hostile.stderr
    progs = programs_by_name(got)
    assert progs["hijacker"]["output"] == "hijacker: cannot join group 0x8001 (EPERM)\n"
    assert progs["hijacker"]["exit_status"] == 1
    want = programs_by_name(ref)
    for name in ("parent", "hello"):
        assert progs[name]["output"] == want[name]["output"], name
        assert progs[name]["exit_status"] == want[name]["exit_status"] == 0, name
        assert progs[name]["error"] is None
    assert got["sim_seconds"] < 60  # ended by itself, not at the limit


def test_the_local_groups_of_any_logical_host_are_refused_too():
    lhid = 0x0401
    for gid in (
        abi.PROGRAM_MANAGER_GROUP,
        (lhid << 16) | abi.LOCAL_KERNEL_SERVER,
        (lhid << 16) | abi.LOCAL_PROGRAM_MANAGER,
        0x80FF,
        0x12348000,
    ):
        _session, summary = run_session([f"hijacker {gid:#x} 0"], max_sim_seconds=10)
        out = programs_by_name(summary)["hijacker"]["output"]
        assert out == f"hijacker: cannot join group {gid:#x} (EPERM)\n", gid


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 0xFFFF), st.one_of(st.integers(0x8000, 0x8104), st.integers(0, 0xFFFF)))
def test_joingroup_follows_the_documented_rule(lhid, index):
    gid = lhid << 16 | index
    _session, summary = run_session([f"hijacker {gid:#x} 0"], max_sim_seconds=10)
    prog = programs_by_name(summary)["hijacker"]
    expected = _rule(gid)
    if expected == 0:
        assert prog["output"] == f"hijacker: joined group {gid:#x}\nhijacker: answered 0 requests\n"
        assert prog["exit_status"] == 0
    else:
        name = abi.ERROR_NAMES[-expected]
        assert prog["output"] == f"hijacker: cannot join group {gid:#x} ({name})\n"
        assert prog["exit_status"] == 1


def test_kernel_processes_still_join_well_known_groups():
    session, _summary = run_session(["hello"], max_sim_seconds=10)
    managers = [k for k in session.kernels.values() if k.program_manager is not None]
    assert len(managers) >= 2
    for kernel in managers:
        assert kernel.program_manager.pid in kernel.groups[abi.PROGRAM_MANAGER_GROUP]


def test_a_hijacker_cannot_answer_for_a_migration():
    """Issue 12: with the hijacker in the group, migrateprog reported a freeze of 432627041491 ms
    and destroyed the program. Reference: the same migration without the hijacker."""
    lines = ("dirtier 128 16 3 @ ws2", "wait 1", "migrateprog dirtier")
    _, ref = vcluster_json("tiny", *lines)
    proc, got = vcluster_json("tiny", "hijacker", "hijacker @ ws3", "wait 0.5", *lines)
    assert "Traceback" not in proc.stderr
    want, dirtier = programs_by_name(ref)["dirtier"], programs_by_name(got)["dirtier"]
    assert dirtier["output"] == want["output"] and dirtier["exit_status"] == 0
    [migration] = got["migrations"]
    assert migration["ok"] and not migration["destroyed"] and migration["to"] in ("ws1", "ws3")
    assert migration["freeze_ms"] < 1000
