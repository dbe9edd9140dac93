"""The display server: owns the frame buffer and writes programs' output into it (and to the console)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from emulator.frame_buffer import TextConsole
from guest import abi
from vkernel import ops
from vkernel.messages import error, pack, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

MAX_WRITE = 16 * 1024
US_PER_CHAR = 20.0  # drawing a glyph on a 10 MHz 68010 frame buffer


class DisplayServer:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.console = TextConsole(kernel.machine.frame_buffer)
        self.outputs: dict[int, list[str]] = {}  # instance -> text pieces
        self.listeners: list[Callable[[int, int, str], None]] = []  # (instance, sender, text)
        self.next_instance = 1
        self.proc = None

    def start(self):
        self.proc = self.k.spawn_server(self.k.system_lh, "display-server", self.body, restart=True)
        self.k.display_server = self.proc
        return self.proc

    def new_instance(self) -> int:
        inst = self.next_instance
        self.next_instance += 1
        self.outputs[inst] = []
        return inst

    def output(self, instance: int) -> str:
        return "".join(self.outputs.get(instance, ()))

    def body(self, pid: int) -> Generator[Any, Any, None]:
        while True:
            sender, msg = yield ops.Receive()
            m = unpack(msg)
            if m[0] == abi.IO_WRITE:
                inst, buf, count = m[1], m[2], min(m[3], MAX_WRITE)
                data = (yield ops.MoveFrom(sender, buf, count)) if count else b""
                if isinstance(data, int):
                    yield ops.Reply(sender, error(-data))
                    continue
                text = data.decode("latin-1")
                yield ops.Compute(US_PER_CHAR * len(text))
                self.write(inst, sender, text)
                yield ops.Reply(sender, pack(0, len(data)))
            elif m[0] == abi.IO_CLOSE:
                yield ops.Reply(sender, pack(0))
            else:
                yield ops.Reply(sender, error(abi.EBADCALL))

    def write(self, instance: int, sender: int, text: str) -> None:
        self.outputs.setdefault(instance, []).append(text)
        self.console.write(text)
        for listener in self.listeners:
            listener(instance, sender, text)
