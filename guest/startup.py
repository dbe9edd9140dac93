"""The initial stack of a guest program: argc, argv, envp and the venv block, as docs/ABI.md "Entry" lays them out."""

from __future__ import annotations

import struct

from guest import abi

# the arguments must leave room in the initial stack for the program's first frames
MAX_STARTUP_BYTES = abi.STACK_INITIAL - 256


def venv_bytes(venv: dict[str, int]) -> bytes:
    """The 44-byte struct venv; missing fields are 0, magic defaults to VENV_MAGIC."""
    unknown = set(venv) - set(abi.VENV_FIELDS)
    if unknown:
        raise ValueError(f"unknown venv fields: {', '.join(sorted(unknown))}")
    values = {"magic": abi.VENV_MAGIC, **venv}
    return b"".join(struct.pack(">I", values.get(name, 0) & 0xFFFFFFFF) for name in abi.VENV_FIELDS)


def build_initial_stack(
    argv: list[str], envp: list[str], venv: dict[str, int], stack_top: int = abi.STACK_TOP
) -> tuple[bytes, int]:
    """The bytes to place just below stack_top, and the initial sp (the address of argc).

    From sp upwards: argc, argv, envp, venv (4 longs); the argv array
    (NULL-terminated); the envp array (NULL-terminated); the struct venv; then
    the strings (argv's, then envp's), NUL-terminated, padded to a long.
    Strings are UTF-8.
    """
    strings = [s.encode() + b"\0" for s in argv] + [s.encode() + b"\0" for s in envp]
    str_bytes = b"".join(strings)
    str_bytes += bytes(-len(str_bytes) % 4)
    venv_raw = venv_bytes(venv)
    header = 16
    argv_arr = 4 * (len(argv) + 1)
    envp_arr = 4 * (len(envp) + 1)
    total = header + argv_arr + envp_arr + len(venv_raw) + len(str_bytes)
    if total > MAX_STARTUP_BYTES:
        raise ValueError(
            f"arguments and environment take {total} bytes (at most {MAX_STARTUP_BYTES})"
        )
    if stack_top % 4:
        raise ValueError(f"stack top {stack_top:#x} is not long-aligned")
    sp = stack_top - total
    argv_addr = sp + header
    envp_addr = argv_addr + argv_arr
    venv_addr = envp_addr + envp_arr
    str_addr = venv_addr + len(venv_raw)
    ptrs = []
    pos = str_addr
    for s in strings:
        ptrs.append(pos)
        pos += len(s)
    argv_ptrs, envp_ptrs = ptrs[: len(argv)], ptrs[len(argv) :]
    out = bytearray()
    out += struct.pack(">IIII", len(argv), argv_addr, envp_addr, venv_addr)
    out += b"".join(struct.pack(">I", p) for p in argv_ptrs) + bytes(4)
    out += b"".join(struct.pack(">I", p) for p in envp_ptrs) + bytes(4)
    out += venv_raw
    out += str_bytes
    assert len(out) == total
    return bytes(out), sp


def decode_initial_stack(
    blob: bytes, stack_top: int = abi.STACK_TOP
) -> tuple[list[str], list[str], dict[str, int]]:
    """The inverse of build_initial_stack: (argv, envp, venv fields) from the bytes below stack_top."""
    sp = stack_top - len(blob)

    def long_at(addr: int) -> int:
        off = addr - sp
        if not 0 <= off <= len(blob) - 4:
            raise ValueError(f"address {addr:#x} outside the initial stack")
        return struct.unpack_from(">I", blob, off)[0]

    def string_at(addr: int) -> str:
        off = addr - sp
        end = blob.find(b"\0", off)
        if off < 0 or end < 0:
            raise ValueError(f"string at {addr:#x} outside the initial stack")
        return blob[off:end].decode()

    def strings(array: int) -> list[str]:
        out = []
        while ptr := long_at(array + 4 * len(out)):
            out.append(string_at(ptr))
        return out

    argc, argv_addr, envp_addr, venv_addr = (long_at(sp + 4 * i) for i in range(4))
    argv = strings(argv_addr)
    if len(argv) != argc:
        raise ValueError(f"argc {argc} but {len(argv)} argv strings")
    off = venv_addr - sp
    fields = dict(
        zip(
            abi.VENV_FIELDS, struct.unpack_from(f">{len(abi.VENV_FIELDS)}I", blob, off), strict=True
        )
    )
    return argv, strings(envp_addr), fields
