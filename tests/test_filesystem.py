"""Tests of the VFS1 file system: persistence, sparse files, disk full, corruption, and a model-based test."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from emulator.disk import Disk
from vkernel.filesystem import (
    BAD_NAME,
    CORRUPT,
    DISK_FULL,
    ENTRY_SIZE,
    EXISTS,
    NOT_FOUND,
    TOO_LARGE,
    TOO_MANY_FILES,
    FileSystem,
    FsError,
)

KB = 1024


def blob(n: int, seed: int = 1) -> bytes:
    return bytes((seed * 31 + i * 7 + (i >> 8)) & 0xFF for i in range(n))


def new_fs(size: int = 256 * KB, **kw) -> tuple[Disk, FileSystem]:
    block_size = kw.pop("block_size", 1024)
    disk = Disk(size, block_size=block_size)
    return disk, FileSystem.format(disk, **kw)


# -- format and mount ---------------------------------------------------------------------


def test_format_mount_round_trip() -> None:
    disk, fs = new_fs(1024 * KB, label="fileserver")
    assert fs.list() == [] and fs.check() == []
    assert fs.label == "fileserver" and fs.block_size == 1024 and fs.nblocks == 1024
    assert fs.max_files == 16
    # superblock + 1 bitmap block + 2 directory blocks (16 entries of 128 bytes)
    assert fs.free_bytes() == (1024 - 4) * KB
    again = FileSystem.mount(disk)
    assert again.label == "fileserver" and again.max_files == 16
    assert again.free_bytes() == fs.free_bytes() and again.list() == []
    raw = disk.read_block(0)
    assert raw[:4] == b"VFS1" and struct.unpack(">H", raw[4:6]) == (1,)
    assert struct.unpack(">I", raw[8:12]) == (1024,)  # big-endian block size


def test_files_persist_across_remount() -> None:
    disk, fs = new_fs()
    fs.install("bin/hello", blob(5000))
    fs.create("empty")
    fs.create("notes.txt")
    fs.write("notes.txt", 0, b"hello, V")
    again = FileSystem.mount(disk)
    assert again.list() == ["bin/hello", "empty", "notes.txt"]
    assert again.read("bin/hello", 0, 10_000) == blob(5000)
    assert again.size("empty") == 0 and again.read("empty", 0, 10) == b""
    assert again.read("notes.txt", 7, 100) == b"V"
    assert again.check() == []


def test_files_persist_in_an_image_file(tmp_path) -> None:
    path = tmp_path / "fs.img"
    with Disk(512 * KB, path) as disk:
        fs = FileSystem.format(disk, label="img")
        fs.install("bin/big", blob(300 * KB, seed=3))  # uses the double-indirect block
        fs.install("etc/motd", b"Welcome to V\n")
    with Disk(None, path) as disk:
        fs = FileSystem.mount(disk)
        assert fs.label == "img" and fs.list() == ["bin/big", "etc/motd"]
        assert fs.read("bin/big", 0, 400 * KB) == blob(300 * KB, seed=3)
        assert fs.read("etc/motd", 0, 100) == b"Welcome to V\n"
        assert fs.stat("bin/big")["index_blocks"] == 3  # indirect, double, one child
        fs.remove("etc/motd")
        assert fs.check() == []
    with Disk(512 * KB, path) as disk:
        assert FileSystem.mount(disk).list() == ["bin/big"]


# -- reading and writing -----------------------------------------------------------------


def test_write_at_offsets_sparse_growth_and_read_past_end() -> None:
    disk, fs = new_fs()
    fs.create("f")
    assert fs.write("f", 0, b"abc") == 3
    assert fs.write("f", 1, b"XY") == 2
    assert fs.read("f", 0, 10) == b"aXY"
    fs.write("f", 10_000, b"end")  # leaves a hole
    assert fs.size("f") == 10_003
    data = fs.read("f", 0, 20_000)
    assert data == b"aXY" + bytes(10_000 - 3) + b"end"
    st_ = fs.stat("f")
    assert st_["blocks"] == 2  # block 0 and block 9; blocks 1..8 are a hole
    assert fs.read("f", 10_001, 100) == b"nd"  # short read at end
    assert fs.read("f", 10_003, 100) == b""  # at end
    assert fs.read("f", 99_999, 1) == b""  # past end
    assert fs.read("f", 5, 0) == b""
    fs.write("f", 4000, b"mid")  # fills part of the hole
    assert fs.read("f", 3998, 7) == b"\0\0mid\0\0"
    assert fs.write("f", 50_000, b"") == 0 and fs.size("f") == 10_003  # empty write: no change
    assert FileSystem.mount(disk).read("f", 0, 20_000) == fs.read("f", 0, 20_000)
    assert fs.check() == []


def test_large_file_through_all_index_levels() -> None:
    # 512-byte blocks: 15 direct, 128 indirect, then double indirect (from 73,216 bytes).
    disk, fs = new_fs(512 * KB, block_size=512)
    data = blob(200 * KB, seed=9)
    fs.install("big", data)
    assert fs.read("big", 0, len(data)) == data
    assert fs.read("big", 73_000, 1000) == data[73_000:74_000]
    fs.write("big", 70_000, b"Z" * 10_000)  # across the indirect/double boundary
    expect = data[:70_000] + b"Z" * 10_000 + data[80_000:]
    assert FileSystem.mount(disk).read("big", 0, len(data)) == expect
    assert fs.check() == []


def test_truncate_shrinks_grows_and_zeroes_the_tail() -> None:
    _, fs = new_fs()
    fs.install("t", b"\xff" * 5000)
    before = fs.free_bytes()
    fs.truncate("t", 100)
    assert fs.size("t") == 100 and fs.free_bytes() == before + 4 * KB
    fs.truncate("t", 3000)  # grows: the old bytes past 100 must not come back
    assert fs.read("t", 0, 3000) == b"\xff" * 100 + bytes(2900)
    fs.create("t")  # create truncates
    assert fs.size("t") == 0 and fs.stat("t")["blocks"] == 0
    assert fs.check() == []


def test_truncate_through_all_index_levels() -> None:
    # 512-byte blocks: a child of the double-indirect block maps 128 blocks (64 KB).
    disk, fs = new_fs(512 * KB, block_size=512)
    empty = fs.free_bytes()
    data = blob(250 * KB, seed=4)
    fs.install("big", data)
    assert fs.stat("big")["index_blocks"] == 1 + 1 + 3  # indirect, double, 3 children
    for size, index_blocks in [
        (200 * KB, 5),  # inside the third child
        (150 * KB, 4),  # inside the second child: the third goes
        (80 * KB, 3),  # inside the first child
        (70 * KB, 1),  # inside the indirect range: double and children go
        (7 * KB, 0),  # direct blocks only
        (0, 0),
    ]:
        fs.truncate("big", size)
        assert fs.stat("big")["index_blocks"] == index_blocks, size
        assert fs.check() == [], size
        again = FileSystem.mount(disk)
        assert again.read("big", 0, 300 * KB) == data[:size]
        assert again.free_bytes() == fs.free_bytes()
    assert fs.free_bytes() == empty
    fs.write("big", 120 * KB, b"tail")  # regrow sparsely: no stale pointers come back
    assert fs.read("big", 0, 200 * KB) == bytes(120 * KB) + b"tail"
    assert fs.stat("big")["blocks"] == 1 and fs.check() == []


def test_contiguous_file_reads_in_one_sequential_sweep() -> None:
    disk, fs = new_fs(1024 * KB)
    fs.install("bin/prog", blob(100 * KB))
    assert fs.block_map("bin/prog") == list(range(4, 104))  # contiguous after the metadata
    assert fs.stat("bin/prog")["index_blocks"] == 1  # the indirect block, after the data
    disk.reset_counters()
    assert fs.read("bin/prog", 0, 100 * KB) == blob(100 * KB)
    # the indirect block (it maps blocks 15..99), then the data in one access
    assert disk.reads == 101 and disk.accesses == 2
    fs.install("bin/next", blob(KB))
    assert fs.block_map("bin/next") == [105]  # next-fit: right after bin/prog's indirect block


def test_remove_frees_space() -> None:
    disk, fs = new_fs()
    empty = fs.free_bytes()
    fs.install("a", blob(40 * KB))
    fs.install("b", blob(3 * KB))
    assert fs.free_bytes() == empty - (40 + 1 + 3) * KB  # 40 data + 1 indirect + 3 data
    fs.remove("a")
    assert fs.free_bytes() == empty - 3 * KB
    assert not fs.exists("a") and fs.list() == ["b"]
    with pytest.raises(FsError, match="no such file: 'a'"):
        fs.read("a", 0, 1)
    fs.remove("b")
    assert fs.free_bytes() == empty
    assert FileSystem.mount(disk).free_bytes() == empty


def test_reused_blocks_never_show_old_data() -> None:
    _, fs = new_fs(64 * KB)
    fs.install("old", b"\xee" * (fs.free_bytes() - KB))  # every data block (and 1 indirect)
    assert fs.free_bytes() == 0
    fs.remove("old")
    fs.create("new")
    fs.write("new", 5000, b"x")  # lands in a block that held 0xee
    fs.write("new", 20_000, b"y")
    assert fs.read("new", 0, 30_000) == bytes(5000) + b"x" + bytes(14_999) + b"y"


def test_interleaved_files() -> None:
    disk, fs = new_fs()
    fs.create("a")
    fs.create("b")
    for i in range(20):  # a and b alternate on disk
        fs.write("a", i * 1500, blob(1500, seed=i))
        fs.write("b", i * 1500, blob(1500, seed=100 + i))
    expect_a = b"".join(blob(1500, seed=i) for i in range(20))
    expect_b = b"".join(blob(1500, seed=100 + i) for i in range(20))
    assert fs.read("a", 0, 40_000) == expect_a and fs.read("b", 0, 40_000) == expect_b
    again = FileSystem.mount(disk)
    assert again.read("a", 700, 20_000) == expect_a[700:20_700]
    again.write("a", 0, blob(30_000, seed=77))  # one write over scattered blocks
    assert again.read("a", 0, 40_000) == blob(30_000, seed=77)
    assert again.read("b", 0, 40_000) == expect_b
    assert again.check() == []


def test_rename() -> None:
    disk, fs = new_fs()
    fs.install("old", b"data")
    fs.install("other", b"x")
    fs.rename("old", "new")
    assert fs.list() == ["new", "other"] and fs.read("new", 0, 9) == b"data"
    with pytest.raises(FsError) as err:
        fs.rename("new", "other")
    assert err.value.code == EXISTS
    assert FileSystem.mount(disk).list() == ["new", "other"]


def test_mtime_from_clock() -> None:
    now = [1000]
    disk = Disk(64 * KB)
    fs = FileSystem.format(disk, clock=lambda: now[0])
    fs.create("f")
    now[0] = 2000
    fs.write("f", 0, b"x")
    assert fs.stat("f")["mtime"] == 2000
    assert FileSystem.mount(disk).stat("f")["mtime"] == 2000


# -- errors ------------------------------------------------------------------------------


def test_disk_full_changes_nothing() -> None:
    disk, fs = new_fs(64 * KB, max_files=8)  # 64 blocks: 1 super, 1 bitmap, 1 directory
    fs.install("keep", blob(10 * KB, seed=5))
    fs.install("grow", b"start")
    free = fs.free_bytes()
    with pytest.raises(FsError, match="disk full: .*'grow'") as err:
        fs.write("grow", 100, blob(free))  # needs one more block than there is
    assert err.value.code == DISK_FULL and err.value.name == "grow"
    assert fs.free_bytes() == free and fs.size("grow") == 5
    with pytest.raises(FsError, match="disk full"):
        fs.install("new", blob(free + 1))
    assert not fs.exists("new")
    with pytest.raises(FsError, match="disk full"):
        fs.install("keep", blob(free + 11 * KB))  # replacing frees 10 blocks: still too big
    assert fs.read("keep", 0, 20 * KB) == blob(10 * KB, seed=5)
    assert fs.check() == []
    again = FileSystem.mount(disk)
    assert again.read("keep", 0, 20 * KB) == blob(10 * KB, seed=5)
    assert again.read("grow", 0, 100) == b"start" and again.free_bytes() == free
    # Filling the disk exactly works, then one more byte in a new block does not.
    blocks_left = free // KB
    fs.write("grow", KB, blob((blocks_left - 1) * KB))  # direct blocks + 1 indirect block
    assert fs.free_bytes() == 0
    with pytest.raises(FsError, match="disk full"):
        fs.write("grow", fs.size("grow"), b"!")
    assert fs.check() == [] and FileSystem.mount(disk).check() == []


def test_too_many_files() -> None:
    _, fs = new_fs(max_files=8)
    for i in range(8):
        fs.create(f"f{i}")
    with pytest.raises(FsError, match="too many files.*'f8'") as err:
        fs.create("f8")
    assert err.value.code == TOO_MANY_FILES
    with pytest.raises(FsError, match="too many files"):
        fs.install("f9", b"x")
    fs.create("f3")  # truncating an existing file needs no new entry
    fs.remove("f0")
    fs.create("f8")
    assert len(fs.list()) == 8 and fs.check() == []


@pytest.mark.parametrize("name", ["", "a" * 48, "has space", "tab\t", "é", "a:b", b"\xff"])
def test_bad_names(name: str | bytes) -> None:
    _, fs = new_fs()
    with pytest.raises(FsError, match="bad name") as err:
        fs.create(name)  # type: ignore[arg-type]
    assert err.value.code == BAD_NAME
    assert fs.list() == []


def test_good_names() -> None:
    _, fs = new_fs()
    longest = "x" * 47
    for name in [longest, "bin/cc68", "a.b-c_d", "Z9", "/abs"]:
        fs.create(name)
    fs.create(b"from/bytes")
    assert fs.exists("from/bytes") and fs.exists(longest)


def test_missing_file_errors_name_the_file() -> None:
    _, fs = new_fs()
    for call in (
        lambda: fs.read("ghost", 0, 1),
        lambda: fs.write("ghost", 0, b"x"),
        lambda: fs.size("ghost"),
        lambda: fs.stat("ghost"),
        lambda: fs.remove("ghost"),
        lambda: fs.truncate("ghost", 0),
    ):
        with pytest.raises(FsError, match="no such file: 'ghost'") as err:
            call()
        assert err.value.code == NOT_FOUND and err.value.name == "ghost"
    assert not fs.exists("ghost")


def test_bad_arguments_and_too_large() -> None:
    _, fs = new_fs()
    fs.create("f")
    with pytest.raises(FsError, match="bad offset -1 for 'f'"):
        fs.read("f", -1, 1)
    with pytest.raises(FsError, match="bad count"):
        fs.read("f", 0, -5)
    with pytest.raises(FsError, match="file too large") as err:
        fs.write("f", fs.max_file_size, b"x")
    assert err.value.code == TOO_LARGE
    assert fs.size("f") == 0 and fs.check() == []


# -- corruption --------------------------------------------------------------------------


def corrupt_superblock(disk: Disk, offset: int, value: bytes) -> None:
    raw = bytearray(disk.read_block(0))
    raw[offset : offset + len(value)] = value
    disk.write_block(0, raw)


def test_mount_unformatted_disk() -> None:
    with pytest.raises(FsError, match=r"not a VFS1 file system: bad magic b'\\x00\\x00\\x00\\x00'"):
        FileSystem.mount(Disk(64 * KB))


def test_mount_bad_magic() -> None:
    disk, _ = new_fs()
    corrupt_superblock(disk, 0, b"EXT2")
    with pytest.raises(FsError, match="bad magic b'EXT2'") as err:
        FileSystem.mount(disk)
    assert err.value.code == CORRUPT


def test_mount_bad_checksum() -> None:
    disk, _ = new_fs()
    corrupt_superblock(disk, 12, b"\x00\x00\x99\x99")  # nblocks
    with pytest.raises(FsError, match="corrupt superblock: checksum mismatch"):
        FileSystem.mount(disk)


def test_mount_bad_version() -> None:
    disk, _ = new_fs()
    corrupt_superblock(disk, 4, b"\x00\x07")
    with pytest.raises(FsError, match="unsupported VFS1 version 7"):
        FileSystem.mount(disk)


def test_mount_wrong_block_size() -> None:
    disk, _ = new_fs(64 * KB)
    other = Disk(64 * KB, block_size=512)
    other.write_blocks(0, disk.read_blocks(0, 64))
    with pytest.raises(FsError, match="block size 1024 but the disk's blocks are 512"):
        FileSystem.mount(other)


def test_mount_truncated_disk() -> None:
    disk, _ = new_fs(128 * KB)
    small = Disk(64 * KB)
    small.write_blocks(0, disk.read_blocks(0, 64))
    with pytest.raises(FsError, match="128 blocks on a disk of only 64"):
        FileSystem.mount(small)


def test_mount_refuses_cross_linked_blocks() -> None:
    disk, fs = new_fs(max_files=8)
    fs.install("a", blob(2 * KB))
    fs.install("b", blob(2 * KB))
    a0 = fs.block_map("a")[0]
    dir_block = bytearray(disk.read_block(fs._lay.dir_start))
    struct.pack_into(">I", dir_block, ENTRY_SIZE + 60, a0)  # b's first block := a's
    disk.write_block(fs._lay.dir_start, dir_block)
    with pytest.raises(FsError, match=f"block {a0} is used by both 'a' and 'b'"):
        FileSystem.mount(disk)


def test_mount_refuses_pointer_outside_data_area() -> None:
    disk, fs = new_fs(max_files=8)
    fs.install("a", blob(2 * KB))
    dir_block = bytearray(disk.read_block(fs._lay.dir_start))
    struct.pack_into(">I", dir_block, 60, 0)  # hole: fine
    struct.pack_into(">I", dir_block, 64, 1)  # points into the bitmap
    disk.write_block(fs._lay.dir_start, dir_block)
    with pytest.raises(FsError, match="'a' points to block 1, outside the data area"):
        FileSystem.mount(disk)


def test_leaked_block_is_tolerated_and_reported() -> None:
    disk, fs = new_fs()
    fs.install("a", blob(KB))
    bitmap = bytearray(disk.read_block(1))
    bitmap[20] = 0xFF  # blocks 160..167 marked used, referenced by nobody
    disk.write_block(1, bitmap)
    again = FileSystem.mount(disk)
    assert again.read("a", 0, KB) == blob(KB)
    problems = again.check()
    assert len(problems) == 1 and "leaked" in problems[0]


# -- model-based test --------------------------------------------------------------------

NAME_LIST = ["a", "bin/b", "c.txt", "d-1", "e_2", "f"]
NAMES = st.sampled_from(NAME_LIST)
EXISTING = st.booleans()  # aim at a file that exists (most of the time) or at `name` as drawn
MAX_FILES = 4
BLOCK = 512


class FileSystemModel(RuleBasedStateMachine):
    """Random create/write/read/truncate/remove/install/rename/remount vs a dict of bytes.

    A 64 KB disk of 512-byte blocks with offsets up to 100 KB: files are sparse, reach the
    double-indirect level, the disk fills up, and the directory (4 entries) overflows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.disk = Disk(64 * KB, block_size=BLOCK)
        self.fs = FileSystem.format(self.disk, max_files=MAX_FILES)
        self.model: dict[str, bytearray] = {}

    def _pick(self, name: str, existing: bool) -> str:
        if existing and self.model:
            return sorted(self.model)[NAME_LIST.index(name) % len(self.model)]
        return name

    def _missing(self, name: str, call) -> bool:
        if name in self.model:
            return False
        with pytest.raises(FsError, match=f"no such file: '{name}'"):
            call()
        return True

    @rule(name=NAMES)
    def create(self, name: str) -> None:
        if name not in self.model and len(self.model) >= MAX_FILES:
            with pytest.raises(FsError, match="too many files"):
                self.fs.create(name)
            event("create: too many files")
            return
        self.fs.create(name)
        self.model[name] = bytearray()

    @rule(
        name=NAMES,
        existing=EXISTING,
        offset=st.integers(0, 100 * KB),
        data=st.binary(max_size=3000),
    )
    def write(self, name: str, existing: bool, offset: int, data: bytes) -> None:
        name = self._pick(name, existing)
        if self._missing(name, lambda: self.fs.write(name, offset, data)):
            return
        free = self.fs.free_bytes() // BLOCK
        try:
            assert self.fs.write(name, offset, data) == len(data)
        except FsError as err:
            assert err.code == DISK_FULL, err
            event("write: disk full")
            spanned = (offset + len(data) - 1) // BLOCK - offset // BLOCK + 1
            assert free < spanned + 4  # data blocks plus at most a few index blocks
            assert self.fs.free_bytes() // BLOCK == free
            return
        if data:
            content = self.model[name]
            if len(content) < offset:
                content.extend(bytes(offset - len(content)))
            content[offset : offset + len(data)] = data

    @rule(
        name=NAMES,
        existing=EXISTING,
        offset=st.integers(0, 100 * KB),
        size=st.integers(1, 4 * KB) | st.integers(16 * KB, 40 * KB),
        seed=st.integers(0, 255),
    )
    def write_big(self, name: str, existing: bool, offset: int, size: int, seed: int) -> None:
        self.write(name, existing, offset, blob(size, seed))

    @rule(
        name=NAMES,
        existing=EXISTING,
        offset=st.integers(0, 110 * KB),
        count=st.integers(0, 8000),
    )
    def read(self, name: str, existing: bool, offset: int, count: int) -> None:
        name = self._pick(name, existing)
        if self._missing(name, lambda: self.fs.read(name, offset, count)):
            return
        assert self.fs.read(name, offset, count) == bytes(self.model[name][offset : offset + count])

    @rule(name=NAMES, existing=EXISTING, size=st.integers(0, 100 * KB))
    def truncate(self, name: str, existing: bool, size: int) -> None:
        name = self._pick(name, existing)
        if self._missing(name, lambda: self.fs.truncate(name, size)):
            return
        self.fs.truncate(name, size)
        content = self.model[name]
        del content[size:]
        content.extend(bytes(size - len(content)))

    @rule(name=NAMES)
    def remove(self, name: str) -> None:
        if self._missing(name, lambda: self.fs.remove(name)):
            return
        free = self.fs.free_bytes()
        self.fs.remove(name)
        del self.model[name]
        assert self.fs.free_bytes() >= free

    @rule(
        name=NAMES,
        size=st.integers(0, 2 * KB) | st.integers(16 * KB, 64 * KB),
        seed=st.integers(0, 255),
    )
    def install(self, name: str, size: int, seed: int) -> None:
        data = blob(size, seed)
        try:
            self.fs.install(name, data)
        except FsError as err:
            if name not in self.model and len(self.model) >= MAX_FILES:
                assert err.code == TOO_MANY_FILES, err
            else:
                assert err.code == DISK_FULL, err
                event("install: disk full")
            return
        self.model[name] = bytearray(data)

    @rule(old=NAMES, new=NAMES)
    def rename(self, old: str, new: str) -> None:
        if self._missing(old, lambda: self.fs.rename(old, new)):
            return
        if new in self.model and new != old:
            with pytest.raises(FsError, match="file exists"):
                self.fs.rename(old, new)
            return
        self.fs.rename(old, new)
        self.model[new] = self.model.pop(old)

    @rule()
    def remount(self) -> None:
        self.fs = FileSystem.mount(self.disk)

    @invariant()
    def matches_model(self) -> None:
        assert self.fs.list() == sorted(self.model)
        for name, content in self.model.items():
            if self.fs.stat(name)["index_blocks"] >= 3:
                event("a file uses its double indirect block")
            assert self.fs.size(name) == len(content)
            assert self.fs.read(name, 0, len(content) + 10) == bytes(content)

    @invariant()
    def consistent_on_disk(self) -> None:
        assert self.fs.check() == []


FileSystemModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_filesystem_model = FileSystemModel.TestCase
