using System.Text.Json;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The Native AOT tool's export and sql (Parquet.Net and DuckDB.NET are not annotated for trimming; the csproj keeps
/// their summed warnings as warnings because these paths work there): the same dataset and answers as the managed build.
/// </summary>
[Collection(HeavyProcesses.Name)]
public sealed class NativeExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-native-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 600_000)]
    public void The_native_tool_exports_with_replay_and_queries_as_the_managed_one()
    {
        if (NativeTool.WhyNot() is { } why)
        {
            Assert.Skip(why);
        }

        var ct = TestContext.Current.CancellationToken;
        string binary = NativeTool.Binary(ct);
        string trace = Path.Combine(_dir, "h.dat");
        var written = SnpTraceFixture.Write(trace, 800, seed: 5);
        string native = Path.Combine(_dir, "native"), managed = Path.Combine(_dir, "managed");
        ChildProcess.Run(binary, ["export", trace, "--parquet", native, "--replay", "--policies", "first-use,fault-hook"], ct);
        var (exit, _, err) = CliRunner.Run("export", trace, "--parquet", managed, "--replay", "--policies", "first-use,fault-hook");
        Assert.True(exit == 0, err);

        const string Query = "SELECT (SELECT count(*) FROM events) AS records, (SELECT count(*) FROM decisions) AS decisions, "
            + "(SELECT sum(rmp_updates) FROM decisions) AS rmp_updates, (SELECT list(DISTINCT policy ORDER BY policy) FROM decisions) AS policies, "
            + "{'a': 1} AS nested";
        string fromNative = ChildProcess.Run(binary, ["sql", Query, native, "--format", "json"], ct);
        string fromManaged;
        (exit, fromManaged, err) = CliRunner.Run("sql", Query, managed, "--format", "json");
        Assert.True(exit == 0, err);
        Assert.Equal(fromManaged.Trim(), fromNative.Trim());
        using var json = JsonDocument.Parse(fromNative);
        Assert.Equal(written.Records, json.RootElement[0].GetProperty("records").GetInt64());
        Assert.Equal("[fault-hook, first-use]", json.RootElement[0].GetProperty("policies").GetString());
    }
}
