using System.Text.Json;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tests.Tracing;

namespace FastRmp.Cli.Tests;

public class EventsCommandTests
{
    [Fact]
    public void Jsonl_writes_one_object_per_record_with_every_field_typed()
    {
        string path = Samples.Path_("tracecmd-dat/vm-sched-kmem-v7-zstd.dat");
        var (exit, output, err) = CliRunner.Run("events", path, "--format", "jsonl");
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1603, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var root = first.RootElement;
        Assert.Equal(1093377898313UL, root.GetProperty("ts").GetUInt64());
        Assert.Equal(1, root.GetProperty("cpu").GetInt32());
        Assert.Equal(12655, root.GetProperty("pid").GetInt32());
        Assert.Equal("capraw.sh", root.GetProperty("comm").GetString());
        Assert.Equal("kmem:mm_page_alloc", root.GetProperty("event").GetString());
        var fields = root.GetProperty("fields");
        Assert.Equal(0x14ec80UL, fields.GetProperty("pfn").GetUInt64());
        Assert.Equal(0, fields.GetProperty("order").GetInt32());
        Assert.False(fields.TryGetProperty("common_pid", out _));
    }

    [Fact]
    public void Event_filter_keeps_only_the_named_events_by_short_or_full_name()
    {
        string path = Samples.Path_("tracecmd-dat/vm-sched-kmem-v6.dat");
        var (exit, output, err) = CliRunner.Run("events", path, "--event", "sched_switch", "--event", "sched:sched_wakeup", "--format", "jsonl");
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(134 + 91, lines.Length);
        Assert.All(lines, l => Assert.Matches("\"event\":\"sched:sched_(switch|wakeup)\"", l));
        using var doc = JsonDocument.Parse(lines.First(l => l.Contains("sched_switch", StringComparison.Ordinal)));
        Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("fields").GetProperty("prev_comm").ValueKind);
    }
}

public class EventsCommandTextTests
{
    [Fact]
    public void Jsonl_of_tracefs_text_gives_kvm_events_their_tracepoint_field_names()
    {
        string path = Samples.Path_("text-public/kvm_page_fault-new-format-seanjc-2022.txt");
        var (exit, output, err) = CliRunner.Run("events", path, "--format", "jsonl", "--event", "kvm_page_fault");
        Assert.True(exit == 0, err);
        var first = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];
        using var doc = JsonDocument.Parse(first);
        var root = doc.RootElement;
        Assert.Equal("CPU 5/KVM", root.GetProperty("comm").GetString());
        Assert.Equal(86_581_928_000UL, root.GetProperty("ts").GetUInt64());
        Assert.Equal("kvm:kvm_page_fault", root.GetProperty("event").GetString());
        var fields = root.GetProperty("fields");
        Assert.Equal(5, fields.GetProperty("vcpu_id").GetInt32());
        Assert.Equal(0x113600002UL, fields.GetProperty("fault_address").GetUInt64());
        Assert.Equal(0x181UL, fields.GetProperty("error_code").GetUInt64());
    }
}

/// <summary>
/// The text of <c>events</c>, formatted in batches on several threads, is line for line what a plain one-record-at-a-time
/// formatter writes from the documented line format (docs/cli.md: <c>SEC.NSEC [CPU] comm-pid system:event: name=value</c>;
/// 64-bit and pointer fields in hex, other numbers in decimal, strings as they are, arrays as <c>[0x..,0x..]</c>),
/// whatever the number of threads.
/// </summary>
public class EventsTextParallelTests
{
    public static TheoryData<string> Inputs() =>
        Samples.Theory("tracecmd-dat/*.dat", "tracecmd-dat-public/*.dat", "perf/*.data", "text-local/tracefs-trace-*.txt", "text-public/*.txt");

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_sample_prints_as_the_reference_formatter_on_one_thread_and_on_three(string relative)
    {
        AssertAsReference(Samples.Path_(relative));
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_sample_prints_the_same_json_lines_on_one_thread_and_on_three(string relative)
    {
        string path = Samples.Path_(relative);
        string expected;
        try
        {
            expected = JsonReference(path);
        }
        catch (TraceFormatException)
        {
            return;
        }

        foreach (int threads in new[] { 1, 3 })
        {
            var output = new StringWriter();
            Commands.EventsCommand.Write(path, [], jsonl: true, output, threads);
            Assert.True(expected == output.ToString(), $"threads={threads}: the JSON lines differ from one record at a time");
        }
    }

    [Fact]
    public void A_trace_of_many_batches_prints_as_the_reference_formatter()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-events-par-{Environment.ProcessId}.dat");
        try
        {
            FastRmp.Tests.Common.SnpTraceFixture.Write(path, faults: 6000, compression: "zstd");
            int lines = AssertAsReference(path);
            Assert.True(lines > 20_000, $"{lines} lines: fewer than five batches");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int AssertAsReference(string path)
    {
        string expected;
        try
        {
            expected = Reference(path);
        }
        catch (TraceFormatException)
        {
            return 0; // refused inputs: the reader's tests cover them
        }

        foreach (int threads in new[] { 1, 3 })
        {
            var output = new StringWriter();
            Commands.EventsCommand.Write(path, [], jsonl: false, output, threads);
            string actual = output.ToString();
            if (actual != expected)
            {
                var a = actual.Split('\n');
                var e = expected.Split('\n');
                int i = 0;
                while (i < Math.Min(a.Length, e.Length) && a[i] == e[i])
                {
                    i++;
                }

                Assert.Fail($"threads={threads}: line {i + 1} differs ({a.Length} lines, expected {e.Length}):\n  expected: {(i < e.Length ? e[i] : "<end>")}\n  actual:   {(i < a.Length ? a[i] : "<end>")}");
            }
        }

        return expected.Count(c => c == '\n');
    }

    /// <summary>The jsonl form one record at a time, straight from the reader (comms as the reader resolves them).</summary>
    private static string JsonReference(string path)
    {
        using var reader = TraceFile.OpenReader(path);
        using var stream = new MemoryStream();
        var decoder = new FastRmp.Interop.Tracing.Kvm.KvmEventDecoder();
        while (reader.MoveNext(out var r))
        {
            using (var json = new Utf8JsonWriter(stream, Commands.EventsCommand.JsonOptions))
            {
                Commands.EventsCommand.WriteJson(json, r, decoder);
            }

            stream.WriteByte((byte)'\n');
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string Reference(string path)
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        using var reader = TraceFile.OpenReader(path);
        while (reader.MoveNext(out var r))
        {
            sb.Append(ci, $"{r.Timestamp / 1_000_000_000}.{r.Timestamp % 1_000_000_000:D9} [{r.Cpu:D3}] {r.Comm}-{r.Pid} {r.Format.FullName}:");
            if (r.IsText)
            {
                sb.Append(' ').Append(r.Text);
            }
            else
            {
                foreach (var f in r.Format.EventFields)
                {
                    sb.Append(' ').Append(f.Name).Append('=');
                    if (f.IsNumber)
                    {
                        sb.Append(f.IsLongOrPointer || f.Size == 8 ? "0x" + r.GetUInt64(f).ToString("x", ci) : f.IsSigned ? r.GetInt64(f).ToString(ci) : r.GetUInt64(f).ToString(ci));
                    }
                    else if (f.IsCharString)
                    {
                        sb.Append(r.GetString(f).TrimEnd('\n'));
                    }
                    else
                    {
                        sb.Append('[');
                        for (int i = 0; i < r.ElementCount(f); i++)
                        {
                            sb.Append(i == 0 ? "0x" : ",0x").Append(r.GetElement(f, i).ToString("x", ci));
                        }

                        sb.Append(']');
                    }
                }
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }
}
