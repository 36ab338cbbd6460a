using FastRmp.Interop.Tests.Tracing;

namespace FastRmp.Cli.Tests;

public class InfoCommandTests
{
    [Fact]
    public void Info_reads_every_sample_the_same_on_one_thread_and_on_several()
    {
        // The per-CPU parallel read (TraceScan) must not change a single line of info, damage and lost events included.
        int compared = 0;
        foreach (var path in Samples.DatFiles().Concat(Directory.EnumerateFiles(Samples.Path_("perf"), "*.data")))
        {
            string one, many;
            try
            {
                one = Commands.InfoCommand.Summarize(path, threads: 1);
            }
            catch (CliInputException)
            {
                continue; // refused inputs are covered by the reader's tests
            }

            many = Commands.InfoCommand.Summarize(path, threads: 4);
            Assert.Equal(one, many);
            compared++;
        }

        Assert.True(compared >= 8, $"only {compared} samples compared"); // 7 trace.dat and 1 perf.data in ../shared/samples read without refusal
    }

    [Fact]
    public void Info_on_v7_zstd_prints_version_compression_clock_and_event_counts()
    {
        string path = Samples.Path_("tracecmd-dat/vm-sched-kmem-v7-zstd.dat");
        var (exit, output, err) = CliRunner.Run("info", path);
        Assert.True(exit == 0, err);
        Assert.Contains("version 7", output, StringComparison.Ordinal);
        Assert.Contains("compression: zstd", output, StringComparison.Ordinal);
        Assert.Contains("clock:       local", output, StringComparison.Ordinal);
        Assert.Contains("records:     1603", output, StringComparison.Ordinal);
        Assert.Contains("664  kmem:mm_page_alloc", output, StringComparison.Ordinal);
        Assert.Contains("damaged:     0", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Info_on_a_file_that_is_not_a_trace_exits_with_input_error_naming_it()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-not-a-trace-{Environment.ProcessId}.txt");
        File.WriteAllText(path, "hello\nworld\n");
        try
        {
            var (exit, _, err) = CliRunner.Run("info", path);
            Assert.Equal(ExitCodes.InputError, exit);
            Assert.Contains(path, err, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Info_on_a_missing_file_says_so()
    {
        var (exit, _, err) = CliRunner.Run("info", "/nonexistent/trace.dat");
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("no such file", err, StringComparison.Ordinal);
    }
}
