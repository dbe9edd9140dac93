"""The file server is found over the wire (vkernel/locate.py): every kernel asks the file server
group at boot and again after a failure; no kernel is told its pid by another."""

from __future__ import annotations

import pytest

from guest import abi
from tests.helpers import S, config, run_session
from vcluster.session import Session
from vkernel import locate
from vkernel.packets import Kind, PacketError, parse_frame


def fs_pid(session: Session) -> int:
    """The reference: the pid of the file-server process on the machine with the disk."""
    (k,) = [k for k in session.kernels.values() if k.machine.disk is not None]
    (pid,) = [p.pid for p in k.processes.values() if p.name == "file-server"]
    return pid


def queries_on_wire(session: Session) -> list[tuple[int, int, int]]:
    """(time, src_pid, dst) of each FS_QUERY_SERVER request frame the wire carries from now on."""
    seen: list[tuple[int, int, int]] = []

    def tap(time: int, frame: bytes) -> None:
        try:
            _dst, _src, p = parse_frame(frame)
        except PacketError:
            return
        if p.kind is Kind.SEND and p.msg[:4] == abi.FS_QUERY_SERVER.to_bytes(4, "big"):
            seen.append((time, p.src_pid, p.dst_pid))

    session.cluster.segment.add_tap(tap)
    return seen


def test_every_kernel_boots_without_the_pid_and_asks_the_group_when_it_needs_it():
    session = Session(config())
    seen = queries_on_wire(session)
    session.sim.run(until=session.sim.now + S // 2)
    # nothing copies the file server's pid: no kernel knows it, not even its own, and none has
    # needed it yet
    known = {k.name: k.file_server_pid for k in session.kernels.values()}
    assert known == dict.fromkeys(session.kernels, 0) and seen == []
    session.execute("hello @ ws2")
    session.execute("hello")
    assert session.run_until_done(30)
    want = fs_pid(session)
    known = {k.name: k.file_server_pid for k in session.kernels.values()}
    assert known == {"ws1": want, "ws2": want, "ws3": 0, "fs1": 0}
    # the two that loaded a program asked the group over the wire, once each
    askers = [abi.pid_lhid(src) for _, src, dst in seen if dst == abi.FILE_SERVER_GROUP]
    lhids = {session.kernels[h].system_lh.lhid for h in ("ws1", "ws2")}
    assert sorted(askers) == sorted(lhids)
    assert all(k.locate_failures == 0 for k in session.kernels.values())


def test_a_guests_getpid_of_the_file_server_asks_the_group():
    session = Session(config())
    ws3 = session.kernels["ws3"]
    from guest import abi as _abi

    proc = type("P", (), {"lhid": ws3.system_lh.lhid})()
    assert ws3.syscalls.sys_getpid(proc, [_abi.PID_FILE_SERVER]) == 0  # not known yet: asked
    session.sim.run(until=session.sim.now + S // 10)
    assert ws3.syscalls.sys_getpid(proc, [_abi.PID_FILE_SERVER]) == fs_pid(session)


def test_programs_run_and_see_the_file_server_they_found():
    session, summary = run_session(["hello @ ws2", "hello"])
    assert [p["output"] for p in summary["programs"]] == ["Hello from the V-System!\n"] * 2
    assert session.kernels["ws2"].file_server_pid == fs_pid(session)


@pytest.mark.parametrize("loss", [0.1, 0.2])
def test_found_under_loss(loss):
    cfg = config(network__loss_rate=loss)
    session = Session(cfg)
    for k in session.kernels.values():
        locate.ensure(k)
    bound = (
        locate.LOCATE_ATTEMPTS * (locate.LOCATE_RETRY_MS + cfg.cost.host_query_timeout_ms) / 1000
    )
    session.sim.run(until=session.sim.now + int(bound * S))
    assert {k.file_server_pid for k in session.kernels.values()} == {fs_pid(session)}


def test_no_file_server_answers_then_it_is_found_again():
    session = Session(config())
    locate.ensure(session.kernels["ws2"])
    session.sim.run(until=session.sim.now + S // 2)
    ws2 = session.kernels["ws2"]
    old = ws2.file_server_pid
    assert old == fs_pid(session)
    session.execute("crash fs1")
    t0 = session.sim.now
    session.execute("hello @ ws2")
    assert session.run_until_done(60)
    job = session.jobs[-1]
    assert job.exit_status is None and "could not start" in (job.error or "")
    # the failed Send made ws2 forget it; its queries went unanswered, within the bound
    cost = session.config.cost
    bound = (
        locate.LOCATE_ATTEMPTS * (locate.LOCATE_RETRY_MS + cost.host_query_timeout_ms) * 1_000_000
    )
    assert ws2.file_server_pid == 0 and ws2.locate_failures == 0
    # the next program makes ws2 ask the group: nobody answers, within the bound
    t1 = session.sim.now
    session.execute("hello @ ws2")
    assert session.run_until_done(session.sim.now / S + 60)
    job = session.jobs[-1]
    assert job.exit_status is None and "could not start: ENOENT" in (job.error or "")
    assert ws2.locate_failures == 1 and ws2.file_server_pid == 0
    assert bound * 0.9 <= session.sim.now - t1 <= bound + 2 * S
    assert t1 - t0 < 60 * S
    session.execute("power fs1 on")
    session.execute("hello @ ws2")
    assert session.run_until_done(session.sim.now / S + bound / S + 30)
    job = session.jobs[-1]
    assert (job.exit_status, session.output_of(job)) == (0, "Hello from the V-System!\n")
    assert ws2.file_server_pid == fs_pid(session)
