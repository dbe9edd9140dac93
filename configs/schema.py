"""The cluster configuration schema: frozen dataclasses, their defaults, limits and cross-checks."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KB = 1024
MB = 1024 * KB
GB = 1024 * MB

PAGE_SIZE = 4096  # the MMU page (Unicorn's m68k TLB page); memory sizes are multiples of it
MAX_STATIONS = 1024  # 10BASE5: at most 1024 stations on one collision domain
SLOT_NS = 51_200  # Ethernet slot time: the round-trip propagation must stay below it
SUN_OUI = "08:00:20"  # Sun Microsystems' Ethernet vendor prefix, for derived MAC addresses

ROLES = ("workstation", "fileserver")
HOSTNAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

IMAGE_SUFFIXES = ("", ".elf")  # guest/bin/NAME or guest/bin/NAME.elf is the image of program NAME


MAX_CONFIG_BYTES = 1 << 20  # a config file larger than this is refused before it is parsed
IMAGE_MAGIC = b"VFS1"  # the superblock's first bytes (vkernel/filesystem.py MAGIC; tested equal)


class ConfigError(Exception):
    """A configuration refused: `FILE:LINE: FIELD: message` (LINE is 0 when no line applies)."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.field}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.line, self.field, self.message))


# ---------------------------------------------------------------------------------------------
# Field metadata: every field carries its documentation and limits; the loader, validate() and
# the reference in docs/CONFIG.md all read them from here.


def _f(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    unit: str = "",
    kind: str = "",
    multiple_of: int | None = None,
    choices: tuple[Any, ...] = (),
    factory: Any = dataclasses.MISSING,
) -> Any:
    meta = {
        "doc": doc,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "unit": unit,
        "kind": kind,
        "multiple_of": multiple_of,
        "choices": choices,
    }
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _fmt_num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def check_value(f: dataclasses.Field[Any], value: Any) -> str | None:
    """The complaint about `value` for field `f` (limits from its metadata), or None if it is fine."""
    m = f.metadata
    if not m:
        return None
    kind = m.get("kind", "")
    if kind == "hostname" and isinstance(value, str) and not HOSTNAME_RE.match(value):
        return (
            f"{value!r} is not a valid host name: use lowercase letters, digits and '-', "
            "starting with a letter, at most 32 characters"
        )
    if kind == "mac" and isinstance(value, str) and value != "":
        if not MAC_RE.match(value):
            return f"expected a MAC address like 08:00:20:00:00:01, got {value!r}"
        first = int(value[:2], 16)
        if first & 1:
            return f"{value} is a multicast address; a station needs a unicast one"
        if value == "00:00:00:00:00:00":
            return "00:00:00:00:00:00 is not a usable station address"
    choices = m.get("choices", ())
    if choices and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}; got {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        unit = f" {m['unit']}" if m.get("unit") and kind != "size" else ""
        lo, hi = m.get("lo"), m.get("hi")
        shown = _fmt_size(value) if kind == "size" else _fmt_num(value)
        if isinstance(value, float) and math.isnan(value):
            return "must be a number, got .nan"
        if lo is not None:
            if m.get("lo_open") and not value > lo:
                return f"must be greater than {_fmt_limit(lo, kind)}{unit}, got {shown}"
            if not value >= lo:
                return f"must be at least {_fmt_limit(lo, kind)}{unit}, got {shown}"
        if hi is not None and not value <= hi:
            return f"must be at most {_fmt_limit(hi, kind)}{unit}, got {shown}"
        mult = m.get("multiple_of")
        if mult and isinstance(value, int) and value % mult:
            return f"must be a multiple of {_fmt_limit(mult, kind)}, got {shown}"
    return None


def _fmt_limit(x: float, kind: str) -> str:
    return _fmt_size(int(x)) if kind == "size" else _fmt_num(x)


# ---------------------------------------------------------------------------------------------
# Sizes: "2MB", "512KB", "20 MB", "1.5MB", "4096", or a plain integer (bytes). K/M/G are binary
# (1 KB = 1024 bytes), as memory was counted in 1985.

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": KB, "kb": KB, "kib": KB, "m": MB, "mb": MB, "mib": MB,
               "g": GB, "gb": GB, "gib": GB}


def parse_size(value: Any) -> int:
    """Bytes from an int or a string like "2MB" / "512KB" (binary units); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m:
            number, unit = m.group(1), (m.group(2) or "").lower()
            scale = _SIZE_UNITS[unit]
            if "." in number:
                whole, frac = number.split(".")
                num = int(whole + frac) * scale
                den = 10 ** len(frac)
                if num % den:
                    raise ValueError(f"{value!r} is not a whole number of bytes")
                return num // den
            return int(number) * scale
    shown = repr(value) if isinstance(value, str) else _describe(value)
    raise ValueError(f"expected a size like 2MB, got {shown}")


def _fmt_size(n: int) -> str:
    """The shortest exact spelling of a size: 2097152 -> "2MB", 1536 -> "1536", 4096 -> "4KB"."""
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def _describe(value: Any) -> str:
    """How a wrong value is shown in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# The schema.


@dataclass(frozen=True)
class NetworkConfig:
    """The one Ethernet segment every machine is attached to."""

    bitrate: int = _f(10_000_000, "signalling rate of the segment", lo=1_000, hi=1_000_000_000,
                      unit="bit/s")
    length_m: float = _f(500.0, "cable length (10BASE5: 500 m a segment)", lo=0.0, hi=2500.0,
                         unit="m")
    propagation_ns_per_m: float = _f(5.0, "signal propagation delay along the cable (coax is "
                                     "about 4.3 ns/m; 5 is a round figure)", lo=0.0, hi=100.0,
                                     unit="ns/m")
    loss_rate: float = _f(0.0, "probability that a frame is lost on the wire", lo=0.0, hi=1.0)
    corrupt_rate: float = _f(0.0, "probability that a frame arrives with a bad FCS (dropped by "
                             "the receiver)", lo=0.0, hi=1.0)

    @property
    def propagation_ns(self) -> float:
        """End-to-end propagation delay of the segment."""
        return self.length_m * self.propagation_ns_per_m

    @property
    def bit_ns(self) -> float:
        """Time of one bit on the wire."""
        return 1e9 / self.bitrate


@dataclass(frozen=True)
class CpuConfig:
    """The processor of every machine and its time slicing."""

    # A 10 MHz 68010 averages roughly 1 MIPS on compiled C (about 10 clocks an instruction).
    ns_per_instruction: int = _f(1000, "virtual time one guest instruction costs (1000 = a "
                                 "10 MHz 68010 at about 1 MIPS)", lo=1, hi=1_000_000, unit="ns")
    # 20 000 instructions = 20 ms of virtual time at 1 MIPS: a typical 1985 time slice.
    slice_instructions: int = _f(20_000, "instruction budget of one scheduling slice of a "
                                 "guest process", lo=100, hi=10_000_000, unit="instructions")
    local_priority: bool = _f(True, "locally invoked programs run before remote guests (V's "
                              "priority scheduling); false = one round robin for all")

    @property
    def slice_ns(self) -> int:
        """Virtual time of a full slice."""
        return self.slice_instructions * self.ns_per_instruction

    @property
    def mips(self) -> float:
        """Modelled speed in millions of instructions per simulated second."""
        return 1000.0 / self.ns_per_instruction


# Derivations of the cost model (every figure for the 10 MHz 68010 Sun of V's section 4):
#  - Cheriton & Zwaenepoel (1983) measured a local 32-byte Send-Receive-Reply at about 0.77 ms
#    and a remote one at about 2.5 ms on these machines. Local: 3 traps + 2 context switches +
#    3 IPC operations = 3*100 + 2*150 + 3*60 = 780 us. Remote adds 4 packet operations (send and
#    receive of the request and of the reply) and ~0.15 ms of wire: (2.54 - 0.77 - 0.15) / 4 ~
#    400 us each, split as 350 to send and 450 to receive (the interrupt and the copy out of the
#    interface come on the receiving side).
#  - V copies 1 MB between hosts in 3 s: 2.93 ms per 1 KB data packet. Take away the wire
#    (~0.87 ms for 1 KB + headers at 10 Mb/s), one packet send and one receive (0.8 ms) and
#    1.26 ms per KB is left for copying the data at both ends: 0.63 ms per KB per end, i.e.
#    about 2500 us per 4 KB page per end. This assumes sender, wire and receiver do not overlap
#    (V's interface took one frame at a time); if the emulator pipelines a train, a megabyte
#    moves faster than 3 s and page_copy_us is the knob that brings it back.
#  - A 68010 memory-to-memory copy (move.l (a0)+,(a1)+ with dbra) costs about 2 us a longword:
#    2000 us a 4 KB page for a local MoveTo/MoveFrom; clearing (clr.l (a0)+) about half.
#  - "Setting up and later destroying a new execution environment on a specific remote host is
#    40 milliseconds": about 10 ms of that is four remote request/reply exchanges with the
#    program manager and ~5 ms its own work and kernel-server calls; the remaining ~25 ms is
#    split as team create 12 ms (MMU context, page map, stack page), process create 3 ms and
#    team destroy 8 ms (unmap and free every page, flush the context).
#  - "The cost of selecting a remote host has been measured to be 23 milliseconds" is not a
#    parameter: a program manager answers after the work it does (program_manager_op_us, then
#    a look at each process, ~50 instructions a descriptor, and at each page in use, ~10
#    instructions a frame-table entry, at 1 MIPS), scheduled at guest priority, so it waits
#    behind the guests of a loaded host; a benchmark measures the result (vkernel/selection.py).
#  - Section 4.1: local group identifiers add ~100 us to every kernel-server or program-manager
#    operation; the frozen test adds 13 us to several kernel operations; the kernel-server and
#    program-manager state of a logical host copies in 14 ms + 9 ms per process and address space.
#  - Program loading, 330 ms per 100 KB, is not a parameter: it should come out of file server
#    requests, disk reads and MoveTo trains with the costs above (100 packets x ~2.9 ms + a few
#    requests and disk accesses ~ 330 ms), and a benchmark checks it.


@dataclass(frozen=True)
class CostModel:
    """Kernel time charged to a machine's CPU (microseconds) and the IPC protocol's timers."""

    trap_us: int = _f(100, "system call entry and exit: save registers, fetch and check "
                      "arguments, dispatch, return", lo=0, hi=10_000_000, unit="us")
    context_switch_us: int = _f(150, "switch to another process (registers and MMU context)",
                                lo=0, hi=10_000_000, unit="us")
    ipc_op_us: int = _f(60, "kernel work of one Send / Receive / Reply / Forward beyond the trap "
                        "(queueing, copying the 32-byte message)", lo=0, hi=10_000_000, unit="us")
    packet_send_us: int = _f(350, "build an interkernel packet and hand it to the Ethernet "
                             "interface (data copies not included)", lo=0, hi=10_000_000,
                             unit="us")
    packet_receive_us: int = _f(450, "take an interkernel packet from the interface: interrupt, "
                                "checks, demultiplexing (data copies not included)", lo=0,
                                hi=10_000_000, unit="us")
    page_copy_us: int = _f(2500, "per 4 KB page of MoveTo/MoveFrom data moved through the "
                           "network interface, at each end", lo=0, hi=10_000_000, unit="us")
    local_page_copy_us: int = _f(2000, "per 4 KB page of MoveTo/MoveFrom between two teams of "
                                 "the same machine", lo=0, hi=10_000_000, unit="us")
    page_zero_us: int = _f(1000, "clear a 4 KB page of a program's stack, when it starts and as it grows (heap frames come cleared: the kernel clears them while idle)", lo=0,
                           hi=10_000_000, unit="us")
    process_create_us: int = _f(3000, "kernel server: create a process", lo=0, hi=10_000_000,
                                unit="us")
    team_create_us: int = _f(12_000, "kernel server: create a team (address space, MMU context)",
                             lo=0, hi=10_000_000, unit="us")
    team_destroy_us: int = _f(8000, "kernel server: destroy a team and free its pages", lo=0,
                              hi=10_000_000, unit="us")
    kernel_server_op_us: int = _f(500, "bookkeeping of any other kernel-server operation", lo=0,
                                  hi=10_000_000, unit="us")
    program_manager_op_us: int = _f(2000, "bookkeeping of a program-manager request (exec, "
                                    "remote exec, migrate, query)", lo=0, hi=10_000_000,
                                    unit="us")
    pm_examine_process_us: int = _f(50, "a program manager weighing a host query: per process "
                                    "of its machine it looks at (state, priority, team), run "
                                    "as scheduled work at guest priority", lo=0,
                                    hi=10_000_000, unit="us")
    pm_examine_page_us: int = _f(10, "... and per page of memory in use it weighs (the frame "
                                 "table entries of its teams)", lo=0, hi=10_000_000, unit="us")
    file_server_op_us: int = _f(1500, "file server bookkeeping of one request (open, read, "
                                "write, close), disk time not included", lo=0, hi=10_000_000,
                                unit="us")
    display_char_us: float = _f(20.0, "display server: draw one character of program output "
                                "on the frame buffer", lo=0, hi=10_000_000, unit="us")
    local_group_us: int = _f(100, "addressing the kernel server or program manager through a "
                             "local group id, added to each such operation", lo=0,
                             hi=10_000_000, unit="us")
    frozen_check_us: int = _f(13, "test whether the target logical host is frozen, added to "
                              "Send, Reply, MoveTo, MoveFrom and kernel-server operations",
                              lo=0, hi=10_000_000, unit="us")
    rfork_page_serve_us: int = _f(100, "a lazy rfork's page server: find one page of the "
                                  "parent's snapshot and queue it in the reply's train (its "
                                  "copy through the interface is page_copy_us)", lo=0,
                                  hi=10_000_000, unit="us")
    ks_pm_state_copy_base_us: int = _f(14_000, "migration: copy a logical host's kernel-server "
                                       "and program-manager state, fixed part", lo=0,
                                       hi=100_000_000, unit="us")
    ks_pm_state_copy_per_object_us: int = _f(9000, "... plus this per process and per address "
                                             "space of the logical host", lo=0,
                                             hi=100_000_000, unit="us")
    # Protocol timers and sizes (V's interkernel protocol).
    retransmit_timeout_ms: int = _f(200, "a Send, MoveTo/MoveFrom train or query without an "
                                    "answer is retransmitted after this; it must exceed a full "
                                    "train (32 x ~2.9 ms)", lo=1, hi=600_000, unit="ms")
    reply_pending_interval_ms: int = _f(500, "a sender told `reply pending` probes the receiver "
                                        "again after this; a process of a frozen logical host "
                                        "awaiting reply retransmits this often to keep its "
                                        "reply alive", lo=1, hi=600_000, unit="ms")
    reply_retain_ms: int = _f(2000, "a replier keeps a reply this long for retransmitted "
                              "requests (each retransmission restarts it)", lo=1, hi=3_600_000,
                              unit="ms")
    rebind_after_retransmits: int = _f(3, "unanswered retransmissions before the logical-host "
                                       "binding is dropped and the destination located again "
                                       "by broadcast", lo=1, hi=100)
    max_retransmits: int = _f(8, "unanswered retransmissions before the operation fails with "
                              "ETIMEOUT", lo=1, hi=1000)
    host_query_timeout_ms: int = _f(200, "how long `@ *` and migration wait for a first answer "
                                    "from the program-manager group", lo=1, hi=600_000,
                                    unit="ms")
    bulk_packet_bytes: int = _f(1024, "data bytes in one MoveTo/MoveFrom packet (V used 1 KB)",
                                lo=64, hi=1460, unit="bytes")
    bulk_train_packets: int = _f(32, "packets sent back to back before the receiver "
                                 "acknowledges (V moved 32 KB as a unit)", lo=1, hi=1024,
                                 unit="packets")

    def ks_pm_state_copy_us(self, objects: int) -> int:
        """Kernel-server + program-manager state copy for `objects` processes and address spaces."""
        return self.ks_pm_state_copy_base_us + objects * self.ks_pm_state_copy_per_object_us


@dataclass(frozen=True)
class IdlePolicy:
    """When a workstation lends itself to guests, and what happens when its owner returns."""

    # Sprite's daemon calls a host idle after 30 s without keyboard or mouse input (Condor waits
    # 15 minutes, right for real people but every demo would wait too). The lab demo shortens it.
    idle_after_s: float = _f(30.0, "seconds without owner activity (keyboard, mouse) before the "
                             "workstation counts as idle; a workstation whose owner was never "
                             "active is idle from boot", lo=0.0, hi=86_400.0, unit="s")
    load_threshold: float = _f(0.3, "an idle workstation answers host queries only while its "
                               "load (programs ready to run or running, counted at the moment of "
                               "the query) is at most this", lo=0.0, hi=1000.0)
    min_free_memory_kb: int = _f(256, "... and only while at least this much memory is free",
                                 lo=0, hi=16 * 1024, unit="KB")
    selection: str = _f("auto", "how `@ *` and migration find a host: first-reply (V: every "
                        "willing program manager answers after weighing the query, the first "
                        "answer wins), scaled (answers delayed at random, by load and scaled "
                        "with the group's size, and kept back once another is overheard), gossip "
                        "(load reports multicast in the background; the hosts every vector ranks "
                        "first answer), auto (first-reply up to selection_auto_hosts "
                        "workstations, scaled above)",
                        choices=("first-reply", "scaled", "gossip", "auto"))
    selection_auto_hosts: int = _f(16, "auto: the largest number of workstations that still "
                                   "selects by first-reply", lo=1, hi=100_000)
    scaled_window_delays: float = _f(4.0, "scaled: the random part of an answer's delay spans "
                                     "this many answer delays (an answer's packet send, wire and "
                                     "receive, from the cost model; with segments plus the widest "
                                     "path's gateway latency); each unit of load adds "
                                     "another span", lo=0.0, lo_open=True, hi=1000.0)
    gossip_interval_ms: int = _f(1000, "gossip: a program manager checks its state this often "
                                 "and multicasts a load report when it changed (and every 10 "
                                 "intervals anyway)", lo=10, hi=3_600_000, unit="ms")
    gossip_answers: int = _f(2, "gossip: how many of the hosts its load vector ranks first "
                             "answer a query at once", lo=1, hi=1000)
    answer_any_query: bool = _f(False, "answer every host query, idle or not (for experiments "
                                "and tests)")
    evict: bool = _f(True, "when the owner becomes active, migrate every remote guest away")
    kill_on_evict: bool = _f(False, "if no other host takes an evicted guest, destroy it (like "
                             "`migrateprog -n`); false = it stays at guest priority and "
                             "eviction is retried")
    evict_retry_s: float = _f(10.0, "retry period of an eviction that found no host", lo=0.0,
                              lo_open=True, hi=86_400.0, unit="s")
    flush_interval_ms: int = _f(0, "while idle, flush remote guests' dirty pages to the file "
                                "server this often, so an eviction has less to copy; 0 = off",
                                lo=0, hi=3_600_000, unit="ms")


@dataclass(frozen=True)
class MigrationPolicy:
    """How a logical host is pre-copied, frozen and moved."""

    precopy: bool = _f(True, "pre-copy while the program runs; false = freeze first and copy "
                       "everything (for comparison)")
    freeze_target_ms: int = _f(50, "stop pre-copying once the residue would copy in less than "
                               "this (V froze for 5..210 ms)", lo=0, hi=600_000, unit="ms")
    max_rounds: int = _f(5, "at most this many pre-copy rounds (V found 2 usually useful)", lo=1,
                         hi=100)
    min_shrink: float = _f(0.8, "a round must shrink the residue below this fraction of the "
                           "previous one, or pre-copy stops", lo=0.0, lo_open=True, hi=1.0)
    attempts: int = _f(2, "hosts tried at most before giving up (V gave up after 1)", lo=1,
                       hi=16)
    timeout_s: float = _f(30.0, "give up a migration that has not completed after this long, "
                          "leaving the program where it was", lo=0.0, lo_open=True,
                          hi=86_400.0, unit="s")


@dataclass(frozen=True)
class RforkPolicy:
    """Remote fork (issue 16): how a lazy child's pages come from its parent's host."""

    cluster_pages: int = _f(8, "a lazy child's fault brings in this many pages: the faulting one "
                            "and its neighbours not yet fetched, in one request answered by one "
                            "train (8: 32 KB, a train; 1: the page alone)", lo=1, hi=16,
                            unit="pages")


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoints of programs to the file server, and their restart after a crash (issue 16)."""

    interval_s: float = _f(0.0, "checkpoint every program the console starts this often; 0 = "
                           "only those asked for (`checkpoint PROG every S`, `checkpoint=S`)",
                           lo=0.0, hi=3600.0, unit="s")
    detect_s: float = _f(1.0, "the home restarts a checkpointed program whose host has not "
                         "answered for this long", lo=0.0, lo_open=True, hi=600.0, unit="s")
    full_every: int = _f(8, "every this many checkpoints the file server merges the chain into "
                         "a full checkpoint (and lets the older files go)", lo=1, hi=10_000)
    retry_s: float = _f(5.0, "after 'cannot restart', ask for a host again this often", lo=0.0,
                        lo_open=True, hi=86_400.0, unit="s")
    restart_timeout_s: float = _f(20.0, "give up a restart on one host after this long", lo=0.0,
                                  lo_open=True, hi=600.0, unit="s")
    freeze_base_us: int = _f(2000, "CPU time of a checkpoint's cut: capturing the kernel state",
                             lo=0, hi=10_000_000, unit="us")
    freeze_per_object_us: int = _f(200, "... plus this per process and team (the pages are "
                                   "written copy-on-write, after the cut)", lo=0, hi=1_000_000,
                                   unit="us")
    copy: str = _f("fork", "fork: the cut makes the modified pages copy-on-write and the program "
                   "runs on (a page it writes before it is sent is copied first); freeze: the "
                   "program stays frozen until its pages are sent", choices=("fork", "freeze"))
    compress: bool = _f(False, "send a modified page as the run-length-encoded XOR against its "
                        "last checkpointed content (the kernel keeps a copy of each page; "
                        "docs/CHECKPOINT.md)")
    writer_priority: str = _f("system", "system: the writer sends at once; background: it sends "
                              "only when no program wants the CPU (a CPU-bound program then "
                              "starves it)", choices=("system", "background"))
    diff_page_us: int = _f(2000, "CPU time to compare a 4 KB page with its kept copy (compress)",
                           lo=0, hi=1_000_000, unit="us")


@dataclass(frozen=True)
class FrameBufferConfig:
    """A 1-bit bitmap display."""

    width: int = _f(1152, "pixels a row (Sun-2: 1152)", lo=16, hi=4096, multiple_of=16,
                    unit="pixels")
    height: int = _f(900, "rows (Sun-2: 900)", lo=16, hi=4096, unit="pixels")

    @property
    def bytes(self) -> int:
        """Size of the bitmap."""
        return self.width * self.height // 8


# The file server's disk: a Fujitsu M2351 "Eagle", the usual Sun file-server disk of 1985:
# 18 ms average seek, 5 ms track to track, 3961 rpm, 1.859 MB/s, 20 heads. emulator/disk.py
# derives the rest (sectors a track, cylinders, the seek curve); docs/CONFIG.md, "The disk".


@dataclass(frozen=True)
class DiskConfig:
    """The file server's disk: a block device backed by an image file, or by memory."""

    image: str | None = _f(None, "image file (relative to the config file); created with `size` "
                           "if missing; an existing file must be a V disk image of exactly `size` "
                           "bytes; null = a disk in memory, empty at every boot")
    size: int = _f(20 * MB, "capacity", lo=64 * KB, hi=2 * GB, multiple_of=4096, kind="size")
    format: bool = _f(False, "allow formatting an existing `image` file that is not a V disk "
                      "image (its contents are lost); a valid image is mounted as usual")
    sector_bytes: int = _f(512, "sector size", choices=(256, 512, 1024, 2048, 4096),
                           unit="bytes")
    seek_ms: float = _f(18.0, "average seek: the seek over the mean distance between two "
                        "random cylinders", lo=0.0, hi=1000.0, unit="ms")
    track_seek_ms: float = _f(5.0, "track-to-track seek (one cylinder); longer seeks grow "
                              "linearly to seek_ms at the mean distance; at most seek_ms",
                              lo=0.0, hi=1000.0, unit="ms")
    rpm: int = _f(3961, "rotation speed: the rotational wait is where the platter is when the "
                  "seek ends", lo=1, hi=100_000, unit="rpm")
    transfer_bytes_per_s: int = _f(1_859_000, "media transfer rate: one track a revolution "
                                   "(sets the sectors per track)", lo=1000,
                                   hi=10_000_000_000, unit="bytes/s")
    heads: int = _f(20, "tracks per cylinder (with the size, sets the cylinders)", lo=1, hi=256)
    cache_kb: int = _f(512, "the file server's block cache (LRU, write-through) over this disk; "
                       "0 = none", lo=0, hi=1 << 20, unit="KB")

    def __post_init__(self) -> None:
        if self.track_seek_ms > self.seek_ms:
            raise ValueError(
                f"disk: track_seek_ms ({self.track_seek_ms:g}) must not exceed seek_ms "
                f"({self.seek_ms:g})"
            )


@dataclass(frozen=True)
class OwnerConfig:
    """The person whose workstation it is; their activity makes it busy and evicts guests."""

    name: str = _f("", "login name; empty = nobody")
    present: bool = _f(False, "active at the keyboard from boot on (until the console says "
                       "`owner HOST off`)")
    trace: tuple[tuple[float, float], ...] = _f(
        (), "activity intervals [start_s, end_s] in simulated seconds, in order, not "
        "overlapping; end may be .inf")

    def active_at(self, t_s: float) -> bool:
        """Whether the owner is active at simulated time t_s (console overrides aside)."""
        return self.present or any(a <= t_s < b for a, b in self.trace)

    def transitions(self) -> tuple[tuple[float, bool], ...]:
        """(time_s, active) changes scheduled by the config, in time order."""
        out: list[tuple[float, bool]] = [(0.0, True)] if self.present else []
        for a, b in self.trace:
            if out and out[-1] == (a, False):
                out.pop()  # intervals that touch merge into one
            else:
                out.append((a, True))
            if not math.isinf(b):
                out.append((b, False))
        return tuple(out)


@dataclass(frozen=True)
class MachineConfig:
    """One machine on the segment: a diskless workstation or the file server."""

    name: str = _f(doc="host name, unique; [a-z][a-z0-9-]*, at most 32 characters",
                   kind="hostname")
    role: str = _f("workstation", "workstation (diskless, runs programs, may have an owner) or "
                   "fileserver (has the disk, serves images and files)", choices=ROLES)
    memory: int = _f(2 * MB, "physical memory", lo=256 * KB, hi=16 * MB, multiple_of=PAGE_SIZE,
                     kind="size")
    mac: str = _f("", "Ethernet address; empty = derived from the machine's position: "
                  "08:00:20:00:HH:LL with HHLL = index + 1", kind="mac")
    disk: DiskConfig | None = _f(None, "the disk; the file server always has one (a default "
                                 "DiskConfig if omitted), workstations none")
    frame_buffer: FrameBufferConfig = _f(doc="the bitmap display", factory=FrameBufferConfig)
    owner: OwnerConfig = _f(doc="the workstation's owner (workstations only)",
                            factory=OwnerConfig)
    segment: str = _f("", "the Ethernet segment the machine is attached to (a name of "
                      "`segments`); empty = the first segment")

    def __post_init__(self) -> None:
        if self.role == "fileserver" and self.disk is None:
            object.__setattr__(self, "disk", DiskConfig())

    @property
    def is_workstation(self) -> bool:
        return self.role == "workstation"

    @property
    def is_file_server(self) -> bool:
        return self.role == "fileserver"


def derived_mac(index: int) -> str:
    """The MAC address of the machine at `index` (0-based) when the config gives none."""
    n = index + 1
    return f"{SUN_OUI}:00:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


def default_images_dir() -> Path:
    """guest/bin of this checkout or installation."""
    return Path(__file__).resolve().parent.parent / "guest" / "bin"


def image_name(path: Path) -> str | None:
    """Program name of an image file (NAME or NAME.elf), None for anything else in the folder."""
    if path.name.startswith("."):
        return None
    if path.suffix == "":
        return path.name
    if path.suffix in IMAGE_SUFFIXES:
        return path.stem
    return None


def available_images(images_dir: str | Path | None = None) -> tuple[str, ...]:
    """Names of the guest images: `guest.build.available()` if it exists, else guest/bin's files."""
    if images_dir is None:
        names = _guest_build_available()
        if names is not None:
            return names
        images_dir = default_images_dir()
    folder = Path(images_dir)
    if not folder.is_dir():
        return ()
    found = {image_name(p) for p in folder.iterdir() if p.is_file()}
    return tuple(sorted(n for n in found if n))


def _guest_build_available() -> tuple[str, ...] | None:
    try:
        from guest import build  # type: ignore[attr-defined]
    except Exception:  # absent, or mid-edit by its owner: fall back to listing the folder
        return None
    available = getattr(build, "available", None)
    if not callable(available):
        return None
    try:
        items = list(available())
    except Exception:  # their helper failing must not hide the folder listing
        return None
    names = set()
    for item in items:
        name = image_name(Path(item)) if isinstance(item, Path) else str(item)
        if name:
            names.add(name)
    return tuple(sorted(names))


DEFAULT_SEGMENT = "ether0"  # the name of the one segment of a config without `segments`


@dataclass(frozen=True)
class SegmentConfig:
    """One Ethernet segment of several (its own cable, collision domain, counters and capture); a wire parameter left out (null) is the `network` section's."""

    name: str = _f(doc="segment name, unique; [a-z][a-z0-9-]*, at most 32 characters",
                   kind="hostname")
    bitrate: int | None = _f(None, "signalling rate (null: network.bitrate)", lo=1_000,
                             hi=1_000_000_000, unit="bit/s")
    length_m: float | None = _f(None, "cable length (null: network.length_m)", lo=0.0,
                                hi=2500.0, unit="m")
    propagation_ns_per_m: float | None = _f(None, "propagation delay along the cable (null: "
                                            "network.propagation_ns_per_m)", lo=0.0, hi=100.0,
                                            unit="ns/m")
    loss_rate: float | None = _f(None, "probability that a frame is lost (null: "
                                 "network.loss_rate)", lo=0.0, hi=1.0)
    corrupt_rate: float | None = _f(None, "probability of a bad FCS (null: "
                                    "network.corrupt_rate)", lo=0.0, hi=1.0)

    def wire(self, network: NetworkConfig) -> NetworkConfig:
        """This segment's wire: its own parameters, the others `network`'s."""
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(NetworkConfig)
                 if getattr(self, f.name, None) is not None}
        return dataclasses.replace(network, **given)


@dataclass(frozen=True)
class GatewayConfig:
    """A gateway machine joining segments (netsim/gateway.py): it forwards frames between them, each direction a link of its own with a latency, a bandwidth and a bounded queue; the console crashes it and powers it on like a workstation."""

    name: str = _f(doc="gateway name, unique among machines and gateways", kind="hostname")
    segments: tuple[str, ...] = _f((), "the segments it joins (names of `segments`, at least "
                                   "two)")
    latency_us: float = _f(1000.0, "time from a frame's arrival at the gateway to its hand-over "
                           "to the other segment, queueing aside (at least 1 us: the lookahead "
                           "of a run spread over processes)", lo=1.0, hi=10_000_000.0, unit="us")
    bandwidth_bps: int = _f(10_000_000, "rate of each direction of the gateway's links",
                            lo=1_000, hi=1_000_000_000, unit="bit/s")
    queue_frames: int = _f(64, "frames each direction holds waiting for its link; more are "
                           "dropped and counted", lo=1, hi=100_000)


@dataclass(frozen=True)
class ClusterConfig:
    """A whole cluster: the wire, the machines, the policies and the programs on the disk."""

    name: str = _f("vcluster", "name of the cluster (default: the config file's name)")
    seed: int = _f(1985, "seed of every random choice (same config + same seed = same run)",
                   lo=0, hi=2**63 - 1)
    console_host: str = _f("", "workstation the console is attached to (default: the first "
                           "workstation)")
    network: NetworkConfig = _f(doc="the Ethernet segment (with `segments`: every segment's "
                                "defaults)", factory=NetworkConfig)
    cpu: CpuConfig = _f(doc="the processors", factory=CpuConfig)
    cost: CostModel = _f(doc="kernel costs and protocol timers", factory=CostModel)
    idle: IdlePolicy = _f(doc="idleness and eviction", factory=IdlePolicy)
    migration: MigrationPolicy = _f(doc="migration", factory=MigrationPolicy)
    checkpoint: CheckpointPolicy = _f(doc="checkpoints and restart", factory=CheckpointPolicy)
    rfork: RforkPolicy = _f(doc="remote fork", factory=RforkPolicy)
    machines: tuple[MachineConfig, ...] = _f((), "the machines, in order (the order gives the "
                                            "derived MAC addresses)")
    programs: tuple[str, ...] = _f(doc="images installed on the file server's disk: names of "
                                   "guest/bin, or paths to images of your own (relative to the "
                                   "config; the file's name is the program's) (default: every "
                                   "image in guest/bin)", factory=available_images)
    program_paths: tuple[tuple[str, str], ...] = _f((), "the programs given by path: (name, "
                                                    "absolute path) (set by the loader)")
    files: tuple[tuple[str, str], ...] = _f((), "host files put on the file server's disk at "
                                            "boot: a path (relative to the config), or "
                                            "{path: P, name: N}; (name, absolute path) here")
    source_path: str = _f("", "the file the config was loaded from (set by the loader, not a "
                          "key of the file)")
    segments: tuple[SegmentConfig, ...] = _f((), "several Ethernet segments joined by "
                                             "`gateways`; empty = one segment, ether0, of "
                                             "`network`")
    gateways: tuple[GatewayConfig, ...] = _f((), "the gateways joining the segments (the "
                                             "segments and gateways form a tree)")

    def __post_init__(self) -> None:
        machines = tuple(
            m if m.mac else dataclasses.replace(m, mac=derived_mac(i))
            for i, m in enumerate(self.machines)
        )
        object.__setattr__(self, "machines", machines)
        object.__setattr__(self, "programs", tuple(self.programs))
        if not self.console_host:
            first = next((m.name for m in machines if m.is_workstation), "")
            object.__setattr__(self, "console_host", first)

    def machine(self, name: str) -> MachineConfig:
        """The machine called `name` (KeyError if there is none)."""
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def hostnames(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.machines)

    @property
    def workstations(self) -> tuple[MachineConfig, ...]:
        return tuple(m for m in self.machines if m.is_workstation)

    @property
    def segment_names(self) -> tuple[str, ...]:
        """The segments, in order (the first is a machine's when it names none)."""
        return tuple(seg.name for seg in self.segments) or (DEFAULT_SEGMENT,)

    def segment_of(self, machine: MachineConfig) -> str:
        """The name of the segment `machine` is attached to."""
        return machine.segment or self.segment_names[0]

    def wire(self, segment: str) -> NetworkConfig:
        """The wire parameters of the segment called `segment`."""
        for seg in self.segments:
            if seg.name == segment:
                return seg.wire(self.network)
        if segment == DEFAULT_SEGMENT and not self.segments:
            return self.network
        raise KeyError(segment)

    @property
    def file_server(self) -> MachineConfig:
        """The machine with the disk (ValueError if the config has none)."""
        for m in self.machines:
            if m.is_file_server:
                return m
        raise ValueError("the configuration has no file server")


SECTIONS: tuple[tuple[str, type], ...] = (
    ("", ClusterConfig),
    ("network", NetworkConfig),
    ("cpu", CpuConfig),
    ("cost", CostModel),
    ("idle", IdlePolicy),
    ("migration", MigrationPolicy),
    ("checkpoint", CheckpointPolicy),
    ("rfork", RforkPolicy),
    ("machines[]", MachineConfig),
    ("machines[].disk", DiskConfig),
    ("machines[].frame_buffer", FrameBufferConfig),
    ("machines[].owner", OwnerConfig),
    ("segments[]", SegmentConfig),
    ("gateways[]", GatewayConfig),
)

MACHINE_EXPANSION_KEYS = ("count", "first")


# ---------------------------------------------------------------------------------------------
# Validation of a built config (the loader checks fields as it reads them, with line numbers,
# then runs cross_problems; validate() runs both for configs built in Python).


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the field (a path like machines[2].name), the message, a related field."""

    field: str
    message: str
    related: str = ""


def field_problems(obj: Any, path: str = "") -> list[Problem]:
    """Limit violations of every field of a config object, recursively."""
    out: list[Problem] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        here = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            out += field_problems(value, here)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                out += field_problems(item, f"{here}[{i}]")
        else:
            msg = check_value(f, value)
            if msg:
                out.append(Problem(here, msg))
    if isinstance(obj, OwnerConfig):
        out += [Problem(f"{path}.{p.field}" if path else p.field, p.message)
                for p in trace_problems(obj.trace)]
    return out


def trace_problems(trace: Sequence[tuple[float, float]]) -> list[Problem]:
    """Intervals must be non-negative, non-empty, in order and not overlapping."""
    out: list[Problem] = []
    prev_end = 0.0
    for i, (a, b) in enumerate(trace):
        where = f"trace[{i}]"
        if not math.isfinite(a) or a < 0:
            out.append(Problem(where, f"start must be a finite time >= 0 s, got {_fmt_num(a)}"))
        elif math.isnan(b) or b <= a:
            out.append(Problem(where, f"end ({_fmt_num(b)} s) must come after start "
                                      f"({_fmt_num(a)} s)"))
        elif a < prev_end:
            out.append(Problem(where, f"starts at {_fmt_num(a)} s, before the previous interval "
                                      f"ends ({_fmt_num(prev_end)} s); intervals must be in "
                                      "order and not overlap"))
        else:
            prev_end = b
    return out


def train_wire_ms(cost: CostModel, network: NetworkConfig) -> float:
    """Wire time of one full MoveTo train (data + ~64 bytes of headers, preamble, gap a packet)."""
    bits = cost.bulk_train_packets * (cost.bulk_packet_bytes + 64 + 8 + 12) * 8
    return bits / network.bitrate * 1000.0


def cross_problems(cfg: ClusterConfig, images: Sequence[str] | None = None) -> list[Problem]:
    """Problems between fields: names, roles, console host, programs, timers. In this order."""
    out: list[Problem] = []
    machines = cfg.machines
    if not cfg.segments and len(machines) > MAX_STATIONS:  # several segments: segment_problems
        out.append(Problem("machines", f"{len(machines)} machines; one Ethernet segment takes "
                                       f"at most {MAX_STATIONS} stations"))
    seen: dict[str, int] = {}
    macs: dict[str, int] = {}
    for i, m in enumerate(machines):
        if m.name in seen:
            out.append(Problem(f"machines[{i}].name", f"duplicate host name {m.name!r}",
                               f"machines[{seen[m.name]}].name"))
        else:
            seen[m.name] = i
        if m.mac in macs:
            j = macs[m.mac]
            out.append(Problem(f"machines[{i}].mac", f"MAC address {m.mac} of {m.name!r} is "
                                                     f"already used by {machines[j].name!r}",
                               f"machines[{j}].mac"))
        else:
            macs[m.mac] = i
    servers = [i for i, m in enumerate(machines) if m.is_file_server]
    if not servers:
        out.append(Problem("machines", "no file server: exactly one machine needs "
                                       "role: fileserver"))
    for i in servers[1:]:
        first = machines[servers[0]].name
        out.append(Problem(f"machines[{i}].role", f"a second file server ({machines[i].name!r}); "
                                                  f"{first!r} is one already and there must be "
                                                  "exactly one", f"machines[{servers[0]}].role"))
    if not any(m.is_workstation for m in machines):
        out.append(Problem("machines", "no workstation: at least one machine needs "
                                       "role: workstation"))
    for i, m in enumerate(machines):
        if m.is_workstation and m.disk is not None:
            out.append(Problem(f"machines[{i}].disk", f"{m.name!r} is a workstation; "
                                                      "workstations are diskless (only the file "
                                                      "server has a disk)"))
        if m.is_file_server and (m.owner.name or m.owner.present or m.owner.trace):
            out.append(Problem(f"machines[{i}].owner", f"{m.name!r} is the file server; only "
                                                       "workstations have owners"))
        if m.owner.present and m.owner.trace:
            out.append(Problem(f"machines[{i}].owner.present",
                               "present: true already makes the owner active from boot on; give "
                               "the trace alone (its first interval may start at 0)"))
    workstations = [m.name for m in machines if m.is_workstation]
    if cfg.console_host and machines:
        try:
            host = cfg.machine(cfg.console_host)
        except KeyError:
            out.append(Problem("console_host", f"no machine named {cfg.console_host!r}; "
                                               f"workstations: {_listing(workstations)}"))
        else:
            if not host.is_workstation:
                out.append(Problem("console_host", f"{host.name!r} is the file server, not a "
                                                   "workstation; workstations: "
                                                   f"{_listing(workstations)}"))
    listed: dict[str, int] = {}
    for i, prog in enumerate(cfg.programs):
        if prog in listed:
            out.append(Problem(f"programs[{i}]", f"{prog!r} is listed twice",
                               f"programs[{listed[prog]}]"))
            continue
        listed[prog] = i
        if images is not None and prog not in images and prog not in dict(cfg.program_paths):
            out.append(Problem(f"programs[{i}]", f"no image {prog!r} in guest/bin; available: "
                                                 f"{_listing(images)}"))
    cost = cfg.cost
    if cost.rebind_after_retransmits > cost.max_retransmits:
        out.append(Problem("cost.rebind_after_retransmits",
                           f"{cost.rebind_after_retransmits} is more than max_retransmits "
                           f"({cost.max_retransmits}): the binding would never be re-resolved"))
    if cost.reply_retain_ms <= cost.reply_pending_interval_ms:
        out.append(Problem("cost.reply_retain_ms",
                           f"{cost.reply_retain_ms} ms must exceed reply_pending_interval_ms "
                           f"({cost.reply_pending_interval_ms} ms), or a frozen process's reply "
                           "is dropped between two of its retransmissions"))
    wire = train_wire_ms(cost, cfg.network)
    if cost.retransmit_timeout_ms <= wire:
        out.append(Problem("cost.retransmit_timeout_ms",
                           f"{cost.retransmit_timeout_ms} ms is shorter than one MoveTo train "
                           f"on the wire ({wire:.1f} ms for {cost.bulk_train_packets} x "
                           f"{cost.bulk_packet_bytes} bytes): every train would be resent"))
    rtt = 2 * cfg.network.propagation_ns
    if rtt >= SLOT_NS:
        out.append(Problem("network.length_m",
                           f"a round trip along {_fmt_num(cfg.network.length_m)} m takes "
                           f"{rtt / 1000:.1f} us, not less than the 51.2 us slot time: "
                           "collisions would go undetected"))
    return out + segment_problems(cfg)


def segment_problems(cfg: ClusterConfig) -> list[Problem]:
    """Segments and gateways: names, the segments machines and gateways name, the tree they form
    (connected, no loop: gateways forward broadcasts to every other segment), stations a segment,
    each segment's round trip, and a round trip across the widest path within the retransmit
    timeout."""
    out: list[Problem] = []
    names: dict[str, int] = {}
    for i, seg in enumerate(cfg.segments):
        if seg.name in names:
            out.append(Problem(f"segments[{i}].name", f"duplicate segment name {seg.name!r}",
                               f"segments[{names[seg.name]}].name"))
        else:
            names[seg.name] = i
    known = cfg.segment_names
    for i, m in enumerate(cfg.machines):
        if m.segment and m.segment not in known:
            hint = ("; this config has one segment (add `segments:` to have several)"
                    if not cfg.segments else "")
            out.append(Problem(f"machines[{i}].segment", f"no segment named {m.segment!r}; "
                                                         f"segments: {_listing(known)}{hint}"))
    hosts = {m.name: i for i, m in enumerate(cfg.machines)}
    gateways: dict[str, int] = {}
    for i, gw in enumerate(cfg.gateways):
        here = f"gateways[{i}]"
        if gw.name in hosts:
            out.append(Problem(f"{here}.name", f"{gw.name!r} is already the name of a machine",
                               f"machines[{hosts[gw.name]}].name"))
        elif gw.name in gateways:
            out.append(Problem(f"{here}.name", f"duplicate gateway name {gw.name!r}",
                               f"gateways[{gateways[gw.name]}].name"))
        else:
            gateways[gw.name] = i
        if not cfg.segments:
            out.append(Problem(f"{here}.segments", "a gateway joins segments, and this config has "
                                                   "one: list them in `segments`"))
            continue
        for j, name in enumerate(gw.segments):
            if name not in known:
                out.append(Problem(f"{here}.segments[{j}]", f"no segment named {name!r}; "
                                                            f"segments: {_listing(known)}"))
            elif name in gw.segments[:j]:
                out.append(Problem(f"{here}.segments[{j}]", f"{name!r} is listed twice"))
        if len(set(gw.segments)) < 2:
            out.append(Problem(f"{here}.segments", f"{gw.name!r} joins "
                                                   f"{len(set(gw.segments))} segment"
                                                   f"{'' if len(set(gw.segments)) == 1 else 's'}; "
                                                   "a gateway joins at least two"))
    if out or not cfg.segments:
        return out
    # the tree: union-find over the segments, one gateway at a time
    root = {name: name for name in known}

    def find(x: str) -> str:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for i, gw in enumerate(cfg.gateways):
        tops = [find(name) for name in gw.segments]
        if len(set(tops)) < len(tops):
            out.append(Problem(f"gateways[{i}].segments",
                               f"{gw.name!r} closes a loop: its segments are joined already by "
                               "other gateways, and a loop would carry every broadcast round it "
                               "for ever (the gateways run no spanning tree)"))
            return out
        for t in tops[1:]:
            root[t] = tops[0]
    apart = [name for name in known if find(name) != find(known[0])]
    if apart:
        out.append(Problem("gateways", f"segment {apart[0]!r} is joined to {known[0]!r} by no "
                                       "gateway: every segment must be reachable from every "
                                       "other", f"segments[{names[apart[0]]}].name"))
        return out
    for i, seg in enumerate(cfg.segments):
        stations = sum(1 for m in cfg.machines if cfg.segment_of(m) == seg.name)
        stations += sum(1 for gw in cfg.gateways if seg.name in gw.segments)
        if stations > MAX_STATIONS:
            out.append(Problem(f"segments[{i}]", f"{stations} stations (machines and gateways) on "
                                                 f"{seg.name!r}; one Ethernet segment takes at "
                                                 f"most {MAX_STATIONS}"))
        wire = seg.wire(cfg.network)
        rtt = 2 * wire.propagation_ns
        if rtt >= SLOT_NS:
            out.append(Problem(f"segments[{i}].length_m",
                               f"a round trip along {_fmt_num(wire.length_m)} m takes "
                               f"{rtt / 1000:.1f} us, not less than the 51.2 us slot time: "
                               "collisions would go undetected"))
    widest, path = widest_path(cfg)
    if 2 * widest / 1000 >= cfg.cost.retransmit_timeout_ms:
        out.append(Problem("cost.retransmit_timeout_ms",
                           f"{_fmt_num(cfg.cost.retransmit_timeout_ms)} ms is not more than a "
                           f"round trip through the gateways between {path[0]!r} and "
                           f"{path[1]!r} ({2 * widest / 1000:g} ms of their latency): every "
                           "Send across would be retransmitted"))
    return out


def widest_path(cfg: ClusterConfig) -> tuple[float, tuple[str, str]]:
    """The most gateway latency (us) between two segments of the tree, and those two segments."""
    links: dict[str, list[tuple[str, float]]] = {name: [] for name in cfg.segment_names}
    for gw in cfg.gateways:
        for a in gw.segments:
            links[a] += [(b, gw.latency_us) for b in gw.segments if b != a]
    best: tuple[float, tuple[str, str]] = (0.0, (cfg.segment_names[0],) * 2)
    for start in links:
        seen = {start: 0.0}
        todo = [start]
        while todo:
            here = todo.pop()
            for there, us in links[here]:
                if there not in seen:
                    seen[there] = seen[here] + us
                    todo.append(there)
        far = max(seen, key=lambda name: seen[name])
        if seen[far] > best[0]:
            best = (seen[far], (start, far))
    return best


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def validate(cfg: ClusterConfig, images: Sequence[str] | None = None) -> None:
    """Raise ConfigError for the first problem of a config built in Python (line 0: no file)."""
    problems = field_problems(cfg) + cross_problems(cfg, images)
    if problems:
        p = problems[0]
        extra = f" (see {p.related})" if p.related else ""
        raise ConfigError(cfg.source_path or "<config>", 0, p.field, p.message + extra)


# ---------------------------------------------------------------------------------------------
# The reference tables of docs/CONFIG.md are generated from the metadata above:
# `python -m configs` prints them; a test checks that the document carries them.


def _type_name(cls: type, f: dataclasses.Field[Any]) -> str:
    if f.metadata.get("kind") == "size":
        return "size"
    hint = typing.get_type_hints(cls)[f.name]
    names = {int: "int", float: "float", bool: "bool", str: "string"}
    if hint in names:
        return names[hint]
    if dataclasses.is_dataclass(hint):
        return "mapping"
    text = re.sub(r"\b[\w]+\.", "", str(hint))
    return {
        "str | None": "string or null",
        "DiskConfig | None": "mapping or null",
        "tuple[MachineConfig, ...]": "list of mappings",
        "tuple[str, ...]": "list of strings",
        "tuple[tuple[float, float], ...]": "list of [start, end]",
        "int | None": "int or null",
        "float | None": "float or null",
        "tuple[SegmentConfig, ...]": "list of mappings",
        "tuple[GatewayConfig, ...]": "list of mappings",
    }.get(text, text)


def _default_text(f: dataclasses.Field[Any]) -> str:
    kind = f.metadata.get("kind", "")
    if f.default is dataclasses.MISSING:
        if f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            return "required"
        value = f.default_factory()  # type: ignore[misc]
        if dataclasses.is_dataclass(value):
            return "see below"
        if isinstance(value, tuple):
            return "see meaning"
        return repr(value)
    value = f.default
    if kind == "size":
        return _fmt_size(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[]"
    if isinstance(value, int) and value >= 10_000:
        return f"{value:_}"
    return _fmt_num(value)


def _limits_text(f: dataclasses.Field[Any]) -> str:
    m = f.metadata
    kind = m.get("kind", "")
    parts = []
    lo, hi = m.get("lo"), m.get("hi")
    if lo is not None and hi is not None:
        left = "(" if m.get("lo_open") else "["
        parts.append(f"{left}{_doc_num(lo, kind)}, {_doc_num(hi, kind)}]")
    if m.get("multiple_of"):
        parts.append(f"multiple of {_fmt_limit(m['multiple_of'], kind)}")
    if m.get("choices"):
        parts.append(" / ".join(map(str, m["choices"])))
    if m.get("unit") and kind != "size":
        parts.append(m["unit"])
    return ", ".join(parts)


def _doc_num(x: float, kind: str) -> str:
    if kind != "size" and isinstance(x, int) and x >= 10_000:
        return f"{x:_}"
    return _fmt_limit(x, kind)


def reference_markdown() -> str:
    """The per-section field tables of docs/CONFIG.md."""
    lines: list[str] = []
    for section, cls in SECTIONS:
        title = section or "top level"
        lines += [f"### `{title}` ({cls.__name__})", "", (cls.__doc__ or "").strip(), ""]
        lines += ["| key | type | default | limits, unit | meaning |", "|---|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            doc = f.metadata.get("doc", "").replace("|", "\\|")
            lines.append(f"| `{f.name}` | {_type_name(cls, f)} | {_default_text(f)} | "
                         f"{_limits_text(f)} | {doc} |")
        if cls is MachineConfig:
            lines.append("| `count` | int | absent | [1, 1024] | loader only: repeat this entry "
                         "`count` times; `name` (and `owner.name`) must contain `{i}` |")
            lines.append("| `first` | int | 1 | [0, 1000000] | loader only: the first value "
                         "of `{i}` |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

