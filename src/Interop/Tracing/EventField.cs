namespace FastRmp.Interop.Tracing;

/// <summary>How a field's bytes are found in a record.</summary>
public enum FieldKind
{
    /// <summary>A number of 1, 2, 4 or 8 bytes at a fixed offset.</summary>
    Scalar,

    /// <summary>A fixed array (<c>char comm[16]</c>, <c>__u8 insn[15]</c>) at a fixed offset.</summary>
    Array,

    /// <summary><c>__data_loc</c>: a u32 (offset in the low 16 bits, length in the high 16) or, with size 2, a u16 offset to a NUL-terminated string.</summary>
    DataLoc,

    /// <summary><c>__rel_loc</c>: like <see cref="DataLoc"/> but the offset counts from the end of the field (kernels since ~5.17).</summary>
    RelLoc,

    /// <summary>A flexible array of size 0 (<c>char buf[]</c> in ftrace:print): the rest of the record.</summary>
    Rest,
}

/// <summary>
/// One <c>field:</c> line of a tracefs <c>format</c> file: <c>field:&lt;C declaration&gt;; offset:N; size:N; signed:0|1;</c>.
/// </summary>
/// <remarks>
/// Source of the model: the tracefs <c>events/&lt;system&gt;/&lt;event&gt;/format</c> syntax as described in
/// ../shared/research/traces.md section 2.5 (checked against the 6.18 and Ubuntu 6.2 format samples).
/// Immutable and thread-safe.
/// </remarks>
public sealed class EventField
{
    /// <summary>Creates a field description.</summary>
    public EventField(string name, string cType, int offset, int size, bool isSigned, FieldKind kind, int elementSize)
    {
        Name = name;
        CType = cType;
        Offset = offset;
        Size = size;
        IsSigned = isSigned;
        Kind = kind;
        ElementSize = elementSize;
        IsCharString = kind != FieldKind.Scalar && elementSize == 1 && IsCharType(cType);
        IsLongOrPointer = kind == FieldKind.Scalar && (cType.Contains('*', StringComparison.Ordinal)
            || (cType.Contains("long", StringComparison.Ordinal) && !cType.Contains("long long", StringComparison.Ordinal)));
        IsCommon = name.StartsWith("common_", StringComparison.Ordinal);
    }

    /// <summary>The field name as in C (<c>fault_address</c>).</summary>
    public string Name { get; }

    /// <summary>The C declaration without the name (<c>u64</c>, <c>char[16]</c>, <c>__data_loc char[]</c>).</summary>
    public string CType { get; }

    /// <summary>Byte offset from the start of the record (the common header included).</summary>
    public int Offset { get; }

    /// <summary>Byte size as written in the format file (for arrays: the whole array; for data_loc: the locator word).</summary>
    public int Size { get; }

    /// <summary>The format's <c>signed:</c> value.</summary>
    public bool IsSigned { get; }

    /// <summary>How the value is located.</summary>
    public FieldKind Kind { get; }

    /// <summary>Size of one element for arrays and dynamic arrays; equals <see cref="Size"/> for scalars.</summary>
    public int ElementSize { get; }

    /// <summary>True for <c>char</c> arrays and dynamic <c>char[]</c> data: the value is a NUL-terminated string.</summary>
    public bool IsCharString { get; }

    /// <summary>True for <c>long</c>/<c>unsigned long</c> and pointer scalars (trace-cmd prints these in hex).</summary>
    public bool IsLongOrPointer { get; }

    /// <summary>True for <c>common_*</c> fields (type, flags, preempt count, pid and old kernels' extras).</summary>
    public bool IsCommon { get; }

    /// <summary>True when the value is a number (a scalar of 1, 2, 4 or 8 bytes).</summary>
    public bool IsNumber => Kind == FieldKind.Scalar && Size is 1 or 2 or 4 or 8;

    /// <inheritdoc/>
    public override string ToString() => $"{CType} {Name}; offset:{Offset}; size:{Size}; signed:{(IsSigned ? 1 : 0)}";

    private static bool IsCharType(string cType)
    {
        string t = cType.Replace("__data_loc", "", StringComparison.Ordinal).Replace("__rel_loc", "", StringComparison.Ordinal)
            .Replace("unsigned", "", StringComparison.Ordinal).Replace("signed", "", StringComparison.Ordinal)
            .Replace("const", "", StringComparison.Ordinal).Trim();
        return t.StartsWith("char", StringComparison.Ordinal);
    }
}
