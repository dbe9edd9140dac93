/* lines: number the lines of standard input (or of the files named), like `cat -n`.
 *
 *   lines [FILE...]     FILE is a file at the file server; no FILE: standard input
 *
 * Prints `N: line` for each line, then `lines: N lines, B bytes`. Standard input
 * is the console of the user who started the program (`input JOB TEXT`, `eof
 * JOB`), or `vcluster run --stdin FILE`; a read blocks until a line comes.
 */
#include <stdio.h>
#include <string.h>

static long count_lines, count_bytes;

static void number(FILE *f)
{
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        count_bytes += (long)n;
        printf("%ld: %s%s", ++count_lines, line, n && line[n - 1] == '\n' ? "" : "\n");
    }
}

int main(int argc, char **argv)
{
    int status = 0;
    if (argc < 2)
        number(stdin);
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            perror(argv[i]);
            status = 1;
            continue;
        }
        number(f);
        fclose(f);
    }
    printf("lines: %ld lines, %ld bytes\n", count_lines, count_bytes);
    return status;
}
