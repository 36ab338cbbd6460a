using System.Runtime.CompilerServices;
using FastRmp.Engine.Memory;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP in the hardware layout: a 16 KiB CPU bookkeeping area, then one 16-byte <see cref="rmpentry_raw"/> per
/// 4 KiB page (entry(pfn) = base + 0x4000 + pfn * 16; arch/x86/virt/svm/sev.c 6.11-6.13, kernel-domain.md 4.2).
/// C code compiled against native-stubs' <c>struct rmpentry_raw</c> reads <see cref="TableBase"/> directly.
/// </summary>
/// <remarks>
/// Not thread-safe. Large tables are backed by transparent huge pages where the kernel allows it. Every member that
/// reads or writes entries checks the cached table address first (one test of a field it loads anyway), so a
/// disposed store throws <see cref="ObjectDisposedException"/> instead of touching unmapped memory.
/// </remarks>
public sealed unsafe partial class RawRmpStore : IRmpStore
{
    private readonly NativeBuffer _buffer;
    private rmpentry_raw* _entries; // null once disposed

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
    /// <remarks>0 once disposed, so a table's range checks refuse every pfn.</remarks>
    public ulong Pages { get; private set; }

    /// <inheritdoc />
    public long MemoryBytes => _buffer.Length;

    /// <summary>The table's first byte (the bookkeeping area), as RMP_BASE would point at it.</summary>
    public void* TableBase => _buffer.Pointer;

    /// <summary>The first entry (TableBase + 0x4000).</summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    public rmpentry_raw* Entries => Table;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAssigned(ulong pfn) => (Table[pfn].lo & 1) != 0;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHuge(ulong region) => RawEntries.IsHuge(Table + (region << 9));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public rmpentry_raw Read(ulong pfn) => Table[pfn];

    /// <inheritdoc />
    public bool AnyAssigned(ulong region) => RawEntries.AnyAssigned(Table + (region << 9), (int)Math.Min(512, Pages - (region << 9)));

    /// <inheritdoc />
    public bool AnyImmutable(ulong region) => RawEntries.AnyImmutable(Table + (region << 9));

    /// <inheritdoc />
    public void Write4K(ulong pfn, rmpentry_raw entry) => Table[pfn] = entry;

    /// <inheritdoc />
    public void Write2M(ulong region, rmpentry_raw head) => RawEntries.Write2M(Table + (region << 9), head);

    /// <inheritdoc />
    public void Clear2M(ulong region) => RawEntries.Clear2M(Table + (region << 9));

    /// <inheritdoc />
    public void Smash(ulong region) => Table[region << 9].pagesize = false;

    /// <inheritdoc />
    public bool NoneAssigned(ulong pfn, ulong count)
    {
        for (ulong p = pfn, end = pfn + count; p < end; p++)
        {
            if ((Table[p].lo & 1) != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => RawEntries.WriteRun4K(Table + pfn, count, asid, gfn);

    /// <inheritdoc />
    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn)
        => RawEntries.TryValidateRun4K(Table + (pfn & ~511UL), Table + pfn, count, asid, gfn);

    /// <inheritdoc />
    public void SetValidated(ulong pfn, bool validated) => Table[pfn].validated = validated;

    /// <inheritdoc />
    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn) => RawEntries.IsGuestRun(Table + pfn, count, asid, gfn);

    /// <inheritdoc />
    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        for (ulong p = pfn, end = pfn + count; p < end;)
        {
            ulong n = Math.Min(end - p, 512 - (p & 511));
            RawEntries.CountGuestEntries(Table + (p & ~511UL), Table + p, n, asid, ref heads2M, ref entries4K);
            p += n;
        }
    }

    /// <inheritdoc />
    public void GuestMask(ulong region, uint asid, Span<ulong> mask)
        => RawEntries.GuestMask(Table + (region << 9), (int)Math.Min(512, Pages - (region << 9)), asid, mask);

    /// <summary>Frees the table.</summary>
    /// <remarks>
    /// Later calls do nothing. Afterwards <see cref="Pages"/> is 0 and every member that reads or writes entries
    /// (<see cref="TableBase"/> and <see cref="Entries"/> included) throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        _entries = null;
        Pages = 0;
        _buffer.Dispose();
    }

    // The entries, after the disposed check.
    private rmpentry_raw* Table
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            rmpentry_raw* entries = _entries;
            if (entries == null)
            {
                throw Disposal.Exception(this);
            }

            return entries;
        }
    }
}
