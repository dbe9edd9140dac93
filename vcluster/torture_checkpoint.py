"""The torture harness's checkpointed programs (issue 16): crashes, loss, partitions and file-server faults.

Each scenario runs one checkpointed program (`checkpoint=1`: primes, dirtier,
files writing a file, the client of an ipcclient/ipcserver pair, workload)
and faults its host at instants over its whole run, taken from the fault-free
(checkpointed, unfaulted) run of the same lines: four before its first
checkpoint is complete, eight while a later checkpoint's file is being
written, twelve spread over the rest (CK_INSTANTS in all):

- `ck-crash-P`: the running host crashes;
- `ck-lossy-P`: the same under 5, 10 or 20% packet loss (seeded);
- `ck-twice-on-P` / `ck-twice-off-P`: the host it was restarted on crashes too,
  the first host powered on again meanwhile, or only 4 s after the second crash
  ("cannot restart", then a restart once it is back);
- `ck-partition-P`: the running host is cut off past `detect_s`, then healed;
- `ck-fs-P`: the file server crashes and is powered on again, then the program's
  host crashes (files: a clean error, its open file died with the file server);
- `ck-migrate-P`: migrateprog, then a crash of the new host;
- `ck-evict-P`: evicted by its owner's return, then a crash of the host it went to;
- `ck-noidle-P`: no idle host at the crash ("cannot restart", the checkpoint
  kept), then one becomes idle (it restarts).

Besides the harness's checks (vcluster/torture.py: no hang, one copy, the
fault-free output, no traceback) each run's files must be the fault-free run's,
and the restart events true (`check_events`): a program its crash line said
restarts has a `restart` (or, while no host could take it, a `cannot_restart`)
from that host afterwards; a restart comes from a host that crashed or was cut
off, goes elsewhere (not the console's workstation), and restores a checkpoint
complete before the fault, at least as new as any the home heard of; the
program ends where its last restart (or a later migration) put it.
"""

from __future__ import annotations

from typing import Any

from vcluster import torture
from vcluster.torture import Case, Scenario
from vkernel.checkpoint import INCARNATION

CK_INSTANTS = 24
BEFORE_FIRST, WRITING = 4, 8  # instants before the first checkpoint is complete; during writes
INTERVAL = "1"
LOSSES = (0.05, 0.1, 0.2)
CONSOLE = "ws1"
FS = "fs1"
HEAL_AFTER = (0.3, 1.0, 2.5)  # a partition lasts detect_s plus this
MIGRATE_WAIT = (0.8, 1.4, 2.0, 2.8)  # into the run before a migration or an eviction
CRASH_AFTER = (0.05, 0.5, 1.2, 2.0)  # after it, the crash of the new host

# name: (lines before (a server), the program's line, the host it runs on, the other idle host,
# daemons, whether it runs on with the file server down)
PROGRAMS: dict[str, tuple[tuple[str, ...], str, str, str, tuple[str, ...], bool]] = {
    "primes": ((), "primes 300000", "ws2", "ws3", (), True),
    "dirtier": ((), "dirtier 64 32 6", "ws2", "ws3", (), True),
    "files": ((), "files big out.bin 256", "ws2", "ws3", (), False),
    "ipc": (("ipcserver 5 @ ws2",), "ipcclient 5 8 16 quit", "ws3", "ws2", ("ipcserver",), True),
    "workload": ((), "workload make 4", "ws2", "ws3", (), True),
}


def _prog(name: str) -> str:
    return PROGRAMS[name][1].split()[0]


def _start(name: str) -> list[str]:
    before, line, host, _other, _d, _fs = PROGRAMS[name]
    return [*before, f"{line} @ {host} checkpoint={INTERVAL}"]


def timeline_of(name: str):
    """The fault-free run's instants: each checkpoint's cut and completion, and the end."""

    def make(seed: int) -> dict[str, Any]:
        run = torture.fault_free(_start(name), seed, PROGRAMS[name][4])
        prog = next(p for p in run.summary["programs"] if p["name"] == _prog(name))
        lhid = prog["pid"] >> 16
        writes = sorted(
            (c["time"], c["done"]) for c in run.checkpoints if c["lhid"] == lhid and c["pages"]
        )
        return {"writes": writes, "end": run.sim_s, "pid": prog["pid"]}

    return make


def ck_instant(tl: dict[str, Any], index: int) -> float:
    """The index-th of CK_INSTANTS instants (seconds) over the fault-free run."""
    writes, end = tl["writes"], tl["end"]
    first_done = writes[0][1]
    if index < BEFORE_FIRST:
        t = first_done * (index + 0.5) / BEFORE_FIRST
    elif index < BEFORE_FIRST + WRITING:
        j = index - BEFORE_FIRST
        later = writes[1:] or writes
        lo, hi = later[round(j * (len(later) - 1) / (WRITING - 1))]
        t = lo + (hi - lo) * (0.3 + 0.4 * (j % 2))
    else:
        j = index - BEFORE_FIRST - WRITING
        n = CK_INSTANTS - BEFORE_FIRST - WRITING
        t = first_done + (end - 0.05 - first_done) * (j + 0.5) / n
    return round(max(t, 0.001), 6)


def _lines(kind: str, name: str):
    _before, _line, host, other, _d, _fs = PROGRAMS[name]
    prog = _prog(name)

    def lines(case: Case, tl: dict[str, Any] | None) -> tuple[list[str], list[str]]:
        ref = _start(name)
        i = case.instant or 0
        if kind in ("migrate", "evict", "noidle"):
            return _waited(kind, name, i)
        if tl is None:
            return ref, ref
        t = ck_instant(tl, i)
        at = lambda dt, what: f"at {t + dt:.6f} {what}"  # noqa: E731
        if kind in ("crash", "lossy"):
            faults = [at(0, f"crash {host}")]
        elif kind == "twice-on":
            u = 1.0 + 0.25 * (i % 12)
            faults = [at(0, f"crash {host}"), at(0.5, f"power {host} on"), at(u, f"crash {other}")]
        elif kind == "twice-off":
            u = 1.0 + 0.25 * (i % 12)
            faults = [
                at(0, f"crash {host}"),
                at(u, f"crash {other}"),
                at(u + 4, f"power {host} on"),
            ]
        elif kind == "partition":
            gap = float(torture.load(torture.CONFIG, case.seed).checkpoint.detect_s)
            faults = [at(0, f"fault partition {host}"), at(gap + HEAL_AFTER[i % 3], "fault heal")]
        elif kind == "fs":
            d = 1.0 + 0.5 * (i % 3)
            faults = [at(0, f"crash {FS}"), at(d, f"power {FS} on"), at(d + 3, f"crash {host}")]
        else:
            raise ValueError(kind)
        loss = [f"fault loss {case.loss:g}"] if case.loss else []
        return [*loss, *faults, *ref], ref

    def _waited(kind: str, name: str, i: int) -> tuple[list[str], list[str]]:
        wait = MIGRATE_WAIT[i % len(MIGRATE_WAIT)]
        after = CRASH_AFTER[(i // len(MIGRATE_WAIT)) % len(CRASH_AFTER)]
        if kind == "migrate":  # it goes to the other host, which then crashes
            head = [*_start(name), f"wait {wait}", f"migrateprog {prog}", f"wait {after}"]
            return [*head, f"crash {other}"], head
        if kind == "evict":  # from the other host (its owner comes back) to the first
            before, line, _h, _o, _d, _fs = PROGRAMS[name]
            head = [*before, f"{line} @ {other} checkpoint={INTERVAL}", f"wait {wait}"]
            head += [f"owner {other} on", f"wait {after}"]
            tail = ["wait 3", f"owner {other} off"]  # then it is idle again: the restart
            return [*head, f"crash {host}", *tail], [*head, *tail]
        # noidle: the other host's owner is back, the running host crashes
        head = [*_start(name), f"wait {wait + after}", f"owner {other} on"]
        tail = ["wait 3", f"owner {other} off"]
        return [*head, f"crash {host}", *tail], [*head, *tail]

    return lines


KINDS = ("crash", "lossy", "twice-on", "twice-off", "partition", "fs", "migrate", "evict", "noidle")
ABOUT = {
    "crash": "the running host of checkpointed {p} crashes at an instant of its run",
    "lossy": "the running host of checkpointed {p} crashes under packet loss",
    "twice-on": "{p}'s host crashes, then the one it restarted on (the first powered on again)",
    "twice-off": "{p}'s host crashes, then the one it restarted on (the first still off)",
    "partition": "{p}'s host is cut off past detect_s, then healed",
    "fs": "the file server crashes under checkpointed {p}, is powered on, then {p}'s host crashes",
    "migrate": "checkpointed {p} migrated, then the new host crashes",
    "evict": "checkpointed {p} evicted by its owner's return, then the host it went to crashes",
    "noidle": "{p}'s host crashes with no idle host (cannot restart), then one becomes idle",
}
# the kinds each program is run under (an eviction moves only one program: not the client of
# the pair). Under `fs` files ends with a clean error: its open instance died with the file
# server (EINVAL) or its write found none (ETIMEOUT); V promises no more.
SKIP = {("ipc", "evict")}


def scenario_name(kind: str, name: str) -> str:
    return f"ck-{kind}-{name}"


def _scenarios() -> list[Scenario]:
    out = []
    for kind in KINDS:
        for name in PROGRAMS:
            if (name, kind) in SKIP:
                continue
            out.append(
                Scenario(
                    scenario_name(kind, name),
                    _lines(kind, name),
                    ABOUT[kind].format(p=_prog(name)),
                    daemons=PROGRAMS[name][4],
                    lossy=False,
                    files=True,
                    check=check_events,
                    timeline_of=None
                    if kind in ("migrate", "evict", "noidle")
                    else timeline_of(name),
                )
            )
    return out


def cases(seeds: int = 20, quick: bool = False) -> list[Case]:
    """The checkpointed sweep: every instant of each kind (seed 1), the lossy crashes at every
    loss rate x seeds (an instant a seed), the waited kinds at 16 (wait, crash-after) pairs."""
    out: list[Case] = []
    step = 3 if quick else 1
    for sc in SCENARIOS:
        kind = sc.name.split("-", 1)[1].rsplit("-", 1)[0]
        if kind == "lossy":
            for loss in LOSSES:
                for seed in range(1, (min(seeds, 3) if quick else seeds) + 1):
                    out.append(
                        Case(sc.name, loss, seed, (seed * 7 + int(loss * 100)) % CK_INSTANTS)
                    )
        elif kind in ("migrate", "evict", "noidle"):
            n = len(MIGRATE_WAIT) * len(CRASH_AFTER)
            out += [Case(sc.name, 0.0, 1, i) for i in range(0, n, step)]
        else:
            out += [Case(sc.name, 0.0, 1, i) for i in range(0, CK_INSTANTS, step)]
    return out


# ------------------------------------------------------------------ the restart events
def check_events(case: Case, run: Any, ref: Any, problems: dict[str, list[str]]) -> None:
    """The restart/cannot_restart events are present and true (module docstring)."""
    if run.summary is None:
        return
    bad = problems["bad_events"]
    events = run.summary["events"]
    records = run.summary["restarts"]
    programs = {p["pid"]: p for p in run.summary["programs"] if p["pid"]}
    crashes = [(e["time"], e["host"]) for e in events if e.get("kind") == "crash"]
    cut_off = [
        (e["time"], e["line"].split()[2:])
        for e in events
        if e.get("kind") == "at" and e.get("line", "").startswith("fault partition")
    ]
    powered = [(e["time"], e["host"]) for e in events if e.get("kind") == "power"]
    done = {}  # lhid -> [(done time, serial)] of every complete checkpoint
    for c in run.checkpoints:
        done.setdefault(c["lhid"], []).append((c["done"], c["serial"]))
    for e in events:
        if e.get("kind") != "crash":
            continue
        for pid in e.get("restarting", ()):
            after = [r for r in records if r["pid"] == pid and r["time"] >= e["time"]]
            if any(r["kind"] == "restart" and r["from"] == e["host"] for r in after):
                continue
            if programs.get(pid, {}).get("exit_status") is None and any(
                r["kind"] == "cannot_restart" for r in after
            ):
                continue  # still waiting for a host (part of a hang, reported as such)
            if programs.get(pid, {}).get("error"):
                continue  # a clean error named why
            bad.append(
                f"{pid:#x} was to restart after {e['host']} crashed at {e['time']:.3f}: no restart"
            )
    for r in records:
        pid, t = r["pid"], r["time"]
        if r["kind"] == "cannot_restart":
            later = [
                x for x in records if x["pid"] == pid and x["time"] > t and x["kind"] == "restart"
            ]
            lost = any(h == r["from"] and tc <= t for tc, h in crashes)
            if not lost and case.loss:
                continue  # its home's probes were lost past detect_s (it ran on: a false alarm)
            if programs.get(pid, {}).get("exit_status") is not None and not later:
                bad.append(f"cannot_restart of {pid:#x} at {t:.3f}, never restarted, yet it ended")
            if later and later[0]["checkpoint"] < r["checkpoint"]:
                bad.append(
                    f"cannot_restart of {pid:#x} kept checkpoint {r['checkpoint']}, "
                    f"the restart used {later[0]['checkpoint']}"
                )
            continue
        src, dst = r["from"], r["to"]
        faulted = [tc for tc, h in crashes if h == src and tc <= t]
        faulted += [tp for tp, hosts in cut_off if src in hosts and tp <= t]
        if not faulted and case.loss:  # its home's probes lost past detect_s: as a partition
            faulted = [t - r["recovery_s"]]
        if not faulted:
            bad.append(
                f"restart of {pid:#x} at {t:.3f} from {src}, which neither crashed nor was cut off"
            )
            continue
        fault_t = max(faulted)
        back = any(h == src and fault_t < tp <= t for tp, h in powered)
        if dst == CONSOLE or (dst == src and not back):
            bad.append(f"restart of {pid:#x} at {t:.3f} from {src} to {dst}")
        if _down(dst, t, crashes, powered):
            bad.append(f"restart of {pid:#x} at {t:.3f} to {dst}, which was down")
        if r["pages_restored"] <= 0 or r["checkpoint_age_s"] < 0 or r["recovery_s"] < r["detect_s"]:
            bad.append(f"restart of {pid:#x} at {t:.3f}: untrue numbers {r}")
        # complete before the fault: one the writer heard was, or the one it was writing (its
        # header was on the file server, the answer lost in the crash)
        serials = done.get(pid >> 16, [])
        complete = [s for d, s in serials if d <= fault_t]
        writing = {s + 1 for s in complete} | {
            (s // INCARNATION + 1) * INCARNATION + 1 for s in complete
        }
        writing |= {1} if not complete else set()
        if r["checkpoint"] not in {s for _d, s in serials} | writing:
            bad.append(
                f"restart of {pid:#x} at {t:.3f} from checkpoint {r['checkpoint']}, never complete"
            )
        elif complete and r["checkpoint"] < max(complete):
            bad.append(
                f"restart of {pid:#x} at {t:.3f} from checkpoint {r['checkpoint']}, "
                f"not the newest complete before the fault ({max(complete)})"
            )
    # the file server back: checkpoints resume (one completes before a later crash, 2 s on)
    for tp in (tp for tp, h in powered if h == FS):
        for e in events:
            if e.get("kind") == "crash" and e["host"] != FS and e["time"] > tp + 2:
                for pid in e.get("restarting", ()):
                    if not any(tp < d <= e["time"] for d, _s in done.get(pid >> 16, [])):
                        bad.append(
                            f"no checkpoint of {pid:#x} completed between the file server's "
                            f"return at {tp:.3f} and the crash of {e['host']} at {e['time']:.3f}"
                        )
    for pid, prog in programs.items():
        restarts = [r for r in records if r["pid"] == pid and r["kind"] == "restart"]
        if not restarts or prog["exit_status"] is None or prog["error"]:
            continue
        last = restarts[-1]
        moved = [e for e in events if e.get("kind") == "migration" and e["time"] > last["time"]]
        if not moved and prog["host_final"] != last["to"]:
            bad.append(
                f"{prog['name']} ended on {prog['host_final']}, its last restart was to {last['to']}"
            )


def _down(host: str, at: float, crashes: list, powered: list) -> bool:
    """Whether host was crashed (and not powered on again) at time `at`."""
    last = max((tc for tc, h in crashes if h == host and tc <= at), default=None)
    return last is not None and not any(h == host and last < tp <= at for tp, h in powered)


SCENARIOS = _scenarios()
torture.SCENARIOS.update({s.name: s for s in SCENARIOS})


# what the sweep found, each fixed: (case, what it did before the fix)
FOUND = (
    (Case("ck-evict-primes", 0.0, 1, 7), "cannot_restart of a program frozen by its eviction"),
    (
        Case("ck-evict-primes", 0.0, 1, 9),
        "home unaware of the eviction; then told an unfinished serial",
    ),
    (Case("ck-partition-primes", 0.0, 1, 23), "the cut-off copy's exit taken while it restarted"),
    (Case("ck-migrate-primes", 0.0, 1, 1), "restart event 'from ws2', the host it had left"),
    (
        Case("ck-lossy-primes", 0.1, 5, 21),
        "a void copy ran 0.57 s; the crash line said it restarts",
    ),
    (Case("ck-twice-on-ipc", 0.0, 1, 13), "the restarted client's error line hidden by the dedup"),
    (
        Case("ck-partition-primes", 0.0, 1, 11),
        "the cut-off copy's exit ended the program, no output",
    ),
    (
        Case("ck-partition-primes", 0.0, 1, 17),
        "the cut-off copy's exit ended it; then a false alarm",
    ),
    (Case("ck-partition-ipc", 0.0, 1, 9), "the server read a void client's data: checksum BAD"),
    (
        Case("ck-partition-workload", 0.0, 1, 20),
        "the void copy ran to its exit after being refused",
    ),
    (
        Case("ck-migrate-dirtier", 0.0, 1, 8),
        "a migration's new host rewrote the serial being written",
    ),
)
