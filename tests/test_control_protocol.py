"""The control protocol as docs/CONTROL.md states it: keys a request does not take and wrong types are refused by name."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from helpers import ROOT, config

from vcluster.control import COMMANDS, PARAMETERS, Controller
from vcluster.realtime import Runner
from vcluster.session import Session


def answers(requests: list[dict]) -> list[dict]:
    session = Session(config("tiny"))

    async def body() -> list[dict]:
        runner = Runner(session, paused=True)
        controller = Controller(session, runner)
        replies = [await controller.handle_line(json.dumps(r)) for r in requests]
        await runner.close()
        return replies

    try:
        return asyncio.run(body())
    finally:
        session.close()


def test_an_unknown_key_is_refused_naming_it_and_the_request_is_not_done():
    speed, framebuffer, execute, status, ok = answers(
        [
            {"cmd": "speed", "x": 4},
            {"cmd": "framebuffer", "format": "png", "cols": 40},
            {"execute": "hello", "host": "ws2"},
            {"cmd": "status", "verbose": True, "id": 3},
            {"cmd": "speed", "factor": 4, "id": "a"},
        ]
    )
    assert speed["ok"] is False and speed["malformed"] is True
    assert "unknown key 'x' for 'speed'" in speed["error"] and "'factor'" in speed["error"]
    assert framebuffer["ok"] is False and "'cols'" in framebuffer["error"]
    assert execute["ok"] is False and "unknown key 'host' for 'execute'" in execute["error"]
    assert status["ok"] is False and status["id"] == 3 and "'verbose'" in status["error"]
    # nothing was started by the refused execute, and the speed asked for with a right key is set
    assert ok == {"ok": True, "speed": 4.0, "paused": True, "id": "a"}


@pytest.mark.parametrize(
    ("request_", "key"),
    [
        ({"cmd": "speed", "factor": [4]}, "factor"),
        ({"cmd": "wait", "seconds": "1"}, "seconds"),
        ({"cmd": "console", "since": 1.5}, "since"),
        ({"cmd": "events", "since": "0"}, "since"),
        ({"cmd": "output", "serial": True}, "serial"),
        ({"cmd": "framebuffer", "host": 3}, "host"),
        ({"cmd": "framebuffer", "format": "text", "zoom": "yes"}, "zoom"),
        ({"cmd": "framebuffer", "format": "text", "cols": "80"}, "cols"),
        ({"execute": ["hello"]}, "execute"),
        ({"cmd": 7}, "cmd"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_key(request_, key):
    (reply,) = answers([request_])
    assert reply["ok"] is False and reply.get("malformed") is True, reply
    assert f"'{key}'" in reply["error"], reply


def test_control_md_documents_every_request_and_parameter():
    doc = (ROOT / "docs" / "CONTROL.md").read_text()
    for cmd in COMMANDS:
        assert re.search(rf"^### `{cmd}`", doc, re.M), cmd
        for key in PARAMETERS[cmd]:
            assert f"`{key}`" in doc, (cmd, key)
    assert "### `execute`" in doc
    assert "docs/CONTROL.md" in Path(ROOT / "README.md").read_text()


def test_every_console_line_answers_through_the_protocol():
    lines = [
        "lines",
        "sleeper 5 @ ws2",
        "wait 0.5",
        "input lines one two",
        "eof lines",
        "hosts",
        "ps",
        "suspend sleeper",
        "resume sleeper",
        "migrateprog sleeper",
        "kill sleeper",
        "owner ws3 on",
        "owner ws3 off",
        "fault loss 0",
        "fault partition ws3",
        "fault heal",
        "crash ws3",
        "power ws3 on",
        "speed 2",
        "pause",
        "step 0.1",
        "resume",
        "kill 0x7777",
        "speed 0",
    ]
    replies = answers([{"execute": line} for line in lines])
    by_line = dict(zip(lines, replies, strict=True))
    for line, reply in by_line.items():
        if line in ("lines", "sleeper 5 @ ws2"):  # a program started: its output is the answer
            assert reply == {"ok": True, "message": None}, (line, reply)
        elif line in ("kill 0x7777", "speed 0"):
            assert reply["ok"] is False and reply["error"], (line, reply)
        else:
            assert reply["ok"] is True and reply["message"], (line, reply)
    assert by_line["input lines one two"]["message"] == "#1 lines: 8 bytes of input"
    assert by_line["eof lines"]["message"] == "#1 lines: end of input"
    assert by_line["wait 0.5"]["message"] == "at 0.500 s"
    assert by_line["kill sleeper"]["message"].startswith("killed sleeper (0x")
    assert by_line["kill 0x7777"]["error"].startswith("kill: no such program 0x7777")
