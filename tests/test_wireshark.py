"""The Wireshark dissector (vcluster/wireshark): its tables against the Python enums, `vcluster
wireshark`, and tshark decoding a captured migration the way vkernel/packets.py decodes it."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from guest import abi
from netsim.pcap import PcapWriter, read_pcap
from vcluster import wireshark
from vcluster.cli import main
from vkernel import packets
from vkernel.messages import signed, unpack
from vkernel.servers import kernel_server, program_manager

ROOT = Path(__file__).resolve().parent.parent
LUA = wireshark.lua_path()
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _lua_tables() -> tuple[dict[str, dict[int, str]], dict[str, int]]:
    """The name tables and constants of the dissector's generated block, parsed from the Lua."""
    text = LUA.read_text()
    block = text[text.index(wireshark.BEGIN) : text.index(wireshark.END)]
    tables = {
        name: {int(k, 0): v for k, v in re.findall(r'\[(0x[0-9a-f]+)\] = "([^"]*)"', body)}
        for name, body in re.findall(r"local (\w+) = \{\n(.*?)\n\}", block, re.S)
    }
    consts = {n: int(v, 0) for n, v in re.findall(r"local (\w+) = (0x[0-9a-f]+|\d+)\n", block)}
    return tables, consts


def _codes() -> dict[int, str]:
    """Every message code the servers know, from their modules."""
    codes = {}
    for name in dir(abi):
        value = getattr(abi, name)
        if name.startswith(("IO_", "FS_", "PM_")) and isinstance(value, int) and value >= 0x100:
            codes[value] = name
    for module, prefix in ((program_manager, "MG_"), (kernel_server, "KS_")):
        codes.update({getattr(module, n): n for n in dir(module) if n.startswith(prefix)})
    return codes


def test_lua_tables_match_the_python_definitions() -> None:
    tables, consts = _lua_tables()
    assert tables["KINDS"] == {k.value: k.name for k in packets.Kind}
    assert tables["FLAGS"] == {f.value: f.name for f in packets.Flag}
    assert tables["ERRORS"] == abi.ERROR_NAMES
    codes = _codes()
    assert {"IO_WRITE", "FS_OPEN", "PM_MIGRATE", "MG_INIT", "MG_STATE", "KS_HOST_INFO"} <= set(
        codes.values()
    )
    assert tables["CODES"] == codes
    assert tables["MG"] == {v: n for v, n in codes.items() if n.startswith("MG_")}
    assert set(tables["GROUPS"]) == {
        abi.PROGRAM_MANAGER_GROUP,
        abi.LOCAL_KERNEL_SERVER,
        abi.LOCAL_PROGRAM_MANAGER,
        abi.FILE_SERVER_GROUP,
    }
    assert consts == {
        "ETHERTYPE_V": packets.ETHERTYPE_V,
        "VERSION": packets.VERSION,
        "HEADER_SIZE": packets.HEADER_SIZE,
        "MSG_SIZE": packets.MSG_SIZE,
        "MAX_DATA": packets.MAX_DATA,
        "MAX_TRAIN": packets.MAX_TRAIN,
        "GROUP_BIT": abi.GROUP_BIT,
    }
    # and the file is what `python -m vcluster.wireshark --regenerate` writes
    text = LUA.read_text()
    assert wireshark.splice(text, wireshark.generated_tables()) == text


def test_cli_prints_the_path_and_the_lua(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wireshark", "--path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.is_file() and path.read_text() == LUA.read_text()
    assert main(["wireshark"]) == 0
    assert capsys.readouterr().out == LUA.read_text()


def test_cli_install_copies_into_the_personal_plugin_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["wireshark", "--install"]) == 0
    dest = tmp_path / ".local" / "lib" / "wireshark" / "plugins" / "v_interkernel.lua"
    assert str(dest) in capsys.readouterr().out
    assert dest.read_text() == LUA.read_text()
    assert main(["wireshark", "--install"]) == 0  # again: overwritten, not an error
    (tmp_path / ".local" / "lib" / "wireshark" / "plugins").chmod(0o500)
    try:
        if not os.access(dest.parent, os.W_OK):  # root writes anyway
            assert main(["wireshark", "--install"]) == 1
            assert "cannot install" in capsys.readouterr().err
    finally:
        dest.parent.chmod(0o700)


def test_cli_help_says_how_to_use_it_with_tshark() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vcluster.cli", "wireshark", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "tshark -X lua_script:FILE -r capture.pcap" in " ".join(out.split())
    assert "--install" in out and "--path" in out


FIELDS = (
    "frame.number", "vik.kind.name", "vik.seq", "vik.src_pid", "vik.dst_pid", "vik.lhid",
    "vik.flags", "vik.checksum.status", "vik.msg.code.name", "vik.msg.reply.name", "vik.mg",
    "vik.move.offset", "vik.data_len", "vik.msg.long", "vik.src_pid.group", "vik.dst_pid.group",
)  # fmt: skip


def _tshark(pcap: Path, home: Path, *fields: str) -> list[dict[str, str]]:
    """tshark's decoding of `pcap` with the dissector: one dict (field -> text) per frame."""
    out = subprocess.run(
        ["tshark", "-X", f"lua_script:{LUA}", "-r", str(pcap), "-T", "fields",
         *[a for f in fields for a in ("-e", f)], "-E", "occurrence=a", "-E", "aggregator=,"],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "HOME": str(home)},  # no personal plugins (an installed copy) as well
    ).stdout  # fmt: skip
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


@pytest.fixture(scope="module")
def migration(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A capture of a migration with `vcluster run ... --pcap`, and its frames."""
    pcap = tmp_path_factory.mktemp("wireshark") / "migration.pcap"
    proc = subprocess.run(
        [sys.executable, "-m", "vcluster.cli", "run", "tiny", "dirtier 256 32 4 @ ws2", "wait 1",
         "migrateprog dirtier", "--pcap", str(pcap)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "migrated dirtier" in proc.stdout
    return pcap, [f for _, f in read_pcap(pcap)]


def _names(value: str) -> set[str]:
    return set(value.split(",")) - {""}


@needs_tshark
def test_tshark_decodes_a_migration_as_packets_py_does(
    migration: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    pcap, frames = migration
    rows = _tshark(pcap, tmp_path, *FIELDS)
    assert len(rows) == len(frames) > 50
    codes = _codes()
    seen_kinds: set[str] = set()
    seen_mg: set[str] = set()
    seen_codes: set[str] = set()
    for row, frame in zip(rows, frames, strict=True):
        _, _, p = packets.parse_frame(frame)  # the reference decoding
        where = f"frame {row['frame.number']}"
        assert row["vik.kind.name"] == p.kind.name, where
        assert int(row["vik.seq"], 0) == p.seq, where
        assert int(row["vik.src_pid"], 0) == p.src_pid, where
        assert int(row["vik.dst_pid"], 0) == p.dst_pid, where
        assert int(row["vik.lhid"], 0) == p.lhid, where
        assert int(row["vik.flags"], 0) == p.flags, where
        assert row["vik.checksum.status"] == "1", where  # Good
        assert int(row["vik.data_len"]) == len(p.data), where
        seen_kinds.add(p.kind.name)
        if p.kind is packets.Kind.MOVE_DATA:
            assert int(row["vik.move.offset"]) == p.offset, where
        if p.msg:
            longs = unpack(p.msg)
            assert [int(v, 0) for v in row["vik.msg.long"].split(",")] == list(longs), where
            if p.kind is packets.Kind.REPLY:
                assert row["vik.msg.reply.name"] == (
                    "OK" if longs[0] == 0 else abi.ERROR_NAMES[-signed(longs[0])]
                ), where
            else:
                assert row["vik.msg.code.name"] == codes.get(longs[0], ""), where
                seen_codes |= _names(row["vik.msg.code.name"])
                if codes.get(longs[0], "").startswith("MG_"):
                    assert row["vik.mg"] == codes[longs[0]], where
        group = p.dst_pid & 0xFFFF
        if p.flags & packets.Flag.GROUP and group == abi.PROGRAM_MANAGER_GROUP:
            assert row["vik.dst_pid.group"] == "program manager group", where
        seen_mg |= _names(row["vik.mg"])
    # a migration: the program manager's query, the MG_* exchange, bulk moves, the new binding
    assert {"SEND", "REPLY", "FORWARDED", "MOVEFROM_REQ", "MOVE_DATA", "MOVE_ACK",
            "LH_HERE"} <= seen_kinds  # fmt: skip
    assert {"MG_INIT", "MG_PAGES", "MG_STATE"} <= seen_mg
    assert {"PM_QUERY_HOST", "PM_EXEC", "PM_MIGRATE", "IO_WRITE"} <= seen_codes
    # a REPLY says which request it answers, MG_* ones included
    replies = [r["vik.mg"] for r in rows if r["vik.kind.name"] == "REPLY" and r["vik.mg"]]
    assert {"MG_INIT", "MG_PAGES", "MG_STATE"} <= set(replies)


@needs_tshark
def test_installed_and_given_with_x_lua_script_at_once(
    migration: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    pcap, frames = migration
    wireshark.install(tmp_path / ".local" / "lib" / "wireshark" / "plugins")
    proc = subprocess.run(
        ["tshark", "-X", f"lua_script:{LUA}", "-r", str(pcap), "-T", "fields", "-e", "vik.kind.name"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0 and "Lua" not in proc.stderr, proc.stderr
    names = proc.stdout.split()
    assert names == [packets.parse_frame(f)[2].kind.name for f in frames]


def _patched(frame: bytes, at: int, value: int) -> bytes:
    """`frame` with payload byte `at` set to `value` and the checksum made right again."""
    payload = bytearray(frame[packets.ETH_HEADER_SIZE :])
    payload[at] = value
    payload[4:8] = bytes(4)
    payload[4:8] = zlib.crc32(payload).to_bytes(4, "big")
    return frame[: packets.ETH_HEADER_SIZE] + bytes(payload)


@needs_tshark
def test_tshark_flags_a_bad_checksum_and_malformed_packets(
    migration: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    _, frames = migration
    good = next(
        f
        for f in frames
        if packets.parse_frame(f)[2].kind is packets.Kind.MOVE_DATA
        and len(packets.parse_frame(f)[2].data) > 100
    )
    corrupt = bytearray(good)
    corrupt[packets.ETH_HEADER_SIZE + packets.HEADER_SIZE + 50] ^= 0x40  # a data byte
    cases = [(good, None), (bytes(corrupt), "bad-checksum"),
             (_patched(good, 0, 2), "bad-version"), (_patched(good, 1, 99), "unknown-kind")]  # fmt: skip
    for f, reason in cases:  # what the reference decoder says of them
        if reason is None:
            packets.parse_frame(f)
        else:
            with pytest.raises(packets.PacketError) as e:
                packets.parse_frame(f)
            assert e.value.reason == reason
    pcap = tmp_path / "bad.pcap"
    with PcapWriter(pcap) as w:
        for i, (f, _) in enumerate(cases):
            w.write(i * 1000, f)
    rows = _tshark(pcap, tmp_path, "vik.checksum.status", "_ws.expert.message", "vik.kind")
    assert len(rows) == len(cases)
    assert rows[0]["vik.checksum.status"] == "1" and rows[0]["_ws.expert.message"] == ""
    assert rows[1]["vik.checksum.status"] == "0"  # Bad
    stored = struct.unpack_from(">I", corrupt, 18)[0]
    assert f"Bad checksum: 0x{stored:08x}" in rows[1]["_ws.expert.message"]
    assert "bad-version" in rows[2]["_ws.expert.message"]
    assert rows[3]["vik.checksum.status"] == "1" and "unknown-kind" in rows[3]["_ws.expert.message"]
    assert rows[3]["vik.kind"] == "99"
