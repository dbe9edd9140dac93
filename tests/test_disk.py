"""Tests of the block device: memory and image-file backing, range checks, counters, timing model."""

from __future__ import annotations

import pytest

from emulator.disk import (
    AVG_ROTATIONAL_LATENCY_NS,
    AVG_SEEK_NS,
    Disk,
)

BS = 1024


def pattern(n: int, size: int = BS) -> bytes:
    return bytes((n * 7 + i) & 0xFF for i in range(size))


def test_memory_disk_round_trip_and_counters() -> None:
    disk = Disk(64 * BS)
    assert disk.nblocks == 64 and disk.block_size == BS and disk.path is None
    assert disk.read_block(5) == bytes(BS)  # a new disk reads as zeros
    disk.write_block(5, pattern(5))
    disk.write_block(63, pattern(63))
    assert disk.read_block(5) == pattern(5)
    assert disk.read_block(63) == pattern(63)
    assert disk.reads == 3 and disk.writes == 2
    assert disk.bytes_read == 3 * BS and disk.bytes_written == 2 * BS
    disk.write_blocks(10, pattern(1) + pattern(2))
    assert disk.read_blocks(10, 2) == pattern(1) + pattern(2)
    assert disk.writes == 4 and disk.reads == 5
    disk.reset_counters()
    assert (disk.reads, disk.writes, disk.busy_ns) == (0, 0, 0)


def test_image_file_persists(tmp_path) -> None:
    path = tmp_path / "disk.img"
    with Disk(32 * BS, path) as disk:
        assert path.stat().st_size == 32 * BS
        disk.write_block(0, pattern(0))
        disk.write_block(31, pattern(31))
        disk.flush()
    assert disk.closed
    with Disk(32 * BS, path) as again:
        assert again.read_block(0) == pattern(0)
        assert again.read_block(31) == pattern(31)
        assert again.read_block(7) == bytes(BS)
    # The size can come from the image itself.
    with Disk(None, path) as sized:
        assert sized.nblocks == 32
    raw = path.read_bytes()
    assert raw[31 * BS : 32 * BS] == pattern(31)  # write-through, at block * block_size


def test_image_size_mismatch_is_refused(tmp_path) -> None:
    path = tmp_path / "disk.img"
    Disk(16 * BS, path).close()
    with pytest.raises(ValueError, match="is 16384 bytes"):
        Disk(32 * BS, path)


@pytest.mark.parametrize("n", [-1, 16, 1000])
def test_out_of_range_block(n: int) -> None:
    disk = Disk(16 * BS)
    with pytest.raises(ValueError, match=rf"block {n} out of range.*16 blocks"):
        disk.read_block(n)
    with pytest.raises(ValueError, match="out of range"):
        disk.write_block(n, bytes(BS))


def test_bad_arguments() -> None:
    disk = Disk(16 * BS)
    with pytest.raises(ValueError, match="exactly 1024 bytes"):
        disk.write_block(0, b"short")
    with pytest.raises(ValueError, match="blocks 15..16 out of range"):
        disk.read_blocks(15, 2)
    with pytest.raises(ValueError, match="power of two"):
        Disk(16 * BS, block_size=1000)
    with pytest.raises(ValueError, match="not a multiple"):
        Disk(1500)
    with pytest.raises(ValueError, match="positive"):
        Disk(0)
    with pytest.raises(ValueError, match="size required"):
        Disk(None)
    disk.close()
    with pytest.raises(ValueError, match="closed"):
        disk.read_block(0)
    disk.close()  # idempotent


def test_block_size_512() -> None:
    disk = Disk(8 * 1024, block_size=512)
    assert disk.nblocks == 16
    disk.write_block(15, bytes(range(256)) * 2)
    assert disk.read_block(15)[:4] == b"\x00\x01\x02\x03"


def test_timing_model() -> None:
    disk = Disk(1024 * BS)
    position = AVG_SEEK_NS + AVG_ROTATIONAL_LATENCY_NS
    assert position == 30_000_000  # a 1985 disk: 30 ms to seek and wait half a turn
    assert disk.access_ns(0) == 0
    assert disk.access_ns(1, sequential=True) == 1_024_000  # 1 KB at 1 MB/s
    assert disk.access_ns(1) == position + 1_024_000
    assert disk.access_ns(100, sequential=False) == position + 102_400_000
    with pytest.raises(ValueError):
        disk.access_ns(-1)


def test_busy_time_charges_seeks_and_sequential_runs() -> None:
    disk = Disk(1024 * BS)
    disk.read_block(100)  # random
    disk.read_block(101)  # continues: sequential
    disk.read_blocks(102, 4)  # sequential run
    disk.read_block(500)  # seek
    expected = (
        disk.access_ns(1)
        + disk.access_ns(1, sequential=True)
        + disk.access_ns(4, sequential=True)
        + disk.access_ns(1)
    )
    assert disk.busy_ns == expected
    assert disk.is_sequential(501) and not disk.is_sequential(100)
