/* sweeper: a synthetic program that dirties pages at an exact, known rate.
 *
 *   sweeper KB RATE SECONDS      KB 4..16384, RATE 1..16384 KB/s, SECONDS 1..3600
 *
 * Allocates KB kilobytes and writes one word into each of its 4 KB pages (so
 * every page holds data: a migration copies it whole), then for SECONDS
 * seconds of virtual time sweeps the buffer front to back, cyclically,
 * writing one word into the next page every 4 / RATE seconds: RATE KB of
 * pages dirtied a second, whatever the CPU is doing (a word a page costs a
 * few instructions, so the rate holds even when the program gets a sliver of
 * the CPU). Pacing: before each page, the program sleeps (Delay) until that
 * page is due at start + pages x 4000 / RATE ms; behind schedule it writes
 * on. The pages dirtied in any interval of T seconds are T x RATE / 4 (a
 * page more or less), the reference a migration's per-round residue is
 * checked against.
 *
 * Prints `sweeper: KB KB, P pages written, checksum 0xXXXXXXXX`: P and the
 * checksum (of every word that can have been written) depend on the
 * arguments only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

#define PAGE_WORDS 1024UL

static int number(const char *text, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return 0;
    *out = strtoul(text, &end, 10);
    return *end == '\0' && *out >= lo && *out <= hi;
}

int main(int argc, char **argv)
{
    unsigned long kb, rate, seconds;

    if (argc != 4 || !number(argv[1], 4, 16384, &kb) || !number(argv[2], 1, 16384, &rate) ||
        !number(argv[3], 1, 3600, &seconds)) {
        fprintf(stderr, "usage: sweeper KB RATE SECONDS (KB 4..16384, RATE 1..16384 KB/s, "
                        "SECONDS 1..3600)\n");
        return 2;
    }
    unsigned long pages = kb / 4;
    uint32_t *buf = calloc(pages, PAGE_WORDS * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "sweeper: cannot allocate %lu KB\n", kb);
        return 1;
    }
    for (unsigned long p = 0; p < pages; p++)
        buf[p * PAGE_WORDS] = (uint32_t)p + 1;

    /* pages due in SECONDS at RATE KB/s: RATE / 4 a second */
    unsigned long total = seconds * rate / 4, written = 0;
    uint32_t sum = 0;
    unsigned long start = GetTime();
    while (written < total) {
        unsigned long due = start + written / rate * 4000UL + written % rate * 4000UL / rate;
        unsigned long now = GetTime();
        if ((long)(due - now) > 0)
            Delay(due - now);
        unsigned long p = written % pages;
        /* the word is a different one each sweep: one page, one word, a value from the count */
        unsigned long w = p * PAGE_WORDS + (written / pages) % PAGE_WORDS;
        buf[w] = buf[w] * 33 + (uint32_t)written;
        written++;
    }
    /* every word that can have been written: the first `sweeps` of each page (and its first) */
    unsigned long sweeps = (written + pages - 1) / pages;
    if (sweeps > PAGE_WORDS - 1)
        sweeps = PAGE_WORDS - 1;
    for (unsigned long p = 0; p < pages; p++)
        for (unsigned long j = 0; j <= sweeps; j++)
            sum = ((sum << 5) | (sum >> 27)) ^ (buf[p * PAGE_WORDS + j] + (uint32_t)j);
    printf("sweeper: %lu KB, %lu pages written, checksum 0x%08lx\n", kb, written, (unsigned long)sum);
    free(buf);
    return 0;
}
