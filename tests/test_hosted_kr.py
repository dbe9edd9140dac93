"""Programs of the c4 and Dhrystone kind on the guest, each checked against the host's native build of the same C.

tc (a c4-style compiler and interpreter with `#define int long long`) and
krstone (a Dhrystone-style benchmark in K&R C) are packaged hosted programs
(guest/src/hosted-programs); they run locally, `@ ws2`, and migrated mid-run,
and print what the host's gcc build prints. Also: main's type decides the
start-up (a long long argc or result, void), what printf("%d") makes of a
long long on this ABI, K&R declarations beside newlib's headers, how much a
program can malloc on a workstation, and tc's 64-bit arithmetic (libgcc's
helpers) against Python's reading of C's rules.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest import hosted
from tests.helpers import ROOT, config, programs_by_name, vcluster
from vcluster.session import Session

HOSTED = hosted.HOSTED_PROGRAMS_DIR
TC_DATA = ROOT / "tests" / "data" / "tc"
KR_DATA = ROOT / "tests" / "data" / "kr"
have_host_cc = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="no host gcc for the native reference"
)
have_cross = pytest.mark.skipif(bool(hosted.missing()), reason="m68k cross compiler not installed")


def native_build(tmp_path: Path, sources: list[Path], name: str, *flags: str) -> Path:
    exe = tmp_path / f"{name}-native"
    cmd = ["gcc", "-O2", "-w", *flags, "-o", str(exe), *map(str, sources)]
    subprocess.run(cmd, check=True)
    return exe


def native_run(exe: Path, *args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, input=stdin, env=env
    )


def session_run(
    lines: list[str],
    files: dict[str, bytes] | None = None,
    stdin: bytes | None = None,
    cfg=None,
    limit: float = 600,
):
    session = Session(cfg or config())
    try:
        for name, data in (files or {}).items():
            session.put_file(name, data)
        session.stdin = stdin
        for line in lines:
            session.execute(line)
        assert session.run_until_done(limit), "programs still running at the limit"
        return session.summary()
    finally:
        session.close()


def with_memory(cfg, **memory: int):
    """cfg with the named machines' physical memory changed (bytes)."""
    machines = [
        dataclasses.replace(m, memory=memory[m.name]) if m.name in memory else m
        for m in cfg.machines
    ]
    return dataclasses.replace(cfg, machines=machines)


# --- tc: a c4-style compiler and interpreter -------------------------------------------------


def tc_files(*names: str) -> dict[str, bytes]:
    return {n: (TC_DATA / n).read_bytes() for n in names}


@pytest.fixture(scope="module")
def tc_native(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc for the native reference")
    tmp = tmp_path_factory.mktemp("tc")
    return native_build(tmp, [HOSTED / "tc" / "tc.c"], "tc")


def test_tc_compiles_and_runs_a_program_that_reads_files_as_its_native_build_does(tc_native):
    want = native_run(tc_native, "wc.t", "fox.txt", "wc.t", cwd=TC_DATA)
    summary = session_run(["tc wc.t fox.txt wc.t"], tc_files("wc.t", "fox.txt"))
    got = programs_by_name(summary)["tc"]
    assert got["fault"] is None
    assert got["output"] == want.stdout
    assert got["exit_status"] == want.returncode == 2  # wc.t exits with the number of files
    assert "exit(2) cycle = " in want.stdout


def test_tc_reads_a_source_larger_than_a_file_server_reply_in_one_read(tc_native, tmp_path):
    """c4 reads its whole source with one read(fd, p, poolsz - 1): a read of a file-server file
    returns everything asked for up to the end, however many 32 KB replies that takes."""
    padding = "".join(f"# padding line {i:05d} of a long comment block\n" for i in range(2500))
    big = (TC_DATA / "wc.t").read_text() + padding
    assert len(big) > 3 * 32768
    (tmp_path / "big.t").write_text(big)
    shutil.copy(TC_DATA / "fox.txt", tmp_path)
    want = native_run(tc_native, "-s", "big.t", "fox.txt", cwd=tmp_path)
    files = {"big.t": big.encode(), "fox.txt": (TC_DATA / "fox.txt").read_bytes()}
    got = programs_by_name(session_run(["tc -s big.t fox.txt @ ws2"], files))["tc"]
    assert (got["output"], got["exit_status"]) == (want.stdout, want.returncode)
    assert " words of code, " in want.stdout and "total characters 45\n" in want.stdout


def test_tc_run_by_the_cli_with_its_files_from_the_host(tc_native):
    want = native_run(tc_native, "wc.t", "fox.txt", cwd=TC_DATA)
    proc = vcluster(
        "run", "tiny", "tc wc.t fox.txt @ ws2",
        "--file", str(TC_DATA / "wc.t"), "--file", f"{TC_DATA / 'fox.txt'}=fox.txt",
    )  # fmt: skip
    assert proc.stdout == want.stdout
    assert proc.returncode == 1  # wc.t exits 1 (one file): run says a program did not exit 0
    assert "exited 1" in proc.stderr


def test_tc_reports_a_missing_file_as_its_native_build_does(tc_native):
    want = native_run(tc_native, "wc.t", "nosuch", cwd=TC_DATA)
    summary = session_run(["tc wc.t nosuch @ ws3"], tc_files("wc.t"))
    got = programs_by_name(summary)["tc"]
    assert (got["output"], got["exit_status"]) == (want.stdout, want.returncode)
    assert want.stdout.startswith("wc: cannot open nosuch\n")
    no_source = session_run(["tc missing.t"])
    got = programs_by_name(no_source)["tc"]
    assert (got["output"], got["exit_status"]) == ("could not open(missing.t)\n", 1)


def test_tc_remote_and_migrated_mid_run_prints_the_native_output(tc_native, tmp_path):
    (tmp_path / "limit.txt").write_text("9000\n")
    shutil.copy(TC_DATA / "primes.t", tmp_path)
    want = native_run(tc_native, "-s", "primes.t", "limit.txt", cwd=tmp_path)
    assert want.returncode == 0 and "primes below 9000\n" in want.stdout
    files = {"primes.t": (TC_DATA / "primes.t").read_bytes(), "limit.txt": b"9000\n"}
    summary = session_run(["tc -s primes.t limit.txt @ ws2", "wait 30", "migrateprog tc"], files)
    got = programs_by_name(summary)["tc"]
    assert summary["migrations"] and summary["migrations"][0]["ok"], summary["migrations"]
    assert got["host_started"] == "ws2" and got["host_final"] != "ws2"
    assert (got["output"], got["exit_status"]) == (want.stdout, 0)


def test_tc_out_of_memory_is_a_clean_error():
    """tc takes five 256 KB pools: a 1 MB workstation has not enough; malloc says so (NULL) and
    tc exits 1 with c4's message, no fault. The same program runs on a 2 MB one."""
    files = tc_files("wc.t", "fox.txt")
    small = with_memory(config(), ws1=1024 * 1024)
    got = programs_by_name(session_run(["tc wc.t fox.txt"], files, cfg=small))["tc"]
    assert got["fault"] is None and got["exit_status"] == 1
    assert re.fullmatch(r"could not malloc\(262144\) (symbol|text|data|stack|source) area\n",
                        got["output"]), got["output"]  # fmt: skip
    got = programs_by_name(session_run(["tc wc.t fox.txt"], files))["tc"]
    assert got["output"].startswith("fox.txt: 3\n10\n45\n") and got["exit_status"] == 1


# --- krstone: a Dhrystone-style benchmark in K&R C -------------------------------------------

TIMING = re.compile(
    r"Ticks: (\d+) of 1/60 s\nMicroseconds for one run: +([\d.]+)\nKrstones per second: +([\d.]+)\n$"
)


@pytest.fixture(scope="module")
def krstone_native(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc for the native reference")
    tmp = tmp_path_factory.mktemp("krstone")
    # the host's times() counts in 1/100 s
    return native_build(tmp, sorted((HOSTED / "krstone").glob("*.c")), "krstone", "-DHZ=100")


def check_krstone(got: dict, summary: dict, runs: int, native: Path) -> None:
    want = native_run(native, cwd=Path("/"), stdin=f"{runs}\n")
    assert want.returncode == 0
    fixed = want.stdout.split("Measured time")[0]  # the host is too fast to time 30 000 runs
    assert got["fault"] is None and got["exit_status"] == 0
    assert got["output"].startswith(fixed), (got["output"], fixed)
    assert f"number of runs: {runs}\n" in fixed and "s2:         krstone, the " in fixed
    m = TIMING.search(got["output"][len(fixed) :])
    assert m, got["output"][len(fixed) :]
    ticks, micros, per_second = int(m[1]), float(m[2]), float(m[3])
    seconds = ticks / 60
    # the V clock is simulated: the loop's time is most of the run's, never more
    assert 2 <= seconds <= summary["sim_seconds"]
    assert seconds >= 0.5 * summary["sim_seconds"], (seconds, summary["sim_seconds"])
    assert micros * runs == pytest.approx(seconds * 1e6, rel=1e-3)
    assert per_second == pytest.approx(runs / seconds, rel=1e-3)


def test_krstone_reads_its_runs_from_stdin_and_times_itself(krstone_native):
    summary = session_run(["krstone"], stdin=b"30000\n")
    check_krstone(programs_by_name(summary)["krstone"], summary, 30000, krstone_native)


def test_krstone_typed_runs_remote_and_migrated_mid_run(krstone_native):
    session = Session(config())
    try:
        session.execute("krstone @ ws2")
        session.execute("wait 2")
        assert programs_by_name(session.summary())["krstone"]["exit_status"] is None  # in scanf
        session.execute("input krstone 30000")
        session.execute("wait 15")
        session.execute("migrateprog krstone")
        assert session.run_until_done(600)
        summary = session.summary()
    finally:
        session.close()
    got = programs_by_name(summary)["krstone"]
    assert summary["migrations"] and summary["migrations"][0]["ok"], summary["migrations"]
    assert got["host_started"] == "ws2" and got["host_final"] != "ws2"
    # the clock runs on while the program waits for its line: only the upper bound holds
    want = native_run(krstone_native, cwd=Path("/"), stdin="30000\n").stdout
    assert got["output"].startswith(want.split("Measured time")[0])
    m = TIMING.search(got["output"])
    assert m and 2 <= int(m[1]) / 60 <= summary["sim_seconds"]


def test_krstone_run_by_the_cli_with_stdin_from_a_file(krstone_native, tmp_path):
    runs = tmp_path / "runs.txt"
    runs.write_text("25000\n")
    proc = vcluster("run", "tiny", "krstone @ ws2", "--stdin", str(runs))
    assert proc.returncode == 0, proc.stderr
    want = native_run(krstone_native, cwd=tmp_path, stdin="25000\n").stdout
    assert proc.stdout.startswith(want.split("Measured time")[0])
    assert TIMING.search(proc.stdout), proc.stdout


def test_krstone_says_when_the_time_is_too_small_to_measure(krstone_native):
    """Under Too_Small_Time (2 * HZ ticks) there is no per-second figure, as natively."""
    want = native_run(krstone_native, cwd=Path("/"), stdin="10\n")
    got = programs_by_name(session_run(["krstone"], stdin=b"10\n"))["krstone"]
    assert (got["output"], got["exit_status"]) == (want.stdout, 0)
    assert got["output"].endswith("Please increase number of runs\n")


def test_krstone_without_a_number_exits_2():
    got = programs_by_name(session_run(["krstone"], stdin=b""))["krstone"]
    assert got["exit_status"] == 2
    assert got["output"].endswith("krstone: no number of runs on standard input\n")


# --- main's type, printf of a long long, K&R C, the heap --------------------------------------


def build_and_run(tmp_path: Path, name: str, source: str, line: str, cfg=None, files=None):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    image = tmp_path / "img" / name
    hosted.build_program([src], image)
    session = Session(cfg or config(), images={name: image.read_bytes()})
    try:
        for fname, data in (files or {}).items():
            session.put_file(fname, data)
        session.execute(line)
        assert session.run_until_done(120)
        return programs_by_name(session.summary())[name]
    finally:
        session.close()


MAINS = {
    # `#define int long long` makes argc and the result long long
    "mainll": "#include <stdio.h>\n#define int long long\n"
    'int main(int argc, char **argv) { printf("%lld %s|", argc, argv[argc - 1]);'
    " return argc + 40; }\n",
    "mainvoid": '#include <stdio.h>\nvoid main(int argc, char **argv) { printf("%s|", argv[1]); }\n',
    "mainkr": '#include <stdio.h>\nmain(argc, argv) char **argv; { printf("%d|", argc); return 7; }\n',
    "mainargll": "#include <stdio.h>\n"
    'int main(long long argc, char **argv) { printf("%lld %s|", argc, argv[1]); return 3; }\n',
}


@have_cross
@have_host_cc
@pytest.mark.parametrize("name", sorted(MAINS))
def test_main_of_any_type_gets_argc_argv_and_its_status(tmp_path, name):
    exe = tmp_path / f"{name}-native"
    (tmp_path / f"{name}.c").write_text(MAINS[name])
    subprocess.run(["gcc", "-w", "-o", str(exe), str(tmp_path / f"{name}.c")], check=True)
    want = subprocess.run([str(exe), "one", "two"], capture_output=True, text=True)
    got = build_and_run(tmp_path, name, MAINS[name], f"{name} one two")
    assert got["fault"] is None
    # a void main's status is what its caller finds in the result register (natively printf's
    # count): here it is 0, by start.c's choice
    status = 0 if name == "mainvoid" else want.returncode
    assert (got["output"], got["exit_status"]) == (want.stdout, status)


def test_start_for_reads_mains_type_from_gccs_aux_info(tmp_path):
    aux = tmp_path / "a.aux"
    aux.write_text(
        "/* /usr/include/x.h:1:NC */ extern int main (void);\n"
        "/* p.c:3:NF */ extern long long int main (long long int argc, char **argv);"
        " /* (argc, argv) long long int argc; char **argv; */\n"
    )
    sig = hosted.main_type([aux], [tmp_path / "p.c"])
    assert sig == ("long long int", "long long int")
    defines = hosted.start_for(sig)
    assert defines == ["-DVMAIN_ARGC=long long int", "-DVMAIN_RESULT=long long int"]
    assert hosted.start_for(("int", "int")) == []
    assert hosted.start_for(None) == []
    assert hosted.start_for(("void", "void")) == ["-DVMAIN_ARGC=int", "-DVMAIN_VOID"]


@have_cross
def test_printf_d_of_a_long_long_prints_its_high_word(tmp_path):
    """Undefined behaviour in C, and what it does here: arguments are 32-bit stack slots and a
    long long is two of them, high word first (big-endian), so %d takes the high word and the
    next conversion the low word (on x86_64 a long long is one register: %d takes the low half)."""
    x = (5 << 32) | 7
    src = (
        "#include <stdio.h>\n"
        f'int main(void) {{ long long x = {x}LL; printf("%d %d|%lld\\n", x, x); return 0; }}\n'
    )
    got = build_and_run(tmp_path, "pll", src, "pll")
    assert got["output"] == f"{x >> 32} {x & 0xFFFFFFFF}|{x}\n"


@have_cross
@have_host_cc
def test_kr_c_with_hand_declared_library_functions_runs_as_natively(tmp_path):
    """krclass.c: implicit int, old-style definitions, `extern char *malloc ();` and
    `extern long time ();` beside newlib's headers (time_t is a long), <memory.h>,
    <sys/times.h>, HZ predefined (60), open/read/lseek/close on a file-server file."""
    exe = native_build(tmp_path, [KR_DATA / "krclass.c"], "krclass", "-DHZ=60")
    want = native_run(exe, "digits.txt", cwd=KR_DATA)
    assert want.returncode == 0
    got = build_and_run(
        tmp_path, "krclass", (KR_DATA / "krclass.c").read_text(), "krclass digits.txt @ ws2",
        files={"digits.txt": (KR_DATA / "digits.txt").read_bytes()},
    )  # fmt: skip
    assert (got["output"], got["exit_status"]) == (want.stdout, 0)


HEAP = r"""#include <stdio.h>
#include <stdlib.h>
int main(void) {
  int n = 0;
  while (malloc(256 * 1024 - 64)) n++;
  printf("%d\n", n);
  return 0;
}
"""


@have_cross
@pytest.mark.parametrize("megabytes", [2, 4])
def test_a_program_can_malloc_nearly_all_of_its_workstations_memory(tmp_path, megabytes):
    cfg = with_memory(config(), ws1=megabytes << 20)
    got = build_and_run(tmp_path, "heap", HEAP, "heap", cfg=cfg)
    blocks = int(got["output"])
    # the kernel, the image and the stack take the rest; malloc ends with NULL, no fault
    assert got["fault"] is None and got["exit_status"] == 0
    assert (megabytes << 20) - 512 * 1024 <= blocks * 256 * 1024 <= megabytes << 20


# the headers a 1985 program includes and the library functions it declares by hand
KR_HEADERS = (
    "stdio.h stdlib.h string.h strings.h memory.h ctype.h math.h time.h sys/types.h sys/times.h "
    "sys/time.h sys/stat.h fcntl.h unistd.h signal.h setjmp.h errno.h stdarg.h malloc.h "
    "sys/param.h sys/file.h"
).split()
KR_DECLARATIONS = [
    "char *malloc();", "char *calloc();", "char *realloc();", "int free();", "char *strcpy();",
    "char *strcat();", "char *strncpy();", "int strcmp();", "char *index();", "char *rindex();",
    "char *strchr();", "long time();", "long times();", "long clock();", "long lseek();",
    "int read();", "int write();", "int open();", "int close();", "int creat();", "int unlink();",
    "char *getenv();", "double atof();", "long atol();", "int atoi();", "int printf();",
    "void exit();", "char *mktemp();", "long random();", "int rand();", "char *ctime();",
    "struct tm *localtime();", "int sleep();", "unsigned sleep();", "int getpid();",
    "double sqrt();", "double fabs();", "double pow();", "int fprintf();", "long ftell();",
    "int fseek();", "int system();", "int setjmp();", "int isatty();", "int chmod();",
    "int umask();",
]  # fmt: skip
# newlib's <fcntl.h> (and <sys/file.h>) include <sys/stat.h>, which declares mode_t umask(mode_t)
KR_KNOWN = {("fcntl.h", "int umask();"), ("sys/file.h", "int umask();")}


def error_lines(cmd: list[str], cwd: Path) -> set[int]:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return {int(m[1]) for m in re.finditer(r"^decls\.c:(\d+):\d+: error:", proc.stderr, re.M)}


@have_cross
@have_host_cc
def test_hand_declarations_beside_the_headers_build_wherever_the_hosts_gcc_builds_them(tmp_path):
    """A K&R declaration that agrees with the host's headers agrees with newlib's (time_t and
    clock_t are longs, as in glibc): per header, the declarations the cross build refuses are
    the ones the host's gcc refuses, but for KR_KNOWN."""
    cross = [hosted.CROSS_CC, *hosted.compile_flags(), "-w", "-fsyntax-only", "decls.c"]
    native = ["gcc", "-w", "-fsyntax-only", "decls.c"]
    extra, refused = set(), 0
    for header in KR_HEADERS:
        (tmp_path / "decls.c").write_text(
            f"#include <{header}>\n" + "\n".join(KR_DECLARATIONS) + "\nint main() { return 0; }\n"
        )
        theirs, ours = error_lines(native, tmp_path), error_lines(cross, tmp_path)
        refused += len(theirs)
        extra |= {(header, KR_DECLARATIONS[n - 2]) for n in ours - theirs}
    assert extra == KR_KNOWN
    assert refused > 0  # the host's gcc refuses some (char *malloc (); beside <stdlib.h>, ...)


# --- tc's 64-bit arithmetic (libgcc's helpers on the guest) against Python ----------------------

INT64 = 1 << 63


def c_eval(tree) -> int:
    """tc's (C's) value of an expression tree; OverflowError where C's would overflow."""
    if isinstance(tree, int):
        return tree
    op, *args = tree
    v = [c_eval(a) for a in args]
    if op == "neg":
        r = -v[0]
    elif op == "!":
        r = int(not v[0])
    elif op == "/":
        r = abs(v[0]) // abs(v[1]) * (1 if (v[0] < 0) == (v[1] < 0) else -1)
    elif op == "%":
        r = v[0] - v[1] * (abs(v[0]) // abs(v[1]) * (1 if (v[0] < 0) == (v[1] < 0) else -1))
    else:
        r = {
            "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
            "<": lambda a, b: int(a < b), ">": lambda a, b: int(a > b),
            "<=": lambda a, b: int(a <= b), ">=": lambda a, b: int(a >= b),
            "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b),
            "&&": lambda a, b: int(bool(a and b)), "||": lambda a, b: int(bool(a or b)),
        }[op](*v)  # fmt: skip
    if not -INT64 <= r < INT64:
        raise OverflowError
    return r


def tc_text(tree) -> str:
    if isinstance(tree, int):
        return str(tree) if tree >= 0 else f"(-{-tree})"
    op, *args = tree
    if op == "neg":
        return f"(-{tc_text(args[0])})"
    if op == "!":
        return f"(!{tc_text(args[0])})"
    return f"({tc_text(args[0])} {op} {tc_text(args[1])})"


literals = st.integers(0, 1 << 40) | st.integers(0, 100)
trees = st.recursive(
    literals,
    lambda sub: (
        st.tuples(st.sampled_from(["neg", "!"]), sub)
        | st.tuples(st.sampled_from("+ - * < > <= >= == != && ||".split()), sub, sub)
        | st.tuples(st.sampled_from(["/", "%"]), sub, st.integers(1, 1 << 20))
    ),
    max_leaves=8,
)


def evaluable(tree) -> bool:
    try:
        c_eval(tree)
        return True
    except OverflowError:
        return False


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees.filter(evaluable), min_size=20, max_size=40))
def test_tc_computes_64_bit_expressions_as_c_defines_them(exprs):
    program = "".join(f"print({tc_text(t)});\n" for t in exprs)
    summary = session_run(["tc prog.t"], {"prog.t": program.encode()})
    got = programs_by_name(summary)["tc"]
    lines = got["output"].splitlines()
    assert lines[:-1] == [str(c_eval(t)) for t in exprs]
    assert got["exit_status"] == 0 and lines[-1].startswith("exit(0) cycle = ")
