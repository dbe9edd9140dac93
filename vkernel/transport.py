"""The interkernel protocol: remote Send/Reply/Forward, groups, bulk MoveTo/MoveFrom, bindings.

Reliability follows the V paper: the sender of a request keeps it and
retransmits until a reply arrives; a server still working (or a frozen logical
host) answers retransmissions with REPLY_PENDING; duplicates are suppressed by
(src_pid, seq) and a reply is retained for a while to answer a retransmitted
request again. Bulk data moves in trains of packets acknowledged at the end,
with selective retransmission. A logical-host -> station cache is learned from
incoming packets, invalidated after failed retransmissions, and re-resolved by
broadcasting the request itself.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import exactly_once
from vkernel import packets as pk
from vkernel.messages import unpack
from vkernel.packets import Flag, Kind, Packet
from vkernel.process import Process, State

if TYPE_CHECKING:
    from vkernel.kernel import IpcRequest, Kernel

log = logging.getLogger(__name__)

MS = 1_000_000
LH_RESTARTED = 1  # LH_HERE status: the logical host was restarted from a checkpoint (issue 16)
DATA = pk.MAX_DATA
GROUP_TRIES = 4  # transmissions of a group Send within host_query_timeout_ms


@dataclass
class Origin:
    """Where a remote request came from, so the reply can go back."""

    mac: bytes
    seq: int
    src_pid: int
    group: int = 0
    direct: bool = False  # a group member's answer goes to the sender only (not overheard)


@dataclass
class SendTxn:
    """A Send this kernel's process is waiting on, to a remote pid or a group."""

    proc: Process
    dst: int
    msg: bytes
    seq: int
    group: bool
    tries: int = 0
    timer: Any = None
    pending: bool = False  # got REPLY_PENDING since the last retransmission
    rto: int = 0  # retransmission interval (ns); a group query's is shorter
    max_tries: int = 0
    pinned: bytes | None = None  # a local-group request: the station that took it first
    heard: int = -1  # when the destination's kernel last answered (REPLY_PENDING, FORWARDED)


@dataclass
class BulkOut:
    """Sending side of a bulk transfer (a MoveTo, or the answer to a MOVEFROM_REQ)."""

    key: tuple[int, int]
    mac: bytes
    src_pid: int
    dst_pid: int
    seq: int
    base: int  # MoveTo: destination address; MoveFrom answer: 0
    data: bytes
    on_done: Callable[[int], None]
    acked: int = 0  # first byte offset not yet acknowledged
    sent_to: int = 0  # end of the train in flight
    last: int = 0  # offset of the last packet of the latest train (the one that asks for the ack)
    tries: int = 0  # retransmission intervals (or acks) in a row that brought no progress
    timer: Any = None
    done: bool = False
    answer: bool = False  # the answer to a MOVEFROM_REQ (the requester drives its end)
    progress: tuple[int, int] = (0, 0)  # (first missing, packets known received) of the best ack


@dataclass
class BulkIn:
    """Receiving side of a bulk transfer (it has a timer too: no state lives forever)."""

    total: int
    target: int = 0  # the local process whose memory the data goes to (MoveTo) or who gathers it
    received: set[int] = field(default_factory=set)  # offsets
    buffer: bytearray | None = None  # MoveFrom data being gathered (None: written in place)
    on_done: Callable[[bytes | int], None] | None = None
    complete: bool = False
    request: Packet | None = None  # a MoveFrom's MOVEFROM_REQ, retransmitted while data is missing
    peer: int = 0  # the process on the other side
    seq: int = 0
    tries: int = 0  # retransmission intervals in a row without a new packet
    seen: int = 0  # packets received at the last tick
    heard: int = 0  # when a packet of this transfer last arrived
    timer: Any = None
    mac: bytes = b""  # where the data comes from (a MoveTo's receiver acks there)
    origin_mac: bytes = b""  # a MoveFrom: the station of the request it serves (its incarnation)

    def first_missing(self) -> int:
        off = 0
        while off < self.total and off in self.received:
            off += DATA
        return min(off, self.total)


@dataclass
class TransportStats:
    sent: int = 0
    received: int = 0
    retransmissions: int = 0
    reply_pending_sent: int = 0
    duplicates: int = 0
    broadcasts: int = 0
    binding_invalidations: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    dropped_frozen: int = 0
    timeouts: int = 0
    loopback: int = 0
    answers_withdrawn: int = 0  # group answers kept back: another member's was overheard first


# the last frame parsed and its (dst, src, Packet) or PacketError: a multicast frame reaches
# every member as the same bytes object, and a Packet is immutable, so the members share one
_last_parsed: tuple[Any, Any] = (None, None)


class Transport:
    """One kernel's end of the interkernel protocol, on its Ethernet interface."""

    def __init__(self, kernel: Kernel, nic) -> None:
        self.k = kernel
        self.sim = kernel.sim
        self.nic = nic
        self.mac: bytes = nic.mac
        nic.on_receive = self.on_frame
        cost = kernel.cost
        self.rto = int(cost.retransmit_timeout_ms * MS)
        self.pending_interval = int(cost.reply_pending_interval_ms * MS)
        self.max_tries = cost.max_retransmits
        self.invalidate_after = max(1, cost.rebind_after_retransmits)
        self.train = min(cost.bulk_train_packets, pk.MAX_TRAIN)
        self.retain_ns = int(cost.reply_retain_ms * MS)
        self.query_timeout = int(cost.host_query_timeout_ms * MS)
        # rule 22: no operation waits longer than this after the last sign of progress from its
        # peer: RETX_LIMIT + 1 unanswered intervals, plus one for a timer's phase
        self.bound_ns = (self.max_tries + 2) * self.rto
        self.bindings: dict[int, bytes] = {}
        # lhid -> the newest incarnation of a restarted logical host heard of (exactly_once.void)
        self.incarnations: dict[int, int] = {}
        self.sends: dict[tuple[int, int], SendTxn] = {}
        self.in_progress: dict[tuple[int, int], int] = {}  # (src, seq) -> receiver pid
        self.retained: OrderedDict[tuple[int, int], tuple[int, Packet]] = OrderedDict()
        self.bulk_out: dict[tuple[int, int], BulkOut] = {}
        self.bulk_in: dict[tuple[int, int], BulkIn] = {}
        # transfers that ended here: (offset to ack, status, until when it is remembered)
        self.bulk_done: OrderedDict[tuple[int, int], tuple[int, int, int]] = OrderedDict()
        # moves from a process a local sender may await through a lost FORWARDED: since when asked
        self.doubts: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.overheard: OrderedDict[tuple[int, int], int] = OrderedDict()  # group requests answered
        # local-group requests (to a logical host's kernel server or program manager) taken here,
        # and those taken by a migrated logical host's previous host (retransmissions go there)
        self.taken_for: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.redirects: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.stats = TransportStats()
        # this kernel's answers to group requests on their way out (overheard ones): taken
        # back when another member's answer is overheard before they reach the wire
        self.answers_out: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        # station-specific, so that a migrated pid never repeats a seq; and boot-specific (64 a
        # ms of the boot's time), so that a program restarted on its rebooted host does not
        # repeat the seqs of its old incarnation, whose requests and answers servers may still
        # hold (the station is the same: void_incarnation cannot tell them apart)
        self._seq = ((kernel.index + 1) << 24) | ((kernel.sim.now // 1_000_000 * 64) & 0xFFFFFF)

    # --- sending frames -------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def transmit(
        self, mac: bytes | None, packet: Packet, answer: tuple[int, int] | None = None
    ) -> None:
        """Queue a packet: the kernel spends packet_send_us, then the interface sends it.

        `answer`: the packet is this member's answer to that group request (its key): it is
        not sent after all if another member's answer is overheard first (see answers_out).

        A packet for a process of a logical host that lives here (a peer that
        migrated onto this machine, or this machine's own process after a
        migration) is looped back instead of put on the wire.
        """
        if not self.k.powered:
            return
        dst = packet.dst_pid
        if dst and not (packet.flags & Flag.GROUP) and self.k.is_local(dst):
            self.stats.loopback += 1
            self.sim.at(self.k.charge("ipc_op_us"), lambda: self.handle(self.mac, packet))
            return
        if mac is None:
            mac = pk.BROADCAST_MAC
            self.stats.broadcasts += 1
        data = pk.frame(mac, self.mac, packet)
        self.stats.sent += 1
        if answer is None:
            self.sim.at(self.k.charge("packet_send_us"), lambda: self._put(data))
            return
        self.answers_out[answer] = data
        while len(self.answers_out) > 256:
            self.answers_out.popitem(last=False)
        self.sim.at(self.k.charge("packet_send_us"), lambda: self._put_answer(answer, data))

    def _put(self, data: bytes) -> None:
        if self.k.powered:
            self.nic.send(data)

    def _put_answer(self, key: tuple[int, int], data: bytes) -> None:
        if key in self.overheard:  # another member answered while this one was being sent
            self.answers_out.pop(key, None)
            self.stats.answers_withdrawn += 1
            return
        self._put(data)

    def station_of(self, pid: int) -> bytes | None:
        return self.bindings.get(abi.pid_lhid(pid))

    def learn(self, lhid: int, mac: bytes) -> None:
        if lhid and lhid not in self.k.lhs and mac != self.mac:
            self.bindings[lhid] = mac

    def lh_of_local(self, pid: int) -> int:
        return abi.pid_lhid(pid) if self.k.is_local(pid) and not abi.is_group(pid) else 0

    # --- remote Send ------------------------------------------------------------------
    def send_request(self, proc: Process, dst: int, msg: bytes) -> SendTxn:
        txn = SendTxn(proc, dst, msg, self.next_seq(), group=False)
        self.sends[(proc.pid, txn.seq)] = txn
        self._send_txn(txn)
        return txn

    def send_group(self, proc: Process, gid: int, msg: bytes) -> SendTxn:
        """A group Send: the first reply wins; with no answer within host_query_timeout_ms, ETIMEOUT."""
        # retransmitted every quarter of it (rule 19): a lossy wire costs an answer rarely, and
        # the bound stays host_query_timeout_ms
        txn = SendTxn(
            proc,
            gid,
            msg,
            self.next_seq(),
            group=True,
            rto=self.query_timeout // GROUP_TRIES,
            max_tries=GROUP_TRIES - 1,
        )
        if abi.pid_lhid(gid) == 0:
            # the members' answers are multicast to the group
            self.nic.join_group(pk.group_mac(gid))
        self.sends[(proc.pid, txn.seq)] = txn
        self._send_txn(txn)
        return txn

    def _send_txn(self, txn: SendTxn, again: bool = False) -> None:
        flags = Flag.IS_RETRANSMISSION if txn.tries or again else 0
        if txn.group:
            flags |= Flag.GROUP
            mac: bytes | None = pk.group_mac(txn.dst)
        elif abi.is_group(txn.dst):
            # a logical host's kernel server or program manager: the server that took the
            # request does not move with the logical host, nor does its record of the request,
            # so retransmissions go where the first transmission went, even if the logical
            # host has migrated since (else a lost reply would have the request run twice)
            if txn.pinned is None:
                txn.pinned = self.station_of(txn.dst)
            mac = txn.pinned
        else:
            mac = self.station_of(txn.dst)
        packet = Packet(
            Kind.SEND, txn.seq, txn.proc.pid, txn.dst, flags=flags, lhid=txn.proc.lhid, msg=txn.msg
        )
        self.transmit(mac, packet)
        txn.timer = self.sim.at(
            self.sim.now + (txn.rto or self.rto), lambda: self._send_timeout(txn)
        )

    def _send_timeout(self, txn: SendTxn) -> None:
        key = (txn.proc.pid, txn.seq)
        if self.sends.get(key) is not txn:
            return
        if txn.pending or txn.proc.lh.frozen:
            txn.pending = False  # a working server or a frozen self: keep waiting
        else:
            txn.tries += 1
            if txn.tries == self.invalidate_after and not txn.group:
                txn.pinned = None
                if self.bindings.pop(abi.pid_lhid(txn.dst), None) is not None:
                    self.stats.binding_invalidations += 1
            if txn.tries > (txn.max_tries or self.max_tries):
                del self.sends[key]
                self.stats.timeouts += 1
                self.k.finish_send(txn.proc, -abi.ETIMEOUT, b"")
                return
        self.stats.retransmissions += 1
        self._send_txn(txn, again=True)

    def _probe(self, txn: SendTxn) -> None:
        """Retransmit a Send now, outside its schedule (its count of tries is unchanged)."""
        if txn.timer is not None:
            self.sim.cancel(txn.timer)
        self.stats.retransmissions += 1
        self._send_txn(txn, again=True)

    def cancel(self, txn: SendTxn) -> None:
        if txn.timer is not None:
            self.sim.cancel(txn.timer)
        self.sends.pop((txn.proc.pid, txn.seq), None)

    # --- replies ---------------------------------------------------------------------
    def send_reply(self, req: IpcRequest, msg: bytes | None, replier: int) -> None:
        origin: Origin = req.remote
        key = (origin.src_pid, origin.seq)
        self.in_progress.pop(key, None)
        if msg is None:  # a group member that declines to answer
            if origin.group and key not in self.retained:
                # rule 2: remembered as refused, so that a retransmission is a duplicate, not a new
                # request for the members here (never sent: kernels do not NACK groups, rule 19)
                self._retain(
                    key, Packet(Kind.NACK, origin.seq, 0, origin.src_pid, status=-abi.ENOPROC)
                )
            return
        overheard = origin.group and abi.pid_lhid(origin.group) == 0 and not origin.direct
        flags = Flag.GROUP_REPLY if overheard else 0
        packet = Packet(
            Kind.REPLY,
            origin.seq,
            replier,
            origin.src_pid,
            flags=flags,
            lhid=self.lh_of_local(replier),
            msg=msg.ljust(pk.MSG_SIZE, b"\0")[: pk.MSG_SIZE],
        )
        self._retain(key, packet)
        if flags:  # the other members overhear it and keep their answers back (see overheard)
            self.transmit(pk.group_mac(origin.group), packet, answer=key)
        else:
            self.transmit(self.bindings.get(abi.pid_lhid(origin.src_pid), origin.mac), packet)

    def answered_by_another(self, req: IpcRequest) -> bool:
        """Whether another member has already answered this group request (we overheard it)."""
        origin: Origin | None = req.remote
        return origin is not None and (origin.src_pid, origin.seq) in self.overheard

    def answer_directly(self, req: IpcRequest) -> None:
        """Reply to this group request to its sender only, as V's members did (first-reply)."""
        if req.remote is not None:
            req.remote.direct = True

    def send_nack(self, req: IpcRequest, error: int) -> None:
        origin: Origin = req.remote
        key = (origin.src_pid, origin.seq)
        self.in_progress.pop(key, None)
        if origin.group:
            return
        packet = Packet(Kind.NACK, origin.seq, 0, origin.src_pid, status=error)
        self._retain(key, packet)
        self.transmit(origin.mac, packet)

    def notify_forwarded(self, req: IpcRequest, to_pid: int) -> None:
        """A remote sender's request now awaits to_pid, here: tell its kernel (rule 8).

        The notice can be lost: the request is recorded as being served by to_pid, so that a
        retransmission is answered with FORWARDED again rather than REPLY_PENDING (rule 2).
        """
        origin: Origin = req.remote
        key = (origin.src_pid, origin.seq)
        if key in self.in_progress:
            self.in_progress[key] = to_pid
        self.transmit(origin.mac, self._forwarded(origin.seq, to_pid, origin.src_pid))

    def _forwarded(self, seq: int, to_pid: int, sender: int) -> Packet:
        return Packet(Kind.FORWARDED, seq, to_pid, sender, lhid=self.lh_of_local(to_pid))

    def forward_request(self, req: IpcRequest, to_pid: int) -> None:
        """Pass a request on to a process on another machine, as if its sender sent it there."""
        if req.remote is not None:
            origin: Origin = req.remote
            seq, sender_mac = origin.seq, origin.mac
            self.in_progress.pop((origin.src_pid, seq), None)
            # rule 8: the sender's kernel sends the message on itself (a new SEND from its own
            # station, so the new replier learns where to reply and the sender's own machine is
            # handled too); FORWARDED carries the message to it
            notice = Packet(Kind.FORWARDED, seq, to_pid, origin.src_pid, msg=req.msg)
            self._retain((origin.src_pid, seq), notice)  # a late retransmission learns it again
            self.transmit(sender_mac, notice)
            return
        sender = self.k.processes.get(req.sender)
        if sender is None or sender.awaiting is None:
            return
        txn = SendTxn(sender, to_pid, req.msg, self.next_seq(), group=False)
        sender.awaiting.dst = to_pid
        sender.awaiting.transaction = txn
        self.sends[(sender.pid, txn.seq)] = txn
        self._send_txn(txn)

    def _retain(self, key: tuple[int, int], packet: Packet) -> None:
        now = self.sim.now
        self.retained[key] = (now + self.retain_ns, packet)
        self.retained.move_to_end(key)
        while self.retained:
            first = next(iter(self.retained))
            if self.retained[first][0] > now:
                break
            del self.retained[first]

    # --- groups ------------------------------------------------------------------------
    def joined_group(self, gid: int) -> None:
        if abi.pid_lhid(gid) == 0:  # a well-known global group: listen to its multicast address
            self.nic.join_group(pk.group_mac(gid))

    # --- bulk data ----------------------------------------------------------------------
    # Both sides of a transfer have a timer (rule 22): the data sender counts retransmission
    # intervals and acks that bring no progress, the MoveFrom requester intervals without a new
    # packet, the MoveTo receiver forgets a transfer the mover went silent on. Each ends within
    # `bound_ns` of the last progress it saw.
    def move_to(self, proc: Process, req: IpcRequest, dst: int, data: bytes) -> None:
        origin: Origin = req.remote
        seq = self.next_seq()
        mac = self.bindings.get(abi.pid_lhid(origin.src_pid), origin.mac)

        def done(err: int) -> None:
            self.k.complete(proc, err)

        self._start_bulk(mac, proc.pid, origin.src_pid, seq, dst, data, done)

    def move_from(self, proc: Process, req: IpcRequest, src: int, count: int) -> None:
        origin: Origin = req.remote
        seq = self.next_seq()
        mac = self.bindings.get(abi.pid_lhid(origin.src_pid), origin.mac)
        key = (origin.src_pid, seq)
        state = BulkIn(
            total=count,
            target=proc.pid,
            buffer=bytearray(count),
            peer=origin.src_pid,
            seq=seq,
            heard=self.sim.now,
            origin_mac=origin.mac,
        )

        def done(value: bytes | int) -> None:
            self.k.complete(proc, value)

        state.on_done = done
        self.bulk_in[key] = state
        if count == 0:
            self._finish_in(key, state)
            return
        state.request = Packet(
            Kind.MOVEFROM_REQ,
            seq,
            proc.pid,
            origin.src_pid,
            offset=src,
            total=count,
            lhid=proc.lhid,
        )
        self.transmit(mac, state.request)
        self._arm_in(key, state)

    def _arm_in(self, key: tuple[int, int], state: BulkIn) -> None:
        state.timer = self.sim.at(self.sim.now + self.rto, lambda: self._in_tick(key, state))

    def _in_tick(self, key: tuple[int, int], state: BulkIn) -> None:
        """Every RETX_INTERVAL while a transfer is being received."""
        state.timer = None
        if state.complete or self.bulk_in.get(key) is not state:
            return
        if state.request is None:  # a MoveTo's receiver
            silent = self.sim.now - state.heard
            if silent >= self.bound_ns:  # the mover has given up (or gone): forget it
                del self.bulk_in[key]
                return
            target = self.k.processes.get(state.target)
            if silent >= self.rto and target is not None and not target.lh.frozen:
                # the mover's prompts (or our acks) are being lost: say again what is missing
                first = state.first_missing()
                self.transmit(
                    state.mac or self.station_of(state.peer),
                    Packet(
                        Kind.MOVE_ACK,
                        state.seq,
                        state.target,
                        state.peer,
                        offset=first,
                        lhid=self.lh_of_local(state.target),
                        total=pk.ack_bitmap(first, state.received),
                    ),
                )
            self._arm_in(key, state)
            return
        if len(state.received) > state.seen:  # a MoveFrom's requester: data came in
            state.seen = len(state.received)
            state.tries = 0
        else:
            state.tries += 1
            if state.tries > self.max_tries:
                self.stats.timeouts += 1
                # the source's kernel gives up too (it would also time out by itself)
                self.transmit(
                    self.station_of(state.peer),
                    Packet(
                        Kind.MOVE_ABORT,
                        state.seq,
                        state.target,
                        state.peer,
                        status=-abi.ETIMEOUT,
                        lhid=self.lh_of_local(state.target),
                    ),
                )
                self._fail_in(key, state, -abi.ETIMEOUT)
                return
            if state.tries == self.invalidate_after:  # the source may have migrated: ask everybody
                if self.bindings.pop(abi.pid_lhid(state.peer), None) is not None:
                    self.stats.binding_invalidations += 1
            # rule 11: ask again, saying what arrived, so that the source resends only what is
            # missing (or starts over, if it has given up meanwhile)
            self.stats.retransmissions += 1
            first = state.first_missing()
            resume = (
                pk.resume_data(first, pk.ack_bitmap(first, state.received))
                if state.received
                else b""
            )
            self.transmit(
                self.station_of(state.peer),
                replace(state.request, flags=Flag.IS_RETRANSMISSION, data=resume),
            )
        self._arm_in(key, state)

    def _start_bulk(
        self,
        mac: bytes,
        src_pid: int,
        dst_pid: int,
        seq: int,
        base: int,
        data: bytes,
        on_done: Callable[[int], None],
        first: int = 0,
        bitmap: int = 0,
        answer: bool = False,
    ) -> None:
        out = BulkOut(
            (src_pid, seq), mac, src_pid, dst_pid, seq, base, data, on_done, answer=answer
        )
        self.bulk_out[out.key] = out
        if not data:
            self._bulk_finish(out, 0)
            return
        self._advance(out, first, bitmap, fresh_start=True)

    def _send_train(self, out: BulkOut, offsets: list[int], resent: int = 0) -> None:
        """Send the packets at offsets; the first `resent` of them were sent before."""
        if not offsets:
            return
        for i, off in enumerate(offsets):
            last = i == len(offsets) - 1
            flags = Flag.LAST_OF_TRAIN if last else 0
            if i < resent:
                flags |= Flag.IS_RETRANSMISSION
            chunk = out.data[off : off + DATA]
            self.k.charge(self.copy_charge(len(chunk)))  # copying the data into the interface
            self.transmit(
                self.station_of(out.dst_pid) or out.mac,
                Packet(
                    Kind.MOVE_DATA,
                    out.seq,
                    out.src_pid,
                    out.dst_pid,
                    flags=flags,
                    status=out.base,
                    offset=off,
                    total=len(out.data),
                    lhid=self.lh_of_local(out.src_pid),
                    data=chunk,
                ),
            )
        out.sent_to = max(out.sent_to, offsets[-1] + DATA)
        out.last = offsets[-1]

    def _arm_out(self, out: BulkOut) -> None:
        """RETX_INTERVAL from now (the last progress, or the last try), the next try."""
        if out.timer is not None:
            self.sim.cancel(out.timer)
        out.timer = self.sim.at(self.sim.now + self.rto, lambda: self._bulk_timeout(out))

    def _bulk_timeout(self, out: BulkOut) -> None:
        out.timer = None
        if out.done:
            return
        out.tries += 1
        if out.tries > self.max_tries:
            self._bulk_give_up(out)
            return
        if out.tries == self.invalidate_after:  # the receiver may have migrated: ask everybody
            if self.bindings.pop(abi.pid_lhid(out.dst_pid), None) is not None:
                self.stats.binding_invalidations += 1
            out.mac = pk.BROADCAST_MAC
        self.stats.retransmissions += 1
        # prompt an ack: resend the last packet of the train in flight (rule 10), the one whose
        # loss, or whose ack's loss, left us waiting (a train of resent packets ends below sent_to)
        self._send_train(out, [out.last], resent=1)
        self._arm_out(out)

    def _bulk_give_up(self, out: BulkOut) -> None:
        self.stats.timeouts += 1
        if not out.answer:
            # a MoveTo: the receiver forgets it now (it would by itself); a MoveFrom's source
            # stays silent instead, so that a requester that is still there can ask again
            self.transmit(
                self.station_of(out.dst_pid) or out.mac,
                Packet(
                    Kind.MOVE_ABORT,
                    out.seq,
                    out.src_pid,
                    out.dst_pid,
                    status=-abi.ETIMEOUT,
                    lhid=self.lh_of_local(out.src_pid),
                ),
            )
        self._bulk_finish(out, -abi.ETIMEOUT)

    def _on_ack(self, p: Packet) -> None:
        out = self.bulk_out.get((p.dst_pid, p.seq))
        if out is None or out.done:
            return
        if p.status < 0:
            self._bulk_finish(out, p.status)
            return
        source = self.k.processes.get(out.src_pid) if out.answer else None
        if source is not None:
            self._served(source)
        self._advance(out, p.offset, p.total)

    def _served(self, proc: Process) -> None:
        """proc's server is moving data with it: as good as REPLY_PENDING for its Send (rule 3)."""
        out = proc.awaiting
        txn = out.transaction if out is not None else None
        if txn is not None and self.sends.get((proc.pid, txn.seq)) is txn:
            txn.pending = True
            txn.tries = 0

    def _advance(self, out: BulkOut, first: int, bitmap: int, fresh_start: bool = False) -> None:
        """The receiver has everything below `first` and the packets `bitmap` names: send on."""
        progress = (first, bin(bitmap).count("1"))
        advanced = progress > out.progress or fresh_start
        if advanced:  # the timer counts intervals without progress: acks that bring none do not
            out.progress = max(progress, out.progress)  # postpone it (else a lossy path could
            out.tries = 0  # go on forever)
        out.acked = max(out.acked, first)
        if out.acked >= len(out.data):
            self._bulk_finish(out, 0)
            return
        # rule 10: resend exactly the packets the ack names as missing; packets beyond the
        # MAX_TRAIN its bitmap describes are unknown, not missing (most of them arrived): a later
        # ack, from further on, names those that did not
        reach = min(out.sent_to, len(out.data), first + pk.MAX_TRAIN * DATA)
        missing = pk.ack_missing(first, bitmap, reach) if reach > first else []
        room = max(0, self.train - len(missing))
        fresh = [
            off
            for off in range(max(out.sent_to, first), len(out.data), DATA)
            if not pk.ack_has(first, bitmap, off)
        ][:room]
        self.stats.retransmissions += len(missing)
        self._send_train(out, missing + fresh, resent=len(missing))
        if advanced or out.timer is None:
            self._arm_out(out)

    def _bulk_finish(self, out: BulkOut, err: int) -> None:
        out.done = True
        if out.timer is not None:
            self.sim.cancel(out.timer)
            out.timer = None
        self.bulk_out.pop(out.key, None)
        out.on_done(err)

    @staticmethod
    def copy_charge(nbytes: int) -> tuple[str, float]:
        """The copy of `nbytes` between memory and the interface, as a charge: page_copy_us per 4 KB."""
        return ("page_copy_us", nbytes / abi.PAGE_SIZE)

    def _on_move_data(self, src_mac: bytes, p: Packet) -> None:
        key = (p.src_pid, p.seq)
        done = self._done(key)
        if done is not None:  # a duplicate after the end (the final ack can be lost): ack again
            if p.flags & Flag.LAST_OF_TRAIN or done[1] < 0:
                self._answer(src_mac, p, Kind.MOVE_ACK, status=done[1], offset=done[0])
            return
        state = self.bulk_in.get(key)
        target = self.k.processes.get(p.dst_pid)
        if target is None and not self.k.is_local(p.dst_pid):
            return  # not ours (it migrated away, or a broadcast): stay silent, the mover rebinds
        if state is None:
            # the first packet of a MoveTo into a local process
            if target is None or target.state is State.DEAD:
                self._abort_in(src_mac, p, -abi.ENOPROC)
                return
            awaits = self._awaits(target, p.src_pid, p.seq)
            if awaits is None:
                return  # perhaps forwarded to the mover: asking (the mover retransmits)
            if not awaits:
                self._abort_in(src_mac, p, -abi.ENOTAWAITING)
                return
            if self._paging(target, p.status, p.total):
                return  # its pages are coming from the file server: the mover retransmits
            if not self.k.memory.check(target, p.status, p.total, write=True):
                self._abort_in(src_mac, p, -abi.EFAULT)
                return
            state = BulkIn(total=p.total, target=p.dst_pid, peer=p.src_pid, seq=p.seq, mac=src_mac)
            self.bulk_in[key] = state
            self._arm_in(key, state)
        state.heard = self.sim.now
        if target is not None and state.buffer is None:
            self._served(target)
        if target is not None and target.lh.frozen and state.buffer is None:
            # a MoveTo into a frozen process is a request to it: deferred (V 3.1.3); a MoveFrom
            # the frozen process itself started gathers on, so that the freeze can settle
            self.stats.dropped_frozen += 1
            self._answer(src_mac, p, Kind.REPLY_PENDING)
            return
        if p.offset not in state.received and p.offset < state.total:
            self.k.charge(self.copy_charge(len(p.data)))  # copying it out of the interface
            state.received.add(p.offset)
            if state.buffer is not None:
                state.buffer[p.offset : p.offset + len(p.data)] = p.data
            elif target is not None:
                self.k.memory.write(target, p.status + p.offset, p.data)
        else:
            self.stats.duplicates += 1
        first = state.first_missing()
        if first >= state.total:
            self._answer(src_mac, p, Kind.MOVE_ACK, offset=state.total)
            self._finish_in(key, state)
        elif p.flags & Flag.LAST_OF_TRAIN:
            bitmap = pk.ack_bitmap(first, state.received)
            self._answer(src_mac, p, Kind.MOVE_ACK, offset=first, total=bitmap)

    def _finish_in(self, key: tuple[int, int], state: BulkIn) -> None:
        if state.complete:
            return
        self._end_in(key, state, state.total, 0)
        if state.on_done is not None:
            state.on_done(bytes(state.buffer or b""))

    def _fail_in(self, key: tuple[int, int], state: BulkIn, err: int) -> None:
        if state.complete:
            return
        self._end_in(key, state, 0, err)
        if state.on_done is not None:
            state.on_done(err)

    def _end_in(self, key: tuple[int, int], state: BulkIn, offset: int, status: int) -> None:
        state.complete = True
        if self.bulk_in.get(key) is state:
            del self.bulk_in[key]
        if state.timer is not None:
            self.sim.cancel(state.timer)
            state.timer = None
        # remembered for as long as the other side may still retransmit (then it has given up)
        now = self.sim.now
        self.bulk_done[key] = (offset, status, now + max(self.retain_ns, self.bound_ns))
        self.bulk_done.move_to_end(key)
        while self.bulk_done and next(iter(self.bulk_done.values()))[2] <= now:
            self.bulk_done.popitem(last=False)

    def _done(self, key: tuple[int, int]) -> tuple[int, int, int] | None:
        done = self.bulk_done.get(key)
        if done is not None and done[2] <= self.sim.now:
            del self.bulk_done[key]
            return None
        return done

    def _answer(self, mac: bytes, p: Packet, kind: Kind, **fields: int) -> None:
        """Answer p: the same transaction (seq), from its destination back to its source,
        with the logical host of the local destination so the other kernel rebinds."""
        self.transmit(
            mac,
            Packet(kind, p.seq, p.dst_pid, p.src_pid, lhid=self.lh_of_local(p.dst_pid), **fields),
        )

    def _abort_in(self, mac: bytes, p: Packet, err: int) -> None:
        self._answer(mac, p, Kind.MOVE_ACK, status=err)

    def _paging(self, proc: Process, addr: int, n: int) -> bool:
        """Whether [addr, addr+n) of proc has non-resident pages; if so, ask the pager for them."""
        pager = self.k.pager
        missing = pager.missing(proc.team, addr, n) if pager is not None else set()
        if missing:
            pager.request(proc.team, missing)
        return bool(missing)

    def _awaits(self, proc: Process, mover: int, seq: int) -> bool | None:
        """Whether proc awaits a reply from mover; None: not known yet, being asked (rule 12).

        A remote Send may have been forwarded to the mover by the server's kernel, and the
        FORWARDED notice lost: the kernel then retransmits the Send at once and stays silent;
        the answer (FORWARDED naming the mover, or REPLY_PENDING, or the reply) settles the
        mover's next retransmission.
        """
        out = proc.awaiting
        if proc.state is not State.SEND_BLOCKED or out is None:
            return False
        if out.dst == mover or out.group:
            return True
        txn = out.transaction
        if txn is None or txn.group or self.sends.get((proc.pid, txn.seq)) is not txn:
            return False  # a Send on this machine: the kernel knows where it is
        now = self.sim.now
        asked = self.doubts.get((mover, seq))
        if asked is not None:
            return False if txn.heard > asked else None
        self.doubts[(mover, seq)] = now
        while self.doubts and next(iter(self.doubts.values())) < now - self.bound_ns:
            self.doubts.popitem(last=False)
        self._probe(txn)
        return None

    def _on_movefrom_req(self, src_mac: bytes, p: Packet) -> None:
        key = (p.dst_pid, p.seq)  # we send from dst_pid's memory
        first, bitmap = pk.resume_of(p.data)
        if first % DATA or first > p.total:
            first, bitmap = 0, 0  # nonsense: resend it all
        out = self.bulk_out.get(key)
        if out is not None:  # asked again: the requester heard nothing for a while
            if p.flags & Flag.IS_RETRANSMISSION:
                source = self.k.processes.get(p.dst_pid)
                if source is not None:
                    self._served(source)
                self._advance(out, first, bitmap)
            return
        source = self.k.processes.get(p.dst_pid)
        if source is None and not self.k.is_local(p.dst_pid):
            return  # not ours: stay silent, the requester rebinds
        if source is None or source.state is State.DEAD:
            err = -abi.ENOPROC
        else:
            awaits = self._awaits(source, p.src_pid, p.seq)
            if awaits is None:
                return  # perhaps forwarded to the requester: asking (the requester retransmits)
            if not awaits:
                err = -abi.ENOTAWAITING
            elif self._paging(source, p.offset, p.total):
                return  # the requester retransmits once the pages are in
            elif not self.k.memory.check(source, p.offset, p.total, write=False):
                err = -abi.EFAULT
            else:
                # a first request, or one whose transfer this side gave up on: (re)start it, from
                # what the requester says it lacks (reading is idempotent: the source is blocked)
                self._served(source)
                data = self.k.memory.read(source, p.offset, p.total)
                self._start_bulk(
                    src_mac,
                    p.dst_pid,
                    p.src_pid,
                    p.seq,
                    0,
                    data,
                    lambda err: None,
                    first,
                    bitmap,
                    answer=True,
                )
                return
        self._answer(src_mac, p, Kind.MOVE_ABORT, status=err)

    def _on_move_abort(self, p: Packet) -> None:
        key = (p.src_pid, p.seq)  # from the data's sender (a MoveFrom's source, or a mover)
        state = self.bulk_in.get(key)
        if state is not None:
            self._fail_in(key, state, p.status)
        out = self.bulk_out.get((p.dst_pid, p.seq))  # from a MoveFrom's requester that gave up
        if out is not None and out.answer and not out.done:
            self._bulk_finish(out, p.status)

    # --- receiving --------------------------------------------------------------------
    def on_frame(self, frame: bytes) -> None:
        if not self.k.powered:
            return
        global _last_parsed
        if _last_parsed[0] is frame and type(frame) is bytes:  # a multicast frame: parsed once
            parsed = _last_parsed[1]
        else:
            try:
                parsed = pk.parse_frame(frame)
            except pk.PacketError as exc:
                parsed = exc
            _last_parsed = (frame, parsed)
        if isinstance(parsed, pk.PacketError):
            reason = parsed.reason
            self.stats.malformed[reason] = self.stats.malformed.get(reason, 0) + 1
            return
        _dst, src_mac, packet = parsed
        self.stats.received += 1
        self.sim.at(self.k.charge("packet_receive_us"), lambda: self.handle(src_mac, packet))

    def handle(self, src_mac: bytes, p: Packet) -> None:
        if not self.k.powered:
            return
        if p.lhid and p.kind is not Kind.LH_QUERY and not self._from_void(p):
            self.learn(p.lhid, src_mac)
        kind = p.kind
        if kind is Kind.SEND:
            self._on_send(src_mac, p)
        elif kind is Kind.REPLY:
            self._on_reply(p)
        elif kind is Kind.REPLY_PENDING:
            txn = self.sends.get((p.dst_pid, p.seq))
            if txn is not None:
                txn.pending = True
                txn.tries = 0
                txn.heard = self.sim.now
            out = self.bulk_out.get((p.dst_pid, p.seq))
            if out is not None:
                out.tries = 0
        elif kind is Kind.NACK:
            txn = self.sends.pop((p.dst_pid, p.seq), None)
            if txn is not None and not txn.group:
                self.cancel(txn)
                self.k.finish_send(txn.proc, p.status or -abi.ENOPROC, b"")
        elif kind is Kind.FORWARDED:
            txn = self.sends.get((p.dst_pid, p.seq))
            if txn is not None and p.msg:
                # forwarded elsewhere: Send the message to the new replier
                if (
                    txn.proc.lh.frozen
                    or txn.proc.awaiting is None
                    or txn.proc.awaiting.transaction is not txn
                ):
                    return  # a frozen sender learns it again from its next retransmission
                self.cancel(txn)
                self.k.send(txn.proc, p.msg, p.src_pid, msg_addr=txn.proc.awaiting.msg_addr)
            elif txn is not None:
                # delivered at the forwarder's kernel: await the new replier there
                txn.dst = p.src_pid
                txn.tries = 0
                txn.pending = True  # an answer, as REPLY_PENDING is
                txn.heard = self.sim.now
                if txn.proc.awaiting is not None:
                    txn.proc.awaiting.dst = p.src_pid
        elif kind is Kind.MOVE_DATA:
            self._on_move_data(src_mac, p)
        elif kind is Kind.MOVE_ACK:
            self._on_ack(p)
        elif kind is Kind.MOVEFROM_REQ:
            self._on_movefrom_req(src_mac, p)
        elif kind is Kind.MOVE_ABORT:
            self._on_move_abort(p)
        elif kind is Kind.LH_QUERY:
            if p.lhid in self.k.lhs and not self.k.lhs[p.lhid].frozen:
                self.transmit(src_mac, Packet(Kind.LH_HERE, 0, 0, 0, lhid=p.lhid))
        elif kind is Kind.LH_HERE:
            self.learn(p.lhid, src_mac)
            if p.status == LH_RESTARTED:
                self.void_incarnation(p.lhid, src_mac)
                self._newer_incarnation(p.lhid, p.seq)
                if getattr(self.k, "checkpoints", None) is not None:
                    self.k.checkpoints.superseded(p.lhid, src_mac)  # a copy of ours is void
                if self.k.rfork is not None:  # its rfork children's exits, told again
                    self.k.rfork.parent_restarted(p.lhid, p.seq)
        elif kind is Kind.MIGRATE and self.k.migration is not None:
            self.k.migration.on_packet(src_mac, p)
        elif kind is Kind.LOAD:
            pm = self.k.servers.get("program")
            if pm is not None and pm.gossip is not None:
                pm.gossip.hear(p)

    def _on_send(self, src_mac: bytes, p: Packet) -> None:
        if self._impostor(src_mac, p):
            return
        key = (p.src_pid, p.seq)
        redirect = self.redirects.get(key)
        if redirect is not None and abi.is_group(p.dst_pid) and self.k.is_local(p.dst_pid):
            # a request to a logical host's local group that the server of its previous host
            # took before the logical host moved here: that server has (or will have) the answer
            # (not the request sent on to that server, heard by broadcast: it is not ours)
            self.transmit(src_mac, Packet(Kind.FORWARDED, p.seq, redirect, p.src_pid))
            return
        group = bool(p.flags & Flag.GROUP)
        retained = self.retained.get(key)
        if retained is not None and retained[0] <= self.sim.now:
            del self.retained[key]  # expired (rule 2): a new request
            retained = None
        if retained is not None:
            self.stats.duplicates += 1
            self._retain(key, retained[1])  # rule 6: each retransmission restarts the retention
            if retained[1].kind is Kind.REPLY or not group:
                self.transmit(src_mac, retained[1])
            return
        serving = self.in_progress.get(key)
        if serving is not None and not group and serving not in self.k.processes:
            # its server is gone and did not answer (the record outlived it): not a duplicate
            # any more; taken as new, it is refused (rule 5) or ignored (not ours)
            del self.in_progress[key]
            serving = None
        if serving is not None:
            self.stats.duplicates += 1
            if group:
                return
            if serving != p.dst_pid and not abi.is_group(p.dst_pid):
                # forwarded here to another process (and the sender did not learn it): again
                self.transmit(src_mac, self._forwarded(p.seq, serving, p.src_pid))
                return
            self.stats.reply_pending_sent += 1
            self._answer(src_mac, p, Kind.REPLY_PENDING)
            return
        from vkernel.kernel import IpcRequest

        dst = p.dst_pid
        if group and abi.pid_lhid(dst) == 0:
            members = sorted(self.k.groups.get(dst, ()))
            if not members:
                return
            self.in_progress[key] = members[0]
            for member in members:
                self.k.deliver(
                    IpcRequest(
                        p.src_pid, p.msg, remote=Origin(src_mac, p.seq, p.src_pid, dst), group=dst
                    ),
                    member,
                )
            return
        lhid = abi.pid_lhid(dst)
        lh = self.k.lhs.get(lhid)
        if lh is None:
            if self.k.migration is not None and lhid in self.k.migration.handing_over and not group:
                # it migrated from here and its new copy does not run yet (the commit's "go" is on
                # its way): the sender waits rather than counting retransmissions (PROTOCOL.md 17)
                self.transmit(src_mac, Packet(Kind.REPLY_PENDING, p.seq, dst, p.src_pid))
            return  # not ours (a broadcast, or a stale binding): stay silent
        target = self.k.local_group_target(dst) if abi.is_group(dst) else dst
        if target is None:
            self.transmit(src_mac, Packet(Kind.NACK, p.seq, 0, p.src_pid, status=-abi.ENOPROC))
            return
        origin = Origin(src_mac, p.seq, p.src_pid)
        self.in_progress[key] = target
        if abi.is_group(dst):
            self.k.charge("local_group_us")
            self.taken_for[key] = dst  # a local-group request: see migration's redirects
            while len(self.taken_for) > 4096:
                self.taken_for.popitem(last=False)
        if lh.frozen:
            lh.deferred.append((IpcRequest(p.src_pid, p.msg, remote=origin, group=0), target))
            self.stats.reply_pending_sent += 1
            self.transmit(
                src_mac,
                Packet(Kind.REPLY_PENDING, p.seq, dst, p.src_pid, lhid=self.lh_of_local(p.dst_pid)),
            )
            return
        self.k.deliver(IpcRequest(p.src_pid, p.msg, remote=origin), target)

    def _on_reply(self, p: Packet) -> None:
        key = (p.dst_pid, p.seq)
        if p.flags & Flag.GROUP_REPLY and not self.k.is_local(p.dst_pid):
            self.overheard[key] = self.sim.now  # another member answered a group request
            while len(self.overheard) > 4096:
                self.overheard.popitem(last=False)
            ours = self.answers_out.pop(key, None)
            if ours is not None and self.nic.withdraw(ours):  # still queued: moot now
                self.stats.answers_withdrawn += 1
            return
        txn = self.sends.get(key)
        if txn is None:
            return  # late or duplicate (a group's later answers)
        if txn.proc.lh.frozen:
            self.stats.dropped_frozen += 1
            return  # recovered by retransmission after the migration
        self.cancel(txn)
        if txn.proc.awaiting is not None and txn.proc.awaiting.transaction is txn:
            self.k.finish_send(txn.proc, p.src_pid, p.msg)

    def shutdown(self) -> None:
        """The machine crashed: cancel every timer, forget every transfer."""
        for txn in list(self.sends.values()):
            if txn.timer is not None:
                self.sim.cancel(txn.timer)
        for out in list(self.bulk_out.values()):
            if out.timer is not None:
                self.sim.cancel(out.timer)
        for state in list(self.bulk_in.values()):
            if state.timer is not None:
                self.sim.cancel(state.timer)
        self.sends.clear()
        self.bulk_out.clear()
        self.bulk_in.clear()
        self.doubts.clear()

    # --- after a migration ---------------------------------------------------------------
    def announce(self, lhid: int) -> None:
        """Broadcast the new binding of a logical host (it now lives here)."""
        self.transmit(None, Packet(Kind.LH_HERE, 0, 0, 0, lhid=lhid))

    def forget(self, lhid: int) -> None:
        self.bindings.pop(lhid, None)

    def announce_restart(self, lhid: int, incarnation: int = 0) -> None:
        """lhid was restarted here from a checkpoint: its old incarnation (on a crashed host) is
        void everywhere (void_incarnation); the announcement is also the new binding. Its seq is
        the new incarnation's number: servers refuse stamped requests of older ones
        (exactly_once.void)."""
        self.void_incarnation(lhid, self.k.machine.mac)
        self._newer_incarnation(lhid, incarnation)
        self.transmit(None, Packet(Kind.LH_HERE, incarnation, 0, 0, lhid=lhid, status=LH_RESTARTED))
        if self.k.rfork is not None:  # its rfork children built here: their exits, told again
            self.k.rfork.parent_restarted(lhid, incarnation)

    def _impostor(self, src_mac: bytes, p: Packet) -> bool:
        """A request from a process of a restarted logical host that runs here: it comes from a
        void incarnation elsewhere (a copy that ran on cut off). It is not served (its MoveFrom's
        would read this copy's memory); its host is told the logical host was restarted."""
        lhid = abi.pid_lhid(p.src_pid)
        lh = self.k.lhs.get(lhid)
        if lhid not in self.incarnations or lh is None or lh.system or lh.frozen or lh.migrating:
            return False
        packet = Packet(Kind.LH_HERE, self.incarnations[lhid], 0, 0, lhid=lhid, status=LH_RESTARTED)
        self.transmit(src_mac, packet)
        return True

    def _from_void(self, p: Packet) -> bool:
        """A request stamped by a void incarnation of a restarted logical host (a copy that ran
        on cut off): it says nothing of where the logical host lives (its server refuses it)."""
        newest = self.incarnations.get(p.lhid, 0)
        if not newest or p.kind is not Kind.SEND or len(p.msg) < 32:
            return False
        inc = exactly_once.incarnation_of(unpack(p.msg))
        return inc is not None and inc < newest

    def _newer_incarnation(self, lhid: int, incarnation: int) -> None:
        if incarnation > self.incarnations.get(lhid, 0):
            self.incarnations[lhid] = incarnation

    def void_incarnation(self, lhid: int, new_mac: bytes) -> None:
        """Logical host lhid runs again from a checkpoint at new_mac: what its old incarnation had
        under way here is void (its pids are the same, its requests are not). Requests from it
        that servers here hold (queued or being served) are dropped (a server's Reply to one then
        fails with -ENOTAWAITING), MoveTo's into it and MoveFrom's out of it given up, the
        answers kept for it forgotten."""
        k = self.k

        def old(req) -> bool:
            return (
                abi.pid_lhid(req.sender) == lhid
                and req.remote is not None
                and req.remote.mac != new_mac
            )

        for out in list(self.bulk_out.values()):
            if abi.pid_lhid(out.dst_pid) == lhid and out.mac != new_mac and not out.answer:
                self._bulk_finish(out, -abi.ENOPROC)
        # MoveFrom's out of it: asked of the old incarnation, they must not be answered from the
        # new one's memory (its replay holds other data at the same addresses)
        for key, state in list(self.bulk_in.items()):
            if (
                state.request is not None
                and abi.pid_lhid(state.peer) == lhid
                and state.origin_mac != new_mac
                and not state.complete
            ):
                self._fail_in(key, state, -abi.ENOPROC)
        for proc in k.processes.values():
            if any(old(req) for req in proc.msg_queue):
                proc.msg_queue = type(proc.msg_queue)(r for r in proc.msg_queue if not old(r))
            pending = k._pending.get(proc.pid)
            if pending:
                for sender in [s for s, req in pending.items() if old(req)]:
                    req = pending.pop(sender)
                    self.in_progress.pop((req.remote.src_pid, req.remote.seq), None)
        for key in [key for key in self.retained if abi.pid_lhid(key[0]) == lhid]:
            del self.retained[key]

    # --- a logical host's IPC state, captured and restored (vkernel/capture.py) --------------------
    def capture_lh(self, lhid: int, deferred_keys: set[tuple[int, int]]) -> dict[str, list]:
        """What the transport holds for logical host lhid: the answers its processes gave that
        are retained for retransmissions, and the requests to its local groups that servers
        here took (not those in deferred_keys: deferred by a freeze, their retransmissions
        reach the new host), whose retransmissions the new host sends back here."""
        retained = []
        for (src, seq), (_expiry, packet) in self.retained.items():
            if abi.pid_lhid(packet.src_pid) == lhid:
                retained.append(
                    {
                        "src": src,
                        "seq": seq,
                        "kind": int(packet.kind),
                        "replier": packet.src_pid,
                        "msg": packet.msg.hex(),
                        "status": packet.status,
                    }
                )
        redirects = []
        for (src, seq), group in self.taken_for.items():
            if (
                abi.pid_lhid(group) == lhid
                and (src, seq) not in deferred_keys
                and ((src, seq) in self.in_progress or (src, seq) in self.retained)
            ):
                server = self.k.local_group_target(group)
                if server is not None:
                    redirects.append([src, seq, server])
        return {"retained": retained, "redirects": redirects}

    def release_lh(self, members: set[int]) -> None:
        """Forget the dedup state of requests to these (departed) processes: retransmissions
        go to wherever they live now."""
        for key, target in list(self.in_progress.items()):
            if target in members:
                del self.in_progress[key]
        for key, (_exp, packet) in list(self.retained.items()):
            if packet.src_pid in members:
                del self.retained[key]
        for key in [key for key, state in self.bulk_in.items() if state.target in members]:
            del self.bulk_in[key]

    def restore_lh(
        self, redirects: list[tuple[int, int, int]], retained: list[tuple[tuple[int, int], Packet]]
    ) -> None:
        """Take over captured IPC state (capture_lh's, checked and staged by vkernel/capture.py)."""
        for src, seq, server in redirects:
            self.redirects[(src, seq)] = server
            while len(self.redirects) > 4096:
                self.redirects.popitem(last=False)
        for key, packet in retained:
            self._retain(key, packet)
