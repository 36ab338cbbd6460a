using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Kernel;

/// <summary>
/// <c>struct kvm_page_fault</c> (arch/x86/kvm/mmu/mmu_internal.h, torvalds v6.10, line 190): the 6.10-6.12 layout: u64 error_code with PFERR_PRIVATE_ACCESS, hva; 80 bytes.
/// </summary>
/// <remarks>
/// Kernel-internal, never written to a trace buffer; traces expose parts of it through tracepoints. Fields the kernel
/// declares <c>const</c> are plain fields here. Layout per kernel-domain.md section 1.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 80)]
public struct kvm_page_fault_v6_10 : ICMirror<kvm_page_fault_v6_10>
{
    /// <summary>Faulting GPA (TDP) or GVA (shadow paging).</summary>
    [FieldOffset(0)] public gpa_t addr;

    /// <summary>#PF/#NPF error code (<see cref="PageFaultErrorCode"/>), with the synthetic bits 48 and 49.</summary>
    [FieldOffset(8)] public ulong error_code;

    /// <summary>A prefetch or KVM_PRE_FAULT_MEMORY request.</summary>
    [FieldOffset(16)] public CBool prefetch;

    /// <summary><c>error_code &amp; PFERR_FETCH_MASK</c>.</summary>
    [FieldOffset(17)] public CBool exec;

    /// <summary><c>error_code &amp; PFERR_WRITE_MASK</c>.</summary>
    [FieldOffset(18)] public CBool write;

    /// <summary><c>error_code &amp; PFERR_PRESENT_MASK</c>.</summary>
    [FieldOffset(19)] public CBool present;

    /// <summary><c>error_code &amp; PFERR_RSVD_MASK</c>.</summary>
    [FieldOffset(20)] public CBool rsvd;

    /// <summary><c>error_code &amp; PFERR_USER_MASK</c>.</summary>
    [FieldOffset(21)] public CBool user;

    /// <summary>The MMU handler is <c>kvm_tdp_page_fault</c>.</summary>
    [FieldOffset(22)] public CBool is_tdp;

    /// <summary><c>error_code &amp; PFERR_PRIVATE_ACCESS</c> (bit 49).</summary>
    [FieldOffset(23)] public CBool is_private;

    /// <summary><c>is_nx_huge_page_enabled(kvm)</c>.</summary>
    [FieldOffset(24)] public CBool nx_huge_page_workaround_enabled;

    /// <summary>Set by hugepage_adjust: <c>exec &amp;&amp; nx_huge_page_workaround_enabled</c>.</summary>
    [FieldOffset(25)] public CBool huge_page_disallowed;

    /// <summary>Highest level allowed (starts at KVM_MAX_HUGEPAGE_LEVEL; lowered by faultin, e.g. from the gmem order).</summary>
    [FieldOffset(26)] public byte max_level;

    /// <summary>Level the host, slot and RMP would allow (starts at PG_LEVEL_4K).</summary>
    [FieldOffset(27)] public byte req_level;

    /// <summary>Level actually mapped (starts at PG_LEVEL_4K).</summary>
    [FieldOffset(28)] public byte goal_level;

    /// <summary>Faulting guest frame.</summary>
    [FieldOffset(32)] public gfn_t gfn;

    /// <summary><c>struct kvm_memory_slot *</c>.</summary>
    [FieldOffset(40)] public ulong slot;

    /// <summary>Snapshot of <c>kvm-&gt;mmu_invalidate_seq</c> for retry.</summary>
    [FieldOffset(48)] public ulong mmu_seq;

    /// <summary>Output of faultin; masked to the hugepage boundary by hugepage_adjust.</summary>
    [FieldOffset(56)] public kvm_pfn_t pfn;

    /// <summary>Host virtual address of the page.</summary>
    [FieldOffset(64)] public hva_t hva;

    /// <summary>The mapping may be writable.</summary>
    [FieldOffset(72)] public CBool map_writable;

    /// <summary>Shadow paging only.</summary>
    [FieldOffset(73)] public CBool write_fault_to_shadow_pgtable;

    /// <summary>The error code as flags.</summary>
    public readonly PageFaultErrorCode ErrorCode => (PageFaultErrorCode)error_code;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_page_fault_v6_10 s = default;
        return new MirrorLayoutBuilder<kvm_page_fault_v6_10>(ref s, "kvm_page_fault_v6_10", "kvm_page_fault", "arch/x86/kvm/mmu/mmu_internal.h, torvalds v6.10, line 190 (layout of 6.10-6.12)")
            .Field(ref s.addr, "addr", "gpa_t")
            .Field(ref s.error_code, "error_code", "u64")
            .Field(ref s.prefetch, "prefetch", "bool")
            .Field(ref s.exec, "exec", "bool")
            .Field(ref s.write, "write", "bool")
            .Field(ref s.present, "present", "bool")
            .Field(ref s.rsvd, "rsvd", "bool")
            .Field(ref s.user, "user", "bool")
            .Field(ref s.is_tdp, "is_tdp", "bool")
            .Field(ref s.is_private, "is_private", "bool")
            .Field(ref s.nx_huge_page_workaround_enabled, "nx_huge_page_workaround_enabled", "bool")
            .Field(ref s.huge_page_disallowed, "huge_page_disallowed", "bool")
            .Field(ref s.max_level, "max_level", "u8")
            .Field(ref s.req_level, "req_level", "u8")
            .Field(ref s.goal_level, "goal_level", "u8")
            .Field(ref s.gfn, "gfn", "gfn_t")
            .Field(ref s.slot, "slot", "struct kvm_memory_slot *")
            .Field(ref s.mmu_seq, "mmu_seq", "unsigned long")
            .Field(ref s.pfn, "pfn", "kvm_pfn_t")
            .Field(ref s.hva, "hva", "hva_t")
            .Field(ref s.map_writable, "map_writable", "bool")
            .Field(ref s.write_fault_to_shadow_pgtable, "write_fault_to_shadow_pgtable", "bool")
            .Build();
    }
}
