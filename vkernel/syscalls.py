"""The system-call table: one handler per call, and the one place that validates guest pointers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from guest import abi
from vkernel import exactly_once, locate
from vkernel.memory import MemoryError_
from vkernel.process import Process, State

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

BLOCKED = None  # a handler that returns this has blocked the process; d0 comes later


def _in_address_space(addr: int, count: int) -> None:
    """The peer's side of a MoveTo/MoveFrom lies in a 24-bit address space (else EFAULT, before
    anything is sent: a remote peer's range is checked there, but must fit the packets first)."""
    if count < 0 or not 0 <= addr <= abi.ADDRESS_SPACE - count:
        raise BadPointer(addr, count)


class PageIn(Exception):
    """The call touches non-resident pages: bring them in, then run the call again."""

    def __init__(self, vpages: set[int]) -> None:
        super().__init__(f"non-resident pages {sorted(vpages)}")
        self.vpages = vpages


class BadPointer(Exception):
    def __init__(self, addr: int, n: int) -> None:
        super().__init__(f"bad pointer {addr:#x}+{n}")


def _u(value: int) -> int:
    return value & 0xFFFFFFFF


def _s(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


# the calls with effects outside the program (messages, replies, data into a peer): a program
# started checkpointed makes them once its first checkpoint is complete (output commit, issue 16)
COMMIT_GATED = frozenset(
    (
        abi.SYS_SEND,
        abi.SYS_SEND_GROUP,
        abi.SYS_REPLY,
        abi.SYS_FORWARD,
        abi.SYS_MOVETO,
        abi.SYS_MOVEFROM,
    )
)


class SyscallTable:
    """Maps d0 to a handler; arguments come from d1..d5, the result goes to d0."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.table: dict[int, Callable[[Process, list[int]], int | None]] = {
            abi.SYS_EXIT: self.sys_exit,
            abi.SYS_SEND: self.sys_send,
            abi.SYS_RECEIVE: self.sys_receive,
            abi.SYS_REPLY: self.sys_reply,
            abi.SYS_FORWARD: self.sys_forward,
            abi.SYS_MOVETO: self.sys_moveto,
            abi.SYS_MOVEFROM: self.sys_movefrom,
            abi.SYS_GETPID: self.sys_getpid,
            abi.SYS_JOINGROUP: self.sys_joingroup,
            abi.SYS_LEAVEGROUP: self.sys_leavegroup,
            abi.SYS_SBRK: self.sys_sbrk,
            abi.SYS_TIME: self.sys_time,
            abi.SYS_DELAY: self.sys_delay,
            abi.SYS_RECEIVE_TIMEOUT: self.sys_receive_timeout,
            abi.SYS_SEND_GROUP: self.sys_send_group,
        }

    # --- argument fetch: every guest pointer goes through here ---------------------
    def fetch(self, proc: Process, addr: int, n: int) -> bytes:
        if n < 0 or not self.k.memory.check(proc, addr, n, write=False):
            self._missing(proc, addr, n)
            raise BadPointer(addr, n)
        return self.k.memory.read(proc, addr, n)

    def writable(self, proc: Process, addr: int, n: int) -> int:
        if n < 0 or not self.k.memory.check(proc, addr, n, write=True):
            self._missing(proc, addr, n)
            raise BadPointer(addr, n)
        return addr

    def _missing(self, proc: Process, addr: int, n: int) -> None:
        pager = self.k.pager
        if pager is not None and n > 0:
            missing = pager.missing(proc.team, addr, n)
            if missing:
                raise PageIn(missing)

    # --- dispatch --------------------------------------------------------------------
    def dispatch(self, proc: Process) -> None:
        regs = proc.registers
        number = regs.d[0]
        args = [regs.d[1], regs.d[2], regs.d[3], regs.d[4], regs.d[5]]
        handler = self.table.get(number)
        name = abi.SYSCALL_NAMES.get(number, f"#{number}")
        stats = self.k.stats
        stats.by_call[name] = stats.by_call.get(name, 0) + 1
        if handler is None:
            stats.bad_calls += 1
            log.info("%s: %s (pid %#x) made unknown system call %d", self.k.name, proc.name, proc.pid, number)
            regs.d[0] = _u(-abi.EBADCALL)
            return
        ck = self.k.checkpoints
        if number in COMMIT_GATED and ck is not None and ck.gated(proc):
            # started checkpointed, its first checkpoint not yet complete: its effects wait
            ck.hold(proc, lambda: self._again(proc))
            return
        try:
            result = handler(proc, args)
        except PageIn as need:
            # the pages come from the file server; the call runs again when they are in
            self.k.page_in(proc, need.vpages, lambda: self._again(proc))
            return
        except BadPointer as exc:
            log.info("%s: %s (pid %#x) %s: %s", self.k.name, proc.name, proc.pid, name, exc)
            result = -abi.EFAULT
        if result is not BLOCKED:
            regs.d[0] = _u(result)

    def _again(self, proc: Process) -> None:
        proc.state = State.READY
        self.dispatch(proc)
        if proc.state is State.READY:
            self.k.make_ready(proc)

    # --- handlers ----------------------------------------------------------------------
    def sys_exit(self, proc: Process, a: list[int]) -> int | None:
        self.k.exit_process(proc, _s(a[0]))
        return BLOCKED

    def sys_send(self, proc: Process, a: list[int]) -> int | None:
        msg = self.fetch(proc, a[0], abi.MSG_SIZE)
        self.writable(proc, a[0], abi.MSG_SIZE)
        msg, stamp = exactly_once.stamp(self.k, proc, msg, _u(a[1]))
        self.k.send(proc, msg, _u(a[1]), msg_addr=a[0], stamp=stamp)
        return BLOCKED

    def sys_send_group(self, proc: Process, a: list[int]) -> int | None:
        if not abi.is_group(_u(a[1])):
            return -abi.EINVAL
        return self.sys_send(proc, a)

    def sys_receive(self, proc: Process, a: list[int]) -> int | None:
        self.k.receive(proc, self.writable(proc, a[0], abi.MSG_SIZE))
        return BLOCKED if proc.state.name == "RECEIVE_BLOCKED" else proc.registers.d[0]

    def sys_receive_timeout(self, proc: Process, a: list[int]) -> int | None:
        self.k.receive(proc, self.writable(proc, a[0], abi.MSG_SIZE), timeout_ms=_s(a[1]))
        return BLOCKED if proc.state.name == "RECEIVE_BLOCKED" else proc.registers.d[0]

    def sys_reply(self, proc: Process, a: list[int]) -> int:
        return self.k.reply(proc, self.fetch(proc, a[0], abi.MSG_SIZE), _u(a[1]))

    def sys_forward(self, proc: Process, a: list[int]) -> int:
        return self.k.forward(proc, self.fetch(proc, a[0], abi.MSG_SIZE), _u(a[1]), _u(a[2]))

    def sys_moveto(self, proc: Process, a: list[int]) -> int | None:
        pid, dst, src, count = _u(a[0]), _u(a[1]), a[2], _s(a[3])
        _in_address_space(dst, count)
        self.k.move_to(proc, pid, dst, self.fetch(proc, src, count))
        return BLOCKED

    def sys_movefrom(self, proc: Process, a: list[int]) -> int | None:
        pid, dst, src, count = _u(a[0]), a[1], _u(a[2]), _s(a[3])
        _in_address_space(src, count)
        proc.move_dst = self.writable(proc, dst, count)
        self.k.move_from(proc, pid, src, count)
        return BLOCKED

    def sys_getpid(self, proc: Process, a: list[int]) -> int:
        which = a[0]
        lhid = proc.lhid
        if which == abi.PID_SELF:
            return proc.pid
        if which == abi.PID_CREATOR:
            return proc.creator
        if which == abi.PID_KERNEL_SERVER:
            return abi.make_pid(lhid, abi.LOCAL_KERNEL_SERVER)
        if which == abi.PID_PROGRAM_MANAGER:
            return abi.make_pid(lhid, abi.LOCAL_PROGRAM_MANAGER)
        if which == abi.PID_FILE_SERVER:  # 0 until this kernel has asked the file server group
            locate.ensure(self.k)
            return self.k.file_server_pid
        return -abi.EINVAL

    def sys_joingroup(self, proc: Process, a: list[int]) -> int:
        return self.k.join_group(proc, _u(a[0]))

    def sys_leavegroup(self, proc: Process, a: list[int]) -> int:
        return self.k.leave_group(proc, _u(a[0]))

    def sys_sbrk(self, proc: Process, a: list[int]) -> int:
        assert proc.team is not None
        try:
            return self.k.memory.sbrk(proc.team, _s(a[0]))
        except MemoryError_:
            return -abi.ENOMEM

    def sys_time(self, proc: Process, a: list[int]) -> int:
        now = self.k.sim.now
        proc.registers.d[1] = (now // 1000) % 1000
        return now // 1_000_000

    def sys_delay(self, proc: Process, a: list[int]) -> int | None:
        self.k.delay(proc, max(0, _s(a[0])) * 1_000_000)
        return BLOCKED
