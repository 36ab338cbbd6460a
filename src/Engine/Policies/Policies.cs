using System.Collections.Immutable;
using FastRmp.Engine.Rmp;

namespace FastRmp.Engine.Policies;

/// <summary>The policies of the 2023 guest_memfd debate, by name.</summary>
public static class PolicyCatalog
{
    /// <summary>Every policy name, in the order reports list them.</summary>
    public static ImmutableArray<string> Names { get; } = ["fault-hook", "alloc-blind", "first-use", "every-get-pfn"];

    /// <summary>Creates the policy called <paramref name="name"/> for a guest with <paramref name="asid"/>.</summary>
    /// <exception cref="ArgumentException">No policy has that name.</exception>
    public static SnpPolicy Create(string name, RmpTable rmp, uint asid) => name switch
    {
        "fault-hook" => new FaultHookPolicy(rmp, asid),
        "alloc-blind" => new AllocBlindPolicy(rmp, asid),
        "first-use" => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.OncePerFolio),
        "every-get-pfn" => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.EveryGetPfn),
        _ => throw new ArgumentException($"Unknown policy '{name}'; the policies are {string.Join(", ", Names)}.", nameof(name)),
    };
}
