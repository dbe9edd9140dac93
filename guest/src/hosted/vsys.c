/* vsys.c: the V system layer under newlib (libgloss-style stubs over the V I/O protocol).
 *
 * newlib calls _read, _write, _open, ... (built without MISSING_SYSCALL_NAMES
 * and without supplied syscalls); each one here is a V operation: a Send to
 * the display server (descriptors 0, 1, 2 are the venv's stdin, stdout and
 * stderr) or to the file server (descriptors 3.. are file-server instances),
 * which copies the data with MoveFrom/MoveTo while we await its reply.
 * V reply codes become errno values. Time is the V clock (virtual time since
 * boot) plus a fixed epoch, so a run repeats exactly. docs/ABI.md, "Hosted C".
 */
#include <v.h>

/* v.h's error names are the V codes; newlib's errno.h uses the same names for
 * POSIX values. Keep the V ones under other names, then take newlib's. */
enum {
    V_OK = OK, V_EBADCALL = EBADCALL, V_EFAULT = EFAULT, V_ENOPROC = ENOPROC,
    V_ENOMEM = ENOMEM, V_ENOTAWAITING = ENOTAWAITING, V_ETIMEOUT = ETIMEOUT,
    V_EINVAL = EINVAL, V_ENOENT = ENOENT, V_EIO = EIO, V_EKILLED = EKILLED,
};
#undef OK
#undef EBADCALL
#undef EFAULT
#undef ENOPROC
#undef ENOMEM
#undef ENOTAWAITING
#undef ETIMEOUT
#undef EINVAL
#undef ENOENT
#undef EIO
#undef EKILLED

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/types.h>
#include <unistd.h>

#undef errno
extern int errno;
extern unsigned long __vtime(unsigned long *us);

/* 1985-12-01 00:00:00 UTC: the V clock's zero as the C library sees it */
#define V_EPOCH 502243200L

#define VFD_MAX 32
#define IO_CHUNK 32768L /* the file server moves at most this much a request */

struct vfd {
    int used;
    int append;           /* O_APPEND: every write goes to the end */
    ProcessId pid;        /* the server */
    long inst;            /* its instance */
    unsigned long offset; /* our position */
    unsigned long size;   /* what we know of the size */
};

static struct vfd files[VFD_MAX];

static int v_errno(long v)
{
    switch ((int)-v) {
    case V_EBADCALL: return ENOSYS;
    case V_EFAULT: return EFAULT;
    case V_ENOPROC: return ESRCH;
    case V_ENOMEM: return ENOMEM;
    case V_ENOTAWAITING: return EAGAIN;
    case V_ETIMEOUT: return ETIMEDOUT;
    case V_EINVAL: return EINVAL;
    case V_ENOENT: return ENOENT;
    case V_EIO: return EIO;
    case V_EKILLED: return EINTR;
    default: return EIO;
    }
}

/* a V result < 0 sets errno and gives -1 */
static long fail(long v)
{
    errno = v_errno(v);
    return -1;
}

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

/* Descriptors 0..2 are the venv's servers; they are open unless it has none. */
static struct vfd *fd_of(int fd)
{
    static struct vfd std;
    if (fd >= 3 && fd < VFD_MAX)
        return files[fd].used ? &files[fd] : NULL;
    if (fd < 0 || fd >= 3)
        return NULL;
    memset(&std, 0, sizeof std);
    std.used = 1;
    if (fd == 0) {
        std.pid = _venv->stdin_pid;
        std.inst = _venv->stdin_inst;
    } else if (fd == 2 && _venv->stderr_pid) {
        std.pid = _venv->stderr_pid;
        std.inst = _venv->stderr_inst;
    } else {
        std.pid = _venv->stdout_pid;
        std.inst = _venv->stdout_inst;
    }
    return std.pid ? &std : NULL;
}

static long fs_open(const char *name, int mode, unsigned long *size)
{
    Message msg = { { FS_OPEN, (long)name, (long)strlen(name), mode, 0, 0, 0, 0 } };
    ProcessId server = file_server();
    long inst;
    if (server <= 0)
        return -V_ENOPROC;
    inst = io_call(server, &msg);
    if (inst >= 0 && size)
        *size = (unsigned long)msg.m[2];
    return inst;
}

static void fs_close(long inst)
{
    Message msg = { { IO_CLOSE, inst, 0, 0, 0, 0, 0, 0 } };
    io_call(file_server(), &msg);
}

int _open(const char *name, int flags, ...)
{
    int fd, acc = flags & O_ACCMODE, mode;
    unsigned long size = 0;
    long inst;

    if (!name || !*name) {
        errno = ENOENT;
        return -1;
    }
    for (fd = 3; fd < VFD_MAX && files[fd].used; fd++)
        ;
    if (fd == VFD_MAX) {
        errno = EMFILE;
        return -1;
    }
    if ((flags & O_EXCL) && (flags & O_CREAT)) {
        inst = fs_open(name, FS_MODE_READ, &size);
        if (inst >= 0) {
            fs_close(inst);
            errno = EEXIST;
            return -1;
        }
    }
    if (acc == O_RDONLY)
        mode = FS_MODE_READ;
    else if (flags & O_TRUNC)
        mode = FS_MODE_WRITE; /* created empty */
    else if (flags & O_CREAT)
        mode = FS_MODE_APPEND; /* created if absent, kept if present */
    else {
        /* write without O_CREAT: the file must exist */
        inst = fs_open(name, FS_MODE_READ, &size);
        if (inst < 0)
            return (int)fail(inst);
        fs_close(inst);
        mode = FS_MODE_APPEND;
    }
    inst = fs_open(name, mode, &size);
    if (inst < 0)
        return (int)fail(inst);
    files[fd].used = 1;
    files[fd].append = (flags & O_APPEND) != 0;
    files[fd].pid = file_server();
    files[fd].inst = inst;
    files[fd].offset = 0;
    files[fd].size = size;
    return fd;
}

int _close(int fd)
{
    Message msg = { { IO_CLOSE, 0, 0, 0, 0, 0, 0, 0 } };
    long r;
    if (fd >= 0 && fd < 3)
        return 0;
    if (fd < 3 || fd >= VFD_MAX || !files[fd].used) {
        errno = EBADF;
        return -1;
    }
    msg.m[1] = files[fd].inst;
    r = io_call(files[fd].pid, &msg);
    files[fd].used = 0;
    return r < 0 ? (int)fail(r) : 0;
}

_ssize_t _read(int fd, void *buf, size_t n)
{
    struct vfd *f = fd_of(fd);
    char *p = buf;
    long total = 0;

    if (!f) {
        errno = EBADF;
        return -1;
    }
    while (n > 0) {
        long want = n > (size_t)IO_CHUNK ? IO_CHUNK : (long)n, r;
        Message msg = { { IO_READ, f->inst, (long)p, want, (long)f->offset, 0, 0, 0 } };
        r = io_call(f->pid, &msg);
        if (r < 0)
            return total ? total : fail(r);
        if (r == 0 || r > want)
            break;
        total += r;
        p += r;
        n -= (size_t)r;
        if (fd >= 3)
            f->offset += (unsigned long)r;
        if (fd < 3 || r < want)
            break; /* a terminal gives a line at a time; a short file read is the end */
    }
    return total;
}

_ssize_t _write(int fd, const void *buf, size_t n)
{
    struct vfd *f = fd_of(fd);
    const char *p = buf;
    long total = 0;

    if (!f) {
        errno = EBADF;
        return -1;
    }
    while (n > 0) {
        long want = n > (size_t)IO_CHUNK ? IO_CHUNK : (long)n, w;
        Message msg = { { IO_WRITE, f->inst, (long)p, want, 0, 0, 0, 0 } };
        if (fd >= 3) {
            if (f->append)
                f->offset = f->size; /* the file server's instance writes at the end */
            else {
                msg.m[0] = FS_WRITE_AT;
                msg.m[4] = (long)f->offset;
            }
        }
        w = io_call(f->pid, &msg);
        if (w < 0)
            return total ? total : fail(w);
        if (w == 0 || w > want)
            break;
        total += w;
        p += w;
        n -= (size_t)w;
        if (fd >= 3) {
            f->offset += (unsigned long)w;
            if (f->offset > f->size)
                f->size = f->offset;
        }
    }
    return total;
}

off_t _lseek(int fd, off_t off, int whence)
{
    struct vfd *f = fd_of(fd);
    long base;
    if (!f) {
        errno = EBADF;
        return -1;
    }
    if (fd < 3) {
        errno = ESPIPE;
        return -1;
    }
    base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (long)f->offset
         : whence == SEEK_END ? (long)f->size : -1;
    if (base < 0 || base + off < 0) {
        errno = EINVAL;
        return -1;
    }
    f->offset = (unsigned long)(base + off);
    return (off_t)f->offset;
}

int _fstat(int fd, struct stat *st)
{
    struct vfd *f = fd_of(fd);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    memset(st, 0, sizeof *st);
    if (fd < 3) {
        st->st_mode = S_IFCHR | 0620;
    } else {
        st->st_mode = S_IFREG | 0644;
        st->st_size = (off_t)f->size;
    }
    st->st_nlink = 1;
    st->st_blksize = 1024;
    return 0;
}

int _stat(const char *name, struct stat *st)
{
    unsigned long size = 0;
    long inst = fs_open(name, FS_MODE_READ, &size);
    if (inst < 0)
        return (int)fail(inst);
    fs_close(inst);
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0644;
    st->st_size = (off_t)size;
    st->st_nlink = 1;
    st->st_blksize = 1024;
    return 0;
}

int _isatty(int fd)
{
    if (fd >= 0 && fd < 3 && fd_of(fd))
        return 1;
    errno = fd_of(fd) ? ENOTTY : EBADF;
    return 0;
}

int _unlink(const char *name)
{
    Message msg = { { FS_REMOVE, (long)name, (long)strlen(name), 0, 0, 0, 0, 0 } };
    long r = io_call(file_server(), &msg);
    return r < 0 ? (int)fail(r) : 0;
}

int _link(const char *old, const char *new)
{
    (void)old;
    (void)new;
    errno = EMLINK; /* the file server has no links */
    return -1;
}

/* The file server has no rename: copy, then remove the old name. */
int _rename(const char *old, const char *new)
{
    static char buf[4096];
    int in, out;
    long n = 0;

    if (strcmp(old, new) == 0)
        return 0;
    in = _open(old, O_RDONLY);
    if (in < 0)
        return -1;
    out = _open(new, O_WRONLY | O_CREAT | O_TRUNC);
    if (out < 0) {
        _close(in);
        return -1;
    }
    while ((n = _read(in, buf, sizeof buf)) > 0)
        if (_write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    _close(in);
    _close(out);
    if (n < 0)
        return -1;
    return _unlink(old);
}

int rename(const char *old, const char *new)
{
    return _rename(old, new);
}

void *_sbrk(ptrdiff_t incr)
{
    void *p = sbrk((long)incr);
    if (p == (void *)-1)
        errno = ENOMEM;
    return p;
}

int _getpid(void)
{
    return (int)GetPid(PID_SELF);
}

int _kill(int pid, int sig)
{
    if (pid == _getpid()) {
        extern void _exit(int) __attribute__((noreturn));
        _exit(128 + (sig & 0x7F));
    }
    errno = EPERM;
    return -1;
}

/* CPU time is not kept per process: a program sees virtual time since boot.
 * times() counts in 1/HZ s with HZ = 60, as on a Sun (hosted.py predefines HZ,
 * newlib's <sys/param.h> says the same); clock() counts in 1/CLOCKS_PER_SEC s
 * (1000 on this target), so it does not go through times(). */
clock_t _times(struct tms *t)
{
    unsigned long ms = (unsigned long)GetTime();
    clock_t now = (clock_t)(ms / 50 * 3 + ms % 50 * 3 / 50); /* ms * 60 / 1000, no overflow */
    if (t) {
        t->tms_utime = now;
        t->tms_stime = 0;
        t->tms_cutime = 0;
        t->tms_cstime = 0;
    }
    return now;
}

clock_t clock(void)
{
    return (clock_t)GetTime();
}

int _gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    if (tv) {
        unsigned long us = 0, ms = __vtime(&us);
        tv->tv_sec = V_EPOCH + (long)(ms / 1000);
        tv->tv_usec = (long)(ms % 1000) * 1000 + (long)us;
    }
    return 0;
}

int _mkdir(const char *path, mode_t mode)
{
    (void)path;
    (void)mode;
    errno = ENOSYS; /* the file server's names are flat */
    return -1;
}

int mkdir(const char *path, mode_t mode)
{
    return _mkdir(path, mode);
}

/* newlib's __libc_init_array/__libc_fini_array call these (no crti/crtn here) */
void _init(void) {}
void _fini(void) {}

/* The POSIX names a program calls (newlib itself calls the underscored ones). */
int open(const char *name, int flags, ...) __attribute__((alias("_open")));
int close(int fd) __attribute__((alias("_close")));
_ssize_t read(int fd, void *buf, size_t n) __attribute__((alias("_read")));
_ssize_t write(int fd, const void *buf, size_t n) __attribute__((alias("_write")));
off_t lseek(int fd, off_t off, int whence) __attribute__((alias("_lseek")));
int fstat(int fd, struct stat *st) __attribute__((alias("_fstat")));
int stat(const char *name, struct stat *st) __attribute__((alias("_stat")));
int isatty(int fd) __attribute__((alias("_isatty")));
int unlink(const char *name) __attribute__((alias("_unlink")));
int link(const char *old, const char *new) __attribute__((alias("_link")));
pid_t getpid(void) __attribute__((alias("_getpid")));
int kill(pid_t pid, int sig) __attribute__((alias("_kill")));
clock_t times(struct tms *t) __attribute__((alias("_times")));
int gettimeofday(struct timeval *tv, void *tz) __attribute__((alias("_gettimeofday")));
