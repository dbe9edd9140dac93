/* v.h: the V-System calls for guest programs, and the ABI constants.
 *
 * The contract is docs/ABI.md; guest/abi.py is its Python copy and the
 * constant block below must agree with it (tests/test_guest_abi.py checks
 * every constant of abi.py against the `#define NAME value` lines here).
 *
 * Conventions: calls return a non-negative result or a negative error
 * (-ENOPROC, ...). Process ids are 32 bits, (logical host id << 16) | index;
 * logical host ids stay below 0x8000 so that a pid is never negative.
 */
#ifndef _V_H
#define _V_H

#include <stddef.h>

/* ---- constants shared with guest/abi.py (one `#define NAME value` a line) ---- */

/* address space */
#define PAGE_SIZE 0x1000
#define ADDRESS_SPACE 0x1000000
#define TEXT_BASE 0x1000
#define STACK_TOP 0xF00000
#define STACK_INITIAL 0x4000
#define STACK_MAX 0x40000
#define MSG_SIZE 32

/* system calls: trap #0, number in d0, arguments in d1..d5, result in d0 */
#define SYS_EXIT 0
#define SYS_SEND 1
#define SYS_RECEIVE 2
#define SYS_REPLY 3
#define SYS_FORWARD 4
#define SYS_MOVETO 5
#define SYS_MOVEFROM 6
#define SYS_GETPID 7
#define SYS_JOINGROUP 8
#define SYS_LEAVEGROUP 9
#define SYS_SBRK 10
#define SYS_TIME 11
#define SYS_DELAY 12
#define SYS_RECEIVE_TIMEOUT 13
#define SYS_SEND_GROUP 14

/* SYS_GETPID selectors */
#define PID_SELF 0
#define PID_CREATOR 1
#define PID_KERNEL_SERVER 2
#define PID_PROGRAM_MANAGER 3
#define PID_FILE_SERVER 4

/* errors: returned negated (-EFAULT) in d0 and as reply codes */
#define OK 0
#define EBADCALL 1
#define EFAULT 2
#define ENOPROC 3
#define ENOMEM 4
#define ENOTAWAITING 5
#define ETIMEOUT 6
#define EINVAL 7
#define ENOENT 8
#define EIO 9
#define EKILLED 10
#define EPERM 11

/* process ids and groups */
#define GROUP_BIT 0x8000
#define PROGRAM_MANAGER_GROUP 0x8001
#define LOCAL_KERNEL_SERVER 0x8002
#define LOCAL_PROGRAM_MANAGER 0x8003
#define FILE_SERVER_GROUP 0x00008004 /* the file server's well-known group */
#define WELL_KNOWN_GROUP_END 0x8100 /* indexes 0x8000..0x80ff: system groups, not for guests */

/* message codes: I/O protocol */
#define IO_WRITE 0x100
#define IO_READ 0x101
#define IO_CLOSE 0x102
#define IO_INPUT 0x103
#define FS_OPEN 0x110
#define FS_REMOVE 0x111
#define FS_LIST 0x112
#define FS_WRITE_AT 0x113
#define FS_QUERY_SERVER 0x114 /* to FILE_SERVER_GROUP: the replier serves files */
#define FS_PUT 0x115     /* a whole file in one request: buffer, name length, data length, flags */
#define FS_MERGE 0x116   /* a checkpoint's chain merged into a full one by the file server */
#define FS_COLLECT 0x117 /* a logical host's checkpoint files older than a serial removed */
#define FS_PUT_MERGE 1
#define FS_PUT_OPEN 2
#define FS_MODE_READ 0
#define FS_MODE_WRITE 1
#define FS_MODE_APPEND 2

/* message codes: program manager */
#define PM_EXEC 0x200
#define PM_WAIT 0x201
#define PM_KILL 0x202
#define PM_SUSPEND 0x203
#define PM_RESUME 0x204
#define PM_QUERY_HOST 0x205
#define PM_MIGRATE 0x206
#define PM_EXITED 0x207
#define PM_LIST 0x208
#define PM_QUERY_PROGRAM 0x209 /* to the program manager group: programs of a name or pid */
#define PM_CHECKPOINT 0x20A
#define PM_RFORK 0x20B
#define PM_QUERY_NAME_MAX 24
#define PM_EXEC_WAIT 1
/* checkpointed from its start, every (flags >> 8) ms: it runs its calls with effects once its
 * first checkpoint is on the file server (docs/CHECKPOINT.md) */
#define PM_EXEC_CHECKPOINT 2
#define PM_MIGRATE_DESTROY 1

/* the program environment block */
#define VENV_MAGIC 0x56454E56
#define VENV_SIZE 44
#define VENV_REMOTE 1

/* ---- end of the constants shared with guest/abi.py ---- */

/* ---- process ids ---- */

typedef long ProcessId;

#define make_pid(lhid, index) \
    ((ProcessId)((((unsigned long)(lhid) & 0xFFFF) << 16) | ((unsigned long)(index) & 0xFFFF)))
#define pid_lhid(pid) (((unsigned long)(pid) >> 16) & 0xFFFF)
#define pid_index(pid) ((unsigned long)(pid) & 0xFFFF)
#define is_group(pid) (((unsigned long)(pid) & GROUP_BIT) != 0)
/* the local kernel server / program manager group of the machine holding
 * the logical host of pid */
#define local_kernel_server_of(pid) \
    ((ProcessId)(((unsigned long)(pid) & 0xFFFF0000UL) | LOCAL_KERNEL_SERVER))
#define local_program_manager_of(pid) \
    ((ProcessId)(((unsigned long)(pid) & 0xFFFF0000UL) | LOCAL_PROGRAM_MANAGER))

/* ---- messages: 32 bytes, long 0 = request code or reply code ---- */

typedef struct Message {
    long m[8]; /* m[0]: code; m[1..7]: as the protocol says (docs/ABI.md) */
} Message;

/* ---- the environment block crt0 receives (docs/ABI.md, "Entry") ---- */

struct venv {
    unsigned long magic; /* VENV_MAGIC */
    ProcessId stdin_pid;
    long stdin_inst;
    ProcessId stdout_pid;
    long stdout_inst;
    ProcessId stderr_pid;
    long stderr_inst;
    ProcessId fileserver_pid;
    ProcessId creator_pid;
    long home_lhid;
    long flags; /* VENV_REMOTE */
};

/* Set by crt0 before main: never NULL (a zeroed block with the magic if the
 * kernel passed none). */
extern struct venv *_venv;

/* ---- the kernel calls (trap #0) ---- */

long __vsyscall(long number, long a1, long a2, long a3, long a4, long a5);

ProcessId Send(Message *msg, ProcessId pid);       /* reply in *msg; result: replier */
ProcessId Receive(Message *msg);                   /* result: sender */
ProcessId ReceiveWithTimeout(Message *msg, long ms); /* sender or -ETIMEOUT */
long Reply(Message *msg, ProcessId pid);
long Forward(Message *msg, ProcessId from, ProcessId to);
long MoveTo(ProcessId dst, void *dst_addr, const void *src_addr, unsigned long count);
long MoveFrom(ProcessId src, void *dst_addr, const void *src_addr, unsigned long count);
ProcessId GetPid(int which);                       /* PID_SELF, PID_CREATOR, ... */
long JoinGroup(ProcessId group);
long LeaveGroup(ProcessId group);
ProcessId SendGroup(Message *msg, ProcessId group); /* first reply wins */
unsigned long GetTime(void);   /* virtual ms since boot */
unsigned long GetTimeUs(void); /* virtual us since boot (wraps after 71 minutes) */
long Delay(unsigned long ms);  /* sleep; the CPU is free meanwhile */
void *sbrk(ptrdiff_t increment);   /* old break, or (void *)-1 */
void _exit(int status) __attribute__((noreturn)); /* SYS_EXIT, no flushing */

/* ---- files, over the I/O protocol to the file server ---- */

/* One descriptor table (src/runtime/vio.c) serves these and newlib's open(),
 * read(), FILE *...; these return V results and set no errno.
 * vopen: a descriptor (3..) or a negative error. mode: FS_MODE_READ,
 * FS_MODE_WRITE (create/truncate), FS_MODE_APPEND. */
int vopen(const char *name, int mode);
long vread(int fd, void *buf, unsigned long n);        /* bytes read, 0 at end */
long vwrite(int fd, const void *buf, unsigned long n); /* bytes written */
int vclose(int fd);
int vremove(const char *name);
long vlist(char *buf, unsigned long size); /* names separated by '\n' */
long vsize(int fd);                        /* size reported by FS_OPEN, grown by our writes */

/* ---- programs, through the program managers ---- */

/* Run argv[0] with argv. host: NULL = here, "*" = any idle host, else a
 * host name (at most PM_QUERY_NAME_MAX bytes). The child's stdout and
 * stdin are ours. Result: the new program's pid or a negative error. */
ProcessId remote_exec(char *const argv[], const char *host);
/* The exit status of a program we created (blocks until it exits), or a
 * negative error. Asks our own program manager (PM_WAIT). */
long wait_program(ProcessId pid);
/* Wait for any child of our logical host to end (PM_WAIT with pid 0): the
 * pid of the child that ended, its exit status in *status (if status is
 * not NULL), or a negative error. Exit statuses are kept until collected;
 * with no child running and none to collect, it waits forever. */
ProcessId wait_any(long *status);
/* These go to the program manager of pid's logical host. */
long kill_program(ProcessId pid);
long suspend_program(ProcessId pid);
long resume_program(ProcessId pid);
/* pid 0: every remote program on this machine; flags: PM_MIGRATE_DESTROY */
long migrateprog(ProcessId pid, int flags);
/* Checkpoint the calling program to the file server every interval_ms (0: once, now; the
 * checkpoint is taken shortly after the call returns), so that its home restarts it from
 * there if its host crashes (docs/CHECKPOINT.md). Returns 0 or a negative error. */
long checkpoint(long interval_ms);
/* Remote fork: the calling program (one process) is copied into a new logical host on host
 * (a name, or "*" / NULL: any willing host but ours); returns the child's pid in the parent,
 * 0 in the child (both go on from the call), or a negative error. wait_program(pid) in the
 * parent gets the child's exit status. */
ProcessId rfork(const char *host);
/* The same with flags: RFORK_LAZY copies on reference (the child's pages come from the
 * parent's host when it first touches them) instead of every page at the fork. */
#define RFORK_LAZY 1
ProcessId rfork_flags(const char *host, int flags);

/* The program manager for a host name (NULL: ours, "*": any willing host
 * other than ours), or a negative error. With info non-NULL, the answer's
 * load (percent) and free memory (KB) are stored in info[0], info[1]. */
ProcessId query_host(const char *host, long *info);
/* PM_LIST: one line per program into buf; bytes written or -error.
 * pm 0: our own program manager. */
long list_programs(ProcessId pm, char *buf, unsigned long size);

/* a readable name for an error code (positive or negative) */
const char *verror(long err);

#endif
