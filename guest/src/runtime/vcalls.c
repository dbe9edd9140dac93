/* vcalls.c: the V kernel calls as C functions (trap #0 through syscall.S), and verror. */
#include <v.h>

/* Used when the kernel passed no (valid) environment block (start.c sets _venv). */
static struct venv __no_venv = { VENV_MAGIC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

struct venv *_venv = &__no_venv;

ProcessId Send(Message *msg, ProcessId pid)
{
    return __vsyscall(SYS_SEND, (long)msg, pid, 0, 0, 0);
}

ProcessId Receive(Message *msg)
{
    return __vsyscall(SYS_RECEIVE, (long)msg, 0, 0, 0, 0);
}

ProcessId ReceiveWithTimeout(Message *msg, long ms)
{
    return __vsyscall(SYS_RECEIVE_TIMEOUT, (long)msg, ms, 0, 0, 0);
}

long Reply(Message *msg, ProcessId pid)
{
    return __vsyscall(SYS_REPLY, (long)msg, pid, 0, 0, 0);
}

long Forward(Message *msg, ProcessId from, ProcessId to)
{
    return __vsyscall(SYS_FORWARD, (long)msg, from, to, 0, 0);
}

long MoveTo(ProcessId dst, void *dst_addr, const void *src_addr, unsigned long count)
{
    return __vsyscall(SYS_MOVETO, dst, (long)dst_addr, (long)src_addr, (long)count, 0);
}

long MoveFrom(ProcessId src, void *dst_addr, const void *src_addr, unsigned long count)
{
    return __vsyscall(SYS_MOVEFROM, src, (long)dst_addr, (long)src_addr, (long)count, 0);
}

ProcessId GetPid(int which)
{
    return __vsyscall(SYS_GETPID, which, 0, 0, 0, 0);
}

long JoinGroup(ProcessId group)
{
    return __vsyscall(SYS_JOINGROUP, group, 0, 0, 0, 0);
}

long LeaveGroup(ProcessId group)
{
    return __vsyscall(SYS_LEAVEGROUP, group, 0, 0, 0, 0);
}

ProcessId SendGroup(Message *msg, ProcessId group)
{
    return __vsyscall(SYS_SEND_GROUP, (long)msg, group, 0, 0, 0);
}

extern unsigned long __vtime(unsigned long *us);

unsigned long GetTime(void)
{
    unsigned long us;
    return __vtime(&us);
}

unsigned long GetTimeUs(void)
{
    unsigned long us;
    unsigned long ms = __vtime(&us);
    return ms * 1000UL + us;
}

long Delay(unsigned long ms)
{
    return __vsyscall(SYS_DELAY, (long)ms, 0, 0, 0, 0);
}

void *sbrk(ptrdiff_t increment)
{
    long old = __vsyscall(SYS_SBRK, increment, 0, 0, 0, 0);
    if (old < 0)
        return (void *)-1;
    return (void *)old;
}

const char *verror(long err)
{
    static const char *const names[] = {
        "OK", "EBADCALL", "EFAULT", "ENOPROC", "ENOMEM", "ENOTAWAITING",
        "ETIMEOUT", "EINVAL", "ENOENT", "EIO", "EKILLED", "EPERM",
    };
    if (err < 0)
        err = -err;
    if (err < (long)(sizeof(names) / sizeof(names[0])))
        return names[err];
    return "E?";
}
