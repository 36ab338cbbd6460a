namespace FastRmp.Cli.Tests.Fuzzing;

/// <summary>What fuzzing the memslot file found (docs/fuzzing.md, "Findings"), on inputs the tests build.</summary>
public sealed class MemslotFuzzFindingsTests
{
    [Fact]
    public void Json_that_breaks_inside_a_literal_is_refused_in_one_line_that_says_where()
    {
        // JsonException's message quotes the bad literal, line breaks and all: the error was several lines long.
        string text = "[{\"slot\": 0, \"flags\": tru\ne,\n \"guest_phys_addr\": 0}]\n";
        var ex = Assert.Throws<CliInputException>(() => MemslotFile.Parse(text, "slots.json"));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("--memslots: slots.json: not JSON (line 1, byte ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_qemu_log_split_by_carriage_returns_gives_a_slot_per_line()
    {
        // The fuzzer's one memslot "finding" was its own bound: the log parser splits lines at CR too, as it should.
        string text = "kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0x0 size=0x4000 ua=0x7f0000000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0\r"
            + "kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x0 gpa=0x100000 size=0x4000 ua=0x7f0000100000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0\r";
        Assert.Equal(2, MemslotFile.Parse(text, "qemu.log").Count);
    }
}
