"""Team memory: MMU contexts, page frames, the break, the stack, and reads/writes of process memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.memory import OutOfMemory
from emulator.mmu import Prot
from guest import abi
from guest.startup import build_initial_stack
from vkernel.process import LogicalHost, Process, Team

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

PAGE = abi.PAGE_SIZE
RW = Prot.READ | Prot.WRITE
SERVER_SPACE = 1 << 20  # the address space of a server written in Python: a growable bytearray


class MemoryError_(Exception):
    """A team cannot get the memory it asks for."""


def page_of(addr: int) -> int:
    return addr // PAGE


class TeamMemory:
    """Creates and destroys teams and moves bytes in and out of any local process."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.next_team = 1

    # --- teams -----------------------------------------------------------
    def create_team(self, lh: LogicalHost, name: str, argv: list[str]) -> Team:
        ctx = self.k.mmu.create_context()
        team = Team(team_id=self.next_team, lh=lh, ctx=ctx, name=name, argv=list(argv))
        self.next_team += 1
        lh.teams.append(team)
        return team

    def destroy_team(self, team: Team) -> None:
        self.k.charge("team_destroy_us")
        mmu = self.k.mmu
        if team.lazy and self.k.rfork is not None:
            self.k.rfork.team_ends(team)  # what a lazy rfork's child touched, from its bits
        for frame in mmu.unmap_all(team.ctx):
            self.k.frames.free(frame)
        mmu.destroy_context(team.ctx)
        team.pages = 0
        team.dead = True
        team.backing.clear()
        if team in team.lh.teams:
            team.lh.teams.remove(team)

    def map_zero(self, team: Team, vpage: int, prot: Prot = RW, *, charge: bool = True) -> None:
        """Map a fresh zero-filled page; `charge` the CPU for clearing it (not for a page that is
        about to be overwritten: a migration's or a pager's)."""
        try:
            frame = self.k.frames.alloc()
        except OutOfMemory as exc:
            raise MemoryError_(f"out of memory mapping page {vpage:#x} of {team.name}") from exc
        self.k.cpu.phys_write(frame * PAGE, bytes(PAGE))
        if charge:
            self.k.charge("page_zero_us")
        self.k.mmu.map(team.ctx, vpage, frame, prot)
        team.pages += 1

    def load_image(self, team: Team, image) -> None:
        """Install a parsed ELF image (emulator.loader.Image) into the team's context."""
        from emulator.loader import install

        try:
            info = install(self.k.mmu, self.k.frames, team.ctx, image, phys_write=self.k.cpu.phys_write)
        except OutOfMemory as exc:  # install() has unmapped what it mapped; callers handle MemoryError_
            raise MemoryError_(f"out of memory loading {team.name}") from exc
        team.text = info.text
        team.data = info.data
        team.heap_start = team.brk = info.brk
        team.bkpts = frozenset(info.bkpts)
        team.pages = len(self.k.mmu.mapped_pages(team.ctx))

    def setup_stack(self, team: Team, argv: list[str], envp: list[str], venv: dict[str, int]) -> int:
        """Map the initial stack and write argc/argv/envp/venv; returns the initial sp."""
        blob, sp = build_initial_stack(argv, envp, venv, stack_top=abi.STACK_TOP)
        low = min(sp, abi.STACK_TOP - abi.STACK_INITIAL)
        low_page = page_of(low)
        for vpage in range(low_page, page_of(abi.STACK_TOP)):
            self.map_zero(team, vpage)
        team.stack_low = low_page * PAGE
        self.k.mmu.write(team.ctx, abi.STACK_TOP - len(blob), blob, force=True)
        return sp

    # --- growth ------------------------------------------------------------
    def sbrk(self, team: Team, increment: int) -> int:
        """Grow (or shrink) the heap; returns the old break or raises MemoryError_."""
        old = team.brk
        new = old + increment
        if new < team.heap_start or new >= team.stack_low - abi.STACK_MAX:
            raise MemoryError_(f"break {new:#x} out of range")
        first_new = page_of(old + PAGE - 1)
        last_new = page_of(new + PAGE - 1)
        try:
            for vpage in range(first_new, last_new):
                self.map_zero(team, vpage, charge=False)  # heap frames: cleared while idle
        except MemoryError_:  # all or nothing: give back what this call took, the break stays
            for done in range(first_new, vpage):  # vpage: the page that could not be had
                self.k.frames.free(self.k.mmu.unmap(team.ctx, done))
                team.pages -= 1
            raise
        for vpage in range(last_new, first_new):  # shrinking
            self.k.frames.free(self.k.mmu.unmap(team.ctx, vpage))
            team.pages -= 1
        team.brk = new
        return old

    def grow_stack(self, team: Team, addr: int) -> bool:
        """Demand-grow the stack to cover addr if it lies in the stack region; False if not."""
        limit = abi.STACK_TOP - abi.STACK_MAX
        if not (limit <= addr < team.stack_low):
            return False
        target = page_of(addr)
        for vpage in range(target, page_of(team.stack_low)):
            self.map_zero(team, vpage)
        team.stack_low = target * PAGE
        return True

    # --- bytes in and out ----------------------------------------------------
    def check(self, proc: Process, addr: int, n: int, write: bool) -> bool:
        if proc.team is None:
            return 0 <= addr and addr + n <= SERVER_SPACE
        if n == 0:
            return True
        return self.k.mmu.check(proc.team.ctx, addr, n, write)

    def read(self, proc: Process, addr: int, n: int) -> bytes:
        if proc.team is None:
            mem = self.k.server_memory(proc)
            return bytes(mem[addr : addr + n]).ljust(n, b"\0")
        return self.k.mmu.read(proc.team.ctx, addr, n)

    def write(self, proc: Process, addr: int, data: bytes) -> None:
        if proc.team is None:
            mem = self.k.server_memory(proc)
            if addr + len(data) > len(mem):
                mem.extend(bytes(addr + len(data) - len(mem)))
            mem[addr : addr + len(data)] = data
            return
        self.k.mmu.write(proc.team.ctx, addr, data)
