"""Finding the file server over the wire: a query to its well-known group, at first use and after a failure.

A process of the file server's (`file-server-name`) joins
`abi.FILE_SERVER_GROUP` and answers FS_QUERY_SERVER with the server's pid, so
that a query never waits behind the server's disk. A kernel boots without its pid
(nobody tells it); the first time it needs the file server (its program
manager loading an image, the flusher, the pager, a guest's
GetPid(PID_FILE_SERVER)) it asks that group with FS_QUERY_SERVER and keeps the
pid of the first answer in `Kernel.file_server_pid`, as V's GetPid kept what a
broadcast lookup found. Asking at first use rather than all at the boot
instant keeps 120 machines from putting 120 queries on the wire at once. A
Send to the file server that fails outright (ETIMEOUT, ENOPROC: its machine
crashed or rebooted) forgets the pid, and the next use asks again. A query goes
unanswered for host_query_timeout_ms; it is asked LOCATE_ATTEMPTS times,
LOCATE_RETRY_MS apart, then the kernel logs that no file server answered and
the caller gets -ENOENT.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from guest import abi
from vkernel import ops
from vkernel.messages import pack, unpack

if TYPE_CHECKING:
    from vkernel.kernel import Kernel

log = logging.getLogger(__name__)

LOCATE_ATTEMPTS = 5  # FS_QUERY_SERVER queries before "no file server answered"
LOCATE_RETRY_MS = 200  # between them (each waits host_query_timeout_ms for an answer)
BOOT_STAGGER_US = 1000


def query_msg() -> bytes:
    return pack(abi.FS_QUERY_SERVER)


def file_server(k: Kernel) -> Generator[Any, Any, int]:
    """The file server's pid (asked of its group when this kernel does not know it), or -ENOENT."""
    for attempt in range(LOCATE_ATTEMPTS):
        if k.file_server_pid:
            return k.file_server_pid
        if attempt:
            yield ops.Delay(LOCATE_RETRY_MS * 1_000_000)
            if k.file_server_pid:  # another process of this kernel heard the answer meanwhile
                return k.file_server_pid
        replier, reply = yield ops.Send(abi.FILE_SERVER_GROUP, query_msg())
        status, pid = unpack(reply)[:2]
        if replier > 0 and status == 0 and pid > 0 and not abi.is_group(pid):
            if k.file_server_pid != pid:
                log.info("%s: the file server is %#010x", k.name, pid)
            k.file_server_pid = pid
            return pid
    k.locate_failures += 1
    log.warning(
        "%s: no file server answered %d queries to the file server group (%#x)",
        k.name,
        LOCATE_ATTEMPTS,
        abi.FILE_SERVER_GROUP,
    )
    return -abi.ENOENT


def forget(k: Kernel, pid: int, replier: int) -> None:
    """A Send to the file server `pid` ended with `replier`: a failure of the server itself
    (ETIMEOUT, ENOPROC) makes the kernel ask its group again at the next use."""
    if replier in (-abi.ETIMEOUT, -abi.ENOPROC) and pid and k.file_server_pid == pid:
        log.info(
            "%s: the file server %#010x did not answer (%s): asking its group again",
            k.name,
            pid,
            abi.ERROR_NAMES.get(-replier, replier),
        )
        k.file_server_pid = 0


def ensure(k: Kernel) -> None:
    """Have the file server's pid asked for in the background (a guest's GetPid that finds it not
    yet known gets 0 now and the pid once an answer is in); one asker at a time."""
    if k.file_server_pid or k.locating:
        return

    def locator(pid: int) -> Generator[Any, Any, None]:
        try:
            yield from file_server(k)
        finally:
            k.locating = False

    k.locating = True
    k.spawn_server(
        k.system_lh, "fs-locate", locator, on_crash=lambda exc: setattr(k, "locating", False)
    )
