using System.Text;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Replay;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Tests.Metrics;

/// <summary>The counter catalog against what the engine produces: the same names, in the same order.</summary>
public sealed class CounterCatalogTests
{
    // Two private faults on a guest_memfd slot the replay infers, one shared access: enough for every replay counter to exist.
    private const string Trace =
        "# tracer: nop\n"
        + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
        + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000020: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000201000 error_code 0x500000004\n"
        + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000030: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000300000 error_code 0x100000004\n";

    private static string[] ScenarioNames() => [.. ScenarioCatalog.Run("share-4k-keep", "first-use", 0).Counters.Select(c => c.Key)];

    private static string[] ReplayNames()
    {
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes(Trace));
        using var replayer = new Replayer(reader, new ReplayOptions(0, 4UL << 30), ["first-use"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        Assert.Null(replayer.Error);
        var result = Assert.Single(replayer.Results("catalog"));
        Assert.True(result.Counters["replay_faults"] > 0, "the trace replayed no fault");
        return [.. result.Counters.Counters.Select(c => c.Key)];
    }

    [Fact]
    public void A_scenario_produces_exactly_the_model_counters_in_catalog_order()
        => Assert.Equal(CounterCatalog.Model.Select(c => c.Name), ScenarioNames());

    [Fact]
    public void A_replay_produces_every_counter_in_catalog_order()
    {
        // Every name produced is in the catalog, and every catalog entry but the RMPOPT option's is produced, in
        // catalog order (RmpOptScenarioTests checks a replay with the option produces all of them).
        string[] replay = ReplayNames();
        Assert.All(replay, name => Assert.True(CounterCatalog.TryGet(name, out _), $"'{name}' is not in the catalog"));
        Assert.Equal(CounterCatalog.Model.Concat(CounterCatalog.Replay).Select(c => c.Name), replay); // no RMPOPT: not its counters
        Assert.Equal(CounterCatalog.Model.Length + CounterCatalog.RmpOpt.Length + CounterCatalog.Replay.Length + CounterCatalog.Tdx.Length, CounterCatalog.All.Length);
        Assert.Equal(CounterCatalog.Model.Concat(CounterCatalog.RmpOpt).Concat(CounterCatalog.Replay).Concat(CounterCatalog.Tdx), CounterCatalog.All);
    }

    [Fact]
    public void Every_entry_is_complete_and_names_are_unique()
    {
        Assert.Equal(CounterCatalog.All.Length, CounterCatalog.All.Select(c => c.Name).Distinct().Count());
        Assert.Equal(CounterCatalog.All.Length, CounterCatalog.All.Select(c => c.Title).Distinct().Count());
        for (int i = 0; i < CounterCatalog.All.Length; i++)
        {
            var c = CounterCatalog.All[i];
            Assert.Matches("^[a-z][a-z0-9_]*$", c.Name);
            Assert.False(string.IsNullOrWhiteSpace(c.Title), c.Name);
            Assert.False(string.IsNullOrWhiteSpace(c.Unit), c.Name);
            Assert.False(string.IsNullOrWhiteSpace(c.Description), c.Name);
            Assert.DoesNotContain('\n', c.Description);
            Assert.False(string.IsNullOrWhiteSpace(c.Source), c.Name);
            Assert.Same(c, CounterCatalog.Get(c.Name));
            Assert.Equal(i, CounterCatalog.IndexOf(c.Name));
        }
    }

    [Fact]
    public void Unknown_names_are_not_found()
    {
        Assert.False(CounterCatalog.TryGet("no_such_counter", out var info));
        Assert.Null(info);
        Assert.Equal(-1, CounterCatalog.IndexOf("no_such_counter"));
        var ex = Assert.Throws<KeyNotFoundException>(() => CounterCatalog.Get("no_such_counter"));
        Assert.Contains("no_such_counter", ex.Message, StringComparison.Ordinal);
    }
}
