using System.Collections.Immutable;

namespace FastRmp.Interop.Layout;

/// <summary>How a field is stored, which decides how tools compare and fill it.</summary>
public enum MirrorFieldKind
{
    /// <summary>An integer, an integer typedef, or a kernel pointer kept as a 64-bit value.</summary>
    Int,

    /// <summary>A C <c>bool</c> (<see cref="CBool"/>).</summary>
    Bool,

    /// <summary>An array or a nested struct, compared byte by byte.</summary>
    Bytes,

    /// <summary>Storage that bitfields share (a union member); its content is described by the bitfields.</summary>
    Union,
}

/// <summary>One field of a mirrored struct as laid out in managed memory.</summary>
/// <param name="Name">The C member designator (<c>max_level</c>, <c>gmem.file</c>).</param>
/// <param name="Offset">Byte offset from the start of the struct.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="CType">The C type as the kernel declares it.</param>
/// <param name="Kind">How the field is stored.</param>
public sealed record MirrorField(string Name, int Offset, int Size, string CType, MirrorFieldKind Kind);

/// <summary>A C bitfield of a mirrored struct, with the accessors the mirror exposes for it.</summary>
/// <param name="Name">The C bitfield name.</param>
/// <param name="BitOffset">The first bit, counted from bit 0 of byte 0 of the struct (little-endian).</param>
/// <param name="BitWidth">Width in bits.</param>
/// <param name="Read">Reads the bitfield from a struct's bytes through the mirror's accessor.</param>
/// <param name="Write">Writes the bitfield into a struct's bytes through the mirror's accessor.</param>
public sealed record MirrorBitfield(
    string Name,
    int BitOffset,
    int BitWidth,
    Func<ReadOnlySpan<byte>, ulong> Read,
    Action<Span<byte>, ulong> Write);

/// <summary>The managed layout of one mirrored C struct: size and every field, measured on the C# type. Immutable: thread-safe.</summary>
/// <remarks>
/// Offsets are measured with <c>Unsafe.ByteOffset</c> on the mirror itself (see
/// <see cref="MirrorLayoutBuilder{T}"/>), so the table states what the runtime actually lays out. The native-stubs
/// library holds the same table computed by a C compiler; tests compare the two.
/// </remarks>
public sealed class MirrorLayout
{
    internal MirrorLayout(
        string name, string cName, Type clrType, int size, int alignment, string summary,
        ImmutableArray<MirrorField> fields, ImmutableArray<MirrorBitfield> bitfields)
    {
        Name = name;
        CName = cName;
        ClrType = clrType;
        Size = size;
        Alignment = alignment;
        Summary = summary;
        Fields = fields;
        Bitfields = bitfields;
    }

    /// <summary>The mirror's name, with its layout generation where the kernel has several (<c>kvm_page_fault_v6_13</c>).</summary>
    public string Name { get; }

    /// <summary>The C struct name as the kernel spells it (<c>kvm_page_fault</c>).</summary>
    public string CName { get; }

    /// <summary>The C# mirror type.</summary>
    public Type ClrType { get; }

    /// <summary><c>sizeof</c> in bytes.</summary>
    public int Size { get; }

    /// <summary><c>alignof</c> in bytes.</summary>
    public int Alignment { get; }

    /// <summary>
    /// Where the layout comes from: <c>FILE, torvalds vX.Y, line N</c>, the upstream tag at which the struct was read
    /// and the line of its definition, optionally followed by a note in parentheses (<c>(layout of 6.10-6.12)</c>).
    /// </summary>
    public string Summary { get; }

    /// <summary>Every field, in declaration order.</summary>
    public ImmutableArray<MirrorField> Fields { get; }

    /// <summary>Every named, non-reserved bitfield.</summary>
    public ImmutableArray<MirrorBitfield> Bitfields { get; }

    /// <summary>Finds a field by its C name.</summary>
    public MirrorField? FindField(string name)
    {
        foreach (var f in Fields)
        {
            if (f.Name == name)
            {
                return f;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Size} bytes)";
}

/// <summary>A C# mirror of a C struct that can describe its own managed layout.</summary>
/// <typeparam name="TSelf">The mirror type.</typeparam>
public interface ICMirror<TSelf> where TSelf : unmanaged, ICMirror<TSelf>
{
    /// <summary>The mirror's layout, measured on the managed type.</summary>
    static abstract MirrorLayout Layout { get; }
}
