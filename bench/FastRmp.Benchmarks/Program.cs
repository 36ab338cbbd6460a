using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace FastRmp.Benchmarks;

internal static class Program
{
    /// <summary>
    /// Runs suites chosen with BenchmarkDotNet's usual arguments (<c>--filter '*Rmp*'</c>). <c>--quick</c> uses a short
    /// job; <c>--dry</c> runs each benchmark once (CI's check that none rots).
    /// </summary>
    private static int Main(string[] args)
    {
        bool quick = args.Contains("--quick");
        bool dry = args.Contains("--dry");
        args = args.Where(a => a is not "--quick" and not "--dry").ToArray();
        IConfig config = new BenchConfig(quick);
        if (dry)
        {
            config = config.AddJob(BenchmarkDotNet.Jobs.Job.Dry);
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
