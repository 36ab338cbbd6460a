using System.Diagnostics;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The installed tool on linux-x64 is the Native AOT build: <c>dotnet-counters</c> must see its <c>FastRmp</c> meter
/// too (issue 19). The same EventPipe session as <see cref="LiveMetricsTests"/>, against the native publish.
/// </summary>
[Collection(HeavyProcesses.Name)]
public sealed class NativeLiveMetricsTests
{
    [Theory(Timeout = 600_000)]
    [MemberData(nameof(LiveMetricsTests.Children), MemberType = typeof(LiveMetricsTests))]
    public async Task The_native_tool_publishes_advancing_counters_over_EventPipe(string kind)
    {
        if (NativeTool.WhyNot() is { } why)
        {
            Assert.Skip(why);
        }

        string binary = NativeTool.Binary(TestContext.Current.CancellationToken);
        var dir = Directory.CreateTempSubdirectory("fastrmp-native-live-");
        try
        {
            await LiveMetricsTests.Watch(kind, dir.FullName, arguments => Start(binary, arguments));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static ProcessStartInfo Start(string binary, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }
}
