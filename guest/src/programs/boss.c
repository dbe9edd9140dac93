/* boss: manages a child from guest code, as the console would: starts `sleeper 5` on any idle
 * host, suspends it, resumes it, kills it, and collects its exit status. */
#include <stdio.h>
#include <v.h>

int main(int argc, char **argv)
{
    char *child_argv[] = { "sleeper", "5", 0 };
    ProcessId child = remote_exec(child_argv, "*");
    long r;
    if (child < 0) {
        printf("boss: could not start the child (%s)\n", verror(child));
        return 1;
    }
    printf("boss: started the child\n");
    Delay(500);
    r = suspend_program(child);
    printf("boss: suspend %ld\n", r);
    Delay(1000);
    r = resume_program(child);
    printf("boss: resume %ld\n", r);
    Delay(300);
    r = kill_program(child);
    printf("boss: kill %ld\n", r);
    r = wait_program(child);
    printf("boss: the child exited with %ld\n", r);
    return 0;
}
