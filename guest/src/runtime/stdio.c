/* stdio.c: stdout and stderr over write() (IO_WRITE to the venv servers),
 * and the printf family.
 *
 * stdout collects output in a buffer and writes it when a call has output a
 * '\n', when the buffer is full, on fflush and at exit. stderr writes at the
 * end of every call. Each write is one IO_WRITE message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef void (*emit_fn)(void *ctx, const char *s, size_t n);
int __vformat(emit_fn emit, void *ctx, const char *fmt, va_list ap);

struct __vfile {
    int fd;
    int unbuffered; /* write at the end of every call */
    int newline;    /* a '\n' went into the buffer during this call */
    int error;
    size_t len;
    char buf[BUFSIZ];
};

static struct __vfile stdout_file, stderr_file;
FILE *stdout = &stdout_file;
FILE *stderr = &stderr_file;

void __stdio_init(void)
{
    stdout_file.fd = 1;
    stderr_file.fd = 2;
    stderr_file.unbuffered = 1;
}

int fflush(FILE *f)
{
    if (!f) {
        int a = fflush(stdout), b = fflush(stderr);
        return a ? a : b;
    }
    f->newline = 0;
    if (f->len) {
        long n = write(f->fd, f->buf, f->len);
        int failed = n != (long)f->len;
        f->len = 0;
        if (failed) {
            f->error = 1;
            return EOF;
        }
    }
    return 0;
}

static void file_emit(void *ctx, const char *s, size_t n)
{
    FILE *f = ctx;

    while (n) {
        size_t room = BUFSIZ - f->len;
        size_t k = n < room ? n : room;
        if (!f->newline && memchr(s, '\n', k))
            f->newline = 1;
        memcpy(f->buf + f->len, s, k);
        f->len += k;
        s += k;
        n -= k;
        if (f->len == BUFSIZ)
            fflush(f);
    }
}

/* The end of every stdio call. */
static void file_done(FILE *f)
{
    if (f->unbuffered || f->newline)
        fflush(f);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    int n = __vformat(file_emit, f, fmt, ap);
    file_done(f);
    return n;
}

int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *fmt, va_list ap)
{
    return vfprintf(stdout, fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

struct sbuf {
    char *buf;
    size_t size; /* room, the final NUL included */
    size_t len;
};

static void sbuf_emit(void *ctx, const char *s, size_t n)
{
    struct sbuf *b = ctx;
    if (b->len < b->size) {
        size_t room = b->size - 1 - b->len;
        memcpy(b->buf + b->len, s, n < room ? n : room);
    }
    b->len += n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sbuf b = { buf, size, 0 };
    int n = __vformat(sbuf_emit, &b, fmt, ap);
    if (size)
        buf[b.len < size ? b.len : size - 1] = 0;
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
    return vsnprintf(buf, 0x7fffffff, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, 0x7fffffff, fmt, ap);
    va_end(ap);
    return n;
}

int fputc(int c, FILE *f)
{
    char ch = (char)c;
    file_emit(f, &ch, 1);
    file_done(f);
    return f->error ? EOF : (unsigned char)ch;
}

int putc(int c, FILE *f)
{
    return fputc(c, f);
}

int putchar(int c)
{
    return fputc(c, stdout);
}

int fputs(const char *s, FILE *f)
{
    file_emit(f, s, strlen(s));
    file_done(f);
    return f->error ? EOF : 0;
}

int puts(const char *s)
{
    file_emit(stdout, s, strlen(s));
    file_emit(stdout, "\n", 1);
    file_done(stdout);
    return stdout->error ? EOF : 0;
}

size_t fwrite(const void *p, size_t size, size_t count, FILE *f)
{
    size_t n = size * count;
    file_emit(f, p, n);
    file_done(f);
    return f->error ? 0 : count;
}
