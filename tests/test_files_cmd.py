"""Host files onto the file server: `vcluster files put/get/list/rm` on a config's disk image, `run --file` for one run."""

from __future__ import annotations

import zlib

from tests.helpers import ROOT, vcluster


def disk_config(tmp_path):
    text = (ROOT / "configs" / "tiny.yaml").read_text().replace("image: null", "image: disk.img")
    assert "image: disk.img" in text
    cfg = tmp_path / "withdisk.yaml"
    cfg.write_text(text)
    return cfg


def test_put_then_a_program_reads_it_after_boot_and_get_gives_it_back(tmp_path):
    cfg = disk_config(tmp_path)
    data = bytes(range(256)) * 40 + b"tail\n"
    host = tmp_path / "input.bin"
    host.write_bytes(data)
    proc = vcluster("files", "put", str(host), "data.bin", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "data.bin: 10245 bytes" in proc.stdout
    listing = vcluster("files", "list", "--config", str(cfg))
    assert listing.returncode == 0 and "data.bin" in listing.stdout.split()
    # a guest program finds it on the disk the next boot mounts (Adler-32 over the file server)
    run = vcluster("run", str(cfg), "files check data.bin")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"files: data.bin 10245 bytes checksum 0x{zlib.adler32(data):08x}\n"
    back = tmp_path / "back.bin"
    assert vcluster("files", "get", "data.bin", str(back), "--config", str(cfg)).returncode == 0
    assert back.read_bytes() == data
    assert vcluster("files", "rm", "data.bin", "--config", str(cfg)).returncode == 0
    gone = vcluster("files", "get", "data.bin", "--config", str(cfg))
    assert gone.returncode == 1 and "no file 'data.bin'" in gone.stderr


def test_a_disk_in_memory_is_refused_with_the_way_out(tmp_path):
    host = tmp_path / "x.txt"
    host.write_text("x")
    proc = vcluster("files", "put", str(host), "--config", "tiny")
    assert proc.returncode == 1
    assert "in memory" in proc.stderr and "run --file" in proc.stderr


def test_a_file_that_is_not_a_disk_is_never_formatted(tmp_path):
    cfg = disk_config(tmp_path)
    precious = tmp_path / "disk.img"
    precious.write_bytes(b"my thesis, not a disk\n" * 100)
    host = tmp_path / "x.txt"
    host.write_text("x")
    proc = vcluster("files", "put", str(host), "--config", str(cfg))
    assert proc.returncode == 1 and "disk.img" in proc.stderr  # refused, at load or at mount
    assert precious.read_bytes() == b"my thesis, not a disk\n" * 100


def test_run_file_feeds_one_run(tmp_path):
    host = tmp_path / "notes.txt"
    host.write_text("first line\nsecond line\n")
    proc = vcluster("run", "tiny", "files read notes.txt @ ws2", "--file", str(host))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "first line\nsecond line\n"
    renamed = vcluster("run", "tiny", "files read other", "--file", f"{host}=other")
    assert renamed.stdout == "first line\nsecond line\n"
    missing = vcluster("run", "tiny", "hello", "--file", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_a_config_names_images_and_files_by_path(tmp_path):
    image = tmp_path / "mine" / "numbered.elf"
    image.parent.mkdir()
    image.write_bytes((ROOT / "guest" / "bin" / "lines").read_bytes())
    (tmp_path / "poem.txt").write_text("one\ntwo\n")
    text = (ROOT / "configs" / "tiny.yaml").read_text() + (
        "programs: [hello, mine/numbered.elf]\nfiles: [poem.txt, {path: poem.txt, name: copy}]\n"
    )
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(text)
    proc = vcluster("run", str(cfg), "numbered poem.txt copy @ ws2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1: one\n2: two\n3: one\n4: two\nlines: 4 lines, 16 bytes\n"


def test_a_missing_image_or_file_in_a_config_names_line_and_field(tmp_path):
    base = (ROOT / "configs" / "tiny.yaml").read_text()
    lines = base.count("\n")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(base + "programs: [hello, ./nope.elf]\n")
    proc = vcluster("run", str(cfg), "hello")
    assert proc.returncode == 2
    assert f"bad.yaml:{lines + 1}" in proc.stderr and "programs[1]" in proc.stderr and "nope.elf" in proc.stderr
    cfg.write_text(base + "files:\n  - {path: absent.txt}\n")
    proc = vcluster("run", str(cfg), "hello")
    assert proc.returncode == 2 and "files[0]" in proc.stderr and "absent.txt" in proc.stderr
    (tmp_path / "text.elf").write_text("not elf")
    cfg.write_text(base + "programs: [text.elf]\n")
    proc = vcluster("run", str(cfg), "hello")
    assert proc.returncode == 2 and "not a guest image" in proc.stderr
