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
