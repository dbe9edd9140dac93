"""Random 68000 programs for the CPU tests: every flag-setting family, each followed by a use of the flags.

A program is machine code at CODE built from hypothesis draws: an outer dbra
loop (d7 counts it) over a body of items, each one flag-setting instruction
followed by a consumer of its flags (often across a block boundary: a Bcc over the next instruction, an Scc,
a `move ccr` into memory, a dbcc, an addx/subx/roxl that reads X, or a bsr
to a subroutine that does the same). a0 points at a data page the program
reads and writes with (d16,a0); a7 is the stack. Every loop is bounded and
every divisor is a non-zero immediate, so every program ends in trap #0.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

SIZES = {"b": 0, "w": 1, "l": 2}  # the size field of most instructions
MOVE_SIZES = {"b": 1, "w": 3, "l": 2}  # the size field of move
DATA_SLOTS = 64  # longs of the data page a program uses, at (4*k, a0)

# condition codes 2..15 (hi ls cc cs ne eq vc vs pl mi ge lt gt le)
CONDITIONS = range(2, 16)


def w(*words: int) -> bytes:
    return struct.pack(f">{len(words)}H", *(x & 0xFFFF for x in words))


def ea_dreg(n: int) -> tuple[int, bytes]:
    return n, b""


def ea_mem(slot: int) -> tuple[int, bytes]:
    """(d16,a0): mode 5, register 0."""
    return 0o50, w(4 * slot)


def ea_imm(size: str, value: int) -> tuple[int, bytes]:
    if size == "l":
        return 0o74, struct.pack(">I", value & 0xFFFFFFFF)
    mask = 0xFF if size == "b" else 0xFFFF
    return 0o74, w(value & mask)


dreg = st.integers(0, 6)  # d7 is the loop counter
size = st.sampled_from("bwl")
slot = st.integers(0, DATA_SLOTS - 1)
value = st.integers(0, 0xFFFFFFFF) | st.sampled_from(
    [0, 1, 0x7F, 0x80, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
)


@st.composite
def operand(draw, sz: str, *, memory: bool = True, immediate: bool = True):
    kinds = ["d"] + (["m"] if memory else []) + (["i"] if immediate else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "d":
        return ea_dreg(draw(dreg))
    if kind == "m":
        return ea_mem(draw(slot))
    return ea_imm(sz, draw(value))


FAMILIES = (
    "add sub cmp and or eor addq subq neg negx not clr tst addx subx "
    "shift shift_mem mul div btst ext move moveq"
).split()


# flags the manual leaves undefined: a divide that overflows leaves N and Z undefined
DEFINED = [f for f in FAMILIES if f != "div"]


@st.composite
def flag_setter(draw, families=FAMILIES) -> bytes:
    """One instruction of a flag-setting family, with its extension words."""
    family = draw(st.sampled_from(families))
    sz = draw(size)
    s = SIZES[sz]
    dn = draw(dreg)
    if family in ("add", "sub", "and", "or", "cmp"):
        line = {"add": 0xD000, "sub": 0x9000, "and": 0xC000, "or": 0x8000, "cmp": 0xB000}[family]
        to_memory = family != "cmp" and draw(st.booleans())
        if to_memory:  # Dn op <ea> -> <ea>
            mode, ext = ea_mem(draw(slot))
            return w(line | dn << 9 | (4 + s) << 6 | mode) + ext
        mode, ext = draw(operand(sz))
        return w(line | dn << 9 | s << 6 | mode) + ext
    if family == "eor":
        mode, ext = draw(operand(sz, immediate=False))
        return w(0xB000 | dn << 9 | (4 + s) << 6 | mode) + ext
    if family in ("addq", "subq"):
        mode, ext = draw(operand(sz, immediate=False))
        return (
            w(0x5000 | draw(st.integers(0, 7)) << 9 | (family == "subq") << 8 | s << 6 | mode) + ext
        )
    if family in ("neg", "negx", "not", "clr", "tst"):
        base = {"neg": 0x4400, "negx": 0x4000, "not": 0x4600, "clr": 0x4200, "tst": 0x4A00}[family]
        mode, ext = draw(operand(sz, immediate=False))
        return w(base | s << 6 | mode) + ext
    if family in ("addx", "subx"):
        return w((0xD100 if family == "addx" else 0x9100) | dn << 9 | s << 6 | draw(dreg))
    if family == "shift":
        kind = draw(st.integers(0, 3))  # as ls rox ro
        left = draw(st.booleans())
        if draw(st.booleans()):  # count in a register (0..63 by the 68000's rule)
            return w(0xE000 | draw(dreg) << 9 | left << 8 | s << 6 | 1 << 5 | kind << 3 | dn)
        return w(0xE000 | draw(st.integers(0, 7)) << 9 | left << 8 | s << 6 | kind << 3 | dn)
    if family == "shift_mem":  # a word in memory, by one: 1110 0tt d 11 <ea>
        kind = draw(st.integers(0, 3))
        mode, ext = ea_mem(draw(slot))
        return w(0xE0C0 | kind << 9 | draw(st.booleans()) << 8 | mode) + ext
    if family == "mul":
        mode, ext = draw(operand("w"))
        return w(0xC0C0 | dn << 9 | draw(st.booleans()) << 8 | mode) + ext
    if family == "div":  # a non-zero immediate divisor: never a divide-by-zero exception
        return w(0x80FC | dn << 9 | draw(st.booleans()) << 8) + w(draw(st.integers(1, 0xFFFF)))
    if family == "btst":
        if draw(st.booleans()):
            return w(0x0100 | draw(dreg) << 9 | dn)
        return w(0x0800 | dn, draw(st.integers(0, 31)))
    if family == "ext":
        return w(0x4880 | draw(st.booleans()) << 6 | dn)
    if family == "move":
        mode, ext = draw(operand(sz))
        return w(MOVE_SIZES[sz] << 12 | dn << 9 | mode) + ext
    return w(0x7000 | dn << 9 | draw(st.integers(0, 255)))  # moveq


SKIPPABLE = w(0x5286)  # addq.l #1,d6: the instruction a Bcc may skip (2 bytes)


CONSUMERS = ["bcc", "scc", "ccr", "x", "dbcc", "none"]


@st.composite
def consumer(draw) -> bytes:
    """Something that reads the flags the previous instruction set."""
    kind = draw(st.sampled_from(CONSUMERS))
    cc = draw(st.sampled_from(CONDITIONS))
    if kind == "bcc":  # skip the next instruction or not
        return w(0x6000 | cc << 8 | 2) + SKIPPABLE
    if kind == "scc":
        return w(0x50C0 | cc << 8 | draw(dreg))
    if kind == "ccr":  # move.w ccr,(d16,a0) (68010)
        mode, ext = ea_mem(draw(slot))
        return w(0x42C0 | mode) + ext
    if kind == "x":  # addx.l dy,dx / subx.l dy,dx / roxl.l #1,dx read X
        which = draw(st.sampled_from([0xD180, 0x9180, 0xE390]))
        x, y = draw(dreg), draw(dreg)
        return w(which | x << 9 | y if which != 0xE390 else which | x)
    if kind == "dbcc":  # dbcc d6 to the next instruction: a taken or not-taken decrement
        return w(0x50C8 | cc << 8 | 6, 2)
    return b""


BOUNDARY = w(0x6000, 2)  # bra.w to the next instruction: ends the block, keeps the flags


@st.composite
def item(draw, families=FAMILIES) -> bytes:
    """A flag setter and its consumer, often with a block boundary (a slice may end) between."""
    between = BOUNDARY if draw(st.booleans()) else b""
    return draw(flag_setter(families)) + between + draw(consumer())


@st.composite
def program(draw, data: int, families=FAMILIES) -> tuple[bytes, int]:
    """(code, offset of the subroutine): a bounded loop and subroutine calls; a0 = data."""
    loops = draw(st.integers(1, 40))
    body = draw(st.lists(item(families), min_size=1, max_size=24))
    sub = draw(st.lists(item(families), min_size=1, max_size=6))
    calls = draw(st.sets(st.integers(0, len(body)), max_size=3))
    head = w(0x207C) + struct.pack(">I", data)  # movea.l #data,a0
    head += w(0x7E00 | (loops - 1))  # moveq #loops-1,d7
    loop = b""
    bsr_fixups = []
    for i, piece in enumerate(body):
        if i in calls:
            bsr_fixups.append(len(head) + len(loop))
            loop += w(0x6100, 0)  # bsr.w sub (patched)
        loop += piece
    tail = w(0x51CF, (-(len(loop) + 2)) & 0xFFFF)  # dbra d7,loop
    tail += w(0x4E40)  # trap #0
    code = bytearray(head + loop + tail)
    sub_at = len(code)
    code += b"".join(sub) + w(0x4E75)  # rts
    for at in bsr_fixups:
        struct.pack_into(">H", code, at + 2, sub_at - (at + 2))
    return bytes(code), sub_at
