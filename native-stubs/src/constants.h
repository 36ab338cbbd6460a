/*
 * Constants FastRmp mirrors, as C(name, value). Values are the kernel's (shared/research/kernel-domain.md
 * sections 1.3, 2, 3, 4); ioctl numbers are computed here from the struct sizes with the x86 _IOC encoding
 * (dir << 30 | size << 16 | type << 8 | nr; write = 1, read = 2), so a wrong struct size shows as a wrong number.
 */
#ifndef FASTRMP_CONSTANTS_H
#define FASTRMP_CONSTANTS_H

#define FR_IOC(dir, type, nr, size) \
    ((unsigned long long)(((dir) << 30) | ((size) << 16) | ((type) << 8) | (nr)))
#define FR_IOW(type, nr, T) FR_IOC(1u, type, nr, (unsigned)sizeof(T))
#define FR_IOWR(type, nr, T) FR_IOC(3u, type, nr, (unsigned)sizeof(T))

#define FR_CONSTANTS(C)                                                                              \
    /* uAPI: ioctls (include/uapi/linux/kvm.h) */                                                    \
    C(KVM_SET_USER_MEMORY_REGION, FR_IOW(0xAEu, 0x46u, struct kvm_userspace_memory_region))          \
    C(KVM_SET_USER_MEMORY_REGION2, FR_IOW(0xAEu, 0x49u, struct kvm_userspace_memory_region2))        \
    C(KVM_SET_MEMORY_ATTRIBUTES, FR_IOW(0xAEu, 0xd2u, struct kvm_memory_attributes))                 \
    C(KVM_CREATE_GUEST_MEMFD, FR_IOWR(0xAEu, 0xd4u, struct kvm_create_guest_memfd))                  \
    C(KVM_PRE_FAULT_MEMORY, FR_IOWR(0xAEu, 0xd5u, struct kvm_pre_fault_memory))                      \
    /* memslot flags */                                                                              \
    C(KVM_MEM_LOG_DIRTY_PAGES, 1ull << 0)                                                            \
    C(KVM_MEM_READONLY, 1ull << 1)                                                                   \
    C(KVM_MEM_GUEST_MEMFD, 1ull << 2)                                                                \
    C(KVM_MEMSLOT_INVALID, 1ull << 16)                                                               \
    C(KVM_MEMSLOT_GMEM_ONLY, 1ull << 17)                                                             \
    /* attributes, guest_memfd flags */                                                              \
    C(KVM_MEMORY_ATTRIBUTE_PRIVATE, 1ull << 3)                                                       \
    C(GUEST_MEMFD_FLAG_MMAP, 1ull << 0)                                                              \
    C(GUEST_MEMFD_FLAG_INIT_SHARED, 1ull << 1)                                                       \
    /* exits */                                                                                      \
    C(KVM_EXIT_HYPERCALL, 3)                                                                         \
    C(KVM_EXIT_SYSTEM_EVENT, 24)                                                                     \
    C(KVM_EXIT_MEMORY_FAULT, 39)                                                                     \
    C(KVM_EXIT_TDX, 40)                                                                              \
    C(KVM_SYSTEM_EVENT_SEV_TERM, 6)                                                                  \
    C(KVM_MEMORY_EXIT_FLAG_PRIVATE, 1ull << 3)                                                       \
    C(KVM_HC_MAP_GPA_RANGE, 12)                                                                      \
    C(KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0)                                                               \
    C(KVM_MAP_GPA_RANGE_PAGE_SZ_2M, 1ull << 0)                                                       \
    C(KVM_MAP_GPA_RANGE_PAGE_SZ_1G, 1ull << 1)                                                       \
    C(KVM_MAP_GPA_RANGE_ENCRYPTED, 1ull << 4)                                                        \
    C(KVM_MAP_GPA_RANGE_DECRYPTED, 0)                                                                \
    /* capabilities */                                                                               \
    C(KVM_CAP_USER_MEMORY2, 231)                                                                     \
    C(KVM_CAP_MEMORY_FAULT_INFO, 232)                                                                \
    C(KVM_CAP_MEMORY_ATTRIBUTES, 233)                                                                \
    C(KVM_CAP_GUEST_MEMFD, 234)                                                                      \
    C(KVM_CAP_VM_TYPES, 235)                                                                         \
    C(KVM_CAP_PRE_FAULT_MEMORY, 236)                                                                 \
    C(KVM_CAP_GUEST_MEMFD_FLAGS, 244)                                                                \
    /* VM types */                                                                                   \
    C(KVM_X86_DEFAULT_VM, 0)                                                                         \
    C(KVM_X86_SW_PROTECTED_VM, 1)                                                                    \
    C(KVM_X86_SEV_VM, 2)                                                                             \
    C(KVM_X86_SEV_ES_VM, 3)                                                                          \
    C(KVM_X86_SNP_VM, 4)                                                                             \
    C(KVM_X86_TDX_VM, 5)                                                                             \
    /* MMU (kernel-internal) */                                                                      \
    C(PG_LEVEL_4K, 1)                                                                                \
    C(PG_LEVEL_2M, 2)                                                                                \
    C(PG_LEVEL_1G, 3)                                                                                \
    C(KVM_MAX_HUGEPAGE_LEVEL, 3)                                                                     \
    C(KVM_NR_PAGE_SIZES, 3)                                                                          \
    C(KVM_LPAGE_MIXED_FLAG, 1ull << 31)                                                              \
    C(KVM_LPAGE_GUEST_INHIBIT_FLAG, 1ull << 30)                                                      \
    /* #PF / #NPF error code (asm/kvm_host.h; SVM exit_info_1) */                                    \
    C(PFERR_PRESENT_MASK, 1ull << 0)                                                                 \
    C(PFERR_WRITE_MASK, 1ull << 1)                                                                   \
    C(PFERR_USER_MASK, 1ull << 2)                                                                    \
    C(PFERR_RSVD_MASK, 1ull << 3)                                                                    \
    C(PFERR_FETCH_MASK, 1ull << 4)                                                                   \
    C(PFERR_PK_MASK, 1ull << 5)                                                                      \
    C(PFERR_SS_MASK, 1ull << 6)                                                                      \
    C(PFERR_SGX_MASK, 1ull << 15)                                                                    \
    C(PFERR_GUEST_RMP_MASK, 1ull << 31)                                                              \
    C(PFERR_GUEST_FINAL_MASK, 1ull << 32)                                                            \
    C(PFERR_GUEST_PAGE_MASK, 1ull << 33)                                                             \
    C(PFERR_GUEST_ENC_MASK, 1ull << 34)                                                              \
    C(PFERR_GUEST_SIZEM_MASK, 1ull << 35)                                                            \
    C(PFERR_GUEST_VMPL_MASK, 1ull << 36)                                                             \
    C(PFERR_GUEST_SSS_MASK, 1ull << 37)                                                              \
    C(PFERR_IMPLICIT_ACCESS, 1ull << 48)                                                             \
    C(PFERR_PRIVATE_ACCESS, 1ull << 49)                                                              \
    /* RMP (asm/sev.h, arch/x86/virt/svm/sev.c) */                                                   \
    C(RMP_PG_SIZE_4K, 0)                                                                             \
    C(RMP_PG_SIZE_2M, 1)                                                                             \
    C(RMPTABLE_CPU_BOOKKEEPING_SZ, 0x4000)                                                           \
    C(MSR_AMD64_RMP_BASE, 0xC0010132u)                                                               \
    C(MSR_AMD64_RMP_END, 0xC0010133u)                                                                \
    C(RMPADJUST_VMSA_PAGE_BIT, 1ull << 16)                                                           \
    /* instruction results */                                                                        \
    C(RMPUPDATE_SUCCESS, 0)                                                                          \
    C(RMPUPDATE_FAIL_INPUT, 1)                                                                       \
    C(RMPUPDATE_FAIL_PERMISSION, 2)                                                                  \
    C(RMPUPDATE_FAIL_INUSE, 3)                                                                       \
    C(RMPUPDATE_FAIL_OVERLAP, 4)                                                                     \
    C(PSMASH_SUCCESS, 0)                                                                             \
    C(PSMASH_FAIL_INPUT, 1)                                                                          \
    C(PSMASH_FAIL_PERMISSION, 2)                                                                     \
    C(PSMASH_FAIL_INUSE, 3)                                                                          \
    C(PSMASH_FAIL_BADADDR, 4)                                                                        \
    C(PVALIDATE_SUCCESS, 0)                                                                          \
    C(PVALIDATE_FAIL_INPUT, 1)                                                                       \
    C(PVALIDATE_FAIL_PERMISSION, 2)                                                                  \
    C(PVALIDATE_FAIL_SIZEMISMATCH, 6)                                                                \
    C(PVALIDATE_FAIL_NOUPDATE, 255)                                                                  \
    C(RMPADJUST_SUCCESS, 0)                                                                          \
    C(RMPADJUST_FAIL_INPUT, 1)                                                                       \
    C(RMPADJUST_FAIL_PERMISSION, 2)                                                                  \
    C(RMPADJUST_FAIL_SIZEMISMATCH, 6)                                                                \
    /* GHCB page-state change (asm/sev-common.h) */                                                  \
    C(GHCB_MSR_PSC_REQ, 0x014)                                                                       \
    C(GHCB_MSR_PSC_RESP, 0x015)                                                                      \
    C(SVM_VMGEXIT_PSC, 0x80000010u)                                                                  \
    C(VMGEXIT_PSC_MAX_ENTRY, VMGEXIT_PSC_MAX_ENTRY)                                                  \
    C(VMGEXIT_PSC_MAX_COUNT, VMGEXIT_PSC_MAX_COUNT)                                                  \
    C(SNP_PAGE_STATE_PRIVATE, 1)                                                                     \
    C(SNP_PAGE_STATE_SHARED, 2)                                                                      \
    C(PSC_ERROR_GENERIC, 0x100ull << 32)                                                             \
    C(PSC_INVALID_HDR, (1ull << 32) | 1)                                                             \
    C(PSC_INVALID_ENTRY, (1ull << 32) | 2)                                                           \
    /* TDX module status codes (asm/shared/tdx_errno.h, 6.16; the TDX module ABI) */                 \
    C(TDX_SUCCESS, 0)                                                                                \
    C(TDX_OPERAND_BUSY, 0x8000020000000000ull)                                                       \
    C(TDX_EPT_WALK_FAILED, 0xC0000B0000000000ull)                                                    \
    C(TDX_EPT_ENTRY_FREE, 0xC0000B0100000000ull)                                                     \
    C(TDX_EPT_ENTRY_NOT_FREE, 0xC0000B0200000000ull)                                                 \
    C(TDX_EPT_ENTRY_NOT_PRESENT, 0xC0000B0300000000ull)                                              \
    C(TDX_EPT_ENTRY_NOT_LEAF, 0xC0000B0400000000ull)                                                 \
    C(TDX_EPT_ENTRY_LEAF, 0xC0000B0500000000ull)                                                     \
    C(TDX_GPA_RANGE_NOT_BLOCKED, 0xC0000B0600000000ull)                                              \
    C(TDX_GPA_RANGE_ALREADY_BLOCKED, 0x00000B0700000000ull)                                          \
    C(TDX_TLB_TRACKING_NOT_DONE, 0xC0000B0800000000ull)                                              \
    C(TDX_EPT_INVALID_PROMOTE_CONDITIONS, 0xC0000B0900000000ull)                                     \
    C(TDX_PAGE_ALREADY_ACCEPTED, 0x00000B0A00000000ull)                                              \
    C(TDX_PAGE_SIZE_MISMATCH, 0xC0000B0B00000000ull)                                                 \
    C(TDMR_INFO_ALIGNMENT, 512)

#endif
