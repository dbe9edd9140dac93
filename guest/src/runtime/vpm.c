/* vpm.c: programs through the program managers (docs/ABI.md, "Program
 * manager"). PM_EXEC goes to the manager of the machine that will run the
 * program (ours, or the one a PM_QUERY_HOST to the program manager group
 * found); PM_WAIT to our own manager (exit statuses come back to the
 * creator's); kill, suspend, resume and migrate to the local program manager
 * group of the program's logical host, which follows it when it migrates. */
#include <stdlib.h>
#include <string.h>
#include <v.h>

#include "vio.h"

/* Send a request; the reply's long 1, or a negative error (the I/O protocol's convention). */
#define pm_send __vio_call

static long pm_call(ProcessId to, long code, long a1, long a2, long a3)
{
    Message msg = { { code, a1, a2, a3, 0, 0, 0, 0 } };
    return pm_send(to, &msg);
}

ProcessId query_host(const char *host, long *info)
{
    Message msg = { { PM_QUERY_HOST, 0, 0, 0, 0, 0, 0, 0 } };
    ProcessId r;

    if (!host)
        return GetPid(PID_PROGRAM_MANAGER);
    if (strcmp(host, "*") != 0) {
        /* the name travels in the message itself: bytes 8..31 */
        size_t n = strlen(host);
        if (n == 0 || n > PM_QUERY_NAME_MAX)
            return -EINVAL;
        msg.m[1] = (long)n;
        memcpy(&msg.m[2], host, n);
    }
    r = SendGroup(&msg, PROGRAM_MANAGER_GROUP);
    if (r < 0)
        return r;
    if (msg.m[0] < 0)
        return msg.m[0];
    if (info) {
        info[0] = msg.m[2];
        info[1] = msg.m[3];
    }
    return msg.m[1] ? msg.m[1] : r; /* the manager named in the reply, else the replier */
}

ProcessId remote_exec(char *const argv[], const char *host)
{
    Message msg = { { PM_EXEC, 0, 0, 0, 0, 0, 0, 0 } };
    ProcessId pm;
    unsigned long len = 1; /* the final empty string */
    char *block, *p;
    long r;
    int i;

    if (!argv || !argv[0])
        return -EINVAL;
    pm = query_host(host, NULL);
    if (pm < 0)
        return pm;
    if (pm == 0)
        return -ENOPROC;
    for (i = 0; argv[i]; i++)
        len += strlen(argv[i]) + 1;
    block = malloc(len);
    if (!block)
        return -ENOMEM;
    for (p = block, i = 0; argv[i]; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(p, argv[i], n);
        p += n;
    }
    *p = 0;
    msg.m[1] = (long)block;
    msg.m[2] = (long)len;
    msg.m[3] = 0; /* flags: do not wait */
    msg.m[4] = _venv->stdout_pid;
    msg.m[5] = _venv->stdout_inst;
    msg.m[6] = _venv->stdin_pid;
    msg.m[7] = _venv->stdin_inst;
    r = pm_send(pm, &msg);
    free(block);
    return r;
}

long wait_program(ProcessId pid)
{
    return pm_call(GetPid(PID_PROGRAM_MANAGER), PM_WAIT, pid, 0, 0);
}

ProcessId wait_any(long *status)
{
    Message msg = { { PM_WAIT, 0, 0, 0, 0, 0, 0, 0 } }; /* pid 0: any child */
    ProcessId r = Send(&msg, GetPid(PID_PROGRAM_MANAGER));

    if (r < 0)
        return r;
    if (msg.m[0] < 0)
        return msg.m[0];
    if (status)
        *status = msg.m[1];
    return msg.m[2];
}

long list_programs(ProcessId pm, char *buf, unsigned long size)
{
    return pm_call(pm ? pm : GetPid(PID_PROGRAM_MANAGER), PM_LIST, (long)buf, (long)size, 0);
}

static long pm_simple(ProcessId pid, long code)
{
    long r = pm_call(local_program_manager_of(pid), code, pid, 0, 0);
    return r < 0 ? r : 0;
}

long kill_program(ProcessId pid)
{
    return pm_simple(pid, PM_KILL);
}

long suspend_program(ProcessId pid)
{
    return pm_simple(pid, PM_SUSPEND);
}

long resume_program(ProcessId pid)
{
    return pm_simple(pid, PM_RESUME);
}

long checkpoint(long interval_ms)
{
    ProcessId self = GetPid(PID_SELF);
    long r = pm_call(local_program_manager_of(self), PM_CHECKPOINT, 0, interval_ms, 0);
    return r < 0 ? r : 0;
}

ProcessId rfork_flags(const char *host, int flags)
{
    ProcessId to = query_host(host ? host : "*", 0);
    if (to < 0)
        return to;
    return pm_call(local_program_manager_of(GetPid(PID_SELF)), PM_RFORK, to, flags, 0);
}

ProcessId rfork(const char *host)
{
    return rfork_flags(host, 0);
}

long migrateprog(ProcessId pid, int flags)
{
    ProcessId to = pid ? local_program_manager_of(pid) : GetPid(PID_PROGRAM_MANAGER);
    long r = pm_call(to, PM_MIGRATE, pid, flags, 0);
    return r < 0 ? r : 0;
}
