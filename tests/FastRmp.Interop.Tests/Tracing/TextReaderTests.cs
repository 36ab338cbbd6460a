using System.Text.RegularExpressions;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tests.Tracing;

public partial class TextReaderTests
{
    // The independent oracle: the grammars of traces.md 1.4 (tested there on 30 samples).
    [GeneratedRegex(@"^\s*(?<comm>.*)-(?<pid>\d+)\s+(?:\(\s*(?<tgid>\d+|-+)\)\s+)?\[(?<cpu>\d+)\]\s+(?:(?<flags>\S{4,5})\s+)?(?<ts>\d+(?:\.\d+)?):\s+(?:\((?<diff>[+-]?\d+)\)\s+)?(?<event>[^\s:]+):\s*(?<payload>.*)$")]
    private static partial Regex FtraceGrammar();

    [GeneratedRegex(@"^\s*(?<comm>.*\S)\s+(?<pid>\d+)(?:/(?<tid>\d+))?\s+\[(?<cpu>\d+)\]\s+(?<ts>\d+\.\d+):\s+(?<sys>[^\s:]+):(?<event>[^\s:]+):\s*(?<payload>.*)$")]
    private static partial Regex PerfGrammar();

    public static TheoryData<string> TextFiles()
    {
        var data = new TheoryData<string>();
        string? root = Samples.TryDir;
        foreach (var sub in new[] { "text-local", "text-public", "perf" })
        {
            string dir = Path.Combine(root ?? "/nonexistent", sub);
            if (Directory.Exists(dir))
            {
                foreach (var f in Directory.EnumerateFiles(dir, "*.txt").Order(StringComparer.Ordinal))
                {
                    data.Add(sub + "/" + Path.GetFileName(f));
                }
            }
        }

        if (data.Count == 0)
        {
            data.Add("(no samples)");
        }

        return data;
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(TextFiles))]
    public void Every_event_line_parses_and_counts_per_event_equal_a_plain_line_count(string relative)
    {
        string path = Samples.Path_(relative);
        if (!File.Exists(path))
        {
            Assert.Skip($"{relative} not found");
        }

        var expected = new Dictionary<string, int>(StringComparer.Ordinal);
        int otherLines = 0;
        foreach (var line in File.ReadLines(path))
        {
            var m = PerfGrammar().Match(line);
            if (!m.Success)
            {
                m = FtraceGrammar().Match(line);
            }

            if (m.Success)
            {
                expected[m.Groups["event"].Value] = expected.GetValueOrDefault(m.Groups["event"].Value) + 1;
            }
            else if (!IsHeader(line.Trim()))
            {
                otherLines++;
            }
        }

        if (expected.Count == 0)
        {
            // Not event text (trace-cmd dump output, QEMU's log backend, raw/hex dumps, latency format): a clear refusal.
            var ex = Assert.Throws<TraceFormatException>(() => TraceFile.OpenReader(path).Dispose());
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            return;
        }

        var actual = new Dictionary<string, int>(StringComparer.Ordinal);
        using var reader = TraceFile.OpenReader(path);
        var ct = TestContext.Current.CancellationToken;
        while (reader.MoveNext(out var r))
        {
            ct.ThrowIfCancellationRequested();
            actual[r.Format.Name] = actual.GetValueOrDefault(r.Format.Name) + 1;
        }

        Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), actual.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        Assert.Equal(otherLines, reader.Stats.DamageCount);
    }

    private static bool IsHeader(string t) => t.Length == 0 || t[0] == '#' || t.StartsWith("cpus=", StringComparison.Ordinal)
        || t.StartsWith("version =", StringComparison.Ordinal) || (t.StartsWith("CPU ", StringComparison.Ordinal) && t.EndsWith("is empty", StringComparison.Ordinal))
        || (t.StartsWith("CPU:", StringComparison.Ordinal) && t.Contains("[LOST ", StringComparison.Ordinal));

    [Fact]
    public void Comm_with_spaces_tgid_and_flags_are_split_correctly()
    {
        string text = "# tracer: nop\n       CPU 5/KVM-4145    [002] .....    86.581928: kvm_page_fault: vcpu 5 rip 0x7f08a4602116 address 0x0000000113600002 error_code 0x181\n"
            + "      captext.sh-13775   (  13775) [001] .....  1214.024588: mm_page_free: page=00000000f9b9b862 pfn=0x104790 order=1\n"
            + "  <...>-1946910 [226] ...1. 324797.313982: kvm_page_fault: vcpu 219 rip 0x0 address 0x00000018cbc00000 error_code 0x500000004\n";
        using var reader = TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text));
        var d = new KvmEventDecoder();
        Assert.True(reader.MoveNext(out var r));
        Assert.Equal(("CPU 5/KVM", 4145, 0, 2, 86_581_928_000UL, "kvm:kvm_page_fault"), (r.Comm, r.Pid, r.Tgid, r.Cpu, r.Timestamp, r.Format.FullName));
        Assert.True(d.TryRead(r, out KvmPageFault pf));
        Assert.Equal(new KvmPageFault(5, 0x7f08a4602116, 0x113600002, 0x181, true), pf);
        Assert.True(reader.MoveNext(out r));
        Assert.Equal(("captext.sh", 13775, 13775, 1), (r.Comm, r.Pid, r.Tgid, r.Cpu));
        Assert.True(reader.MoveNext(out r));
        Assert.Equal(("<...>", 1946910, 0, 226), (r.Comm, r.Pid, r.Tgid, r.Cpu));
        Assert.True(d.TryRead(r, out pf));
        Assert.Equal(0x500000004UL, pf.ErrorCode);
        Assert.False(reader.MoveNext(out _));
    }

    [Theory]
    [InlineData("text-local/tracefs-trace-record-tgid.txt", false, true, true)]
    [InlineData("perf/perf-script-F-ns.txt", true, true, true)] // swapper is 0/0
    [InlineData("perf/perf-script-default-per-task.txt", true, false, true)]
    public void The_thread_group_is_the_record_tgid_column_or_perfs_pid_before_the_tid(string relative, bool perf, bool someKnown, bool someUnknown)
    {
        // Oracle: the grammars of traces.md 1.4; dashes (tgid unknown) and perf's lone tid read as 0.
        var expected = new List<(int Pid, int Tgid)>();
        foreach (var line in File.ReadLines(Samples.Path_(relative)))
        {
            var m = (perf ? PerfGrammar() : FtraceGrammar()).Match(line);
            if (m.Success)
            {
                var tgid = perf ? (m.Groups["tid"].Success ? m.Groups["pid"].Value : "") : m.Groups["tgid"].Value;
                int pid = int.Parse(perf && m.Groups["tid"].Success ? m.Groups["tid"].Value : m.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture);
                expected.Add((pid, int.TryParse(tgid, System.Globalization.CultureInfo.InvariantCulture, out int t) ? t : 0));
            }
        }

        var actual = new List<(int Pid, int Tgid)>();
        using (var reader = TraceFile.OpenReader(Samples.Path_(relative)))
        {
            while (reader.MoveNext(out var r))
            {
                actual.Add((r.Pid, r.Tgid));
            }
        }

        Assert.Equal(expected, actual);
        Assert.Equal((someKnown, someUnknown), (actual.Exists(a => a.Tgid != 0), actual.Exists(a => a.Tgid == 0)));
    }

    [Fact]
    public void Old_print_formats_decode_hex_without_prefix()
    {
        string text = "cpus=1\n VCPU-0-61883   [078] 72276.115679: kvm_page_fault: address 84d000 error_code 4\n"
            + " VCPU-0-61883   [078] 72276.127005: kvm_mmu_spte_requested: gfn 84d pfn 100b4a4d level 2\n"
            + " CPU 0/KVM-995362 [016] 55709.716256: kvm_mmu_set_spte:     gfn fffff spte 8be2171025 (r-xu) level 1 at 8a53b01ff8\n"
            + " <...>-35787 [038] 2825.959082: kvm_exit: vcpu 1 reason npf rip 0xfd11d info 100000014 fd000\n";
        using var reader = TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text));
        var d = new KvmEventDecoder();
        Assert.True(reader.MoveNext(out var r));
        Assert.True(d.TryRead(r, out KvmPageFault pf));
        Assert.Equal(new KvmPageFault(0, 0, 0x84d000, 4, false), pf);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out KvmMmuSpteRequested req));
        Assert.Equal(new KvmMmuSpteRequested(0x84d, 0x100b4a4d, 2), req);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out KvmMmuSetSpte spte));
        Assert.Equal(new KvmMmuSetSpte(0xfffff, 0x8be2171025, 0x8a53b01ff8, 1, true, true, 1), spte);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out KvmExit exit));
        Assert.Equal(("npf", 0x100000014UL, 0xfd000UL, 1u), (exit.ReasonText, exit.Info1, exit.Info2, exit.VcpuId));
    }

    [Fact]
    public void Qemu_marker_lines_in_tracefs_text_become_typed_events()
    {
        string text = "# tracer: nop\n qemu-system-x86-4242 [005] ..... 1.000001: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#3 flags=0x6 gpa=0xc0000 size=0x20000 ua=0x7f2575000000 ret=0 restricted_fd=33 restricted_offset=0x0\n"
            + " qemu-system-x86-4242 [005] ..... 1.000002: tracing_mark_write: kvm_convert_memory start 0x84d000 size 0x22000 to_private\n";
        using var reader = TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text));
        var d = new KvmEventDecoder();
        Assert.True(reader.MoveNext(out var r));
        Assert.True(d.TryRead(r, out QemuSetUserMemory slot));
        Assert.Equal(new QemuSetUserMemory(0, 3, 6, 0xc0000, 0x20000, 0x7f2575000000, 33, 0, 0), slot);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out QemuConvertMemory conv));
        Assert.True(conv.ToPrivate);
    }

    [Fact(Timeout = 30_000)]
    public void A_garbage_line_is_skipped_and_reported_with_its_line_number()
    {
        string text = "cpus=1\n a-1 [000] 1.000001: e1: x=1\nthis is not a line\n a-1 [000] 1.000002: e2: x=2\n";
        using var reader = TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text));
        int n = 0;
        var ct = TestContext.Current.CancellationToken;
        while (reader.MoveNext(out _))
        {
            ct.ThrowIfCancellationRequested();
            n++;
        }

        Assert.Equal(2, n);
        var damage = Assert.Single(reader.Stats.Damage);
        Assert.Equal(3, damage.Offset);
        Assert.Contains("skipped line 3", damage.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Keywordless_payloads_give_ranges_attributes_and_exit_reasons()
    {
        string text = "cpus=1\n vmm-1 [000] 1.000001: kvm_unmap_hva_range: mmu notifier unmap range: 0x0070f1aac05000 -- 0x0070f1aac06000\n"
            + " vmm-1 [000] 1.000002: kvm_vm_set_mem_attributes: 0x00000000100000 -- 0x00000000100200 [0x8]\n"
            + " vmm-1 [000] 1.000003: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n"
            + " vmm-1 [000] 1.000004: kvm_userspace_exit: reason error (14)\n";
        using var reader = TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text));
        var d = new KvmEventDecoder();
        Span<ulong> v = stackalloc ulong[8];
        Assert.True(reader.MoveNext(out var r));
        Assert.True(d.TryGetValues(r, out var kind, v, out uint present));
        Assert.Equal((KvmEventKind.UnmapHvaRange, 0b11u, 0x70f1aac05000UL, 0x70f1aac06000UL), (kind, present, v[0], v[1]));
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out KvmVmSetMemAttributes attrs));
        Assert.Equal(new KvmVmSetMemAttributes(0x100000, 0x100200, 8), attrs);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out KvmUserspaceExit exit));
        Assert.Equal(new KvmUserspaceExit(3, 0), exit);
        Assert.True(reader.MoveNext(out r));
        Assert.True(d.TryRead(r, out exit));
        Assert.Equal(new KvmUserspaceExit(0, -14), exit);
    }
}
