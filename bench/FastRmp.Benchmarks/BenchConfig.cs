using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace FastRmp.Benchmarks;

/// <summary>
/// The one configuration every FastRmp suite runs under: memory diagnoser (allocations per operation), benchmarks
/// grouped by category with a baseline per category. <c>--quick</c> (see Program) swaps the job for a short one.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
        : this(quick: false)
    {
    }

    public BenchConfig(bool quick)
    {
        // Loggers, exporters and the summary columns come from the defaults; without them a run prints nothing.
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
        WithOption(ConfigOptions.JoinSummary, true);
        if (quick)
        {
            AddJob(Job.ShortRun);
        }
    }
}
