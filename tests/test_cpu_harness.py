"""Tests of the CPU benchmark's bare CPU (vcluster/cpu_harness.py), emulator.loader and guest.startup with
the guest images of guest/bin."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emulator.loader import PF_R, PF_W, PF_X, LoaderError, load_image, make_elf
from guest import abi
from guest.startup import build_initial_stack
from vcluster import bench_cpu_layer as bench
from vcluster.cpu_harness import BareCpu

BIN = Path(__file__).resolve().parent.parent / "guest" / "bin"
PAGE = 4096


def image(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        pytest.skip(f"guest image {name} not built")
    return path


@pytest.fixture(scope="module")
def ws() -> BareCpu:
    return BareCpu()


# --- programs -----------------------------------------------------------------------
def test_hello(ws):
    r = ws.run_program(image("hello"), ["hello"])
    assert r.output == "Hello from the V-System!\n"
    assert r.exit_status == 0 and r.stopped is None
    assert r.sim_ns == r.instructions * 1000
    assert r.calls[abi.SYS_EXIT] == 1 and r.calls[abi.SYS_SEND] >= 1
    assert ws.frames.used_count == 0  # everything given back


def _primes_reference(n: int) -> int:
    sieve = bytearray([1]) * (n + 1)
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, n + 1, i)))
    return sum(sieve)


@pytest.mark.parametrize("n", [1000, 54321])
def test_primes_matches_python(ws, n):
    r = ws.run_program(image("primes"), ["primes", str(n)])
    assert r.output == f"primes <= {n}: {_primes_reference(n)}\n"
    assert r.exit_status == 0


def test_echo_arguments(ws):
    r = ws.run_program(image("echo"), ["echo", "a", "b c", "ünï"])
    assert r.output == "a b c ünï\n" and r.exit_status == 0


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bkpt", r"exception: bkpt #0 at pc 0x0000[0-9A-F]{4}"),
        ("illegal", r"exception: illegal instruction at pc 0x0000[0-9A-F]{4}"),
        ("divzero", r"exception: divide by zero at pc 0x0000[0-9A-F]{4}"),
        ("unmapped", r"fault: write to unmapped page at 0x00800000 \(pc 0x0000[0-9A-F]{4}\)"),
        ("protected", r"fault: write to protected page at 0x00001000 \(pc 0x0000[0-9A-F]{4}\)"),
        ("null", r"fault: read from unmapped page at 0x00000000 \(pc 0x0000[0-9A-F]{4}\)"),
        # the stack grew (vkernel's TeamMemory) to its limit: the page below it is no stack
        ("stackoverflow", r"fault: write to unmapped page at 0x00EBF000 \(pc 0x0000[0-9A-F]{4}\)"),
    ],
)
def test_a_stop_ends_the_run_with_the_cpus_description_and_the_host_survives(ws, kind, expected):
    r = ws.run_program(image("faults"), ["faults", kind])
    assert r.output == f"faults: {kind}\n"
    assert r.exit_status is None
    assert r.stopped is not None
    assert re.fullmatch(expected, r.stopped), r.stopped
    img = load_image(image("faults"))
    pc = int(re.search(r"pc 0x([0-9A-F]{8})", r.stopped).group(1), 16)
    where = img.symbol_at(pc)
    assert where is not None and where.startswith(("main", "recurse"))
    assert ws.frames.used_count == 0


def test_faults_bkpt_in_a_subprocess_never_hangs():
    path = image("faults")
    script = textwrap.dedent(
        f"""
        from vcluster.cpu_harness import BareCpu
        r = BareCpu().run_program({str(path)!r}, ["faults", "bkpt"])
        print(r.stopped)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("exception: bkpt #0 at pc")


def test_instruction_limit(ws):
    r = ws.run_program(image("spin"), ["spin", "10"], max_instructions=50_000)
    assert r.exit_status is None and r.stopped is not None and r.stopped.startswith("limit: ")
    assert 50_000 <= r.instructions < 50_000 + 64  # at most one block past the limit


# --- determinism ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["primes", "20000"],
        ["faults", "stackoverflow"],
        ["dirtier", "16", "64", "1"],
        ["spin", "0.2"],
    ],
)
def test_slices_of_any_size_sum_to_the_same_run(argv):
    image(argv[0])
    runs = []
    for budget in (97, 1000, 20_000, 20_000, 10**9):
        ws = BareCpu(slice_instructions=budget)
        r = ws.run_program(BIN / argv[0], argv)
        runs.append((r.output, r.exit_status, r.stopped, r.instructions, r.sim_ns, r.calls))
        assert (
            ws.cpu.stats()["block_count_mismatches"] == 0
        )  # every count came from Unicorn's own block
        ws.close()
    assert all(run == runs[0] for run in runs), runs


# --- dirty pages -----------------------------------------------------------------------
def test_dirtier_modified_bits_are_exactly_the_written_pages():
    """After clear_modified, the modified set is exactly the pages stored to (guest or host), no more, no less.

    The oracle is independent of the MMU: a Python store hook (Cpu.trace_writes) for the
    guest's stores and a wrapper around Mmu.write for the harness's (its replies to the console). Page contents
    are compared too: every page that changed is modified; a modified page that did not
    change can only be stack or a message the kernel rewrote with the same bytes.
    """
    ws = BareCpu()
    img = load_image(image("dirtier"))
    prog = ws.load(img, ["dirtier", "64", "256", "10"])
    ctx = prog.ctx
    ws.mmu.switch(ctx)
    ws.cpu.write_registers(prog.registers)
    executed = 0

    def run_slices(n: int) -> None:
        nonlocal executed
        for _ in range(n):
            r = ws.cpu.run(5000)
            executed += r.executed
            assert ws.handle(prog, r, executed) is None
            assert prog.exit_status is None

    run_slices(20)  # start-up, malloc, the first steps
    host_pages: set[int] = set()
    real_write = ws.mmu.write

    def recording_write(c: int, vaddr: int, data: bytes, *, force: bool = False) -> None:
        if c == ctx:
            host_pages.update(range(vaddr // PAGE, (vaddr + len(data) - 1) // PAGE + 1))
        real_write(c, vaddr, data, force=force)

    ws.mmu.write = recording_write  # type: ignore[method-assign]
    ws.mmu.clear_modified(ctx)
    before = {p: ws.mmu.read(ctx, p * PAGE, PAGE) for p in ws.mmu.mapped_pages(ctx)}
    with ws.cpu.trace_writes() as trace:
        run_slices(60)
    after = {p: ws.mmu.read(ctx, p * PAGE, PAGE) for p in ws.mmu.mapped_pages(ctx)}
    modified = set(ws.mmu.modified_pages(ctx))
    written = trace.pages(ctx) | host_pages
    changed = {p for p in after if after[p] != before.get(p, bytes(PAGE))}

    text = set(range(prog_text(img)[0], prog_text(img)[1]))
    stack = {p for p in after if p >= (abi.STACK_TOP - abi.STACK_MAX) // PAGE}
    heap = {p for p in after if img.end // PAGE < p < (abi.STACK_TOP - abi.STACK_MAX) // PAGE}
    assert modified == written
    assert changed <= modified
    assert not modified & text
    assert modified - changed <= stack | host_pages
    assert len(changed & heap) >= 8  # the buffer pages it dirtied in those slices
    # and once more: clear, run, only the new writes
    ws.mmu.clear_modified(ctx)
    host_pages.clear()
    with ws.cpu.trace_writes() as trace2:
        run_slices(10)
    assert set(ws.mmu.modified_pages(ctx)) == trace2.pages(ctx) | host_pages
    ws.close()


def prog_text(img) -> tuple[int, int]:
    t = img.text
    return t.pages.start, t.pages.stop


# --- loader ------------------------------------------------------------------------------
def test_loader_parses_a_real_image():
    img = load_image(image("hello"))
    assert img.entry == 0x1000
    assert [s.flags for s in img.segments] == [PF_R | PF_X, PF_R | PF_W]
    assert img.text.vaddr == 0x1000 and img.segments[1].vaddr % PAGE == 0
    names = {f.name for f in img.functions}
    assert {"main", "iprintf", "__vstart"} <= names  # the V programs print with iprintf
    assert img.bkpts == {}
    assert load_image(image("faults")).bkpts != {}


def test_loader_rejects_bad_images():
    good = make_elf(bytes.fromhex("4e40"))
    assert load_image(good).entry == 0x1000
    with pytest.raises(LoaderError):
        load_image(b"not an elf at all" * 4)
    bad_machine = bytearray(good)
    struct.pack_into(">H", bad_machine, 18, 3)  # EM_386
    with pytest.raises(LoaderError, match="m68k"):
        load_image(bytes(bad_machine))
    wx = bytearray(good)
    struct.pack_into(">I", wx, 52 + 24, PF_R | PF_W | PF_X)
    with pytest.raises(LoaderError, match="writable and executable"):
        load_image(bytes(wx))
    with pytest.raises(LoaderError, match="entry"):
        load_image(make_elf(bytes.fromhex("4e40"), entry=0x9000))


def test_install_maps_text_data_bss_and_break():
    ws = BareCpu()
    img = load_image(make_elf(bytes.fromhex("4e40") * 3000, data=b"DATA", bss=3 * PAGE))
    ctx = ws.mmu.create_context()
    from emulator.loader import install

    info = install(ws.mmu, ws.frames, ctx, img)
    assert info.text == (1, 3) and info.data == (3, 7)
    assert info.brk == 7 * PAGE
    assert ws.mmu.entry(ctx, 1).prot == ws.mmu.entry(ctx, 2).prot == (1 | 4)
    assert ws.mmu.entry(ctx, 3).prot == (1 | 2)
    assert ws.mmu.read(ctx, 3 * PAGE, 8) == b"DATA\0\0\0\0"
    assert ws.mmu.read(ctx, 6 * PAGE, PAGE) == bytes(PAGE)
    assert ws.mmu.modified_pages(ctx) == [] and ws.mmu.referenced_pages(ctx) == []
    ws.close()


# --- the initial stack ---------------------------------------------------------------------
def test_initial_stack_layout():
    venv = {"stdout_pid": 0x10002, "stdout_inst": 1, "flags": abi.VENV_REMOTE}
    blob, sp = build_initial_stack(["prog", "arg one"], ["HOME=/"], venv)
    top = abi.STACK_TOP
    assert sp == top - len(blob) and sp % 4 == 0

    def long_at(addr: int) -> int:
        return struct.unpack_from(">I", blob, addr - sp)[0]

    def string_at(addr: int) -> str:
        off = addr - sp
        return blob[off : blob.index(b"\0", off)].decode()

    argc, argv, envp, venvp = (long_at(sp + 4 * i) for i in range(4))
    assert argc == 2
    assert [string_at(long_at(argv + 4 * i)) for i in range(2)] == ["prog", "arg one"]
    assert long_at(argv + 8) == 0
    assert string_at(long_at(envp)) == "HOME=/" and long_at(envp + 4) == 0
    fields = dict(zip(abi.VENV_FIELDS, struct.unpack_from(">11I", blob, venvp - sp), strict=True))
    assert fields["magic"] == abi.VENV_MAGIC and fields["stdout_pid"] == 0x10002
    assert fields["flags"] == abi.VENV_REMOTE and fields["stdin_pid"] == 0
    with pytest.raises(ValueError):
        build_initial_stack(["x"], [], {"bogus": 1})
    with pytest.raises(ValueError):
        build_initial_stack(["x" * 20000], [], {})


# --- the bench ------------------------------------------------------------------------------
def test_bench_reports_a_ratio():
    result = bench.run_bench(seconds=5, repeats=1, memory_bound=False)
    assert result["instructions"] >= result["loop_instructions"] >= 5_000_000
    assert result["guest_mips"] > 0 and result["raw_mips"] > 0
    assert result["ratio"] == pytest.approx(result["guest_mips"] / result["raw_mips"], rel=0.01)
    assert result["slice_instructions"] == bench.DEFAULT_SLICE
    # the fair baseline: the same run's W^X raw engine, and guest/raw by slice size
    assert result["raw_wx_mips"] > 0 and result["raw_wx_seconds"] > 0
    assert result["ratio_wx"] == pytest.approx(
        result["guest_mips"] / result["raw_wx_mips"], rel=0.01
    )
    assert [int(s) for s in result["by_slice"]] == list(bench.SLICE_SIZES)
    for size, row in result["by_slice"].items():
        # slices end by the budget, before a block that would overrun it: never fewer than this
        assert row["slices"] >= result["instructions"] // int(size)
        assert row["ratio_wx"] == pytest.approx(row["guest_mips"] / result["raw_wx_mips"], rel=0.01)
        assert isinstance(row["per_slice_us"], float)
    assert result["by_slice"]["20000"]["slices"] == result["slices"]


def test_bench_builtin_loop():
    result = bench.run_bench(seconds=2, use_spin=False, repeats=1, memory_bound=False)
    assert result["instructions"] == result["loop_instructions"] == bench.builtin_instructions(3)
