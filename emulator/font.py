"""A hand-drawn 5x7 (plus 2 descender rows) bitmap font for printable ASCII, in 8x12 cells."""

from __future__ import annotations

__all__ = ["BOX_CHAR", "DEFAULT_FONT", "BitmapFont"]

# The character TextConsole records (in lines()) for anything it cannot draw;
# the font draws it, and every other unknown character, as a hollow box.
BOX_CHAR = "\u25a1"

# Each glyph is 7 rows (cap height, baseline under the last) or 9 rows (two
# more below the baseline for descenders), each row 5 pixels, '#' = ink.
_GLYPHS: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    '"': ".#.#. .#.#. .#.#. ..... ..... ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "$": "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    "&": ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    ",": "..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ";": "..... .##.. .##.. ..... .##.. .##.. ..#.. .#... .....",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    "=": "..... ..... ##### ..... ##### ..... .....",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "@": ".###. #...# ....# .##.# #.#.# #.#.# .###.",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "\\": "..... #.... .#... ..#.. ...#. ....# .....",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "^": "..#.. .#.#. #...# ..... ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... ..... ##### .....",
    "`": ".#... ..#.. ...#. ..... ..... ..... .....",
    "a": "..... ..... .###. ....# .#### #...# .####",
    "b": "#.... #.... #.##. ##..# #...# #...# ####.",
    "c": "..... ..... .###. #.... #.... #...# .###.",
    "d": "....# ....# .##.# #..## #...# #...# .####",
    "e": "..... ..... .###. #...# ##### #.... .###.",
    "f": "..##. .#..# .#... ###.. .#... .#... .#...",
    "g": "..... ..... .#### #...# #...# .#### ....# #...# .###.",
    "h": "#.... #.... #.##. ##..# #...# #...# #...#",
    "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
    "j": "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",
    "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
    "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "m": "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#",
    "n": "..... ..... #.##. ##..# #...# #...# #...#",
    "o": "..... ..... .###. #...# #...# #...# .###.",
    "p": "..... ..... ####. #...# #...# ####. #.... #.... #....",
    "q": "..... ..... .#### #...# #...# .#### ....# ....# ....#",
    "r": "..... ..... #.##. ##..# #.... #.... #....",
    "s": "..... ..... .###. #.... .###. ....# ####.",
    "t": ".#... .#... ###.. .#... .#... .#..# ..##.",
    "u": "..... ..... #...# #...# #...# #..## .##.#",
    "v": "..... ..... #...# #...# #...# .#.#. ..#..",
    "w": "..... ..... #...# #...# #.#.# #.#.# .#.#.",
    "x": "..... ..... #...# .#.#. ..#.. .#.#. #...#",
    "y": "..... ..... #...# #...# #...# .#### ....# #...# .###.",
    "z": "..... ..... ##### ...#. ..#.. .#... #####",
    "{": "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
    "|": "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "}": ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
    "~": "..... ..... .#... #.#.# ...#. ..... .....",
    BOX_CHAR: "##### #...# #...# #...# #...# #...# #####",
}


class BitmapFont:
    """A fixed-width 1-bit font: one ``height``-byte column per glyph, MSB = leftmost pixel.

    ``width`` is always 8, so every glyph row is exactly one frame-buffer byte
    and a glyph at a column boundary is blitted with one slice assignment.
    ``glyph(ch)`` never fails: characters the font lacks get the box glyph.
    """

    width = 8

    def __init__(self, glyphs: dict[str, bytes], height: int, box: bytes) -> None:
        for ch, rows in glyphs.items():
            if len(rows) != height:
                raise ValueError(f"glyph {ch!r} has {len(rows)} rows, font height is {height}")
        if len(box) != height:
            raise ValueError("box glyph has the wrong height")
        self.height = height
        self._glyphs = dict(glyphs)
        self.box = bytes(box)

    def __contains__(self, ch: object) -> bool:
        return ch in self._glyphs

    def characters(self) -> list[str]:
        """The characters the font draws, in the order they were given."""
        return list(self._glyphs)

    def glyph(self, ch: str) -> bytes:
        """The glyph's rows, top to bottom, one byte each (the box for unknown characters)."""
        return self._glyphs.get(ch, self.box)

    @classmethod
    def from_drawings(
        cls, drawings: dict[str, str], *, height: int = 12, top: int = 2, left: int = 1
    ) -> BitmapFont:
        """Build a font from ``'#'``/``'.'`` row drawings (rows separated by spaces).

        Each drawing is placed ``top`` rows down and ``left`` pixels in from the
        cell's top-left corner; the rest of the cell is blank.  ``BOX_CHAR``'s
        drawing (if any) becomes the glyph for unknown characters.
        """
        glyphs: dict[str, bytes] = {}
        for ch, drawing in drawings.items():
            rows = drawing.split()
            if top + len(rows) > height:
                raise ValueError(f"glyph {ch!r} is too tall for a {height}-row cell")
            cell = bytearray(height)
            for i, row in enumerate(rows):
                if len(row) + left > cls.width or set(row) - {"#", "."}:
                    raise ValueError(f"glyph {ch!r} has a bad row {row!r}")
                bits = 0
                for pixel in row:
                    bits = (bits << 1) | (pixel == "#")
                cell[top + i] = bits << (cls.width - left - len(row))
            glyphs[ch] = bytes(cell)
        box = glyphs.get(BOX_CHAR)
        if box is None:
            box = bytes([0] * top + [0xFF] * (height - top))
        return cls(glyphs, height, box)


# 8x12 cells: 2 blank rows above the capitals, 7 rows of capital height,
# 2 descender rows, 1 blank row; 1 blank column left, 2 right.  On the Sun-2's
# 1152x900 screen that is 144 columns by 75 rows.
DEFAULT_FONT = BitmapFont.from_drawings(_GLYPHS)
