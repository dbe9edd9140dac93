/* exitwith CODE [TEXT...]: prints "exitwith: TEXT..." (the words joined by
 * spaces), or "exitwith: CODE" without TEXT, and exits with CODE (0..255).
 * A bad CODE is a usage error (status 2). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv, char **envp)
{
    long code = -1;
    char *end;
    int i;

    if (argc >= 2) {
        code = strtol(argv[1], &end, 0);
        if (end == argv[1] || *end || code > 255)
            code = -1;
    }
    if (code < 0) {
        fprintf(stderr, "usage: exitwith CODE [TEXT...] (CODE 0..255)\n");
        return 2;
    }
    fputs("exitwith:", stdout);
    if (argc == 2) {
        printf(" %ld", code);
    } else {
        for (i = 2; i < argc; i++)
            printf(" %s", argv[i]);
    }
    putchar('\n');
    return (int)code;
}
