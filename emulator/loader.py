"""ELF32 big-endian m68k static executables: parse them, and install one into an MMU context."""

from __future__ import annotations

import dataclasses
import logging
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import capstone

from emulator import decode
from emulator.memory import FrameAllocator
from emulator.mmu import Mmu, Prot
from guest import abi

log = logging.getLogger(__name__)

PAGE = Mmu.PAGE_SIZE
EM_68K = 4
ET_EXEC = 2
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
SHT_SYMTAB = 2
STT_OBJECT, STT_FUNC = 1, 2
ILLEGAL = b"\x4a\xfc"
_BKPT_RE = re.compile(rb"\x48[\x48-\x4f]")


class LoaderError(ValueError):
    """Not an image this machine can run."""


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    flags: int  # PF_R | PF_W | PF_X
    data: bytes  # the file bytes (filesz); the rest up to memsz is zero

    @property
    def prot(self) -> Prot:
        prot = Prot.NONE
        if self.flags & PF_R:
            prot |= Prot.READ
        if self.flags & PF_W:
            prot |= Prot.WRITE
        if self.flags & PF_X:
            prot |= Prot.EXEC
        return prot

    @property
    def end(self) -> int:
        return self.vaddr + self.memsz

    @property
    def pages(self) -> range:
        return range(self.vaddr // PAGE, (self.end + PAGE - 1) // PAGE)


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    kind: int  # STT_*


@dataclass(frozen=True)
class Image:
    """A parsed executable: entry point, loadable segments, symbols."""

    name: str
    entry: int
    segments: tuple[Segment, ...]
    symbols: tuple[Symbol, ...] = ()
    bkpts: dict[int, int] = field(
        default_factory=dict
    )  # vaddr -> n of every `bkpt #n` found in functions

    @property
    def functions(self) -> list[Symbol]:
        return [s for s in self.symbols if s.kind == STT_FUNC and s.size > 0]

    @property
    def text(self) -> Segment:
        for seg in self.segments:
            if seg.flags & PF_X:
                return seg
        raise LoaderError(f"{self.name}: no executable segment")

    @property
    def end(self) -> int:
        """The first byte after the highest segment (the end of bss)."""
        return max(seg.end for seg in self.segments)

    def symbol_at(self, addr: int) -> str | None:
        """'name+0xoff' of the function containing addr, for reports."""
        for s in self.functions:
            if s.value <= addr < s.value + s.size:
                return f"{s.name}+{addr - s.value:#x}"
        return None


@dataclass(frozen=True)
class LoadedTeam:
    """What install() mapped: page ranges [start, end), the initial break and the patched bkpts."""

    entry: int
    text: tuple[int, int]  # vpages
    data: tuple[int, int]  # vpages (data + bss; empty if none)
    brk: int  # byte address: the page-aligned end of bss, where the heap starts
    bkpts: dict[int, int]  # vaddr -> n
    pages: int


def load_image(source: str | Path | bytes, name: str | None = None) -> Image:
    """Parse an ELF32 big-endian m68k static executable (file path or bytes)."""
    if isinstance(source, bytes | bytearray | memoryview):
        raw = bytes(source)
        name = name or "image"
    else:
        path = Path(source)
        raw = path.read_bytes()
        name = name or path.name
    return parse_elf(raw, name)


def parse_elf(raw: bytes, name: str = "image") -> Image:
    if len(raw) < 52 or raw[:4] != b"\x7fELF":
        raise LoaderError(f"{name}: not an ELF file")
    if raw[4] != 1 or raw[5] != 2:
        raise LoaderError(f"{name}: not ELF32 big-endian")
    (
        e_type,
        e_machine,
        _ver,
        e_entry,
        e_phoff,
        e_shoff,
        _flags,
        _ehsize,
        e_phentsize,
        e_phnum,
        e_shentsize,
        e_shnum,
        _shstrndx,
    ) = struct.unpack_from(">HHIIIIIHHHHHH", raw, 16)
    if e_machine != EM_68K:
        raise LoaderError(f"{name}: machine {e_machine} is not m68k")
    if e_type != ET_EXEC:
        raise LoaderError(f"{name}: not a static executable (type {e_type})")
    segments = []
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if off + 32 > len(raw):
            raise LoaderError(f"{name}: truncated program headers")
        p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_flags, _align = struct.unpack_from(
            ">IIIIIIII", raw, off
        )
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_filesz > p_memsz or p_offset + p_filesz > len(raw):
            raise LoaderError(f"{name}: segment {i} exceeds the file")
        if p_flags & PF_W and p_flags & PF_X:
            raise LoaderError(f"{name}: segment {i} is writable and executable")
        segments.append(Segment(p_vaddr, p_memsz, p_flags, raw[p_offset : p_offset + p_filesz]))
    if not segments:
        raise LoaderError(f"{name}: no loadable segment")
    segments.sort(key=lambda s: s.vaddr)
    for seg in segments:
        if seg.vaddr < abi.TEXT_BASE or seg.end > abi.STACK_TOP - abi.STACK_MAX:
            raise LoaderError(
                f"{name}: segment {seg.vaddr:#x}..{seg.end:#x} outside the program area"
            )
    for a, b in zip(segments, segments[1:], strict=False):
        if a.pages.stop > b.pages.start:
            raise LoaderError(f"{name}: segments at {a.vaddr:#x} and {b.vaddr:#x} share a page")
    symbols = _symbols(raw, e_shoff, e_shentsize, e_shnum)
    image = Image(name, e_entry, tuple(segments), tuple(symbols))
    if not any(seg.flags & PF_X and seg.vaddr <= e_entry < seg.end for seg in segments):
        raise LoaderError(f"{name}: entry {e_entry:#x} is not in executable code")
    return dataclasses.replace(image, bkpts=find_bkpts(image))


def _symbols(raw: bytes, shoff: int, shentsize: int, shnum: int) -> list[Symbol]:
    if not shoff or shentsize < 40:
        return []
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + 40 > len(raw):
            return []
        sections.append(struct.unpack_from(">IIIIIIIIII", raw, off))
    out = []
    for (
        _name,
        sh_type,
        _fl,
        _addr,
        sh_offset,
        sh_size,
        sh_link,
        _info,
        _align,
        sh_entsize,
    ) in sections:
        if sh_type != SHT_SYMTAB or sh_link >= len(sections):
            continue
        str_off, str_size = sections[sh_link][4], sections[sh_link][5]
        strtab = raw[str_off : str_off + str_size]
        for pos in range(sh_offset, sh_offset + sh_size, sh_entsize or 16):
            if pos + 16 > len(raw):
                break
            st_name, st_value, st_size, st_info, _other, _shndx = struct.unpack_from(
                ">IIIBBH", raw, pos
            )
            end = strtab.find(b"\0", st_name)
            sym_name = strtab[st_name : end if end >= 0 else None].decode("latin-1")
            out.append(Symbol(sym_name, st_value, st_size, st_info & 0xF))
    return out


_md: capstone.Cs | None = None


def find_bkpts(image: Image) -> dict[int, int]:
    """vaddr -> n of every real `bkpt #n` in the image's functions (decoded, so no false hits).

    Only functions holding the 0x4848..0x484F halfword at an even offset are
    disassembled. Code outside FUNC symbols is covered at run time by the
    CPU's block hook, which never lets a bkpt execute either.
    """
    global _md
    text = image.text
    found: dict[int, int] = {}
    for fn in image.functions:
        lo, hi = fn.value - text.vaddr, fn.value + fn.size - text.vaddr
        if lo < 0 or hi > len(text.data):
            continue
        body = text.data[lo:hi]
        if not any((m.start() & 1) == 0 for m in _BKPT_RE.finditer(body)):
            continue
        if _md is None:
            _md = decode.decoder()
        for addr, _size, mnemonic, _ops in decode.instructions(_md, body, fn.value):
            if mnemonic == "bkpt":
                found[addr] = text.data[addr - text.vaddr + 1] & 7
    return found


def install(
    mmu: Mmu,
    frames: FrameAllocator,
    ctx: int,
    image: Image,
    *,
    phys_write: Callable[[int, bytes], None] | None = None,
) -> LoadedTeam:
    """Map the image into ctx: text R|X, data and bss R|W (bss zeroed), each bkpt replaced by `illegal`.

    Pages are written through physical memory before they are mapped, so
    they start neither referenced nor modified. On OutOfMemory nothing stays
    mapped.
    """
    write = phys_write or mmu.phys_write
    for seg in image.segments:
        for vpage in seg.pages:
            if mmu.entry(ctx, vpage) is not None:
                raise LoaderError(
                    f"{image.name}: page {vpage:#x} is already mapped in context {ctx}"
                )
    done: list[int] = []
    try:
        for seg in image.segments:
            data = bytearray(seg.data)
            if seg.flags & PF_X:
                for addr in image.bkpts:
                    if seg.vaddr <= addr < seg.vaddr + len(data) - 1:
                        data[addr - seg.vaddr : addr - seg.vaddr + 2] = ILLEGAL
            for vpage in seg.pages:
                page = bytearray(PAGE)
                base = vpage * PAGE
                lo = max(seg.vaddr, base)
                hi = min(seg.vaddr + len(data), base + PAGE)
                if hi > lo:
                    page[lo - base : hi - base] = data[lo - seg.vaddr : hi - seg.vaddr]
                frame = frames.alloc()
                try:
                    write(frame * PAGE, bytes(page))
                    mmu.map(ctx, vpage, frame, seg.prot)
                except BaseException:
                    frames.free(frame)
                    raise
                done.append(vpage)
    except BaseException:
        for vpage in done:
            frames.free(mmu.unmap(ctx, vpage))
        raise
    for addr, n in image.bkpts.items():
        mmu.add_bkpt(ctx, addr, n)
    text = image.text
    data_segs = [s for s in image.segments if not s.flags & PF_X]
    data_range = (data_segs[0].pages.start, data_segs[-1].pages.stop) if data_segs else (0, 0)
    brk = (image.end + PAGE - 1) // PAGE * PAGE
    return LoadedTeam(
        entry=image.entry,
        text=(text.pages.start, text.pages.stop),
        data=data_range,
        brk=brk,
        bkpts=dict(image.bkpts),
        pages=len(done),
    )


def make_elf(
    text: bytes,
    data: bytes = b"",
    bss: int = 0,
    *,
    entry: int = abi.TEXT_BASE,
    functions: dict[str, tuple[int, int]] | None = None,
) -> bytes:
    """A minimal image as guest/link.ld lays it out (text at 0x1000, data on the next page): for tests and benches.

    functions: name -> (vaddr, size) FUNC symbols.
    """
    text_addr = abi.TEXT_BASE
    data_addr = (text_addr + len(text) + PAGE - 1) // PAGE * PAGE
    phdrs = [(PT_LOAD, PAGE, text_addr, len(text), len(text), PF_R | PF_X)]
    data_off = PAGE + (len(text) + PAGE - 1) // PAGE * PAGE
    if data or bss:
        phdrs.append((PT_LOAD, data_off, data_addr, len(data), len(data) + bss, PF_R | PF_W))
    body = bytearray(data_off + len(data))
    body[PAGE : PAGE + len(text)] = text
    body[data_off : data_off + len(data)] = data
    # symbol table: null symbol + functions; string table; section-name table
    strtab = bytearray(b"\0")
    syms = bytearray(16)
    for fname, (value, size) in (functions or {}).items():
        syms += struct.pack(">IIIBBH", len(strtab), value, size, 0x10 | STT_FUNC, 0, 1)
        strtab += fname.encode() + b"\0"
    shstr = b"\0.symtab\0.strtab\0.shstrtab\0"
    sym_off = len(body)
    body += syms
    str_off = len(body)
    body += strtab
    shs_off = len(body)
    body += shstr
    while len(body) % 4:
        body.append(0)
    shoff = len(body)
    sections = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, SHT_SYMTAB, 0, 0, sym_off, len(syms), 2, 1, 4, 16),
        (9, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0),
        (17, 3, 0, 0, shs_off, len(shstr), 0, 0, 1, 0),
    ]
    for sh in sections:
        body += struct.pack(">IIIIIIIIII", *sh)
    header = struct.pack(
        ">4sBBBB8sHHIIIIIHHHHHH",
        b"\x7fELF",
        1,
        2,
        1,
        0,
        bytes(8),
        ET_EXEC,
        EM_68K,
        1,
        entry,
        52,
        shoff,
        0,
        52,
        32,
        len(phdrs),
        40,
        len(sections),
        3,
    )
    body[0:52] = header
    for i, (p_type, off, vaddr, filesz, memsz, flags) in enumerate(phdrs):
        struct.pack_into(
            ">IIIIIIII", body, 52 + 32 * i, p_type, off, vaddr, vaddr, filesz, memsz, flags, PAGE
        )
    return bytes(body)
