"""The one guest runtime: every packaged V program runs on newlib + libgcc + the V system layer.

The references: the host's own gcc building the V programs that need no V
call (their output and exit status must be the native build's), guest/hosted.py
building the committed bytes, the images' symbol tables (one I/O module, no
retired libc routine), and a program mixing v.h's file calls with newlib's.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import build as gbuild
from guest import hosted
from tests.helpers import run_session, vcluster_json

PROGRAMS = gbuild.PROGRAMS_DIR
NM = "m68k-linux-gnu-nm"
have_host_cc = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="no host gcc for the native reference"
)
have_cross = pytest.mark.skipif(bool(hosted.missing()), reason="m68k cross compiler not installed")
have_nm = pytest.mark.skipif(shutil.which(NM) is None, reason="no m68k nm")

# (program, arguments): the V programs that use only the C library, with their usage errors
NATIVE_CASES = [
    ("hello", []),
    ("echo", []),
    ("echo", ["a", "b  c", "-x", "%d", "%s%n", "\\n"]),
    ("exitwith", ["3", "some", "text"]),
    ("exitwith", ["0"]),
    ("exitwith", ["0x7f", "hex"]),
    ("exitwith", ["999"]),
    ("exitwith", ["12abc"]),
    ("primes", ["1000"]),
    ("primes", ["100000"]),
    ("primes", ["2"]),
    ("primes", ["-3"]),
    ("primes", []),
]


def native(tmp_path: Path, name: str, args: list[str]) -> tuple[str, int]:
    """The V program `name` built by the host's gcc and run natively: (stdout + stderr, status)."""
    exe = tmp_path / f"{name}-native"
    if not exe.exists():
        subprocess.run(
            ["gcc", "-O2", "-w", f"-I{PROGRAMS}", "-o", str(exe), str(PROGRAMS / f"{name}.c")],
            check=True,
        )
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    return proc.stdout + proc.stderr, proc.returncode


@have_host_cc
def test_v_programs_print_what_their_native_build_prints(tmp_path):
    lines = [shlex.join([name, *args]) for name, args in NATIVE_CASES]
    _, summary = run_session(lines, max_sim_seconds=60)
    got = summary["programs"]
    assert len(got) == len(NATIVE_CASES)
    for (name, args), prog in zip(NATIVE_CASES, got, strict=True):
        assert prog["argv"] == [name, *args], prog["argv"]
        want_out, want_status = native(tmp_path, name, args)
        # a usage error prints only to stderr, so the merged guest output is comparable
        assert prog["output"] == want_out, (name, args)
        assert prog["exit_status"] == want_status, (name, args)


@have_cross
def test_v_programs_are_what_hosted_py_builds_with_their_flags(tmp_path):
    """The committed images are what guest/hosted.py builds from the sources with the V programs'
    flags (guest/Makefile builds through it)."""
    for name in ("hello", "files", "workload"):
        out = hosted.build_program(
            [PROGRAMS / f"{name}.c"], tmp_path / name, cflags=hosted.V_PROGRAM_CFLAGS
        )
        assert out.read_bytes() == gbuild.image_path(name).read_bytes(), name


def symbols(path: Path) -> dict[str, str]:
    proc = subprocess.run([NM, path], capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = parts[1]
    return out


@have_nm
def test_every_image_has_the_one_runtime_and_no_retired_libc():
    # the retired runtime's own routines (stdio.c, printf.c, vio.c's copy of io_call)
    retired = {"__vformat", "__stdio_init", "file_emit", "io_call", "pm_send", "lookup"}
    for name in gbuild.available():
        syms = symbols(gbuild.image_path(name))
        assert not retired & set(syms), (name, retired & set(syms))
        # newlib's start-up path and the one I/O module
        for sym in (
            "_start",
            "__vstart",
            "__libc_init_array",
            "__vio_fd",
            "__vio_write",
            "_write",
            "exit",
        ):
            assert syms.get(sym, "").upper() == "T", (name, sym)
        assert syms.get("_impure_ptr", "").upper() in {"D", "R"}, name  # newlib's reent


@have_nm
def test_v_programs_print_through_the_integer_only_printf():
    """None prints a float: iprintf's text, never vfprintf's dtoa and soft-float divide."""
    for path in sorted(PROGRAMS.glob("*.c")):
        syms = symbols(gbuild.image_path(path.stem))
        assert "_dtoa_r" not in syms and "__divdf3" not in syms, path.stem


MIX = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <v.h>

int main(void)
{
    char buf[64];
    long n;
    int a = vopen("mix.txt", FS_MODE_WRITE), b;
    FILE *f;

    printf("vopen %d, vwrite %ld\n", a, vwrite(a, "one\n", 4));
    b = open("mix.txt", O_RDONLY);
    printf("open while it is open: %d\n", b);
    close(b);
    vclose(a);
    f = fopen("mix.txt", "a");
    fputs("two\n", f);
    fclose(f);
    b = open("mix.txt", O_RDONLY);
    n = vread(b, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("vread of open()'s %d: %ld bytes, size %ld: %s", b, n, vsize(b), buf);
    close(b);
    printf("vclose of a closed one: %s\n", verror(vclose(b)));
    f = fdopen(vopen("mix.txt", FS_MODE_READ), "r");
    while (fgets(buf, sizeof buf, f))
        printf("line: %s", buf);
    fclose(f);
    printf("missing: %s\n", verror(vopen("nosuch", FS_MODE_READ)));
    if (!fopen("nosuch", "r"))
        perror("fopen nosuch");
    return vremove("mix.txt") == 0 && vopen("mix.txt", FS_MODE_READ) == -ENOENT ? 0 : 1;
}
"""


@have_cross
def test_v_file_calls_and_newlib_share_one_descriptor_table(tmp_path):
    """vopen/vread and open/fopen/fdopen are one table (vio.c): a descriptor of either works with
    the other, numbers come from one pool, and V calls return V codes while newlib sets errno."""
    (tmp_path / "mix.c").write_text(MIX)
    image = hosted.build_program([tmp_path / "mix.c"], tmp_path / "mix")
    proc, summary = vcluster_json("tiny", "mix", "wait 2", "mix @ ws2", "--image", str(image))
    assert proc.returncode == 0, proc.stderr
    want = (
        "vopen 3, vwrite 4\n"
        "open while it is open: 4\n"
        "vread of open()'s 3: 8 bytes, size 8: one\ntwo\n"  # what vwrite and fputs wrote
        "vclose of a closed one: EINVAL\n"
        "line: one\nline: two\n"
        "missing: ENOENT\n"
        "fopen nosuch: No such file or directory\n"
    )
    runs = [(p["host_final"], p["exit_status"], p["output"]) for p in summary["programs"]]
    assert runs == [("ws1", 0, want), ("ws2", 0, want)]
