using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Gmem;

/// <summary>
/// One guest_memfd file: its page cache of folios (from the host allocator), its bindings to memslots, and the
/// operations KVM and userspace perform on it.
/// </summary>
/// <remarks>
/// Models virt/kvm/guest_memfd.c (6.11-6.18, and the newest tree where noted; kernel-domain.md 3.3, 5.2): fallocate
/// (allocate, PUNCH_HOLE), <c>kvm_gmem_bind</c>, <c>kvm_gmem_get_pfn</c> with the index math
/// <c>gfn - base_gfn + pgoff</c>, and release. Folio size is a model option: order 0 as upstream, 9 as the pending THP
/// series (a partial punch splits the folio), 18 as the HugeTLB series. The page cache holds one 8-byte entry per
/// 4 KiB index, in 2 MiB chunks allocated on first use; a chunk whose folios are 4 KiB pages of consecutive pfns,
/// added in index order, is kept as one descriptor instead until something else happens in it (see
/// <c>GuestMemfd.Linear.cs</c>). Not thread-safe.
/// </remarks>
public sealed unsafe partial class GuestMemfd : IDisposable
{
    private const int ChunkShift = 18;
    private const ulong PresentBit = 1;
    private const ulong UptodateBit = 2;
    private const ulong PoisonBit = 4;
    private const int OrderShift = 3;
    private const int PfnShift = 8;

    private readonly GmemFiles _files;
    private readonly Memory.NativeChunkTable _chunkTable;
    private readonly ulong _chunkCount;
    private ulong** _chunks; // _chunkTable's slots, for the lookups; null once the memory is freed
    private readonly List<Binding> _bindings = [];

    // 2 MiB blocks (index >> 9) whose folio is 2M although the file allocates 4K folios: a replay's evidence that the
    // traced host had a 2M folio there (Hint2M). Null until the first hint, so other files pay one null test.
    private HashSet<ulong>? _twoMegHints;

    // Head indexes of large folios populate filled in part (launch only, so the set stays tiny and the fault path pays
    // one Count test). An entry left behind by a punch only makes the next folio there check its pages, finding none.
    private readonly HashSet<ulong> _partlyPopulated = [];

    internal GuestMemfd(GmemFiles files, int fd, ulong size, GuestMemfdFlags flags, int folioOrder)
    {
        _files = files;
        Fd = fd;
        Size = size;
        Flags = flags;
        FolioOrder = folioOrder;
        Pages = size >> PageSize.Shift4K;
        _chunkCount = (Pages + (1UL << ChunkShift) - 1) >> ChunkShift;
        // One 2 MiB chunk is exactly one huge page: random faults then walk it without a TLB miss per page.
        _chunkTable = new Memory.NativeChunkTable(
            (long)_chunkCount, (1L << ChunkShift) * sizeof(ulong), chunkAlignment: Memory.HugePages.Size, hugePages: true);
        _chunks = (ulong**)_chunkTable.Slots;
        _linear = new LinearChunk[_chunkCount];
        InitAttributes();
    }

    /// <summary>The file descriptor.</summary>
    public int Fd { get; }

    /// <summary>i_size in bytes.</summary>
    public ulong Size { get; }

    /// <summary>Pages in the file.</summary>
    public ulong Pages { get; }

    /// <summary>Creation flags.</summary>
    public GuestMemfdFlags Flags { get; }

    /// <summary>The order of the folios this file allocates (0, 9 or 18).</summary>
    public int FolioOrder { get; }

    /// <summary>False once released.</summary>
    public bool IsOpen { get; private set; } = true;

    /// <summary>Live folios by order (index = order).</summary>
    public long[] FoliosByOrder { get; } = new long[19];

    /// <summary>Folios split into 4K folios by a partial punch.</summary>
    public long FolioSplits { get; private set; }

    /// <summary>
    /// Models fallocate(2) on guest_memfd (<c>kvm_gmem_fallocate</c>): KEEP_SIZE is required and only PUNCH_HOLE may
    /// accompany it (else EOPNOTSUPP); offset and length must be page-aligned (EINVAL); allocating past i_size is
    /// EINVAL, punching past it is clipped. Allocation only allocates (the newest kernels neither zero nor prepare).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public Errno Fallocate(FallocateMode mode, ulong offset, ulong length)
    {
        ThrowIfFreed();
        if ((mode & FallocateMode.KeepSize) == 0 || (mode & ~(FallocateMode.KeepSize | FallocateMode.PunchHole)) != 0)
        {
            return Errno.EOPNOTSUPP;
        }

        if (((offset | length) & PageSize.Mask4K) != 0 || offset + length < offset)
        {
            return Errno.EINVAL;
        }

        ulong first = offset >> PageSize.Shift4K;
        ulong end = (offset + length) >> PageSize.Shift4K;
        if ((mode & FallocateMode.PunchHole) != 0)
        {
            Punch(first, Math.Min(end, Pages));
            return Errno.Ok;
        }

        if (end > Pages)
        {
            return Errno.EINVAL;
        }

        for (ulong index = first; index < end;)
        {
            var error = GetFolio(index, out ulong entry);
            if (error != Errno.Ok)
            {
                return error;
            }

            ulong head = index & ~((1UL << EntryOrder(entry)) - 1);
            index = head + (1UL << EntryOrder(entry));
        }

        return Errno.Ok;
    }

    /// <summary>
    /// Models <c>kvm_gmem_get_pfn(kvm, slot, gfn, &amp;pfn, &amp;page, &amp;max_order)</c>: the frame that backs
    /// <paramref name="gfn"/> through the binding of <paramref name="slot"/>, allocating its folio on first use, and
    /// calling the arch prepare hook as the configured <see cref="GmemPrepareMode"/> says.
    /// </summary>
    /// <remarks>
    /// EFAULT when the file is closed or the slot is not bound to it; EIO when the index is bound to another slot;
    /// ENOMEM when no folio can be allocated; EHWPOISON for a poisoned page; the hook's error otherwise.
    /// <paramref name="maxOrder"/> is the folio's order when the gfn and the index are aligned alike and the folio's
    /// gfns lie inside the slot, else 0 (upstream folios are order 0, so upstream reports 0).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public Errno GetPfn(int slotIndex, ref kvm_memory_slot slot, gfn_t gfn, out kvm_pfn_t pfn, out int maxOrder)
    {
        pfn = default;
        maxOrder = 0;
        if (!IsOpen || slot.gmem.file != FileId)
        {
            ThrowIfFreed(); // a disposed file is closed too, so the fault path pays for this check only here
            return Errno.EFAULT;
        }

        ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
        if (BindingAt(index) != slotIndex)
        {
            return Errno.EIO;
        }

        var error = GetFolio(index, out ulong entry);
        if (error != Errno.Ok)
        {
            return error;
        }

        if ((entry & PoisonBit) != 0)
        {
            return Errno.EHWPOISON;
        }

        int order = EntryOrder(entry);
        pfn = new kvm_pfn_t(entry >> PfnShift);
        ulong mask = (1UL << order) - 1;
        ulong firstGfn = gfn.Value & ~mask;
        if ((gfn.Value & mask) == (index & mask) && firstGfn >= slot.base_gfn.Value
            && firstGfn + mask < slot.base_gfn.Value + slot.npages)
        {
            maxOrder = order;
        }

        bool prepared = (entry & UptodateBit) != 0;
        if (!prepared && _partlyPopulated.Count != 0 && _partlyPopulated.Remove(index & ~mask) && _files.PrepareMode != GmemPrepareMode.Never && _files.Arch is { } partial)
        {
            _files.RmpOpt?.HostWrite(new kvm_pfn_t(pfn.Value & ~mask), PagesNotUptodate(index & ~mask, order)); // the unpopulated pages are zeroed
            var rc = PreparePages(partial, index & ~mask, new gfn_t(firstGfn & ~mask), new kvm_pfn_t(pfn.Value & ~mask), order);
            SetFolioBits(index, order, UptodateBit);
            return rc;
        }

        if (!prepared)
        {
            // kvm_gmem_get_pfn zeroes the folio through the direct map before the arch prepares it: a host write
            // (RMPOPT's skipped or made RMP checks; docs/rmpopt.md).
            _files.RmpOpt?.HostWrite(new kvm_pfn_t(pfn.Value & ~mask), 1UL << order);
            SetFolioBits(index, order, UptodateBit); // zeroed; in 6.11-6.18 also "prepared"
        }

        var mode = _files.PrepareMode;
        bool callPrepare = mode switch
        {
            GmemPrepareMode.EveryGetPfn => true,
            GmemPrepareMode.OncePerFolio => !prepared,
            GmemPrepareMode.MakePrivate => IsPrivateIndex(index),
            _ => false,
        };
        if (callPrepare && _files.Arch is { } arch)
        {
            // kvm_gmem_prepare_folio hands over the folio (head gfn, head pfn, order); kvm-x86 2026's make_private
            // the page itself with 1 << max_order pages.
            int rc = mode == GmemPrepareMode.MakePrivate
                ? arch.Prepare(this, gfn, pfn, maxOrder)
                : arch.Prepare(this, new gfn_t(firstGfn & ~mask), new kvm_pfn_t(pfn.Value & ~mask), order);
            if (rc != 0)
            {
                return (Errno)(-rc);
            }
        }

        return Errno.Ok;
    }

    /// <summary>
    /// One page of <c>kvm_gmem_populate</c>: the folio for <paramref name="gfn"/> is allocated if missing; in 6.11-6.18
    /// the page must not be up to date yet (EEXIST) and a large folio filled in part is remembered, so that its first
    /// get_pfn prepares the pages populate did not fill; from 7.0 on neither (guest_memfd.c after "Remove preparation
    /// tracking"; see <see cref="Kvm.KvmKernel.PrepareTracking"/>). The caller's callback initialises the page, which is
    /// then marked up to date.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public Errno PopulatePage(int slotIndex, ref kvm_memory_slot slot, gfn_t gfn, out kvm_pfn_t pfn)
    {
        pfn = default;
        if (!IsOpen || slot.gmem.file != FileId)
        {
            ThrowIfFreed();
            return Errno.EFAULT;
        }

        ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
        if (BindingAt(index) != slotIndex)
        {
            return Errno.EINVAL;
        }

        var error = GetFolio(index, out ulong entry);
        if (error != Errno.Ok)
        {
            return error;
        }

        bool tracking = _files.Kernel.PrepareTracking;
        if (tracking && (entry & UptodateBit) != 0)
        {
            return Errno.EEXIST; // 6.11-6.18: a prepared folio; 7.0 on, only sev_gmem_post_populate's RMP check refuses
        }

        // Only this page is marked: with a large folio the rest of it must still be prepared at its first get_pfn
        // (the per-page preparedness Paolo Bonzini's 2024 RFC proposes; upstream folios are single pages).
        if (!TrySetTailBits(index, 1, UptodateBit))
        {
            *EntryPointer(index, create: false) |= UptodateBit;
        }
        int order = EntryOrder(entry);
        if (order > 0 && tracking)
        {
            _partlyPopulated.Add(index & ~((1UL << order) - 1)); // 7.0 dropped the partial-hugepage handling
        }

        pfn = new kvm_pfn_t(entry >> PfnShift);
        return Errno.Ok;
    }

    /// <summary>
    /// Makes the 2 MiB block holding <paramref name="index"/> allocate one 2M folio when it is first used, in a file
    /// of 4 KiB folios (the replay's <c>--folio auto</c>: a host whose trace shows a private 2M leaf there had a 2M
    /// folio). True when the hint is new and can still take effect (no page of the block is in the page cache yet).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public bool Hint2M(ulong index)
    {
        ThrowIfFreed();
        ulong block = index >> 9;
        if (FolioOrder != 0 || (block << 9) + 512 > Pages || AnyPresent(block << 9, 512))
        {
            return false;
        }

        _twoMegHints ??= [];
        return _twoMegHints.Add(block);
    }

    /// <summary>Calls <paramref name="visit"/> with the head index, pfn and order of every live folio.</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void ForEachFolio(Action<ulong, kvm_pfn_t, int> visit)
    {
        ThrowIfFreed();
        for (ulong index = 0; index < Pages;)
        {
            if (_chunks[index >> ChunkShift] == null && _linear[index >> ChunkShift].Count == 0)
            {
                index = ((index >> ChunkShift) + 1) << ChunkShift; // a chunk never touched holds no folio
                continue;
            }

            ulong entry = Entry(index);
            if ((entry & PresentBit) == 0)
            {
                index++;
                continue;
            }

            int order = EntryOrder(entry);
            visit(index, new kvm_pfn_t(entry >> PfnShift), order);
            index += 1UL << order;
        }
    }

    /// <summary>The folio entry at an index: present, its page's pfn, the folio's order and whether it is up to date.</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public (bool Present, kvm_pfn_t Pfn, int Order, bool Uptodate) Folio(ulong index)
    {
        ThrowIfFreed();
        ulong entry = Entry(index);
        return ((entry & PresentBit) != 0, new kvm_pfn_t(entry >> PfnShift), EntryOrder(entry), (entry & UptodateBit) != 0);
    }

    /// <summary>Marks the page at <paramref name="index"/> hardware-poisoned: later get_pfn calls return EHWPOISON.</summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void Poison(ulong index)
    {
        ThrowIfFreed();
        ulong* e = EntryPointer(index, create: true);
        *e |= PoisonBit;
    }

    /// <summary>Models release of the file (close): unbind every slot, zap their ranges, free every folio.</summary>
    public void Release()
    {
        if (!IsOpen)
        {
            return;
        }

        foreach (var b in _bindings.ToArray())
        {
            _files.Mmu?.Invalidate(b.Slot, b.Pgoff, b.Npages);
        }

        _bindings.Clear();
        Punch(0, Pages);
        IsOpen = false;
    }

    /// <summary>Models release of the file, then frees its page cache.</summary>
    /// <remarks>
    /// <see cref="Release"/> (unbind, zap, free every folio to the allocator) if the file is still open, then frees the
    /// page-cache memory. Later calls do nothing; afterwards <see cref="Fallocate"/>, <see cref="GetPfn"/>,
    /// <see cref="PopulatePage"/>, <see cref="ForEachFolio"/>, <see cref="Folio"/> and <see cref="Poison"/> throw
    /// <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        Release();
        FreeMemory();
    }

    /// <summary>
    /// Frees the file's own memory without modelling a release (no zap, no invalidate hook, no allocator frees): for an
    /// owner that throws the whole host away, whose RMP and allocator are about to go too.
    /// </summary>
    /// <remarks>Afterwards the file is disposed (see <see cref="Dispose"/>); calling either again does nothing.</remarks>
    public void Discard()
    {
        _bindings.Clear();
        IsOpen = false;
        FreeMemory();
    }

    private void FreeMemory()
    {
        _chunks = null;
        _chunkTable.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfFreed()
    {
        if (_chunks == null)
        {
            throw Memory.Disposal.Exception(this);
        }
    }

    /// <summary>The value stored in <c>kvm_memory_slot.gmem.file</c> for this file.</summary>
    internal ulong FileId => (ulong)Fd + 1;

    internal Errno Bind(ulong offset, ulong npages, int slot, gfn_t baseGfn)
    {
        if (!IsOpen || (offset & PageSize.Mask4K) != 0)
        {
            return Errno.EINVAL;
        }

        ulong pgoff = offset >> PageSize.Shift4K;
        if (pgoff + npages > Pages || pgoff + npages < pgoff)
        {
            return Errno.EINVAL;
        }

        foreach (var b in _bindings)
        {
            if (pgoff < b.Pgoff + b.Npages && b.Pgoff < pgoff + npages)
            {
                return Errno.EINVAL;
            }
        }

        _bindings.Add(new Binding(pgoff, npages, slot, baseGfn));
        return Errno.Ok;
    }

    internal void Unbind(ulong pgoff) => _bindings.RemoveAll(b => b.Pgoff == pgoff);

    /// <summary>
    /// The gfn that file page <paramref name="index"/> backs through its binding (<c>slot-&gt;base_gfn + index -
    /// slot-&gt;gmem.pgoff</c>); false when no memslot binds the page.
    /// </summary>
    public bool TryGfnAt(ulong index, out gfn_t gfn)
    {
        foreach (var b in CollectionsMarshal.AsSpan(_bindings))
        {
            if (index - b.Pgoff < b.Npages)
            {
                gfn = b.BaseGfn + (index - b.Pgoff);
                return true;
            }
        }

        gfn = default;
        return false;
    }

    /// <summary>The memslot index bound to file page <paramref name="index"/>, or -1.</summary>
    public int BindingAt(ulong index)
    {
        foreach (var b in CollectionsMarshal.AsSpan(_bindings))
        {
            if (index - b.Pgoff < b.Npages)
            {
                return b.Slot;
            }
        }

        return -1;
    }

    /// <summary>Models <c>kvm_gmem_get_folio</c>: the folio that holds <paramref name="index"/>, allocated if missing.</summary>
    private Errno GetFolio(ulong index, out ulong entry)
    {
        entry = Entry(index);
        if ((entry & PresentBit) != 0)
        {
            return Errno.Ok;
        }

        int order = _twoMegHints is { } hints && FolioOrder == 0 && hints.Contains(index >> 9) ? 9 : FolioOrder;
        ulong head = index & ~((1UL << order) - 1);
        if (head + (1UL << order) > Pages || AnyPresent(head, 1UL << order))
        {
            order = 0; // a large folio that would cross i_size or meet an existing folio falls back to 4K
            head = index;
        }

        if (!_files.Allocator.TryAllocate(order, out var pfn))
        {
            return Errno.ENOMEM;
        }

        ulong tag = ((ulong)order << OrderShift) | PresentBit;
        if (!TryAppendLinear(head, pfn.Value, 1UL << order, tag, 1UL << order))
        {
            ulong* e = EntryPointer(head, create: true); // a folio never spans a chunk: both are naturally aligned, folio <= chunk
            for (ulong i = 0; i < 1UL << order; i++)
            {
                e[i] = ((pfn.Value + i) << PfnShift) | tag | (e[i] & PoisonBit);
            }
        }

        FoliosByOrder[order]++;
        _files.Arch?.FolioAllocated(this, head, pfn, order);
        entry = Entry(index);
        return Errno.Ok;
    }

    /// <summary>
    /// Models PUNCH_HOLE: invalidate the bound gfn ranges (zap), then truncate. A folio wholly inside the range is
    /// freed (<c>free_folio</c> -&gt; the arch invalidate hook -&gt; the allocator); a large folio partly inside is split
    /// into 4K folios first and only the pages inside are freed.
    /// </summary>
    private void Punch(ulong first, ulong end)
    {
        if (first >= end)
        {
            return;
        }

        foreach (var b in _bindings)
        {
            ulong lo = Math.Max(first, b.Pgoff), hi = Math.Min(end, b.Pgoff + b.Npages);
            if (lo < hi)
            {
                _files.Mmu?.Invalidate(b.Slot, lo, hi - lo);
            }
        }

        for (ulong index = first; index < end;)
        {
            ulong entry = Entry(index);
            if ((entry & PresentBit) == 0)
            {
                index++;
                continue;
            }

            int order = EntryOrder(entry);
            ulong head = index & ~((1UL << order) - 1);
            ulong size = 1UL << order;
            var headPfn = new kvm_pfn_t(Entry(head) >> PfnShift);
            if (head >= first && head + size <= end)
            {
                FreeFolio(head, headPfn, order);
                index = head + size;
                continue;
            }

            // Partial: split the folio into 4K folios (the THP series' truncation rule), then free the pages inside.
            _files.Allocator.Split(headPfn, order);
            for (ulong i = 0; i < size; i++)
            {
                ulong* e = EntryPointer(head + i, create: false);
                *e = (*e & ~(0x1FUL << OrderShift)) | ((*e & UptodateBit) != 0 ? UptodateBit : 0);
            }

            FoliosByOrder[order]--;
            FoliosByOrder[0] += (long)size;
            FolioSplits++;
            ulong stop = Math.Min(end, head + size);
            for (ulong i = index; i < stop; i++)
            {
                FreeFolio(i, new kvm_pfn_t(Entry(i) >> PfnShift), 0);
            }

            index = stop;
        }

        _files.Mmu?.InvalidateEnd();
    }

    private void FreeFolio(ulong head, kvm_pfn_t pfn, int order)
    {
        ulong size = 1UL << order;
        _files.Arch?.Invalidate(pfn, pfn + size);
        _files.Allocator.Free(pfn, order);
        ulong* e = EntryPointer(head, create: false);
        for (ulong i = 0; i < size; i++)
        {
            e[i] &= PoisonBit;
        }

        FoliosByOrder[order]--;
    }

    private bool AnyPresent(ulong head, ulong count)
    {
        ulong* chunk = _chunks[head >> ChunkShift];
        if (chunk == null)
        {
            return LinearOverlaps(head, count);
        }

        ulong* e = chunk + (head & ((1UL << ChunkShift) - 1));
        for (ulong i = 0; i < count; i++)
        {
            if ((e[i] & PresentBit) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Pages of the folio at <paramref name="head"/> that are not up to date (not populated).</summary>
    private ulong PagesNotUptodate(ulong head, int order)
    {
        ulong* e = EntryPointer(head, create: false);
        ulong count = 0;
        for (ulong i = 0; i < 1UL << order; i++)
        {
            count += (e[i] & UptodateBit) == 0 ? 1UL : 0;
        }

        return count;
    }

    /// <summary>True when a page of the folio at <paramref name="head"/> is already up to date (populated).</summary>
    private bool AnyUptodate(ulong head, int order)
    {
        ulong* e = EntryPointer(head, create: false);
        for (ulong i = 0; i < 1UL << order; i++)
        {
            if ((e[i] & UptodateBit) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A large folio that populate filled in part (per-page preparedness): each 2 MiB block (or the whole smaller
    /// folio) with a populated page has its other pages prepared one by one at 4K; blocks without one are prepared as
    /// a whole. Populated pages are already private and measured, and stay as they are.
    /// </summary>
    private Errno PreparePages(IGmemArch arch, ulong head, gfn_t firstGfn, kvm_pfn_t firstPfn, int order)
    {
        int blockOrder = Math.Min(order, 9);
        for (ulong block = 0; block < 1UL << order; block += 1UL << blockOrder)
        {
            if (!AnyUptodate(head + block, blockOrder))
            {
                int rc = arch.Prepare(this, firstGfn + block, firstPfn + block, blockOrder);
                if (rc != 0)
                {
                    return (Errno)(-rc);
                }

                continue;
            }

            ulong* e = EntryPointer(head + block, create: false);
            for (ulong i = 0; i < 1UL << blockOrder; i++)
            {
                int rc = (e[i] & UptodateBit) != 0 ? 0 : arch.Prepare(this, firstGfn + block + i, firstPfn + block + i, 0);
                if (rc != 0)
                {
                    return (Errno)(-rc);
                }
            }
        }

        return Errno.Ok;
    }

    private void SetFolioBits(ulong index, int order, ulong bits)
    {
        if (TrySetTailBits(index & ~((1UL << order) - 1), 1UL << order, bits))
        {
            return;
        }

        ulong* e = EntryPointer(index & ~((1UL << order) - 1), create: false);
        for (ulong i = 0; i < 1UL << order; i++)
        {
            e[i] |= bits;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Entry(ulong index)
    {
        ulong* chunk = _chunks[index >> ChunkShift];
        return chunk == null ? LinearEntry(index) : chunk[index & ((1UL << ChunkShift) - 1)];
    }

    private ulong* EntryPointer(ulong index, bool create)
    {
        ref ulong* chunk = ref _chunks[index >> ChunkShift];
        if (chunk == null)
        {
            if (!create && _linear[index >> ChunkShift].Count == 0)
            {
                throw new InvalidOperationException($"guest_memfd {Fd}: no page-cache chunk for index 0x{index:x}.");
            }

            chunk = (ulong*)_chunkTable.Allocate((long)(index >> ChunkShift));
            UnpackLinear(index >> ChunkShift, chunk);
        }

        return chunk + (index & ((1UL << ChunkShift) - 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int EntryOrder(ulong entry) => (int)((entry >> OrderShift) & 0x1F);

    private readonly record struct Binding(ulong Pgoff, ulong Npages, int Slot, gfn_t BaseGfn);
}
