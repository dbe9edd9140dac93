"""The `vcluster` command: boot, run, bench and guest build."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vcluster import __version__


def _config_like(arg: str) -> bool:
    """Whether a first positional argument of `run` names a config rather than a console line."""
    import os

    return arg.endswith((".yaml", ".yml")) or (os.sep in arg and os.path.isfile(arg))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcluster",
        description="An emulated V-System workstation network: 68010 workstations on a 10 Mb Ethernet.",
    )
    parser.add_argument("--version", action="version", version=f"vcluster {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    boot = sub.add_parser("boot", help="boot a cluster (default: the packaged lab config)")
    boot.add_argument("config", nargs="?", help="a YAML config path or a packaged name (tiny, lab, large)")
    boot.add_argument("--seed", type=int, help="override the config's seed")
    boot.add_argument(
        "--max-sim-seconds", type=float, default=60.0, help="simulated seconds to run headless"
    )

    run = sub.add_parser(
        "run",
        help="headless: boot, execute console lines in order, run until every program exits",
        description="Boot a config, execute console LINEs in order (e.g. 'hello', 'primes 1000 @ *', "
        "'wait 3', 'migrateprog dirtier'), run until every program started has exited or the "
        "limit is reached, and print the programs' output. With --json the last line is one JSON summary.",
    )
    run.add_argument("args", nargs="+", metavar="[CONFIG] LINE", help="an optional config, then console lines")
    run.add_argument("--config", help="the config (instead of a first positional *.yaml)")
    run.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--max-sim-seconds", type=float, default=600.0, help="stop after this much simulated time")
    run.add_argument("--pcap", metavar="FILE", help="capture every frame on the wire to FILE (pcap)")

    bench = sub.add_parser("bench", help="run a benchmark (JSON with --json)")
    from vcluster import bench as benches

    bench.add_argument("name", choices=benches.names(), help="which benchmark")
    bench.add_argument("--json", action="store_true", help="print one JSON object")

    guest = sub.add_parser("guest", help="guest programs")
    guest_sub = guest.add_subparsers(dest="guest_command", metavar="GUEST_COMMAND")
    gbuild = guest_sub.add_parser("build", help="rebuild the guest images (needs m68k-linux-gnu-gcc)")
    gbuild.add_argument("--out", help="build into this directory instead of guest/bin")
    guest_sub.add_parser("list", help="list the built guest images")
    return parser


def _cmd_run(ns: argparse.Namespace) -> int:
    from vcluster.session import run_lines

    args = list(ns.args)
    config = ns.config
    if config is None and args and _config_like(args[0]):
        config = args.pop(0)
    if not args:
        print("vcluster run: no console lines given", file=sys.stderr)
        return 2
    return run_lines(
        config,
        args,
        as_json=ns.json,
        seed=ns.seed,
        max_sim_seconds=ns.max_sim_seconds,
        pcap=ns.pcap,
    )


def _cmd_boot(ns: argparse.Namespace) -> int:
    from vcluster.session import boot_headless

    return boot_headless(ns.config, seed=ns.seed, max_sim_seconds=ns.max_sim_seconds)


def _cmd_guest(ns: argparse.Namespace) -> int:
    from guest import build

    if ns.guest_command == "build":
        from pathlib import Path

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(ns.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command == "run":
        return _cmd_run(ns)
    if ns.command == "boot":
        return _cmd_boot(ns)
    if ns.command == "bench":
        from vcluster import bench

        return bench.main(ns.name, ns.json)
    if ns.command == "guest":
        return _cmd_guest(ns)
    parser.error(f"unknown command {ns.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
