/* ipcclient GROUP KB ROUNDS [quit]: the client side of the IPC test
 * (ipcproto.h).
 *
 * Finds the server of group IPC_GROUP(GROUP): SendGroup of IPC_PING, up to
 * 50 tries 100 ms apart, and keeps the pid that replied. Then round r
 * (1..ROUNDS) asks for KB KB of the pattern of seed r (IPC_GET) into a
 * malloc'd buffer, counts the bytes that differ from the pattern, sends the
 * buffer back (IPC_PUT) and compares the server's Adler-32 with its own:
 *     round R: got KB KB ok|BAD(n), put checksum ok|BAD
 * Then prints "ipcclient: done" and, with "quit", sends IPC_QUIT (after the
 * rounds, or right after the PING with ROUNDS 0).
 * Exit status 0 when every round was ok, else 1 (2: usage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#include "ipcproto.h"

#define PING_TRIES 50
#define PING_DELAY_MS 100
#define PING_VALUE 41
#define KB_MAX 8192
#define ROUNDS_MAX 1000000

/* s as a number in 0..max, or -1 */
static long number(const char *s, long max)
{
    char *end;
    long v = strtol(s, &end, 0);

    if (end == s || *end || v < 0 || v > max)
        return -1;
    return v;
}

/* The pid of a server of group, or a negative error (the last try's). */
static ProcessId find_server(ProcessId group)
{
    ProcessId r = -ENOPROC;
    int i;

    for (i = 0; i < PING_TRIES; i++) {
        Message msg = { { IPC_PING, PING_VALUE, 0, 0, 0, 0, 0, 0 } };

        if (i > 0)
            Delay(PING_DELAY_MS);
        r = SendGroup(&msg, group);
        if (r > 0 && msg.m[0] == OK && msg.m[1] == PING_VALUE + 1)
            return r;
        if (r >= 0)
            r = msg.m[0] < 0 ? msg.m[0] : -EIO;
    }
    return r;
}

/* One request to the server: the reply code (OK or -error). */
static long call(ProcessId server, Message *msg)
{
    ProcessId r = Send(msg, server);

    if (r < 0)
        return r;
    return msg->m[0];
}

int main(int argc, char **argv, char **envp)
{
    long group = argc >= 4 ? number(argv[1], IPC_GROUP_MAX) : -1;
    long kb = argc >= 4 ? number(argv[2], KB_MAX) : -1;
    long rounds = argc >= 4 ? number(argv[3], ROUNDS_MAX) : -1;
    int quit = argc == 5 && !strcmp(argv[4], "quit");
    unsigned long bytes, i;
    unsigned char *buf;
    ProcessId server;
    long r, round;
    int status = 0;

    if (group < 0 || kb < 1 || rounds < 0 || (argc == 5 && !quit) || argc > 5) {
        fprintf(stderr, "usage: ipcclient GROUP KB ROUNDS [quit] (GROUP 0..%d, KB 1..%d)\n",
                IPC_GROUP_MAX, KB_MAX);
        return 2;
    }
    bytes = (unsigned long)kb * 1024;
    buf = malloc(bytes);
    if (!buf) {
        fprintf(stderr, "ipcclient: cannot allocate %ld KB\n", kb);
        return 1;
    }
    server = find_server(IPC_GROUP(group));
    if (server < 0) {
        fprintf(stderr, "ipcclient: no server in group %ld (%s)\n", group, verror(server));
        return 1;
    }

    for (round = 1; round <= rounds; round++) {
        Message msg = { { IPC_GET, (long)buf, (long)bytes, round, 0, 0, 0, 0 } };
        unsigned long bad = 0, sum;

        memset(buf, 0, bytes);
        r = call(server, &msg);
        if (r < 0) {
            fprintf(stderr, "ipcclient: round %ld: get: %s\n", round, verror(r));
            return 1;
        }
        for (i = 0; i < bytes; i++)
            if (buf[i] != ipc_pattern((unsigned long)round, i))
                bad++;
        sum = adler32(ADLER32_INIT, buf, bytes);

        msg = (Message){ { IPC_PUT, (long)buf, (long)bytes, 0, 0, 0, 0, 0 } };
        r = call(server, &msg);
        if (r < 0) {
            fprintf(stderr, "ipcclient: round %ld: put: %s\n", round, verror(r));
            return 1;
        }
        if (bad)
            printf("round %ld: got %ld KB BAD(%lu), ", round, kb, bad);
        else
            printf("round %ld: got %ld KB ok, ", round, kb);
        printf("put checksum %s\n", (unsigned long)msg.m[1] == sum ? "ok" : "BAD");
        if (bad || (unsigned long)msg.m[1] != sum)
            status = 1;
    }
    printf("ipcclient: done\n");

    if (quit) {
        Message msg = { { IPC_QUIT, 0, 0, 0, 0, 0, 0, 0 } };
        r = call(server, &msg);
        if (r < 0) {
            fprintf(stderr, "ipcclient: quit: %s\n", verror(r));
            status = 1;
        }
    }
    free(buf);
    return status;
}
