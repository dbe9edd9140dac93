"""The file server's block cache: the most recently used disk blocks kept in its memory (LRU, write-through).

V's file servers kept recently used blocks in memory, so a program loaded a
second time comes from memory rather than the disk. This cache sits between the
file system and the Disk, with the Disk's block interface: a read takes what it
holds and reads the misses from the disk in runs of consecutive blocks (one
access a run); a write goes to the disk at once (write-through, so the disk is
always up to date and there is nothing to lose at a crash or to flush) and
keeps the blocks written. `capacity` blocks at most; 0 is no cache at all.
"""

from __future__ import annotations

from collections import OrderedDict

from emulator.disk import Disk


class BlockCache:
    """LRU, write-through cache of `capacity` blocks over `disk`; `hits`/`misses` count blocks."""

    def __init__(self, disk: Disk, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(
                f"cache capacity must be a non-negative number of blocks, got {capacity!r}"
            )
        self.disk = disk
        self.capacity = capacity
        self.block_size = disk.block_size
        self.nblocks = disk.nblocks
        self._blocks: OrderedDict[int, bytes] = OrderedDict()  # least recently used first
        self.hits = 0
        self.misses = 0

    def _keep(self, n: int, data: bytes) -> None:
        if not self.capacity:
            return
        self._blocks[n] = data
        self._blocks.move_to_end(n)
        while len(self._blocks) > self.capacity:
            self._blocks.popitem(last=False)

    def read_blocks(self, n: int, count: int) -> bytes:
        """Blocks n..n+count-1: the ones held from memory, the others from the disk."""
        if count < 1 or n < 0 or n + count > self.nblocks:
            return self.disk.read_blocks(n, count)  # the disk says what is wrong
        bs = self.block_size
        parts: list[bytes] = []
        b = n
        while b < n + count:
            held = self._blocks.get(b)
            if held is not None:
                self._blocks.move_to_end(b)
                self.hits += 1
                parts.append(held)
                b += 1
                continue
            run = 1
            while b + run < n + count and b + run not in self._blocks:
                run += 1
            data = self.disk.read_blocks(b, run)
            self.misses += run
            for i in range(run):
                block = data[i * bs : (i + 1) * bs]
                self._keep(b + i, block)
                parts.append(block)
            b += run
        return b"".join(parts)

    def read_block(self, n: int) -> bytes:
        return self.read_blocks(n, 1)

    def write_blocks(self, n: int, data: bytes | bytearray | memoryview) -> None:
        """Write through to the disk (one access), keeping the blocks written."""
        self.disk.write_blocks(n, data)
        raw = bytes(data)
        bs = self.block_size
        for i in range(len(raw) // bs):
            self._keep(n + i, raw[i * bs : (i + 1) * bs])

    def write_block(self, n: int, data: bytes | bytearray | memoryview) -> None:
        if len(data) != self.block_size:
            self.disk.write_block(n, data)  # the disk says what is wrong
        self.write_blocks(n, data)

    def flush(self) -> None:
        """Nothing is dirty (write-through): make the disk's image durable."""
        self.disk.flush()

    def drop(self) -> None:
        """Forget every block (a cold cache); the counters are kept."""
        self._blocks.clear()

    @property
    def held(self) -> int:
        return len(self._blocks)

    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def counters(self) -> dict[str, int | float]:
        return {
            "cache_blocks": self.capacity,
            "cache_held": self.held,
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "cache_hit_rate": round(self.hit_rate(), 4),
        }
