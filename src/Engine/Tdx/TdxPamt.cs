using FastRmp.Interop;

namespace FastRmp.Engine.Tdx;

/// <summary>
/// The TDX module's Physical Address Metadata Table for a host: one entry per 4 KiB, 2 MiB and 1 GiB page of
/// TDX-convertible memory, allocated statically at module initialisation, or, with Dynamic PAMT, a bitmap in place of
/// the 4 KiB level plus a page pair per 2 MiB range that holds 4 KiB pages the module uses, added on demand with a
/// refcount.
/// </summary>
/// <remarks>
/// Static sizes follow <c>tdmr_get_pamt_sz</c> (arch/x86/virt/vmx/tdx/tdx.c, 6.16): entries = TDMR size &gt;&gt;
/// level shift, bytes = entries × the module's entry size for that level, rounded up to 4 KiB; the model treats the
/// host as one TDMR. Dynamic PAMT follows the series in tip x86/tdx (2026-09; upstream-2024-2026.md): the 4K level
/// becomes a bitmap of <c>pamt_page_bitmap_entry_bits</c> per 4 KiB page (<c>tdmr_get_pamt_bitmap_sz</c>);
/// <c>tdx_pamt_get</c> takes a 2 MiB range's refcount 0 -&gt; 1 with TDH.PHYMEM.PAMT.ADD of
/// <c>pamt_4k_entry_size × 512 / 4096</c> pages (2 with 16-byte entries: the "page pair"), and <c>tdx_pamt_put</c>
/// 1 -&gt; 0 removes them with TDH.PHYMEM.PAMT.REMOVE; the refcounts are an <c>atomic_t</c> (4 bytes) per 2 MiB of
/// memory. The entry sizes and the bitmap width are metadata the module reports; the defaults (16 bytes per entry,
/// 16 × 512 / 4096 = 2 pages per range as the series' "page pair" implies; 1 bit per page) are the model's
/// assumption where no public figure was found. Not thread-safe.
/// </remarks>
public sealed class TdxPamt
{
    private readonly int[] _refcounts;

    /// <summary>The PAMT of a host of <paramref name="hostPages"/> 4 KiB pages.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is zero or out of range.</exception>
    public TdxPamt(ulong hostPages, bool dynamic, int entrySize4K = 16, int entrySize2M = 16, int entrySize1G = 16, int bitmapBitsPerPage = 1)
    {
        ArgumentOutOfRangeException.ThrowIfZero(hostPages);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostPages, 1UL << 32); // 16 TiB
        ArgumentOutOfRangeException.ThrowIfLessThan(entrySize4K, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(entrySize2M, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(entrySize1G, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bitmapBitsPerPage, 1);
        HostPages = hostPages;
        Dynamic = dynamic;
        ulong bytes = hostPages << PageSize.Shift4K;
        Static4KBytes = dynamic
            ? PageAlign(((hostPages * (ulong)bitmapBitsPerPage) + 7) / 8)
            : PageAlign(hostPages * (ulong)entrySize4K);
        Static2MBytes = PageAlign((bytes >> 21) * (ulong)entrySize2M);
        Static1GBytes = PageAlign((bytes >> 30) * (ulong)entrySize1G);
        PagesPerRange = Math.Max(1, entrySize4K * 512 / (int)PageSize.Size4K);
        _refcounts = dynamic ? new int[(hostPages + 511) / 512] : [];
        RefcountBytes = dynamic ? (long)_refcounts.Length * sizeof(int) : 0;
    }

    /// <summary>Host memory in 4 KiB pages.</summary>
    public ulong HostPages { get; }

    /// <summary>True for Dynamic PAMT.</summary>
    public bool Dynamic { get; }

    /// <summary>The 4K level allocated at initialisation: the whole table, or with Dynamic PAMT the bitmap.</summary>
    public ulong Static4KBytes { get; }

    /// <summary>The 2M level.</summary>
    public ulong Static2MBytes { get; }

    /// <summary>The 1G level.</summary>
    public ulong Static1GBytes { get; }

    /// <summary>Dynamic PAMT's refcount array (0 for static PAMT).</summary>
    public long RefcountBytes { get; }

    /// <summary>Pages TDH.PHYMEM.PAMT.ADD takes per 2 MiB range (<c>tdx_dpamt_entry_pages</c>).</summary>
    public int PagesPerRange { get; }

    /// <summary>2 MiB ranges that hold Dynamic PAMT pages now.</summary>
    public long RangesBacked { get; private set; }

    /// <summary>The most ranges backed at once.</summary>
    public long PeakRangesBacked { get; private set; }

    /// <summary>TDH.PHYMEM.PAMT.ADD calls.</summary>
    public long PamtAdds { get; private set; }

    /// <summary>TDH.PHYMEM.PAMT.REMOVE calls.</summary>
    public long PamtRemoves { get; private set; }

    /// <summary>Memory the PAMT takes now: the static levels, and with Dynamic PAMT the refcounts and the page pairs in use.</summary>
    public long Bytes => (long)(Static4KBytes + Static2MBytes + Static1GBytes) + RefcountBytes + (RangesBacked * PagesPerRange * (long)PageSize.Size4K);

    /// <summary>The most memory the PAMT took at once.</summary>
    public long PeakBytes => (long)(Static4KBytes + Static2MBytes + Static1GBytes) + RefcountBytes + (PeakRangesBacked * PagesPerRange * (long)PageSize.Size4K);

    /// <summary>
    /// <c>tdx_pamt_get</c>: a 4 KiB page at <paramref name="pfn"/> is handed to the module; its 2 MiB range gets
    /// Dynamic PAMT backing on the first reference. Nothing for static PAMT.
    /// </summary>
    public void Get(kvm_pfn_t pfn) => Get(pfn, 1);

    /// <summary><see cref="Get(kvm_pfn_t)"/> for <paramref name="pages"/> 4 KiB pages of one 2 MiB range (a demoted 2M page: 512).</summary>
    public void Get(kvm_pfn_t pfn, int pages)
    {
        if (!Dynamic)
        {
            return;
        }

        ref int count = ref _refcounts[Range(pfn)];
        if (count == 0)
        {
            PamtAdds++;
            RangesBacked++;
            PeakRangesBacked = Math.Max(PeakRangesBacked, RangesBacked);
        }

        count += pages;
    }

    /// <summary><c>tdx_pamt_put</c>: the module gave the 4 KiB page back; the last reference removes the range's backing.</summary>
    /// <exception cref="InvalidOperationException">The range holds no reference (a model bug).</exception>
    public void Put(kvm_pfn_t pfn)
    {
        if (!Dynamic)
        {
            return;
        }

        ref int count = ref _refcounts[Range(pfn)];
        if (count <= 0)
        {
            throw new InvalidOperationException($"Dynamic PAMT put of pfn 0x{pfn.Value:x} with no reference.");
        }

        if (--count == 0)
        {
            PamtRemoves++;
            RangesBacked--;
        }
    }

    /// <summary>The references the 2 MiB range of <paramref name="pfn"/> holds.</summary>
    public int References(kvm_pfn_t pfn) => Dynamic ? _refcounts[Range(pfn)] : 0;

    private int Range(kvm_pfn_t pfn)
    {
        ulong range = pfn.Value >> 9;
        if (range >= (ulong)_refcounts.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(pfn), $"pfn 0x{pfn.Value:x} is outside the host's {HostPages} pages.");
        }

        return (int)range;
    }

    private static ulong PageAlign(ulong bytes) => (bytes + PageSize.Mask4K) & ~PageSize.Mask4K;
}
