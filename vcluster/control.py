"""The control socket: JSON lines on a private Unix socket, one request one reply; `vcluster serve` and its clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import logging
import math
import os
import re
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcluster import __version__, segments
from vcluster.realtime import Runner, parse_speed
from vcluster.session import LineError

if TYPE_CHECKING:
    from vcluster.session import Session
    from vkernel.kernel import Kernel
    from vkernel.shell import Job

log = logging.getLogger(__name__)

S = 1_000_000_000
MAX_LINE = 1 << 20  # a request line longer than this is malformed
MAX_DEPTH = 32  # nor is a request nested deeper than this (arrays and objects)
MAX_TEXT_ART = 1000  # columns or rows
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere

COMMANDS = (
    "status", "hosts", "programs", "output", "console", "framebuffer", "net", "events",
    "speed", "pause", "resume", "wait", "shutdown",
)
# the keys each request may have besides `cmd` and `id` (docs/CONTROL.md); any other is refused
PARAMETERS: dict[str, tuple[str, ...]] = {
    "execute": (),
    "status": (),
    "hosts": (),
    "programs": (),
    "output": ("pid", "serial"),
    "console": ("since",),
    "framebuffer": ("host", "format", "cols", "rows", "style", "zoom", "since_version", "path"),
    "net": (),
    "events": ("since",),
    "speed": ("factor",),
    "pause": (),
    "resume": (),
    "wait": ("seconds",),
    "shutdown": (),
}
TEXT_ONLY = ("cols", "rows", "style", "zoom", "since_version")  # framebuffer keys of format "text"


def _check_keys(req: dict[str, Any], what: str) -> None:
    """Refuse a request with a key its kind does not take, naming the key and the ones it takes."""
    allowed = {"cmd", "execute", "id", *PARAMETERS[what]}
    unknown = sorted(k for k in req if k not in allowed)
    if unknown:
        takes = ", ".join(repr(k) for k in PARAMETERS[what]) or "no parameters"
        keys = ", ".join(repr(k) for k in unknown)
        noun = "key" if len(unknown) == 1 else "keys"
        raise Malformed(f"unknown {noun} {keys} for {what!r} (it takes {takes}, and 'id')")


class ControlError(Exception):
    """The control socket cannot be set up or reached; the message says why."""


class Malformed(ValueError):
    """A request that is not what the protocol says (not JSON, not an object, unknown cmd, wrong types)."""


class Refused(ValueError):
    """A well-formed request that cannot be done (unknown host, no such program...)."""


# --- where sockets live --------------------------------------------------------------------
def runtime_dir() -> Path:
    """The user's private directory for sockets: $XDG_RUNTIME_DIR/vcluster, else a 0700 dir under /tmp."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
        path = Path(base) / "vcluster"
    else:
        path = Path(tempfile.gettempdir()) / f"vcluster-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise ControlError(f"cannot make the socket directory {path}: {exc}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise ControlError(f"{path} is not a directory of yours; set XDG_RUNTIME_DIR or use --socket")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def default_socket(name: str) -> Path:
    """Where `vcluster serve` of config `name` listens."""
    return runtime_dir() / f"{name}.sock"


def serving_sockets() -> list[Path]:
    """The sockets in the runtime directory (live or stale)."""
    try:
        directory = runtime_dir()
    except ControlError:
        return []
    return sorted(p for p in directory.glob("*.sock") if p.is_socket())


def resolve_socket(arg: str | None) -> Path:
    """The socket `vcluster attach [SOCKET]` means: a path, a config name, or the only one serving."""
    if arg:
        path = Path(arg)
        if os.sep not in arg and not path.exists():
            path = runtime_dir() / (arg if arg.endswith(".sock") else f"{arg}.sock")
        if not path.exists():
            raise ControlError(f"no socket at {path}")
        return path
    found = [p for p in serving_sockets() if _alive(p)]
    if not found:
        raise ControlError(f"nothing is serving in {runtime_dir()}; start a cluster with `vcluster serve`")
    if len(found) > 1:
        raise ControlError("several clusters are serving; say which: " + ", ".join(str(p) for p in found))
    return found[0]


def _alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


# --- the protocol --------------------------------------------------------------------------
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _depth(line: bytes | str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    depth = deepest = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _int(req: dict[str, Any], key: str, default: int | None = None, minimum: int = 0) -> int:
    value = req.get(key, default)
    if value is None:
        raise Malformed(f"{key!r} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{key!r} must be an integer")
    if value < minimum:
        raise Malformed(f"{key!r} must be at least {minimum}")
    return value


def _number(req: dict[str, Any], key: str) -> float:
    value = req.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{key!r} must be a number")
    return float(value)


def _str(req: dict[str, Any], key: str, default: str | None = None) -> str:
    value = req.get(key, default)
    if not isinstance(value, str):
        raise Malformed(f"{key!r} must be a string")
    return value


def _bool(req: dict[str, Any], key: str) -> bool:
    value = req.get(key, False)
    if not isinstance(value, bool):
        raise Malformed(f"{key!r} must be true or false")
    return value


class Controller:
    """Answers control requests (dicts) about one Session driven by a Runner.

    The console in-process and the socket server share it, so the console
    speaks the same protocol whichever way it is attached.
    """

    def __init__(self, session: Session, runner: Runner, *, socket_path: str | None = None) -> None:
        self.session = session
        self.runner = runner
        self.socket_path = socket_path
        self.requests = 0
        self.malformed = 0
        self.refused = 0
        self.clients = 0
        self.shutdown_requested = asyncio.Event()
        self.console: list[dict[str, Any]] = []  # program output and notes, in order
        self._serial_of: dict[int, int] = {}  # stdout instance -> job serial
        self._watched = 0  # jobs whose end is noted in `console`
        session.home.servers["display"].listeners.append(self._on_output)

    # --- the console stream --------------------------------------------------------------
    def _on_output(self, instance: int, sender: int, text: str) -> None:
        self._watch_jobs()
        self.console.append({"serial": self._serial_of.get(instance), "text": text})

    def _watch_jobs(self) -> None:
        jobs = self.session.jobs
        while self._watched < len(jobs):
            job = jobs[self._watched]
            self._watched += 1
            self._serial_of[job.stdout_instance] = job.serial
            if job.done:
                self._job_done(job)
            else:
                job.on_done.append(self._job_done)

    def _job_done(self, job: Job) -> None:
        self.console.append({"serial": job.serial, "note": True, "text": self.session.job_line(job) + "\n"})

    # --- requests ------------------------------------------------------------------------
    async def handle_line(self, line: bytes | str) -> dict[str, Any]:
        """One request line (JSON) -> one reply."""
        why = None
        if len(line) > MAX_LINE:
            why = f"longer than {MAX_LINE} bytes"
        elif _depth(line) > MAX_DEPTH:
            why = f"nested deeper than {MAX_DEPTH}"
        else:
            try:
                request = json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                why = f"not JSON: {exc}"
        if why is not None:
            self.requests += 1
            self.malformed += 1
            return {"ok": False, "error": f"malformed request: {why}", "malformed": True}
        return await self.handle(request)

    async def handle(self, request: Any) -> dict[str, Any]:
        """One request (a decoded JSON object) -> one reply; never raises."""
        self.requests += 1
        rid = request.get("id") if isinstance(request, dict) else None
        try:
            reply = await self._dispatch(request)
        except Malformed as exc:
            self.malformed += 1
            reply = {"ok": False, "error": f"malformed request: {exc}", "malformed": True}
        except (LineError, Refused) as exc:
            self.refused += 1
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not take the server down
            log.error("control request failed: %s: %s", type(exc).__name__, exc)
            log.debug("control request %.200r failed", request, exc_info=exc)
            reply = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
        if rid is not None:
            reply["id"] = rid
        return reply

    async def _dispatch(self, req: Any) -> dict[str, Any]:
        if not isinstance(req, dict):
            raise Malformed("a request is a JSON object")
        if "execute" in req:
            if "cmd" in req:
                raise Malformed("say either 'execute' or 'cmd', not both")
            _check_keys(req, "execute")
            line = _str(req, "execute")
            message = await self.runner.execute(line)
            self._watch_jobs()
            return {"ok": True, "message": message}
        if "cmd" not in req:
            raise Malformed("a request has 'execute' (a console line) or 'cmd'")
        cmd = _str(req, "cmd")
        handler = getattr(self, f"_cmd_{cmd}", None) if cmd in COMMANDS else None
        if handler is None:
            raise Malformed(f"unknown cmd {cmd!r}; cmds: {', '.join(COMMANDS)}")
        _check_keys(req, cmd)
        result = handler(req)
        if inspect.isawaitable(result):
            result = await result
        return {"ok": True, **result}

    def _kernel(self, name: str) -> Kernel:
        kernel = self.session.kernels.get(name)
        if kernel is None:
            raise Refused(f"unknown host {name!r}; hosts: {', '.join(self.session.kernels)}")
        return kernel

    def _cmd_status(self, req: dict[str, Any]) -> dict[str, Any]:
        self._watch_jobs()
        return {
            **self.runner.status(),
            "version": __version__,
            "requests": self.requests,
            "malformed": self.malformed,
            "refused": self.refused,
            "clients": self.clients,
            "socket": self.socket_path,
        }

    def _cmd_hosts(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"hosts": self.hosts(), "text": self.session.hosts_text(),
                "gateways": segments.gateway_rows(self.session)}

    def hosts(self) -> list[dict[str, Any]]:
        rows = []
        for k in self.session.kernels.values():
            free_kb = k.frames.free_count * 4
            state = self.session.host_state(k)
            lhs = sorted(lh.lhid for lh in k.lhs.values() if not lh.system)
            rows.append({
                "name": k.name,
                "role": k.machine.role,
                "state": state,
                "owner": bool(k.owner_present),
                "load": k.load(),
                "memory_kb": k.machine.config.memory // 1024,
                "free_kb": free_kb,
                "logical_hosts": lhs,
                "programs": sum(1 for p in k.processes.values() if p.team is not None),
                "segment": segments.segment_of(self.session, k.name),
            })
            if "file" in k.servers:  # requests, block cache and disk counters
                rows[-1]["file_server"] = k.servers["file"].report()
        return rows

    def _cmd_programs(self, req: dict[str, Any]) -> dict[str, Any]:
        self._watch_jobs()
        return {"processes": self.session.ps_rows(), "jobs": [self._job(j, output=True) for j in self.session.jobs]}

    def _job(self, job: Job, *, output: bool) -> dict[str, Any]:
        if job.error:
            state = "failed"
        elif job.done:
            state = "exited"
        elif job.pid:
            state = "running"
        else:
            state = "starting"
        d: dict[str, Any] = {
            "serial": job.serial,
            "pid": job.pid,
            "name": job.argv[0],
            "argv": list(job.argv),
            "host_requested": job.host,
            "host_started": job.host_started or None,
            "host_final": self.session.final_host(job),
            "state": state,
            "done": job.done,
            "exit_status": job.exit_status,
            "error": job.error,
            "end": self.session.end_text(job) if job.done else None,  # `exited 0`, `killed`, ...
            "hosts": self.session.hosts_of(job),  # where it started, then where each migration took it
        }
        if output:
            d["output"] = self.session.output_of(job)
        return d

    def _cmd_output(self, req: dict[str, Any]) -> dict[str, Any]:
        if ("pid" in req) == ("serial" in req):
            raise Malformed("say 'pid' or 'serial'")
        if "pid" in req:
            pid = _int(req, "pid")
            found = [j for j in self.session.jobs if j.pid == pid and pid]
            what = f"pid {pid:#x}"
        else:
            serial = _int(req, "serial", minimum=1)
            found = [j for j in self.session.jobs if j.serial == serial]
            what = f"program #{serial}"
        if not found:
            raise Refused(f"no program started from the console has {what}")
        return self._job(found[-1], output=True)

    def _cmd_console(self, req: dict[str, Any]) -> dict[str, Any]:
        since = _int(req, "since", 0)
        return {"pieces": self.console[since:], "next": len(self.console)}

    def _cmd_events(self, req: dict[str, Any]) -> dict[str, Any]:
        since = _int(req, "since", 0)
        events = self.session.events
        return {"events": events[since:], "next": len(events)}

    def _cmd_net(self, req: dict[str, Any]) -> dict[str, Any]:
        stats: dict[str, Any] = segments.net_stats(self.session)  # several segments: summed
        return {"net": {
            "frames": stats["frames"],
            "bytes": stats["bytes"],
            "collisions": stats["collisions"],
            "dropped": stats["dropped"],
            "drops": stats["drops"],
            "utilization": round(float(stats["utilization"]), 6),
            "utilization_1s": round(float(stats["utilization_1s"]), 6),
        }, "segments": segments.segments_summary(self.session),
            "gateways": segments.gateways_summary(self.session)}

    def _cmd_framebuffer(self, req: dict[str, Any]) -> dict[str, Any]:
        host = _str(req, "host", self.session.config.console_host)
        fmt = _str(req, "format", "png")
        if fmt not in ("png", "text"):
            raise Malformed("'format' is 'png' or 'text'")
        misplaced = [k for k in (TEXT_ONLY if fmt == "png" else ("path",)) if k in req]
        if misplaced:
            raise Malformed(f"{', '.join(repr(k) for k in misplaced)} not for format {fmt!r}")
        kernel = self._kernel(host)
        fb = kernel.machine.frame_buffer
        reply: dict[str, Any] = {"host": host, "width": fb.width, "height": fb.height, "version": fb.version}
        if fmt == "text":
            cols = _int(req, "cols", 80, minimum=1)
            rows = _int(req, "rows", 24, minimum=1)
            if cols > MAX_TEXT_ART or rows > MAX_TEXT_ART:
                raise Malformed(f"'cols' and 'rows' are at most {MAX_TEXT_ART}")
            style = _str(req, "style", "braille")
            if style not in ("braille", "half"):
                raise Malformed("'style' is 'braille' or 'half'")
            zoom = _bool(req, "zoom")
            if "since_version" in req and _int(req, "since_version") == fb.version:
                return {**reply, "unchanged": True}
            region = self._zoom_region(kernel, cols, rows, style) if zoom else None
            return {**reply, "lines": fb.to_text_art(cols, rows, style, region=region)}
        if "path" in req:
            path = Path(_str(req, "path")).expanduser().resolve()
            try:
                fb.save_png(path)
            except OSError as exc:
                raise Refused(f"cannot write {path}: {exc}") from None
            return {**reply, "path": str(path)}
        return {**reply, "png": base64.b64encode(fb.to_png()).decode("ascii")}

    @staticmethod
    def _zoom_region(kernel: Kernel, cols: int, rows: int, style: str) -> tuple[int, int, int, int]:
        """One pixel per dot, following the text console's cursor (so the newest text is in view)."""
        fb = kernel.machine.frame_buffer
        dx, dy = (2, 4) if style == "braille" else (1, 2)
        width, height = min(fb.width, cols * dx), min(fb.height, rows * dy)
        y = 0
        display = kernel.servers.get("display")
        text = getattr(display, "console", None)
        if text is not None:
            bottom = (text.cursor[1] + 1) * text.cell_height
            y = min(max(0, bottom - height), fb.height - height)
        return (0, y, width, height)

    def _cmd_speed(self, req: dict[str, Any]) -> dict[str, Any]:
        if "factor" in req:
            factor = req["factor"]
            if isinstance(factor, str):
                try:
                    self.runner.speed = parse_speed(factor)
                except LineError as exc:
                    raise Malformed(str(exc)) from None
            else:
                value = _number(req, "factor")
                if not math.isfinite(value) or not value > 0:
                    raise Malformed("'factor' must be a finite number above 0")
                try:
                    self.runner.speed = value
                except ValueError as exc:
                    raise Malformed(str(exc)) from None
        return {"speed": self.runner.speed, "paused": self.runner.paused}

    def _cmd_pause(self, req: dict[str, Any]) -> dict[str, Any]:
        self.runner.pause()
        return {"paused": True, "sim_seconds": round(self.session.sim.now / S, 9)}

    def _cmd_resume(self, req: dict[str, Any]) -> dict[str, Any]:
        self.runner.resume()
        return {"paused": False, "sim_seconds": round(self.session.sim.now / S, 9)}

    async def _cmd_wait(self, req: dict[str, Any]) -> dict[str, Any]:
        seconds = _number(req, "seconds")
        if not math.isfinite(seconds) or seconds < 0:
            raise Malformed("'seconds' must be a finite number, not negative")
        await self.runner.advance(seconds)
        return {"sim_seconds": round(self.session.sim.now / S, 9)}

    def _cmd_shutdown(self, req: dict[str, Any]) -> dict[str, Any]:
        self.shutdown_requested.set()
        return {"message": "shutting down"}


# --- the server ----------------------------------------------------------------------------
class _TooLong(Exception):
    """A request line longer than MAX_LINE (it has been read and dropped)."""


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next request line; None at the end. A line over the limit is dropped whole: _TooLong."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # the last line, without its newline
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    while True:  # drop everything up to and including the newline, however long it takes
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise _TooLong from None
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
            continue
        raise _TooLong


class ControlServer:
    """Serves a Controller on a Unix socket (mode 0600): JSON lines, one request one reply, many clients."""

    def __init__(self, controller: Controller, path: str | os.PathLike[str]) -> None:
        self.controller = controller
        self.path = Path(path)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        path = self.path
        if len(os.fsencode(path)) > SOCKET_PATH_MAX:
            raise ControlError(f"socket path too long for a Unix socket: {path}")
        if path.exists() or path.is_symlink():
            if not path.is_socket():
                raise ControlError(f"{path} exists and is not a socket")
            if _alive(path):
                raise ControlError(f"a cluster is already serving on {path}")
            path.unlink()  # stale: its server died
        old = os.umask(0o177)  # the socket is born 0600: no moment when others could connect
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.controller.socket_path = str(path)
        log.info("control socket at %s", path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        controller = self.controller
        controller.clients += 1
        self._writers.add(writer)
        try:
            while not controller.shutdown_requested.is_set():
                try:
                    line = await _read_line(reader)
                except _TooLong:
                    controller.requests += 1
                    controller.malformed += 1
                    reply: dict[str, Any] = {"ok": False, "malformed": True,
                                             "error": f"malformed request: longer than {MAX_LINE} bytes"}
                else:
                    if line is None:
                        break
                    if not line.strip():
                        continue
                    reply = await controller.handle_line(line)
                try:
                    data = json.dumps(reply, default=str).encode()
                except (ValueError, TypeError, RecursionError) as exc:  # never drop the connection
                    data = json.dumps({"ok": False, "error": f"internal error: {exc}"}).encode()
                writer.write(data + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            controller.clients -= 1
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# --- clients -------------------------------------------------------------------------------
class Client:
    """A blocking client: `request({...}) -> reply`, `execute(line) -> reply`."""

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = 60.0) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except OSError as exc:
            self.sock.close()
            raise ControlError(f"cannot connect to {self.path}: {exc}") from None
        self._file = self.sock.makefile("rb")

    def send_raw(self, data: bytes) -> dict[str, Any]:
        """Send one line as it is (a newline is added) and read the one reply."""
        self.sock.sendall(data.rstrip(b"\n") + b"\n")
        line = self._file.readline()
        if not line:
            raise ControlError("the server closed the connection")
        return json.loads(line)

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.send_raw(json.dumps(request).encode())

    def execute(self, line: str) -> dict[str, Any]:
        return self.request({"execute": line})

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """An asyncio client; requests on one connection are answered in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str | os.PathLike[str]) -> AsyncClient:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=64 * MAX_LINE)
        except OSError as exc:
            raise ControlError(f"cannot connect to {path}: {exc}") from None
        return cls(reader, writer)

    async def request(self, request: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            self.writer.write(json.dumps(request).encode() + b"\n")
            await self.writer.drain()
            line = await self.reader.readline()
        if not line:
            raise ControlError("the server closed the connection")
        return json.loads(line)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


# --- vcluster serve ------------------------------------------------------------------------
def boot_session(cfg: Any, say: Callable[[str], None] | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> Session:
    """Boot a config, saying what is happening (a large config takes a while); `progress` hears
    each machine come up."""
    from vcluster.session import Session

    if say:
        say(f"booting {cfg.name}: {len(cfg.machines)} machines, seed {cfg.seed}...")
    t0 = time.monotonic()
    session = Session(cfg, progress=progress)
    if say:
        say(f"booted {cfg.name} in {time.monotonic() - t0:.1f} s; console at {cfg.console_host}")
    return session


async def serve(
    session: Session,
    path: str | os.PathLike[str],
    *,
    speed: float = 1.0,
    paused: bool = False,
    ready: Callable[[Path], None] | None = None,
) -> None:
    """Serve `session` on `path` until a `shutdown` request (or SIGINT/SIGTERM)."""
    runner = Runner(session, speed=speed, paused=paused)
    controller = Controller(session, runner)
    server = ControlServer(controller, path)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, controller.shutdown_requested.set)
    runner.start()
    try:
        if ready is not None:
            ready(server.path)
        await controller.shutdown_requested.wait()
        await asyncio.sleep(0.05)  # let the shutdown reply go out
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.close()
        await server.close()


def serve_main(
    config: str | None,
    *,
    socket_path: str | None = None,
    seed: int | None = None,
    speed: float = 1.0,
    paused: bool = False,
) -> int:
    """`vcluster serve`: boot headless, print the socket's path, serve until shutdown."""
    from vcluster.session import load_or_report

    cfg = load_or_report(config, seed)
    if cfg is None:
        return 2
    try:
        path = Path(socket_path) if socket_path else default_socket(cfg.name)
        if path.exists() and _alive(path):
            raise ControlError(f"a cluster is already serving on {path}")
    except ControlError as exc:
        print(f"vcluster serve: {exc}", file=sys.stderr)
        return 1

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        session = boot_session(cfg, say)
    except Exception as exc:
        from vcluster.session import boot_error

        print(f"vcluster serve: cannot boot {cfg.name}: {boot_error(exc)}", file=sys.stderr)
        return 2

    def ready(p: Path) -> None:
        print(p, flush=True)

    try:
        asyncio.run(serve(session, path, speed=speed, paused=paused, ready=ready))
    except ControlError as exc:
        print(f"vcluster serve: {exc}", file=sys.stderr)
        return 1
    finally:
        session.close()
    return 0
