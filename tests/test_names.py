"""Programs named over the wire (PM_QUERY_PROGRAM, vcluster/names.py): `kill|suspend|resume|migrateprog
NAME|PID|#` ask the program managers; the kernels' own tables (what `ps` reads) are the reference."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import abi
from tests.helpers import S, config, programs_by_name, vcluster_json
from vcluster import names
from vcluster.session import LineError, Session
from vkernel.packets import Kind, PacketError, parse_frame
from vkernel.servers import program_query

HOSTS = ("ws1", "ws2", "ws3")
PROGRAMS = {"spin": "spin 20", "sleeper": "sleeper 100", "dirtier": "dirtier 8 64 100"}


def reference(session: Session, name: str) -> set[int]:
    """What the kernels' tables say: the first pid of each logical host running `name`."""
    first: dict[int, int] = {}
    for row in sorted(session.ps_rows(), key=lambda r: r["pid"]):
        if row["name"] == name:
            first.setdefault(row["lhid"], row["pid"])
    return set(first.values())


def queries(session: Session) -> list[int]:
    """The src pid of every PM_QUERY_PROGRAM request the wire carries from now on."""
    seen: list[int] = []
    code = abi.PM_QUERY_PROGRAM.to_bytes(4, "big")

    def tap(_time: int, frame: bytes) -> None:
        try:
            _d, _s, p = parse_frame(frame)
        except PacketError:
            return
        if p.kind is Kind.SEND and p.msg[:4] == code:
            seen.append(p.src_pid)

    session.cluster.segment.add_tap(tap)
    return seen


def test_the_request_round_trips():
    msg = program_query.request("a-long-program-name", 0, [0x200, 0x601], 7)
    assert len(msg) == abi.MSG_SIZE
    length, name, pid, offset, excluded = program_query.parse_request(msg)
    assert (length, name, pid, offset, excluded) == (19, b"a-long-program-n", 0, 7, (0x200, 0x601))
    assert program_query.parse_request(program_query.request(None, 0x4010001))[:3] == (
        0,
        b"",
        0x4010001,
    )
    with pytest.raises(ValueError):
        program_query.request("x", 0, [1, 2, 3, 4, 5])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(PROGRAMS)), st.sampled_from(HOSTS)), min_size=1, max_size=7
    )
)
def test_the_program_managers_answer_what_the_kernels_run(started):
    session = Session(config())
    for name, host in started:
        session.execute(f"{PROGRAMS[name]} @ {host}")
    session.execute("wait 1.5")  # every one started (7 loads at most, one after another)
    for name in PROGRAMS:
        before = reference(session, name)
        found = names.find(session, name)
        assert found is not None and found.complete and not found.error
        assert set(found.pms) == before == reference(session, name)
        for pid, pm in found.pms.items():  # the answer came from the manager of the pid's host
            row = next(r for r in session.ps_rows() if r["pid"] == pid)
            assert names.host_of(session, found, pid) == row["host"]
            assert session.kernels[row["host"]].program_manager.pid == pm
    for row in session.ps_rows():
        found = names.find(session, None, row["pid"])
        assert found is not None and found.names == {row["pid"]: row["name"]}


def test_names_go_over_the_wire_not_through_the_tables():
    session = Session(config())
    session.execute("spin 5 @ ws3")
    session.execute("wait 0.3")
    seen = queries(session)
    assert session.execute("suspend spin").startswith("suspended spin (0x")
    assert seen and {abi.pid_lhid(p) for p in seen} == {session.home.system_lh.lhid}
    # cut ws3 off: its kernel still runs spin, but no program manager that can be asked does
    session.execute("fault partition ws3")
    t0 = session.sim.now
    with pytest.raises(LineError, match=r"no such program 'spin'"):
        session.execute("resume spin")
    assert session.sim.now - t0 <= names.bound_s(session) * S
    assert reference(session, "spin")


def test_a_long_answer_comes_in_parts():
    session = Session(config())
    for _ in range(program_query.PIDS_PER_REPLY + 3):
        session.execute("sleeper 60 @ ws2")
    session.execute("sleeper 60 @ ws3")
    session.execute("wait 0.5")
    found = names.find(session, "sleeper")
    assert len(found.pms) == program_query.PIDS_PER_REPLY + 4
    assert set(found.pms) == reference(session, "sleeper")
    session.execute("migrateprog -n sleeper")  # every one of them, as before
    moved = {pid for r in session.migrations for pid in r["pids"]}
    assert moved == set(found.pms)


def test_missing_and_ambiguous_names_are_clear_errors_within_the_bound():
    session = Session(config())
    session.execute("spin 5 @ ws2")
    session.execute("spin 5 @ ws3")
    session.execute("dirtier 8 64 100 @ ws2")
    session.execute("wait 0.3")
    for line, error in [
        ("kill nosuch", r"kill: no such program 'nosuch' \(`ps` lists them\)"),
        (
            "kill spin",
            r"kill: several programs are named 'spin': 0x[0-9a-f]{8}, 0x[0-9a-f]{8}; say which",
        ),
        ("kill 0x7fff0001", r"kill: no such program 0x7fff0001: no pid or # of a running program"),
        ("migrateprog nosuch", r"migrateprog: no running program 'nosuch'"),
        ("kill ünï€", r"kill: no such program 'ünï€'"),  # not Latin-1: no program is named so
        ("kill " + "x" * 300, r"kill: no such program 'x{300}'"),
    ]:
        t0 = session.sim.now
        with pytest.raises(LineError, match=error):
            session.execute(line)
        assert session.sim.now - t0 <= names.bound_s(session) * S
    assert session.execute("kill dirtier").startswith("killed dirtier (0x")
    assert session.execute("kill 1").startswith("killed spin (0x")
    assert session.execute("kill spin").endswith("on ws3")  # one left: no longer ambiguous


def test_at_kill_by_name_asks_from_inside_the_clock():
    session = Session(config())
    session.execute("spin 5 @ ws2")
    session.execute("at 1.0 kill spin")
    session.execute("at 1.0 kill nosuch")
    assert session.run_until_done(20)
    assert session.end_text(session.jobs[0]) == "killed"
    assert session.sim.now < 3 * S
    assert any("no running program 'nosuch'" in e["text"] for e in session.events)


@pytest.mark.slow
@pytest.mark.parametrize("loss", [0.1, 0.2])
def test_run_migrateprog_and_kill_by_name_under_loss(loss):
    """End to end through `vcluster run`: the same output as the fault-free run, every line answered."""
    lines = [
        "dirtier 16 64 10 @ ws2",
        "spin 30 @ ws3",
        "wait 1",
        f"fault loss {loss}",
        "migrateprog dirtier",
        "suspend spin",
        "resume spin",
        "wait 0.5",
        "kill spin",
    ]
    _proc, clean = vcluster_json(
        "--seed", "3", "dirtier 16 64 10 @ ws2", "--max-sim-seconds", "300"
    )
    proc, lossy = vcluster_json("--seed", "3", *lines, "--max-sim-seconds", "300")
    assert lossy.get("errors", []) == [], lossy.get("errors")
    assert "Traceback" not in proc.stderr and proc.returncode == 1  # a program was killed
    progs = programs_by_name(lossy)
    assert progs["dirtier"]["output"] == programs_by_name(clean)["dirtier"]["output"]
    assert progs["dirtier"]["exit_status"] == 0
    assert progs["dirtier"]["host_started"] == "ws2" and progs["dirtier"]["host_final"] != "ws2"
    assert [m["ok"] for m in lossy["migrations"]] == [True]
    assert progs["spin"]["exit_status"] == -abi.EKILLED


def test_the_control_socket_names_programs_through_the_program_managers():
    """`execute` requests of a control client: suspend, migrateprog and kill by name under 15% loss."""
    import tempfile
    import time
    from pathlib import Path

    from tests.test_control import Client, Served

    with tempfile.TemporaryDirectory(prefix="vc") as d:
        served = Served(Path(d) / "n.sock")
        try:
            with Client(served.path) as c:
                assert c.execute("sleeper 30 @ ws2")["ok"]
                deadline = time.monotonic() + 30
                while not c.request({"cmd": "programs"})["jobs"][0]["pid"]:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                pid = c.request({"cmd": "programs"})["jobs"][0]["pid"]
                seen = queries(served.session)
                assert c.execute("fault loss 0.15")["ok"]
                assert c.execute("suspend sleeper") == {
                    "ok": True,
                    "message": f"suspended sleeper ({pid:#010x}) on ws2",
                }
                moved = c.execute("migrateprog sleeper")
                assert moved["ok"] and moved["message"].startswith(
                    "migrated sleeper from ws2 to "
                ), moved
                to = moved["message"].split(" to ")[1].split(":")[0]
                assert c.execute("kill sleeper") == {
                    "ok": True,
                    "message": f"killed sleeper ({pid:#010x}) on {to}",
                }
                missing = c.execute("kill sleeper")
                assert not missing["ok"] and "no such program 'sleeper'" in missing["error"]
                assert len(seen) >= 4  # every line asked the program managers over the wire
        finally:
            served.stop()
