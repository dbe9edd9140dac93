"""Config of several segments and gateways: what it means, and what it refuses (file:line: field)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.loader import load_config
from configs.schema import ConfigError, validate, widest_path
from emulator.cluster import Cluster
from tests.helpers import config_refused, write_config

FS = "  - {name: fs1, role: fileserver}\n"
TWO = """
segments:
  - name: lan1
  - name: lan2
    loss_rate: 0.25
gateways:
  - name: gw1
    segments: [lan1, lan2]
"""


@pytest.fixture
def images(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    (d / "hello").write_bytes(b"\x7fELF")
    return d


def load(tmp_path: Path, images: Path, text: str):
    return load_config(write_config(tmp_path, text), images_dir=images)


refused = config_refused


def test_no_segments_means_the_one_wire(tmp_path: Path, images: Path) -> None:
    cfg = load(tmp_path, images, "network: {loss_rate: 0.5}\nmachines:\n  - {name: ws1}\n" + FS)
    assert cfg.segment_names == ("ether0",)
    assert [cfg.segment_of(m) for m in cfg.machines] == ["ether0", "ether0"]
    assert cfg.wire("ether0") == cfg.network
    cluster = Cluster(cfg)
    assert list(cluster.segments) == ["ether0"] and cluster.segment.name == "ether0"
    assert cluster.gateways == {} and cluster.segment.loss_rate == 0.5


def test_segments_machines_and_gateways(tmp_path: Path, images: Path) -> None:
    cfg = load(
        tmp_path,
        images,
        "network: {length_m: 100}\n"
        + TWO
        + """
machines:
  - {name: ws1}
  - {name: "ws{i}", count: 2, first: 2, segment: lan2}
"""
        + FS,
    )
    assert [cfg.segment_of(m) for m in cfg.machines] == ["lan1", "lan2", "lan2", "lan1"]
    assert cfg.wire("lan2").loss_rate == 0.25 and cfg.wire("lan2").length_m == 100
    assert cfg.wire("lan1").loss_rate == 0.0
    (gw,) = cfg.gateways
    assert (gw.segments, gw.latency_us, gw.bandwidth_bps, gw.queue_frames) == (
        ("lan1", "lan2"),
        1000.0,
        10_000_000,
        64,
    )
    cluster = Cluster(cfg)
    on = {name: [s.name for s in seg.stations] for name, seg in cluster.segments.items()}
    assert on == {"lan1": ["ws1", "fs1", "gw1"], "lan2": ["ws2", "ws3", "gw1"]}
    assert cluster.segments["lan2"].loss_rate == 0.25
    assert cluster.gateways["gw1"].latency_ns == 1_000_000


def test_the_packaged_segments_config() -> None:
    cfg = load_config("segments")
    assert cfg.segment_names == ("lan1", "lan2", "lan3")
    assert widest_path(cfg) == (2000.0, ("lan2", "lan3"))


GW = "gateways:\n  - {name: gw1, segments: [lan1, lan2]}\n"
SEGS = "segments:\n  - {name: lan1}\n  - {name: lan2}\n"
MACH = "machines:\n  - {name: ws1}\n" + FS


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        pytest.param(
            SEGS + GW + "machines:\n  - {name: ws1, segment: lan9}\n" + FS,
            7,
            "machines[0].segment",
            "no segment named 'lan9'",
            id="unknown-segment",
        ),
        pytest.param(
            "machines:\n  - {name: ws1, segment: lan1}\n" + FS,
            2,
            "machines[0].segment",
            "this config has one segment",
            id="no-segments",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1, lan9]}\n" + MACH,
            5,
            "gateways[0].segments[1]",
            "no segment named 'lan9'",
            id="gateway-unknown-segment",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1]}\n" + MACH,
            5,
            "gateways[0].segments",
            "a gateway joins at least two",
            id="one-segment",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1, lan1]}\n" + MACH,
            5,
            "gateways[0].segments[1]",
            "listed twice",
            id="twice",
        ),
        pytest.param(
            SEGS + "  - {name: lan3}\n" + GW + MACH,
            5,
            "gateways",
            "segment 'lan3' is joined to 'lan1' by no gateway",
            id="disconnected",
        ),
        pytest.param(
            SEGS + GW + "  - {name: gw2, segments: [lan2, lan1]}\n" + MACH,
            6,
            "gateways[1].segments",
            "closes a loop",
            id="loop",
        ),
        pytest.param(
            SEGS + GW + "machines:\n  - {name: gw1}\n" + FS,
            5,
            "gateways[0].name",
            "already the name of a machine",
            id="gateway-named-as-a-machine",
        ),
        pytest.param(
            SEGS + "  - {name: lan1}\n" + GW + MACH,
            4,
            "segments[2].name",
            "duplicate segment name",
            id="duplicate-segment",
        ),
        pytest.param(
            "segments:\n  - {name: Lan1}\n" + MACH,
            2,
            "segments[0].name",
            "not a valid host name",
            id="segment-name",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1, lan2], latency_us: 0}\n" + MACH,
            5,
            "gateways[0].latency_us",
            "at least 1",
            id="zero-latency",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: lan1}\n" + MACH,
            5,
            "gateways[0].segments",
            "expected a list of segment names",
            id="not-a-list",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1}\n" + MACH,
            5,
            "gateways[0].segments",
            "missing",
            id="no-segments-key",
        ),
        pytest.param(
            "segments:\n  - {name: lan1}\ngateways:\n  - {name: gw1, segments: [a, b]}\n" + MACH,
            4,
            "gateways[0].segments[0]",
            "no segment named 'a'",
            id="gateway-names-unknown",
        ),
        pytest.param(
            GW + MACH,
            2,
            "gateways[0].segments",
            "this config has one",
            id="gateway-without-segments",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1, lan2], "
            "latency_us: 400000}\n" + MACH,
            1,
            "cost.retransmit_timeout_ms",
            "round trip through the gateways",
            id="latency-over-retransmit",
        ),
        pytest.param(
            "segments:\n  - {name: lan1, length_m: 2500, propagation_ns_per_m: 20}\n" + MACH,
            2,
            "segments[0].length_m",
            "slot time",
            id="segment-too-long",
        ),
        pytest.param(
            SEGS + "gateways:\n  - {name: gw1, segments: [lan1, lan2], colour: red}\n" + MACH,
            5,
            "gateways[0].colour",
            "unknown key",
            id="unknown-key",
        ),
    ],
)
def test_refused(
    tmp_path: Path, images: Path, text: str, line: int, field: str, fragment: str
) -> None:
    err = refused(tmp_path, images, text)
    assert (err.line, err.field) == (line, field), str(err)
    assert fragment in err.message, str(err)


def test_validate_sees_a_python_built_loop(tmp_path: Path, images: Path) -> None:
    import dataclasses

    cfg = load(tmp_path, images, SEGS + GW + MACH)
    looped = dataclasses.replace(cfg, gateways=cfg.gateways * 2)
    with pytest.raises(ConfigError, match="already the name|duplicate gateway"):
        validate(looped)
    gw2 = dataclasses.replace(cfg.gateways[0], name="gw2")
    with pytest.raises(ConfigError, match="closes a loop"):
        validate(dataclasses.replace(cfg, gateways=(*cfg.gateways, gw2)))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    joins=st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=3, unique=True), max_size=6),
)
def test_accepted_exactly_when_segments_and_gateways_form_a_tree(n, joins):
    """Against a count on the graph of segments and gateways (nodes) and memberships (edges): a
    tree is connected with one edge fewer than nodes."""
    import dataclasses

    from configs.schema import ClusterConfig, GatewayConfig, MachineConfig, SegmentConfig

    joins = [[j % n for j in js] for js in joins]
    joins = [js for js in joins if len(set(js)) == len(js)]
    segs = tuple(SegmentConfig(name=f"s{i}") for i in range(n))
    gws = tuple(
        GatewayConfig(name=f"g{k}", segments=tuple(f"s{j}" for j in js))
        for k, js in enumerate(joins)
    )
    cfg = ClusterConfig(
        machines=(MachineConfig(name="ws1"), MachineConfig(name="fs1", role="fileserver")),
        programs=(),
        segments=segs,
        gateways=gws,
    )
    nodes = n + len(gws)
    edges = sum(len(js) for js in joins)
    seen, todo = {("s", 0)}, [("s", 0)]
    while todo:
        kind, i = todo.pop()
        near = (
            [("g", k) for k, js in enumerate(joins) if i in js]
            if kind == "s"
            else [("s", j) for j in joins[i]]
        )
        for x in near:
            if x not in seen:
                seen.add(x)
                todo.append(x)
    tree = len(seen) == nodes and edges == nodes - 1
    if tree:
        validate(cfg)
    else:
        with pytest.raises(ConfigError, match="closes a loop|by no gateway|joins 1 segment"):
            validate(cfg)
    if tree and n > 1:  # and the cluster it builds is one segment a name, a port a membership
        cluster = Cluster(dataclasses.replace(cfg))
        assert list(cluster.segments) == [s.name for s in segs]
        assert sum(len(s.stations) for s in cluster.segments.values()) == 2 + edges
