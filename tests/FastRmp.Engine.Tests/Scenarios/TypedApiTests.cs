using FastRmp.Engine.Gmem;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;
using FastRmp.Engine.Tdx;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>The typed API (issue 19): policies, folio sizes, scenarios and counters as types, with the string forms on top.</summary>
public sealed class TypedApiTests
{
    [Fact]
    public void Policies_round_trip_between_kind_and_name()
    {
        Assert.Equal(PolicyCatalog.AllNames, PolicyCatalog.AllKinds.Select(k => k.Name()));
        Assert.Equal(PolicyCatalog.Names, PolicyCatalog.Kinds.Select(k => k.Name()));
        foreach (var kind in PolicyCatalog.AllKinds)
        {
            Assert.True(PolicyCatalog.TryParse(kind.Name(), out var parsed));
            Assert.Equal(kind, parsed);
        }

        Assert.False(PolicyCatalog.TryParse("nope", out _));
        Assert.False(PolicyCatalog.TryParse(null, out _));
        Assert.Throws<ArgumentException>(() => PolicyCatalog.Parse("tdx"));
    }

    [Fact]
    public void Folio_sizes_parse_their_written_form()
    {
        Assert.Equal(FolioSize.Size2M, FolioSize.Parse("2M"));
        Assert.Equal(["4k", "2m", "1g"], FolioSize.All.Select(f => f.ToString()));
        Assert.Equal(2UL << 20, FolioSize.Size2M.Bytes);
        Assert.False(FolioSize.TryParse("3m", out _));
        Assert.Throws<ArgumentException>(() => FolioSize.Parse("64k"));
    }

    [Fact]
    public void A_typed_run_equals_the_string_run_and_counters_read_by_catalog_entry()
    {
        var scenario = ScenarioCatalog.Get("share-4k-keep");
        var typed = ScenarioCatalog.Run(scenario, PolicyKind.FirstUse, FolioSize.Size2M);
        var named = ScenarioCatalog.Run("share-4k-keep", "first-use", 9);
        Assert.Equal(named.Counters, typed.Counters);
        Assert.Equal(typed["psmash"], typed[CounterCatalog.Psmash]);
        Assert.True(typed.TryGet(CounterCatalog.RmpNpf, out long npf) && npf == typed["rmp_npf"]);
        Assert.False(typed.TryGet(CounterCatalog.TdxDemote, out _)); // an SNP run has no TDX counters
        Assert.Throws<KeyNotFoundException>(() => typed[CounterCatalog.TdxDemote]);
        Assert.False(ScenarioCatalog.TryGet("nope", out _));

        var td = TdxScenarioCatalog.Run(TdxScenarioCatalog.All[0], TdxDesign.HugePages, FolioSize.Size2M);
        Assert.Equal(1, td[CounterCatalog.TdxDemote]);
        using var host = new Host(TdxDesign.Merged, FolioSize.Size4K);
        Assert.NotNull(host.Tdx);
    }
}
