"""The V interkernel protocol codec: packets, Ethernet frames and group MACs (docs/PROTOCOL.md)."""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

# IEEE 802 "local experimental" ethertype 1, used here for V's interkernel protocol
ETHERTYPE_V = 0x88B5
VERSION = 1

ETH_HEADER_SIZE = 14  # dst MAC, src MAC, ethertype
MAX_FRAME = 1514  # largest Ethernet frame without FCS
MIN_FRAME = 60  # smallest Ethernet frame without FCS: shorter ones are padded by the wire
MSG_SIZE = 32  # a V message
MAX_DATA = 1024  # bytes of bulk data per packet (V moved 1 KB per packet)
MAX_TRAIN = 32  # packets a MOVE_ACK bitmap can describe (a train moves up to 32 KB)
BROADCAST_MAC = b"\xff" * 6

# Header (big-endian, like the 68010): see docs/PROTOCOL.md for the byte layout.
_HEADER = struct.Struct(">BBHIIIIiIIHBBHH")
HEADER_SIZE = _HEADER.size  # 40
MAX_PAYLOAD = HEADER_SIZE + MSG_SIZE + MAX_DATA
_ETHERTYPE_BYTES = ETHERTYPE_V.to_bytes(2, "big")
_CRC_AT = 4  # the checksum is bytes 4..7 of the payload
_ZERO_CRC = b"\0\0\0\0"


class Kind(enum.IntEnum):
    """What a packet is; the numbers are on the wire."""

    SEND = 1  # a request: 32-byte message (+ segment data), src_pid -> dst_pid (or a group)
    REPLY = 2  # the reply message (+ optional data)
    REPLY_PENDING = 3  # "still working on it / queued": resets the sender's retransmission count
    NACK = 4  # no such process (error code in `status`)
    FORWARDED = 5  # the request of src_pid was forwarded: its sender should now await dst_pid
    MOVE_DATA = 6  # bulk data of a MoveTo or a MoveFrom reply; LAST_OF_TRAIN asks for an ack
    MOVE_ACK = 7  # ack of a train: offset = first byte missing, total = bitmap of the train
    MOVEFROM_REQ = 8  # ask the other kernel for (address `offset`, count `total`) as MOVE_DATA
    LH_QUERY = 9  # broadcast: where is logical host `lhid`?
    LH_HERE = 10  # answer / unsolicited broadcast: logical host `lhid` is at the sender's station
    MOVE_ABORT = 11  # the transfer failed (error code in `status`)
    MIGRATE = 12  # migration control between kernels (subtype in `status`; data opaque)
    LOAD = 13  # a program manager's load report, multicast to its group (vkernel/gossip.py)


class Flag(enum.IntFlag):
    """Bits of `Packet.flags` (u16); the bits not named here are sent as 0 and ignored."""

    LAST_OF_TRAIN = 0x0001  # MOVE_DATA: the last packet of a train, the receiver answers MOVE_ACK
    IS_RETRANSMISSION = 0x0002  # this packet was sent before (SEND, MOVEFROM_REQ, MOVE_DATA, ...)
    GROUP = 0x0004  # dst_pid is a process group id (the frame went to group_mac or broadcast)
    SEGMENT = 0x0008  # SEND/REPLY: `data` is segment data at address `offset` (`total` = size)
    # REPLY to a request sent to a well-known group, multicast to that group so that the other
    # members overhear it and keep their own answers back
    GROUP_REPLY = 0x0010


LAST_OF_TRAIN = Flag.LAST_OF_TRAIN
IS_RETRANSMISSION = Flag.IS_RETRANSMISSION
GROUP = Flag.GROUP
SEGMENT = Flag.SEGMENT
GROUP_REPLY = Flag.GROUP_REPLY

_KINDS: tuple[Kind | None, ...] = tuple(
    Kind(k) if k in Kind._value2member_map_ else None for k in range(256)
)


class PacketError(ValueError):
    """A payload or frame that is not a valid V packet; `reason` is short and stable, for counters."""

    reason: str

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# The reasons decode/parse_frame give, in the order they are checked.
REASONS = (
    "not-v",  # parse_frame: the ethertype is not ETHERTYPE_V (or the frame is shorter than 14 bytes)
    "short",  # fewer bytes than a header
    "bad-version",  # version byte != VERSION
    "bad-msg",  # msg length not 0 or 32
    "data-too-long",  # data length > MAX_DATA
    "bad-length",  # header + msg + data != the payload's length (for frames: > what is there)
    "bad-checksum",  # the CRC-32 does not match
    "unknown-kind",  # kind byte not a Kind
)


@dataclass(frozen=True, slots=True)
class Packet:
    """One interkernel packet; which fields mean what for each kind is in docs/PROTOCOL.md."""

    kind: Kind
    seq: int  # transaction id (u32), per sending kernel; answers echo it
    src_pid: int  # u32
    dst_pid: int  # u32
    flags: int = 0  # u16, Flag bits
    status: int = 0  # i32: error codes, subtypes
    offset: int = 0  # u32: bulk offset / address
    total: int = 0  # u32: bulk total length / count / ack bitmap
    lhid: int = 0  # u16: LH_QUERY/LH_HERE subject; else the sender's logical host (0: none)
    msg: bytes = b""  # empty or exactly 32 bytes
    data: bytes = b""  # bulk data, up to MAX_DATA


def encode(p: Packet) -> bytes:
    """The Ethernet payload of `p` (what follows the 14-byte Ethernet header); ValueError if invalid."""
    msg = p.msg
    data = p.data
    msg_len = len(msg)
    data_len = len(data)
    if msg_len != 0 and msg_len != MSG_SIZE:
        raise ValueError(f"msg must be 0 or {MSG_SIZE} bytes, not {msg_len}")
    if data_len > MAX_DATA:
        raise ValueError(f"data must be at most {MAX_DATA} bytes, not {data_len}")
    kind = p.kind
    if not 0 <= kind < 256 or _KINDS[kind] is None:
        raise ValueError(f"unknown kind {kind!r}")
    try:
        header = _HEADER.pack(
            VERSION, kind, p.flags, 0, p.seq, p.src_pid, p.dst_pid,
            p.status, p.offset, p.total, p.lhid, msg_len, 0, data_len, 0,
        )  # fmt: skip
    except struct.error as e:
        raise ValueError(f"field out of range in {p!r}: {e}") from None
    crc = zlib.crc32(data, zlib.crc32(msg, zlib.crc32(header)))
    return b"".join((header[:_CRC_AT], crc.to_bytes(4, "big"), header[_CRC_AT + 4 :], msg, data))


def _decode(buf: bytes, start: int, exact: bool) -> Packet:
    avail = len(buf) - start
    if avail < HEADER_SIZE:
        raise PacketError("short", f"{avail} bytes, header is {HEADER_SIZE}")
    (version, kind, flags, crc, seq, src, dst, status, offset, total, lhid,
     msg_len, _r1, data_len, _r2) = _HEADER.unpack_from(buf, start)  # fmt: skip
    if version != VERSION:
        raise PacketError("bad-version", f"version {version}")
    if msg_len != 0 and msg_len != MSG_SIZE:
        raise PacketError("bad-msg", f"msg length {msg_len}")
    if data_len > MAX_DATA:
        raise PacketError("data-too-long", f"data length {data_len}")
    msg_at = start + HEADER_SIZE
    data_at = msg_at + msg_len
    end = data_at + data_len
    length = end - start
    if length > avail or (exact and length != avail):
        raise PacketError("bad-length", f"header says {length} bytes, payload has {avail}")
    c = zlib.crc32(
        buf[start + _CRC_AT + 4 : end], zlib.crc32(buf[start : start + _CRC_AT] + _ZERO_CRC)
    )
    if c != crc:
        raise PacketError("bad-checksum", f"crc {crc:#010x}, computed {c:#010x}")
    k = _KINDS[kind]
    if k is None:
        raise PacketError("unknown-kind", f"kind {kind}")
    return Packet(
        k, seq, src, dst, flags, status, offset, total, lhid,
        buf[msg_at:data_at] if msg_len else b"",
        buf[data_at:end] if data_len else b"",
    )  # fmt: skip


def decode(payload: bytes) -> Packet:
    """The packet in an Ethernet payload of exactly its length; PacketError (with .reason) if bad."""
    return _decode(bytes(payload), 0, True)


def frame(dst_mac: bytes, src_mac: bytes, p: Packet) -> bytes:
    """A full Ethernet frame (no FCS, no padding: the wire pads) carrying `p`."""
    if len(dst_mac) != 6 or len(src_mac) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    return b"".join((dst_mac, src_mac, _ETHERTYPE_BYTES, encode(p)))


def parse_frame(frame: bytes) -> tuple[bytes, bytes, Packet]:
    """(dst MAC, src MAC, packet) of an Ethernet frame; bytes after the payload (padding) are ignored."""
    frame = bytes(frame)
    if len(frame) < ETH_HEADER_SIZE or frame[12:14] != _ETHERTYPE_BYTES:
        raise PacketError("not-v", "not a V interkernel frame")
    return frame[0:6], frame[6:12], _decode(frame, ETH_HEADER_SIZE, False)


def group_mac(group_id: int) -> bytes:
    """The multicast MAC of V process group `group_id`: 03:56 then the 32-bit id (injective)."""
    if not 0 <= group_id <= 0xFFFFFFFF or not group_id & 0x8000:
        raise ValueError(f"{group_id:#x} is not a process group id")
    # 0x03: individual/group bit (multicast) and universal/local bit (locally administered) set;
    # 0x56 is 'V'.
    return b"\x03\x56" + group_id.to_bytes(4, "big")


def is_group_mac(mac: bytes) -> bool:
    """Whether `mac` is one that group_mac produces."""
    return len(mac) == 6 and mac[0] == 0x03 and mac[1] == 0x56 and bool(mac[4] & 0x80)


def ack_bitmap(first_missing: int, received: Iterable[int]) -> int:
    """MOVE_ACK's `total`: bit i is set iff the packet at first_missing + i*MAX_DATA was received.

    `received` holds the transfer offsets of the packets received; offsets below first_missing and
    beyond the MAX_TRAIN packets from it are left out.
    """
    bitmap = 0
    for off in received:
        i, r = divmod(off - first_missing, MAX_DATA)
        if r == 0 and 0 <= i < MAX_TRAIN:
            bitmap |= 1 << i
    return bitmap


def ack_missing(first_missing: int, bitmap: int, end: int) -> list[int]:
    """Offsets of the packets to send again after a MOVE_ACK, up to (not including) `end`.

    `end` is the transfer offset after the train just sent: every packet from first_missing to it
    whose bit is clear is missing (beyond MAX_TRAIN packets the bitmap says nothing: missing).
    """
    out = []
    for i, off in enumerate(range(first_missing, end, MAX_DATA)):
        if i >= MAX_TRAIN or not bitmap >> i & 1:
            out.append(off)
    return out


def ack_has(first_missing: int, bitmap: int, offset: int) -> bool:
    """Whether a MOVE_ACK of (first_missing, bitmap) says the packet at `offset` was received."""
    if offset < first_missing:
        return True
    i, r = divmod(offset - first_missing, MAX_DATA)
    return r == 0 and i < MAX_TRAIN and bool(bitmap >> i & 1)


def resume_data(first_missing: int, bitmap: int) -> bytes:
    """The data of a retransmitted MOVEFROM_REQ: what a MOVE_ACK would say (first missing, bitmap)."""
    return struct.pack(">II", first_missing, bitmap)


def resume_of(data: bytes) -> tuple[int, int]:
    """(first missing, bitmap) from a MOVEFROM_REQ's data; (0, 0) when it carries none (or junk)."""
    if len(data) != 8:
        return 0, 0
    first, bitmap = struct.unpack(">II", data)
    return first, bitmap
