"""The disk as a device wait: the file server blocks on the disk with its CPU free, metadata
I/O is charged, and the block cache serves a second load of the same image."""

from __future__ import annotations

import pytest

from emulator.disk import Disk
from vkernel import ops
from vkernel.block_cache import BlockCache
from vkernel.filesystem import ENTRY_SIZE, FileSystem

KB = 1024
MS = 1_000_000


def _session():
    from vcluster.session import Session, load

    return Session(load("tiny"))


def _run(sim, done, limit_ns=5_000 * MS):
    while not done() and sim.now < limit_ns and sim.step():
        pass
    assert done(), "did not finish"


@pytest.mark.parametrize("blocking", ["device", "compute"])
def test_a_device_wait_leaves_the_cpu_to_others(blocking):
    session = _session()
    try:
        k = next(k for k in session.kernels.values() if "file" in k.servers)
        sim = k.sim
        t0 = sim.now
        ended: dict[str, int] = {}

        def waiter(pid):
            yield ops.DeviceWait(20 * MS) if blocking == "device" else ops.Compute(20_000)
            ended["waiter"] = sim.now

        def worker(pid):
            yield ops.Compute(5_000)  # 5 ms of CPU
            ended["worker"] = sim.now

        before = k.stats.device_wait_ns
        k.spawn_server(k.system_lh, "waiter", waiter)
        k.spawn_server(k.system_lh, "worker", worker)
        _run(sim, lambda: len(ended) == 2)
        assert ended["waiter"] - t0 == pytest.approx(20 * MS, abs=0.5 * MS)
        if blocking == "device":
            # the CPU was free: the worker's 5 ms ran during the 20 ms wait
            assert ended["worker"] - t0 == pytest.approx(5 * MS, abs=0.5 * MS)
            assert k.stats.device_wait_ns - before == 20 * MS
        else:
            # the reference: CPU time is not free, the worker runs after the 20 ms
            assert ended["worker"] - t0 == pytest.approx(25 * MS, abs=0.5 * MS)
    finally:
        session.close()


def test_the_file_server_waits_on_the_disk_not_the_cpu():
    from guest import build
    from vcluster import bench_rexec

    cfg = _load_tiny()
    images = {"hello": build.image_path("hello").read_bytes()}
    cold, warm = bench_rexec.run_trials(cfg, "hello", images, 2)
    assert not cold.error and not warm.error
    # the second load of the same image comes from the block cache
    assert cold.hit_rate < 0.2 and cold.disk["disk_accesses"] > 0
    assert warm.hit_rate == 1.0 and warm.disk["disk_accesses"] == 0
    # with the cache warm the load is shorter by the disk's service time (one file server,
    # so nothing queued for the arm: each access's time was a wait of the request)
    saved = cold.fetch_ns - warm.fetch_ns
    # (within 5%: the rest of the two fetches differs by where the kernels' other work falls, a
    # few hundred microseconds that move with the instant the cold fetch starts)
    assert saved == pytest.approx(cold.disk["disk_busy_ns"], rel=0.05)


def _load_tiny():
    from vcluster.session import load

    return load("tiny")


def test_metadata_io_is_charged():
    disk = Disk(1024 * KB)
    fs = FileSystem.format(disk, max_files=64)  # 64 entries of 128 B: 8 directory blocks
    per_block = KB // ENTRY_SIZE
    assert fs._lay.dir_blocks == 64 // per_block == 8
    disk.reset_counters()
    assert not fs.exists("nothing")  # a name not there: the whole directory is searched
    assert (disk.reads, disk.accesses) == (8, 1) and disk.busy_ns > 0
    disk.reset_counters()
    fs.create("a")  # slot 0: its directory block written
    assert (disk.writes, disk.accesses) == (1, 1)
    disk.reset_counters()
    fs.write("a", 0, b"x" * KB)  # the data, the bitmap block and the directory block
    assert (disk.writes, disk.accesses) == (3, 3)
    disk.reset_counters()
    assert fs.exists("a")  # found in the first directory block
    assert disk.reads == 1
    fs.install("big", bytes(20 * KB))  # 15 direct blocks, 5 through the indirect block
    disk.reset_counters()
    fs.read("big", 16 * KB, KB)  # block 16: its indirect block is read first
    assert (disk.reads, disk.accesses) == (2, 2)
    disk.reset_counters()
    fs.read("big", 0, KB)  # a direct block: no index block
    assert (disk.reads, disk.accesses) == (1, 1)


def test_block_cache_lru_and_write_through():
    disk = Disk(64 * KB)
    cache = BlockCache(disk, 4)
    blocks = [bytes([n]) * KB for n in range(64)]
    for n in range(8):
        disk.write_block(n, blocks[n])
    disk.reset_counters()
    assert cache.read_blocks(0, 4) == b"".join(blocks[:4])  # 4 misses in one access
    assert (cache.misses, cache.hits, disk.accesses) == (4, 0, 1)
    assert cache.read_blocks(2, 4) == b"".join(blocks[2:6])  # 2, 3 hit; 4, 5 one access
    assert (cache.misses, cache.hits, disk.accesses) == (6, 2, 2)
    assert cache.held == 4  # 0 and 1 were the least recently used: gone
    assert cache.read_block(0) == blocks[0] and cache.misses == 7
    cache.write_block(9, blocks[9])  # write-through: on the disk at once, and kept
    assert disk.read_block(9) == blocks[9] and disk.writes == 1
    hits = cache.hits
    assert cache.read_block(9) == blocks[9] and cache.hits == hits + 1
    assert cache.hit_rate() == pytest.approx(cache.hits / (cache.hits + cache.misses))
    none = BlockCache(disk, 0)
    none.read_block(9)
    none.read_block(9)
    assert (none.hits, none.misses, none.held) == (0, 2, 0)
    with pytest.raises(ValueError):
        cache.read_blocks(63, 2)


def test_file_server_counters_are_in_the_run_summary():
    session = _session()
    try:
        fs = session.summary()["file_servers"]
        (report,) = fs.values()
        for key in (
            "cache_hit_rate",
            "cache_hits",
            "cache_misses",
            "disk_reads",
            "disk_writes",
            "disk_seeks",
            "disk_busy_ns",
            "disk_queue_ns",
            "opens",
            "bytes_read",
        ):
            assert key in report
        assert report["cache_blocks"] == 512  # cache_kb 512 of 1 KB blocks
    finally:
        session.close()
