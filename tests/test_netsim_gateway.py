"""Tests of netsim.gateway: what crosses, when it arrives (latency, bandwidth, queueing), learning,
the queue bound, crashes; and a property: every frame is delivered as on one wire, only later."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.ethernet import BROADCAST, Segment, wire_time_ns
from netsim.gateway import Gateway
from netsim.scheduler import Simulator

US = 1000
MS = 1_000_000
D = 2500  # a default segment's propagation delay: 500 m x 5 ns/m
TYPE = b"\x88\xb5"
GROUP = b"\x03\x56\x00\x00\x80\x01"


def mac(i: int) -> bytes:
    return bytes([8, 0, 0x20, 0, 0, i])


def frame(dst: bytes, src: bytes, size: int = 60, tag: int = 0) -> bytes:
    return dst + src + TYPE + tag.to_bytes(4, "big") + bytes(size - 18)


def tag_of(f: bytes) -> int:
    return int.from_bytes(f[14:18], "big")


class Net:
    """Segments lan0..lanN-1, stations on them, gateways between them (a chain by default)."""

    def __init__(
        self,
        n: int = 2,
        per: int = 2,
        latency_us: int = 1000,
        bandwidth_bps: int = 10_000_000,
        queue: int = 64,
        seed: int = 1,
    ) -> None:
        self.sim = Simulator(seed=seed)
        self.segs = [Segment(self.sim, name=f"lan{i}") for i in range(n)]
        self.got: dict[bytes, list[tuple[int, bytes]]] = {}
        self.st = {}
        for s in range(n):
            for j in range(per):
                m = mac(s * 16 + j + 1)
                iface = self.segs[s].attach(m, f"h{s}{j}")
                iface.join_group(GROUP)
                self.got[m] = []
                iface.on_receive = lambda f, m=m: self.got[m].append((self.sim.now, f))
                self.st[m] = iface
        self.gws = [
            Gateway(
                self.sim,
                f"gw{i}",
                [self.segs[i], self.segs[i + 1]],
                latency_ns=latency_us * US,
                bandwidth_bps=bandwidth_bps,
                queue_frames=queue,
                index=i,
            )
            for i in range(n - 1)
        ]

    def send(self, src: bytes, dst: bytes, tag: int = 0, size: int = 60) -> None:
        self.st[src].send(frame(dst, src, size, tag))


def test_unicast_crosses_after_latency_and_serialisation() -> None:
    net = Net(latency_us=1000, bandwidth_bps=1_000_000)
    a, b = mac(1), mac(17)  # lan0, lan1
    net.send(a, b, tag=7)
    net.sim.run()
    ((t, f),) = net.got[b]
    assert tag_of(f) == 7 and f[6:12] == a  # the source address is kept across
    wire = wire_time_ns(60) + D  # on lan0, to the gateway's port
    serial = 64 * 8 * 1000  # 64 bytes with the FCS at 1 Mb/s
    # then lan1's inter-frame gap has long passed: the port sends at once
    assert t == wire + serial + 1000 * US + wire
    gw = net.gws[0].stats()
    assert gw["forwarded"] == 1 and gw["flooded"] == 1  # b was not learned yet
    assert net.segs[0].counters.frames == 1 and net.segs[1].counters.frames == 1


def test_local_traffic_is_filtered_once_learned() -> None:
    net = Net()
    a, a2, b = mac(1), mac(2), mac(17)
    net.send(a2, BROADCAST)  # the gateway learns a2 is on lan0
    net.sim.run()
    crossed = net.segs[1].counters.frames
    net.send(a, a2)
    net.sim.run()
    assert net.segs[1].counters.frames == crossed  # a2 is local: nothing crossed
    assert net.gws[0].counters.filtered == 1
    assert [tag_of(f) for _, f in net.got[a2]] == [0]
    assert net.got[b][0][1][:6] == BROADCAST


def test_learning_sends_a_unicast_down_one_branch_only() -> None:
    """Three segments on one gateway: once c (lan2) has spoken, a's frames to it skip lan1."""
    sim = Simulator(seed=1)
    segs = [Segment(sim, name=f"lan{i}") for i in range(3)]
    a, b, c = (segs[i].attach(mac(16 * i + 1), f"h{i}") for i in range(3))
    got: list[bytes] = []
    c.on_receive = got.append
    gw = Gateway(sim, "gw", segs, latency_ns=100 * US, bandwidth_bps=10_000_000, queue_frames=8)
    c.send(frame(BROADCAST, c.mac))
    sim.run()
    assert [s.counters.frames for s in segs] == [1, 1, 1]  # a broadcast reaches every segment
    a.send(frame(c.mac, a.mac, tag=3))
    sim.run()
    assert [s.counters.frames for s in segs] == [2, 1, 2]
    assert tag_of(got[-1]) == 3 and gw.counters.flooded == 0
    del b


def test_chain_multicast_reaches_every_segment_in_latency_steps() -> None:
    net = Net(n=3, latency_us=500)
    src = mac(1)
    net.send(src, GROUP, tag=5)
    net.sim.run()
    firsts = [net.got[mac(16 * s + 1)][0][0] for s in (1, 2)]
    others = [m for m in net.got if m != src]
    assert all([tag_of(f) for _, f in net.got[m]] == [5] for m in others)
    assert firsts[1] - firsts[0] >= 500 * US  # the second gateway adds its latency
    assert net.got[src] == []  # a frame never comes back to its own segment


def test_queue_bound_drops_and_counts() -> None:
    """A 100 kb/s link holds 3 frames: of 8 sent back to back, the rest are dropped."""
    net = Net(bandwidth_bps=100_000, queue=3)
    a, b = mac(1), mac(17)
    for i in range(8):
        net.send(a, b, tag=i)
    net.sim.run()
    got = [tag_of(f) for _, f in net.got[b]]
    gw = net.gws[0]
    link = gw.stats()["links"]["lan0->lan1"]
    # on lan0 a frame takes 67.2 us + gap; the link takes 5.12 ms: the queue fills and stays full
    assert got == [0, 1, 2]
    assert gw.counters.dropped_queue == 5 and link["dropped_queue"] == 5 and link["max_queue"] == 3
    times = [t for t, _ in net.got[b]]
    assert all(t2 - t1 >= 64 * 8 * 10 * US for t1, t2 in zip(times, times[1:], strict=False))


def test_crash_drops_what_is_inside_and_forgets() -> None:
    net = Net(latency_us=1000)
    a, b = mac(1), mac(17)
    gw = net.gws[0]
    net.send(b, BROADCAST)
    net.sim.run()
    net.send(a, b, tag=1)  # b is known behind lan1 (its broadcast crossed): not flooded
    net.sim.run(until=net.sim.now + 300 * US)  # inside the gateway now
    gw.power_off()
    net.sim.run()
    assert [tag_of(f) for _, f in net.got[b]] == []
    assert gw.counters.dropped_down == 1
    net.send(a, b, tag=2)  # while it is down: nothing crosses
    net.sim.run()
    assert net.got[b] == [] and net.segs[1].counters.frames == 1
    gw.power_on()
    net.send(a, b, tag=3)
    net.sim.run()
    assert [tag_of(f) for _, f in net.got[b]] == [3]
    assert gw.counters.flooded == 1  # after the crash it had forgotten where b is


def test_a_gateway_needs_two_segments() -> None:
    sim = Simulator()
    with pytest.raises(ValueError):
        Gateway(sim, "gw", [Segment(sim)], latency_ns=1, bandwidth_bps=1, queue_frames=1)


def test_handover_is_the_only_coupling() -> None:
    """Replace handover: the frame, its delivery time and its source port are all it takes; the far
    side (here a second simulator's copy of the gateway) calls arrive() when its clock reads it."""
    near_sim, far_sim = Simulator(seed=1), Simulator(seed=1)
    lan0, lan1 = Segment(near_sim, name="lan0"), Segment(far_sim, name="lan1")
    near = Gateway(
        near_sim,
        "gw",
        [lan0, None],
        names=["lan0", "lan1"],
        latency_ns=200 * US,
        bandwidth_bps=10_000_000,
        queue_frames=4,
    )
    far = Gateway(
        far_sim,
        "gw",
        [None, lan1],
        names=["lan0", "lan1"],
        latency_ns=200 * US,
        bandwidth_bps=10_000_000,
        queue_frames=4,
    )
    carried = []
    near.handover = lambda b, at, f, a, epoch: carried.append((b, at, f, a, epoch))
    a = lan0.attach(mac(1), "a")
    b = lan1.attach(mac(17), "b")
    got = []
    b.on_receive = lambda f: got.append((far_sim.now, f))
    a.send(frame(b.mac, a.mac, tag=9))
    near_sim.run()
    ((port, at, f, src, epoch),) = carried
    assert port == 1 and src == 0 and at >= near_sim.now + 200 * US - wire_time_ns(60)
    far_sim.at(at, lambda: far.arrive(port, f, src, epoch))
    far_sim.run()
    assert [(t - at, tag_of(g)) for t, g in got] == [(wire_time_ns(60) + D, 9)]
    # the same run on one simulator delivers at the same instant
    one = Net(latency_us=200)
    one.send(mac(1), mac(17), tag=9)
    one.sim.run()
    assert one.got[mac(17)][0][0] == got[0][0]


@settings(max_examples=30, deadline=None)
@given(
    sends=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 6), st.integers(60, 600), st.integers(0, 3000)),
        min_size=1,
        max_size=25,
    ),
    latency_us=st.integers(1, 3000),
)
def test_every_frame_arrives_as_on_one_wire_only_later(sends, latency_us) -> None:
    """Against one wire with the same stations: each station receives the same frames (a gateway
    with room in its queues loses none), none earlier than on one wire plus a gateway's latency
    when it crossed, and no frame comes back to the segment it was sent on."""
    stations = [mac(1), mac(2), mac(3), mac(17), mac(18), mac(19)]
    targets = stations + [BROADCAST]
    net = Net(n=2, per=3, latency_us=latency_us, queue=1000)
    ref_sim = Simulator(seed=1)
    ref = Segment(ref_sim, name="one")
    ref_got: dict[bytes, list[int]] = {m: [] for m in stations}
    ref_st = {}
    for m in stations:
        ref_st[m] = ref.attach(m, m.hex())
        ref_st[m].on_receive = lambda f, m=m: ref_got[m].append(tag_of(f))
    tag = 0
    sent: dict[int, tuple[int, int]] = {}  # tag -> (time, segment of the sender)
    for src_i, dst_i, size, gap_us in sends:
        src, dst = stations[src_i], targets[dst_i]
        if dst == src:
            continue
        tag += 1
        at = net.sim.now + gap_us * US
        net.sim.run(until=at)
        ref_sim.run(until=at)
        net.send(src, dst, tag, size)
        ref_st[src].send(frame(dst, src, size, tag))
        sent[tag] = (at, src_i // 3)
    net.sim.run()
    ref_sim.run()
    for m in stations:
        assert sorted(tag_of(f) for _, f in net.got[m]) == sorted(ref_got[m])
        assert all(f[6:12] != m for _, f in net.got[m])
        here = stations.index(m) // 3
        for t, f in net.got[m]:
            when, there = sent[tag_of(f)]
            assert t - when >= wire_time_ns(60) + D + (latency_us * US if there != here else 0)
    assert net.gws[0].counters.dropped_queue == 0


def test_a_multicast_crosses_though_no_station_of_its_own_segment_listens() -> None:
    """The port hears every frame (promiscuous), multicasts of groups nobody near joined included:
    a program manager group whose only members are on the far segment still gets the query."""
    sim = Simulator(seed=1)
    lan0, lan1 = Segment(sim, name="lan0"), Segment(sim, name="lan1")
    a = lan0.attach(mac(1), "a")
    far = lan1.attach(mac(17), "far")
    far.join_group(GROUP)
    got = []
    far.on_receive = got.append
    Gateway(sim, "gw", [lan0, lan1], latency_ns=10 * US, bandwidth_bps=10_000_000, queue_frames=4)
    a.send(frame(GROUP, a.mac, tag=4))
    sim.run()
    assert [tag_of(f) for f in got] == [4]
