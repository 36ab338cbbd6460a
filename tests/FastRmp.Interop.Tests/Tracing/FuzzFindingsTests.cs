using System.Text;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// Regression tests for what the fuzzing campaign found in the readers (docs/fuzzing.md, "Findings"), each on an
/// input the test builds.
/// </summary>
public sealed class FuzzFindingsTests
{
    private const string Common = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    [Fact]
    public void A_kvm_format_without_a_field_the_decoder_needs_costs_only_its_records()
    {
        // kvm_userspace_exit whose 'reason' field is gone (the fuzzer renamed it): the decoder threw on the first such
        // record and the whole trace.dat was refused, with a message naming no file.
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "none", 1));
        var broken = new RecordBuilder(w.AddFormat("kvm", "name: kvm_userspace_exit\nID: 42\nformat:\n" + Common
            + "\tfield:__u32 rEason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;\n\n"
            + "print fmt: \"reason %d\", REC->rEason\n"));
        var fault = new RecordBuilder(w.AddFormat("kvmmmu", "name: kvm_mmu_spte_requested\nID: 43\nformat:\n" + Common
            + "\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u64 pfn;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u8 level;\toffset:24;\tsize:1;\tsigned:0;\n\n"
            + "print fmt: \"gfn %llx pfn %llx level %d\", REC->gfn, REC->pfn, REC->level\n"));
        w.AddRecord(0, 1000, broken.Reset().Set("common_pid", 7001).Set("rEason", 39).Bytes);
        w.AddRecord(0, 1001, fault.Reset().Set("common_pid", 7001).Set("gfn", 0x200).Set("pfn", 0x1234).Set("level", 1).Bytes);
        var bytes = new MemoryStream();
        w.WriteTo(bytes);

        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes.ToArray(), "t.dat"), ownsInput: true);
        using var reader = file.CreateReader();
        var decoder = new KvmEventDecoder();
        var kinds = new List<KvmEventKind>();
        ulong pfn = 0;
        while (reader.MoveNext(out var r))
        {
            var kind = decoder.Classify(r);
            kinds.Add(kind);
            if (kind == KvmEventKind.SpteRequested && decoder.TryRead(r, out KvmMmuSpteRequested q))
            {
                pfn = q.Pfn;
            }
        }

        Assert.Equal([KvmEventKind.None, KvmEventKind.SpteRequested], kinds);
        Assert.Equal(0x1234UL, pfn);
        var error = Assert.Single(decoder.FormatErrors);
        Assert.Contains("kvm:kvm_userspace_exit (ID 42) has no field 'reason'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_header_page_is_refused_naming_the_file()
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "none", 1));
        var bytes = new MemoryStream();
        w.WriteTo(bytes);
        byte[] file = bytes.ToArray();
        int at = IndexOf(file, "offset:"u8);
        file[at + 7] = (byte)'x'; // the header_page's first offset is no number
        var ex = Assert.Throws<TraceFormatException>(() => TraceDatFile.Open(TraceInput.FromMemory(file, "broken.dat")).Dispose());
        Assert.StartsWith("broken.dat: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("header_page", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refusal_quoting_the_input_stays_one_printable_line()
    {
        // The compression name of a v7 file, quoted in the refusal, held line breaks and control bytes.
        var ex = new TraceFormatException("t.dat: unsupported compression 'no\n\ne\r\u0001' (FastRmp reads none, zstd and zlib)");
        Assert.Equal(@"t.dat: unsupported compression 'no\x0a\x0ae\x0d\x01' (FastRmp reads none, zstd and zlib)", ex.Message);
        var long_ = new TraceFormatException("t.dat: " + new string('a', 5000));
        Assert.Equal(TraceFormatException.MaxMessageLength + 1, long_.Message.Length);
        Assert.EndsWith("…", long_.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_piped_trace_with_a_hostile_compression_name_is_refused_in_one_line()
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "zstd", 1));
        var bytes = new MemoryStream();
        w.WriteTo(bytes);
        byte[] file = bytes.ToArray();
        int at = IndexOf(file, "zstd\0"u8);
        "z\n\r\u0001"u8.CopyTo(file.AsSpan(at));
        var ex = Assert.Throws<TraceFormatException>(() =>
        {
            using var reader = TraceFile.OpenReader(new MemoryStream(file), "pipe");
            while (reader.MoveNext(out _))
            {
            }
        });
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain('\r', ex.Message);
        Assert.Contains("pipe", ex.Message, StringComparison.Ordinal);
    }

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle)
    {
        int at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, $"'{Encoding.ASCII.GetString(needle)}' not in the file");
        return at;
    }
}
