using System.Buffers.Binary;
using FastRmp.Interop.Layout;
using FastRmp.Tests.Common;

namespace FastRmp.Interop.Tests;

/// <summary>
/// Proof 3: C writes every field through C member access and C# reads it through the mirror; then C# writes and C
/// checks. Each field carries a distinct pattern (fr_pattern in native-stubs), so a field read from the wrong place
/// or with the wrong width shows.
/// </summary>
public sealed class RoundTripTests
{
    public static TheoryData<string> MirrorNames() => LayoutProofTests.MirrorNames();

    private static (MirrorLayout Layout, NativeStubs.CField[] Fields, NativeStubs.CBitfield[] Bits) Load(string name)
        => (KernelLayouts.All.Single(l => l.Name == name),
            NativeStubs.Fields().Where(f => f.Struct == name).ToArray(),
            NativeStubs.Bitfields().Where(b => b.Struct == name).ToArray());

    [Fact]
    public void The_CSharp_pattern_equals_the_C_pattern()
    {
        for (uint i = 0; i < 64; i++)
        {
            Assert.Equal(NativeStubs.Pattern(i), FieldPattern.Value(i));
            for (uint j = 0; j < 40; j++)
            {
                Assert.Equal(NativeStubs.PatternByte(i, j), FieldPattern.Byte(i, j));
            }
        }
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void CSharp_reads_what_C_wrote(string name)
    {
        var (layout, cFields, cBits) = Load(name);
        var buffer = new byte[layout.Size];
        Assert.Equal(0, NativeStubs.Fill(name, buffer));
        foreach (var cf in cFields.Where(f => f.Kind != NativeStubs.CKind.Union))
        {
            var field = layout.FindField(cf.Name)!;
            var bytes = buffer.AsSpan(field.Offset, field.Size);
            switch (field.Kind)
            {
                case MirrorFieldKind.Bool:
                    Assert.Equal((FieldPattern.Value(cf.Index) & 1) != 0, ((CBool)new CBool(bytes[0])).Value);
                    break;
                case MirrorFieldKind.Int:
                    Assert.True(FieldPattern.IntBytes(cf.Index, field.Size).AsSpan().SequenceEqual(bytes), $"{name}.{cf.Name}");
                    break;
                default:
                    Assert.True(FieldPattern.Bytes(cf.Index, field.Size).AsSpan().SequenceEqual(bytes), $"{name}.{cf.Name}");
                    break;
            }
        }

        foreach (var cb in cBits)
        {
            var bits = layout.Bitfields.Single(b => b.Name == cb.Name);
            Assert.True(FieldPattern.Masked(cb.Index, cb.BitWidth) == bits.Read(buffer), $"{name}.{cb.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void C_reads_what_CSharp_wrote(string name)
    {
        var buffer = CSharpFill(name);
        Assert.Equal(0, NativeStubs.Check(name, buffer));
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void C_names_the_field_that_CSharp_damaged(string name)
    {
        var (layout, cFields, _) = Load(name);
        foreach (var cf in cFields.Where(f => f.Kind != NativeStubs.CKind.Union))
        {
            var buffer = CSharpFill(name);
            buffer[layout.FindField(cf.Name)!.Offset] ^= 1;
            Assert.Equal((int)cf.Index + 1, NativeStubs.Check(name, buffer));
        }
    }

    private static byte[] CSharpFill(string name)
    {
        var (layout, cFields, cBits) = Load(name);
        var buffer = new byte[layout.Size];
        foreach (var cf in cFields.Where(f => f.Kind != NativeStubs.CKind.Union))
        {
            var field = layout.FindField(cf.Name)!;
            var target = buffer.AsSpan(field.Offset, field.Size);
            switch (field.Kind)
            {
                case MirrorFieldKind.Bool:
                    target[0] = ((CBool)((FieldPattern.Value(cf.Index) & 1) != 0)).Raw;
                    break;
                case MirrorFieldKind.Int:
                    FieldPattern.IntBytes(cf.Index, field.Size).CopyTo(target);
                    break;
                default:
                    FieldPattern.Bytes(cf.Index, field.Size).CopyTo(target);
                    break;
            }
        }

        foreach (var cb in cBits)
        {
            layout.Bitfields.Single(b => b.Name == cb.Name).Write(buffer, FieldPattern.Masked(cb.Index, cb.BitWidth));
        }

        return buffer;
    }
}

/// <summary>The C# twin of fr_pattern/fr_pattern_byte in native-stubs/src/layout_table.c.</summary>
internal static class FieldPattern
{
    public static ulong Value(uint index) => 0x9E3779B97F4A7C15UL * (index + 1UL);

    public static byte Byte(uint index, uint j) => (byte)((byte)(Value(index) >> (int)(j % 8 * 8)) ^ (byte)(j / 8 * 0x3B));

    public static ulong Masked(uint index, int width) => width >= 64 ? Value(index) : Value(index) & ((1UL << width) - 1);

    public static byte[] IntBytes(uint index, int size)
    {
        var all = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(all, Value(index));
        return all[..size];
    }

    public static byte[] Bytes(uint index, int size)
    {
        var b = new byte[size];
        for (int j = 0; j < size; j++)
        {
            b[j] = Byte(index, (uint)j);
        }

        return b;
    }
}
