using System.Collections.Immutable;
using FastRmp.Engine.Rmp;

namespace FastRmp.Engine.Policies;

/// <summary>The policies of the 2023 guest_memfd debate, by name, and the designs FastRmp offers beside them. Immutable: thread-safe.</summary>
public static class PolicyCatalog
{
    /// <summary>Every policy of the default comparison, in the order reports list them.</summary>
    public static ImmutableArray<string> Names { get; } = ["fault-hook", "alloc-blind", "first-use", "every-get-pfn"];

    /// <summary>
    /// Designs <see cref="Create"/> also builds that are not in the default comparison: <c>first-use-1g-rework</c>
    /// (<see cref="RangePreparePolicy"/>, Roth's unmerged 2024 rework of <c>sev_gmem_prepare</c> for folios above 2 MiB).
    /// </summary>
    public static ImmutableArray<string> ExtraNames { get; } = ["first-use-1g-rework"];

    /// <summary>Every name <see cref="Create"/> accepts: <see cref="Names"/>, then <see cref="ExtraNames"/>.</summary>
    public static ImmutableArray<string> AllNames { get; } = [.. Names, .. ExtraNames];

    /// <summary>Creates the policy or design called <paramref name="name"/> for a guest with <paramref name="asid"/>.</summary>
    /// <exception cref="ArgumentException">No policy has that name.</exception>
    public static SnpPolicy Create(string name, RmpTable rmp, uint asid) => name switch
    {
        "fault-hook" => new FaultHookPolicy(rmp, asid),
        "alloc-blind" => new AllocBlindPolicy(rmp, asid),
        "first-use" => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.OncePerFolio),
        "every-get-pfn" => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.EveryGetPfn),
        "first-use-1g-rework" => new RangePreparePolicy(rmp, asid),
        _ => throw new ArgumentException($"Unknown policy '{name}'; the policies are {string.Join(", ", AllNames)}.", nameof(name)),
    };
}
