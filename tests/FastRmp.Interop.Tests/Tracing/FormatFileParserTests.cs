using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

public class FormatFileParserTests
{
    private const string RelLocFormat = "name: demo\nID: 7\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
        + "\tfield:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;\n"
        + "\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n"
        + "\tfield:s8 u;\toffset:28;\tsize:1;\tsigned:1;\n"
        + "print fmt: \"%s\", __get_rel_str(msg)\n";

    [Fact]
    public void Kvm_page_fault_of_6_18_has_the_documented_offsets()
    {
        var formats = KvmFormats618();
        var pf = formats.Single(f => f.Name == "kvm_page_fault");
        Assert.Equal(100, pf.Id);
        Assert.Equal(8, pf.Require("vcpu_id").Offset);
        Assert.Equal(16, pf.Require("guest_rip").Offset);
        Assert.Equal((24, 8), (pf.Require("fault_address").Offset, pf.Require("fault_address").Size));
        Assert.Equal(32, pf.Require("error_code").Offset);
        Assert.StartsWith("\"vcpu %u rip 0x%lx", pf.PrintFormat, StringComparison.Ordinal);
        Assert.Equal(["vcpu_id", "guest_rip", "fault_address", "error_code"], pf.EventFields.Select(f => f.Name));
    }

    [Fact]
    public void Every_6_18_kvm_and_kvmmmu_format_parses_with_fields_inside_the_record()
    {
        var formats = KvmFormats618();
        Assert.True(formats.Count >= 100, $"only {formats.Count} formats parsed");
        Assert.All(formats, f => Assert.All(f.Fields, x => Assert.InRange(x.Offset, 0, 4096)));
    }

    [Fact]
    public void Rel_loc_and_char_arrays_are_strings_and_the_name_follows_the_brackets()
    {
        var f = FormatFileParser.Parse("demo", RelLocFormat);
        var msg = f.Require("msg");
        Assert.Equal(FieldKind.RelLoc, msg.Kind);
        Assert.True(msg.IsCharString);
        var comm = f.Require("comm");
        Assert.Equal(FieldKind.Array, comm.Kind);
        Assert.True(comm.IsCharString);
        Assert.True(f.Require("u").IsSigned);
    }

    [Fact]
    public void Rel_loc_offset_counts_from_the_end_of_the_field()
    {
        var f = FormatFileParser.Parse("demo", RelLocFormat);
        var payload = new byte[40];
        // msg at 32, length 4: rel offset = 32 - (8 + 4) = 20
        BitConverter.TryWriteBytes(payload.AsSpan(8), (20u) | (4u << 16));
        "abc\0"u8.CopyTo(payload.AsSpan(32));
        "qemu\0"u8.CopyTo(payload.AsSpan(12));
        payload[28] = 0xFF;
        var r = new TraceRecord(1, 0, 0, f, payload, false, null);
        Assert.Equal("abc", r.GetString(f.Require("msg")));
        Assert.Equal("qemu", r.GetString(f.Require("comm")));
        Assert.Equal(-1, r.GetInt64(f.Require("u")));
    }

    [Fact]
    public void Asking_for_a_field_the_format_does_not_have_names_event_and_field()
    {
        var f = FormatFileParser.Parse("demo", RelLocFormat);
        var ex = Assert.Throws<TraceFormatException>(() => f.Require("fault_address"));
        Assert.Contains("demo:demo", ex.Message, StringComparison.Ordinal);
        Assert.Contains("fault_address", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_line_without_offset_reports_its_line_number()
    {
        string text = "name: x\nID: 1\nformat:\n\tfield:int a;\tsize:4;\tsigned:1;\n";
        var ex = Assert.Throws<TraceFormatException>(() => FormatFileParser.Parse("s", text));
        Assert.Contains("line 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset:", ex.Message, StringComparison.Ordinal);
    }

    internal static List<EventFormat> KvmFormats618() => SplitFormats(File.ReadAllText(Samples.Path_("tracefs-formats-linux-6.18/kvm_kvmmmu_formats.txt")));

    /// <summary>Splits the sample's "### system/event" concatenation into formats.</summary>
    internal static List<EventFormat> SplitFormats(string text)
    {
        var list = new List<EventFormat>();
        foreach (var block in text.Split("### ", StringSplitOptions.RemoveEmptyEntries))
        {
            int nl = block.IndexOf('\n', StringComparison.Ordinal);
            if (nl < 0 || !block.Contains("name:", StringComparison.Ordinal))
            {
                continue;
            }

            string system = block[..nl].Split('/')[0].Trim();
            list.Add(FormatFileParser.Parse(system, block[(nl + 1)..]));
        }

        return list;
    }
}
