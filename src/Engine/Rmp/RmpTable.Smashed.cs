namespace FastRmp.Engine.Rmp;

public abstract partial class RmpTable
{
    // Bit r set = region r (2 MiB) was split by a successful PSMASH and has not been a 2M entry since. Allocated on
    // the first PSMASH: most tables never see one.
    private ulong[]? _smashed;

    /// <summary>
    /// True when the 2 MiB region <paramref name="region"/> (pfns <c>region * 512</c> onwards) was split by a
    /// successful PSMASH and no 2M RMPUPDATE has rewritten it since.
    /// </summary>
    /// <remarks>
    /// History, not hardware state: the RMP itself cannot tell a smashed region from one assigned page by page. The
    /// mark is set by <see cref="Psmash"/> and cleared by any successful 2M <see cref="RmpUpdate"/> of the region
    /// (to private, which makes it a 2M entry again, or to shared, which rewrites all 512 entries). 4K updates
    /// leave it alone, so a smashed region whose pages all went back to shared keeps the mark.
    /// </remarks>
    public bool IsSmashed(ulong region)
    {
        var bits = _smashed;
        return bits is not null && region < (ulong)bits.Length * 64 && (bits[region >> 6] & (1UL << (int)region)) != 0;
    }

    /// <summary>Regions currently marked as smashed (see <see cref="IsSmashed"/>).</summary>
    public long SmashedRegions
    {
        get
        {
            long count = 0;
            foreach (ulong word in _smashed ?? [])
            {
                count += System.Numerics.BitOperations.PopCount(word);
            }

            return count;
        }
    }

    /// <summary>Marks the region as split by a successful PSMASH.</summary>
    private protected void MarkSmashed(ulong region)
    {
        _smashed ??= new ulong[(((_pages + 511) >> 9) + 63) >> 6];
        _smashed[region >> 6] |= 1UL << (int)region;
    }

    /// <summary>A successful RMPUPDATE: a 2M one rewrites the whole region, which ends its smashed state.</summary>
    private protected void NoteUpdate(ulong region, bool huge)
    {
        if (huge && _smashed is not null)
        {
            _smashed[region >> 6] &= ~(1UL << (int)region);
        }
    }
}
