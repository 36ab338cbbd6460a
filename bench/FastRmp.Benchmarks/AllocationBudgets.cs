using System.Reflection;
using BenchmarkDotNet.Reports;

namespace FastRmp.Benchmarks;

/// <summary>Checks each benchmark's measured allocation per operation against its <see cref="AllocationBudgetAttribute"/>.</summary>
internal static class AllocationBudgets
{
    /// <summary>
    /// Bytes per operation over the budget that are read as noise: BenchmarkDotNet counts allocations process-wide,
    /// and a short dry iteration picks up a few KiB the runtime allocates on its own (seen as 1-4 B/op on 64-op
    /// benchmarks that allocate nothing). An allocation made by every operation is at least 24 bytes (one object).
    /// </summary>
    public const long NoiseBytesPerOperation = 8;

    /// <summary>One benchmark's verdict.</summary>
    public sealed record Verdict(string Benchmark, long? Allocated, long Budget, bool Passed, string Note);

    /// <summary>The budget of a benchmark method: its own attribute, else its class's, else 0.</summary>
    public static AllocationBudgetAttribute Budget(MethodInfo method)
        => method.GetCustomAttribute<AllocationBudgetAttribute>()
           ?? method.DeclaringType?.GetCustomAttribute<AllocationBudgetAttribute>()
           ?? new AllocationBudgetAttribute(0);

    /// <summary>Verdicts for every report: a failed run, a missing measurement or an allocation over budget fails.</summary>
    public static IReadOnlyList<Verdict> Check(IEnumerable<Summary> summaries)
    {
        var verdicts = new List<Verdict>();
        foreach (var report in summaries.SelectMany(s => s.Reports))
        {
            var benchmark = report.BenchmarkCase;
            string name = $"{benchmark.Descriptor.Type.Name}.{benchmark.Descriptor.WorkloadMethodDisplayInfo}"
                + (benchmark.HasParameters ? $" [{benchmark.Parameters.DisplayInfo}]" : "");
            var budget = Budget(benchmark.Descriptor.WorkloadMethod);
            long? allocated = report.Success ? report.GcStats.GetBytesAllocatedPerOperation(benchmark) : null;
            verdicts.Add(Judge(name, report.Success, allocated, budget));
        }

        return verdicts;
    }

    /// <summary>The rule, separate from BenchmarkDotNet's types.</summary>
    public static Verdict Judge(string name, bool ran, long? allocated, AllocationBudgetAttribute budget)
    {
        long limit = budget.BytesPerOperation;
        if (!ran)
        {
            return new Verdict(name, null, limit, false, "the benchmark did not run to completion");
        }

        if (allocated is null)
        {
            return new Verdict(name, null, limit, false, "no allocation measurement (is the memory diagnoser on?)");
        }

        bool over = allocated > limit + NoiseBytesPerOperation;
        return budget.ExpectExceeded
            ? new Verdict(name, allocated, limit, over, over ? "over budget, as this canary must be" : "the canary stayed within budget: the check cannot fail")
            : new Verdict(name, allocated, limit, !over, over ? "OVER BUDGET" : budget.Reason ?? "");
    }

    /// <summary>Prints the verdicts and the closing line <c>benchmarks: N passed, M failed</c>; returns the failures.</summary>
    public static int Report(IReadOnlyList<Verdict> verdicts, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("== allocation budgets (bytes per operation)");
        foreach (var v in verdicts.OrderBy(v => v.Passed).ThenBy(v => v.Benchmark, StringComparer.Ordinal))
        {
            output.WriteLine($"{(v.Passed ? "ok  " : "FAIL")} {v.Benchmark}: allocated {v.Allocated?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}, budget {v.Budget}{(v.Note.Length > 0 ? " - " + v.Note : "")}");
        }

        int failed = verdicts.Count(v => !v.Passed);
        output.WriteLine($"benchmarks: {verdicts.Count - failed} passed, {failed} failed");
        return failed;
    }
}
