using System.Collections.Immutable;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Interop.Layout;

/// <summary>The generations of <c>struct kvm_page_fault</c> (kernel-domain.md 1.2).</summary>
public enum KvmPageFaultGeneration
{
    /// <summary>6.7 and earlier: u32 error_code, no is_private, 72 bytes (<see cref="kvm_page_fault_v6_7"/>).</summary>
    V6_7,

    /// <summary>6.8-6.9: is_private from attributes (<see cref="kvm_page_fault_v6_8"/>).</summary>
    V6_8,

    /// <summary>6.10-6.12: u64 error_code (<see cref="kvm_page_fault_v6_10"/>).</summary>
    V6_10,

    /// <summary>6.13+: refcounted_page (<see cref="kvm_page_fault_v6_13"/>).</summary>
    V6_13,
}

/// <summary>Whether <c>kvm_memory_slot</c> has the gmem block, which depends on the kernel's configuration.</summary>
public enum GmemBlock
{
    /// <summary>What a distribution kernel of that version has (kernel-domain.md 2.4).</summary>
    Default,

    /// <summary>Built with CONFIG_KVM_PRIVATE_MEM / CONFIG_KVM_GUEST_MEMFD: 280 bytes.</summary>
    Present,

    /// <summary>Built without it: 264 bytes.</summary>
    Absent,
}

/// <summary>
/// The registry of mirrors: which layout of each struct a given kernel uses, and every mirror FastRmp has.
/// Immutable: thread-safe.
/// </summary>
/// <remarks>
/// Versions outside <see cref="Oldest"/>..<see cref="Newest"/> are refused: FastRmp has not read those kernels, and
/// a guessed layout would decode a trace or a dump wrongly without saying so. <see cref="Newest"/> stands for the
/// newest upstream tree that was read (after 6.18), whose layouts equal 6.18's.
/// </remarks>
public static class KernelLayouts
{
    /// <summary>The oldest kernel with a known layout: 6.6, the LTS before guest_memfd, which has the &lt;=6.7 layout.</summary>
    public static KernelVersion Oldest { get; } = new(6, 6);

    /// <summary>The newest kernel with a known layout.</summary>
    public static KernelVersion Newest { get; } = new(7, 0, int.MaxValue);

    /// <summary>Every mirror of every generation, kernel structs first, then uAPI, then hardware.</summary>
    public static ImmutableArray<MirrorLayout> All { get; } =
    [
        hlist_node.Layout, rb_node.Layout, interval_tree_node.Layout, kvm_rmap_head.Layout, kvm_lpage_info.Layout,
        kvm_arch_memory_slot.Layout, kvm_memory_slot.Layout, kvm_memory_slot_no_gmem.Layout,
        kvm_page_fault_v6_7.Layout, kvm_page_fault_v6_8.Layout, kvm_page_fault_v6_10.Layout, kvm_page_fault_v6_13.Layout,
        kvm_userspace_memory_region.Layout, kvm_userspace_memory_region2.Layout, kvm_memory_attributes.Layout,
        kvm_create_guest_memfd.Layout, kvm_pre_fault_memory.Layout, kvm_run.Layout, kvm_run_memory_fault.Layout,
        kvm_run_hypercall.Layout,
        rmpentry_raw.Layout, rmpentry.Layout, rmp_state.Layout, psc_hdr.Layout, psc_entry.Layout, snp_psc_desc.Layout,
        tdmr_reserved_area.Layout, tdmr_info.Layout, tdx_sys_info_tdmr.Layout,
    ];

    /// <summary>True when <paramref name="version"/> is in the known range.</summary>
    public static bool IsKnown(KernelVersion version) => version >= Oldest && version <= Newest;

    /// <summary>The <c>kvm_page_fault</c> generation of a kernel.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The version is outside the known range.</exception>
    public static KvmPageFaultGeneration PageFaultGeneration(KernelVersion version)
    {
        EnsureKnown(version);
        return version < new KernelVersion(6, 8) ? KvmPageFaultGeneration.V6_7
            : version < new KernelVersion(6, 10) ? KvmPageFaultGeneration.V6_8
            : version < new KernelVersion(6, 13) ? KvmPageFaultGeneration.V6_10
            : KvmPageFaultGeneration.V6_13;
    }

    /// <summary>The <c>kvm_page_fault</c> layout of a kernel.</summary>
    public static MirrorLayout PageFault(KernelVersion version) => PageFaultGeneration(version) switch
    {
        KvmPageFaultGeneration.V6_7 => kvm_page_fault_v6_7.Layout,
        KvmPageFaultGeneration.V6_8 => kvm_page_fault_v6_8.Layout,
        KvmPageFaultGeneration.V6_10 => kvm_page_fault_v6_10.Layout,
        _ => kvm_page_fault_v6_13.Layout,
    };

    /// <summary>Whether a kernel's <c>kvm_memory_slot</c> has the gmem block.</summary>
    /// <remarks>
    /// Before 6.8 there is none. 6.8-6.9 have it only with KVM_SW_PROTECTED_VM, which distributions leave off;
    /// 6.10-6.17 have it when KVM_AMD_SEV or KVM_INTEL_TDX is on (distribution default); 6.18+ always.
    /// </remarks>
    public static bool HasGmemBlock(KernelVersion version, GmemBlock config = GmemBlock.Default)
    {
        EnsureKnown(version);
        if (version < new KernelVersion(6, 8))
        {
            return false;
        }

        return config switch
        {
            GmemBlock.Present => true,
            GmemBlock.Absent => version < new KernelVersion(6, 18)
                ? false
                : throw new ArgumentException($"Kernel {version} always has the gmem block (CONFIG_KVM_GUEST_MEMFD is selected on x86-64).", nameof(config)),
            _ => version >= new KernelVersion(6, 10),
        };
    }

    /// <summary>The <c>kvm_memory_slot</c> layout of a kernel.</summary>
    public static MirrorLayout MemorySlot(KernelVersion version, GmemBlock config = GmemBlock.Default)
        => HasGmemBlock(version, config) ? kvm_memory_slot.Layout : kvm_memory_slot_no_gmem.Layout;

    /// <summary>The mirrors that describe one kernel: one layout of each struct (its generation chosen).</summary>
    public static ImmutableArray<MirrorLayout> For(KernelVersion version, GmemBlock config = GmemBlock.Default)
    {
        var pageFault = PageFault(version);
        var slot = MemorySlot(version, config);
        var builder = ImmutableArray.CreateBuilder<MirrorLayout>();
        foreach (var layout in All)
        {
            bool isOtherGeneration = (layout.CName == "kvm_page_fault" && layout != pageFault)
                || (layout.CName == "kvm_memory_slot" && layout != slot);
            bool isUapiOfLaterKernel = version < new KernelVersion(6, 8) && IsGmemUapi(layout);
            if (!isOtherGeneration && !isUapiOfLaterKernel)
            {
                builder.Add(layout);
            }
        }

        return builder.ToImmutable();
    }

    private static bool IsGmemUapi(MirrorLayout layout)
        => layout.Name is "kvm_userspace_memory_region2" or "kvm_memory_attributes" or "kvm_create_guest_memfd"
            or "kvm_pre_fault_memory" or "kvm_run_memory_fault";

    private static void EnsureKnown(KernelVersion version)
    {
        if (!IsKnown(version))
        {
            throw new ArgumentOutOfRangeException(
                nameof(version),
                $"FastRmp knows the layouts of kernels {Oldest} to 7.0; {version} is outside that range.");
        }
    }
}
