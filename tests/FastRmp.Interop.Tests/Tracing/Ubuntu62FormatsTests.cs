using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

public class Ubuntu62FormatsTests
{
    private static List<EventFormat> Formats()
    {
        string text = File.ReadAllText(Samples.Path_("tracefs-formats-ubuntu-6.2/kvm_formats.txt"));
        var list = new List<EventFormat>();
        int at = text.IndexOf("name: ", StringComparison.Ordinal);
        while (at >= 0)
        {
            int next = text.IndexOf("\nname: ", at + 1, StringComparison.Ordinal);
            list.Add(FormatFileParser.Parse("kvm", next < 0 ? text[at..] : text[at..(next + 1)]));
            at = next < 0 ? -1 : next + 1;
        }

        return list;
    }

    [Fact]
    public void All_91_kvm_formats_of_a_real_Ubuntu_6_2_host_parse()
    {
        var formats = Formats();
        Assert.Equal(91, formats.Count);
        Assert.Equal(1674, formats.Single(f => f.Name == "kvm_page_fault").Id);
        Assert.Null(formats.Single(f => f.Name == "kvm_exit").Find("requests"));
    }

    [Fact]
    public void Typed_events_bind_by_field_name_on_6_2_ids_and_offsets()
    {
        var formats = Formats();
        var d = new KvmEventDecoder();
        var exit = formats.Single(f => f.Name == "kvm_exit");
        var p = new RecordBuilder(exit).Set("exit_reason", 0x400).Set("isa", 2).Set("info1", 0x500000004).Set("info2", 0x100200000).Set("vcpu_id", 7).Bytes.ToArray();
        Assert.True(d.TryRead(new TraceRecord(1, 0, 1, exit, p, false, null), out KvmExit e));
        Assert.Equal((0x400u, 2u, 0x500000004UL, 0x100200000UL, 7u), (e.ExitReason, e.Isa, e.Info1, e.Info2, e.VcpuId));

        var pf = formats.Single(f => f.Name == "kvm_page_fault");
        p = new RecordBuilder(pf).Set("vcpu_id", 3).Set("fault_address", 0xfee00000).Set("error_code", 0x6).Bytes.ToArray();
        Assert.True(d.TryRead(new TraceRecord(1, 0, 1, pf, p, false, null), out KvmPageFault fault));
        Assert.Equal(new KvmPageFault(3, 0, 0xfee00000, 6, true), fault);

        Span<ulong> values = stackalloc ulong[8];
        foreach (var name in new[] { "kvm_entry", "kvm_userspace_exit", "kvm_hypercall", "kvm_unmap_hva_range", "kvm_vmgexit_enter", "kvm_vmgexit_exit", "kvm_vmgexit_msr_protocol_enter" })
        {
            var f = formats.SingleOrDefault(x => x.Name == name);
            if (f is null)
            {
                continue;
            }

            var r = new TraceRecord(1, 0, 1, f, new RecordBuilder(f).Bytes.ToArray(), false, null);
            Assert.NotEqual(KvmEventKind.None, d.Classify(r));
            Assert.True(d.TryGetValues(r, out _, values, out _), name);
        }
    }
}
