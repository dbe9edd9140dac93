"""Capstone's 68010 decoder for the CPU layer, with the instruction length it gets wrong corrected.

capstone 5.0.7 (CS_MODE_M68K_010) decodes `btst Dn,#imm` (0000 DDD 100 111 100,
0x013C | D << 9, one extension word) as 6 bytes with a long immediate; the
assembler and a 68010 use 4. Every instruction after it in the same buffer is
then decoded from the wrong offset. `instructions` yields the 4 bytes and
decodes again from the next word.
"""

from __future__ import annotations

from collections.abc import Iterator

import capstone

BTST_DN_IMM_MASK, BTST_DN_IMM = 0xF1FF, 0x013C


def decoder() -> capstone.Cs:
    return capstone.Cs(
        capstone.CS_ARCH_M68K, capstone.CS_MODE_M68K_010 | capstone.CS_MODE_BIG_ENDIAN
    )


def is_btst_dn_imm(word: int) -> bool:
    """btst Dn,#imm: 4 bytes on a 68010 (capstone 5.0.7 says 6)."""
    return word & BTST_DN_IMM_MASK == BTST_DN_IMM


def instructions(md: capstone.Cs, code: bytes, start: int) -> Iterator[tuple[int, int, str, str]]:
    """(address, size, mnemonic, operands) of each instruction of code at start, as disasm_lite
    gives them but with the length of `btst Dn,#imm` corrected; stops where capstone stops."""
    offset = 0
    while offset < len(code):
        for addr, size, mnemonic, ops in md.disasm_lite(code[offset:], start + offset):
            at = addr - start
            if is_btst_dn_imm(int.from_bytes(code[at : at + 2], "big")) and size != 4:
                if at + 4 > len(code):
                    return
                yield addr, 4, mnemonic, ops
                offset = at + 4
                break
            yield addr, size, mnemonic, ops
        else:
            return
