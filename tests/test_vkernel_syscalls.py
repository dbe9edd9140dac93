"""The system-call boundary: crafted 68010 images make bad calls; the kernel refuses them and lives on.

Each program here is a few hand-assembled instructions in an image built by emulator.loader.make_elf
(text at 0x1000, R+X; a data page at 0x2000, R+W; nothing mapped above it until the stack). A
program makes one call and exits with the d0 it got, so the exit status is the call's result.
The encodings were checked against GNU as (m68k-linux-gnu-as -m68010).
"""

from __future__ import annotations

import struct

import pytest
from helpers import config, programs_by_name

from emulator.loader import make_elf
from guest import abi
from vcluster.session import Session

TEXT = abi.TEXT_BASE  # 0x1000: code, read-only
DATA = 0x2000  # the data page (64 bytes of data, the rest of the page is mapped too)
UNMAPPED = 0x800000  # between the heap and the stack: never mapped
DATA_END = 0x3000  # first byte after the data page (the heap is empty: the break is here)


# --- a tiny assembler: just the instructions these programs need ----------------------------
def moveq(n: int, d: int) -> bytes:
    assert -128 <= n <= 127
    return struct.pack(">H", 0x7000 | d << 9 | (n & 0xFF))


def move_l_imm(value: int, d: int) -> bytes:
    return struct.pack(">HI", 0x203C | d << 9, value & 0xFFFFFFFF)


def move_l(src: int, dst: int) -> bytes:  # move.l dSRC,dDST
    return struct.pack(">H", 0x2000 | dst << 9 | src)


def move_w_imm(value: int, d: int) -> bytes:
    return struct.pack(">HH", 0x303C | d << 9, value & 0xFFFF)


def dbra(d: int, disp: int) -> bytes:  # disp: target - (address of this dbra + 2)
    return struct.pack(">Hh", 0x51C8 | d, disp)


TRAP0 = b"\x4e\x40"


def call(number: int, *args: int | tuple[str, int]) -> bytes:
    """d1, d2, ... = args (an immediate, or reg(n): the value of dn), d0 = number, then trap #0."""
    code = b""
    for i, a in enumerate(args, start=1):
        code += move_l(a[1], i) if isinstance(a, tuple) else move_l_imm(a, i)
    return code + move_l_imm(number, 0) + TRAP0


def reg(d: int) -> tuple[str, int]:
    """An argument taken from a data register (set by earlier code)."""
    return ("d", d)


EXIT_WITH_D0 = move_l(0, 1) + moveq(0, 0) + TRAP0
GET_CREATOR_INTO_D6 = call(abi.SYS_GETPID, abi.PID_CREATOR) + move_l(0, 6)


def program(code: bytes) -> bytes:
    return make_elf(code + EXIT_WITH_D0, data=bytes(64))


# --- the crafted programs: name -> (image, expected exit status) ------------------------------
CASES: dict[str, tuple[bytes, int]] = {
    # unknown call numbers, including ones that look negative or huge
    "unknown15": (program(call(15)), -abi.EBADCALL),
    "unknown99": (program(call(99)), -abi.EBADCALL),
    "unknownneg": (program(call(0xFFFFFFFF)), -abi.EBADCALL),
    "unknownbig": (program(call(0x7FFFFFFF)), -abi.EBADCALL),
    # Send: the message is read and the reply written there, so it must be mapped and writable
    "sendnull": (program(call(abi.SYS_SEND, 0, 0x12345678)), -abi.EFAULT),
    "sendunmapped": (program(call(abi.SYS_SEND, UNMAPPED, 0x12345678)), -abi.EFAULT),
    "sendtext": (program(call(abi.SYS_SEND, TEXT, 0x12345678)), -abi.EFAULT),
    "sendstraddle": (program(call(abi.SYS_SEND, DATA_END - 16, 0x12345678)), -abi.EFAULT),
    "sendgroupnull": (program(call(abi.SYS_SEND_GROUP, 0, abi.PROGRAM_MANAGER_GROUP)), -abi.EFAULT),
    # Receive: the buffer must be writable (text is mapped but read-only)
    "recvunmapped": (program(call(abi.SYS_RECEIVE, UNMAPPED)), -abi.EFAULT),
    "recvtext": (program(call(abi.SYS_RECEIVE, TEXT)), -abi.EFAULT),
    "recvstraddle": (program(call(abi.SYS_RECEIVE, DATA_END - 4)), -abi.EFAULT),
    "recvtmotext": (program(call(abi.SYS_RECEIVE_TIMEOUT, TEXT, 1000)), -abi.EFAULT),
    "replyunmapped": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_REPLY, UNMAPPED, reg(6))), -abi.EFAULT),
    # MoveTo / MoveFrom: our own side of the copy is checked first
    "movetounmapped": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_MOVETO, reg(6), DATA, UNMAPPED, 32)),
                       -abi.EFAULT),
    "movetonegative": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_MOVETO, reg(6), DATA, DATA, -1)),
                       -abi.EFAULT),
    "movefromtext": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_MOVEFROM, reg(6), TEXT, DATA, 32)),
                     -abi.EFAULT),
    # ... then V's rule: only towards a process awaiting reply from the caller. The creator (the
    # console's agent) is blocked, but on its program manager, not on us.
    "movetonotawaiting": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_MOVETO, reg(6), DATA, TEXT, 32)),
                          -abi.ENOTAWAITING),
    "movefromnotawaiting": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_MOVEFROM, reg(6), DATA, TEXT, 32)),
                            -abi.ENOTAWAITING),
    "replynotawaiting": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_REPLY, DATA, reg(6))), -abi.ENOTAWAITING),
    "forwardnotawaiting": (program(GET_CREATOR_INTO_D6 + call(abi.SYS_FORWARD, DATA, reg(6), reg(6))),
                           -abi.ENOTAWAITING),
    # not a group
    "sendgroupnotgroup": (program(call(abi.SYS_SEND_GROUP, DATA, 0x00010001)), -abi.EINVAL),
}


def test_the_crafted_code_is_what_gnu_as_makes():
    # moveq #15,d0 / move.l #0x800000,d1 / move.l d0,d1 / move.l d7,d1 / trap #0 / move.w #999,d2 / dbra d2,-4
    assert (moveq(15, 0) + move_l_imm(0x800000, 1) + move_l(0, 1) + move_l(7, 1) + TRAP0
            + move_w_imm(999, 2) + dbra(2, -4)).hex() == "700f223c00800000220022074e40343c03e751cafffc"


def test_every_bad_call_returns_its_error_and_the_kernel_lives_on():
    session = Session(config(), images={name: image for name, (image, _) in CASES.items()})
    names = list(CASES)
    for name in names:
        session.execute(name)
    session.execute("hello")  # a well-behaved program on the same machine, after all of them
    assert session.run_until_done(60)
    summary = session.summary()
    progs = programs_by_name(summary)
    statuses = {name: progs[name]["exit_status"] for name in names}
    assert statuses == {name: expected for name, (_, expected) in CASES.items()}
    for name in names:  # they exited by SYS_EXIT: no fault, no output
        assert progs[name]["fault"] is None and progs[name]["error"] is None
        assert progs[name]["output"] == ""
        assert progs[name]["host_final"] == "ws1"
    assert progs["hello"]["output"] == "Hello from the V-System!\n"
    assert progs["hello"]["exit_status"] == 0
    ws1 = session.kernels["ws1"]
    assert ws1.stats.bad_calls == 4  # the four unknown call numbers
    assert ws1.stats.by_call["#15"] == 1 and ws1.stats.by_call["#99"] == 1
    assert ws1.faults == []
    # every crafted program is gone, and so are their logical hosts
    assert not [p for p in ws1.processes.values() if p.team is not None]


@pytest.mark.parametrize("host", ["ws2", "ws3"])
def test_bad_calls_remotely_executed_behave_the_same(host):
    picks = ["unknown15", "sendunmapped", "recvtext", "movetonotawaiting", "movefromnotawaiting"]
    session = Session(config(), images={name: CASES[name][0] for name in picks})
    for name in picks:
        session.execute(f"{name} @ {host}")
    assert session.run_until_done(60)
    progs = programs_by_name(session.summary())
    assert {n: progs[n]["exit_status"] for n in picks} == {n: CASES[n][1] for n in picks}
    assert {progs[n]["host_final"] for n in picks} == {host}
    assert session.kernels[host].stats.bad_calls == 1


def looper(iterations: int) -> bytes:
    """Loops `iterations` times over three bad calls (unknown, EFAULT Send, ENOTAWAITING MoveTo)."""
    body = (call(77) + call(abi.SYS_SEND, UNMAPPED, 1)
            + call(abi.SYS_MOVETO, reg(6), DATA, TEXT, 32))
    code = GET_CREATOR_INTO_D6 + move_w_imm(iterations - 1, 7)  # d7 counts (d1..d4 carry arguments)
    loop_at = len(code)
    code += body
    code += dbra(7, loop_at - (len(code) + 2))
    return program(code)


def finish_times(session: Session) -> dict[str, int]:
    done: dict[str, int] = {}
    for job in session.jobs:
        job.on_done.append(lambda j: done.__setitem__(j.argv[0], session.sim.now))
    return done


def first_slices(kernel, session) -> dict[str, int]:
    """When each program's first slice on `kernel` started (filled in as the run goes)."""
    first: dict[str, int] = {}
    run_slice = kernel._run_slice

    def watched(proc):
        first.setdefault(proc.name, session.sim.now)
        run_slice(proc)

    kernel._run_slice = watched
    return first


def test_a_guest_looping_on_bad_calls_does_not_hurt_another_program():
    # alone, spin 0.5 takes its half second of CPU (plus loading)
    alone = Session(config())
    alone_first = first_slices(alone.kernels["ws1"], alone)
    alone.execute("spin 0.5")
    alone_done = finish_times(alone)
    assert alone.run_until_done(60)

    n = 3000
    session = Session(config(), images={"looper": looper(n)})
    ws1 = session.kernels["ws1"]
    # one CPU: a slice starts only when the previous one has ended (and its trap is handled)
    overlaps: list[str] = []
    busy: list[str] = []
    run_slice, end_slice = ws1._run_slice, ws1._end_slice

    def checked_run(proc):
        if busy:
            overlaps.append(f"{proc.name} started at {session.sim.now} while {busy[0]} runs")
        busy[:] = [proc.name]
        run_slice(proc)

    def checked_end(proc, result):
        if not ws1.stolen_ns:
            busy.clear()
        end_slice(proc, result)

    ws1._run_slice, ws1._end_slice = checked_run, checked_end
    first = first_slices(ws1, session)
    session.execute("spin 0.5")
    session.execute("looper")
    session.execute("echo still here")
    done = finish_times(session)
    assert session.run_until_done(120)
    progs = programs_by_name(session.summary())
    assert progs["looper"]["exit_status"] == -abi.ENOTAWAITING  # the last call of the last round
    assert progs["looper"]["fault"] is None
    assert progs["spin"]["output"] == programs_by_name(alone.summary())["spin"]["output"]
    assert progs["spin"]["output"].startswith("spin: 50000 iterations, checksum 0x")
    assert progs["spin"]["exit_status"] == 0
    assert progs["echo"]["output"] == "still here\n"
    assert ws1.stats.bad_calls == n
    assert ws1.stats.by_call["#77"] == n and ws1.stats.by_call["SYS_MOVETO"] == n
    assert ws1.faults == []
    assert overlaps == []
    # the looper yields the CPU at every trap: from its first slice on, spin is hardly slowed down
    # (loading the two images at once delays its start, which is not what this is about) ...
    assert done["spin"] - first["spin"] < (alone_done["spin"] - alone_first["spin"]) * 1.2
    # ... and the looper did not run alongside it: it ends after spin's CPU time plus its own traps
    assert done["looper"] > 500_000_000 + 3 * n * session.config.cost.trap_us * 1000


def test_a_negative_receive_timeout_is_an_immediate_timeout_not_a_dead_kernel():
    images = {"rtneg": program(call(abi.SYS_RECEIVE_TIMEOUT, DATA, 0xFFFFFFFF)),
              "rtzero": program(call(abi.SYS_RECEIVE_TIMEOUT, DATA, 0)),
              "delayneg": program(call(abi.SYS_DELAY, 0xFFFFFFFF))}
    session = Session(config(), images=images)
    for name in images:
        session.execute(name)
    session.execute("hello")
    assert session.run_until_done(60)
    progs = programs_by_name(session.summary())
    assert {n: progs[n]["exit_status"] for n in images} == {"rtneg": -abi.ETIMEOUT, "rtzero": -abi.ETIMEOUT,
                                                           "delayneg": 0}
    assert progs["hello"]["exit_status"] == 0


def test_a_failed_sbrk_gives_back_what_it_took():
    big = 3 * 1024 * 1024  # more than the 2 MB machine has
    images = {
        "hogfail": program(call(abi.SYS_SBRK, big)),
        # fails, sleeps while another program loads, then grows by two pages and reports its break
        "hog": program(call(abi.SYS_SBRK, big) + call(abi.SYS_DELAY, 2000) + call(abi.SYS_SBRK, 8192)
                       + call(abi.SYS_SBRK, 0)),
    }
    session = Session(config(), images=images)
    ws1 = session.kernels["ws1"]
    free_at_boot = ws1.frames.free_count
    session.execute("hogfail")
    session.execute("wait 1")
    session.execute("hog")
    session.execute("wait 1")
    hog = next(p for p in ws1.processes.values() if p.name == "hog")
    assert hog.state.name == "DELAYED"  # past its failed sbrk
    assert ws1.frames.free_count > free_at_boot - 16  # it holds its few pages, not the machine
    session.execute("hello")  # needs memory while hog sleeps
    assert session.run_until_done(60)
    progs = programs_by_name(session.summary())
    assert progs["hogfail"]["exit_status"] == -abi.ENOMEM
    assert progs["hog"]["exit_status"] == DATA_END + 8192  # the failed call left the break alone
    assert progs["hello"]["output"] == "Hello from the V-System!\n"
    assert progs["hello"]["exit_status"] == 0
    assert ws1.frames.free_count == free_at_boot  # every frame came back


def test_exec_on_a_machine_out_of_memory_fails_cleanly_and_leaks_nothing():
    # takes every free page (600 sbrk's of a page, the last ones refused), sleeps 2 s, exits
    eat = move_w_imm(599, 7) + call(abi.SYS_SBRK, 4096)
    eat += dbra(7, -(len(eat) - 4) - 2)
    session = Session(config(), images={"hog": program(eat + call(abi.SYS_DELAY, 2000))})
    ws1 = session.kernels["ws1"]
    free_at_boot, lhs_at_boot = ws1.frames.free_count, set(ws1.lhs)
    contexts_at_boot = list(ws1.mmu.contexts())
    session.execute("hog")
    session.execute("wait 1")
    assert ws1.frames.free_count == 0
    session.execute("hello")  # no memory for it now
    session.execute("wait 2")
    session.execute("hello")  # the hog is gone: now there is
    assert session.run_until_done(60)
    hog, refused, hello = session.summary()["programs"]
    assert hog["exit_status"] == 0 and hog["fault"] is None
    assert refused["error"] == "hello: could not start: ENOMEM" and refused["pid"] == 0
    assert hello["output"] == "Hello from the V-System!\n" and hello["exit_status"] == 0
    assert ws1.faults == []  # no server crashed
    assert ws1.frames.free_count == free_at_boot
    assert set(ws1.lhs) == lhs_at_boot
    assert list(ws1.mmu.contexts()) == contexts_at_boot
