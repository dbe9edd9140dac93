/* ipcserver GROUP: the server side of the IPC test (ipcproto.h).
 *
 * Joins the group IPC_GROUP(GROUP) (GROUP = 0..127), prints
 * "ipcserver: ready" and serves requests until IPC_QUIT:
 *   IPC_PING x                   -> x + 1
 *   IPC_GET  buffer count seed   -> MoveTo's count bytes of the pattern
 *   IPC_PUT  buffer count        -> MoveFrom's them, replies their Adler-32
 *   IPC_QUIT                     -> prints "ipcserver: served N requests"
 *                                   (every request received, the QUIT
 *                                   included), replies OK and exits 0
 * Data moves in pieces of at most 32 KB through one malloc'd buffer. A
 * failed move is answered with its error; an unknown code with -EBADCALL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <v.h>

#include "ipcproto.h"

static unsigned char *chunk; /* IPC_CHUNK bytes */

/* s as a number in 0..max, or -1 */
static long number(const char *s, long max)
{
    char *end;
    long v = strtol(s, &end, 0);

    if (end == s || *end || v < 0 || v > max)
        return -1;
    return v;
}

/* IPC_GET: count bytes of the pattern of seed to addr in the client. */
static long get(ProcessId client, unsigned long addr, unsigned long count, unsigned long seed)
{
    unsigned long off = 0;

    while (off < count) {
        unsigned long k = count - off < IPC_CHUNK ? count - off : IPC_CHUNK;
        long r;

        ipc_fill(chunk, k, seed, off);
        r = MoveTo(client, (void *)(addr + off), chunk, k);
        if (r < 0)
            return r;
        off += k;
    }
    return OK;
}

/* IPC_PUT: the Adler-32 of count bytes at addr in the client into *sum. */
static long put(ProcessId client, unsigned long addr, unsigned long count, unsigned long *sum)
{
    unsigned long off = 0, s = ADLER32_INIT;

    while (off < count) {
        unsigned long k = count - off < IPC_CHUNK ? count - off : IPC_CHUNK;
        long r = MoveFrom(client, chunk, (const void *)(addr + off), k);

        if (r < 0)
            return r;
        s = adler32(s, chunk, k);
        off += k;
    }
    *sum = s;
    return OK;
}

int main(int argc, char **argv, char **envp)
{
    long group = argc == 2 ? number(argv[1], IPC_GROUP_MAX) : -1;
    long served = 0, r;

    if (group < 0) {
        fprintf(stderr, "usage: ipcserver GROUP (0..%d)\n", IPC_GROUP_MAX);
        return 2;
    }
    chunk = malloc(IPC_CHUNK);
    if (!chunk) {
        fprintf(stderr, "ipcserver: out of memory\n");
        return 1;
    }
    r = JoinGroup(IPC_GROUP(group));
    if (r < 0) {
        fprintf(stderr, "ipcserver: cannot join group %ld (%s)\n", group, verror(r));
        return 1;
    }
    printf("ipcserver: ready\n");
    fflush(stdout);

    for (;;) {
        Message msg;
        ProcessId client = Receive(&msg);
        unsigned long sum = 0;
        long code = msg.m[0];

        if (client < 0) {
            fprintf(stderr, "ipcserver: receive: %s\n", verror(client));
            return 1;
        }
        served++;
        switch (code) {
        case IPC_PING:
            msg.m[1] += 1;
            msg.m[0] = OK;
            break;
        case IPC_GET:
            msg.m[0] = get(client, (unsigned long)msg.m[1], (unsigned long)msg.m[2],
                           (unsigned long)msg.m[3]);
            msg.m[1] = 0;
            break;
        case IPC_PUT:
            msg.m[0] = put(client, (unsigned long)msg.m[1], (unsigned long)msg.m[2], &sum);
            msg.m[1] = (long)sum;
            break;
        case IPC_QUIT:
            /* print before replying: the client sees the line written */
            LeaveGroup(IPC_GROUP(group));
            printf("ipcserver: served %ld requests\n", served);
            fflush(stdout);
            msg.m[0] = OK;
            Reply(&msg, client);
            return 0;
        default:
            msg.m[0] = -EBADCALL;
            break;
        }
        Reply(&msg, client);
    }
}
