using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace FastRmp.Benchmarks;

/// <summary>
/// The one configuration every FastRmp suite runs under: memory diagnoser (allocations per operation), benchmarks
/// grouped by category with a baseline per category, a full JSON export (the chart reads it). <c>--quick</c> (see
/// Program) swaps the job for a short one; <c>--dry</c> runs each benchmark once, in process, for CI.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    /// <summary>Measuring run with the default job.</summary>
    public BenchConfig()
        : this(quick: false)
    {
    }

    /// <summary>Measuring run; <paramref name="quick"/> uses BenchmarkDotNet's ShortRun job.</summary>
    public BenchConfig(bool quick)
        : this(quick, dry: false)
    {
    }

    /// <summary>A measuring run, or with <paramref name="dry"/> CI's single in-process invocation of every benchmark.</summary>
    public BenchConfig(bool quick, bool dry)
    {
        // Loggers, exporters and the summary columns come from the defaults; without them a run prints nothing.
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
        AddExporter(JsonExporter.Full);
        WithOption(ConfigOptions.JoinSummary, true);
        if (!TracingWholeProcessBenchmarks.TraceCmdAvailable)
        {
            AddFilter(new SimpleFilter(b => !b.Descriptor.HasCategory(TracingWholeProcessBenchmarks.Category)));
        }

        if (dry)
        {
            // In process: no generated project to build per run, so CI's pass over every benchmark takes seconds each.
            // 16 invocations (not Dry's 1) so that the runtime's own stray allocations, which the process-wide
            // allocation counter also sees, are spread over enough operations not to look like the benchmark's.
            AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance).WithInvocationCount(16).WithUnrollFactor(1).WithId("Dry"));
        }
        else
        {
            AddFilter(new SimpleFilter(b => !b.Descriptor.HasCategory(BudgetCanaryBenchmarks.Category)));
            if (quick)
            {
                AddJob(Job.ShortRun);
            }
        }
    }

    /// <summary>
    /// True in a <c>--dry</c> run: parameter sources then offer only their smallest hosts, so CI exercises every
    /// benchmark's code without building multi-GiB tables (the process-wide flag works because a dry run is in process).
    /// </summary>
    public static bool Dry { get; set; }
}
