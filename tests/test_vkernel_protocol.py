"""The interkernel protocol on the wire: malformed frames, the binding cache, partitions, bulk data under loss.

The cluster is the tiny config; traffic comes from servers written in Python (vkernel.ops) and from
guest programs, and faults are injected on the segment itself: a rogue station sending garbage,
a poisoned binding cache, a partition, frame loss.
"""

from __future__ import annotations

import random
import struct
import zlib

import pytest
from helpers import config, echo_server, longs, msg, programs_by_name, run

from vcluster.session import Session
from vkernel import ops
from vkernel import packets as pk
from vkernel.packets import Flag, Kind, Packet

MS = 1_000_000
S = 1_000_000_000
ROGUE_MAC = bytes.fromhex("0a0000000bad")



def client(session: Session, results: list, dst: int, requests: list[int], start_ns: int = 0):
    def body(pid: int):
        if start_ns:
            yield ops.Delay(start_ns)
        for r in requests:
            start = session.sim.now
            replier, reply = yield ops.Send(dst, msg(r))
            results.append((replier, longs(reply)[:2] if reply else (), session.sim.now - start))

    return body


# --- malformed frames ---------------------------------------------------------------------


def reheader(payload: bytes, **fields: int) -> bytes:
    """Patch header bytes of a valid payload (and fix the CRC), making it malformed in one way."""
    b = bytearray(payload)
    offsets = {"version": (0, "B"), "kind": (1, "B"), "msg_len": (34, "B"), "data_len": (36, "H")}
    for name, value in fields.items():
        at, fmt = offsets[name]
        struct.pack_into(">" + fmt, b, at, value)
    b[4:8] = bytes(4)
    struct.pack_into(">I", b, 4, zlib.crc32(bytes(b)))
    return bytes(b)


def crafted_frames(target_pid: int) -> list[tuple[str, bytes]]:
    """(expected refusal reason, frame) for every reason a frame can have on the wire."""
    good = Packet(Kind.SEND, 0x5151, 0x0BAD0001, target_pid, lhid=0x0BAD, msg=msg(0x200, 1, 2))
    payload = pk.encode(good)
    eth_v = pk.BROADCAST_MAC + ROGUE_MAC + pk.ETHERTYPE_V.to_bytes(2, "big")
    bad_crc = bytearray(payload)
    bad_crc[50] ^= 0x40  # a flipped bit in the message
    with_data = pk.encode(Packet(Kind.MOVE_DATA, 1, 0x0BAD0001, target_pid, offset=0, total=600,
                                 data=bytes(range(200)) * 3))
    return [
        ("not-v", pk.BROADCAST_MAC + ROGUE_MAC + b"\x08\x00" + payload),  # an IPv4 ethertype
        ("not-v", pk.BROADCAST_MAC + ROGUE_MAC + b"\x81\x37" + b"\xff" * 60),
        ("bad-version", eth_v + reheader(payload, version=2)),
        ("bad-msg", eth_v + reheader(payload, msg_len=16)),
        ("data-too-long", eth_v + reheader(payload, data_len=2000)),
        ("bad-length", eth_v + with_data[:300]),  # truncated: the header says 40 + 600 bytes
        ("bad-checksum", eth_v + bytes(bad_crc)),
        ("bad-checksum", eth_v + with_data[:4] + b"\0\0\0\0" + with_data[8:]),
        ("unknown-kind", eth_v + reheader(payload, kind=99)),
    ]


def random_frames(n: int) -> list[bytes]:
    rng = random.Random(4)
    eth_v = pk.BROADCAST_MAC + ROGUE_MAC + pk.ETHERTYPE_V.to_bytes(2, "big")
    return [eth_v + rng.randbytes(rng.randrange(46, 1500)) for _ in range(n)]


def expected_reason(frame: bytes) -> str:
    try:
        pk.parse_frame(frame.ljust(60, b"\0"))
    except pk.PacketError as exc:
        return exc.reason
    raise AssertionError("a random frame was a valid packet")


def test_malformed_frames_are_refused_and_counted_while_programs_run():
    session = Session(config())
    ws2 = session.kernels["ws2"]
    segment = session.cluster.segment
    rogue = segment.attach(ROGUE_MAC, "rogue")
    crafted = crafted_frames(ws2.program_manager.pid)
    rnd = random_frames(60)
    frames = [f for _, f in crafted] + rnd
    # spread them over the first half second, in the middle of program loading and IPC
    for i, frame in enumerate(frames * 2):
        session.sim.at(i * 4 * MS, lambda frame=frame: rogue.send(frame))
    for line in ["hello", "echo across the wire @ ws2", "primes 2000 @ ws3", "files write f.txt rogue-proof @ ws2"]:
        session.execute(line)
    assert session.run_until_done(60)
    assert session.sim.now < len(frames) * 2 * 4 * MS  # the programs ran while the garbage came
    run(session, 1)  # the rest of it
    progs = programs_by_name(session.summary())
    assert progs["hello"]["output"] == "Hello from the V-System!\n"
    assert progs["echo"]["output"] == "across the wire\n"
    assert progs["primes"]["output"] == "primes <= 2000: 303\n"
    assert progs["files"]["output"] == "files: wrote 12 bytes to f.txt\n"
    assert all(p["exit_status"] == 0 for p in progs.values())
    assert session.kernels["fs1"].machine.filesystem.read("f.txt", 0, 100) == b"rogue-proof\n"
    expected: dict[str, int] = {}
    for reason, _ in crafted:
        expected[reason] = expected.get(reason, 0) + 2
    for frame in rnd:
        reason = expected_reason(frame)
        expected[reason] = expected.get(reason, 0) + 2
    assert set(expected) == set(pk.REASONS) - {"short"}  # the wire pads frames to 60 bytes: never short
    for k in session.kernels.values():  # each frame was broadcast: every kernel refused every one
        assert k.transport.stats.malformed == expected, k.name
        assert 0x0BAD not in k.transport.bindings  # nothing was learned from a refused frame
        assert k.faults == []
    assert len(session.cluster.segment.stats()["stations"]) == 5


def test_a_malformed_frame_to_one_station_is_counted_there_only():
    session = Session(config())
    ws3 = session.kernels["ws3"]
    rogue = session.cluster.segment.attach(ROGUE_MAC, "rogue")
    frame = ws3.transport.mac + ROGUE_MAC + pk.ETHERTYPE_V.to_bytes(2, "big") + b"\x07" * 80
    rogue.send(frame)
    run(session, 0.01)
    assert {k.name: k.transport.stats.malformed for k in session.kernels.values()} == {
        "ws1": {}, "ws2": {}, "ws3": {"bad-version": 1}, "fs1": {}}


# --- the binding cache --------------------------------------------------------------------


@pytest.mark.parametrize("poison", ["another-station", "no-station"])
def test_a_wrong_binding_is_invalidated_and_re_resolved_by_broadcast(poison):
    session = Session(config())
    ws1, ws2, ws3 = (session.kernels[n] for n in ("ws1", "ws2", "ws3"))
    cost = session.config.cost
    served, got = [], []
    srv = ws2.spawn_server(ws2.system_lh, "srv", echo_server(session, served, 0xEC))
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1]))
    run(session, 0.5)
    lhid = ws2.system_lh.lhid
    assert ws1.transport.bindings[lhid] == ws2.transport.mac  # learned from the reply
    wrong = ws3.transport.mac if poison == "another-station" else bytes.fromhex("080020ffffff")
    ws1.transport.bindings[lhid] = wrong
    before = ws1.transport.stats.broadcasts
    ws3_sent = ws3.transport.stats.sent
    ws1.spawn_server(ws1.system_lh, "cli2", client(session, got, srv.pid, [2]))
    run(session, 3)
    assert [r for _, r, _ in served] == [1, 2]  # delivered once each
    assert [(replier, reply) for replier, reply, _ in got] == [(srv.pid, (0xEC, 1)), (srv.pid, (0xEC, 2))]
    rto = cost.retransmit_timeout_ms * MS
    # the wrong station stayed silent for rebind_after_retransmits tries; then one broadcast found it
    elapsed = got[1][2]
    assert cost.rebind_after_retransmits * rto <= elapsed < (cost.rebind_after_retransmits * rto + 20 * MS)
    t1 = ws1.transport.stats
    assert t1.binding_invalidations == 1
    assert t1.broadcasts == before + 1
    assert t1.timeouts == 0
    assert ws1.transport.bindings[lhid] == ws2.transport.mac  # re-learned
    assert ws3.transport.stats.sent == ws3_sent  # a kernel without that logical host never answers


# --- partitions ----------------------------------------------------------------------------


@pytest.mark.parametrize("server_delay_ms", [100, 1000])
def test_a_partition_during_a_remote_send_heals_and_the_request_is_delivered_once(server_delay_ms):
    session = Session(config())
    ws1, ws2 = session.kernels["ws1"], session.kernels["ws2"]
    segment = session.cluster.segment
    served, got = [], []
    srv = ws2.spawn_server(ws2.system_lh, "srv", echo_server(session, served, 0xEC, delay_ns=server_delay_ms * MS))
    ws1.spawn_server(ws1.system_lh, "cli", client(session, got, srv.pid, [1, 2]))
    t0 = session.sim.now
    # the request reaches ws2, then ws2 is cut off: its reply (or its reply-pendings) are lost
    session.sim.at(t0 + 50 * MS, lambda: segment.partition(["ws2"]))
    session.sim.at(t0 + 900 * MS, segment.heal)
    run(session, 5)
    assert [r for _, r, _ in served] == [1, 2]  # the first request delivered exactly once
    assert [(replier, reply) for replier, reply, _ in got] == [(srv.pid, (0xEC, 1)), (srv.pid, (0xEC, 2))]
    first = got[0][2]
    assert 900 * MS <= first < max(900, server_delay_ms) * MS + 300 * MS
    assert segment.stats()["drops"]["partition"] > 0
    t1, t2 = ws1.transport.stats, ws2.transport.stats
    assert t1.retransmissions >= 4 and t1.timeouts == 0
    assert t2.duplicates >= 1  # retransmissions after the heal were recognised, not delivered


def test_a_retained_reply_outlives_a_long_freeze_of_its_sender():
    """PROTOCOL.md rule 6: each retransmission restarts the retention of the reply (paper 3.1.3)."""
    session = Session(config())
    ws1, ws2, ws3 = (session.kernels[n] for n in ("ws1", "ws2", "ws3"))
    cost = session.config.cost
    served, got, other = [], [], []
    srv = ws2.spawn_server(ws2.system_lh, "srv", echo_server(session, served, 0xEC, delay_ns=50 * MS))
    lh = ws1.new_logical_host(name="frozen-client")
    ws1.spawn_server(lh, "cli", client(session, got, srv.pid, [1]))
    # other clients keep the server's kernel replying (and retaining) meanwhile
    busy = ws3.spawn_server(ws3.system_lh, "busy", client(session, other, srv.pid, list(range(100, 160)), 10 * MS))
    t0 = session.sim.now

    def freeze():
        lh.frozen = True

    def thaw():
        lh.frozen = False

    session.sim.at(t0 + 20 * MS, freeze)  # the reply will arrive while frozen: dropped (rule 16)
    freeze_ns = cost.reply_retain_ms * MS + 1500 * MS
    session.sim.at(t0 + 20 * MS + freeze_ns, thaw)
    run(session, 8)
    assert [r for s, r, _ in served if s != busy.pid][:1] == [1]
    assert [r for s, r, _ in served].count(1) == 1  # never delivered twice
    ((replier, reply, elapsed),) = got
    assert (replier, reply) == (srv.pid, (0xEC, 1))
    assert freeze_ns < elapsed < freeze_ns + 2 * cost.reply_pending_interval_ms * MS
    assert len(other) == 60
    assert ws1.transport.stats.dropped_frozen >= 1


# --- bulk data under loss -------------------------------------------------------------------


def test_bulk_move_to_256_kb_under_10_percent_loss_resends_only_what_was_lost():
    session = Session(config(network__loss_rate=0.1))
    ws1, ws2 = session.kernels["ws1"], session.kernels["ws2"]
    n = 256 * 1024
    payload = bytes((i * 7 + (i >> 10)) & 0xFF for i in range(n))
    out = []

    def srv_body(pid: int):
        sender, m = yield ops.Receive()
        out.append(("moved", (yield ops.MoveTo(sender, 0x10000, payload))))
        yield ops.Reply(sender, msg(0))

    srv = ws2.spawn_server(ws2.system_lh, "srv", srv_body)

    def cli_body(pid: int):
        replier, _ = yield ops.Send(srv.pid, msg(1))
        mem = ws1.server_memory(ws1.processes[pid])
        out.append(("reply", replier, bytes(mem[0x10000 : 0x10000 + n]) == payload))

    cli = ws1.spawn_server(ws1.system_lh, "cli", cli_body)
    on_wire = {"data": 0, "flagged": 0}
    offsets: dict[int, int] = {}

    def tap(_t: int, frame: bytes) -> None:
        _, src, p = pk.parse_frame(frame)
        if p.kind is Kind.MOVE_DATA and src == ws2.transport.mac:
            on_wire["data"] += 1
            offsets[p.offset] = offsets.get(p.offset, 0) + 1
            on_wire["flagged"] += bool(p.flags & Flag.IS_RETRANSMISSION)

    session.cluster.segment.add_tap(tap)
    run(session, 30)
    assert out == [("moved", 0), ("reply", srv.pid, True)]
    assert sorted(offsets) == list(range(0, n, 1024))  # every packet went out
    resent = on_wire["data"] - n // 1024
    lost = session.cluster.segment.stats()["drops"]["loss"]
    assert lost > 0 and resent > 0
    # selective: every packet sent again answers a frame the wire lost (a data packet, or an ack
    # whose loss made the sender probe with the train's last packet); far from a full resend
    assert resent <= lost
    assert resent < n // 1024 // 4
    # and counted: in the sender's stats and in the packets' flags
    assert ws2.transport.stats.retransmissions == resent
    assert on_wire["flagged"] == resent
    assert cli.pid not in ws1.processes  # the client is done
