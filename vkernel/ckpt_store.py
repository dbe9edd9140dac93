"""The file server's side of checkpoints: a chain merged into one full checkpoint, old files removed.

A checkpointer sends only increments after its first checkpoint; every `full_every`-th it asks
the file server (FS_PUT with FS_PUT_MERGE, or FS_MERGE) to merge that checkpoint's chain into a
full one: the file server reads the chain back from the newest file (each file's chain names the
file before it; a file whose chain is itself alone is full), applies the page records oldest
first, writes the result beside it (`merging.LHID.SERIAL`, a name no restore reads) and only then, in one step
of its disk, puts it in the place of the newest file; then it removes the logical host's older
files (but the spare one, the base the checkpointer's own full checkpoints name). A crash before
that step leaves the old chain as it was, and the half-written merge is garbage that the next
collection removes (FS_COLLECT, or a later merge's).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from vkernel import ops
from vkernel.checkpoint import (
    DIFF_FLAG,
    DIFF_HEADER,
    ENDED,
    HEADER,
    MAGIC_SMALL,
    PAGE,
    PAGE_HEADER,
    PREFIX,
    ZERO_FLAG,
    ZERO_PAGE,
    diff_apply,
    file_name,
    header_parts,
    page_list,
    parse_name,
    whole_state,
)
from vkernel.filesystem import FsError

if TYPE_CHECKING:
    from vkernel.servers.file_server import FileServer

MERGING = "merging."  # the merged file's name until it is complete (a restore never reads it)
Pages = dict[tuple[int, int], tuple[int, bytes]]


def parse_file(data: bytes, serial: int) -> tuple[dict[str, Any], bytes] | None:
    """(state, page records) of a checkpoint file of this serial; None: not complete (its header
    is written last) or another's."""
    parts = header_parts(data[: HEADER.size], serial)
    if parts is None:
        return None
    body_at, state_at, state_len = parts
    if state_at + state_len > len(data):
        return None
    return json.loads(data[state_at : state_at + state_len]), data[body_at:state_at]


def previous(state: dict[str, Any], serial: int) -> int | None:
    """The serial of the file before this one in its chain; None: this one is full."""
    chain = [int(s) for s in state["checkpoint"]["chain"]]
    if len(chain) < 2:
        return None
    if chain[-1] != serial or chain[-2] >= serial:
        raise ValueError(f"checkpoint {serial}: a bad chain {chain}")
    return chain[-2]


def apply_records(bodies: Iterable[bytes]) -> Pages:
    """The pages a chain's page records make, oldest body first: (team index, vpage) -> (prot,
    content); a difference applies to what the records before it built."""
    pages: Pages = {}
    for blob in bodies:
        off = 0
        while off < len(blob):
            i, vp, prot = PAGE_HEADER.unpack_from(blob, off)
            off += PAGE_HEADER.size
            if prot & ZERO_FLAG:
                pages[(i, vp)] = (prot & ~ZERO_FLAG, ZERO_PAGE)
            elif prot & DIFF_FLAG:
                (n,) = DIFF_HEADER.unpack_from(blob, off)
                off += DIFF_HEADER.size
                old = pages.get((i, vp), (0, ZERO_PAGE))[1]
                pages[(i, vp)] = (prot & ~DIFF_FLAG, diff_apply(old, blob[off : off + n]))
                off += n
            else:
                if off + PAGE > len(blob):
                    raise ValueError("a page record runs past its body")
                pages[(i, vp)] = (prot, blob[off : off + PAGE])
                off += PAGE
    return pages


def full_file(state: dict[str, Any], serial: int, cut_ns: int, pages: Pages) -> bytes:
    """A full checkpoint of `serial`: every page of its teams' layouts that the chain holds (zero
    pages as headers), its state with the chain [serial]."""
    records = []
    for i, spec in enumerate(state["teams"]):
        for vp, _prot in page_list(spec["page_runs"]):
            got = pages.get((i, vp))
            if got is None:
                continue
            prot, data = got
            if data == ZERO_PAGE:
                records.append(PAGE_HEADER.pack(i, vp, prot | ZERO_FLAG))
            else:
                records.append(PAGE_HEADER.pack(i, vp, prot) + data)
    body = b"".join(records)
    state = {**state, "checkpoint": {**state["checkpoint"], "chain": [serial]}}
    blob = json.dumps(state, separators=(",", ":")).encode()
    head = HEADER.pack(
        MAGIC_SMALL, serial, HEADER.size + len(body), len(blob), len(records), cut_ns
    )
    return head + body + blob


def merge(server: FileServer, name: str, spare: int) -> Generator[Any, Any, int]:
    """Merge the chain of checkpoint file `name` into a full checkpoint in its place, then remove
    its logical host's older files but `spare`; the files it removed, or -1 (nothing changed:
    a file of the chain is missing or incomplete)."""
    parsed = parse_name(name)
    fs = server.fs
    if parsed is None or not fs.exists(name):
        return -1
    lhid, serial = parsed
    bodies: list[bytes] = []
    states: list[dict[str, Any]] = []
    cut_ns = 0
    at: int | None = serial
    while at is not None:
        yield ops.charge(server.k.cost, "file_server_op_us")
        older = file_name(lhid, at)
        if not fs.exists(older):
            return -1
        data = yield from server.on_disk(fs.read, older, 0, fs.size(older))
        got = parse_file(data, at)
        if got is None:
            return -1
        if not states:
            cut_ns = HEADER.unpack_from(data)[5]
        states.append(got[0])
        bodies.append(got[1])
        at = previous(got[0], at)
    if len(bodies) == 1:  # full already
        return (yield from collect(server, lhid, serial, spare))
    state = whole_state(states[::-1])
    merged = full_file(state, serial, cut_ns, apply_records(reversed(bodies)))
    # the merge's own work: a local copy of each page it puts together
    yield ops.charge(server.k.cost, ("local_page_copy_us", len(merged) / PAGE))
    temp = MERGING + name[len(PREFIX) :]
    yield from server.on_disk(fs.install, temp, merged)

    def swap() -> None:  # one step: no crash falls between the removal and the renaming
        if not (fs.exists(temp) and fs.exists(name)):  # removed meanwhile (the program ended)
            raise FsError(f"{name}: gone during its merge", name=name)
        fs.remove(name)
        fs.rename(temp, name)

    yield from server.on_disk(swap)
    return (yield from collect(server, lhid, serial, spare))


def collect(server: FileServer, lhid: int, keep: int, spare: int) -> Generator[Any, Any, int]:
    """Remove lhid's checkpoint files older than `keep` but `spare`, and its merges' leftovers
    (of a merge a crash cut short); keep ENDED (the program ended) also takes the fork files
    kept for a replay of its forks (vkernel/rfork.py; not a lazy fork's pages, which the child
    may still read); the files removed."""
    fs = server.fs
    prefix = f"{MERGING}{lhid:04x}."
    forks = f"rfork.{lhid:04x}.s"
    gone = []
    for name in fs.list():
        parsed = parse_name(name)
        if parsed is not None:
            if parsed[0] == lhid and parsed[1] < keep and parsed[1] != spare:
                gone.append(name)
        elif name.startswith(prefix):
            gone.append(name)
        elif keep == ENDED and name.startswith(forks) and not name.endswith(".pages"):
            gone.append(name)
    for name in gone:
        yield from server.on_disk(fs.remove, name)
    return len(gone)
