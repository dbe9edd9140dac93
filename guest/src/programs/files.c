/* files: files at the file server, through vopen/vread/vwrite (vio.c).
 *
 *   files write NAME TEXT...   creates NAME with the words joined by spaces
 *                              and a '\n': "files: wrote N bytes to NAME"
 *   files append NAME TEXT...  the same at the end of NAME (created if
 *                              missing): "files: appended N bytes to NAME"
 *   files read NAME            prints the contents exactly, nothing else
 *   files list                 prints the file names, one a line, sorted
 *   files rm NAME              "files: removed NAME"
 *   files copy SRC DST         "files: copied N bytes from SRC to DST"
 *   files big NAME KB          writes KB KB of the pattern
 *                              byte i = (i * 7 + (i >> 8)) & 0xFF and prints
 *                              what "files check NAME" prints for it
 *   files check NAME           reads NAME in 4 KB pieces:
 *                              "files: NAME N bytes checksum 0xXXXXXXXX"
 * Checksums are Adler-32 (zlib's). Errors print "files: NAME: ERROR"
 * (ENOENT, ...) and exit 1; usage errors exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#include "adler32.h"

#define PIECE 4096UL
#define BIG_KB_MAX 16384
#define LIST_MAX (1024UL * 1024)

static unsigned char piece[PIECE];

static void __attribute__((noreturn)) fail(const char *name, long err)
{
    fflush(stdout);
    fprintf(stderr, "files: %s: %s\n", name, verror(err));
    exit(1);
}

static int open_or_fail(const char *name, int mode)
{
    int fd = vopen(name, mode);

    if (fd < 0)
        fail(name, fd);
    return fd;
}

static void write_or_fail(const char *name, int fd, const void *p, unsigned long n)
{
    long w = vwrite(fd, p, n);

    if (w < 0)
        fail(name, w);
    if ((unsigned long)w != n)
        fail(name, -EIO);
}

static void close_or_fail(const char *name, int fd)
{
    int r = vclose(fd);

    if (r < 0)
        fail(name, r);
}

/* write / append: the words joined by spaces, and a '\n'. */
static int put_text(const char *name, int mode, int nwords, char **words)
{
    unsigned long len = 1, at = 0;
    char *text;
    int i, fd;

    for (i = 0; i < nwords; i++)
        len += strlen(words[i]) + (i > 0);
    text = malloc(len);
    if (!text)
        fail(name, -ENOMEM);
    for (i = 0; i < nwords; i++) {
        unsigned long n = strlen(words[i]);
        if (i > 0)
            text[at++] = ' ';
        memcpy(text + at, words[i], n);
        at += n;
    }
    text[at] = '\n';

    fd = open_or_fail(name, mode);
    write_or_fail(name, fd, text, len);
    close_or_fail(name, fd);
    free(text);
    printf("files: %s %lu bytes to %s\n", mode == FS_MODE_APPEND ? "appended" : "wrote", len,
           name);
    return 0;
}

static int read_file(const char *name)
{
    int fd = open_or_fail(name, FS_MODE_READ);
    long n;

    while ((n = vread(fd, piece, PIECE)) > 0)
        fwrite(piece, 1, (size_t)n, stdout);
    if (n < 0)
        fail(name, n);
    close_or_fail(name, fd);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(void)
{
    unsigned long size = PIECE, count = 0, i;
    char *buf, *p, **names;
    long n;

    /* until the answer fits (a full buffer may have been cut short) */
    for (;;) {
        buf = malloc(size + 1);
        if (!buf)
            fail("list", -ENOMEM);
        n = vlist(buf, size);
        if (n < 0)
            fail("list", n);
        if ((unsigned long)n < size || size >= LIST_MAX)
            break;
        free(buf);
        size *= 2;
    }
    buf[n] = 0;
    for (p = buf; *p; p++)
        count += *p == '\n';
    names = malloc((count + 1) * sizeof(char *));
    if (!names)
        fail("list", -ENOMEM);
    count = 0;
    for (p = buf; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (*p)
            names[count++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    qsort(names, count, sizeof(char *), cmp_names);
    for (i = 0; i < count; i++)
        printf("%s\n", names[i]);
    free(names);
    free(buf);
    return 0;
}

static int remove_file(const char *name)
{
    int r = vremove(name);

    if (r < 0)
        fail(name, r);
    printf("files: removed %s\n", name);
    return 0;
}

static int copy_file(const char *src, const char *dst)
{
    int in = open_or_fail(src, FS_MODE_READ);
    int out = open_or_fail(dst, FS_MODE_WRITE);
    unsigned long total = 0;
    long n;

    while ((n = vread(in, piece, PIECE)) > 0) {
        write_or_fail(dst, out, piece, (unsigned long)n);
        total += (unsigned long)n;
    }
    if (n < 0)
        fail(src, n);
    close_or_fail(src, in);
    close_or_fail(dst, out);
    printf("files: copied %lu bytes from %s to %s\n", total, src, dst);
    return 0;
}

static int big_file(const char *name, unsigned long kb)
{
    int fd = open_or_fail(name, FS_MODE_WRITE);
    unsigned long total = kb * 1024, off, i, sum = ADLER32_INIT;

    for (off = 0; off < total; off += PIECE) {
        unsigned long n = total - off < PIECE ? total - off : PIECE;
        for (i = 0; i < n; i++)
            piece[i] = (unsigned char)(((off + i) * 7 + ((off + i) >> 8)) & 0xFF);
        sum = adler32(sum, piece, n);
        write_or_fail(name, fd, piece, n);
    }
    close_or_fail(name, fd);
    printf("files: %s %lu bytes checksum 0x%08lx\n", name, total, sum);
    return 0;
}

static int check_file(const char *name)
{
    int fd = open_or_fail(name, FS_MODE_READ);
    unsigned long total = 0, sum = ADLER32_INIT;
    long n;

    while ((n = vread(fd, piece, PIECE)) > 0) {
        sum = adler32(sum, piece, (unsigned long)n);
        total += (unsigned long)n;
    }
    if (n < 0)
        fail(name, n);
    close_or_fail(name, fd);
    printf("files: %s %lu bytes checksum 0x%08lx\n", name, total, sum);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: files write|append NAME TEXT... | read NAME | list | rm NAME |"
                    " copy SRC DST | big NAME KB | check NAME\n");
    return 2;
}

int main(int argc, char **argv, char **envp)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    if (!strcmp(cmd, "write") && argc >= 3)
        return put_text(argv[2], FS_MODE_WRITE, argc - 3, argv + 3);
    if (!strcmp(cmd, "append") && argc >= 3)
        return put_text(argv[2], FS_MODE_APPEND, argc - 3, argv + 3);
    if (!strcmp(cmd, "read") && argc == 3)
        return read_file(argv[2]);
    if (!strcmp(cmd, "list") && argc == 2)
        return list_files();
    if (!strcmp(cmd, "rm") && argc == 3)
        return remove_file(argv[2]);
    if (!strcmp(cmd, "copy") && argc == 4)
        return copy_file(argv[2], argv[3]);
    if (!strcmp(cmd, "big") && argc == 4) {
        char *end;
        long kb = strtol(argv[3], &end, 0);
        if (end == argv[3] || *end || kb < 0 || kb > BIG_KB_MAX)
            return usage();
        return big_file(argv[2], (unsigned long)kb);
    }
    if (!strcmp(cmd, "check") && argc == 3)
        return check_file(argv[2]);
    return usage();
}
