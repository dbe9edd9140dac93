"""Shared helpers for tests that boot clusters: sessions in-process and the CLI in a subprocess."""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from configs.loader import load_config, resolve_config
from configs.schema import ConfigError
from vcluster.session import Session
from vkernel import ops

ROOT = Path(__file__).resolve().parent.parent


def config(name: str = "tiny", **changes: Any):
    """A packaged config with top-level or dotted changes, e.g. {"network.loss_rate": 0.05}."""
    cfg = load_config(resolve_config(name))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{field: value})})
        else:
            cfg = dataclasses.replace(cfg, **{section: value})
    return cfg


def write_config(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    """A config file in tmp_path holding `text` (dedented)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def config_refused(tmp_path: Path, images: Path, text: str) -> ConfigError:
    """The ConfigError a config `text` is refused with; it names the file, line and field."""
    import pytest

    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, images_dir=images)
    err = info.value
    assert err.file == str(path)
    assert str(err) == f"{path}:{err.line}: {err.field}: {err.message}"
    return err


def build_c(where: Path, name: str, source: str) -> bytes:
    """A hosted guest image built from one C source (where/NAME.c -> where/NAME): its bytes."""
    from guest import hosted

    src = where / f"{name}.c"
    src.write_text(source)
    return hosted.build_program([src], where / name).read_bytes()


def run_session(lines: list[str], cfg=None, max_sim_seconds: float = 120.0) -> tuple[Session, dict[str, Any]]:
    session = Session(cfg or config())
    for line in lines:
        session.execute(line)
    assert session.run_until_done(max_sim_seconds), "programs still running at the limit"
    return session, session.summary()


def programs_by_name(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in summary["programs"]}


def vcluster(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def vcluster_json(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = vcluster("run", *args, "--json", timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr}"
    return proc, json.loads(lines[-1])


S = 1_000_000_000


def msg(*longs: int) -> bytes:
    """A 32-byte V message from up to eight longs."""
    return struct.pack(">8I", *[v & 0xFFFFFFFF for v in longs], *[0] * (8 - len(longs)))


def longs(m: bytes) -> tuple[int, ...]:
    return struct.unpack(">8I", m)


def run(session: Session, seconds: float) -> None:
    """Advance a session's clock by `seconds` of simulated time."""
    session.sim.run(until=session.sim.now + int(seconds * S))


def echo_server(session: Session, log: list, tag: int, delay_ns: int = 0):
    """A server written in Python: receives forever; replies (tag, request's long 0, long 1) after delay_ns."""

    def body(pid: int):
        while True:
            sender, m = yield ops.Receive()
            log.append((sender, longs(m)[0], session.sim.now))
            if delay_ns:
                yield ops.Delay(delay_ns)
            err = yield ops.Reply(sender, msg(tag, longs(m)[0], longs(m)[1]))
            assert err == 0

    return body
