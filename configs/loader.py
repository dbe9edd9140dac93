"""Load a cluster config from YAML, checking every field with its file and line (ConfigError)."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from configs.schema import (
    IMAGE_MAGIC,
    MACHINE_EXPANSION_KEYS,
    MAX_CONFIG_BYTES,
    CheckpointPolicy,
    ClusterConfig,
    ConfigError,
    CostModel,
    CpuConfig,
    DiskConfig,
    FrameBufferConfig,
    GatewayConfig,
    IdlePolicy,
    MachineConfig,
    MigrationPolicy,
    NetworkConfig,
    OwnerConfig,
    Problem,
    RforkPolicy,
    SegmentConfig,
    _describe,
    available_images,
    check_value,
    cross_problems,
    derived_mac,
    parse_size,
    trace_problems,
)

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = "lab"
MAX_MACHINES = 16 * 1024  # machines a config takes: 16 full segments (derived_mac takes 65,535)

__all__ = [
    "ConfigError",
    "DEFAULT_CONFIG",
    "load_config",
    "load_config_text",
    "packaged_configs",
    "resolve_config",
]


def packaged_configs() -> tuple[str, ...]:
    """Names of the configs shipped in this package (tiny, lab, large, ...)."""
    return tuple(sorted(p.stem for p in PACKAGE_DIR.glob("*.yaml")))


def resolve_config(arg: str | os.PathLike[str] | None) -> Path:
    """None -> the packaged lab.yaml; a bare name (`tiny`, `tiny.yaml`) -> the packaged file;
    anything else -> that path. ConfigError if the file does not exist."""
    if arg is None:
        arg = DEFAULT_CONFIG
    text = os.fspath(arg)
    if text and os.sep not in text and "/" not in text:
        for candidate in (PACKAGE_DIR / text, PACKAGE_DIR / f"{text}.yaml"):
            if candidate.suffix == ".yaml" and candidate.is_file():
                return candidate
    path = Path(text)
    if not path.is_file():
        what = "not a file" if path.exists() else "no such file"
        raise ConfigError(text, 0, "config", f"{what}; packaged configs: "
                                             f"{', '.join(packaged_configs())}")
    return path


def _display_name(path: Path) -> str:
    """The path as shown in messages: relative to the working directory when it is inside it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def load_config(path: str | os.PathLike[str] | None,
                images_dir: str | os.PathLike[str] | None = None) -> ClusterConfig:
    """Read and check a config (a path, a packaged name, or None for lab); ConfigError if wrong."""
    resolved = resolve_config(path)
    shown = _display_name(resolved)
    try:
        with open(resolved, "rb") as f:  # the size first: a huge file is refused unread
            size = os.fstat(f.fileno()).st_size
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(shown, 0, "config", _too_big(size))
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(shown, 0, "config", f"cannot read: {e}") from None
    return load_config_text(text, shown, images_dir=images_dir, base_dir=resolved.parent)


def load_config_text(text: str, filename: str = "<string>",
                     images_dir: str | os.PathLike[str] | None = None,
                     base_dir: str | os.PathLike[str] | None = None) -> ClusterConfig:
    """Check and build a config from YAML text; `filename` names it in messages, `images_dir`
    replaces guest/bin, `base_dir` anchors relative disk images (default: filename's folder)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(filename, 0, "config", _too_big(len(text)))
    images = available_images(images_dir)
    base = Path(base_dir) if base_dir is not None else Path(filename).parent
    return _Reader(text, filename, images, base).read()


def _too_big(size: int) -> str:
    return f"the file is {size} bytes; a config is at most {MAX_CONFIG_BYTES} bytes (1 MB)"


def image_problem(image: str, size: int, format_: bool) -> str | None:
    """Why a disk image path cannot be used, or None: absent (created at boot), or a file of
    exactly `size` bytes that holds a V disk image (or any data, with `format: true`)."""
    path = Path(image)
    if not path.exists() and not path.is_symlink():
        folder = path.parent
        if not folder.is_dir():
            return f"{image}: its folder {folder} does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{image}: cannot create it: its folder {folder} is not writable"
        return None
    if path.is_dir():
        return f"{image} is a directory, not a disk image file"
    if not path.is_file():
        return f"{image} is not a regular file (a disk image is one)"
    actual = path.stat().st_size
    if actual != size:
        return (f"{image} is {actual} bytes but the disk's size is {size} bytes "
                "(an existing image is exactly `size` bytes)")
    try:
        with open(path, "r+b") as f:
            magic = f.read(len(IMAGE_MAGIC))
    except OSError as e:
        return f"{image}: cannot open it for reading and writing: {e.strerror or e}"
    if magic != IMAGE_MAGIC and not format_:
        return (f"{image} holds data that is not a V disk image (no {IMAGE_MAGIC.decode()} "
                "superblock); it would be formatted and its contents lost: say `format: true` "
                "to allow that, or name another file")
    return None


# ---------------------------------------------------------------------------------------------


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind_name(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a value"


_MACHINE_PATH_RE = re.compile(r"^machines\[(\d+)\]")
_LOADER_SET = ("source_path", "program_paths")  # fields the loader fills itself; not keys of the file


class _Reader:
    """One pass over the node tree: builds the dataclasses, records the line of every field."""

    def __init__(self, text: str, filename: str, images: tuple[str, ...], base: Path) -> None:
        self.text = text
        self.filename = filename
        self.images = images
        self.program_paths: list[tuple[str, str]] = []
        self.base = base
        self.lines: dict[str, int] = {}
        self.machine_paths: list[str] = []  # YAML path of each machine after count expansion
        self.loader: yaml.SafeLoader | None = None

    # -- errors --------------------------------------------------------------------------------

    def fail(self, where: Node | int, field: str, message: str) -> NoReturn:
        line = where if isinstance(where, int) else _line(where)
        raise ConfigError(self.filename, line, field or "config", message)

    def yaml_error(self, e: yaml.YAMLError) -> NoReturn:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        if mark is not None:
            line = mark.line + 1
        elif isinstance(getattr(e, "position", None), int):
            line = self.text.count("\n", 0, e.position) + 1  # type: ignore[attr-defined]
        else:
            line = 0
        problem = getattr(e, "problem", None)
        context = getattr(e, "context", None)
        cmark = getattr(e, "context_mark", None)
        if context and cmark is not None and cmark.line + 1 != line:
            context = f"{context} (from line {cmark.line + 1})"
        if problem:
            message = f"{context}, {problem}" if context else str(problem)
        else:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, yaml.reader.ReaderError):
            c = e.character if isinstance(e.character, int) else ord(e.character)
            message = f"character U+{c:04X} is not allowed in YAML"
        raise ConfigError(self.filename, line, "yaml", f"invalid YAML: {message}")

    # -- entry ---------------------------------------------------------------------------------

    def read(self) -> ClusterConfig:
        try:
            self.loader = yaml.SafeLoader(self.text)
            try:
                root = self.loader.get_single_node()
                cfg = self.cluster(root)
            finally:
                self.loader.dispose()
        except yaml.YAMLError as e:
            self.yaml_error(e)
        except RecursionError:
            raise ConfigError(self.filename, 0, "config",
                              "the document nests too deeply (a recursive alias?)") from None
        problems = cross_problems(cfg, self.images)
        if problems:
            self.report(problems[0])
        return cfg

    def report(self, p: Problem) -> NoReturn:
        field = self.yaml_path(p.field)
        message = p.message
        if p.related:
            message += f" (first at line {self.line_of(self.yaml_path(p.related))})"
        self.fail(self.line_of(field), field, message)

    def yaml_path(self, path: str) -> str:
        """machines[i] of the expanded tuple -> the machines[k] entry of the YAML file."""
        m = _MACHINE_PATH_RE.match(path)
        if m and int(m.group(1)) < len(self.machine_paths):
            return self.machine_paths[int(m.group(1))] + path[m.end():]
        return path

    def line_of(self, path: str) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("", 1)

    # -- generic pieces ------------------------------------------------------------------------

    def mapping(self, node: Node | None, path: str, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, tuple[ScalarNode, Node]]:
        """The keys of a mapping node (merge keys applied); unknown or repeated keys refused."""
        if not isinstance(node, MappingNode):
            what = f"got {_kind_name(node)}" if node is not None else "got nothing"
            if isinstance(node, ScalarNode):
                what = f"got {_describe(self.scalar_value(node, path))}"
            self.fail(node if node is not None else 1, path or "config",
                      f"expected a mapping with keys {', '.join(allowed)}; {what}")
        self.lines.setdefault(path, _line(node))
        seen: dict[str, ScalarNode] = {}
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue
            name = self.key_name(key, path)
            if name in seen:
                self.fail(key, self.sub(path, name),
                          f"key {name!r} given twice (first at line {_line(seen[name])})")
            seen[name] = key
        assert self.loader is not None
        self.loader.flatten_mapping(node)
        out: dict[str, tuple[ScalarNode, Node]] = {}
        for key, value in node.value:
            name = self.key_name(key, path)
            if not path and name.startswith("x-"):
                continue  # top-level x-... keys hold YAML anchors for the rest of the file
            if name not in allowed:
                self.fail(key, self.sub(path, name), self.unknown_key(name, allowed))
            out[name] = (key, value)
        for name in required:
            if name not in out:
                self.fail(node, self.sub(path, name), f"missing (required key of "
                                                      f"{path or 'the top level'})")
        return out

    def key_name(self, key: Node, path: str) -> str:
        if not isinstance(key, ScalarNode) or key.tag != "tag:yaml.org,2002:str":
            shown = _describe(self.scalar_value(key, path)) if isinstance(key, ScalarNode) \
                else _kind_name(key)
            self.fail(key, path or "config", f"keys must be names, got {shown}")
        return str(key.value)

    @staticmethod
    def unknown_key(name: str, allowed: tuple[str, ...]) -> str:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        return f"unknown key {name!r}{hint} allowed keys: {', '.join(allowed)}"

    @staticmethod
    def sub(path: str, name: str) -> str:
        return f"{path}.{name}" if path else name

    def scalar_value(self, node: ScalarNode, path: str) -> Any:
        assert self.loader is not None
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            self.fail(node, path, f"cannot read this value: {problem}")
        except Exception as e:  # PyYAML's constructors fail in many ways on odd explicit tags
            self.fail(node, path, f"cannot read this value as {node.tag}: {type(e).__name__}")

    def value(self, node: Node, path: str, hint: Any, f: dataclasses.Field[Any]) -> Any:
        """A scalar field converted to its annotated type and checked against its limits."""
        self.lines[path] = _line(node)
        kind = f.metadata.get("kind", "")
        if not isinstance(node, ScalarNode):
            expected = "a size like 2MB" if kind == "size" else _expected(hint)
            self.fail(node, path, f"expected {expected}, got {_kind_name(node)}")
        raw = self.scalar_value(node, path)
        if kind == "size":
            try:
                value: Any = parse_size(raw)
            except ValueError as e:
                self.fail(node, path, str(e))
        else:
            value = self.convert(raw, hint, node, path)
        msg = check_value(f, value)
        if msg:
            self.fail(node, path, msg)
        return value

    def convert(self, raw: Any, hint: Any, node: Node, path: str) -> Any:
        if hint is bool:
            if isinstance(raw, bool):
                return raw
        elif hint is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
        elif hint is float:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                try:
                    value = float(raw)
                except OverflowError:
                    self.fail(node, path, f"{raw} is too large")
                if not math.isfinite(value):
                    self.fail(node, path, f"must be a finite number, got {_describe(raw)}")
                return value
        elif hint is str:
            if isinstance(raw, str):
                return raw
        elif hint == str | None:
            if raw is None or isinstance(raw, str):
                return raw
        elif hint in (int | None, float | None):
            return None if raw is None else self.convert(raw, typing.get_args(hint)[0], node, path)
        else:  # pragma: no cover - a schema field this reader does not know
            raise TypeError(f"no reader for {hint!r}")
        self.fail(node, path, f"expected {_expected(hint)}, got {_describe(raw)}")

    def section(self, cls: type, node: Node | None, path: str,
                special: dict[str, Callable[[Node, str], Any]] | None = None,
                extra_keys: tuple[str, ...] = (), required: tuple[str, ...] = (),
                ) -> tuple[dict[str, Any], dict[str, tuple[ScalarNode, Node]]]:
        """Keyword arguments for `cls` from a mapping node (absent keys keep their defaults)."""
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _LOADER_SET}
        allowed = tuple(fields) + extra_keys
        keys = self.mapping(node, path, allowed, required)
        hints = typing.get_type_hints(cls)
        special = special or {}
        kwargs: dict[str, Any] = {}
        for name, (key, vnode) in keys.items():
            if name not in fields:
                continue
            here = self.sub(path, name)
            self.lines[here] = _line(vnode if isinstance(vnode, ScalarNode) else key)
            if name in special:
                kwargs[name] = special[name](vnode, here)
            elif dataclasses.is_dataclass(hints[name]):
                kwargs[name] = self.simple(hints[name], vnode, here)
            else:
                kwargs[name] = self.value(vnode, here, hints[name], fields[name])
        return kwargs, keys

    def simple(self, cls: type, node: Node, path: str) -> Any:
        kwargs, _ = self.section(cls, node, path)
        return cls(**kwargs)

    def sequence(self, node: Node, path: str, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            shown = _describe(self.scalar_value(node, path)) if isinstance(node, ScalarNode) \
                else _kind_name(node)
            self.fail(node, path, f"expected a list of {what}, got {shown}")
        return list(node.value)

    # -- the sections --------------------------------------------------------------------------

    def cluster(self, root: Node | None) -> ClusterConfig:
        if root is None:
            self.fail(1, "config", "the file is empty; expected a mapping with at least "
                                   "`machines`")
        self.lines[""] = _line(root)
        kwargs, keys = self.section(
            ClusterConfig, root, "",
            special={
                "network": lambda n, p: self.simple(NetworkConfig, n, p),
                "cpu": lambda n, p: self.simple(CpuConfig, n, p),
                "cost": lambda n, p: self.simple(CostModel, n, p),
                "idle": lambda n, p: self.simple(IdlePolicy, n, p),
                "migration": lambda n, p: self.simple(MigrationPolicy, n, p),
                "checkpoint": lambda n, p: self.simple(CheckpointPolicy, n, p),
                "rfork": lambda n, p: self.simple(RforkPolicy, n, p),
                "machines": self.machines,
                "programs": self.programs,
                "files": self.files,
                "segments": self.segments,
                "gateways": self.gateways,
            },
            required=("machines",),
        )
        kwargs.setdefault("programs", self.images)
        if self.program_paths:
            kwargs["program_paths"] = tuple(self.program_paths)
        if "name" not in kwargs:
            stem = Path(self.filename).stem
            kwargs["name"] = stem if stem and not stem.startswith("<") else "vcluster"
        kwargs["source_path"] = self.filename
        if "console_host" in keys and not kwargs["console_host"]:
            self.fail(keys["console_host"][1], "console_host", "must name a workstation, got ''")
        return ClusterConfig(**kwargs)

    def programs(self, node: Node, path: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.sequence(node, path, "image names")):
            here = f"{path}[{i}]"
            self.lines[here] = _line(item)
            raw = self.scalar_value(item, here) if isinstance(item, ScalarNode) else None
            if not isinstance(raw, str) or not raw:
                shown = _describe(raw) if isinstance(item, ScalarNode) else _kind_name(item)
                self.fail(item, here, f"expected an image name, got {shown}")
            if "/" in raw or raw.endswith(".elf"):  # an image of the user's, by path
                image = self.host_file(item, here, raw, "image")
                try:
                    with open(image, "rb") as f:
                        magic = f.read(4)
                except OSError as exc:
                    self.fail(item, here, f"cannot read {image}: {exc.strerror or exc}")
                if magic != b"\x7fELF":
                    self.fail(item, here, f"{image} is not a guest image (no ELF header)")
                name = image.stem if image.suffix == ".elf" else image.name
                self.program_paths.append((name, str(image)))
                raw = name
            out.append(raw)
        return tuple(out)

    def host_file(self, item: Node, here: str, raw: str, what: str) -> Path:
        """A host path of the config (relative to its folder), which must be a file."""
        host = Path(raw).expanduser()
        if not host.is_absolute():
            host = self.base / host
        if not host.is_file():
            self.fail(item, here, f"no {what} file {raw!r} ({host})")
        return host.resolve()

    def files(self, node: Node, path: str) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for i, item in enumerate(self.sequence(node, path, "host files")):
            here = f"{path}[{i}]"
            self.lines[here] = _line(item)
            name = None
            if isinstance(item, ScalarNode):
                raw = self.scalar_value(item, here)
            else:
                entry = self.mapping(item, here, ("path", "name"), required=("path",))
                raw = self.scalar_value(entry["path"][1], f"{here}.path") \
                    if isinstance(entry["path"][1], ScalarNode) else None
                if "name" in entry:
                    node_name = entry["name"][1]
                    name = self.scalar_value(node_name, f"{here}.name") \
                        if isinstance(node_name, ScalarNode) else None
                if not isinstance(raw, str) or not raw:
                    self.fail(item, f"{here}.path", "expected the path of a host file")
                if "name" in entry and (not isinstance(name, str) or not name or "/" in name):
                    self.fail(item, f"{here}.name", f"expected a file name without '/', got {name!r}")
            if not isinstance(raw, str) or not raw:
                self.fail(item, here, f"expected the path of a host file, got {_describe(raw)}")
            host = self.host_file(item, here, raw, "host")
            out.append((name or host.name, str(host)))
        return tuple(out)

    def segments(self, node: Node, path: str) -> tuple[SegmentConfig, ...]:
        out = []
        for i, item in enumerate(self.sequence(node, path, "segments")):
            here = f"{path}[{i}]"
            self.lines[here] = _line(item)
            kwargs, _ = self.section(SegmentConfig, item, here, required=("name",))
            out.append(SegmentConfig(**kwargs))
        return tuple(out)

    def gateways(self, node: Node, path: str) -> tuple[GatewayConfig, ...]:
        out = []
        for i, item in enumerate(self.sequence(node, path, "gateways")):
            here = f"{path}[{i}]"
            self.lines[here] = _line(item)
            kwargs, _ = self.section(GatewayConfig, item, here,
                                     special={"segments": self.segment_names},
                                     required=("name", "segments"))
            out.append(GatewayConfig(**kwargs))
        return tuple(out)

    def segment_names(self, node: Node, path: str) -> tuple[str, ...]:
        out = []
        for j, item in enumerate(self.sequence(node, path, "segment names")):
            here = f"{path}[{j}]"
            self.lines[here] = _line(item)
            raw = self.scalar_value(item, here) if isinstance(item, ScalarNode) else None
            if not isinstance(raw, str) or not raw:
                shown = _describe(raw) if isinstance(item, ScalarNode) else _kind_name(item)
                self.fail(item, here, f"expected a segment name, got {shown}")
            out.append(raw)
        return tuple(out)

    def machines(self, node: Node, path: str) -> tuple[MachineConfig, ...]:
        out: list[MachineConfig] = []
        for k, item in enumerate(self.sequence(node, path, "machines")):
            here = f"{path}[{k}]"
            self.lines[here] = _line(item)
            for m in self.machine_entry(item, here):
                if len(out) >= MAX_MACHINES:
                    self.fail(item, here, f"too many machines (a config takes {MAX_MACHINES})")
                self.machine_paths.append(here)
                out.append(dataclasses.replace(m, mac=m.mac or derived_mac(len(out))))
        return tuple(out)

    def machine_entry(self, node: Node, path: str) -> list[MachineConfig]:
        """One entry of `machines`, which `count` may repeat with {i} = first, first + 1, ..."""
        kwargs, keys = self.section(
            MachineConfig, node, path,
            special={
                "name": self.raw_name,
                "disk": self.disk,
                "frame_buffer": lambda n, p: self.simple(FrameBufferConfig, n, p),
                "owner": self.owner,
            },
            extra_keys=MACHINE_EXPANSION_KEYS,
            required=("name",),
        )
        name_node = keys["name"][1]
        name: str = kwargs["name"]
        count = first = None
        if "count" in keys:
            count = self.bounded_int(keys["count"][1], f"{path}.count", 1, 1024)
        if "first" in keys:
            first = self.bounded_int(keys["first"][1], f"{path}.first", 0, 1_000_000)
        if count is None:
            if first is not None:
                self.fail(keys["first"][0], f"{path}.first", "`first` goes with `count`")
            if "{i}" in name:
                self.fail(name_node, f"{path}.name", "{i} in a name needs `count`")
            self.check_name(name_node, f"{path}.name", name)
            return [MachineConfig(**kwargs)]
        if "{i}" not in name:
            self.fail(name_node, f"{path}.name", f"with count, the name must contain {{i}} "
                                                 f"(e.g. 'ws{{i}}'), got {name!r}")
        if "mac" in keys and kwargs["mac"]:
            self.fail(keys["mac"][1], f"{path}.mac", "a MAC address cannot be given with count")
        start = 1 if first is None else first
        owner: OwnerConfig = kwargs.get("owner", OwnerConfig())
        out = []
        for i in range(start, start + count):
            each = dict(kwargs)
            each["name"] = name.replace("{i}", str(i))
            self.check_name(name_node, f"{path}.name", each["name"])
            if owner.name:
                each["owner"] = dataclasses.replace(owner, name=owner.name.replace("{i}", str(i)))
            out.append(MachineConfig(**each))
        return out

    def raw_name(self, node: Node, path: str) -> str:
        return self.value(node, path, str, _STR_FIELD)

    def check_name(self, node: Node, path: str, name: str) -> None:
        f = next(f for f in dataclasses.fields(MachineConfig) if f.name == "name")
        msg = check_value(f, name)
        if msg:
            self.fail(node, path, msg)

    def bounded_int(self, node: Node, path: str, lo: int, hi: int) -> int:
        value = self.value(node, path, int, _INT_FIELD)
        if not lo <= value <= hi:
            self.fail(node, path, f"must be between {lo} and {hi}, got {value}")
        return value

    def disk(self, node: Node, path: str) -> DiskConfig | None:
        if isinstance(node, ScalarNode) and self.scalar_value(node, path) is None:
            return None
        kwargs, _ = self.section(DiskConfig, node, path)
        image = kwargs.get("image")
        if image is not None:
            if not image:
                self.fail(node, f"{path}.image", "must be a file name or null, got ''")
            kwargs["image"] = str(self.base / image) if not Path(image).is_absolute() else image
        try:
            disk = DiskConfig(**kwargs)
        except ValueError as exc:  # a combination of figures no disk has
            self.fail(node, path, str(exc))
        if disk.image is not None:
            problem = image_problem(disk.image, disk.size, disk.format)
            if problem:
                self.fail(self.line_of(f"{path}.image"), f"{path}.image", problem)
        return disk

    def owner(self, node: Node, path: str) -> OwnerConfig:
        if isinstance(node, ScalarNode) and self.scalar_value(node, path) is None:
            return OwnerConfig()
        kwargs, _ = self.section(OwnerConfig, node, path, special={"trace": self.trace})
        return OwnerConfig(**kwargs)

    def trace(self, node: Node, path: str) -> tuple[tuple[float, float], ...]:
        out: list[tuple[float, float]] = []
        if isinstance(node, ScalarNode) and self.scalar_value(node, path) is None:
            return ()
        items = self.sequence(node, path, "[start_s, end_s] intervals")
        for i, item in enumerate(items):
            here = f"{path}[{i}]"
            self.lines[here] = _line(item)
            if not isinstance(item, SequenceNode) or len(item.value) != 2:
                shown = (_describe(self.scalar_value(item, here)) if isinstance(item, ScalarNode)
                         else f"a list of {len(item.value)}" if isinstance(item, SequenceNode)
                         else _kind_name(item))
                self.fail(item, here, f"expected [start_s, end_s], got {shown}")
            pair = []
            for j, part in enumerate(item.value):
                raw = self.scalar_value(part, here) if isinstance(part, ScalarNode) else None
                ok = isinstance(raw, int | float) and not isinstance(raw, bool)
                if ok and isinstance(raw, float) and math.isnan(raw):
                    ok = False
                if ok and isinstance(raw, int):
                    try:
                        raw = float(raw)
                    except OverflowError:
                        ok = False
                if not ok:
                    shown = _describe(raw) if isinstance(part, ScalarNode) else _kind_name(part)
                    which = "start" if j == 0 else "end"
                    self.fail(part, here, f"expected a number of seconds for the {which}, "
                                          f"got {shown}")
                pair.append(raw)
            out.append((pair[0], pair[1]))
        for p in trace_problems(out):
            index = int(p.field[len("trace["):-1])
            self.fail(items[index], f"{path}[{index}]", p.message)
        return tuple(out)


def _expected(hint: Any) -> str:
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if hint == str | None:
        return "a string or null"
    return "a mapping"


@dataclasses.dataclass
class _Plain:
    integer: int = 0
    text: str = ""


_INT_FIELD = dataclasses.fields(_Plain)[0]
_STR_FIELD = dataclasses.fields(_Plain)[1]
