using FastRmp.Engine.Hosting;
using FastRmp.Engine.Reports;

namespace FastRmp.Cli.Reports;

/// <summary>One run as a report shows it: a row of the comparison table and, with a map, a picture of host memory.</summary>
/// <param name="Label">What distinguishes the run within its group, usually the policy (e.g. <c>first-use</c>).</param>
/// <param name="Folio">The guest_memfd folio size, <c>4k</c>, <c>2m</c> or <c>1g</c>.</param>
/// <param name="Counters">The run's counters by the names of docs/cli.md; the report shows those of <see cref="HtmlReport.TableCounters"/> and ignores the rest.</param>
/// <param name="Map">The host's memory at the end of the run, or null to show none.</param>
/// <param name="Group">Runs with the same group (e.g. the scenario and folio) are compared side by side; null puts the run in one unnamed group.</param>
internal sealed record ReportRun(string Label, string Folio, IReadOnlyList<KeyValuePair<string, long>> Counters, HostMemoryMap? Map, string? Group = null)
{
    /// <summary>The host's pages when <see cref="Map"/> shows only its first part (a cropped map), else null.</summary>
    public ulong? HostPages { get; init; }

    /// <summary>
    /// A replay's difference map: the guest's 2 MiB regions (gpa &gt;&gt; 21) where the run disagreed with the traced kernel
    /// (<see cref="Engine.Replay.Fidelity.DisagreementRegions"/>), or null for a run that replayed no trace.
    /// </summary>
    public IReadOnlyCollection<ulong>? Differences { get; init; }

    /// <summary>What the replayed trace itself shows for this run's VM (the table's <c>trace</c> row), or null for a scenario run.</summary>
    public Engine.Replay.TraceTally? Traced { get; init; }

    /// <summary>The guest regions the difference map covers (from region 0; the highest region compared, rounded up by the report).</summary>
    public ulong GuestRegions { get; init; }

    /// <summary>Lines the run's card shows under its title (a replay's agreement, refusals, first disagreements), or null.</summary>
    public IReadOnlyList<string>? Notes { get; init; }

    /// <summary>A scenario run, labelled by its policy and grouped by scenario, folio size, kernel and whether the host had RMPOPT.</summary>
    public static ReportRun From(RunResult result)
    {
        string folio = Options.CliOptions.FolioName(result.FolioOrder);
        return new ReportRun(result.Policy, folio, result.Counters, result.Map, $"{result.Workload}, folio {folio}, kernel {result.Kernel}{(result.RmpOpt ? ", RMPOPT" : "")}");
    }

    /// <summary>The counter's value, or null when the run does not have it.</summary>
    public long? Counter(string name)
    {
        foreach (var (key, value) in Counters)
        {
            if (key == name)
            {
                return value;
            }
        }

        return null;
    }
}
