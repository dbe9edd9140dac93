"""A real build in the cluster: vcc (guest/src/vcc, the project's own C compiler) compiling its own sources.

The source tree is vcc's own: its .c files and vcc.h, put on the file
server's disk. The make file (`makefile_text`) has one job per source file,
`vcc FILE.c -o FILE.s`, and a last job `vcc -sum vcc.sum FILE.s...` that
reads every output back and writes their sizes and Adler-32 sums (or sums
in parts, partK.sum, and combines them); pmake (guest/src/programs/pmake.c)
runs each job with `@ *` on an idle workstation.
The reference is the same compiler built natively by the host's C compiler
(`native_vcc`) compiling the same files (`native_outputs`): a build in the
cluster is right when every .s on the file server is byte-identical to it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

VCC_DIR = Path(__file__).resolve().parent.parent / "guest" / "src" / "vcc"
MAKEFILE = "vcc.mk"
SUM_FILE = "vcc.sum"


class NativeBuildError(RuntimeError):
    """vcc could not be built or run on the host (no C compiler, or it failed)."""


def units() -> list[str]:
    """vcc's compile units: the stems of guest/src/vcc/*.c, sorted."""
    return sorted(p.stem for p in VCC_DIR.glob("*.c"))


def source_files() -> dict[str, bytes]:
    """The source tree the build reads: every file of guest/src/vcc (name -> bytes)."""
    return {p.name: p.read_bytes() for p in sorted(VCC_DIR.iterdir()) if p.suffix in (".c", ".h")}


def split_parts(names: list[str], parts: int) -> list[list[str]]:
    """The units dealt round-robin into `parts` groups (in the order given)."""
    return [part for part in (names[k::parts] for k in range(max(1, parts))) if part]


def sum_order(names: list[str], parts: int = 1) -> list[str]:
    """The order of the units in vcc.sum: part by part."""
    return [n for part in split_parts(list(names), parts) for n in part]


def makefile_text(names: list[str] | None = None, parts: int = 1) -> str:
    """pmake's make file: `all` <- vcc.sum <- one compile job per unit (in the order given).

    With parts > 1 the outputs are summed in parts (partK.sum, each as soon as its compiles are
    done, in parallel with the others) and vcc.sum combines the parts."""
    names = list(names or units())
    lines = [
        f"# {MAKEFILE}: vcc compiles its own sources, one job per file, on idle workstations",
        f"all: {SUM_FILE}",
    ]
    groups = split_parts(names, parts)
    if len(groups) == 1:
        outputs = " ".join(f"{n}.s" for n in names)
        lines.append(f"{SUM_FILE}: {outputs} ; vcc -sum {SUM_FILE} {outputs}")
    else:
        sums = " ".join(f"part{k + 1}.sum" for k in range(len(groups)))
        lines.append(f"{SUM_FILE}: {sums} ; vcc -sum {SUM_FILE} {sums}")
        for k, group in enumerate(groups):
            outputs = " ".join(f"{n}.s" for n in group)
            lines.append(f"part{k + 1}.sum: {outputs} ; vcc -sum part{k + 1}.sum {outputs}")
    lines += [f"{n}.s: ; vcc {n}.c -o {n}.s" for n in names]
    return "\n".join(lines) + "\n"


def sum_text(outputs: dict[str, bytes], names: list[str]) -> str:
    """What `vcc -sum` writes for these outputs: the reference for vcc.sum (zlib's Adler-32)."""
    lines = [f"{n}.s {len(outputs[n])} 0x{zlib.adler32(outputs[n]):08x}" for n in names]
    everything = b"".join(outputs[n] for n in names)
    lines.append(f"total {len(everything)} 0x{zlib.adler32(everything):08x}")
    return "\n".join(lines) + "\n"


_native: dict[str, Path] = {}


def native_vcc(cc: str = "gcc") -> Path:
    """vcc built for the host by `cc` (cached per source contents for this process)."""
    srcs = sorted(VCC_DIR.glob("*.c"))
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(VCC_DIR.iterdir()))).hexdigest()[
        :16
    ]
    if key in _native and _native[key].is_file():
        return _native[key]
    if shutil.which(cc) is None:
        raise NativeBuildError(f"no host C compiler {cc!r} to build vcc natively")
    out = Path(tempfile.gettempdir()) / f"vcc-native-{key}"
    if not out.is_file():
        part = out.with_name(
            f"{out.name}.{os.getpid()}.part"
        )  # built aside, then renamed: no half file
        proc = subprocess.run(
            [cc, "-std=c99", "-O2", "-o", str(part), *map(str, srcs)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise NativeBuildError(f"building vcc natively failed:\n{proc.stdout}{proc.stderr}")
        os.replace(part, out)
    _native[key] = out
    return out


def native_outputs(
    names: list[str] | None = None, sources: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """The native vcc's .s for each unit, compiled from a copy of the tree (unit -> bytes)."""
    names = list(names or units())
    vcc = native_vcc()
    with tempfile.TemporaryDirectory(prefix="vcc-tree-") as tmp:
        for name, data in (sources or source_files()).items():
            (Path(tmp) / name).write_bytes(data)
        outputs = {}
        for n in names:
            proc = subprocess.run(
                [str(vcc), f"{n}.c", "-o", f"{n}.s"], cwd=tmp, capture_output=True, text=True
            )
            if proc.returncode != 0:
                raise NativeBuildError(f"native vcc {n}.c failed: {proc.stderr.strip()}")
            outputs[n] = (Path(tmp) / f"{n}.s").read_bytes()
    return outputs


def file_server(session):
    """The file system of the session's file server (to read what a build wrote)."""
    for kernel in session.kernels.values():
        fs = getattr(kernel.machine, "filesystem", None)
        if fs is not None:
            return fs
    raise LookupError("this cluster has no file server")


def read_file(session, name: str) -> bytes | None:
    fs = file_server(session)
    return fs.read(name, 0, fs.size(name)) if fs.exists(name) else None
