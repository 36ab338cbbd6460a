using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Kernel;

/// <summary>x86 page-table levels as KVM numbers them (<c>enum pg_level</c>).</summary>
public enum PgLevel : byte
{
    /// <summary>No level (a hook's "no restriction").</summary>
    None = 0,

    /// <summary>4 KiB leaf.</summary>
    [CName("PG_LEVEL_4K")] Level4K = 1,

    /// <summary>2 MiB leaf.</summary>
    [CName("PG_LEVEL_2M")] Level2M = 2,

    /// <summary>1 GiB leaf.</summary>
    [CName("PG_LEVEL_1G")] Level1G = 3,
}

/// <summary>Constants of KVM's x86 MMU (arch/x86/include/asm/kvm_host.h, arch/x86/kvm/mmu/mmu.c). Constants only: thread-safe.</summary>
[CConstants]
public static class Mmu
{
    /// <summary>The largest mapping KVM creates: PG_LEVEL_1G.</summary>
    public const int KVM_MAX_HUGEPAGE_LEVEL = 3;

    /// <summary>Page sizes KVM maps: 4K, 2M, 1G.</summary>
    public const int KVM_NR_PAGE_SIZES = 3;

    /// <summary>Bit 31 of <c>kvm_lpage_info.disallow_lpage</c>: the attributes inside the hugepage are mixed.</summary>
    public const uint KVM_LPAGE_MIXED_FLAG = 1u << 31;

    /// <summary>
    /// Bit 30 of <c>kvm_lpage_info.disallow_lpage</c>: the guest accepted a page of the hugepage at a smaller size, so
    /// KVM must not map it larger again. From the TDX huge-page series (Yan Zhao, RFC v2 2025-08-07, patches 13-14);
    /// not upstream.
    /// </summary>
    public const uint KVM_LPAGE_GUEST_INHIBIT_FLAG = 1u << 30;
}

/// <summary>
/// The #PF error code KVM's fault handler receives, which for an SVM nested page fault is exit_info_1 (the #NPF
/// error bits) plus KVM's synthetic bits 48-63 (arch/x86/include/asm/kvm_host.h, 6.16; APM vol. 2 15.36).
/// </summary>
[Flags]
public enum PageFaultErrorCode : ulong
{
    /// <summary>No bits.</summary>
    None = 0,

    /// <summary>The translation was present.</summary>
    [CName("PFERR_PRESENT_MASK")] Present = 1UL << 0,

    /// <summary>A write access.</summary>
    [CName("PFERR_WRITE_MASK")] Write = 1UL << 1,

    /// <summary>A user-mode access.</summary>
    [CName("PFERR_USER_MASK")] User = 1UL << 2,

    /// <summary>A reserved bit was set in a paging structure.</summary>
    [CName("PFERR_RSVD_MASK")] Rsvd = 1UL << 3,

    /// <summary>An instruction fetch.</summary>
    [CName("PFERR_FETCH_MASK")] Fetch = 1UL << 4,

    /// <summary>Protection-key violation.</summary>
    [CName("PFERR_PK_MASK")] Pk = 1UL << 5,

    /// <summary>Shadow-stack access.</summary>
    [CName("PFERR_SS_MASK")] Ss = 1UL << 6,

    /// <summary>SGX violation.</summary>
    [CName("PFERR_SGX_MASK")] Sgx = 1UL << 15,

    /// <summary>#NPF: the RMP check failed.</summary>
    [CName("PFERR_GUEST_RMP_MASK")] GuestRmp = 1UL << 31,

    /// <summary>#NPF: during the final GPA translation.</summary>
    [CName("PFERR_GUEST_FINAL_MASK")] GuestFinal = 1UL << 32,

    /// <summary>#NPF: during the guest page-table walk.</summary>
    [CName("PFERR_GUEST_PAGE_MASK")] GuestPage = 1UL << 33,

    /// <summary>#NPF: an encrypted (C-bit, private) access.</summary>
    [CName("PFERR_GUEST_ENC_MASK")] GuestEnc = 1UL << 34,

    /// <summary>#NPF: the page size of the NPT leaf and the RMP entry disagree.</summary>
    [CName("PFERR_GUEST_SIZEM_MASK")] GuestSizeM = 1UL << 35,

    /// <summary>#NPF: VMPL permission violation.</summary>
    [CName("PFERR_GUEST_VMPL_MASK")] GuestVmpl = 1UL << 36,

    /// <summary>#NPF: supervisor shadow stack.</summary>
    [CName("PFERR_GUEST_SSS_MASK")] GuestSss = 1UL << 37,

    /// <summary>KVM software bit: an implicit supervisor access.</summary>
    [CName("PFERR_IMPLICIT_ACCESS")] ImplicitAccess = 1UL << 48,

    /// <summary>KVM software bit (6.10+): the access is private; decides <c>kvm_page_fault.is_private</c>.</summary>
    [CName("PFERR_PRIVATE_ACCESS")] PrivateAccess = 1UL << 49,
}
