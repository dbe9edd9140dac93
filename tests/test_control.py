"""Tests of the control socket: vcluster serve, one request one reply, malformed requests, many clients."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, config
from PIL import Image

from vcluster.control import (
    Client,
    ControlError,
    Controller,
    ControlServer,
    default_socket,
    resolve_socket,
    runtime_dir,
    serve,
)
from vcluster.realtime import Runner
from vcluster.session import Session


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A short private directory (Unix socket paths are limited to about 100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="vc") as d:
        yield Path(d)


class Served:
    """A tiny cluster served in-process, on a thread with its own asyncio loop."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        self.path = path
        self.session = Session(config("tiny"))
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, kwargs=kwargs, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), f"server did not start: {self.error}"

    def _run(self, **kwargs: Any) -> None:
        try:
            asyncio.run(serve(self.session, self.path, ready=lambda p: self.ready.set(), **kwargs))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.ready.set()

    def stop(self) -> None:
        if self.thread.is_alive():
            with Client(self.path) as c:
                c.request({"cmd": "shutdown"})
            self.thread.join(10)
        assert not self.thread.is_alive()
        self.session.close()


@pytest.fixture
def served(sockdir: Path) -> Iterator[Served]:
    s = Served(sockdir / "tiny.sock")
    yield s
    s.stop()


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- the whole story through the real command -------------------------------------------------
def test_serve_run_a_program_read_its_output_and_shut_down(sockdir: Path) -> None:
    path = sockdir / "t.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcluster.cli", "serve", "tiny", "--socket", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        printed = proc.stdout.readline().strip()
        assert printed == str(path), proc.stderr.read() if proc.stderr else ""
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with Client(path) as c:
            assert c.execute("hello @ ws2") == {"ok": True, "message": None}
            reply = c.request({"cmd": "wait", "seconds": 1})
            assert reply["ok"] and reply["sim_seconds"] >= 1
            out = c.request({"cmd": "output", "serial": 1})
            assert out["ok"] and out["output"] == "Hello from the V-System!\n"
            assert out["state"] == "exited" and out["exit_status"] == 0 and out["host_started"] == "ws2"
            by_pid = c.request({"cmd": "output", "pid": out["pid"]})
            assert by_pid["output"] == out["output"]
            programs = c.request({"cmd": "programs"})
            assert [j["name"] for j in programs["jobs"]] == ["hello"]
            assert programs["jobs"][0]["output"] == "Hello from the V-System!\n"
            assert c.request({"cmd": "shutdown"})["ok"]
        assert proc.wait(10) == 0
        assert not path.exists()
        assert "booted tiny" in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmachines:\n  - name: ws1\n    memory: lots\n")
    proc = subprocess.run([sys.executable, "-m", "vcluster.cli", "serve", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert f"{bad}:4: machines[0].memory:" in proc.stderr
    assert proc.stdout == ""


# --- the protocol -------------------------------------------------------------------------
def test_socket_is_the_users_alone(served: Served) -> None:
    mode = os.stat(served.path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_runtime_dir_is_private(monkeypatch: pytest.MonkeyPatch, sockdir: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(sockdir))
    assert default_socket("lab") == sockdir / "vcluster" / "lab.sock"
    assert stat.S_IMODE(os.stat(sockdir / "vcluster").st_mode) == 0o700
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(sockdir))
    d = runtime_dir()
    assert d == sockdir / f"vcluster-{os.getuid()}"
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


def test_attach_finds_the_one_serving(monkeypatch: pytest.MonkeyPatch, sockdir: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(sockdir))
    with pytest.raises(ControlError, match="nothing is serving"):
        resolve_socket(None)
    s = Served(default_socket("tiny"))
    try:
        assert resolve_socket(None) == default_socket("tiny")
        assert resolve_socket("tiny") == default_socket("tiny")
        assert resolve_socket(str(s.path)) == s.path
    finally:
        s.stop()


MALFORMED: list[bytes] = [
    b"not json",
    b"{",
    b'{"cmd": "status"',
    b"[1, 2, 3]",
    b"42",
    b'"status"',
    b"null",
    b"true",
    b"{}",
    b'{"id": 1}',
    b'{"cmd": "nonsense"}',
    b'{"cmd": ""}',
    b'{"cmd": 3}',
    b'{"cmd": null}',
    b'{"cmd": ["status"]}',
    b'{"execute": 5}',
    b'{"execute": null}',
    b'{"execute": ["hello"]}',
    b'{"execute": "hello", "cmd": "status"}',
    b'{"cmd": "output"}',
    b'{"cmd": "output", "pid": "one"}',
    b'{"cmd": "output", "pid": 1, "serial": 1}',
    b'{"cmd": "output", "serial": 0}',
    b'{"cmd": "output", "serial": true}',
    b'{"cmd": "output", "serial": 1.5}',
    b'{"cmd": "events", "since": -1}',
    b'{"cmd": "events", "since": "0"}',
    b'{"cmd": "console", "since": {}}',
    b'{"cmd": "framebuffer", "host": 1}',
    b'{"cmd": "framebuffer", "format": "gif"}',
    b'{"cmd": "framebuffer", "format": "text", "cols": 0}',
    b'{"cmd": "framebuffer", "format": "text", "rows": 100000}',
    b'{"cmd": "framebuffer", "format": "text", "style": "ascii"}',
    b'{"cmd": "framebuffer", "format": "text", "zoom": "yes"}',
    b'{"cmd": "framebuffer", "path": 7}',
    b'{"cmd": "wait"}',
    b'{"cmd": "wait", "seconds": "1"}',
    b'{"cmd": "wait", "seconds": -1}',
    b'{"cmd": "speed", "factor": 0}',
    b'{"cmd": "speed", "factor": -2}',
    b'{"cmd": "speed", "factor": "fast"}',
    b'{"cmd": "speed", "factor": false}',
    b"\xff\xfe\x00garbage",
    b'{"cmd": "status"}}',
]


def test_100_malformed_requests_get_100_error_replies(served: Served) -> None:
    requests = [MALFORMED[i % len(MALFORMED)] for i in range(100)]
    with Client(served.path) as c:
        for raw in requests:
            reply = c.send_raw(raw)
            assert reply["ok"] is False, raw
            assert reply["malformed"] is True, raw
            assert reply["error"].startswith("malformed request"), raw
        status = c.request({"cmd": "status"})
        assert status["ok"] and status["malformed"] == 100
        assert c.execute("hello")["ok"]
    with Client(served.path) as fresh:  # and a new client is served too
        assert fresh.request({"cmd": "status"})["malformed"] == 100


def test_an_overlong_line_is_malformed_and_the_server_goes_on(served: Served) -> None:
    with Client(served.path) as c:
        reply = c.send_raw(b'{"execute": "' + b"x" * (2 << 20) + b'"}')
        assert reply["ok"] is False and reply["malformed"] is True
        assert c.request({"cmd": "status"})["ok"]


def test_a_bad_line_is_an_error_but_not_malformed(served: Served) -> None:
    with Client(served.path) as c:
        reply = c.execute("hello @ nowhere")
        assert reply["ok"] is False and "unknown host 'nowhere'" in reply["error"]
        assert "malformed" not in reply
        reply = c.request({"cmd": "framebuffer", "host": "nowhere"})
        assert reply["ok"] is False and "unknown host" in reply["error"]
        reply = c.request({"cmd": "output", "serial": 9})
        assert reply["ok"] is False and "no program" in reply["error"]
        assert c.request({"cmd": "status", "id": "x1"})["id"] == "x1"
        assert c.send_raw(b'{"cmd": "nope", "id": 7}')["id"] == 7
        status = c.request({"cmd": "status"})
        assert status["malformed"] == 1 and status["refused"] == 3


def test_every_console_line_is_a_request(served: Served) -> None:
    with Client(served.path) as c:
        hosts = c.execute("hosts")
        assert hosts["ok"] and hosts["message"].splitlines()[0].startswith("host")
        assert c.execute("sleeper 20 @ ws3")["ok"]
        wait_for(lambda: any(p["name"] == "sleeper" for p in c.request({"cmd": "programs"})["processes"]))
        wait_for(lambda: c.request({"cmd": "programs"})["jobs"][0]["pid"])  # the exec's reply is in
        ps = c.execute("ps ws3")
        assert "sleeper" in ps["message"]
        pid = c.request({"cmd": "programs"})["jobs"][0]["pid"]
        assert c.execute(f"kill {pid:#x}") == {"ok": True, "message": f"killed sleeper ({pid:#010x}) on ws3"}
        assert c.execute("owner ws2 on") == {"ok": True, "message": "ws2: owner present"}
        hosts = {h["name"]: h for h in c.request({"cmd": "hosts"})["hosts"]}
        assert hosts["ws2"]["owner"] is True and hosts["ws2"]["state"] == "owner"
        assert hosts["ws1"]["memory_kb"] == 2048
        assert c.execute("fault loss 0.0")["ok"]


def test_views(served: Served) -> None:
    with Client(served.path) as c:
        c.execute("hello @ ws2")
        c.request({"cmd": "wait", "seconds": 0.5})
        net = c.request({"cmd": "net"})["net"]
        assert net["frames"] > 0 and net["bytes"] > 0
        assert set(net) >= {"frames", "bytes", "collisions", "dropped", "utilization", "utilization_1s", "drops"}
        console = c.request({"cmd": "console", "since": 0})
        texts = [p["text"] for p in console["pieces"]]
        assert texts[0] == "Hello from the V-System!\n"
        assert texts[1].startswith("[1] hello on ws2: exited 0")
        assert c.request({"cmd": "console", "since": console["next"]})["pieces"] == []
        status = c.request({"cmd": "status"})
        assert status["config"] == "tiny" and status["jobs_total"] == 1 and status["jobs_running"] == 0
        assert status["machines"] == 4 and status["socket"] == str(served.path)


def test_events_are_the_sessions_log(served: Served) -> None:
    with Client(served.path) as c:
        assert c.execute("crash ws3")["ok"]
        events = c.request({"cmd": "events", "since": 0})
        assert [e["text"] for e in events["events"]] == ["ws3 crashed"]
        assert events["events"][0]["kind"] == "crash"
        assert c.request({"cmd": "events", "since": events["next"]})["events"] == []
        hosts = {h["name"]: h for h in c.request({"cmd": "hosts"})["hosts"]}
        assert hosts["ws3"]["state"] == "down"


def test_framebuffer_png_path_and_text(served: Served, sockdir: Path) -> None:
    with Client(served.path) as c:
        c.execute("hello")
        c.request({"cmd": "wait", "seconds": 0.5})
        reply = c.request({"cmd": "framebuffer", "host": "ws1"})
        assert reply["ok"] and (reply["width"], reply["height"]) == (1152, 900)
        img = Image.open(io.BytesIO(base64.b64decode(reply["png"])))
        assert img.size == (1152, 900)
        ink = img.convert("L").point(lambda v: 255 - v).getbbox()
        assert ink is not None and ink[3] <= 12  # text on the first text row only
        target = sockdir / "ws1.png"
        reply = c.request({"cmd": "framebuffer", "host": "ws1", "path": str(target)})
        assert reply["path"] == str(target) and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        text = c.request({"cmd": "framebuffer", "host": "ws1", "format": "text", "cols": 40, "rows": 10,
                          "zoom": True})
        assert len(text["lines"]) == 10 and any(ch != "\u2800" for ch in text["lines"][0])
        same = c.request({"cmd": "framebuffer", "host": "ws1", "format": "text", "cols": 40, "rows": 10,
                          "since_version": text["version"]})
        assert same["unchanged"] is True and "lines" not in same
        blank = c.request({"cmd": "framebuffer", "host": "ws2", "format": "text", "cols": 20, "rows": 5})
        assert all(set(line) == {"\u2800"} for line in blank["lines"])


def test_speed_pause_resume_wait(served: Served) -> None:
    with Client(served.path) as c:
        assert c.request({"cmd": "pause"})["paused"] is True
        t0 = c.request({"cmd": "status"})["sim_seconds"]
        time.sleep(0.2)
        assert c.request({"cmd": "status"})["sim_seconds"] == t0
        reply = c.request({"cmd": "wait", "seconds": 2.5})
        assert reply["sim_seconds"] == pytest.approx(t0 + 2.5)
        assert c.request({"cmd": "speed", "factor": 50})["speed"] == 50
        assert c.request({"cmd": "speed", "factor": "x4"})["speed"] == 4
        assert c.request({"cmd": "speed"})["speed"] == 4
        assert c.request({"cmd": "resume"})["paused"] is False
        wait_for(lambda: c.request({"cmd": "status"})["sim_seconds"] > t0 + 3)
        assert c.execute("pause")["message"].startswith("paused")
        assert c.request({"cmd": "status"})["paused"] is True
        assert "speed x2" in c.execute("speed 2")["message"]
        assert c.execute("resume")["ok"] and not c.request({"cmd": "status"})["paused"]


def test_two_clients_at_once(served: Served) -> None:
    """One client waits through 605 busy simulated seconds; the other is answered meanwhile."""
    with Client(served.path) as a, Client(served.path) as b:
        assert a.execute("spin 600 @ ws2")["ok"]
        result: dict[str, Any] = {}

        def waiter() -> None:
            result["reply"] = a.request({"cmd": "wait", "seconds": 605})

        t = threading.Thread(target=waiter)
        t.start()
        seen_waiting = False
        answered = 0
        while t.is_alive():
            status = b.request({"cmd": "status"})
            assert status["ok"]
            answered += 1
            seen_waiting = seen_waiting or bool(status["advancing"])
        t.join()
        assert result["reply"]["ok"]
        assert seen_waiting and answered > 1
        assert b.request({"cmd": "status"})["clients"] == 2
        out = b.request({"cmd": "output", "serial": 1})
        assert out["output"].startswith("spin: 60000000 iterations")


def test_a_stale_socket_is_replaced_and_a_live_one_refused(sockdir: Path) -> None:
    path = sockdir / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a server that died
    s = Served(path)
    try:
        with Client(path) as c:
            assert c.request({"cmd": "status"})["ok"]
        session = Session(config("tiny"))
        controller = Controller(session, Runner(session))
        with pytest.raises(ControlError, match="already serving"):
            asyncio.run(ControlServer(controller, path).start())
        session.close()
    finally:
        s.stop()


def test_replies_are_json_lines(served: Served) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(served.path))
        raw.sendall(b'{"cmd": "status"}\n{"cmd": "net"}\n\n{"execute": "hosts"}\n')
        data = b""
        while data.count(b"\n") < 3:
            data += raw.recv(65536)
        replies = [json.loads(line) for line in data.splitlines()]
        assert [r["ok"] for r in replies] == [True, True, True]
        assert "config" in replies[0] and "net" in replies[1] and "message" in replies[2]
