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
    private ulong[]? _sharedBits; // in-place conversion only: bit set = the index is shared
    private Dictionary<ulong, int>? _pins;

    /// <summary>True when the file tracks shared/private per index (in-place conversion).</summary>
    public bool TracksAttributes => _sharedBits is not null;

    private void InitAttributes()
    {
        if (!_files.Kernel.InPlaceConversion)
        {
            return;
        }

        // kvm_gmem_init_inode: every index starts with the default attributes, shared with INIT_SHARED, else private.
        _sharedBits = new ulong[(Pages + 63) >> 6];
        if ((Flags & GuestMemfdFlags.InitShared) != 0)
        {
            Array.Fill(_sharedBits, ulong.MaxValue);
        }
    }

    /// <summary>
    /// <c>kvm_gmem_is_private_mem</c>: true when the file holds <paramref name="index"/> private. Without in-place
    /// conversion every index of a file without INIT_SHARED is private (the VM's attributes decide what faults see).
    /// </summary>
    public bool IsPrivateIndex(ulong index)
        => _sharedBits is null ? (Flags & GuestMemfdFlags.InitShared) == 0 : (_sharedBits[index >> 6] & (1UL << (int)(index & 63))) == 0;

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
        if (_sharedBits is null)
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
    /// shared/private state differs, else <paramref name="end"/>. Scans 64 indexes at a time.
    /// </summary>
    public ulong AttributeRunEnd(ulong start, ulong end)
    {
        if (_sharedBits is not { } bits || start >= end)
        {
            return end;
        }

        ulong flip = IsPrivateIndex(start) ? 0 : ulong.MaxValue; // a set bit of word ^ flip is an index that differs
        ulong word = start >> 6;
        ulong differ = (bits[word] ^ flip) & (ulong.MaxValue << (int)(start & 63));
        while (differ == 0)
        {
            if (++word << 6 >= end)
            {
                return end;
            }

            differ = bits[word] ^ flip;
        }

        return Math.Min(end, (word << 6) + (ulong)System.Numerics.BitOperations.TrailingZeroCount(differ));
    }

    private bool RangeHas(ulong start, ulong end, bool isPrivate) => IsPrivateIndex(start) == isPrivate && AttributeRunEnd(start, end) == end;

    private void SetShared(ulong start, ulong end, bool shared)
    {
        var bits = _sharedBits!;
        for (ulong i = start; i < end;)
        {
            int low = (int)(i & 63);
            int count = (int)Math.Min((ulong)(64 - low), end - i);
            ulong mask = (count == 64 ? ulong.MaxValue : (1UL << count) - 1) << low;
            bits[i >> 6] = shared ? bits[i >> 6] | mask : bits[i >> 6] & ~mask;
            i += (ulong)count;
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
        for (ulong i = start; i < end;)
        {
            ulong entry = Entry(i);
            if ((entry & PresentBit) == 0)
            {
                i++;
                continue;
            }

            ulong folioEnd = Math.Min(end, (i & ~((1UL << EntryOrder(entry)) - 1)) + (1UL << EntryOrder(entry)));
            ulong pfn = entry >> PfnShift;
            arch.Invalidate(new kvm_pfn_t(pfn), new kvm_pfn_t(pfn + (folioEnd - i)));
            i = folioEnd;
        }
    }
}
