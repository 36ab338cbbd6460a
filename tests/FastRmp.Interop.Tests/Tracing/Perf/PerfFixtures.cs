using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>The committed perf.data fixtures (fixtures/README.md), the perf oracle, and a field-by-field comparison.</summary>
internal static class PerfFixtures
{
    /// <summary>The fixtures folder in the repository.</summary>
    public static string Dir
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastRmp.sln")))
            {
                dir = dir.Parent;
            }

            Assert.NotNull(dir);
            return Path.Combine(dir.FullName, "tests", "FastRmp.Interop.Tests", "Tracing", "Perf", "fixtures");
        }
    }

    public static string Path_(string name) => Path.Combine(Dir, name);

    /// <summary>/usr/bin/perf (or perf on PATH), or null.</summary>
    public static string? Perf => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, "perf")).FirstOrDefault(File.Exists);

    /// <summary>Runs <c>perf script -s perf-fields.py</c> on <paramref name="data"/>, or skips when perf is absent.</summary>
    public static string[] RunOracle(string data)
    {
        string perf = Perf ?? throw Xunit.Sdk.SkipException.ForSkip("perf is not installed (Debian: linux-perf); the perf.data oracle test needs 'perf script'");
        string output = Samples.Run(perf, "script", "-i", data, "-s", Path_("perf-fields.py"));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).ToArray();
        if (lines.Length == 0)
        {
            throw Xunit.Sdk.SkipException.ForSkip($"perf script -s printed nothing for {data} (perf built without python scripting?)");
        }

        return lines;
    }

    /// <summary>Reads every record of <paramref name="path"/> through the one entry point and checks each against perf's line, field by field.</summary>
    public static int CompareWithOracle(string path, string[] expected)
    {
        using var reader = TraceFile.OpenReader(path);
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            Assert.True(i < expected.Length, $"{path}: more records than perf script prints ({expected.Length})");
            Compare(r, expected[i], $"{Path.GetFileName(path)} record {i}");
            i++;
        }

        Assert.Equal(expected.Length, i);
        Assert.Equal(0, reader.Stats.DamageCount);
        return i;
    }

    public static void Compare(TraceRecord r, string line, string where)
    {
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        Assert.True(e.GetProperty("time").GetUInt64() == r.Timestamp, $"{where}: time {r.Timestamp}, perf {e.GetProperty("time")}");
        Assert.True(e.GetProperty("cpu").GetInt32() == r.Cpu, $"{where}: cpu {r.Cpu}, perf {e.GetProperty("cpu")}");
        Assert.True(e.GetProperty("tid").GetInt32() == r.Pid, $"{where}: tid {r.Pid}, perf {e.GetProperty("tid")}");
        Assert.True(e.GetProperty("pid").GetInt32() == r.Tgid, $"{where}: pid {r.Tgid}, perf {e.GetProperty("pid")}");
        Assert.True(e.GetProperty("comm").GetString() == r.Comm, $"{where}: comm '{r.Comm}', perf {e.GetProperty("comm")}");
        Assert.True(e.GetProperty("event").GetString() == r.Format.FullName, $"{where}: event {r.Format.FullName}, perf {e.GetProperty("event")}");
        var fields = e.GetProperty("fields");
        int count = 0;
        foreach (var p in fields.EnumerateObject())
        {
            count++;
            var f = r.Format.Find(p.Name);
            Assert.True(f is not null, $"{where}: {r.Format.FullName} has no field {p.Name}");
            string ours = Value(r, f!, p.Value.ValueKind);
            string theirs = p.Value.ValueKind switch
            {
                JsonValueKind.Object => p.Value.GetProperty("hex").GetString()!,
                JsonValueKind.String => p.Value.GetString()!,
                JsonValueKind.Array => string.Join(",", p.Value.EnumerateArray().Select(x => x.GetRawText())),
                _ => p.Value.GetRawText(),
            };
            Assert.True(ours == theirs, $"{where}: {r.Format.FullName}.{p.Name} = {ours}, perf {theirs}");
        }

        Assert.Equal(r.Format.EventFields.Length, count);
    }

    private static string Value(TraceRecord r, EventField f, JsonValueKind kind)
    {
        switch (kind)
        {
            case JsonValueKind.Object:
                return Convert.ToHexStringLower(r.GetData(f));
            case JsonValueKind.String:
                return r.GetString(f);
            case JsonValueKind.Array:
                var sb = new StringBuilder();
                for (int k = 0; k < r.ElementCount(f); k++)
                {
                    sb.Append(k == 0 ? "" : ",").Append(f.IsSigned ? ((long)r.GetElement(f, k)).ToString(CultureInfo.InvariantCulture) : r.GetElement(f, k).ToString(CultureInfo.InvariantCulture));
                }

                return sb.ToString();
            default:
                return f.IsSigned ? r.GetInt64(f).ToString(CultureInfo.InvariantCulture) : r.GetUInt64(f).ToString(CultureInfo.InvariantCulture);
        }
    }
}
