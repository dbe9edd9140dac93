/* stdlib.c: exit, number parsing, and small utilities. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATEXIT_MAX 8
static void (*atexit_fns[ATEXIT_MAX])(void);
static int atexit_count;

int atexit(void (*fn)(void))
{
    if (atexit_count >= ATEXIT_MAX)
        return -1;
    atexit_fns[atexit_count++] = fn;
    return 0;
}

void exit(int status)
{
    while (atexit_count > 0)
        atexit_fns[--atexit_count]();
    fflush(stdout);
    fflush(stderr);
    _exit(status);
}

void abort(void)
{
    fflush(stdout);
    fflush(stderr);
    _exit(134);
}

unsigned long strtoul(const char *s, char **end, int base)
{
    const char *p = s;
    unsigned long v = 0;
    int neg = 0, any = 0;

    while (isspace(*p))
        p++;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        isxdigit(p[2])) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    for (;; p++) {
        int d;
        if (isdigit(*p))
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'z')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'Z')
            d = *p - 'A' + 10;
        else
            break;
        if (d >= base)
            break;
        v = v * (unsigned long)base + (unsigned long)d;
        any = 1;
    }
    if (end)
        *end = (char *)(any ? p : s);
    return neg ? -v : v;
}

long strtol(const char *s, char **end, int base)
{
    return (long)strtoul(s, end, base);
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
    return strtol(s, NULL, 10);
}

int abs(int x)
{
    return x < 0 ? -x : x;
}

long labs(long x)
{
    return x < 0 ? -x : x;
}

static unsigned long rand_state = 1;

void srand(unsigned int seed)
{
    rand_state = seed;
}

int rand(void)
{
    rand_state = rand_state * 1103515245UL + 12345UL;
    return (int)((rand_state >> 16) & RAND_MAX);
}

/* Shell sort: small, no recursion, no extra memory. */
void qsort(void *base, size_t count, size_t size, int (*cmp)(const void *, const void *))
{
    char *a = base;
    size_t gap, i, j, k;

    for (gap = count / 2; gap > 0; gap /= 2) {
        for (i = gap; i < count; i++) {
            for (j = i; j >= gap; j -= gap) {
                char *x = a + (j - gap) * size, *y = a + j * size;
                if (cmp(x, y) <= 0)
                    break;
                for (k = 0; k < size; k++) {
                    char t = x[k];
                    x[k] = y[k];
                    y[k] = t;
                }
            }
        }
    }
}

char *getenv(const char *name)
{
    size_t n = strlen(name);
    char **e;

    for (e = environ; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

long parse_seconds_ms(const char *s, long max_seconds)
{
    long ms = 0, scale = 1000;

    if (!isdigit(*s))
        return -1;
    while (isdigit(*s)) {
        ms = ms * 10 + (*s++ - '0');
        if (ms > max_seconds)
            return -1;
    }
    ms *= 1000;
    if (*s == '.') {
        s++;
        while (isdigit(*s)) {
            scale /= 10;
            ms += (*s++ - '0') * scale;
        }
    }
    return *s ? -1 : ms;
}
