using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Kernel;

/// <summary>The <c>gmem</c> block of <see cref="kvm_memory_slot"/>: the bound guest_memfd file and its page offset.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct kvm_memory_slot_gmem
{
    /// <summary><c>struct file *file</c> (<c>__rcu</c> in 6.8): the guest_memfd bound to the slot.</summary>
    [FieldOffset(0)] public ulong file;

    /// <summary>Page index in the guest_memfd that corresponds to <c>base_gfn</c> (<c>guest_memfd_offset &gt;&gt; 12</c>).</summary>
    [FieldOffset(8)] public ulong pgoff;
}

/// <summary>
/// <c>struct kvm_memory_slot</c> (include/linux/kvm_host.h) with the gmem block: 280 bytes. This is the layout on
/// 6.10-6.17 kernels built with CONFIG_KVM_PRIVATE_MEM (selected by KVM_AMD_SEV), on 6.8-6.9 kernels with
/// KVM_SW_PROTECTED_VM, and on every x86-64 kernel from 6.18 (CONFIG_KVM_GUEST_MEMFD); kernel-domain.md 2.3-2.4.
/// </summary>
/// <remarks>
/// The low 16 bits of <see cref="flags"/> are the uAPI flags (<see cref="Uapi.MemslotFlags"/>); bits 16 and 17 are
/// the kernel's KVM_MEMSLOT_INVALID and KVM_MEMSLOT_GMEM_ONLY (6.18+). The gmem index of a gfn is
/// <c>gfn - base_gfn + gmem.pgoff</c>.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 280)]
public struct kvm_memory_slot : ICMirror<kvm_memory_slot>
{
    /// <summary>Links into the two memslot sets' id hash tables.</summary>
    [FieldOffset(0)] public FixedArray2<hlist_node> id_node;

    /// <summary>Links into the two memslot sets' hva interval trees.</summary>
    [FieldOffset(32)] public FixedArray2<interval_tree_node> hva_node;

    /// <summary>Links into the two memslot sets' gfn trees.</summary>
    [FieldOffset(128)] public FixedArray2<rb_node> gfn_node;

    /// <summary>First guest frame of the slot.</summary>
    [FieldOffset(176)] public gfn_t base_gfn;

    /// <summary>Number of 4 KiB pages.</summary>
    [FieldOffset(184)] public ulong npages;

    /// <summary><c>unsigned long *dirty_bitmap</c>.</summary>
    [FieldOffset(192)] public ulong dirty_bitmap;

    /// <summary>x86 per-slot data: rmaps and lpage_info.</summary>
    [FieldOffset(200)] public kvm_arch_memory_slot arch;

    /// <summary>The VMM's virtual address of the slot's first byte.</summary>
    [FieldOffset(248)] public hva_t userspace_addr;

    /// <summary>uAPI flags (low 16 bits) and kernel-internal flags.</summary>
    [FieldOffset(256)] public uint flags;

    /// <summary>Slot id (low 16 bits of the uAPI <c>slot</c>).</summary>
    [FieldOffset(260)] public short id;

    /// <summary>Address space id (x86: 0 normal, 1 SMM).</summary>
    [FieldOffset(262)] public ushort as_id;

    /// <summary>The guest_memfd binding.</summary>
    [FieldOffset(264)] public kvm_memory_slot_gmem gmem;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_memory_slot s = default;
        return new MirrorLayoutBuilder<kvm_memory_slot>(ref s, "kvm_memory_slot", "kvm_memory_slot", "include/linux/kvm_host.h, torvalds v6.8, line 580 (with the gmem block, 6.8 and later)")
            .Field(ref s.id_node, "id_node", "struct hlist_node[2]")
            .Field(ref s.hva_node, "hva_node", "struct interval_tree_node[2]")
            .Field(ref s.gfn_node, "gfn_node", "struct rb_node[2]")
            .Field(ref s.base_gfn, "base_gfn", "gfn_t")
            .Field(ref s.npages, "npages", "unsigned long")
            .Field(ref s.dirty_bitmap, "dirty_bitmap", "unsigned long *")
            .Field(ref s.arch, "arch", "struct kvm_arch_memory_slot")
            .Field(ref s.userspace_addr, "userspace_addr", "unsigned long")
            .Field(ref s.flags, "flags", "u32")
            .Field(ref s.id, "id", "short")
            .Field(ref s.as_id, "as_id", "u16")
            .Field(ref s.gmem.file, "gmem.file", "struct file *")
            .Field(ref s.gmem.pgoff, "gmem.pgoff", "pgoff_t")
            .Build();
    }
}

/// <summary>
/// <c>struct kvm_memory_slot</c> without the gmem block: 264 bytes. Kernels before 6.8, and 6.8-6.17 kernels built
/// without CONFIG_KVM_PRIVATE_MEM (for 6.8-6.9 that is the usual distro build; kernel-domain.md 2.4).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 264)]
public struct kvm_memory_slot_no_gmem : ICMirror<kvm_memory_slot_no_gmem>
{
    /// <summary>Links into the two memslot sets' id hash tables.</summary>
    [FieldOffset(0)] public FixedArray2<hlist_node> id_node;

    /// <summary>Links into the two memslot sets' hva interval trees.</summary>
    [FieldOffset(32)] public FixedArray2<interval_tree_node> hva_node;

    /// <summary>Links into the two memslot sets' gfn trees.</summary>
    [FieldOffset(128)] public FixedArray2<rb_node> gfn_node;

    /// <summary>First guest frame of the slot.</summary>
    [FieldOffset(176)] public gfn_t base_gfn;

    /// <summary>Number of 4 KiB pages.</summary>
    [FieldOffset(184)] public ulong npages;

    /// <summary><c>unsigned long *dirty_bitmap</c>.</summary>
    [FieldOffset(192)] public ulong dirty_bitmap;

    /// <summary>x86 per-slot data: rmaps and lpage_info.</summary>
    [FieldOffset(200)] public kvm_arch_memory_slot arch;

    /// <summary>The VMM's virtual address of the slot's first byte.</summary>
    [FieldOffset(248)] public hva_t userspace_addr;

    /// <summary>uAPI flags (low 16 bits) and kernel-internal flags.</summary>
    [FieldOffset(256)] public uint flags;

    /// <summary>Slot id.</summary>
    [FieldOffset(260)] public short id;

    /// <summary>Address space id.</summary>
    [FieldOffset(262)] public ushort as_id;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_memory_slot_no_gmem s = default;
        return new MirrorLayoutBuilder<kvm_memory_slot_no_gmem>(ref s, "kvm_memory_slot_no_gmem", "kvm_memory_slot", "include/linux/kvm_host.h, torvalds v6.8, line 580 (without the gmem block: before 6.8, or without CONFIG_KVM_PRIVATE_MEM)")
            .Field(ref s.id_node, "id_node", "struct hlist_node[2]")
            .Field(ref s.hva_node, "hva_node", "struct interval_tree_node[2]")
            .Field(ref s.gfn_node, "gfn_node", "struct rb_node[2]")
            .Field(ref s.base_gfn, "base_gfn", "gfn_t")
            .Field(ref s.npages, "npages", "unsigned long")
            .Field(ref s.dirty_bitmap, "dirty_bitmap", "unsigned long *")
            .Field(ref s.arch, "arch", "struct kvm_arch_memory_slot")
            .Field(ref s.userspace_addr, "userspace_addr", "unsigned long")
            .Field(ref s.flags, "flags", "u32")
            .Field(ref s.id, "id", "short")
            .Field(ref s.as_id, "as_id", "u16")
            .Build();
    }
}
