using System.Collections.Immutable;
using FastRmp.Engine.Reports;

namespace FastRmp.Engine.Hosting;

/// <summary>
/// The counters of one run of a <see cref="Host"/> (a built-in scenario or a replayed trace) under one policy and
/// folio size, with the names the reports and the JSON use (docs/policies.md).
/// </summary>
public sealed record RunResult
{
    /// <summary>What ran: the scenario's name, or the replayed trace's.</summary>
    public required string Workload { get; init; }

    /// <summary>Policy name.</summary>
    public required string Policy { get; init; }

    /// <summary>The kernel whose KVM the model followed (<see cref="Kvm.KvmKernel.Name"/>).</summary>
    public string Kernel { get; init; } = Kvm.KvmKernel.Default.Name;

    /// <summary>True when the host had RMPOPT (<see cref="HostOptions.RmpOpt"/>): <see cref="Counters"/> then has its counters.</summary>
    public bool RmpOpt { get; init; }

    /// <summary>guest_memfd folio order.</summary>
    public required int FolioOrder { get; init; }

    /// <summary>Every counter by name, in report order.</summary>
    public required ImmutableArray<KeyValuePair<string, long>> Counters { get; init; }

    /// <summary>The host's memory, one state per 2 MiB region, at the end of the run (null when not captured).</summary>
    public HostMemoryMap? Map { get; init; }

    /// <summary>
    /// Why the first of a scenario's <c>stuck_accesses</c> could not complete (the guest's <see cref="Guests.Guest.StuckReason"/>), or
    /// null when none was stuck. A replay names its first refusal itself.
    /// </summary>
    public string? StuckReason { get; init; }

    /// <summary>One counter (<see cref="Metrics.CounterCatalog"/>'s entries name them).</summary>
    /// <exception cref="KeyNotFoundException">The result does not have it (an RMPOPT, replay or TDX counter of another kind of run).</exception>
    public long this[Metrics.CounterInfo counter] => this[(counter ?? throw new ArgumentNullException(nameof(counter))).Name];

    /// <summary>One counter, or false when the result does not have it.</summary>
    public bool TryGet(Metrics.CounterInfo counter, out long value)
    {
        ArgumentNullException.ThrowIfNull(counter);
        foreach (var pair in Counters)
        {
            if (pair.Key == counter.Name)
            {
                value = pair.Value;
                return true;
            }
        }

        value = 0;
        return false;
    }

    /// <summary>One counter by name (a convenience over <see cref="this[Metrics.CounterInfo]"/>).</summary>
    public long this[string name]
    {
        get
        {
            foreach (var pair in Counters)
            {
                if (pair.Key == name)
                {
                    return pair.Value;
                }
            }

            throw new KeyNotFoundException($"No counter '{name}'.");
        }
    }
}
