"""guest/include/v.h carries every constant of guest/abi.py with the same value."""

from __future__ import annotations

import re
from pathlib import Path

from guest import abi

V_H = Path(abi.__file__).resolve().parent / "include" / "v.h"

_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Z_][A-Z0-9_]*)\s+(.+?)\s*(?:/\*.*)?$")


def _c_int(text: str) -> int | None:
    """The value of a plain C integer literal (maybe parenthesised, maybe suffixed)."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    m = re.fullmatch(r"(-?)\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*", text)
    if not m:
        return None
    value = int(m.group(2), 0)
    return -value if m.group(1) else value


def v_h_defines() -> dict[str, int]:
    defines: dict[str, int] = {}
    for line in V_H.read_text().splitlines():
        m = _DEFINE.match(line)
        if m:
            value = _c_int(m.group(2))
            if value is not None:
                defines[m.group(1)] = value
    return defines


def abi_constants() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(abi).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }


def test_abi_has_constants():
    constants = abi_constants()
    assert "SYS_EXIT" in constants and "VENV_MAGIC" in constants and "PM_MIGRATE" in constants


def test_every_abi_constant_is_in_v_h_with_the_same_value():
    defines = v_h_defines()
    missing = sorted(set(abi_constants()) - set(defines))
    assert not missing, f"guest/include/v.h lacks: {', '.join(missing)}"
    wrong = {
        name: (value, defines[name])
        for name, value in abi_constants().items()
        if defines[name] != value
    }
    assert not wrong, f"abi.py value != v.h value: {wrong}"


def test_venv_layout_matches():
    assert abi.VENV_SIZE == 4 * len(abi.VENV_FIELDS)
    text = V_H.read_text()
    body = re.search(r"struct venv \{(.*?)\};", text, re.S).group(1)
    fields = re.findall(r"\b(\w+);", body)
    assert tuple(fields) == abi.VENV_FIELDS


def test_parser_reads_the_forms_used():
    assert _c_int("0x1000") == 0x1000
    assert _c_int("(0x10UL)") == 0x10
    assert _c_int("42") == 42
    assert _c_int("FOO + 1") is None
