"""The fixed cost of a checkpoint (issue 16): a small checkpoint is one request to the file server
(FS_PUT), the file server merges chains into full checkpoints (FS_MERGE) and removes old files in
one request (FS_COLLECT), and the home probes once between two notices; counted on the wire and
checked against the chains the files held before (vkernel/ckpt_store.py, docs/CHECKPOINT.md)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from guest import abi
from tests.helpers import config
from vcluster.session import Session
from vkernel import checkpoint as ck
from vkernel import ckpt_store
from vkernel import workloads as wl
from vkernel.filesystem import FsError
from vkernel.packets import IS_RETRANSMISSION, Kind, PacketError, parse_frame
from vkernel.servers.kernel_server import KS_PROCESS_INFO

S = 1_000_000_000


def _bench_session(**checkpoint) -> Session:
    """The bench's cluster (vcluster/bench_ft.py): the 4 MB tiny one, seed 1."""
    cfg = dataclasses.replace(wl.workstation_config(), seed=1)
    cfg = dataclasses.replace(cfg, checkpoint=dataclasses.replace(cfg.checkpoint, **checkpoint))
    return Session(cfg)


def _requests(session: Session) -> list[tuple[int, int, bytes, int, int]]:
    """(time, src pid, dst mac, code, data bytes) of every first SEND and MOVE_DATA from now on
    (a MOVE_DATA's code is 0)."""
    seen: list[tuple[int, int, bytes, int, int]] = []

    def tap(time: int, frame: bytes) -> None:
        try:
            dst, _src, p = parse_frame(frame)
        except PacketError:
            return
        if p.flags & IS_RETRANSMISSION:
            return
        if p.kind is Kind.SEND:
            seen.append((time, p.src_pid, dst, int.from_bytes(p.msg[:4], "big"), 0))
        elif p.kind is Kind.MOVE_DATA:
            seen.append((time, p.src_pid, dst, 0, len(p.data)))

    session.cluster.segment.add_tap(tap)
    return seen


def _files_of(session: Session, lhid: int) -> dict[str, bytes]:
    fs = session.kernels["fs1"].machine.filesystem
    prefixes = (f"{ck.PREFIX}{lhid:04x}.", f"{ckpt_store.MERGING}{lhid:04x}.")
    return {n: fs.read(n, 0, fs.size(n)) for n in fs.list() if n.startswith(prefixes)}


def _chain_pages(files: dict[str, bytes], lhid: int, serial: int, chain: list[int]):
    """The reference: the pages checkpoint `serial`'s chain makes, every serial of it read the
    way the restart did before the file server merged."""
    bodies = [ckpt_store.parse_file(files[ck.file_name(lhid, s)], s)[1] for s in chain]
    return ckpt_store.apply_records(bodies)


def test_a_small_checkpoint_is_one_request_carrying_the_whole_file():
    """The protocol (docs/ABI.md FS_PUT): the checkpointer's only requests for a checkpoint of at
    most 32 KB are one FS_PUT and the notice to the home (CK_DONE), and the data its train
    carries is the file's name and the file the file server then holds, byte for byte."""
    session = _bench_session(full_every=1000)
    seen = _requests(session)
    session.execute(f"{wl.command('make', 12.0)} @ ws2 checkpoint=1")
    job = session.jobs[-1]
    session.sim.run(until=2 * S)
    ws2 = session.kernels["ws2"]
    [writer] = [p.pid for p in ws2.processes.values() if p.name.startswith("ckpt-")]
    home = session.kernels["ws1"]
    [watcher] = [p.pid for p in home.processes.values() if p.name.startswith("ckpt-watch-")]
    assert session.run_until_done(60)
    taken = ws2.checkpoints.taken
    small = [t for t in taken if t["bytes"] <= ck.CHUNK]
    assert len(small) >= 10 and all(not t["full"] for t in small)
    codes = Counter(code for _t, src, _d, code, _n in seen if src == writer and code)
    # (a last one may have been written as the program ended: not taken, its file removed)
    assert len(small) <= codes[abi.FS_PUT] <= len(small) + 1
    assert codes[ck.CK_DONE] == len(taken) - 1  # the first's notice came from the exec worker
    assert set(codes) == {abi.FS_PUT, ck.CK_DONE}  # no open, write, close, list or remove
    # each FS_PUT's train: the name and the file (the data of the MOVE_DATA after it)
    puts = [i for i, r in enumerate(seen) if r[1] == writer and r[3] == abi.FS_PUT]
    for i, t in zip(puts, small, strict=False):
        moved = 0
        for _time, src, _dst, code, n in seen[i + 1 :]:
            if src != writer or code:
                break
            moved += n
        assert moved == len(ck.file_name(job.pid >> 16, t["serial"])) + t["bytes"]
    # the home removed the files in one request when the program ended
    session.sim.run(until=session.sim.now + 2 * S)
    ended = Counter(code for _t, src, _d, code, _n in seen if src == watcher and code)
    assert ended[abi.FS_COLLECT] == 1 and not ended[abi.FS_REMOVE] and not ended[abi.FS_LIST]
    assert _files_of(session, job.pid >> 16) == {}


def _merge_now(session: Session, name: str, spare: int = 0) -> list[int]:
    """Have fs1's file server merge `name` (as FS_MERGE does), in a process of its own."""
    k = session.kernels["fs1"]
    server = k.servers["file"]
    got: list[int] = []

    def body(pid: int):
        got.append((yield from server._merge(name, spare)))

    k.spawn_server(k.system_lh, "test-merge", body)
    end = session.sim.now + 5 * S
    while not got and session.sim.now < end and session.sim.step():
        pass
    return got


def test_the_file_server_merges_a_chain_into_the_full_checkpoint_it_makes():
    """A merge gives the newest checkpoint's pages exactly as its chain made them (the reference:
    the chain's files read before the merge) in one full file of that serial, and removes the
    older files of the logical host but the spare."""
    session = _bench_session(full_every=1000)  # the checkpointer asks for no merge itself
    session.execute("workload tex 20 @ ws2 checkpoint=1")
    job = session.jobs[-1]
    session.sim.run(until=6 * S)
    lhid = job.pid >> 16
    pol = session.kernels["ws2"].checkpoints.policies[lhid]
    serial = pol.serial
    assert len(pol.chain) >= 5
    before = _files_of(session, lhid)
    pages = _chain_pages(before, lhid, serial, pol.chain)
    state = pol.last_state  # what the checkpointer captured at the newest one's cut
    assert state["checkpoint"]["serial"] == serial
    assert _merge_now(session, ck.file_name(lhid, serial), spare=pol.chain[0]) == [
        len(pol.chain) - 2  # all the chain but its first (the spare) and the newest
    ]
    after = _files_of(session, lhid)
    newer = {n for n in after if ck.parse_name(n)[1] > serial}  # written meanwhile
    assert set(after) - newer == {ck.file_name(lhid, pol.chain[0]), ck.file_name(lhid, serial)}
    merged_state, body = ckpt_store.parse_file(after[ck.file_name(lhid, serial)], serial)
    assert merged_state["checkpoint"]["chain"] == [serial]
    assert {**merged_state, "checkpoint": None} == {**state, "checkpoint": None}
    mapped = {
        (i, vp) for i, t in enumerate(state["teams"]) for vp, _ in ck.page_list(t["page_runs"])
    }
    assert ckpt_store.apply_records([body]) == {key: pages[key] for key in pages if key in mapped}
    # the program runs on from the merged chain: crash it, it restarts and ends as uncrashed
    assert session.run_until_done(120)
    assert job.exit_status == 0


def _crash_run(crash_s: float | None, fail_first_merge: bool = False):
    cfg = dataclasses.replace(config("tiny", checkpoint__full_every=3), seed=1)
    session = Session(cfg)
    failed: list[str] = []
    if fail_first_merge:
        # the file server's machine stops after the merged file is written, before it takes the
        # newest file's place: the one step that would do it never happens
        fs = session.kernels["fs1"].servers["file"].fs
        remove = fs.remove

        def stops_before_the_swap(name):
            if not failed and ck.parse_name(name) and fs.exists(ckpt_store.MERGING + name[5:]):
                failed.append(name)
                raise FsError("the machine stopped here")
            return remove(name)

        fs.remove = stops_before_the_swap
    session.execute("workload tex 9 @ ws2 checkpoint=1")
    job = session.jobs[-1]
    if crash_s is not None:
        session.sim.run(until=int(crash_s * S))
        session.execute("crash ws2")
    assert session.run_until_done(200)
    session.sim.run(until=session.sim.now + 2 * S)  # the home lets the files go
    return session, job, failed


def test_a_merge_cut_short_leaves_the_older_chain_usable():
    """A merge that never completes (the machine stops before the merged file takes the newest
    one's place) changes nothing the restart reads: the chain after it still reads back through
    the unmerged file, the restarted program's output is the uncrashed run's, and the merge's
    leftover is removed by the next collection."""
    ref, ref_job, _ = _crash_run(None)
    session, job, failed = _crash_run(5.5, fail_first_merge=True)
    fs_server = session.kernels["fs1"].servers["file"]
    assert failed and fs_server.merges["failed"] >= 1
    [restart] = session.restarts
    # from a checkpoint after the merge cut short, before the next merge (full_every 3)
    cut_short = ck.parse_name(failed[0])[1]
    assert restart["kind"] == "restart" and cut_short < restart["checkpoint"] < cut_short + 3
    assert session.output_of(job) == ref.output_of(ref_job) and job.exit_status == 0
    assert _files_of(session, job.pid >> 16) == {}  # the leftover too, once it ended


def test_a_restart_reads_a_chain_through_a_merged_file():
    ref, ref_job, _ = _crash_run(None)
    session, job, _ = _crash_run(5.5)
    assert session.kernels["fs1"].servers["file"].merges["merged"] >= 1
    [restart] = session.restarts
    assert restart["kind"] == "restart"
    assert session.output_of(job) == ref.output_of(ref_job) and job.exit_status == 0


def test_the_home_probes_once_between_two_notices_and_still_detects_within_detect_s():
    """A checkpoint a second, detect_s 1 s: the home hears the notice every second and probes in
    between once (before: twice, the second just before the notice); a crash at any instant is
    still found within detect_s of the last answer."""
    session = _bench_session()
    probes: list[int] = []

    def tap(time: int, frame: bytes) -> None:
        try:
            _dst, _src, p = parse_frame(frame)
        except PacketError:
            return
        if p.kind is Kind.SEND and not p.flags & IS_RETRANSMISSION:
            if int.from_bytes(p.msg[:4], "big") == KS_PROCESS_INFO:
                probes.append(time)

    session.cluster.segment.add_tap(tap)
    session.execute(f"{wl.command('make', 12.0)} @ ws2 checkpoint=1")
    session.sim.run(until=11 * S)
    steady = [t for t in probes if 3 * S <= t < 11 * S]
    assert 7 <= len(steady) <= 9  # one a second
    detect = session.config.checkpoint.detect_s
    for crash_ms in range(3000, 4000, 97):  # instants all over a notice's second
        s = _bench_session()
        s.execute(f"{wl.command('make', 12.0)} @ ws2 checkpoint=1")
        s.sim.run(until=crash_ms * 1_000_000)
        s.execute("crash ws2")
        assert s.run_until_done(60)
        [restart] = s.restarts
        assert restart["kind"] == "restart"
        # (then the home asks the program managers whether one runs it: a group query's bound)
        asked = s.config.cost.host_query_timeout_ms / 1000
        assert detect <= restart["detect_s"] <= detect + asked + 0.025, (crash_ms, restart)


def test_fs_put_creates_a_file_whole_or_leaves_it_as_it_was():
    """FS_PUT (docs/ABI.md): name and data from one buffer; the file holds exactly the data (at
    its offset, zeros before), replacing an older one; FS_PUT_OPEN leaves it open for writing;
    bad input is refused with nothing created."""
    from tests.test_guard_servers import _server_pid, forge
    from vkernel.messages import pack, signed, unpack

    session = Session(config("tiny"))
    ws1 = session.kernels["ws1"]
    _k, fs_pid = _server_pid(session, "file")
    fs = session.kernels["fs1"].machine.filesystem
    data = bytes(range(200)) * 3
    memory = b"putme" + data
    got = forge(
        session,
        ws1,
        fs_pid,
        [
            pack(abi.FS_PUT, 0, 5, len(data), 0, 0, 0),
            pack(abi.FS_PUT, 0, 5, 100, 0, 0, 0),  # replaces it
            pack(abi.FS_PUT, 0, 0, 10, 0, 0, 0),  # no name
            pack(abi.FS_PUT, 0, 5, 64 * 1024 + 1, 0, 0, 0),  # more than one request carries
            pack(abi.FS_PUT, 0, 5, 10, 0, 0, fs.max_file_size + 1),
        ],
        memory=memory,
    )
    assert [signed(unpack(r)[0]) for _, r in got] == [0, 0] + [-abi.EINVAL] * 3
    assert unpack(got[0][1])[1] == len(data) and unpack(got[1][1])[1] == 100
    assert fs.read("putme", 0, fs.size("putme")) == data[:100]
    memory = b"later" + data
    n = session.kernels["fs1"].servers["file"].next_instance  # the instance it will open
    got = forge(
        session,
        ws1,
        fs_pid,
        [
            pack(abi.FS_PUT, 0, 5, 50, abi.FS_PUT_OPEN, 0, 4096),
            pack(abi.FS_WRITE_AT, n, 5, 8, 0),
            pack(abi.IO_CLOSE, n),
        ],
        memory,
    )
    assert [unpack(r)[:3] for _, r in got] == [(0, 50, n), (0, 8, 0), (0, 0, 0)]
    assert fs.read("later", 0, fs.size("later")) == data[:8] + bytes(4088) + data[:50]


def test_a_large_checkpoint_is_created_by_its_first_chunk():
    """Over 32 KB: the first chunk's FS_PUT creates the file and opens it (FS_PUT_OPEN), the
    other chunks and the header (last) are FS_WRITE_AT, then IO_CLOSE; no FS_OPEN."""
    session = _bench_session()
    seen = _requests(session)
    session.execute(f"{wl.command('tex', 5.0)} @ ws2 checkpoint=1")
    session.sim.run(until=S)
    ws2 = session.kernels["ws2"]
    [writer] = [p.pid for p in ws2.processes.values() if p.name.startswith("ckpt-")]
    assert session.run_until_done(60)
    # (the first, the loaded image, is the exec worker's)
    taken = [t for t in ws2.checkpoints.taken[1:] if t["bytes"] > ck.CHUNK]
    assert len(taken) >= 3
    codes = Counter(code for _t, src, _d, code, _n in seen if src == writer and code)
    chunks = sum(-(-(t["bytes"] - ck.HEADER.size) // ck.CHUNK) for t in taken)
    assert not codes[abi.FS_OPEN]
    assert len(taken) <= codes[abi.FS_PUT] == codes[abi.IO_CLOSE] <= len(taken) + 1
    assert codes[abi.FS_WRITE_AT] >= chunks - len(taken) + len(taken)  # other chunks, headers


_values = st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=3))
_states = st.dictionaries(st.sampled_from("abcdefg"), _values, max_size=6)


@settings(max_examples=80, deadline=None)
@given(st.lists(_states, min_size=1, max_size=6))
def test_a_chain_of_state_differences_gives_back_each_state(states):
    """An incremental checkpoint's state is what changed since the one before (entries added,
    changed or gone); applied oldest first, the chain gives back the newest state whole."""
    states = [{**s, "checkpoint": {"serial": n}} for n, s in enumerate(states, 1)]
    written = [states[0]] + [ck.state_delta(a, b) for a, b in zip(states, states[1:], strict=False)]
    for n in range(1, len(states) + 1):
        assert ck.whole_state(written[:n]) == states[n - 1]
    # a whole state in the middle (a merged or full one) starts afresh
    assert ck.whole_state([*written, states[0]]) == states[0]


def test_an_incremental_checkpoint_writes_only_the_state_that_changed():
    session = _bench_session(full_every=1000)
    session.execute(f"{wl.command('make', 6.0)} @ ws2 checkpoint=1")
    job = session.jobs[-1]
    session.sim.run(until=5 * S)
    lhid = job.pid >> 16
    pol = session.kernels["ws2"].checkpoints.policies[lhid]
    files = _files_of(session, lhid)
    newest = ckpt_store.parse_file(files[ck.file_name(lhid, pol.serial)], pol.serial)[0]
    whole = json.dumps(pol.last_state, separators=(",", ":"))
    assert len(json.dumps(newest, separators=(",", ":"))) < 0.7 * len(whole)
    assert "programs" not in newest and "processes" in newest  # the registers moved on


def test_the_file_server_answers_others_while_it_merges():
    """A merge is the file server's own work, in a process beside it (TeX's takes over a second
    of its disk): a request from another machine meanwhile is answered within a disk access or
    two, not after the merge."""
    from tests.test_guard_servers import _server_pid, forge
    from vkernel.messages import pack, unpack

    session = _bench_session()
    session.execute("workload tex 20 @ ws2 checkpoint=1")
    server = session.kernels["fs1"].servers["file"]
    end = session.sim.now + 30 * S
    while not server.merging and session.sim.now < end and session.sim.step():
        pass
    assert server.merging
    session.sim.run(until=session.sim.now + 100_000_000)  # well into it
    assert server.merging
    _k, fs_pid = _server_pid(session, "file")
    asked = session.sim.now
    [(_, reply)] = forge(
        session, session.kernels["ws3"], fs_pid, [pack(abi.FS_OPEN, 0, 4, 0)], b"echo"
    )
    assert unpack(reply)[0] == 0
    assert session.sim.now - asked < 300_000_000 and server.merging


def test_a_crash_of_the_file_server_during_a_merge_leaves_the_older_chain_usable():
    """The file server's machine crashes in the middle of a merge and boots again: the chain is
    as it was (no file of it gone, the merged one never took the newest one's place); the
    program's next checkpoints chain through the unmerged file, and a crash of the program's
    host then restarts it from one of them with the uncrashed run's output."""
    ref, ref_job, _ = _crash_run(None)
    cfg = dataclasses.replace(config("tiny", checkpoint__full_every=3), seed=1)
    session = Session(cfg)
    session.execute("workload tex 9 @ ws2 checkpoint=1")
    job = session.jobs[-1]
    server = session.kernels["fs1"].servers["file"]
    end = session.sim.now + 30 * S
    while not server.merging and session.sim.now < end and session.sim.step():
        pass
    session.sim.run(until=session.sim.now + 50_000_000)  # reading the chain back
    lhid = job.pid >> 16
    before = _files_of(session, lhid)
    merged_serial = max(ck.parse_name(n)[1] for n in before)  # the one being merged
    assert server.merging and not server.merges["merged"]
    session.execute("crash fs1")
    session.sim.run(until=session.sim.now + S)
    session.execute("power fs1 on")
    assert _files_of(session, lhid) == before  # the chain as it was
    session.sim.run(until=session.sim.now + int(1.5 * S))
    session.execute("crash ws2")
    assert session.run_until_done(200)
    [restart] = session.restarts
    # from a checkpoint chained through the unmerged file, before the next merge (full_every 3)
    assert merged_serial < restart["checkpoint"] < merged_serial + 3
    assert session.output_of(job) == ref.output_of(ref_job) and job.exit_status == 0
    session.sim.run(until=session.sim.now + 2 * S)
    assert _files_of(session, lhid) == {}
