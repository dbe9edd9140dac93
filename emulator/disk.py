"""The file server's disk: a block device (1 KB blocks) on an image file or in memory, with a 1985 timing model."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SECTOR_SIZE = 512
"""Bytes per hardware sector; a block is a whole number of sectors (1 KB = 2 sectors)."""

DEFAULT_BLOCK_SIZE = 1024
"""The unit of every transfer: 1 KB, like the 4.2BSD/Sun fragment and the V file server's page."""

# Service-time model: the geometry of a Fujitsu M2351 "Eagle" (the usual Sun file-server disk
# of 1985): 18 ms average seek, 5 ms track to track, 3961 rpm, 1.859 MB/s, 20 heads. The same
# defaults as the config's disk section (configs/schema.py, DiskConfig); docs/CONFIG.md derives
# every figure the model uses from these.
SEEK_NS = 18_000_000
"""Average seek: the seek over the mean distance between two random cylinders of this disk."""
TRACK_SEEK_NS = 5_000_000
"""Track-to-track seek (one cylinder); a longer seek grows linearly with the distance."""
RPM = 3961
TRANSFER_BYTES_PER_S = 1_859_000
"""Media transfer rate: one track passes under the head per revolution."""
HEADS = 20
"""Tracks per cylinder: what the arm reaches without moving."""


@dataclass(frozen=True)
class Service:
    """The service time of one access, in its three parts (ns)."""

    seek: int
    rotation: int
    transfer: int
    cylinder: int  # where the arm ends

    @property
    def total(self) -> int:
        return self.seek + self.rotation + self.transfer


class Disk:
    """A block device: `nblocks` blocks of `block_size` bytes, numbered from 0.

    With `path` the blocks live in an image file (read and written through, no
    cache); the file is created with `size_bytes` (sparse, reads as zeros) if it
    does not exist (`created` is then true, as for a disk in memory: a blank disk,
    nothing on it to lose). Without `path` they live in a bytearray.

    Timing: the disk has a geometry (sectors of `sector_bytes`, `sectors_per_track`
    from the media rate and the rpm, `heads` tracks a cylinder, `cylinders` from the
    size) and one arm. An access pays the seek from the arm's cylinder to the
    target's, the rotational wait until the first sector comes under the head (the
    platter's angle is the simulated time modulo one revolution), and the transfer
    of every sector it covers. Accesses made between `begin(now)` and `end()` are
    timed on the simulated clock and queue for the arm (`free_at`): a request that
    arrives while the arm is busy starts when it is free. Accesses outside a
    bracket (formatting, installing images at boot, `vcluster files`) are timed on a
    private clock that never delays a request. Counters: `reads`, `writes` (blocks),
    `bytes_read`, `bytes_written`, `accesses`, `seeks` (accesses that moved the arm),
    `seek_time_ns`, `rotation_time_ns`, `transfer_time_ns`, `busy_ns` (their sum) and `queue_ns`
    (time requests waited for the arm).
    """

    def __init__(
        self,
        size_bytes: int | None,
        path: str | os.PathLike[str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        *,
        sector_bytes: int = SECTOR_SIZE,
        seek_ns: int = SEEK_NS,
        track_seek_ns: int = TRACK_SEEK_NS,
        rpm: float = RPM,
        transfer_bytes_per_s: int = TRANSFER_BYTES_PER_S,
        heads: int = HEADS,
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
        if transfer_bytes_per_s <= 0 or rpm <= 0 or sector_bytes <= 0 or heads < 1:
            raise ValueError(
                "disk geometry: transfer rate, rpm, sector size and heads must be positive"
            )
        if not 0 <= track_seek_ns <= seek_ns:
            raise ValueError(
                f"disk timing: the track-to-track seek ({track_seek_ns / 1e6:g} ms) must be between 0 "
                f"and the average seek ({seek_ns / 1e6:g} ms)"
            )
        self.sector_bytes = sector_bytes
        self.seek_ns = seek_ns
        self.track_seek_ns = track_seek_ns
        self.rpm = rpm
        self.transfer_bytes_per_s = transfer_bytes_per_s
        self.heads = heads
        self.rotation_ns = 60e9 / rpm
        # The media rate is one track per revolution: that many sectors on a track.
        self.sectors_per_track = max(1, round(transfer_bytes_per_s * 60 / rpm / sector_bytes))
        self.track_bytes = self.sectors_per_track * sector_bytes
        self.sector_ns = self.rotation_ns / self.sectors_per_track
        self.block_size = block_size
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

        tracks = -(-size_bytes // self.track_bytes)
        self.cylinders: int = max(1, -(-tracks // heads))
        c = self.cylinders
        self.mean_distance = (c * c - 1) / (3 * c)  # E|i - j| for two random cylinders
        self.cylinder = 0  # where the arm is
        self.free_at = 0  # when the arm has finished the requests queued so far (simulated ns)
        self._clock: int | None = None  # inside begin()..end(): when the next access starts
        self._offline = 0  # the private clock of accesses outside a bracket
        self.reset_counters()

    def _check_size(self, size_bytes: int) -> None:
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
            raise ValueError(f"disk size must be a positive number of bytes, got {size_bytes!r}")
        if size_bytes % self.block_size:
            raise ValueError(
                f"disk size {size_bytes} is not a multiple of the {self.block_size}-byte block size"
            )

    # -- the timing model -------------------------------------------------------------

    def cylinder_of(self, n: int) -> int:
        """The cylinder holding the first byte of block `n`."""
        return n * self.block_size // self.track_bytes // self.heads

    def seek_time(self, distance: int) -> int:
        """The arm's travel over `distance` cylinders: 0 for none, the track-to-track seek for
        one, growing linearly so that the mean distance between two random cylinders costs
        exactly the average seek."""
        if distance <= 0:
            return 0
        span = self.mean_distance - 1
        if span <= 0:  # a disk of one or two cylinders: every move is "average"
            return self.seek_ns
        slope = (self.seek_ns - self.track_seek_ns) / span
        return round(self.track_seek_ns + slope * (distance - 1))

    def service(self, n: int, count: int, start_ns: int, cylinder: int | None = None) -> Service:
        """The time of one access to blocks n..n+count-1 begun at `start_ns` with the arm on
        `cylinder` (default: where it is). The transfer runs on across tracks without a lost
        turn (a disk formatted with track skew)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"block count must be a positive integer, got {count!r}")
        here = self.cylinder if cylinder is None else cylinder
        first = n * self.block_size
        end = first + count * self.block_size
        target = first // self.track_bytes // self.heads
        seek = self.seek_time(abs(target - here))
        spt, sector_ns = self.sectors_per_track, self.sector_ns
        sector = (first % self.track_bytes) // self.sector_bytes  # where on its track it starts
        angle = ((start_ns + seek) % self.rotation_ns) / sector_ns  # sector under the head now
        rotation = round(((sector - angle) % spt) * sector_ns)
        sectors = -(-end // self.sector_bytes) - first // self.sector_bytes
        transfer = round(sectors * sector_ns)
        last = (end - 1) // self.track_bytes // self.heads
        return Service(seek, rotation, transfer, last)

    def begin(self, now_ns: int) -> int:
        """Start timing a request that arrives at `now_ns`; returns when the arm takes it."""
        start = max(now_ns, self.free_at)
        self.queue_ns += start - now_ns
        self._clock = start
        return start

    def end(self) -> int:
        """Finish the request begun last; returns when its last access is done."""
        if self._clock is None:
            raise ValueError("end() without begin()")
        done, self._clock = self._clock, None
        self.free_at = done
        return done

    def _charge(self, n: int, count: int) -> None:
        clock = self._offline if self._clock is None else self._clock
        s = self.service(n, count, clock)
        self.accesses += 1
        self.seeks += s.seek > 0
        self.seek_time_ns += s.seek
        self.rotation_time_ns += s.rotation
        self.transfer_time_ns += s.transfer
        self.busy_ns += s.total
        self.cylinder = s.cylinder
        if self._clock is None:
            self._offline = clock + s.total
        else:
            self._clock = clock + s.total

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
        """Zero the counters (the arm's position and the queue are kept)."""
        self.reads = self.writes = self.bytes_read = self.bytes_written = 0
        self.accesses = self.seeks = 0
        self.seek_time_ns = self.rotation_time_ns = self.transfer_time_ns = 0
        self.busy_ns = self.queue_ns = 0

    def counters(self) -> dict[str, int]:
        """The counters by name (what the file server reports)."""
        return {
            "disk_reads": self.reads,
            "disk_writes": self.writes,
            "disk_accesses": self.accesses,
            "disk_seeks": self.seeks,
            "disk_seek_ns": self.seek_time_ns,
            "disk_rotation_ns": self.rotation_time_ns,
            "disk_transfer_ns": self.transfer_time_ns,
            "disk_busy_ns": self.busy_ns,
            "disk_queue_ns": self.queue_ns,
        }

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
