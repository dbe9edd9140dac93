"""V messages: 32 bytes, eight big-endian longs; long 0 is the request or reply code."""

from __future__ import annotations

import struct

from guest import abi


def pack(*longs: int) -> bytes:
    vals = [v & 0xFFFFFFFF for v in longs] + [0] * (8 - len(longs))
    return struct.pack(">8I", *vals[:8])


def unpack(msg: bytes) -> tuple[int, ...]:
    return struct.unpack(">8I", msg.ljust(abi.MSG_SIZE, b"\0")[: abi.MSG_SIZE])


def signed(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def error(code: int) -> bytes:
    return pack(-code)
