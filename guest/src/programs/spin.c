/* spin SECONDS: CPU-bound work for about SECONDS of virtual time at 1 MIPS
 * (the default 1 us per instruction). It never reads the clock: the number
 * of iterations is fixed by SECONDS alone, so its output does not depend on
 * timing, scheduling or migration.
 *
 * One iteration is one xorshift32 step in a dbra loop: exactly 10
 * instructions, so 100 iterations take 1 ms at 1 MIPS. SECONDS may have a
 * fractional part (to the millisecond): "spin 0.25".
 *
 * Prints "spin: N iterations, checksum 0xXXXXXXXX".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "seconds.h"

#define INSNS_PER_ITERATION 10
#define ITERATIONS_PER_MS (1000 / INSNS_PER_ITERATION) /* at 1 instruction per us */

/* n xorshift32 steps from x (n < 2^32). */
static unsigned long spin(unsigned long x, unsigned long n)
{
    while (n) {
        unsigned long chunk = n > 0x10000 ? 0x10000 : n;
        unsigned long count = chunk - 1; /* dbra runs count + 1 times */
        n -= chunk;
        __asm__ volatile(
            "   moveq   #13,%%d3\n"
            "   moveq   #17,%%d4\n"
            "1: move.l  %0,%%d2\n"     /* x ^= x << 13 */
            "   lsl.l   %%d3,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   move.l  %0,%%d2\n"     /* x ^= x >> 17 */
            "   lsr.l   %%d4,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   move.l  %0,%%d2\n"     /* x ^= x << 5 */
            "   lsl.l   #5,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   dbra    %1,1b\n"
            : "+d"(x), "+d"(count)
            :
            : "d2", "d3", "d4", "cc");
    }
    return x;
}

static long parse_ms(const char *s)
{
    return parse_seconds_ms(s, 42000); /* n = ms * 100 must stay below 2^32 */
}

int main(int argc, char **argv, char **envp)
{
    long ms = argc > 1 ? parse_ms(argv[1]) : 1000;
    unsigned long n, x;

    if (ms < 0) {
        fprintf(stderr, "usage: spin SECONDS\n");
        return 2;
    }
    n = (unsigned long)ms * ITERATIONS_PER_MS;
    x = spin(0x2545F491UL, n);
    printf("spin: %lu iterations, checksum 0x%08lx\n", n, x);
    return 0;
}
