"""A session's segments and gateways: captures per segment, the gateways as machines, their counters.

`--pcap PATH` captures every segment. One segment: PATH is the file, as it always was (a folder:
FOLDER/ether0.pcap). Several: PATH a folder (it exists, or ends with '/'): FOLDER/SEGMENT.pcap;
PATH with `{segment}` in it: that, for each segment; any other file name NAME.pcap:
NAME-SEGMENT.pcap for each.
"""

from __future__ import annotations

import os
from typing import Any

from netsim.pcap import PcapWriter


def capture_paths(pcap: str, names: list[str]) -> dict[str, str]:
    """Where each segment's capture goes for `--pcap pcap` (the module's docstring)."""
    if "{segment}" in pcap:
        return {name: pcap.replace("{segment}", name) for name in names}
    if pcap.endswith(("/", os.sep)) or os.path.isdir(pcap):
        return {name: os.path.join(pcap, f"{name}.pcap") for name in names}
    if len(names) == 1:
        return {names[0]: pcap}
    stem, ext = os.path.splitext(pcap)
    return {name: f"{stem}-{name}{ext or '.pcap'}" for name in names}


def open_captures(session, pcap: str) -> None:
    """A PcapWriter tapping each segment of the session's cluster."""
    segments = session.cluster.segments
    for name, path in capture_paths(pcap, list(segments)).items():
        writer = PcapWriter(path)
        session.pcaps[name] = writer
        segments[name].add_tap(writer.write)
    session.pcap = next(iter(session.pcaps.values()))


def segment_of(session, host: str) -> str:
    """The segment a machine is attached to (a gateway: its segments, joined by '+')."""
    gateway = session.cluster.gateways.get(host)
    if gateway is not None:
        return "+".join(gateway.names)
    return session.config.segment_of(session.config.machine(host))


def net_counters(stats: dict[str, Any]) -> dict[str, Any]:
    """The `net` keys of the --json summary from one segment's stats()."""
    return {
        "frames": stats["frames"],
        "bytes": stats["bytes"],
        "collisions": stats["collisions"],
        "dropped": stats["dropped"],
        "utilization": round(stats["utilization"], 6),
    }


def net_stats(session) -> dict[str, Any]:
    """The wire's stats() over every segment: counts summed, the busiest segment's utilisation."""
    stats = [seg.stats() for seg in session.cluster.segments.values()]
    if len(stats) == 1:
        return stats[0]
    total: dict[str, Any] = {
        key: sum(s[key] for s in stats) for key in ("frames", "bytes", "collisions", "dropped")
    }
    total["drops"] = {key: sum(s["drops"][key] for s in stats) for key in stats[0]["drops"]}
    total["utilization"] = max(s["utilization"] for s in stats)
    total["utilization_1s"] = max(s["utilization_1s"] for s in stats)
    return total


def segments_summary(session) -> dict[str, Any]:
    """Each segment's `net` counters, by name (the --json summary's `segments`)."""
    return {
        name: {**net_counters(seg.stats()), "stations": len(seg.stations)}  # gateway ports too
        for name, seg in session.cluster.segments.items()
    }


def gateways_summary(session) -> dict[str, Any]:
    """Each gateway's counters, by name (the --json summary's `gateways`)."""
    return {
        name: {"segments": list(gw.names), **gw.stats()}
        for name, gw in session.cluster.gateways.items()
    }


def gateway_rows(session) -> list[dict[str, Any]]:
    """The control socket's `hosts` reply's `gateways`: name, segments, state (up or down)."""
    return [
        {"name": name, "segments": list(gw.names), "state": "up" if gw.powered else "down"}
        for name, gw in session.cluster.gateways.items()
    ]


def host_rows(session, rows: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], set[int]]:
    """`hosts`' rows (a header, then a kernel's each) and its right-aligned columns; with several
    segments a segment column after the role, and a row for each gateway."""
    right = {4, 5, 6, 7}
    if len(session.cluster.segments) == 1:
        return rows, right
    out = [(*rows[0][:2], "segment", *rows[0][2:])]
    out += [(*r[:2], segment_of(session, r[0]), *r[2:]) for r in rows[1:]]
    for name, gw in session.cluster.gateways.items():
        out.append(
            (
                name,
                "gateway",
                "+".join(gw.names),
                "up" if gw.powered else "down",
                *("-",) * (len(rows[0]) - 3),
            )
        )
    return out, {i + 1 for i in right}


def crash_gateway(session, name: str) -> str:
    """`crash GATEWAY`: what is inside it is lost, the segments it joins are apart until it is on."""
    gw = session.cluster.gateways[name]
    if not gw.powered:
        return f"{name} is already down"
    now = session.sim.now  # frames not yet out on the far side
    lost = sum(1 for link in gw.links.values() for t in link.leaves if t + gw.latency_ns > now)
    gw.power_off()
    _log(session, f"{name} crashed", kind="crash", host=name)
    return (
        f"{name} crashed (down until `power {name} on`): {' and '.join(gw.names)} are apart "
        f"through it; frames lost inside it: {lost}"
    )


def power_gateway(session, name: str) -> str:
    """`power GATEWAY on`: it forwards again, having learned no station yet."""
    gw = session.cluster.gateways[name]
    if gw.powered:
        return f"{name} is already on"
    gw.power_on()
    _log(session, f"{name} powered on", kind="power", host=name)
    return f"{name} powered on: it forwards between {' and '.join(gw.names)} again"


def _log(session, text: str, **record: Any) -> None:
    session.answering = True  # the line's answer says it
    try:
        session.log(text, **record)
    finally:
        session.answering = False


def fault(session, argv: list[str]) -> str:
    """`fault` on several segments: loss on every one (or the one named), a partition of the named
    hosts on each of their segments, heal every one."""
    from vcluster.session import LineError

    segments = session.cluster.segments
    if len(argv) in (3, 4) and argv[1] == "loss":
        try:
            rate = float(argv[2])
        except ValueError:
            raise LineError(f"fault loss: not a rate: {argv[2]!r}") from None
        if not 0.0 <= rate <= 1.0:
            raise LineError("fault loss: the rate is between 0 and 1")
        if len(argv) == 4 and argv[3] not in segments:
            raise LineError(f"fault loss: no segment {argv[3]!r}; segments: {', '.join(segments)}")
        chosen = [argv[3]] if len(argv) == 4 else list(segments)
        for name in chosen:
            segments[name].set_loss(rate)
        where = f"segment {argv[3]}" if len(argv) == 4 else "the network"
        return f"{where} loses {rate:g} of its frames"
    if len(argv) >= 3 and argv[1] == "partition":
        for host in argv[2:]:
            session._host(host)
        by_segment: dict[str, list[str]] = {}
        for host in argv[2:]:
            by_segment.setdefault(segment_of(session, host), []).append(host)
        for name, hosts in by_segment.items():
            segments[name].partition(hosts)
        return f"the network is partitioned: {' '.join(argv[2:])} apart from the other hosts"
    if argv[1:] == ["heal"]:
        for seg in segments.values():
            seg.heal()
        return "the network is whole again (no partition)"
    raise LineError("usage: fault loss RATE [SEGMENT] | fault partition HOST... | fault heal")
