"""Interface.withdraw: a queued frame taken back goes nowhere, and the rest go out exactly as if
it had never been queued; the frame being transmitted cannot be taken back."""

from __future__ import annotations

from netsim.ethernet import Segment
from netsim.scheduler import Simulator

TYPE = b"\x88\xb5"


def mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, i])


def run(frames: list[int], withdraw: list[int], after_ns: int = 0, busy: bool = False):
    """Station 0 queues tagged frames to station 1 (station 2 first starts a long frame when
    `busy`, so that they wait for its carrier); `withdraw` tags are taken back `after_ns` later."""
    sim = Simulator(1)
    seg = Segment(sim)
    a, b, c = (seg.attach(mac(i), f"s{i}") for i in range(3))
    got: list[tuple[int, int]] = []
    b.on_receive = lambda f: got.append((sim.now, f[14]))
    done: list[int] = []
    a.on_tx_done = lambda f, ok: done.append(f[14])
    if busy:
        c.send(mac(1) + c.mac + TYPE + bytes([99]) + bytes(1400))
    sim.run(until=5000)  # c's carrier is at a by now
    made = {t: mac(1) + a.mac + TYPE + bytes([t]) for t in {*frames, *withdraw}}
    for t in frames:
        a.send(made[t])
    taken: list[bool] = []
    sim.at(sim.now + after_ns, lambda: taken.extend(a.withdraw(made[t]) for t in withdraw))
    sim.run()
    return got, done, taken, a.counters.withdrawn, seg.counters.withdrawn, seg.counters.frames


def test_a_withdrawn_frame_is_as_if_never_queued():
    got, done, taken, mine, total, frames = run([1, 2, 3], [2], busy=True)
    ref_got, ref_done, _, _, _, ref_frames = run([1, 3], [], busy=True)
    assert taken == [True] and mine == total == 1
    assert (got, done, frames) == (ref_got, ref_done, ref_frames)
    assert [t for _, t in got if t != 99] == [1, 3]


def test_the_head_waiting_for_a_carrier_can_be_withdrawn_and_the_next_goes_instead():
    got, done, taken, *_ = run([1, 2], [1], busy=True)
    ref_got, ref_done, *_ = run([2], [], busy=True)
    assert taken == [True] and (got, done) == (ref_got, ref_done)


def test_the_frame_on_the_wire_cannot_be_withdrawn():
    got, done, taken, mine, total, _ = run([1, 2], [1, 5], after_ns=10_000)
    assert taken == [False, False] and mine == total == 0
    assert [t for _, t in got] == [1, 2] and done == [1, 2]
