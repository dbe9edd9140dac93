/* vio.c: descriptors over the V I/O protocol (docs/ABI.md, "I/O protocol").
 *
 * 0, 1, 2 are the venv's stdin, stdout and stderr servers; vopen gives 3..
 * for files at the file server. Each operation is one Send; the server
 * copies the data with MoveFrom / MoveTo while we await its reply.
 */
#include <stdio.h>
#include <string.h>
#include <v.h>

#define VFD_MAX 16

struct vfd {
    int used;
    ProcessId pid;
    long inst;
    unsigned long offset; /* next IO_READ offset */
    long size;            /* as FS_OPEN reported it */
};

static struct vfd files[VFD_MAX]; /* 0..2 unused: they live in the venv */

/* Resolve fd to (server, instance). 0 when fd is not open. */
static struct vfd *lookup(int fd, struct vfd *tmp)
{
    if (fd >= 3 && fd < VFD_MAX && files[fd].used)
        return &files[fd];
    tmp->used = 1;
    tmp->offset = 0;
    tmp->size = 0;
    switch (fd) {
    case 0:
        tmp->pid = _venv->stdin_pid;
        tmp->inst = _venv->stdin_inst;
        return tmp;
    case 1:
        tmp->pid = _venv->stdout_pid;
        tmp->inst = _venv->stdout_inst;
        return tmp;
    case 2:
        if (_venv->stderr_pid) {
            tmp->pid = _venv->stderr_pid;
            tmp->inst = _venv->stderr_inst;
        } else { /* no separate error output: use stdout */
            tmp->pid = _venv->stdout_pid;
            tmp->inst = _venv->stdout_inst;
        }
        return tmp;
    }
    return NULL;
}

/* One request: returns the reply's long 1, or a negative error. */
static long io_call(ProcessId server, Message *msg)
{
    ProcessId r = Send(msg, server);
    if (r < 0)
        return r;
    if (msg->m[0] < 0)
        return msg->m[0];
    return msg->m[1];
}

static ProcessId file_server(void)
{
    if (_venv->fileserver_pid)
        return _venv->fileserver_pid;
    return GetPid(PID_FILE_SERVER);
}

long write(int fd, const void *buf, size_t n)
{
    struct vfd tmp, *f = lookup(fd, &tmp);
    const char *p = buf;
    long total = 0;

    if (!f)
        return -EINVAL;
    while (n > 0) {
        Message msg = { { IO_WRITE, f->inst, (long)p, (long)n, 0, 0, 0, 0 } };
        long w = io_call(f->pid, &msg);
        if (w < 0)
            return total ? total : w;
        if (w == 0 || (unsigned long)w > n)
            break;
        total += w;
        p += w;
        n -= (size_t)w;
    }
    return total;
}

long read(int fd, void *buf, size_t n)
{
    struct vfd tmp, *f = lookup(fd, &tmp);
    Message msg = { { IO_READ, 0, (long)buf, (long)n, 0, 0, 0, 0 } };
    long r;

    if (!f)
        return -EINVAL;
    msg.m[1] = f->inst;
    msg.m[4] = (long)f->offset;
    r = io_call(f->pid, &msg);
    if (r > 0)
        f->offset += (unsigned long)r;
    return r;
}

long vwrite(int fd, const void *buf, unsigned long n)
{
    return write(fd, buf, n);
}

long vread(int fd, void *buf, unsigned long n)
{
    return read(fd, buf, n);
}

int vopen(const char *name, int mode)
{
    Message msg = { { FS_OPEN, (long)name, (long)strlen(name), mode, 0, 0, 0, 0 } };
    ProcessId server = file_server();
    long inst;
    int fd;

    for (fd = 3; fd < VFD_MAX && files[fd].used; fd++)
        ;
    if (fd == VFD_MAX)
        return -ENOMEM;
    if (server <= 0)
        return -ENOPROC;
    inst = io_call(server, &msg);
    if (inst < 0)
        return (int)inst;
    files[fd].used = 1;
    files[fd].pid = server;
    files[fd].inst = inst;
    files[fd].offset = 0;
    files[fd].size = msg.m[2];
    return fd;
}

long vsize(int fd)
{
    if (fd >= 3 && fd < VFD_MAX && files[fd].used)
        return files[fd].size;
    return -EINVAL;
}

int vclose(int fd)
{
    Message msg = { { IO_CLOSE, 0, 0, 0, 0, 0, 0, 0 } };
    long r;

    if (fd >= 0 && fd < 3)
        return 0;
    if (fd < 0 || fd >= VFD_MAX || !files[fd].used)
        return -EINVAL;
    msg.m[1] = files[fd].inst;
    r = io_call(files[fd].pid, &msg);
    files[fd].used = 0;
    return r < 0 ? (int)r : 0;
}

int vremove(const char *name)
{
    Message msg = { { FS_REMOVE, (long)name, (long)strlen(name), 0, 0, 0, 0, 0 } };
    long r = io_call(file_server(), &msg);
    return r < 0 ? (int)r : 0;
}

long vlist(char *buf, unsigned long size)
{
    Message msg = { { FS_LIST, (long)buf, (long)size, 0, 0, 0, 0, 0 } };
    return io_call(file_server(), &msg);
}
