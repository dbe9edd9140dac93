"""`vcluster files`: put host files on a config's file-server disk, take them back, list and remove them.

Works on the disk image the config names (`disk.image` of its file server),
with no cluster running: the files are there at the next boot, for programs to
open by name. A config whose disk lives in memory has nothing to keep them
in; `vcluster run --file HOSTFILE[=NAME]` puts files on the disk of one run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from configs.loader import ConfigError, load_config, resolve_config
from emulator.disk import Disk
from vkernel.filesystem import FileSystem, FsError


class FilesError(Exception):
    """What a `vcluster files` command could not do, in words for the user."""


def _disk_of(config: str | None) -> tuple[Disk, str]:
    cfg = load_config(resolve_config(config))
    server = cfg.file_server
    d = server.disk
    if d is None or not d.image:
        raise FilesError(
            f"{cfg.source_path}: the file server {server.name}'s disk is in memory (disk.image: null), "
            "so nothing put there would last; give it an image file, or use `vcluster run --file`"
        )
    path = d.image
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(cfg.source_path), path)
    try:
        return Disk(d.size, path=path), path
    except ValueError as exc:  # a file of another size: not this config's disk
        raise FilesError(f"{path}: not a file-server disk of this config ({exc})") from exc


def _open(config: str | None, *, create: bool) -> tuple[FileSystem, Disk, str]:
    disk, path = _disk_of(config)
    try:
        return FileSystem.mount(disk), disk, path
    except FsError as exc:
        if not create or os.path.getsize(path) and any(disk.read_block(0)):
            disk.close()
            raise FilesError(f"{path}: not a file-server disk ({exc}); nothing was changed") from exc
        return FileSystem.format(disk, label=Path(path).stem), disk, path


def put(config: str | None, host_file: str, name: str | None = None) -> str:
    data = Path(host_file).read_bytes()
    name = name or Path(host_file).name
    fs, disk, path = _open(config, create=True)
    try:
        fs.install(name, data)
    finally:
        disk.flush()
        disk.close()
    return f"{name}: {len(data)} bytes on {path}"


def get(config: str | None, name: str, host_file: str | None = None) -> str:
    fs, disk, path = _open(config, create=False)
    try:
        if not fs.exists(name):
            raise FilesError(f"{path}: no file {name!r}")
        data = fs.read(name, 0, fs.size(name))
    finally:
        disk.close()
    if host_file in (None, "-"):
        sys.stdout.buffer.write(data)
        return ""
    Path(host_file).write_bytes(data)
    return f"{name}: {len(data)} bytes to {host_file}"


def listing(config: str | None) -> str:
    fs, disk, _path = _open(config, create=False)
    try:
        return "\n".join(f"{fs.size(n):>9}  {n}" for n in fs.list())
    finally:
        disk.close()


def remove(config: str | None, name: str) -> str:
    fs, disk, path = _open(config, create=False)
    try:
        if not fs.exists(name):
            raise FilesError(f"{path}: no file {name!r}")
        fs.remove(name)
    finally:
        disk.flush()
        disk.close()
    return f"{name}: removed"


def main(command: str, args: list[str], config: str | None) -> int:
    """`vcluster files put|get|list|rm ...`: the exit status; errors say what and where."""
    try:
        if command == "put" and 1 <= len(args) <= 2:
            out = put(config, *args)
        elif command == "get" and 1 <= len(args) <= 2:
            out = get(config, *args)
        elif command == "list" and not args:
            out = listing(config)
        elif command == "rm" and len(args) == 1:
            out = remove(config, args[0])
        else:
            print("vcluster files: put HOSTFILE [NAME] | get NAME [HOSTFILE] | list | rm NAME",
                  file=sys.stderr)
            return 2
    except (FilesError, ConfigError, FileNotFoundError, FsError, OSError) as exc:
        print(f"vcluster files: {exc}", file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0
