using System.Numerics;
using System.Runtime.CompilerServices;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// Per-gfn memory attributes of a VM (KVM_SET_MEMORY_ATTRIBUTES; <c>kvm-&gt;mem_attr_array</c>): one PRIVATE bit per
/// guest frame, stored as 32 KiB bitmaps per 1 GiB of guest physical space that exist only once something in that
/// GiB is private.
/// </summary>
/// <remarks>
/// Models <c>kvm_vm_ioctl_set_mem_attributes</c> (virt/kvm/kvm_main.c, 6.8-6.18; validation recalled in
/// kernel-domain.md 3.2). Guest physical addresses up to 2^<see cref="AddressBits"/>. Not thread-safe.
/// </remarks>
public sealed unsafe class MemoryAttributeMap : IDisposable
{
    private const int ChunkShift = 18; // gfns per chunk: 1 GiB
    private const int WordsPerChunk = (1 << ChunkShift) / 64;

    private readonly Memory.NativeChunkTable _table;

    // The chunk table's slots and size, cached from _table for the lookups. Dispose sets both to zero: a lookup then
    // takes its out-of-range branch, which tells disposal apart, so IsPrivate pays nothing for the disposed check.
    private ulong** _chunks;
    private ulong _chunkCount;

    /// <summary>Creates a map where every gfn is shared.</summary>
    public MemoryAttributeMap(int addressBits = 48)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(addressBits, 30);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(addressBits, 52);
        AddressBits = addressBits;
        _chunkCount = 1UL << (addressBits - 12 - ChunkShift);
        _table = new Memory.NativeChunkTable((long)_chunkCount, WordsPerChunk * sizeof(ulong));
        _chunks = (ulong**)_table.Slots;
    }

    /// <summary>Width of the guest physical address space covered.</summary>
    public int AddressBits { get; }

    /// <summary>The attributes this model supports (KVM_CAP_MEMORY_ATTRIBUTES for a VM with private memory).</summary>
    public static MemoryAttributes Supported => MemoryAttributes.Private;

    /// <summary>Models <c>kvm_mem_is_private(kvm, gfn)</c>.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPrivate(gfn_t gfn)
    {
        ulong chunk = gfn.Value >> ChunkShift;
        if (chunk >= _chunkCount)
        {
            ThrowIfDisposed();
            return false;
        }

        ulong* bits = _chunks[chunk];
        return bits != null && (bits[(gfn.Value >> 6) & (WordsPerChunk - 1)] & (1UL << (int)gfn.Value)) != 0;
    }

    /// <summary>The address of the word that holds <paramref name="gfn"/>'s attributes, or null when none is allocated (a prefetch hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong* WordLine(gfn_t gfn)
    {
        ulong chunk = gfn.Value >> ChunkShift;
        return chunk < _chunkCount && _chunks[chunk] is var bits && bits != null ? bits + ((gfn.Value >> 6) & (WordsPerChunk - 1)) : null;
    }

    /// <summary>
    /// Models KVM_SET_MEMORY_ATTRIBUTES: EINVAL for non-zero flags, unsupported attributes, a zero size, an
    /// unaligned or overflowing range, or one beyond the address space. <paramref name="changed"/> is false when
    /// every gfn already had the attributes (the kernel then does nothing, not even a zap).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public Errno Set(in kvm_memory_attributes request, out bool changed)
    {
        ThrowIfDisposed();
        changed = false;
        var error = Validate(request);
        if (error != Errno.Ok)
        {
            return error;
        }

        var start = new gfn_t(request.address >> PageSize.Shift4K);
        ulong count = request.size >> PageSize.Shift4K;
        bool makePrivate = (request.attributes & (ulong)MemoryAttributes.Private) != 0;
        if (RangeIs(start, count, makePrivate))
        {
            return Errno.Ok;
        }

        changed = true;
        SetRange(start, count, makePrivate);
        return Errno.Ok;
    }

    /// <summary>
    /// The validation of KVM_SET_MEMORY_ATTRIBUTES: EINVAL for non-zero flags, unsupported attributes, a zero size, an
    /// unaligned or overflowing range, or one beyond the address space.
    /// </summary>
    public Errno Validate(in kvm_memory_attributes request)
    {
        ulong end = request.address + request.size;
        bool beyond = end >> AddressBits != 0 && end != 1UL << AddressBits;
        return request.flags != 0 || (request.attributes & ~(ulong)Supported) != 0 || request.size == 0
            || ((request.address | request.size) & PageSize.Mask4K) != 0 || end < request.address || beyond
            ? Errno.EINVAL
            : Errno.Ok;
    }

    /// <summary>True when every gfn of [start, start + count) has the PRIVATE bit equal to <paramref name="isPrivate"/>.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool RangeIs(gfn_t start, ulong count, bool isPrivate)
    {
        ThrowIfDisposed();
        ulong gfn = start.Value, end = start.Value + count;
        while (gfn < end)
        {
            ulong chunk = gfn >> ChunkShift;
            ulong chunkEnd = Math.Min(end, (chunk + 1) << ChunkShift);
            ulong* bits = chunk < _chunkCount ? _chunks[chunk] : null;
            if (bits == null)
            {
                if (isPrivate)
                {
                    return false;
                }
            }
            else if (!BitsAre(bits, gfn & ((1UL << ChunkShift) - 1), chunkEnd - gfn, isPrivate))
            {
                return false;
            }

            gfn = chunkEnd;
        }

        return true;
    }

    /// <summary>Frees the bitmaps.</summary>
    /// <remarks>
    /// Frees every bitmap and the chunk table. Later calls do nothing; afterwards <see cref="IsPrivate"/>,
    /// <see cref="Set"/>, <see cref="RangeIs"/> and <see cref="CountPrivate"/> throw
    /// <see cref="ObjectDisposedException"/> (<see cref="Validate"/>, which reads no memory, still answers).
    /// </remarks>
    public void Dispose()
    {
        _chunks = null;
        _chunkCount = 0;
        _table.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_chunks == null)
        {
            throw Memory.Disposal.Exception(this);
        }
    }

    private void SetRange(gfn_t start, ulong count, bool isPrivate)
    {
        ulong gfn = start.Value, end = start.Value + count;
        while (gfn < end)
        {
            ulong chunk = gfn >> ChunkShift;
            ulong chunkEnd = Math.Min(end, (chunk + 1) << ChunkShift);
            ulong* bits = _chunks[chunk];
            if (bits == null && isPrivate)
            {
                bits = (ulong*)_table.Allocate((long)chunk);
            }

            if (bits != null)
            {
                FillBits(bits, gfn & ((1UL << ChunkShift) - 1), chunkEnd - gfn, isPrivate);
            }

            gfn = chunkEnd;
        }
    }

    private static bool BitsAre(ulong* bits, ulong first, ulong count, bool value)
    {
        ulong want = value ? ulong.MaxValue : 0;
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << offset;
            if ((bits[i >> 6] & mask) != (want & mask))
            {
                return false;
            }

            i += (ulong)n;
        }

        return true;
    }

    private static void FillBits(ulong* bits, ulong first, ulong count, bool value)
    {
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << offset;
            bits[i >> 6] = value ? bits[i >> 6] | mask : bits[i >> 6] & ~mask;
            i += (ulong)n;
        }
    }

    /// <summary>Number of private gfns (for reports and tests).</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public ulong CountPrivate()
    {
        ThrowIfDisposed();
        ulong total = 0;
        for (ulong c = 0; c < _chunkCount; c++)
        {
            if (_chunks[c] != null)
            {
                foreach (ulong w in new ReadOnlySpan<ulong>(_chunks[c], WordsPerChunk))
                {
                    total += (ulong)BitOperations.PopCount(w);
                }
            }
        }

        return total;
    }
}
