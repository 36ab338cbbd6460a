/*
 * FastRmp native stubs: a C reference of the RMP model (docs/rmp.md) on the raw hardware layout. Tests run it
 * against the C# RmpTable over both stores on random operation sequences; benchmarks use fr_rmp_lookup_batch as
 * the native baseline of KVM's lookup.
 */
#ifndef FASTRMP_RMP_REF_H
#define FASTRMP_RMP_REF_H

#include <stddef.h>
#include <stdint.h>

#include "fastrmp_stubs.h"
#include "fastrmp_types.h"

struct fr_rmp;

/* A table of `pages` entries after the 16 KiB bookkeeping area, all hypervisor-owned. NULL on failure. */
FR_API struct fr_rmp *fr_rmp_new(uint64_t pages);
FR_API void fr_rmp_free(struct fr_rmp *rmp);
FR_API void fr_rmp_read(const struct fr_rmp *rmp, uint64_t pfn, struct rmpentry_raw *out);
FR_API void fr_rmp_set_in_use(struct fr_rmp *rmp, uint64_t pfn, int in_use);

/* Instruction results are the hardware codes. A 4K PVALIDATE/RMPADJUST inside a 2M entry stores the #NPF error
 * code in *npf and returns 0; otherwise *npf is 0. */
FR_API int fr_rmp_update(struct fr_rmp *rmp, uint64_t pfn, const struct rmp_state *state);
FR_API int fr_rmp_psmash(struct fr_rmp *rmp, uint64_t pfn);
FR_API int fr_rmp_pvalidate(struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int size_2m, int validate,
                            uint64_t *npf);
FR_API int fr_rmp_adjust(struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int size_2m, int caller_vmpl,
                         int target_vmpl, uint32_t perms, int vmsa, uint64_t *npf);
FR_API uint64_t fr_rmp_guest_access(const struct fr_rmp *rmp, uint64_t pfn, uint32_t asid, uint64_t gfn, int is_private,
                                    int write, int npt_level, int *not_validated);
FR_API uint64_t fr_rmp_host_write(const struct fr_rmp *rmp, uint64_t pfn, int host_level);

/* Benchmarks' batches (one call, no per-instruction call cost): RMPUPDATE of pfns[i] to states[i], PSMASH of pfns[i].
 * Return how many instructions failed. */
FR_API size_t fr_rmp_update_batch(struct fr_rmp *rmp, const uint64_t *pfns, const struct rmp_state *states, size_t n);
FR_API size_t fr_rmp_psmash_batch(struct fr_rmp *rmp, const uint64_t *pfns, size_t n);

/* KVM's snp_lookup_rmpentry over a raw table (entries = RMP base + 16 KiB): out[i] = assigned | level << 1. */
FR_API void fr_rmp_lookup_batch(const struct rmpentry_raw *entries, const uint64_t *pfns, size_t n, uint8_t *out);

/* The same over a segmented RMP (6.14+): table_base is the RMP base; the RST is at base + 16 KiB, entry i holding a
 * segment's base address in bits 51:20; segment = (pfn << 12) >> segment_shift. */
FR_API void fr_rmp_segmented_lookup_batch(const void *table_base, int segment_shift, const uint64_t *pfns, size_t n,
                                          uint8_t *out);

#endif
