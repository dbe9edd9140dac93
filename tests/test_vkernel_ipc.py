"""V IPC across the wire between guest programs: Send/Receive/Reply, MoveTo/MoveFrom, groups, files."""

from __future__ import annotations

import pytest
from helpers import config, programs_by_name, run_session


def test_client_and_server_on_two_machines_move_256_kb():
    session, summary = run_session(
        ["ipcserver 3 @ ws2", "wait 1", "ipcclient 3 256 2 quit @ ws3"], max_sim_seconds=300
    )
    progs = programs_by_name(summary)
    client, server = progs["ipcclient"], progs["ipcserver"]
    assert client["host_final"] == "ws3" and server["host_final"] == "ws2"
    assert client["output"] == (
        "round 1: got 256 KB ok, put checksum ok\n"
        "round 2: got 256 KB ok, put checksum ok\n"
        "ipcclient: done\n"
    )
    assert client["exit_status"] == 0
    assert server["output"] == "ipcserver: ready\nipcserver: served 6 requests\n"
    assert server["exit_status"] == 0
    # 2 rounds x 256 KB each way crossed the wire
    assert summary["net"]["bytes"] > 4 * 256 * 1024


@pytest.mark.slow
def test_256_kb_arrives_intact_under_5_percent_frame_loss():
    cfg = config("tiny", network__loss_rate=0.05)
    session, summary = run_session(
        ["ipcserver 4 @ ws2", "wait 1", "ipcclient 4 256 1 quit @ ws3"], cfg, max_sim_seconds=600
    )
    progs = programs_by_name(summary)
    assert progs["ipcclient"]["output"] == "round 1: got 256 KB ok, put checksum ok\nipcclient: done\n"
    assert progs["ipcclient"]["exit_status"] == 0
    assert progs["ipcserver"]["exit_status"] == 0
    assert summary["net"]["dropped"] > 0  # frames really were lost
    retransmissions = sum(k.transport.stats.retransmissions for k in session.kernels.values())
    assert retransmissions > 0


def test_a_file_written_on_one_machine_is_read_on_another():
    session, summary = run_session(
        ["files write notes.txt hello from ws2 @ ws2", "wait 2", "files read notes.txt @ ws3",
         "wait 2", "files big blob.bin 40 @ ws2", "wait 4", "files check blob.bin @ ws3"],
        max_sim_seconds=120,
    )
    write, read, big, check = summary["programs"]
    assert write["output"] == "files: wrote 15 bytes to notes.txt\n"
    assert write["exit_status"] == 0 and read["exit_status"] == 0
    assert read["output"] == "hello from ws2\n"
    assert read["host_final"] == "ws3" and write["host_final"] == "ws2"
    assert big["output"] == check["output"]
    assert check["output"].startswith("files: blob.bin 40960 bytes checksum 0x")
    fs = session.kernels["fs1"].machine.filesystem
    assert fs.read("notes.txt", 0, 100) == b"hello from ws2\n"


def test_reading_a_missing_file_is_a_clean_error():
    _, summary = run_session(["files read nosuch.txt @ ws2"])
    (prog,) = summary["programs"]
    assert prog["output"] == "files: nosuch.txt: ENOENT\n"
    assert prog["exit_status"] == 1
