using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

/// <summary>How a VM is built.</summary>
/// <param name="Type">SNP (hardware RMP checks and hooks) or SW_PROTECTED (guest_memfd without hardware protection).</param>
/// <param name="Asid">The SNP guest's ASID.</param>
/// <param name="FolioOrder">guest_memfd folio order: 0 (upstream), 9 (THP series), 18 (HugeTLB series).</param>
/// <param name="AllowDirtyLoggingOnGmem">What-if: accept dirty logging on guest_memfd slots (mainline refuses).</param>
/// <param name="MemslotCapacity">Memslots the VM can hold.</param>
/// <param name="BatchFreshFaults">
/// Let range operations fault runs of fresh 4 KiB folios in at once (<see cref="Vm.FaultInFreshRun4K"/>); false
/// takes every page through the per-page path, the reference the batched one must agree with.
/// </param>
/// <param name="Kernel">Which kernel's KVM the VM follows where releases differ (<see cref="KvmKernel"/>; null: <see cref="KvmKernel.Default"/>).</param>
public sealed record VmConfig(
    KvmVmType Type = KvmVmType.Snp,
    uint Asid = 1,
    int FolioOrder = 0,
    bool AllowDirtyLoggingOnGmem = false,
    int MemslotCapacity = 1024,
    bool BatchFreshFaults = true,
    KvmKernel? Kernel = null)
{
    /// <summary>The kernel the VM follows.</summary>
    public KvmKernel Kernel { get; init; } = Kernel ?? KvmKernel.Default;

    /// <summary>
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled with KVM_DIRTY_LOG_INITIALLY_SET: enabling dirty logging on a slot
    /// neither splits nor write-protects anything (<c>kvm_dirty_log_manual_protect_and_init_set</c>, arch/x86/kvm/x86.c,
    /// 6.18); the model has no KVM_CLEAR_DIRTY_LOG, which is where such a VM write-protects later.
    /// </summary>
    public bool DirtyLogInitiallySet { get; init; }

    /// <summary>kvm's <c>eager_page_split</c> module parameter (default on, arch/x86/kvm/x86.c, 6.18): enabling dirty logging splits huge leaves to 4K.</summary>
    public bool EagerPageSplit { get; init; } = true;
}

/// <summary>
/// One VM of the model: memslots, memory attributes, guest_memfd files, the NPT, and KVM's private-fault path over
/// them, with the vendor hooks of <see cref="IKvmArch"/> (for SNP, over the host's <see cref="RmpTable"/>).
/// </summary>
/// <remarks>
/// Shared (non-gmem) memory is backed by 4 KiB host pages allocated on first touch, so shared mappings are 4K (the
/// model has no transparent huge pages in the VMM's address space). Not thread-safe.
/// </remarks>
public sealed unsafe partial class Vm : IGmemMmu, IDisposable
{
    private readonly IFolioAllocator _allocator;
    private readonly SharedPageMap _sharedPfns = new();
    private HashSet<ulong>? _sharedThp; // 2 MiB blocks (gfn >> 9) of shared memory backed by one huge page
    private VmCounters _counters;
    private bool _disposed;

    /// <summary>Creates a VM.</summary>
    public Vm(VmConfig config, IFolioAllocator allocator, IKvmArch? arch = null, RmpTable? rmp = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Type == KvmVmType.Snp && (arch is null || rmp is null))
        {
            throw new ArgumentException("An SNP VM needs its vendor hooks and the host's RMP.", nameof(arch));
        }

        Config = config;
        _allocator = allocator;
        Arch = arch;
        Rmp = rmp;
        bool privateMemory = config.Type is KvmVmType.Snp or KvmVmType.SwProtected or KvmVmType.Tdx;
        var kernel = config.Kernel;

        // kvm_gmem_get_supported_flags: MMAP from 6.18; INIT_SHARED only where kvm_arch_supports_gmem_init_shared (x86:
        // VMs without private memory), and for every VM once guest_memfd tracks shared/private itself (in place).
        var gmemFlags = (kernel.GmemMmap ? GuestMemfdFlags.Mmap : 0)
            | (kernel.GmemMmap && (!privateMemory || kernel.InPlaceConversion) ? GuestMemfdFlags.InitShared : 0);
        Gmem = new GmemFiles(allocator, config.FolioOrder, gmemFlags)
        {
            Arch = arch,
            Mmu = this,
            Kernel = kernel,
            PrepareMode = kernel.GetPfnMode(arch?.PrepareMode ?? GmemPrepareMode.Never),
        };
        Memslots = new Memslots(config.MemslotCapacity, Gmem, new MemslotOptions(privateMemory, config.AllowDirtyLoggingOnGmem));
        Attributes = new MemoryAttributeMap();
        Npt = new NptMap();
    }

    /// <summary>How the VM was built.</summary>
    public VmConfig Config { get; }

    /// <summary>The vendor hooks, if any.</summary>
    public IKvmArch? Arch { get; }

    /// <summary>The host's RMP (SNP).</summary>
    public RmpTable? Rmp { get; }

    /// <summary>The VM's guest_memfd files.</summary>
    public GmemFiles Gmem { get; }

    /// <summary>The memslots.</summary>
    public Memslots Memslots { get; }

    /// <summary>Memory attributes.</summary>
    public MemoryAttributeMap Attributes { get; }

    /// <summary>The nested page table.</summary>
    public NptMap Npt { get; }

    /// <summary>Counters of the fault path.</summary>
    public ref VmCounters Counters => ref _counters;

    /// <summary><c>kvm-&gt;mmu_invalidate_seq</c>: bumped when an invalidation ends.</summary>
    public ulong MmuInvalidateSeq { get; private set; }

    /// <summary>Models KVM_SET_USER_MEMORY_REGION2; a new slot of a VM with private memory gets its MIXED flags computed.</summary>
    public Errno SetUserMemoryRegion2(in kvm_userspace_memory_region2 region)
    {
        ThrowIfDisposed();
        int before = Memslots.Find(region.AddressSpace, new gfn_t(region.guest_phys_addr >> PageSize.Shift4K));
        if (region.memory_size == 0 && before >= 0)
        {
            ref var old = ref Memslots[before];
            Counters.Zapped += ZapRange(old.base_gfn, old.base_gfn + old.npages);
        }

        bool startsDirtyLogging = before >= 0 && region.memory_size != 0
            && (region.flags & (uint)MemslotFlags.LogDirtyPages) != 0
            && (Memslots[before].flags & (uint)MemslotFlags.LogDirtyPages) == 0;
        var result = Memslots.Set(region);
        if (result == Errno.Ok && startsDirtyLogging)
        {
            ref var slot = ref Memslots[before];
            EnableDirtyLogging(slot.base_gfn, slot.base_gfn + slot.npages);
            return result;
        }

        if (result == Errno.Ok && region.memory_size != 0 && region.AddressSpace == 0)
        {
            int index = Memslots.Find(0, new gfn_t(region.guest_phys_addr >> PageSize.Shift4K));
            if (before < 0)
            {
                BindGmemOnly(index);
            }

            HugepageAttributes.InitializeSlot(Memslots, Attributes, index);
        }

        return result;
    }

    /// <summary>
    /// <c>kvm_gmem_prepare_memory_region</c> (kvm-x86 2026; <c>kvm_gmem_bind</c> 6.18): a slot bound to a guest_memfd
    /// that may be mmap'ed, or any guest_memfd slot once conversion is in place, is GMEM_ONLY, and every fault on it is
    /// served from guest_memfd. In place, the VM's view of the slot's attributes is the file's.
    /// </summary>
    private void BindGmemOnly(int index)
    {
        ref var slot = ref Memslots[index];
        var file = Gmem.ByFileId(slot.gmem.file);
        if (file is null || !(Config.Kernel.InPlaceConversion || (file.Flags & GuestMemfdFlags.Mmap) != 0))
        {
            return;
        }

        slot.flags |= (uint)MemslotFlags.GmemOnly;
        if (!file.TracksAttributes)
        {
            return;
        }

        for (ulong i = 0; i < slot.npages;)
        {
            bool isPrivate = file.IsPrivateIndex(slot.gmem.pgoff + i);
            ulong run = file.AttributeRunEnd(slot.gmem.pgoff + i, slot.gmem.pgoff + slot.npages) - (slot.gmem.pgoff + i);

            Attributes.Set(new kvm_memory_attributes
            {
                address = (slot.base_gfn + i).Gpa.Value,
                size = run << PageSize.Shift4K,
                attributes = isPrivate ? (ulong)MemoryAttributes.Private : 0,
            }, out _);
            i += run;
        }
    }

    /// <summary>
    /// What the VMM does to convert [<paramref name="gpa"/>, +<paramref name="size"/>) (QEMU's
    /// <c>kvm_convert_memory</c>): with in-place conversion, <c>KVM_SET_MEMORY_ATTRIBUTES2</c> on the guest_memfd of
    /// each memslot the range covers (<see cref="GuestMemfd.SetAttributes"/>; the first failure is returned, with the
    /// gpa of the page that stopped it in <paramref name="errorGpa"/>), and the VM-wide
    /// <see cref="SetMemoryAttributes"/> for any part no guest_memfd slot covers; else the VM-wide ioctl alone.
    /// </summary>
    public Errno ConvertMemory(gpa_t gpa, ulong size, bool toPrivate, out gpa_t errorGpa)
    {
        ThrowIfDisposed();
        errorGpa = default;
        var request = new kvm_memory_attributes { address = gpa.Value, size = size, attributes = toPrivate ? (ulong)MemoryAttributes.Private : 0 };
        if (!Config.Kernel.InPlaceConversion)
        {
            return SetMemoryAttributes(request);
        }

        var error = Attributes.Validate(request);
        if (error != Errno.Ok)
        {
            return error;
        }

        ulong first = gpa.Gfn.Value;
        ulong end = first + (size >> PageSize.Shift4K);
        for (ulong g = first; g < end;)
        {
            int index = NextGmemSlot(g, end);
            ulong slotStart = index < 0 ? end : Math.Max(g, Memslots[index].base_gfn.Value);
            if (slotStart > g)
            {
                // up to the next guest_memfd slot: the VM-wide ioctl, as QEMU does for memory without one
                error = SetMemoryAttributes(request with { address = new gfn_t(g).Gpa.Value, size = (slotStart - g) << PageSize.Shift4K });
                if (error != Errno.Ok)
                {
                    errorGpa = new gfn_t(g).Gpa;
                    return error;
                }

                g = slotStart;
                continue;
            }

            ref var slot = ref Memslots[index];
            var file = Gmem.ByFileId(slot.gmem.file)!;
            ulong stop = Math.Min(end, slot.base_gfn.Value + slot.npages);
            ulong offset = (g - slot.base_gfn.Value + slot.gmem.pgoff) << PageSize.Shift4K;
            error = file.SetAttributes(new kvm_memory_attributes2 { offset = offset, size = (stop - g) << PageSize.Shift4K, attributes = request.attributes }, out ulong errorOffset);
            if (error != Errno.Ok)
            {
                if (error == Errno.EAGAIN)
                {
                    Counters.ConversionsBusy++;
                }

                errorGpa = (slot.base_gfn + ((errorOffset >> PageSize.Shift4K) - slot.gmem.pgoff)).Gpa;
                return error;
            }

            g = stop;
        }

        return Errno.Ok;
    }

    /// <summary>The first slot of address space 0 at or above <paramref name="gfn"/>, below <paramref name="end"/>, that is bound to an open guest_memfd; -1 when none is.</summary>
    private int NextGmemSlot(ulong gfn, ulong end)
    {
        for (int i = Memslots.FindAtOrAbove(0, new gfn_t(gfn)); i >= 0 && Memslots[i].base_gfn.Value < end;)
        {
            ref var slot = ref Memslots[i];
            if (Gmem.ByFileId(slot.gmem.file) is not null)
            {
                return i;
            }

            i = Memslots.FindAtOrAbove(0, slot.base_gfn + slot.npages);
        }

        return -1;
    }

    /// <summary>
    /// What turning KVM_MEM_LOG_DIRTY_PAGES on for the slot over [<paramref name="start"/>, <paramref name="end"/>) does
    /// to its mappings: nothing is zapped. Models the enabling branch of <c>kvm_mmu_slot_apply_flags</c>
    /// (arch/x86/kvm/x86.c, 6.18; read in a 6.18-era tree, CachyOS/linux@4703912f): with KVM_DIRTY_LOG_INITIALLY_SET
    /// it returns at once (every page counts as dirty, so nothing needs protecting); otherwise, with
    /// <c>eager_page_split</c>, <c>kvm_mmu_slot_try_split_huge_pages(kvm, new, PG_LEVEL_4K)</c>, then, because SVM has
    /// no PML (<c>cpu_dirty_log_size</c> 0), <c>kvm_mmu_slot_remove_write_access(kvm, new, PG_LEVEL_4K)</c>, and a TLB
    /// flush the model does not need. A later guest write to a leaf takes an #NPF that <c>fast_page_fault</c> fixes
    /// (<see cref="TryFastPageFault"/>).
    /// </summary>
    /// <remarks>
    /// Disabling dirty logging (the other branch) calls <c>kvm_mmu_recover_huge_pages</c> (6.13+), which replaces 4K
    /// leaves by a huge one where <c>kvm_mmu_max_mapping_level</c>, asked without a fault, allows it. The model does
    /// nothing there, and it would find nothing to recover: its shared memory is 4K host pages (host level 4K), and
    /// for private memory guest_memfd cannot report an order to a caller without a fault, so the level is 4K
    /// (kernel-domain.md 5.4, recalled, lower confidence). Leaves stay write-protected after disabling until written.
    /// </remarks>
    private void EnableDirtyLogging(gfn_t start, gfn_t end)
    {
        if (Config.DirtyLogInitiallySet)
        {
            return;
        }

        if (Config.EagerPageSplit)
        {
            Npt.SplitHugeLeaves(start, end);
        }

        Npt.WriteProtect(start, end);
    }

    /// <summary>
    /// Models KVM_SET_MEMORY_ATTRIBUTES: validate; if anything changes, zap the range
    /// (<c>kvm_arch_pre_set_memory_attributes</c>), store, and recompute MIXED (<c>kvm_arch_post_set_memory_attributes</c>).
    /// </summary>
    public Errno SetMemoryAttributes(in kvm_memory_attributes request)
    {
        ThrowIfDisposed();
        var error = Attributes.Validate(request);
        if (error != Errno.Ok)
        {
            return error;
        }

        var start = new gfn_t(request.address >> PageSize.Shift4K);
        ulong pages = request.size >> PageSize.Shift4K;
        if (Attributes.RangeIs(start, pages, request.attributes != 0))
        {
            return Errno.Ok; // nothing changes: no zap, no MIXED update
        }

        Counters.Zapped += ZapRange(start, start + pages);
        error = Attributes.Set(request, out _);
        HugepageAttributes.Recompute(Memslots, Attributes, start, start + pages);
        return error;
    }

    /// <summary>Models KVM_CREATE_GUEST_MEMFD.</summary>
    public Errno CreateGuestMemfd(in kvm_create_guest_memfd request, out int fd)
    {
        ThrowIfDisposed();
        return Gmem.Create(request, out fd);
    }

    /// <inheritdoc />
    void IGmemMmu.Invalidate(int slot, ulong pgoff, ulong npages)
    {
        ref var s = ref Memslots[slot];
        var start = s.base_gfn + (pgoff - s.gmem.pgoff);
        Counters.Zapped += ZapRange(start, start + npages, ZapFilter.Private);
    }

    /// <inheritdoc />
    void IGmemMmu.InvalidateEnd() => MmuInvalidateSeq++;

    /// <inheritdoc />
    void IGmemMmu.Convert(int slot, ulong pgoff, ulong npages, bool toPrivate)
    {
        ref var s = ref Memslots[slot];
        var start = s.base_gfn + (pgoff - s.gmem.pgoff);
        Counters.Zapped += ZapRange(start, start + npages, toPrivate ? ZapFilter.Shared : ZapFilter.Private);
        Attributes.Set(new kvm_memory_attributes
        {
            address = start.Gpa.Value,
            size = npages << PageSize.Shift4K,
            attributes = toPrivate ? (ulong)MemoryAttributes.Private : 0,
        }, out _);
        HugepageAttributes.Recompute(Memslots, Attributes, start, start + npages);
    }

    /// <summary>
    /// Frees the VM's memory without modelling its teardown (no RMP updates, no allocator frees): for an owner that
    /// discards the host's RMP and allocator with it. Later calls, and <see cref="Dispose"/> after it, do nothing.
    /// </summary>
    public void Discard()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Gmem.Discard();
        _sharedPfns.Dispose();
        Memslots.Dispose();
        Attributes.Dispose();
        Npt.Dispose();
    }

    /// <summary>Tears the VM down: its guest_memfd files are released (their folios freed through the policy's invalidate hook) and its shared pages freed. Later calls, and <see cref="Discard"/> after it, do nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Gmem.Dispose();
        _sharedPfns.ForEach((_, pfn) => _allocator.Free(pfn, 0));
        _sharedPfns.Dispose();
        Memslots.Dispose();
        Attributes.Dispose();
        Npt.Dispose();
    }

    /// <summary>True once <see cref="Dispose"/> or <see cref="Discard"/> ran: every operation then throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>True once userspace closed the VM's fd (<see cref="CloseVmFd"/>).</summary>
    public bool IsVmFdClosed { get; private set; }

    /// <summary>
    /// Userspace closes the VM's fd. Each guest_memfd file holds its own reference to the VM
    /// (<c>kvm_gmem_create</c>: <c>kvm_get_kvm</c>; dropped by <c>kvm_gmem_release</c>; virt/kvm/guest_memfd.c, 6.8
    /// onwards), so while a file is open the VM lives on: the files still allocate, punch and invalidate, and the VM is
    /// torn down (<see cref="Dispose"/>) when the last of them is closed (<see cref="GmemFiles.Close"/>). The VM's own
    /// operations are gone with its fd and throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void CloseVmFd()
    {
        ThrowIfDisposed();
        IsVmFdClosed = true;
        if (!Gmem.Files.Any())
        {
            Dispose();
            return;
        }

        Gmem.LastFileClosed = Dispose;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the VM is disposed or its fd closed (one check at each public entry).</summary>
    internal void ThrowIfDisposed()
    {
        if (_disposed || IsVmFdClosed)
        {
            throw Memory.Disposal.Exception(this);
        }
    }

    /// <summary>
    /// Backs the 2 MiB block of shared memory holding <paramref name="gfn"/> with a transparent huge page of the VMM
    /// (QEMU's anonymous memory under THP), if no page of the block is backed yet: its pages are then one 2 MiB-aligned
    /// host block, and a shared fault there may map 2M (<c>host_pfn_mapping_level</c> sees the PMD mapping;
    /// arch/x86/kvm/mmu/mmu.c, 6.18). A replay's evidence: the trace shows a shared 2M leaf. True when the block is
    /// (now) backed by a huge page.
    /// </summary>
    public bool BackSharedWithHugePage(gfn_t gfn)
    {
        ThrowIfDisposed();
        ulong block = gfn.Value & ~511UL;
        if (_sharedThp?.Contains(block >> 9) == true)
        {
            return true;
        }

        for (ulong i = 0; i < 512; i++)
        {
            if (_sharedPfns.TryGet(new gfn_t(block + i), out _))
            {
                return false;
            }
        }

        if (!_allocator.TryAllocate(9, out var head))
        {
            return false;
        }

        _allocator.Split(head, 9); // freed page by page like the VMM's other pages
        for (ulong i = 0; i < 512; i++)
        {
            _sharedPfns.Add(new gfn_t(block + i), head + i);
        }

        (_sharedThp ??= []).Add(block >> 9);
        return true;
    }

    /// <summary>True when the shared memory at <paramref name="gfn"/> is a huge page of the VMM (<see cref="BackSharedWithHugePage"/>).</summary>
    private bool SharedIsHuge(gfn_t gfn) => _sharedThp is { } thp && thp.Contains(gfn.Value >> 9);

    /// <summary>The host page that backs shared gfn <paramref name="gfn"/>, allocated on first touch.</summary>
    private bool TrySharedPfn(gfn_t gfn, out kvm_pfn_t pfn)
    {
        if (_sharedPfns.TryGet(gfn, out pfn))
        {
            return true;
        }

        if (!_allocator.TryAllocate(0, out pfn))
        {
            return false;
        }

        _sharedPfns.Add(gfn, pfn);
        return true;
    }
}
