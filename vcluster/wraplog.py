"""A scrolling text log for the console that wraps long lines at the panel's width instead of cutting them."""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def wrap(line: str, width: int) -> list[str]:
    """Cut `line` into rows of at most `width` cells, after a space where one is near; joined they give `line`."""
    if width <= 0 or (line.isascii() and len(line) <= width) or cell_len(line) <= width:
        return [line]
    rows: list[str] = []
    while cell_len(line) > width:
        cut, used = 0, 0
        for ch in line:
            size = get_character_cell_size(ch)
            if used + size > width:
                break
            used += size
            cut += 1
        cut = max(cut, 1)
        space = line.rfind(" ", 0, cut)
        if space >= cut // 2:
            cut = space + 1  # the space ends this row
        rows.append(line[:cut])
        line = line[cut:]
    rows.append(line)
    return rows


class WrapLog(ScrollView, can_focus=True):
    """Lines of text, the last one possibly unfinished, shown wrapped; it follows the end while scrolled there.

    `lines` is as in Textual's Log: the logical lines, ending with "" once the
    last line is finished.  Rows are rewrapped when the width changes.
    """

    DEFAULT_CSS = """
    WrapLog { overflow-x: hidden; overflow-y: auto; scrollbar-gutter: stable; background: $surface; }
    """

    def __init__(self, *, max_lines: int = 5000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self._lines: list[str] = [""]
        self._counts: list[int] = [1]  # rows each line takes at `_width`
        self._rows: list[str] = [""]
        self._width = 0

    @property
    def lines(self) -> list[str]:
        return self._lines if self._lines != [""] else []

    @property
    def rows(self) -> list[str]:
        """What the panel shows, top to bottom, scrolled or not (the wrapped lines)."""
        return self._rows[: self._row_count()]

    def _row_count(self) -> int:
        return len(self._rows) - (1 if self._lines[-1] == "" else 0)

    def write(self, text: str) -> None:
        """Add `text` where the last line left off ("\\n" ends a line)."""
        if not text:
            return
        at_end = self.scroll_offset.y >= self.max_scroll_y
        pieces = _CONTROL.sub("", text.replace("\r\n", "\n").expandtabs()).split("\n")
        width = self._wrap_width()
        del self._rows[len(self._rows) - self._counts.pop() :]
        self._lines[-1] += pieces[0]
        self._lines.extend(pieces[1:])
        for line in self._lines[len(self._lines) - len(pieces) :]:
            rows = wrap(line, width)
            self._rows.extend(rows)
            self._counts.append(len(rows))
        if len(self._lines) > self.max_lines + self.max_lines // 10:  # drop the oldest in batches
            drop = len(self._lines) - self.max_lines
            del self._rows[: sum(self._counts[:drop])]
            del self._lines[:drop], self._counts[:drop]
        self._resized(follow=at_end)

    def write_line(self, text: str) -> None:
        self.write(text + "\n")

    def clear(self) -> None:
        self._lines, self._counts, self._rows = [""], [1], [""]
        self._resized(follow=True)

    def _wrap_width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else 0

    def _resized(self, *, follow: bool) -> None:
        self.virtual_size = Size(self._wrap_width(), self._row_count())
        if follow:  # once the new size is laid out
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        self.refresh()

    def on_resize(self) -> None:
        width = self._wrap_width()
        if width != self._width:
            at_end = self.scroll_offset.y >= self.max_scroll_y
            self._width = width
            self._rows, self._counts = [], []
            for line in self._lines:
                rows = wrap(line, width)
                self._rows.extend(rows)
                self._counts.append(len(rows))
            self._resized(follow=at_end)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        text = self._rows[index] if index < self._row_count() else ""
        return Strip([Segment(text, style)]).crop_extend(0, width, style)
