using System.Runtime.CompilerServices;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// What KVM's <c>snp_lookup_rmpentry(pfn, &amp;assigned, &amp;level)</c> returns (arch/x86/virt/svm/sev.c, 6.11-6.18):
/// assigned from the page's 4K entry, level from the 2 MiB-aligned entry (2M when its pagesize bit is set).
/// </summary>
/// <remarks>One byte: bit 0 assigned, bits 1-2 the <see cref="PgLevel"/>. native-stubs' reference uses the same encoding.</remarks>
public readonly struct RmpLookup : IEquatable<RmpLookup>
{
    private readonly byte _value;

    /// <summary>A lookup result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup(bool assigned, bool huge) => _value = (byte)((assigned ? 1 : 0) | (huge ? 4 : 2));

    private RmpLookup(byte value) => _value = value;

    /// <summary>
    /// Builds the result from the assigned bit and the huge bit (each 0 or 1) without a branch: a branch on a value
    /// that arrives from a cache miss mispredicts often and flushes the other misses in flight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static RmpLookup FromBits(ulong assigned, ulong huge) => new((byte)(assigned | ((huge << 1) + 2)));

    /// <summary>The page's 4K entry is assigned.</summary>
    public bool Assigned => (_value & 1) != 0;

    /// <summary>PG_LEVEL_2M when the 2 MiB-aligned entry is a 2M entry, else PG_LEVEL_4K.</summary>
    public PgLevel Level => (PgLevel)(_value >> 1);

    /// <summary>The encoded byte.</summary>
    public byte Raw => _value;

    /// <inheritdoc />
    public bool Equals(RmpLookup other) => _value == other._value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RmpLookup other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _value;

    /// <inheritdoc />
    public override string ToString() => $"{(Assigned ? "assigned" : "shared")} {Level}";

    /// <summary>Equality.</summary>
    public static bool operator ==(RmpLookup a, RmpLookup b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(RmpLookup a, RmpLookup b) => !a.Equals(b);
}
