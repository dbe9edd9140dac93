/* recsort: sort a large set of fixed-length records in memory, the way a sort
 * utility sorts a file of records.
 *
 *   recsort [RECORDS [SIZE [SEED]]]
 *     RECORDS 2..262144 (default 3072), SIZE bytes a record, a multiple of 4 in
 *     16..4096 (default 512: 1.5 MB of records), SEED 1..4294967295 (default 1)
 *
 * Makes RECORDS records (a 32-bit key from a xorshift32 stream of SEED, the
 * record's original position, and SIZE - 8 bytes of payload derived from
 * both), then sorts them by key with a bottom-up merge sort between two
 * arrays of RECORDS x SIZE bytes: every pass reads one array and writes the
 * other front to back, a record at a time (memcpy), so the program writes its
 * whole data set once a pass (for migration: a large written set that
 * pre-copy chases round after round). Equal keys keep their original order
 * (the sort is stable).
 *
 * Checks the result (keys in order, equal keys in original order, every
 * payload intact) and prints
 *   recsort: N records of SIZE bytes, P passes, keys 0xFIRST..0xLAST, checksum 0xXXXXXXXX
 * where the checksum is an Adler-32 of the sorted (key, position) pairs, big
 * endian. It depends on the arguments only (never on the time), so a
 * migrated run prints what an unmigrated one prints, and so does the host's
 * own build of this file. A failed check prints `recsort: BAD ...` and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long size;   /* bytes a record */
static long nwords; /* payload words a record */

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static uint32_t *rec(unsigned char *base, long i)
{
    return (uint32_t *)(base + i * size);
}

/* The payload of the record with this key and position: words from a rotate-and-add stream. */
static void payload(uint32_t *w, uint32_t key, uint32_t pos)
{
    uint32_t v = key ^ (pos << 16) ^ pos;
    for (long i = 0; i < nwords; i++) {
        v = ((v << 5) | (v >> 27)) + 0x9E3779B9u;
        w[i] = v;
    }
}

/* Merge the sorted runs src[lo, mid) and src[mid, hi) into dst[lo, hi). */
static void merge(unsigned char *dst, unsigned char *src, long lo, long mid, long hi)
{
    unsigned char *i = src + lo * size, *m = src + mid * size;
    unsigned char *j = m, *h = src + hi * size, *k = dst + lo * size;
    while (i < m && j < h) {
        if (*(uint32_t *)j < *(uint32_t *)i) {
            memcpy(k, j, (size_t)size);
            j += size;
        } else {
            memcpy(k, i, (size_t)size);
            i += size;
        }
        k += size;
    }
    if (i < m)
        memcpy(k, i, (size_t)(m - i));
    else if (j < h)
        memcpy(k, j, (size_t)(h - j));
}

static uint32_t adler_word(uint32_t *a, uint32_t *b, uint32_t w)
{
    for (int s = 24; s >= 0; s -= 8) {
        *a = (*a + ((w >> s) & 0xFF)) % 65521u;
        *b = (*b + *a) % 65521u;
    }
    return (*b << 16) | *a;
}

static int number(const char *text, unsigned long *out)
{
    char *end;
    if (text[0] == '-' || text[0] == '\0')
        return 0;
    *out = strtoul(text, &end, 0);
    return *end == '\0';
}

int main(int argc, char **argv)
{
    unsigned long n = 3072, sz = 512, seed = 1;
    int ok = argc <= 4;

    if (argc > 1)
        ok &= number(argv[1], &n);
    if (argc > 2)
        ok &= number(argv[2], &sz);
    if (argc > 3)
        ok &= number(argv[3], &seed);
    if (!ok || n < 2 || n > 262144 || sz < 16 || sz > 4096 || sz % 4 || seed == 0 ||
        seed > 0xFFFFFFFFul) {
        fprintf(stderr, "usage: recsort [RECORDS [SIZE [SEED]]] (RECORDS 2..262144, "
                        "SIZE 16..4096 a multiple of 4, SEED 1..4294967295)\n");
        return 2;
    }
    size = (long)sz;
    nwords = size / 4 - 2;
    unsigned char *a = malloc(n * sz);
    unsigned char *b = malloc(n * sz);
    uint32_t *want = malloc(sz);
    if (!a || !b || !want) {
        fprintf(stderr, "recsort: cannot allocate 2 x %lu KB\n", n * sz / 1024);
        return 1;
    }
    uint32_t s = (uint32_t)seed;
    for (long i = 0; i < (long)n; i++) {
        uint32_t *r = rec(a, i);
        r[0] = xorshift32(&s);
        r[1] = (uint32_t)i;
        payload(r + 2, r[0], r[1]);
    }

    int passes = 0;
    unsigned char *src = a, *dst = b;
    for (long width = 1; width < (long)n; width *= 2) {
        for (long lo = 0; lo < (long)n; lo += 2 * width) {
            long mid = lo + width < (long)n ? lo + width : (long)n;
            long hi = lo + 2 * width < (long)n ? lo + 2 * width : (long)n;
            merge(dst, src, lo, mid, hi);
        }
        unsigned char *t = src;
        src = dst;
        dst = t;
        passes++;
    }

    uint32_t ad = 1, bd = 0, sum = 1;
    for (long i = 0; i < (long)n; i++) {
        const uint32_t *r = rec(src, i);
        if (i > 0) {
            const uint32_t *p = rec(src, i - 1);
            if (p[0] > r[0] || (p[0] == r[0] && p[1] > r[1])) {
                printf("recsort: BAD order at record %ld\n", i);
                return 1;
            }
        }
        payload(want, r[0], r[1]);
        if (memcmp(want, r + 2, (size_t)nwords * 4) != 0) {
            printf("recsort: BAD payload at record %ld\n", i);
            return 1;
        }
        adler_word(&ad, &bd, r[0]);
        sum = adler_word(&ad, &bd, r[1]);
    }
    printf("recsort: %lu records of %lu bytes, %d passes, keys 0x%08lx..0x%08lx, checksum 0x%08lx\n",
           n, sz, passes, (unsigned long)rec(src, 0)[0], (unsigned long)rec(src, (long)n - 1)[0],
           (unsigned long)sum);
    free(want);
    free(a);
    free(b);
    return 0;
}
