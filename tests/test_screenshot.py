"""Tests of frame buffer snapshots: a PNG after `hello` shows its text, from the session and from `run --screenshot`."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, run_session
from PIL import Image

from emulator.font import DEFAULT_FONT
from vcluster.cli import main

TEXT = "Hello from the V-System!"
CELL_W = 8


def ink_rows(img: Image.Image) -> list[int]:
    """Rows that have at least one black (ink) pixel."""
    gray = img.convert("L")
    w, h = gray.size
    px = gray.load()
    return [y for y in range(h) if any(px[x, y] < 128 for x in range(w))]


def assert_shows_hello(img: Image.Image) -> None:
    assert img.size == (1152, 900)
    cell_h = DEFAULT_FONT.height
    rows = ink_rows(img)
    assert rows, "the frame buffer is blank"
    # the text is on the first text row and nowhere else
    assert min(rows) >= 0 and max(rows) < cell_h
    gray = img.convert("L")
    px = gray.load()
    for col, ch in enumerate(TEXT):
        cell = [px[x, y] < 128 for x in range(col * CELL_W, (col + 1) * CELL_W) for y in range(cell_h)]
        if ch == " ":
            assert not any(cell), f"ink in the blank cell {col}"
        else:
            assert any(cell), f"no ink where {ch!r} (column {col}) should be"
    # nothing to the right of the text
    right = [px[x, y] < 128 for x in range(len(TEXT) * CELL_W, 1152) for y in range(cell_h)]
    assert not any(right)


def test_png_of_the_frame_buffer_after_hello_shows_its_text() -> None:
    session, summary = run_session(["hello"])
    assert summary["programs"][0]["output"] == TEXT + "\n"
    png = session.kernels["ws1"].machine.frame_buffer.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert_shows_hello(Image.open(io.BytesIO(png)))
    # ws2's screen is blank: programs write to the console of the user who started them
    blank = Image.open(io.BytesIO(session.kernels["ws2"].machine.frame_buffer.to_png()))
    assert ink_rows(blank) == []
    session.close()


def test_remote_output_is_drawn_on_the_home_screen() -> None:
    session, _ = run_session(["hello @ ws2"])
    assert_shows_hello(Image.open(io.BytesIO(session.kernels["ws1"].machine.frame_buffer.to_png())))
    session.close()


def test_run_screenshot_writes_the_png(tmp_path: Path, capsys) -> None:
    shot = tmp_path / "ws1.png"
    assert main(["run", "configs/tiny.yaml", "hello @ ws3", "--screenshot", f"ws1:{shot}"]) == 0
    assert capsys.readouterr().out == TEXT + "\n"
    assert_shows_hello(Image.open(shot))


def test_run_screenshot_refuses_what_it_cannot_do(tmp_path: Path, capsys) -> None:
    assert main(["run", "configs/tiny.yaml", "hello", "--screenshot", "ws9:x.png"]) == 2
    assert "unknown host 'ws9'" in capsys.readouterr().err
    assert main(["run", "configs/tiny.yaml", "hello", "--screenshot", "ws1"]) == 2
    assert "HOST:FILE" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "dir.png"
    assert main(["run", "configs/tiny.yaml", "hello", "--screenshot", f"ws1:{missing}"]) == 1
    assert "--screenshot: ws1:" in capsys.readouterr().err


def test_run_screenshot_from_the_command(tmp_path: Path) -> None:
    shot = tmp_path / "home.png"
    proc = subprocess.run(
        [sys.executable, "-m", "vcluster.cli", "run", "configs/tiny.yaml", "hello",
         "--screenshot", f"ws1:{shot}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert_shows_hello(Image.open(shot))
