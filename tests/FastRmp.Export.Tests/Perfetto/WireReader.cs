using System.Text;

namespace FastRmp.Export.Tests.Perfetto;

/// <summary>One field of a protobuf message as it is on the wire.</summary>
internal readonly record struct WireField(int Number, int WireType, ulong Value, byte[] Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes);

    public WireMessage Message => WireMessage.Parse(Bytes);
}

/// <summary>
/// A protobuf message parsed without any schema, straight from the wire format (varint, fixed64, length-delimited,
/// fixed32), written for the tests apart from the product's encoder so that the two check each other.
/// </summary>
internal sealed class WireMessage(List<WireField> fields)
{
    public IReadOnlyList<WireField> Fields => fields;

    public static WireMessage Parse(ReadOnlySpan<byte> data)
    {
        var fields = new List<WireField>();
        int i = 0;
        while (i < data.Length)
        {
            ulong key = ReadVarint(data, ref i);
            int number = checked((int)(key >> 3));
            int type = (int)(key & 7);
            Assert.True(number > 0, $"field number 0 at byte {i}");
            switch (type)
            {
                case 0:
                    fields.Add(new WireField(number, type, ReadVarint(data, ref i), []));
                    break;
                case 1:
                    Assert.True(i + 8 <= data.Length, "truncated fixed64");
                    fields.Add(new WireField(number, type, BitConverter.ToUInt64(data.Slice(i, 8)), []));
                    i += 8;
                    break;
                case 2:
                    int length = checked((int)ReadVarint(data, ref i));
                    Assert.True(length >= 0 && i + length <= data.Length, $"length {length} past the end at byte {i}");
                    fields.Add(new WireField(number, type, (ulong)length, data.Slice(i, length).ToArray()));
                    i += length;
                    break;
                case 5:
                    Assert.True(i + 4 <= data.Length, "truncated fixed32");
                    fields.Add(new WireField(number, type, BitConverter.ToUInt32(data.Slice(i, 4)), []));
                    i += 4;
                    break;
                default:
                    Assert.Fail($"wire type {type} at byte {i}");
                    break;
            }
        }

        return new WireMessage(fields);
    }

    public IEnumerable<WireField> All(int number) => fields.Where(f => f.Number == number);

    public bool Has(int number) => fields.Any(f => f.Number == number);

    public WireField One(int number) => Assert.Single(fields, f => f.Number == number);

    public ulong Varint(int number) => One(number).Value;

    public ulong? VarintOrNull(int number) => Has(number) ? fields.Last(f => f.Number == number).Value : null;

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int i)
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            Assert.True(i < data.Length, "truncated varint");
            byte b = data[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        Assert.Fail("varint longer than 10 bytes");
        return 0;
    }
}
