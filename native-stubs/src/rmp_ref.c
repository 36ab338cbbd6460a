/*
 * C reference of FastRmp's RMP model, written from docs/rmp.md (APM vol. 2 15.36 and kernel-domain.md 4 as
 * summarised there), directly on struct rmpentry_raw. Deliberately plain: every rule is a loop over raw entries.
 */
#include "fastrmp_rmp_ref.h"

#include <stdlib.h>
#include <string.h>

#define BOOKKEEPING 0x4000u
#define MAX_IN_USE 64

enum { R_OK = 0, R_INPUT = 1, R_PERMISSION = 2, R_INUSE = 3, R_OVERLAP = 4, R_SIZEMISMATCH = 6, R_NOUPDATE = 255 };

#define NPF_P (1ull << 0)
#define NPF_W (1ull << 1)
#define NPF_RMP (1ull << 31)
#define NPF_FINAL (1ull << 32)
#define NPF_ENC (1ull << 34)
#define NPF_SIZEM (1ull << 35)

struct fr_rmp {
    unsigned char *table;
    struct rmpentry_raw *e;
    uint64_t pages;
    uint64_t in_use[MAX_IN_USE];
    int in_use_count;
};

struct fr_rmp *fr_rmp_new(uint64_t pages)
{
    struct fr_rmp *rmp = calloc(1, sizeof *rmp);
    if (rmp == NULL)
        return NULL;
    rmp->table = calloc(1, BOOKKEEPING + pages * sizeof(struct rmpentry_raw));
    if (rmp->table == NULL) {
        free(rmp);
        return NULL;
    }
    rmp->e = (struct rmpentry_raw *)(rmp->table + BOOKKEEPING);
    rmp->pages = pages;
    return rmp;
}

void fr_rmp_free(struct fr_rmp *rmp)
{
    if (rmp != NULL) {
        free(rmp->table);
        free(rmp);
    }
}

void fr_rmp_read(const struct fr_rmp *rmp, uint64_t pfn, struct rmpentry_raw *out)
{
    *out = rmp->e[pfn];
}

void fr_rmp_set_in_use(struct fr_rmp *rmp, uint64_t pfn, int in_use)
{
    for (int i = 0; i < rmp->in_use_count; i++) {
        if (rmp->in_use[i] == pfn) {
            if (!in_use)
                rmp->in_use[i] = rmp->in_use[--rmp->in_use_count];
            return;
        }
    }
    if (in_use && rmp->in_use_count < MAX_IN_USE)
        rmp->in_use[rmp->in_use_count++] = pfn;
}

static int any_in_use(const struct fr_rmp *rmp, uint64_t first, uint64_t count)
{
    for (int i = 0; i < rmp->in_use_count; i++)
        if (rmp->in_use[i] >= first && rmp->in_use[i] < first + count)
            return 1;
    return 0;
}

/* An assigned 2M entry: the 2 MiB-aligned entry has assigned and pagesize. */
static int is_huge(const struct fr_rmp *rmp, uint64_t pfn)
{
    const struct rmpentry_raw *head = &rmp->e[pfn & ~511ull];
    return head->assigned && head->pagesize;
}

/* Write a 2M entry: the head, and the 511 others as the 4K entries PSMASH would expose. */
static void write_2m(struct fr_rmp *rmp, uint64_t head_pfn, const struct rmpentry_raw *head)
{
    struct rmpentry_raw *e = &rmp->e[head_pfn];
    e[0] = *head;
    e[0].pagesize = 1;
    for (int i = 1; i < 512; i++) {
        e[i] = *head;
        e[i].pagesize = 0;
        e[i].vmsa = 0;
        e[i].gpa = head->gpa + (uint64_t)i;
    }
}

int fr_rmp_update(struct fr_rmp *rmp, uint64_t pfn, const struct rmp_state *st)
{
    int huge = st->pagesize == 1;
    if (st->assigned > 1 || st->pagesize > 1 || st->immutable > 1 || st->rsvd != 0 || st->asid > 1023 ||
        (st->gpa & 0xfff) != 0 || (st->gpa >> 12) >= (1ull << 39))
        return R_INPUT;
    if (huge && ((pfn & 511) != 0 || pfn + 512 > rmp->pages || (st->assigned && ((st->gpa >> 12) & 511) != 0)))
        return R_INPUT;

    uint64_t first = huge ? pfn : pfn, count = huge ? 512 : 1;
    for (uint64_t i = 0; i < count; i++)
        if (rmp->e[first + i].immutable)
            return R_PERMISSION;
    if (any_in_use(rmp, first, count))
        return R_INUSE;
    if (huge) {
        if (!is_huge(rmp, pfn))
            for (uint64_t i = 0; i < 512; i++)
                if (rmp->e[pfn + i].assigned)
                    return R_OVERLAP;
    } else if (is_huge(rmp, pfn)) {
        return R_OVERLAP;
    }

    struct rmpentry_raw n;
    memset(&n, 0, sizeof n);
    if (st->assigned) {
        n.assigned = 1;
        n.immutable = st->immutable;
        n.gpa = st->gpa >> 12;
        n.asid = st->asid;
    }
    if (!huge)
        rmp->e[pfn] = n;
    else if (st->assigned)
        write_2m(rmp, pfn, &n);
    else
        memset(&rmp->e[pfn], 0, 512 * sizeof(struct rmpentry_raw));
    return R_OK;
}

int fr_rmp_psmash(struct fr_rmp *rmp, uint64_t pfn)
{
    if ((pfn & 511) != 0 || !is_huge(rmp, pfn))
        return R_INPUT;
    if (rmp->e[pfn].immutable)
        return R_PERMISSION;
    if (any_in_use(rmp, pfn, 512))
        return R_INUSE;
    rmp->e[pfn].pagesize = 0;
    return R_OK;
}

size_t fr_rmp_update_batch(struct fr_rmp *rmp, const uint64_t *pfns, const struct rmp_state *states, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += fr_rmp_update(rmp, pfns[i], &states[i]) != R_OK;
    return failed;
}

size_t fr_rmp_psmash_batch(struct fr_rmp *rmp, const uint64_t *pfns, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += fr_rmp_psmash(rmp, pfns[i]) != R_OK;
    return failed;
}

/* The ownership checks PVALIDATE and RMPADJUST share. */
static int owner_check(const struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int size_2m)
{
    if (size_2m && (gfn & 511) != 0)
        return R_INPUT;
    const struct rmpentry_raw *e = &rmp->e[pfn];
    if (!e->assigned || e->asid != asid || e->gpa != gfn || e->immutable)
        return R_PERMISSION;
    if (size_2m && !is_huge(rmp, pfn))
        return R_SIZEMISMATCH;
    if (size_2m && (pfn & 511) != 0)
        return R_INPUT;
    return R_OK;
}

static void apply(struct fr_rmp *rmp, uint64_t pfn, int size_2m, const struct rmpentry_raw *n)
{
    if (size_2m)
        write_2m(rmp, pfn, n);
    else
        rmp->e[pfn] = *n;
}

int fr_rmp_pvalidate(struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int size_2m, int validate,
                     uint64_t *npf)
{
    *npf = 0;
    int r = owner_check(rmp, pfn, asid, gfn, size_2m);
    if (r != R_OK)
        return r;
    if (!size_2m && is_huge(rmp, pfn)) {
        *npf = NPF_RMP | NPF_SIZEM;
        return R_OK;
    }
    struct rmpentry_raw n = rmp->e[pfn];
    if ((int)n.validated == (validate != 0))
        return R_NOUPDATE;
    n.validated = validate != 0;
    apply(rmp, pfn, size_2m, &n);
    return R_OK;
}

int fr_rmp_adjust(struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int size_2m, int caller_vmpl,
                  int target_vmpl, uint32_t perms, int vmsa, uint64_t *npf)
{
    *npf = 0;
    if (caller_vmpl < 0 || caller_vmpl > 3 || target_vmpl < 0 || target_vmpl > 3 || perms > 0x1f || (vmsa && size_2m))
        return R_INPUT;
    int r = owner_check(rmp, pfn, asid, gfn, size_2m);
    if (r != R_OK)
        return r;
    if (!rmp->e[pfn].validated || target_vmpl <= caller_vmpl)
        return R_PERMISSION;
    if (!size_2m && is_huge(rmp, pfn)) {
        *npf = NPF_RMP | NPF_SIZEM;
        return R_OK;
    }
    struct rmpentry_raw n = rmp->e[pfn];
    unsigned shift = (unsigned)target_vmpl * 8;
    n.hi = (n.hi & ~(0xffull << shift)) | ((uint64_t)perms << shift);
    if (vmsa)
        n.vmsa = 1;
    apply(rmp, pfn, size_2m, &n);
    return R_OK;
}

uint64_t fr_rmp_guest_access(const struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int is_private,
                             int write, int npt_level, int *not_validated)
{
    *not_validated = 0;
    const struct rmpentry_raw *e = &rmp->e[pfn];
    uint64_t code = NPF_P | NPF_FINAL | (write ? NPF_W : 0) | (is_private ? NPF_ENC : 0);
    if (!is_private)
        return e->assigned ? code | NPF_RMP : 0;
    if (!e->assigned || e->asid != asid || e->gpa != gfn)
        return code | NPF_RMP;
    if (is_huge(rmp, pfn) != (npt_level >= 2))
        return code | NPF_RMP; /* an access's size mismatch: RMP only, no SIZEM (APM 15.36.10; Roth 2023-08-25) */
    *not_validated = !e->validated;
    return 0;
}

uint64_t fr_rmp_host_write(const struct fr_rmp *rmp, uint64_t pfn, int host_level)
{
    uint64_t span = host_level == 1 ? 1 : host_level == 2 ? 512 : 512 * 512;
    uint64_t first = pfn & ~(span - 1);
    uint64_t end = first + span < rmp->pages ? first + span : rmp->pages;
    for (uint64_t p = first; p < end; p++)
        if (rmp->e[p].assigned)
            return NPF_P | NPF_W | NPF_RMP;
    return 0;
}

void fr_rmp_lookup_batch(const struct rmpentry_raw *entries, const uint64_t *pfns, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t pfn = pfns[i];
        unsigned assigned = (unsigned)(entries[pfn].lo & 1);
        unsigned level = (entries[pfn & ~511ull].lo & 2) ? 2 : 1;
        out[i] = (uint8_t)(assigned | (level << 1));
    }
}

static const struct rmpentry_raw *segmented_entry(const uint64_t *rst, int shift, uint64_t pfn)
{
    uint64_t pa = pfn << 12;
    uint64_t segment = rst[pa >> shift];
    const struct rmpentry_raw *base = (const struct rmpentry_raw *)(uintptr_t)(segment & 0x000ffffffff00000ull);
    return base + ((pa & ((1ull << shift) - 1)) >> 12);
}

void fr_rmp_segmented_lookup_batch(const void *table_base, int segment_shift, const uint64_t *pfns, size_t n,
                                   uint8_t *out)
{
    const uint64_t *rst = (const uint64_t *)((const unsigned char *)table_base + BOOKKEEPING);
    for (size_t i = 0; i < n; i++) {
        unsigned assigned = (unsigned)(segmented_entry(rst, segment_shift, pfns[i])->lo & 1);
        unsigned level = (segmented_entry(rst, segment_shift, pfns[i] & ~511ull)->lo & 2) ? 2 : 1;
        out[i] = (uint8_t)(assigned | (level << 1));
    }
}
