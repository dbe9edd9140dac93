"""Kernel servers under forged requests (issue 12, item 4): every request is answered, none crashes a server.

A forger (a process in a logical host of its own, not a system one) sends each server
random words, with the server's own request codes and with random ones. Asserted: every
request gets a reply (or an error) within a bound, the server answers a valid request
correctly afterwards (the reference: the same valid request on a fresh cluster), no
fault is reported and nothing is logged with a traceback. And when a server does fail
(a bug injected here), the kernel logs one line, answers the request it held with -EIO,
restarts it at the same pid, and it answers the next request.
"""

from __future__ import annotations

import logging

from helpers import S, config, msg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import abi
from vcluster.session import Session
from vkernel import ops
from vkernel.messages import pack, signed, unpack
from vkernel.process import Priority
from vkernel.servers.kernel_server import KS_HOST_INFO, KS_PROCESS_INFO

WORD = st.integers(0, 0xFFFFFFFF)
SMALL = st.integers(0, 0x2000)  # addresses and counts that land inside the forger's memory
PM_CODES = [
    abi.PM_EXEC,
    abi.PM_KILL,
    abi.PM_SUSPEND,
    abi.PM_RESUME,
    abi.PM_QUERY_HOST,
    abi.PM_EXITED,
    abi.PM_LIST,
]  # PM_WAIT waits for a child by design; PM_MIGRATE and MG_* are migration's
FS_CODES = [
    abi.FS_OPEN,
    abi.IO_READ,
    abi.IO_WRITE,
    abi.FS_WRITE_AT,
    abi.IO_CLOSE,
    abi.FS_REMOVE,
    abi.FS_LIST,
    abi.FS_PUT,
    abi.FS_MERGE,
    abi.FS_COLLECT,
]
SERVERS = {
    "kernel": [KS_HOST_INFO, KS_PROCESS_INFO],
    "program": PM_CODES,
    "file": FS_CODES,
    "display": [abi.IO_WRITE, abi.IO_CLOSE, abi.IO_READ],
    "pager": [1, 0],
}
BOUND_S = 5  # a local request is answered well within this


def _session() -> Session:
    return Session(config("tiny"))


def _server_pid(session: Session, which: str) -> tuple[object, int]:
    for k in session.kernels.values():
        if which == "pager" and k.pager is not None:
            return k, k.pager.proc.pid
        server = k.servers.get(which)
        if server is not None:
            proc = getattr(server, "proc", None)
            pid = (
                proc.pid
                if proc is not None
                else {"kernel": k.kernel_server, "file": None}.get(which)
            )
            if which == "file":  # its process (kernels ask its group: vkernel/locate.py)
                pid = next(p.pid for p in k.processes.values() if p.name == "file-server")
            elif which == "kernel":
                pid = k.kernel_server.pid
            return k, pid
    raise AssertionError(which)


def forge(
    session: Session, kernel, target: int, messages: list[bytes], memory: bytes = b""
) -> list:
    """Send each message from a forger on kernel's machine; the (replier, reply) of each, or None."""
    lh = kernel.new_logical_host(name="forger")
    results: list = [None] * len(messages)

    def body(pid: int):
        kernel.memory.write(kernel.processes[pid], 0, memory or bytes(range(256)) * 32)
        for i, m in enumerate(messages):
            replier, reply = yield ops.Send(target, m)
            results[i] = (signed(replier) if replier > 0x7FFFFFFF else replier, reply)

    proc = kernel.new_process(lh, "forger", Priority.SYSTEM)
    proc.coroutine = body(proc.pid)
    session.sim.at(session.sim.now, lambda: kernel._step_server(proc))
    deadline = session.sim.now + BOUND_S * S * max(1, len(messages))
    while None in results and session.sim.now < deadline and session.sim.step():
        pass
    return results


def _valid(session: Session, which: str) -> object:
    """A valid request to the server and what it answers (compared with a fresh cluster's)."""
    kernel, pid = _server_pid(session, which)
    if which == "kernel":
        [(replier, reply)] = forge(session, kernel, pid, [pack(KS_PROCESS_INFO, pid)])
        return replier == pid, unpack(reply)[0], unpack(reply)[4]
    if which == "program":
        [(replier, reply)] = forge(session, kernel, pid, [pack(abi.PM_KILL, 0x12345)])
        return replier == pid, signed(unpack(reply)[0])
    if which == "file":
        name = b"hello"
        [(replier, reply)] = forge(session, kernel, pid, [pack(abi.FS_OPEN, 0, len(name), 0)], name)
        return replier == pid, unpack(reply)[0], unpack(reply)[2]
    if which == "display":
        text = b"forged line\n"
        [(replier, reply)] = forge(
            session, kernel, pid, [pack(abi.IO_WRITE, 1, 0, len(text))], text
        )
        return replier == pid, unpack(reply)[:2]
    [(replier, reply)] = forge(session, kernel, pid, [pack(7)])
    return replier, signed(unpack(reply)[0])


REFERENCE = {}


def _reference(which: str):
    if which not in REFERENCE:
        REFERENCE[which] = _valid(_session(), which)
    return REFERENCE[which]


@st.composite
def requests(draw, which: str):
    code = draw(st.one_of(st.sampled_from(SERVERS[which]), WORD))
    rest = draw(st.lists(st.one_of(SMALL, WORD), min_size=7, max_size=7))
    return msg(code, *rest)


def _check_server(which: str, forged: list[bytes], caplog) -> None:
    session = _session()
    kernel, pid = _server_pid(session, which)
    with caplog.at_level(logging.DEBUG):
        results = forge(session, kernel, pid, forged)
        unanswered = [i for i, r in enumerate(results) if r is None]
        assert not unanswered, [forged[i].hex() for i in unanswered]
        assert _valid(session, which) == _reference(which)
    faults = [str(f) for k in session.kernels.values() for f in k.faults]
    assert faults == []
    assert not [r for r in caplog.records if r.exc_info], "a server logged a traceback"


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(st.lists(requests("kernel"), min_size=1, max_size=6))
def test_the_kernel_server_answers_every_forged_request(caplog, forged):
    _check_server("kernel", forged, caplog)


@FUZZ
@given(st.lists(requests("program"), min_size=1, max_size=6))
def test_the_program_manager_answers_every_forged_request(caplog, forged):
    _check_server("program", forged, caplog)


@FUZZ
@given(st.lists(requests("file"), min_size=1, max_size=6))
def test_the_file_server_answers_every_forged_request(caplog, forged):
    _check_server("file", forged, caplog)


@FUZZ
@given(st.lists(requests("display"), min_size=1, max_size=6))
def test_the_display_server_answers_every_forged_request(caplog, forged):
    _check_server("display", forged, caplog)


@FUZZ
@given(st.lists(requests("pager"), min_size=1, max_size=4))
def test_the_pager_answers_every_forged_request(caplog, forged):
    _check_server("pager", forged, caplog)


# --- a server that fails is restarted ----------------------------------------------------------
def _fail_once(obj, name: str, exc: Exception) -> list[int]:
    """Make obj.name raise exc on its first call (a server bug); counts the calls."""
    real = getattr(obj, name)
    calls: list[int] = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    setattr(obj, name, broken)
    return calls


def test_a_failed_server_is_logged_in_one_line_answered_and_restarted(caplog):
    session = _session()
    kernel, pid = _server_pid(session, "kernel")
    calls = _fail_once(kernel, "load", ZeroDivisionError("injected"))
    with caplog.at_level(logging.WARNING):
        results = forge(session, kernel, pid, [pack(KS_HOST_INFO)] * 3)
    assert len(calls) == 3
    # the request it held: -EIO; the next ones: answered by the fresh server at the same pid
    assert results[0][0] == -abi.EIO
    assert [r[0] for r in results[1:]] == [pid, pid] and kernel.kernel_server.pid == pid
    assert (
        unpack(results[1][1])[0] == 0 and unpack(results[2][1])[3] == 2
    )  # its own and the forger's
    [report] = kernel.faults
    assert (
        report.name == "kernel-server" and "ZeroDivisionError: injected; restarted" in report.what
    )
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "kernel-server" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage() and warnings[0].exc_info is None
    [event] = [e for e in session.events if e["kind"] == "server_fault"]  # the user sees it too
    assert event["server"] == "kernel-server" and event["host"] == "ws1"
    assert (
        event["text"] == "ws1: server kernel-server failed: ZeroDivisionError: injected; restarted"
    )


def test_a_restarted_program_manager_keeps_its_groups_and_remote_exec_works(caplog):
    session = _session()
    ws2 = session.kernels["ws2"]
    pm = ws2.servers["program"]
    _fail_once(pm, "listing", KeyError("injected"))
    results = forge(
        session, ws2, pm.proc.pid, [pack(abi.PM_LIST, 0, 100), pack(abi.PM_LIST, 0, 100)]
    )
    assert results[0][0] == -abi.EIO and results[1][0] == pm.proc.pid
    assert pm.proc.pid in ws2.groups[abi.PROGRAM_MANAGER_GROUP] and pm.proc.restarts == 1
    session.execute("hello @ ws2")
    session.execute("echo any @ *")
    assert session.run_until_done(30)
    outputs = {j.argv[0]: (session.output_of(j), j.host_started, j.error) for j in session.jobs}
    assert outputs["hello"] == ("Hello from the V-System!\n", "ws2", None)
    assert outputs["echo"][0] == "any\n" and outputs["echo"][2] is None


def test_a_server_that_fails_at_once_after_a_restart_ends_instead_of_looping():
    session = _session()
    kernel, pid = _server_pid(session, "kernel")
    proc = kernel.kernel_server

    def always_broken(pid):
        raise RuntimeError("broken")
        yield  # a generator

    proc.server_body = always_broken
    kernel.load = lambda: 1 / 0
    results = forge(session, kernel, pid, [pack(KS_HOST_INFO), pack(KS_HOST_INFO)])
    assert results[0][0] == -abi.EIO and results[1][0] < 0  # answered, not left waiting
    assert pid not in kernel.processes
    assert len(kernel.faults) == 2


def test_a_program_exiting_during_its_migration_is_no_traceback():
    """The reproducer of issue 12: `primes 30000 @ ws2`, `wait 0.55`, `migrateprog primes`."""
    from helpers import vcluster_json

    proc, summary = vcluster_json("tiny", "primes 30000 @ ws2", "wait 0.55", "migrateprog primes")
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    [primes] = summary["programs"]
    assert primes["output"] == "primes <= 30000: 3245\n" and primes["exit_status"] == 0


# --- the same from another machine: forged requests over the wire ----------------------------
def _remote_target(session: Session, which: str) -> int:
    ws2 = session.kernels["ws2"]
    if which == "file":
        return _server_pid(session, "file")[1]
    if which == "kernel":
        return ws2.kernel_server.pid
    return ws2.servers["program"].proc.pid


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(["file", "kernel", "program"]), st.data())
def test_servers_answer_forged_requests_from_another_machine(caplog, which, data):
    forged = data.draw(st.lists(requests(which), min_size=1, max_size=4))
    session = _session()
    ws1 = session.kernels["ws1"]
    target = _remote_target(session, which)
    with caplog.at_level(logging.DEBUG):
        results = forge(session, ws1, target, forged)
    # answered by the server itself: not a timeout of the transport (nobody answered)
    assert all(r is not None and r[0] != -abi.ETIMEOUT for r in results), results
    assert [str(f) for k in session.kernels.values() for f in k.faults] == []
    assert not [r for r in caplog.records if r.exc_info]


# --- a hostile guest: forged requests from real 68010 code -----------------------------------
def test_a_forging_guest_gets_every_request_answered_and_nothing_else_changes():
    from helpers import vcluster_json

    good = ("hello @ *", "files list", "echo still here @ ws2")
    _, ref = vcluster_json("tiny", *good)
    want = {p["name"]: p["output"] for p in ref["programs"]}
    for seed in (1, 7):
        proc, got = vcluster_json(
            "tiny", f"forger {seed} 400", f"forger {seed + 1} 200 @ ws2", *good
        )
        assert "Traceback" not in proc.stderr and "server failed" not in proc.stderr, proc.stderr
        forgers = [p for p in got["programs"] if p["name"] == "forger"]
        assert [p["output"].split(",")[:2] for p in forgers] == [
            ["forger: 400 requests", " 400 answered"],
            ["forger: 200 requests", " 200 answered"],
        ]
        assert {p["name"]: p["output"] for p in got["programs"] if p["name"] != "forger"} == want


def test_a_move_to_an_address_outside_any_address_space_is_efault_not_a_crash():
    """A forged FS_LIST buffer at 0xD6000000 from another machine: the file server's MoveTo
    would not fit the packet's fields (it crashed the server)."""
    session = _session()
    ws1 = session.kernels["ws1"]
    fs = _server_pid(session, "file")[1]
    [(replier, reply)] = forge(session, ws1, fs, [pack(abi.FS_LIST, 0xD6000000, 100)])
    assert replier == fs and signed(unpack(reply)[0]) == -abi.EFAULT
    assert [str(f) for k in session.kernels.values() for f in k.faults] == []


def test_a_guest_making_random_system_calls_leaves_the_kernel_running():
    from helpers import vcluster_json

    for seed in (3, 4):
        proc, got = vcluster_json(
            "tiny",
            f"forger {seed} 2000 calls",
            f"forger {seed} 1000 calls @ ws2",
            "wait 1",
            "hello @ *",
        )
        assert "Traceback" not in proc.stderr and "server failed" not in proc.stderr, proc.stderr
        outputs = [p["output"].split(",")[0] for p in got["programs"]]
        assert outputs == ["forger: 2000 calls", "forger: 1000 calls", "Hello from the V-System!\n"]


def test_a_forged_mg_init_gets_an_error_not_a_wait_forever(caplog):
    """Issue 12: MG_INIT with a blob that is not JSON crashed pm-receive and its sender waited
    forever. (Validating MG_* is migration's; whatever it does, the sender hears an error.)"""
    from vkernel.servers.program_manager import MG_INIT

    session = _session()
    ws1, ws2 = session.kernels["ws1"], session.kernels["ws2"]
    pm = ws2.servers["program"].proc.pid
    with caplog.at_level(logging.WARNING):
        results = forge(
            session,
            ws1,
            pm,
            [pack(MG_INIT, 0x999, 1, 0, 200)] * 2,
            memory=b"\xff\xfe not json" * 30,
        )
    for replier, reply in results:
        assert replier < 0 or signed(unpack(reply)[0]) < 0
    assert not [r for r in caplog.records if r.exc_info]
    assert ws2.servers["program"].proc.pid == pm and pm in ws2.processes


def test_an_open_file_is_its_openers_not_anothers():
    """Instance numbers are small and sequential: a guest of another logical host could read or
    close another's file by guessing one. Now -EPERM; the opener reads as before."""
    session = _session()
    ws1 = session.kernels["ws1"]
    fs_kernel, fs = _server_pid(session, "file")
    server = fs_kernel.servers["file"]
    n = server.next_instance
    opened = forge(
        session,
        ws1,
        fs,
        [pack(abi.FS_OPEN, 0, 5, abi.FS_MODE_READ), pack(abi.IO_READ, n, 64, 16, 0)],
        memory=b"hello",
    )
    assert [signed(unpack(r)[0]) for _, r in opened] == [0, 0] and unpack(opened[0][1])[1] == n
    assert unpack(opened[1][1])[1] == 16
    foreign = forge(
        session,
        ws1,
        fs,
        [
            pack(abi.IO_READ, n, 64, 16, 0),
            pack(abi.IO_WRITE, n, 0, 4),
            pack(abi.FS_WRITE_AT, n, 0, 4, 0),
            pack(abi.IO_CLOSE, n),
        ],
    )
    assert [signed(unpack(r)[0]) for _, r in foreign] == [-abi.EPERM] * 4
    assert n in server.instances
