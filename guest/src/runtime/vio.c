/* vio.c: descriptors over the V I/O protocol (docs/ABI.md, "I/O protocol"), and v.h's file calls.
 *
 * 0, 1, 2 are the venv's stdin, stdout and stderr servers (the display
 * server); 3.. are file-server instances (vopen, or open() through vsys.c).
 * Each operation is a Send; the server copies the data with MoveFrom /
 * MoveTo while we await its reply. The newlib stubs (vsys.c) and v.h's
 * vopen/vread/vwrite/vclose/vremove/vlist/vsize share this one table.
 */
#include <string.h>

#include "vio.h"

static struct vfd files[VFD_MAX]; /* 0..2 unused: they live in the venv */

long __vio_call(ProcessId server, Message *msg)
{
    ProcessId r = Send(msg, server);
    if (r < 0)
        return r;
    if (msg->m[0] < 0)
        return msg->m[0];
    return msg->m[1];
}

ProcessId __vio_file_server(void)
{
    if (_venv->fileserver_pid)
        return _venv->fileserver_pid;
    return GetPid(PID_FILE_SERVER);
}

struct vfd *__vio_fd(int fd)
{
    static struct vfd std;
    if (fd >= 3 && fd < VFD_MAX)
        return files[fd].used ? &files[fd] : NULL;
    if (fd < 0 || fd >= 3)
        return NULL;
    memset(&std, 0, sizeof std);
    std.used = 1;
    std.append = 1;
    if (fd == 0) {
        std.pid = _venv->stdin_pid;
        std.inst = _venv->stdin_inst;
    } else if (fd == 2 && _venv->stderr_pid) {
        std.pid = _venv->stderr_pid;
        std.inst = _venv->stderr_inst;
    } else { /* stdout, and stderr when there is no separate error output */
        std.pid = _venv->stdout_pid;
        std.inst = _venv->stdout_inst;
    }
    return std.pid ? &std : NULL;
}

long __vio_fs_open(const char *name, int mode, unsigned long *size)
{
    Message msg = { { FS_OPEN, (long)name, (long)strlen(name), mode, 0, 0, 0, 0 } };
    ProcessId server = __vio_file_server();
    long inst;
    if (server <= 0)
        return -ENOPROC;
    inst = __vio_call(server, &msg);
    if (inst >= 0 && size)
        *size = (unsigned long)msg.m[2];
    return inst;
}

int __vio_open(const char *name, int mode, int append)
{
    unsigned long size = 0;
    long inst;
    int fd;

    for (fd = 3; fd < VFD_MAX && files[fd].used; fd++)
        ;
    if (fd == VFD_MAX)
        return -ENOMEM;
    inst = __vio_fs_open(name, mode, &size);
    if (inst < 0)
        return (int)inst;
    files[fd].used = 1;
    files[fd].append = append;
    files[fd].pid = __vio_file_server();
    files[fd].inst = inst;
    files[fd].offset = 0;
    files[fd].size = size;
    return fd;
}

int __vio_close(int fd)
{
    Message msg = { { IO_CLOSE, 0, 0, 0, 0, 0, 0, 0 } };
    long r;

    if (fd >= 0 && fd < 3)
        return 0;
    if (fd < 0 || fd >= VFD_MAX || !files[fd].used)
        return -EINVAL;
    msg.m[1] = files[fd].inst;
    r = __vio_call(files[fd].pid, &msg);
    files[fd].used = 0;
    return r < 0 ? (int)r : 0;
}

long __vio_read(struct vfd *f, int fd, void *buf, unsigned long n)
{
    Message msg = { { IO_READ, f->inst, (long)buf, (long)n, (long)f->offset, 0, 0, 0 } };
    long r = __vio_call(f->pid, &msg);
    if (r > 0 && fd >= 3)
        f->offset += (unsigned long)r;
    return r;
}

long __vio_write(struct vfd *f, int fd, const void *buf, unsigned long n, unsigned long chunk)
{
    const char *p = buf;
    long total = 0;

    while (n > 0) {
        unsigned long want = chunk && n > chunk ? chunk : n;
        Message msg = { { IO_WRITE, f->inst, (long)p, (long)want, 0, 0, 0, 0 } };
        long w;
        if (fd >= 3) {
            if (f->append)
                f->offset = f->size; /* the file server's instance writes at the end */
            else {
                msg.m[0] = FS_WRITE_AT;
                msg.m[4] = (long)f->offset;
            }
        }
        w = __vio_call(f->pid, &msg);
        if (w < 0)
            return total ? total : w;
        if (w == 0 || (unsigned long)w > want)
            break;
        total += w;
        p += w;
        n -= (unsigned long)w;
        if (fd >= 3) {
            f->offset += (unsigned long)w;
            if (f->offset > f->size)
                f->size = f->offset;
        }
    }
    return total;
}

int __vio_remove(const char *name)
{
    Message msg = { { FS_REMOVE, (long)name, (long)strlen(name), 0, 0, 0, 0, 0 } };
    long r = __vio_call(__vio_file_server(), &msg);
    return r < 0 ? (int)r : 0;
}

/* ---- v.h's file calls: V results, no errno ---- */

int vopen(const char *name, int mode)
{
    return __vio_open(name, mode, mode != FS_MODE_READ);
}

long vread(int fd, void *buf, unsigned long n)
{
    struct vfd *f = __vio_fd(fd);
    return f ? __vio_read(f, fd, buf, n) : -EINVAL;
}

long vwrite(int fd, const void *buf, unsigned long n)
{
    struct vfd *f = __vio_fd(fd);
    return f ? __vio_write(f, fd, buf, n, 0) : -EINVAL;
}

int vclose(int fd)
{
    return __vio_close(fd);
}

int vremove(const char *name)
{
    return __vio_remove(name);
}

long vlist(char *buf, unsigned long size)
{
    Message msg = { { FS_LIST, (long)buf, (long)size, 0, 0, 0, 0, 0 } };
    return __vio_call(__vio_file_server(), &msg);
}

long vsize(int fd)
{
    if (fd >= 3 && fd < VFD_MAX && files[fd].used)
        return (long)files[fd].size;
    return -EINVAL;
}
