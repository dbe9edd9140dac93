/* primes N: counts the primes <= N with a sieve of Eratosthenes in a
 * malloc'd array, prints "primes <= N: COUNT". */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv, char **envp)
{
    long n = 1000, i, j, count = 0;
    char *composite;

    if (argc > 1) {
        char *end;
        n = strtol(argv[1], &end, 0);
        if (*end || n < 0) {
            fprintf(stderr, "usage: primes N\n");
            return 2;
        }
    }
    composite = calloc((size_t)n + 1, 1);
    if (!composite) {
        fprintf(stderr, "primes: out of memory\n");
        return 1;
    }
    for (i = 2; i <= n; i++) {
        if (composite[i])
            continue;
        count++;
        if (i <= n / i)
            for (j = i * i; j <= n; j += i)
                composite[j] = 1;
    }
    free(composite);
    printf("primes <= %ld: %ld\n", n, count);
    return 0;
}
