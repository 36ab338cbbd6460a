namespace FastRmp.Engine.Memory;

/// <summary>
/// Tells the GC about the unmanaged memory the native owners (<see cref="NativeBuffer"/>, <see cref="NativeArray{T}"/>)
/// hold, so that an owner its user forgot to dispose is collected (and its finalizer frees the block) as memory fills,
/// not whenever the managed heap happens to need a collection (issue 18, item 13: 200 leaked hosts held 5.7 GB RSS
/// while their few managed bytes never caused a GC).
/// </summary>
/// <remarks>
/// Only big blocks are reported (at least <see cref="MinBlockBytes"/>): the tables a host or a memslot makes once (the
/// RMP, the allocator's metadata, lpage_info) and arrays that have grown that large. The 2 MiB slabs and chunks the
/// model adds while it runs are not: every 4 MiB of new pressure may start a full collection, and a replay's steady
/// state collects no garbage (LiveMetricsTests), which reporting them broke.
/// A heap block reports its size. An anonymous mapping (a large table) reports at most <see cref="MaxMappedBytes"/>:
/// the kernel commits its pages only when touched, so a 1 TiB host's 4 GiB RMP mapping may cost a few MiB, and
/// reporting its full size would make every host creation force a full collection. Thread-safe.
/// </remarks>
internal static class MemoryPressure
{
    /// <summary>The smallest block reported.</summary>
    public const long MinBlockBytes = 16L << 20;

    /// <summary>The most one anonymous mapping reports.</summary>
    public const long MaxMappedBytes = 256L << 20;

    private static long s_reported;

    /// <summary>Bytes currently reported to the GC by all owners (for tests).</summary>
    public static long ReportedBytes => Interlocked.Read(ref s_reported);

    /// <summary>The pressure a block of <paramref name="bytes"/> reports.</summary>
    public static long For(long bytes, bool mapped) => bytes < MinBlockBytes ? 0 : mapped ? Math.Min(bytes, MaxMappedBytes) : bytes;

    /// <summary>Moves an owner's reported pressure from <paramref name="current"/> to <paramref name="wanted"/>.</summary>
    public static void Update(ref long current, long wanted)
    {
        long delta = wanted - current;
        if (delta > 0)
        {
            GC.AddMemoryPressure(delta);
        }
        else if (delta < 0)
        {
            GC.RemoveMemoryPressure(-delta);
        }

        Interlocked.Add(ref s_reported, delta);
        current = wanted;
    }
}
