"""Several segments joined by gateways, end to end (configs/segments.yaml: ws1, ws2, fs1 on lan1;
ws3, ws4 on lan2 behind gw1; ws5, ws6 on lan3 behind gw2): remote execution, `@ *`, the file server
and migration across gateways, rebinding on every segment, crashed gateways, and what `hosts`, `ps`,
--json and --pcap show. The reference is the same lines on one wire (the same machines, no
segments): the programs' output must not depend on the gateways."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from configs.loader import load_config
from netsim.pcap import read_pcap
from tests.helpers import ROOT, programs_by_name, vcluster_json
from vcluster.segments import capture_paths
from vcluster.session import Session

SEGMENTS = str(ROOT / "configs" / "segments.yaml")
ON = {"lan1": {"ws1", "ws2"}, "lan2": {"ws3", "ws4"}, "lan3": {"ws5", "ws6"}}


@pytest.fixture(scope="module")
def one_wire(tmp_path_factory) -> str:
    """configs/segments.yaml's machines on one segment (the reference)."""
    d = yaml.safe_load(Path(SEGMENTS).read_text())
    d.pop("segments")
    d.pop("gateways")
    for m in d["machines"]:
        m.pop("segment", None)
    path = tmp_path_factory.mktemp("one") / "one.yaml"
    path.write_text(yaml.safe_dump(d))
    return str(path)


def outputs(summary) -> list[tuple[str, str]]:
    return [(p["name"], p["output"]) for p in summary["programs"]]


def test_remote_exec_and_the_file_server_across_gateways(tmp_path, one_wire):
    notes = tmp_path / "notes"
    notes.write_text("first line\nsecond\n")
    lines = ["echo hi @ ws3", "primes 2000 @ ws5", "lines notes @ ws4", "ps", "hosts"]
    args = ["--file", f"{notes}=notes", "--pcap", f"{tmp_path}/"]
    proc, summary = vcluster_json(SEGMENTS, *args, *lines)
    assert proc.returncode == 0, proc.stderr
    ref_proc, ref = vcluster_json(one_wire, "--file", f"{notes}=notes", *lines)
    assert ref_proc.returncode == 0, ref_proc.stderr
    assert outputs(summary) == outputs(ref)
    progs = programs_by_name(summary)
    assert progs["echo"]["output"] == "hi\n" and progs["echo"]["host_final"] == "ws3"
    assert progs["primes"]["output"] == "primes <= 2000: 303\n"
    numbered = "".join(f"{i}: {t}\n" for i, t in enumerate(notes.read_text().splitlines(), 1))
    assert progs["lines"]["output"].startswith(numbered)
    # each segment its own wire: every frame on lan2 and lan3 crossed a gateway, one way or the
    # other (their two workstations never talk to each other here)
    segs, gws = summary["segments"], summary["gateways"]
    assert set(segs) == {"lan1", "lan2", "lan3"}
    assert segs["lan2"]["stations"] == 3  # ws3, ws4 and gw1's port
    for seg, gw in (("lan2", "gw1"), ("lan3", "gw2")):
        links = gws[gw]["links"]
        assert (
            segs[seg]["frames"] == links[f"lan1->{seg}"]["frames"] + links[f"{seg}->lan1"]["frames"]
        )
        assert links[f"lan1->{seg}"]["frames"] > 0 and links[f"{seg}->lan1"]["frames"] > 0
    assert summary["net"]["frames"] == sum(s["frames"] for s in segs.values())
    assert ref["net"]["frames"] < summary["net"]["frames"]  # a frame crossing is on two wires
    # one capture a segment, holding what its counters say went over it
    for name, seg in segs.items():
        assert len(read_pcap(tmp_path / f"{name}.pcap")) == seg["frames"]
    # hosts and ps name the segments
    text = proc.stdout
    assert any(line.split()[:4] == ["pid", "name", "host", "segment"] for line in text.splitlines())
    hosts = [line.split() for line in text.splitlines() if line.split()[:1] in (["ws3"], ["gw1"])]
    assert ["ws3", "workstation", "lan2"] in [h[:3] for h in hosts]
    assert ["gw1", "gateway", "lan1+lan2", "up"] in [h[:4] for h in hosts]


def test_at_any_is_answered_from_other_segments(one_wire):
    """ws2, the one other idle workstation on lan1, is its owner's: the query crosses both gateways
    and the program starts on lan2 or lan3."""
    lines = ["owner ws2 on", "primes 2000 @ *", "primes 3000 @ *"]
    proc, summary = vcluster_json(SEGMENTS, *lines)
    assert proc.returncode == 0, proc.stderr
    _, ref = vcluster_json(one_wire, *lines)
    assert outputs(summary) == outputs(ref)
    hosts = {p["host_started"] for p in summary["programs"]}
    assert hosts <= ON["lan2"] | ON["lan3"], hosts


def test_with_the_gateways_down_at_any_fails_cleanly_and_works_again_after_power_on():
    lines = [
        "owner ws2 on",
        "crash gw1",
        "crash gw2",
        "hello @ *",
        "hello @ ws3",
        "wait 5",
        "power gw1 on",
        "hello @ *",
        "hello @ ws3",
    ]
    proc, summary = vcluster_json(SEGMENTS, *lines)
    errors = [p["error"] for p in summary["programs"]]
    assert errors[:2] == ["no idle host answered '@ *'", "no host named 'ws3' answered"], errors
    assert errors[2:] == [None, None]
    later = summary["programs"][2:]
    assert [p["output"] for p in later] == ["Hello from the V-System!\n"] * 2
    assert later[0]["host_started"] in ON["lan2"]  # lan3 is still cut off
    assert summary["sim_seconds"] < 15  # every failure within its bound
    assert "gw1 crashed (down until `power gw1 on`)" in proc.stdout
    assert summary["gateways"]["gw2"]["powered"] is False
    assert proc.returncode == 1  # programs failed


def test_a_gateway_crash_ends_a_conversation_with_etimeout_and_a_new_one_works_after():
    lines = [
        "ipcserver 5 @ ws3",
        "ipcclient 5 64 200 quit",
        "at 2 crash gw1",
        "wait 25",
        "power gw1 on",
        "ipcclient 5 8 2 quit",
    ]
    proc, summary = vcluster_json(SEGMENTS, "--max-sim-seconds", "60", *lines)
    first, second = summary["programs"][1], summary["programs"][2]
    assert first["exit_status"] == 1 and "ETIMEOUT" in first["output"], first
    assert second["exit_status"] == 0, second
    assert second["output"].endswith("ipcclient: done\n")
    assert summary["programs"][0]["exit_status"] == 0  # the server quit when told
    assert summary["sim_seconds"] < 60


def test_migration_across_segments_rebinds_every_segment(one_wire):
    """The server migrates from lan2 to lan1 (the one idle workstation left) while a client on lan1
    talks to it; a kernel on lan3 that talked to it before holds a stale binding, which the binding
    broadcast of the migration corrects across both gateways."""
    lines = [
        "owner ws1 on",
        "owner ws4 on",
        "owner ws6 on",
        "ipcserver 5 @ ws3",
        "ipcclient 5 8 2 @ ws5",
        "ipcclient 5 64 30 quit",
        "wait 3",
        "owner ws5 on",
    ]
    session = Session(load_config(SEGMENTS))
    for line in lines:
        session.execute(line)
    server = session.jobs[0]
    lhid = server.pid >> 16
    kernels = session.kernels
    mac = {name: k.machine.mac for name, k in kernels.items()}
    assert kernels["ws5"].transport.bindings[lhid] == mac["ws3"]  # from the short client's talk
    answer = session.execute("migrateprog ipcserver")
    assert answer.startswith("migrated ipcserver from ws3 to ws2"), answer
    for name in ("ws1", "fs1", "ws4", "ws5", "ws6"):  # on every segment, at once
        assert kernels[name].transport.bindings[lhid] == mac["ws2"], name
    assert session.run_until_done(120)
    assert all(k.transport.stats.binding_invalidations == 0 for k in kernels.values())
    ref = Session(load_config(one_wire))
    for line in lines + ["migrateprog ipcserver"]:
        ref.execute(line)
    assert ref.run_until_done(120)
    assert [session.output_of(j) for j in session.jobs] == [ref.output_of(j) for j in ref.jobs]
    assert "round 30: got 64 KB ok, put checksum ok" in session.output_of(session.jobs[2])
    assert session.host_final[server.pid] == "ws2"


def test_fault_lines_on_several_segments():
    session = Session(load_config(SEGMENTS))
    segs = session.cluster.segments
    assert session.execute("fault loss 0.1 lan2") == "segment lan2 loses 0.1 of its frames"
    assert [s.loss_rate for s in segs.values()] == [0.0, 0.1, 0.0]
    session.execute("fault loss 0.2")
    assert [s.loss_rate for s in segs.values()] == [0.2] * 3
    session.execute("fault partition ws1 ws3")
    assert segs["lan1"].station("ws1")._part and segs["lan2"].station("ws3")._part
    assert not segs["lan1"].station("ws2")._part
    session.execute("fault heal")
    assert not segs["lan2"].station("ws3")._part
    from vcluster.session import LineError

    with pytest.raises(LineError, match="no segment 'lan9'"):
        session.execute("fault loss 0.1 lan9")
    assert session.execute("power gw1 on") == "gw1 is already on"
    with pytest.raises(LineError, match="gw1 is a gateway, not a workstation; workstations: ws1"):
        session.execute("hello @ gw1")


def test_capture_paths():
    assert capture_paths("a.pcap", ["ether0"]) == {"ether0": "a.pcap"}
    assert capture_paths("a.pcap", ["x", "y"]) == {"x": "a-x.pcap", "y": "a-y.pcap"}
    assert capture_paths("d/", ["x"]) == {"x": "d/x.pcap"}
    assert capture_paths("c-{segment}.cap", ["x", "y"]) == {"x": "c-x.cap", "y": "c-y.cap"}


def test_the_control_socket_names_segments_and_crashes_a_gateway():
    import asyncio
    import json

    from vcluster.control import Controller
    from vcluster.realtime import Runner

    session = Session(load_config(SEGMENTS))

    async def body() -> list[dict]:
        runner = Runner(session, paused=True)
        controller = Controller(session, runner)
        requests = [{"cmd": "hosts"}, {"execute": "crash gw2"}, {"cmd": "net"}]
        replies = [await controller.handle_line(json.dumps(r)) for r in requests]
        await runner.close()
        return replies

    try:
        hosts, crashed, net = asyncio.run(body())
    finally:
        session.close()
    assert {h["name"]: h["segment"] for h in hosts["hosts"]} == {
        "ws1": "lan1",
        "ws2": "lan1",
        "fs1": "lan1",
        "ws3": "lan2",
        "ws4": "lan2",
        "ws5": "lan3",
        "ws6": "lan3",
    }
    assert "gw2  gateway     lan1+lan3 up" in hosts["text"]
    assert hosts["gateways"] == [
        {"name": "gw1", "segments": ["lan1", "lan2"], "state": "up"},
        {"name": "gw2", "segments": ["lan1", "lan3"], "state": "up"},
    ]
    assert crashed["ok"] and crashed["message"].startswith("gw2 crashed")
    assert net["gateways"]["gw2"]["powered"] is False and net["gateways"]["gw1"]["powered"]
    assert set(net["segments"]) == {"lan1", "lan2", "lan3"}


def test_same_seed_same_run():
    """Gateways add no randomness of their own: two runs of the same lines are the same run."""
    lines = ["owner ws2 on", "primes 500 @ *", "echo a @ ws6", "at 0.05 crash gw1", "hello @ ws4"]
    summaries = []
    for _ in range(2):
        session = Session(load_config(SEGMENTS))
        for line in lines:
            session.execute(line)
        session.run_until_done(60)
        summaries.append(session.summary())
        session.close()
    assert summaries[0] == summaries[1]
    assert summaries[0]["gateways"]["gw1"]["powered"] is False


def test_an_eviction_crosses_two_gateways_onto_a_lossy_segment(one_wire):
    """ws3's owner comes back; the only idle workstations are on lan3 (two gateways away, 5% of
    its deliveries lost): the guest is evicted there and ends as it would have on one wire."""
    lines = [
        "owner ws1 on",
        "owner ws2 on",
        "owner ws4 on",
        "fault loss 0.05 lan3",
        "dirtier 256 32 8 @ ws3",
        "wait 2",
        "owner ws3 on",
    ]
    proc, summary = vcluster_json(SEGMENTS, *lines)
    assert proc.returncode == 0, proc.stderr
    (move,) = summary["migrations"]
    assert move["ok"] and move["eviction"] and move["from"] == "ws3" and move["to"] in ON["lan3"]
    assert summary["segments"]["lan3"]["dropped"] > 0
    _, ref = vcluster_json(one_wire, *[line.replace(" lan3", "") for line in lines])
    assert outputs(summary) == outputs(ref)


def test_a_full_gateway_queue_drops_frames_and_the_protocol_recovers():
    """gw1 at 1 Mb/s with room for 2 frames: the file server's trains overflow it; the dropped
    frames are counted and resent, and the programs end as with a roomy gateway."""
    cfg = load_config(SEGMENTS)
    lines = ["primes 2000 @ ws3", "echo hi @ ws4"]
    results = []
    for bandwidth, queue in ((10_000_000, 64), (1_000_000, 2)):
        gw1 = dataclasses.replace(cfg.gateways[0], bandwidth_bps=bandwidth, queue_frames=queue)
        session = Session(dataclasses.replace(cfg, gateways=(gw1, cfg.gateways[1])))
        for line in lines:
            session.execute(line)
        assert session.run_until_done(60)
        results.append((session, session.summary()))
    (roomy, r), (tight, t) = results
    assert outputs(t) == outputs(r) == [("primes", "primes <= 2000: 303\n"), ("echo", "hi\n")]
    link = t["gateways"]["gw1"]["links"]["lan1->lan2"]
    assert link["dropped_queue"] > 0 and link["max_queue"] == 2
    assert t["gateways"]["gw1"]["dropped_queue"] == link["dropped_queue"]
    assert r["gateways"]["gw1"]["dropped_queue"] == 0
    resent = [s.kernels["fs1"].transport.stats.retransmissions for s in (roomy, tight)]
    assert resent[0] == 0 < resent[1]
    assert t["sim_seconds"] > r["sim_seconds"]
