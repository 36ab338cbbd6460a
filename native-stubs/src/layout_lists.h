/*
 * The field lists of every mirrored struct, as X-macros: F(struct, field, expected offset, C type, kind) and
 * B(struct, bitfield, expected bit offset, expected width). Expected offsets are the ones in
 * shared/research/kernel-domain.md; layout_table.c turns each into a _Static_assert, a table row and the
 * fill/check code of the round trip.
 */
#ifndef FASTRMP_LAYOUT_LISTS_H
#define FASTRMP_LAYOUT_LISTS_H

#define FR_NO_BITS(B, S)

/* X(struct, expected size, field list, bitfield list) */
#define FR_STRUCTS(X)                                                                                \
    X(hlist_node, 16, FR_F_hlist_node, FR_NO_BITS)                                                   \
    X(rb_node, 24, FR_F_rb_node, FR_NO_BITS)                                                         \
    X(interval_tree_node, 48, FR_F_interval_tree_node, FR_NO_BITS)                                   \
    X(kvm_rmap_head, 8, FR_F_kvm_rmap_head, FR_NO_BITS)                                              \
    X(kvm_lpage_info, 4, FR_F_kvm_lpage_info, FR_NO_BITS)                                            \
    X(kvm_arch_memory_slot, 48, FR_F_kvm_arch_memory_slot, FR_NO_BITS)                               \
    X(kvm_memory_slot, 280, FR_F_kvm_memory_slot, FR_NO_BITS)                                        \
    X(kvm_memory_slot_no_gmem, 264, FR_F_kvm_memory_slot_no_gmem, FR_NO_BITS)                        \
    X(kvm_page_fault_v6_7, 72, FR_F_kvm_page_fault_v6_7, FR_NO_BITS)                                 \
    X(kvm_page_fault_v6_8, 80, FR_F_kvm_page_fault_v6_8, FR_NO_BITS)                                 \
    X(kvm_page_fault_v6_10, 80, FR_F_kvm_page_fault_v6_10, FR_NO_BITS)                               \
    X(kvm_page_fault_v6_13, 80, FR_F_kvm_page_fault_v6_13, FR_NO_BITS)                               \
    X(kvm_userspace_memory_region, 32, FR_F_kvm_userspace_memory_region, FR_NO_BITS)                 \
    X(kvm_userspace_memory_region2, 160, FR_F_kvm_userspace_memory_region2, FR_NO_BITS)              \
    X(kvm_memory_attributes, 32, FR_F_kvm_memory_attributes, FR_NO_BITS)                             \
    X(kvm_create_guest_memfd, 64, FR_F_kvm_create_guest_memfd, FR_NO_BITS)                           \
    X(kvm_pre_fault_memory, 64, FR_F_kvm_pre_fault_memory, FR_NO_BITS)                               \
    X(kvm_run_memory_fault, 24, FR_F_kvm_run_memory_fault, FR_NO_BITS)                               \
    X(kvm_run_hypercall, 72, FR_F_kvm_run_hypercall, FR_NO_BITS)                                     \
    X(kvm_run, 288, FR_F_kvm_run, FR_NO_BITS)                                                        \
    X(rmpentry_raw, 16, FR_F_rmpentry_raw, FR_B_rmpentry_raw)                                        \
    X(rmpentry, 16, FR_F_rmpentry, FR_B_rmpentry)                                                    \
    X(rmp_state, 16, FR_F_rmp_state, FR_NO_BITS)                                                     \
    X(psc_hdr, 8, FR_F_psc_hdr, FR_NO_BITS)                                                          \
    X(psc_entry, 8, FR_F_psc_entry, FR_B_psc_entry)                                                  \
    X(snp_psc_desc, 520, FR_F_snp_psc_desc, FR_NO_BITS)                                              \
    X(tdmr_reserved_area, 16, FR_F_tdmr_reserved_area, FR_NO_BITS)                                  \
    X(tdmr_info, 512, FR_F_tdmr_info, FR_NO_BITS)                                                    \
    X(tdx_sys_info_tdmr, 10, FR_F_tdx_sys_info_tdmr, FR_NO_BITS)

#define FR_F_hlist_node(F, S)                                                                        \
    F(S, next, 0, "struct hlist_node *", PTR)                                                        \
    F(S, pprev, 8, "struct hlist_node **", PTR)

#define FR_F_rb_node(F, S)                                                                           \
    F(S, __rb_parent_color, 0, "unsigned long", INT)                                                 \
    F(S, rb_right, 8, "struct rb_node *", PTR)                                                       \
    F(S, rb_left, 16, "struct rb_node *", PTR)

#define FR_F_interval_tree_node(F, S)                                                                \
    F(S, rb, 0, "struct rb_node", BYTES)                                                             \
    F(S, start, 24, "unsigned long", INT)                                                            \
    F(S, last, 32, "unsigned long", INT)                                                             \
    F(S, __subtree_last, 40, "unsigned long", INT)

#define FR_F_kvm_rmap_head(F, S) F(S, val, 0, "unsigned long", INT)

#define FR_F_kvm_lpage_info(F, S) F(S, disallow_lpage, 0, "int", INT)

#define FR_F_kvm_arch_memory_slot(F, S)                                                              \
    F(S, rmap, 0, "struct kvm_rmap_head *[3]", BYTES)                                                \
    F(S, lpage_info, 24, "struct kvm_lpage_info *[2]", BYTES)                                        \
    F(S, gfn_write_track, 40, "unsigned short *", PTR)

#define FR_F_kvm_memory_slot_common(F, S)                                                            \
    F(S, id_node, 0, "struct hlist_node[2]", BYTES)                                                  \
    F(S, hva_node, 32, "struct interval_tree_node[2]", BYTES)                                        \
    F(S, gfn_node, 128, "struct rb_node[2]", BYTES)                                                  \
    F(S, base_gfn, 176, "gfn_t", INT)                                                                \
    F(S, npages, 184, "unsigned long", INT)                                                          \
    F(S, dirty_bitmap, 192, "unsigned long *", PTR)                                                  \
    F(S, arch, 200, "struct kvm_arch_memory_slot", BYTES)                                            \
    F(S, userspace_addr, 248, "unsigned long", INT)                                                  \
    F(S, flags, 256, "u32", INT)                                                                     \
    F(S, id, 260, "short", INT)                                                                      \
    F(S, as_id, 262, "u16", INT)

#define FR_F_kvm_memory_slot(F, S)                                                                   \
    FR_F_kvm_memory_slot_common(F, S)                                                                \
    F(S, gmem.file, 264, "struct file *", PTR)                                                       \
    F(S, gmem.pgoff, 272, "pgoff_t", INT)

#define FR_F_kvm_memory_slot_no_gmem(F, S) FR_F_kvm_memory_slot_common(F, S)

#define FR_F_kvm_page_fault_v6_7(F, S)                                                               \
    F(S, addr, 0, "gpa_t", INT)                                                                      \
    F(S, error_code, 8, "u32", INT)                                                                  \
    F(S, prefetch, 12, "bool", BOOL)                                                                 \
    F(S, exec, 13, "bool", BOOL)                                                                     \
    F(S, write, 14, "bool", BOOL)                                                                    \
    F(S, present, 15, "bool", BOOL)                                                                  \
    F(S, rsvd, 16, "bool", BOOL)                                                                     \
    F(S, user, 17, "bool", BOOL)                                                                     \
    F(S, is_tdp, 18, "bool", BOOL)                                                                   \
    F(S, nx_huge_page_workaround_enabled, 19, "bool", BOOL)                                          \
    F(S, huge_page_disallowed, 20, "bool", BOOL)                                                     \
    F(S, max_level, 21, "u8", INT)                                                                   \
    F(S, req_level, 22, "u8", INT)                                                                   \
    F(S, goal_level, 23, "u8", INT)                                                                  \
    F(S, gfn, 24, "gfn_t", INT)                                                                      \
    F(S, slot, 32, "struct kvm_memory_slot *", PTR)                                                  \
    F(S, mmu_seq, 40, "unsigned long", INT)                                                          \
    F(S, pfn, 48, "kvm_pfn_t", INT)                                                                  \
    F(S, hva, 56, "hva_t", INT)                                                                      \
    F(S, map_writable, 64, "bool", BOOL)                                                             \
    F(S, write_fault_to_shadow_pgtable, 65, "bool", BOOL)

#define FR_F_kvm_page_fault_v6_8(F, S)                                                               \
    F(S, addr, 0, "gpa_t", INT)                                                                      \
    F(S, error_code, 8, "u32", INT)                                                                  \
    F(S, prefetch, 12, "bool", BOOL)                                                                 \
    F(S, exec, 13, "bool", BOOL)                                                                     \
    F(S, write, 14, "bool", BOOL)                                                                    \
    F(S, present, 15, "bool", BOOL)                                                                  \
    F(S, rsvd, 16, "bool", BOOL)                                                                     \
    F(S, user, 17, "bool", BOOL)                                                                     \
    F(S, is_tdp, 18, "bool", BOOL)                                                                   \
    F(S, is_private, 19, "bool", BOOL)                                                               \
    F(S, nx_huge_page_workaround_enabled, 20, "bool", BOOL)                                          \
    F(S, huge_page_disallowed, 21, "bool", BOOL)                                                     \
    F(S, max_level, 22, "u8", INT)                                                                   \
    F(S, req_level, 23, "u8", INT)                                                                   \
    F(S, goal_level, 24, "u8", INT)                                                                  \
    F(S, gfn, 32, "gfn_t", INT)                                                                      \
    F(S, slot, 40, "struct kvm_memory_slot *", PTR)                                                  \
    F(S, mmu_seq, 48, "unsigned long", INT)                                                          \
    F(S, pfn, 56, "kvm_pfn_t", INT)                                                                  \
    F(S, hva, 64, "hva_t", INT)                                                                      \
    F(S, map_writable, 72, "bool", BOOL)                                                             \
    F(S, write_fault_to_shadow_pgtable, 73, "bool", BOOL)

#define FR_F_kvm_page_fault_u64_head(F, S)                                                           \
    F(S, addr, 0, "gpa_t", INT)                                                                      \
    F(S, error_code, 8, "u64", INT)                                                                  \
    F(S, prefetch, 16, "bool", BOOL)                                                                 \
    F(S, exec, 17, "bool", BOOL)                                                                     \
    F(S, write, 18, "bool", BOOL)                                                                    \
    F(S, present, 19, "bool", BOOL)                                                                  \
    F(S, rsvd, 20, "bool", BOOL)                                                                     \
    F(S, user, 21, "bool", BOOL)                                                                     \
    F(S, is_tdp, 22, "bool", BOOL)                                                                   \
    F(S, is_private, 23, "bool", BOOL)                                                               \
    F(S, nx_huge_page_workaround_enabled, 24, "bool", BOOL)                                          \
    F(S, huge_page_disallowed, 25, "bool", BOOL)                                                     \
    F(S, max_level, 26, "u8", INT)                                                                   \
    F(S, req_level, 27, "u8", INT)                                                                   \
    F(S, goal_level, 28, "u8", INT)                                                                  \
    F(S, gfn, 32, "gfn_t", INT)                                                                      \
    F(S, slot, 40, "struct kvm_memory_slot *", PTR)                                                  \
    F(S, mmu_seq, 48, "unsigned long", INT)                                                          \
    F(S, pfn, 56, "kvm_pfn_t", INT)

#define FR_F_kvm_page_fault_v6_10(F, S)                                                              \
    FR_F_kvm_page_fault_u64_head(F, S)                                                               \
    F(S, hva, 64, "hva_t", INT)                                                                      \
    F(S, map_writable, 72, "bool", BOOL)                                                             \
    F(S, write_fault_to_shadow_pgtable, 73, "bool", BOOL)

#define FR_F_kvm_page_fault_v6_13(F, S)                                                              \
    FR_F_kvm_page_fault_u64_head(F, S)                                                               \
    F(S, refcounted_page, 64, "struct page *", PTR)                                                  \
    F(S, map_writable, 72, "bool", BOOL)                                                             \
    F(S, write_fault_to_shadow_pgtable, 73, "bool", BOOL)

#define FR_F_kvm_userspace_memory_region(F, S)                                                       \
    F(S, slot, 0, "__u32", INT)                                                                      \
    F(S, flags, 4, "__u32", INT)                                                                     \
    F(S, guest_phys_addr, 8, "__u64", INT)                                                           \
    F(S, memory_size, 16, "__u64", INT)                                                              \
    F(S, userspace_addr, 24, "__u64", INT)

#define FR_F_kvm_userspace_memory_region2(F, S)                                                      \
    FR_F_kvm_userspace_memory_region(F, S)                                                           \
    F(S, guest_memfd_offset, 32, "__u64", INT)                                                       \
    F(S, guest_memfd, 40, "__u32", INT)                                                              \
    F(S, pad1, 44, "__u32", INT)                                                                     \
    F(S, pad2, 48, "__u64[14]", BYTES)

#define FR_F_kvm_memory_attributes(F, S)                                                             \
    F(S, address, 0, "__u64", INT)                                                                   \
    F(S, size, 8, "__u64", INT)                                                                      \
    F(S, attributes, 16, "__u64", INT)                                                               \
    F(S, flags, 24, "__u64", INT)

#define FR_F_kvm_create_guest_memfd(F, S)                                                            \
    F(S, size, 0, "__u64", INT)                                                                      \
    F(S, flags, 8, "__u64", INT)                                                                     \
    F(S, reserved, 16, "__u64[6]", BYTES)

#define FR_F_kvm_pre_fault_memory(F, S)                                                              \
    F(S, gpa, 0, "__u64", INT)                                                                       \
    F(S, size, 8, "__u64", INT)                                                                      \
    F(S, flags, 16, "__u64", INT)                                                                    \
    F(S, padding, 24, "__u64[5]", BYTES)

#define FR_F_kvm_run_memory_fault(F, S)                                                              \
    F(S, flags, 0, "__u64", INT)                                                                     \
    F(S, gpa, 8, "__u64", INT)                                                                       \
    F(S, size, 16, "__u64", INT)

#define FR_F_kvm_run_hypercall(F, S)                                                                 \
    F(S, nr, 0, "__u64", INT)                                                                        \
    F(S, args, 8, "__u64[6]", BYTES)                                                                 \
    F(S, ret, 56, "__u64", INT)                                                                      \
    F(S, flags, 64, "__u64", INT)

#define FR_F_kvm_run(F, S)                                                                           \
    F(S, request_interrupt_window, 0, "__u8", INT)                                                   \
    F(S, immediate_exit, 1, "__u8", INT)                                                             \
    F(S, padding1, 2, "__u8[6]", BYTES)                                                              \
    F(S, exit_reason, 8, "__u32", INT)                                                               \
    F(S, ready_for_interrupt_injection, 12, "__u8", INT)                                             \
    F(S, if_flag, 13, "__u8", INT)                                                                   \
    F(S, flags, 14, "__u16", INT)                                                                    \
    F(S, cr8, 16, "__u64", INT)                                                                      \
    F(S, apic_base, 24, "__u64", INT)                                                                \
    F(S, memory_fault.flags, 32, "__u64", INT)                                                       \
    F(S, memory_fault.gpa, 40, "__u64", INT)                                                         \
    F(S, memory_fault.size, 48, "__u64", INT)

#define FR_F_rmpentry_raw(F, S)                                                                      \
    F(S, lo, 0, "u64", UNION)                                                                          \
    F(S, hi, 8, "u64", INT)

#define FR_B_rmpentry_raw(B, S)                                                                      \
    B(S, assigned, 0, 1)                                                                             \
    B(S, pagesize, 1, 1)                                                                             \
    B(S, immutable, 2, 1)                                                                            \
    B(S, gpa, 12, 39)                                                                                \
    B(S, asid, 51, 10)                                                                               \
    B(S, vmsa, 61, 1)                                                                                \
    B(S, validated, 62, 1)

#define FR_F_rmpentry(F, S)                                                                          \
    F(S, gpa, 0, "u64", INT)                                                                         \
    F(S, rsvd4, 11, "u8", INT)                                                                       \
    F(S, asid, 12, "u32", INT)

#define FR_B_rmpentry(B, S)                                                                          \
    B(S, assigned, 64, 1)                                                                            \
    B(S, pagesize, 72, 1)                                                                            \
    B(S, hpage_region_status, 73, 1)                                                                 \
    B(S, immutable, 80, 1)

#define FR_F_rmp_state(F, S)                                                                         \
    F(S, gpa, 0, "u64", INT)                                                                         \
    F(S, assigned, 8, "u8", INT)                                                                     \
    F(S, pagesize, 9, "u8", INT)                                                                     \
    F(S, immutable, 10, "u8", INT)                                                                   \
    F(S, rsvd, 11, "u8", INT)                                                                        \
    F(S, asid, 12, "u32", INT)

#define FR_F_psc_hdr(F, S)                                                                           \
    F(S, cur_entry, 0, "u16", INT)                                                                   \
    F(S, end_entry, 2, "u16", INT)                                                                   \
    F(S, reserved, 4, "u32", INT)

#define FR_F_psc_entry(F, S)

#define FR_B_psc_entry(B, S)                                                                         \
    B(S, cur_page, 0, 12)                                                                            \
    B(S, gfn, 12, 40)                                                                                \
    B(S, operation, 52, 4)                                                                           \
    B(S, pagesize, 56, 1)

#define FR_F_snp_psc_desc(F, S)                                                                      \
    F(S, hdr, 0, "struct psc_hdr", BYTES)                                                            \
    F(S, entries, 8, "struct psc_entry[64]", BYTES)

#define FR_F_tdmr_reserved_area(F, S)                                                                \
    F(S, offset, 0, "u64", INT)                                                                      \
    F(S, size, 8, "u64", INT)

#define FR_F_tdmr_info(F, S)                                                                         \
    F(S, base, 0, "u64", INT)                                                                        \
    F(S, size, 8, "u64", INT)                                                                        \
    F(S, pamt_1g_base, 16, "u64", INT)                                                               \
    F(S, pamt_1g_size, 24, "u64", INT)                                                               \
    F(S, pamt_2m_base, 32, "u64", INT)                                                               \
    F(S, pamt_2m_size, 40, "u64", INT)                                                               \
    F(S, pamt_4k_base, 48, "u64", INT)                                                               \
    F(S, pamt_4k_size, 56, "u64", INT)

#define FR_F_tdx_sys_info_tdmr(F, S)                                                                 \
    F(S, max_tdmrs, 0, "u16", INT)                                                                   \
    F(S, max_reserved_per_tdmr, 2, "u16", INT)                                                       \
    F(S, pamt_4k_entry_size, 4, "u16", INT)                                                          \
    F(S, pamt_2m_entry_size, 6, "u16", INT)                                                          \
    F(S, pamt_1g_entry_size, 8, "u16", INT)

#endif
