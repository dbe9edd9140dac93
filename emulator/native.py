"""The C core of the CPU and MMU (block budget, TLB fill, exception hook), built with gcc and loaded with cffi."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cffi

log = logging.getLogger(__name__)

# The hot paths of the emulator live here, in C, and nowhere else:
#
# * vc_block_hook (UC_HOOK_BLOCK) runs at the start of every translation block.
#   It looks up the block's exact instruction count (a cache keyed by the
#   block's physical address and size, filled on a miss from Unicorn's own
#   translation block with uc_ctl(UC_CTL_TB_REQUEST_CACHE)), stops the slice
#   before a block that would overrun the budget, and stops before any block
#   whose last word is a `bkpt` (0x4848..0x484F) so that a bkpt never runs
#   (it hangs Unicorn 2.1.4: EXCP_DEBUG leaves the vCPU stopped and
#   uc_emu_start loops forever). A stop requested here happens before the
#   block executes: Unicorn calls the block hook ahead of the block's
#   exit-request check. A block holding a word of an instruction the engine
#   gets wrong (memory ASd/LSd) is stopped the same way; Python decodes it,
#   runs it up to that instruction (uc_emu_start's `until`), emulates the
#   instruction exactly and continues the slice (emulator.exact).
# * vc_tlb_fill (UC_HOOK_TLB_FILL) is the MMU: it walks the current context's
#   page table (4096 entries of 4 KB pages, a 16 MB address space), sets the
#   referenced bit, grants write only to modified pages (the first write to a
#   clean page fills again and sets the modified bit) and records faults.
# * vc_intr_hook (UC_HOOK_INTR) records the exception number and stops;
#   Python handles it after uc_emu_start returns.
C_SOURCE = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unicorn/unicorn.h>

#define VC_PAGE_SHIFT 12
#define VC_PAGE_SIZE 4096u
#define VC_NPAGES 4096u

#define PTE_FRAME 0xFFFFu
#define PTE_VALID (1u << 16)
#define PTE_READ (1u << 17)
#define PTE_WRITE (1u << 18)
#define PTE_EXEC (1u << 19)
#define PTE_REF (1u << 20)
#define PTE_MOD (1u << 21)
#define PTE_COW (1u << 22) /* copy-on-write: the first write faults (a checkpoint's cut) */

enum { VC_STOP_NONE = 0, VC_STOP_BUDGET = 1, VC_STOP_INTR = 2, VC_STOP_FAULT = 3, VC_STOP_SUSPECT = 4 };
enum { VC_FAULT_UNMAPPED = 1, VC_FAULT_PROTECTION = 2, VC_FAULT_COW = 3 };

#define TBF_SUSPECT 1u   /* last word of the block is a bkpt opcode, or some word an emulated opcode */
#define TBF_CLEARED 2u   /* ... but it is an extension word, not an instruction */

/* Words of instructions the engine gets wrong, which Python emulates exactly
 * (emulator.exact, the same patterns):
 * - ASd/LSd <ea> (memory, by one): 1110 00td 11mm mrrr. QEMU's shift_mem
 *   picks arithmetic vs logical from bit 3 (an addressing-mode bit) instead of
 *   bit 9, and its memory ASL never sets V;
 * - MOVE from CCR (0100 0010 11mm mrrr): after it QEMU's lazily kept flags
 *   can go wrong (a logic op, then ADDX, left Z set);
 * - MOVE from SR (0100 0000 11mm mrrr): privileged on the 68010, not on
 *   QEMU's m68000;
 * - 68020 words QEMU's m68000 runs or mis-reports, illegal on a 68010: EXTB.L
 *   (0100 1001 1100 0rrr), LINK.L (0100 1000 0000 1rrr), CAS (0000 1ss0 11..,
 *   ss = 01..11), TRAPcc (0101 cccc 1111 1010..1100), PACK/UNPK (1000 yyy1
 *   0100 mxxx, 1000 yyy1 1000 mxxx). */
static inline int vc_emulated_word(uint32_t w)
{
    return (w & 0xFCC0u) == 0xE0C0u || (w & 0xFFC0u) == 0x42C0u || (w & 0xFFC0u) == 0x40C0u
        || (w & 0xF1C0u) == 0x81C0u /* divs.w: QEMU's helper divides on the host (SIGFPE) */
        || (w & 0xFFF8u) == 0x49C0u
        || (w & 0xFFF8u) == 0x4808u || ((w & 0xF9C0u) == 0x08C0u && (w & 0x0600u))
        || ((w & 0xF0FFu) >= 0x50FAu
        && (w & 0xF0FFu) <= 0x50FCu) || (w & 0xF1F0u) == 0x8140u || (w & 0xF1F0u) == 0x8180u;
}

typedef uc_err (*fn_emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
typedef uc_err (*fn_emu_stop)(uc_engine *);
typedef uc_err (*fn_ctl)(uc_engine *, uc_control_type, ...);
typedef uc_err (*fn_hook_add)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...);
typedef uc_err (*fn_reg_read_batch)(uc_engine *, int const *, void **, int);
typedef uc_err (*fn_reg_write_batch)(uc_engine *, int const *, void *const *, int);
typedef uc_err (*fn_reg_rw)(uc_engine *, int, void *);
typedef uc_err (*fn_mem_write)(uc_engine *, uint64_t, const void *, uint64_t);
typedef uc_err (*fn_context_alloc)(uc_engine *, uc_context **);
typedef uc_err (*fn_context_save)(uc_engine *, uc_context *);
typedef uint32_t (*fn_get_ccr)(void *env);
typedef uc_err (*fn_context_free)(uc_context *);

/* Unicorn 2.1.4's struct uc_context (include/uc_priv.h, not a public header):
 * uc_context_save copies the CPU state (CPUM68KState up to end_reset_fields)
 * into data[]. vc_ccr_init checks this layout against the live engine. */
typedef struct {
    size_t context_size;
    uc_mode mode;
    uc_arch arch;
    int snapshot_level;
    bool ramblock_freed;
    void *last_block;
    void *fv;
    char data[];
} vc_uc_context;

/* offsets in CPUM68KState (qemu/target/m68k/cpu.h): dregs[8], aregs[8], pc */
#define VC_ENV_DREGS 0
#define VC_ENV_PC 64

typedef struct {
    uint64_t key;      /* (phys << 16) | size; 0 = empty */
    uint32_t icount;
    uint32_t flags;
} vc_tbent;

/* The per-run fast path: direct-mapped by virtual PC, valid for one epoch
 * (an epoch ends at every TLB flush, i.e. every context switch or remap). */
typedef struct {
    uint64_t key;      /* epoch << 40 | size << 24 | pc (pc < 16 MB: the MMU faults above) */
    uint32_t icount;
    uint32_t pad;
} vc_fastent;

#define VC_FAST 4096u
#define VC_EPOCH_MASK 0xFFFFFFu

typedef struct vc_state {
    uc_engine *uc;
    fn_emu_start emu_start;
    fn_emu_stop emu_stop;
    fn_ctl ctl;
    fn_hook_add hook_add;
    fn_reg_read_batch reg_read_batch;
    fn_reg_write_batch reg_write_batch;
    fn_reg_rw reg_read;
    fn_reg_rw reg_write;
    fn_mem_write mem_write;

    uint8_t *ram;
    uint32_t ram_size;
    uint32_t nframes;
    uint8_t *frame_code;        /* per frame: Unicorn may hold translated code from it */

    uint32_t *table;            /* page table of the current context (NULL: none) */

    /* the slice */
    int64_t left;               /* budget left; the first block of a slice may take it below 0 */
    uint64_t budget;
    uint64_t executed;          /* budget - left, set when uc_emu_start returns */
    uint32_t pc;                /* the PC when uc_emu_start returned */
    int32_t reason;
    uint32_t intno;
    uint32_t fault_vaddr;
    int32_t fault_access;       /* 16 read, 17 write, 18 fetch */
    int32_t fault_kind;
    uint32_t stop_pc;           /* the block a BUDGET or SUSPECT stop came before */
    uint32_t stop_size;
    uint32_t stop_icount;
    vc_fastent *last;           /* the last block let run in this slice (NULL: none) */
    /* a chain: slices that follow one another in one uc_emu_start (see vc_block_hook) */
    uint64_t chain_limit;       /* a new slice may begin while the chain's count is below this */
    uint64_t chain_done;        /* instructions of the chain's slices before the current one */
    uint64_t chain_slices;      /* how many slices of the chain ended before the current one */

    /* the block cache */
    vc_tbent *cache;
    uint32_t cache_mask;
    uint32_t cache_used;
    vc_fastent *fast;
    uint32_t epoch;
    uint64_t epochkey;

    /* statistics */
    uint64_t fills;
    uint64_t misses;
    uint64_t tb_mismatch;
    uint64_t flushes;
    uint64_t code_flushes;

    uc_hook h_block, h_intr, h_tlb;

    /* the true condition codes (see vc_regs_read) */
    fn_context_alloc context_alloc;
    fn_context_save context_save;
    fn_get_ccr get_ccr;
    fn_context_free context_free;
    vc_uc_context *ctx;
} vc_state;

static const int vc_reg_ids[18] = {
    UC_M68K_REG_SR,
    UC_M68K_REG_D0, UC_M68K_REG_D1, UC_M68K_REG_D2, UC_M68K_REG_D3,
    UC_M68K_REG_D4, UC_M68K_REG_D5, UC_M68K_REG_D6, UC_M68K_REG_D7,
    UC_M68K_REG_A0, UC_M68K_REG_A1, UC_M68K_REG_A2, UC_M68K_REG_A3,
    UC_M68K_REG_A4, UC_M68K_REG_A5, UC_M68K_REG_A6, UC_M68K_REG_A7,
    UC_M68K_REG_PC,
};

static void vc_new_epoch(vc_state *st)
{
    st->epoch = (st->epoch + 1) & VC_EPOCH_MASK;
    if (st->epoch == 0) {  /* wrapped: old keys could match again */
        memset(st->fast, 0, VC_FAST * sizeof(vc_fastent));
        st->epoch = 1;
    }
    st->epochkey = (uint64_t)st->epoch << 40;
    st->last = NULL;
}

vc_state *vc_new(uint32_t ram_size, uint32_t cache_entries)
{
    vc_state *st = calloc(1, sizeof(vc_state));
    if (!st)
        return NULL;
    st->ram_size = ram_size;
    st->nframes = ram_size >> VC_PAGE_SHIFT;
    st->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    st->frame_code = calloc(st->nframes ? st->nframes : 1, 1);
    st->cache = calloc(cache_entries, sizeof(vc_tbent));
    st->cache_mask = cache_entries - 1;
    st->fast = calloc(VC_FAST, sizeof(vc_fastent));
    vc_new_epoch(st);
    if (st->ram == MAP_FAILED || !st->frame_code || !st->cache || !st->fast) {
        if (st->ram != MAP_FAILED && st->ram)
            munmap(st->ram, ram_size);
        free(st->frame_code);
        free(st->cache);
        free(st->fast);
        free(st);
        return NULL;
    }
    return st;
}

void vc_free(vc_state *st)
{
    if (!st)
        return;
    munmap(st->ram, st->ram_size);
    if (st->ctx && st->context_free)
        st->context_free((uc_context *)st->ctx);
    free(st->frame_code);
    free(st->cache);
    free(st->fast);
    free(st);
}

static inline uint64_t vc_hash(uint64_t key)
{
    key ^= key >> 29;
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 32);
}

static vc_tbent *vc_cache_find(vc_state *st, uint64_t key)
{
    uint32_t i = (uint32_t)vc_hash(key) & st->cache_mask;
    for (;;) {
        vc_tbent *e = &st->cache[i];
        if (e->key == key || e->key == 0)
            return e;
        i = (i + 1) & st->cache_mask;
    }
}

static void vc_cache_grow(vc_state *st)
{
    uint32_t old_n = st->cache_mask + 1, n = old_n * 2, i;
    vc_tbent *old = st->cache, *neu = calloc(n, sizeof(vc_tbent));
    if (!neu)
        return;  /* stay at the old size: the table still works, only fuller */
    st->cache = neu;
    st->cache_mask = n - 1;
    for (i = 0; i < old_n; i++) {
        if (old[i].key)
            *vc_cache_find(st, old[i].key) = old[i];
    }
    free(old);
}

/* Code in some frame changed: drop Unicorn's translated blocks (a host store
 * through uc_mem_write does not invalidate them in virtual-TLB mode) and every
 * cached block count. Rare: a program load into frames that held code. */
int vc_code_changed(vc_state *st)
{
    memset(st->cache, 0, (size_t)(st->cache_mask + 1) * sizeof(vc_tbent));
    memset(st->frame_code, 0, st->nframes ? st->nframes : 1);
    st->cache_used = 0;
    vc_new_epoch(st);
    st->code_flushes++;
    return (int)st->ctl(st->uc, UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0));
}

/* virtual -> physical through the current table; -1 if not mapped */
static inline int64_t vc_phys(vc_state *st, uint32_t vaddr)
{
    uint32_t vpage = vaddr >> VC_PAGE_SHIFT, e;
    if (!st->table || vpage >= VC_NPAGES)
        return -1;
    e = st->table[vpage];
    if (!(e & PTE_VALID))
        return -1;
    return ((int64_t)(e & PTE_FRAME) << VC_PAGE_SHIFT) | (vaddr & (VC_PAGE_SIZE - 1));
}

static void vc_stop_before(vc_state *st, uc_engine *uc, int reason, uint32_t pc, uint32_t size, uint32_t icount)
{
    st->reason = reason;
    st->stop_pc = pc;
    st->stop_size = size;
    st->stop_icount = icount;
    st->emu_stop(uc);
}

/* A block not in the fast table: find (or learn) its instruction count.
 * Returns 0 if the block must not run (a stop was requested). */
static __attribute__((noinline)) int vc_block_slow(vc_state *st, uc_engine *uc, uint32_t pc, uint32_t size,
                                                   vc_fastent *fe, uint64_t fkey)
{
    int64_t phys = vc_phys(st, pc);
    uint64_t key;
    vc_tbent *e;

    if (phys < 0 || size == 0 || size > 0xFFFF) {
        /* cannot happen for a block that is running; never guess: stop */
        vc_stop_before(st, uc, VC_STOP_SUSPECT, pc, size, 0);
        return 0;
    }
    key = ((uint64_t)phys << 16) | size;
    e = vc_cache_find(st, key);
    if (e->key == 0) {
        uc_tb tb;
        int64_t last;
        uint32_t icount;
        st->misses++;
        memset(&tb, 0, sizeof(tb));
        /* the running block is in Unicorn's cache: this is a lookup, not a translation */
        if (st->ctl(uc, UC_CTL_READ_WRITE(UC_CTL_TB_REQUEST_CACHE, 2), (uint64_t)pc, &tb) != UC_ERR_OK
            || tb.pc != pc || tb.size != size || tb.icount == 0) {
            st->tb_mismatch++;  /* never seen: count one instruction per word, flagged in stats */
            tb.icount = (uint16_t)(size / 2 ? size / 2 : 1);
        }
        icount = tb.icount;
        e = vc_cache_find(st, key);
        e->key = key;
        e->icount = icount;
        e->flags = 0;
        last = vc_phys(st, pc + size - 2);
        if (last < 0 || last + 1 >= st->ram_size
            || ((((uint32_t)st->ram[last] << 8) | st->ram[last + 1]) & 0xFFF8u) == 0x4848u) {
            e->flags |= TBF_SUSPECT;
        } else {
            uint32_t a;
            for (a = pc; a < pc + size; a += 2) {
                int64_t p = vc_phys(st, a);
                if (p < 0 || p + 1 >= st->ram_size
                    || vc_emulated_word(((uint32_t)st->ram[p] << 8) | st->ram[p + 1])) {
                    e->flags |= TBF_SUSPECT;
                    break;
                }
            }
        }
        st->frame_code[phys >> VC_PAGE_SHIFT] = 1;
        if (last >= 0)
            st->frame_code[last >> VC_PAGE_SHIFT] = 1;
        if (++st->cache_used * 2 > st->cache_mask + 1) {
            vc_cache_grow(st);
            e = vc_cache_find(st, key);
        }
    }
    if ((e->flags & (TBF_SUSPECT | TBF_CLEARED)) == TBF_SUSPECT) {
        /* a block that does not fit ends the slice first, as any block does */
        int over = (int64_t)e->icount > st->left && st->left != (int64_t)st->budget;
        vc_stop_before(st, uc, over ? VC_STOP_BUDGET : VC_STOP_SUSPECT, pc, size, e->icount);
        return 0;
    }
    fe->key = fkey;
    fe->icount = e->icount;
    return 1;
}

/* Everything but a known block that fits: kept out of vc_block_hook so that
 * the hook stays a leaf (no frame, no saved registers: it runs per block). */
static __attribute__((noinline)) void vc_block_rare(vc_state *st, uc_engine *uc, uint32_t pc, uint32_t size,
                                                    vc_fastent *fe, uint64_t fkey)
{
    int64_t icount;

    if (fe->key != fkey && !vc_block_slow(st, uc, pc, size, fe, fkey))
        return;
    icount = fe->icount;
    if (icount > st->left && st->left != (int64_t)st->budget) {
        /* the slice ends before this block; within a chain the next slice begins with it,
         * exactly where a new uc_emu_start would (its first block always runs) */
        uint64_t done = st->chain_done + (uint64_t)((int64_t)st->budget - st->left);
        if (done >= st->chain_limit) {
            vc_stop_before(st, uc, VC_STOP_BUDGET, pc, size, (uint32_t)icount);
            return;
        }
        st->chain_done = done;
        st->chain_slices++;
        st->left = (int64_t)st->budget;
    }
    st->left -= icount;
    st->last = fe;
}

static void vc_block_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    vc_state *st = user;
    uint32_t pc = (uint32_t)address;
    vc_fastent *fe = &st->fast[(pc >> 1) & (VC_FAST - 1)];
    uint64_t fkey = st->epochkey | ((uint64_t)size << 24) | pc;
    int64_t icount = fe->icount;

    if (__builtin_expect(fe->key != fkey || icount > st->left, 0)) {
        vc_block_rare(st, uc, pc, size, fe, fkey);
        return;
    }
    st->left -= icount;
    st->last = fe;
}

/* pc, size, icount of the last block let run in this slice (zeros if none). */
void vc_last_block(vc_state *st, uint32_t *out)
{
    if (!st->last) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    out[0] = (uint32_t)(st->last->key & 0xFFFFFFu);
    out[1] = (uint32_t)((st->last->key >> 24) & 0xFFFFu);
    out[2] = st->last->icount;
}

static void vc_intr_hook(uc_engine *uc, uint32_t intno, void *user)
{
    vc_state *st = user;
    st->reason = VC_STOP_INTR;
    st->intno = intno;
    st->emu_stop(uc);
}

static bool vc_tlb_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *result, void *user)
{
    vc_state *st = user;
    uint32_t vpage = (uint32_t)(vaddr >> VC_PAGE_SHIFT), e, need, perms;

    st->fills++;
    if (!st->table || vaddr >= ((uint64_t)VC_NPAGES << VC_PAGE_SHIFT)) {
        e = 0;
    } else {
        e = st->table[vpage];
    }
    if (!(e & PTE_VALID)) {
        st->reason = VC_STOP_FAULT;
        st->fault_vaddr = (uint32_t)vaddr;
        st->fault_access = (int32_t)type;
        st->fault_kind = VC_FAULT_UNMAPPED;
        return false;
    }
    need = type == UC_MEM_WRITE ? PTE_WRITE : type == UC_MEM_FETCH ? PTE_EXEC : PTE_READ;
    if (!(e & need)) {
        st->reason = VC_STOP_FAULT;
        st->fault_vaddr = (uint32_t)vaddr;
        st->fault_access = (int32_t)type;
        st->fault_kind = VC_FAULT_PROTECTION;
        return false;
    }
    if (type == UC_MEM_WRITE && (e & PTE_COW)) {
        st->reason = VC_STOP_FAULT;
        st->fault_vaddr = (uint32_t)vaddr;
        st->fault_access = (int32_t)type;
        st->fault_kind = VC_FAULT_COW;
        return false;
    }
    e |= PTE_REF;
    if (type == UC_MEM_WRITE)
        e |= PTE_MOD;
    perms = 0;
    if (e & PTE_READ)
        perms |= UC_PROT_READ;
    if (e & PTE_EXEC)
        perms |= UC_PROT_EXEC;
    if ((e & (PTE_WRITE | PTE_MOD)) == (PTE_WRITE | PTE_MOD))
        perms |= UC_PROT_WRITE;
    st->table[vpage] = e;
    if (type == UC_MEM_FETCH)
        st->frame_code[e & PTE_FRAME] = 1;  /* Unicorn may translate code from it from now on */
    result->paddr = (uint64_t)(e & PTE_FRAME) << VC_PAGE_SHIFT;
    result->perms = (uc_prot)perms;
    return true;
}

int vc_install_hooks(vc_state *st)
{
    uc_err err;
    err = st->hook_add(st->uc, &st->h_tlb, UC_HOOK_TLB_FILL, (void *)vc_tlb_fill, st, 1, 0);
    if (err != UC_ERR_OK)
        return (int)err;
    err = st->hook_add(st->uc, &st->h_intr, UC_HOOK_INTR, (void *)vc_intr_hook, st, 1, 0);
    if (err != UC_ERR_OK)
        return (int)err;
    err = st->hook_add(st->uc, &st->h_block, UC_HOOK_BLOCK, (void *)vc_block_hook, st, 1, 0);
    return (int)err;
}

/* Run the current context from its PC. keep != 0 continues a slice. A new
 * slice starts a chain: further slices of `budget` follow it in the same run
 * while the chain's instructions before them are below st->chain_limit (set
 * by the caller; 0: one slice). */
int vc_run(vc_state *st, uint64_t budget, int keep)
{
    uint32_t pc = 0;
    int err;
    st->reg_read(st->uc, UC_M68K_REG_PC, &pc);
    if (!keep) {
        st->budget = budget;
        st->left = (int64_t)budget;
        st->last = NULL;
        st->chain_done = 0;
        st->chain_slices = 0;
    }
    st->reason = VC_STOP_NONE;
    err = (int)st->emu_start(st->uc, pc, 0, 0, 0);
    st->executed = (uint64_t)((int64_t)st->budget - st->left);
    st->reg_read(st->uc, UC_M68K_REG_PC, &st->pc);
    return err;
}

/* Continue the slice from the PC up to `until` (the engine stops there, with
 * no stop reason, before the instruction at `until` runs). The translated
 * block the run ends in is dropped by Unicorn afterwards. */
int vc_run_until(vc_state *st, uint32_t until)
{
    uint32_t pc = 0;
    int err;
    st->reg_read(st->uc, UC_M68K_REG_PC, &pc);
    st->reason = VC_STOP_NONE;
    err = (int)st->emu_start(st->uc, pc, until, 0, 0);
    st->executed = (uint64_t)((int64_t)st->budget - st->left);
    st->reg_read(st->uc, UC_M68K_REG_PC, &st->pc);
    return err;
}

/* Drop the translated blocks of [start, end) (virtual, current context). */
int vc_remove_tb(vc_state *st, uint32_t start, uint32_t end)
{
    return (int)st->ctl(st->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), (uint64_t)start, (uint64_t)end);
}

int vc_flush_tlb(vc_state *st)
{
    vc_new_epoch(st);
    st->flushes++;
    return (int)st->ctl(st->uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0));
}

void vc_set_table(vc_state *st, uint32_t *table)
{
    st->table = table;
}

/* The condition codes. Never through uc_reg_read(UC_M68K_REG_SR): in Unicorn
 * 2.1.4 it sets env->cc_op = CC_OP_FLAGS before folding the lazily kept
 * flags, so it returns the leftover operands as flags AND leaves the live
 * engine holding them (upstream issue #2380, PR #2161). Instead: copy the CPU
 * state with uc_context_save and evaluate the copy with QEMU's own
 * cpu_m68k_get_ccr, which only reads. The live state is never written. */
static inline uint32_t vc_ccr(vc_state *st)
{
    if (st->context_save(st->uc, (uc_context *)st->ctx) != UC_ERR_OK)
        return 0xFFFFFFFFu;
    return st->get_ccr(st->ctx->data) & 0x1Fu;
}

/* regs: sr, d0..d7, a0..a7, pc. Reads only: the engine is left as it was. */
int vc_regs_read(vc_state *st, uint32_t *regs)
{
    void *ptrs[17];
    int i;
    uint32_t ccr;
    for (i = 0; i < 17; i++)
        ptrs[i] = &regs[i + 1];
    if (st->reg_read_batch(st->uc, vc_reg_ids + 1, ptrs, 17) != UC_ERR_OK)
        return 1;
    ccr = vc_ccr(st);
    if (ccr > 0x1Fu)
        return 2;
    regs[0] = ccr;
    return 0;
}

/* Allocate the context once and check the layout vc_ccr relies on against
 * the live engine: d0 and pc where CPUM68KState keeps them, and every one of
 * the 32 condition-code values written through the register API (which is
 * correct: cpu_m68k_set_sr sets the flags and cc_op = CC_OP_FLAGS) read back.
 * Leaves d0, pc and SR at 0 (user mode). Returns 0 or a step number. */
int vc_ccr_init(vc_state *st)
{
    uint32_t v, ccr, d0;
    if (st->context_alloc(st->uc, (uc_context **)&st->ctx) != UC_ERR_OK || !st->ctx)
        return 1;
    if (st->ctx->arch != UC_ARCH_M68K || st->ctx->mode != UC_MODE_BIG_ENDIAN
        || st->ctx->context_size < VC_ENV_PC + 4)
        return 2;
    v = 0x5AC3A55Au;
    st->reg_write(st->uc, UC_M68K_REG_D0, &v);
    v = 0x00ABCDEEu;
    st->reg_write(st->uc, UC_M68K_REG_PC, &v);
    if (st->context_save(st->uc, (uc_context *)st->ctx) != UC_ERR_OK)
        return 3;
    memcpy(&d0, st->ctx->data + VC_ENV_DREGS, 4);
    memcpy(&v, st->ctx->data + VC_ENV_PC, 4);
    if (d0 != 0x5AC3A55Au || v != 0x00ABCDEEu)
        return 4;
    for (ccr = 0; ccr < 32; ccr++) {
        st->reg_write(st->uc, UC_M68K_REG_SR, &ccr);
        if (vc_ccr(st) != ccr)
            return 5;
    }
    v = 0;
    st->reg_write(st->uc, UC_M68K_REG_SR, &v);
    st->reg_write(st->uc, UC_M68K_REG_D0, &v);
    st->reg_write(st->uc, UC_M68K_REG_PC, &v);
    return 0;
}

int vc_regs_write(vc_state *st, const uint32_t *regs)
{
    void *ptrs[18];
    uint32_t copy[18];
    int i;
    memcpy(copy, regs, sizeof(copy));
    copy[0] &= 0x1Fu;  /* user mode, condition codes only: SR is written first, before A7 */
    for (i = 0; i < 18; i++)
        ptrs[i] = &copy[i];
    return (int)st->reg_write_batch(st->uc, vc_reg_ids, (void *const *)ptrs, 18);
}

int vc_write_reg(vc_state *st, int regid, uint32_t value)
{
    return (int)st->reg_write(st->uc, regid, &value);
}

/* A host store into physical memory: through Unicorn so that translated code
 * of the range is invalidated, and forgetting block counts of code frames. */
int vc_phys_write(vc_state *st, uint32_t addr, const uint8_t *data, uint32_t n)
{
    uint32_t f, first, last;
    if ((uint64_t)addr + n > st->ram_size)
        return -1;
    if (n == 0)
        return 0;
    first = addr >> VC_PAGE_SHIFT;
    last = (addr + n - 1) >> VC_PAGE_SHIFT;
    for (f = first; f <= last; f++) {
        if (st->frame_code[f]) {
            vc_code_changed(st);
            break;
        }
    }
    return (int)st->mem_write(st->uc, addr, data, n);
}

/* Mark the cached block (current context) as checked: its last word is not a bkpt. */
int vc_clear_suspect(vc_state *st, uint32_t pc, uint32_t size)
{
    int64_t phys = vc_phys(st, pc);
    vc_tbent *e;
    if (phys < 0)
        return -1;
    e = vc_cache_find(st, ((uint64_t)phys << 16) | size);
    if (e->key == 0)
        return -1;
    e->flags |= TBF_CLEARED;
    return 0;
}

/* The layout check: Python's declaration of vc_state must match this one. */
uint32_t vc_layout(int which)
{
    switch (which) {
    case 0: return (uint32_t)sizeof(vc_state);
    case 1: return (uint32_t)offsetof(vc_state, left);
    case 2: return (uint32_t)offsetof(vc_state, last);
    case 3: return (uint32_t)offsetof(vc_state, code_flushes);
    case 4: return (uint32_t)offsetof(vc_state, h_tlb);
    default: return (uint32_t)offsetof(vc_state, ctx);
    }
}

/* Page numbers of table entries with (entry & mask) == want, in order. */
uint32_t vc_collect(const uint32_t *table, uint32_t mask, uint32_t want, uint32_t *out)
{
    uint32_t i, n = 0;
    for (i = 0; i < VC_NPAGES; i++) {
        if ((table[i] & mask) == want)
            out[n++] = i;
    }
    return n;
}

/* Clear bits in every valid entry; returns how many entries had any of them. */
uint32_t vc_clear_bits(uint32_t *table, uint32_t bits)
{
    uint32_t i, n = 0;
    for (i = 0; i < VC_NPAGES; i++) {
        if (table[i] & bits) {
            table[i] &= ~bits;
            n++;
        }
    }
    return n;
}

/* 1 if every page of [vaddr, vaddr+n) is valid and has all the `need` bits. */
int vc_check(const uint32_t *table, uint32_t vaddr, uint32_t n, uint32_t need)
{
    uint64_t end = (uint64_t)vaddr + n, p;
    if (n == 0)
        return 1;
    if (end > ((uint64_t)VC_NPAGES << VC_PAGE_SHIFT))
        return 0;
    need |= PTE_VALID;
    for (p = vaddr >> VC_PAGE_SHIFT; p <= (end - 1) >> VC_PAGE_SHIFT; p++) {
        if ((table[p] & need) != need)
            return 0;
    }
    return 1;
}

/* The bench's raw engine (cpu.RawEngine): an identity virtual TLB whose pages
 * carry the UC_PROT bits of perms[vpage], so that its text is read-execute and
 * its data read-write as in a guest (a page both writable and executable puts
 * every store on Unicorn's slow path). No MMU, no budget, no other hook. */
static bool vc_raw_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type, uc_tlb_entry *result, void *user)
{
    const uint8_t *perms = user;
    uint32_t need = type == UC_MEM_WRITE ? UC_PROT_WRITE : type == UC_MEM_FETCH ? UC_PROT_EXEC : UC_PROT_READ;
    if (vaddr >= ((uint64_t)VC_NPAGES << VC_PAGE_SHIFT) || !(perms[vaddr >> VC_PAGE_SHIFT] & need))
        return false;  /* a fault, as the guest's MMU gives (vc_tlb_fill) */
    result->paddr = vaddr & ~(uint64_t)(VC_PAGE_SIZE - 1);
    result->perms = (uc_prot)perms[vaddr >> VC_PAGE_SHIFT];
    return true;
}

int vc_raw_install(void *uc, void *hook_add, const uint8_t *perms, size_t *handle)
{
    return (int)((fn_hook_add)hook_add)((uc_engine *)uc, (uc_hook *)handle, UC_HOOK_TLB_FILL,
                                        (void *)vc_raw_fill, (void *)perms, 1, 0);
}
"""

CDEF = r"""
typedef struct vc_state {
    void *uc;
    void *emu_start;
    void *emu_stop;
    void *ctl;
    void *hook_add;
    void *reg_read_batch;
    void *reg_write_batch;
    void *reg_read;
    void *reg_write;
    void *mem_write;

    uint8_t *ram;
    uint32_t ram_size;
    uint32_t nframes;
    uint8_t *frame_code;
    uint32_t *table;

    int64_t left;
    uint64_t budget;
    uint64_t executed;
    uint32_t pc;
    int32_t reason;
    uint32_t intno;
    uint32_t fault_vaddr;
    int32_t fault_access;
    int32_t fault_kind;
    uint32_t stop_pc;
    uint32_t stop_size;
    uint32_t stop_icount;
    void *last;
    uint64_t chain_limit;
    uint64_t chain_done;
    uint64_t chain_slices;

    void *cache;
    uint32_t cache_mask;
    uint32_t cache_used;
    void *fast;
    uint32_t epoch;
    uint64_t epochkey;

    uint64_t fills;
    uint64_t misses;
    uint64_t tb_mismatch;
    uint64_t flushes;
    uint64_t code_flushes;

    size_t h_block, h_intr, h_tlb;

    void *context_alloc;
    void *context_save;
    void *get_ccr;
    void *context_free;
    void *ctx;
} vc_state;

vc_state *vc_new(uint32_t ram_size, uint32_t cache_entries);
void vc_free(vc_state *st);
int vc_code_changed(vc_state *st);
int vc_install_hooks(vc_state *st);
int vc_run(vc_state *st, uint64_t budget, int keep);
int vc_flush_tlb(vc_state *st);
int vc_run_until(vc_state *st, uint32_t until);
int vc_remove_tb(vc_state *st, uint32_t start, uint32_t end);
void vc_set_table(vc_state *st, uint32_t *table);
void vc_last_block(vc_state *st, uint32_t *out);
int vc_regs_read(vc_state *st, uint32_t *regs);
int vc_ccr_init(vc_state *st);
int vc_regs_write(vc_state *st, const uint32_t *regs);
int vc_write_reg(vc_state *st, int regid, uint32_t value);
int vc_phys_write(vc_state *st, uint32_t addr, const uint8_t *data, uint32_t n);
int vc_clear_suspect(vc_state *st, uint32_t pc, uint32_t size);
uint32_t vc_collect(const uint32_t *table, uint32_t mask, uint32_t want, uint32_t *out);
uint32_t vc_clear_bits(uint32_t *table, uint32_t bits);
int vc_check(const uint32_t *table, uint32_t vaddr, uint32_t n, uint32_t need);
uint32_t vc_layout(int which);
int vc_raw_install(void *uc, void *hook_add, const uint8_t *perms, size_t *handle);
"""

# stop reasons and fault kinds (the C enums)
STOP_NONE, STOP_BUDGET, STOP_INTR, STOP_FAULT, STOP_SUSPECT = range(5)
FAULT_UNMAPPED, FAULT_PROTECTION, FAULT_COW = 1, 2, 3

# page-table entry bits (the C defines)
PTE_FRAME = 0xFFFF
PTE_VALID = 1 << 16
PTE_READ = 1 << 17
PTE_WRITE = 1 << 18
PTE_EXEC = 1 << 19
PTE_REF = 1 << 20
PTE_MOD = 1 << 21
PTE_COW = 1 << 22  # copy-on-write: the first write faults (Mmu.copy_on_write)

NPAGES = 4096  # pages of 4 KB in a 16 MB context

_lock = threading.Lock()
_loaded: tuple[cffi.FFI, Any] | None = None


def unicorn_include_dir() -> Path:
    """Where the installed unicorn wheel keeps unicorn/unicorn.h (found without importing it)."""
    spec = importlib.util.find_spec("unicorn")
    if spec is None or spec.origin is None:
        raise RuntimeError("the unicorn package is not installed")
    inc = Path(spec.origin).parent / "include"
    if not (inc / "unicorn" / "unicorn.h").is_file():
        raise RuntimeError(f"unicorn headers not found in {inc}")
    return inc


def cache_dir() -> Path:
    """The directory the compiled core is cached in ($VCLUSTER_CACHE_DIR, else ~/.cache/vcluster)."""
    env = os.environ.get("VCLUSTER_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "vcluster"


def _compiler() -> str:
    for cand in (os.environ.get("CC"), "gcc", "cc"):
        if cand and shutil.which(cand.split()[0]):
            return cand
    raise RuntimeError("no C compiler found (gcc or cc, or set CC): the emulator's core is C")


def _build(dest: Path, include: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    src = Path(tmp_name + ".c")
    try:
        src.write_text(C_SOURCE)
        cmd = [
            *_compiler().split(),
            "-O2",
            "-fPIC",
            "-shared",
            "-std=gnu99",
            "-Wall",
            f"-I{include}",
            "-o",
            tmp_name,
            str(src),
        ]
        log.info("building the emulator core: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"compiling the emulator core failed:\n{proc.stderr}")
        os.replace(tmp_name, dest)
    finally:
        for leftover in (tmp_name, str(src)):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _prune(base: Path, keep: Path, max_age_s: float = 7 * 86400) -> None:
    """Remove builds of other sources unused for a week (other checkouts may share the cache)."""
    now = time.time()
    for old in base.glob("libvcemu-*.so"):
        try:
            if old != keep and now - old.stat().st_atime > max_age_s:
                old.unlink()  # safe even if some process has it loaded
        except OSError:
            pass


def library_path() -> Path:
    """The path of the compiled core for this source, platform and Python (built on first use)."""
    include = unicorn_include_dir()
    header = (include / "unicorn" / "unicorn.h").read_bytes()
    digest = hashlib.sha256(
        C_SOURCE.encode() + header + sys.platform.encode() + os.uname().machine.encode()
    ).hexdigest()[:16]
    name = f"libvcemu-{digest}.so"
    for base in (cache_dir(), Path(tempfile.gettempdir()) / f"vcluster-{os.getuid()}"):
        dest = base / name
        if dest.is_file():
            return dest
        try:
            _build(dest, include)
        except OSError as exc:  # read-only cache dir: try the next place
            log.info("cannot build the core in %s: %s", base, exc)
            continue
        _prune(base, keep=dest)
        return dest
    raise RuntimeError("cannot build the emulator core in any cache directory")


def load() -> tuple[cffi.FFI, Any]:
    """The cffi FFI and the loaded core library (compiled with gcc the first time)."""
    global _loaded
    with _lock:
        if _loaded is None:
            ffi = cffi.FFI()
            ffi.cdef(CDEF)
            lib = ffi.dlopen(str(library_path()))
            fields = ("left", "last", "code_flushes", "h_tlb", "ctx")
            expected = [ffi.sizeof("vc_state")] + [ffi.offsetof("vc_state", f) for f in fields]
            actual = [lib.vc_layout(i) for i in range(len(expected))]
            if actual != expected:
                raise RuntimeError(f"vc_state layout mismatch: C {actual}, cffi {expected}")
            _loaded = (ffi, lib)
        return _loaded
