using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

public class TraceDatReaderTests
{
    public static TheoryData<string> DatFiles()
    {
        var data = new TheoryData<string>();
        string root = Samples.TryDir ?? "/nonexistent";
        foreach (var sub in new[] { "tracecmd-dat", "tracecmd-dat-public" })
        {
            string dir = Path.Combine(root, sub);
            if (Directory.Exists(dir))
            {
                foreach (var f in Directory.EnumerateFiles(dir, "*.dat").Order(StringComparer.Ordinal))
                {
                    data.Add(Path.GetFileName(f));
                }
            }
        }

        if (data.Count == 0)
        {
            data.Add("(no samples)");
        }

        return data;
    }

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(DatFiles))]
    public void Every_record_and_field_equals_trace_cmd_report_t_R(string name)
    {
        string path = Samples.DatFiles().FirstOrDefault(p => Path.GetFileName(p) == name) ?? "";
        if (path.Length == 0)
        {
            Assert.Skip($"sample {name} not found under ../shared/samples");
        }

        string traceCmd = Samples.RequireTraceCmd();
        using var file = TraceDatFile.Open(path);
        var mine = new List<string>();
        using (var reader = file.CreateReader())
        {
            var ct = TestContext.Current.CancellationToken;
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                mine.Add(RawReport.Key(r));
            }

            Assert.Equal(0, reader.Stats.DamageCount);
        }

        var expected = RawReport.ExpectedKeys(Samples.Run(traceCmd, "report", "-t", "-R", path), file.Formats);
        Assert.Equal(expected.Count, mine.Count);
        var missing = expected.Order(StringComparer.Ordinal).Except(mine, StringComparer.Ordinal).Take(5).ToList();
        Assert.True(missing.Count == 0, "records trace-cmd reports that FastRmp does not:\n" + string.Join('\n', missing)
            + "\nFastRmp near them:\n" + string.Join('\n', mine.Where(m => missing.Any(x => x.Split(' ')[0] == m.Split(' ')[0])).Take(5)));
        Assert.Equal(expected.Order(StringComparer.Ordinal), mine.Order(StringComparer.Ordinal));
    }
}
