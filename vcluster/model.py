"""The model of the benchmarks' figures: what the code charges, step by step, with the run's constants.

Each figure is a list of terms (what, ms): the cost-model constants the
kernels and servers charge on the figure's critical path, in the order the
protocol charges them, and the emergent parts (frames on the wire at the
network's bit rate; the disk's service time from its own counters). The
explanation of `bench rexec` is printed from these terms, and a test checks
that each model agrees with the measurement within 5%.
"""

from __future__ import annotations

from guest import abi
from netsim import frame as wire
from vkernel import packets as pk
from vkernel.servers.program_manager import IMAGE_CHUNK

Terms = list[tuple[str, float]]


def wire_ms(frame_bytes: int, bitrate: int) -> float:
    """Time on the wire of one frame (no contention): preamble, padded frame, FCS, then the gap."""
    bits = (wire.PREAMBLE + max(frame_bytes, wire.MIN_FRAME) + wire.FCS) * 8 + wire.IFG_BITS
    return bits * 1e3 / bitrate


def frame_bytes(msg: bool = True, data: int = 0) -> int:
    return wire.HEADER + pk.HEADER_SIZE + (pk.MSG_SIZE if msg else 0) + data


class Model:
    """The per-step costs of one configuration (ms)."""

    def __init__(self, cfg) -> None:
        self.c = cfg.cost
        self.bitrate = cfg.network.bitrate

    def us(self, name: str, units: float = 1) -> float:
        return getattr(self.c, name) * units / 1000

    def msg_wire(self) -> float:
        return wire_ms(frame_bytes(), self.bitrate)

    def ipc(self) -> float:
        """Send or Reply in the kernel: ipc_op_us + frozen_check_us."""
        return self.us("ipc_op_us") + self.us("frozen_check_us")

    def one_way(self, what: str, ipc: bool = True) -> Terms:
        """A 32-byte message from one kernel to another (a Send or a Reply of a remote peer)."""
        terms: Terms = (
            [(f"{what}: Send/Reply ipc_op_us + frozen_check_us", self.ipc())] if ipc else []
        )
        return terms + [
            (f"{what}: packet_send_us", self.us("packet_send_us")),
            (f"{what}: wire ({frame_bytes()} B frame)", self.msg_wire()),
            (f"{what}: packet_receive_us", self.us("packet_receive_us")),
        ]

    def train(self, what: str, nbytes: int, check: bool = True, ack: bool = True) -> Terms:
        """nbytes of MoveTo/MoveFrom data in one train of 1 KB packets: the first packet through
        the sender (packet_send_us + its page_copy_us) and the wire, then one slowest stage
        (sender, wire or receiver) a further packet, then the last through the receiver
        (packet_receive_us + its page_copy_us); a MoveTo's receiver acks the train."""
        data = pk.MAX_DATA
        n = max(1, -(-nbytes // data))
        first = min(nbytes, data)
        last = nbytes - (n - 1) * data

        def send(b: int) -> float:
            return self.us("packet_send_us") + self.us("page_copy_us", b / abi.PAGE_SIZE)

        def recv(b: int) -> float:
            return self.us("packet_receive_us") + self.us("page_copy_us", b / abi.PAGE_SIZE)

        full_line = wire_ms(frame_bytes(msg=False, data=data), self.bitrate)
        share = f"page_copy_us x {data}/{abi.PAGE_SIZE}"
        stage, stage_name = max(
            (send(data), f"the sender's packet_send_us + {share}"),
            (full_line, f"the wire's {data} B frame"),
            (recv(data), f"the receiver's packet_receive_us + {share}"),
        )
        terms: Terms = [(f"{what}: frozen_check_us", self.us("frozen_check_us"))] if check else []
        terms += [
            (f"{what}: packet_send_us + page_copy_us, first packet", send(first)),
            (
                f"{what}: wire, first packet",
                wire_ms(frame_bytes(msg=False, data=first), self.bitrate),
            ),
            (
                f"{what}: further packets at the slowest stage, {stage_name} ({stage:.3f} ms each)",
                (n - 1) * stage,
            ),
            (f"{what}: packet_receive_us + page_copy_us, last packet", recv(last)),
        ]
        return terms + (self.one_way(f"{what} ack", ipc=False) if ack else [])

    # --- the figures ---------------------------------------------------------------------
    def selection(self, processes: int, pages: int, wait_ms: float = 0.0) -> Terms:
        """PM_QUERY_HOST to the group; the chosen manager weighs it as work scheduled at guest
        priority (vkernel/selection.py: on an idle host at once, after a context switch):
        program_manager_op_us, pm_examine_process_us a process and pm_examine_page_us a page in
        use of its machine; any calibrated wait it then charged (as charged); it replies."""
        terms = self.one_way("query") + [
            ("context_switch_us (the weighing is scheduled)", self.us("context_switch_us")),
            ("program_manager_op_us", self.us("program_manager_op_us")),
            (
                f"pm_examine_process_us x {processes} processes",
                self.us("pm_examine_process_us", processes),
            ),
            (f"pm_examine_page_us x {pages} pages in use", self.us("pm_examine_page_us", pages)),
        ]
        if wait_ms:
            terms.append(("the chosen manager's calibrated wait (as charged)", wait_ms))
        return terms + self.one_way("answer")

    def create(self, argv_bytes: int, other_answers: int = 0, locate: bool = False) -> Terms:
        """PM_EXEC to the chosen manager until its reply, the image fetch aside: `other_answers`
        answers to the query reach the agent's machine first (first-reply: every willing manager
        answers); `locate`: the manager asks the file server group who serves files (its first
        use)."""
        stack_pages = abi.STACK_INITIAL // abi.PAGE_SIZE
        terms: Terms = []
        if other_answers:
            terms.append(
                (
                    f"packet_receive_us x {other_answers}: the other answers to the query",
                    self.us("packet_receive_us", other_answers),
                )
            )
        terms += self.one_way("PM_EXEC") + [
            (
                "PM_EXEC forwarded to a worker: packet_send_us (its sender's kernel is told)",
                self.us("packet_send_us"),
            ),
            ("program_manager_op_us", self.us("program_manager_op_us")),
            ("MoveFrom argv: frozen_check_us", self.us("frozen_check_us")),
        ]
        terms += self.one_way("MoveFrom argv: request", ipc=False)
        terms += self.train("MoveFrom argv: data", argv_bytes, check=False, ack=False)
        terms.append(("MoveFrom argv: the train's ack, packet_send_us", self.us("packet_send_us")))
        if locate:
            terms += self.one_way("FS_QUERY_SERVER to the file server group")
            terms += self.one_way("FS_QUERY_SERVER reply")
        return (
            terms
            + [
                (
                    "team_create_us + process_create_us",
                    self.us("team_create_us") + self.us("process_create_us"),
                ),
                (f"page_zero_us x {stack_pages} stack pages", self.us("page_zero_us", stack_pages)),
                ("context_switch_us (the program starts)", self.us("context_switch_us")),
            ]
            + self.one_way("PM_EXEC reply")
        )

    def destroy(self) -> Terms:
        return (
            [
                ("exit: trap_us", self.us("trap_us")),
                ("team_destroy_us", self.us("team_destroy_us")),
            ]
            + self.one_way("PM_EXITED to the creator's manager")
            + [
                ("PM_WAIT reply (local): ipc_op_us + frozen_check_us", self.ipc()),
            ]
        )

    def request(self, what: str) -> Terms:
        return self.one_way(f"{what} request") + [
            (f"{what}: file_server_op_us", self.us("file_server_op_us"))
        ]

    def fetch(self, name_bytes: int, image_bytes: int, disk_ms: float) -> Terms:
        """FS_OPEN (the name fetched by MoveFrom), IO_READ in IMAGE_CHUNK units (each a MoveTo
        train), IO_CLOSE; `disk_ms` is the disk's service time (its counters: emergent)."""
        terms = self.request("FS_OPEN") + [
            ("FS_OPEN name: frozen_check_us", self.us("frozen_check_us"))
        ]
        terms += self.one_way("FS_OPEN name: MoveFrom request", ipc=False)
        terms += self.train("FS_OPEN name", name_bytes, check=False, ack=False)
        terms += self.one_way("FS_OPEN reply")
        left = image_bytes
        while left > 0:
            n = min(IMAGE_CHUNK, left)
            terms += self.request(f"IO_READ {n // 1024} KB") + self.train(
                f"IO_READ {n // 1024} KB", n
            )
            terms += self.one_way("IO_READ reply")
            left -= n
        terms += self.request("IO_CLOSE") + self.one_way("IO_CLOSE reply")
        return terms + [("the disk's service time (seek, rotation, transfer)", disk_ms)]


class MigrationModel(Model):
    """Pre-copy's costs: MG_PAGES batches the receiver MoveFrom's, the kernel-server and
    program-manager state, and the commit (vkernel/migration.py)."""

    def bulk(self, what: str, nbytes: int) -> Terms:
        """A MoveFrom of nbytes: trains of bulk_train_packets, the receiver's ack between two."""
        per_train = self.c.bulk_train_packets * pk.MAX_DATA
        terms: Terms = []
        left = nbytes
        while left > 0:
            n = min(per_train, left)
            left -= n
            terms += self.train(f"{what} train", n, check=False, ack=left > 0)
        return terms

    def move_from(self, what: str, nbytes: int) -> Terms:
        """A Send whose receiver MoveFrom's nbytes out of the sender, then replies."""
        return (
            self.one_way(f"{what} request")
            + [(f"{what}: MoveFrom frozen_check_us", self.us("frozen_check_us"))]
            + self.one_way(f"{what}: MoveFrom request", ipc=False)
            + self.bulk(what, nbytes)
            + self.one_way(f"{what} reply")
        )

    def copy(self, nbytes: int, batch_bytes: int) -> Terms:
        """One pass of send_pages over nbytes: MG_PAGES batches of up to batch_bytes."""
        terms: Terms = []
        left = nbytes
        while left > 0:
            n = min(batch_bytes, left)
            left -= n
            terms += self.move_from("MG_PAGES", n)
        return terms

    def init(self, layout_bytes: int) -> Terms:
        """MG_INIT to the destination's program manager, which MoveFrom's the layout, creates the
        new logical host (no team or page costs charged: the copy fills it) and replies."""
        return self.move_from("MG_INIT", layout_bytes)

    def freeze_to_delete(
        self,
        settle_ms: float,
        residue_bytes: int,
        batch_bytes: int,
        objects: int,
        state_bytes: int,
    ) -> Terms:
        """The freeze up to the deletion of the old copy (an eviction's end: nothing of the guest
        is left on the host; destroying its team is CPU work queued after that instant)."""
        return (
            [("the running slice ends (guest instructions, as measured)", settle_ms)]
            + self.copy(residue_bytes, batch_bytes)
            + [
                ("ks_pm_state_copy_base_us", self.us("ks_pm_state_copy_base_us")),
                (
                    f"ks_pm_state_copy_per_object_us x {objects}",
                    self.us("ks_pm_state_copy_per_object_us", objects),
                ),
            ]
            + self.move_from("MG_STATE", state_bytes)
        )

    def freeze(
        self,
        settle_ms: float,
        residue_bytes: int,
        batch_bytes: int,
        objects: int,
        state_bytes: int,
        teams: int,
    ) -> Terms:
        """From the freeze to the answer of the commit's "go": the running slice ends (emergent, as
        measured), the residue is copied, the state is charged and moved (MG_STATE), the old copy
        is deleted and "go" is answered."""
        return (
            self.freeze_to_delete(settle_ms, residue_bytes, batch_bytes, objects, state_bytes)
            + [(f"team_destroy_us x {teams} (the old copy)", self.us("team_destroy_us", teams))]
            + self.one_way("MG_COMMIT")
            + self.one_way("MG_COMMIT reply")
        )

    def sender_cpu(self, nbytes: int) -> float:
        """The sender's CPU for a train of nbytes: packet_send_us + page_copy_us (its share) a
        packet, queued at once (vkernel/transport.py: a train's packets go out back to back)."""
        data = pk.MAX_DATA
        full, rest = divmod(nbytes, data)
        per_page = self.us("page_copy_us") / abi.PAGE_SIZE
        return (full + (rest > 0)) * self.us("packet_send_us") + nbytes * per_page

    def ack_wait(self) -> float:
        """What the source of a pre-copy pass waits for each full train's ack, its CPU idle: the
        train and its ack (train()) less the source's part of them (the sends and the ack's
        receipt). The receiver or the wire is slower than the sender by that much a train."""
        nbytes = self.c.bulk_train_packets * pk.MAX_DATA
        busy = self.sender_cpu(nbytes) + self.us("packet_receive_us")
        return max(0.0, total(self.train("", nbytes, check=False)) - busy)

    def train_lead(self, nbytes: int) -> float:
        """From the sender starting a train of nbytes to the receiver starting to copy its first
        packet's data: the packet's send, its time on the wire and packet_receive_us."""
        first = min(nbytes, pk.MAX_DATA)
        wire_first = wire_ms(frame_bytes(msg=False, data=first), self.bitrate)
        return self.sender_cpu(first) + wire_first + self.us("packet_receive_us")

    def competing_write(
        self,
        what: str,
        nbytes: int,
        share: float = 1.0,
        request: bool = True,
        in_copy: bool = False,
    ) -> Terms:
        """Another writer on the source's CPU during a migration: an FS_WRITE_AT of nbytes (the
        flusher's, vkernel/paging.py) costs the source its Send, the file server's MoveFrom
        request and reply (`request`: when the figure holds them) and the data's train, `share`
        of which falls within the figure. The source's CPU serves charges in order, a train
        whole, so the migration's next step waits for all of it; a train queued during a
        pre-copy pass (`in_copy`) first fills the source's wait for a train's ack (ack_wait)."""
        terms: Terms = []
        if request:
            terms += [
                (f"{what}: Send, ipc_op_us + frozen_check_us", self.ipc()),
                (
                    f"{what}: request packet_send_us, MoveFrom request and reply packet_receive_us",
                    self.us("packet_send_us") + self.us("packet_receive_us", 2),
                ),
            ]
        if nbytes and share > 0:
            terms.append(
                (
                    f"{what}: trains, packet_send_us + page_copy_us a packet",
                    self.sender_cpu(nbytes) * share,
                )
            )
        if in_copy and terms:
            wait = min(self.ack_wait(), total(terms))
            terms.append((f"{what}: less the source's waits for a pre-copy train's ack", -wait))
        return terms


def total(terms: Terms) -> float:
    return sum(ms for _, ms in terms)


def describe(terms: Terms, limit: int = 0) -> str:
    """`what ms + what ms + ...` (terms of the same label summed, in order)."""
    merged: dict[str, float] = {}
    for label, ms in terms:
        merged[label] = merged.get(label, 0.0) + ms
    items = list(merged.items())  # a term of 0 ms stays: the constant is charged, 0 times
    if limit and len(items) > limit:
        items = sorted(items, key=lambda kv: -kv[1])[:limit]
    return " + ".join(f"{label} {ms:.3f}" for label, ms in items)
