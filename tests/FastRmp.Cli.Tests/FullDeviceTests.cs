using System.Diagnostics;

namespace FastRmp.Cli.Tests;

/// <summary>Output to a full device (issue 18, item 6: an unhandled IOException with a stack trace).</summary>
[Collection(HeavyProcesses.Name)]
public sealed class FullDeviceTests
{
    [Theory]
    [InlineData("scenario", "share-4k-keep")]
    [InlineData("counters", "--json")]
    public void Writing_to_dev_full_ends_in_one_line_and_exit_1(string command, string argument)
    {
        Assert.SkipUnless(File.Exists("/dev/full") && File.Exists("/bin/sh"), "needs /dev/full and /bin/sh");
        var inner = FastrmpProcess.StartInfo([command, argument]);
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" > /dev/full");
        info.ArgumentList.Add(inner.FileName);
        foreach (string a in inner.ArgumentList)
        {
            info.ArgumentList.Add(a);
        }

        using var child = Process.Start(info)!;
        string err = child.StandardError.ReadToEnd();
        child.WaitForExit();
        Assert.Equal(1, child.ExitCode);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("fastrmp: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }
}
