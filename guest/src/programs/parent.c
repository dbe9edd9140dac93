/* parent N PROG ARGS...: runs N children remotely and waits for them.
 *
 * Child K (1..N) is "PROG ARGS... K", started with remote_exec(argv, "*")
 * (any idle host); prints "parent: started child K", or
 * "parent: child K: could not start (ERROR)" and goes on. Then waits for
 * the started children in order and prints "parent: child K exited with S".
 * Never prints pids or hosts. Exit status 0 (2: usage).
 *
 * wait_program returns the status, or a negative error: a negative S is
 * printed as it is (a killed child's status is -EKILLED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

#define CHILDREN_MAX 64

int main(int argc, char **argv, char **envp)
{
    ProcessId pids[CHILDREN_MAX];
    char index[12];
    char **child;
    char *end;
    long n = -1, k;
    int i;

    if (argc >= 3) {
        n = strtol(argv[1], &end, 0);
        if (end == argv[1] || *end || n > CHILDREN_MAX)
            n = -1;
    }
    if (n < 0) {
        fprintf(stderr, "usage: parent N PROG ARGS... (N 0..%d)\n", CHILDREN_MAX);
        return 2;
    }
    /* PROG ARGS... K NULL */
    child = malloc((size_t)argc * sizeof(char *));
    if (!child) {
        fprintf(stderr, "parent: out of memory\n");
        return 1;
    }
    for (i = 2; i < argc; i++)
        child[i - 2] = argv[i];
    child[argc - 2] = index;
    child[argc - 1] = NULL;

    for (k = 1; k <= n; k++) {
        snprintf(index, sizeof(index), "%ld", k);
        pids[k - 1] = remote_exec(child, "*");
        if (pids[k - 1] < 0)
            printf("parent: child %ld: could not start (%s)\n", k, verror(pids[k - 1]));
        else
            printf("parent: started child %ld\n", k);
    }
    for (k = 1; k <= n; k++) {
        if (pids[k - 1] < 0)
            continue;
        printf("parent: child %ld exited with %ld\n", k, wait_program(pids[k - 1]));
    }
    free(child);
    return 0;
}
