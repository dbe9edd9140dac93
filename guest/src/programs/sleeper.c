/* sleeper SECONDS: sleeps SECONDS seconds of virtual time in Delay steps of
 * 100 ms (so that suspend, resume, kill and migration find it asleep
 * between steps), then prints "sleeper: slept SECONDS s". */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

#define STEP_MS 100
#define SECONDS_MAX 100000

int main(int argc, char **argv, char **envp)
{
    long seconds = -1, steps;
    char *end;

    if (argc == 2) {
        seconds = strtol(argv[1], &end, 0);
        if (end == argv[1] || *end || seconds > SECONDS_MAX)
            seconds = -1;
    }
    if (seconds < 0) {
        fprintf(stderr, "usage: sleeper SECONDS (0..%d)\n", SECONDS_MAX);
        return 2;
    }
    for (steps = seconds * (1000 / STEP_MS); steps > 0; steps--)
        Delay(STEP_MS);
    printf("sleeper: slept %ld s\n", seconds);
    return 0;
}
