"""The display server: owns the frame buffer and writes programs' output into it (and to the console)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from emulator.frame_buffer import TextConsole
from guest import abi
from vkernel import ops
from vkernel.exactly_once import WriteDedup, stamped, void
from vkernel.messages import error, pack, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

MAX_WRITE = 16 * 1024
DIVERGE_KEEP = 4096  # bytes of each stream kept to tell a replay that diverged


class DisplayServer:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.console = TextConsole(kernel.machine.frame_buffer)
        self.outputs: dict[int, list[str]] = {}  # instance -> text pieces
        self.listeners: list[Callable[[int, int, str], None]] = []  # (instance, sender, text)
        self.next_instance = 1
        self.proc = None
        # standard input: per instance, the typed bytes not yet read, whether it is at its
        # end, and the IO_READ requests held until a line arrives (sender, buffer, count)
        self.inputs: dict[int, bytearray] = {}
        self.input_ended: set[int] = set()
        self.readers: dict[int, list[tuple[int, int, int]]] = {}
        self.instances: set[int] = set()  # the instances new_instance handed out (stdin is theirs)
        # output a restarted program replays is not shown again (unless its replay diverged)
        self.dedup = WriteDedup(keep=DIVERGE_KEEP)

    def start(self):
        self.proc = self.k.spawn_server(self.k.system_lh, "display-server", self.body, restart=True)
        self.k.display_server = self.proc
        return self.proc

    def new_instance(self) -> int:
        inst = self.next_instance
        self.next_instance += 1
        self.outputs[inst] = []
        self.instances.add(inst)
        return inst

    def output(self, instance: int) -> str:
        return "".join(self.outputs.get(instance, ()))

    def body(self, pid: int) -> Generator[Any, Any, None]:
        while True:
            sender, msg = yield ops.Receive()
            m = unpack(msg)
            if m[0] == abi.IO_WRITE and void(self.k, sender, m):
                yield ops.Reply(sender, error(abi.EKILLED))  # a void incarnation's: not shown
            elif m[0] == abi.IO_WRITE:
                inst, buf, count = m[1], m[2], min(m[3], MAX_WRITE)
                data = (yield ops.MoveFrom(sender, buf, count)) if count else b""
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                text = self.dedup.fresh(inst, sender, stamped(m), data).decode("latin-1")
                yield ops.charge(self.k.cost, ("display_char_us", len(text)))
                if text or not data:
                    self.write(inst, sender, text)
                yield ops.Reply(sender, pack(0, len(data)))
            elif m[0] == abi.IO_READ:
                inst, buf, count = m[1], m[2], min(m[3], MAX_WRITE)
                if inst not in self.instances:
                    yield ops.Reply(sender, error(abi.EINVAL))
                    continue
                if count <= 0:
                    yield ops.Reply(sender, pack(0, 0))
                    continue
                self.readers.setdefault(inst, []).append((sender, buf, count))
                yield from self.serve_readers(inst)
            elif m[0] == abi.IO_INPUT:
                inst, buf, count, end = m[1], m[2], min(m[3], MAX_WRITE), m[4]
                agent = self.k.processes.get(sender)
                if agent is None or agent.team is not None or not agent.lh.system:
                    yield ops.Reply(sender, error(abi.EPERM))  # typed input comes from the console
                    continue
                if inst not in self.instances:
                    yield ops.Reply(sender, error(abi.EINVAL))
                    continue
                data = (yield ops.MoveFrom(sender, buf, count)) if count else b""
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                self.inputs.setdefault(inst, bytearray()).extend(data)
                if end:
                    self.input_ended.add(inst)
                yield ops.Reply(sender, pack(0, len(data)))
                yield from self.serve_readers(inst)
            elif m[0] == abi.IO_CLOSE:
                yield ops.Reply(sender, pack(0))
            else:
                yield ops.Reply(sender, error(abi.EBADCALL))

    def serve_readers(self, inst: int) -> Generator[Any, Any, None]:
        """Answer held reads of inst, a line (or what there is, up to the count) each, like a terminal."""
        waiting = self.readers.get(inst, [])
        pending = self.inputs.setdefault(inst, bytearray())
        while waiting and (pending or inst in self.input_ended):
            sender, buf, count = waiting.pop(0)
            end = pending.find(b"\n")
            n = min(count, len(pending) if end < 0 else end + 1)
            if end < 0 and inst not in self.input_ended and n < count:
                waiting.insert(0, (sender, buf, count))  # half a line: wait for the rest
                return
            data = bytes(pending[:n])
            del pending[:n]
            if data:
                moved = yield ops.MoveTo(sender, buf, data)
                if isinstance(moved, int) and moved < 0:
                    yield ops.Reply(sender, error(-moved))
                    continue
            yield ops.Reply(sender, pack(0, len(data)))

    def write(self, instance: int, sender: int, text: str) -> None:
        self.outputs.setdefault(instance, []).append(text)
        self.console.write(text)
        for listener in self.listeners:
            listener(instance, sender, text)
