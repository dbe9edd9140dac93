"""Frame buffer and text console: bitmap layout, PNG, text art, wrap, scroll, control characters."""

from __future__ import annotations

import io
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from emulator.font import BOX_CHAR, DEFAULT_FONT, BitmapFont
from emulator.frame_buffer import FrameBuffer, TextConsole, read_text

CELL_W, CELL_H = 8, DEFAULT_FONT.height


def decode(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def ink_boxes(img: Image.Image) -> list[tuple[int, int]]:
    """Coordinates of every black (ink) pixel of a decoded PNG."""
    w, h = img.size
    px = img.convert("L").tobytes()
    return [(i % w, i // w) for i, v in enumerate(px) if v == 0]


def fresh_render(lines: list[str], fb_size: tuple[int, int] = (1152, 900)) -> bytearray:
    fb = FrameBuffer(*fb_size)
    TextConsole(fb).write("\n".join(lines))
    return fb.data


def reference_lines(text: str, cols: int, rows: int) -> list[str]:
    """A naive model of the console's character semantics, one character at a time."""
    grid = [[" "] * cols for _ in range(rows)]
    col = row = 0

    def newline() -> None:
        nonlocal col, row
        col = 0
        if row + 1 < rows:
            row += 1
        else:
            grid.pop(0)
            grid.append([" "] * cols)

    for ch in text:
        if ch == "\n":
            newline()
        elif ch == "\r":
            col = 0
        elif ch == "\t":
            col = min(cols, (col // 8 + 1) * 8)
        elif ch == "\b":
            col = max(0, col - 1)
        else:
            if col >= cols:
                newline()
            grid[row][col] = ch if " " <= ch <= "~" else BOX_CHAR
            col += 1
    return ["".join(r).rstrip() for r in grid]


# -- FrameBuffer --------------------------------------------------------------


def test_geometry_and_layout() -> None:
    fb = FrameBuffer()
    assert (fb.width, fb.height, fb.stride) == (1152, 900, 144)
    assert len(fb.data) == 144 * 900 and not any(fb.data)
    fb.set_pixel(0, 0)
    assert fb.data[0] == 0x80  # MSB is the leftmost pixel
    fb.set_pixel(9, 1)
    assert fb.data[fb.stride + 1] == 0x40
    assert fb.get_pixel(9, 1) and not fb.get_pixel(8, 1) and not fb.get_pixel(10, 1)
    fb.set_pixel(9, 1, False)
    assert fb.data[fb.stride + 1] == 0 and not fb.get_pixel(9, 1)
    odd = FrameBuffer(13, 3)
    assert odd.stride == 2 and len(odd.data) == 6
    for x, y in [(-1, 0), (0, -1), (1152, 0), (0, 900)]:
        with pytest.raises(IndexError):
            fb.get_pixel(x, y)
        with pytest.raises(IndexError):
            fb.set_pixel(x, y, True)
    with pytest.raises(ValueError):
        FrameBuffer(0, 10)


def test_version_counts_changes() -> None:
    fb = FrameBuffer(64, 32)
    v = fb.version
    fb.set_pixel(3, 3)
    assert fb.version == v + 1
    fb.set_pixel(3, 3)  # already on: no change
    assert fb.version == v + 1
    fb.set_pixel(3, 3, False)
    assert fb.version == v + 2
    fb.clear()
    assert fb.version == v + 3
    fb.touch()
    assert fb.version == v + 4
    fb.put_column(1, 2, b"\xff\x81")
    assert fb.version == v + 5
    fb.scroll_up(1)
    assert fb.version > v + 5


def test_png_round_trip_and_polarity(tmp_path) -> None:
    fb = FrameBuffer()
    fb.set_pixel(5, 7)
    fb.set_pixel(1151, 899)
    img = decode(fb.to_png())
    assert img.format == "PNG" and img.size == (1152, 900) and img.mode == "1"
    assert ink_boxes(img) == [(5, 7), (1151, 899)]  # on = black ink on white
    path = tmp_path / "screen.png"
    fb.save_png(path)
    assert path.read_bytes() == fb.to_png()
    odd = FrameBuffer(13, 3)
    odd.set_pixel(12, 2)
    assert ink_boxes(decode(odd.to_png())) == [(12, 2)]


def test_bulk_operations() -> None:
    fb = FrameBuffer(16, 6)
    fb.put_column(1, 1, b"\x01\x02\x03")
    assert [fb.data[y * 2 + 1] for y in range(6)] == [0, 1, 2, 3, 0, 0]
    with pytest.raises(IndexError):
        fb.put_column(2, 0, b"\x01")
    with pytest.raises(IndexError):
        fb.put_column(0, 4, b"\x01\x02\x03")
    fb.scroll_up(1)
    assert [fb.data[y * 2 + 1] for y in range(6)] == [1, 2, 3, 0, 0, 0]
    fb.scroll_up(2, top=1, bottom=4)  # rows 3 -> 1, rows 2..3 blank
    assert [fb.data[y * 2 + 1] for y in range(6)] == [1, 0, 0, 0, 0, 0]
    fb.fill_rows(4, 99, on=True)
    assert fb.data[8:] == b"\xff" * 4 and fb.data[:8] == b"\x00\x01" + bytes(6)
    fb.scroll_up(100)
    assert not any(fb.data)


def test_text_art_size_and_content() -> None:
    fb = FrameBuffer()
    assert fb.to_text_art(80, 24) == ["\u2800" * 80] * 24
    TextConsole(fb).write("Hello")
    for cols, rows in [(144, 56), (80, 24), (7, 3), (300, 250)]:
        art = fb.to_text_art(cols, rows)
        assert len(art) == rows and all(len(line) == cols for line in art)
        assert all(0x2800 <= ord(ch) <= 0x28FF for line in art for ch in line)
    art = fb.to_text_art(144, 56)  # 4x~4 pixels per dot
    assert art[0].strip("\u2800") and all(line == "\u2800" * 144 for line in art[2:])
    assert art[0][10:] == "\u2800" * 134  # "Hello" is 40 px wide: 10 characters
    half = fb.to_text_art(100, 30, style="half")
    assert len(half) == 30 and all(len(line) == 100 for line in half)
    assert half[0].strip() and all(not line.strip() for line in half[1:])
    with pytest.raises(ValueError):
        fb.to_text_art(0, 10)
    with pytest.raises(ValueError):
        fb.to_text_art(10, 10, style="ascii")


def test_text_art_keeps_a_single_pixel_and_zooms() -> None:
    fb = FrameBuffer()
    fb.set_pixel(1000, 800)
    art = fb.to_text_art(10, 5)  # each dot covers ~58x45 pixels
    lit = [(c, r) for r, line in enumerate(art) for c, ch in enumerate(line) if ch != "\u2800"]
    assert lit == [(1000 * 10 // 1152, 800 * 5 // 900)]
    zoom = FrameBuffer()
    zoom.set_pixel(2, 5)
    art = zoom.to_text_art(4, 3, region=(0, 0, 8, 12))  # one pixel per dot
    assert art[1][1] == chr(0x2800 + 0x02)  # dot 2: left column, second row
    assert "".join(art).count("\u2800") == 11
    with pytest.raises(ValueError):
        zoom.to_text_art(4, 3, region=(1150, 0, 8, 12))


# -- font ---------------------------------------------------------------------


def test_font_covers_printable_ascii() -> None:
    font = DEFAULT_FONT
    assert font.width == 8 and font.height == 12
    glyphs = {chr(c): font.glyph(chr(c)) for c in range(0x20, 0x7F)}
    assert all(len(g) == 12 for g in glyphs.values())
    assert glyphs[" "] == bytes(12)
    assert all(any(g) for ch, g in glyphs.items() if ch != " ")
    assert len(set(glyphs.values())) == len(glyphs)  # all distinct
    assert font.glyph("\x01") == font.glyph("\u00e9") == font.glyph(BOX_CHAR) == font.box
    assert font.box not in glyphs.values()
    with pytest.raises(ValueError):
        BitmapFont.from_drawings({"x": "###### ......"}, left=3)


# -- TextConsole --------------------------------------------------------------


def test_hello_draws_only_in_the_first_row_band() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    assert (con.cols, con.rows) == (144, 75)
    con.write("Hello")
    assert con.lines() == ["Hello"] + [""] * 74
    assert con.cursor == (5, 0)
    img = decode(fb.to_png())
    assert img.size == (1152, 900)
    ink = ink_boxes(img)
    assert ink and all(0 <= x < 5 * CELL_W and 0 <= y < CELL_H for x, y in ink)
    for i in range(5):
        assert any(i * CELL_W <= x < (i + 1) * CELL_W for x, _ in ink), f"cell {i} empty"
    # each cell holds exactly its glyph
    for i, ch in enumerate("Hello"):
        col = bytes(fb.data[y * fb.stride + i] for y in range(CELL_H))
        assert col == DEFAULT_FONT.glyph(ch)


def test_write_bumps_version() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    v = fb.version
    con.write("")
    assert fb.version == v
    con.write("a")
    assert fb.version > v
    v = fb.version
    con.write("bc\nd")
    assert fb.version > v


def test_wrap_at_cols() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    con.write("a" * con.cols + "bcd")
    assert con.lines()[:3] == ["a" * con.cols, "bcd", ""]
    assert fb.data == fresh_render(con.lines())
    # exactly cols characters then a newline takes one row, not two
    con.clear()
    con.write("x" * con.cols)
    assert con.cursor == (con.cols, 0)
    con.write("\nnext")
    assert con.lines()[:3] == ["x" * con.cols, "next", ""]


def test_scroll_keeps_the_last_rows() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    all_lines = [f"line {i:03d}:" + "=" * (i % 40) for i in range(con.rows + 30)]
    con.write("\n".join(all_lines))
    assert con.lines() == all_lines[-con.rows :]
    assert fb.data == fresh_render(all_lines[-con.rows :])
    assert con.cursor == (len(all_lines[-1]), con.rows - 1)
    # a trailing newline scrolls once more and leaves an empty last row
    con.write("\n")
    assert con.lines() == all_lines[-con.rows + 1 :] + [""]
    assert fb.data == fresh_render(con.lines())


def test_scroll_one_line_at_a_time_matches_one_write() -> None:
    text = "".join(f"row {i}\n" for i in range(200))
    a, b = FrameBuffer(), FrameBuffer()
    ca, cb = TextConsole(a), TextConsole(b)
    ca.write(text)
    for line in text.splitlines(keepends=True):
        cb.write(line)
    assert ca.lines() == cb.lines() and a.data == b.data
    assert ca.lines()[-1] == "" and ca.lines()[-2] == "row 199"


def test_scroll_more_than_a_screen_in_one_write() -> None:
    fb = FrameBuffer(160, 48)  # 20x4
    con = TextConsole(fb)
    con.write("old text on the screen\nmore")
    con.write("\n" * 10 + "a\nb")
    assert con.lines() == ["", "", "a", "b"]
    assert fb.data == fresh_render(con.lines(), (160, 48))


def test_backspace_tab_return() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    con.write("abc\b\bX")
    assert con.lines()[0] == "aXc"
    con.write("\rZ")
    assert con.lines()[0] == "ZXc"
    con.write("\n\b\bq")  # backspace stops at column 0
    assert con.lines()[1] == "q"
    con.write("\nab\b \b")  # the usual erase
    assert con.lines()[2] == "a" and con.cursor == (1, 2)
    con.write("\na\tb\t\tc")
    assert con.lines()[3] == "a" + " " * 7 + "b" + " " * 15 + "c"
    con.write("\n" + "y" * (con.cols - 3) + "\t\tz")  # tab never wraps; the next char does
    assert con.lines()[4] == "y" * (con.cols - 3) and con.lines()[5] == "z"
    # erase the last character of a full line
    con.write("\n" + "w" * con.cols + "\b \b")
    assert con.lines()[6] == "w" * (con.cols - 1) and con.cursor == (con.cols - 1, 6)
    assert fb.data == fresh_render(con.lines())


def test_non_printable_becomes_a_box() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    con.write("a\x07b\x00c\u00e9\x7f")
    assert con.lines()[0] == f"a{BOX_CHAR}b{BOX_CHAR}c{BOX_CHAR}{BOX_CHAR}"
    box = bytes(fb.data[y * fb.stride + 1] for y in range(CELL_H))
    assert box == DEFAULT_FONT.box and any(box)
    assert fb.data == fresh_render(con.lines())


def test_random_writes_match_reference_and_fresh_render() -> None:
    rnd = random.Random(1985)
    alphabet = "abcdefghij KLMN 0123456789.,;:!?" + "\n" * 6 + "\r\t\b\x1b\u00e9"
    for _ in range(30):
        fb = FrameBuffer(120, 60)  # 15x5, so wraps and scrolls are frequent
        con = TextConsole(fb)
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 400)))
        pos = 0
        while pos < len(text):  # in random chunks, some through the fast path
            step = rnd.randint(1, 30)
            con.write(text[pos : pos + step])
            pos += step
        assert con.lines() == reference_lines(text, con.cols, con.rows)
        assert fb.data == fresh_render(con.lines(), (120, 60))
        one = FrameBuffer(120, 60)
        TextConsole(one).write(text)
        assert one.data == fb.data


def test_clear_and_redraw() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb)
    con.write("some text\nmore")
    snapshot = bytes(fb.data)
    fb.clear()  # someone else wipes the screen
    con.redraw()
    assert bytes(fb.data) == snapshot
    con.clear()
    assert con.lines() == [""] * con.rows and con.cursor == (0, 0) and not any(fb.data)


def test_cursor_underline() -> None:
    fb = FrameBuffer()
    con = TextConsole(fb, cursor_visible=True)
    under = (CELL_H - 1) * fb.stride  # bottom pixel row of the first text row
    assert fb.data[under] == 0xFF
    con.write("ab")
    assert fb.data[under : under + 3] == b"\x00\x00\xff"
    con.write("\n")
    assert fb.data[under : under + 3] == bytes(3)
    assert fb.data[(2 * CELL_H - 1) * fb.stride] == 0xFF
    con.cursor_visible = False
    assert fb.data == fresh_render(con.lines())


def test_small_and_odd_sizes() -> None:
    fb = FrameBuffer(21, 30)  # 2 columns, 2 rows; 5 pixels and 6 rows spare
    con = TextConsole(fb)
    assert (con.cols, con.rows) == (2, 2)
    con.write("abcdef")
    assert con.lines() == ["cd", "ef"]
    ink = ink_boxes(decode(fb.to_png()))
    assert ink and all(x < 16 and y < 24 for x, y in ink)
    with pytest.raises(ValueError):
        TextConsole(FrameBuffer(7, 100))


def test_ten_kilobytes_is_fast() -> None:
    words = "the kernel migrates a logical host with pre-copy rounds".split()
    rnd = random.Random(7)
    text = "".join(
        " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 16))) + "\n" for _ in range(400)
    )[:10240]
    fb = FrameBuffer()
    con = TextConsole(fb)
    t0 = time.perf_counter()
    con.write(text)
    one_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    for line in text.splitlines(keepends=True):
        con.write(line)
    per_line = time.perf_counter() - t0
    assert one_write < 0.1 and per_line < 0.1, (one_write, per_line)


# -- quadrant text art and reading the text back --------------------------------


def test_quadrant_art_is_the_pixels_one_per_dot() -> None:
    """At one pixel per dot each quadrant character is its 2x2 pixels, checked against get_pixel."""
    fb = FrameBuffer()
    TextConsole(fb).write("Hello from the V-System!\n  migrated 0x1f")
    cols, rows = 100, 14  # 200x28 pixels: the first two text rows, 25 characters
    art = fb.to_text_art(cols, rows, style="quadrant", region=(0, 0, 2 * cols, 2 * rows))
    assert len(art) == rows and all(len(line) == cols for line in art)
    quads = " \u2598\u259d\u2580\u2596\u258c\u259e\u259b\u2597\u259a\u2590\u259c\u2584\u2599\u259f\u2588"
    for r, line in enumerate(art):
        for c, ch in enumerate(line):
            x, y = 2 * c, 2 * r
            bits = (
                fb.get_pixel(x, y)
                | fb.get_pixel(x + 1, y) << 1
                | fb.get_pixel(x, y + 1) << 2
                | fb.get_pixel(x + 1, y + 1) << 3
            )
            assert ch == quads[bits], (r, c)
    whole = fb.to_text_art(80, 24, style="quadrant")
    assert whole[0].strip() and not "".join(whole[2:]).strip()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=300), max_size=60), max_size=8
    ),
    st.booleans(),
)
def test_read_text_gives_back_what_the_console_wrote(pieces: list[str], cursor: bool) -> None:
    """read_text (from the bitmap alone) equals TextConsole.lines() (its character grid)."""
    fb = FrameBuffer(320, 120)
    console = TextConsole(fb, cursor_visible=cursor)
    for piece in pieces:
        console.write(piece)
    assert read_text(fb) == console.lines()


def test_read_text_marks_drawings() -> None:
    fb = FrameBuffer(64, 24)
    TextConsole(fb).write("ab")
    fb.set_pixel(20, 3)  # a dot in the third cell: no glyph
    assert read_text(fb) == ["ab\u2591", ""]
