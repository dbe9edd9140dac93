"""Exactly-once effects across a restart from a checkpoint (issue 16).

A program restarted from its checkpoint replays what it did since: the
requests with effects it sends again must not act twice. The kernel of a
checkpointed logical host stamps them (words 4 and 5 of the message, unused
by these requests, the second being STAMP), with counters that live in the
logical host's checkpoint policy, so they are captured at the cut with the
rest of its state and replayed with it:

* IO_WRITE: the byte position in the stream (the server and instance it
  writes to): the display server and the file server show or write only the
  bytes past what they already took from that logical host on that instance;
* FS_OPEN, FS_REMOVE, IO_CLOSE to the file server: the index of the request
  among that logical host's requests of these kinds: the file server answers a
  replayed index with the answer it gave (and a replayed open gets back the
  same instance, even if it was closed since);
* all of these, and IO_READ, also carry (word 6) their place among the logical host's
  stamped requests to that server: the file server keeps what writes overwrite, and answers
  a replayed read with the file as it was at that place (Versions);
* PM_RFORK to the program's own program manager: the index of the fork among the logical
  host's forks (word 4): a replayed fork is answered with the child the first one made
  (vkernel/rfork.py).

A counter moves when the answer arrives (a write by the count the server took),
so a request that failed (no answer) is sent again under the same stamp and
acts at most once. Unstamped requests (every program that is not
checkpointed) are served as before.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from guest import abi
from vkernel.messages import signed, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel
    from vkernel.process import Process

STAMP = 0x53455131  # "SEQ1" in word 5 (plus the incarnation, below INCARNATIONS): word 4 is a stamp
INCARNATIONS = 256
INCARNATION_SERIALS = 100_000  # checkpoint.INCARNATION: the serials of one incarnation
OPS = (abi.FS_OPEN, abi.FS_REMOVE, abi.IO_CLOSE)
FORKS = "rfork"  # the counter of a logical host's forks (PM_RFORK)
MAX_REMEMBERED = 4096  # answers (and closed instances) a server keeps per logical host


def stamp(k: Kernel, proc: Process, msg: bytes, dst: int) -> tuple[bytes, tuple[str, str] | None]:
    """The message a guest's Send carries (stamped if its logical host is checkpointed), and
    the counter its answer moves: (key, "bytes" | "op"), or None."""
    ck = k.checkpoints
    if ck is None:
        return msg, None
    pol = ck.policies.get(proc.lhid)
    if pol is None:
        return msg, None
    m = unpack(msg)
    if m[0] == abi.PM_RFORK and dst == abi.make_pid(proc.lhid, abi.LOCAL_PROGRAM_MANAGER):
        if m[4] or m[5] or m[6]:
            return msg, None
        words = pol.io_seq.get(FORKS, 0).to_bytes(4, "big") + STAMP.to_bytes(4, "big")
        return msg[:16] + words + msg[24:], (FORKS, "op")
    if abi.is_group(dst):
        return msg, None
    order = pol.io_seq.get(f"all:{dst:08x}", 0)  # word 6: the request's place among its kind
    if m[0] == abi.IO_READ:  # word 4 is its offset: only the order
        if m[5] or m[6]:
            return msg, None
        key, kind, value = "", "read", m[4]
    elif m[4] or m[5] or m[6]:
        return msg, None  # the program uses these words itself
    elif m[0] == abi.IO_WRITE:
        key, kind = f"w:{dst:08x}:{m[1]}", "bytes"
        value = pol.io_seq.get(key, 0)
    elif m[0] in OPS:
        key, kind = f"op:{dst:08x}", "op"
        value = pol.io_seq.get(key, 0)
    else:
        return msg, None
    # word 5: STAMP plus the incarnation (restarts so far): a server refuses a void one's
    inc = min(INCARNATIONS - 1, pol.serial // INCARNATION_SERIALS)
    words = value.to_bytes(4, "big") + (STAMP + inc).to_bytes(4, "big") + order.to_bytes(4, "big")
    return msg[:16] + words + msg[28:], (key, kind, f"all:{dst:08x}")


def answered(
    k: Kernel, proc: Process, pending: tuple[str, ...], replier: int, reply: bytes
) -> None:
    """A stamped Send was answered: its counter moves (a failed Send leaves it: sent again, the
    same stamp acts at most once)."""
    ck = k.checkpoints
    pol = ck.policies.get(proc.lhid) if ck is not None else None
    if pol is None or replier <= 0:
        return
    refused(k, proc, replier, reply)
    key, kind, *order = pending
    status, count = unpack(reply)[:2]
    for k_all in order:
        pol.io_seq[k_all] = pol.io_seq.get(k_all, 0) + 1
    if kind == "read":
        return
    if kind == "bytes":
        if status == 0:
            pol.io_seq[key] = pol.io_seq.get(key, 0) + count
    else:
        pol.io_seq[key] = pol.io_seq.get(key, 0) + 1


def _is_stamped(m: tuple[int, ...]) -> bool:
    return STAMP <= m[5] < STAMP + INCARNATIONS


def stamped(m: tuple[int, ...]) -> int | None:
    """The stamp of a request (unpacked), or None."""
    return m[4] if _is_stamped(m) else None


def order_of(m: tuple[int, ...]) -> int | None:
    """A stamped request's place among its program's stamped requests to this server, or None."""
    return m[6] if _is_stamped(m) else None


def incarnation_of(m: tuple[int, ...]) -> int | None:
    """The incarnation a stamped request comes from (0: never restarted), or None."""
    return m[5] - STAMP if _is_stamped(m) else None


def reincarnate(msg: bytes, incarnation: int) -> bytes:
    """A stamped request (a whole message) as the given incarnation sends it (unstamped: as is)."""
    if len(msg) < 32 or not _is_stamped(unpack(msg)):
        return msg
    word = STAMP + min(INCARNATIONS - 1, incarnation)
    return msg[:20] + word.to_bytes(4, "big") + msg[24:]


def void(k: Kernel, sender: int, m: tuple[int, ...]) -> bool:
    """Whether a request comes from a void incarnation of its logical host: one restarted
    elsewhere since (a copy cut off in a partition that ran on). Its effects must not be seen:
    the server answers EKILLED, and its kernel removes it (`refused`). A kernel knows the
    newest incarnation of a logical host from its restart's announcement (LH_HERE "restarted",
    vkernel/transport.py) and from the stamps it served."""
    inc = incarnation_of(m)
    if inc is None or k.transport is None:
        return False
    known = k.transport.incarnations
    lhid = abi.pid_lhid(sender)
    if inc < known.get(lhid, 0):
        return True
    if inc:
        known[lhid] = inc
    return False


def refused(k: Kernel, proc: Process, replier: int, reply: bytes) -> None:
    """A stamped request of proc was answered EKILLED: its copy is a void incarnation (its
    program runs again elsewhere): it goes, without an exit."""
    if replier > 0 and signed(unpack(reply)[0]) == -abi.EKILLED and k.checkpoints is not None:
        lhid = proc.lhid
        lh = k.lhs.get(lhid)
        if lh is not None and not lh.migrating:
            lh.frozen = True  # it runs no more (not even to its exit) until it goes, at once
        k.sim.at(k.sim.now, lambda: k.checkpoints.superseded(lhid))


class Versions:
    """The file server's before-images of what checkpointed programs overwrote, so that a read
    a restarted program replays sees the file as it was at that point of the program's run
    (its own later writes undone). Kept per logical host, the last MAX_VERSION_BYTES."""

    MAX_VERSION_BYTES = 4 << 20

    def __init__(self) -> None:
        self.log: OrderedDict[int, list[tuple[int, str, int, bytes, int]]] = OrderedDict()
        self.bytes: dict[int, int] = {}

    def before(
        self, sender: int, order: int | None, name: str, at: int, old: bytes, size: int
    ) -> None:
        """A write (or a truncation) at `order` replaces `old` at `at` of a file of `size` bytes."""
        if order is None:
            return
        lhid = abi.pid_lhid(sender)
        log = self.log.setdefault(lhid, [])
        log.append((order, name, at, old, size))
        self.bytes[lhid] = self.bytes.get(lhid, 0) + len(old)
        while self.bytes[lhid] > self.MAX_VERSION_BYTES and log:
            self.bytes[lhid] -= len(log.pop(0)[3])
        self.log.move_to_end(lhid)
        while len(self.log) > MAX_REMEMBERED:
            gone, _ = self.log.popitem(last=False)
            self.bytes.pop(gone, None)

    def as_of(
        self, sender: int, order: int | None, name: str, at: int, data: bytes, count: int
    ) -> bytes:
        """data (of count asked) read at `at` of `name`, as it was before the sender's requests
        after `order`."""
        if order is None:
            return data
        later = [e for e in self.log.get(abi.pid_lhid(sender), ()) if e[0] > order and e[1] == name]
        if not later:
            return data
        buf = bytearray(data)
        end = at + count
        for _order, _name, w_at, old, size in reversed(later):  # the newest undone first
            lo, hi = max(at, w_at), min(end, w_at + len(old))
            if lo < hi:
                if len(buf) < hi - at:
                    buf.extend(bytes(hi - at - len(buf)))
                buf[lo - at : hi - at] = old[lo - w_at : hi - w_at]
            if size < at + len(buf):  # the file was shorter then
                del buf[max(0, size - at) :]
        return bytes(buf)


class WriteDedup:
    """A server's side of stamped IO_WRITEs: per (instance, logical host), the bytes taken.

    With `keep` (the display server's), the last `keep` bytes taken are kept too: a replayed
    write whose bytes differ from those taken at its positions is a replay that diverged (a
    peer it talked to was lost meanwhile): from the first difference on its bytes are fresh,
    and the stream goes on from its end (what the first incarnation wrote past it is void)."""

    def __init__(self, keep: int = 0) -> None:
        self.taken: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.keep = keep
        self.tail: dict[tuple[int, int], bytes] = {}  # the last `keep` bytes taken, ending at taken

    def fresh(self, inst: int, sender: int, position: int | None, data: bytes) -> bytes:
        """The part of data not taken before (all of it for an unstamped write)."""
        if position is None:
            return data
        key = (inst, abi.pid_lhid(sender))
        have = self.taken.get(key, 0)
        skip = max(0, min(len(data), have - position))
        end = max(have, position + len(data))
        if self.keep and skip:
            tail = self.tail.get(key, b"")
            base = have - len(tail)
            if position >= base:
                old = tail[position - base : position - base + skip]
                differ = next((i for i in range(skip) if old[i] != data[i]), None)
                if differ is not None:  # diverged: its bytes from there on are the stream
                    skip, end = differ, position + len(data)
                    tail = tail[: position + differ - base]
            self.tail[key] = (tail + data[skip:])[-self.keep :]
        elif self.keep:
            self.tail[key] = (self.tail.get(key, b"") + data[skip:])[-self.keep :]
        self.taken[key] = end
        self.taken.move_to_end(key)
        while len(self.taken) > MAX_REMEMBERED:
            gone, _ = self.taken.popitem(last=False)
            self.tail.pop(gone, None)
        return data[skip:]


class OpLog:
    """A server's side of stamped FS_OPEN / FS_REMOVE / IO_CLOSE: per logical host, the answers."""

    def __init__(self) -> None:
        self.answers: OrderedDict[int, dict[int, bytes]] = OrderedDict()

    def replay(self, sender: int, index: int | None) -> bytes | None:
        """The answer given to this request before, or None (not a replay: do it)."""
        if index is None:
            return None
        return self.answers.get(abi.pid_lhid(sender), {}).get(index)

    def record(self, sender: int, index: int | None, reply: bytes) -> None:
        if index is None:
            return
        lhid = abi.pid_lhid(sender)
        log = self.answers.setdefault(lhid, {})
        log.setdefault(index, reply)
        while len(log) > MAX_REMEMBERED:
            del log[min(log)]
        self.answers.move_to_end(lhid)
        while len(self.answers) > MAX_REMEMBERED:
            self.answers.popitem(last=False)
