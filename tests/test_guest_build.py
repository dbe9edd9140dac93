"""The committed guest images: layout (always), and with the cross compiler
present, that they are up to date, fully linked and free of bkpt."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from guest import abi
from guest import build as gbuild

CC = gbuild.CROSS_CC
OBJDUMP = "m68k-linux-gnu-objdump"
NM = "m68k-linux-gnu-nm"
BKPT = range(0x4848, 0x4850)  # bkpt #0..#7: hangs Unicorn, must never run
EXPECTED = {
    "boss",
    "bigdata",
    "wanderer",
    "hello",
    "primes",
    "dirtier",
    "spin",
    "echo",
    "faults",
    "ipcserver",
    "ipcclient",
    "files",
    "parent",
    "exitwith",
    "gps",
    "sleeper",
    "workload",
    "pmake",
}

have_cross = pytest.mark.skipif(
    any(shutil.which(t) is None for t in (CC, OBJDUMP, NM, "make")),
    reason="m68k cross toolchain (m68k-linux-gnu-gcc, binutils, make) not installed",
)


def images() -> list[Path]:
    return [gbuild.image_path(name) for name in gbuild.available()]


def load_segments(path: Path):
    """(entry, [(vaddr, offset, filesz, memsz, flags)]) of the PT_LOAD segments."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", path
    assert data[4] == 1 and data[5] == 2, f"{path}: not ELF32 big-endian"
    e_type, e_machine = struct.unpack(">HH", data[16:20])
    assert e_type == 2 and e_machine == 4, f"{path}: not an m68k executable"
    entry, phoff = struct.unpack(">II", data[24:32])
    phentsize, phnum = struct.unpack(">HH", data[42:46])
    segs = []
    for i in range(phnum):
        p = phoff + i * phentsize
        p_type, off, vaddr, _paddr, filesz, memsz, flags, _align = struct.unpack(
            ">8I", data[p : p + 32]
        )
        if p_type == 1:
            segs.append((vaddr, off, filesz, memsz, flags))
    return entry, segs, data


def test_all_programs_are_built():
    assert EXPECTED <= set(gbuild.available())
    assert set(gbuild.programs()) == set(gbuild.available()), "a program without its image"


def test_image_path_errors_name_the_program():
    with pytest.raises(FileNotFoundError, match="nosuchprog.*hello"):
        gbuild.image_path("nosuchprog")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_image_layout(name):
    entry, segs, _ = load_segments(gbuild.image_path(name))
    assert entry == abi.TEXT_BASE
    assert len(segs) == 2, segs
    (tv, toff, tfs, tms, tfl), (dv, doff, dfs, dms, dfl) = segs
    assert tv == abi.TEXT_BASE and toff >= 52 + 2 * 32  # headers are not loaded
    assert tfl == 5 and dfl == 6  # R+X, R+W
    assert tfs == tms
    assert dv % abi.PAGE_SIZE == 0 and dv >= tv + tms
    assert dv + dms < abi.STACK_TOP - abi.STACK_MAX


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_bkpt_word_in_text_segment(name):
    """Stricter than the instruction-boundary check: no even word of the text
    segment (code and rodata) is a bkpt opcode, so a loader may scan for them."""
    _, segs, data = load_segments(gbuild.image_path(name))
    vaddr, off, filesz, _, _ = segs[0]
    text = data[off : off + filesz]
    hits = [
        vaddr + i
        for i in range(0, filesz - 1, 2)
        if struct.unpack(">H", text[i : i + 2])[0] in BKPT
    ]
    if name == "faults":
        assert len(hits) == 1
    else:
        assert not hits, f"{name}: bkpt words at {[hex(h) for h in hits]}"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("guest-bin")
    gbuild.build(out)
    return out


def _toolchain() -> str:
    cc = subprocess.run([CC, "--version"], capture_output=True, text=True).stdout
    ld = subprocess.run(["m68k-linux-gnu-ld", "--version"], capture_output=True, text=True).stdout
    return cc.splitlines()[0] + "\n" + ld.splitlines()[0] + "\n"


@have_cross
def test_committed_images_are_up_to_date(rebuilt):
    recorded = (gbuild.GUEST_DIR / "TOOLCHAIN").read_text()
    stale = [
        name
        for name in gbuild.programs()
        if not (gbuild.BIN_DIR / name).is_file()
        or (gbuild.BIN_DIR / name).read_bytes() != (rebuilt / name).read_bytes()
    ]
    if stale and recorded != _toolchain():
        pytest.skip(f"images were built with another toolchain:\n{recorded}")
    assert not stale, (
        f"guest/bin is stale for {stale}: run `make -C guest` (or vcluster guest build)"
    )


@have_cross
def test_build_is_reproducible(rebuilt, tmp_path):
    again = gbuild.build(tmp_path)
    for image in again:
        assert image.read_bytes() == (rebuilt / image.name).read_bytes(), image.name


@have_cross
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_undefined_symbols(name):
    out = subprocess.run(
        [NM, "-u", str(gbuild.image_path(name))], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "", f"{name}: undefined symbols:\n{out}"


_INSN = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{4})")


@have_cross
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_bkpt_instruction(name):
    out = subprocess.run(
        [OBJDUMP, "-d", str(gbuild.image_path(name))], capture_output=True, text=True, check=True
    ).stdout
    bkpts = []
    for line in out.splitlines():
        m = _INSN.match(line)
        if m and int(m.group(2), 16) in BKPT:
            bkpts.append(m.group(1))
    if name == "faults":
        assert len(bkpts) == 1, "faults must contain exactly one bkpt (its test case)"
    else:
        assert not bkpts, f"{name}: bkpt at {bkpts}"
