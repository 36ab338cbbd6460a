using BenchmarkDotNet.Attributes;

namespace FastRmp.Benchmarks;

/// <summary>
/// The allocation-budget check's canary, run only with <c>--dry</c>: a benchmark that allocates against a budget of 0.
/// The budget report must flag it; if it does not, the check is broken and the run fails.
/// </summary>
[BenchmarkCategory(Category)]
public class BudgetCanaryBenchmarks
{
    /// <summary>The category excluded from measuring runs.</summary>
    public const string Category = "BudgetCanary";

    [Benchmark, AllocationBudget(0, ExpectExceeded = true, Reason = "deliberately allocates 64 bytes")]
    public byte[] Allocates64Bytes() => new byte[64];
}
