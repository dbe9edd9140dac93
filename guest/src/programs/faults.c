/* faults KIND: executes one kind of fault, for the kernel's tests.
 * KIND: bkpt | illegal | divzero | unmapped | protected | null | stackoverflow
 * Prints "faults: KIND" (flushed) first. If the fault does not happen,
 * prints "faults: KIND did not fault" and exits with status 1.
 *
 * This is the only image that contains a bkpt instruction. */
#include <stdio.h>
#include <string.h>
#include <v.h>

extern char _start[];

static volatile long sink;

/* Each frame holds 1 KB; the recursion never ends, so the stack passes
 * STACK_MAX (256 KB) and the kernel must stop it. */
static long __attribute__((noinline)) recurse(long depth)
{
    volatile char frame[1024];
    if (depth == 0x7fffffffL) /* never: keeps the compiler from complaining */
        return 0;
    frame[0] = (char)depth;
    frame[sizeof(frame) - 1] = (char)depth;
    return recurse(depth + 1) + frame[0] + frame[sizeof(frame) - 1];
}

int main(int argc, char **argv, char **envp)
{
    const char *kind = argc > 1 ? argv[1] : "";

    printf("faults: %s\n", kind);
    fflush(stdout);

    if (!strcmp(kind, "bkpt")) {
        __asm__ volatile("bkpt #0");
    } else if (!strcmp(kind, "illegal")) {
        __asm__ volatile("illegal");
    } else if (!strcmp(kind, "divzero")) {
        long q = 1000;
        __asm__ volatile("moveq #0,%%d1\n\tdivu.w %%d1,%0" : "+d"(q) : : "d1", "cc");
        sink = q;
    } else if (!strcmp(kind, "unmapped")) {
        /* between the heap and the stack: never mapped */
        *(volatile long *)0x800000 = 0x12345678;
    } else if (!strcmp(kind, "protected")) {
        /* our own code is read-only */
        *(volatile long *)_start = 0x4e714e71;
    } else if (!strcmp(kind, "null")) {
        sink = *(volatile long *)0;
    } else if (!strcmp(kind, "stackoverflow")) {
        sink = recurse(0);
    } else {
        fprintf(stderr,
                "usage: faults bkpt|illegal|divzero|unmapped|protected|null|stackoverflow\n");
        return 2;
    }
    printf("faults: %s did not fault\n", kind);
    return 1;
}
