"""V IPC between servers written in Python, on a booted tiny cluster: the kernel's semantics, one by one.

Every process here is a generator spawned with `Kernel.spawn_server`; it yields vkernel.ops and
gets results exactly as a guest gets d0. The cluster is booted but idle (no program runs), so each
test controls all the traffic: who sends what to whom, and when.
"""

from __future__ import annotations

import pytest
from helpers import config, echo_server, longs, msg, run

from guest import abi
from vcluster.session import Session
from vkernel import ops
from vkernel import packets as pk

MS = 1_000_000
S = 1_000_000_000



@pytest.fixture
def session() -> Session:
    return Session(config())


def kernels(session: Session):
    return session.kernels["ws1"], session.kernels["ws2"], session.kernels["ws3"]


def client(session: Session, results: list, dst: int, requests: list[int]):
    """Sends each request to dst in turn; records (replier, reply longs, elapsed ns)."""

    def body(pid: int):
        for r in requests:
            start = session.sim.now
            replier, reply = yield ops.Send(dst, msg(r, pid))
            results.append((replier, longs(reply) if reply else (), session.sim.now - start))

    return body


def test_local_send_receive_reply(session):
    ws1, _, _ = kernels(session)
    served, got = [], []
    srv = ws1.spawn_server(ws1.system_lh, "srv", echo_server(session, served, 0xE0))
    cli = ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1, 2, 3]))
    run(session, 1)
    assert [(s, r) for s, r, _ in served] == [(cli.pid, 1), (cli.pid, 2), (cli.pid, 3)]
    assert [(replier, reply[:3]) for replier, reply, _ in got] == [
        (srv.pid, (0xE0, 1, cli.pid)), (srv.pid, (0xE0, 2, cli.pid)), (srv.pid, (0xE0, 3, cli.pid))]
    assert all(elapsed < 5 * MS for _, _, elapsed in got)
    # nothing went on the wire
    assert ws1.transport.stats.sent == 0 and session.cluster.segment.stats()["frames"] == 0


def test_remote_send_receive_reply(session):
    ws1, ws2, _ = kernels(session)
    served, got = [], []
    srv = ws2.spawn_server(ws2.system_lh, "srv", echo_server(session, served, 0xE1))
    cli = ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [7, 8]))
    run(session, 1)
    assert [(s, r) for s, r, _ in served] == [(cli.pid, 7), (cli.pid, 8)]
    assert [(replier, reply[:3]) for replier, reply, _ in got] == [
        (srv.pid, (0xE1, 7, cli.pid)), (srv.pid, (0xE1, 8, cli.pid))]
    # one packet each way, no retransmission: well under a retransmission timeout
    assert all(elapsed < 10 * MS for _, _, elapsed in got)
    t1, t2 = ws1.transport.stats, ws2.transport.stats
    assert t1.retransmissions == t2.retransmissions == 0
    assert (t1.sent, t2.sent) == (2, 2)
    # the first Send had no binding (broadcast); the reply taught ws1 where ws2's logical host is
    assert t1.broadcasts == 1
    assert ws1.transport.bindings[ws2.system_lh.lhid] == ws2.transport.mac


def test_reply_to_a_process_that_is_not_awaiting_is_refused(session):
    ws1, _, _ = kernels(session)
    out = []

    def body(pid: int):
        out.append((yield ops.Reply(ws1.kernel_server.pid, msg(1))))
        out.append((yield ops.Forward(ws1.kernel_server.pid, pid, msg(1))))
        out.append((yield ops.MoveTo(ws1.kernel_server.pid, 0, b"x")))
        out.append((yield ops.MoveFrom(ws1.kernel_server.pid, 0, 1)))

    ws1.spawn_server(ws1.system_lh, "rude", body)
    run(session, 0.1)
    assert out == [-abi.ENOTAWAITING] * 4


# --- Forward -----------------------------------------------------------------------------


def forwarder(session: Session, log: list, to: list[int]):
    """Receives a request and forwards it (long 0 + 0x100) to to[0]."""

    def body(pid: int):
        while True:
            sender, m = yield ops.Receive()
            log.append(sender)
            err = yield ops.Forward(sender, to[0], msg(longs(m)[0] + 0x100, longs(m)[1]))
            assert err == 0

    return body


@pytest.mark.parametrize(
    "client_host, forwarder_host, forwardee_host",
    [
        ("ws1", "ws1", "ws1"),  # local -> local
        ("ws1", "ws1", "ws2"),  # local -> remote
        ("ws1", "ws2", "ws2"),  # remote -> local (to the forwarder)
        ("ws1", "ws2", "ws3"),  # remote -> remote
        ("ws1", "ws2", "ws1"),  # remote -> back to the sender's own machine
    ],
)
def test_forward_the_reply_comes_from_the_forwardee(session, client_host, forwarder_host, forwardee_host):
    kc, kf, kt = (session.kernels[h] for h in (client_host, forwarder_host, forwardee_host))
    forwarded, served, got = [], [], []
    target = [0]
    fwd = kf.spawn_server(kf.system_lh, "fwd", forwarder(session, forwarded, target))
    tgt = kt.spawn_server(kt.system_lh, "tgt", echo_server(session, served, 0xF0))
    target[0] = tgt.pid
    if kc is not kf:
        # the client's kernel already knows where the forwarder is (an earlier exchange), so its
        # request goes unicast: nobody but the forwarder's kernel hears of the client's logical host
        kc.transport.bindings[kf.system_lh.lhid] = kf.transport.mac
    lh = kc.new_logical_host(name="client")
    cli = kc.spawn_server(lh, "cli", client(session, got, fwd.pid, [5, 6]))
    run(session, 2)
    assert forwarded == [cli.pid, cli.pid]
    assert [(s, r) for s, r, _ in served] == [(cli.pid, 0x105), (cli.pid, 0x106)]
    # the forwardee replied, and the sender sees the forwardee as the replier
    assert [(replier, reply[:3]) for replier, reply, _ in got] == [
        (tgt.pid, (0xF0, 0x105, cli.pid)), (tgt.pid, (0xF0, 0x106, cli.pid))]
    # the reply found its way at once: no retransmission was needed
    assert all(elapsed < 20 * MS for _, _, elapsed in got), [e for _, _, e in got]
    assert sum(k.transport.stats.retransmissions for k in session.kernels.values()) == 0


# --- groups ------------------------------------------------------------------------------

GROUP = 0x00008123  # a well-known (global) group: logical host 0, group bit set


def test_group_send_first_reply_wins_and_the_sender_gets_exactly_one(session):
    ws1, ws2, ws3 = kernels(session)
    received = {"ws2": [], "ws3": []}
    replied = {"ws2": [], "ws3": []}

    def member(name: str, delay_ns: int):
        def body(pid: int):
            assert (yield ops.JoinGroup(GROUP)) == 0
            while True:
                sender, m = yield ops.Receive()
                received[name].append((sender, longs(m)[0]))
                yield ops.Delay(delay_ns)
                replied[name].append(longs(m)[0])
                yield ops.Reply(sender, msg(0xAA, longs(m)[0], pid))

        return body

    fast = ws2.spawn_server(ws2.system_lh, "fast", member("ws2", 1 * MS))
    ws3.spawn_server(ws3.system_lh, "slow", member("ws3", 30 * MS))
    got = []
    resumed = []

    def sender(pid: int):
        yield ops.Delay(10 * MS)  # let the members join
        for round_ in (1, 2, 3):
            start = session.sim.now
            replier, reply = yield ops.Send(GROUP, msg(round_))
            resumed.append(round_)
            got.append((replier, longs(reply)[:3], session.sim.now - start))
            yield ops.Delay(100 * MS)  # the slow member's answer arrives meanwhile, and is dropped

    cli = ws1.spawn_server(ws1.system_lh, "cli", sender)
    run(session, 2)
    # both members got every request; both answered
    assert received == {"ws2": [(cli.pid, 1), (cli.pid, 2), (cli.pid, 3)],
                        "ws3": [(cli.pid, 1), (cli.pid, 2), (cli.pid, 3)]}
    assert replied == {"ws2": [1, 2, 3], "ws3": [1, 2, 3]}
    # the sender was resumed exactly once per Send, with the first (fast) member's reply
    assert resumed == [1, 2, 3]
    assert [(r, m) for r, m, _ in got] == [(fast.pid, (0xAA, n, fast.pid)) for n in (1, 2, 3)]
    assert all(elapsed < 20 * MS for _, _, elapsed in got)


def test_group_send_with_a_local_and_a_remote_member(session):
    ws1, ws2, _ = kernels(session)
    hits = []

    def member(delay_ns: int):
        def body(pid: int):
            yield ops.JoinGroup(GROUP)
            while True:
                sender, m = yield ops.Receive()
                hits.append(pid)
                yield ops.Delay(delay_ns)
                yield ops.Reply(sender, msg(0xBB, pid))

        return body

    remote = ws2.spawn_server(ws2.system_lh, "remote", member(1 * MS))
    local = ws1.spawn_server(ws1.system_lh, "local", member(50 * MS))
    got = []

    def sender(pid: int):
        yield ops.Delay(10 * MS)
        replier, reply = yield ops.Send(GROUP, msg(1))
        got.append((replier, longs(reply)[:2]))

    ws1.spawn_server(ws1.system_lh, "cli", sender)
    run(session, 1)
    assert sorted(hits) == sorted([remote.pid, local.pid])
    assert got == [(remote.pid, (0xBB, remote.pid))]


# --- reply-pending, duplicates, NACK, timeouts --------------------------------------------


def test_a_slow_server_does_not_time_out_its_remote_client(session):
    ws1, ws2, _ = kernels(session)
    cost = session.config.cost
    assert cost.max_retransmits * cost.retransmit_timeout_ms < 3000  # 3 s is past the give-up time
    served, got = [], []
    srv = ws2.spawn_server(ws2.system_lh, "slow", echo_server(session, served, 0x51, delay_ns=3 * S))
    cli = ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1]))
    run(session, 5)
    assert [(s, r) for s, r, _ in served] == [(cli.pid, 1)]  # delivered once
    ((replier, reply, elapsed),) = got
    assert (replier, reply[:3]) == (srv.pid, (0x51, 1, cli.pid))
    assert 3 * S <= elapsed < 3 * S + cost.retransmit_timeout_ms * MS + 20 * MS
    t1, t2 = ws1.transport.stats, ws2.transport.stats
    assert t2.reply_pending_sent > 0
    assert t2.duplicates == t2.reply_pending_sent  # each retransmission was answered, none delivered
    assert t1.timeouts == 0 and t1.binding_invalidations == 0


def test_no_duplicates_and_no_losses_under_20_percent_frame_loss():
    session = Session(config(network__loss_rate=0.2))
    ws1, ws2, _ = kernels(session)
    n = 40
    seen = []

    def counter(pid: int):
        count = 0
        while True:
            sender, m = yield ops.Receive()
            count += 1
            seen.append(longs(m)[0])
            yield ops.Reply(sender, msg(count, longs(m)[0]))

    got = []
    srv = ws2.spawn_server(ws2.system_lh, "counter", counter)
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, list(range(n))))
    run(session, 60)
    assert seen == list(range(n))  # each request delivered exactly once, in order
    assert [(replier, reply[:2]) for replier, reply, _ in got] == [(srv.pid, (i + 1, i)) for i in range(n)]
    assert session.cluster.segment.stats()["drops"]["loss"] > 0
    assert ws1.transport.stats.retransmissions > 0
    assert ws2.transport.stats.duplicates > 0  # retransmissions reached the server and were not delivered


def test_send_to_a_missing_process_on_a_live_host_is_nacked_quickly(session):
    ws1, ws2, _ = kernels(session)
    got = []
    ghost = abi.make_pid(ws2.system_lh.lhid, 0x777)
    assert ghost not in ws2.processes
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, ghost, [1, 2]))
    run(session, 2)
    assert [(replier, reply) for replier, reply, _ in got] == [(-abi.ENOPROC, ()), (-abi.ENOPROC, ())]
    assert all(elapsed < 10 * MS for _, _, elapsed in got)
    assert ws1.transport.stats.retransmissions == 0 and ws1.transport.stats.timeouts == 0


def test_send_to_a_logical_host_nobody_has_times_out_after_the_retransmissions(session):
    ws1, _, _ = kernels(session)
    cost = session.config.cost
    got = []
    nowhere = abi.make_pid(0x7EEE, 1)
    assert all(0x7EEE not in k.lhs for k in session.kernels.values())
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, nowhere, [1]))
    run(session, 5)
    ((replier, reply, elapsed),) = got
    assert (replier, reply) == (-abi.ETIMEOUT, ())
    tries = cost.max_retransmits + 1
    assert tries * cost.retransmit_timeout_ms * MS <= elapsed < (tries * cost.retransmit_timeout_ms + 20) * MS
    t1 = ws1.transport.stats
    assert t1.timeouts == 1
    assert t1.retransmissions == cost.max_retransmits
    # no binding at all: every try was a broadcast; every other kernel heard it and stayed silent
    assert t1.broadcasts == tries
    for k in session.kernels.values():
        if k is not ws1:
            assert k.transport.stats.sent == 0
            assert k.transport.stats.received == tries


def test_a_server_can_move_data_to_and_from_its_remote_client(session):
    ws1, ws2, _ = kernels(session)
    payload = bytes(range(256)) * 40  # 10 KB: several packets
    out = []

    def srv_body(pid: int):
        sender, m = yield ops.Receive()
        addr, count = longs(m)[1:3]
        data = yield ops.MoveFrom(sender, addr, count)
        out.append(data)
        err = yield ops.MoveTo(sender, addr + 0x10000, bytes(reversed(data)))
        out.append(err)
        yield ops.Reply(sender, msg(0))

    srv = ws2.spawn_server(ws2.system_lh, "srv", srv_body)

    def cli_body(pid: int):
        mem = ws1.server_memory(ws1.processes[pid])
        mem[:0] = bytes(0x20000)
        mem[0x1000 : 0x1000 + len(payload)] = payload
        replier, _ = yield ops.Send(srv.pid, msg(1, 0x1000, len(payload)))
        out.append((replier, bytes(mem[0x11000 : 0x11000 + len(payload)])))

    ws1.spawn_server(ws1.system_lh, "cli", cli_body)
    run(session, 2)
    assert out == [payload, 0, (srv.pid, bytes(reversed(payload)))]


def test_send_to_a_crashed_host_rebinds_by_broadcast_then_times_out(session):
    ws1, ws2, _ = kernels(session)
    cost = session.config.cost
    served, got = [], []
    srv = ws2.spawn_server(ws2.system_lh, "srv", echo_server(session, served, 0xE2))
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1]))
    run(session, 0.5)
    assert ws1.transport.bindings[ws2.system_lh.lhid] == ws2.transport.mac
    session.execute("crash ws2")
    before = ws1.transport.stats.broadcasts
    ws1.spawn_server(ws1.system_lh, "cli2", client(session, got, srv.pid, [2]))
    run(session, 5)
    assert [(replier, reply) for replier, reply, _ in got[1:]] == [(-abi.ETIMEOUT, ())]
    tries = cost.max_retransmits + 1
    elapsed = got[1][2]
    assert tries * cost.retransmit_timeout_ms * MS <= elapsed < (tries * cost.retransmit_timeout_ms + 20) * MS
    t1 = ws1.transport.stats
    # unicast to the stale binding, then (binding dropped) broadcast for the remaining tries
    assert t1.binding_invalidations == 1
    assert t1.broadcasts - before == tries - cost.rebind_after_retransmits
    assert ws2.system_lh.lhid not in ws1.transport.bindings
    assert [r for _, r, _ in served] == [1]


@pytest.mark.parametrize("where", ["local", "remote"])
@pytest.mark.parametrize("op", ["MoveTo", "MoveFrom"])
def test_moving_data_outside_the_client_space_is_refused_and_the_reply_still_goes(session, where, op):
    ws1, ws2, _ = kernels(session)
    server_kernel = ws1 if where == "local" else ws2
    out = []

    def srv_body(pid: int):
        sender, m = yield ops.Receive()
        beyond = (1 << 20) - 16  # the last 16 bytes of a Python process's 1 MB space, and past it
        if op == "MoveTo":
            out.append((yield ops.MoveTo(sender, beyond, bytes(64))))
            out.append((yield ops.MoveTo(sender, 0x100, b"fine")))
        else:
            out.append((yield ops.MoveFrom(sender, beyond, 64)))
            out.append((yield ops.MoveFrom(sender, 0x100, 4)))
        yield ops.Reply(sender, msg(0x0C))

    srv = server_kernel.spawn_server(server_kernel.system_lh, "srv", srv_body)

    def cli_body(pid: int):
        mem = ws1.server_memory(ws1.processes[pid])
        mem[:0x200] = bytes(0x100) + b"data" + bytes(0xFC)
        replier, reply = yield ops.Send(srv.pid, msg(1))
        out.append((replier, longs(reply)[0], bytes(mem[0x100:0x104])))

    ws1.spawn_server(ws1.system_lh, "cli", cli_body)
    run(session, 1)
    second = 0 if op == "MoveTo" else b"data"
    final = b"fine" if op == "MoveTo" else b"data"
    assert out == [-abi.EFAULT, second, (srv.pid, 0x0C, final)]


@pytest.mark.parametrize("where", ["local", "remote"])
def test_a_server_that_ends_without_replying_fails_its_client_with_ekilled(session, where):
    ws1, ws2, _ = kernels(session)
    server_kernel = ws1 if where == "local" else ws2

    def quitter(pid: int):
        yield ops.Receive()
        yield ops.Delay(5 * MS)
        return 0  # exits with the request unanswered

    srv = server_kernel.spawn_server(server_kernel.system_lh, "quitter", quitter)
    got = []
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1, 2]))
    run(session, 2)
    # the first Send is refused as its receiver dies; the second finds no such process
    assert [(replier, reply) for replier, reply, _ in got] == [(-abi.EKILLED, ()), (-abi.ENOPROC, ())]
    assert all(elapsed < 20 * MS for _, _, elapsed in got)
    assert srv.pid not in server_kernel.processes


def test_a_group_send_answered_by_a_local_member_leaves_nothing_behind(session):
    """The multicast copy of the request stops when the local member's reply completes the Send;
    before, it went on retransmitting and its ETIMEOUT ended the sender's *next* Send."""
    ws1, ws2, _ = kernels(session)
    lonely = 0x00008125

    def member(pid: int):
        yield ops.JoinGroup(lonely)
        while True:
            sender, _ = yield ops.Receive()
            yield ops.Reply(sender, msg(0xAB))

    local = ws1.spawn_server(ws1.system_lh, "member", member)
    served = []
    srv = ws2.spawn_server(ws2.system_lh, "slow", echo_server(session, served, 0x51, delay_ns=3 * S))
    got = []

    def sender(pid: int):
        yield ops.Delay(10 * MS)
        replier, reply = yield ops.Send(lonely, msg(1))
        got.append((replier, longs(reply)[0]))
        replier, reply = yield ops.Send(srv.pid, msg(2))  # outlasts the group Send's give-up time
        got.append((replier, longs(reply)[0] if reply else None))

    ws1.spawn_server(ws1.system_lh, "cli", sender)
    group_sends = []

    def tap(_t: int, frame: bytes) -> None:
        if frame[:6] == pk.group_mac(lonely):
            group_sends.append(frame)

    session.cluster.segment.add_tap(tap)
    run(session, 5)
    assert got == [(local.pid, 0xAB), (srv.pid, 0x51)]
    assert len(group_sends) == 1  # sent once, never retransmitted
    assert ws1.transport.stats.timeouts == 0
    assert ws1.transport.sends == {}


def test_a_group_member_that_declines_gets_the_request_once(session):
    """Retransmissions of a group Send (a slow member keeps it open) are duplicates for a member
    that declined (Reply with no message, as a program manager declines a host query)."""
    ws1, ws2, ws3 = kernels(session)
    group = 0x00008126
    seen = {"decliner": [], "slow": []}
    answer_after = session.config.cost.host_query_timeout_ms * MS * 3 // 4

    def decliner(pid: int):
        yield ops.JoinGroup(group)
        while True:
            sender, m = yield ops.Receive()
            seen["decliner"].append(longs(m)[0])
            yield ops.Reply(sender, None)

    def slow(pid: int):
        yield ops.JoinGroup(group)
        while True:
            sender, m = yield ops.Receive()
            seen["slow"].append(longs(m)[0])
            yield ops.Delay(answer_after)  # past a retransmission, before the group Send gives up
            yield ops.Reply(sender, msg(0x55, longs(m)[0]))

    ws2.spawn_server(ws2.system_lh, "decliner", decliner)
    answering = ws3.spawn_server(ws3.system_lh, "slow", slow)
    got = []
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, group, [1, 2]))
    run(session, 4)
    assert [(replier, reply[:2]) for replier, reply, _ in got] == [(answering.pid, (0x55, 1)),
                                                                   (answering.pid, (0x55, 2))]
    assert seen == {"decliner": [1, 2], "slow": [1, 2]}
    assert ws1.transport.stats.retransmissions >= 2  # at least one per Send
    assert ws2.transport.stats.duplicates >= 2 and ws2.transport.stats.sent == 0  # silent, as rule 19 says
