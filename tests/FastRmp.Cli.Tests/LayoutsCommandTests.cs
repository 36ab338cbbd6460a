using System.Text.Json;
using FastRmp.Interop.Layout;

namespace FastRmp.Cli.Tests;

public sealed class LayoutsCommandTests
{
    private static JsonElement Struct(JsonElement root, string name)
        => root.GetProperty("structs").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);

    private static JsonElement Field(JsonElement s, string name)
        => s.GetProperty("fields").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);

    [Fact]
    public void Json_for_6_12_3_has_the_6_10_page_fault_with_hva_and_u64_error_code()
    {
        var (exit, output, err) = CliRunner.Run("layouts", "--kernel", "6.12.3", "--json");
        Assert.Equal(0, exit);
        Assert.Empty(err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("6.12.3", doc.RootElement.GetProperty("kernel").GetString());
        var fault = Struct(doc.RootElement, "kvm_page_fault");
        Assert.Equal(80, fault.GetProperty("size").GetInt32());
        var addr = Field(fault, "addr");
        Assert.Equal(0, addr.GetProperty("offset").GetInt32());
        Assert.Equal(8, addr.GetProperty("size").GetInt32());
        Assert.Equal("gpa_t", addr.GetProperty("type").GetString());
        Assert.Equal("u64", Field(fault, "error_code").GetProperty("type").GetString());
        Assert.Equal(64, Field(fault, "hva").GetProperty("offset").GetInt32());
        Assert.Equal(26, Field(fault, "max_level").GetProperty("offset").GetInt32());
        Assert.Equal(280, Struct(doc.RootElement, "kvm_memory_slot").GetProperty("size").GetInt32());
        Assert.Equal(
            "arch/x86/kvm/mmu/mmu_internal.h, torvalds v6.10, line 190 (layout of 6.10-6.12)",
            fault.GetProperty("source").GetString());
    }

    [Fact]
    public void Every_source_in_the_json_cites_a_torvalds_tag()
    {
        var (exit, output, _) = CliRunner.Run("layouts", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var sources = doc.RootElement.GetProperty("structs").EnumerateArray()
            .Select(s => s.GetProperty("source").GetString()!).ToArray();
        Assert.NotEmpty(sources);
        Assert.All(sources, s => Assert.Matches(@", torvalds v[0-9]+\.[0-9]+, line [0-9]+", s));
    }

    [Fact]
    public void Json_for_6_7_has_the_72_byte_page_fault_and_the_264_byte_memslot()
    {
        var (exit, output, _) = CliRunner.Run("layouts", "--kernel", "6.7", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var fault = Struct(doc.RootElement, "kvm_page_fault");
        Assert.Equal(72, fault.GetProperty("size").GetInt32());
        Assert.DoesNotContain(fault.GetProperty("fields").EnumerateArray(), f => f.GetProperty("name").GetString() == "is_private");
        Assert.Equal(264, Struct(doc.RootElement, "kvm_memory_slot").GetProperty("size").GetInt32());
    }

    [Fact]
    public void Json_lists_bitfields_of_the_raw_rmp_entry()
    {
        var (_, output, _) = CliRunner.Run("layouts", "--json");
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("all", doc.RootElement.GetProperty("kernel").GetString());
        var gpa = Struct(doc.RootElement, "rmpentry_raw").GetProperty("bitfields").EnumerateArray()
            .Single(b => b.GetProperty("name").GetString() == "gpa");
        Assert.Equal(12, gpa.GetProperty("bit_offset").GetInt32());
        Assert.Equal(39, gpa.GetProperty("bit_width").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("structs").EnumerateArray().Count(s => s.GetProperty("name").GetString() == "kvm_page_fault"));
    }

    [Fact]
    public void The_memslot_gmem_block_follows_the_gmem_option()
    {
        var (exit, output, _) = CliRunner.Run("layouts", "--kernel", "6.12", "--gmem", "absent", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(264, Struct(doc.RootElement, "kvm_memory_slot").GetProperty("size").GetInt32());
    }

    [Fact]
    public void Text_names_each_generation_and_its_size()
    {
        var (exit, output, _) = CliRunner.Run("layouts", "--kernel", "6.13");
        Assert.Equal(0, exit);
        Assert.Contains("struct kvm_page_fault [kvm_page_fault_v6_13]: 80 bytes", output, StringComparison.Ordinal);
        Assert.Contains("-- arch/x86/kvm/mmu/mmu_internal.h, torvalds v6.13, line 190", output, StringComparison.Ordinal);
        Assert.Contains("refcounted_page", output, StringComparison.Ordinal);
        Assert.DoesNotContain("kvm_page_fault_v6_10", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5.15", "outside that range")]
    [InlineData("7.3", "outside that range")]
    [InlineData("banana", "is not a kernel version")]
    public void Unknown_versions_are_usage_errors_with_exit_2(string version, string message)
    {
        // Exit 1 -> 2 (issue 13): a bad --kernel value is a command-line mistake, found while parsing.
        var (exit, output, err) = CliRunner.Run("layouts", "--kernel", version);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Contains(KernelLayouts.Oldest.ToString(), err.Split('\n')[0], StringComparison.Ordinal); // the known range
    }

    [Fact]
    public void A_6_18_kernel_without_gmem_is_a_usage_error()
    {
        // Exit 1 -> 2 (issue 13): the two options contradict each other.
        var (exit, _, err) = CliRunner.Run("layouts", "--kernel", "6.18", "--gmem", "absent");
        Assert.Equal(2, exit);
        Assert.Contains("--gmem absent: kernel 6.18 always has the gmem block", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_options_are_usage_errors_with_exit_2()
    {
        var (exit, _, err) = CliRunner.Run("layouts", "--frobnicate");
        Assert.Equal(2, exit);
        Assert.Contains("--frobnicate", err, StringComparison.Ordinal);
    }
}
