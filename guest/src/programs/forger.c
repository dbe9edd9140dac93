/* forger SEED COUNT [calls]: a hostile guest that sends the kernel's servers forged requests.
 *
 * COUNT requests (1..100000), in turn to this host's kernel server and program
 * manager (their local groups), the file server and the display server, each
 * a request code of that server (or a random word) with random longs: small
 * numbers, addresses inside a buffer of ours, addresses anywhere, huge counts.
 * The words come from xorshift32 seeded with SEED, so a run is reproducible.
 * Left out: what waits by design (PM_WAIT), migration (PM_MIGRATE and the
 * MG_* codes), output to the display (IO_WRITE: it would print the noise) and
 * requests naming our own pid (we would kill or suspend ourselves).
 * Every Send must come back (a reply or an error): at the end it prints
 * "forger: N requests, N answered, E refused" (E: an error from the kernel
 * or an error reply) and exits 0. A server that never
 * answered would leave it waiting forever.
 *
 * With "calls" it makes COUNT system calls with random arguments instead: any
 * call but Exit, Receive (it would wait forever) and Send/SendGroup (the
 * requests above); Delay and ReceiveWithTimeout at most 31 ms. Each must
 * return: "forger: N calls, E errors".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#define KS_HOST_INFO 0x300 /* vkernel/servers/kernel_server.py */
#define KS_PROCESS_INFO 0x301

static unsigned long state;
static char buffer[8192];

static unsigned long next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

/* a long for a request: small, an address in our buffer, an address anywhere, or any word */
static long word(void)
{
    unsigned long r = next();

    switch (r & 3) {
    case 0:
        return (long)((r >> 2) & 0x3F);
    case 1:
        return (long)(buffer + ((r >> 2) % (sizeof(buffer) - 64)));
    case 2:
        return (long)((r >> 2) & 0xFFFFFF);
    default:
        return (long)next();
    }
}

static const long ks_codes[] = {KS_HOST_INFO, KS_PROCESS_INFO};
static const long pm_codes[] = {PM_EXEC, PM_KILL, PM_SUSPEND, PM_RESUME,
                                PM_QUERY_HOST, PM_EXITED, PM_LIST};
static const long fs_codes[] = {FS_OPEN, IO_READ, IO_WRITE, FS_WRITE_AT,
                                IO_CLOSE, FS_REMOVE, FS_LIST};
static const long ds_codes[] = {IO_CLOSE, IO_READ};

static long pick(const long *codes, unsigned long n)
{
    unsigned long r = next();

    if ((r & 7) == 0) {
        long code = (long)next();
        /* not PM_WAIT, PM_MIGRATE, the MG_* range (0x210..0x21f) nor IO_WRITE */
        if (code == PM_WAIT || code == PM_MIGRATE || (code >= 0x210 && code <= 0x21f) ||
            code == IO_WRITE)
            code = codes[0];
        return code;
    }
    return codes[(r >> 3) % n];
}

static const long calls[] = {SYS_REPLY, SYS_FORWARD, SYS_MOVETO, SYS_MOVEFROM, SYS_GETPID,
                             SYS_JOINGROUP, SYS_LEAVEGROUP, SYS_SBRK, SYS_TIME, SYS_DELAY,
                             SYS_RECEIVE_TIMEOUT, 15, -1};

/* COUNT random system calls; returns how many failed */
static long call_storm(long count)
{
    long i, errors = 0;

    for (i = 0; i < count; i++) {
        long number = calls[next() % (sizeof(calls) / sizeof(calls[0]))];
        long a1 = word(), a2 = word(), a3 = word(), a4 = word(), a5 = word();
        long r;

        if (number == SYS_DELAY)
            a1 &= 0x1F;
        if (number == SYS_RECEIVE_TIMEOUT)
            a2 &= 0x1F;
        if (number == SYS_SBRK && (a1 < -65536 || a1 > 65536))
            a1 &= 0xFFF; /* a huge break is refused; a small one keeps memory bounded */
        r = __vsyscall(number, a1, a2, a3, a4, a5);
        if (r < 0 && r > -64)
            errors++;
    }
    return errors;
}

int main(int argc, char **argv, char **envp)
{
    long count, i, answered = 0, refused = 0;
    ProcessId me = GetPid(PID_SELF);
    ProcessId targets[4];
    char *end;
    unsigned long k;

    if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "calls"))) {
        fprintf(stderr, "usage: forger SEED COUNT [calls]\n");
        return 2;
    }
    state = strtoul(argv[1], &end, 0);
    if (end == argv[1] || *end) {
        fprintf(stderr, "usage: forger SEED COUNT\n");
        return 2;
    }
    count = strtol(argv[2], &end, 0);
    if (end == argv[2] || *end || count < 1 || count > 100000) {
        fprintf(stderr, "usage: forger SEED COUNT (COUNT 1..100000)\n");
        return 2;
    }
    if (!state)
        state = 0x2545F491;
    for (k = 0; k < sizeof(buffer); k++)
        buffer[k] = (char)('a' + k % 26);
    if (argc == 4) {
        refused = call_storm(count);
        printf("forger: %ld calls, %ld errors\n", count, refused);
        return 0;
    }
    targets[0] = GetPid(PID_KERNEL_SERVER);
    targets[1] = GetPid(PID_PROGRAM_MANAGER);
    targets[2] = GetPid(PID_FILE_SERVER);
    targets[3] = _venv->stdout_pid;

    for (i = 0; i < count; i++) {
        Message msg;
        int t = (int)(i % 4);
        int j;
        ProcessId r;

        if (t == 0)
            msg.m[0] = pick(ks_codes, 2);
        else if (t == 1)
            msg.m[0] = pick(pm_codes, 7);
        else if (t == 2)
            msg.m[0] = pick(fs_codes, 7);
        else
            msg.m[0] = pick(ds_codes, 2);
        for (j = 1; j < 8; j++) {
            msg.m[j] = word();
            if (msg.m[j] == me)
                msg.m[j] = 0;
        }
        r = Send(&msg, targets[t]);
        answered++; /* it came back */
        if (r <= 0 || msg.m[0] < 0)
            refused++;
    }
    printf("forger: %ld requests, %ld answered, %ld refused\n", count, answered, refused);
    return 0;
}
