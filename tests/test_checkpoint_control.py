"""The checkpoint line and the restart events through the control socket (issue 16)."""

from __future__ import annotations

from tests.test_control import Client, Served, sockdir, wait_for  # noqa: F401 - the fixtures


def test_checkpoint_crash_and_restart_over_the_control_socket(sockdir) -> None:  # noqa: F811
    served = Served(sockdir / "ck.sock")
    try:
        with Client(served.path) as c:
            assert c.execute("dirtier 64 32 6 @ ws2")["ok"]
            wait_for(lambda: c.request({"cmd": "programs"})["jobs"][0]["pid"])
            pid = c.request({"cmd": "programs"})["jobs"][0]["pid"]
            reply = c.execute("checkpoint dirtier every 1")
            assert reply == {
                "ok": True,
                "message": f"checkpointing dirtier ({pid:#010x}) on ws2 every 1 s",
            }
            bad = c.execute("checkpoint dirtier every soon")
            assert not bad["ok"] and "not a number" in bad["error"]
            assert c.request({"cmd": "wait", "seconds": 2.5})["ok"]
            crash = c.execute("crash ws2")
            assert crash["ok"] and "restarts from its checkpoint" in crash["message"]
            assert c.request({"cmd": "wait", "seconds": 8})["ok"]
            events = c.request({"cmd": "events", "since": 0})["events"]
            [restart] = [e for e in events if e["kind"] == "restart"]
            assert restart["from"] == "ws2" and restart["pid"] == pid
            out = c.request({"cmd": "output", "pid": pid})
            assert out["exit_status"] == 0 and out["output"].startswith("dirtier: wrote 192 KB")
    finally:
        served.stop()
