"""The console's view of a workstation's frame buffer: its pixels in quadrant blocks, the whole screen, or its text."""

from __future__ import annotations

import base64
import io
from typing import Any, ClassVar

from PIL import Image
from textual.binding import Binding, BindingType
from textual.widgets import Static

from emulator.font import DEFAULT_FONT
from emulator.frame_buffer import TEXT_ART_CELLS, FrameBuffer, read_text

MODES = ("pixels", "text", "whole")
MODE_TITLES = {
    "pixels": "one pixel per dot",
    "text": "its text",
    "whole": "whole screen",
}
STYLE = "quadrant"


def frame_buffer_from_png(png_base64: str) -> FrameBuffer:
    """A FrameBuffer holding the screen a `framebuffer` request sent as a PNG (ink black on white)."""
    img = Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("1")
    fb = FrameBuffer(*img.size)
    fb.data[:] = img.tobytes("raw", "1;I")
    return fb


class ScreenView(Static, can_focus=True):
    """One workstation's screen; arrows pan (shift: a page), home goes back to following the newest text.

    In "pixels" mode each screen pixel is a quadrant dot (the display server's
    8x12 text reads, about 4x6 terminal cells a character); "text" shows the
    characters on the screen (read back from the bitmap with the console
    font, so it works attached over a socket too); "whole" shrinks the whole
    screen into the panel.  Until panned, the view follows the last text row.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "pan(-1, 0)", "Pan left", show=False),
        Binding("right", "pan(1, 0)", "Pan right", show=False),
        Binding("up", "pan(0, -1)", "Pan up", show=False),
        Binding("down", "pan(0, 1)", "Pan down", show=False),
        Binding("shift+left", "pan_page(-1, 0)", "Pan a page left", show=False),
        Binding("shift+right", "pan_page(1, 0)", "Pan a page right", show=False),
        Binding("shift+up,pageup", "pan_page(0, -1)", "Pan a page up", show=False),
        Binding("shift+down,pagedown", "pan_page(0, 1)", "Pan a page down", show=False),
        Binding("home", "follow", "Follow the text", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.host: str | None = None
        self.mode = "pixels"
        self.fb: FrameBuffer | None = None
        self.text: list[str] = []  # the screen's characters, one string per text row
        self.follow = True
        self.col = 0  # top-left text cell shown (pixels and text modes)
        self.row = 0
        self.error: str | None = None

    # --- what to show ------------------------------------------------------------------
    def show(self, host: str, fb: FrameBuffer) -> None:
        if host != self.host:
            self.col, self.row, self.follow = 0, 0, True
        self.host, self.fb, self.error = host, fb, None
        self.text = read_text(fb, DEFAULT_FONT)
        self.redraw()

    def show_error(self, host: str, error: str) -> None:
        self.host, self.fb, self.text, self.error = host, None, [], error
        self.redraw()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown screen mode {mode!r}")
        self.mode = mode
        self.redraw()

    def next_mode(self) -> None:
        self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    # --- panning ---------------------------------------------------------------------------
    def _page(self) -> tuple[int, int]:
        """How many text cells (columns, rows) the panel shows."""
        cols, rows = self.content_size.width, self.content_size.height
        if self.mode == "pixels":
            dx, dy = TEXT_ART_CELLS[STYLE]
            cell_w, cell_h = 8 // dx, DEFAULT_FONT.height // dy
            return max(1, cols // cell_w), max(1, rows // cell_h)
        return max(1, cols), max(1, rows)

    def _grid(self) -> tuple[int, int]:
        if self.fb is None:
            return 0, 0
        return self.fb.width // 8, self.fb.height // DEFAULT_FONT.height

    def _clamp(self) -> None:
        grid_cols, grid_rows = self._grid()
        page_cols, page_rows = self._page()
        self.col = max(0, min(self.col, grid_cols - page_cols))
        self.row = max(0, min(self.row, grid_rows - page_rows))

    def action_pan(self, dcol: int, drow: int) -> None:
        self.follow = False
        self.col += dcol
        self.row += drow
        self.redraw()

    def action_pan_page(self, dcol: int, drow: int) -> None:
        page_cols, page_rows = self._page()
        self.action_pan(dcol * max(1, page_cols // 2), drow * max(1, page_rows - 1))

    def action_follow(self) -> None:
        self.follow, self.col = True, 0
        self.redraw()

    # --- drawing -----------------------------------------------------------------------------
    def on_resize(self) -> None:
        self.redraw()

    def title(self) -> str:
        where = "" if self.mode == "whole" else f", from column {self.col} row {self.row}"
        return f"screen of {self.host or '?'} ({MODE_TITLES[self.mode]}{where})"

    def redraw(self) -> None:
        self.border_title = self.title()
        cols, rows = self.content_size.width, self.content_size.height
        if self.error is not None:
            self.update(self.error)
            return
        if self.fb is None or cols <= 0 or rows <= 0:
            return
        page_cols, page_rows = self._page()
        if self.follow:
            last = max((i for i, line in enumerate(self.text) if line), default=0)
            self.row = last + 2 - page_rows  # the newest text, and the line the cursor is on
        self._clamp()
        self.border_title = self.title()
        fb = self.fb
        if self.mode == "text":
            lines = [
                line[self.col : self.col + cols] for line in self.text[self.row : self.row + rows]
            ]
        elif self.mode == "whole":
            lines = fb.to_text_art(cols, rows, STYLE)
        else:
            dx, dy = TEXT_ART_CELLS[STYLE]
            x, y = self.col * 8, self.row * DEFAULT_FONT.height
            w, h = min(cols, (fb.width - x) // dx), min(rows, (fb.height - y) // dy)
            lines = fb.to_text_art(w, h, STYLE, region=(x, y, w * dx, h * dy))
        self.update("\n".join(lines))
