"""The guest ABI in Python: system-call numbers, errors, message codes, layout (docs/ABI.md)."""

from __future__ import annotations

PAGE_SIZE = 4096
ADDRESS_SPACE = 1 << 24  # 16 MB per context, 24-bit addresses as on a 68010
TEXT_BASE = 0x1000
STACK_TOP = 0xF00000
STACK_INITIAL = 16 * 1024
STACK_MAX = 256 * 1024
MSG_SIZE = 32

# system calls: trap #0, number in d0, arguments in d1..d5, result in d0
SYS_EXIT = 0
SYS_SEND = 1
SYS_RECEIVE = 2
SYS_REPLY = 3
SYS_FORWARD = 4
SYS_MOVETO = 5
SYS_MOVEFROM = 6
SYS_GETPID = 7
SYS_JOINGROUP = 8
SYS_LEAVEGROUP = 9
SYS_SBRK = 10
SYS_TIME = 11
SYS_DELAY = 12
SYS_RECEIVE_TIMEOUT = 13
SYS_SEND_GROUP = 14

SYSCALL_NAMES = {v: k for k, v in globals().items() if k.startswith("SYS_") and isinstance(v, int)}

# SYS_GETPID selectors
PID_SELF = 0
PID_CREATOR = 1
PID_KERNEL_SERVER = 2
PID_PROGRAM_MANAGER = 3
PID_FILE_SERVER = 4

# errors (returned negated in d0, and as reply codes)
OK = 0
EBADCALL = 1
EFAULT = 2
ENOPROC = 3
ENOMEM = 4
ENOTAWAITING = 5
ETIMEOUT = 6
EINVAL = 7
ENOENT = 8
EIO = 9
EKILLED = 10
EPERM = 11

ERROR_NAMES = {
    EBADCALL: "EBADCALL",
    EFAULT: "EFAULT",
    ENOPROC: "ENOPROC",
    ENOMEM: "ENOMEM",
    ENOTAWAITING: "ENOTAWAITING",
    ETIMEOUT: "ETIMEOUT",
    EINVAL: "EINVAL",
    ENOENT: "ENOENT",
    EIO: "EIO",
    EKILLED: "EKILLED",
    EPERM: "EPERM",
}

# process ids and groups
GROUP_BIT = 0x8000
PROGRAM_MANAGER_GROUP = 0x00008001
LOCAL_KERNEL_SERVER = 0x8002
LOCAL_PROGRAM_MANAGER = 0x8003
FILE_SERVER_GROUP = 0x00008004  # the file server joins it; kernels find it there (FS_QUERY_SERVER)
WELL_KNOWN_GROUP_END = 0x8100  # local indexes 0x8000..0x80FF: the system's groups, on every lhid


def make_pid(lhid: int, index: int) -> int:
    return ((lhid & 0xFFFF) << 16) | (index & 0xFFFF)


def pid_lhid(pid: int) -> int:
    return (pid >> 16) & 0xFFFF


def pid_index(pid: int) -> int:
    return pid & 0xFFFF


def is_group(pid: int) -> bool:
    return bool(pid & GROUP_BIT)


def is_well_known_group(gid: int) -> bool:
    """A system group (program managers, the local groups, ...): guests may not join it."""
    return is_group(gid) and pid_index(gid) < WELL_KNOWN_GROUP_END


# message codes: I/O protocol
IO_WRITE = 0x100
IO_READ = 0x101
IO_CLOSE = 0x102
IO_INPUT = 0x103  # a console agent hands the display server typed input for an instance
FS_OPEN = 0x110
FS_REMOVE = 0x111
FS_LIST = 0x112
FS_WRITE_AT = 0x113
FS_QUERY_SERVER = 0x114  # to the file server group: which pid serves files (the replier)
# checkpoints (docs/CHECKPOINT.md): a whole small file in one request (name and data in one
# buffer, created or replaced whole or not at all), the merge of a checkpoint's chain into a full
# checkpoint done by the file server, and the removal of a logical host's old checkpoint files
# FS_PUT buffer address, name length, data length, flags, spare serial, offset of the data
FS_PUT = 0x115
FS_MERGE = 0x116  # name address, name length, spare serial: merge its chain, collect the older
FS_COLLECT = 0x117  # lhid, keep serial, spare serial: remove ckpt.LHID.* older than keep but spare
FS_PUT_MERGE = 1  # flag of FS_PUT: then merge the checkpoint's chain (as FS_MERGE)
FS_PUT_OPEN = 2  # flag of FS_PUT: the file stays open for writing (the answer: its instance)
FS_MODE_READ = 0
FS_MODE_WRITE = 1
FS_MODE_APPEND = 2

# message codes: program manager
PM_EXEC = 0x200
PM_WAIT = 0x201
PM_KILL = 0x202
PM_SUSPEND = 0x203
PM_RESUME = 0x204
PM_QUERY_HOST = 0x205
PM_MIGRATE = 0x206
PM_EXITED = 0x207
PM_LIST = 0x208
PM_QUERY_PROGRAM = 0x209  # to the program manager group: which programs of a name (or pid) run
PM_CHECKPOINT = 0x20A  # pid (0: the caller), interval ms (0: one checkpoint now)
PM_RFORK = 0x20B  # program manager to fork to, flags (RFORK_LAZY) -> child pid (0 in the child)
RFORK_LAZY = 1
PM_QUERY_NAME_MAX = 24
PM_EXEC_WAIT = 1  # flag
# flag: checkpoint it every (flags >> 8) ms from its start; it runs once its first checkpoint (the
# loaded image) is on the file server and its home has it (docs/CHECKPOINT.md)
PM_EXEC_CHECKPOINT = 2
PM_MIGRATE_DESTROY = 1  # flag: migrateprog -n

# the program environment block handed to crt0
VENV_MAGIC = 0x56454E56
VENV_FIELDS = (
    "magic",
    "stdin_pid",
    "stdin_inst",
    "stdout_pid",
    "stdout_inst",
    "stderr_pid",
    "stderr_inst",
    "fileserver_pid",
    "creator_pid",
    "home_lhid",
    "flags",
)
VENV_SIZE = 4 * len(VENV_FIELDS)
VENV_REMOTE = 1
