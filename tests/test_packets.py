"""Tests of the interkernel packet codec (vkernel/packets.py, docs/PROTOCOL.md)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import abi
from vkernel import packets as P
from vkernel.packets import Kind, Packet, PacketError

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
I32 = st.integers(-(2**31), 2**31 - 1)
MSGS = st.one_of(st.just(b""), st.binary(min_size=32, max_size=32))
DATA = st.one_of(st.just(b""), st.binary(max_size=P.MAX_DATA), st.just(bytes(P.MAX_DATA)))
MAC = st.binary(min_size=6, max_size=6)


def packets(kind: st.SearchStrategy[Kind] | None = None) -> st.SearchStrategy[Packet]:
    return st.builds(
        Packet,
        kind=kind if kind is not None else st.sampled_from(Kind),
        seq=U32,
        src_pid=U32,
        dst_pid=U32,
        flags=U16,
        status=I32,
        offset=U32,
        total=U32,
        lhid=U16,
        msg=MSGS,
        data=DATA,
    )


def reseal(payload: bytes | bytearray) -> bytes:
    """The payload with its CRC recomputed (to craft bad fields behind a good checksum)."""
    b = bytearray(payload)
    b[4:8] = b"\0\0\0\0"
    b[4:8] = zlib.crc32(b).to_bytes(4, "big")
    return bytes(b)


def reason(fn, *args) -> str:
    with pytest.raises(PacketError) as e:
        fn(*args)
    assert isinstance(e.value, ValueError)
    assert e.value.reason in P.REASONS
    return e.value.reason


SAMPLE = Packet(
    Kind.SEND,
    seq=7,
    src_pid=abi.make_pid(3, 5),
    dst_pid=abi.make_pid(4, 9),
    lhid=3,
    msg=bytes(range(32)),
    data=b"appended segment",
)


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
@given(data=st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_every_kind(kind: Kind, data: st.DataObject) -> None:
    p = data.draw(packets(st.just(kind)))
    payload = P.encode(p)
    assert len(payload) == P.HEADER_SIZE + len(p.msg) + len(p.data)
    q = P.decode(payload)
    assert q == p
    assert type(q.kind) is Kind and type(q.msg) is bytes and type(q.data) is bytes
    assert P.encode(q) == payload


@given(p=packets(), dst=MAC, src=MAC)
def test_frame_round_trip(p: Packet, dst: bytes, src: bytes) -> None:
    f = P.frame(dst, src, p)
    assert len(f) <= P.MAX_FRAME
    assert f[12:14] == b"\x88\xb5"
    assert f[14:] == P.encode(p)
    assert P.parse_frame(f) == (dst, src, p)


def test_kinds_and_flags_are_the_documented_numbers() -> None:
    assert P.ETHERTYPE_V == 0x88B5 and P.VERSION == 1 and P.MAX_DATA == 1024
    assert [k.value for k in Kind] == list(range(1, 14))
    assert {f.name: f.value for f in P.Flag} == {
        "LAST_OF_TRAIN": 1,
        "IS_RETRANSMISSION": 2,
        "GROUP": 4,
        "SEGMENT": 8,
        "GROUP_REPLY": 16,
    }


def test_header_layout_byte_by_byte() -> None:
    """Pins the layout documented in docs/PROTOCOL.md."""
    p = Packet(
        Kind.MOVE_DATA,
        seq=0x11223344,
        src_pid=0x00030005,
        dst_pid=0x00048002,
        flags=0x0003,
        status=-2,
        offset=0x00001400,
        total=0x00008000,
        lhid=0x0003,
        msg=b"M" * 32,
        data=b"DATA",
    )
    b = P.encode(p)
    assert P.HEADER_SIZE == 40
    assert b[0] == 1  # version
    assert b[1] == 6  # kind
    assert b[2:4] == b"\x00\x03"  # flags
    crc = int.from_bytes(b[4:8], "big")
    assert crc == zlib.crc32(b[:4] + b"\0\0\0\0" + b[8:])  # CRC-32 with its field zeroed
    assert b[8:12] == bytes.fromhex("11223344")  # seq
    assert b[12:16] == bytes.fromhex("00030005")  # src_pid
    assert b[16:20] == bytes.fromhex("00048002")  # dst_pid
    assert b[20:24] == bytes.fromhex("fffffffe")  # status, two's complement
    assert b[24:28] == bytes.fromhex("00001400")  # offset
    assert b[28:32] == bytes.fromhex("00008000")  # total
    assert b[32:34] == bytes.fromhex("0003")  # lhid
    assert b[34] == 32  # msg length
    assert b[35] == 0  # reserved
    assert b[36:38] == bytes.fromhex("0004")  # data length
    assert b[38:40] == b"\0\0"  # reserved
    assert b[40:72] == b"M" * 32 and b[72:] == b"DATA"


def test_largest_frame_fits_ethernet() -> None:
    p = Packet(Kind.MOVE_DATA, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, msg=bytes(32), data=bytes(1024))
    f = P.frame(P.BROADCAST_MAC, b"\x02" * 6, p)
    assert len(f) == P.ETH_HEADER_SIZE + P.MAX_PAYLOAD == 1110 <= P.MAX_FRAME == 1514


# -- Ethernet padding ---------------------------------------------------------------------------


@given(p=packets(), pad=st.binary(max_size=64))
def test_frames_with_padding_decode(p: Packet, pad: bytes) -> None:
    f = P.frame(b"\x02\0\0\0\0\1", b"\x02\0\0\0\0\2", p)
    assert P.parse_frame(f + pad)[2] == p
    assert P.parse_frame(bytearray(f + pad))[2] == p


def test_minimum_frame_padding() -> None:
    p = Packet(Kind.LH_QUERY, 1, 0x00010001, 0, lhid=9)
    f = P.frame(P.BROADCAST_MAC, b"\x02\0\0\0\0\2", p)
    assert len(f) == 54 < P.MIN_FRAME
    padded = f + bytes(P.MIN_FRAME - len(f))  # what the wire delivers
    assert P.parse_frame(padded) == (P.BROADCAST_MAC, b"\x02\0\0\0\0\2", p)
    assert P.parse_frame(padded + b"FCS!")[2] == p  # a trailing FCS is tolerated too


def test_decode_of_a_bare_payload_is_exact() -> None:
    payload = P.encode(SAMPLE)
    assert reason(P.decode, payload + b"\0") == "bad-length"
    assert P.decode(bytearray(payload)) == SAMPLE
    assert P.decode(memoryview(payload)) == SAMPLE


# -- every PacketError reason -------------------------------------------------------------------


def test_reason_not_v() -> None:
    f = P.frame(b"\1" * 6, b"\2" * 6, SAMPLE)
    assert reason(P.parse_frame, f[:12] + b"\x08\x00" + f[14:]) == "not-v"  # IPv4
    assert reason(P.parse_frame, f[:13]) == "not-v"
    assert reason(P.parse_frame, b"") == "not-v"


def test_reason_short() -> None:
    payload = P.encode(SAMPLE)
    assert reason(P.decode, b"") == "short"
    assert reason(P.decode, payload[: P.HEADER_SIZE - 1]) == "short"
    f = P.frame(b"\1" * 6, b"\2" * 6, SAMPLE)
    assert reason(P.parse_frame, f[:14]) == "short"
    assert reason(P.parse_frame, f[: 14 + P.HEADER_SIZE - 1]) == "short"


def test_reason_bad_version() -> None:
    b = bytearray(P.encode(SAMPLE))
    for v in (0, 2, 255):
        b[0] = v
        assert reason(P.decode, reseal(b)) == "bad-version"


def test_reason_bad_msg() -> None:
    b = bytearray(P.encode(SAMPLE))
    for n in (1, 16, 31, 33, 255):
        b[34] = n
        assert reason(P.decode, reseal(b)) == "bad-msg"


def test_reason_data_too_long() -> None:
    p = Packet(Kind.MOVE_DATA, 1, 2, 3, data=bytes(P.MAX_DATA))
    b = bytearray(P.encode(p) + b"x")
    b[36:38] = (P.MAX_DATA + 1).to_bytes(2, "big")
    assert reason(P.decode, reseal(b)) == "data-too-long"
    b[36:38] = b"\xff\xff"
    assert reason(P.decode, reseal(b)) == "data-too-long"


def test_reason_bad_length() -> None:
    payload = P.encode(SAMPLE)
    assert reason(P.decode, payload[:-1]) == "bad-length"  # data cut short
    assert reason(P.decode, payload[: P.HEADER_SIZE + 10]) == "bad-length"  # msg cut short
    assert reason(P.decode, payload + b"\0") == "bad-length"  # decode() is exact
    f = P.frame(b"\1" * 6, b"\2" * 6, SAMPLE)
    assert reason(P.parse_frame, f[:-1]) == "bad-length"
    b = bytearray(payload)
    b[36:38] = (len(SAMPLE.data) + 1).to_bytes(2, "big")  # claims one byte more than is there
    assert reason(P.decode, reseal(b)) == "bad-length"
    b = bytearray(P.encode(Packet(Kind.REPLY, 1, 2, 3)))
    b[34] = 32  # claims a message that is not there
    assert reason(P.decode, reseal(b)) == "bad-length"


def test_reason_bad_checksum() -> None:
    payload = P.encode(SAMPLE)
    for i in range(len(payload)):
        if i in (0, 34, 36, 37):  # version and lengths are checked before the CRC
            continue
        b = bytearray(payload)
        b[i] ^= 0x01
        assert reason(P.decode, bytes(b)) == "bad-checksum", i
    f = bytearray(P.frame(b"\1" * 6, b"\2" * 6, SAMPLE))
    f[-1] ^= 0x80
    assert reason(P.parse_frame, bytes(f)) == "bad-checksum"


def test_reason_unknown_kind() -> None:
    b = bytearray(P.encode(SAMPLE))
    for k in (0, 14, 200, 255):
        b[1] = k
        assert reason(P.decode, reseal(b)) == "unknown-kind"
        assert reason(P.parse_frame, b"\1" * 6 + b"\2" * 6 + b"\x88\xb5" + reseal(b)) == (
            "unknown-kind"
        )


def test_error_carries_reason_and_detail() -> None:
    e = PacketError("bad-checksum", "crc 0x1")
    assert e.reason == "bad-checksum" and str(e) == "bad-checksum: crc 0x1"
    assert PacketError("short").reason == "short" and str(PacketError("short")) == "short"


# -- fuzz ---------------------------------------------------------------------------------------


@given(st.binary(max_size=1200))
def test_random_payloads_only_raise_packet_error(b: bytes) -> None:
    try:
        p = P.decode(b)
    except PacketError as e:
        assert e.reason in P.REASONS
    else:
        assert P.decode(P.encode(p)) == p


@given(st.binary(max_size=1200))
def test_random_frames_only_raise_packet_error(b: bytes) -> None:
    for f in (b, b[:12] + b"\x88\xb5" + b[14:]):
        try:
            P.parse_frame(f)
        except PacketError as e:
            assert e.reason in P.REASONS


@given(
    p=packets(),
    edits=st.lists(st.tuples(st.integers(0, P.MAX_PAYLOAD), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, P.MAX_PAYLOAD + 8),
    seal=st.booleans(),
)
def test_mutated_packets_decode_or_raise_packet_error(
    p: Packet, edits: list[tuple[int, int]], cut: int, seal: bool
) -> None:
    b = bytearray(P.encode(p))
    for i, v in edits:
        if i < len(b):
            b[i] = v
    b = b[:cut] if cut < len(b) else b
    raw = reseal(b) if seal and len(b) >= 8 else bytes(b)
    try:
        q = P.decode(raw)
    except PacketError as e:
        assert e.reason in P.REASONS
    else:
        assert P.decode(P.encode(q)) == q
        if not seal:  # a bad edit that passes the CRC would be a CRC-32 collision
            assert q == p


# -- encode refuses what decode would refuse ---------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        Packet(Kind.SEND, 1, 2, 3, msg=bytes(31)),
        Packet(Kind.SEND, 1, 2, 3, msg=bytes(33)),
        Packet(Kind.MOVE_DATA, 1, 2, 3, data=bytes(P.MAX_DATA + 1)),
        Packet(Kind.SEND, -1, 2, 3),
        Packet(Kind.SEND, 2**32, 2, 3),
        Packet(Kind.SEND, 1, 2**32, 3),
        Packet(Kind.SEND, 1, 2, -1),
        Packet(Kind.SEND, 1, 2, 3, flags=0x10000),
        Packet(Kind.NACK, 1, 2, 3, status=2**31),
        Packet(Kind.NACK, 1, 2, 3, status=-(2**31) - 1),
        Packet(Kind.MOVE_DATA, 1, 2, 3, offset=-1),
        Packet(Kind.MOVE_DATA, 1, 2, 3, total=2**32),
        Packet(Kind.LH_HERE, 1, 2, 3, lhid=0x10000),
        Packet(0, 1, 2, 3),  # type: ignore[arg-type]
        Packet(14, 1, 2, 3),  # type: ignore[arg-type]
        Packet(256 + 1, 1, 2, 3),  # type: ignore[arg-type]
    ],
)
def test_encode_rejects_invalid_packets(bad: Packet) -> None:
    with pytest.raises(ValueError):
        P.encode(bad)
    with pytest.raises(ValueError):
        P.frame(b"\1" * 6, b"\2" * 6, bad)


def test_frame_rejects_bad_macs() -> None:
    with pytest.raises(ValueError):
        P.frame(b"\1" * 5, b"\2" * 6, SAMPLE)
    with pytest.raises(ValueError):
        P.frame(b"\1" * 6, b"\2" * 7, SAMPLE)


def test_packet_is_frozen() -> None:
    with pytest.raises(AttributeError):
        SAMPLE.seq = 8  # type: ignore[misc]


# -- group MACs ---------------------------------------------------------------------------------


def test_group_mac_well_known_groups() -> None:
    m = P.group_mac(abi.PROGRAM_MANAGER_GROUP)
    assert m == bytes.fromhex("035600008001")
    assert m[0] & 0x01 and m[0] & 0x02  # multicast, locally administered
    assert P.is_group_mac(m) and not P.is_group_mac(P.BROADCAST_MAC)
    assert P.group_mac(abi.make_pid(7, abi.LOCAL_KERNEL_SERVER)) == bytes.fromhex("035600078002")


@given(a=U32.filter(abi.is_group), b=U32.filter(abi.is_group))
def test_group_mac_is_deterministic_multicast_and_injective(a: int, b: int) -> None:
    ma = P.group_mac(a)
    assert len(ma) == 6 and ma == P.group_mac(a)
    assert ma[0] & 0x01 == 0x01 and ma[0] & 0x02 == 0x02
    assert ma != P.BROADCAST_MAC and P.is_group_mac(ma)
    assert (ma == P.group_mac(b)) == (a == b)


@pytest.mark.parametrize("bad", [0, abi.make_pid(1, 5), -0x8000, 2**32 | 0x8000])
def test_group_mac_rejects_non_groups(bad: int) -> None:
    with pytest.raises(ValueError):
        P.group_mac(bad)


# -- MOVE_ACK bitmaps ---------------------------------------------------------------------------


@given(
    start=st.integers(0, 64).map(lambda i: i * P.MAX_DATA),
    n=st.integers(1, P.MAX_TRAIN + 8),
    lost=st.sets(st.integers(0, P.MAX_TRAIN + 8)),
)
def test_ack_bitmap_and_missing(start: int, n: int, lost: set[int]) -> None:
    """A train of n packets from `start`; the receiver got all but `lost` (indices)."""
    offsets = [start + i * P.MAX_DATA for i in range(n)]
    got = [o for i, o in enumerate(offsets) if i not in lost]
    missing = [o for i, o in enumerate(offsets) if i in lost]
    first_missing = missing[0] if missing else start + n * P.MAX_DATA
    bitmap = P.ack_bitmap(first_missing, got)
    assert 0 <= bitmap < 2**P.MAX_TRAIN and not bitmap & 1
    ack = P.decode(P.encode(Packet(Kind.MOVE_ACK, 1, 2, 3, offset=first_missing, total=bitmap)))
    resend = P.ack_missing(ack.offset, ack.total, start + n * P.MAX_DATA)
    assert set(missing) <= set(resend)  # everything lost is sent again
    # and nothing the bitmap covers that arrived is sent again
    covered = {first_missing + i * P.MAX_DATA for i in range(P.MAX_TRAIN)}
    assert not set(resend) & set(got) & covered


def test_ack_missing_examples() -> None:
    k = P.MAX_DATA
    assert P.ack_missing(4 * k, 0b1010, 8 * k) == [4 * k, 6 * k]
    assert P.ack_missing(8 * k, 0, 8 * k) == []  # all received
    assert P.ack_bitmap(2 * k, [0, k, 3 * k, 5 * k, 5 * k + 1]) == 0b1010
