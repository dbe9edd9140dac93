"""Build C programs for the guest: newlib, libm and GCC's libgcc (68000 code) over the V runtime.

A guest program is ordinary C (`main`, <stdio.h>, <math.h>, <time.h>,
<fcntl.h>, float and double, long long, and v.h's V calls) compiled for the
68010 with soft float and linked against the committed libraries in guest/lib
(built from Debian's newlib and GCC sources by guest/toolchain/build-libc.sh)
and the one runtime in src/runtime/ (start-up, V calls, the V I/O module and
newlib's _read/_write/_open/... as V I/O requests). `vcluster guest build
FILE.c... -o NAME` calls build_program(); guest/Makefile builds the packaged
programs (src/programs/*.c, with V_PROGRAM_CFLAGS, and
src/hosted-programs/NAME/*.c) through it: `python -m guest.hosted --list`
names them, `python -m guest.hosted --out DIR NAME...` builds them. Every
compile predefines HZ=60; main's type (from gcc's -aux-info) picks the
start-up: start.c, compiled with main's own types for a main of long long or void
(docs/ABI.md, "main's type").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parent
LIB_DIR = GUEST_DIR / "lib"
HOSTED_PROGRAMS_DIR = GUEST_DIR / "src" / "hosted-programs"
# vcc, the project's own C compiler: a hosted program with a folder of its own
VCC_DIR = GUEST_DIR / "src" / "vcc"
V_PROGRAMS_DIR = GUEST_DIR / "src" / "programs"
CROSS_CC = "m68k-linux-gnu-gcc"

# The one runtime every image links (guest/Makefile's RUNTIME, in this order):
# crt0, the trap stubs and V calls, the V I/O module (v.h's file calls and the
# descriptors under newlib), the program-manager calls, the start-up, and the
# V system layer under newlib.
RUNTIME = tuple(
    f"src/runtime/{name}"
    for name in ("crt0.S", "syscall.S", "vcalls.c", "vio.c", "vpm.c", "start.c", "vsys.c")
)

# Debian's gcc targets Linux: take the Linux names away, keep code 68010-only,
# soft float, and never merge byte stores into (possibly odd) word stores.
ARCH = ["-mcpu=68010", "-Wa,-m68010", "-msoft-float"]
TARGET = [
    "-U__linux__", "-U__linux", "-U__gnu_linux__", "-Ulinux",
    "-U__unix__", "-U__unix", "-Uunix",
    "-fno-pic", "-fno-pie", "-fno-store-merging", "-fno-common",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-stack-protector",
    "-fno-ident", "-ffunction-sections", "-fdata-sections", "-g0",
]  # fmt: skip
LDFLAGS = [
    "-nostdlib", "-nostartfiles", "-static", "-no-pie",
    "-Wl,--gc-sections", "-Wl,--build-id=none",
    "-Wl,-z,max-page-size=0x1000", "-Wl,-z,common-page-size=0x1000", "-Wl,-z,norelro",
    "-Wl,--no-warn-execstack",
]  # fmt: skip
LIBS = ["-Wl,--start-group", "-lc", "-lm", "-lgcc", "-Wl,--end-group"]
# What the packaged V programs add (src/programs/*.c): warnings,
# no library calls gcc invents in their instruction-counted loops, and newlib's
# integer-only printf family (none prints a float).
V_PROGRAM_CFLAGS = [
    "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-builtin",
    "-fno-tree-loop-distribute-patterns",
    "-Dprintf=iprintf", "-Dfprintf=fiprintf", "-Dsprintf=siprintf", "-Dsnprintf=sniprintf",
    "-Dvprintf=viprintf", "-Dvfprintf=vfiprintf", "-Dvsprintf=vsiprintf",
    "-Dvsnprintf=vsniprintf",
]  # fmt: skip

# What every compile predefines: HZ, the rate of times() (60, as on a Sun and
# in newlib's <sys/param.h>; Dhrystone's -DTIMES path divides by it).
PREDEFINED = ["-DHZ=60"]

# The start-up a main of another type than `int main(int, ...)` links instead
# of start.c (`#define int long long` makes main's argc and result long long).
START = "src/runtime/start.c"

# gcc -aux-info's line for a function definition: /* FILE:LINE:NF */ extern TYPE main (PARAMS);
_AUX_MAIN = re.compile(
    r"^/\* (?P<file>.+):\d+:[NO]F \*/ extern (?P<result>.+?) ?\bmain \((?P<params>.*?)\);"
)


class HostedBuildError(RuntimeError):
    """A hosted program could not be built (a missing tool or library, or the compiler failed)."""


def missing() -> list[str]:
    """What a hosted build needs and does not find."""
    out = [t for t in (CROSS_CC, "m68k-linux-gnu-nm") if shutil.which(t) is None]
    out += [
        str(LIB_DIR / n) for n in ("libc.a", "libm.a", "libgcc.a") if not (LIB_DIR / n).is_file()
    ]
    return out


def _gcc_include() -> str:
    proc = subprocess.run([CROSS_CC, "-print-file-name=include"], capture_output=True, text=True)
    return proc.stdout.strip()


def compile_flags(
    includes: Sequence[str | Path] = (), defines: Sequence[str] = (), cflags: Sequence[str] = ()
) -> list[str]:
    """The compiler flags of a hosted build (user -I/-D/flags first, then the C library's headers)."""
    flags = [*ARCH, "-O2", *TARGET, "-nostdinc", *PREDEFINED]
    flags += [f"-I{Path(d).resolve()}" for d in includes]
    flags += [f"-D{d}" for d in defines]
    flags += list(cflags)
    # newlib's headers, then gcc's own (stddef.h, stdarg.h, float.h), then v.h
    flags += ["-isystem", str(LIB_DIR / "include"), "-idirafter", _gcc_include()]
    flags += ["-idirafter", str(GUEST_DIR / "include")]
    return flags


def build_program(
    sources: Sequence[str | Path],
    output: str | Path,
    *,
    includes: Sequence[str | Path] = (),
    defines: Sequence[str] = (),
    cflags: Sequence[str] = (),
) -> Path:
    """Compile and link C sources into one guest image at output; returns its path."""
    lacking = missing()
    if lacking:
        raise HostedBuildError(
            "cannot build a hosted program: missing "
            + ", ".join(lacking)
            + " (on Debian: apt-get install gcc-m68k-linux-gnu binutils-m68k-linux-gnu)"
        )
    srcs = [Path(s).resolve() for s in sources]
    for s in srcs:
        if not s.is_file():
            raise HostedBuildError(f"no such source file: {s}")
    if not srcs:
        raise HostedBuildError("no source files")
    out = Path(output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vguest-") as tmp:
        flags = compile_flags(includes, defines, cflags)
        objs = {}
        aux = []
        # the program first (gcc -aux-info tells main's type), then the runtime
        for i, src in enumerate(srcs, start=len(RUNTIME)):
            obj = Path(tmp) / f"{i:03d}-{src.stem}.o"
            aux.append(obj.with_suffix(".aux"))
            cmd = [CROSS_CC, *flags, "-aux-info", str(aux[-1]), "-c", src.name, "-o", str(obj)]
            # compiled from its own directory by its base name: no checkout path in the image
            _run(cmd, f"compiling {src.name}", cwd=src.parent)
            objs[i] = str(obj)
        start_defines = start_for(main_type(aux, srcs))
        for i, rel in enumerate(RUNTIME):
            src = GUEST_DIR / rel
            obj = Path(tmp) / f"{i:03d}-{src.stem}.o"
            extra = start_defines if rel == START else []
            cmd = [CROSS_CC, *flags, *extra, "-c", src.name, "-o", str(obj)]
            _run(cmd, f"compiling {src.name}", cwd=src.parent)
            objs[i] = str(obj)
        objs = [objs[i] for i in sorted(objs)]
        linked = Path(tmp) / "image"
        cmd = [CROSS_CC, *ARCH, *LDFLAGS, f"-Wl,-T,{GUEST_DIR / 'link.ld'}", "-o", str(linked)]
        cmd += [*objs, f"-L{LIB_DIR}", *LIBS]
        _run(cmd, "linking")
        undefined = _run(["m68k-linux-gnu-nm", "-u", str(linked)], "checking symbols").strip()
        if undefined:
            raise HostedBuildError(f"{out.name}: undefined symbols:\n{undefined}")
        shutil.copyfile(linked, out)
    out.chmod(0o755)  # an executable, as the linker made it
    return out


def main_type(aux_files: Sequence[Path], sources: Sequence[Path]) -> tuple[str, str] | None:
    """main's (result type, first parameter's type) as gcc's -aux-info files of the sources
    state its definition (("int", "int") for K&R `main(argc, argv)`); None: no main defined."""
    names = {s.name for s in sources}
    for f in aux_files:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            m = _AUX_MAIN.match(line)
            if m and Path(m["file"]).name in names:
                first = m["params"].split(",")[0].strip()
                # a parameter's type is its declaration less the name ("long long int argc")
                first = re.sub(r"\s*\b\w+$", "", first) if first not in ("void", "") else "void"
                return m["result"].strip(), first or "int"
    return None


def start_for(signature: tuple[str, str] | None) -> list[str]:
    """start.c's -D flags for main's (result, argc) types: none for an int main (or none), else
    main's own types."""
    if signature is None:
        return []
    result, argc = signature
    wide_result = "long long" in result
    wide_argc = "long long" in argc
    if not (wide_result or wide_argc or result == "void"):
        return []
    defines = [f"-DVMAIN_ARGC={argc if wide_argc else 'int'}"]
    defines += ["-DVMAIN_VOID"] if result == "void" else [f"-DVMAIN_RESULT={result}"]
    return defines


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise HostedBuildError(
            f"{what} failed:\n{' '.join(cmd)}\n{proc.stdout}{proc.stderr}".rstrip()
        )
    return proc.stdout


def hosted_programs() -> dict[str, list[Path]]:
    """The packaged hosted programs: src/hosted-programs/NAME/*.c -> NAME, and src/vcc/*.c -> vcc."""
    programs = {}
    if HOSTED_PROGRAMS_DIR.is_dir():
        programs = {
            d.name: sorted(d.glob("*.c"))
            for d in sorted(HOSTED_PROGRAMS_DIR.iterdir())
            if d.is_dir() and any(d.glob("*.c"))
        }
    if any(VCC_DIR.glob("*.c")):
        programs["vcc"] = sorted(VCC_DIR.glob("*.c"))
    return dict(sorted(programs.items()))


def packaged_programs() -> dict[str, tuple[list[Path], list[str]]]:
    """Every packaged program: NAME -> (its sources, its extra flags). The V programs
    (src/programs/NAME.c, one file each, V_PROGRAM_CFLAGS) and the hosted ones."""
    programs = {p.stem: ([p], list(V_PROGRAM_CFLAGS)) for p in sorted(V_PROGRAMS_DIR.glob("*.c"))}
    for name, sources in hosted_programs().items():
        if name in programs:
            raise HostedBuildError(
                f"two programs named {name}: src/programs and src/hosted-programs"
            )
        programs[name] = (sources, [])
    return dict(sorted(programs.items()))


def build_packaged(name: str, out_dir: str | Path) -> Path:
    """Build the packaged program NAME into out_dir/NAME."""
    programs = packaged_programs()
    if name not in programs:
        raise HostedBuildError(f"no packaged program {name!r}: {', '.join(programs)}")
    sources, cflags = programs[name]
    return build_program(sources, Path(out_dir) / name, cflags=cflags)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m guest.hosted --list` | `python -m guest.hosted --out DIR NAME...` (guest/Makefile)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m guest.hosted", description=main.__doc__)
    parser.add_argument("--list", action="store_true", help="print the packaged programs' names")
    parser.add_argument("--out", help="build the NAMEs into this directory")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(" ".join(packaged_programs()))
            return 0
        if not args.out or not args.names:
            parser.error("--list, or --out DIR and one or more NAMEs")
        for name in args.names:
            print(f"built {build_packaged(name, args.out)}")
    except HostedBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
