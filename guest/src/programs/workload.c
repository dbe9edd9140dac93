/* workload NAME SECONDS: a model of one of the programs of the V paper's
 * Table 4-1 (make, cc68 and the five passes of the C compiler, TeX), as
 * far as migration can see it: a logical host of 1.5..2 MB, mostly
 * untouched, in which pages are dirtied at the rates the paper measured.
 *
 * The model of a workload (the table below):
 *  - the stack page and the engine's state page (page 0 of the arena) are
 *    written at every active step, and `hot` - 1 more pages (1.. of the
 *    arena) too: the hot set, dirty in every interval however short;
 *  - up to three streams, each a region of the arena written sequentially
 *    and cyclically, one 256-byte chunk at a time, at a fixed rate (pages
 *    per second): a small region with a fast rate is a warm set that is
 *    all dirty after its period (pages / rate), a large one with a slow
 *    rate a cold stream of fresh pages (what grows between 1 s and 3 s);
 *    a one-page region with a slow rate is a page dirtied every so often;
 *  - make and cc68 are active only in bursts (`active` steps out of every
 *    `period`); in between they compute in registers and write nothing.
 * The rest of the arena is allocated (sbrk) and never written.
 *
 * Time is CPU work, never the clock: a step is 5000 instructions, 5 ms of
 * virtual time at the default 1 us per instruction (the writes of a step
 * and its bookkeeping are part of it, the rest is a register-only spin),
 * and a run is SECONDS * 200 steps. What is written depends on the step
 * number only, so the checksum (over the hot pages and everything the
 * streams wrote) depends on NAME and SECONDS alone, however the program
 * is scheduled or migrated. SECONDS may be fractional (to 5 ms).
 *
 * Prints "workload NAME: SECONDS s, checksum 0xXXXXXXXX".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#include "seconds.h"

#define STEP_INSNS 5000UL  /* one step: 5 ms at 1 instruction per us */
#define STEP_MS 5UL
#define STEPS_PER_S 200UL
#define INSNS_PER_SPIN 10UL /* instructions of one spin() iteration */
#define WORDS_PER_PAGE (PAGE_SIZE / 4)
#define CHUNK_WORDS 64UL    /* a stream writes 256 bytes at a time */
#define CHUNKS_PER_PAGE (WORDS_PER_PAGE / CHUNK_WORDS)
#define NSTREAMS 3
/* Bresenham: a stream's accumulator gains rate (milli-pages/s) * 16 a step
 * and writes a chunk per STEPS_PER_S * 1000 */
#define CHUNK_DUE (STEPS_PER_S * 1000UL)

/* Instruction costs of the step loop (measured: the workload tests check
 * that a run lasts SECONDS), subtracted from the step's spin. */
#define COST_STEP 133UL  /* bookkeeping of a step, streams included */
#define COST_HOT 8UL     /* one more hot page */
#define COST_CHUNK 362UL /* one chunk written */

struct stream {
    unsigned short pages; /* region size; 0 = no stream */
    unsigned long mpps;   /* rate: milli-pages per second */
};

struct model {
    const char *name;
    unsigned short arena_pages; /* heap allocated: the size of the logical host */
    unsigned short hot;         /* hot pages (>= 1: the state page) */
    unsigned short period;      /* steps of a burst cycle; 0 = always active */
    unsigned short active;      /* active steps at the start of each cycle */
    struct stream s[NSTREAMS];
};

/* The arena holds the hot pages, then the stream regions in order, then
 * pages nobody writes. The numbers are fitted to Table 4-1 (KB dirtied
 * within 0.2 s / 1 s / 3 s, in 4 KB pages here); a stream's period is
 * pages / rate. Every model also dirties its stack page. */
static const struct model models[] = {
    /* make (0.8 / 1.8 / 4.2 KB): reads makefiles, stats files, waits; a
     * 0.44 s burst every 6.44 s dirties two pages (stack, state) */
    {"make", 370, 1, 1288, 88, {{0, 0}, {0, 0}, {0, 0}}},
    /* cc68 (0.6 / 2.2 / 6.2): the control program, starting the passes;
     * a 0.1 s burst every 4.05 s, two pages */
    {"cc68", 370, 1, 810, 20, {{0, 0}, {0, 0}, {0, 0}}},
    /* preprocessor (25.0 / 40.2 / 59.6): buffers and the macro table, 5
     * pages rewritten every 0.52 s; output pages, 2.28 a second */
    {"preprocessor", 400, 1, 0, 0, {{5, 9595}, {256, 2280}, {0, 0}}},
    /* parser (50.0 / 76.8 / 109.4): 8 hot pages (symbol table, parse
     * stack); trees, 10 pages every 1.71 s; a heap growing 2.47 pages/s */
    {"parser", 440, 8, 0, 0, {{10, 5837}, {256, 2471}, {0, 0}}},
    /* optimizer (19.8 / 32.2 / 41.0): a function's flow graph, 4 pages
     * every 0.94 s; 1.1 fresh pages a second */
    {"optimizer", 420, 1, 0, 0, {{4, 4270}, {256, 1105}, {0, 0}}},
    /* assembler (21.6 / 33.4 / 48.4): 2 hot pages; the code buffer, 7
     * pages every 2.75 s; a symbol page touched 3.9 times a second; output
     * barely growing */
    {"assembler", 400, 2, 0, 0, {{7, 2546}, {256, 54}, {1, 244}}},
    /* linker, the linking loader (25.0 / 39.2 / 37.8): 2 hot pages;
     * relocation buffers, 6 pages every 0.55 s; hardly any growth, so its
     * 3 s figure stays near its 1 s one */
    {"linker", 440, 2, 0, 0, {{6, 10988}, {256, 36}, {0, 0}}},
    /* tex (68.6 / 111.6 / 142.8): 10 hot pages (the current page's boxes
     * and glue); 12 pages every 0.69 s; 3.9 pages of new lists a second */
    {"tex", 500, 10, 0, 0, {{12, 17448}, {256, 3927}, {0, 0}}},
};
#define NMODELS (sizeof(models) / sizeof(models[0]))

struct state {
    unsigned long step;
    unsigned long acc[NSTREAMS];    /* Bresenham accumulators */
    unsigned long chunks[NSTREAMS]; /* chunks written so far */
};

/* n iterations of 10 instructions, registers only: no memory is written
 * (besides the return address of the call). */
static unsigned long __attribute__((noinline)) spin(unsigned long x, unsigned long n)
{
    while (n) {
        unsigned long chunk = n > 0x10000 ? 0x10000 : n;
        unsigned long count = chunk - 1; /* dbra runs count + 1 times */
        n -= chunk;
        __asm__ volatile(
            "   moveq   #13,%%d3\n"
            "   moveq   #17,%%d4\n"
            "1: move.l  %0,%%d2\n"
            "   lsl.l   %%d3,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   move.l  %0,%%d2\n"
            "   lsr.l   %%d4,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   move.l  %0,%%d2\n"
            "   lsl.l   #5,%%d2\n"
            "   eor.l   %%d2,%0\n"
            "   dbra    %1,1b\n"
            : "+d"(x), "+d"(count)
            :
            : "d2", "d3", "d4", "cc");
    }
    return x;
}

/* One chunk: 64 words derived from the stream and the chunk number only. */
static void __attribute__((noinline)) fill(unsigned long *p, unsigned long stream, unsigned long chunk)
{
    unsigned long v = (chunk + 1) * 0x9E3779B1UL + stream * 0x7F4A7C15UL;
    unsigned long i;

    for (i = 0; i < CHUNK_WORDS; i++) {
        p[i] = v;
        v += 0x01000193UL;
    }
}

static long parse_ms(const char *s)
{
    return parse_seconds_ms(s, 100000); /* a day is plenty */
}

static void usage(void)
{
    unsigned long i;

    fprintf(stderr, "usage: workload NAME SECONDS; names:");
    for (i = 0; i < NMODELS; i++)
        fprintf(stderr, " %s", models[i].name);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv, char **envp)
{
    const struct model *m = NULL;
    unsigned long *arena, *region[NSTREAMS];
    volatile struct state *st;
    unsigned long total, k, i, j, hot, sum, x = 0x2545F491UL;
    long ms;
    char *brk;

    if (argc != 3 || (ms = parse_ms(argv[2])) < 0) {
        usage();
        return 2;
    }
    for (i = 0; i < NMODELS; i++)
        if (strcmp(argv[1], models[i].name) == 0)
            m = &models[i];
    if (!m) {
        usage();
        return 2;
    }

    /* the arena, page-aligned */
    brk = sbrk(0);
    if (brk == (char *)-1 || sbrk((long)((-(unsigned long)brk) & (PAGE_SIZE - 1))) == (void *)-1 ||
        (arena = sbrk((long)m->arena_pages * PAGE_SIZE)) == (void *)-1) {
        fprintf(stderr, "workload: cannot allocate %u KB\n", m->arena_pages * 4U);
        return 1;
    }
    st = (volatile struct state *)arena;
    hot = m->hot;
    j = hot;
    for (i = 0; i < NSTREAMS; i++) {
        region[i] = arena + j * WORDS_PER_PAGE;
        j += m->s[i].pages;
    }

    total = (unsigned long)ms / STEP_MS;
    k = 0;
    while (k < total) {
        unsigned long cost = COST_STEP, n;

        if (m->period && k % m->period >= m->active) {
            /* a quiet stretch: compute, write nothing */
            n = m->period - k % m->period;
            if (n > total - k)
                n = total - k;
            x = spin(x, n * (STEP_INSNS / INSNS_PER_SPIN));
            k += n;
            continue;
        }
        st->step = k;
        for (i = 1; i < hot; i++) {
            arena[i * WORDS_PER_PAGE + (k & (WORDS_PER_PAGE - 1))] = k ^ i;
            cost += COST_HOT;
        }
        for (i = 0; i < NSTREAMS; i++) {
            unsigned long chunks_in_region = (unsigned long)m->s[i].pages * CHUNKS_PER_PAGE;

            if (!chunks_in_region)
                continue;
            st->acc[i] += m->s[i].mpps * CHUNKS_PER_PAGE;
            while (st->acc[i] >= CHUNK_DUE) {
                unsigned long c = st->chunks[i];
                st->acc[i] -= CHUNK_DUE;
                fill(region[i] + (c % chunks_in_region) * CHUNK_WORDS, i, c);
                st->chunks[i] = c + 1;
                cost += COST_CHUNK;
            }
        }
        if (cost < STEP_INSNS)
            x = spin(x, (STEP_INSNS - cost) / INSNS_PER_SPIN);
        k++;
    }

    /* the checksum: the hot pages, and every chunk a stream wrote */
    sum = 0;
    for (i = 0; i < hot * WORDS_PER_PAGE; i++)
        sum = ((sum << 5) | (sum >> 27)) ^ arena[i];
    for (i = 0; i < NSTREAMS; i++) {
        unsigned long c = st->chunks[i], cap = (unsigned long)m->s[i].pages * CHUNKS_PER_PAGE;
        unsigned long words = (c < cap ? c : cap) * CHUNK_WORDS;
        for (j = 0; j < words; j++)
            sum = ((sum << 5) | (sum >> 27)) ^ region[i][j];
    }
    sum ^= x;
    if (ms % 1000) { /* "2.5 s", "0.25 s" */
        long frac = ms % 1000;
        int digits = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        printf("workload %s: %ld.%0*ld s, checksum 0x%08lx\n", m->name, ms / 1000, digits, frac, sum);
    } else {
        printf("workload %s: %ld s, checksum 0x%08lx\n", m->name, ms / 1000, sum);
    }
    return 0;
}
