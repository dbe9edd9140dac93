/* ipcproto.h: the protocol between ipcserver and ipcclient.
 *
 * The server joins the group IPC_GROUP(N) (N = 0..IPC_GROUP_MAX); the client
 * finds it with a SendGroup of IPC_PING and then Sends to the pid that
 * replied. Requests (long 0 = code) and replies (long 0 = OK or -error):
 *
 *   IPC_PING  long1 = x                        -> long1 = x + 1
 *   IPC_GET   long1 = buffer, long2 = count,   -> OK; the server has MoveTo'd
 *             long3 = seed                        count bytes of the pattern
 *                                                 ipc_pattern(seed, i) there
 *   IPC_PUT   long1 = buffer, long2 = count    -> long1 = Adler-32 of the
 *                                                 count bytes (MoveFrom)
 *   IPC_QUIT                                   -> OK; the server exits
 *
 * The server moves the data in pieces of at most IPC_CHUNK bytes. */
#ifndef IPCPROTO_H
#define IPCPROTO_H

#include "adler32.h"

#define IPC_GROUP_BASE 0x00008100L
#define IPC_GROUP_MAX 127
#define IPC_GROUP(n) ((ProcessId)(IPC_GROUP_BASE + (n)))

#define IPC_PING 0x400
#define IPC_GET 0x401
#define IPC_PUT 0x402
#define IPC_QUIT 0x403

#define IPC_CHUNK (32UL * 1024)

/* byte i of the IPC_GET pattern of seed */
static inline unsigned char ipc_pattern(unsigned long seed, unsigned long i)
{
    return (unsigned char)((seed * 31 + i * 7 + (i >> 8)) & 0xFF);
}

/* n bytes of the pattern of seed from offset off into p */
static inline void ipc_fill(unsigned char *p, unsigned long n, unsigned long seed,
                            unsigned long off)
{
    unsigned long i;

    for (i = 0; i < n; i++)
        p[i] = ipc_pattern(seed, off + i);
}

#endif
