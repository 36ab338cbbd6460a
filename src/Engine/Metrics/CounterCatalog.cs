using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace FastRmp.Engine.Metrics;

/// <summary>
/// Every counter a scenario or replay result carries (<see cref="Hosting.RunResult.Counters"/>), with its
/// title, unit, description and kernel source: the one list the CLI's tables, JSON, HTML report and help read.
/// </summary>
/// <remarks>
/// <see cref="All"/> is the report order: the model's counters (<see cref="CounterSet.Model"/>) in the order
/// <c>Host.Result</c> produces them, then a host's RMPOPT counters (<see cref="CounterSet.RmpOpt"/>, only in results
/// of a host with RMPOPT), then the replay's own (<see cref="CounterSet.Replay"/>) in the order
/// <c>ReplaySession.Result</c> appends them. A test runs a scenario and a replay and checks that the names they
/// produce are exactly these, in this order. Immutable and thread-safe.
/// </remarks>
public static partial class CounterCatalog
{
    private static readonly FrozenDictionary<string, int> s_index;

    // A static constructor runs after every static initializer of every part, so the entries of the other files exist.
    static CounterCatalog()
    {
        All =
        [
            FaultsPrivate, FaultsShared, MemoryFaultExits, HypercallExits, SharedFromGmem, ConversionsBusy, LaunchUpdateFailures, StuckAccesses, Retries,
            RmpUpdate4K, RmpUpdate2M, RmpUpdateToPrivate, RmpUpdateToShared, RmpUpdateFailed, Psmash,
            RmpLookups, RmpNpf, Zapped, WpFaults, HugeSplits, Mapped4K, Mapped2M, Mapped1G, Npt4K, Npt2M, Npt1G,
            Rmp2MEntries, Rmp4KEntries, Folios4K, Folios2M, Folios1G, FragmentationIndexOrder9,
            RmpOptRegionsOptimized, RmpOptRegionsDisabled, RmpOptRegionsReenabled, RmpOptRegionsOn, RmpOptChecksSkipped, RmpOptChecksMade,
            ReplayFaults, ReplayMmio, PfnsFromTrace, PfnsNotFree, InferredSlots, InferredConversions, FoliosInferred2M, SharedHugePagesInferred,
            InferredValidations, MemslotErrors, MemslotEventsIgnored, AttributeErrors,
            TdxPageAdd, TdxPageAug4K, TdxPageAug2M, TdxSeptAdd, TdxRangeBlock, TdxTrack, TdxDemote, TdxRemove, TdxWbinvd,
            TdxAccepted4K, TdxAccepted2M, TdxAcceptSizeMismatch, TdxAcceptEptViolations, TdxAcceptSplits, TdxUnacceptedAccesses,
            TdxPamtAdd, TdxPamtRemove, TdxSeptPages, TdxPamtBytes, TdxPamtPeakBytes,
        ];
        s_index = All.Select((c, i) => KeyValuePair.Create(c.Name, i)).ToFrozenDictionary(StringComparer.Ordinal);
        Model = [.. All.Where(c => c.Set == CounterSet.Model)];
        RmpOpt = [.. All.Where(c => c.Set == CounterSet.RmpOpt)];
        Replay = [.. All.Where(c => c.Set == CounterSet.Replay)];
        Tdx = [.. All.Where(c => c.Set == CounterSet.Tdx)];
    }

    /// <summary>Every counter, in report order: the model's, then the replay's.</summary>
    public static ImmutableArray<CounterInfo> All { get; }

    /// <summary>The model's counters, in report order (what a scenario result has).</summary>
    public static ImmutableArray<CounterInfo> Model { get; }

    /// <summary>A host's RMPOPT counters, in report order: a result of a host with RMPOPT has them after <see cref="Model"/>.</summary>
    public static ImmutableArray<CounterInfo> RmpOpt { get; }

    /// <summary>The replay's own counters, in report order (what a replay result has after <see cref="Model"/>).</summary>
    public static ImmutableArray<CounterInfo> Replay { get; }

    /// <summary>The TDX host's counters, in report order (<see cref="CounterSet.Tdx"/>).</summary>
    public static ImmutableArray<CounterInfo> Tdx { get; }

    /// <summary>The counter named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No counter has that name.</exception>
    public static CounterInfo Get(string name)
        => TryGet(name, out var info) ? info : throw new KeyNotFoundException($"No counter '{name}' in the catalog.");

    /// <summary>The counter named <paramref name="name"/>, if there is one.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out CounterInfo? info)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (s_index.TryGetValue(name, out int index))
        {
            info = All[index];
            return true;
        }

        info = null;
        return false;
    }

    /// <summary>The position of the counter named <paramref name="name"/> in <see cref="All"/>, or -1.</summary>
    public static int IndexOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return s_index.TryGetValue(name, out int index) ? index : -1;
    }
}
