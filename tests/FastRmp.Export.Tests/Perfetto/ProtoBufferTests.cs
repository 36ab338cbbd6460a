using System.Text;
using FastRmp.Export.Perfetto;

namespace FastRmp.Export.Tests.Perfetto;

public class ProtoBufferTests
{
    // The expected bytes are the examples of protobuf's encoding guide (varint 150 in field 1, "testing" in field 2,
    // a nested message holding 150 in field 3) and values worked out by hand from the wire format.
    [Fact]
    public void Encodes_the_wire_format_guides_examples()
    {
        using var b = new ProtoBuffer(16);
        b.Varint(1, 150);
        Assert.Equal(new byte[] { 0x08, 0x96, 0x01 }, b.Written.ToArray());
        b.Clear();
        b.String(2, "testing");
        Assert.Equal(new byte[] { 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67 }, b.Written.ToArray());
        b.Clear();
        int m = b.BeginMessage(3);
        b.Varint(1, 150);
        b.EndMessage(m);
        Assert.Equal(new byte[] { 0x1a, 0x03, 0x08, 0x96, 0x01 }, b.Written.ToArray());
    }

    [Fact]
    public void Negative_int64_takes_ten_bytes_and_large_field_numbers_a_longer_tag()
    {
        using var b = new ProtoBuffer(4);
        b.Int64(1, -1);
        Assert.Equal(new byte[] { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, b.Written.ToArray());
        b.Clear();
        b.Bool(87, true); // (87 << 3) | 0 = 696 = 0xb8 0x05
        Assert.Equal(new byte[] { 0xb8, 0x05, 0x01 }, b.Written.ToArray());
        b.Clear();
        b.Fixed64(1, 0x0102030405060708);
        Assert.Equal(new byte[] { 0x09, 8, 7, 6, 5, 4, 3, 2, 1 }, b.Written.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(5000)]
    [InlineData(16383)]
    [InlineData(16384)]
    [InlineData(70000)]
    public void Strings_of_every_length_class_round_trip(int length)
    {
        // ASCII, two-byte and three-byte UTF-8, so the byte length differs from the char count
        string s = string.Concat(Enumerable.Range(0, length).Select(i => (i % 3) switch { 0 => 'a', 1 => 'é', _ => '€' }));
        using var b = new ProtoBuffer(8);
        b.Varint(5, 7);
        b.String(2, s);
        b.Varint(6, 9);
        var m = WireMessage.Parse(b.Written);
        Assert.Equal(3, m.Fields.Count);
        Assert.Equal(7UL, m.Varint(5));
        Assert.Equal(s, m.One(2).Text);
        Assert.Equal(Encoding.UTF8.GetByteCount(s), m.One(2).Bytes.Length);
        Assert.Equal(9UL, m.Varint(6));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(60)]
    [InlineData(200)]
    [InlineData(20000)]
    public void Nested_messages_of_any_size_get_their_length_in_front(int inner)
    {
        using var b = new ProtoBuffer(8);
        int outer = b.BeginMessage(1);
        b.Varint(1, 1);
        int middle = b.BeginMessage(2);
        for (int i = 0; i < inner; i++)
        {
            b.Varint(3, (ulong)i);
        }

        b.EndMessage(middle);
        b.Varint(4, ulong.MaxValue);
        b.EndMessage(outer);
        var top = WireMessage.Parse(b.Written);
        var o = top.One(1).Message;
        Assert.Equal(1UL, o.Varint(1));
        Assert.Equal(ulong.MaxValue, o.Varint(4));
        var values = o.One(2).Message.All(3).Select(f => f.Value).ToArray();
        Assert.Equal(Enumerable.Range(0, inner).Select(i => (ulong)i), values);
    }

    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(127UL, 1)]
    [InlineData(128UL, 2)]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 3)]
    [InlineData(ulong.MaxValue, 10)]
    public void Varint_size_counts_seven_bits_a_byte(ulong value, int bytes)
    {
        Assert.Equal(bytes, ProtoBuffer.VarintSize(value));
        using var b = new ProtoBuffer(1);
        b.RawVarint(value);
        Assert.Equal(bytes, b.Length);
    }
}
