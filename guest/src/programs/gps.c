/* gps [HOST]: a guest-side ps. Asks a program manager for its programs
 * (PM_LIST: "pid name host lhid state cpu_ms mem_kb" a line) and prints
 * "name state" for each, sorted by name (then state): pids, hosts and
 * times are left out, so the output does not depend on timing. Without
 * HOST, our own machine's program manager; with HOST, that host's (found
 * with query_host). Exit status 1 when the manager cannot be reached. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#define LIST_MAX (256UL * 1024)
#define FIELDS 5 /* pid name host lhid state */

struct entry {
    char *name;
    char *state;
};

static int cmp_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->state, y->state);
}

/* Split line into at most max whitespace-separated fields; their count. */
static int split(char *line, char **field, int max)
{
    int n = 0;

    while (n < max) {
        while (isspace((unsigned char)*line))
            line++;
        if (!*line)
            break;
        field[n++] = line;
        while (*line && !isspace((unsigned char)*line))
            line++;
        if (*line)
            *line++ = 0;
    }
    return n;
}

int main(int argc, char **argv, char **envp)
{
    unsigned long size = 4096, lines = 0, count = 0, i;
    struct entry *entries;
    ProcessId pm = 0;
    char *buf, *p;
    long n;

    if (argc > 2) {
        fprintf(stderr, "usage: gps [host]\n");
        return 2;
    }
    if (argc == 2) {
        pm = query_host(argv[1], NULL);
        if (pm <= 0) {
            fprintf(stderr, "gps: %s: %s\n", argv[1], verror(pm ? pm : -ENOPROC));
            return 1;
        }
    }
    /* until the answer fits (a full buffer may have been cut short) */
    for (;;) {
        buf = malloc(size + 1);
        if (!buf) {
            fprintf(stderr, "gps: out of memory\n");
            return 1;
        }
        n = list_programs(pm, buf, size);
        if (n < 0) {
            fprintf(stderr, "gps: %s\n", verror(n));
            return 1;
        }
        if ((unsigned long)n < size || size >= LIST_MAX)
            break;
        free(buf);
        size *= 2;
    }
    buf[n] = 0;
    for (p = buf; *p; p++)
        lines += *p == '\n';
    entries = malloc((lines + 1) * sizeof(struct entry));
    if (!entries) {
        fprintf(stderr, "gps: out of memory\n");
        return 1;
    }
    for (p = buf; *p;) {
        char *nl = strchr(p, '\n'), *field[FIELDS];
        if (nl)
            *nl = 0;
        /* a program's line starts with its pid (a header would not) */
        if (split(p, field, FIELDS) == FIELDS && isdigit((unsigned char)field[0][0])) {
            entries[count].name = field[1];
            entries[count].state = field[4];
            count++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    qsort(entries, count, sizeof(struct entry), cmp_entries);
    for (i = 0; i < count; i++)
        printf("%s %s\n", entries[i].name, entries[i].state);
    free(entries);
    free(buf);
    return 0;
}
