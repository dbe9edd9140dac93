"""One machine of the network: CPU and MMU, page frames, Ethernet interface, frame buffer, disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.cpu import Cpu
from emulator.disk import Disk
from emulator.frame_buffer import FrameBuffer
from emulator.memory import FrameAllocator

PAGE = 4096
SUN_OUI = b"\x08\x00\x20"  # Sun Microsystems' Ethernet prefix


def default_mac(index: int) -> bytes:
    return SUN_OUI + (index + 1).to_bytes(3, "big")


@dataclass
class OwnerActivity:
    """Keyboard and mouse: whether the workstation's owner is at it, and when input last came.

    Listeners hear every change (time_ns, present); the kernel's idle detector is one.
    """

    present: bool = False
    last_input_ns: int = 0
    changes: list[tuple[int, bool]] = field(default_factory=list)
    listeners: list = field(default_factory=list)

    def set(self, now_ns: int, present: bool) -> None:
        changed = present != self.present
        if changed:
            self.changes.append((now_ns, present))
        self.present = present
        self.last_input_ns = now_ns
        if changed:
            for listener in list(self.listeners):
                listener(now_ns, present)

    def schedule(self, sim, transitions) -> None:
        """Replay an activity trace: (time_s, active) pairs from the config."""
        for time_s, active in transitions:
            when = int(time_s * 1_000_000_000)
            if when <= sim.now:
                self.set(sim.now, active)
            else:
                sim.at(when, lambda active=active: self.set(sim.now, active))


class Machine:
    """The hardware of one workstation or server; knows nothing of V."""

    def __init__(self, cfg, index: int, segment, config_dir: str | None = None) -> None:
        self.name: str = cfg.name
        self.role: str = cfg.role
        self.index = index
        self.config = cfg
        self.cpu = Cpu(cfg.memory)
        self.frames = FrameAllocator(cfg.memory // PAGE)
        self.mac: bytes = bytes.fromhex(cfg.mac.replace(":", "")) if cfg.mac else default_mac(index)
        self.nic = segment.attach(self.mac, self.name)
        fb = cfg.frame_buffer
        self.frame_buffer = FrameBuffer(fb.width, fb.height)
        self.disk: Disk | None = None
        if cfg.disk is not None:
            path = cfg.disk.image
            if path and config_dir and not path.startswith("/"):
                import os

                path = os.path.join(config_dir, path)
            d = cfg.disk
            self.disk = Disk(
                d.size,
                path=path,
                sector_bytes=d.sector_bytes,
                seek_ns=round(d.seek_ms * 1_000_000),
                track_seek_ns=round(d.track_seek_ms * 1_000_000),
                rpm=d.rpm,
                transfer_bytes_per_s=d.transfer_bytes_per_s,
                heads=d.heads,
            )
        self.filesystem = None  # mounted by the kernel that owns the disk
        self.owner = OwnerActivity(present=cfg.owner.present and not cfg.owner.trace)
        self.powered = True

    def power_off(self) -> None:
        """Pull the plug: the interface goes silent; memory contents are gone at the next power on."""
        self.powered = False
        self.nic.power_off()

    def power_cycle(self) -> None:
        """Power on after a power off: fresh CPU, empty memory, interface back on the wire."""
        self.cpu.close()
        self.cpu = Cpu(self.config.memory)
        self.frames = FrameAllocator(self.config.memory // PAGE)
        self.filesystem = None
        self.powered = True
        self.nic.power_on()
