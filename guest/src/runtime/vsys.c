/* vsys.c: the V system layer under newlib (libgloss-style stubs over the V I/O protocol).
 *
 * newlib calls _read, _write, _open, ... (built without MISSING_SYSCALL_NAMES
 * and without supplied syscalls); each one here is a V operation of vio.c,
 * the runtime's one descriptor table: a Send to the display server
 * (descriptors 0, 1, 2 are the venv's stdin, stdout and stderr) or to the
 * file server (descriptors 3.. are file-server instances, shared with v.h's
 * vopen/vread/...). V reply codes become errno values. Time is the V clock (virtual time since
 * boot) plus a fixed epoch, so a run repeats exactly. docs/ABI.md, "Hosted C".
 */
#include "vio.h"

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

#define IO_CHUNK 32768L /* the file server moves at most this much a request */

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

#define fd_of __vio_fd
#define fs_open __vio_fs_open

static void fs_close(long inst)
{
    Message msg = { { IO_CLOSE, inst, 0, 0, 0, 0, 0, 0 } };
    __vio_call(__vio_file_server(), &msg);
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
    fd = __vio_open(name, mode, (flags & O_APPEND) != 0);
    if (fd == -V_ENOMEM) {
        errno = EMFILE;
        return -1;
    }
    return fd < 0 ? (int)fail(fd) : fd;
}

int _close(int fd)
{
    int r = __vio_close(fd);
    if (r == -V_EINVAL) {
        errno = EBADF;
        return -1;
    }
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
        long want = n > (size_t)IO_CHUNK ? IO_CHUNK : (long)n;
        long r = __vio_read(f, fd, p, (unsigned long)want);
        if (r < 0)
            return total ? total : fail(r);
        if (r == 0 || r > want)
            break;
        total += r;
        p += r;
        n -= (size_t)r;
        if (fd < 3 || r < want)
            break; /* a terminal gives a line at a time; a short file read is the end */
    }
    return total;
}

_ssize_t _write(int fd, const void *buf, size_t n)
{
    struct vfd *f = fd_of(fd);
    long w;

    if (!f) {
        errno = EBADF;
        return -1;
    }
    w = __vio_write(f, fd, buf, n, IO_CHUNK);
    return w < 0 ? fail(w) : w;
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
    int r = __vio_remove(name);
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
