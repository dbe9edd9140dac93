"""Managing programs from guest code: suspend, resume, kill and wait, on a child running elsewhere."""

from __future__ import annotations

from helpers import config

from vcluster.session import Session

S = 1_000_000_000


def test_a_guest_suspends_resumes_kills_and_waits_for_a_remote_child():
    session = Session(config())
    session.execute("boss")
    states = {}

    def child():
        for k in session.kernels.values():
            for p in k.processes.values():
                if p.name == "sleeper":
                    return k.name, p
        return None, None

    for t in (0.5, 1.3, 2.0):  # the child runs from ~0.3 s, suspended ~0.8..1.85 s, killed ~2.15 s
        session.sim.run(until=int(t * S))
        host, proc = child()
        states[t] = (host, proc.suspended if proc else None)
    assert session.run_until_done(30)
    (boss,) = session.summary()["programs"]
    assert boss["exit_status"] == 0 and boss["host_final"] == "ws1"
    assert boss["output"] == (
        "boss: started the child\n"
        "boss: suspend 0\n"
        "boss: resume 0\n"
        "boss: kill 0\n"
        "boss: the child exited with -10\n"  # -EKILLED
    )
    # the child ran on another workstation: running, then suspended, then running again
    hosts = {host for host, _ in states.values()}
    assert len(hosts) == 1 and hosts.pop() in ("ws2", "ws3")
    assert [suspended for _, suspended in (states[0.5], states[1.3], states[2.0])] == [False, True, False]
    # and it is gone everywhere afterwards
    assert child() == (None, None)
