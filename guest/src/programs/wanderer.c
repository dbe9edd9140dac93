/* wanderer N: works through N steps and, halfway, asks to be migrated (migrateprog on itself).
 * Its output does not depend on where it runs: a migrated wanderer prints what a resident one would. */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

static unsigned long work(unsigned long x, long rounds)
{
    long i;
    for (i = 0; i < rounds; i++)
        x = x * 1103515245UL + 12345UL;
    return x;
}

int main(int argc, char **argv)
{
    long steps, k;
    unsigned long x = 1;
    if (argc != 2 || (steps = atol(argv[1])) <= 0 || steps > 1000) {
        fprintf(stderr, "usage: wanderer steps (1..1000)\n");
        return 2;
    }
    for (k = 1; k <= steps; k++) {
        x = work(x, 20000);
        printf("wanderer: step %ld of %ld, value %08lx\n", k, steps, x);
        if (k == (steps + 1) / 2) {
            long r = migrateprog(GetPid(PID_SELF), 0);
            printf("wanderer: migrateprog returned %ld\n", r);
        }
    }
    return 0;
}
