using FastRmp.Engine.Gmem;
using System.Runtime.CompilerServices;
using FastRmp.Engine.Memory;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// A VM's memslots as <see cref="kvm_memory_slot"/> mirrors in unmanaged memory, each with its 2M and 1G
/// <see cref="kvm_lpage_info"/> arrays (pointed to from <c>arch.lpage_info</c>), created, changed and deleted with
/// the rules of KVM_SET_USER_MEMORY_REGION2.
/// </summary>
/// <remarks>
/// Models <c>kvm_set_memory_region</c> and <c>check_memory_region_flags</c> (virt/kvm/kvm_main.c, 6.8-6.18) and
/// <c>kvm_alloc_memslot_metadata</c> (arch/x86/kvm/x86.c; kernel-domain.md 2.2, 3.1). Slot storage never moves,
/// so the address of a slot (as <c>kvm_page_fault.slot</c> holds it) stays valid until the slot is deleted.
/// Not thread-safe.
/// </remarks>
public sealed unsafe class Memslots : IDisposable
{
    private readonly NativeBuffer _slots;
    private readonly NativeBuffer?[] _lpageInfo; // [index * 2 + level - 2]: the owner of arch.lpage_info[level - 2]
    private readonly IGmemBindings? _gmem;

    // The slot array's address and size, cached from _slots for Pointer. Dispose sets both to zero: Pointer's index
    // check then fails for every index and its throw path tells disposal apart, so lookups pay nothing for it.
    private kvm_memory_slot* _base;
    private int _capacity;
    private int[][] _sorted = [[], []];
    private ulong[][] _sortedBase = [[], []];
    private readonly Dictionary<int, int> _indexById = []; // (as_id << 16 | id) -> storage index
    private readonly SortedSet<int> _freed = []; // storage indexes below _unused freed by deletions
    private int _unused; // storage indexes from here up were never used

    /// <summary>Creates an empty set with room for <paramref name="capacity"/> slots.</summary>
    public Memslots(int capacity = 1024, IGmemBindings? gmem = null, MemslotOptions options = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, KvmLimits.UserMemslots * KvmLimits.AddressSpaces);
        _capacity = capacity;
        _gmem = gmem;
        Options = options;
        _slots = new NativeBuffer((long)capacity * sizeof(kvm_memory_slot));
        _base = (kvm_memory_slot*)_slots.Pointer;
        _lpageInfo = new NativeBuffer?[capacity * 2];
    }

    /// <summary>What-if options.</summary>
    public MemslotOptions Options { get; }

    /// <summary>Slots in use.</summary>
    public int Count => _sorted[0].Length + _sorted[1].Length;

    /// <summary>The slot stored at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the capacity.</exception>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public ref kvm_memory_slot this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Unsafe.AsRef<kvm_memory_slot>(Pointer(index));
    }

    /// <summary>The address of the slot stored at <paramref name="index"/> (what <c>kvm_page_fault.slot</c> holds).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the capacity.</exception>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public kvm_memory_slot* Pointer(int index)
    {
        if ((uint)index >= (uint)_capacity)
        {
            ThrowIndex(index);
        }

        return _base + index;
    }

    /// <summary>Models <c>kvm_set_memory_region</c> for KVM_SET_USER_MEMORY_REGION2: create, change flags, move, or (size 0) delete.</summary>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public Errno Set(in kvm_userspace_memory_region2 region)
    {
        if (_base == null)
        {
            throw Disposal.Exception(this);
        }

        int asId = region.AddressSpace;
        int id = region.SlotId;
        var flags = (MemslotFlags)region.flags;
        if (asId >= KvmLimits.AddressSpaces || id >= KvmLimits.UserMemslots || !FlagsValid(flags))
        {
            return Errno.EINVAL;
        }

        if ((region.memory_size & PageSize.Mask4K) != 0 || (region.guest_phys_addr & PageSize.Mask4K) != 0
            || (region.userspace_addr & PageSize.Mask4K) != 0
            || region.guest_phys_addr + region.memory_size < region.guest_phys_addr)
        {
            return Errno.EINVAL;
        }

        ulong npages = region.memory_size >> PageSize.Shift4K;
        if (npages > KvmLimits.MaxSlotPages)
        {
            return Errno.EINVAL;
        }

        int existing = FindById(asId, id);
        if (npages == 0)
        {
            if (existing < 0)
            {
                return Errno.EINVAL;
            }

            Delete(existing);
            return Errno.Ok;
        }

        var baseGfn = new gfn_t(region.guest_phys_addr >> PageSize.Shift4K);
        if (existing >= 0)
        {
            return Change(existing, baseGfn, npages, flags);
        }

        if (Overlaps(asId, baseGfn, npages, except: -1))
        {
            return Errno.EEXIST;
        }

        int index = FreeIndex();
        if (index < 0)
        {
            return Errno.ENOSPC;
        }

        ulong file = 0;
        if ((flags & MemslotFlags.GuestMemfd) != 0)
        {
            if (_gmem is null)
            {
                _freed.Add(index);
                return Errno.EINVAL;
            }

            var bound = _gmem.Bind(region.guest_memfd, region.guest_memfd_offset, npages, index, new gfn_t(region.guest_phys_addr >> PageSize.Shift4K), out file);
            if (bound != Errno.Ok)
            {
                _freed.Add(index); // the index stays unused
                return bound;
            }
        }

        ref var slot = ref this[index];
        slot = default;
        slot.base_gfn = baseGfn;
        slot.npages = npages;
        slot.userspace_addr = new hva_t(region.userspace_addr);
        slot.flags = (uint)flags;
        slot.id = (short)id;
        slot.as_id = (ushort)asId;
        slot.gmem.file = file;
        slot.gmem.pgoff = region.guest_memfd_offset >> PageSize.Shift4K;
        AllocateLpageInfo(index);
        Insert(asId, index);
        return Errno.Ok;
    }

    /// <summary>
    /// The slot of address space <paramref name="asId"/> that contains <paramref name="gfn"/>, else the first slot
    /// above it; -1 when there is neither. What a walk over a gfn range uses to step from slot to slot instead of
    /// page by page.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public int FindAtOrAbove(int asId, gfn_t gfn)
    {
        int index = Find(asId, gfn);
        if (index >= 0)
        {
            return index;
        }

        var bases = _sortedBase[asId];
        int pos = Array.BinarySearch(bases, gfn.Value);
        pos = pos < 0 ? ~pos : pos + 1;
        return pos < bases.Length ? _sorted[asId][pos] : -1;
    }

    /// <summary>Finds the slot of address space <paramref name="asId"/> that contains <paramref name="gfn"/>; -1 when none does.</summary>
    /// <remarks>Models <c>__gfn_to_memslot</c> (binary search over slots sorted by base gfn).</remarks>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public int Find(int asId, gfn_t gfn)
    {
        var bases = _sortedBase[asId];
        int lo = 0, hi = bases.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (bases[mid] <= gfn.Value)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        if (found < 0)
        {
            if (_base == null)
            {
                throw Disposal.Exception(this); // Dispose empties the sorted lists, so a disposed set always lands here
            }

            return -1;
        }

        int index = _sorted[asId][found];
        ref var slot = ref this[index];
        return gfn.Value - slot.base_gfn.Value < slot.npages ? index : -1;
    }

    /// <summary>Indices of the slots of an address space, by base gfn.</summary>
    public ReadOnlySpan<int> InAddressSpace(int asId) => _sorted[asId];

    /// <summary>
    /// The <c>kvm_lpage_info</c> of the hugepage of <paramref name="level"/> (2M or 1G) that holds <paramref name="gfn"/>
    /// in slot <paramref name="index"/>: entry <c>(gfn &gt;&gt; shift) - (base_gfn &gt;&gt; shift)</c> of <c>arch.lpage_info[level - 2]</c>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public ref kvm_lpage_info LpageInfo(int index, PgLevel level, gfn_t gfn)
    {
        ref var slot = ref this[index];
        int shift = LevelShift(level);
        ulong i = (gfn.Value >> shift) - (slot.base_gfn.Value >> shift);
        return ref ((kvm_lpage_info*)slot.arch.lpage_info[(int)level - 2])[i];
    }

    /// <summary>Entries of the slot's lpage_info array at <paramref name="level"/>.</summary>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public ulong LpageCount(int index, PgLevel level)
    {
        ref var slot = ref this[index];
        int shift = LevelShift(level);
        return ((slot.base_gfn.Value + slot.npages - 1) >> shift) - (slot.base_gfn.Value >> shift) + 1;
    }

    /// <summary>Frees the slots and their lpage_info arrays.</summary>
    /// <remarks>
    /// Frees every slot's lpage_info arrays and the slot array (nothing is unbound from guest_memfd: the VM is going
    /// away). Later calls do nothing; afterwards the indexer, <see cref="Pointer"/>, <see cref="Set"/>,
    /// <see cref="Find"/>, <see cref="LpageInfo"/> and <see cref="LpageCount"/> throw
    /// <see cref="ObjectDisposedException"/>; <see cref="Count"/> is 0.
    /// </remarks>
    public void Dispose()
    {
        if (_base == null)
        {
            return;
        }

        _base = null;
        _capacity = 0;
        foreach (var owner in _lpageInfo)
        {
            owner?.Dispose();
        }

        Array.Clear(_lpageInfo);
        _sorted = [[], []];
        _sortedBase = [[], []];
        _indexById.Clear();
        _freed.Clear();
        _slots.Dispose();
    }

    internal static int LevelShift(PgLevel level) => ((int)level - 1) * 9;

    private bool FlagsValid(MemslotFlags flags)
    {
        const MemslotFlags user = MemslotFlags.LogDirtyPages | MemslotFlags.ReadOnly | MemslotFlags.GuestMemfd;
        if ((flags & ~user) != 0)
        {
            return false;
        }

        if ((flags & MemslotFlags.GuestMemfd) == 0)
        {
            return true;
        }

        // Dirty logging of private memory is not supported; read-only slots have MMIO semantics (kernel-domain.md 3.1).
        return Options.PrivateMemory
            && (flags & MemslotFlags.ReadOnly) == 0
            && ((flags & MemslotFlags.LogDirtyPages) == 0 || Options.AllowDirtyLoggingOnGmem);
    }

    private Errno Change(int index, gfn_t baseGfn, ulong npages, MemslotFlags flags)
    {
        ref var slot = ref this[index];
        var old = (MemslotFlags)slot.flags & ~(MemslotFlags.Invalid | MemslotFlags.GmemOnly); // the kernel's own bits
        if (npages != slot.npages)
        {
            return Errno.EINVAL; // resizing is not supported
        }

        bool moved = baseGfn != slot.base_gfn;
        bool gmem = (old & MemslotFlags.GuestMemfd) != 0;
        bool gmemFlagChangeAllowed = old == flags || Options.AllowDirtyLoggingOnGmem;
        if (((old ^ flags) & (MemslotFlags.ReadOnly | MemslotFlags.GuestMemfd)) != 0 || (gmem && (moved || !gmemFlagChangeAllowed)))
        {
            return Errno.EINVAL; // only dirty logging may change; a gmem slot can only be deleted (unless the what-if)
        }

        if (moved)
        {
            if (Overlaps(slot.as_id, baseGfn, npages, except: index))
            {
                return Errno.EEXIST;
            }

            Remove(slot.as_id, index);
            FreeLpageInfo(index);
            slot.base_gfn = baseGfn;
            AllocateLpageInfo(index);
            Insert(slot.as_id, index);
        }

        slot.flags = (slot.flags & ~(uint)MemslotFlags.LogDirtyPages) | (uint)(flags & MemslotFlags.LogDirtyPages);
        return Errno.Ok;
    }

    private void Delete(int index)
    {
        ref var slot = ref this[index];
        if (slot.gmem.file != 0)
        {
            _gmem?.Unbind(slot.gmem.file, slot.gmem.pgoff, slot.npages);
        }

        Remove(slot.as_id, index);
        FreeLpageInfo(index);
        slot = default;
        _freed.Add(index);
    }

    /// <summary>
    /// Models <c>kvm_alloc_memslot_metadata</c>'s lpage_info setup (arch/x86/kvm/x86.c): one entry per hugepage the
    /// slot touches; the first and last are disallowed when the slot does not start or end on the hugepage boundary,
    /// and all are disallowed when the gfn and the userspace address disagree inside the hugepage.
    /// </summary>
    private void AllocateLpageInfo(int index)
    {
        ref var slot = ref this[index];
        for (var level = PgLevel.Level2M; level <= PgLevel.Level1G; level++)
        {
            int shift = LevelShift(level);
            ulong mask = (1UL << shift) - 1;
            ulong count = ((slot.base_gfn.Value + slot.npages - 1) >> shift) - (slot.base_gfn.Value >> shift) + 1;
            var owner = new NativeBuffer(checked((long)count * sizeof(kvm_lpage_info)));
            _lpageInfo[(index * 2) + (int)level - 2] = owner;
            var info = (kvm_lpage_info*)owner.Pointer;
            if ((slot.base_gfn.Value & mask) != 0)
            {
                info[0].disallow_lpage = 1;
            }

            if (((slot.base_gfn.Value + slot.npages) & mask) != 0)
            {
                info[count - 1].disallow_lpage = 1;
            }

            if (((slot.base_gfn.Value ^ (slot.userspace_addr.Value >> PageSize.Shift4K)) & mask) != 0)
            {
                for (ulong i = 0; i < count; i++)
                {
                    info[i].disallow_lpage = 1;
                }
            }

            slot.arch.lpage_info[(int)level - 2] = (ulong)info;
        }
    }

    private void FreeLpageInfo(int index)
    {
        ref var slot = ref this[index];
        for (int i = 0; i < 2; i++)
        {
            _lpageInfo[(index * 2) + i]?.Dispose();
            _lpageInfo[(index * 2) + i] = null;
            slot.arch.lpage_info[i] = 0;
        }
    }

    private int FindById(int asId, int id) => _indexById.TryGetValue((asId << 16) | id, out int index) ? index : -1;

    /// <summary>
    /// True when [baseGfn, +npages) meets a slot of <paramref name="asId"/> other than <paramref name="except"/>. The
    /// slots of an address space never overlap and are sorted by base, so only the slot before the range's start and
    /// those starting inside it can meet it: a binary search and a few steps, not a walk of every slot.
    /// </summary>
    private bool Overlaps(int asId, gfn_t baseGfn, ulong npages, int except)
    {
        var bases = _sortedBase[asId];
        var order = _sorted[asId];
        int pos = Array.BinarySearch(bases, baseGfn.Value);
        pos = pos < 0 ? ~pos : pos;
        ulong end = baseGfn.Value + npages;
        for (int i = Math.Max(0, pos - 1); i < order.Length && bases[i] < end; i++)
        {
            ref var s = ref this[order[i]];
            if (order[i] != except && baseGfn.Value < s.base_gfn.Value + s.npages)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The lowest storage index not in use, or -1 when every one is.</summary>
    private int FreeIndex()
    {
        if (_freed.Count != 0)
        {
            int reused = _freed.Min;
            _freed.Remove(reused);
            return reused;
        }

        return _unused < _capacity ? _unused++ : -1;
    }

    private void Insert(int asId, int index)
    {
        ulong value = this[index].base_gfn.Value;
        var order = _sorted[asId];
        var bases = _sortedBase[asId];
        int pos = Array.BinarySearch(bases, value);
        pos = pos < 0 ? ~pos : pos;
        _sorted[asId] = [.. order.AsSpan(0, pos), index, .. order.AsSpan(pos)];
        _sortedBase[asId] = [.. bases.AsSpan(0, pos), value, .. bases.AsSpan(pos)];
        _indexById[(asId << 16) | (ushort)this[index].id] = index;
    }

    private void Remove(int asId, int index)
    {
        int pos = Array.IndexOf(_sorted[asId], index);
        _sorted[asId] = [.. _sorted[asId].AsSpan(0, pos), .. _sorted[asId].AsSpan(pos + 1)];
        _sortedBase[asId] = [.. _sortedBase[asId].AsSpan(0, pos), .. _sortedBase[asId].AsSpan(pos + 1)];
        _indexById.Remove((asId << 16) | (ushort)this[index].id);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowIndex(int index)
    {
        if (_base == null)
        {
            throw Disposal.Exception(this); // Dispose sets the capacity to 0, so a disposed set always lands here
        }

        throw new ArgumentOutOfRangeException(nameof(index), $"Slot index {index} is outside 0..{_capacity - 1}.");
    }
}

/// <summary>Options of the memslot model.</summary>
/// <param name="PrivateMemory">The VM supports private memory (KVM_MEM_GUEST_MEMFD is accepted): SNP or SW_PROTECTED VMs.</param>
/// <param name="AllowDirtyLoggingOnGmem">
/// What-if: accept KVM_MEM_LOG_DIRTY_PAGES on guest_memfd slots, which mainline rejects (kernel-domain.md 3.1); used
/// by the dirty-log scenario of the 2023 debate.
/// </param>
public readonly record struct MemslotOptions(bool PrivateMemory = true, bool AllowDirtyLoggingOnGmem = false);
