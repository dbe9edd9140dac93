"""pcap capture files of the simulated wire (LINKTYPE_ETHERNET, virtual-time stamps).

Files use the nanosecond-resolution pcap format (magic ``0xa1b23c4d``, little
endian, version 2.4), which tshark, Wireshark and libpcap read; timestamps are
the simulator's virtual time, so a capture starts at 1970-01-01 00:00:00.
Frames are stored without their FCS, as captures usually are.

Use: ``segment.add_tap(writer.write)``.
"""

from __future__ import annotations

import logging
import os
import struct
from types import TracebackType
from typing import BinaryIO

__all__ = ["LINKTYPE_ETHERNET", "PcapWriter", "read_pcap"]

log = logging.getLogger(__name__)

LINKTYPE_ETHERNET = 1
MAGIC_NS = 0xA1B23C4D
MAGIC_US = 0xA1B2C3D4
SNAPLEN = 65535

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Write frames to a pcap file.  ``write(time_ns, frame)`` fits ``Segment.add_tap``."""

    def __init__(self, path: str | os.PathLike[str] | BinaryIO, snaplen: int = SNAPLEN) -> None:
        if isinstance(path, str | os.PathLike):
            self._f: BinaryIO = open(path, "wb")  # closed by close()
            self._owns = True
            self.path: str | None = os.fspath(path)
        else:
            self._f = path
            self._owns = False
            self.path = None
        self.snaplen = snaplen
        self.frames = 0
        self.closed = False
        self._last = 0
        self._f.write(_GLOBAL.pack(MAGIC_NS, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))

    def write(self, time_ns: int, frame: bytes) -> None:
        """Append one frame captured at virtual time ``time_ns``."""
        if self.closed:
            raise ValueError("write to a closed PcapWriter")
        if time_ns < 0:
            raise ValueError(f"negative timestamp {time_ns}")
        if time_ns < self._last:
            log.warning("pcap timestamps going backwards: %d after %d", time_ns, self._last)
        self._last = time_ns
        data = bytes(frame[: self.snaplen])
        sec, nsec = divmod(time_ns, 1_000_000_000)
        self._f.write(_RECORD.pack(sec, nsec, len(data), len(frame)))
        self._f.write(data)
        self.frames += 1

    def flush(self) -> None:
        """Push buffered records to the file."""
        self._f.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        if self.closed:
            return
        self.closed = True
        self._f.flush()
        if self._owns:
            self._f.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_pcap(path: str | os.PathLike[str]) -> list[tuple[int, bytes]]:
    """Read a pcap file (either byte order, usec or nsec stamps) written for
    LINKTYPE_ETHERNET; returns ``[(time_ns, frame), ...]``."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _GLOBAL.size:
        raise ValueError("truncated pcap global header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", data, 0)
        if magic in (MAGIC_NS, MAGIC_US):
            break
    else:
        raise ValueError(f"not a pcap file (magic {data[:4].hex()})")
    scale = 1 if magic == MAGIC_NS else 1000
    _, major, _minor, _zone, _sig, _snap, linktype = struct.unpack_from(endian + "IHHiIII", data, 0)
    if major != 2:
        raise ValueError(f"unsupported pcap version {major}")
    if linktype != LINKTYPE_ETHERNET:
        raise ValueError(f"link type {linktype} is not Ethernet")
    rec = struct.Struct(endian + "IIII")
    out: list[tuple[int, bytes]] = []
    off = _GLOBAL.size
    while off < len(data):
        if off + rec.size > len(data):
            raise ValueError(f"truncated record header at offset {off}")
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += rec.size
        if off + incl > len(data):
            raise ValueError(f"truncated record at offset {off}")
        out.append((sec * 1_000_000_000 + frac * scale, data[off : off + incl]))
        off += incl
    return out
