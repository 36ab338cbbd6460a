using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Kernel;

/// <summary><c>struct kvm_rmap_head</c> (arch/x86/include/asm/kvm_host.h): one unsigned long, 8 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct kvm_rmap_head : ICMirror<kvm_rmap_head>
{
    /// <summary>A single SPTE pointer, or a descriptor list with bit 0 set.</summary>
    [FieldOffset(0)] public ulong val;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_rmap_head s = default;
        return new MirrorLayoutBuilder<kvm_rmap_head>(ref s, "kvm_rmap_head", "kvm_rmap_head", "arch/x86/include/asm/kvm_host.h, torvalds v6.8, line 403")
            .Field(ref s.val, "val", "unsigned long")
            .Build();
    }
}

/// <summary>
/// <c>struct kvm_lpage_info</c> (arch/x86/include/asm/kvm_host.h): one per hugepage-sized region of a memslot.
/// </summary>
/// <remarks>
/// <c>disallow_lpage</c> is a counter plus flags; any non-zero value forbids a mapping at that level. Bit 31 is
/// <see cref="Mmu.KVM_LPAGE_MIXED_FLAG"/>, set when the memory attributes inside the hugepage are mixed
/// (kernel-domain.md section 2.2).
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 4)]
public struct kvm_lpage_info : ICMirror<kvm_lpage_info>
{
    /// <summary>Counter of reasons to disallow a hugepage, with KVM_LPAGE_MIXED_FLAG in bit 31.</summary>
    [FieldOffset(0)] public int disallow_lpage;

    /// <summary>True when the attributes inside this hugepage are mixed.</summary>
    public readonly bool IsMixed => ((uint)disallow_lpage & Mmu.KVM_LPAGE_MIXED_FLAG) != 0;

    /// <summary>True when the guest inhibited this hugepage (<see cref="Mmu.KVM_LPAGE_GUEST_INHIBIT_FLAG"/>, TDX huge-page series).</summary>
    public readonly bool IsGuestInhibited => ((uint)disallow_lpage & Mmu.KVM_LPAGE_GUEST_INHIBIT_FLAG) != 0;

    /// <summary>The counter part, without the flag bits.</summary>
    public readonly int Count => (int)((uint)disallow_lpage & ~(Mmu.KVM_LPAGE_MIXED_FLAG | Mmu.KVM_LPAGE_GUEST_INHIBIT_FLAG));

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_lpage_info s = default;
        return new MirrorLayoutBuilder<kvm_lpage_info>(ref s, "kvm_lpage_info", "kvm_lpage_info", "arch/x86/include/asm/kvm_host.h, torvalds v6.8, line 1047")
            .Field(ref s.disallow_lpage, "disallow_lpage", "int")
            .Build();
    }
}

/// <summary>
/// <c>struct kvm_arch_memory_slot</c> (arch/x86/include/asm/kvm_host.h, torvalds v6.8, line 1051; the same through 6.16): 48 bytes at offset 200 of
/// <see cref="kvm_memory_slot"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct kvm_arch_memory_slot : ICMirror<kvm_arch_memory_slot>
{
    /// <summary><c>struct kvm_rmap_head *rmap[KVM_NR_PAGE_SIZES]</c>; allocated only when rmaps are in use.</summary>
    [FieldOffset(0)] public FixedArray3<ulong> rmap;

    /// <summary><c>struct kvm_lpage_info *lpage_info[KVM_NR_PAGE_SIZES - 1]</c>: [0] for 2M, [1] for 1G.</summary>
    [FieldOffset(24)] public FixedArray2<ulong> lpage_info;

    /// <summary><c>unsigned short *gfn_write_track</c>.</summary>
    [FieldOffset(40)] public ulong gfn_write_track;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_arch_memory_slot s = default;
        return new MirrorLayoutBuilder<kvm_arch_memory_slot>(ref s, "kvm_arch_memory_slot", "kvm_arch_memory_slot", "arch/x86/include/asm/kvm_host.h, torvalds v6.8, line 1051")
            .Field(ref s.rmap, "rmap", "struct kvm_rmap_head *[3]")
            .Field(ref s.lpage_info, "lpage_info", "struct kvm_lpage_info *[2]")
            .Field(ref s.gfn_write_track, "gfn_write_track", "unsigned short *")
            .Build();
    }
}
