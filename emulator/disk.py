"""The file server's disk: a block device (1 KB blocks) on an image file or in memory, with a 1985 timing model."""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import TracebackType

SECTOR_SIZE = 512
"""Bytes per hardware sector; a block is a whole number of sectors (1 KB = 2 sectors)."""

DEFAULT_BLOCK_SIZE = 1024
"""The unit of every transfer: 1 KB, like the 4.2BSD/Sun fragment and the V file server's page."""

# Service-time model: a representative 1985 Winchester drive on an SMD/ESDI-class controller
# (3600 rpm; an average seek of ~22 ms). See docs/DISK_FORMAT.md, "Timing model".
AVG_SEEK_NS = 21_666_667
"""Average seek time (one third of a full stroke)."""
ROTATION_NS = 16_666_667
"""One revolution at 3600 rpm."""
AVG_ROTATIONAL_LATENCY_NS = ROTATION_NS // 2
"""Half a revolution: 8.33 ms; with the average seek, 30 ms to position the head."""
TRANSFER_BYTES_PER_S = 1_000_000
"""Sustained media transfer rate: 1 MB/s, so 1.024 ms per 1 KB block."""


class Disk:
    """A block device: `nblocks` blocks of `block_size` bytes, numbered from 0.

    With `path` the blocks live in an image file (read and written through, no
    cache); the file is created with `size_bytes` (sparse, reads as zeros) if it
    does not exist (`created` is then true, as for a disk in memory: a blank disk,
    nothing on it to lose). Without `path` they live in a bytearray. Counters `reads`,
    `writes` (blocks), `bytes_read`, `bytes_written` and `busy_ns` (modelled
    service time of every access so far) let the file server account for cost.
    """

    def __init__(
        self,
        size_bytes: int | None,
        path: str | os.PathLike[str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        *,
        seek_ns: int = AVG_SEEK_NS,
        rotational_latency_ns: int = AVG_ROTATIONAL_LATENCY_NS,
        transfer_bytes_per_s: int = TRANSFER_BYTES_PER_S,
    ) -> None:
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, int)
            or block_size < SECTOR_SIZE
            or block_size & (block_size - 1)
        ):
            raise ValueError(
                f"block size must be a power of two of at least {SECTOR_SIZE} bytes, got {block_size!r}"
            )
        if transfer_bytes_per_s <= 0 or seek_ns < 0 or rotational_latency_ns < 0:
            raise ValueError("timing parameters must be non-negative (transfer rate positive)")
        self.block_size = block_size
        self.seek_ns = seek_ns
        self.rotational_latency_ns = rotational_latency_ns
        self.transfer_bytes_per_s = transfer_bytes_per_s
        self.path: Path | None = Path(path) if path is not None else None
        self._fio: io.FileIO | None = None  # the open image, unbuffered, when path is given
        self._mem: bytearray | None = None
        self._closed = False
        self.created = self.path is None or not self.path.exists()  # blank: nothing on it to lose

        if self.path is not None and self.path.exists():
            actual = self.path.stat().st_size
            if size_bytes is None:
                size_bytes = actual
            elif actual != size_bytes:
                raise ValueError(
                    f"disk image {self.path} is {actual} bytes but a {size_bytes}-byte disk was asked for"
                )
            self._check_size(size_bytes)
            self._fio = open(self.path, "r+b", buffering=0)  # lives until close()
        else:
            if size_bytes is None:
                where = f"image {self.path} does not exist" if self.path else "no image path given"
                raise ValueError(f"disk size required: {where}")
            self._check_size(size_bytes)
            if self.path is None:
                self._mem = bytearray(size_bytes)
            else:
                self._fio = open(self.path, "w+b", buffering=0)
                self._fio.truncate(size_bytes)  # sparse: reads as zeros
        self.size_bytes: int = size_bytes
        self.nblocks: int = size_bytes // block_size

        self.reads = 0
        self.writes = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.busy_ns = 0
        self.next_block: int | None = None  # the block under the head after the last access

    def _check_size(self, size_bytes: int) -> None:
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
            raise ValueError(f"disk size must be a positive number of bytes, got {size_bytes!r}")
        if size_bytes % self.block_size:
            raise ValueError(
                f"disk size {size_bytes} is not a multiple of the {self.block_size}-byte block size"
            )

    # -- the timing model -------------------------------------------------------------

    def access_ns(self, n_blocks: int, sequential: bool = False) -> int:
        """Modelled time of one transfer of `n_blocks` contiguous blocks.

        A random access pays the average seek plus half a revolution (30 ms by
        default) before the transfer; a sequential one (continuing where the head
        is) pays only the transfer (1.024 ms per 1 KB block by default).
        """
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"block count must be a non-negative integer, got {n_blocks!r}")
        if n_blocks == 0:
            return 0
        position = 0 if sequential else self.seek_ns + self.rotational_latency_ns
        nbytes = n_blocks * self.block_size
        transfer = -(-nbytes * 1_000_000_000 // self.transfer_bytes_per_s)  # ceiling
        return position + transfer

    def is_sequential(self, n: int) -> bool:
        """True if block `n` is the one under the head (the block after the last access)."""
        return self.next_block == n

    def _charge(self, n: int, count: int) -> None:
        self.busy_ns += self.access_ns(count, self.is_sequential(n))
        self.next_block = n + count

    # -- block I/O ---------------------------------------------------------------------

    def _check_range(self, n: int, count: int, what: str) -> None:
        if self._closed:
            raise ValueError(f"{what}: disk is closed")
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"{what}: block number must be an integer, got {n!r}")
        if count < 1:
            raise ValueError(f"{what}: block count must be at least 1, got {count}")
        if n < 0 or n + count > self.nblocks:
            last = n + count - 1
            span = f"block {n}" if count == 1 else f"blocks {n}..{last}"
            raise ValueError(
                f"{what}: {span} out of range: the disk has {self.nblocks} blocks (0..{self.nblocks - 1})"
            )

    def read_blocks(self, n: int, count: int) -> bytes:
        """Read `count` consecutive blocks starting at block `n` (one access)."""
        self._check_range(n, count, "read")
        size = count * self.block_size
        start = n * self.block_size
        if self._mem is not None:
            data = bytes(self._mem[start : start + size])
        else:
            assert self._fio is not None
            self._fio.seek(start)
            data = self._fio.read(size)
            if len(data) != size:
                raise OSError(
                    f"disk image {self.path} is shorter than expected: "
                    f"block {n} read {len(data)} of {size} bytes (was the file truncated?)"
                )
        self.reads += count
        self.bytes_read += size
        self._charge(n, count)
        return data

    def write_blocks(self, n: int, data: bytes | bytearray | memoryview) -> None:
        """Write whole blocks starting at block `n` (one access); len(data) must be a multiple of the block size."""
        length = len(data)
        if length == 0 or length % self.block_size:
            raise ValueError(
                f"write: data must be a non-zero multiple of the {self.block_size}-byte block size, "
                f"got {length} bytes"
            )
        count = length // self.block_size
        self._check_range(n, count, "write")
        start = n * self.block_size
        if self._mem is not None:
            self._mem[start : start + length] = data
        else:
            assert self._fio is not None
            self._fio.seek(start)
            view = memoryview(data)
            while view:
                written = self._fio.write(view)
                if not written:
                    raise OSError(f"disk image {self.path}: write of block {n} made no progress")
                view = view[written:]
        self.writes += count
        self.bytes_written += length
        self._charge(n, count)

    def read_block(self, n: int) -> bytes:
        """Read block `n`: exactly `block_size` bytes."""
        return self.read_blocks(n, 1)

    def write_block(self, n: int, data: bytes | bytearray | memoryview) -> None:
        """Write block `n`; `data` must be exactly `block_size` bytes."""
        if len(data) != self.block_size:
            raise ValueError(
                f"write: block {n} needs exactly {self.block_size} bytes, got {len(data)}"
            )
        self.write_blocks(n, data)

    # -- lifetime ----------------------------------------------------------------------

    def reset_counters(self) -> None:
        """Zero reads, writes, bytes and busy time (the head position is kept)."""
        self.reads = self.writes = self.bytes_read = self.bytes_written = self.busy_ns = 0

    def flush(self) -> None:
        """Make every write so far durable in the image file (fsync); nothing to do in memory."""
        if self._closed:
            raise ValueError("flush: disk is closed")
        if self._fio is not None:
            self._fio.flush()
            os.fsync(self._fio.fileno())

    def close(self) -> None:
        """Flush and release the image file; later I/O raises ValueError. Idempotent."""
        if self._closed:
            return
        if self._fio is not None:
            try:
                self.flush()
            finally:
                self._fio.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Disk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        return f"Disk({self.nblocks} x {self.block_size} B, {where})"
