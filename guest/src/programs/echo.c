/* echo ARGS: prints its arguments separated by spaces, then a newline. */
#include <stdio.h>

int main(int argc, char **argv, char **envp)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (i > 1)
            putchar(' ');
        fputs(argv[i], stdout);
    }
    putchar('\n');
    return 0;
}
