/* bigdata KB RATE SECONDS: a program with KB kilobytes of live data (filled at start, like a large
 * program's tables), then rewriting RATE KB of it per second of virtual time for SECONDS seconds.
 * Its output depends only on its arguments: prints a checksum of the whole data at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

int main(int argc, char **argv)
{
    long kb, rate, seconds, i, step, steps, per_step, cursor = 0, words;
    unsigned long *data, sum = 0;
    if (argc != 4 || (kb = atol(argv[1])) <= 0 || kb > 8192 || (rate = atol(argv[2])) < 0
        || (seconds = atol(argv[3])) < 0) {
        fprintf(stderr, "usage: bigdata kb rate seconds\n");
        return 2;
    }
    words = kb * 256;
    data = malloc(words * sizeof(unsigned long));
    if (!data) {
        fprintf(stderr, "bigdata: no memory for %ld KB\n", kb);
        return 1;
    }
    for (i = 0; i < words; i++)
        data[i] = (unsigned long)i * 2654435761UL + 1;
    /* ten steps a second: each rewrites rate/10 KB, then sleeps until the next tenth */
    steps = seconds * 10;
    per_step = rate * 256 / 10;
    for (step = 0; step < steps; step++) {
        long t0 = GetTime();
        for (i = 0; i < per_step; i++) {
            data[cursor] = data[cursor] * 31 + (unsigned long)step;
            cursor = (cursor + 1) % words;
        }
        long spent = GetTime() - t0;
        if (spent < 100)
            Delay(100 - spent);
    }
    for (i = 0; i < words; i++)
        sum = (sum << 1 | sum >> 31) ^ data[i];
    printf("bigdata: %ld KB, %ld steps, checksum 0x%08lx\n", kb, steps, sum);
    return 0;
}
