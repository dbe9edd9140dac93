"""Build and locate the guest images (guest/bin/NAME, committed to git).

Running needs no cross compiler: the images in guest/bin are committed.
`build()` rebuilds them all (or builds elsewhere) with guest/Makefile and
Debian's m68k-linux-gnu-gcc, the packaged V programs and the hosted ones alike;
`vcluster guest build` calls it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from guest import hosted

GUEST_DIR = Path(__file__).resolve().parent
BIN_DIR = GUEST_DIR / "bin"
PROGRAMS_DIR = GUEST_DIR / "src" / "programs"
CROSS_CC = "m68k-linux-gnu-gcc"
CROSS_TOOLS = (CROSS_CC, "m68k-linux-gnu-nm")


class BuildError(RuntimeError):
    """The guest images could not be built (a missing tool, or make failed)."""


GuestBuildError = BuildError


def programs() -> list[str]:
    """The programs that have a source: guest/src/programs/*.c and the hosted src/hosted-programs/NAME/."""
    return sorted({p.stem for p in PROGRAMS_DIR.glob("*.c")} | set(hosted.hosted_programs()))


def missing_tools() -> list[str]:
    """The tools a build needs that are not on PATH."""
    return [tool for tool in (*CROSS_TOOLS, "make") if shutil.which(tool) is None]


def build(out_dir: Path | None = None, jobs: int = 4) -> list[Path]:
    """Build every program into out_dir (default guest/bin); return the image paths."""
    missing = missing_tools()
    if missing:
        raise BuildError(
            "cannot build the guest images: missing "
            + ", ".join(missing)
            + " (on Debian: apt-get install gcc-m68k-linux-gnu binutils-m68k-linux-gnu make)"
        )
    out = Path(out_dir).resolve() if out_dir is not None else BIN_DIR
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["make", "-C", str(GUEST_DIR), f"-j{max(1, jobs)}", f"OUT={out}", f"CC={CROSS_CC}"]
    cmd.append(f"PYTHON={sys.executable}")  # the Makefile builds through guest/hosted.py
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(
            f"guest build failed ({' '.join(cmd)}):\n{proc.stdout}{proc.stderr}".rstrip()
        )
    return [out / name for name in programs()]


def available() -> list[str]:
    """The programs that have a built image in guest/bin."""
    if not BIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BIN_DIR.iterdir() if p.is_file() and not p.name.startswith("."))


def image_path(name: str) -> Path:
    """guest/bin/NAME; FileNotFoundError naming the program and the ones there are."""
    if not name or "/" in name or name.startswith("."):
        raise FileNotFoundError(f"no guest program {name!r}: available: {', '.join(available())}")
    path = BIN_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"no guest program {name!r}: available: {', '.join(available()) or '(none built)'}"
        )
    return path


if __name__ == "__main__":  # python -m guest.build [OUT]
    import sys

    for image in build(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(image)
