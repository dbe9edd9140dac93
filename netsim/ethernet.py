"""A 10 Mb/s CSMA/CD Ethernet segment with fault injection, counters and taps.

Model (all times integer nanoseconds on the simulator's clock):

* A frame on the wire is 8 bytes of preamble+SFD, the frame itself padded to
  60 bytes, and a 4-byte FCS: 64..1518 bytes of frame, 72..1526 bytes of
  signal.  Stations keep a 96-bit (9.6 us) inter-frame gap.
* One propagation delay ``D = length_m * propagation_ns_per_m`` separates any
  two stations (every station is "at the far end" from every other; no
  positions).  A transmission's signal is present at every other station from
  ``start + D`` to ``end + D``.  ``2 * D`` must fit in one slot time.
* 1-persistent carrier sense with deference as in 802.3: a station with a
  frame waits until it has heard no carrier for an inter-frame gap; if carrier
  appears in the first two thirds of that gap it defers again, in the last
  third it transmits anyway.  Stations that were deferring to the same frame
  therefore all start together and collide, as on real Ethernet.
* A collision is detected by a transmitter when another signal reaches it
  (two stations starting within ``D`` of each other, or one started in the
  last third of the gap).  It then sends a 32-bit jam and stops, and backs off
  ``r`` slots (51.2 us) with ``r`` uniform in ``[0, 2**min(n, 10) - 1]`` drawn
  from the segment's stream ``sim.stream(name)``, ``n`` being the collisions this frame has had.  After
  ``max_attempts`` (16) collisions the frame is dropped and counted.
* A frame that completed without a collision reaches every other station
  when its last bit arrives (``end + D``).  A receiver takes it if the
  destination is its MAC, broadcast, a multicast group it joined (or it is
  promiscuous), if it is powered, and if it is on the sender's side of any
  partition.
* Faults.  Corruption is drawn once per frame (``corrupt_rate``): a corrupted
  frame fails its FCS everywhere, is delivered nowhere and is counted once as
  ``dropped_corrupt``.  Loss is drawn per frame per receiver (``loss_rate``),
  only for receivers that would have taken the frame, and counted per missed
  delivery as ``dropped_loss``.  A partition splits the stations into sets
  that neither hear nor sense nor collide with each other (a cut cable with
  terminators on both sides); deliveries that the cut prevents are counted
  as ``dropped_partition``.  A powered-off station drops its queue (counted
  ``dropped_power``), aborts a transmission in progress, hears and sends
  nothing.
* Taps (for pcap) see every frame that completed without a collision, at the
  time its last bit reaches the receivers, whatever loss or corruption then
  does to it.
"""

from __future__ import annotations

import logging
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict
from functools import partial

from netsim.counters import SegmentCounters, StationCounters
from netsim.frame import (
    BACKOFF_LIMIT,
    BROADCAST,
    FCS,
    HEADER,
    IFG_BITS,
    IFG_PART2_BITS,
    JAM_BITS,
    MAX_FRAME,
    MIN_FRAME,
    PREAMBLE,
    SLOT_BITS,
    is_multicast,
    wire_time_ns,
)
from netsim.scheduler import Event, Simulator

__all__ = [
    "BROADCAST",
    "MIN_FRAME",
    "MAX_FRAME",
    "Interface",
    "Segment",
    "SegmentCounters",
    "StationCounters",
    "is_multicast",
    "wire_time_ns",
]

log = logging.getLogger(__name__)

_NEVER = -(10**18)
_NONE: list = []  # no members (never appended to)


def _index(st: Interface) -> int:
    return st._index


# Station states.
_IDLE = 0  # nothing queued (or powered off)
_WAIT = 1  # a timer is pending: end of the gap, or end of a backoff
_DEFER = 2  # waiting for carrier to drop
_TX = 3  # transmitting
_STATE_NAMES = ("idle", "wait", "defer", "tx")


class _Tx:
    """One transmission on the wire (a frame, or a collision fragment)."""

    __slots__ = ("src", "frame", "start", "end", "collided", "aborted", "end_event")

    def __init__(self, src: Interface, frame: bytes, start: int, end: int) -> None:
        self.src = src
        self.frame = frame
        self.start = start
        self.end = end  # at the transmitter; shortened by a collision or power-off
        self.collided = False
        self.aborted = False
        self.end_event: Event | None = None


class Interface:
    """A station on a segment: MAC address, transmit queue, receive callback.

    ``on_receive(frame)`` gets the whole frame (dst, src, type, payload, padded
    to 60 bytes, no FCS) when its last bit arrives.  ``on_tx_done(frame, ok)``,
    if set, is called when a frame leaves the transmit queue by being sent
    (``ok``) or dropped after too many collisions (not ``ok``).
    """

    def __init__(
        self, segment: Segment, mac: bytes, name: str, queue_limit: int | None = None
    ) -> None:
        if len(mac) != 6:
            raise ValueError(f"MAC must be 6 bytes, got {len(mac)}")
        if is_multicast(mac):
            raise ValueError(f"station MAC {mac.hex(':')} is a group address")
        self.segment = segment
        self.mac = bytes(mac)
        self.name = name
        self.queue_limit = queue_limit
        self.on_receive: Callable[[bytes], None] | None = None
        self.on_tx_done: Callable[[bytes, bool], None] | None = None
        self._promiscuous = False
        self.powered = True
        self.counters = StationCounters()
        self.groups: set[bytes] = set()
        self._queue: deque[bytes] = deque()
        self._state = _IDLE
        self._attempts = 0  # collisions of the frame at the head of the queue
        self._deferred = False  # head frame already counted as deferred
        self._timer: Event | None = None
        self._tx: _Tx | None = None
        self._own_end = _NEVER  # end of our last transmission
        self._heard_base = _NEVER  # when the last carrier we heard dropped, as of the last
        # partition change (later ones: the segment's per-set record, Segment._heard_until)
        self._part = 0  # partition set (0: the default set)
        self._index = len(segment.stations)  # attach order: the order deliveries are made in
        self._commit_cb = partial(segment._commit, self)
        self._backoff_cb = partial(segment._attempt, self)

    def __repr__(self) -> str:
        return f"<Interface {self.name} {self.mac.hex(':')}>"

    # -- transmit ---------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` (dst, src, ethertype, payload; 14..1514 bytes) for
        transmission; shorter than 60 bytes is zero-padded.  Dropped and
        counted if the station is off or its queue is full."""
        n = len(frame)
        if n > MAX_FRAME:
            raise ValueError(f"frame of {n} bytes exceeds {MAX_FRAME} (1518 with FCS)")
        if n < HEADER:
            raise ValueError(f"frame of {n} bytes is shorter than an Ethernet header")
        frame = bytes(frame)
        if n < MIN_FRAME:
            frame += bytes(MIN_FRAME - n)
        seg = self.segment
        if not self.powered:
            self.counters.dropped_power += 1
            seg.counters.dropped_power += 1
            return
        if self.queue_limit is not None and len(self._queue) >= self.queue_limit:
            self.counters.dropped_overflow += 1
            seg.counters.dropped_overflow += 1
            return
        self._queue.append(frame)
        if self._state == _IDLE:
            seg._attempt(self)

    def withdraw(self, frame: bytes) -> bool:
        """Take a queued frame back before it goes out (a sender that learns it is no longer
        needed); not the one being transmitted.  True if it was queued; ``on_tx_done`` is not
        called for it.  Counted as ``withdrawn``."""
        frame = bytes(frame)
        if len(frame) < MIN_FRAME:
            frame += bytes(MIN_FRAME - len(frame))
        queue = self._queue
        try:
            i = queue.index(frame)
        except ValueError:
            return False
        if i == 0 and self._tx is not None:
            i = next((j for j in range(1, len(queue)) if queue[j] == frame), -1)
            if i < 0:
                return False  # on the wire already
        del queue[i]
        self.counters.withdrawn += 1
        seg = self.segment
        seg.counters.withdrawn += 1
        if i == 0:  # the head, waiting for a gap, a backoff or a carrier: the next frame's turn
            if self._timer is not None:
                seg.sim.cancel(self._timer)
                self._timer = None
            seg._deferring.discard(self)
            self._attempts = 0
            self._deferred = False
            self._state = _IDLE
            if queue:
                seg._attempt(self)
        return True

    @property
    def queue_length(self) -> int:
        """Frames waiting, including the one being transmitted."""
        return len(self._queue)

    @property
    def transmitting(self) -> bool:
        """True while a frame (or a collision fragment) of ours is going out."""
        return self._tx is not None

    @property
    def state(self) -> str:
        """MAC state: ``idle``, ``wait`` (gap or backoff timer), ``defer`` or ``tx``."""
        return _STATE_NAMES[self._state]

    # -- receive filter ---------------------------------------------------

    # The segment keeps the filter indexed the other way round too (group -> members), so a
    # multicast frame costs only the stations that joined its group.

    def join_group(self, mac: bytes) -> None:
        """Accept frames sent to multicast address ``mac``."""
        if len(mac) != 6 or not is_multicast(mac):
            raise ValueError(f"{bytes(mac).hex(':')} is not a multicast address")
        mac = bytes(mac)
        if mac not in self.groups:
            self.groups.add(mac)
            self.segment._index_join(self, mac)

    def leave_group(self, mac: bytes) -> None:
        """Stop accepting frames sent to multicast address ``mac``."""
        mac = bytes(mac)
        if mac in self.groups:
            self.groups.discard(mac)
            self.segment._index_leave(self, mac)

    def clear_groups(self) -> None:
        """Leave every multicast group (an interface reset)."""
        for mac in sorted(self.groups):
            self.leave_group(mac)

    @property
    def promiscuous(self) -> bool:
        """Whether the station takes every frame, whatever its destination."""
        return self._promiscuous

    @promiscuous.setter
    def promiscuous(self, on: bool) -> None:
        on = bool(on)
        if on != self._promiscuous:
            self._promiscuous = on
            self.segment._index_promiscuous(self, on)

    def accepts(self, dst: bytes) -> bool:
        """Whether the address filter takes a frame sent to ``dst``."""
        return (
            dst == self.mac
            or dst == BROADCAST
            or self.promiscuous
            or (dst[0] & 1 == 1 and dst in self.groups)
        )

    # -- power ------------------------------------------------------------

    def power_off(self) -> None:
        """Switch the station off: queue dropped (counted), any transmission
        aborted, nothing heard or sent until ``power_on``.  The multicast
        filter is kept (call ``clear_groups`` to model a reset)."""
        if not self.powered:
            return
        self.segment._power_off(self)

    def power_on(self) -> None:
        """Switch the station back on (an empty queue, ready to send)."""
        if self.powered:
            return
        self.powered = True
        log.debug("%s: power on at %d", self.name, self.segment.sim.now)

    def stats(self) -> dict[str, object]:
        """JSON-able counters and state of this station."""
        d: dict[str, object] = {"mac": self.mac.hex(":"), "powered": self.powered}
        d.update(asdict(self.counters))
        d["queue_length"] = len(self._queue)
        return d


class Segment:
    """One shared 10 Mb/s Ethernet cable and the stations on it."""

    def __init__(
        self,
        sim: Simulator,
        name: str = "ether0",
        bitrate: int = 10_000_000,
        length_m: float = 500.0,
        propagation_ns_per_m: float = 5.0,
        loss_rate: float = 0.0,
        corrupt_rate: float = 0.0,
        max_attempts: int = 16,
        utilization_history_ns: int = 10_000_000_000,
    ) -> None:
        if bitrate <= 0:
            raise ValueError("bitrate must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.sim = sim
        self.name = name
        self.rng = sim.stream(name)  # backoff, loss and corruption draws: this segment's own
        self.bitrate = bitrate
        self.length_m = length_m
        self.max_attempts = max_attempts
        self.bit_ns = 1_000_000_000 / bitrate
        self.prop_ns = round(length_m * propagation_ns_per_m)
        self.ifg_ns = self._bits(IFG_BITS)
        self.ifg_part2_ns = self._bits(IFG_PART2_BITS)
        self.jam_ns = self._bits(JAM_BITS)
        self.slot_ns = self._bits(SLOT_BITS)
        if self.prop_ns < 0 or 2 * self.prop_ns > self.slot_ns:
            raise ValueError(
                f"propagation delay {self.prop_ns} ns: the round trip must fit in a slot "
                f"({self.slot_ns} ns); shorten the segment"
            )
        self.loss_rate = 0.0
        self.corrupt_rate = 0.0
        self.set_loss(loss_rate)
        self.set_corrupt(corrupt_rate)
        self.counters = SegmentCounters()
        self.stations: list[Interface] = []
        self._by_mac: dict[bytes, Interface] = {}
        self._by_name: dict[str, Interface] = {}
        # the receive filters indexed by address: group -> members, and the promiscuous
        # stations, each in attach order (a multicast frame visits only these)
        self._members: dict[bytes, list[Interface]] = {}
        self._promisc: list[Interface] = []
        # per partition set: (time, source) of the last carrier that left the wire, and the
        # time of the last one from any other source (what every other station heard last)
        self._heard: dict[int, tuple[int, Interface | None, int]] = {}
        self._deferring: set[Interface] = set()  # stations in _DEFER
        self._active: list[_Tx] = []  # transmissions whose signal is still on the wire
        self._taps: list[Callable[[int, bytes], None]] = []
        self._nparts = 0
        # utilisation: merged busy intervals [start, end) at the transmitters
        self._txing = 0
        self._busy_start = 0
        self._busy_total = 0
        self._busy: deque[tuple[int, int]] = deque()
        self._history_ns = utilization_history_ns

    @property
    def min_latency_ns(self) -> int:
        """Shortest time from ``send`` to ``on_receive``: a 64-byte frame on an
        idle wire plus the propagation delay (an upper bound for CPU quanta)."""
        return wire_time_ns(MIN_FRAME, self.bitrate) + self.prop_ns

    def _bits(self, nbits: int) -> int:
        return nbits * 1_000_000_000 // self.bitrate

    def __repr__(self) -> str:
        return f"<Segment {self.name} {len(self.stations)} stations>"

    # -- stations ---------------------------------------------------------

    def attach(self, mac: bytes, name: str, queue_limit: int | None = None) -> Interface:
        """Connect a new station with address ``mac``; returns its interface."""
        mac = bytes(mac)
        if mac in self._by_mac:
            raise ValueError(f"duplicate MAC {mac.hex(':')} on {self.name}")
        if name in self._by_name:
            raise ValueError(f"duplicate station name {name!r} on {self.name}")
        iface = Interface(self, mac, name, queue_limit)
        self.stations.append(iface)
        self._by_mac[mac] = iface
        self._by_name[name] = iface
        return iface

    def station(self, name_or_mac: str | bytes) -> Interface:
        """Look a station up by name or MAC."""
        if isinstance(name_or_mac, bytes | bytearray):
            return self._by_mac[bytes(name_or_mac)]
        return self._by_name[name_or_mac]

    def members(self, group: bytes) -> list[Interface]:
        """The stations whose filter takes frames sent to multicast address ``group``
        (joined or promiscuous), in attach order."""
        joined = self._members.get(bytes(group), [])
        if not self._promisc:
            return list(joined)
        return sorted({*joined, *self._promisc}, key=_index)

    def _index_join(self, st: Interface, group: bytes) -> None:
        members = self._members.setdefault(group, [])
        insort(members, st, key=_index)

    def _index_leave(self, st: Interface, group: bytes) -> None:
        members = self._members[group]
        members.remove(st)
        if not members:
            del self._members[group]

    def _index_promiscuous(self, st: Interface, on: bool) -> None:
        if on:
            insort(self._promisc, st, key=_index)
        else:
            self._promisc.remove(st)

    def add_tap(self, fn: Callable[[int, bytes], None]) -> None:
        """Call ``fn(time_ns, frame)`` for every frame that completes without a
        collision (time = when its last bit reaches the receivers)."""
        self._taps.append(fn)

    def remove_tap(self, fn: Callable[[int, bytes], None]) -> None:
        """Detach a tap added with ``add_tap``."""
        self._taps.remove(fn)

    # -- faults -----------------------------------------------------------

    def set_loss(self, rate: float) -> None:
        """Lose each delivery (frame x receiver) with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"loss rate {rate} not in [0, 1]")
        self.loss_rate = float(rate)

    def set_corrupt(self, rate: float) -> None:
        """Corrupt each frame (bad FCS, delivered nowhere) with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"corrupt rate {rate} not in [0, 1]")
        self.corrupt_rate = float(rate)

    def partition(self, names_or_ifaces: Iterable[str | bytes | Interface]) -> None:
        """Cut the given stations off from all the others (each call makes a
        new set; stations named again move to it).  Sets do not hear, sense or
        collide with one another until ``heal``."""
        members = [s if isinstance(s, Interface) else self.station(s) for s in names_or_ifaces]
        for s in members:
            if s.segment is not self:
                raise ValueError(f"{s!r} is not on {self.name}")
        self._nparts += 1
        self._fix_heard()
        for s in members:
            s._part = self._nparts
        log.info("%s: partition %d = %s", self.name, self._nparts, [s.name for s in members])
        self._release_deferred(self.sim.now)

    def heal(self) -> None:
        """Undo every partition."""
        self._fix_heard()
        for s in self.stations:
            s._part = 0
        self._nparts = 0
        log.info("%s: partitions healed", self.name)
        self._release_deferred(self.sim.now)

    def _heard_until(self, st: Interface) -> int:
        """When the last carrier ``st`` heard dropped (another station's, in its set)."""
        rec = self._heard.get(st._part)
        if rec is None:
            return st._heard_base
        t = rec[0] if rec[1] is not st else rec[2]
        return t if t > st._heard_base else st._heard_base

    def _fix_heard(self) -> None:
        """Before stations change sets: what each heard so far becomes its own record."""
        if self._heard:
            for s in self.stations:
                s._heard_base = self._heard_until(s)
            self._heard.clear()

    # -- counters ---------------------------------------------------------

    def utilization(self, window_ns: int | None = None) -> float:
        """Fraction of time the wire carried a signal (frames, preambles,
        collision fragments) over the ``window_ns`` ending now, or since time 0
        when ``window_ns`` is None.  History is kept for ``utilization_history_ns``."""
        now = self.sim.now
        if window_ns is None:
            busy = self._busy_total + (now - self._busy_start if self._txing else 0)
            return busy / now if now > 0 else 0.0
        if window_ns <= 0:
            return 0.0
        lo = now - window_ns
        busy = 0
        for s, e in reversed(self._busy):
            if e <= lo:
                break
            busy += e - max(s, lo)
        if self._txing:
            busy += now - max(self._busy_start, lo)
        return busy / min(window_ns, now) if now > 0 else 0.0

    def stats(self) -> dict[str, object]:
        """JSON-able summary: totals, drops by cause, utilisation, per station."""
        c = self.counters
        d: dict[str, object] = {"name": self.name, "sim_ns": self.sim.now}
        d.update(asdict(c))
        d["dropped"] = c.dropped
        d["drops"] = {
            "loss": c.dropped_loss,
            "corrupt": c.dropped_corrupt,
            "collisions": c.dropped_collisions,
            "partition": c.dropped_partition,
            "power": c.dropped_power,
            "overflow": c.dropped_overflow,
        }
        d["utilization"] = self.utilization()
        d["utilization_1s"] = self.utilization(1_000_000_000)
        d["stations"] = {s.name: s.stats() for s in self.stations}
        return d

    # -- the MAC: carrier sense, deference, collisions, backoff -----------

    def _sensed(self, st: Interface, t: int) -> int | None:
        """Earliest arrival time of a carrier ``st`` hears at ``t``, or None."""
        d = self.prop_ns
        first: int | None = None
        part = st._part
        for tx in self._active:
            if tx.src is not st and tx.src._part == part:
                arrive = tx.start + d
                if arrive <= t < tx.end + d and (first is None or arrive < first):
                    first = arrive
        return first

    def _attempt(self, st: Interface) -> None:
        """``st`` has a frame at the head of its queue and may try to send it."""
        st._timer = None
        if not st.powered or not st._queue:
            st._state = _IDLE
            return
        now = self.sim.now
        if self._active and self._sensed(st, now) is not None:
            st._state = _DEFER
            self._deferring.add(st)
            self._count_deferral(st)
            return
        heard = self._heard_until(st) + self.ifg_ns
        ready = max(st._own_end + self.ifg_ns, heard)
        if now >= ready:
            self._start(st, now)
            return
        if heard > now:
            self._count_deferral(st)
        st._state = _WAIT
        st._timer = self.sim.at(ready, st._commit_cb)

    def _count_deferral(self, st: Interface) -> None:
        if not st._deferred:
            st._deferred = True
            st.counters.deferrals += 1
            self.counters.deferrals += 1

    def _commit(self, st: Interface) -> None:
        """End of the inter-frame gap for a waiting station."""
        st._timer = None
        if not st.powered or not st._queue:
            st._state = _IDLE
            return
        now = self.sim.now
        ready = max(st._own_end, self._heard_until(st)) + self.ifg_ns
        if ready > now:  # a carrier came and went during the gap: restart it
            st._timer = self.sim.at(ready, st._commit_cb)
            return
        if self._active:
            arrive = self._sensed(st, now)
            if arrive is not None and arrive <= now - self.ifg_part2_ns:
                st._state = _DEFER
                self._deferring.add(st)
                self._count_deferral(st)
                return
        self._start(st, now)

    def _start(self, st: Interface, now: int) -> None:
        frame = st._queue[0]
        end = now + (PREAMBLE + len(frame) + FCS) * 8 * 1_000_000_000 // self.bitrate
        tx = _Tx(st, frame, now, end)
        st._state = _TX
        st._tx = tx
        st.counters.attempts += 1
        self.counters.attempts += 1
        if self._txing == 0:
            self._busy_start = now
        self._txing += 1
        d = self.prop_ns
        detect: int | None = None  # when st hears another signal
        if self._active:
            part = st._part
            new_event = True
            for other in self._active:
                if other.src is st or other.src._part != part or other.end + d <= now:
                    continue
                # other's signal is at st over [other.start + d, other.end + d)
                at = max(now, other.start + d)
                if detect is None or at < detect:
                    detect = at
                if other.collided:
                    new_event = False
                other.collided = True
                # st's signal reaches other's source at now + d
                if other.end > now + d and not other.aborted:
                    self._truncate(other, now + d)
            if detect is not None:
                tx.collided = True
                if new_event:
                    self.counters.collisions += 1
        self._active.append(tx)
        if detect is not None:
            tx.end = detect + self.jam_ns
        tx.end_event = self.sim.at(tx.end, partial(self._end, tx))

    def _truncate(self, tx: _Tx, detect: int) -> None:
        """``tx``'s source hears a collision at ``detect``: jam, then stop."""
        end = detect + self.jam_ns
        if end >= tx.end:
            return
        tx.end = end
        if tx.end_event is not None:
            self.sim.cancel(tx.end_event)
        tx.end_event = self.sim.at(end, partial(self._end, tx))

    def _end(self, tx: _Tx) -> None:
        """The transmitter stops sending ``tx`` (complete, jammed or aborted)."""
        now = self.sim.now
        st = tx.src
        tx.end_event = None
        self._txing -= 1
        if self._txing == 0:
            self._close_busy(now)
        self.sim.at(now + self.prop_ns, partial(self._gone, tx))
        if tx.aborted:  # power-off already cleaned the station up
            return
        st._tx = None
        st._own_end = now
        c = st.counters
        if tx.collided:
            c.collisions += 1
            st._attempts += 1
            if st._attempts >= self.max_attempts:
                frame = st._queue.popleft()
                st._attempts = 0
                st._deferred = False
                c.dropped_collisions += 1
                self.counters.dropped_collisions += 1
                log.debug("%s: frame dropped after %d collisions", st.name, self.max_attempts)
                if st.on_tx_done is not None:
                    st.on_tx_done(frame, False)
                if st._state == _TX and st._tx is None:  # unless the callback power-cycled us
                    self._attempt(st)
                return
            k = st._attempts if st._attempts < BACKOFF_LIMIT else BACKOFF_LIMIT
            slots = self.rng.randrange(1 << k)
            st._state = _WAIT
            st._timer = self.sim.at(now + slots * self.slot_ns, st._backoff_cb)
            return
        frame = st._queue.popleft()
        nbytes = len(frame) + FCS
        c.frames_sent += 1
        c.bytes_sent += nbytes
        self.counters.frames += 1
        self.counters.bytes += nbytes
        st._attempts = 0
        st._deferred = False
        if st.on_tx_done is not None:
            st.on_tx_done(frame, True)
        if st._state == _TX and st._tx is None:  # unless the callback power-cycled us
            self._attempt(st)

    def _gone(self, tx: _Tx) -> None:
        """The last of ``tx``'s signal leaves the wire; deliver it if whole."""
        now = self.sim.now
        self._active.remove(tx)
        src = tx.src
        part = src._part
        # every other station of src's set hears the carrier drop now (recorded per set)
        rec = self._heard.get(part)
        if rec is None:
            self._heard[part] = (now, src, _NEVER)
        elif rec[1] is src:
            self._heard[part] = (now, src, rec[2])
        else:
            self._heard[part] = (now, src, rec[0])
        if not (tx.collided or tx.aborted):
            self._deliver(tx, now)
        self._release_deferred(now)

    def _release_deferred(self, now: int) -> None:
        """Deferring stations that hear no carrier any more wait out a gap."""
        deferring = self._deferring
        if not deferring:
            return
        ifg = self.ifg_ns
        for s in sorted(deferring, key=_index) if len(deferring) > 1 else list(deferring):
            if not self._active or self._sensed(s, now) is None:
                deferring.discard(s)
                s._state = _WAIT
                # (the gap is over already if a partition changed what s hears)
                ready = max(s._own_end + ifg, self._heard_until(s) + ifg, now)
                s._timer = self.sim.at(ready, s._commit_cb)

    def _deliver(self, tx: _Tx, now: int) -> None:
        frame = tx.frame
        for tap in self._taps:
            tap(now, frame)
        c = self.counters
        src = tx.src
        if self.corrupt_rate and self.rng.random() < self.corrupt_rate:
            c.dropped_corrupt += 1
            src.counters.tx_corrupted += 1
            return
        dst = frame[:6]
        nbytes = len(frame) + FCS
        part = src._part
        loss = self.loss_rate
        rng = self.rng
        if dst == BROADCAST:
            targets = [s for s in self.stations if s is not src]
        elif dst[0] & 1:  # only the group's members (and promiscuous stations) cost anything
            targets = self._members.get(dst, _NONE)
            if self._promisc:
                targets = sorted({*targets, *self._promisc}, key=_index)
            if src in targets:
                targets = [s for s in targets if s is not src]
        else:
            s = self._by_mac.get(dst)
            targets = [s] if s is not None and s is not src else []
            if self._promisc:
                targets += [p for p in self._promisc if p is not src and p is not s]
        for s in targets:
            sc = s.counters
            if s._part != part:
                sc.dropped_partition += 1
                c.dropped_partition += 1
            elif not s.powered:
                sc.rx_dropped_power += 1
                c.dropped_power += 1
            elif loss and rng.random() < loss:
                sc.dropped_loss += 1
                c.dropped_loss += 1
            else:
                sc.frames_received += 1
                sc.bytes_received += nbytes
                c.delivered += 1
                if s.on_receive is not None:
                    s.on_receive(frame)

    def _close_busy(self, now: int) -> None:
        start = self._busy_start
        self._busy_total += now - start
        busy = self._busy
        busy.append((start, now))
        horizon = now - self._history_ns
        while busy and busy[0][1] < horizon:
            busy.popleft()

    def _power_off(self, st: Interface) -> None:
        now = self.sim.now
        st.powered = False
        if st._timer is not None:
            self.sim.cancel(st._timer)
            st._timer = None
        tx = st._tx
        if tx is not None:
            tx.aborted = True
            if tx.end_event is not None:
                self.sim.cancel(tx.end_event)
            tx.end = now
            st._tx = None
            self._end(tx)
        dropped = len(st._queue)
        st._queue.clear()
        st.counters.dropped_power += dropped
        self.counters.dropped_power += dropped
        st._state = _IDLE
        self._deferring.discard(st)
        st._attempts = 0
        st._deferred = False
        log.debug("%s: power off at %d, %d queued frames dropped", st.name, now, dropped)
