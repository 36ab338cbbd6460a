namespace FastRmp.Engine.Allocation;

/// <summary>Event counts of one order of a <see cref="BuddyAllocator"/>: plain fields, bumped on the hot path.</summary>
/// <remarks>
/// <see cref="Splits"/> counts blocks of this order split into two of the next lower order;
/// <see cref="Merges"/> counts pairs of buddies of this order merged into one block of the next higher order.
/// </remarks>
public struct BuddyOrderCounters : IEquatable<BuddyOrderCounters>
{
    /// <summary>Successful <see cref="BuddyAllocator.TryAllocate"/> calls at this order.</summary>
    public long Allocations;

    /// <summary>Successful <see cref="BuddyAllocator.Free"/> calls at this order.</summary>
    public long Frees;

    /// <summary>Successful <see cref="BuddyAllocator.Claim"/> calls at this order.</summary>
    public long Claims;

    /// <summary>Free blocks of this order split into two buddies of the order below.</summary>
    public long Splits;

    /// <summary>Free buddy pairs of this order merged into one block of the order above.</summary>
    public long Merges;

    /// <inheritdoc />
    public readonly bool Equals(BuddyOrderCounters other) =>
        Allocations == other.Allocations && Frees == other.Frees && Claims == other.Claims &&
        Splits == other.Splits && Merges == other.Merges;

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is BuddyOrderCounters other && Equals(other);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Allocations, Frees, Claims, Splits, Merges);

    /// <inheritdoc />
    public override readonly string ToString() =>
        $"alloc {Allocations}, free {Frees}, claim {Claims}, split {Splits}, merge {Merges}";

    /// <summary>Field-wise equality.</summary>
    public static bool operator ==(BuddyOrderCounters left, BuddyOrderCounters right) => left.Equals(right);

    /// <summary>Field-wise inequality.</summary>
    public static bool operator !=(BuddyOrderCounters left, BuddyOrderCounters right) => !left.Equals(right);
}
