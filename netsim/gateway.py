"""A gateway: a store-and-forward bridge joining Ethernet segments, with latency, bandwidth and a bounded queue.

The interface, kept small (a runner that spreads segments over processes builds on it):

* ``Gateway(sim, name, segments, latency_ns=, bandwidth_bps=, queue_frames=)`` puts one port (a
  promiscuous station) on each segment; ``segments[i]`` is port ``i``.  A segment may be None: that
  side of the gateway lives elsewhere (another process), and ``handover`` carries its frames there.
* A frame ENTERS the gateway at port ``a`` when segment ``a`` delivers it to the port (its last bit
  arrives, time ``t``; loss on the wire applies to the port as to any station).
* Where it goes: broadcast and multicast frames to every other port; a unicast frame nowhere if its
  destination is known on ``a``'s own segment (it was the source of a frame port ``a`` received),
  to port ``p`` alone if it is known behind ``p`` (the source of a frame handed over to ``a`` from
  ``p``), else to every other port, as a learning bridge floods.  The interkernel protocol keeps
  its addresses across the gateway, so a kernel's binding of a logical host to a station holds on
  every segment, and the gateways learn the stations from the frames they see, the binding
  broadcasts of migrated logical hosts among them.  Each port learns only from what reaches it.
* Each direction ``a -> b`` is a link of its own: a FIFO of at most ``queue_frames`` frames drained
  at ``bandwidth_bps`` (frame and FCS, ``(len + 4) * 8`` bits).  A frame that finds it full is
  dropped and counted (``dropped_queue``).  Otherwise it leaves the gateway on side ``b`` at
  ``deliver = t + queueing + serialisation + latency_ns`` (always ``>= t + latency_ns``: the
  lookahead), when ``handover(b, deliver, frame, a, epoch)`` has it ``arrive``: the port on ``b``
  queues it for its segment (CSMA/CD there, a transmit queue of ``queue_frames``; a frame that
  finds that queue full is counted by segment ``b``, ``dropped_overflow``).
* The only coupling between the segments is that timed hand-over.  By default it is an event on
  ``sim``; replace ``handover`` to carry ``(b, deliver, frame, a, epoch)`` to the process of
  segment ``b`` and call ``arrive(b, frame, a, epoch)`` there when its clock reads ``deliver``.
* ``power_off`` (a crash) silences every port, empties the links and forgets what was learned;
  frames handed over before it (``epoch`` is then stale) are dropped on arrival.  ``power_on``
  brings it back empty.

Counters (``stats()``): frames and bytes in and forwarded, filtered (local) and flooded unicasts,
drops by cause, and per direction its frames, bytes, drops and the longest queue.  Nothing here
knows V: every frame on the wire is forwarded by these rules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

from netsim.ethernet import Interface, Segment
from netsim.frame import FCS

__all__ = ["Gateway", "GatewayCounters", "LinkCounters", "gateway_mac"]


def gateway_mac(gateway: int, port: int) -> bytes:
    """The address of port `port` of gateway number `gateway`: locally administered 02:00:ff:GG:GG:PP."""
    return bytes((0x02, 0x00, 0xFF, (gateway >> 8) & 0xFF, gateway & 0xFF, port & 0xFF))


@dataclass
class GatewayCounters:
    frames_in: int = 0
    bytes_in: int = 0
    forwarded: int = 0  # frames handed to a link (a flooded frame counts once a link)
    bytes_forwarded: int = 0
    delivered: int = 0  # frames that arrived on the far side and were handed to its port
    filtered: int = 0  # unicasts whose destination is on the segment they came from
    flooded: int = 0  # unicasts to a station not learned yet, sent to every other segment
    dropped_queue: int = 0  # a link's queue was full
    dropped_down: int = 0  # in the gateway when it crashed, or arriving while it is down


@dataclass
class LinkCounters:
    frames: int = 0
    bytes: int = 0
    dropped_queue: int = 0
    max_queue: int = 0


class _Link:
    """One direction of the gateway: a FIFO drained at the bandwidth (times only, no events)."""

    __slots__ = ("leaves", "counters")

    def __init__(self) -> None:
        self.leaves: deque[int] = deque()  # when each frame in the queue has left the link
        self.counters = LinkCounters()


class Gateway:
    """A machine with a port on each of several segments, forwarding frames between them."""

    def __init__(
        self,
        sim,
        name: str,
        segments: Sequence[Segment | None],
        *,
        latency_ns: int,
        bandwidth_bps: int,
        queue_frames: int,
        index: int = 0,
        names: Sequence[str] | None = None,
    ) -> None:
        """`index` numbers the gateway's port addresses (gateway_mac); `names` names the segments
        (needed for those that are None, which have no name of their own here)."""
        if len(segments) < 2:
            raise ValueError(f"gateway {name} joins {len(segments)} segment(s); it needs two")
        if latency_ns < 1 or bandwidth_bps < 1 or queue_frames < 1:
            raise ValueError("latency, bandwidth and queue bound must be positive")
        self.sim = sim
        self.name = name
        self.segments = list(segments)
        self.names = list(names) if names is not None else [s.name for s in segments]  # type: ignore[union-attr]
        self.latency_ns = int(latency_ns)
        self.bandwidth_bps = int(bandwidth_bps)
        self.queue_frames = int(queue_frames)
        self.powered = True
        self.epoch = 0  # crashes so far: a frame handed over in an earlier epoch is lost
        self.counters = GatewayCounters()
        n = len(segments)
        self.ports: list[Interface | None] = []
        for i, seg in enumerate(segments):
            if seg is None:
                self.ports.append(None)
                continue
            port = seg.attach(gateway_mac(index, i), name, queue_limit=queue_frames)
            port.promiscuous = True
            port.on_receive = partial(self._enter, i)
            self.ports.append(port)
        self.links = {(a, b): _Link() for a in range(n) for b in range(n) if a != b}
        self.local: list[set[bytes]] = [set() for _ in range(n)]  # sources seen on each port
        self.behind: list[dict[bytes, int]] = [{} for _ in range(n)]  # at port a: mac -> port
        self.handover: Callable[[int, int, bytes, int, int], None] = self._handover

    def __repr__(self) -> str:
        return f"<Gateway {self.name} {self.names}>"

    # -- the way through --------------------------------------------------------------

    def _enter(self, a: int, frame: bytes) -> None:
        """Segment a delivered `frame` to our port on it."""
        if not self.powered:
            return
        c = self.counters
        c.frames_in += 1
        c.bytes_in += len(frame) + FCS
        dst = frame[:6]
        self.local[a].add(frame[6:12])
        if dst[0] & 1:
            outs = [b for b in range(len(self.ports)) if b != a]
        elif dst in self.local[a]:
            c.filtered += 1
            return
        else:
            b = self.behind[a].get(dst)
            if b is not None:
                outs = [b]
            else:
                c.flooded += 1
                outs = [b for b in range(len(self.ports)) if b != a]
        now = self.sim.now
        nbits = (len(frame) + FCS) * 8
        serial = -(-nbits * 1_000_000_000 // self.bandwidth_bps)
        for b in outs:
            link = self.links[(a, b)]
            leaves = link.leaves
            while leaves and leaves[0] <= now:
                leaves.popleft()
            lc = link.counters
            if len(leaves) >= self.queue_frames:
                lc.dropped_queue += 1
                c.dropped_queue += 1
                continue
            start = leaves[-1] if leaves and leaves[-1] > now else now
            leaves.append(start + serial)
            if len(leaves) > lc.max_queue:
                lc.max_queue = len(leaves)
            lc.frames += 1
            lc.bytes += len(frame) + FCS
            c.forwarded += 1
            c.bytes_forwarded += len(frame) + FCS
            self.handover(b, start + serial + self.latency_ns, frame, a, self.epoch)

    def _handover(self, b: int, at_ns: int, frame: bytes, a: int, epoch: int) -> None:
        self.sim.at(at_ns, partial(self.arrive, b, frame, a, epoch))

    def arrive(self, b: int, frame: bytes, a: int, epoch: int) -> None:
        """A frame from port a reaches port b (now = its delivery time): onto b's segment."""
        if not self.powered or epoch != self.epoch:
            self.counters.dropped_down += 1
            return
        self.behind[b][frame[6:12]] = a
        self.counters.delivered += 1
        port = self.ports[b]
        if port is not None:
            port.send(frame)

    # -- power ------------------------------------------------------------------------

    def power_off(self) -> None:
        """A crash: ports silent (their transmit queues dropped), links emptied, tables forgotten."""
        if not self.powered:
            return
        self.powered = False
        self.epoch += 1
        for link in self.links.values():  # their frames are counted lost as they arrive
            link.leaves.clear()
        for port in self.ports:
            if port is not None:
                port.power_off()
        for table in self.local:
            table.clear()
        for table in self.behind:
            table.clear()

    def power_on(self) -> None:
        """Back up, having learned nothing yet."""
        if self.powered:
            return
        self.powered = True
        for port in self.ports:
            if port is not None:
                port.power_on()

    # -- counters ---------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        """JSON-able counters: the whole gateway's, then each direction's (``"lan1->lan2"``)."""
        d: dict[str, object] = {"powered": self.powered}
        d.update(asdict(self.counters))
        names = self.names
        d["links"] = {
            f"{names[a]}->{names[b]}": asdict(link.counters) for (a, b), link in self.links.items()
        }
        return d
