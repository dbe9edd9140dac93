"""Segment's indexed delivery (group -> members, per-set carrier records, the deferring set)
against a brute-force reference that scans every station for every frame, as the segment did.

Random stations join and leave groups, turn promiscuous, lose power, get partitioned and
send unicast, multicast and broadcast frames over a lossy, corrupting wire; both segments
(same seed, same script) must deliver the same frames to the same stations at the same
times, draw the same random numbers and end with the same counters.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.ethernet import _DEFER, _WAIT, BROADCAST, Interface, Segment
from netsim.scheduler import Simulator

US = 1000
TYPE = b"\x88\xb5"
GROUPS = [bytes([0x03, 0, 0, 0, 0, g]) for g in range(3)]


class BruteSegment(Segment):
    """The reference: every frame visits every station through its own filter (accepts),
    every carrier's end is written into every station, every station is asked if it defers."""

    def __init__(self, sim: Simulator, **kw) -> None:
        super().__init__(sim, **kw)
        self._ref_heard: dict[object, int] = {}

    def _heard_until(self, st) -> int:
        return self._ref_heard.get(st, -(10**18))

    def _fix_heard(self) -> None:
        pass

    def _gone(self, tx) -> None:
        now = self.sim.now
        self._active.remove(tx)
        src = tx.src
        for s in self.stations:
            if s is not src and s._part == src._part:
                self._ref_heard[s] = now
        if not (tx.collided or tx.aborted):
            self._deliver(tx, now)
        self._release_deferred(now)

    def _release_deferred(self, now: int) -> None:
        ifg = self.ifg_ns
        for s in self.stations:
            if s._state == _DEFER and (not self._active or self._sensed(s, now) is None):
                self._deferring.discard(s)
                s._state = _WAIT
                ready = max(s._own_end + ifg, self._heard_until(s) + ifg, now)
                s._timer = self.sim.at(ready, s._commit_cb)

    def _deliver(self, tx, now: int) -> None:
        frame = tx.frame
        for tap in self._taps:
            tap(now, frame)
        c = self.counters
        src = tx.src
        rng = self.rng
        if self.corrupt_rate and rng.random() < self.corrupt_rate:
            c.dropped_corrupt += 1
            src.counters.tx_corrupted += 1
            return
        dst = frame[:6]
        nbytes = len(frame) + 4
        if dst[0] & 1:
            targets = [s for s in self.stations if s is not src and s.accepts(dst)]
        else:  # the addressee first, then the promiscuous stations
            s = self._by_mac.get(dst)
            targets = [s] if s is not None and s is not src else []
            targets += [p for p in self.stations if p.promiscuous and p is not src and p is not s]
        for s in targets:
            sc = s.counters
            if s._part != src._part:
                sc.dropped_partition += 1
                c.dropped_partition += 1
            elif not s.powered:
                sc.rx_dropped_power += 1
                c.dropped_power += 1
            elif self.loss_rate and rng.random() < self.loss_rate:
                sc.dropped_loss += 1
                c.dropped_loss += 1
            else:
                sc.frames_received += 1
                sc.bytes_received += nbytes
                c.delivered += 1
                if s.on_receive is not None:
                    s.on_receive(frame)


def mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, i])


step = st.one_of(
    st.tuples(st.just("join"), st.integers(0, 7), st.integers(0, 2)),
    st.tuples(st.just("leave"), st.integers(0, 7), st.integers(0, 2)),
    st.tuples(st.just("clear"), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("promisc"), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("power"), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("partition"), st.integers(0, 255), st.just(0)),
    st.tuples(st.just("heal"), st.just(0), st.just(0)),
    st.tuples(st.just("uni"), st.integers(0, 7), st.integers(0, 8)),
    st.tuples(st.just("multi"), st.integers(0, 7), st.integers(0, 2)),
    st.tuples(st.just("bcast"), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("wait"), st.integers(0, 400), st.just(0)),
)


def replay(cls, stations: int, seed: int, loss: float, corrupt: float, script) -> tuple:
    sim = Simulator(seed)
    seg = cls(sim, loss_rate=loss, corrupt_rate=corrupt)
    got: list[tuple[int, str, bytes]] = []
    done: list[tuple[int, str, bool]] = []
    ifaces = []
    for i in range(stations):
        iface = seg.attach(mac(i), f"s{i}")
        iface.on_receive = lambda f, n=iface.name: got.append((sim.now, n, f))
        iface.on_tx_done = lambda f, ok, n=iface.name: done.append((sim.now, n, ok))
        ifaces.append(iface)
    taps: list[tuple[int, bytes]] = []
    seg.add_tap(lambda t, f: taps.append((t, f)))
    tag = 0
    heard: list[list[int]] = []  # what every station heard last, after every step
    for op, a, b in script:
        heard.append([seg._heard_until(f) for f in ifaces])
        s = ifaces[a % stations]
        if op == "join":
            s.join_group(GROUPS[b])
        elif op == "leave":
            s.leave_group(GROUPS[b])
        elif op == "clear":
            s.clear_groups()
        elif op == "promisc":
            s.promiscuous = b
        elif op == "power":
            s.power_on() if b else s.power_off()
        elif op == "partition":
            seg.partition([f for i, f in enumerate(ifaces) if a >> i & 1])
        elif op == "heal":
            seg.heal()
        elif op == "wait":
            sim.run(until=sim.now + a * US)
        else:
            dst = mac(b) if op == "uni" else GROUPS[b] if op == "multi" else BROADCAST
            tag += 1
            s.send(dst + s.mac + TYPE + tag.to_bytes(4, "big"))
    sim.run(until=sim.now + 200_000 * US)
    stats = seg.stats()
    heard.append([seg._heard_until(f) for f in ifaces])
    return got, done, taps, heard, stats, seg.rng.random(), sim.rng.random(), sim.events_run


@settings(max_examples=120, deadline=None)
@given(
    stations=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    loss=st.sampled_from([0.0, 0.0, 0.2]),
    corrupt=st.sampled_from([0.0, 0.0, 0.1]),
    script=st.lists(step, max_size=60),
)
def test_indexed_delivery_equals_the_brute_force_scan(stations, seed, loss, corrupt, script):
    fast = replay(Segment, stations, seed, loss, corrupt, script)
    ref = replay(BruteSegment, stations, seed, loss, corrupt, script)
    assert fast == ref


def test_members_follow_joins_leaves_and_promiscuous_stations_in_attach_order():
    seg = Segment(Simulator(0))
    a, b, c = (seg.attach(mac(i), f"s{i}") for i in range(3))
    c.join_group(GROUPS[0])
    a.join_group(GROUPS[0])
    a.join_group(GROUPS[0])  # twice: one membership
    assert seg.members(GROUPS[0]) == [a, c]
    b.promiscuous = True
    assert seg.members(GROUPS[0]) == [a, b, c] and seg.members(GROUPS[1]) == [b]
    a.leave_group(GROUPS[0])
    c.clear_groups()
    b.promiscuous = False
    assert seg.members(GROUPS[0]) == [] and not c.groups


def test_a_multicast_frame_never_visits_stations_outside_its_group(monkeypatch):
    sim = Simulator(0)
    seg = Segment(sim)
    ifaces = [seg.attach(mac(i), f"s{i}") for i in range(200)]
    visited: list[str] = []
    accepts = Interface.accepts

    def spy(self, dst):  # what a scan of the stations would ask each one
        visited.append(self.name)
        return accepts(self, dst)

    heard = []
    ifaces[7].join_group(GROUPS[1])
    ifaces[7].on_receive = heard.append
    monkeypatch.setattr(Interface, "accepts", spy)
    ifaces[0].send(GROUPS[1] + ifaces[0].mac + TYPE)
    sim.run()
    assert len(heard) == 1 and visited == []
    assert seg.counters.delivered == 1 and ifaces[7].counters.frames_received == 1
