/* vio.h: the runtime's one I/O-protocol module (vio.c), shared by v.h's calls and the newlib stubs.
 *
 * Results are V results: a count or instance >= 0, or a negative V error
 * (-ENOENT, ...). vsys.c turns them into errno values; v.h's vopen/vread/...
 * return them as they are.
 */
#ifndef _VIO_H
#define _VIO_H

#include <v.h>

#define VFD_MAX 32

struct vfd {
    int used;
    int append;           /* writes go to the end (IO_WRITE), else at offset (FS_WRITE_AT) */
    ProcessId pid;        /* the server */
    long inst;            /* its instance */
    unsigned long offset; /* our position */
    unsigned long size;   /* what we know of the size (FS_OPEN's, and what we wrote) */
};

/* One request to server: the reply's long 1, or a negative error. */
long __vio_call(ProcessId server, Message *msg);
/* The file server: the venv's, else the kernel's (PID_FILE_SERVER). */
ProcessId __vio_file_server(void);
/* The open descriptor fd (0..2: the venv's stdin, stdout, stderr), or NULL. */
struct vfd *__vio_fd(int fd);
/* FS_OPEN: the instance (size in *size if not NULL) or an error. */
long __vio_fs_open(const char *name, int mode, unsigned long *size);
/* FS_OPEN into a new descriptor (3..): the descriptor or an error (-ENOMEM: table full). */
int __vio_open(const char *name, int mode, int append);
/* IO_CLOSE of a descriptor (0..2 stay open): 0 or an error (-EINVAL: not open). */
int __vio_close(int fd);
/* One IO_READ of at most n bytes at the descriptor's offset (advanced for files). */
long __vio_read(struct vfd *f, int fd, void *buf, unsigned long n);
/* IO_WRITE (or FS_WRITE_AT) requests of at most chunk bytes (0: all in one) until n are
 * written: the bytes written, or an error if none were. */
long __vio_write(struct vfd *f, int fd, const void *buf, unsigned long n, unsigned long chunk);
/* FS_REMOVE: 0 or an error. */
int __vio_remove(const char *name);

#endif
