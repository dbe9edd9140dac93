/* hijacker [GROUP [COUNT]]: a hostile guest that tries to take over a group.
 *
 * Joins GROUP (default 0x8001, the program manager group; any 32-bit number strtoul
 * reads) and answers every request it receives with OK and the request's own
 * longs echoed back, so a client that believed it would wait on a process that
 * is no program manager. Prints "hijacker: joined group 0xG" and, after COUNT
 * requests (default: forever), "hijacker: answered N requests" and exits 0.
 * The kernel refuses a guest a well-known group: then it prints
 * "hijacker: cannot join group 0xG (EPERM)" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

int main(int argc, char **argv, char **envp)
{
    ProcessId group = PROGRAM_MANAGER_GROUP;
    long count = -1, answered = 0, r;
    char *end;

    if (argc > 3) {
        fprintf(stderr, "usage: hijacker [GROUP [COUNT]]\n");
        return 2;
    }
    if (argc >= 2) {
        group = (ProcessId)strtoul(argv[1], &end, 0);
        if (end == argv[1] || *end) {
            fprintf(stderr, "usage: hijacker [GROUP [COUNT]]\n");
            return 2;
        }
    }
    if (argc == 3) {
        count = strtol(argv[2], &end, 0);
        if (end == argv[2] || *end || count < 0) {
            fprintf(stderr, "usage: hijacker [GROUP [COUNT]]\n");
            return 2;
        }
    }
    r = JoinGroup(group);
    if (r < 0) {
        printf("hijacker: cannot join group 0x%lx (%s)\n", (unsigned long)group, verror(r));
        return 1;
    }
    printf("hijacker: joined group 0x%lx\n", (unsigned long)group);
    fflush(stdout);

    while (count < 0 || answered < count) {
        Message msg;
        ProcessId client = Receive(&msg);

        if (client < 0)
            continue;
        msg.m[0] = OK;
        Reply(&msg, client);
        answered++;
    }
    LeaveGroup(group);
    printf("hijacker: answered %ld requests\n", answered);
    return 0;
}
