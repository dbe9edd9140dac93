"""Virtual time in wall-clock time: a Session's clock advanced continuously at a speed factor, pausable."""

from __future__ import annotations

import asyncio
import logging
import math
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vcluster.session import LineError, parse_seconds

if TYPE_CHECKING:
    from vcluster.session import Session

log = logging.getLogger(__name__)

S = 1_000_000_000
MIN_CHUNK_NS = 100_000  # 0.1 ms of simulated time
MAX_CHUNK_NS = S  # one chunk never runs more than a simulated second
DEFAULT_STEP_S = 0.1
MIN_SPEED = 1e-3  # the speed factor's range: 0.001 (a simulated ms per wall second) .. 1e6
MAX_SPEED = 1e6


def _speed_ok(factor: float) -> bool:
    return math.isfinite(factor) and MIN_SPEED <= factor <= MAX_SPEED


@dataclass
class Advance:
    """A `wait` in progress: the clock runs as fast as it can from `start_ns` to `target_ns`."""

    start_ns: int
    target_ns: int

    def as_dict(self, now_ns: int) -> dict[str, float]:
        span = max(1, self.target_ns - self.start_ns)
        return {
            "from": self.start_ns / S,
            "to": self.target_ns / S,
            "fraction": round(min(1.0, max(0.0, (now_ns - self.start_ns) / span)), 4),
        }


def parse_speed(text: str) -> float:
    """A speed factor from a console word: `2`, `0.5`, `x4`, `4x`."""
    word = text.strip().lower().removeprefix("x").removesuffix("x")
    try:
        factor = float(word)
    except ValueError:
        raise LineError(f"speed: not a factor: {text!r}") from None
    if not _speed_ok(factor):
        raise LineError(f"speed: the factor is above 0: from {MIN_SPEED:g} to {MAX_SPEED:g}")
    return factor


class Runner:
    """Runs a Session's simulation on the current asyncio loop, `speed` simulated seconds per wall second.

    Everything that touches the Session (the clock, console lines, views) runs
    on that one loop, between chunks: a chunk is one `sim.run(until=...)` whose
    simulated length adapts so that it takes about `chunk_budget_s` of wall
    time, so a control server and a console on the same loop stay responsive.
    When the emulation cannot keep up with the speed asked for, the backlog is
    dropped (at most `max_behind_s` of wall time is made up) and `status()`
    reports the speed actually achieved.
    """

    def __init__(
        self,
        session: Session,
        *,
        speed: float = 1.0,
        paused: bool = False,
        chunk_budget_s: float = 0.01,
        tick_s: float = 0.02,
        max_behind_s: float = 0.25,
    ) -> None:
        if not _speed_ok(speed):
            raise ValueError(f"speed must be from {MIN_SPEED:g} to {MAX_SPEED:g}")
        self.session = session
        self.sim = session.sim
        self._speed = speed
        self._paused = paused
        self.chunk_budget_s = chunk_budget_s
        self.tick_s = tick_s
        self.max_behind_s = max_behind_s
        self._chunk_ns = 10_000_000
        self._anchor_wall = time.monotonic()
        self._anchor_sim = self.sim.now
        self._advances: list[Advance] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.error: str | None = None
        # achieved speed, measured over the last second or so of running
        self._rate_wall = time.monotonic()
        self._rate_sim = self.sim.now
        self.achieved_speed = 0.0

    # --- control -------------------------------------------------------------------------
    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, factor: float) -> None:
        if not _speed_ok(factor):
            raise ValueError(f"speed must be from {MIN_SPEED:g} to {MAX_SPEED:g}")
        self._speed = factor
        self._reanchor()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._reanchor()

    @property
    def busy(self) -> bool:
        """Whether a `wait` (an advance as fast as possible) is in progress."""
        return bool(self._advances)

    def _reanchor(self) -> None:
        self._anchor_wall = self._rate_wall = time.monotonic()
        self._anchor_sim = self._rate_sim = self.sim.now

    # --- running -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the clock: a task on the running loop."""
        if self._task is None:
            self._reanchor()
            self._task = asyncio.get_running_loop().create_task(self._clock(), name="vcluster-clock")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def _chunk(self, until_ns: int) -> None:
        """Run the simulation to at most `until_ns`, one adaptive chunk; the chunk size learns from wall time."""
        sim = self.sim
        end = min(until_ns, sim.now + self._chunk_ns)
        if end <= sim.now:
            return
        t0 = time.perf_counter()
        sim.run(until=end)
        dt = time.perf_counter() - t0
        if dt < self.chunk_budget_s / 4:
            self._chunk_ns = min(MAX_CHUNK_NS, self._chunk_ns * 2)
        elif dt > self.chunk_budget_s:
            self._chunk_ns = max(MIN_CHUNK_NS, self._chunk_ns // 2)

    def _fail(self, exc: BaseException) -> None:
        log.error("the simulation raised %s: %s; the clock is paused", type(exc).__name__, exc)
        log.debug("the simulation raised", exc_info=exc)
        self.error = f"{type(exc).__name__}: {exc}"
        self._paused = True

    async def _clock(self) -> None:
        while not self._closed:
            if self._paused or self._advances or self.error:
                await asyncio.sleep(self.tick_s)
                continue
            target = self._target_now()
            deadline = time.perf_counter() + 2 * self.chunk_budget_s
            try:
                while self.sim.now < target and time.perf_counter() < deadline:
                    self._chunk(target)
            except Exception as exc:  # a bug in the simulation must not kill the front
                self._fail(exc)
                continue
            behind = self.sim.now < target
            if behind and target - self.sim.now > self.max_behind_s * self._speed * S:
                # cannot keep up: drop the backlog rather than run flat out forever
                self._anchor_wall = time.monotonic() - self.max_behind_s
                self._anchor_sim = self.sim.now
            self._measure()
            # behind: only let the loop breathe; caught up: sleep until there is time to run
            await asyncio.sleep(0 if behind else self.tick_s)

    def _target_now(self) -> int:
        return self._anchor_sim + int((time.monotonic() - self._anchor_wall) * self._speed * S)

    def _measure(self) -> None:
        wall = time.monotonic()
        if wall - self._rate_wall >= 1.0:
            self.achieved_speed = (self.sim.now - self._rate_sim) / S / (wall - self._rate_wall)
            self._rate_wall = wall
            self._rate_sim = self.sim.now

    async def advance(self, seconds: float) -> None:
        """Run `seconds` of simulated time as fast as possible (pausing or not), yielding between chunks."""
        seconds = parse_seconds(seconds)
        adv = Advance(self.sim.now, self.session.wait_target(seconds))
        self._advances.append(adv)
        try:
            while self.sim.now < adv.target_ns:
                if self.error:
                    raise LineError(f"the simulation stopped: {self.error}")
                try:
                    self._chunk(adv.target_ns)
                except Exception as exc:
                    self._fail(exc)
                    raise LineError(f"the simulation stopped: {self.error}") from None
                await asyncio.sleep(0)
        finally:
            self._advances.remove(adv)
            self._reanchor()

    def step_events(self, count: int = 1) -> int:
        """Run the next `count` events (for a paused clock); returns how many ran."""
        ran = 0
        while ran < count and self.sim.step():
            ran += 1
        self._reanchor()
        return ran

    # --- console lines --------------------------------------------------------------------
    async def execute(self, line: str) -> str | None:
        """A console line, with the clock's own words: `wait S` (without blocking the loop),
        `speed [X]`, `pause`, `resume` (alone; `resume PID` resumes a program), `step [S]`."""
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise LineError(f"{line!r}: {exc}") from None
        if argv and argv[0] == "wait" and len(argv) == 2:
            await self.advance(parse_seconds(argv[1]))
            return f"at {self.sim.now / S:.3f} s"
        if argv and argv[0] == "speed":
            if len(argv) == 1:
                return self.speed_text()
            if len(argv) != 2:
                raise LineError("usage: speed FACTOR   (simulated seconds per wall-clock second)")
            self.speed = parse_speed(argv[1])
            return self.speed_text()
        if argv == ["pause"]:
            self.pause()
            return f"paused at {self.sim.now / S:.3f} s"
        if argv == ["resume"]:
            self.resume()
            return self.speed_text()
        if argv and argv[0] == "step":
            if len(argv) > 2:
                raise LineError("usage: step [SECONDS]")
            seconds = DEFAULT_STEP_S
            if len(argv) == 2:
                seconds = parse_seconds(argv[1], "step")
            await self.advance(seconds)
            return f"at {self.sim.now / S:.3f} s"
        message = self.session.execute(line)
        if self.sim.now > self._target_now():
            self._reanchor()  # the line ran the clock itself (migrateprog, kill...): go on from there
        return message

    def speed_text(self) -> str:
        state = "paused" if self._paused else "running"
        return f"{state}, speed x{self._speed:g} (simulated seconds per second)"

    # --- views ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        session = self.session
        jobs = session.jobs
        now = self.sim.now
        return {
            "config": session.config.name,
            "console_host": session.config.console_host,
            "machines": len(session.kernels),
            "sim_seconds": round(now / S, 9),
            "speed": self._speed,
            "achieved_speed": round(self.achieved_speed, 3),
            "paused": self._paused,
            "advancing": [a.as_dict(now) for a in self._advances],
            "jobs_running": sum(1 for j in jobs if not j.done),
            "jobs_total": len(jobs),
            "events": len(session.events),
            "error": self.error,
        }
