using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using FastRmp.Engine.Gmem;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// Which kernel's KVM the model runs: the rules that changed between releases in what FastRmp counts. The 2023
/// policies are designs and stay as they are under every kernel; the kernel decides KVM's own steps around them
/// (upstream-2024-2026.md, "guest_memfd preparation, version by version"; docs/policies.md, "Kernels").
/// </summary>
/// <param name="Name">The name <c>--kernel</c> takes and reports print ("6.18").</param>
/// <param name="Releases">The releases that behave alike in what is modelled ("6.13-6.17").</param>
/// <param name="ClampAtFaultin">
/// Where the vendor's private mapping-level ceiling (the RMP clamp) is asked. True (6.11-6.17): in the gmem fault-in,
/// <c>kvm_max_private_mapping_level</c> asks <c>private_max_mapping_level</c> whenever the folio's order allows more
/// than 4K, before lpage_info is looked at (arch/x86/kvm/mmu/mmu.c; kernel-domain.md 5.3, gmem path step 4: 6.10-6.12
/// and 6.13-6.17). False (6.18 onwards): <c>kvm_mmu_max_mapping_level</c> asks <c>gmem_max_mapping_level</c> only after
/// lpage_info (MIXED counting as disallowed) left a level above 4K (kernel-domain.md 5.4 step 4).
/// </param>
/// <param name="PrepareTracking">
/// True (6.11-6.18): guest_memfd calls the arch prepare hook only at a folio's first get_pfn (the folio's uptodate flag
/// means "prepared"), and <c>kvm_gmem_populate</c> refuses an uptodate folio (EEXIST) and handles a large folio it fills
/// in part. False (7.0 onwards, "Remove preparation tracking", 8622ef05709f; torvalds virt/kvm/guest_memfd.c after
/// v6.19): <c>kvm_gmem_get_pfn</c> calls <c>kvm_gmem_prepare_folio</c> on every call with the folio's head gfn, pfn and
/// order, uptodate only means "zeroed", and populate has no partial-hugepage handling (6538b6221cc2).
/// </param>
/// <param name="MakePrivateHook">
/// True (kvm-x86, July 2026: 3df611b5a04e, fb50ca77b672): the hook is <c>kvm_arch_gmem_make_private(kvm, gfn, pfn,
/// nr_pages)</c>, called from every <c>kvm_gmem_get_pfn</c> but only when guest_memfd holds the index private
/// (<c>kvm_gmem_is_private_mem</c>), with the faulting page's own gfn and pfn and 1 &lt;&lt; max_order pages; freeing
/// a folio calls <c>kvm_arch_gmem_reclaim</c>, and a conversion to shared <c>kvm_arch_gmem_make_shared</c> (SNP: both
/// the former <c>sev_gmem_invalidate</c>; kvm-x86 sev.c @1a27afa0511e).
/// </param>
/// <param name="GmemMmap">True (6.18 onwards): KVM_CREATE_GUEST_MEMFD accepts <c>GUEST_MEMFD_FLAG_MMAP</c> (3d3a04fad25a).</param>
/// <param name="InPlaceConversion">
/// True (kvm-x86, Sept 2026, with <c>kvm.gmem_in_place_conversion</c>; series "guest_memfd: In-place conversion
/// support" v7): shared/private is tracked per guest_memfd index and set with <c>KVM_SET_MEMORY_ATTRIBUTES2</c> on the
/// guest_memfd (1ae5be958ff7); every memslot bound to guest_memfd is GMEM_ONLY, so shared faults are served from
/// guest_memfd too (2e646bcfcf90); a conversion to private fails with -EAGAIN while a page of the range has outstanding
/// references (dcde2f853ff4); <c>GUEST_MEMFD_FLAG_INIT_SHARED</c> is accepted for VMs with private memory.
/// </param>
public sealed record KvmKernel(
    string Name,
    string Releases,
    bool ClampAtFaultin,
    bool PrepareTracking = true,
    bool MakePrivateHook = false,
    bool GmemMmap = false,
    bool InPlaceConversion = false)
{
    /// <summary>6.11-6.12: prepare at the folio's first get_pfn, the clamp asked at fault-in.</summary>
    public static KvmKernel V6_11 { get; } = new("6.11", "6.11-6.12", ClampAtFaultin: true);

    /// <summary>6.13-6.17: as 6.11 (the functions renamed), the clamp asked at fault-in.</summary>
    public static KvmKernel V6_13 { get; } = new("6.13", "6.13-6.17", ClampAtFaultin: true);

    /// <summary>6.18-6.19: the clamp asked from <c>kvm_mmu_max_mapping_level</c> once lpage_info allows a hugepage (the default); guest_memfd may be mmap'ed.</summary>
    public static KvmKernel V6_18 { get; } = new("6.18", "6.18-6.19", ClampAtFaultin: false, GmemMmap: true);

    /// <summary>7.0: as 6.18, with the prepare hook on every get_pfn and populate without partial-hugepage handling.</summary>
    public static KvmKernel V7_0 { get; } = new("7.0", "7.0-7.1", ClampAtFaultin: false, PrepareTracking: false, GmemMmap: true);

    /// <summary>kvm-x86 of 2026 (release not confirmed): <c>make_private</c> only for private pages, and in-place conversion.</summary>
    public static KvmKernel KvmX86_2026 { get; } = new(
        "kvm-x86-2026", "kvm-x86 queue, 2026", ClampAtFaultin: false, PrepareTracking: false, MakePrivateHook: true, GmemMmap: true, InPlaceConversion: true);

    /// <summary>Every kernel the model runs, oldest first.</summary>
    public static ImmutableArray<KvmKernel> All { get; } = [V6_11, V6_13, V6_18, V7_0, KvmX86_2026];

    /// <summary>The kernel the model runs unless told otherwise.</summary>
    public static KvmKernel Default => V6_18;

    /// <summary>
    /// When this kernel's guest_memfd calls the arch hook of a design that wants <paramref name="design"/>: a design
    /// that never prepares from get_pfn (the fault-path hook, preparation at allocation) keeps
    /// <see cref="GmemPrepareMode.Never"/>; otherwise the kernel decides from 7.0 on (every get_pfn; from kvm-x86-2026
    /// every get_pfn of a private page), and before it the design does.
    /// </summary>
    public GmemPrepareMode GetPfnMode(GmemPrepareMode design) => design switch
    {
        GmemPrepareMode.Never => GmemPrepareMode.Never,
        _ when MakePrivateHook => GmemPrepareMode.MakePrivate,
        _ when !PrepareTracking => GmemPrepareMode.EveryGetPfn,
        _ => design,
    };

    /// <summary>The kernel called <paramref name="name"/> (one of <see cref="All"/>'s names).</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out KvmKernel? kernel)
    {
        kernel = All.FirstOrDefault(k => k.Name == name);
        return kernel is not null;
    }

    /// <summary>The kernel called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No kernel has that name.</exception>
    public static KvmKernel Parse(string name)
        => TryParse(name, out var kernel) ? kernel
            : throw new ArgumentException($"Unknown kernel '{name}'; the kernels are {string.Join(", ", All.Select(k => k.Name))}.", nameof(name));

    /// <inheritdoc />
    public override string ToString() => Name;
}
