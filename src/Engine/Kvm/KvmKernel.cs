using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// Which kernel's KVM the model runs: the rules that changed between releases in what FastRmp counts. The 2023
/// policies are designs and stay as they are under every kernel; the kernel decides KVM's own steps around them.
/// </summary>
/// <param name="Name">The name <c>--kernel</c> takes and reports print ("6.18").</param>
/// <param name="Releases">The releases that behave alike in what is modelled ("6.13-6.17").</param>
/// <param name="ClampAtFaultin">
/// Where the vendor's private mapping-level ceiling (the RMP clamp) is asked. True (6.11-6.17): in the gmem fault-in,
/// <c>kvm_max_private_mapping_level</c> asks <c>private_max_mapping_level</c> whenever the folio's order allows more
/// than 4K, before lpage_info is looked at (arch/x86/kvm/mmu/mmu.c; kernel-domain.md 5.3, gmem path step 4: 6.10-6.12
/// and 6.13-6.17). False (6.18): <c>kvm_mmu_max_mapping_level</c> asks <c>gmem_max_mapping_level</c> only after
/// lpage_info (MIXED counting as disallowed) left a level above 4K (kernel-domain.md 5.4 step 4).
/// </param>
public sealed record KvmKernel(string Name, string Releases, bool ClampAtFaultin)
{
    /// <summary>6.11-6.12: prepare at the folio's first get_pfn, the clamp asked at fault-in.</summary>
    public static KvmKernel V6_11 { get; } = new("6.11", "6.11-6.12", ClampAtFaultin: true);

    /// <summary>6.13-6.17: as 6.11 (the functions renamed), the clamp asked at fault-in.</summary>
    public static KvmKernel V6_13 { get; } = new("6.13", "6.13-6.17", ClampAtFaultin: true);

    /// <summary>6.18: the clamp asked from <c>kvm_mmu_max_mapping_level</c> once lpage_info allows a hugepage (the default).</summary>
    public static KvmKernel V6_18 { get; } = new("6.18", "6.18", ClampAtFaultin: false);

    /// <summary>Every kernel the model runs, oldest first.</summary>
    public static ImmutableArray<KvmKernel> All { get; } = [V6_11, V6_13, V6_18];

    /// <summary>The kernel the model runs unless told otherwise.</summary>
    public static KvmKernel Default => V6_18;

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
