/* libccheck: a slice of the C library, printed so that a host build of this
 * same file gives the same text (tests/test_hosted_c.py compares them line by
 * line): printf/scanf families, strtod/strtol, qsort/bsearch, setjmp/longjmp,
 * malloc/free/realloc under churn, <string.h>, <ctype.h>, <time.h> on fixed
 * times, 64-bit integers, float and double arithmetic and <math.h>.
 * Nothing printed depends on the clock, the host or the address of anything.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long rng = 12345;
static unsigned long next_rand(void)
{
    rng = rng * 1103515245UL + 12345UL;
    return (rng >> 8) & 0xFFFFFF;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void check_printf(void)
{
    char buf[128];
    printf("printf: [%d] [%5d] [%-5d] [%05d] [%+d] [%x] [%X] [%o] [%#x] [%u]\n", 42, 42, 42, 42, 42,
           0xBEEF, 0xBEEF, 8, 255, 4000000000U);
    printf("printf: [%s] [%10s] [%-10s] [%.3s] [%c] [%%]\n", "vsys", "vsys", "vsys", "vsystem", 'V');
    printf("printf: [%ld] [%lld] [%llx] [%lld]\n", (long)INT_MIN, LLONG_MAX, 0x123456789abcdefULL,
           -1234567890123LL);
    printf("printf: [%e] [%E] [%f] [%g] [%G] [%.3f] [%10.4f] [%-12.2e]\n", 12345.6789, 0.000123,
           3.14159265358979, 0.0001, 1e20, 2.0 / 3.0, -1.5, 6.02214076e23);
    printf("printf: [%g] [%g] [%g] [%.0f] [%.15g] [%a]\n", 100000.0, 1000000.0, 1e-5, 2.5, 0.1, 1.0);
    snprintf(buf, sizeof buf, "%s-%d-%.2f", "snprintf", 7, 1.005);
    printf("snprintf: %s (%d)\n", buf, snprintf(NULL, 0, "%d", 123456));
}

static void check_scanf(void)
{
    int i = 0, n = 0;
    long l = 0;
    double d = 0;
    float f = 0;
    char word[32] = "";
    unsigned x = 0;
    n = sscanf("  -17 123456789 3.5e-2 2.25 hello 1f", "%d %ld %lf %f %31s %x", &i, &l, &d, &f, word,
               &x);
    printf("sscanf: %d fields: %d %ld %g %g %s %u\n", n, i, l, d, (double)f, word, x);
    n = sscanf("12abc", "%d%n", &i, &x);
    printf("sscanf: %d %d consumed %u\n", n, i, x);
}

static void check_strto(void)
{
    const char *s[] = { "3.14159", "-2.5e-3", "1e308", "0x1p4", "inf", "  42abc", "0.1" };
    char *end;
    for (unsigned k = 0; k < sizeof s / sizeof s[0]; k++) {
        double v = strtod(s[k], &end);
        printf("strtod(%s) = %.17g rest [%s]\n", s[k], v, end);
    }
    printf("strtol: %ld %ld %ld %lu\n", strtol("-0x1F", NULL, 16), strtol("0777", NULL, 0),
           strtol("z", NULL, 36), strtoul("4294967295", NULL, 10));
    errno = 0;
    long big = strtol("99999999999999999999", &end, 10);
    printf("strtol overflow: max %d erange %d\n", big == LONG_MAX, errno == ERANGE);
    printf("strtoll: %lld atoi %d atol %ld atof %g\n", strtoll("-9223372036854775807", NULL, 10),
           atoi("  -12x"), atol("100000"), atof("1.5e3"));
}

static void check_sort(void)
{
    int a[200], key, *hit;
    for (int i = 0; i < 200; i++)
        a[i] = (int)(next_rand() % 1000) - 500;
    qsort(a, 200, sizeof a[0], cmp_int);
    int sorted = 1;
    long sum = 0;
    for (int i = 0; i < 200; i++) {
        sum += a[i] * (i + 1);
        if (i && a[i - 1] > a[i])
            sorted = 0;
    }
    key = a[137];
    hit = bsearch(&key, a, 200, sizeof a[0], cmp_int);
    printf("qsort: sorted %d first %d last %d weighted %ld; bsearch %d found %d\n", sorted, a[0],
           a[199], sum, key, hit != NULL && *hit == key);
    key = 10000;
    printf("bsearch missing: %d\n", bsearch(&key, a, 200, sizeof a[0], cmp_int) == NULL);
}

static jmp_buf jb;
static int depth(int n)
{
    if (n == 0)
        longjmp(jb, 99);
    return depth(n - 1) + 1;
}

static void check_setjmp(void)
{
    volatile int count = 0;
    int r = setjmp(jb);
    count++;
    if (r == 0)
        depth(50);
    printf("setjmp: returned %d after %d passes\n", r, count);
}

static void check_malloc(void)
{
    enum { SLOTS = 64 };
    unsigned char *slot[SLOTS] = { 0 };
    size_t size[SLOTS] = { 0 };
    unsigned long sum = 0;
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        int k = (int)(next_rand() % SLOTS);
        size_t want = (size_t)(next_rand() % 3000) + 1;
        if (slot[k] && (next_rand() & 1)) {
            for (size_t i = 0; i < size[k]; i++)
                if (slot[k][i] != (unsigned char)(k + i))
                    bad++;
            free(slot[k]);
            slot[k] = NULL;
            size[k] = 0;
        } else {
            unsigned char *p = realloc(slot[k], want);
            if (!p) {
                bad++;
                continue;
            }
            for (size_t i = 0; i < (want < size[k] ? want : size[k]); i++)
                if (p[i] != (unsigned char)(k + i))
                    bad++;
            for (size_t i = 0; i < want; i++)
                p[i] = (unsigned char)(k + i);
            slot[k] = p;
            size[k] = want;
        }
    }
    for (int k = 0; k < SLOTS; k++) {
        if (slot[k])
            sum += size[k];
        free(slot[k]);
    }
    void *c = calloc(100, 10);
    int zero = 1;
    for (int i = 0; i < 1000; i++)
        if (((unsigned char *)c)[i])
            zero = 0;
    free(c);
    printf("malloc: churn bad %d live bytes %lu calloc zero %d\n", bad, sum, zero);
}

static void check_string(void)
{
    char a[64] = "Virtual", b[64];
    strcat(a, " System");
    strncpy(b, a, sizeof b);
    printf("string: %s len %u cmp %d %d ncmp %d chr %s rchr %s str %s\n", a, (unsigned)strlen(a),
           strcmp(a, "Virtual") > 0, strcmp("abc", "abd") < 0, strncmp(a, "Virtue", 6),
           strchr(a, 't'), strrchr(a, 't'), strstr(a, "Sys"));
    memset(b, 'x', 5);
    b[5] = 0;
    memmove(a + 2, a, 10);
    printf("string: %s %.12s spn %u cspn %u memcmp %d dup %s\n", b, a, (unsigned)strspn("aabbc", "ab"),
           (unsigned)strcspn("hello world", " "), memcmp("abc", "abd", 3) < 0, strdup("copy"));
    char tok[] = "one,two,,three";
    printf("strtok:");
    for (char *t = strtok(tok, ","); t; t = strtok(NULL, ","))
        printf(" [%s]", t);
    printf(" strerror(ENOENT) %s\n", strerror(ENOENT));
}

static void check_ctype(void)
{
    int counts[7] = { 0 };
    for (int c = 0; c < 128; c++) {
        counts[0] += !!isalpha(c);
        counts[1] += !!isdigit(c);
        counts[2] += !!isspace(c);
        counts[3] += !!ispunct(c);
        counts[4] += !!isupper(c);
        counts[5] += !!isxdigit(c);
        counts[6] += !!isprint(c);
    }
    printf("ctype: alpha %d digit %d space %d punct %d upper %d xdigit %d print %d; %c%c\n", counts[0],
           counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], toupper('v'), tolower('S'));
}

static void check_time(void)
{
    time_t t = 502243200; /* 1985-12-01 00:00:00 UTC */
    struct tm *tm = gmtime(&t);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a %j", tm);
    printf("time: %s wday %d yday %d\n", buf, tm->tm_wday, tm->tm_yday);
    tm->tm_mday += 45;
    tm->tm_hour = 13;
    time_t later = mktime(tm); /* TZ unset: UTC */
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", tm);
    printf("time: +45 days %s diff %.0f\n", buf, difftime(later, t));
    time_t now = time(NULL);
    printf("time: now is after 1985 %d, clock non-negative %d\n", now >= t, clock() >= 0);
}

static void check_arith(void)
{
    long long a = 0x7123456789LL, b = -98765;
    unsigned long long u = 0xFEDCBA9876543210ULL;
    printf("int64: %lld %lld %lld %lld %llu %llu %lld %lld\n", a * b, a / b, a % b, a >> 7, u >> 13,
           u / 1000003ULL, (long long)(u << 5), -a);
    float f = 1.0f / 3.0f, g = 16777217.0f;
    double d = 1.0 / 7.0;
    printf("float: %.9g %.9g %d %d\n", (double)f, (double)g, (int)(f * 3.0f == 1.0f), (int)(2.5f));
    printf("double: %.17g %.17g %.17g %lld %d\n", d, d * 7.0 - 1.0, (double)a / 3.0, (long long)-2.7e15,
           (int)-3.99);
    printf("math: %.15g %.15g %.15g %.15g %.15g %.15g\n", sqrt(2.0), sin(0.5), cos(0.5), atan2(1.0, -1.0),
           exp(2.5), log(10.0));
    printf("math: %.15g %.15g %.15g %.15g %.15g %g\n", pow(2.0, 0.5), floor(-2.5), ceil(-2.5),
           fmod(10.0, 3.0), ldexp(0.75, 10), hypot(3.0, 4.0));
}

int main(void)
{
    check_printf();
    check_scanf();
    check_strto();
    check_sort();
    check_setjmp();
    check_malloc();
    check_string();
    check_ctype();
    check_time();
    check_arith();
    printf("libccheck: done\n");
    return 0;
}
