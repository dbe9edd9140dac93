"""The Sun-2-style MMU: contexts of 4 KB pages with protection, referenced and modified bits, on Unicorn's virtual TLB."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator import native

if TYPE_CHECKING:
    from emulator.cpu import Cpu


class Prot(enum.IntFlag):
    NONE = 0
    READ = 1
    WRITE = 2
    EXEC = 4


_PROT_BITS = (
    (Prot.READ, native.PTE_READ),
    (Prot.WRITE, native.PTE_WRITE),
    (Prot.EXEC, native.PTE_EXEC),
)


@dataclass(frozen=True)
class PageEntry:
    vpage: int
    frame: int
    prot: Prot
    referenced: bool
    modified: bool


class GuestAddressError(Exception):
    """A host access to guest memory touched a page that is not mapped (or not writable)."""

    def __init__(self, vaddr: int, reason: str = "not mapped") -> None:
        super().__init__(f"guest address {vaddr:#08x} {reason}")
        self.vaddr = vaddr


class Mmu:
    """Contexts (address spaces of 16 MB) of 4096 pages of 4 KB, page tables in C memory.

    The page size is 4 KB because that is Unicorn's m68k TLB page (a real
    Sun-2 used 2 KB pages). The TLB-fill hook (C, see emulator.native) walks
    the current context's table; this class edits the tables and flushes the
    TLB whenever an entry the TLB may hold loses a right (unmap, remap,
    clearing modified or referenced bits), so the bits stay exact:

    * referenced is set by every TLB fill of the page;
    * a page is filled without write permission until it is modified: its
      first write fills again, sets modified and grants write;
    * host stores through `write` set modified too (the TLB never sees them).
    """

    PAGE_SIZE = 4096
    NPAGES = native.NPAGES  # 16 MB of 24-bit addresses per context

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu
        self._ffi, self._lib, self._st = cpu.native
        self._tables: dict[int, Any] = {}
        self._bkpts: dict[int, dict[int, int]] = {}
        # second dirty sets (issue 16): per context, per watcher, the pages modified since the
        # watcher last drained them, whoever clears the modified bits meanwhile (pre-copy, the flusher)
        self._watchers: dict[int, dict[str, set[int]]] = {}
        # copy-on-write pages (a checkpoint's cut, issue 16): the CPU's first write to one faults
        # ("copy-on-write"); a host store, remap or unmap of one calls on_cow(ctx, vpage) first,
        # whose job is to save the page and release it (release_cow)
        self.on_cow: Callable[[int, int], None] | None = None
        self._next_ctx = 1
        self.current: int | None = None
        self.nframes = cpu.memory_bytes // self.PAGE_SIZE
        self._out = self._ffi.new("uint32_t[]", self.NPAGES)

    # --- contexts --------------------------------------------------------------------
    def create_context(self) -> int:
        ctx = self._next_ctx
        self._next_ctx += 1
        self._tables[ctx] = self._ffi.new("uint32_t[]", self.NPAGES)
        self._bkpts[ctx] = {}
        return ctx

    def destroy_context(self, ctx: int) -> None:
        """Forget the context (its frames are the caller's to free, see mapped_pages/unmap)."""
        self._table(ctx)
        if ctx == self.current:
            self._lib.vc_set_table(self._st, self._ffi.NULL)
            self.current = None
            self._cpu.flush_tlb()
        del self._tables[ctx]
        del self._bkpts[ctx]
        self._watchers.pop(ctx, None)

    def switch(self, ctx: int) -> None:
        """Make ctx the context the CPU runs in (flushes the TLB)."""
        table = self._table(ctx)
        self._lib.vc_set_table(self._st, table)
        self.current = ctx
        self._cpu.flush_tlb()

    def contexts(self) -> list[int]:
        return sorted(self._tables)

    # --- entries ------------------------------------------------------------------------
    def map(self, ctx: int, vpage: int, frame: int, prot: Prot) -> None:
        """Map vpage to frame with prot; referenced and modified start clear.

        Refused: pages both writable and executable, and an executable page 0.
        """
        table = self._table(ctx)
        self._check_vpage(vpage)
        if not 0 <= frame < self.nframes:
            raise ValueError(f"frame {frame} outside physical memory ({self.nframes} frames)")
        prot = Prot(prot)
        if Prot.WRITE in prot and Prot.EXEC in prot:
            raise ValueError(f"page {vpage:#x}: writable and executable at once is not supported")
        if vpage == 0 and Prot.EXEC in prot:
            # address 0 is the engine's stop address (uc_emu_start's `until`): code there cannot run
            raise ValueError("page 0 cannot be executable")
        entry = frame | native.PTE_VALID
        for flag, bit in _PROT_BITS:
            if flag in prot:
                entry |= bit
        self.break_cow(ctx, vpage)
        old = table[vpage]
        table[vpage] = entry
        watchers = self._watchers.get(ctx)
        if watchers and (not old & native.PTE_VALID or (old & native.PTE_FRAME) != frame):
            for pages in watchers.values():  # a new frame under this page: new contents
                pages.add(vpage)
        if Prot.WRITE in prot and self._st.frame_code[frame]:
            self._cpu.code_changed()  # the frame held code; it may now change
        if old & native.PTE_VALID and ctx == self.current:
            self._cpu.flush_tlb()

    def unmap(self, ctx: int, vpage: int) -> int:
        """Remove the mapping; returns its frame (the caller frees it). KeyError if not mapped."""
        table = self._table(ctx)
        self._check_vpage(vpage)
        old = table[vpage]
        if not old & native.PTE_VALID:
            raise KeyError(f"page {vpage:#x} of context {ctx} is not mapped")
        self.break_cow(ctx, vpage)
        table[vpage] = 0
        if ctx == self.current:
            self._cpu.flush_tlb()
        return old & native.PTE_FRAME

    def unmap_all(self, ctx: int) -> list[int]:
        """Remove every mapping of ctx with one TLB flush; returns their frames (the caller frees them)."""
        table = self._table(ctx)
        frames = []
        for vpage in self.mapped_pages(ctx):  # copy-on-write pages go unsaved: all of it goes
            frames.append(table[vpage] & native.PTE_FRAME)
            table[vpage] = 0
        if frames and ctx == self.current:
            self._cpu.flush_tlb()
        return frames

    def protect(self, ctx: int, vpage: int, prot: Prot) -> None:
        """Change the protection of a mapped page, keeping its frame and bits."""
        entry = self.entry(ctx, vpage)
        if entry is None:
            raise KeyError(f"page {vpage:#x} of context {ctx} is not mapped")
        table = self._tables[ctx]
        keep = table[vpage] & (native.PTE_REF | native.PTE_MOD)  # a copy-on-write page is saved
        self.map(ctx, vpage, entry.frame, prot)
        table[vpage] |= keep
        if ctx == self.current:
            self._cpu.flush_tlb()

    # --- copy-on-write (a checkpoint's cut) -------------------------------------------------
    def copy_on_write(self, ctx: int, pages: Iterable[int]) -> None:
        """Make the mapped pages of ctx copy-on-write: the CPU's first write to one faults
        ("copy-on-write", the page's contents still those of now) until release_cow."""
        table = self._table(ctx)
        for vpage in pages:
            if table[vpage] & native.PTE_VALID:
                table[vpage] |= native.PTE_COW
        if ctx == self.current:
            self._cpu.flush_tlb()  # no writable entry of them may stay in the TLB

    def release_cow(self, ctx: int, vpage: int) -> bool:
        """Writes to vpage go through again; True if it was copy-on-write."""
        table = self._tables.get(ctx)
        if table is None or not table[vpage] & native.PTE_COW:
            return False
        table[vpage] &= ~native.PTE_COW
        return True

    def is_cow(self, ctx: int, vpage: int) -> bool:
        table = self._tables.get(ctx)
        return table is not None and bool(table[vpage] & native.PTE_COW)

    def break_cow(self, ctx: int, vpage: int) -> None:
        """The host is about to change vpage (a store, a remap, an unmap): save it first."""
        if self._tables[ctx][vpage] & native.PTE_COW:
            if self.on_cow is not None:
                self.on_cow(ctx, vpage)
            self._tables[ctx][vpage] &= ~native.PTE_COW

    def entry(self, ctx: int, vpage: int) -> PageEntry | None:
        table = self._table(ctx)
        self._check_vpage(vpage)
        e = table[vpage]
        if not e & native.PTE_VALID:
            return None
        prot = Prot.NONE
        for flag, bit in _PROT_BITS:
            if e & bit:
                prot |= flag
        return PageEntry(
            vpage, e & native.PTE_FRAME, prot, bool(e & native.PTE_REF), bool(e & native.PTE_MOD)
        )

    def translate(self, ctx: int, vaddr: int) -> int | None:
        """The physical address of vaddr in ctx, or None if its page is not mapped."""
        table = self._table(ctx)
        vpage = vaddr >> 12
        if not 0 <= vpage < self.NPAGES:
            return None
        e = table[vpage]
        if not e & native.PTE_VALID:
            return None
        return ((e & native.PTE_FRAME) << 12) | (vaddr & 0xFFF)

    def _collect(self, ctx: int, mask: int) -> list[int]:
        n = self._lib.vc_collect(self._table(ctx), mask, mask, self._out)
        return list(self._out[0:n])

    def mapped_pages(self, ctx: int) -> list[int]:
        return self._collect(ctx, native.PTE_VALID)

    def modified_pages(self, ctx: int) -> list[int]:
        return self._collect(ctx, native.PTE_VALID | native.PTE_MOD)

    def referenced_pages(self, ctx: int) -> list[int]:
        return self._collect(ctx, native.PTE_VALID | native.PTE_REF)

    def clear_modified(self, ctx: int, pages: Iterable[int] | None = None) -> None:
        """Clear modified bits (all, or of pages); the next write to each page is seen again."""
        self._clear(ctx, native.PTE_MOD, pages)

    def clear_referenced(self, ctx: int, pages: Iterable[int] | None = None) -> None:
        self._clear(ctx, native.PTE_REF, pages)

    def watch_modified(self, ctx: int, watcher: str) -> None:
        """Keep a second dirty set of ctx for `watcher`: drain_modified returns the pages modified
        since its previous drain, even if someone else cleared their modified bits meanwhile."""
        self._table(ctx)
        self._watchers.setdefault(ctx, {}).setdefault(watcher, set())

    def unwatch_modified(self, ctx: int, watcher: str) -> None:
        watchers = self._watchers.get(ctx)
        if watchers is not None:
            watchers.pop(watcher, None)
            if not watchers:
                del self._watchers[ctx]

    def watching(self, ctx: int, watcher: str) -> bool:
        return watcher in self._watchers.get(ctx, {})

    def drain_modified(self, ctx: int, watcher: str) -> list[int]:
        """The mapped pages of ctx modified since watcher's previous drain (or watch_modified);
        clears their modified bits (saving them for the other watchers) and watcher's set."""
        own = self._watchers[ctx][watcher]
        pages = set(self.modified_pages(ctx)) | own
        self.clear_modified(ctx)
        own.clear()
        return sorted(vp for vp in pages if self._table(ctx)[vp] & native.PTE_VALID)

    def _clear(self, ctx: int, bits: int, pages: Iterable[int] | None) -> None:
        table = self._table(ctx)
        watchers = self._watchers.get(ctx)
        if watchers and bits & native.PTE_MOD:
            if pages is not None:
                pages = list(pages)
                modified = [vp for vp in pages if table[vp] & native.PTE_MOD]
            else:
                modified = self.modified_pages(ctx)
            for saved in watchers.values():
                saved.update(modified)
        if pages is None:
            self._lib.vc_clear_bits(table, bits)
        else:
            for vpage in pages:
                self._check_vpage(vpage)
                table[vpage] &= ~bits
        if ctx == self.current:
            self._cpu.flush_tlb()

    # --- host access to guest memory ----------------------------------------------------
    def check(self, ctx: int, vaddr: int, n: int, write: bool) -> bool:
        """True if [vaddr, vaddr+n) is mapped readable (and writable if write): the kernel's pointer check."""
        if vaddr < 0 or n < 0:
            return False
        need = native.PTE_READ | (native.PTE_WRITE if write else 0)
        return bool(self._lib.vc_check(self._table(ctx), vaddr, n, need))

    def _chunks(self, ctx: int, vaddr: int, n: int, need: int) -> list[tuple[int, int, int]]:
        """(vpage, phys, length) pieces of [vaddr, vaddr+n); GuestAddressError at the first bad byte."""
        table = self._table(ctx)
        if vaddr < 0 or n < 0:
            raise GuestAddressError(vaddr, "is negative")
        out = []
        addr, end = vaddr, vaddr + n
        while addr < end:
            vpage = addr >> 12
            if vpage >= self.NPAGES:
                raise GuestAddressError(addr, "is outside the address space")
            e = table[vpage]
            if not e & native.PTE_VALID:
                raise GuestAddressError(addr)
            if e & need != need:
                raise GuestAddressError(addr, "is not writable")
            off = addr & 0xFFF
            length = min(self.PAGE_SIZE - off, end - addr)
            out.append((vpage, ((e & native.PTE_FRAME) << 12) | off, length))
            addr += length
        return out

    def read(self, ctx: int, vaddr: int, n: int) -> bytes:
        """Bytes of guest memory; GuestAddressError(vaddr) if any byte is not mapped."""
        pieces = self._chunks(ctx, vaddr, n, 0)
        if len(pieces) == 1:
            return self._cpu.phys_read(pieces[0][1], n)
        return b"".join(self._cpu.phys_read(phys, length) for _, phys, length in pieces)

    def write(self, ctx: int, vaddr: int, data: bytes, *, force: bool = False) -> None:
        """Store into guest memory and mark the pages modified; needs WRITE unless force (the loader)."""
        need = 0 if force else native.PTE_WRITE
        pieces = self._chunks(ctx, vaddr, len(data), need)  # all checked before any byte is written
        table = self._tables[ctx]
        mv = memoryview(bytes(data))
        pos = 0
        for vpage, phys, length in pieces:
            self.break_cow(ctx, vpage)
            self._cpu.phys_write(phys, mv[pos : pos + length])
            table[vpage] |= native.PTE_MOD
            pos += length

    def phys_write(self, addr: int, data: bytes) -> None:
        """A store into physical memory (no modified bit: no page is named)."""
        self._cpu.phys_write(addr, data)

    def phys_read(self, addr: int, n: int) -> bytes:
        return self._cpu.phys_read(addr, n)

    # --- guest accesses made for the engine (emulator.exact) ----------------------------------
    def _engine_pieces(self, ctx: int, vaddr: int, n: int, write: bool):
        """(vpage, phys, length) pieces, or (page address, kind) of the first page the TLB would refuse."""
        table = self._table(ctx)
        need = native.PTE_WRITE if write else native.PTE_READ
        pieces = []
        addr, end = vaddr, vaddr + n
        while addr < end:
            vpage = addr >> 12
            e = table[vpage] if vpage < self.NPAGES else 0
            if not e & native.PTE_VALID:
                return addr & ~0xFFF, "unmapped"
            if not e & need:
                return addr & ~0xFFF, "protection"
            if write and e & native.PTE_COW:
                return addr & ~0xFFF, "copy-on-write"
            length = min(self.PAGE_SIZE - (addr & 0xFFF), end - addr)
            pieces.append((vpage, ((e & native.PTE_FRAME) << 12) | (addr & 0xFFF), length))
            addr += length
        return pieces

    def engine_load(self, ctx: int, vaddr: int, n: int) -> bytes | tuple[int, str]:
        """A guest read as the TLB-fill hook allows it (sets referenced), or the fault (page, kind)."""
        got = self._engine_pieces(ctx, vaddr & 0xFFFFFFFF, n, False)
        if isinstance(got, tuple):
            return got
        table = self._tables[ctx]
        for vpage, _, _ in got:
            table[vpage] |= native.PTE_REF
        return b"".join(self._cpu.phys_read(phys, length) for _, phys, length in got)

    def engine_store(self, ctx: int, vaddr: int, data: bytes) -> tuple[int, str] | None:
        """A guest write as the TLB-fill hook allows it (sets referenced and modified), or the fault."""
        got = self._engine_pieces(ctx, vaddr & 0xFFFFFFFF, len(data), True)
        if isinstance(got, tuple):
            return got
        table = self._tables[ctx]
        pos = 0
        for vpage, phys, length in got:
            table[vpage] |= native.PTE_REF | native.PTE_MOD
            self._cpu.phys_write(phys, data[pos : pos + length])
            pos += length
        return None

    # --- bkpt sites (kept per context: the text holds `illegal` there) ------------------------
    def bkpts(self, ctx: int) -> dict[int, int]:
        """vaddr -> n of the `bkpt #n` instructions replaced by `illegal` in ctx's text."""
        self._table(ctx)
        return self._bkpts[ctx]

    def add_bkpt(self, ctx: int, vaddr: int, n: int) -> None:
        self._table(ctx)
        self._bkpts[ctx][vaddr] = n

    # --- helpers ------------------------------------------------------------------------
    def _table(self, ctx: int) -> Any:
        try:
            return self._tables[ctx]
        except KeyError:
            raise KeyError(f"no MMU context {ctx}") from None

    def _check_vpage(self, vpage: int) -> None:
        if not 0 <= vpage < self.NPAGES:
            raise ValueError(f"virtual page {vpage:#x} outside the 16 MB address space")
