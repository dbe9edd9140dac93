"""The interactive console (Textual): hosts, programs, network, log, output, a frame buffer, a command line."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static, Tab, Tabs

from vcluster.control import AsyncClient, ControlError, Controller, boot_session
from vcluster.realtime import Runner
from vcluster.screenview import MODES as SCREEN_MODES
from vcluster.screenview import ScreenView, frame_buffer_from_png
from vcluster.wraplog import WrapLog

log = logging.getLogger(__name__)

POLL_S = 0.25
MAX_LOG_LINES = 5000
MAX_FINISHED_SHOWN = 100
# Below this size the screen is "compact": one panel at a time (tabs) under one-line summaries.
WIDE_MIN = (120, 36)
PANELS = ("output", "log", "hosts", "programs", "screen")
PANEL_IDS = {
    "output": "output",
    "log": "log",
    "hosts": "hosts",
    "programs": "programs",
    "screen": "fb",
}

HELP = """\
console lines: PROG ARGS [@ HOST | @ *]   wait S   hosts   ps [HOST]   kill|suspend|resume PID|#|NAME
               migrateprog [-n] [PROG]   owner HOST on|off   crash HOST   power HOST on
               input JOB TEXT...   eof JOB   (a program's standard input)
               checkpoint PROG every S | now   PROG ARGS @ * checkpoint=S   (restart after a crash)
               fault loss RATE [SEGMENT] | fault partition HOST... | fault heal
the clock:     speed X   pause   resume   step [S]        (F2 pause/resume, F3 slower, F4 faster, F7 step)
this screen:   view HOST (F5 next host)   screen pixels|text|whole (F6 next)   clear   help   quit (ctrl+q)
               shutdown (stop a served cluster)   F8 next panel (small screens)   PageUp/PageDown scroll the output
               Tab moves into the panels (arrows pan the screen, home follows its text); typing returns here
history:       up / down"""


class Backend(Protocol):
    """What the console needs from a cluster: control requests (see vcluster.control) and closing."""

    title: str

    async def request(self, req: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self, *, shutdown: bool = False) -> None: ...


# an opener boots or attaches: (say, progress) -> backend; progress(done, total, machine) may be None
Opener = Callable[
    [Callable[[str], None], Callable[[int, int, str], None] | None], Awaitable[Backend]
]


class LocalBackend:
    """The cluster in this process: a Session, its Runner on the app's loop, and a Controller."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.title = f"{controller.session.config.name} (in this process)"
        self._closed = False

    async def request(self, req: dict[str, Any]) -> dict[str, Any]:
        return await self.controller.handle(req)

    async def close(self, *, shutdown: bool = False) -> None:
        if not self._closed:
            self._closed = True
            await self.controller.runner.close()
            self.controller.session.close()


class SocketBackend:
    """A served cluster: one connection for console lines (a `wait` may take a while), one for the views."""

    def __init__(self, path: str, commands: AsyncClient, views: AsyncClient) -> None:
        self.path = path
        self.title = path
        self.commands = commands
        self.views = views

    @classmethod
    async def connect(cls, path: str) -> SocketBackend:
        commands = await AsyncClient.connect(path)
        views = await AsyncClient.connect(path)
        return cls(path, commands, views)

    async def request(self, req: dict[str, Any]) -> dict[str, Any]:
        client = (
            self.commands
            if "execute" in req or req.get("cmd") in ("wait", "shutdown")
            else self.views
        )
        try:
            return await client.request(req)
        except (OSError, ValueError) as exc:
            raise ControlError(f"lost the connection to {self.path}: {exc}") from None

    async def close(self, *, shutdown: bool = False) -> None:
        if shutdown:
            with contextlib.suppress(ControlError, OSError):
                await self.views.request({"cmd": "shutdown"})
        await self.commands.close()
        await self.views.close()


def local_opener(cfg: Any, *, speed: float = 1.0, paused: bool = False) -> Opener:
    """Boot `cfg` in this process (in a thread, so the screen shows progress) when the console starts."""

    async def open_local(
        say: Callable[[str], None], progress: Callable[[int, int, str], None] | None = None
    ) -> Backend:
        session = await asyncio.to_thread(boot_session, cfg, say, progress)
        runner = Runner(session, speed=speed, paused=paused)
        runner.start()
        return LocalBackend(Controller(session, runner))

    return open_local


def socket_opener(path: str) -> Opener:
    async def open_socket(
        say: Callable[[str], None], progress: Callable[[int, int, str], None] | None = None
    ) -> Backend:
        say(f"connecting to {path}...")
        backend = await SocketBackend.connect(path)
        status = await backend.request({"cmd": "status"})
        say(f"attached to {status.get('config')} at {path}")
        return backend

    return open_socket


class CommandLine(Input):
    """The console's command line, with history on up and down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="console line (help for help)", **kwargs)
        self.history: list[str] = []
        self._at = 0
        self._draft = ""

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._at = len(self.history)
        self._draft = ""

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        if self._at == len(self.history):
            self._draft = self.value
        self._at = max(0, min(len(self.history), self._at + delta))
        self.value = self._draft if self._at == len(self.history) else self.history[self._at]
        self.cursor_position = len(self.value)


class LogBuffer(logging.Handler):
    """Python log records kept for the console's log panel (the terminal belongs to the app)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=1000)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(self.format(record))


class VConsole(App[int]):
    """The V-System console: what the cluster does, and a command line to tell it what to do."""

    TITLE = "vcluster"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #status { height: 1; background: $boost; padding: 0 1; }
    #progress { height: 1; display: none; padding: 0 1; }
    #progress.active { display: block; }
    #summary { height: 3; padding: 0 1; display: none; }
    #tabs { display: none; }
    #left { width: 3fr; }
    #right { width: 2fr; }
    #hosts { height: auto; max-height: 40%; border: round $primary; }
    #programs { height: auto; min-height: 5; max-height: 25%; border: round $primary; }
    #output { height: 1fr; min-height: 6; border: round $primary; }
    #fb { height: 2fr; border: round $primary; overflow: hidden; }
    #net { height: 5; border: round $primary; padding: 0 1; }
    #log { height: 1fr; border: round $primary; }
    #cmd { dock: bottom; margin-bottom: 1; }
    Screen.-compact #summary { display: block; }
    Screen.-compact #tabs { display: block; }
    Screen.-compact #hosts, Screen.-compact #programs, Screen.-compact #output, Screen.-compact #fb,
    Screen.-compact #net, Screen.-compact #log { display: none; height: 1fr; max-height: 100%; }
    Screen.-compact #left, Screen.-compact #right { width: 1fr; }
    Screen.-compact.-show-output #output, Screen.-compact.-show-log #log, Screen.-compact.-show-hosts #hosts,
    Screen.-compact.-show-programs #programs, Screen.-compact.-show-screen #fb { display: block; }
    Screen.-compact.-show-output #right, Screen.-compact.-show-hosts #right, Screen.-compact.-show-programs #right,
    Screen.-compact.-show-log #left, Screen.-compact.-show-screen #left { display: none; }
    Screen.-compact #cmd { border: none; height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle_pause", "Pause"),
        Binding("f3", "slower", "Slower"),
        Binding("f4", "faster", "Faster"),
        Binding("f5", "next_host", "Host"),
        Binding("f6", "next_screen_mode", "Screen"),
        Binding("f7", "step", "Step"),
        Binding("f8", "next_panel", "Panel"),
        Binding("pageup", "scroll_output(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_output(1)", "Scroll down", show=False),
        Binding("ctrl+end", "scroll_output(0)", "Scroll to the end", show=False),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(
        self, opener: Opener, *, log_buffer: LogBuffer | None = None, poll_s: float = POLL_S
    ) -> None:
        super().__init__()
        self.opener = opener
        self.backend: Backend | None = None
        self.log_buffer = log_buffer
        self.poll_s = poll_s
        self.status: dict[str, Any] = {}
        self.host_names: list[str] = []
        self.view_host: str | None = None
        self.panel = "output"  # the one shown on a compact screen
        self._fb_version: int | None = None
        self.ready = asyncio.Event()
        self.error: str | None = None
        self._console_next = 0
        self._events_next = 0
        self._polling = False
        self._summary: dict[str, str] = {}
        self._unseen_events = 0
        self._poll_timer: Timer | None = None
        self._commands = 0  # console lines in flight
        self._opening_since = time.monotonic()
        self._opening_text = "starting..."

    # --- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("starting...", id="status", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="progress", classes="active")
        yield Static("", id="summary", markup=False)
        yield Tabs(*(Tab(name, id=f"tab-{name}") for name in PANELS), id="tabs")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield DataTable(id="hosts", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="programs", cursor_type="row", zebra_stripes=True)
                yield WrapLog(id="output", max_lines=MAX_LOG_LINES)
            with Vertical(id="right"):
                yield ScreenView(id="fb")
                yield Static("", id="net", markup=False)
                yield WrapLog(id="log", max_lines=MAX_LOG_LINES)
        yield CommandLine(id="cmd")
        yield Footer()

    def on_mount(self) -> None:
        hosts = self.query_one("#hosts", DataTable)
        hosts.border_title = "hosts"
        hosts.add_columns(
            "host", "role", "state", "owner", "load", "memory KB", "free KB", "logical hosts"
        )
        programs = self.query_one("#programs", DataTable)
        programs.border_title = "programs"
        programs.add_columns(
            "#", "pid", "program", "host", "started on", "state", "CPU ms", "mem KB"
        )
        self.query_one("#fb", ScreenView).border_title = "screen"
        self.query_one("#net", Static).border_title = "network"
        self.query_one("#log", WrapLog).border_title = "log: migrations, evictions, crashes"
        self.query_one("#output", WrapLog).border_title = "console output"
        self.query_one("#cmd", CommandLine).focus()
        self._lay_out(self.size.width, self.size.height)
        self._opening_timer = self.set_interval(0.1, self._show_opening)
        self._open()

    # --- a layout for the terminal's size ------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._lay_out(event.size.width, event.size.height)

    @property
    def compact(self) -> bool:
        return self.screen.has_class("-compact")

    def _lay_out(self, width: int, height: int) -> None:
        """Wide: every panel at once, the output under the tables; compact: one panel (tabs), summaries above."""
        screen = self.screen
        screen.set_class(width < WIDE_MIN[0] or height < WIDE_MIN[1], "-compact")
        for name in PANELS:
            screen.set_class(name == self.panel, f"-show-{name}")

    def show_panel(self, name: str) -> None:
        """Bring panel `name` forward on a compact screen (on a wide one every panel shows anyway)."""
        if name not in PANELS:
            raise ValueError(f"unknown panel {name!r}")
        self.panel = name
        self._lay_out(self.size.width, self.size.height)
        if name == "log" and self._unseen_events:
            self._unseen_events = 0
            self.query_one("#tab-log", Tab).label = "log"
        tabs = self.query_one("#tabs", Tabs)
        if tabs.active != f"tab-{name}":
            tabs.active = f"tab-{name}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is not None and event.tab.id:
            name = event.tab.id.removeprefix("tab-")
            if name != self.panel:
                self.show_panel(name)

    def action_next_panel(self) -> None:
        self.show_panel(PANELS[(PANELS.index(self.panel) + 1) % len(PANELS)])

    def action_scroll_output(self, direction: int) -> None:
        """PageUp/PageDown scroll the output (on a compact screen, the panel shown if it scrolls)."""
        panel: Any = self.query_one("#output", WrapLog)
        if self.compact and self.panel != "output":
            panel = self.query_one(f"#{PANEL_IDS[self.panel]}")
        if direction < 0:
            panel.scroll_page_up(animate=False)
        elif direction > 0:
            panel.scroll_page_down(animate=False)
        else:
            panel.scroll_end(animate=False)

    async def on_event(self, event: events.Event) -> None:
        """A printable key typed anywhere goes to the command line (Tab may have moved the focus away)."""
        if (
            isinstance(event, events.Key)
            and not event.is_forwarded
            and event.is_printable
            and event.character
            and self.screen is self.screen_stack[0]
        ):
            with contextlib.suppress(NoMatches):
                cmd = self.query_one("#cmd", CommandLine)
                if self.screen.focused is not cmd:
                    self.screen.set_focus(cmd)
        await super().on_event(event)

    # --- opening (boot or attach) ----------------------------------------------------------
    def _say(self, text: str) -> None:
        self._opening_text = text
        self.query_one("#log", WrapLog).write_line(text)

    def _booted_one(self, done: int, total: int, name: str) -> None:
        """A machine came up: the bar counts machines, the status line names the last one."""
        self._opening_text = f"booting: {done}/{total} machines ({name})"
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)

    def _show_opening(self) -> None:
        elapsed = time.monotonic() - self._opening_since
        self.query_one("#status", Static).update(f"{self._opening_text}  {elapsed:.1f} s")

    @work(exclusive=True, group="open")
    async def _open(self) -> None:
        say = self._thread_safe(self._say)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int, name: str) -> None:  # from the boot thread
            loop.call_soon_threadsafe(self._booted_one, done, total, name)

        try:
            self.backend = await self.opener(say, progress)
        except Exception as exc:
            self._opening_timer.stop()
            self.error = f"{exc}"
            self.query_one("#status", Static).update(f"failed: {exc}")
            self.query_one("#log", WrapLog).write_line(f"failed: {exc}")
            log.debug("opening failed", exc_info=True)
            self.ready.set()
            self.exit(1, return_code=1)
            return
        self._opening_timer.stop()
        self.query_one("#progress", ProgressBar).remove_class("active")
        self.title = f"vcluster: {self.backend.title}"
        await self.poll()
        self.ready.set()
        self._poll_timer = self.set_interval(self.poll_s, self.poll)

    def _thread_safe(self, fn: Callable[[str], None]) -> Callable[[str], None]:
        loop = asyncio.get_running_loop()

        def call(text: str) -> None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                fn(text)
            else:
                loop.call_soon_threadsafe(fn, text)

        return call

    # --- polling the cluster -----------------------------------------------------------------
    async def request(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.backend is None:
            raise ControlError("not attached yet")
        return await self.backend.request(req)

    async def poll(self) -> None:
        """Bring every panel up to date (a few requests; cheap when nothing changed)."""
        if self._polling or self.backend is None or self.error:
            return
        self._polling = True
        try:
            self.status = await self.request({"cmd": "status"})
            self._show_status()
            hosts = await self.request({"cmd": "hosts"})
            self._show_hosts(hosts.get("hosts", []))
            programs = await self.request({"cmd": "programs"})
            self._show_programs(programs)
            net = await self.request({"cmd": "net"})
            self._show_net(net.get("net", {}))
            events_ = await self.request({"cmd": "events", "since": self._events_next})
            self._show_events(events_)
            console = await self.request({"cmd": "console", "since": self._console_next})
            self._show_console(console)
            await self._show_frame_buffer()
            self._drain_python_log()
        except ControlError as exc:
            self._lost(str(exc))
        except NoMatches:  # the screen is going away
            pass
        finally:
            self._polling = False

    def _lost(self, why: str) -> None:
        self.error = why
        self.query_one("#status", Static).update(f"disconnected: {why}  (ctrl+q quits)")
        self.query_one("#log", WrapLog).write_line(f"disconnected: {why}")

    def _show_status(self) -> None:
        st = self.status
        clock = "paused" if st.get("paused") else f"x{st.get('speed', 1):g}"
        achieved = st.get("achieved_speed")
        if not st.get("paused") and achieved and abs(achieved / st.get("speed", 1) - 1) > 0.05:
            clock += f" (achieved x{achieved:.3g})"  # only when the machine cannot keep up
        text = (
            f"{st.get('config')}  sim {st.get('sim_seconds', 0):.3f} s  {clock}  "
            f"programs {st.get('jobs_running', 0)} running / {st.get('jobs_total', 0)} started  "
            f"console at {st.get('console_host')}"
        )
        if st.get("error"):
            text += f"  simulation stopped: {st['error']}"
        if self._commands:
            text += "  (busy)"
        bar = self.query_one("#progress", ProgressBar)
        advancing = st.get("advancing") or []
        if advancing:
            adv = advancing[0]
            bar.add_class("active")
            bar.update(total=100, progress=100 * float(adv["fraction"]))
            text += f"  wait: {st.get('sim_seconds', 0) - adv['from']:.2f} of {adv['to'] - adv['from']:.2f} s"
        else:
            bar.remove_class("active")
        _update(self.query_one("#status", Static), text)

    def _show_hosts(self, hosts: list[dict[str, Any]]) -> None:
        table = self.query_one("#hosts", DataTable)
        self.host_names = [h["name"] for h in hosts]
        if self.view_host is None and self.host_names:
            self.view_host = self.status.get("console_host") or self.host_names[0]
        rows = []
        for h in hosts:
            lhs = ", ".join(f"{lh:#06x}" for lh in h.get("logical_hosts", []))
            rows.append(
                (
                    h["name"],
                    h["role"],
                    h["state"],
                    "present" if h["owner"] else "-",
                    f"{h['load']:.1f}",
                    str(h["memory_kb"]),
                    str(h["free_kb"]),
                    lhs or "-",
                )
            )
        _fill(table, rows)
        counts = collections.Counter(h["state"] for h in hosts)
        order = [
            "idle",
            "owner",
            "busy",
            "down",
            *sorted(set(counts) - {"idle", "owner", "busy", "down"}),
        ]
        self._summary["hosts"] = f"{len(hosts)} hosts: " + " ".join(
            f"{counts[s]} {s}" for s in order if counts[s]
        )
        self._show_summary()

    def _show_summary(self) -> None:
        parts = self._summary
        _update(
            self.query_one("#summary", Static),
            "\n".join(parts.get(k, "") for k in ("hosts", "programs", "net")),
        )

    def _show_programs(self, programs: dict[str, Any]) -> None:
        table = self.query_one("#programs", DataTable)
        procs = {p["pid"]: p for p in programs.get("processes", [])}
        rows = []
        jobs = programs.get("jobs", [])
        finished = [j for j in jobs if j["done"]][-MAX_FINISHED_SHOWN:]
        shown = {j["serial"] for j in finished} | {j["serial"] for j in jobs if not j["done"]}
        for job in jobs:
            if job["serial"] not in shown:
                continue
            proc = procs.pop(job["pid"], None) if job["pid"] else None
            started = job.get("host_started") or job.get("host_requested") or "-"
            if proc is not None:
                rows.append(
                    (
                        str(job["serial"]),
                        f"{proc['pid']:#010x}",
                        " ".join(job["argv"]),
                        proc["host"],
                        started,
                        proc["state"],
                        str(proc["cpu_ms"]),
                        str(proc["memory_kb"]),
                    )
                )
                continue
            if job.get("end"):
                state = job["end"]  # named by the session: `exited 0`, `killed`, `fault: ...`
            elif job["state"] == "exited":
                state = f"exited {job['exit_status']}"
            elif job["state"] == "failed":
                state = f"failed: {job.get('error') or ''}"
            else:
                state = job["state"]
            pid = f"{job['pid']:#010x}" if job["pid"] else "-"
            rows.append(
                (
                    str(job["serial"]),
                    pid,
                    " ".join(job["argv"]),
                    job.get("host_final") or "-",
                    started,
                    state,
                    "-",
                    "-",
                )
            )
        for proc in procs.values():  # programs started by programs
            rows.append(
                (
                    "",
                    f"{proc['pid']:#010x}",
                    proc["name"],
                    proc["host"],
                    "-",
                    proc["state"],
                    str(proc["cpu_ms"]),
                    str(proc["memory_kb"]),
                )
            )
        _fill(table, rows)
        live = [
            r
            for r in rows
            if not (r[5].startswith(("exited", "failed", "killed", "destroyed", "fault")))
        ]
        done = len(rows) - len(live)
        if live:
            text = "programs: " + ", ".join(
                f"[{r[0]}] {r[2]} on {r[3]} {r[5]}" if r[0] else f"{r[2]} on {r[3]} {r[5]}"
                for r in live
            )
        else:
            text = "programs: none running"
        self._summary["programs"] = text + (f"  ({done} finished)" if done else "")

    def _show_net(self, net: dict[str, Any]) -> None:
        self._summary["net"] = (
            f"net: {100 * net.get('utilization_1s', 0):.1f}% (1 s) "
            f"{100 * net.get('utilization', 0):.1f}% (10 s)  frames {net.get('frames', 0)}  "
            f"collisions {net.get('collisions', 0)}  dropped {net.get('dropped', 0)}"
        )
        self._show_summary()
        drops = net.get("drops", {})
        causes = ", ".join(f"{k} {v}" for k, v in drops.items() if v) or "none"
        _update(
            self.query_one("#net", Static),
            f"utilisation {100 * net.get('utilization_1s', 0):5.1f}% (last 1 s)  "
            f"{100 * net.get('utilization', 0):5.1f}% (10 s)\n"
            f"frames {net.get('frames', 0)}  bytes {net.get('bytes', 0)}  "
            f"collisions {net.get('collisions', 0)}\n"
            f"dropped {net.get('dropped', 0)} ({causes})",
        )

    def _show_events(self, reply: dict[str, Any]) -> None:
        panel = self.query_one("#log", WrapLog)
        events_ = reply.get("events", [])
        for event in events_:
            panel.write_line(f"[{float(event.get('time', 0)):10.3f}] {event.get('text', '')}")
        self._events_next = int(reply.get("next", self._events_next))
        if events_ and self.compact and self.panel != "log":  # say so on the log's tab
            self._unseen_events += len(events_)
            self.query_one("#tab-log", Tab).label = f"log ({self._unseen_events} new)"

    def _show_console(self, reply: dict[str, Any]) -> None:
        out = self.query_one("#output", WrapLog)
        for piece in reply.get("pieces", []):
            out.write(piece.get("text", ""))
        self._console_next = int(reply.get("next", self._console_next))

    async def _show_frame_buffer(self) -> None:
        """Fetch the viewed screen when it changed (a 1x1 text request says whether); the view draws it."""
        if self.view_host is None:
            return
        view = self.query_one("#fb", ScreenView)
        host = self.view_host
        probe: dict[str, Any] = {
            "cmd": "framebuffer",
            "host": host,
            "format": "text",
            "cols": 1,
            "rows": 1,
        }
        if view.host == host and view.fb is not None and self._fb_version is not None:
            probe["since_version"] = self._fb_version
        reply = await self.request(probe)
        if reply.get("ok") and reply.get("unchanged"):
            return
        if reply.get("ok"):
            reply = await self.request({"cmd": "framebuffer", "host": host, "format": "png"})
        if not reply.get("ok"):
            view.show_error(host, reply.get("error", "no screen"))
            self._fb_version = None
            return
        view.show(host, frame_buffer_from_png(reply["png"]))
        self._fb_version = int(reply["version"])

    def _drain_python_log(self) -> None:
        if self.log_buffer is None:
            return
        panel = self.query_one("#log", WrapLog)
        while self.log_buffer.lines:
            panel.write_line(self.log_buffer.lines.popleft())

    # --- the command line ------------------------------------------------------------------
    async def on_input_submitted(self, message: Input.Submitted) -> None:
        cmd = self.query_one("#cmd", CommandLine)
        line = message.value.strip()
        cmd.value = ""
        if not line:
            return
        cmd.remember(line)
        _write_line(self.query_one("#output", WrapLog), f"> {line}")
        if await self._local_line(line):
            return
        self.run_line(line)

    @work(group="lines")
    async def run_line(self, line: str) -> None:
        """Send a console line; a `wait` runs while the panels keep moving (the progress bar shows it)."""
        out = self.query_one("#output", WrapLog)
        await self.ready.wait()  # a line typed while booting runs once the cluster is up
        if self.backend is None:
            _write_line(out, f"! not attached: {self.error}")
            return
        self._commands += 1
        try:
            reply = await self.request({"execute": line})
        except ControlError as exc:
            self._lost(str(exc))
            return
        finally:
            self._commands -= 1
        if reply.get("ok"):
            if reply.get("message"):
                _write_line(out, str(reply["message"]))
        else:
            _write_line(out, f"! {reply.get('error')}")
        await self.poll()

    async def _local_line(self, line: str) -> bool:
        """Lines for this screen rather than the cluster; True if `line` was one."""
        out = self.query_one("#output", WrapLog)
        try:
            argv = shlex.split(line)
        except ValueError:
            return False
        if not argv:
            return True
        word = argv[0]
        if word == "help":
            _write_line(out, HELP)
        elif word in ("quit", "exit"):
            await self.action_quit()
        elif word == "shutdown":
            await self._close_backend(shutdown=True)
            self.exit(0)
        elif word == "clear":
            out.clear()
        elif word == "view":
            if len(argv) != 2:
                _write_line(out, "! usage: view HOST")
            elif self.host_names and argv[1] not in self.host_names:
                _write_line(out, f"! unknown host {argv[1]!r}; hosts: {', '.join(self.host_names)}")
            else:
                self.view_host = argv[1]
                await self.poll()
                _write_line(out, f"screen of {self.view_host}")
        elif word in ("screen", "zoom"):
            view = self.query_one("#fb", ScreenView)
            modes = (
                {"on": "pixels", "off": "whole"} if word == "zoom" else {m: m for m in SCREEN_MODES}
            )
            if len(argv) > 2 or (len(argv) == 2 and argv[1] not in modes):
                _write_line(out, f"! usage: {word} [{'|'.join(modes)}]")
            else:
                view.set_mode(modes[argv[1]]) if len(argv) == 2 else view.next_mode()
                _write_line(out, f"screen of {self.view_host}: {view.mode}")
        else:
            return False
        return True

    # --- keys ----------------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        self.run_line("resume" if self.status.get("paused") else "pause")

    def action_slower(self) -> None:
        self.run_line(f"speed {max(1e-3, float(self.status.get('speed', 1.0)) / 2):g}")

    def action_faster(self) -> None:
        self.run_line(f"speed {min(1e6, float(self.status.get('speed', 1.0)) * 2):g}")

    def action_step(self) -> None:
        self.run_line("step")

    async def action_next_host(self) -> None:
        if self.host_names:
            i = self.host_names.index(self.view_host) if self.view_host in self.host_names else -1
            self.view_host = self.host_names[(i + 1) % len(self.host_names)]
            await self.poll()

    def action_next_screen_mode(self) -> None:
        self.query_one("#fb", ScreenView).next_mode()

    async def action_quit(self) -> None:
        await self._close_backend()
        self.exit(0)

    async def _close_backend(self, *, shutdown: bool = False) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        backend, self.backend = self.backend, None
        if backend is not None:
            with contextlib.suppress(Exception):
                await backend.close(shutdown=shutdown)

    async def on_unmount(self, event: events.Unmount) -> None:
        await self._close_backend()


def _write_line(panel: WrapLog, text: str) -> None:
    """Write a whole line, after ending a line a program left unfinished."""
    lines = panel.lines
    panel.write(("\n" if lines and lines[-1] else "") + text + "\n")


def _update(widget: Static, text: str) -> None:
    """Set a Static's text only when it changed (a repaint costs more than a comparison)."""
    if getattr(widget, "_vcluster_text", None) != text:
        widget._vcluster_text = text  # type: ignore[attr-defined]
        widget.update(text)


def _fill(table: DataTable[Any], rows: Sequence[tuple[str, ...]]) -> None:
    """Replace a table's rows (when they changed), keeping the cursor where it was."""
    if getattr(table, "_vcluster_rows", None) == rows:
        return
    table._vcluster_rows = rows  # type: ignore[attr-defined]
    cursor = table.cursor_coordinate
    table.clear()
    for row in rows:
        table.add_row(*row)
    if rows and cursor.row < len(rows):
        table.move_cursor(row=cursor.row, animate=False)


def run_console(opener: Opener) -> int:
    """Run the console in this terminal until the user quits; Python logging goes to its log panel."""
    buffer = LogBuffer()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [buffer]
    try:
        app = VConsole(opener, log_buffer=buffer)
        code = app.run()
    finally:
        root.handlers = saved
    if app.error:
        print(f"vcluster: {app.error}", file=sys.stderr)  # the terminal is ours again
        return 1
    return code if isinstance(code, int) else 0
