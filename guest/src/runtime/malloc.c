/* malloc.c: a first-fit allocator over a heap grown by SYS_SBRK.
 *
 * Every block starts with an 8-byte header (its size, header included, and
 * the next free block while it is free). Free blocks are kept in one list
 * sorted by address, and free() merges a block with its free neighbours.
 * The heap grows by whole pages when no free block fits.
 */
#include <stdlib.h>
#include <string.h>
#include <v.h>

struct blk {
    unsigned long size;  /* bytes, header included, multiple of 8 */
    struct blk *next;    /* next free block (free blocks only) */
};

#define HDR ((unsigned long)sizeof(struct blk))
#define MIN_BLOCK 16UL
#define ALLOC_MARK ((struct blk *)0x414C4C43) /* 'ALLC' in next of used blocks */

static struct blk *free_list;

/* Insert b into the free list (sorted by address) and merge neighbours. */
static void insert_free(struct blk *b)
{
    struct blk *prev = NULL, *cur = free_list;

    while (cur && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    b->next = cur;
    if (cur && (char *)b + b->size == (char *)cur) {
        b->size += cur->size;
        b->next = cur->next;
    }
    if (prev) {
        prev->next = b;
        if ((char *)prev + prev->size == (char *)b) {
            prev->size += b->size;
            prev->next = b->next;
        }
    } else {
        free_list = b;
    }
}

/* Grow the heap by at least need bytes (whole pages), as one free block. */
static int grow(unsigned long need)
{
    unsigned long amount = (need + PAGE_SIZE - 1) & ~(unsigned long)(PAGE_SIZE - 1);
    char *p = sbrk((long)amount);
    unsigned long adj;
    struct blk *b;

    if (p == (char *)-1)
        return 0;
    adj = (unsigned long)(-(long)p) & 7; /* the break is page-aligned; be safe */
    if (adj) {
        if (sbrk((long)adj) == (void *)-1)
            return 0;
        p += adj;
    }
    b = (struct blk *)p;
    b->size = amount;
    insert_free(b);
    return 1;
}

static unsigned long block_size(size_t n)
{
    unsigned long need = ((unsigned long)n + HDR + 7) & ~7UL;
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;
    return need;
}

void *malloc(size_t n)
{
    unsigned long need;
    struct blk *prev, *b;

    if (n > 0x00FFFFFFUL) /* more than the whole address space */
        return NULL;
    need = block_size(n);
    for (;;) {
        for (prev = NULL, b = free_list; b; prev = b, b = b->next) {
            if (b->size < need)
                continue;
            if (b->size - need >= MIN_BLOCK) {
                struct blk *rest = (struct blk *)((char *)b + need);
                rest->size = b->size - need;
                rest->next = b->next;
                b->size = need;
                if (prev)
                    prev->next = rest;
                else
                    free_list = rest;
            } else if (prev) {
                prev->next = b->next;
            } else {
                free_list = b->next;
            }
            b->next = ALLOC_MARK;
            return b + 1;
        }
        if (!grow(need))
            return NULL;
    }
}

void free(void *p)
{
    struct blk *b;

    if (!p)
        return;
    b = (struct blk *)p - 1;
    if (b->next != ALLOC_MARK) /* not ours, or freed twice: ignore */
        return;
    insert_free(b);
}

void *calloc(size_t count, size_t size)
{
    unsigned long total;
    void *p;

    if (size && count > 0xFFFFFFFFUL / size)
        return NULL;
    total = (unsigned long)count * size;
    p = malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void *realloc(void *p, size_t n)
{
    struct blk *b, *prev, *cur;
    unsigned long need;
    void *q;

    if (!p)
        return malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    b = (struct blk *)p - 1;
    need = block_size(n);
    if (b->size >= need)
        return p;
    /* grow in place into the free block right after it */
    for (prev = NULL, cur = free_list; cur && cur < b; prev = cur, cur = cur->next)
        ;
    if (cur && (char *)b + b->size == (char *)cur && b->size + cur->size >= need) {
        unsigned long total = b->size + cur->size;
        struct blk *next = cur->next;
        if (total - need >= MIN_BLOCK) {
            struct blk *rest = (struct blk *)((char *)b + need);
            rest->size = total - need;
            rest->next = next;
            next = rest;
            b->size = need;
        } else {
            b->size = total;
        }
        if (prev)
            prev->next = next;
        else
            free_list = next;
        return p;
    }
    q = malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, b->size - HDR);
    free(p);
    return q;
}
