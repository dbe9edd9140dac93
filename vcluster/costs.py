"""Every constant of the time model in one list: its value, what it stands for and where it comes from.

The calibrated constants are configs/schema.py's CostModel (kernel and server
time charged by name, vkernel/ledger.py); the emergent model's parameters are
the CPU's speed, the wire's and the disk's geometry (time that comes out of
instructions, frames and seeks); the polls are the kernel's own retry periods.
`python -m vcluster.costs` prints the table docs/ARCHITECTURE.md carries (a
test checks that it does), with the values of the code.
"""

from __future__ import annotations

import dataclasses

from configs.schema import ClusterConfig, CostModel, CpuConfig, DiskConfig, NetworkConfig

# The basis of a calibrated constant: set from one of the V paper's own figures (a benchmark row
# that compares with that figure is then a calibration check), from another measurement of the V
# kernel, or estimated from 68010 instruction timings / the work done.
PAPER = "V paper figure"
KERNEL_1983 = "V kernel measurement"
ESTIMATE = "estimate"
TIMER = "protocol timer"

_CZ = (
    "Cheriton & Zwaenepoel 1983: local 32-byte Send-Receive-Reply 0.77 ms = 3 traps + 2 "
    "context switches + 3 IPC operations"
)
_CZ_REMOTE = (
    "Cheriton & Zwaenepoel 1983: remote Send-Receive-Reply 2.54 ms, less the local 0.77 ms and "
    "~0.15 ms of wire, over 4 packet operations, split 350 send / 450 receive"
)
_SETUP = (
    "V section 4.1: set-up and destroy of an execution environment 40 ms; ~25 ms left after the "
    "messages and the program manager's work, split create team / process / destroy team"
)

# CostModel field -> (basis, source)
SOURCES: dict[str, tuple[str, str]] = {
    "trap_us": (KERNEL_1983, _CZ),
    "context_switch_us": (KERNEL_1983, _CZ),
    "ipc_op_us": (KERNEL_1983, _CZ),
    "packet_send_us": (KERNEL_1983, _CZ_REMOTE),
    "packet_receive_us": (KERNEL_1983, _CZ_REMOTE),
    "page_copy_us": (
        PAPER,
        "V section 4.2: 1 MB copied in 3 s = 2.93 ms a 1 KB packet, less the wire and the packet "
        "operations, halved between the two ends (back-solved from V's copy rate)",
    ),
    "local_page_copy_us": (ESTIMATE, "68010 move.l (a0)+,(a1)+ with dbra: ~2 us a longword"),
    "page_zero_us": (ESTIMATE, "68010 clr.l (a0)+ loop: about half a copy"),
    "process_create_us": (PAPER, _SETUP),
    "team_create_us": (PAPER, _SETUP),
    "team_destroy_us": (PAPER, _SETUP),
    "kernel_server_op_us": (ESTIMATE, "bookkeeping of a kernel-server request (not from V)"),
    "program_manager_op_us": (
        PAPER,
        "V section 4.1: ~5 ms of the 40 ms set-up is the program manager's own work and its "
        "kernel-server calls",
    ),
    "pm_examine_process_us": (
        ESTIMATE,
        "weighing a host query: ~50 instructions a process descriptor at 1 MIPS (the selection "
        "is a mechanism, not V's 23 ms)",
    ),
    "pm_examine_page_us": (
        ESTIMATE,
        "weighing a host query: ~10 instructions a frame-table entry in use at 1 MIPS",
    ),
    "file_server_op_us": (ESTIMATE, "bookkeeping of a file-server request (not from V)"),
    "rfork_page_serve_us": (
        ESTIMATE,
        "~100 instructions at 1 MIPS: a snapshot page's lookup and a train descriptor (the pages "
        "stay in the parent's frames, copy-on-write, as Accent's; no copy before the send)",
    ),
    "display_char_us": (ESTIMATE, "drawing one 8x16 glyph on a 10 MHz 68010 frame buffer"),
    "local_group_us": (PAPER, "V section 4.1: local group ids add ~100 us to each operation"),
    "frozen_check_us": (PAPER, "V section 4.1: the frozen test adds 13 us to kernel operations"),
    "ks_pm_state_copy_base_us": (
        PAPER,
        "V section 4.1: kernel-server and program-manager state copy 14 ms + 9 ms per process "
        "and address space",
    ),
    "ks_pm_state_copy_per_object_us": (
        PAPER,
        "V section 4.1: kernel-server and program-manager state copy 14 ms + 9 ms per process "
        "and address space",
    ),
    "checkpoint.freeze_base_us": (
        ESTIMATE,
        "a checkpoint's cut: capturing the kernel state (pages copy-on-write after it)",
    ),
    "checkpoint.freeze_per_object_us": (ESTIMATE, "... plus this per process and team"),
    "checkpoint.diff_page_us": (
        ESTIMATE,
        "compressed differences: 68010 cmpm.l (a0)+,(a1)+ / dbne in loop mode, ~2 us a longword "
        "as a copy (local_page_copy_us); the changed bytes' copies are charged as local copies",
    ),
    "retransmit_timeout_ms": (TIMER, "design: longer than one 32 KB train on the wire"),
    "reply_pending_interval_ms": (TIMER, "design (V's reply-pending probe)"),
    "reply_retain_ms": (TIMER, "design: longer than the reply-pending interval"),
    "rebind_after_retransmits": (TIMER, "design"),
    "max_retransmits": (TIMER, "design"),
    "host_query_timeout_ms": (TIMER, "design"),
    "bulk_packet_bytes": (PAPER, "V moved 1 KB a packet"),
    "bulk_train_packets": (PAPER, "V moved 32 KB as a unit"),
}

# The emergent model: time that comes out of instructions, frames and the disk's mechanics.
EMERGENT: tuple[tuple[type, str, str], ...] = (
    (CpuConfig, "ns_per_instruction", "a 10 MHz 68010 at about 1 MIPS on compiled C"),
    (CpuConfig, "slice_instructions", "a typical 1985 time slice (20 ms at 1 MIPS)"),
    (NetworkConfig, "bitrate", "10 Mb/s Ethernet"),
    (NetworkConfig, "length_m", "10BASE5: 500 m a segment"),
    (NetworkConfig, "propagation_ns_per_m", "coax ~4.3 ns/m, rounded"),
    (DiskConfig, "seek_ms", 'Fujitsu M2351 "Eagle" data sheet'),
    (DiskConfig, "track_seek_ms", 'Fujitsu M2351 "Eagle" data sheet'),
    (DiskConfig, "rpm", 'Fujitsu M2351 "Eagle" data sheet'),
    (DiskConfig, "transfer_bytes_per_s", 'Fujitsu M2351 "Eagle" data sheet'),
    (DiskConfig, "heads", 'Fujitsu M2351 "Eagle" data sheet'),
    (DiskConfig, "sector_bytes", "the usual 512-byte sector"),
    (DiskConfig, "cache_kb", "V's file servers cached blocks; 512 KB is a choice"),
)


def polls() -> tuple[tuple[str, str, int, str], ...]:
    """The kernel's own retry periods (not costs: how often a waiting step looks again), from
    the modules that use them: (module.NAME, unit, value, what)."""
    from vkernel import kernel, locate, migration, paging, shell

    return (
        (
            "vkernel.kernel.THAW_RETRY_NS",
            "ns",
            kernel.THAW_RETRY_NS,
            "a local MoveTo/MoveFrom on a frozen logical host tries again",
        ),
        (
            "vkernel.migration.SETTLE_POLL_NS",
            "ns",
            migration.SETTLE_POLL_NS,
            "the freeze waits for the logical host's transfers to finish",
        ),
        (
            "vkernel.migration.RESIDENCY_POLL_NS",
            "ns",
            migration.RESIDENCY_POLL_NS,
            "a logical host paged in from the file server is checked for residency",
        ),
        (
            "vkernel.paging.READ_RETRY_NS",
            "ns",
            paging.READ_RETRY_NS,
            "the pager retries a failed read of the backing file",
        ),
        (
            "vkernel.locate.LOCATE_RETRY_MS",
            "ms",
            locate.LOCATE_RETRY_MS,
            "a kernel asks the file server group again who serves files",
        ),
        (
            "vkernel.shell.QUERY_RETRY_MS",
            "ms",
            shell.QUERY_RETRY_MS,
            "a console `@ HOST` / `@ *` asks the program managers again",
        ),
    )


def from_paper(name: str) -> bool:
    """Whether a CostModel constant was set from one of the V paper's own figures."""
    return SOURCES.get(name, ("", ""))[0] == PAPER


def _value(cls: type, name: str) -> str:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    value = f.default
    unit = f.metadata.get("unit", "")
    text = f"{value:_}" if isinstance(value, int) and value >= 10_000 else f"{value:g}"
    return f"{text} {unit}".strip()


def markdown() -> str:
    """The constants table of docs/ARCHITECTURE.md."""
    lines = ["| constant | value | basis | source |", "|---|---|---|---|"]
    for f in dataclasses.fields(CostModel):
        basis, source = SOURCES.get(f.name, ("?", "no source given (add it to SOURCES)"))
        lines.append(f"| `cost.{f.name}` | {_value(CostModel, f.name)} | {basis} | {source} |")
    for name, (basis, source) in SOURCES.items():
        if "." in name:  # a cost constant of another section
            section, field = name.split(".")
            cls = type(getattr(ClusterConfig(), section))
            lines.append(f"| `{name}` | {_value(cls, field)} | {basis} | {source} |")
    for cls, name, source in EMERGENT:
        section = {CpuConfig: "cpu", NetworkConfig: "network", DiskConfig: "disk"}[cls]
        lines.append(f"| `{section}.{name}` | {_value(cls, name)} | emergent model | {source} |")
    for name, unit, value, what in polls():
        lines.append(f"| `{name}` | {value:_} {unit} | poll | {what} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
