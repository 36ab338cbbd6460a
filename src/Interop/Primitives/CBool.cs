using System.Runtime.CompilerServices;

namespace FastRmp.Interop;

/// <summary>
/// A C <c>bool</c> (<c>_Bool</c>, one byte on x86-64) inside a mirrored struct.
/// </summary>
/// <remarks>
/// C# <c>bool</c> is not safe here: a byte other than 0 or 1 read from a dump or another host would become a
/// <c>bool</c> whose behaviour is undefined (it compares unequal to <c>true</c>). <see cref="CBool"/> keeps the raw
/// byte and reads any non-zero value as true; writes store 0 or 1 as the C compiler does.
/// </remarks>
public readonly struct CBool : IEquatable<CBool>
{
    private readonly byte _value;

    /// <summary>Creates a C bool from its raw byte.</summary>
    public CBool(byte raw) => _value = raw;

    /// <summary>The byte as stored, which may be outside 0..1 when read from foreign memory.</summary>
    public byte Raw => _value;

    /// <summary>The value as C reads it: any non-zero byte is true.</summary>
    public bool Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _value != 0;
    }

    /// <summary>Converts to a C# bool (non-zero is true).</summary>
    public static implicit operator bool(CBool value) => value._value != 0;

    /// <summary>Converts from a C# bool, storing 1 or 0.</summary>
    public static implicit operator CBool(bool value) => new(value ? (byte)1 : (byte)0);

    /// <inheritdoc />
    public bool Equals(CBool other) => Value == other.Value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is CBool other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => Value ? 1 : 0;

    /// <inheritdoc />
    public override string ToString() => Value ? "true" : "false";

    /// <summary>Equality by C truth value.</summary>
    public static bool operator ==(CBool a, CBool b) => a.Equals(b);

    /// <summary>Inequality by C truth value.</summary>
    public static bool operator !=(CBool a, CBool b) => !a.Equals(b);
}
