"""Ethernet frame constants and helpers: addresses, sizes, bit times on the wire."""

from __future__ import annotations

__all__ = [
    "BACKOFF_LIMIT",
    "BROADCAST",
    "FCS",
    "HEADER",
    "IFG_BITS",
    "IFG_PART2_BITS",
    "JAM_BITS",
    "MAX_FRAME",
    "MIN_FRAME",
    "PREAMBLE",
    "SLOT_BITS",
    "is_multicast",
    "wire_time_ns",
]

BROADCAST = b"\xff" * 6
HEADER = 14  # dst(6) src(6) ethertype(2)
MIN_FRAME = 60  # without FCS; 64 with it
MAX_FRAME = 1514  # without FCS; 1518 with it
FCS = 4
PREAMBLE = 8  # preamble + start frame delimiter
IFG_BITS = 96  # inter-frame gap, 9.6 us at 10 Mb/s
IFG_PART2_BITS = 32  # carrier seen in the last third of the gap is ignored
JAM_BITS = 32
SLOT_BITS = 512  # 51.2 us
BACKOFF_LIMIT = 10  # the backoff range stops doubling after this many collisions


def is_multicast(mac: bytes) -> bool:
    """True for group addresses (low bit of the first octet), broadcast included."""
    return bool(mac[0] & 1)


def wire_time_ns(frame_len: int, bitrate: int = 10_000_000) -> int:
    """Time a frame of ``frame_len`` bytes (without FCS) holds the wire, preamble included."""
    nbytes = PREAMBLE + max(frame_len, MIN_FRAME) + FCS
    return nbytes * 8 * 1_000_000_000 // bitrate
