"""The kernel server: process and memory queries about this machine, reached through local groups."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import ops
from vkernel.messages import error, pack, unpack
from vkernel.process import State

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

KS_HOST_INFO = 0x300  # -> load percent, free memory KB, logical hosts, programs
KS_PROCESS_INFO = 0x301  # pid -> state index, cpu ms, memory KB, priority


class KernelServer:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def start(self):
        proc = self.k.spawn_server(self.k.system_lh, "kernel-server", self.body, restart=True)
        self.k.kernel_server = proc
        return proc

    def body(self, pid: int) -> Generator[Any, Any, None]:
        k = self.k
        states = list(State)
        while True:
            sender, msg = yield ops.Receive()
            m = unpack(msg)
            yield ops.charge(k.cost, "kernel_server_op_us")
            if m[0] == KS_HOST_INFO:
                programs = sum(1 for p in k.processes.values() if p.team is not None)
                reply = pack(0, int(k.load() * 100), k.frames.free_count * 4, len(k.lhs), programs)
            elif m[0] == KS_PROCESS_INFO:
                proc = k.processes.get(m[1])
                if proc is None:
                    reply = error(abi.ENOPROC)
                else:
                    mem = proc.team.memory_bytes // 1024 if proc.team else 0
                    reply = pack(0, states.index(proc.state), proc.cpu_ns // 1_000_000, mem, int(proc.priority))
            else:
                reply = error(abi.EBADCALL)
            yield ops.Reply(sender, reply)
