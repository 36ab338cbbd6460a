using System.Text;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>A text line longer than the reader's block (issue 18, item 10: a 2 MiB line was counted as two damaged lines).</summary>
public sealed class LongLineTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_line_of_several_blocks_is_one_damaged_line_and_the_records_around_it_are_read(int mebibytes)
    {
        const string Good = " qemu-7000 [000] ..... 1.000001: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n";
        var text = new StringBuilder("# tracer: nop\n");
        text.Append(Good, 0, Good.Length).Append(Good).Append(Good);
        text.Append('x', (mebibytes << 20) + 17).Append('\n');
        text.Append(Good).Append(Good).Append(Good);
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes(text.ToString()));
        int records = 0;
        while (reader.MoveNext(out _))
        {
            records++;
        }

        Assert.Equal(6, records);
        var damage = Assert.Single(reader.Stats.Damage);
        Assert.Equal(5, damage.Offset); // the line number
        Assert.Equal(1, reader.Stats.DamageCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_long_line_before_the_first_event_does_not_hide_the_format(bool pipe)
    {
        // issue 18, item 9: a 300 KB line filled the 64 KiB the detector looked at, so it saw one line and refused the
        // file, losing the 388 records after it. The head now grows until it holds several lines.
        const string Good = " qemu-7000 [000] ..... 1.000001: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n";
        var text = new StringBuilder("CPU:0 [LOST 5 EVENTS]").Append('y', 300_000).Append('\n');
        for (int i = 0; i < 388; i++)
        {
            text.Append(Good);
        }

        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-longhead-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, text.ToString());
        try
        {
            using var reader = pipe ? TraceFile.OpenReader(new MemoryStream(File.ReadAllBytes(path), writable: false), "pipe") : TraceFile.OpenReader(path);
            int records = 0;
            while (reader.MoveNext(out _))
            {
                records++;
            }

            Assert.Equal(388, records);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
