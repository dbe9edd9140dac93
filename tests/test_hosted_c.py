"""Hosted C on the guest (newlib, libm, GCC's libgcc over the V system layer), checked against the host's own build.

The reference for every output here is the same C file compiled by the host's
gcc and run natively: IEEE double arithmetic, printf's formatting, strtod,
qsort and the rest must agree digit for digit. Also: no 68020-only
instruction in any committed image or library, and the packaged hosted
images are what the sources build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import build as gbuild
from guest import hosted
from tests.helpers import ROOT, config, programs_by_name, run_session, vcluster
from tests.m68k_isa import odd_displacements, scan_file

HOSTED = hosted.HOSTED_PROGRAMS_DIR
have_host_cc = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="no host gcc for the native reference"
)
have_cross = pytest.mark.skipif(bool(hosted.missing()), reason="m68k cross compiler not installed")


def native(tmp_path: Path, name: str, *args: str) -> str:
    """The program `name` of src/hosted-programs built and run by the host."""
    exe = tmp_path / f"{name}-native"
    srcs = [str(p) for p in sorted((HOSTED / name).glob("*.c"))]
    subprocess.run(["gcc", "-O2", "-w", "-o", str(exe), *srcs, "-lm"], check=True)
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, check=True, env=env
    ).stdout


@have_host_cc
def test_nbody_energies_match_the_native_build_digit_for_digit(tmp_path):
    want = native(tmp_path, "nbody", "300")
    _, summary = run_session(["nbody 300"], max_sim_seconds=300)
    got = programs_by_name(summary)["nbody"]
    assert got["exit_status"] == 0
    assert got["output"] == want
    assert "energy -0.169075164" in want  # the system's known starting energy


@have_host_cc
def test_nbody_remote_and_migrated_mid_run_prints_the_native_numbers(tmp_path):
    want = native(tmp_path, "nbody", "1000")
    _, summary = run_session(
        ["nbody 1000 @ ws2", "wait 60", "migrateprog nbody"], max_sim_seconds=600
    )
    got = programs_by_name(summary)["nbody"]
    assert summary["migrations"] and summary["migrations"][0]["ok"], summary["migrations"]
    assert got["host_started"] == "ws2" and got["host_final"] != "ws2"
    assert got["output"] == want


@have_host_cc
def test_nbody_is_independent_of_the_slice_size(tmp_path):
    want = native(tmp_path, "nbody", "100")
    for slice_instructions in (997, 20_000, 1_000_000):
        cfg = config(cpu__slice_instructions=slice_instructions)
        _, summary = run_session(["nbody 100"], cfg=cfg, max_sim_seconds=300)
        assert programs_by_name(summary)["nbody"]["output"] == want, slice_instructions


@have_host_cc
def test_libc_slice_matches_the_native_build(tmp_path):
    want = native(tmp_path, "libccheck")
    _, summary = run_session(["libccheck"], max_sim_seconds=300)
    got = programs_by_name(summary)["libccheck"]
    assert got["exit_status"] == 0
    assert got["output"].splitlines() == want.splitlines()
    assert got["output"].endswith("libccheck: done\n")


def test_no_68020_instruction_in_any_committed_image_or_library():
    files = [gbuild.image_path(n) for n in gbuild.available()]
    files += [hosted.LIB_DIR / n for n in ("libc.a", "libm.a", "libgcc.a")]
    assert all(f.is_file() for f in files)
    found = [line for f in files for line in scan_file(f)]
    assert found == []


def test_no_image_accesses_a_word_at_an_odd_displacement():
    """A real 68010 raises an address error there. The images have none; newlib has a few in
    functions no image links (docs/ABI.md, "Alignment"), counted here so a change shows."""
    images = [gbuild.image_path(n) for n in gbuild.available()]
    assert [line for f in images for line in scan_file(f, odd_displacements)] == []
    in_libc = scan_file(hosted.LIB_DIR / "libc.a", odd_displacements)
    assert {line.split(":")[1].split("+")[0] for line in in_libc} <= {
        ".text.__utoa", ".text.__stack_chk_fail", ".text.__dprintf",
        ".text.__ssvfiwscanf_r", "._sungetwc_r.isra.0", ".text._sungetwc_r.isra.0",
    }
    assert scan_file(hosted.LIB_DIR / "libm.a", odd_displacements) == []


@pytest.mark.skipif(shutil.which("m68k-linux-gnu-as") is None, reason="no m68k assembler")
def test_the_68020_scan_finds_planted_68020_code(tmp_path):
    src = tmp_path / "x.S"
    src.write_text(
        "\t.text\n\tmulu.l %d1,%d0\n\tbfextu %d0{1:4},%d1\n\tmove.b (0,%a0,%d5.l*8),%d0\n\trts\n"
    )
    subprocess.run(
        ["m68k-linux-gnu-as", "-m68020", str(src), "-o", str(tmp_path / "x.o")], check=True
    )
    found = scan_file(tmp_path / "x.o")
    assert [line.split(": ", 1)[1].split()[0] for line in found] == ["mulu.l", "bfextu", "move.b"]


@have_cross
def test_packaged_hosted_images_are_what_the_sources_build(tmp_path):
    for name, sources in hosted.hosted_programs().items():
        out = hosted.build_program(sources, tmp_path / name)
        assert out.read_bytes() == gbuild.image_path(name).read_bytes(), name


@have_cross
def test_a_users_multi_file_program_builds_and_runs(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "greet.h").write_text("long long scale(long long x);\n")
    (tmp_path / "main.c").write_text(
        "#include <stdio.h>\n#include <greet.h>\n"
        "int main(int argc, char **argv) {\n"
        '  printf("%s %lld %.3f\\n", GREETING, scale(argc), 1.0 / 8);\n}\n'  # no return: status 0
    )
    (tmp_path / "scale.c").write_text(
        "long long scale(long long x) { return x * 10000000000LL; }\n"
    )
    image = tmp_path / "greet"
    proc = vcluster(
        "guest",
        "build",
        str(tmp_path / "main.c"),
        str(tmp_path / "scale.c"),
        "-o",
        str(image),
        "-I",
        str(tmp_path / "inc"),
        '-DGREETING="hi"',
    )
    assert proc.returncode == 0, proc.stderr
    proc = vcluster("run", "tiny", "greet a b @ ws2", "--image", str(image))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hi 30000000000 0.125\n"


@have_cross
def test_a_build_error_names_the_file(tmp_path):
    (tmp_path / "bad.c").write_text("int main(void) { return undefined_thing; }\n")
    proc = vcluster("guest", "build", str(tmp_path / "bad.c"), "-o", str(tmp_path / "bad"))
    assert proc.returncode != 0
    assert "bad.c" in proc.stderr and "undefined_thing" in proc.stderr
    assert not (tmp_path / "bad").exists()


def test_hosted_library_sources_are_recorded():
    versions = (hosted.LIB_DIR / "VERSIONS").read_text()
    assert "newlib-3.3.0" in versions and "gcc-12" in versions
    assert (hosted.LIB_DIR / "include" / "stdio.h").is_file()
    assert (ROOT / "guest" / "toolchain" / "build-libc.sh").is_file()


def test_standard_input_typed_at_the_console_reaches_a_remote_program():
    from vcluster.session import Session

    session = Session(config())
    try:
        session.execute("lines @ ws2")
        session.execute("wait 2")
        assert programs_by_name(session.summary())["lines"]["exit_status"] is None  # blocked in read
        session.execute("input lines first typed line")
        session.execute("wait 1")
        session.execute("input 1 second")
        session.execute("eof lines")
        assert session.run_until_done(60)
        got = programs_by_name(session.summary())["lines"]
    finally:
        session.close()
    assert got["exit_status"] == 0
    assert got["output"] == "1: first typed line\n2: second\nlines: 2 lines, 24 bytes\n"


def test_run_stdin_feeds_every_program_and_no_stdin_is_at_its_end(tmp_path):
    data = "alpha\nbeta gamma\nno newline at the end"
    (tmp_path / "in.txt").write_text(data)
    proc = vcluster("run", "tiny", "lines @ ws3", "--stdin", str(tmp_path / "in.txt"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"1: alpha\n2: beta gamma\n3: no newline at the end\nlines: 3 lines, {len(data)} bytes\n"
    )
    empty = vcluster("run", "tiny", "lines")
    assert empty.returncode == 0 and empty.stdout == "lines: 0 lines, 0 bytes\n"
