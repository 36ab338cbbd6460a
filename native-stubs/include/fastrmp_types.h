/*
 * FastRmp native stubs: x86-64 Linux and SEV-SNP hardware structures, written from the field lists in
 * shared/research/kernel-domain.md (sections 1-4). Each struct is the C witness for a C# mirror in
 * src/Interop; offsets and sizes are pinned by _Static_assert in layout_table.c.
 *
 * Kernel-internal structs that changed layout between versions carry a generation suffix
 * (kvm_page_fault_v6_7, _v6_8, _v6_10, _v6_13); the suffix names the first kernel with that layout.
 */
#ifndef FASTRMP_TYPES_H
#define FASTRMP_TYPES_H

#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uint64_t gpa_t;
typedef uint64_t gfn_t;
typedef uint64_t kvm_pfn_t;
typedef unsigned long hva_t;
typedef unsigned long pgoff_t;

/* ---- include/linux/types.h, rbtree_types.h, interval_tree.h (x86-64) ---- */
struct hlist_node {
    struct hlist_node *next;
    struct hlist_node **pprev;
};

struct rb_node {
    unsigned long __rb_parent_color;
    struct rb_node *rb_right;
    struct rb_node *rb_left;
} __attribute__((aligned(sizeof(long))));

struct interval_tree_node {
    struct rb_node rb;
    unsigned long start;
    unsigned long last;
    unsigned long __subtree_last;
};

/* ---- arch/x86/include/asm/kvm_host.h ---- */
struct kvm_rmap_head {
    unsigned long val;
};

struct kvm_lpage_info {
    int disallow_lpage;
};

struct kvm_arch_memory_slot {
    struct kvm_rmap_head *rmap[3];          /* KVM_NR_PAGE_SIZES */
    struct kvm_lpage_info *lpage_info[2];   /* KVM_NR_PAGE_SIZES - 1: [0] 2M, [1] 1G */
    unsigned short *gfn_write_track;
};

/* ---- include/linux/kvm_host.h: with the gmem block (6.10+ on SEV hosts, always from 6.18) ---- */
struct kvm_memory_slot {
    struct hlist_node id_node[2];
    struct interval_tree_node hva_node[2];
    struct rb_node gfn_node[2];
    gfn_t base_gfn;
    unsigned long npages;
    unsigned long *dirty_bitmap;
    struct kvm_arch_memory_slot arch;
    unsigned long userspace_addr;
    u32 flags;
    short id;
    u16 as_id;
    struct {
        void *file; /* struct file * (6.8: __rcu) */
        pgoff_t pgoff;
    } gmem;
};

/* The same without the gmem block: kernels before 6.8, and 6.8-6.17 built without CONFIG_KVM_PRIVATE_MEM. */
struct kvm_memory_slot_no_gmem {
    struct hlist_node id_node[2];
    struct interval_tree_node hva_node[2];
    struct rb_node gfn_node[2];
    gfn_t base_gfn;
    unsigned long npages;
    unsigned long *dirty_bitmap;
    struct kvm_arch_memory_slot arch;
    unsigned long userspace_addr;
    u32 flags;
    short id;
    u16 as_id;
};

/* ---- arch/x86/kvm/mmu/mmu_internal.h: struct kvm_page_fault by layout generation ---- */

/* 6.7 and earlier: u32 error_code, no is_private, hva. */
struct kvm_page_fault_v6_7 {
    const gpa_t addr;
    const u32 error_code;
    const bool prefetch;
    const bool exec;
    const bool write;
    const bool present;
    const bool rsvd;
    const bool user;
    const bool is_tdp;
    const bool nx_huge_page_workaround_enabled;
    bool huge_page_disallowed;
    u8 max_level;
    u8 req_level;
    u8 goal_level;
    gfn_t gfn;
    struct kvm_memory_slot *slot;
    unsigned long mmu_seq;
    kvm_pfn_t pfn;
    hva_t hva;
    bool map_writable;
    bool write_fault_to_shadow_pgtable;
};

/* 6.8-6.9: u32 error_code, is_private (from memory attributes) after is_tdp, hva. */
struct kvm_page_fault_v6_8 {
    const gpa_t addr;
    const u32 error_code;
    const bool prefetch;
    const bool exec;
    const bool write;
    const bool present;
    const bool rsvd;
    const bool user;
    const bool is_tdp;
    const bool is_private;
    const bool nx_huge_page_workaround_enabled;
    bool huge_page_disallowed;
    u8 max_level;
    u8 req_level;
    u8 goal_level;
    gfn_t gfn;
    struct kvm_memory_slot *slot;
    unsigned long mmu_seq;
    kvm_pfn_t pfn;
    hva_t hva;
    bool map_writable;
    bool write_fault_to_shadow_pgtable;
};

/* 6.10-6.12: u64 error_code (synthetic PFERR_PRIVATE_ACCESS), hva. */
struct kvm_page_fault_v6_10 {
    const gpa_t addr;
    const u64 error_code;
    const bool prefetch;
    const bool exec;
    const bool write;
    const bool present;
    const bool rsvd;
    const bool user;
    const bool is_tdp;
    const bool is_private;
    const bool nx_huge_page_workaround_enabled;
    bool huge_page_disallowed;
    u8 max_level;
    u8 req_level;
    u8 goal_level;
    gfn_t gfn;
    struct kvm_memory_slot *slot;
    unsigned long mmu_seq;
    kvm_pfn_t pfn;
    hva_t hva;
    bool map_writable;
    bool write_fault_to_shadow_pgtable;
};

/* 6.13 and later: refcounted_page replaces hva. */
struct kvm_page_fault_v6_13 {
    const gpa_t addr;
    const u64 error_code;
    const bool prefetch;
    const bool exec;
    const bool write;
    const bool present;
    const bool rsvd;
    const bool user;
    const bool is_tdp;
    const bool is_private;
    const bool nx_huge_page_workaround_enabled;
    bool huge_page_disallowed;
    u8 max_level;
    u8 req_level;
    u8 goal_level;
    gfn_t gfn;
    struct kvm_memory_slot *slot;
    unsigned long mmu_seq;
    kvm_pfn_t pfn;
    void *refcounted_page; /* struct page * */
    bool map_writable;
    bool write_fault_to_shadow_pgtable;
};

/* ---- include/uapi/linux/kvm.h (torvalds v6.8; kvm_pre_fault_memory: torvalds v6.12) ---- */
struct kvm_userspace_memory_region {
    u32 slot;
    u32 flags;
    u64 guest_phys_addr;
    u64 memory_size;
    u64 userspace_addr;
};

struct kvm_userspace_memory_region2 {
    u32 slot;
    u32 flags;
    u64 guest_phys_addr;
    u64 memory_size;
    u64 userspace_addr;
    u64 guest_memfd_offset;
    u32 guest_memfd;
    u32 pad1;
    u64 pad2[14];
};

struct kvm_memory_attributes {
    u64 address;
    u64 size;
    u64 attributes;
    u64 flags;
};

struct kvm_create_guest_memfd {
    u64 size;
    u64 flags;
    u64 reserved[6];
};

struct kvm_pre_fault_memory {
    u64 gpa;
    u64 size;
    u64 flags;
    u64 padding[5];
};

/* kvm_run's exit payloads used by FastRmp; offsets are relative to the start of the exit union (kvm_run + 32). */
struct kvm_run_memory_fault {
    u64 flags;
    u64 gpa;
    u64 size;
};

struct kvm_run_hypercall {
    u64 nr;
    u64 args[6];
    u64 ret;
    union {
        u32 longmode;
        u64 flags;
    };
};

/* The fixed header of struct kvm_run and its 256-byte exit union. */
struct kvm_run {
    u8 request_interrupt_window;
    u8 immediate_exit;
    u8 padding1[6];
    u32 exit_reason;
    u8 ready_for_interrupt_injection;
    u8 if_flag;
    u16 flags;
    u64 cr8;
    u64 apic_base;
    union {
        struct kvm_run_memory_fault memory_fault;
        struct kvm_run_hypercall hypercall;
        char padding[256];
    };
};

/* ---- SEV-SNP hardware: RMP entries (APM vol. 2 15.36; arch/x86/virt/svm/sev.c) ---- */

/* The raw in-memory entry (Zen3/Zen4 PPR layout; rmpentry_raw from 6.14, rmpentry before). */
struct rmpentry_raw {
    union {
        struct {
            u64 assigned : 1,
                pagesize : 1,
                immutable : 1,
                rsvd1 : 9,
                gpa : 39,
                asid : 10,
                vmsa : 1,
                validated : 1,
                rsvd2 : 1;
        };
        u64 lo;
    };
    u64 hi;
} __attribute__((packed));

/* The architectural RMPREAD output format (rmpentry from 6.14). */
struct rmpentry {
    u64 gpa;
    u8 assigned : 1,
       rsvd1 : 7;
    u8 pagesize : 1,
       hpage_region_status : 1,
       rsvd2 : 6;
    u8 immutable : 1,
       rsvd3 : 7;
    u8 rsvd4;
    u32 asid;
} __attribute__((packed));

/* The RMPUPDATE input (asm/sev.h). */
struct rmp_state {
    u64 gpa;
    u8 assigned;
    u8 pagesize;
    u8 immutable;
    u8 rsvd;
    u32 asid;
} __attribute__((packed));

/* ---- GHCB page-state change (asm/sev-common.h) ---- */
struct psc_hdr {
    u16 cur_entry;
    u16 end_entry;
    u32 reserved;
} __attribute__((packed));

struct psc_entry {
    u64 cur_page : 12,
        gfn : 40,
        operation : 4,
        pagesize : 1,
        reserved : 7;
} __attribute__((packed));

#define VMGEXIT_PSC_MAX_ENTRY 64  /* the guest's descriptor */
#define VMGEXIT_PSC_MAX_COUNT 253 /* the GHCB limit the host checks */

struct snp_psc_desc {
    struct psc_hdr hdr;
    struct psc_entry entries[VMGEXIT_PSC_MAX_ENTRY];
} __attribute__((packed));

/* ---- TDX: the TDMR descriptors and the module's TDMR metadata (arch/x86/virt/vmx/tdx/tdx.h and
 *      arch/x86/include/asm/tdx_global_metadata.h, torvalds v6.16) ---- */
struct tdmr_reserved_area {
    u64 offset;
    u64 size;
} __attribute__((packed));

#define TDMR_INFO_ALIGNMENT 512

struct tdmr_info {
    u64 base;
    u64 size;
    u64 pamt_1g_base;
    u64 pamt_1g_size;
    u64 pamt_2m_base;
    u64 pamt_2m_size;
    u64 pamt_4k_base;
    u64 pamt_4k_size;
    struct tdmr_reserved_area reserved_areas[]; /* as many as the module's max_reserved_per_tdmr */
} __attribute__((packed, aligned(TDMR_INFO_ALIGNMENT)));

struct tdx_sys_info_tdmr {
    u16 max_tdmrs;
    u16 max_reserved_per_tdmr;
    u16 pamt_4k_entry_size;
    u16 pamt_2m_entry_size;
    u16 pamt_1g_entry_size;
};

#endif
