"""guest/lib is what guest/toolchain/build-libc.sh builds from Debian's newlib-source and gcc-12-source.

The script is run into a temporary directory and its libraries are compared
with the committed ones member by member (the archives are written in ar's
deterministic mode, so equal members make equal archives), and its headers
file by file. Skipped, with the reason, where the source packages or the
cross compiler are not installed (`apt-get install newlib-source
gcc-12-source gcc-m68k-linux-gnu binutils-m68k-linux-gnu`).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import hosted

SCRIPT = hosted.GUEST_DIR / "toolchain" / "build-libc.sh"
LIBS = ("libc.a", "libm.a", "libgcc.a")


def _lacking() -> str:
    if not glob.glob("/usr/src/newlib/newlib-*.tar.*"):
        return "newlib-source is not installed (/usr/src/newlib)"
    if not glob.glob("/usr/src/gcc-12/gcc-12.*.tar.*"):
        return "gcc-12-source is not installed (/usr/src/gcc-12)"
    for tool in ("m68k-linux-gnu-gcc", "m68k-linux-gnu-ar", "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return ""


def ar_members(path: Path) -> list[tuple[str, bytes]]:
    """The members of a System V/GNU ar archive in order: (name, contents); the symbol table
    and the long-name table are left out."""
    data = path.read_bytes()
    assert data[:8] == b"!<arch>\n", f"{path}: not an ar archive"
    pos, names, out = 8, b"", []
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode().rstrip()
        size = int(header[48:58].decode())
        body = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name in ("/", "/SYM64/"):
            continue
        if name == "//":
            names = body
            continue
        if name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            name = names[start : names.index(b"/\n", start)].decode()
        out.append((name.rstrip("/"), body))
    return out


def test_ar_members_reads_what_ar_wrote(tmp_path):
    if shutil.which("m68k-linux-gnu-ar") is None:
        pytest.skip("no m68k-linux-gnu-ar")
    long = "a-member-name-longer-than-sixteen.o"
    (tmp_path / "x.o").write_bytes(b"odd")
    (tmp_path / long).write_bytes(b"even")
    subprocess.run(["m68k-linux-gnu-ar", "rcD", "t.a", "x.o", long], cwd=tmp_path, check=True)
    assert ar_members(tmp_path / "t.a") == [("x.o", b"odd"), (long, b"even")]


@pytest.mark.slow
@pytest.mark.skipif(bool(_lacking()), reason=_lacking() or "ready")
def test_committed_libraries_are_what_build_libc_builds(tmp_path):
    out = tmp_path / "lib"
    proc = subprocess.run(
        ["sh", str(SCRIPT), str(tmp_path / "work"), str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for lib in LIBS:
        built, committed = ar_members(out / lib), ar_members(hosted.LIB_DIR / lib)
        assert [n for n, _ in built] == [n for n, _ in committed], lib
        differing = [n for (n, a), (_, b) in zip(built, committed, strict=True) if a != b]
        assert differing == [], f"{lib}: members differ from the committed ones"
        assert (out / lib).read_bytes() == (hosted.LIB_DIR / lib).read_bytes(), lib
    headers = {p.relative_to(out / "include") for p in (out / "include").rglob("*") if p.is_file()}
    committed = {
        p.relative_to(hosted.LIB_DIR / "include")
        for p in (hosted.LIB_DIR / "include").rglob("*")
        if p.is_file()
    }
    assert headers == committed
    changed = [
        str(h)
        for h in sorted(headers)
        if (out / "include" / h).read_bytes() != (hosted.LIB_DIR / "include" / h).read_bytes()
    ]
    assert changed == []
    assert (out / "VERSIONS").read_text() == (hosted.LIB_DIR / "VERSIONS").read_text()
