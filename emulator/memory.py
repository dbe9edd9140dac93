"""Physical memory bookkeeping: the page-frame allocator of a workstation."""

from __future__ import annotations


class OutOfMemory(Exception):
    """No free page frame."""


class FrameAllocator:
    """Frames reserved..nframes-1, handed out lowest first (deterministic); double frees are errors."""

    def __init__(self, nframes: int, reserved: int = 0) -> None:
        if nframes <= 0 or not 0 <= reserved <= nframes:
            raise ValueError(f"bad frame counts: {nframes} frames, {reserved} reserved")
        self.nframes = nframes
        self.reserved = reserved
        self._free = list(range(nframes - 1, reserved - 1, -1))  # a stack: pop() gives the lowest
        self._used = bytearray(nframes)
        for f in range(reserved):
            self._used[f] = 1

    def alloc(self) -> int:
        if not self._free:
            raise OutOfMemory(f"all {self.nframes - self.reserved} page frames are in use")
        frame = self._free.pop()
        self._used[frame] = 1
        return frame

    def free(self, frame: int) -> None:
        if not self.reserved <= frame < self.nframes:
            raise ValueError(f"frame {frame} is not an allocatable frame")
        if not self._used[frame]:
            raise ValueError(f"frame {frame} is already free")
        self._used[frame] = 0
        self._free.append(frame)

    def in_use(self, frame: int) -> bool:
        return bool(self._used[frame])

    @property
    def free_count(self) -> int:
        return len(self._free)

    @property
    def used_count(self) -> int:
        return self.nframes - self.reserved - len(self._free)
