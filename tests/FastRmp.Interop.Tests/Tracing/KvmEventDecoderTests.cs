using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tests.Tracing;

public class KvmEventDecoderTests
{
    private static EventFormat Format618(string name) => FormatFileParserTests.KvmFormats618().Single(f => f.Name == name);

    private static TraceRecord Record(EventFormat f, byte[] payload) => new(5, 1, 42, f, payload, false, null);

    [Fact]
    public void Kvm_page_fault_is_read_by_the_files_field_offsets()
    {
        var f = Format618("kvm_page_fault");
        var payload = new PayloadBuilder(f).Set("vcpu_id", 3).Set("guest_rip", 0xffff1234).Set("fault_address", 0x100200000).Set("error_code", 0x500000004).Build();
        Assert.True(new KvmEventDecoder().TryRead(Record(f, payload), out KvmPageFault pf));
        Assert.Equal(new KvmPageFault(3, 0xffff1234, 0x100200000, 0x500000004, true), pf);
    }

    [Fact]
    public void Old_kvm_page_fault_without_vcpu_id_decodes_with_HasVcpuId_false()
    {
        var f = FormatFileParser.Parse("kvm", "name: kvm_page_fault\nID: 900\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long fault_address;\toffset:8;\tsize:8;\tsigned:0;\n"
            + "\tfield:unsigned int error_code;\toffset:16;\tsize:4;\tsigned:0;\n\nprint fmt: \"address %lx error_code %x\", REC->fault_address, REC->error_code\n");
        var payload = new PayloadBuilder(f).Set("fault_address", 0xfd000).Set("error_code", 0x14).Build();
        Assert.True(new KvmEventDecoder().TryRead(Record(f, payload), out KvmPageFault pf));
        Assert.Equal(new KvmPageFault(0, 0, 0xfd000, 0x14, false), pf);
    }

    [Fact]
    public void Spte_events_decode_level_and_flags()
    {
        var d = new KvmEventDecoder();
        var req = Format618("kvm_mmu_spte_requested");
        Assert.True(d.TryRead(Record(req, new PayloadBuilder(req).Set("gfn", 0x100000).Set("pfn", 0x12345678).Set("level", 2).Build()), out KvmMmuSpteRequested r));
        Assert.Equal(new KvmMmuSpteRequested(0x100000, 0x12345678, 2), r);
        var set = Format618("kvm_mmu_set_spte");
        var p = new PayloadBuilder(set).Set("gfn", 7).Set("spte", 0x867).Set("sptep", 0x1f2e3d008).Set("level", 1).Set("r", 1).Set("x", 0).Set("u", 0xff).Build();
        Assert.True(d.TryRead(Record(set, p), out KvmMmuSetSpte s));
        Assert.Equal(new KvmMmuSetSpte(7, 0x867, 0x1f2e3d008, 1, true, false, -1), s);
        Assert.False(d.TryRead(Record(set, p), out KvmPageFault _));
        Assert.Equal(KvmEventKind.SetSpte, d.Classify(Record(set, p)));
    }

    [Fact]
    public void Fields_past_the_end_of_a_short_record_are_absent_and_the_rest_read_as_in_a_whole_one()
    {
        var d = new KvmEventDecoder();
        var f = Format618("kvm_exit");
        var whole = new PayloadBuilder(f).Set("exit_reason", 0x400).Set("guest_rip", 0xffff1234).Set("isa", 2).Set("info1", 0x500000004)
            .Set("info2", 0x100200000).Set("intr_info", 7).Set("error_code", 9).Set("vcpu_id", 3).Build();
        Span<ulong> values = stackalloc ulong[8];
        Assert.True(d.TryGetValues(Record(f, whole), out var kind, values, out uint present));
        Assert.Equal((KvmEventKind.Exit, 0xffu), (kind, present));
        Assert.Equal([0x400UL, 0xffff1234, 2, 0x500000004, 0x100200000, 7, 9, 3], values.ToArray());

        // Cut after info1 (offset 32, 8 bytes): info2 and everything after it are missing, not zero-read from elsewhere.
        Assert.True(d.TryGetValues(Record(f, whole[..40]), out kind, values, out present));
        Assert.Equal((KvmEventKind.Exit, 0b1111u), (kind, present));
        Assert.Equal([0x400UL, 0xffff1234, 2, 0x500000004, 0, 0, 0, 0], values.ToArray());
        Assert.True(d.TryRead(Record(f, whole[..40]), out KvmExit exit));
        Assert.Equal(new KvmExit(0, 0x400, 0xffff1234, 2, 0x500000004, 0, 0, 0, null, false), exit);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Signed_fields_are_sign_extended_in_either_byte_order(bool bigEndian)
    {
        var f = Format618("kvm_userspace_exit");
        var payload = new byte[16];
        if (bigEndian)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(8), 39);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(12), -14);
        }
        else
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), 39);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(12), -14);
        }

        var record = new TraceRecord(5, 1, 42, f, payload, bigEndian, null);
        Assert.True(new KvmEventDecoder().TryRead(record, out KvmUserspaceExit exit));
        Assert.Equal(new KvmUserspaceExit(39, -14), exit);
        Assert.Equal(unchecked((ulong)-14L), record.GetUInt64(f.Require("errno")));
        Assert.Equal(39UL, record.GetUInt64(f.Require("reason")));
    }

    [Fact]
    public void A_kvm_format_that_lacks_a_needed_field_is_reported_by_name()
    {
        // Its records are not typed events (they no longer end the read: issue 18, item 8, found again by fuzzing);
        // the decoder names the format and the field.
        var f = FormatFileParser.Parse("kvmmmu", "name: kvm_mmu_spte_requested\nID: 901\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            + "\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u8 level;\toffset:16;\tsize:1;\tsigned:0;\n");
        var decoder = new KvmEventDecoder();
        Assert.False(decoder.TryRead(Record(f, new byte[24]), out KvmMmuSpteRequested _));
        var error = Assert.Single(decoder.FormatErrors);
        Assert.Contains("'pfn'", error, StringComparison.Ordinal);
        Assert.Contains("kvmmmu:kvm_mmu_spte_requested", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Qemu_memslot_and_conversion_events_come_out_of_real_print_records()
    {
        using var file = TraceDatFile.Open(Samples.Path_("tracecmd-dat/vm-trace_marker-print-events-v7.dat"));
        using var reader = file.CreateReader();
        var d = new KvmEventDecoder();
        var slots = new List<QemuSetUserMemory>();
        var conversions = new List<QemuConvertMemory>();
        while (reader.MoveNext(out var r))
        {
            if (d.TryRead(r, out QemuSetUserMemory m))
            {
                slots.Add(m);
            }

            if (d.TryRead(r, out QemuConvertMemory c))
            {
                conversions.Add(c);
            }
        }

        Assert.Equal([new QemuSetUserMemory(0, 1, 4, 0x100000000, 0x80000000, 0x7f0000000000, 27, 0, 0)], slots);
        Assert.Equal([new QemuConvertMemory(0x84d000, 0x22000, false)], conversions);
    }

    [Fact]
    public void Hypercall_12_is_map_gpa_range()
    {
        var f = Format618("kvm_hypercall");
        var p = new PayloadBuilder(f).Set("nr", 12).Set("a0", 0x100000000).Set("a1", 0x200).Set("a2", 0x10).Build();
        Assert.True(new KvmEventDecoder().TryRead(Record(f, p), out KvmHypercall h));
        Assert.True(h.IsMapGpaRange);
        Assert.Equal(0x200UL, h.A1);
    }
}
