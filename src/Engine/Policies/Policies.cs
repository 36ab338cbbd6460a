using System.Collections.Immutable;
using FastRmp.Engine.Rmp;

namespace FastRmp.Engine.Policies;

/// <summary>The policies of the 2023 guest_memfd debate, by name, and the designs FastRmp offers beside them. Immutable: thread-safe.</summary>
public static class PolicyCatalog
{
    /// <summary>Every policy of the default comparison, in the order reports list them.</summary>
    public static ImmutableArray<string> Names { get; } = ["fault-hook", "alloc-blind", "first-use", "every-get-pfn"];

    /// <summary>
    /// Designs <see cref="Create(string, RmpTable, uint)"/> also builds that are not in the default comparison: <c>first-use-1g-rework</c>
    /// (<see cref="RangePreparePolicy"/>, Roth's unmerged 2024 rework of <c>sev_gmem_prepare</c> for folios above 2 MiB).
    /// </summary>
    public static ImmutableArray<string> ExtraNames { get; } = ["first-use-1g-rework"];

    /// <summary>Every name <see cref="Create(string, RmpTable, uint)"/> accepts: <see cref="Names"/>, then <see cref="ExtraNames"/>.</summary>
    public static ImmutableArray<string> AllNames { get; } = [.. Names, .. ExtraNames];

    /// <summary>The policies of the default comparison as types, in <see cref="Names"/>' order.</summary>
    public static ImmutableArray<PolicyKind> Kinds { get; } = [PolicyKind.FaultHook, PolicyKind.AllocBlind, PolicyKind.FirstUse, PolicyKind.EveryGetPfn];

    /// <summary>Every design as a type, in <see cref="AllNames"/>' order.</summary>
    public static ImmutableArray<PolicyKind> AllKinds { get; } = [.. Kinds, PolicyKind.FirstUse1GRework];

    /// <summary>The name of <paramref name="kind"/> (<c>first-use</c>).</summary>
    public static string Name(this PolicyKind kind) => AllNames[(int)kind];

    /// <summary>The design called <paramref name="name"/>, if any.</summary>
    public static bool TryParse(string? name, out PolicyKind kind)
    {
        int index = name is null ? -1 : AllNames.IndexOf(name);
        kind = (PolicyKind)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>The design called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No policy has that name.</exception>
    public static PolicyKind Parse(string name)
        => TryParse(name, out var kind) ? kind : throw new ArgumentException($"Unknown policy '{name}'; the policies are {string.Join(", ", AllNames)}.", nameof(name));

    /// <summary>Creates the policy or design called <paramref name="name"/> for a guest with <paramref name="asid"/>.</summary>
    /// <exception cref="ArgumentException">No policy has that name.</exception>
    public static SnpPolicy Create(string name, RmpTable rmp, uint asid) => Create(Parse(name), rmp, asid);

    /// <summary>Creates <paramref name="kind"/> for a guest with <paramref name="asid"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="PolicyKind"/>.</exception>
    public static SnpPolicy Create(PolicyKind kind, RmpTable rmp, uint asid) => kind switch
    {
        PolicyKind.FaultHook => new FaultHookPolicy(rmp, asid),
        PolicyKind.AllocBlind => new AllocBlindPolicy(rmp, asid),
        PolicyKind.FirstUse => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.OncePerFolio),
        PolicyKind.EveryGetPfn => new GetPfnPreparePolicy(rmp, asid, Gmem.GmemPrepareMode.EveryGetPfn),
        PolicyKind.FirstUse1GRework => new RangePreparePolicy(rmp, asid),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a policy."),
    };
}
