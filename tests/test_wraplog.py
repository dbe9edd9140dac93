"""The console's wrapping log: rows fit the width, joined they give the line back, the view follows the end."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App, ComposeResult

from vcluster.wraplog import WrapLog, wrap


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab c\u4e2d-"), max_size=200), st.integers(1, 40))
def test_wrap_rows_fit_and_join_to_the_line(line: str, width: int) -> None:
    rows = wrap(line, width)
    assert "".join(rows) == line
    assert all(
        cell_len(r) <= width or len(r) == 1 for r in rows
    )  # a wide character wider than the row
    assert all(r for r in rows[:-1])


def test_wrap_breaks_after_a_space() -> None:
    assert wrap("migrated dirtier from ws2 to ws3", 12) == [
        "migrated ",
        "dirtier ",
        "from ws2 to ",
        "ws3",
    ]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_the_log_rewraps_on_resize_and_keeps_unfinished_lines() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield WrapLog(id="log", max_lines=50)

    async def main() -> None:
        app = One()
        async with app.run_test(size=(30, 10)) as pilot:
            log = app.query_one(WrapLog)
            log.write("a partial")
            log.write(" line, then the rest of it which is long\nnext\n")
            await pilot.pause()
            width = log.scrollable_content_region.width
            assert log.lines == ["a partial line, then the rest of it which is long", "next", ""]
            assert "".join(log.rows[:-1]) == log.lines[0] and all(len(r) <= width for r in log.rows)
            await pilot.resize_terminal(80, 10)
            await pilot.pause()
            assert log.rows == [log.lines[0], "next"]
            for i in range(120):
                log.write_line(f"line {i}")
            await pilot.pause()
            assert len(log.lines) <= 56 and log.lines[-2] == "line 119"
            assert log.scroll_offset.y == log.max_scroll_y  # following the end

    asyncio.run(main())
