using System.Runtime.InteropServices;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Gmem;

/// <summary>
/// In-place conversion (kvm-x86, 2026; <see cref="Kvm.KvmKernel.InPlaceConversion"/>): guest_memfd keeps the
/// shared/private state of every index itself and converts with <c>KVM_SET_MEMORY_ATTRIBUTES2</c> on the file, and
/// userspace maps the shared pages of the file (GUEST_MEMFD_FLAG_MMAP) instead of memory of its own.
/// </summary>
/// <remarks>
/// Source: virt/kvm/guest_memfd.c of the kvm-x86 tree with the series "guest_memfd: In-place conversion support" (v7,
/// 2026-05-22; <c>kvm_gmem_get_default_attributes</c>, <c>kvm_gmem_is_private_mem</c>,
/// <c>__kvm_gmem_set_attributes</c>, <c>kvm_gmem_set_attributes</c>, <c>kvm_gmem_has_outstanding_references</c>,
/// <c>kvm_gmem_make_shared</c>, <c>kvm_gmem_fault_user_mapping</c>); upstream-2024-2026.md. The maple tree of
/// attributes is one bit per index here (set: shared). Outstanding references are the pins userspace takes on shared
/// pages it mapped (<see cref="Pin"/>: GUP, e.g. a virtio buffer under DMA); the model has no other holders.
/// </remarks>
public sealed unsafe partial class GuestMemfd
{
    // In-place conversion only: the shared bit of every index (set = shared), in blocks of one chunk's indexes
    // (2^ChunkShift, 32 KiB of bits). A block whose indexes are all private or all shared is one of two read-only
    // sentinels, copied on first write: a sparse 64 TiB model file (the replay's inferred memslots) costs 512 KiB of
    // block references instead of a 2 GiB bitmap, and converting all of it costs nothing more (found by fuzzing).
    private const int AttrBlockWordShift = ChunkShift - 6;
    private const ulong AttrBlockWordMask = (1UL << AttrBlockWordShift) - 1;
    private static readonly ulong[] s_allPrivate = new ulong[1 << AttrBlockWordShift];
    private static readonly ulong[] s_allShared = CreateAllShared();
    private ulong[][]? _sharedBlocks;
    private Dictionary<ulong, int>? _pins;

    /// <summary>True when the file tracks shared/private per index (in-place conversion).</summary>
    public bool TracksAttributes => _sharedBlocks is not null;

    private static ulong[] CreateAllShared()
    {
        var block = new ulong[1 << AttrBlockWordShift];
        Array.Fill(block, ulong.MaxValue);
        return block;
    }

    /// <summary>Word <paramref name="word"/> of the shared bits (indexes word*64 to word*64+63).</summary>
    private ulong SharedWord(ulong word) => _sharedBlocks![word >> AttrBlockWordShift][word & AttrBlockWordMask];

    private void InitAttributes()
    {
        if (!_files.Kernel.InPlaceConversion)
        {
            return;
        }

        // kvm_gmem_init_inode: every index starts with the default attributes, shared with INIT_SHARED, else private.
        _sharedBlocks = new ulong[(Pages + (1UL << ChunkShift) - 1) >> ChunkShift][];
        Array.Fill(_sharedBlocks, (Flags & GuestMemfdFlags.InitShared) != 0 ? s_allShared : s_allPrivate);
    }

    /// <summary>
    /// <c>kvm_gmem_is_private_mem</c>: true when the file holds <paramref name="index"/> private. Without in-place
    /// conversion every index of a file without INIT_SHARED is private (the VM's attributes decide what faults see).
    /// </summary>
    public bool IsPrivateIndex(ulong index)
        => _sharedBlocks is null ? (Flags & GuestMemfdFlags.InitShared) == 0 : (SharedWord(index >> 6) & (1UL << (int)(index & 63))) == 0;

    /// <summary>
    /// Userspace maps the shared page at <paramref name="index"/> (allocating its folio as
    /// <c>kvm_gmem_fault_user_mapping</c> does) and takes a reference that outlives the mapping (GUP: a pinned DMA
    /// buffer). ENODEV without GUEST_MEMFD_FLAG_MMAP; EACCES (SIGBUS) for a private index; EINVAL past i_size.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public Errno Pin(ulong index)
    {
        ThrowIfFreed();
        if ((Flags & GuestMemfdFlags.Mmap) == 0)
        {
            return Errno.ENODEV;
        }

        if (index >= Pages)
        {
            return Errno.EINVAL;
        }

        if (IsPrivateIndex(index))
        {
            return Errno.EACCES;
        }

        var error = GetFolio(index, out _);
        if (error != Errno.Ok)
        {
            return error;
        }

        _pins ??= [];
        _pins[index] = _pins.GetValueOrDefault(index) + 1;
        return Errno.Ok;
    }

    /// <summary>Drops one reference <see cref="Pin"/> took (the DMA completed); false when the page held none.</summary>
    public bool Unpin(ulong index)
    {
        if (_pins is null || !_pins.TryGetValue(index, out int pins))
        {
            return false;
        }

        if (pins == 1)
        {
            _pins.Remove(index);
        }
        else
        {
            _pins[index] = pins - 1;
        }

        return true;
    }

    /// <summary>
    /// Models <c>KVM_SET_MEMORY_ATTRIBUTES2</c> on the file (<c>kvm_gmem_set_attributes</c>): ENOTTY unless the
    /// kernel converts in place; EINVAL for flags, reserved words, attributes other than PRIVATE, a zero, unaligned or
    /// wrapping range, or one past i_size. Nothing happens when the range already has the attributes. A conversion to
    /// private first checks for outstanding references and fails with EAGAIN, reporting the first such page in
    /// <paramref name="errorOffset"/>. Then the bound gfns' mappings of the other kind are zapped (and the VM's view of
    /// the attributes updated), a conversion to shared gives the present folios' pages back to the host
    /// (<c>kvm_arch_gmem_make_shared</c>: SNP's RMPUPDATE to shared, PSMASH first where a 2M entry is split), and the
    /// attributes are stored.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public Errno SetAttributes(in kvm_memory_attributes2 request, out ulong errorOffset)
    {
        ThrowIfFreed();
        errorOffset = 0;
        if (_sharedBlocks is null)
        {
            return Errno.ENOTTY;
        }

        foreach (ulong word in request.reserved)
        {
            if (word != 0)
            {
                return Errno.EINVAL;
            }
        }

        if (request.flags != 0 || (request.attributes & ~(ulong)MemoryAttributes.Private) != 0
            || request.size == 0 || request.offset + request.size < request.offset
            || ((request.offset | request.size) & PageSize.Mask4K) != 0
            || request.offset >= Size || request.offset + request.size > Size)
        {
            return Errno.EINVAL;
        }

        bool toPrivate = request.attributes != 0;
        ulong start = request.offset >> PageSize.Shift4K;
        ulong end = start + (request.size >> PageSize.Shift4K);
        if (RangeHas(start, end, toPrivate))
        {
            return Errno.Ok;
        }

        if (toPrivate && FirstPinned(start, end) is ulong busy)
        {
            errorOffset = busy << PageSize.Shift4K;
            return Errno.EAGAIN;
        }

        foreach (var b in CollectionsMarshal.AsSpan(_bindings)) // Convert changes no binding
        {
            ulong from = Math.Max(start, b.Pgoff);
            ulong to = Math.Min(end, b.Pgoff + b.Npages);
            if (from < to)
            {
                _files.Mmu?.Convert(b.Slot, from, to - from, toPrivate);
            }
        }

        if (!toPrivate && _files.Arch is { } arch)
        {
            MakeShared(arch, start, end);
        }

        SetShared(start, end, !toPrivate);
        _files.Mmu?.InvalidateEnd();
        return Errno.Ok;
    }

    /// <summary>
    /// The end of the run of indexes with <paramref name="start"/>'s attributes: the first index in (start, end) whose
    /// shared/private state differs, else <paramref name="end"/>. Scans 64 indexes at a time, and a block that is all
    /// of start's kind at once.
    /// </summary>
    public ulong AttributeRunEnd(ulong start, ulong end)
    {
        if (_sharedBlocks is not { } blocks || start >= end)
        {
            return end;
        }

        ulong flip = IsPrivateIndex(start) ? 0 : ulong.MaxValue; // a set bit of word ^ flip is an index that differs
        var same = flip == 0 ? s_allPrivate : s_allShared;
        ulong word = start >> 6;
        ulong differ = (SharedWord(word) ^ flip) & (ulong.MaxValue << (int)(start & 63));
        while (differ == 0)
        {
            word++;
            while ((word & AttrBlockWordMask) == 0 && word << 6 < end && (word >> AttrBlockWordShift) < (ulong)blocks.Length
                && ReferenceEquals(blocks[word >> AttrBlockWordShift], same))
            {
                word += 1UL << AttrBlockWordShift;
            }

            if (word << 6 >= end || (word >> AttrBlockWordShift) >= (ulong)blocks.Length)
            {
                return end;
            }

            differ = SharedWord(word) ^ flip;
        }

        return Math.Min(end, (word << 6) + (ulong)System.Numerics.BitOperations.TrailingZeroCount(differ));
    }

    private bool RangeHas(ulong start, ulong end, bool isPrivate) => IsPrivateIndex(start) == isPrivate && AttributeRunEnd(start, end) == end;

    private void SetShared(ulong start, ulong end, bool shared)
    {
        var blocks = _sharedBlocks!;
        const ulong blockMask = (1UL << ChunkShift) - 1;
        for (ulong i = start; i < end;)
        {
            ulong b = i >> ChunkShift;
            ulong blockEnd = Math.Min(end, (i | blockMask) + 1);
            if ((i & blockMask) == 0 && blockEnd - i == 1UL << ChunkShift)
            {
                blocks[b] = shared ? s_allShared : s_allPrivate; // a whole block: a sentinel, nothing allocated
                i = blockEnd;
                continue;
            }

            var bits = blocks[b];
            if (ReferenceEquals(bits, shared ? s_allShared : s_allPrivate))
            {
                i = blockEnd; // already so
                continue;
            }

            if (ReferenceEquals(bits, s_allShared) || ReferenceEquals(bits, s_allPrivate))
            {
                bits = blocks[b] = (ulong[])bits.Clone(); // copy on write
            }

            for (; i < blockEnd;)
            {
                int low = (int)(i & 63);
                int count = (int)Math.Min((ulong)(64 - low), blockEnd - i);
                ulong mask = (count == 64 ? ulong.MaxValue : (1UL << count) - 1) << low;
                ref ulong word = ref bits[(i >> 6) & AttrBlockWordMask];
                word = shared ? word | mask : word & ~mask;
                i += (ulong)count;
            }
        }
    }

    private ulong? FirstPinned(ulong start, ulong end)
    {
        ulong? first = null;
        if (_pins is not null)
        {
            foreach (ulong index in _pins.Keys)
            {
                if (index >= start && index < end && (first is null || index < first))
                {
                    first = index;
                }
            }
        }

        return first;
    }

    /// <summary><c>kvm_gmem_make_shared</c>: the pages of the present folios in [start, end), one contiguous pfn run per folio.</summary>
    private void MakeShared(IGmemArch arch, ulong start, ulong end)
    {
        const ulong mask = (1UL << ChunkShift) - 1;
        for (ulong i = start; i < end;)
        {
            ulong entry = Entry(i);
            if ((entry & PresentBit) == 0)
            {
                // Absent pages are skipped a chunk or a scan for the next present entry at a time, not page by page:
                // a conversion may span a whole sparse 64 TiB model file (found by fuzzing the replay).
                ulong chunkEnd = Math.Min(end, (i | mask) + 1);
                ulong* chunk = _chunks[i >> ChunkShift];
                i = chunk != null ? NextPresent(chunk, i, chunkEnd) : _linear[i >> ChunkShift].Count == 0 ? chunkEnd : i + 1;
                continue;
            }

            ulong folioEnd = Math.Min(end, (i & ~((1UL << EntryOrder(entry)) - 1)) + (1UL << EntryOrder(entry)));
            ulong pfn = entry >> PfnShift;
            arch.Invalidate(new kvm_pfn_t(pfn), new kvm_pfn_t(pfn + (folioEnd - i)));
            i = folioEnd;
        }
    }
}
