"""VFS1, the file server's flat file system on a Disk: superblock, free bitmap, fixed directory, block maps."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.disk import Disk  # or anything with its block interface (vkernel/block_cache.py)

# The on-disk format; docs/DISK_FORMAT.md is its description. All integers are big-endian.
MAGIC = b"VFS1"
VERSION = 1
SUPERBLOCK = 0
SUPERBLOCK_STRUCT = struct.Struct(">4sHHIIIIIIIII32s")  # 76 bytes, then reserved zeros
SUPERBLOCK_CRC_OFFSET = 124  # CRC-32 of bytes 0..123
ENTRY_STRUCT = struct.Struct(">48sIHHI15III")  # one directory entry
ENTRY_SIZE = ENTRY_STRUCT.size  # 128
N_DIRECT = 15
NAME_MAX = 47
LABEL_MAX = 32
FLAG_IN_USE = 0x0001
MAX_U32 = 0xFFFF_FFFF
MIN_BLOCK_SIZE = 512

_NAME_RE = re.compile(r"[A-Za-z0-9._/-]{1,47}")
_LABEL_RE = re.compile(r"[\x20-\x7e]{0,32}")

# Error codes carried by FsError.code, for the file server to map onto V reply codes.
NOT_FOUND = "not_found"
BAD_NAME = "bad_name"
BAD_ARGUMENT = "bad_argument"
EXISTS = "exists"
DISK_FULL = "disk_full"
TOO_MANY_FILES = "too_many_files"
TOO_LARGE = "too_large"
CORRUPT = "corrupt"

# byte value -> its 8 bits as 8 bytes of 0/1, most significant bit first
_UNPACK = [bytes((value >> (7 - i)) & 1 for i in range(8)) for value in range(256)]

_IND = -1  # keys of an inode's index blocks in a "dirty" set; children are 0..ppb-1
_DIND = -2


class FsError(Exception):
    """A file system error; `code` says which kind (NOT_FOUND, DISK_FULL, ...), `name` which file."""

    def __init__(self, message: str, *, code: str = "error", name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


@dataclass(frozen=True)
class _Layout:
    """The geometry the superblock records."""

    block_size: int
    nblocks: int
    bitmap_start: int
    bitmap_blocks: int
    dir_start: int
    dir_blocks: int
    dir_entries: int
    data_start: int
    label: str

    @property
    def ppb(self) -> int:
        """Block pointers per index block."""
        return self.block_size // 4

    @property
    def max_file_blocks(self) -> int:
        ppb = self.ppb
        return N_DIRECT + ppb + ppb * ppb

    @property
    def max_file_size(self) -> int:
        return min(self.max_file_blocks * self.block_size, MAX_U32)

    def pack(self) -> bytes:
        head = SUPERBLOCK_STRUCT.pack(
            MAGIC,
            VERSION,
            0,
            self.block_size,
            self.nblocks,
            self.bitmap_start,
            self.bitmap_blocks,
            self.dir_start,
            self.dir_blocks,
            self.dir_entries,
            self.data_start,
            ENTRY_SIZE,
            self.label.encode("ascii"),
        )
        raw = bytearray(self.block_size)
        raw[: len(head)] = head
        struct.pack_into(">I", raw, SUPERBLOCK_CRC_OFFSET, zlib.crc32(raw[:SUPERBLOCK_CRC_OFFSET]))
        return bytes(raw)


@dataclass
class _Inode:
    """A file in memory: its directory slot and its whole block map (0 = hole)."""

    slot: int
    name: str
    size: int = 0
    mtime: int = 0
    blocks: list[int] = field(default_factory=list)  # logical -> physical, no trailing zeros
    ind: int = 0  # single indirect block
    dind: int = 0  # double indirect block
    children: list[int] = field(default_factory=list)  # the dind's pointers (ppb of them if dind)

    def get(self, lb: int) -> int:
        return self.blocks[lb] if lb < len(self.blocks) else 0

    def put(self, lb: int, phys: int) -> None:
        if lb >= len(self.blocks):
            self.blocks.extend([0] * (lb + 1 - len(self.blocks)))
        self.blocks[lb] = phys

    def trim(self) -> None:
        while self.blocks and self.blocks[-1] == 0:
            self.blocks.pop()

    def index_blocks(self) -> list[int]:
        out = [b for b in (self.ind, self.dind) if b]
        out.extend(c for c in self.children if c)
        return out

    def pack(self) -> bytes:
        direct = self.blocks[:N_DIRECT] + [0] * max(0, N_DIRECT - len(self.blocks))
        return ENTRY_STRUCT.pack(
            self.name.encode("ascii"),
            self.size,
            FLAG_IN_USE,
            0,
            self.mtime & MAX_U32,
            *direct,
            self.ind,
            self.dind,
        )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _corrupt(message: str) -> FsError:
    return FsError(message, code=CORRUPT)


def _norm_name(name: object) -> str:
    """Check a file name and return it as str; FsError(BAD_NAME) naming it otherwise."""
    if isinstance(name, bytes | bytearray):
        try:
            name = bytes(name).decode("ascii")
        except UnicodeDecodeError:
            raise FsError(
                f"bad name {name!r}: only A-Z a-z 0-9 . _ - / are allowed", code=BAD_NAME
            ) from None
    if not isinstance(name, str):
        raise FsError(f"bad name {name!r}: a file name is a string", code=BAD_NAME)
    if not name or len(name) > NAME_MAX:
        raise FsError(
            f"bad name {name!r}: a file name has 1 to {NAME_MAX} characters, this one has {len(name)}",
            code=BAD_NAME,
            name=name,
        )
    if not _NAME_RE.fullmatch(name):
        raise FsError(
            f"bad name {name!r}: only A-Z a-z 0-9 . _ - / are allowed", code=BAD_NAME, name=name
        )
    return name


def _check_int(value: object, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FsError(
            f"bad {what} {value!r} for {name!r}: must be a non-negative integer",
            code=BAD_ARGUMENT,
            name=name,
        )
    return value


@dataclass
class _Image:
    """Everything read from a disk by _load: the state plus what is wrong with it."""

    layout: _Layout
    packed: bytearray  # the bitmap as on disk
    used: bytearray  # one byte (0/1) per block
    slots: list[_Inode | None]
    fatal: list[str]
    warnings: list[str]


def _read_superblock(disk: Disk) -> _Layout:
    if disk.block_size < MIN_BLOCK_SIZE:
        raise _corrupt(f"cannot mount: block size {disk.block_size} is below {MIN_BLOCK_SIZE}")
    raw = disk.read_block(SUPERBLOCK)
    magic = raw[:4]
    if magic != MAGIC:
        raise _corrupt(
            f"not a VFS1 file system: bad magic {magic!r} in the superblock (block 0), expected {MAGIC!r}"
        )
    fields = SUPERBLOCK_STRUCT.unpack_from(raw)
    version = fields[1]
    if version != VERSION:
        raise _corrupt(
            f"unsupported VFS1 version {version} in the superblock (this code reads version {VERSION})"
        )
    (stored_crc,) = struct.unpack_from(">I", raw, SUPERBLOCK_CRC_OFFSET)
    crc = zlib.crc32(raw[:SUPERBLOCK_CRC_OFFSET])
    if stored_crc != crc:
        raise _corrupt(
            f"corrupt superblock: checksum mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"
        )
    (
        _,
        _,
        _,
        block_size,
        nblocks,
        bitmap_start,
        bitmap_blocks,
        dir_start,
        dir_blocks,
        dir_entries,
        data_start,
        entry_size,
        label_raw,
    ) = fields

    def bad(what: str) -> FsError:
        return _corrupt(f"corrupt superblock: {what}")

    if block_size != disk.block_size:
        raise bad(f"block size {block_size} but the disk's blocks are {disk.block_size} bytes")
    if nblocks > disk.nblocks:
        raise bad(f"file system of {nblocks} blocks on a disk of only {disk.nblocks}")
    if entry_size != ENTRY_SIZE:
        raise bad(f"directory entry size {entry_size}, expected {ENTRY_SIZE}")
    if bitmap_start != 1 or bitmap_blocks != _ceil_div(nblocks, 8 * block_size):
        raise bad(f"free bitmap at {bitmap_start} (+{bitmap_blocks}) does not fit {nblocks} blocks")
    if dir_entries < 1 or dir_start != bitmap_start + bitmap_blocks:
        raise bad(f"directory at block {dir_start} with {dir_entries} entries")
    if dir_blocks != _ceil_div(dir_entries * ENTRY_SIZE, block_size):
        raise bad(f"{dir_blocks} directory blocks cannot hold exactly {dir_entries} entries")
    if data_start != dir_start + dir_blocks or data_start >= nblocks:
        raise bad(f"data area starts at block {data_start} of {nblocks}")
    label_bytes = label_raw.split(b"\0", 1)[0]
    try:
        label = label_bytes.decode("ascii")
    except UnicodeDecodeError:
        raise bad(f"label {label_bytes!r} is not ASCII") from None
    return _Layout(
        block_size,
        nblocks,
        bitmap_start,
        bitmap_blocks,
        dir_start,
        dir_blocks,
        dir_entries,
        data_start,
        label,
    )


def _load(disk: Disk) -> _Image:
    """Read the whole file system (superblock, bitmap, directory, index blocks) and cross-check it."""
    lay = _read_superblock(disk)
    bs, ppb = lay.block_size, lay.ppb
    fatal: list[str] = []
    warnings: list[str] = []

    packed = bytearray(disk.read_blocks(lay.bitmap_start, lay.bitmap_blocks))
    used = bytearray(b"".join(_UNPACK[x] for x in packed)[: lay.nblocks])
    for b in range(lay.data_start):
        if not used[b]:
            fatal.append(f"metadata block {b} is marked free in the bitmap")
            break

    owner: dict[int, str] = {}

    def claim(p: int, who: str) -> bool:
        """Record that `who` references block p; False (and a fatal problem) if it cannot."""
        if not lay.data_start <= p < lay.nblocks:
            fatal.append(
                f"{who} points to block {p}, outside the data area "
                f"{lay.data_start}..{lay.nblocks - 1}"
            )
            return False
        if p in owner:
            fatal.append(f"block {p} is used by both {owner[p]} and {who}")
            return False
        owner[p] = who
        if not used[p]:
            fatal.append(f"block {p} of {who} is marked free in the bitmap")
        return True

    def pointers(p: int) -> list[int]:
        return list(struct.unpack(f">{ppb}I", disk.read_block(p)))

    dir_raw = disk.read_blocks(lay.dir_start, lay.dir_blocks)
    slots: list[_Inode | None] = []
    names: set[str] = set()
    for slot in range(lay.dir_entries):
        fields = ENTRY_STRUCT.unpack_from(dir_raw, slot * ENTRY_SIZE)
        name_raw, size, flags, _, mtime = fields[:5]
        direct = list(fields[5 : 5 + N_DIRECT])
        ind, dind = fields[5 + N_DIRECT], fields[6 + N_DIRECT]
        if not flags & FLAG_IN_USE:
            slots.append(None)
            continue
        raw = name_raw.split(b"\0", 1)[0]
        try:
            name = _norm_name(raw)
        except FsError:
            fatal.append(f"directory entry {slot} has a bad name {raw!r}")
            slots.append(None)
            continue
        if name in names:
            fatal.append(f"directory entry {slot}: duplicate name {name!r}")
            slots.append(None)
            continue
        names.add(name)
        who = f"{name!r}"
        if size > lay.max_file_size:
            fatal.append(f"{who} has size {size}, above the maximum {lay.max_file_size}")
        ino = _Inode(slot, name, size, mtime)
        blocks = [p if p and claim(p, who) else 0 for p in direct]
        if ind and claim(ind, f"{who} (indirect block)"):
            ino.ind = ind
            blocks.extend(p if p and claim(p, who) else 0 for p in pointers(ind))
        if dind and claim(dind, f"{who} (double indirect block)"):
            ino.dind = dind
            ino.children = [
                c if c and claim(c, f"{who} (indirect block)") else 0 for c in pointers(dind)
            ]
            for c, child in enumerate(ino.children):
                if not child:
                    continue
                base = N_DIRECT + ppb + c * ppb
                if len(blocks) < base:
                    blocks.extend([0] * (base - len(blocks)))
                blocks.extend(p if p and claim(p, who) else 0 for p in pointers(child))
        ino.blocks = blocks
        ino.trim()
        if len(ino.blocks) > _ceil_div(size, bs):
            warnings.append(f"{who} has blocks mapped beyond its end ({size} bytes)")
        slots.append(ino)

    leaked = [b for b in range(lay.data_start, lay.nblocks) if used[b] and b not in owner]
    if leaked:
        warnings.append(
            f"{len(leaked)} block(s) marked used but referenced by no file (leaked), first {leaked[0]}"
        )
    return _Image(lay, packed, used, slots, fatal, warnings)


class FileSystem:
    """A mounted VFS1 file system. All changes are written through to the disk at once.

    One FileSystem per disk at a time: the free bitmap and the directory are kept in
    memory (and on disk), so a second mount of the same disk would not see the first's
    changes.
    """

    def __init__(self, disk: Disk, image: _Image, clock: Callable[[], int] | None) -> None:
        self.disk = disk
        self._lay = image.layout
        self._packed = image.packed
        self._used = image.used
        self._slots = image.slots
        self._files: dict[str, _Inode] = {i.name: i for i in image.slots if i is not None}
        self._free = image.used.count(0, image.layout.data_start)
        self._clock = clock
        self._cursor = image.layout.data_start  # next-fit allocation starts here
        self._dirty_bitmap: set[int] = set()

    # -- format and mount ---------------------------------------------------------------

    @classmethod
    def format(
        cls,
        disk: Disk,
        label: str = "vdisk",
        *,
        max_files: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> FileSystem:
        """Write an empty file system over the whole disk and mount it.

        `max_files` fixes the directory size (default: one entry per 64 blocks, at
        least 16, at most 4096). `clock` returns the time stamped on files (seconds).
        """
        bs = disk.block_size
        if bs < MIN_BLOCK_SIZE:
            raise FsError(f"cannot format: block size {bs} is below {MIN_BLOCK_SIZE}")
        if not isinstance(label, str) or not _LABEL_RE.fullmatch(label):
            raise FsError(
                f"bad label {label!r}: up to {LABEL_MAX} printable ASCII characters",
                code=BAD_ARGUMENT,
            )
        nblocks = min(disk.nblocks, MAX_U32)
        if max_files is None:
            max_files = min(4096, max(16, nblocks // 64))
        if isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1:
            raise FsError(f"bad max_files {max_files!r}: must be at least 1", code=BAD_ARGUMENT)
        bitmap_blocks = _ceil_div(nblocks, 8 * bs)
        dir_start = 1 + bitmap_blocks
        dir_blocks = _ceil_div(max_files * ENTRY_SIZE, bs)
        data_start = dir_start + dir_blocks
        if data_start >= nblocks:
            raise FsError(
                f"disk too small: {nblocks} blocks of {bs} bytes leave no room for data after "
                f"the superblock, {bitmap_blocks} bitmap and {dir_blocks} directory block(s)",
                code=DISK_FULL,
            )
        lay = _Layout(
            bs,
            nblocks,
            1,
            bitmap_blocks,
            dir_start,
            dir_blocks,
            max_files,
            data_start,
            label,
        )
        # Invalidate any old superblock first, so that a format cut short never mounts.
        disk.write_block(SUPERBLOCK, bytes(bs))
        bitmap = bytearray(bitmap_blocks * bs)
        full, rest = divmod(data_start, 8)
        bitmap[:full] = b"\xff" * full
        if rest:
            bitmap[full] = (0xFF << (8 - rest)) & 0xFF
        disk.write_blocks(lay.bitmap_start, bitmap)
        disk.write_blocks(dir_start, bytes(dir_blocks * bs))
        disk.write_block(SUPERBLOCK, lay.pack())
        return cls.mount(disk, clock=clock)

    @classmethod
    def mount(cls, disk: Disk, *, clock: Callable[[], int] | None = None) -> FileSystem:
        """Read and verify the file system on `disk`; FsError(code=CORRUPT) says what is wrong.

        Blocks leaked by an interrupted operation are tolerated (see check()); anything
        that could make two files share a block or clobber metadata is refused.
        """
        image = _load(disk)
        if image.fatal:
            more = f" (and {len(image.fatal) - 1} more problem(s))" if len(image.fatal) > 1 else ""
            raise _corrupt(f"corrupt file system: {image.fatal[0]}{more}")
        return cls(disk, image, clock)

    def check(self) -> list[str]:
        """Re-read the disk and list every inconsistency (empty list = consistent).

        Covers the on-disk structure (pointers, bitmap, names, leaked blocks) and
        whether the disk agrees with this mount's in-memory state.
        """
        try:
            image = _load(self.disk)
        except FsError as err:
            return [str(err)]
        problems = image.fatal + image.warnings
        if image.layout != self._lay:
            problems.append("superblock differs from the mounted one")
        if image.packed != self._packed:
            problems.append("free bitmap on disk differs from the one in memory")
        if image.slots != self._slots:
            for slot, (disk_ino, mem_ino) in enumerate(zip(image.slots, self._slots, strict=True)):
                if disk_ino != mem_ino:
                    problems.append(f"directory entry {slot} on disk differs from memory")
        if self._free != self._used.count(0, self._lay.data_start):
            problems.append("free block count is out of step with the bitmap")
        return problems

    # -- properties ------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self._lay.label

    @property
    def block_size(self) -> int:
        return self._lay.block_size

    @property
    def nblocks(self) -> int:
        return self._lay.nblocks

    @property
    def max_files(self) -> int:
        return self._lay.dir_entries

    @property
    def max_file_size(self) -> int:
        return self._lay.max_file_size

    def free_bytes(self) -> int:
        """Bytes in free blocks. A write may also need index blocks, so it is an upper bound."""
        return self._free * self._lay.block_size

    # -- queries ---------------------------------------------------------------------------

    def _get(self, name: object) -> _Inode:
        key = _norm_name(name)
        ino = self._files.get(key)
        if ino is None:
            raise FsError(f"no such file: {key!r}", code=NOT_FOUND, name=key)
        return ino

    def exists(self, name: str | bytes) -> bool:
        """Look the name up: the directory's blocks are read from the first to the one holding
        it (all of them for a name that is not there), as a flat directory is searched."""
        key = _norm_name(name)
        ino = self._files.get(key)
        per_block = self._lay.block_size // ENTRY_SIZE
        upto = ino.slot // per_block + 1 if ino is not None else self._lay.dir_blocks
        self.disk.read_blocks(self._lay.dir_start, upto)
        return ino is not None

    def size(self, name: str | bytes) -> int:
        return self._get(name).size

    def list(self) -> list[str]:
        """The file names, sorted."""
        return sorted(self._files)

    def stat(self, name: str | bytes) -> dict[str, Any]:
        """name, size, blocks (data blocks allocated), index_blocks, mtime, slot."""
        ino = self._get(name)
        return {
            "name": ino.name,
            "size": ino.size,
            "blocks": sum(1 for b in ino.blocks if b),
            "index_blocks": len(ino.index_blocks()),
            "mtime": ino.mtime,
            "slot": ino.slot,
        }

    def block_map(self, name: str | bytes) -> list[int]:
        """The file's physical block numbers by logical block (0 = hole), for cost models."""
        ino = self._get(name)
        return ino.blocks + [0] * (_ceil_div(ino.size, self._lay.block_size) - len(ino.blocks))

    def read(self, name: str | bytes, offset: int, count: int) -> bytes:
        """Up to `count` bytes from `offset`; short at the end of the file, b"" past it."""
        ino = self._get(name)
        _check_int(offset, "offset", ino.name)
        _check_int(count, "count", ino.name)
        end = min(ino.size, offset + count)
        if end <= offset:
            return b""
        bs = self._lay.block_size
        out = bytearray()
        lb = offset // bs
        last = (end - 1) // bs
        self._read_index(ino, lb, last)
        while lb <= last:
            phys = ino.get(lb)
            if phys == 0:
                out += bytes(bs)
                lb += 1
                continue
            run = 1  # read physically contiguous blocks in one access
            while lb + run <= last and ino.get(lb + run) == phys + run:
                run += 1
            out += self.disk.read_blocks(phys, run)
            lb += run
        skip = offset - (offset // bs) * bs
        return bytes(out[skip : skip + end - offset])

    # -- changes ---------------------------------------------------------------------------

    def _now(self) -> int:
        return (self._clock() if self._clock is not None else 0) & MAX_U32

    def create(self, name: str | bytes) -> None:
        """Create an empty file; an existing one is truncated to 0 bytes."""
        key = _norm_name(name)
        ino = self._files.get(key)
        if ino is not None:
            self._truncate(ino, 0)
            return
        slot = self._free_slot(key)
        ino = _Inode(slot, key, 0, self._now())
        self._slots[slot] = ino
        self._files[key] = ino
        self._write_entry(slot)

    def _free_slot(self, name: str) -> int:
        for slot, ino in enumerate(self._slots):
            if ino is None:
                return slot
        raise FsError(
            f"too many files: the directory is full ({self._lay.dir_entries} files), "
            f"cannot create {name!r}",
            code=TOO_MANY_FILES,
            name=name,
        )

    def truncate(self, name: str | bytes, size: int) -> None:
        """Set the file's size: shrinking frees blocks, growing leaves a hole (reads as zeros)."""
        ino = self._get(name)
        _check_int(size, "size", ino.name)
        if size > self._lay.max_file_size:
            raise FsError(
                f"file too large: {ino.name!r} cannot grow to {size} bytes "
                f"(maximum {self._lay.max_file_size})",
                code=TOO_LARGE,
                name=ino.name,
            )
        self._truncate(ino, size)

    def _truncate(self, ino: _Inode, size: int) -> None:
        bs, ppb = self._lay.block_size, self._lay.ppb
        if size < ino.size:
            keep = _ceil_div(size, bs)
            if size % bs and ino.get(keep - 1):
                # Keep the invariant "bytes past the end are zero" for a later extension.
                phys = ino.get(keep - 1)
                block = bytearray(self.disk.read_block(phys))
                block[size % bs :] = bytes(bs - size % bs)
                self.disk.write_block(phys, block)
            freed = [p for p in ino.blocks[keep:] if p]
            del ino.blocks[keep:]
            ino.trim()
            dirty: set[int] = set()
            if ino.ind:
                if not any(ino.blocks[N_DIRECT : N_DIRECT + ppb]):
                    freed.append(ino.ind)
                    ino.ind = 0
                elif keep < N_DIRECT + ppb:
                    dirty.add(_IND)
            if ino.dind:
                base = N_DIRECT + ppb
                for c, child in enumerate(ino.children):
                    if not child:
                        continue
                    lo = base + c * ppb
                    if not any(ino.blocks[lo : lo + ppb]):
                        freed.append(child)
                        ino.children[c] = 0
                        dirty.add(_DIND)
                    elif keep < lo + ppb:
                        dirty.add(c)
                if not any(ino.children):
                    freed.append(ino.dind)
                    ino.dind = 0
                    ino.children = []
                    dirty.discard(_DIND)
            ino.size = size
            ino.mtime = self._now()
            # Order: index blocks, directory entry, then the bitmap (a crash only leaks).
            self._write_index(ino, dirty)
            self._write_entry(ino.slot)
            for p in freed:
                self._mark(p, False)
            self._flush_bitmap()
        else:
            ino.size = size
            ino.mtime = self._now()
            self._write_entry(ino.slot)

    def remove(self, name: str | bytes) -> None:
        """Delete the file and free its blocks."""
        ino = self._get(name)
        freed = [p for p in ino.blocks if p] + ino.index_blocks()
        self._slots[ino.slot] = None
        del self._files[ino.name]
        self._write_entry(ino.slot)
        for p in freed:
            self._mark(p, False)
        self._flush_bitmap()

    def rename(self, old: str | bytes, new: str | bytes) -> None:
        """Give a file a new name; FsError(EXISTS) if the new name is taken."""
        ino = self._get(old)
        key = _norm_name(new)
        if key == ino.name:
            return
        if key in self._files:
            raise FsError(
                f"cannot rename {ino.name!r} to {key!r}: file exists", code=EXISTS, name=key
            )
        del self._files[ino.name]
        ino.name = key
        self._files[key] = ino
        self._write_entry(ino.slot)

    def write(self, name: str | bytes, offset: int, data: bytes | bytearray | memoryview) -> int:
        """Write `data` at `offset`, extending the file (a gap reads as zeros); returns len(data).

        Space is reserved before anything is written: on "disk full" nothing changes.
        """
        ino = self._get(name)
        _check_int(offset, "offset", ino.name)
        buf = bytes(data)
        n = len(buf)
        if n == 0:
            return 0
        end = offset + n
        lay = self._lay
        if end > lay.max_file_size:
            raise FsError(
                f"file too large: writing {n} bytes at offset {offset} to {ino.name!r} would pass "
                f"the maximum file size of {lay.max_file_size} bytes",
                code=TOO_LARGE,
                name=ino.name,
            )
        bs = lay.block_size
        first, last = offset // bs, (end - 1) // bs
        self._read_index(ino, first, last)
        missing = [lb for lb in range(first, last + 1) if ino.get(lb) == 0]
        need = len(missing) + self._index_blocks_needed(ino, missing)
        if need > self._free:
            raise FsError(
                f"disk full: writing {n} bytes to {ino.name!r} needs {need} more block(s) "
                f"of {bs} bytes, {self._free} free",
                code=DISK_FULL,
                name=ino.name,
            )

        # Allocate: next to the file's previous block if it has one, else next-fit.
        if missing:
            prev = ino.get(missing[0] - 1) if missing[0] > 0 else 0
            if prev == 0 and ino.blocks:
                prev = max(ino.blocks)
            if prev:
                self._cursor = prev + 1
        # Data blocks first, then the index blocks after them: the data stays contiguous.
        new: set[int] = set()
        for lb in missing:
            phys = self._alloc()
            ino.put(lb, phys)
            new.add(phys)
        dirty: set[int] = set()
        for lb in missing:
            self._map_index(ino, lb, dirty)

        # Data first, then bitmap, index blocks and the directory entry (a crash only leaks).
        lb = first
        while lb <= last:
            phys = ino.get(lb)
            lo = max(offset, lb * bs) - lb * bs
            hi = min(end, (lb + 1) * bs) - lb * bs
            pos = lb * bs + lo - offset
            if hi - lo < bs:  # a partial block: read, patch, write (a new block starts zeroed)
                block = bytearray(bs) if phys in new else bytearray(self.disk.read_block(phys))
                block[lo:hi] = buf[pos : pos + hi - lo]
                self.disk.write_block(phys, block)
                lb += 1
                continue
            run = 1  # whole blocks that lie one after the other on disk go in one access
            while (lb + run + 1) * bs <= end and ino.get(lb + run) == phys + run:
                run += 1
            self.disk.write_blocks(phys, buf[pos : pos + run * bs])
            lb += run
        self._flush_bitmap()
        self._write_index(ino, dirty)
        ino.size = max(ino.size, end)
        ino.mtime = self._now()
        self._write_entry(ino.slot)
        return n

    def install(self, name: str | bytes, data: bytes | bytearray | memoryview) -> None:
        """Create (or replace) a file holding exactly `data`; on error the old file is untouched."""
        key = _norm_name(name)
        buf = bytes(data)
        lay = self._lay
        if len(buf) > lay.max_file_size:
            raise FsError(
                f"file too large: {key!r} would be {len(buf)} bytes (maximum {lay.max_file_size})",
                code=TOO_LARGE,
                name=key,
            )
        old = self._files.get(key)
        if old is None:
            self._free_slot(key)  # raises if the directory is full
        nblk = _ceil_div(len(buf), lay.block_size)
        need = nblk + self._index_blocks_needed(_Inode(-1, key), range(nblk))
        have = self._free
        if old is not None:
            have += sum(1 for b in old.blocks if b) + len(old.index_blocks())
        if need > have:
            raise FsError(
                f"disk full: installing {len(buf)} bytes as {key!r} needs {need} block(s) "
                f"of {lay.block_size} bytes, {have} available",
                code=DISK_FULL,
                name=key,
            )
        self.create(key)
        self.write(key, 0, buf)

    # -- block maps and allocation ---------------------------------------------------------

    def _read_index(self, ino: _Inode, first: int, last: int) -> None:
        """Read the index blocks that map logical blocks first..last. The block map in memory
        is their decoded copy; reading them through the device charges the I/O (or the block
        cache's hit) of a file server that looks them up."""
        ppb = self._lay.ppb
        base = N_DIRECT + ppb
        if last < N_DIRECT:
            return
        wanted: list[int] = []
        if ino.ind and first < base:
            wanted.append(ino.ind)
        if ino.dind and last >= base:
            wanted.append(ino.dind)
            lo = (max(first, base) - base) // ppb
            hi = (last - base) // ppb
            wanted.extend(c for c in ino.children[lo : hi + 1] if c)
        for p in wanted:
            self.disk.read_block(p)

    def _index_blocks_needed(self, ino: _Inode, lbs: list[int] | range) -> int:
        """How many index blocks mapping logical blocks `lbs` would add to the file."""
        ppb = self._lay.ppb
        base = N_DIRECT + ppb
        need = 0
        if not ino.ind and any(N_DIRECT <= lb < base for lb in lbs):
            need += 1
        kids = {(lb - base) // ppb for lb in lbs if lb >= base}
        if kids:
            if not ino.dind:
                need += 1 + len(kids)
            else:
                need += sum(1 for c in kids if not ino.children[c])
        return need

    def _map_index(self, ino: _Inode, lb: int, dirty: set[int]) -> None:
        """Make sure the index blocks on logical block `lb`'s path exist; note which change."""
        ppb = self._lay.ppb
        base = N_DIRECT + ppb
        if N_DIRECT <= lb < base:
            if not ino.ind:
                ino.ind = self._alloc()
            dirty.add(_IND)
        elif lb >= base:
            c = (lb - base) // ppb
            if not ino.dind:
                ino.dind = self._alloc()
                ino.children = [0] * ppb
                dirty.add(_DIND)
            if not ino.children[c]:
                ino.children[c] = self._alloc()
                dirty.add(_DIND)
            dirty.add(c)

    def _alloc(self) -> int:
        lay = self._lay
        start = self._cursor if lay.data_start <= self._cursor < lay.nblocks else lay.data_start
        p = self._used.find(0, start)
        if p < 0:
            p = self._used.find(0, lay.data_start, start)
        if p < 0:  # callers reserve space first, so this is a bug
            raise AssertionError("allocation with no free block")
        self._mark(p, True)
        self._cursor = p + 1
        return p

    def _mark(self, p: int, used: bool) -> None:
        if bool(self._used[p]) == used:
            raise AssertionError(f"block {p} already {'used' if used else 'free'}")
        self._used[p] = int(used)
        bit = 0x80 >> (p & 7)
        if used:
            self._packed[p >> 3] |= bit
            self._free -= 1
        else:
            self._packed[p >> 3] &= ~bit & 0xFF
            self._free += 1
        self._dirty_bitmap.add((p >> 3) // self._lay.block_size)

    # -- write-through of metadata ---------------------------------------------------------

    def _flush_bitmap(self) -> None:
        bs = self._lay.block_size
        for i in sorted(self._dirty_bitmap):
            self.disk.write_block(self._lay.bitmap_start + i, self._packed[i * bs : (i + 1) * bs])
        self._dirty_bitmap.clear()

    def _write_index(self, ino: _Inode, dirty: set[int]) -> None:
        ppb = self._lay.ppb
        base = N_DIRECT + ppb

        def pack(ptrs: list[int]) -> bytes:
            return struct.pack(f">{ppb}I", *(ptrs + [0] * (ppb - len(ptrs))))

        for key in sorted(dirty):
            if key == _IND and ino.ind:
                self.disk.write_block(ino.ind, pack(ino.blocks[N_DIRECT:base]))
            elif key == _DIND and ino.dind:
                self.disk.write_block(ino.dind, pack(ino.children))
            elif key >= 0 and ino.dind and ino.children[key]:
                lo = base + key * ppb
                self.disk.write_block(ino.children[key], pack(ino.blocks[lo : lo + ppb]))

    def _write_entry(self, slot: int) -> None:
        """Write the directory block holding `slot` (entries never straddle blocks)."""
        bs = self._lay.block_size
        per_block = bs // ENTRY_SIZE
        first = (slot // per_block) * per_block
        raw = bytearray(bs)
        for s in range(first, min(first + per_block, self._lay.dir_entries)):
            ino = self._slots[s]
            if ino is not None:
                off = (s - first) * ENTRY_SIZE
                raw[off : off + ENTRY_SIZE] = ino.pack()
        self.disk.write_block(self._lay.dir_start + slot // per_block, raw)
