using System.Runtime.CompilerServices;
using FastRmp.Engine.Memory;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP in the hardware layout: a 16 KiB CPU bookkeeping area, then one 16-byte <see cref="rmpentry_raw"/> per
/// 4 KiB page (entry(pfn) = base + 0x4000 + pfn * 16; arch/x86/virt/svm/sev.c 6.11-6.13, kernel-domain.md 4.2).
/// C code compiled against native-stubs' <c>struct rmpentry_raw</c> reads <see cref="TableBase"/> directly.
/// </summary>
/// <remarks>Not thread-safe. Large tables are backed by transparent huge pages where the kernel allows it.</remarks>
public sealed unsafe partial class RawRmpStore : IRmpStore
{
    private readonly NativeBuffer _buffer;
    private readonly rmpentry_raw* _entries;

    /// <summary>Creates a table covering <paramref name="pages"/> 4 KiB pages, every entry hypervisor-owned.</summary>
    public RawRmpStore(ulong pages)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pages);
        long bytes = checked((long)RmpConstants.RMPTABLE_CPU_BOOKKEEPING_SZ + (long)pages * RmpConstants.EntrySize);
        _buffer = new NativeBuffer(bytes, alignment: HugePages.Size, hugePages: true);
        _entries = (rmpentry_raw*)((byte*)_buffer.Pointer + RmpConstants.RMPTABLE_CPU_BOOKKEEPING_SZ);
        Pages = pages;
    }

    /// <inheritdoc />
    public ulong Pages { get; }

    /// <inheritdoc />
    public long MemoryBytes => _buffer.Length;

    /// <summary>The table's first byte (the bookkeeping area), as RMP_BASE would point at it.</summary>
    public void* TableBase => _buffer.Pointer;

    /// <summary>The first entry (TableBase + 0x4000).</summary>
    public rmpentry_raw* Entries => _entries;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAssigned(ulong pfn) => (_entries[pfn].lo & 1) != 0;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHuge(ulong region) => RawEntries.IsHuge(_entries + (region << 9));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public rmpentry_raw Read(ulong pfn) => _entries[pfn];

    /// <inheritdoc />
    public bool AnyAssigned(ulong region) => RawEntries.AnyAssigned(_entries + (region << 9), (int)Math.Min(512, Pages - (region << 9)));

    /// <inheritdoc />
    public bool AnyImmutable(ulong region) => RawEntries.AnyImmutable(_entries + (region << 9));

    /// <inheritdoc />
    public void Write4K(ulong pfn, rmpentry_raw entry) => _entries[pfn] = entry;

    /// <inheritdoc />
    public void Write2M(ulong region, rmpentry_raw head) => RawEntries.Write2M(_entries + (region << 9), head);

    /// <inheritdoc />
    public void Clear2M(ulong region) => RawEntries.Clear2M(_entries + (region << 9));

    /// <inheritdoc />
    public void Smash(ulong region) => _entries[region << 9].pagesize = false;

    /// <inheritdoc />
    public bool NoneAssigned(ulong pfn, ulong count)
    {
        for (ulong p = pfn, end = pfn + count; p < end; p++)
        {
            if ((_entries[p].lo & 1) != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => RawEntries.WriteRun4K(_entries + pfn, count, asid, gfn);

    /// <inheritdoc />
    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn)
        => RawEntries.TryValidateRun4K(_entries + (pfn & ~511UL), _entries + pfn, count, asid, gfn);

    /// <inheritdoc />
    public void SetValidated(ulong pfn, bool validated) => _entries[pfn].validated = validated;

    /// <inheritdoc />
    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn) => RawEntries.IsGuestRun(_entries + pfn, count, asid, gfn);

    /// <inheritdoc />
    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        for (ulong p = pfn, end = pfn + count; p < end;)
        {
            ulong n = Math.Min(end - p, 512 - (p & 511));
            RawEntries.CountGuestEntries(_entries + (p & ~511UL), _entries + p, n, asid, ref heads2M, ref entries4K);
            p += n;
        }
    }

    /// <inheritdoc />
    public void GuestMask(ulong region, uint asid, Span<ulong> mask)
        => RawEntries.GuestMask(_entries + (region << 9), (int)Math.Min(512, Pages - (region << 9)), asid, mask);

    /// <inheritdoc />
    public void Dispose() => _buffer.Dispose();
}
