"""The `vcluster` command: boot, serve, attach, run, bench, guest build and wireshark."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vcluster import __version__

# the first words of console lines that are not programs' names
LINE_WORDS = frozenset({"wait", "hosts", "ps", "kill", "suspend", "resume", "migrateprog", "owner", "fault",
                        "crash", "power", "input", "eof"})


def _packaged_names() -> list[str]:
    import os

    from configs.loader import packaged_configs

    return sorted(os.path.splitext(os.path.basename(str(p)))[0] for p in packaged_configs())


def _config_like(arg: str) -> bool:
    """Whether a first positional argument of `run` names a config rather than a console line:
    a *.yaml path, a path, or a packaged config's name (tiny, lab, large) that is not also a
    program's name."""
    import os

    if arg.endswith((".yaml", ".yml")) or (os.sep in arg and " " not in arg):
        return True
    from guest import build

    return arg in _packaged_names() and arg not in build.available()


def _not_a_config(arg: str, lines_after: int, images: list[str]) -> str | None:
    """Why the first positional argument of `run`, one word followed by more lines, is neither a
    config nor the start of a console line (None: it may be a line)."""
    import os

    from guest import build

    words = arg.split()
    if lines_after == 0 or len(words) != 1 or arg in LINE_WORDS:
        return None
    programs = set(build.available()) | {os.path.basename(i) for i in images}
    if arg in programs:
        return None
    return (f"{arg!r} is no config: packaged configs are {', '.join(_packaged_names())}, and a path to "
            f"a YAML file works too (configs/tiny.yaml); nor is it a program ({', '.join(sorted(programs))})")


def _speed(text: str) -> float:
    from vcluster.realtime import parse_speed
    from vcluster.session import LineError

    try:
        return parse_speed(text)
    except LineError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("speed: ")) from None


def _limit(text: str) -> float:
    from vcluster.session import LineError, parse_limit

    try:
        return parse_limit(text)
    except LineError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--max-sim-seconds: ")) from None


def _clock_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=_speed, default=1.0, metavar="X",
                        help="simulated seconds per wall-clock second (default 1)")
    parser.add_argument("--paused", action="store_true", help="start with the clock stopped")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcluster",
        description="An emulated V-System workstation network: 68010 workstations on a 10 Mb Ethernet.",
    )
    parser.add_argument("--version", action="version", version=f"vcluster {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    boot = sub.add_parser(
        "boot",
        help="boot a cluster (default: the packaged lab config) and attach the console",
        description="Boot a config and attach the interactive console. Without a terminal "
        "(or with --headless) it boots headless: runs hello, runs a while, prints the hosts.",
    )
    boot.add_argument("config", nargs="?", help="a YAML config path or a packaged name (tiny, lab, large)")
    boot.add_argument("--seed", type=int, help="override the config's seed")
    _clock_options(boot)
    boot.add_argument("--headless", action="store_true", help="no console, even on a terminal")
    boot.add_argument(
        "--max-sim-seconds", type=_limit, default=60.0, help="simulated seconds to run headless"
    )

    serve = sub.add_parser(
        "serve",
        help="boot headless and serve the control socket (prints its path)",
        description="Boot a config headless and serve its control socket (JSON lines, one request "
        "one reply; docs/CONTROL.md). The socket's path is the one line on stdout.",
    )
    serve.add_argument("config", nargs="?", help="a YAML config path or a packaged name (tiny, lab, large)")
    serve.add_argument("--seed", type=int, help="override the config's seed")
    serve.add_argument("--socket", metavar="PATH",
                       help="listen here (default: $XDG_RUNTIME_DIR/vcluster/NAME.sock)")
    _clock_options(serve)

    attach = sub.add_parser(
        "attach", help="attach the console to a cluster that is serving",
        description="Attach the interactive console (a terminal) to a cluster that `vcluster serve` "
        "keeps up, by its socket. Quitting the console leaves the cluster running; its `shutdown` "
        "line stops it. Scripts talk to the socket directly (docs/CONTROL.md).")
    attach.add_argument("socket", nargs="?",
                        help="a socket path or a config name (default: the one cluster serving)")

    run = sub.add_parser(
        "run",
        usage="%(prog)s [OPTIONS] [CONFIG] LINE [LINE ...]",
        help="headless: boot, execute console lines in order, run until every program exits",
        description="Boot a config, execute console LINEs in order (e.g. 'hello', 'primes 1000 @ *', "
        "'wait 3', 'migrateprog dirtier', 'kill primes'), run until every program started has exited or "
        "the limit is reached. Options may come anywhere on the command line. CONFIG is a packaged "
        "name (tiny, lab, large) or a path to a YAML file (default: lab).",
        epilog="stdout is the programs' output (labelled '[# NAME] ' with --label, and by default on "
        "a terminal when the lines start several programs), the answers of lines such as ps, hosts "
        "and migrateprog, and with --json one JSON summary as the last line. stderr tells what "
        "happens meanwhile, stamped with the simulated time: migrations and evictions ('[     1.132] "
        "evicted dirtier from ws3 to ws1: ...'), crashes, each program's end ('[1] hello on ws1: "
        "exited 0', 'on ws8 (from ws3 via ws6): killed', 'fault: ...'), and each line that fails "
        "('vcluster: line N: ...'). The lines of the "
        "interactive console's clock and screen (speed, pause, step, view, ...) are not for run: "
        "its clock runs as fast as it can. Exit status: 0 when every program exited 0, 1 when one "
        "did not (or the limit came first), 2 when a line or the config was refused.",
    )
    run.add_argument("args", nargs="+", metavar="LINE", help="console lines, after an optional CONFIG")
    run.add_argument("--config", help="the config (instead of a first positional CONFIG)")
    run.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    run.add_argument("--label", action=argparse.BooleanOptionalAction, default=None,
                     help="begin each line of a program's output with its job number and name: '[2 primes] ' "
                     "(default: on a terminal when the lines start several programs)")
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--max-sim-seconds", type=float, default=600.0, metavar="S",
                     help="stop after this much simulated time (above 0, at most 1e6)")
    run.add_argument("--pcap", metavar="FILE", help="capture every frame on the wire to FILE (pcap); "
                     "several segments: FILE-SEGMENT.pcap each, or DIR/SEGMENT.pcap (docs/CONFIG.md)")
    run.add_argument("--stdin", metavar="FILE",
                     help="the standard input of every program the lines start (- = this one's); "
                     "without it, their input is at its end at once")
    run.add_argument("--file", metavar="HOSTFILE[=NAME]", action="append", default=[],
                     help="put a host file on the file server's disk for this run; repeatable")
    run.add_argument("--image", metavar="PATH", action="append", default=[],
                     help="add a program image for this run (its file name is the program's name); repeatable")
    run.add_argument("--screenshot", metavar="HOST:FILE", action="append", default=[],
                     help="at the end, write HOST's frame buffer to FILE as PNG (repeatable)")
    run.add_argument("--timeline", metavar="FILE.png",
                     help="at the end, draw each migration's phases (locate, init, every pre-copy round, "
                     "freeze, switch) on the simulated time axis into FILE")

    from vcluster import bench as benches

    bench = sub.add_parser(
        "bench", help="run a benchmark (JSON with --json)",
        description="Run one benchmark and print its results (a table, or one JSON object with\n"
        "--json). It exits 1 when the benchmark's own checks fail (said on stderr).",
        epilog="benchmarks:\n" + "\n".join(f"  {n:8s} {benches.BENCHMARKS[n][2]}" for n in benches.names()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", choices=benches.names(), metavar="NAME",
                       help="which benchmark: " + ", ".join(benches.names()) + " (described below)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--seeds", type=int, help="faults: seeds per scenario and loss rate (default 20)")
    bench.add_argument("--ranks", metavar="K,K...", help="segments: the MPI rank counts to compare (default 1,2)")
    bench.add_argument("--quick", action="store_true", help="faults: 3 seeds and 10 instants; rexec: selection at 3 and 12 hosts only; scale: 100 programs only")
    bench.add_argument("--hosts", metavar="N,N...", help="scale: the cluster sizes (default 120,1000)")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="also draw the result beside the paper's figures (migrate, pmake, rexec)")
    bench.add_argument("--from", dest="from_json", metavar="JSON",
                       help="draw (and print) the result an earlier --json wrote to this file "
                       "instead of running the bench")

    files = sub.add_parser(
        "files", help="put host files on a config's file-server disk, get them back, list, remove",
        description="Works on the disk image of the config's file server (disk.image), no cluster "
        "running: put HOSTFILE [NAME], get NAME [HOSTFILE|-], list, rm NAME.")
    files.add_argument("files_command", choices=("put", "get", "list", "rm"), metavar="put|get|list|rm")
    files.add_argument("files_args", nargs="*", metavar="ARG")
    files.add_argument("--config", help="a YAML config path or a packaged name (default: lab)")

    guest = sub.add_parser("guest", help="guest programs: build them, list them",
                           description="The 68010 guest programs: `build` compiles them (or a C program "
                           "of yours), `list` names the built images.")
    guest_sub = guest.add_subparsers(dest="guest_command", metavar="GUEST_COMMAND")
    gbuild = guest_sub.add_parser(
        "build", help="rebuild the guest images, or build your own C program (needs m68k-linux-gnu-gcc)",
        description="Without FILEs: rebuild every packaged image (guest/bin). With FILE.c...: build them "
        "into one hosted program (newlib, libm, float, long long; docs/ABI.md 'Hosted C') at -o, to run "
        "with `vcluster run --image PATH` or a config's programs: entry.")
    gbuild.add_argument("files", nargs="*", metavar="FILE.c", help="C sources of one program of yours")
    gbuild.add_argument("-o", "--output", metavar="IMAGE", help="the image to write (default: the first FILE's name)")
    gbuild.add_argument("-I", dest="includes", action="append", default=[], metavar="DIR", help="an include directory")
    gbuild.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]", help="a macro")
    gbuild.add_argument("--cflags", default="", help="more compiler flags, one string (e.g. '-O1 -Wall')")
    gbuild.add_argument("--toolchain", action="store_true",
                        help="rebuild the hosted C library (guest/lib) from Debian's newlib-source and gcc-12-source")
    gbuild.add_argument("--out", help="build the packaged images into this directory instead of guest/bin")
    guest_sub.add_parser("list", help="list the built guest images",
                         description="List the programs that have a built image in guest/bin.")

    shark = sub.add_parser(
        "wireshark",
        help="the Wireshark dissector of the V interkernel protocol (print, --install, --path)",
        description="The Lua dissector that shows the V interkernel protocol (ethertype 0x88B5) "
        "by name in Wireshark and tshark: packet kinds, pids, sequence, message words, bulk "
        "offsets. With no option it prints the Lua to stdout.",
        epilog="Use it for one run with `tshark -X lua_script:FILE -r capture.pcap` (FILE: "
        "`vcluster wireshark --path`, or save the printed Lua), after e.g. "
        "`vcluster run tiny 'hello @ ws2' --pcap capture.pcap`; filter names start with 'vik.' "
        "(vik.kind.name, vik.mg, vik.src_pid, ...). After --install, Wireshark and tshark "
        "load it by themselves.",
    )
    how = shark.add_mutually_exclusive_group()
    how.add_argument(
        "--install",
        action="store_true",
        help="copy it into the personal Lua plugin folder "
        "(~/.local/lib/wireshark/plugins, Wireshark >= 3.0) and say where it went",
    )
    how.add_argument("--path", action="store_true", help="print the path of the packaged file")
    parser._run_parser = run  # type: ignore[attr-defined]  # parsed intermixed (see _parse)
    return parser


def _label(asked: bool | None, lines: list[str]) -> bool:
    """--label / --no-label, else label on a terminal when the lines start several programs."""
    if asked is not None:
        return asked
    import shlex

    def starts_a_program(line: str) -> bool:
        try:
            words = shlex.split(line)
        except ValueError:
            return False
        return bool(words) and words[0] not in LINE_WORDS

    from vcluster.mpirun import ranks

    # under mpirun a rank's stdout is mpirun's pty whatever the user's is: no labels unless asked
    return sys.stdout.isatty() and ranks() == 1 and sum(map(starts_a_program, lines)) > 1


def _cmd_run(ns: argparse.Namespace) -> int:
    from vcluster.session import run_lines

    args = list(ns.args)
    config = ns.config
    if config is None and args and _config_like(args[0]):
        config = args.pop(0)
    elif config is None and args:
        why = _not_a_config(args[0], len(args) - 1, ns.image)
        if why:
            print(f"vcluster run: {why}", file=sys.stderr)
            return 2
    if not args:
        print("vcluster run: no console lines given", file=sys.stderr)
        return 2
    shots: list[tuple[str, str]] = []
    for spec in ns.screenshot:
        host, sep, path = spec.partition(":")
        if not sep or not host or not path:
            print(f"vcluster run: --screenshot wants HOST:FILE, not {spec!r}", file=sys.stderr)
            return 2
        shots.append((host, path))
    if shots:
        from configs.loader import ConfigError
        from vcluster.session import load

        try:
            hosts = [m.name for m in load(config, ns.seed).machines]
        except (ConfigError, FileNotFoundError):
            hosts = None  # run_lines says what is wrong with the config
        for host, _ in shots:
            if hosts is not None and host not in hosts:
                print(f"vcluster run: --screenshot: unknown host {host!r}; hosts: {', '.join(hosts)}",
                      file=sys.stderr)
                return 2
    if ns.timeline is not None:
        from vcluster.plots import check_writable

        why = check_writable(ns.timeline)
        if why:
            print(f"vcluster run: --timeline: {why}", file=sys.stderr)
            return 2
    failed: list[str] = []
    from vcluster import mpirun

    if mpirun.ranks() > 1:  # under mpirun: the segments spread over the ranks (vcluster/mpirun.py)
        run_lines = mpirun.run_lines_parallel  # noqa: F811
    status = run_lines(
        config,
        args,
        as_json=ns.json,
        seed=ns.seed,
        max_sim_seconds=ns.max_sim_seconds,
        pcap=ns.pcap,
        screenshots=shots,
        screenshot_errors=failed,
        images=ns.image,
        files=ns.file,
        stdin=ns.stdin,
        label=_label(ns.label, args),
        timeline=ns.timeline,
    )
    for why in failed:
        print(f"vcluster run: --screenshot: {why}", file=sys.stderr)
    return status or (1 if failed else 0)


def _cmd_boot(ns: argparse.Namespace) -> int:
    from configs.loader import ConfigError
    from vcluster.session import boot_headless, load

    try:
        cfg = load(ns.config, ns.seed)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"vcluster: {exc}", file=sys.stderr)
        return 2
    if not ns.headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("vcluster boot: not a terminal, so no console: booting headless "
              "(`vcluster serve` keeps a cluster up for scripts)", file=sys.stderr)
        ns.headless = True
    if ns.headless:
        return boot_headless(ns.config, seed=ns.seed, max_sim_seconds=ns.max_sim_seconds)
    from vcluster.console import local_opener, run_console

    return run_console(local_opener(cfg, speed=ns.speed, paused=ns.paused))


def _cmd_serve(ns: argparse.Namespace) -> int:
    from vcluster.control import serve_main

    return serve_main(ns.config, socket_path=ns.socket, seed=ns.seed, speed=ns.speed, paused=ns.paused)


def _cmd_attach(ns: argparse.Namespace) -> int:
    from vcluster.control import ControlError, resolve_socket

    try:
        path = resolve_socket(ns.socket)
    except ControlError as exc:
        print(f"vcluster attach: {exc}", file=sys.stderr)
        return 1
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"vcluster attach: the console needs a terminal; scripts can talk to {path} "
              "directly (JSON lines, docs/CONTROL.md)", file=sys.stderr)
        return 2
    from vcluster.console import run_console, socket_opener

    return run_console(socket_opener(str(path)))


def _cmd_guest(ns: argparse.Namespace) -> int:
    from guest import build

    if ns.guest_command == "build":
        import shlex
        import subprocess
        from pathlib import Path

        from guest import hosted

        if ns.toolchain:
            script = Path(build.__file__).resolve().parent / "toolchain" / "build-libc.sh"
            return subprocess.run(["sh", str(script)]).returncode
        if ns.files:
            first = Path(ns.files[0])
            out = Path(ns.output) if ns.output else first.with_suffix("")
            try:
                image = hosted.build_program(ns.files, out, includes=ns.includes, defines=ns.defines,
                                             cflags=shlex.split(ns.cflags))
            except hosted.HostedBuildError as exc:
                print(f"vcluster guest build: {exc}", file=sys.stderr)
                return 1
            print(image)
            return 0
        try:
            built = build.build(Path(ns.out) if ns.out else None)
        except build.BuildError as exc:
            print(f"vcluster guest build: {exc}", file=sys.stderr)
            return 1
        for path in built:
            print(path)
        return 0
    if ns.guest_command == "list":
        for name in build.available():
            print(name)
        return 0
    print("vcluster guest: say 'build' or 'list'", file=sys.stderr)
    return 2


def _cmd_wireshark(ns: argparse.Namespace) -> int:
    from vcluster import wireshark

    if ns.path:
        print(wireshark.lua_path())
    elif ns.install:
        try:
            dest = wireshark.install()
        except OSError as exc:
            print(f"vcluster wireshark: cannot install: {exc}", file=sys.stderr)
            return 1
        print(f"installed {dest}; Wireshark and tshark load it at their next start")
    else:
        sys.stdout.write(wireshark.lua_text())
    return 0


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The command line; `run`'s options may come anywhere among its lines (intermixed)."""
    at = next((i for i, word in enumerate(argv) if not word.startswith("-")), None)
    if at is None or argv[at] != "run":
        return parser.parse_args(argv)
    ns = parser.parse_args(argv[:at])
    run = parser._run_parser  # type: ignore[attr-defined]
    ns_run = run.parse_intermixed_args(argv[at + 1:])
    for key, value in vars(ns_run).items():
        setattr(ns, key, value)
    ns.command = "run"
    return ns


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(ns.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command == "run":
        return _cmd_run(ns)
    from vcluster.mpirun import ranks

    if ranks() > 1:
        print(f"vcluster {ns.command}: not available across MPI ranks (only `vcluster run` is); "
              "run it without mpirun", file=sys.stderr)
        return 2
    if ns.command == "boot":
        return _cmd_boot(ns)
    if ns.command == "serve":
        return _cmd_serve(ns)
    if ns.command == "attach":
        return _cmd_attach(ns)
    if ns.command == "bench":
        from vcluster import bench

        return bench.main(ns.name, ns.json, seeds=ns.seeds, quick=ns.quick, plot=ns.plot,
                          from_json=ns.from_json, ranks=ns.ranks, hosts=ns.hosts)
    if ns.command == "files":
        from vcluster import files as files_cmd

        return files_cmd.main(ns.files_command, ns.files_args, ns.config)
    if ns.command == "guest":
        return _cmd_guest(ns)
    if ns.command == "wireshark":
        return _cmd_wireshark(ns)
    parser.error(f"unknown command {ns.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
