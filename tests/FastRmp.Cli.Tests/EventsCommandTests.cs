using System.Text.Json;
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
