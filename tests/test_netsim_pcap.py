"""Tests of netsim.pcap: write a capture of a simulated run, parse it back, open it in tshark."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from netsim.ethernet import BROADCAST, Segment
from netsim.pcap import LINKTYPE_ETHERNET, MAGIC_NS, PcapWriter, read_pcap
from netsim.scheduler import Simulator


def _capture(path: Path, seed: int = 4) -> tuple[Segment, list[tuple[int, bytes]]]:
    """Three chatty stations (with collisions) captured to ``path``."""
    sim = Simulator(seed=seed)
    seg = Segment(sim)
    stations = [seg.attach(bytes([2, 0, 0, 0, 0, i + 1]), f"s{i + 1}") for i in range(3)]
    tapped: list[tuple[int, bytes]] = []
    with PcapWriter(path) as w:
        seg.add_tap(w.write)
        seg.add_tap(lambda t, f: tapped.append((t, f)))
        for n in range(40):
            for i, s in enumerate(stations):
                dst = BROADCAST if n % 3 == 0 else stations[(i + 1) % 3].mac
                size = 60 + (n * 37 + i * 101) % 1455
                payload = bytes([n, i]) + bytes(size - 16)
                sim.at(
                    n * 300_000, lambda s=s, d=dst, p=payload: s.send(d + s.mac + b"\x08\x00" + p)
                )
        sim.run()
        assert w.frames == seg.counters.frames
    return seg, tapped


def test_pcap_written_and_parsed_back(tmp_path: Path) -> None:
    path = tmp_path / "run.pcap"
    seg, tapped = _capture(path)
    assert seg.counters.collisions > 0  # the capture holds only whole frames
    raw = path.read_bytes()
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", raw)
    assert (magic, major, minor, zone, sigfigs) == (MAGIC_NS, 2, 4, 0, 0)
    assert snaplen == 65535 and linktype == LINKTYPE_ETHERNET == 1
    frames = read_pcap(path)
    assert len(frames) == seg.counters.frames == 120 - seg.counters.dropped_collisions
    assert frames == tapped  # same bytes, same virtual-time stamps (ns)
    times = [t for t, _ in frames]
    assert times == sorted(times) and times[0] > 0
    assert all(60 <= len(f) <= 1514 for _, f in frames)
    assert sum(len(f) + 4 for _, f in frames) == seg.counters.bytes
    assert len(raw) == 24 + sum(16 + len(f) for _, f in frames)


def test_pcap_writer_to_file_object_and_usec_reader(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write(1_500_000_123, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + bytes(46))
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError):
        w.write(0, bytes(60))
    path = tmp_path / "ns.pcap"
    path.write_bytes(buf.getvalue())
    assert read_pcap(path) == [(1_500_000_123, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + bytes(46))]
    # a classic microsecond, big-endian file reads too
    usec = tmp_path / "us.pcap"
    usec.write_bytes(
        struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        + struct.pack(">IIII", 2, 250, 3, 60)
        + b"abc"
    )
    assert read_pcap(usec) == [(2_000_250_000, b"abc")]
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 24)
    with pytest.raises(ValueError):
        read_pcap(bad)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_capture(tmp_path: Path) -> None:
    path = tmp_path / "run.pcap"
    seg, tapped = _capture(path)
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.time_epoch",
            "-e",
            "eth.dst",
            "-e",
            "eth.type",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    assert len(rows) == len(tapped) == seg.counters.frames
    assert [int(r[0]) for r in rows] == [len(f) for _, f in tapped]
    # tshark prints epoch seconds with nanosecond digits
    assert [round(float(r[1]) * 1e9) for r in rows] == pytest.approx(
        [t for t, _ in tapped], abs=1000
    )
    assert [r[2] for r in rows] == [f[:6].hex(":") for _, f in tapped]
    assert {r[3] for r in rows} == {"0x0800"}
