using System.Text.Json;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary><c>--kernel</c> on scenario and replay: the model follows that kernel's KVM, and the reports say which.</summary>
public sealed class KernelOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-kernel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Theory]
    [InlineData("6.13", 1027)] // derived in FastRmp.Engine.Tests KernelVersionTests: 516 + one clamp lookup per re-fault of the 511 private pages
    [InlineData("6.18", 516)]
    public void A_scenario_runs_and_reports_the_kernel_it_was_asked_for(string kernel, long lookups)
    {
        var (exit, output, err) = CliRunner.Run("scenario", "share-4k-keep", "--folio", "2m", "--kernel", kernel, "--json", PathOf("s.json"));
        Assert.True(exit == 0, err);
        Assert.Contains($"kernel {kernel}", output, StringComparison.Ordinal);
        var run = Json(PathOf("s.json"))[0];
        Assert.Equal(kernel, run.GetProperty("kernel").GetString());
        Assert.Equal(lookups, run.GetProperty("counters").GetProperty("rmp_lookups").GetInt64());
    }

    [Fact]
    public void An_unknown_kernel_is_a_usage_error_naming_the_kernels()
    {
        var (exit, _, err) = CliRunner.Run("scenario", "share-4k-keep", "--kernel", "5.15");
        Assert.Equal(2, exit);
        Assert.Contains("--kernel: unknown kernel '5.15'; the kernels are 6.11, 6.13, 6.18, 7.0, kvm-x86-2026.", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_replayed_under_two_kernels_differs_only_where_the_clamp_is_asked()
    {
        string trace = PathOf("t.dat");
        SnpTraceFixture.Write(trace, faults: 3000, sharedEvery: 20);
        var runs = new Dictionary<string, JsonElement>();
        foreach (string kernel in new[] { "6.13", "6.18" })
        {
            var (exit, _, err) = CliRunner.Run("replay", trace, "--folio", "2m", "--kernel", kernel, "--host-size", "64G", "--json", PathOf($"{kernel}.json"));
            Assert.True(exit == 0, err);
            var report = Json(PathOf($"{kernel}.json"));
            Assert.Equal(kernel, report.GetProperty("options").GetProperty("kernel").GetString());
            runs[kernel] = report.GetProperty("runs")[0].GetProperty("counters");
        }

        // 2M folios over a trace whose shared accesses make 2 MiB regions MIXED: 6.13 asks the clamp on every private
        // fault of an order-9 folio, 6.18 only where lpage_info still allows 2M. Nothing else may differ.
        Assert.True(runs["6.13"].GetProperty("rmp_lookups").GetInt64() > runs["6.18"].GetProperty("rmp_lookups").GetInt64());
        foreach (var counter in runs["6.18"].EnumerateObject())
        {
            if (counter.Name != "rmp_lookups")
            {
                Assert.True(counter.Value.GetInt64() == runs["6.13"].GetProperty(counter.Name).GetInt64(), $"{counter.Name}: 6.13 {runs["6.13"].GetProperty(counter.Name)}, 6.18 {counter.Value}");
            }
        }
    }

    [Fact]
    public void Compare_runs_each_policy_under_each_kernel_in_one_pass_and_marks_what_differs()
    {
        string trace = PathOf("k.dat");
        SnpTraceFixture.Write(trace, faults: 3000, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run(
            "compare", trace, "--policies", "first-use,fault-hook", "--kernels", "6.13,6.18", "--folio", "2m", "--host-size", "64G", "--json", PathOf("c.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("first-use @ 6.13", output, StringComparison.Ordinal);
        Assert.Contains("fault-hook @ 6.18", output, StringComparison.Ordinal);
        var runs = Json(PathOf("c.json")).GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(
            ["first-use/6.13", "fault-hook/6.13", "first-use/6.18", "fault-hook/6.18"],
            runs.Select(r => $"{r.GetProperty("policy").GetString()}/{r.GetProperty("kernel").GetString()}"));

        // The same models as two separate replays: first-use's lookups differ by kernel exactly as replay says.
        long Lookups(int i) => runs[i].GetProperty("counters").GetProperty("rmp_lookups").GetInt64();
        Assert.True(Lookups(0) > Lookups(2));
        var (exit2, _, err2) = CliRunner.Run("replay", trace, "--folio", "2m", "--kernel", "6.13", "--host-size", "64G", "--json", PathOf("r.json"));
        Assert.True(exit2 == 0, err2);
        Assert.Equal(Lookups(0), Json(PathOf("r.json")).GetProperty("runs")[0].GetProperty("counters").GetProperty("rmp_lookups").GetInt64());
    }

    [Fact]
    public void Kernels_named_twice_or_unknown_are_usage_errors()
    {
        var (exit, _, err) = CliRunner.Run("compare", "x.dat", "--kernels", "6.18,6.18");
        Assert.Equal(2, exit);
        Assert.Contains("--kernels: '6.18' is named twice", err, StringComparison.Ordinal);
        (exit, _, err) = CliRunner.Run("compare", "x.dat", "--kernels", "4.19");
        Assert.Equal(2, exit);
        Assert.Contains("--kernels: unknown kernel '4.19'", err, StringComparison.Ordinal);
    }
}
