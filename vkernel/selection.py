"""Host selection: how a program manager answers an `@ *` (or a migration's) host query.

V (section 2.1 of the paper): the query goes to the program manager group; "typically, the
client receives several responses ... it simply selects the program manager that responds
first since that is generally the least loaded host". The paper does not say that a program
manager delays its answer on purpose, so nothing here does in `first-reply`: the answer comes
after the work of weighing the query (look at each process of the machine and each page of
memory in use, decide, reply; `weigh_us`), and that work is scheduled at guest priority, the
priority a new remote program would get. On an idle machine it runs at once; on a loaded one it
waits in the ready queue behind the guests there (a slice each), so the answer's delay is the
wait a new guest would see, and the first answer comes from the least loaded host. Every
willing member answers, straight to the requester: N answers to a query of N idle hosts.

`scaled` keeps that work and bounds the answers (issue 17): each member that would answer
waits a random delay, scaled with its load and with the group's size, and keeps its answer
back when it has overheard another member's (answers are multicast to the group):

    delay = (load + max(0, 1 + ln(u) / ln(N))) x window,   u ~ U(0, 1]

where N is the number of workstations, load the host's runnable and being-created programs
and `window` = `idle.scaled_window_delays` x the time an answer takes to be overheard (its
packet send, wire and receive from the cost model; with segments, plus the gateway latency of
the widest path, so that the farthest segment overhears it too). The random part is the exponentially
distributed feedback timer of Nonnenmacher and Biersack (1998): a member answers at once with
probability 1/N, and the expected number of answers within one answer delay of the first
stays a small constant as N grows, where uniform timers would need a window growing with N.
The load term puts every less loaded host's window before a more loaded one's.

`gossip` answers from load vectors exchanged in the background (vkernel/gossip.py): the
hosts every member ranks first answer, the others only if none did.

`auto` is first-reply up to `idle.selection_auto_hosts` workstations and scaled above.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from configs.schema import widest_path
from netsim import frame as wire
from vkernel import packets as pk

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

FIRST_REPLY = "first-reply"
SCALED = "scaled"
GOSSIP = "gossip"
AUTO = "auto"
MODES = (FIRST_REPLY, SCALED, GOSSIP, AUTO)
# an answer on the wire: preamble and SFD, the frame (Ethernet and interkernel headers, the
# 32-byte message) and its FCS, then the inter-frame gap
ANSWER_BITS = (
    wire.PREAMBLE + max(wire.MIN_FRAME, wire.HEADER + pk.HEADER_SIZE + pk.MSG_SIZE) + wire.FCS
) * 8 + wire.IFG_BITS


def mode(kernel: Kernel) -> str:
    """The selection this kernel's program manager follows (auto resolved by cluster size)."""
    policy = kernel.config.idle
    chosen = policy.selection
    if chosen == AUTO:
        return FIRST_REPLY if group_size(kernel) <= policy.selection_auto_hosts else SCALED
    return chosen


def group_size(kernel: Kernel) -> int:
    """Program managers that may answer: the workstations of the cluster the kernel booted in."""
    config = kernel.config
    got = _group_sizes.get(id(config))
    if got is None or got[0] is not config:  # counted once a config (the entry keeps it alive)
        got = _group_sizes[id(config)] = (
            config,
            max(1, sum(1 for m in config.machines if m.is_workstation)),
        )
        while len(_group_sizes) > 64:
            del _group_sizes[next(iter(_group_sizes))]
    return got[1]


_group_sizes: dict[int, tuple[object, int]] = {}


def examined(kernel: Kernel) -> tuple[int, int]:
    """What weighing a query looks at: the machine's processes and its pages in use."""
    frames = kernel.frames
    pages = frames.nframes - frames.reserved - frames.free_count
    return len(kernel.processes), max(0, pages)


def weigh_us(kernel: Kernel) -> float:
    """CPU work of weighing one host query (program_manager_op_us + the examination)."""
    c = kernel.cost
    processes, pages = examined(kernel)
    return (
        c.program_manager_op_us + processes * c.pm_examine_process_us + pages * c.pm_examine_page_us
    )


def weigh_charges(kernel: Kernel) -> tuple[tuple[str, float], ...]:
    """weigh_us by constant, for the ledger (vkernel/ledger.py)."""
    processes, pages = examined(kernel)
    return (
        ("program_manager_op_us", 1),
        ("pm_examine_process_us", processes),
        ("pm_examine_page_us", pages),
    )


def answer_delay_ns(kernel: Kernel) -> int:
    """How long an answer takes to be overheard by the other members (no contention); across
    gateways, by the farthest segment's (plus the gateway latency of the widest path)."""
    c = kernel.cost
    wire_ns = ANSWER_BITS * 1e9 / kernel.config.network.bitrate
    latency_us = _widest_us(kernel.config)
    return int((c.packet_send_us + c.packet_receive_us + latency_us) * 1000 + wire_ns)


def _widest_us(config) -> float:
    """The gateway latency (us) of the config's widest path (0: one segment), once a config."""
    got = _widest_paths.get(id(config))
    if got is None or got[0] is not config:
        got = _widest_paths[id(config)] = (
            config,
            widest_path(config)[0] if config.gateways else 0.0,
        )
        while len(_widest_paths) > 64:
            del _widest_paths[next(iter(_widest_paths))]
    return got[1]


_widest_paths: dict[int, tuple[object, float]] = {}


def scaled_delay_ns(kernel: Kernel, load: float) -> int:
    """A scaled member's wait before it answers (see the module's formula)."""
    n = group_size(kernel)
    window = kernel.config.idle.scaled_window_delays * answer_delay_ns(kernel)
    u = 1.0 - kernel.rng.random()  # (0, 1]
    spread = max(0.0, 1.0 + math.log(u) / math.log(n)) if n > 1 else 0.0
    return int((max(0.0, load) + spread) * window)
