namespace FastRmp.Cli.Tests;

/// <summary>
/// The README's example blocks are what their commands print now (issue 19: a stale "50.00 %" where the same trace
/// gave 75 %): scripts/update-readme-examples.sh --check reruns every block's command with this build of the tool.
/// </summary>
public sealed class ReadmeExamplesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 300_000)]
    public void Every_README_example_block_is_what_its_command_prints_now()
    {
        if (!File.Exists("/bin/bash"))
        {
            Assert.Skip("the script needs bash");
        }

        // The trace the script would write with the benchmarks' --make-trace host.dat 20000 (the same call).
        string trace = Path.Combine(_dir, "host.dat");
        FastRmp.Tests.Common.SnpTraceFixture.Write(trace, 20_000, vcpus: 8, highSlotBytes: 62UL << 30);
        var info = FastrmpProcess.StartInfo([]);
        string cli = info.FileName == "dotnet" ? info.ArgumentList[0] : info.FileName;
        string output = ChildProcess.Run(
            "bash",
            [Path.Combine(Repository.Root(), "scripts", "update-readme-examples.sh"), "--check"],
            TestContext.Current.CancellationToken,
            new Dictionary<string, string> { ["FASTRMP_CLI"] = cli, ["FASTRMP_EXAMPLE_TRACE"] = trace });
        Assert.Contains("every example block is what its command prints now", output, StringComparison.Ordinal);
    }
}
