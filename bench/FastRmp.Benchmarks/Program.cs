using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace FastRmp.Benchmarks;

internal static class Program
{
    /// <summary>
    /// Runs suites chosen with BenchmarkDotNet's usual arguments (<c>--filter '*Rmp*'</c>). <c>--quick</c> uses a short
    /// job; <c>--dry</c> runs each benchmark once in process (CI's check that none rots) and, with <c>--budgets</c>,
    /// fails when one allocates more than its <see cref="AllocationBudgetAttribute"/>. <c>--chart</c> and
    /// <c>--readme</c> turn committed results into the scaling chart and the README's table (see ResultTools).
    /// <c>--make-trace PATH FAULTS</c> writes the synthetic SNP host trace of the replay measurements
    /// (docs/benchmarks/engine.md): FAULTS guest faults on 8 vCPUs over a 64 GiB guest, about 4.2 records per fault.
    /// </summary>
    private static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "--make-trace")
        {
            var written = Tests.Common.SnpTraceFixture.Write(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), vcpus: 8, highSlotBytes: 62UL << 30);
            Console.WriteLine($"{args[1]}: {written.Records:N0} records, {written.Faults:N0} faults");
            return 0;
        }

        if (args.Length > 0 && args[0] is "--chart" or "--readme")
        {
            return ResultTools.Run(args);
        }

        bool quick = args.Contains("--quick");
        bool dry = args.Contains("--dry");
        bool budgets = args.Contains("--budgets");
        bool inProcess = args.Contains("--inprocess");
        args = args.Where(a => a is not "--quick" and not "--dry" and not "--budgets" and not "--inprocess").ToArray();
        BenchConfig.Dry = dry;
        var config = new BenchConfig(quick && !inProcess, dry);
        if (inProcess && !dry)
        {
            // --quick --inprocess: the short job without a generated project or a process per benchmark (a busy machine).
            config.AddJob((quick ? Job.ShortRun : Job.Default).WithToolchain(InProcessEmitToolchain.Instance));
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config).ToArray();
        if (budgets)
        {
            return AllocationBudgets.Report(AllocationBudgets.Check(summaries), Console.Out) == 0 && summaries.Length > 0 ? 0 : 1;
        }

        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
