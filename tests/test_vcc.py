"""vcc, the project's own C compiler (guest/src/vcc), checked against references that are not vcc.

- the same sources built natively by the host's gcc write the same assembly as
  the guest image does in the cluster, reading and writing the file server;
- what vcc writes is accepted by GNU as for the 68010 (m68k-linux-gnu-as);
- vcc compiled by vcc (its own output, assembled and linked for the guest)
  writes the same bytes again: the classic self-compile;
- a C program compiled by vcc and run in the guest prints what the host's
  gcc build of it prints; random integer expressions compute what C's rules
  say, computed here in Python (truncating division; + - * << wrap in 32-bit
  two's complement, as the 68000 computes them and gcc -fwrapv defines them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import hosted
from vcluster import vcc_build as vb
from vcluster.session import Session, load

DATA = Path(__file__).parent / "data" / "vcc"
have_host_cc = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="no host gcc for the native reference"
)
have_cross = pytest.mark.skipif(bool(hosted.missing()), reason="m68k cross compiler not installed")
have_as = pytest.mark.skipif(
    shutil.which("m68k-linux-gnu-as") is None, reason="no m68k-linux-gnu-as"
)


def guest_session(
    images: dict[str, bytes] | None = None, files: dict[str, bytes] | None = None
) -> Session:
    s = Session(load("tiny"), images=images)
    for name, data in (files if files is not None else vb.source_files()).items():
        s.put_file(name, data)
    return s


def compile_in_guest(session: Session, names: list[str]) -> dict[str, dict]:
    """Run `vcc N.c -o N.s` for each unit on ws1, one after another; each job's status, CPU and heap."""
    seen: dict[str, dict] = {}

    def on_exit(proc, status):
        if proc.team is not None and proc.name == "vcc":
            t = proc.team
            seen[t.argv[1]] = {"cpu_s": proc.cpu_ns / 1e9, "heap": t.brk - t.heap_start}

    for k in session.kernels.values():
        k.on_exit.append(on_exit)
    for n in names:
        session.execute(f"vcc {n}.c -o {n}.s")
        assert session.run_until_done(300)
    for job in session.jobs:
        assert job.exit_status == 0, session.output_of(job)
    return seen


@have_host_cc
@have_as
def test_native_vcc_compiles_each_of_its_files_into_assembly_gnu_as_takes_for_the_68010(tmp_path):
    outputs = vb.native_outputs()
    assert sorted(outputs) == vb.units() and len(outputs) >= 6
    for name, text in outputs.items():
        src = tmp_path / f"{name}.s"
        src.write_bytes(text)
        proc = subprocess.run(
            ["m68k-linux-gnu-as", "-m68010", "-o", str(tmp_path / f"{name}.o"), str(src)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, f"{name}.s: {proc.stderr[:2000]}"
        assert (tmp_path / f"{name}.o").stat().st_size > 0


@have_host_cc
def test_guest_vcc_writes_byte_identical_assembly_to_the_native_build_and_fits_a_2mb_workstation():
    names = vb.units()
    want = vb.native_outputs(names)
    session = guest_session()
    seen = compile_in_guest(session, names)
    for n in names:
        assert vb.read_file(session, f"{n}.s") == want[n], f"{n}.s differs from the native build"
    image = len(session.images["vcc"])
    peak = max(v["heap"] for v in seen.values())
    # the image, its heap and a 64 KB stack: well inside a 2 MB Sun-2 (tiny's ws1)
    assert image + peak + 64 * 1024 < 512 * 1024, (image, peak)
    assert session.config.machine("ws1").memory <= 2 * 1024 * 1024
    # a compile of about a thousand lines takes seconds at 1 MIPS, as cc68 did
    assert 0.3 < max(v["cpu_s"] for v in seen.values()) < 30


@have_host_cc
@have_cross
def test_vcc_compiled_by_vcc_runs_in_the_guest_and_writes_the_same_bytes(tmp_path):
    names = vb.units()
    want = vb.native_outputs(names)
    for n in names:
        (tmp_path / f"{n}.s").write_bytes(want[n])
    image = hosted.build_program([tmp_path / f"{n}.s" for n in names], tmp_path / "vcc")
    session = guest_session(images={"vcc": image.read_bytes()})
    compile_in_guest(session, names)
    for n in names:
        assert vb.read_file(session, f"{n}.s") == want[n], f"vcc-built vcc: {n}.s differs"


@have_host_cc
@have_cross
def test_a_program_compiled_by_vcc_prints_what_the_gcc_build_prints(tmp_path):
    src = DATA / "features.c"
    exe = tmp_path / "features-native"
    subprocess.run(["gcc", "-std=c99", "-O2", "-w", "-o", str(exe), str(src)], check=True)
    native = subprocess.run([str(exe)], capture_output=True, text=True)
    asm = tmp_path / "features.s"
    subprocess.run([str(vb.native_vcc()), str(src), "-o", str(asm)], check=True)
    image = hosted.build_program([asm], tmp_path / "features")
    session = guest_session(images={"features": image.read_bytes()}, files={})
    session.execute("features")
    assert session.run_until_done(120)
    (job,) = session.jobs
    assert session.output_of(job) == native.stdout
    assert job.exit_status == native.returncode == 3
    assert "fib 55 6765" in native.stdout


def native_run(tmp_path: Path, files: dict[str, bytes], argv: list[str]) -> tuple[int, str]:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    proc = subprocess.run(
        [str(vb.native_vcc()), *argv], cwd=tmp_path, capture_output=True, text=True
    )
    return proc.returncode, proc.stdout + proc.stderr


BAD = {
    "nosemi.c": b"int main(void)\n{\n\tint x = 1\n\treturn x;\n}\n",
    "undeclared.c": b"int f(void) { return y; }\n",
    "badif.c": b"#ifdef X\nint a;\n",
    "fnmacro.c": b"#define F(x) x\n",
    # one declaration loop serves both scopes (decl.c's declaration): its errors at each
    "staticlocal.c": b"int f(void)\n{\n\tint a, *b;\n\tstatic int c;\n}\n",
    "noname.c": b"typedef int T;\nT a, *;\n",
}


@have_host_cc
@pytest.mark.parametrize(
    "argv,status,message",
    [
        (["nosuch.c"], 1, "error: cannot open: nosuch.c"),
        (["nosemi.c"], 1, "nosemi.c:4: error: expected: ';' after a declaration"),
        (["undeclared.c"], 1, "undeclared.c:1: error: undeclared: y"),
        (["badif.c"], 1, "error: #if without #endif"),
        (["fnmacro.c"], 1, "error: macros with arguments are not supported: F"),
        (
            ["staticlocal.c"],
            1,
            "staticlocal.c:4: error: static and extern locals are not supported",
        ),
        (["noname.c"], 1, "noname.c:2: error: a declaration needs a name"),
        ([], 2, "usage: vcc [-o OUT] FILE.c | vcc -sum OUT FILE..."),
        (["-x", "a.c"], 2, "usage: vcc"),
    ],
)
def test_bad_input_gets_a_clear_error_natively_and_in_the_guest_alike(
    tmp_path, argv, status, message
):
    code, text = native_run(tmp_path, BAD, argv)
    assert code == status and message in text, text
    session = guest_session(files=BAD)
    session.execute(" ".join(["vcc", *argv]))
    assert session.run_until_done(60)
    (job,) = session.jobs
    assert job.exit_status == status
    assert session.output_of(job) == text


# random integer expressions: vcc's arithmetic against C's rules, computed in Python

VARS = {"a": 7, "b": -3, "c": 100000, "d": -2147483647 - 1, "e": 0, "f": 65535}


def wrap(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def c_div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def evaluate(tree) -> int:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        return VARS[tree[1]]
    if kind == "un":
        v = evaluate(tree[2])
        return {"-": wrap(-v), "~": wrap(~v), "!": int(v == 0)}[tree[1]]
    if kind == "cond":
        return evaluate(tree[2]) if evaluate(tree[1]) else evaluate(tree[3])
    op, x, y = tree[1], evaluate(tree[2]), evaluate(tree[3])
    if op in ("/", "%"):
        if y == 0 or (x == -(1 << 31) and y == -1):
            y = 7  # the expression text says the same: see render()
        q = c_div(x, y)
        return wrap(q) if op == "/" else wrap(x - q * y)
    if op in ("<<", ">>"):
        y &= 31
        return wrap(x << y) if op == "<<" else x >> y
    table = {
        "+": lambda: wrap(x + y), "-": lambda: wrap(x - y), "*": lambda: wrap(x * y),
        "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y,
        "<": lambda: int(x < y), ">": lambda: int(x > y), "<=": lambda: int(x <= y),
        ">=": lambda: int(x >= y), "==": lambda: int(x == y), "!=": lambda: int(x != y),
        "&&": lambda: int(bool(x) and bool(y)), "||": lambda: int(bool(x) or bool(y)),
    }  # fmt: skip
    return table[op]()


def render(tree) -> str:
    kind = tree[0]
    if kind == "num":
        return str(tree[1])
    if kind == "var":
        return tree[1]
    if kind == "un":
        return f"({tree[1]}{render(tree[2])})"
    if kind == "cond":
        return f"({render(tree[1])} ? {render(tree[2])} : {render(tree[3])})"
    op, x, y = tree[1], render(tree[2]), render(tree[3])
    if op in ("/", "%"):  # never by zero, never INT_MIN / -1: a divisor of 7 instead (see evaluate)
        dx, dy = evaluate(tree[2]), evaluate(tree[3])
        if dy == 0 or (dx == -(1 << 31) and dy == -1):
            y = "7"
    if op in ("<<", ">>"):
        return f"({x} {op} ({y} & 31))"
    return f"({x} {op} {y})"


BINOPS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "&&",
    "||",
]
leaves = st.one_of(
    st.tuples(st.just("num"), st.integers(0, 70000)),
    st.tuples(st.just("var"), st.sampled_from(sorted(VARS))),
)
trees = st.recursive(
    leaves,
    lambda sub: st.one_of(
        st.tuples(st.just("bin"), st.sampled_from(BINOPS), sub, sub),
        st.tuples(st.just("un"), st.sampled_from(["-", "~", "!"]), sub),
        st.tuples(st.just("cond"), sub, sub, sub),
    ),
    max_leaves=8,
)


@have_host_cc
@have_cross
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees, min_size=20, max_size=20))
def test_random_integer_expressions_compute_what_c_says(tmp_path_factory, exprs):
    tmp = tmp_path_factory.mktemp("expr")
    body = "".join(f'\tprintf("%d\\n", {render(e)});\n' for e in exprs)
    decls = "".join(f"\t{n} = {v};\n" for n, v in VARS.items() if v != -(1 << 31))
    src = (
        "int printf(char *fmt, ...);\nint a, b, c, d, e, f;\nint main(void)\n{\n"
        + decls
        + "\td = -2147483647 - 1;\n"
        + body
        + "\treturn 0;\n}\n"
    )
    (tmp / "e.c").write_text(src)
    subprocess.run([str(vb.native_vcc()), "e.c", "-o", "e.s"], cwd=tmp, check=True)
    image = hosted.build_program([tmp / "e.s"], tmp / "e")
    session = guest_session(images={"e": image.read_bytes()}, files={})
    session.execute("e")
    assert session.run_until_done(120)
    got = session.output_of(session.jobs[0]).split()
    assert got == [str(evaluate(e)) for e in exprs], src
