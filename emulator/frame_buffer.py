"""The 1-bit frame buffer (Sun-2 size 1152x900) and a character terminal drawn into it."""

from __future__ import annotations

import io
import os
from array import array

from PIL import Image

from emulator.font import BOX_CHAR, DEFAULT_FONT, BitmapFont

__all__ = ["FrameBuffer", "TextConsole", "read_text"]

# Braille cell: dot bit for (dx, dy), dx in 0..1, dy in 0..3 (Unicode order).
_BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_HALF_BLOCKS = (" ", "\u2580", "\u2584", "\u2588")  # none, upper, lower, both
# Quadrant blocks, indexed by top-left 1 | top-right 2 | bottom-left 4 | bottom-right 8.
_QUADRANTS = (
    " \u2598\u259d\u2580\u2596\u258c\u259e\u259b\u2597\u259a\u2590\u259c\u2584\u2599\u259f\u2588"
)
# Dots per character for each text art style: (across, down).
TEXT_ART_CELLS = {"braille": (2, 4), "quadrant": (2, 2), "half": (1, 2)}


class FrameBuffer:
    """1-bit bitmap display, Sun-2 size 1152x900 by default.

    Memory layout as on the hardware: ``data`` is row-major, ``stride`` bytes
    per row, the most significant bit of a byte is the leftmost pixel.  A set
    bit is a pixel *on*, which means *ink*: the screen is white paper and set
    bits are black, as on Sun's monochrome consoles (black text on a white
    screen).  ``to_png`` shows it that way; ``to_text_art`` draws the set
    pixels as dots (so on a dark terminal the text is light).

    ``version`` increases whenever the content may have changed, so a viewer
    redraws only when it differs from the one it last showed.  Every method
    here that writes bumps it; code that writes ``data`` directly must call
    ``touch()`` afterwards.
    """

    def __init__(self, width: int = 1152, height: int = 900) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"bad frame buffer size {width}x{height}")
        self.width = width
        self.height = height
        self.stride = (width + 7) // 8
        self.data = bytearray(self.stride * height)
        self.version = 0

    def __repr__(self) -> str:
        return f"FrameBuffer({self.width}x{self.height}, version={self.version})"

    # -- pixels --------------------------------------------------------------

    def _index(self, x: int, y: int) -> int:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError(f"pixel ({x}, {y}) outside {self.width}x{self.height}")
        return y * self.stride + (x >> 3)

    def get_pixel(self, x: int, y: int) -> bool:
        """True if the pixel at column ``x``, row ``y`` is on (ink)."""
        return bool(self.data[self._index(x, y)] & (0x80 >> (x & 7)))

    def set_pixel(self, x: int, y: int, on: bool = True) -> None:
        """Turn the pixel at (``x``, ``y``) on or off."""
        i = self._index(x, y)
        mask = 0x80 >> (x & 7)
        old = self.data[i]
        new = old | mask if on else old & ~mask
        if new != old:
            self.data[i] = new
            self.version += 1

    # -- bulk ----------------------------------------------------------------

    def touch(self) -> None:
        """Record a change made by writing ``data`` directly."""
        self.version += 1

    def clear(self) -> None:
        """Turn every pixel off."""
        self.data[:] = bytes(len(self.data))
        self.version += 1

    def fill_rows(self, top: int, bottom: int, on: bool = False) -> None:
        """Set every pixel of rows ``top`` .. ``bottom - 1`` off (or on)."""
        top, bottom = max(0, top), min(self.height, bottom)
        if top >= bottom:
            return
        n = (bottom - top) * self.stride
        self.data[top * self.stride : bottom * self.stride] = b"\xff" * n if on else bytes(n)
        self.version += 1

    def scroll_up(self, pixels: int, top: int = 0, bottom: int | None = None) -> None:
        """Move rows ``top + pixels`` .. ``bottom - 1`` up by ``pixels``; the rows freed at the bottom go blank."""
        bottom = self.height if bottom is None else min(bottom, self.height)
        top = max(0, top)
        if pixels <= 0 or top >= bottom:
            return
        if pixels < bottom - top:
            s = self.stride
            self.data[top * s : (bottom - pixels) * s] = self.data[(top + pixels) * s : bottom * s]
        self.fill_rows(max(top, bottom - pixels), bottom)

    def put_column(self, x_byte: int, y: int, rows: bytes) -> None:
        """Store ``rows`` as an 8-pixel-wide column: byte ``i`` becomes pixels ``8*x_byte..+7`` of row ``y+i``."""
        if not (0 <= x_byte < self.stride and 0 <= y and y + len(rows) <= self.height):
            raise IndexError(f"column at byte {x_byte}, row {y}, height {len(rows)} is off screen")
        if rows:
            start = y * self.stride + x_byte
            self.data[start : start + len(rows) * self.stride : self.stride] = rows
            self.version += 1

    # -- views ---------------------------------------------------------------

    def to_image(self) -> Image.Image:
        """A Pillow mode-"1" image: pixels on are black (0), off are white (255)."""
        return Image.frombytes(
            "1", (self.width, self.height), bytes(self.data), "raw", "1;I", self.stride
        )

    def to_png(self) -> bytes:
        """The screen as a 1-bit grayscale PNG (ink black on white)."""
        out = io.BytesIO()
        self.to_image().save(out, format="PNG")
        return out.getvalue()

    def save_png(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_png()`` to ``path``."""
        with open(path, "wb") as f:
            f.write(self.to_png())

    def to_text_art(
        self,
        cols: int,
        rows: int,
        style: str = "braille",
        region: tuple[int, int, int, int] | None = None,
    ) -> list[str]:
        """The screen shrunk to ``rows`` strings of ``cols`` characters for a terminal.

        ``style="braille"`` gives 2x4 dots per character (U+2800..U+28FF),
        ``style="quadrant"`` gives 2x2 with quadrant blocks (solid, so text
        drawn one pixel per dot reads better than in braille's separate dots),
        ``style="half"`` gives 1x2 with half blocks.  A dot is on if any pixel
        it covers is on, so thin strokes survive any amount of shrinking.
        ``region=(x, y, width, height)`` shows only that part of the screen (a
        zoom: 1 pixel per dot makes the 8x12 text cells legible in braille).
        """
        if cols <= 0 or rows <= 0:
            raise ValueError(f"bad text art size {cols}x{rows}")
        if style not in TEXT_ART_CELLS:
            raise ValueError(f"unknown text art style {style!r}")
        dx, dy = TEXT_ART_CELLS[style]
        w, h = cols * dx, rows * dy
        # Box-filtered float image: a dot's value is the mean of the pixels whose
        # centres fall in it (each pixel counts in exactly one dot), > 0 iff any is on.
        img = Image.frombytes(
            "1", (self.width, self.height), bytes(self.data), "raw", "1", self.stride
        )
        if region is not None:
            x, y, rw, rh = region
            if rw <= 0 or rh <= 0 or x < 0 or y < 0 or x + rw > self.width or y + rh > self.height:
                raise ValueError(f"region {region} is not inside {self.width}x{self.height}")
            img = img.crop((x, y, x + rw, y + rh))
        small = img.convert("F").resize((w, h), Image.Resampling.BOX)
        dots = array("f")
        dots.frombytes(small.tobytes())
        lit = [v > 0.0 for v in dots]
        out: list[str] = []
        if style == "braille":
            for r in range(rows):
                base = r * 4 * w
                line = []
                for c in range(cols):
                    i = base + 2 * c
                    bits = 0
                    for ddy in range(4):
                        j = i + ddy * w
                        if lit[j]:
                            bits |= _BRAILLE_BITS[0][ddy]
                        if lit[j + 1]:
                            bits |= _BRAILLE_BITS[1][ddy]
                    line.append(chr(0x2800 + bits))
                out.append("".join(line))
        elif style == "quadrant":
            for r in range(rows):
                top = lit[2 * r * w : (2 * r + 1) * w]
                low = lit[(2 * r + 1) * w : (2 * r + 2) * w]
                out.append(
                    "".join(
                        _QUADRANTS[top[i] + 2 * top[i + 1] + 4 * low[i] + 8 * low[i + 1]]
                        for i in range(0, w, 2)
                    )
                )
        else:
            for r in range(rows):
                top = lit[2 * r * w : (2 * r + 1) * w]
                low = lit[(2 * r + 1) * w : (2 * r + 2) * w]
                out.append("".join(_HALF_BLOCKS[a + 2 * b] for a, b in zip(top, low, strict=True)))
        return out


class TextConsole:
    """A character terminal drawn into a FrameBuffer by the display server.

    Fixed-width 8-pixel glyphs from ``font`` (``emulator.font.DEFAULT_FONT``,
    8x12 cells, by default) on a ``cols`` x ``rows`` grid anchored at the top
    left; on the Sun-2 screen that is 144x75.  Output conventions:

    - ``\\n`` goes to the start of the next line (CR+LF, like a Unix tty's
      ONLCR), ``\\r`` to the start of this one; past the last row the bitmap
      scrolls up one text row.
    - Printing in the last column leaves the cursor "pending" at ``cols``; the
      next printable character wraps first (a line of exactly ``cols``
      characters followed by ``\\n`` takes one row, not two).
    - ``\\b`` moves left one column (not past column 0) without erasing, so a
      guest erases with ``"\\b \\b"``.  ``\\t`` moves to the next multiple of 8
      and never wraps.
    - Any character the font lacks (every other control character, non-ASCII)
      is drawn as a hollow box and recorded as ``BOX_CHAR`` in ``lines()``.

    The character grid is the truth; each ``write()`` updates it and then
    brings the bitmap up to date in one pass: one scroll for however many
    lines scrolled, and a glyph blit per changed cell that is still on screen.
    ``redraw()`` repaints the whole text area (after someone else drew on it).
    With ``cursor_visible`` the cursor is shown by inverting the bottom pixel
    row of its cell.
    """

    def __init__(
        self, fb: FrameBuffer, font: BitmapFont | None = None, *, cursor_visible: bool = False
    ) -> None:
        self.fb = fb
        self.font = DEFAULT_FONT if font is None else font
        if self.font.width != 8:
            raise ValueError("TextConsole needs an 8-pixel-wide font")
        self.cell_width = 8
        self.cell_height = self.font.height
        self.cols = fb.width // self.cell_width
        self.rows = fb.height // self.cell_height
        if self.cols < 1 or self.rows < 1:
            raise ValueError(f"a {fb.width}x{fb.height} frame buffer holds no text cell")
        self._grid: list[list[str]] = [[" "] * self.cols for _ in range(self.rows)]
        self._col = 0
        self._row = 0
        self._cursor_visible = cursor_visible
        self._cursor_drawn: tuple[int, int] | None = None
        data = fb.data
        if data.count(0) == len(data) and not any(self.font.glyph(" ")):
            # a blank grid on a blank bitmap: the repaint would store only zeros
            self.fb.touch()
            self._show_cursor()
        else:
            self.redraw()

    # -- state ---------------------------------------------------------------

    @property
    def cursor(self) -> tuple[int, int]:
        """(column, row) of the next character; column ``cols`` means a wrap is pending."""
        return self._col, self._row

    @property
    def cursor_visible(self) -> bool:
        return self._cursor_visible

    @cursor_visible.setter
    def cursor_visible(self, visible: bool) -> None:
        self._hide_cursor()
        self._cursor_visible = visible
        self._show_cursor()

    def lines(self) -> list[str]:
        """The characters on screen, one string per row (all ``rows`` of them), trailing blanks stripped."""
        return ["".join(line).rstrip() for line in self._grid]

    # -- output --------------------------------------------------------------

    def clear(self) -> None:
        """Blank the screen and home the cursor."""
        self._hide_cursor()
        self._grid = [[" "] * self.cols for _ in range(self.rows)]
        self._col = self._row = 0
        self.fb.fill_rows(0, self.rows * self.cell_height)
        self._show_cursor()

    def redraw(self) -> None:
        """Repaint the whole text area from the character grid."""
        self._cursor_drawn = None  # the repaint wipes it
        for r, line in enumerate(self._grid):
            self._blit(r, line, 0, self.cols - 1)
        self.fb.touch()
        self._show_cursor()

    def write(self, text: str) -> None:
        """Put ``text`` on the screen at the cursor."""
        if not text:
            return
        self._hide_cursor()
        cols, rows = self.cols, self.rows
        n = len(text)
        if self._col + n <= cols and text.isascii() and text.isprintable():
            # Fast path (a keystroke echo, a short put): plain ASCII that fits.
            col, line = self._col, self._grid[self._row]
            line[col : col + n] = text
            self._blit(self._row, line, col, col + n - 1)
            self._col = col + n
            self.fb.touch()
            self._show_cursor()
            return
        grid = self._grid
        font = self.font
        col, row = self._col, self._row
        line = grid[row]
        # Cells changed in this call: id(row list) -> [row list, first col, last col].
        # The lists stay referenced here, so their ids are not reused meanwhile.
        dirty: dict[int, tuple[list[str], int, int]] = {}
        lo, hi = cols, -1  # changed span of `line` not yet recorded in `dirty`
        scrolled = 0
        for ch in text:
            if " " <= ch <= "~" or (ch not in "\n\r\t\b" and ch in font):
                pass
            elif ch == "\n":
                col = cols  # fall into the wrap below, with nothing to print
            elif ch == "\r":
                col = 0
                continue
            elif ch == "\t":
                col = min(cols, (col // 8 + 1) * 8)
                continue
            elif ch == "\b":
                if col > 0:
                    col -= 1
                continue
            else:
                ch = BOX_CHAR
            if col >= cols:  # newline, or wrap before printing
                if hi >= 0:
                    self._mark(dirty, line, lo, hi)
                    lo, hi = cols, -1
                col = 0
                if row + 1 < rows:
                    row += 1
                else:
                    grid.pop(0)
                    grid.append([" "] * cols)
                    scrolled += 1
                line = grid[row]
                if ch == "\n":
                    continue
            line[col] = ch
            if col < lo:
                lo = col
            if col > hi:
                hi = col
            col += 1
        if hi >= 0:
            self._mark(dirty, line, lo, hi)
        self._col, self._row = col, row
        # Bring the bitmap up to date: scroll once, then blit what changed.
        if scrolled:
            band = self.cell_height
            self.fb.scroll_up(min(scrolled, rows) * band, 0, rows * band)
        for r, cells in enumerate(grid):
            d = dirty.get(id(cells))
            if d is not None:
                self._blit(r, cells, d[1], d[2])
        self.fb.touch()
        self._show_cursor()

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _mark(
        dirty: dict[int, tuple[list[str], int, int]], line: list[str], lo: int, hi: int
    ) -> None:
        d = dirty.get(id(line))
        if d is not None:
            lo, hi = min(d[1], lo), max(d[2], hi)
        dirty[id(line)] = (line, lo, hi)

    def _blit(self, row: int, cells: list[str], lo: int, hi: int) -> None:
        """Draw cells ``lo..hi`` of text row ``row`` (the caller bumps the version)."""
        data, stride, glyph = self.fb.data, self.fb.stride, self.font.glyph
        span = self.cell_height * stride
        base = row * span
        for c in range(lo, hi + 1):
            start = base + c
            data[start : start + span : stride] = glyph(cells[c])

    def _cursor_xor(self, col: int, row: int) -> None:
        i = ((row + 1) * self.cell_height - 1) * self.fb.stride + col
        self.fb.data[i] ^= 0xFF
        self.fb.touch()

    def _hide_cursor(self) -> None:
        if self._cursor_drawn is not None:
            self._cursor_xor(*self._cursor_drawn)
            self._cursor_drawn = None

    def _show_cursor(self) -> None:
        if self._cursor_visible and self._cursor_drawn is None:
            pos = (min(self._col, self.cols - 1), self._row)
            self._cursor_xor(*pos)
            self._cursor_drawn = pos


def read_text(
    fb: FrameBuffer, font: BitmapFont | None = None, *, unknown: str = "\u2591"
) -> list[str]:
    """The characters a TextConsole drew on ``fb``, read back from the bitmap, one string per text row.

    Each 8-pixel-wide cell of the text grid (the TextConsole's: ``font``'s
    cells from the top left) is matched against the font's glyphs, also with
    its bottom pixel row inverted (the cursor); a cell that is no glyph (a
    drawing) reads as ``unknown``.  Trailing blanks are stripped, as in
    ``TextConsole.lines()``, which this reproduces for a screen only the
    console drew on.
    """
    font = DEFAULT_FONT if font is None else font
    height, stride = font.height, fb.stride
    known: dict[bytes, str] = {}
    for ch in reversed(font.characters()):  # the first character wins a shared glyph
        glyph = font.glyph(ch)
        known[glyph] = ch
        known[glyph[:-1] + bytes([glyph[-1] ^ 0xFF])] = ch
    known.setdefault(font.box, BOX_CHAR)
    data = bytes(fb.data)
    span = height * stride
    out: list[str] = []
    for r in range(fb.height // height):
        base = r * span
        line = [
            known.get(data[base + c : base + c + span : stride], unknown)
            for c in range(fb.width // 8)
        ]
        out.append("".join(line).rstrip())
    return out
