"""Tests of configs/: the packaged configs load, every kind of mistake is refused where it is."""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import (
    ClusterConfig,
    ConfigError,
    CostModel,
    MachineConfig,
    OwnerConfig,
    available_images,
    load_config,
    load_config_text,
    packaged_configs,
    parse_size,
    resolve_config,
    validate,
)
from configs.schema import SECTIONS, default_images_dir, derived_mac, reference_markdown
from tests.helpers import config_refused, write_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
DEMO_IMAGES = ("hello", "primes", "dirtier", "spin", "echo", "faults")
ERROR_RE = re.compile(r"^.+:\d+: .+: .+$", re.S)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A fake guest/bin with the demo's images (and files that are not images)."""
    d = tmp_path / "bin"
    d.mkdir()
    for name in DEMO_IMAGES:
        (d / name).write_bytes(b"\x7fELF")
    (d / "cc68.elf").write_bytes(b"\x7fELF")
    (d / "hello.map").write_text("not an image")
    (d / ".hidden").write_text("not an image")
    return d


write = write_config
refused = config_refused


# -- the packaged configs -----------------------------------------------------------------------


def test_packaged_configs_are_the_three() -> None:
    assert set(packaged_configs()) >= {"tiny", "lab", "large"}


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("*.yaml")))
def test_each_packaged_config_loads(name: str, images: Path) -> None:
    cfg = load_config(name, images_dir=images)
    assert cfg.name == name
    assert cfg.file_server.disk is not None
    assert cfg.machine(cfg.console_host).is_workstation
    assert len({m.mac for m in cfg.machines}) == len(cfg.machines)
    assert cfg.source_path.endswith(f"{name}.yaml")
    validate(cfg, available_images(images))


@pytest.mark.parametrize("name", ["tiny", "lab", "large"])
def test_packaged_configs_load_against_the_real_guest_bin(name: str) -> None:
    if not available_images(default_images_dir()):
        pytest.skip("guest/bin has no images yet")
    load_config(name)


def test_tiny(images: Path) -> None:
    cfg = load_config("tiny", images_dir=images)
    assert cfg.hostnames == ("ws1", "ws2", "ws3", "fs1")
    assert [m.name for m in cfg.workstations] == ["ws1", "ws2", "ws3"]
    assert cfg.file_server.name == "fs1"
    assert cfg.console_host == "ws1"
    assert cfg.machine("ws2").memory == 2 * 1024 * 1024
    assert cfg.machine("fs1").memory == 4 * 1024 * 1024
    assert cfg.machine("ws1").mac == "08:00:20:00:00:01"
    assert cfg.machine("fs1").mac == "08:00:20:00:00:04"
    assert all(not m.owner.present and not m.owner.trace for m in cfg.machines)
    assert cfg.programs == ("cc68", *sorted(DEMO_IMAGES))  # default: every image in the dir
    assert cfg.file_server.disk is not None and cfg.file_server.disk.image is None
    with pytest.raises(KeyError):
        cfg.machine("ws9")


def test_lab(images: Path) -> None:
    cfg = load_config(None, images_dir=images)
    assert cfg.name == "lab"
    assert [m.name for m in cfg.workstations] == [f"ws{i}" for i in range(1, 13)]
    assert cfg.file_server.name == "fs1"
    assert cfg.programs == tuple(sorted((*DEMO_IMAGES, "cc68")))  # every image of the folder
    assert cfg.machine("ws1").owner.present
    coming_and_going = [m for m in cfg.workstations if len(m.owner.transitions()) >= 2]
    assert len(coming_and_going) >= 3
    assert min(t for m in coming_and_going for t, _ in m.owner.transitions()[1:]) < 180
    assert cfg.machine("ws12").owner.name == "user12"
    assert cfg.machine("ws5").frame_buffer.width == 1152


def test_large(images: Path) -> None:
    cfg = load_config("large", images_dir=images)
    assert len(cfg.workstations) == 120
    assert cfg.machine("ws120").mac == "08:00:20:00:00:78"
    assert cfg.file_server.name == "fs1"


def test_resolve_config(tmp_path: Path) -> None:
    assert resolve_config(None) == CONFIGS / "lab.yaml"
    assert resolve_config("tiny") == CONFIGS / "tiny.yaml"
    assert resolve_config("tiny.yaml") == CONFIGS / "tiny.yaml"
    mine = write(tmp_path, "machines: []\n", "mine.yaml")
    assert resolve_config(str(mine)) == mine
    with pytest.raises(ConfigError) as info:
        resolve_config("nosuch")
    assert info.value.field == "config" and "tiny" in info.value.message
    assert str(info.value).startswith("nosuch: config: no such file")


# -- the schema and its defaults ----------------------------------------------------------------


def test_defaults_follow_the_v_paper() -> None:
    cost = CostModel()
    assert cost.frozen_check_us == 13
    assert cost.local_group_us == 100
    assert cost.ks_pm_state_copy_us(2) == 14_000 + 2 * 9000
    cfg = ClusterConfig(
        machines=(MachineConfig("ws1"), MachineConfig("fs1", role="fileserver")), programs=()
    )
    assert cfg.network.bitrate == 10_000_000 and cfg.network.propagation_ns == 2500
    assert cfg.cpu.ns_per_instruction == 1000 and cfg.cpu.slice_ns == 20_000_000
    assert cfg.idle.load_threshold == 0.3 and cfg.idle.evict and not cfg.idle.kill_on_evict
    assert cfg.migration.freeze_target_ms == 50 and cfg.migration.min_shrink == 0.8
    assert cfg.machines[0].frame_buffer.width == 1152 and cfg.machines[0].memory == 2097152
    assert cfg.console_host == "ws1"
    assert cfg.file_server.disk is not None
    assert [m.mac for m in cfg.machines] == [derived_mac(0), derived_mac(1)]
    validate(cfg)


def test_validate_catches_python_built_configs() -> None:
    cfg = ClusterConfig(
        machines=(MachineConfig("ws1"), MachineConfig("ws1", memory=1000)), programs=()
    )
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert info.value.field == "machines[1].memory" and info.value.line == 0


def test_derived_macs_are_unique_unicast() -> None:
    macs = {derived_mac(i) for i in range(1024)}
    assert len(macs) == 1024
    assert all(int(m[:2], 16) & 1 == 0 for m in macs)


def test_owner_schedule() -> None:
    owner = OwnerConfig("bob", trace=((0.0, 10.0), (10.0, 20.0), (30.0, float("inf"))))
    assert owner.transitions() == ((0.0, True), (20.0, False), (30.0, True))
    assert owner.active_at(5) and not owner.active_at(25) and owner.active_at(1e9)
    assert OwnerConfig(present=True).transitions() == ((0.0, True),)


def test_config_error_pickles() -> None:
    err = ConfigError("a.yaml", 3, "seed", "bad")
    again = pickle.loads(pickle.dumps(err))
    assert (again.file, again.line, again.field, again.message) == ("a.yaml", 3, "seed", "bad")
    assert str(ConfigError("a.yaml", 0, "config", "no such file")) == "a.yaml: config: no such file"


def test_images_listing(images: Path, tmp_path: Path) -> None:
    assert available_images(images) == ("cc68", *sorted(DEMO_IMAGES))
    assert available_images(tmp_path / "missing") == ()


def test_config_doc_carries_the_generated_reference() -> None:
    doc = (ROOT / "docs" / "CONFIG.md").read_text()
    assert reference_markdown() in doc, "docs/CONFIG.md is stale: paste `python -m configs`"
    for _, cls in SECTIONS:
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in doc


def test_config_doc_example_loads(images: Path) -> None:
    doc = (ROOT / "docs" / "CONFIG.md").read_text()
    example = doc.split("## A file", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    cfg = load_config_text(example, "example.yaml", images_dir=images)
    assert cfg.hostnames == ("ws1", *(f"ws{i}" for i in range(2, 10)), "fs1")
    assert cfg.file_server.disk is not None and cfg.file_server.disk.image == "fs1.img"


# -- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2MB", 2097152),
        ("512KB", 524288),
        ("512K", 524288),
        ("2 MB", 2097152),
        ("2mb", 2097152),
        ("1.5MB", 1572864),
        ("4096", 4096),
        ("100B", 100),
        ("1GiB", 1 << 30),
        (2097152, 2097152),
    ],
)
def test_sizes_parse(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "", "2 XB", "-1MB", "1.3KB", "MB", "2MBB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@given(st.integers(min_value=0, max_value=1 << 40), st.sampled_from(["", "B", "KB", "MB", "K"]))
def test_sizes_scale(n: int, unit: str) -> None:
    scale = {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1 << 20}[unit]
    assert parse_size(f"{n}{unit}") == n * scale


def test_sizes_in_a_config(tmp_path: Path, images: Path) -> None:
    path = write(
        tmp_path,
        """
        machines:
          - {name: a, memory: 512KB}
          - {name: b, memory: 1048576}
          - {name: c, memory: "1.5MB"}
          - {name: fs, role: fileserver, disk: {size: 10MB}}
    """,
    )
    cfg = load_config(path, images_dir=images)
    assert [m.memory for m in cfg.machines[:3]] == [524288, 1048576, 1572864]
    assert cfg.file_server.disk is not None and cfg.file_server.disk.size == 10 * 1048576


# -- every kind of mistake, at its file, line and field ------------------------------------------

MACHINES = """
machines:
  - name: ws1
  - name: ws2
  - name: fs1
    role: fileserver
"""


def test_the_example_from_the_brief(tmp_path: Path, images: Path) -> None:
    err = refused(
        tmp_path,
        images,
        """
        # a config
        name: example
        seed: 3
        console_host: ws1
        network:
          bitrate: 10000000
        machines:
          - name: ws1
            memory: 2MB
          - name: ws2
          - name: ws3
            memory: lots
          - name: fs1
            role: fileserver
    """,
    )
    assert (err.line, err.field) == (12, "machines[2].memory")
    assert err.message == "expected a size like 2MB, got 'lots'"


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        pytest.param(
            "machines:\n  - name: ws1\n   bad: [\n", 3, "yaml", "invalid YAML", id="yaml-syntax"
        ),
        pytest.param("seed: [1, 2\n" + MACHINES, 3, "yaml", "(from line 1)", id="yaml-unclosed"),
        pytest.param("seed: \x01\n", 1, "yaml", "U+0001", id="yaml-control-char"),
        pytest.param("", 1, "config", "empty", id="empty-file"),
        pytest.param("- ws1\n", 1, "config", "expected a mapping", id="not-a-mapping"),
        pytest.param(
            "netwrk: {}\n" + MACHINES, 1, "netwrk", "did you mean 'network'", id="unknown-top-key"
        ),
        pytest.param(
            "network:\n  bitrate: 1\n  bitrat: 5\n" + MACHINES,
            3,
            "network.bitrat",
            "allowed keys: bitrate, length_m",
            id="unknown-nested-key",
        ),
        pytest.param(
            MACHINES + "    colour: red\n",
            6,
            "machines[2].colour",
            "unknown key 'colour'",
            id="unknown-machine-key",
        ),
        pytest.param(
            "source_path: x\n" + MACHINES,
            1,
            "source_path",
            "unknown key",
            id="source-path-is-not-a-key",
        ),
        pytest.param(
            "seed: 1\nseed: 2\n" + MACHINES,
            2,
            "seed",
            "given twice (first at line 1)",
            id="repeated-key",
        ),
        pytest.param(
            "seed: abc\n" + MACHINES, 1, "seed", "expected an integer, got 'abc'", id="type-int"
        ),
        pytest.param(
            "seed: 1.5\n" + MACHINES,
            1,
            "seed",
            "expected an integer, got 1.5",
            id="type-float-for-int",
        ),
        pytest.param(
            "idle:\n  evict: 3\n" + MACHINES,
            2,
            "idle.evict",
            "expected true or false",
            id="type-bool",
        ),
        pytest.param(
            "network: 5\n" + MACHINES, 1, "network", "expected a mapping", id="type-section"
        ),
        pytest.param(
            "cpu:\n  slice_instructions: {a: 1}\n" + MACHINES,
            2,
            "cpu.slice_instructions",
            "expected an integer, got a mapping",
            id="type-mapping-for-int",
        ),
        pytest.param(
            "name: [a]\n" + MACHINES,
            1,
            "name",
            "expected a string, got a list",
            id="type-list-for-str",
        ),
        pytest.param(
            "seed: !!python/object:os.system {}\n" + MACHINES,
            1,
            "seed",
            "expected an integer",
            id="python-tag",
        ),
        pytest.param(
            "network:\n  loss_rate: 1.5\n" + MACHINES,
            2,
            "network.loss_rate",
            "must be at most 1, got 1.5",
            id="range-high",
        ),
        pytest.param(
            "seed: -1\n" + MACHINES, 1, "seed", "must be at least 0, got -1", id="range-low"
        ),
        pytest.param(
            "network:\n  loss_rate: .nan\n" + MACHINES,
            2,
            "network.loss_rate",
            "finite",
            id="range-nan",
        ),
        pytest.param(
            "migration:\n  min_shrink: 0\n" + MACHINES,
            2,
            "migration.min_shrink",
            "greater than 0",
            id="range-open",
        ),
        pytest.param(
            MACHINES + "    memory: 1000\n",
            6,
            "machines[2].memory",
            "must be at least 256KB",
            id="memory-small",
        ),
        pytest.param(
            MACHINES + "    memory: 1000000\n",
            6,
            "machines[2].memory",
            "multiple of 4KB",
            id="memory-unaligned",
        ),
        pytest.param(
            MACHINES + "    memory: 64MB\n",
            6,
            "machines[2].memory",
            "must be at most 16MB, got 64MB",
            id="memory-large",
        ),
        pytest.param(
            MACHINES + "    frame_buffer: {width: 1000}\n",
            6,
            "machines[2].frame_buffer.width",
            "multiple of 16",
            id="fb-width",
        ),
        pytest.param(
            MACHINES + "  - {name: ws4, role: server}\n",
            6,
            "machines[3].role",
            "must be one of workstation, fileserver",
            id="role",
        ),
        pytest.param(
            MACHINES + "  - name: Ws4\n",
            6,
            "machines[3].name",
            "not a valid host name",
            id="hostname",
        ),
        pytest.param(
            MACHINES + "  - {name: ws4, mac: 01:00:20:00:00:09}\n",
            6,
            "machines[3].mac",
            "multicast",
            id="mac-multicast",
        ),
        pytest.param(
            MACHINES + "  - {name: ws4, mac: hello}\n",
            6,
            "machines[3].mac",
            "expected a MAC address",
            id="mac-bad",
        ),
        pytest.param(
            MACHINES + "  - {name: ws4, mac: '08:00:20:00:00:01'}\n",
            6,
            "machines[3].mac",
            "already used by 'ws1' (first at line 2)",
            id="mac-duplicate",
        ),
        pytest.param(
            MACHINES + "  - {name: w, count: 3}\n",
            6,
            "machines[3].name",
            "must contain {i}",
            id="count-without-i",
        ),
        pytest.param(
            MACHINES + "  - {name: 'w{i}'}\n",
            6,
            "machines[3].name",
            "needs `count`",
            id="i-without-count",
        ),
        pytest.param(
            MACHINES + "  - {name: 'w{i}', count: 0}\n",
            6,
            "machines[3].count",
            "between 1 and 1024",
            id="count-range",
        ),
        pytest.param(
            MACHINES + "  - name: ws2\n",
            6,
            "machines[3].name",
            "duplicate host name 'ws2' (first at line 3)",
            id="duplicate-host",
        ),
        pytest.param(
            MACHINES + "  - {name: 'ws{i}', count: 3}\n",
            6,
            "machines[3].name",
            "duplicate host name 'ws1' (first at line 2)",
            id="duplicate-by-count",
        ),
        pytest.param(
            "machines:\n  - name: ws1\n  - name: ws2\n",
            1,
            "machines",
            "no file server",
            id="no-file-server",
        ),
        pytest.param(
            MACHINES + "  - name: fs2\n    role: fileserver\n",
            7,
            "machines[3].role",
            "a second file server ('fs2'); 'fs1' is one already",
            id="two-file-servers",
        ),
        pytest.param(
            "machines:\n  - {name: fs1, role: fileserver}\n",
            1,
            "machines",
            "no workstation",
            id="no-workstation",
        ),
        pytest.param("machines: []\n", 1, "machines", "no file server", id="no-machines"),
        pytest.param("seed: 1\n", 1, "machines", "missing", id="machines-missing"),
        pytest.param(
            "console_host: fs1\n" + MACHINES,
            1,
            "console_host",
            "'fs1' is the file server, not a workstation",
            id="console-on-file-server",
        ),
        pytest.param(
            "console_host: ws9\n" + MACHINES,
            1,
            "console_host",
            "no machine named 'ws9'; workstations: ws1, ws2",
            id="console-unknown",
        ),
        pytest.param(
            "console_host: ''\n" + MACHINES,
            1,
            "console_host",
            "must name a workstation",
            id="console-empty",
        ),
        pytest.param(
            "programs:\n  - hello\n  - nope\n" + MACHINES,
            3,
            "programs[1]",
            "no image 'nope' in guest/bin; available: cc68, dirtier, echo, faults, hello, "
            "primes, spin",
            id="missing-image",
        ),
        pytest.param(
            "programs: [hello, hello]\n" + MACHINES,
            1,
            "programs[1]",
            "listed twice",
            id="program-twice",
        ),
        pytest.param(
            "programs: hello\n" + MACHINES,
            1,
            "programs",
            "expected a list of image names",
            id="programs-not-a-list",
        ),
        pytest.param(
            "programs: [1]\n" + MACHINES,
            1,
            "programs[0]",
            "expected an image name, got 1",
            id="program-not-a-name",
        ),
        pytest.param(
            MACHINES.replace("  - name: ws2\n", "  - name: ws2\n    disk: {size: 1MB}\n"),
            4,
            "machines[1].disk",
            "workstations are diskless",
            id="workstation-disk",
        ),
        pytest.param(
            MACHINES + "    owner: {name: root}\n",
            6,
            "machines[2].owner",
            "only workstations have owners",
            id="file-server-owner",
        ),
        pytest.param(
            MACHINES + "  - name: ws4\n    owner:\n      trace: [[0, 10], [5, 20]]\n",
            8,
            "machines[3].owner.trace[1]",
            "before the previous interval ends",
            id="trace-overlap",
        ),
        pytest.param(
            MACHINES + "  - name: ws4\n    owner:\n      trace: [[10, 5]]\n",
            8,
            "machines[3].owner.trace[0]",
            "must come after start",
            id="trace-backwards",
        ),
        pytest.param(
            MACHINES + "  - name: ws4\n    owner:\n      trace: [[0, soon]]\n",
            8,
            "machines[3].owner.trace[0]",
            "for the end, got 'soon'",
            id="trace-type",
        ),
        pytest.param(
            MACHINES + "  - name: ws4\n    owner:\n      trace: [[1, 2, 3]]\n",
            8,
            "machines[3].owner.trace[0]",
            "expected [start_s, end_s]",
            id="trace-shape",
        ),
        pytest.param(
            MACHINES + "  - {name: ws4, owner: {present: true, trace: [[1, 2]]}}\n",
            6,
            "machines[3].owner.present",
            "give the trace alone",
            id="present-and-trace",
        ),
        pytest.param(
            "cost:\n  rebind_after_retransmits: 9\n" + MACHINES,
            2,
            "cost.rebind_after_retransmits",
            "more than max_retransmits",
            id="rebind-after-give-up",
        ),
        pytest.param(
            "cost:\n  reply_retain_ms: 100\n" + MACHINES,
            2,
            "cost.reply_retain_ms",
            "must exceed reply_pending_interval_ms",
            id="reply-retain",
        ),
        pytest.param(
            "cost:\n  retransmit_timeout_ms: 10\n" + MACHINES,
            2,
            "cost.retransmit_timeout_ms",
            "shorter than one MoveTo train",
            id="retransmit-shorter-than-train",
        ),
        pytest.param(
            "network:\n  length_m: 2500\n  propagation_ns_per_m: 20\n" + MACHINES,
            2,
            "network.length_m",
            "slot time",
            id="cable-too-long",
        ),
        pytest.param("1: 2\n" + MACHINES, 1, "config", "keys must be names", id="non-string-key"),
        pytest.param(
            "x-base: &b {memory: 300001}\nmachines:\n  - {<<: *b, name: ws1}\n",
            1,
            "machines[0].memory",
            "multiple of 4KB",
            id="error-through-merge",
        ),
    ],
)
def test_refused(
    tmp_path: Path, images: Path, text: str, line: int, field: str, fragment: str
) -> None:
    err = refused(tmp_path, images, text)
    assert (err.line, err.field) == (line, field), str(err)
    assert fragment in err.message, str(err)


def test_count_and_first(tmp_path: Path, images: Path) -> None:
    path = write(
        tmp_path,
        """
        machines:
          - {name: "node-{i}", first: 0, count: 3, owner: {name: "u{i}", trace: [[1, 2]]}}
          - {name: fs, role: fileserver}
    """,
    )
    cfg = load_config(path, images_dir=images)
    assert cfg.hostnames == ("node-0", "node-1", "node-2", "fs")
    assert [m.owner.name for m in cfg.workstations] == ["u0", "u1", "u2"]
    assert cfg.workstations[2].owner.trace == ((1.0, 2.0),)


def test_merge_keys_and_x_anchors(tmp_path: Path, images: Path) -> None:
    path = write(
        tmp_path,
        """
        x-ws: &ws {memory: 1MB, frame_buffer: {width: 640, height: 480}}
        machines:
          - {<<: *ws, name: a}
          - {<<: *ws, name: b, memory: 512KB}
          - {name: fs, role: fileserver, disk: {image: disk.img}}
    """,
    )
    cfg = load_config(path, images_dir=images)
    assert cfg.machine("a").memory == 1 << 20 and cfg.machine("b").memory == 512 << 10
    assert cfg.machine("b").frame_buffer.width == 640
    assert cfg.file_server.disk is not None
    assert cfg.file_server.disk.image == str(tmp_path / "disk.img")


def test_name_defaults_to_the_file(tmp_path: Path, images: Path) -> None:
    path = write(tmp_path, MACHINES, "mylab.yaml")
    assert load_config(path, images_dir=images).name == "mylab"


def test_loader_touches_nothing(tmp_path: Path, images: Path) -> None:
    path = write(tmp_path, MACHINES + "    disk: {image: fs.img}\n")
    before = sorted(tmp_path.rglob("*"))
    load_config(path, images_dir=images)
    assert sorted(tmp_path.rglob("*")) == before


# -- nothing but ConfigError, whatever the text --------------------------------------------------

TINY_TEXT = (CONFIGS / "tiny.yaml").read_text()
JUNK = [
    "lots",
    "-1",
    "1e999",
    ".nan",
    ".inf",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "*x",
    "&x ",
    "!!binary",
    "!!python/object:os.system",
    "yes",
    "~",
    "2MB",
    "\t",
    "- ",
    "<<: ",
    "'",
    '"',
    "\x00",
    "é",
    "{i}",
    "count: 3",
    "ws1",
    "fileserver",
    "0",
    "99999999999999999999999",
    "#",
    "\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = TINY_TEXT
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        piece = draw(st.one_of(st.sampled_from(JUNK), st.text(max_size=6)))
        text = text[:pos] + piece + text[pos + cut :]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_raise_nothing_but_config_error(text: str) -> None:
    try:
        cfg = load_config_text(text, "m.yaml", images_dir=default_images_dir() / "nonexistent")
    except ConfigError as e:
        assert e.file == "m.yaml" and e.line >= 0 and e.field
        assert ERROR_RE.match(str(e)) or e.line == 0
    else:
        assert cfg.file_server.is_file_server
        assert cfg.machine(cfg.console_host).is_workstation
