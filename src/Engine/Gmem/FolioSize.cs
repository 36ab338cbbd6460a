using System.Collections.Immutable;
using FastRmp.Interop;

namespace FastRmp.Engine.Gmem;

/// <summary>
/// A guest_memfd folio size: 4 KiB (order 0, upstream), 2 MiB (order 9, the THP series) or 1 GiB (order 18, the
/// HugeTLB series). Written <c>4k</c>, <c>2m</c>, <c>1g</c>. Immutable: thread-safe.
/// </summary>
/// <param name="Order">The folio order (log2 of its pages).</param>
public readonly record struct FolioSize(int Order)
{
    /// <summary>4 KiB folios (upstream guest_memfd).</summary>
    public static FolioSize Size4K => new(0);

    /// <summary>2 MiB folios.</summary>
    public static FolioSize Size2M => new(9);

    /// <summary>1 GiB folios.</summary>
    public static FolioSize Size1G => new(18);

    /// <summary>The three sizes, smallest first.</summary>
    public static ImmutableArray<FolioSize> All { get; } = [Size4K, Size2M, Size1G];

    /// <summary>The folio's size in bytes.</summary>
    public ulong Bytes => PageSize.Size4K << Order;

    /// <summary><c>4k</c>, <c>2m</c>, <c>1g</c> (or <c>order N</c> for another order).</summary>
    public override string ToString() => Order switch
    {
        0 => "4k",
        9 => "2m",
        18 => "1g",
        _ => $"order {Order}",
    };

    /// <summary>The size written <paramref name="text"/> (<c>4k</c>, <c>2m</c> or <c>1g</c>, any case).</summary>
    public static bool TryParse(string? text, out FolioSize size)
    {
        size = text?.ToLowerInvariant() switch
        {
            "4k" => Size4K,
            "2m" => Size2M,
            "1g" => Size1G,
            _ => new FolioSize(-1),
        };
        return size.Order >= 0;
    }

    /// <summary>The size written <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException">Not 4k, 2m or 1g.</exception>
    public static FolioSize Parse(string text)
        => TryParse(text, out var size) ? size : throw new ArgumentException($"'{text}' is not a folio size; use 4k, 2m or 1g.", nameof(text));
}
