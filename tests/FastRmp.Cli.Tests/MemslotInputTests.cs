using System.Text.Json;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// <c>--memslots</c> as QEMU writes memslots (issue 15): <c>"guest_memfd": -1</c> for slots without guest_memfd, and
/// QEMU's log backend lines (<c>-trace kvm_set_user_memory</c> on stderr) applied in order.
/// </summary>
public sealed class MemslotInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-memslots-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static string Hex(ulong v) => "0x" + v.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_slot_without_guest_memfd_may_say_minus_one_as_qemu_does()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 300);
        string json = PathOf("slots.json");
        File.WriteAllText(json, $$"""
            [{"slot": 0, "flags": 4, "guest_phys_addr": 0, "memory_size": "{{Hex(SnpTraceFixture.LowSlotBytes)}}", "guest_memfd": 3},
             {"slot": 1, "flags": 4, "guest_phys_addr": "{{Hex(SnpTraceFixture.HighBase)}}", "memory_size": "{{Hex(SnpTraceFixture.HighSlotBytes)}}", "guest_memfd": 3, "guest_memfd_offset": "{{Hex(SnpTraceFixture.LowSlotBytes)}}"},
             {"slot": 3, "flags": 2, "guest_phys_addr": "0xfeda0000", "memory_size": "0x20000", "userspace_addr": "0x7f5840de0000", "guest_memfd": -1},
             {"slot": 4, "flags": 0, "guest_phys_addr": "0xfee00000", "memory_size": "0x1000", "guest_memfd": "-1"}]
            """);
        var run = Replay(trace, json);
        Assert.Equal("file", run.GetProperty("memslot_source").GetString());
        Assert.Equal(1.0, run.GetProperty("fidelity").GetProperty("agreement_rate").GetDouble());
    }

    [Theory]
    [InlineData("""[{"slot": 0, "flags": 4, "guest_phys_addr": 0, "memory_size": 4096, "guest_memfd": -1}]""", "KVM_MEM_GUEST_MEMFD")]
    [InlineData("""[{"slot": 0, "guest_phys_addr": 0, "memory_size": 4096, "guest_memfd": -2}]""", "'guest_memfd' is not a non-negative number")]
    [InlineData("""[{"slot": 0, "guest_phys_addr": 0, "memory_size": 4096, "guest_memfd": 4294967295}]""", "or -1 for a slot without guest_memfd")]
    [InlineData("""[{"slot": 0, "flags": 4294967300, "guest_phys_addr": 0, "memory_size": 4096}]""", "'flags' is 0x100000004; kvm_userspace_memory_region2.flags is a __u32")]
    [InlineData("qemu-system-x86_64: started\nkvm_set_user_memory AddrSpace#0 flags=0x4 gpa=0x0 ret=0\n", "slots.txt:2: a kvm_set_user_memory line without Slot#")]
    [InlineData("kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x1000 ua=0x0 guest_memfd=-1 guest_memfd_offset=0x0 ret=0\n", "slots.txt:1: flags has 0x4")]
    [InlineData("kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0x0 size=0x1000 ua=0x0 guest_memfd=-1 guest_memfd_offset=0x0 ret=-22\n", "leaves no memslot")]
    [InlineData("qemu-system-x86_64: -accel kvm: nothing about memslots\n", "not JSON")]
    public void Bad_memslot_files_are_one_line_errors(string content, string message)
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 50);
        string bad = PathOf("slots.txt");
        File.WriteAllText(bad, content);
        var (code, output, error) = CliRunner.Run("replay", trace, "--memslots", bad);
        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_qemu_log_gives_the_slots_in_place_at_its_end()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 600, sharedEvery: 12);
        string log = PathOf("qemu.log");
        const string Pid = "7000@1733300000.";
        File.WriteAllText(log, string.Join('\n',
            "qemu-system-x86_64: warning: host doesn't support requested feature",
            // one big slot first, deleted (size 0) and split as QEMU does around the PCI hole
            $"{Pid}000001:kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x100000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0",
            $"{Pid}000002:kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0x0 size=0x0 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0",
            $"{Pid}000003:kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size={Hex(SnpTraceFixture.LowSlotBytes)} ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0",
            $"{Pid}000004:kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x4 gpa={Hex(SnpTraceFixture.HighBase)} size={Hex(SnpTraceFixture.HighSlotBytes)} ua=0x7f0080000000 guest_memfd=30 guest_memfd_offset={Hex(SnpTraceFixture.LowSlotBytes)} ret=0",
            // refused by KVM (overlaps slot 0): changes nothing
            $"{Pid}000005:kvm_set_user_memory AddrSpace#0 Slot#2 flags=0x0 gpa=0x1000 size=0x1000 ua=0x7f5800000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=-17",
            // a ROM slot without guest_memfd (Xiaoyao Li's 2025 QEMU log line)
            "kvm_set_user_memory AddrSpace#0 Slot#4 flags=0x2 gpa=0xfeda0000 size=0x20000 ua=0x7f5840de0000 guest_memfd=-1 guest_memfd_offset=0x3e0000 ret=0",
            ""));
        var fromLog = Replay(trace, log);
        var fromTrace = Replay(trace, null);
        Assert.Equal("file", fromLog.GetProperty("memslot_source").GetString());
        Assert.Equal("trace", fromTrace.GetProperty("memslot_source").GetString());
        Assert.Equal(fromTrace.GetProperty("fidelity").ToString(), fromLog.GetProperty("fidelity").ToString());
        foreach (var counter in new[] { "faults_private", "faults_shared", "memory_fault_exits", "rmpupdate_4k", "pfns_from_trace" })
        {
            Assert.Equal(fromTrace.GetProperty("counters").GetProperty(counter).GetInt64(), fromLog.GetProperty("counters").GetProperty(counter).GetInt64());
        }
    }

    [Fact]
    public void The_2023_snp_qemu_log_sample_applies_deletes_and_splits()
    {
        string path = Path.Combine(Samples.Dir, "text-public", "qemu-trace-kvm_set_user_memory-snp-gmem-mroth-2023.txt");
        if (!File.Exists(path))
        {
            Assert.Skip("the sample is not in ../shared/samples");
        }

        // By hand from the sample: slot 0 [0, 2 GiB) deleted and re-added as [0, 0xc0000); legacy slot 3 (flags 0x6,
        // restricted_fd 33); slot 5 [0x100000, 0x80000000) at restricted_offset 0x100000; slot 4 first [0xe0000, +0x20000)
        // with restricted_fd 31, then set again by the file's last line (the 2025 TDX example: flags 0x2, guest_memfd=-1,
        // offset 0x3e0000). The '#' lines quote a second log and are comments.
        var slots = MemslotFile.Parse(File.ReadAllText(path), "sample");
        Assert.Equal(
            ["0 0x0+0xc0000 f4 fd19@0x0", "3 0xc0000+0x20000 f6 fd33@0x0", "4 0xe0000+0x20000 f2 fd-1@0x3e0000", "5 0x100000+0x7ff00000 f4 fd19@0x100000"],
            slots.Select(s => $"{s.slot} {Hex(s.guest_phys_addr)}+{Hex(s.memory_size)} f{s.flags} fd{(int)s.guest_memfd}@{Hex(s.guest_memfd_offset)}"));
    }

    private JsonElement Replay(string trace, string? memslots)
    {
        string json = PathOf("r.json");
        string[] args = ["replay", trace, "--policy", "first-use", "--host-size", "64G", "--json", json];
        var (exit, _, err) = CliRunner.Run(memslots is null ? args : [.. args, "--memslots", memslots]);
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return doc.RootElement.GetProperty("runs")[0].Clone();
    }
}
