"""Tests of the interactive console, driven headless by Textual's pilot, in-process and over the socket."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, config
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, ProgressBar, Static, Tab

from vcluster.cli import main
from vcluster.console import CommandLine, LocalBackend, VConsole, local_opener, socket_opener
from vcluster.control import Client, serve
from vcluster.screenview import ScreenView
from vcluster.session import LineError, Session
from vcluster.wraplog import WrapLog

HELLO = "Hello from the V-System!"


def run_app(
    body: Callable[[VConsole, Pilot[Any]], Any],
    opener=None,
    size: tuple[int, int] = (160, 50),
    **kwargs: Any,
) -> None:
    """Boot tiny in a console (headless terminal of `size`), wait until it is up, run `body(app, pilot)`."""
    app = VConsole(opener or local_opener(config("tiny"), **kwargs), poll_s=0.1)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await asyncio.wait_for(app.ready.wait(), 10)
            assert app.error is None
            await body(app, pilot)

    asyncio.run(main())


async def until(
    pilot: Pilot[Any], cond: Callable[[], bool], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def type_line(pilot: Pilot[Any], line: str) -> None:
    await pilot.press(*line, "enter")


def text_of(app: VConsole, panel: str) -> str:
    return "\n".join(app.query_one(panel, WrapLog).lines)


def screen_text(app: VConsole) -> str:
    """What the terminal shows now, row by row (the app's whole screen, as painted)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def rows_of(app: VConsole, table: str) -> list[list[str]]:
    t = app.query_one(table, DataTable)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


def session_of(app: VConsole) -> Session:
    assert isinstance(app.backend, LocalBackend)
    return app.backend.controller.session


def test_hello_at_ws2_shows_its_output_and_the_programs_table() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await type_line(pilot, "hello @ ws2")
        await until(pilot, lambda: HELLO in text_of(app, "#output"), "hello's output")
        assert "> hello @ ws2" in text_of(app, "#output")
        await until(
            pilot,
            lambda: any(r[2] == "hello" and r[5] == "exited 0" for r in rows_of(app, "#programs")),
            "the programs table",
        )
        row = next(r for r in rows_of(app, "#programs") if r[2] == "hello")
        assert row[0] == "1" and row[3] == "ws2" and row[4] == "ws2"
        hosts = {r[0]: r for r in rows_of(app, "#hosts")}
        assert set(hosts) == {"ws1", "ws2", "ws3", "fs1"}
        assert hosts["fs1"][1] == "fileserver" and hosts["ws2"][5] == "2048"
        assert "frames" in str(app.query_one("#net", Static).render())

    run_app(body)


def test_a_running_program_shows_where_it_runs_and_its_cpu() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await type_line(pilot, "spin 30 @ ws3")
        await until(
            pilot,
            lambda: any(
                r[2] == "spin 30" and r[5] in ("running", "ready")
                for r in rows_of(app, "#programs")
            ),
            "spin running",
        )
        row = next(r for r in rows_of(app, "#programs") if r[2] == "spin 30")
        assert row[3] == "ws3" and row[6] != "-"
        await until(
            pilot, lambda: {r[0]: r for r in rows_of(app, "#hosts")}["ws3"][2] == "busy", "ws3 busy"
        )
        ws3 = {r[0]: r for r in rows_of(app, "#hosts")}["ws3"]
        assert ws3[4] == "1.0" and ws3[7] != "-"  # load, and the program's logical host

    run_app(body, speed=10.0)


def _migrateprog_known() -> str | None:
    """None if Session takes `migrateprog`; otherwise why not."""
    session = Session(config("tiny"))
    try:
        session.execute("migrateprog")
    except LineError as exc:
        if "unknown" in str(exc) or "no program 'migrateprog'" in str(exc):
            return f"Session does not know migrateprog yet: {exc}"
    finally:
        session.close()
    return None


def test_migrateprog_shows_the_migration_in_the_log() -> None:
    why = _migrateprog_known()
    if why:
        pytest.skip(why)

    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await type_line(pilot, "sleeper 30 @ ws2")
        await until(
            pilot,
            lambda: any(r[2] == "sleeper 30" and r[3] == "ws2" for r in rows_of(app, "#programs")),
            "sleeper on ws2",
        )
        await type_line(pilot, "migrateprog sleeper")
        await until(
            pilot,
            lambda: "migrated sleeper from ws2 to" in text_of(app, "#log"),
            "the migration logged",
        )
        await until(
            pilot,
            lambda: any(
                r[2] == "sleeper 30" and r[3] not in ("ws2", "-") for r in rows_of(app, "#programs")
            ),
            "sleeper somewhere else",
        )
        row = next(r for r in rows_of(app, "#programs") if r[2] == "sleeper 30")
        assert row[4] == "ws2"  # started there
        assert "migrated sleeper from ws2 to" in text_of(app, "#output")  # the line's own message

    run_app(body, speed=4.0)


def test_the_log_panel_receives_the_sessions_log() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        session_of(app).log("ws3 evicted primes: owner came back", kind="eviction", host="ws3")
        await until(
            pilot,
            lambda: "ws3 evicted primes: owner came back" in text_of(app, "#log"),
            "the log line",
        )
        line = next(x for x in app.query_one("#log", WrapLog).lines if "evicted" in x)
        assert line.startswith("[") and "]" in line  # stamped with simulated time
        await type_line(pilot, "crash ws3")
        await until(pilot, lambda: "ws3 crashed" in text_of(app, "#log"), "the crash")

    run_app(body)


def test_command_line_history_and_errors() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        cmd = app.query_one("#cmd", CommandLine)
        await type_line(pilot, "hosts")
        await type_line(pilot, "hello @ nowhere")
        await until(
            pilot, lambda: "! unknown host 'nowhere'" in text_of(app, "#output"), "the error"
        )
        assert "workstation" in text_of(app, "#output")  # the hosts table came back as a message
        await pilot.press("up")
        assert cmd.value == "hello @ nowhere"
        await pilot.press("up")
        assert cmd.value == "hosts"
        await pilot.press("up")
        assert cmd.value == "hosts"
        await pilot.press("down")
        assert cmd.value == "hello @ nowhere"
        await pilot.press("down")
        assert cmd.value == ""
        await type_line(pilot, "help")
        assert "migrateprog" in text_of(app, "#output")

    run_app(body)


def test_time_runs_and_can_be_paused_by_key_and_command() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.status.get("sim_seconds", 0) > 0.2, "time to run")
        await pilot.press("f2")
        await until(pilot, lambda: app.status.get("paused") is True, "paused")
        t = app.status["sim_seconds"]
        await pilot.pause(0.2)
        assert app.status["sim_seconds"] == t
        assert "paused" in str(app.query_one("#status", Static).render())
        await pilot.press("f7")  # step
        await until(pilot, lambda: app.status["sim_seconds"] == pytest.approx(t + 0.1), "a step")
        await type_line(pilot, "speed 8")
        await type_line(pilot, "resume")
        await until(
            pilot, lambda: app.status.get("paused") is False and app.status["speed"] == 8, "resumed"
        )
        await pilot.press("f4")
        await until(pilot, lambda: app.status["speed"] == 16, "faster")
        await pilot.press("f3", "f3")
        await until(pilot, lambda: app.status["speed"] == 4, "slower")

    run_app(body)


def test_wait_shows_progress() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        bar = app.query_one("#progress", ProgressBar)
        status = app.query_one("#status", Static)
        seen: list[tuple[bool, float, str]] = []
        show = app._show_status

        def spy() -> None:  # what the screen showed at each refresh
            show()
            seen.append((bar.has_class("active"), float(bar.progress or 0), str(status.render())))

        app._show_status = spy  # type: ignore[method-assign]
        await type_line(pilot, "spin 900 @ ws2")
        await type_line(pilot, "wait 905")
        await until(
            pilot, lambda: "spin: 90000000 iterations" in text_of(app, "#output"), "spin's end", 20
        )
        await until(pilot, lambda: app.status.get("sim_seconds", 0) >= 905, "the wait's end")
        during = [s for s in seen if s[0]]
        assert during, "the progress bar never showed"
        assert all(0 <= p <= 100 for _, p, _ in during) and any(0 < p < 100 for _, p, _ in during)
        assert any("wait:" in text and "of 905.00 s" in text for _, _, text in during)
        await until(pilot, lambda: not bar.has_class("active"), "the bar to go")

    run_app(body, paused=True)


def inked(view: ScreenView) -> bool:
    return any(ch not in " \n" for ch in str(view.render()))


def test_frame_buffer_view_switches_host_and_mode() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        fb = app.query_one("#fb", ScreenView)
        await type_line(pilot, "hello")
        await until(pilot, lambda: inked(fb), "text on ws1's screen")
        assert "ws1" in str(fb.border_title) and "one pixel per dot" in str(fb.border_title)
        await type_line(pilot, "view ws2")
        await until(pilot, lambda: "ws2" in str(fb.border_title), "ws2's screen")
        await until(pilot, lambda: "screen of ws2" in text_of(app, "#output"), "view's answer")
        await until(pilot, lambda: not inked(fb), "a blank screen")
        await pilot.press("f5")
        await until(pilot, lambda: "ws3" in str(fb.border_title), "the next host")
        await type_line(pilot, "view ws1")
        await until(pilot, lambda: "ws1" in str(fb.border_title) and inked(fb), "ws1 again")
        await pilot.press("f6", "f6")  # pixels -> text -> whole
        await until(pilot, lambda: "whole screen" in str(fb.border_title), "zoomed out")
        await until(pilot, lambda: inked(fb), "text, small")
        await type_line(pilot, "view nowhere")
        await until(
            pilot, lambda: "! unknown host 'nowhere'" in text_of(app, "#output"), "the error"
        )
        await type_line(pilot, "screen sideways")
        await until(
            pilot, lambda: "! usage: screen [pixels|text|whole]" in text_of(app, "#output"), "usage"
        )

    run_app(body)


def test_frame_buffer_pixels_pan_by_text_cells() -> None:
    """One pixel per quadrant dot: a text cell is 4 columns, so panning right one cell moves the picture 4."""

    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        fb = app.query_one("#fb", ScreenView)
        await type_line(pilot, "hello")
        await until(
            pilot, lambda: inked(fb) and fb.text and HELLO in fb.text[0], "hello on the screen"
        )
        before = str(fb.render()).splitlines()
        fb.focus()
        await pilot.press("right", "right", "right")
        assert fb.col == 3 and not fb.follow
        after = str(fb.render()).splitlines()
        assert len(after) == len(before) and any(line.strip() for line in after)
        for old, new in zip(before, after, strict=True):
            assert new[: len(new) - 12] == old[12 : len(new)]
        await pilot.press("home")
        assert fb.col == 0 and str(fb.render()).splitlines() == before
        page_rows = fb._page()[1]
        await pilot.press("shift+down")  # a page down, less a row kept in view
        assert fb.row == max(1, page_rows - 1) and not fb.follow
        await pilot.press("shift+up")
        assert fb.row == 0

    run_app(body)


SIZES = [(80, 24), (200, 50)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_hello_its_output_and_exit_line_are_on_screen(size: tuple[int, int]) -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await type_line(pilot, "hello")
        await until(
            pilot, lambda: "[1] hello on ws1: exited 0" in text_of(app, "#output"), "hello's end"
        )
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert HELLO in shown and "[1] hello on ws1: exited 0" in shown and "> hello" in shown
        output = app.query_one("#output", WrapLog)
        assert output.size.height >= (12 if size[1] == 24 else 18)  # most of the height
        if size == (80, 24):  # the other panels are one-line summaries
            assert "4 hosts: 4 idle" in shown and "programs: none running" in shown
            assert "net: " in shown and "frames" in shown
        else:  # everything at once, the tables in full
            assert all(name in shown for name in ("ws1", "ws2", "ws3", "fs1"))
            assert "exited 0" in "\n".join(" ".join(r) for r in rows_of(app, "#programs"))

    run_app(body, size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_migrations_log_line_is_wrapped_not_cut(size: tuple[int, int]) -> None:
    why = _migrateprog_known()
    if why:
        pytest.skip(why)

    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        await type_line(pilot, "dirtier 256 32 60 @ ws2")
        await until(
            pilot,
            lambda: any(
                r[2].startswith("dirtier") and r[3] == "ws2" for r in rows_of(app, "#programs")
            ),
            "dirtier on ws2",
        )
        await type_line(pilot, "wait 1")
        await type_line(pilot, "migrateprog dirtier")
        log_panel = app.query_one("#log", WrapLog)
        await until(
            pilot,
            lambda: "pre-copy round" in text_of(app, "#log"),
            f"the migration logged; output: {text_of(app, '#output')}",
            20,
        )
        line = next(x for x in log_panel.lines if "migrated dirtier from ws2" in x)
        if app.compact:
            await until(
                pilot, lambda: "new)" in str(app.query_one("#tab-log", Tab).label), "the tab's mark"
            )
            await pilot.press("f8")  # output -> log
            assert app.panel == "log" and str(app.query_one("#tab-log", Tab).label) == "log"
        await pilot.pause(0.2)
        width = log_panel.scrollable_content_region.width
        assert len(line) > width  # the line is longer than the panel: it must wrap to be read
        rows = [r for r in log_panel.rows if r]
        start = next(i for i, r in enumerate(rows) if "migrated dirtier from ws2" in r)
        pieces = []
        while "".join(pieces) != line:
            assert len(rows[start]) <= width
            pieces.append(rows[start])
            start += 1
        shown = screen_text(app)
        assert all(piece.rstrip() in shown for piece in pieces)  # every row of it is on the screen
        assert "total" in pieces[-1] and pieces[-1].rstrip().endswith(" ms")

    run_app(body, size=size, speed=4.0)


def test_typing_after_tab_goes_to_the_command_line() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        cmd = app.query_one("#cmd", CommandLine)
        await pilot.press("tab")
        assert app.focused is not cmd
        await pilot.press(*"hello @ ws3")
        assert app.focused is cmd and cmd.value == "hello @ ws3"
        await pilot.press("enter")
        await until(
            pilot, lambda: "[1] hello on ws3: exited 0" in text_of(app, "#output"), "hello's end"
        )

    run_app(body, size=(80, 24))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_page_up_and_down_scroll_the_output(size: tuple[int, int]) -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        output = app.query_one("#output", WrapLog)
        for _ in range(10):  # more than two pages
            await type_line(pilot, "help")
            await pilot.pause(0.05)
            if output.max_scroll_y > 2 * output.size.height:
                break
        end = output.scroll_offset.y
        assert end > 0 and end == output.max_scroll_y  # following the end
        assert "history:" in screen_text(app)
        await pilot.press("pageup")
        await pilot.pause(0.1)
        assert output.scroll_offset.y == max(0, end - output.scrollable_content_region.height)
        assert "history:" not in screen_text(app).split("console output")[-1].split("\n")[-3]
        output.write_line("a line while scrolled back")  # does not pull the view down
        assert output.scroll_offset.y < output.max_scroll_y
        await pilot.press("pagedown", "pagedown", "pagedown")
        await pilot.pause(0.1)
        assert output.scroll_offset.y == output.max_scroll_y
        assert "a line while scrolled back" in screen_text(app)
        bottom = output.scroll_offset.y
        await pilot._post_mouse_events([events.MouseScrollUp] * 2, "#output", offset=(5, 5))
        await pilot.pause(0.1)
        assert 0 <= output.scroll_offset.y < bottom  # the mouse wheel scrolls it too
        assert app.focused is app.query_one("#cmd", CommandLine)

    run_app(body, size=size)


def test_the_screens_text_mode_shows_hello() -> None:
    async def body(app: VConsole, pilot: Pilot[Any]) -> None:
        fb = app.query_one("#fb", ScreenView)
        await type_line(pilot, "hello")
        await type_line(pilot, "screen text")
        await until(pilot, lambda: "its text" in str(fb.border_title), "the text mode")
        display = session_of(app).kernels["ws1"].servers["display"].console
        await until(pilot, lambda: HELLO in "\n".join(display.lines()), "hello on ws1's display")
        await until(
            pilot, lambda: fb.text == display.lines(), "the view to read the display's characters"
        )
        app.show_panel("screen")  # at 80x24 one panel shows at a time
        await pilot.pause(0.2)
        assert HELLO in screen_text(app)
        assert str(fb.render()).splitlines()[0] == HELLO

    run_app(body, size=(80, 24))


def test_the_console_attaches_over_the_socket() -> None:
    with tempfile.TemporaryDirectory(prefix="vc") as d:
        path = Path(d) / "tiny.sock"
        session = Session(config("tiny"))
        ready = threading.Event()
        thread = threading.Thread(
            target=lambda: asyncio.run(serve(session, path, ready=lambda p: ready.set())),
            daemon=True,
        )
        thread.start()
        assert ready.wait(10)

        async def body(app: VConsole, pilot: Pilot[Any]) -> None:
            assert "attached to tiny" in text_of(app, "#log")
            await type_line(pilot, "hello @ ws3")
            await until(pilot, lambda: HELLO in text_of(app, "#output"), "hello's output")
            await until(
                pilot,
                lambda: any(
                    r[2] == "hello" and r[5] == "exited 0" for r in rows_of(app, "#programs")
                ),
                "the programs table",
            )
            await type_line(pilot, "wait 1")
            await until(pilot, lambda: app.status.get("sim_seconds", 0) >= 1, "the wait")
            with Client(path) as other:  # a second client at the same time
                assert other.request({"cmd": "status"})["clients"] == 3
            await type_line(pilot, "shutdown")

        try:
            run_app(body, opener=socket_opener(str(path)))
            thread.join(10)
            assert not thread.is_alive() and not path.exists()
        finally:
            session.close()


def test_a_console_that_cannot_attach_says_why() -> None:
    app = VConsole(socket_opener("/nonexistent/v.sock"), poll_s=0.05)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await asyncio.wait_for(app.ready.wait(), 10)
            await pilot.pause(0.1)

    asyncio.run(main())
    assert app.error is not None and "cannot connect to /nonexistent/v.sock" in app.error
    assert app.return_code == 1


# --- vcluster boot ------------------------------------------------------------------------
BROKEN = "name: broken\nseed: 1\nconsole_host: ws1\nmachines:\n  - name: ws1\n    memory: lots\n"


def test_boot_with_a_broken_config_says_where_and_boots_nothing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN)
    assert main(["boot", str(bad)]) != 0
    captured = capsys.readouterr()
    assert f"{bad}:6: machines[0].memory: " in captured.err
    assert "booted" not in captured.out + captured.err


def test_boot_command_with_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    text = (
        (ROOT / "configs" / "tiny.yaml")
        .read_text()
        .replace("console_host: ws1", "console_host: ws9")
    )
    line = (
        text.splitlines().index(next(x for x in text.splitlines() if x.startswith("console_host:")))
        + 1
    )
    bad.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "vcluster.cli", "boot", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert f"{bad}:{line}: console_host: " in proc.stderr and "ws9" in proc.stderr
    assert proc.stdout == ""


def test_boot_without_a_terminal_runs_headless() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vcluster.cli", "boot", "tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "not a terminal" in proc.stderr
    assert HELLO in proc.stdout and "booted tiny" in proc.stdout
