"""Tests of the block device: memory and image-file backing, range checks, counters, timing model."""

from __future__ import annotations

import pytest

from emulator.disk import Disk

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


MS = 1_000_000


def small_disk() -> Disk:
    """A disk whose figures are easy by hand: 6000 rpm (10 ms a turn), 512 B sectors, 10 of
    them a track (5120 B per 10 ms = 512 000 B/s), so a sector passes in 1 ms; 2 heads, so a
    cylinder is 10 KB = 10 blocks; 100 blocks = 10 cylinders. Seeks: 2 ms track to track,
    10 ms over the mean distance (100 - 1) / 30 = 3.3 cylinders, so 8 / 2.3 ms a cylinder more."""
    return Disk(
        100 * BS,
        sector_bytes=512,
        seek_ns=10 * MS,
        track_seek_ns=2 * MS,
        rpm=6000,
        transfer_bytes_per_s=512_000,
        heads=2,
    )


def test_geometry_is_derived_from_the_figures() -> None:
    d = small_disk()
    assert (d.sectors_per_track, d.track_bytes, d.cylinders) == (10, 5120, 10)
    assert d.sector_ns == pytest.approx(1 * MS)
    assert d.mean_distance == pytest.approx(3.3)
    # The Eagle of the default config: 1 859 000 B/s * 60 / 3961 rpm / 512 B = 55.0 sectors a
    # track (28 160 B); 20 MB / 28 160 B = 745 tracks, / 20 heads = 38 cylinders.
    eagle = Disk(20 * 1024 * 1024)
    assert (eagle.sectors_per_track, eagle.track_bytes, eagle.cylinders) == (55, 28160, 38)


def test_seek_grows_linearly_with_the_distance() -> None:
    d = small_disk()
    slope = 8 * MS / 2.3
    assert d.seek_time(0) == 0
    assert d.seek_time(1) == 2 * MS
    assert d.seek_time(2) == round(2 * MS + slope)
    assert d.seek_time(9) == round(2 * MS + 8 * slope)  # the full stroke
    # over the mean distance the line passes through the average seek
    assert 2 * MS + slope * (d.mean_distance - 1) == pytest.approx(10 * MS)


def test_service_time_seek_rotation_transfer_by_hand() -> None:
    d = small_disk()
    # block 0 = sectors 0-1 of track 0; at t=0 sector 0 is under the head: no wait, 2 ms.
    s = d.service(0, 1, 0, cylinder=0)
    assert (s.seek, s.rotation, s.transfer, s.cylinder) == (0, 0, 2 * MS, 0)
    # half a sector later it has just passed: wait 9.5 ms for it to come round
    s = d.service(0, 1, MS // 2, cylinder=0)
    assert (s.seek, s.rotation, s.transfer) == (0, 9 * MS + MS // 2, 2 * MS)
    # block 7 = byte 7168 = track 1 (head 1, same cylinder), sector 4: wait 4 ms at t=0
    s = d.service(7, 1, 0, cylinder=0)
    assert (s.seek, s.rotation, s.transfer, s.cylinder) == (0, 4 * MS, 2 * MS, 0)
    # block 25 = byte 25 600 = track 5 = cylinder 2, sector 0: a 2-cylinder seek
    # (2 + 8/2.3 = 5.478 ms), then the platter is 5.478 sectors on: wait 4.522 ms for sector 0
    s = d.service(25, 1, 0, cylinder=0)
    assert s.seek == round(2 * MS + 8 * MS / 2.3)
    assert s.seek + s.rotation == pytest.approx(10 * MS, abs=1)
    assert s.cylinder == 2
    # ten blocks from block 0: 20 sectors over two tracks = 20 ms, ending on cylinder 0
    s = d.service(0, 10, 0, cylinder=0)
    assert (s.rotation, s.transfer, s.cylinder) == (0, 20 * MS, 0)
    # eleven: the last block is on cylinder 1
    assert d.service(0, 11, 0, cylinder=0).cylinder == 1
    with pytest.raises(ValueError):
        d.service(0, 0, 0)


def test_requests_queue_for_the_arm() -> None:
    d = small_disk()
    assert d.begin(0) == 0
    d.read_block(0)  # 0-2 ms
    assert d.end() == 2 * MS
    # a second request arriving at t=0 waits for the arm until 2 ms; then sector 2 is under
    # the head, so block 0 is 8 ms away, and its transfer ends at 12 ms
    assert d.begin(0) == 2 * MS
    d.read_block(0)
    assert d.end() == 12 * MS
    assert d.queue_ns == 2 * MS
    assert (d.accesses, d.seeks, d.rotation_time_ns, d.transfer_time_ns) == (2, 0, 8 * MS, 4 * MS)
    assert d.busy_ns == 12 * MS
    # the arm moves: a read on cylinder 2 counts a seek and leaves the arm there
    d.begin(20 * MS)
    d.read_block(25)
    d.end()
    assert d.seeks == 1 and d.cylinder == 2
    with pytest.raises(ValueError):
        d.end()


def test_accesses_outside_a_request_never_delay_one() -> None:
    d = small_disk()
    for n in range(0, 100, 5):  # setting up (formatting, installing) before the clock runs
        d.write_block(n, pattern(n))
    assert d.busy_ns > 0 and d.free_at == 0
    assert d.begin(0) == 0


def test_track_seek_above_average_is_refused() -> None:
    with pytest.raises(ValueError, match="track-to-track"):
        Disk(100 * BS, seek_ns=MS, track_seek_ns=2 * MS)
