"""Find 68020-only instructions in 68010 code: a linear sweep of every executable section with capstone in 68040 mode, stepping over jump tables.

gcc puts a switch's jump table right after its `jmp (2,pc,dN.w)`: word
offsets from the table's start, the smallest of which is where the first case
(and so the table's end) is. The sweep skips such tables so that their data is
never read as instructions; anything else in a text section is code.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from pathlib import Path

import capstone

# mnemonics that exist from the 68020 on
ONLY_68020 = re.compile(
    r"^(bf(extu|exts|ins|tst|chg|clr|set|ffo)|mul[su]\.l|div[su]l?\.l|extb\.l|rtd|cas2?(\.[bwl])?|"
    r"chk2(\.[bwl])?|cmp2(\.[bwl])?|pack|unpk|trap(t|f|hi|ls|cc|hs|cs|lo|ne|eq|vc|vs|pl|mi|ge|lt|gt|le)"
    r"(\.[wl])?|callm|rtm|moves(\.[bwl])?|movec|link\.l|b[a-z]{1,2}\.l|bsr\.l)$"
)
# 68020 addressing: scaled index, or memory indirect / full-format extension words
SCALED = re.compile(r"\* [248]\b|\*[248]\b|\[")


def text_sections(path: Path) -> list[tuple[str, bytes, int]]:
    """(name, bytes, address) of each SHF_EXECINSTR section of an ELF file (32-bit big-endian)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 2:
        return []
    shoff = struct.unpack(">I", data[32:36])[0]
    shentsize, shnum, shstrndx = struct.unpack(">HHH", data[46:52])
    headers = [
        struct.unpack(">10I", data[shoff + i * shentsize : shoff + i * shentsize + 40])
        for i in range(shnum)
    ]
    strtab_off = headers[shstrndx][4]
    out = []
    for name_off, sh_type, flags, addr, off, size, *_rest in headers:
        if sh_type == 1 and flags & 0x4 and size:  # PROGBITS, SHF_EXECINSTR
            end = data.index(b"\0", strtab_off + name_off)
            out.append((data[strtab_off + name_off : end].decode(), data[off : off + size], addr))
    return out


# a d16(An) or d8(An,Xn) operand: its displacement and base register
DISPLACEMENT = re.compile(r"(-?\$[0-9a-f]+|-?\d+)\((a[0-7]|sp)\b")


def _is_table_jump(mnemonic: str, ops: str) -> bool:
    """gcc's switch dispatch: jmp (2,pc,dN.w), its table right after."""
    return mnemonic == "jmp" and "pc" in ops and bool(re.search(r"\bd[0-7]\b", ops))


def _after_table(code: bytes, table: int) -> int:
    """Where the jump table starting at `table` ends (its offsets are even, into this code, and the
    first case after the table ends it)."""
    end = len(code)
    cur = table
    while cur + 2 <= end:
        off = struct.unpack(">h", code[cur : cur + 2])[0]
        if off & 1 or not 0 <= table + off < len(code):
            break  # not an offset into this code: the table is over
        if off > 0:
            end = min(end, table + off)  # the first case after the table ends it
        cur += 2
    return max(cur, table)


def odd_displacements(code: bytes, base: int) -> list[tuple[int, str]]:
    """Word and long accesses through an odd displacement from an address register.

    With the register even (the stack, malloc'd and static data are), such an
    access is at an odd address: an address error on a real 68010 (Debian's
    gcc targets Linux, where m68k has no strict alignment, so it may emit them).
    """
    md = capstone.Cs(capstone.CS_ARCH_M68K, capstone.CS_MODE_M68K_010 | capstone.CS_MODE_BIG_ENDIAN)
    found = []
    pos = 0
    while pos + 2 <= len(code):
        insns = list(md.disasm_lite(code[pos : pos + 22], base + pos, 1))
        if not insns:
            pos += 2
            continue
        addr, size, mnemonic, ops = insns[0]
        pos += size
        if _is_table_jump(mnemonic, ops):
            pos = _after_table(code, pos)  # a switch's table is data, not instructions
            continue
        if not mnemonic.endswith((".w", ".l")) or mnemonic.startswith(("lea", "pea")):
            continue
        for m in DISPLACEMENT.finditer(ops):
            text = m.group(1).lstrip("-")
            value = int(text[1:], 16) if text.startswith("$") else int(text)
            if value & 1:
                found.append((addr, f"{mnemonic} {ops}"))
    return found


def scan_code(code: bytes, base: int) -> list[tuple[int, str]]:
    """(address, instruction) of each 68020-only instruction in a piece of code."""
    md = capstone.Cs(capstone.CS_ARCH_M68K, capstone.CS_MODE_M68K_040 | capstone.CS_MODE_BIG_ENDIAN)
    found = []
    pos = 0
    while pos + 2 <= len(code):
        insns = list(md.disasm_lite(code[pos : pos + 22], base + pos, 1))
        if not insns:
            pos += 2  # not an instruction at all (data, padding): step a word
            continue
        addr, size, mnemonic, ops = insns[0]
        if _is_table_jump(mnemonic, ops):
            pos = _after_table(code, pos + size)
            continue
        if ONLY_68020.match(mnemonic) or SCALED.search(ops):
            found.append((addr, f"{mnemonic} {ops}".strip()))
        pos += size
    return found


def scan_file(path: Path, scan=None) -> list[str]:
    """'file:section+offset: instruction' for each 68020-only instruction (or what `scan` finds)
    in an ELF file or ar archive."""
    path = Path(path)
    scan = scan or scan_code
    if path.read_bytes()[:8] == b"!<arch>\n":
        out = []
        with tempfile.TemporaryDirectory() as tmp:
            names = subprocess.run(
                ["m68k-linux-gnu-ar", "t", str(path)], capture_output=True, text=True, check=True
            ).stdout.split()
            subprocess.run(["m68k-linux-gnu-ar", "x", str(path.resolve())], cwd=tmp, check=True)
            for name in sorted(set(names)):
                out += [f"{path.name}({name}){line}" for line in _scan_elf(Path(tmp) / name, scan)]
        return out
    return [f"{path.name}{line}" for line in _scan_elf(path, scan)]


def _scan_elf(path: Path, scan) -> list[str]:
    return [
        f":{name}+{addr - base:#x}: {text}"
        for name, code, base in text_sections(path)
        for addr, text in scan(code, base)
    ]
