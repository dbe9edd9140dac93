"""The file server: files on the machine's disk, served over the V I/O protocol."""

from __future__ import annotations

import logging
import struct
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import ckpt_store, ops
from vkernel.block_cache import BlockCache
from vkernel.exactly_once import OpLog, Versions, WriteDedup, order_of, stamped, void
from vkernel.filesystem import FileSystem, FsError
from vkernel.messages import error, pack, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

MAX_IO = 64 * 1024
OP_CODES = (abi.FS_OPEN, abi.FS_REMOVE, abi.IO_CLOSE)


@dataclass
class Instance:
    name: str
    mode: int
    offset: int
    owner: int  # pid that opened it


class FileServer:
    def __init__(self, kernel: Kernel, fs: FileSystem) -> None:
        self.k = kernel
        self.fs = fs
        self.instances: dict[int, Instance] = {}
        self.next_instance = 1
        # what a program restarted from a checkpoint replays acts once (vkernel/exactly_once.py)
        self.dedup = WriteDedup()
        self.ops = OpLog()
        self.versions = Versions()
        self.closed: dict[int, Instance] = {}  # instances closed, for a replayed open
        self.merges = {"merged": 0, "failed": 0, "removed": 0}  # checkpoint chains (ckpt_store)
        self.to_merge: list[tuple[str, int]] = []  # (name, spare): the merge worker's queue
        self.merging = False  # the merge worker runs
        self.stats = {"opens": 0, "reads": 0, "writes": 0, "bytes_read": 0, "bytes_written": 0}
        # The block cache (vkernel/block_cache.py) sits between the file system and the disk.
        self.disk = fs.disk
        cfg = kernel.machine.config.disk
        blocks = (cfg.cache_kb * 1024 if cfg is not None else 0) // self.disk.block_size
        self.cache = BlockCache(self.disk, blocks)
        fs.disk = self.cache

    def start(self):
        # no kernel is told its pid: each asks the file server group (vkernel/locate.py), where a
        # process of its own answers, so that a query never waits behind the server's disk
        proc = self.k.spawn_server(self.k.system_lh, "file-server", self.body, restart=True)
        self.k.spawn_server(
            self.k.system_lh, "file-server-name", lambda pid: self.name_body(proc.pid), restart=True
        )
        return proc

    def name_body(self, server: int) -> Generator[Any, Any, None]:
        """Member of the file server group: FS_QUERY_SERVER -> the file server's pid."""
        yield ops.JoinGroup(abi.FILE_SERVER_GROUP)
        while True:
            sender, msg = yield ops.Receive()
            code = unpack(msg)[0]
            yield ops.Reply(
                sender, pack(0, server) if code == abi.FS_QUERY_SERVER else error(abi.EBADCALL)
            )

    def report(self) -> dict[str, int | float]:
        """The request counters, the cache's (hit rate) and the disk's (seeks, busy time)."""
        return {**self.stats, **self.cache.counters(), **self.disk.counters()}

    def on_disk(self, fn, *args):
        """Do the file system operation fn(*args) on the disk, then block until the disk has
        done it: a device wait (ops.DeviceWait), so this machine's CPU is free meanwhile."""
        disk, now = self.disk, self.k.sim.now
        disk.begin(now)
        try:
            result = fn(*args)
        finally:
            done = disk.end()
        if done > now:
            yield ops.DeviceWait(done - now)
        return result

    def body(self, pid: int) -> Generator[Any, Any, None]:
        while True:
            sender, msg = yield ops.Receive()
            m = unpack(msg)
            code = m[0]
            if code == abi.FS_QUERY_SERVER:  # sent to it directly: it is the one
                yield ops.Reply(sender, pack(0, pid))
                continue
            yield ops.charge(self.k.cost, "file_server_op_us")
            if void(self.k, sender, m):  # a void incarnation's (restarted elsewhere since)
                yield ops.Reply(sender, error(abi.EKILLED))
                continue
            replayed = self.ops.replay(sender, stamped(m)) if code in OP_CODES else None
            if replayed is not None:
                if code == abi.FS_OPEN and unpack(replayed)[0] == 0:
                    inst = unpack(replayed)[1]
                    if inst not in self.instances and inst in self.closed:
                        self.instances[inst] = self.closed.pop(inst)
                yield ops.Reply(sender, replayed)
                continue
            try:
                if code == abi.FS_OPEN:
                    reply = yield from self.open(sender, m)
                elif code == abi.IO_READ:
                    reply = yield from self.read(sender, m)
                elif code == abi.IO_WRITE:
                    reply = yield from self.write(sender, m)
                elif code == abi.FS_WRITE_AT:
                    reply = yield from self.write(sender, m, at=m[4])
                elif code == abi.IO_CLOSE:
                    reply = self.close(sender, m[1])
                elif code == abi.FS_REMOVE:
                    reply = yield from self.remove(sender, m)
                elif code == abi.FS_LIST:
                    reply = yield from self.list(sender, m)
                elif code == abi.FS_PUT:
                    reply = yield from self.put(sender, m)
                elif code == abi.FS_MERGE:
                    reply = yield from self.merge(sender, m)
                elif code == abi.FS_COLLECT:
                    reply = pack(
                        0, (yield from ckpt_store.collect(self, m[1] & 0xFFFF, m[2], m[3]))
                    )
                else:
                    reply = error(abi.EBADCALL)
            except FsError as exc:
                log.info("%s: file server: %s", self.k.name, exc)
                text = str(exc)
                reply = error(abi.ENOENT if "no such" in text else abi.EIO)
            if code in OP_CODES:
                self.ops.record(sender, stamped(m), reply)
            yield ops.Reply(sender, reply)

    def _name(self, sender: int, addr: int, length: int) -> Generator[Any, Any, str | int]:
        if not 0 < length <= 47:
            return -abi.EINVAL
        raw = yield ops.MoveFrom(sender, addr, length)
        if isinstance(raw, int):
            return raw
        return raw.decode("latin-1")

    def open(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        name = yield from self._name(sender, m[1], m[2])
        if isinstance(name, int):
            return error(-name)
        mode = m[3]
        if mode == abi.FS_MODE_READ:
            if not (yield from self.on_disk(self.fs.exists, name)):
                return error(abi.ENOENT)
            offset = 0
        elif mode == abi.FS_MODE_WRITE:
            if order_of(m) is not None and self.fs.exists(name):  # truncated: keep what it was
                size = self.fs.size(name)
                old = yield from self.on_disk(self.fs.read, name, 0, size)
                self.versions.before(sender, order_of(m), name, 0, old, size)
            yield from self.on_disk(self.fs.create, name)
            offset = 0
        elif mode == abi.FS_MODE_APPEND:
            if not (yield from self.on_disk(self.fs.exists, name)):
                yield from self.on_disk(self.fs.create, name)
            offset = self.fs.size(name)
        else:
            return error(abi.EINVAL)
        inst = self.new_instance(Instance(name, mode, offset, sender))
        return pack(0, inst, self.fs.size(name))

    def new_instance(self, inst: Instance) -> int:
        """An open file's instance number, counted as an open."""
        number = self.next_instance
        self.next_instance += 1
        self.instances[number] = inst
        self.stats["opens"] += 1
        return number

    def instance(self, sender: int, number: int, replay: bool = False) -> Instance | int:
        """The open file `number` names, or -error: none (-EINVAL), or opened from another logical
        host (-EPERM: instance numbers are small and guessable, a file is its opener's)."""
        inst = self.instances.get(number)
        if inst is None and replay and number in self.closed:
            # a restarted program replays its use of a file it closed after its checkpoint
            if abi.pid_lhid(self.closed[number].owner) == abi.pid_lhid(sender):
                inst = self.instances[number] = self.closed.pop(number)
        if inst is None:
            return -abi.EINVAL
        if abi.pid_lhid(inst.owner) != abi.pid_lhid(sender):
            return -abi.EPERM
        return inst

    def close(self, sender: int, number: int) -> bytes:
        inst = self.instance(sender, number)
        if isinstance(inst, int):
            return error(-inst)
        self.closed[number] = self.instances.pop(number)
        while len(self.closed) > 4096:
            del self.closed[next(iter(self.closed))]
        return pack(0)

    def read(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        inst = self.instance(sender, m[1], replay=order_of(m) is not None)
        if isinstance(inst, int):
            return error(-inst)
        buf, count, offset = m[2], min(m[3], MAX_IO), m[4]
        data = yield from self.on_disk(self.fs.read, inst.name, offset, count)
        data = self.versions.as_of(sender, order_of(m), inst.name, offset, data, count)
        if data:
            result = yield ops.MoveTo(sender, buf, data)
            if isinstance(result, int) and result < 0:
                return error(-result)
        self.stats["reads"] += 1
        self.stats["bytes_read"] += len(data)
        return pack(0, len(data))

    def write(
        self, sender: int, m: tuple[int, ...], at: int | None = None
    ) -> Generator[Any, Any, bytes]:
        inst = self.instance(sender, m[1], replay=order_of(m) is not None)
        if isinstance(inst, int):
            return error(-inst)
        if inst.mode == abi.FS_MODE_READ:
            return error(abi.EINVAL)
        buf, count = m[2], min(m[3], MAX_IO)
        data = yield ops.MoveFrom(sender, buf, count)
        if isinstance(data, int):
            return error(-data)
        if at is None:  # a replayed write: only the bytes not written before
            data = self.dedup.fresh(m[1], sender, stamped(m), data)
            if not data:
                return pack(0, count)
        where = inst.offset if at is None else at
        if order_of(m) is not None:  # what it overwrites, for a replayed read (Versions)
            size = self.fs.size(inst.name)
            old = yield from self.on_disk(self.fs.read, inst.name, where, len(data))
            self.versions.before(sender, order_of(m), inst.name, where, old, size)
        written = yield from self.on_disk(self.fs.write, inst.name, where, data)
        if at is None:
            inst.offset += written
            if written == len(data):
                written = count
        self.stats["writes"] += 1
        self.stats["bytes_written"] += written
        return pack(0, written)

    def remove(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        name = yield from self._name(sender, m[1], m[2])
        if isinstance(name, int):
            return error(-name)
        if not (yield from self.on_disk(self.fs.exists, name)):
            return error(abi.ENOENT)
        yield from self.on_disk(self.fs.remove, name)
        return pack(0)

    def list(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        text = "".join(f"{n}\n" for n in self.fs.list()).encode()[: m[2]]
        if text:
            result = yield ops.MoveTo(sender, m[1], text)
            if isinstance(result, int) and result < 0:
                return error(-result)
        return pack(0, len(text))

    def put(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        """FS_PUT buffer, name length, data length, flags, spare, offset: the buffer holds the
        name, then the data; the file is created (or replaced) holding the data at that offset,
        or left as it was (an error). FS_PUT_MERGE: once answered, the file (a checkpoint) is
        merged (FS_MERGE). FS_PUT_OPEN: it stays open for writing; the answer is its instance."""
        buf, name_len, count, flags, spare, offset = m[1:7]
        if not 0 < name_len <= 47 or count > MAX_IO or offset > self.fs.max_file_size:
            return error(abi.EINVAL)
        raw = yield ops.MoveFrom(sender, buf, name_len + count)
        if isinstance(raw, int):
            return error(-raw)
        name = raw[:name_len].decode("latin-1")
        if offset:  # a hole before the data (zeros, on no block)
            yield from self.on_disk(self._put_at, name, offset, raw[name_len:])
        else:
            yield from self.on_disk(self.fs.install, name, raw[name_len:])
        self.stats["writes"] += 1
        self.stats["bytes_written"] += count
        if flags & abi.FS_PUT_MERGE:
            self.merge_later(name, spare)
        if flags & abi.FS_PUT_OPEN:
            inst = self.new_instance(Instance(name, abi.FS_MODE_WRITE, 0, sender))
            return pack(0, count, inst)
        return pack(0, count)

    def _put_at(self, name: str, offset: int, data: bytes) -> None:
        """The file holding `data` at `offset` (zeros before it), or left as it was."""
        existed = self.fs.exists(name)
        self.fs.create(name)
        try:
            self.fs.write(name, offset, data)
        except FsError:
            if not existed:
                self.fs.remove(name)
            raise

    def merge(self, sender: int, m: tuple[int, ...]) -> Generator[Any, Any, bytes]:
        """FS_MERGE name address, name length, spare: merge that checkpoint's chain into a full
        checkpoint in its place and remove its logical host's older files (vkernel/ckpt_store.py),
        in the merge worker; answered at once (-ENOENT: no such file)."""
        name = yield from self._name(sender, m[1], m[2])
        if isinstance(name, int):
            return error(-name)
        if not (yield from self.on_disk(self.fs.exists, name)):
            return error(abi.ENOENT)
        self.merge_later(name, m[3])
        return pack(0)

    def merge_later(self, name: str, spare: int) -> None:
        """Queue a merge for the merge worker, a process of its own beside the server: its disk
        reads and writes queue at the disk with the server's requests, which go on meanwhile."""
        self.to_merge.append((name, spare))
        if not self.merging:
            self.merging = True
            self.k.spawn_server(self.k.system_lh, "file-server-merge", self._merge_worker)

    def _merge_worker(self, pid: int) -> Generator[Any, Any, None]:
        try:
            while self.to_merge:
                name, spare = self.to_merge.pop(0)
                yield from self._merge(name, spare)
        finally:
            self.merging = False

    def _merge(self, name: str, spare: int) -> Generator[Any, Any, int]:
        try:
            removed = yield from ckpt_store.merge(self, name, spare)
        except (ValueError, KeyError, TypeError, IndexError, struct.error, FsError) as exc:
            log.info("%s: file server: cannot merge %s: %s", self.k.name, name, exc)
            removed = -1
        if removed < 0:
            self.merges["failed"] += 1
        else:
            self.merges["merged"] += 1
            self.merges["removed"] += removed
        return removed
