"""The Wireshark dissector shipped with vcluster: where it is, installing it, its generated tables.

The dissector is a Lua plugin, ``v_interkernel.lua`` next to this file. Its name tables (packet
kinds, flags, errors, message codes, groups) sit between the GENERATED markers and are written
from the Python definitions by ``python -m vcluster.wireshark --regenerate``;
tests/test_wireshark.py checks that they match.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from guest import abi
from vkernel import packets
from vkernel.servers import kernel_server, program_manager

LUA_NAME = "v_interkernel.lua"
BEGIN = "-- BEGIN GENERATED"
END = "-- END GENERATED"


def lua_path() -> Path:
    """The packaged dissector file."""
    return Path(__file__).with_name(LUA_NAME)


def lua_text() -> str:
    return lua_path().read_text(encoding="utf-8")


def plugin_dir() -> Path:
    """The personal Lua plugin folder of Wireshark >= 3.0 on Linux and macOS."""
    return Path(os.path.expanduser("~")) / ".local" / "lib" / "wireshark" / "plugins"


def install(directory: str | os.PathLike[str] | None = None) -> Path:
    """Copy the dissector into `directory` (default: plugin_dir()), creating it; the file's path."""
    target = Path(directory) if directory is not None else plugin_dir()
    target.mkdir(parents=True, exist_ok=True)
    dest = target / LUA_NAME
    shutil.copyfile(lua_path(), dest)
    return dest


def message_codes() -> dict[int, str]:
    """Request codes (long 0 of a request message) by number: I/O, file, program manager, migration
    and kernel-server protocols."""
    codes: dict[int, str] = {}
    for module, prefixes in (
        (abi, ("IO_", "FS_", "PM_")),
        (program_manager, ("MG_",)),
        (kernel_server, ("KS_",)),
    ):
        for name, value in vars(module).items():
            if name.startswith(prefixes) and isinstance(value, int) and value >= 0x100:
                codes[value] = name
    return dict(sorted(codes.items()))


def migration_codes() -> dict[int, str]:
    return {v: n for v, n in message_codes().items() if n.startswith("MG_")}


GROUPS = {
    abi.PROGRAM_MANAGER_GROUP: "program manager group",
    abi.LOCAL_KERNEL_SERVER: "local kernel server",
    abi.LOCAL_PROGRAM_MANAGER: "local program manager",
    abi.FILE_SERVER_GROUP: "file server group",
}


def _table(name: str, items: dict[int, str], width: int = 0) -> list[str]:
    lines = [f"local {name} = {{"]
    for value, text in items.items():
        lines.append(f'  [0x{value:0{width}x}] = "{text}",')
    lines.append("}")
    return lines


def generated_tables() -> str:
    """The Lua between the GENERATED markers, from the Python definitions."""
    lines = [
        f"local ETHERTYPE_V = 0x{packets.ETHERTYPE_V:04x}",
        f"local VERSION = {packets.VERSION}",
        f"local HEADER_SIZE = {packets.HEADER_SIZE}",
        f"local MSG_SIZE = {packets.MSG_SIZE}",
        f"local MAX_DATA = {packets.MAX_DATA}",
        f"local MAX_TRAIN = {packets.MAX_TRAIN}",
        f"local GROUP_BIT = 0x{abi.GROUP_BIT:04x}",
    ]
    lines += _table("KINDS", {k.value: k.name for k in packets.Kind}, 2)
    lines += _table("FLAGS", {f.value: f.name for f in packets.Flag}, 4)
    lines += _table("ERRORS", dict(sorted(abi.ERROR_NAMES.items())), 2)
    lines += _table("CODES", message_codes(), 3)
    lines += _table("MG", migration_codes(), 3)
    lines += _table("GROUPS", GROUPS, 4)
    return "\n".join(lines) + "\n"


def splice(text: str, tables: str) -> str:
    """`text` with what lies between the GENERATED marker lines replaced by `tables`."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the dissector has no {BEGIN} ... {END} block")
    first_line_end = rest.index("\n") + 1
    return head + sep + rest[:first_line_end] + tables + sep2 + tail


def regenerate() -> bool:
    """Rewrite the dissector's generated tables; whether the file changed."""
    old = lua_text()
    new = splice(old, generated_tables())
    if new != old:
        lua_path().write_text(new, encoding="utf-8")
    return new != old
