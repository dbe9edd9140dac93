"""Tests of the real-time runner: virtual time at a speed factor, paused, stepped, and `wait` that yields."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import config

from vcluster.realtime import Runner, parse_speed
from vcluster.session import LineError, Session

S = 1_000_000_000


def with_runner(body, **kwargs):
    """Run `body(runner)` (a coroutine function) on a fresh loop with a tiny cluster."""
    session = Session(config("tiny"))

    async def main():
        runner = Runner(session, **kwargs)
        runner.start()
        try:
            return await body(runner)
        finally:
            await runner.close()

    try:
        return asyncio.run(main())
    finally:
        session.close()


def test_time_runs_at_the_speed_asked() -> None:
    async def body(runner: Runner) -> float:
        start_sim, start = runner.sim.now, time.monotonic()
        await asyncio.sleep(0.5)
        return (runner.sim.now - start_sim) / S / (time.monotonic() - start)

    rate = with_runner(body, speed=10.0)
    assert 6.0 < rate < 11.0


def test_paused_time_stands_still_and_steps() -> None:
    async def body(runner: Runner) -> None:
        before = runner.sim.now
        await asyncio.sleep(0.2)
        assert runner.sim.now == before
        runner.session.execute("hello")
        events = runner.sim.events_run
        assert runner.step_events(5) == 5
        assert runner.sim.events_run == events + 5
        assert await runner.execute("step 0.5") == f"at {(before + S // 2) / S:.3f} s"
        assert runner.sim.now == before + S // 2
        runner.resume()
        t = runner.sim.now
        await asyncio.sleep(0.2)
        assert runner.sim.now > t
        runner.pause()
        t = runner.sim.now
        await asyncio.sleep(0.1)
        assert runner.sim.now == t

    with_runner(body, paused=True)


def test_wait_yields_to_the_loop_and_reports_progress() -> None:
    async def body(runner: Runner) -> None:
        await runner.execute("spin 300 @ ws2")
        seen: list[float] = []

        async def watch() -> None:
            while True:
                advancing = runner.status()["advancing"]
                if advancing:
                    seen.append(advancing[0]["fraction"])
                await asyncio.sleep(0.01)

        watcher = asyncio.get_running_loop().create_task(watch())
        start = runner.sim.now
        assert await runner.execute("wait 305") == f"at {(start + 305 * S) / S:.3f} s"
        watcher.cancel()
        assert runner.sim.now - start == 305 * S
        assert len(seen) >= 2 and seen == sorted(seen) and 0 < seen[-1] <= 1
        assert runner.status()["advancing"] == []
        assert all(j.done for j in runner.session.jobs)

    with_runner(body, paused=True)


def test_the_clocks_own_words() -> None:
    async def body(runner: Runner) -> None:
        assert await runner.execute("speed 3") == "running, speed x3 (simulated seconds per second)"
        assert runner.speed == 3
        assert (await runner.execute("pause")).startswith("paused at")
        assert runner.paused
        assert await runner.execute("speed") == "paused, speed x3 (simulated seconds per second)"
        await runner.execute("resume")
        assert not runner.paused
        with pytest.raises(LineError, match="not a factor"):
            await runner.execute("speed fast")
        with pytest.raises(LineError, match="above 0"):
            await runner.execute("speed 0")
        with pytest.raises(LineError, match="usage: resume PID"):
            await runner.execute("resume 1 2")  # resume with an argument is the Session's
        with pytest.raises(LineError, match="not negative"):
            await runner.execute("wait -1")
        with pytest.raises(LineError, match="not a number"):
            await runner.execute("wait soon")
        status = runner.status()
        assert status["config"] == "tiny" and status["speed"] == 3 and status["paused"] is False

    with_runner(body)


def test_parse_speed() -> None:
    assert parse_speed("2") == 2 and parse_speed("x4") == 4 and parse_speed("0.5x") == 0.5
    for bad in ("", "-1", "0", "nan", "fast", "1e9"):
        with pytest.raises(LineError):
            parse_speed(bad)
