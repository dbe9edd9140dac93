/* dirtier KB RATE SECONDS: the dirty-page workload for migration.
 *
 * Allocates a buffer of KB kilobytes and writes RATE KB per second of
 * virtual time into it for SECONDS seconds, cyclically, one 4 KB page (or
 * the whole buffer when it is smaller) a step. Each step fills its region
 * with values derived from the step counter only, so the content keeps
 * changing and the final checksum depends on KB, RATE and SECONDS alone.
 * Exactly RATE * SECONDS KB are written in all (the last step may be
 * shorter). Pacing: after each step, if the program is ahead of schedule
 * (start + written / RATE), it sleeps with Delay; when the CPU cannot keep
 * up it simply writes on. The clock only decides when to sleep, never what
 * is written, so the output is the same however the program was scheduled
 * or migrated.
 *
 * Prints "dirtier: wrote W KB over KB KB, checksum 0xXXXXXXXX".
 */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

#define STEP_KB 4UL

static long arg(char **argv, int i, int argc, long def)
{
    char *end;
    long v;

    if (i >= argc)
        return def;
    v = strtol(argv[i], &end, 0);
    if (*end || v < 0)
        return -1;
    return v;
}

/* Fill words [0, nwords) of p with the pattern of step s. */
static void fill(unsigned long *p, unsigned long nwords, unsigned long s)
{
    unsigned long v = (s + 1) * 0x9E3779B1UL; /* golden-ratio hash of the step */
    unsigned long i;

    for (i = 0; i < nwords; i++) {
        p[i] = v;
        v += 0x01000193UL;
    }
}

int main(int argc, char **argv, char **envp)
{
    long kb = arg(argv, 1, argc, 64);
    long rate = arg(argv, 2, argc, 32);
    long seconds = arg(argv, 3, argc, 10);
    unsigned long total_kb, step_kb, written_kb = 0, pos_kb = 0, s = 0;
    unsigned long covered_kb, i, sum;
    unsigned long *buf;
    unsigned long start;

    if (kb <= 0 || rate < 0 || seconds < 0 || kb > 8192 || rate > 1000000 ||
        seconds > 1000000 || (unsigned long)rate * (unsigned long)seconds > 0x3FFFFFUL) {
        fprintf(stderr, "usage: dirtier KB RATE SECONDS (KB 1..8192)\n");
        return 2;
    }
    buf = malloc((unsigned long)kb * 1024);
    if (!buf) {
        fprintf(stderr, "dirtier: cannot allocate %ld KB\n", kb);
        return 1;
    }
    total_kb = (unsigned long)rate * (unsigned long)seconds;
    step_kb = (unsigned long)kb < STEP_KB ? (unsigned long)kb : STEP_KB;

    start = GetTime();
    while (written_kb < total_kb) {
        unsigned long n = step_kb;
        unsigned long due, now;

        if (n > total_kb - written_kb)
            n = total_kb - written_kb;
        if (n > (unsigned long)kb - pos_kb)
            n = (unsigned long)kb - pos_kb;
        fill(buf + pos_kb * 256, n * 256, s++);
        written_kb += n;
        pos_kb += n;
        if (pos_kb == (unsigned long)kb)
            pos_kb = 0;

        /* the schedule: written_kb KB are due at start + written_kb / rate s */
        due = start + written_kb * 1000UL / (unsigned long)rate;
        now = GetTime();
        if ((long)(due - now) > 0)
            Delay(due - now);
    }

    /* a run lasts SECONDS even when there was nothing to write (RATE 0) */
    {
        unsigned long end = start + (unsigned long)seconds * 1000UL, now = GetTime();
        if ((long)(end - now) > 0)
            Delay(end - now);
    }

    /* checksum of everything written at least once: the first
     * min(KB, W) KB, since writing starts at the beginning of the buffer */
    covered_kb = total_kb < (unsigned long)kb ? total_kb : (unsigned long)kb;
    sum = 0;
    for (i = 0; i < covered_kb * 256; i++)
        sum = ((sum << 5) | (sum >> 27)) ^ buf[i];
    printf("dirtier: wrote %lu KB over %ld KB, checksum 0x%08lx\n", total_kb, kb, sum);
    free(buf);
    return 0;
}
