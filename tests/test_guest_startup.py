"""guest.startup builds the initial stack that crt0 reads (docs/ABI.md, "Entry")."""

from __future__ import annotations

import struct

import pytest

from guest import abi
from guest.startup import build_initial_stack, decode_initial_stack, venv_bytes


def test_layout_and_round_trip():
    venv = {"stdout_pid": 0x00010002, "stdout_inst": 7, "creator_pid": 0x00010005, "flags": 1}
    blob, sp = build_initial_stack(["echo", "a", "béé"], ["HOST=ws1"], venv)
    assert sp == abi.STACK_TOP - len(blob)
    assert sp % 4 == 0 and len(blob) % 4 == 0
    argc, argv_p, envp_p, venv_p = struct.unpack(">4I", blob[:16])
    assert argc == 3
    assert argv_p == sp + 16
    assert envp_p == argv_p + 4 * 4
    assert venv_p % 4 == 0 and sp < venv_p < abi.STACK_TOP
    off = venv_p - sp
    assert struct.unpack(">I", blob[off : off + 4])[0] == abi.VENV_MAGIC
    argv, envp, fields = decode_initial_stack(blob)
    assert argv == ["echo", "a", "béé"]
    assert envp == ["HOST=ws1"]
    assert fields["magic"] == abi.VENV_MAGIC
    assert fields["stdout_pid"] == 0x00010002 and fields["stdout_inst"] == 7
    assert fields["flags"] == abi.VENV_REMOTE and fields["stdin_pid"] == 0


def test_other_stack_top_and_empty_env():
    blob, sp = build_initial_stack(["hello"], [], {}, stack_top=0x10000)
    assert sp == 0x10000 - len(blob)
    argv, envp, fields = decode_initial_stack(blob, stack_top=0x10000)
    assert argv == ["hello"] and envp == [] and fields["magic"] == abi.VENV_MAGIC


def test_venv_bytes():
    raw = venv_bytes({"home_lhid": 3, "stderr_inst": -1})
    assert len(raw) == abi.VENV_SIZE
    values = dict(zip(abi.VENV_FIELDS, struct.unpack(">11I", raw), strict=True))
    assert values["home_lhid"] == 3 and values["stderr_inst"] == 0xFFFFFFFF
    with pytest.raises(ValueError, match="bogus"):
        venv_bytes({"bogus": 1})


def test_too_big_for_the_initial_stack():
    with pytest.raises(ValueError):
        build_initial_stack(["x" * abi.STACK_INITIAL], [], {})
