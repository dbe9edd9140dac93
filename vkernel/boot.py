"""Booting the V kernel on a machine: the kernel, its transport, and the servers the machine runs."""

from __future__ import annotations

import logging

from vkernel.checkpoint import Checkpoints
from vkernel.filesystem import FileSystem, FsError
from vkernel.idle import IdleDetector
from vkernel.kernel import Kernel
from vkernel.migration import MigrationEngine
from vkernel.paging import Flusher, Pager
from vkernel.rfork import RemoteFork
from vkernel.servers.display_server import DisplayServer
from vkernel.servers.file_server import FileServer
from vkernel.servers.kernel_server import KernelServer
from vkernel.servers.program_manager import ProgramManager
from vkernel.transport import Transport

log = logging.getLogger(__name__)


def mount_disk(machine, images: dict[str, bytes]) -> FileSystem:
    """Mount the machine's disk (formatting a blank one) and install the program images on it.

    A disk that is not a valid image is formatted only if it is blank (created at this boot, or in
    memory) or the config says `format: true`; otherwise FsError: its contents are not lost."""
    try:
        fs = FileSystem.mount(machine.disk)
    except FsError as exc:
        disk = machine.disk
        allowed = getattr(disk, "created", True) or bool(getattr(machine.config.disk, "format", False))
        if not allowed:
            raise FsError(f"{machine.name}: disk image {disk.path} is not a valid V disk image "
                          f"({exc}); refused: formatting it would lose its contents "
                          "(`format: true` in the config allows it)") from None
        log.info("%s: formatting its disk", machine.name)
        fs = FileSystem.format(machine.disk, label=machine.name)
    for name, data in sorted(images.items()):
        if not fs.exists(name) or fs.size(name) != len(data) or fs.read(name, 0, len(data)) != data:
            fs.install(name, data)
    return fs


def boot_kernel(sim, machine, config, index: int, images: dict[str, bytes] | None = None) -> Kernel:
    """Start a kernel on `machine` (emulator.machine.Machine) with the servers its role asks for."""
    kernel = Kernel(sim, machine, config, index)
    kernel.transport = Transport(kernel, machine.nic)
    kernel.servers["kernel"] = KernelServer(kernel)
    kernel.servers["kernel"].start()
    if machine.disk is not None:
        machine.filesystem = mount_disk(machine, images or {})
        machine.disk.reset_counters()  # the counters are the file server's, from boot on
        kernel.servers["file"] = FileServer(kernel, machine.filesystem)
        kernel.servers["file"].start()
    if machine.role == "workstation":
        kernel.servers["program"] = ProgramManager(kernel)
        kernel.servers["program"].start()
        kernel.servers["display"] = DisplayServer(kernel)
        kernel.servers["display"].start()
        MigrationEngine(kernel)
        IdleDetector(kernel)
        Pager(kernel)
        Checkpoints(kernel)
        RemoteFork(kernel)
        if config.idle.flush_interval_ms > 0:
            Flusher(kernel, config.idle.flush_interval_ms)
    kernel.owner_present = machine.owner.present
    return kernel
