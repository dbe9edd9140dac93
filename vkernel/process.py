"""Processes, teams (address spaces) and logical hosts: the V kernel's objects."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from guest import abi


class State(enum.Enum):
    READY = "ready"
    RUNNING = "running"
    SEND_BLOCKED = "awaiting-reply"  # sent a message, waiting for its reply
    RECEIVE_BLOCKED = "receiving"  # waiting for a message
    DELAYED = "delayed"  # in Delay()
    MOVING = "moving"  # in a remote MoveTo / MoveFrom
    DEAD = "dead"


class Priority(enum.IntEnum):
    """Lower runs first: servers and pre-copy, then local programs, then remote guests."""

    SYSTEM = 0
    PRECOPY = 1
    LOCAL = 2
    GUEST = 3
    BACKGROUND = 4  # only when nothing else wants the CPU (a checkpoint writer, if configured)


@dataclass
class LogicalHost:
    """A set of teams and processes that migrate together; pids carry its id."""

    lhid: int
    name: str = ""
    remote: bool = False  # holds remotely executed programs (a guest here)
    system: bool = False  # the machine's own servers
    frozen: bool = False
    held: bool = False  # its programs wait while a checkpoint's pages are sent (copy: freeze)
    migrating: bool = False  # a migration of it is under way (the flusher keeps off)
    copy_of: int = 0  # an incoming migration's copy: the id of the logical host it copies
    migration_state: str = ""  # its migration's state while one is under way (shown by ps)
    next_index: int = 1
    processes: dict[int, Process] = field(default_factory=dict)
    teams: list[Team] = field(default_factory=list)
    # requests that arrived while frozen: (packet-level sender info, message)
    deferred: list[Any] = field(default_factory=list)

    def allocate_index(self) -> int:
        index = self.next_index
        while (
            abi.make_pid(self.lhid, index) in self.processes or index & abi.GROUP_BIT or index == 0
        ):
            index = (index + 1) & 0x7FFF
        self.next_index = (index + 1) & 0x7FFF or 1
        return index


@dataclass
class Team:
    """An address space (an MMU context) and what the program manager knows of it."""

    team_id: int
    lh: LogicalHost
    ctx: int  # MMU context
    name: str
    argv: list[str]
    text: tuple[int, int] = (0, 0)  # vpage range [start, end)
    data: tuple[int, int] = (0, 0)
    brk: int = 0  # current break (byte address)
    heap_start: int = 0
    stack_low: int = abi.STACK_TOP  # lowest mapped stack byte
    bkpts: frozenset[int] = frozenset()
    pages: int = 0  # mapped page count
    # non-resident pages (vpage -> prot) backed by a file on the file server (vkernel/paging.py)
    backing: dict[int, int] = field(default_factory=dict)
    backing_file: str = ""
    backing_index: int = 0
    # a lazy rfork's child (vkernel/rfork.py): its backing is the parent's snapshot, served from
    # the parent's host; `fetched` counts the pages brought in, `lazy_pages` those it started with
    lazy: bool = False
    fetched: int = 0
    lazy_pages: int = 0
    dead: bool = False

    @property
    def memory_bytes(self) -> int:
        return self.pages * abi.PAGE_SIZE


@dataclass(eq=False)
class Process:
    """A V process. Equal only to itself. `registers` may be held by the CPU (see hold_registers)."""

    pid: int
    lh: LogicalHost
    name: str
    priority: Priority
    team: Team | None = None  # None: a server implemented in Python (a coroutine)
    state: State = State.READY
    suspended: bool = False
    evicted: bool = False  # suspended by an eviction (not by the user): runs again when moved
    registers: Any = None  # emulator.cpu.Registers of a guest process
    # IPC
    msg_queue: deque[Any] = field(default_factory=deque)  # pending requests (IpcRequest)
    awaiting: Any = None  # the outstanding Send (who we wait for)
    awaiting_replier: int = 0  # pid a MoveTo/MoveFrom may act on us from
    receive_target: int = 0  # guest buffer address of a blocked Receive
    move_dst: int = 0  # guest address a pending MoveFrom delivers to
    receive_deadline: Any = None  # event of a ReceiveWithTimeout
    wakeup: Any = None  # event of a Delay
    # a Python server: its coroutine and the value to send it next
    coroutine: Generator[Any, Any, Any] | None = None
    resume_value: Any = None
    server_body: Any = None  # what made the coroutine: a server that fails is restarted with it
    on_crash: Any = None  # a one-shot agent that fails: called with the exception
    restarts: int = 0
    fresh: bool = False  # restarted and not yet at its first operation
    cpu_ns: int = 0
    work_ns: int = 0  # a Python server's scheduled CPU work still to run (ops.Run)
    work_charges: list = field(default_factory=list)  # ... by constant: [name, units, ns left]
    creator: int = 0
    exit_status: int | None = None
    groups: set[int] = field(default_factory=set)

    @property
    def is_guest(self) -> bool:
        return self.team is not None

    def hold_registers(self, fetch: Callable[[], Any]) -> None:
        """The CPU keeps this process's registers (its slice ended by the budget and it may go on);
        the first use of `registers` fetches them. The kernel calls release_registers() before the
        CPU runs anything else."""
        self.__dict__["_fetch"] = fetch

    @property
    def registers_held(self) -> bool:
        """True while the CPU holds the registers and nothing has asked for them."""
        return self.__dict__.get("_fetch") is not None

    def release_registers(self) -> None:
        """Fetch held registers into the process (no-op if none are held)."""
        fetch = self.__dict__.pop("_fetch", None)
        if fetch is not None:
            self.__dict__["_registers"] = fetch()

    @property
    def lhid(self) -> int:
        return self.lh.lhid


def _get_registers(proc: Process) -> Any:
    proc.release_registers()
    return proc.__dict__.get("_registers")


def _set_registers(proc: Process, value: Any) -> None:
    proc.__dict__.pop("_fetch", None)
    proc.__dict__["_registers"] = value


# emulator.cpu.Registers of a guest process, or None; a property over the dataclass field so that
# registers the CPU holds are fetched on first use by anyone
Process.registers = property(_get_registers, _set_registers)  # type: ignore[assignment]
