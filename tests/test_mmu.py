"""Tests of emulator.mmu and emulator.memory: modified/referenced bits, protection, checks, contexts, frames."""

from __future__ import annotations

import pytest

from emulator.cpu import Cpu, Registers, Stop
from emulator.memory import FrameAllocator, OutOfMemory
from emulator.mmu import GuestAddressError, Mmu, PageEntry, Prot

RX = Prot.READ | Prot.EXEC
RW = Prot.READ | Prot.WRITE
PAGE = Mmu.PAGE_SIZE

# move.l d0,(a0); move.l d0,(a1); trap #0; move.l (a2),d1; trap #0; move.l d0,(a2); trap #0
WRITER = bytes.fromhex("208022804e4022124e4024804e40")
# move.l d0,0x3000.w; trap #0
STORE_3000 = bytes.fromhex("21c030004e40")


class Box:
    """A Cpu, frames, one context with code at 0x1000."""

    def __init__(self, code: bytes) -> None:
        self.cpu = Cpu(1024 * 1024)
        self.mmu = self.cpu.mmu
        self.frames = FrameAllocator(256, reserved=1)
        self.ctx = self.mmu.create_context()
        self.map(self.ctx, 1, RX, code)

    def map(self, ctx: int, vpage: int, prot: Prot, content: bytes = b"") -> int:
        frame = self.frames.alloc()
        self.cpu.phys_write(frame * PAGE, content + bytes(PAGE - len(content)))
        self.mmu.map(ctx, vpage, frame, prot)
        return frame

    def start(self, ctx: int | None = None, **regs: int) -> None:
        ctx = self.ctx if ctx is None else ctx
        self.mmu.switch(ctx)
        r = Registers.initial(0x1000, 0)
        for name, value in regs.items():
            (r.a if name[0] == "a" else r.d)[int(name[1])] = value
        self.cpu.write_registers(r)

    def trap(self) -> None:
        r = self.cpu.run(1000)
        assert r.stop is Stop.TRAP, r


def test_modified_bits_exact_across_clears():
    b = Box(WRITER)
    for vpage in (0x10, 0x11, 0x12):
        b.map(b.ctx, vpage, RW)
    assert b.mmu.modified_pages(b.ctx) == []  # loading through physical memory marks nothing
    b.start(a0=0x10000, a1=0x12FFC, a2=0x11000, d0=0xDEADBEEF)
    b.trap()
    assert b.mmu.modified_pages(b.ctx) == [0x10, 0x12]
    b.mmu.clear_modified(b.ctx)
    assert b.mmu.modified_pages(b.ctx) == []
    b.trap()  # reads page 0x11 only
    assert b.mmu.modified_pages(b.ctx) == []
    assert b.mmu.entry(b.ctx, 0x11).referenced
    b.trap()  # writes page 0x11
    assert b.mmu.modified_pages(b.ctx) == [0x11]
    assert b.mmu.read(b.ctx, 0x11000, 4) == bytes.fromhex("deadbeef")


def test_clean_page_first_write_fills_again():
    b = Box(WRITER)
    page = 0x10
    b.map(b.ctx, page, RW)
    b.map(b.ctx, 0x11, RW)
    entry = b.mmu.entry(b.ctx, page)
    assert entry == PageEntry(page, entry.frame, RW, referenced=False, modified=False)
    # first pass writes 0x10 twice (a0 and a1 on the same page)
    b.start(a0=0x10000, a1=0x10004, a2=0x11000)
    fills = b.cpu.stats()["tlb_fills"]
    b.trap()
    e = b.mmu.entry(b.ctx, page)
    assert e.referenced and e.modified
    assert b.cpu.stats()["tlb_fills"] - fills >= 2  # the code page and the written page
    b.mmu.clear_modified(b.ctx, [page])
    assert not b.mmu.entry(b.ctx, page).modified
    assert b.mmu.entry(b.ctx, page).referenced  # clearing one bit keeps the other


def test_referenced_bits():
    b = Box(WRITER)
    for vpage in (0x10, 0x11, 0x12):
        b.map(b.ctx, vpage, RW)
    b.start(a0=0x10000, a1=0x10000, a2=0x11000)
    b.trap()
    assert b.mmu.referenced_pages(b.ctx) == [0x1, 0x10]
    b.mmu.clear_referenced(b.ctx)
    assert b.mmu.referenced_pages(b.ctx) == []
    b.trap()  # the read of 0x11 (and the code, again)
    assert b.mmu.referenced_pages(b.ctx) == [0x1, 0x11]


def test_host_write_errors_are_atomic():
    b = Box(WRITER)
    b.map(b.ctx, 0x10, RW)
    b.map(b.ctx, 0x20, Prot.READ)
    with pytest.raises(GuestAddressError) as err:
        b.mmu.write(b.ctx, 0x10FFE, b"abcd")  # the second page is not mapped
    assert err.value.vaddr == 0x11000
    assert b.mmu.read(b.ctx, 0x10FFE, 2) == b"\0\0"  # nothing written
    assert b.mmu.modified_pages(b.ctx) == []
    with pytest.raises(GuestAddressError):
        b.mmu.write(b.ctx, 0x20000, b"x")  # read-only
    b.mmu.write(b.ctx, 0x20000, b"x", force=True)  # the loader may
    b.mmu.write(b.ctx, 0x10FFC, b"wxyz")
    assert b.mmu.modified_pages(b.ctx) == [0x10, 0x20]
    assert b.mmu.read(b.ctx, 0x10FFC, 4) == b"wxyz"
    with pytest.raises(GuestAddressError):
        b.mmu.read(b.ctx, 0x30000, 1)


def test_host_write_then_guest_sees_it_and_writes_are_tracked():
    b = Box(STORE_3000)
    b.map(b.ctx, 3, RW)
    b.start(d0=0x01020304)
    b.mmu.write(b.ctx, 0x3004, b"host")
    b.mmu.clear_modified(b.ctx)
    b.trap()
    assert b.mmu.modified_pages(b.ctx) == [3]
    assert b.mmu.read(b.ctx, 0x3000, 8) == b"\x01\x02\x03\x04host"


def test_check_is_the_pointer_validation():
    b = Box(WRITER)
    b.map(b.ctx, 0x10, RW)
    b.map(b.ctx, 0x11, RW)
    mmu, ctx = b.mmu, b.ctx
    assert mmu.check(ctx, 0x10000, 0x2000, write=True)
    assert not mmu.check(ctx, 0x10000, 0x2001, write=False)
    assert mmu.check(ctx, 0x1000, 16, write=False)
    assert not mmu.check(ctx, 0x1000, 16, write=True)  # text
    assert not mmu.check(ctx, 0, 1, write=False)
    assert mmu.check(ctx, 0x123456, 0, write=True)  # empty ranges are fine
    assert not mmu.check(ctx, 0xFFFFFF, 2, write=False)  # beyond 16 MB
    assert not mmu.check(ctx, -4, 4, write=False)


def test_guest_faults_on_protection_and_unmapped():
    b = Box(WRITER)
    b.map(b.ctx, 0x10, Prot.READ)
    b.start(a0=0x10000)
    r = b.cpu.run(100)
    assert (r.stop, r.fault_access, r.fault_kind, r.fault_address) == (
        Stop.FAULT,
        "write",
        "protection",
        0x10000,
    )
    assert not b.mmu.entry(b.ctx, 0x10).modified
    b.mmu.protect(b.ctx, 0x10, RW)
    b.start(a0=0x10000, a1=0x40000)
    r = b.cpu.run(100)
    assert (r.stop, r.fault_access, r.fault_kind, r.fault_address) == (
        Stop.FAULT,
        "write",
        "unmapped",
        0x40000,
    )
    assert r.executed == 1
    assert b.mmu.modified_pages(b.ctx) == [0x10]


def test_contexts_are_isolated():
    b = Box(STORE_3000)
    ctx2 = b.mmu.create_context()
    f2 = b.map(ctx2, 1, RX, STORE_3000)
    d1 = b.map(b.ctx, 3, RW)
    d2 = b.map(ctx2, 3, RW)
    assert f2 != b.mmu.entry(b.ctx, 1).frame and d1 != d2
    b.start(d0=0x11111111)
    b.trap()
    b.start(ctx2, d0=0x22222222)
    b.trap()
    assert b.mmu.read(b.ctx, 0x3000, 4) == b"\x11" * 4
    assert b.mmu.read(ctx2, 0x3000, 4) == b"\x22" * 4
    assert b.cpu.phys_read(d1 * PAGE, 4) == b"\x11" * 4
    assert b.mmu.modified_pages(b.ctx) == [3] and b.mmu.modified_pages(ctx2) == [3]
    # back to the first: its TLB entries were flushed, the old translation is gone
    b.mmu.clear_modified(ctx2)
    b.start(d0=0x33333333)
    b.trap()
    assert b.mmu.read(b.ctx, 0x3000, 4) == b"\x33" * 4
    assert b.mmu.read(ctx2, 0x3000, 4) == b"\x22" * 4
    assert b.mmu.modified_pages(ctx2) == []
    # a page unmapped from the current context faults at once (the TLB is flushed)
    b.frames.free(b.mmu.unmap(b.ctx, 3))
    b.start(d0=1)
    r = b.cpu.run(100)
    assert r.stop is Stop.FAULT and r.fault_address == 0x3000


def test_mapping_rules_and_context_lifecycle():
    b = Box(WRITER)
    mmu = b.mmu
    with pytest.raises(ValueError):
        mmu.map(b.ctx, 5, 7, Prot.READ | Prot.WRITE | Prot.EXEC)  # W^X
    with pytest.raises(ValueError):
        mmu.map(b.ctx, 0, 7, RX)  # address 0 is the engine's stop address
    mmu.map(b.ctx, 0, 7, Prot.READ)  # readable is fine
    mmu.unmap(b.ctx, 0)
    with pytest.raises(ValueError):
        mmu.map(b.ctx, 4096, 7, Prot.READ)
    with pytest.raises(ValueError):
        mmu.map(b.ctx, 5, 10_000, Prot.READ)
    with pytest.raises(KeyError):
        mmu.unmap(b.ctx, 5)
    assert mmu.entry(b.ctx, 5) is None and mmu.translate(b.ctx, 0x5000) is None
    frame = b.map(b.ctx, 5, RW)
    assert mmu.translate(b.ctx, 0x5123) == frame * PAGE + 0x123
    assert mmu.mapped_pages(b.ctx) == [1, 5]
    ctx2 = mmu.create_context()
    assert ctx2 != b.ctx and mmu.mapped_pages(ctx2) == []
    mmu.switch(ctx2)
    assert mmu.current == ctx2
    mmu.destroy_context(ctx2)
    assert mmu.current is None
    with pytest.raises(KeyError):
        mmu.entry(ctx2, 1)


def test_frame_allocator():
    fa = FrameAllocator(8, reserved=2)
    assert fa.free_count == 6 and fa.used_count == 0
    got = [fa.alloc() for _ in range(6)]
    assert got == [2, 3, 4, 5, 6, 7]
    with pytest.raises(OutOfMemory):
        fa.alloc()
    fa.free(4)
    assert fa.alloc() == 4
    fa.free(4)
    with pytest.raises(ValueError):
        fa.free(4)
    with pytest.raises(ValueError):
        fa.free(1)  # reserved
    assert fa.used_count == 5 and fa.free_count == 1


def test_unmap_all_removes_every_page_with_one_flush():
    b = Box(STORE_3000)
    data = b.map(b.ctx, 3, RW)
    b.start()
    b.trap()  # the store went through: the engine's TLB holds page 3 writable
    code = b.mmu.entry(b.ctx, 1).frame
    flushes = b.cpu.stats()["tlb_flushes"]
    assert sorted(b.mmu.unmap_all(b.ctx)) == sorted([code, data])
    assert b.mmu.mapped_pages(b.ctx) == [] and b.cpu.stats()["tlb_flushes"] == flushes + 1
    b.map(b.ctx, 1, RX, STORE_3000)  # the same code again, and page 3 gone
    b.cpu.write_registers(Registers.initial(0x1000, 0))
    r = b.cpu.run(100)
    assert (r.stop, r.fault_access, r.fault_kind, r.fault_address) == (
        Stop.FAULT,
        "write",
        "unmapped",
        0x3000,
    )


def test_a_copy_on_write_page_faults_on_the_cpus_first_write_and_saves_on_the_hosts():
    """The checkpoint's cut (issue 16): a guest store to a copy-on-write page stops with kind
    "copy-on-write" before it writes (the page still holds the cut's bytes; after release_cow the
    same store goes through); a host store, remap or unmap calls on_cow first; unmap_all drops."""
    b = Box(STORE_3000)
    frame = b.map(b.ctx, 3, RW, b"cut!")
    b.map(b.ctx, 4, RW, b"four")
    b.map(b.ctx, 5, RW, b"five")
    saved: list[tuple[int, bytes]] = []

    def on_cow(ctx: int, vpage: int) -> None:
        entry = b.mmu.entry(ctx, vpage)
        saved.append((vpage, b.cpu.phys_read(entry.frame * PAGE, 4)))
        b.mmu.release_cow(ctx, vpage)

    b.mmu.on_cow = on_cow
    b.mmu.copy_on_write(b.ctx, [3, 4, 5])
    assert all(b.mmu.is_cow(b.ctx, vp) for vp in (3, 4, 5))
    b.start(d0=0x41424344)
    r = b.cpu.run(1000)
    assert r.stop is Stop.FAULT and r.fault_kind == "copy-on-write" and r.fault_address == 0x3000
    assert b.cpu.phys_read(frame * PAGE, 4) == b"cut!"  # not written yet
    assert b.mmu.modified_pages(b.ctx) == []
    b.mmu.break_cow(b.ctx, 3)
    assert saved == [(3, b"cut!")] and not b.mmu.is_cow(b.ctx, 3)
    b.trap()  # the same store, run again, goes through
    assert b.cpu.phys_read(frame * PAGE, 4) == b"ABCD" and b.mmu.modified_pages(b.ctx) == [3]
    b.mmu.write(b.ctx, 0x4000, b"FOUR")  # a host store (a syscall's result, a MoveTo)
    assert saved[-1] == (4, b"four") and b.mmu.read(b.ctx, 0x4000, 4) == b"FOUR"
    b.mmu.copy_on_write(b.ctx, [5])
    b.mmu.unmap_all(b.ctx)  # the whole team goes: nothing to save
    assert [vp for vp, _ in saved] == [3, 4]
    assert b.mmu.check(b.ctx, 0x5000, 4, write=True) is False


def test_release_cow_without_a_write_leaves_the_page_clean():
    b = Box(STORE_3000)
    b.map(b.ctx, 3, RW)
    b.mmu.copy_on_write(b.ctx, [3])
    assert b.mmu.release_cow(b.ctx, 3) is True and b.mmu.release_cow(b.ctx, 3) is False
    assert b.mmu.check(b.ctx, 0x3000, 4, write=True)  # the pointer check never saw the bit
    b.start(d0=7)
    b.trap()
    assert b.mmu.modified_pages(b.ctx) == [3]
