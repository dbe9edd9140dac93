"""Disk images and config files (issue 12, item 8): a user's data is never reformatted silently.

End to end through `vcluster run` with a config naming a disk image. The reference for
"nothing was lost" is the file's own bytes before the run.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from helpers import vcluster

from configs.loader import load_config, load_config_text
from configs.schema import IMAGE_MAGIC, MAX_CONFIG_BYTES, ConfigError
from vkernel.filesystem import MAGIC

MB = 1024 * 1024
SIZE = 4 * MB


def _config(tmp_path: Path, image: str, *, fmt: bool | None = None, size: int = SIZE) -> Path:
    text = (
        "name: disks\n"
        "machines:\n"
        "  - name: ws1\n"
        "  - name: fs1\n"
        "    role: fileserver\n"
        "    disk:\n"
        f"      image: {image}\n"
        f"      size: {size}\n"
    )
    if fmt is not None:
        text += f"      format: {str(fmt).lower()}\n"
    path = tmp_path / "disks.yaml"
    path.write_text(text)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(config: Path, *lines: str):
    proc = vcluster("run", str(config), *lines, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def _refused_at_load(tmp_path: Path, image: str, says: str, **kw) -> None:
    config = _config(tmp_path, image, **kw)
    proc, summary = _run(config, "hello")
    assert proc.returncode == 2
    want = f"{config}:7: machines[1].disk.image: "
    assert want in proc.stderr and says in proc.stderr, proc.stderr
    assert summary["programs"] == [] and says in summary["errors"][0]["error"]


def test_a_file_of_data_is_refused_and_left_as_it_was(tmp_path):
    data = tmp_path / "thesis.bin"
    data.write_bytes((b"my thesis, chapter 1\n" * 200_000)[:SIZE])
    before = _digest(data)
    _refused_at_load(tmp_path, str(data), "not a V disk image")
    assert _digest(data) == before


def test_a_file_of_the_wrong_size_is_refused_at_load(tmp_path):
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    _refused_at_load(tmp_path, str(small), "is 1000 bytes but the disk's size is 4194304 bytes")
    assert small.read_bytes() == b"x" * 1000


@pytest.mark.parametrize("image", ["/", "{tmp}"])
def test_a_directory_is_refused_at_load(tmp_path, image):
    _refused_at_load(tmp_path, image.format(tmp=tmp_path), "is a directory")


def test_a_missing_folder_is_refused_at_load(tmp_path):
    _refused_at_load(tmp_path, str(tmp_path / "nowhere" / "d.img"), "does not exist")


def test_an_absent_image_is_created_and_keeps_its_files_across_runs(tmp_path):
    image = tmp_path / "fresh.img"
    config = _config(tmp_path, image.name)  # relative to the config's folder
    proc, _ = _run(config, "files write note.txt kept")
    assert proc.returncode == 0 and image.stat().st_size == SIZE
    assert image.read_bytes()[:4] == MAGIC
    proc, summary = _run(config, "files read note.txt")
    assert proc.returncode == 0 and summary["programs"][0]["output"] == "kept\n"


def test_format_true_allows_reformatting_a_file_of_data(tmp_path):
    data = tmp_path / "scratch.bin"
    data.write_bytes(b"\xff" * SIZE)
    proc, summary = _run(_config(tmp_path, str(data), fmt=True), "hello")
    assert proc.returncode == 0 and summary["errors"] == []
    assert summary["programs"][0]["output"] == "Hello from the V-System!\n"
    assert data.read_bytes()[:4] == MAGIC


def test_a_damaged_image_is_refused_at_boot_unless_format_true(tmp_path):
    image = tmp_path / "damaged.img"
    config = _config(tmp_path, image.name)
    assert _run(config, "files write note.txt kept")[0].returncode == 0
    raw = bytearray(image.read_bytes())
    raw[8:16] = b"garbage!"  # the superblock's checksum no longer matches
    image.write_bytes(raw)
    before = _digest(image)
    proc, summary = _run(config, "hello")
    assert proc.returncode == 2 and "not a valid V disk image" in proc.stderr
    assert "format: true" in summary["errors"][0]["error"] and summary["programs"] == []
    assert _digest(image) == before
    proc, summary = _run(_config(tmp_path, image.name, fmt=True), "files read note.txt")
    assert summary["programs"][0]["output"] == "files: note.txt: ENOENT\n"  # formatted, as asked


def test_a_huge_config_is_refused_at_once(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("w") as f:
        f.write("name: big\nmachines: [{name: ws1}]\n# ")
        f.write("x" * (50 * MB))
        f.write("\n")
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="at most 1048576 bytes"):
        load_config(big)
    assert time.monotonic() - t0 < 2.0
    proc = vcluster("run", str(big), "hello", "--json")
    assert proc.returncode == 2 and "at most 1048576 bytes" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(ConfigError, match="at most"):
        load_config_text("#" * (MAX_CONFIG_BYTES + 1))


def test_the_config_knows_the_file_systems_magic():
    assert IMAGE_MAGIC == MAGIC
