using System.Collections.Immutable;
using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Reports;
using FastRmp.Engine.Rmp;
using FastRmp.Engine.Tdx;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Hosting;

/// <summary>
/// One modelled host with one guest: the one place a model is built. A page-order allocator over the host's memory
/// (seen through traced pfns for a replay), the RMP table over its store, the policy (the design under test), the
/// VM (KVM) with the policy as its vendor hooks, and the guest's CPU. Scenarios, replay, tests and benchmarks all
/// build their model here. While it lives, the host is an <see cref="IMetricsSource"/> of <see cref="EngineMetrics"/>
/// (faults and RMP operations).
/// </summary>
/// <remarks>
/// With <c>guestBytes</c> &gt; 0 the guest's memory is set up as QEMU does for an SNP guest: one guest_memfd bound by
/// one memslot at GPA 0, all of it private. Not thread-safe. <see cref="Dispose"/> may be called more than once; the
/// host's parts are unusable after it.
/// </remarks>
public sealed class Host : IDisposable, IMetricsSource
{
    private readonly IDisposable _metrics;
    private readonly GuestMemfdFlags? _gmemFlags;
    private bool _disposed;

    /// <summary>The guest's ASID.</summary>
    public const uint Asid = 1;

    /// <summary>
    /// Builds the host for the SNP design <paramref name="policy"/> with <paramref name="folio"/> folios; with
    /// <paramref name="guestBytes"/> &gt; 0, binds that much guest memory at GPA 0, private.
    /// </summary>
    public Host(PolicyKind policy, FolioSize folio, ulong guestBytes = 0, HostOptions? options = null)
        : this(policy.Name(), folio.Order, guestBytes, options)
    {
    }

    /// <summary>
    /// Builds the host for the TDX design <paramref name="design"/> with <paramref name="folio"/> folios (the VM type
    /// is TDX whatever <paramref name="options"/> says); with <paramref name="guestBytes"/> &gt; 0, binds that much
    /// guest memory at GPA 0, private.
    /// </summary>
    public Host(TdxDesign design, FolioSize folio, ulong guestBytes = 0, HostOptions? options = null)
        : this(design.Name(), folio.Order, guestBytes, (options ?? new HostOptions()) with { VmType = KvmVmType.Tdx })
    {
    }

    /// <summary>
    /// Builds the host for <paramref name="policy"/> with guest_memfd folios of order <paramref name="folioOrder"/>;
    /// with <paramref name="guestBytes"/> &gt; 0, binds that much guest memory at GPA 0, private.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown policy.</exception>
    public Host(string policy, int folioOrder, ulong guestBytes = 0, HostOptions? options = null)
    {
        options ??= new HostOptions();
        _gmemFlags = options.GmemFlags;
        GuestBytes = guestBytes;
        ulong hostPages = options.HostPages ?? DefaultHostPages(guestBytes);
        hostPages = (hostPages + (1UL << 18) - 1) & ~((1UL << 18) - 1);
        Allocator = new BuddyAllocator(new kvm_pfn_t(0), hostPages, maxOrder: 18);
        TracedPfns = options.TracedPfns ? new TracedPfnAllocator(Allocator) : null;
        Rmp = options.Store == RmpStoreKind.Raw ? RmpTable.CreateRaw(hostPages) : RmpTable.CreateCompact(hostPages);
        bool tdx = options.VmType == KvmVmType.Tdx;
        if (tdx)
        {
            if (!TdxDesigns.TryParse(policy, out var design))
            {
                throw new ArgumentException($"Unknown TDX design '{policy}' (known: {string.Join(", ", TdxDesigns.Names)}).", nameof(policy));
            }

            Tdx = new TdxArch(new TdxModule(new TdxPamt(hostPages, options.DynamicPamt)), design, (IFolioAllocator?)TracedPfns ?? Allocator);
        }

        // A TD has no SNP policy; the host keeps one (unused, like a SW_PROTECTED VM's) so that its parts stay the same.
        Policy = PolicyCatalog.Create(tdx ? PolicyCatalog.Names[0] : policy, Rmp, Asid);
        var config = new VmConfig(options.VmType, Asid, folioOrder, options.AllowDirtyLoggingOnGmem, options.MemslotCapacity, options.BatchFreshFaults, options.Kernel)
        {
            DirtyLogInitiallySet = options.DirtyLogInitiallySet,
            EagerPageSplit = options.EagerPageSplit,
        };
        bool snp = options.VmType == KvmVmType.Snp;
        Vm = new Vm(config, (IFolioAllocator?)TracedPfns ?? Allocator, snp ? Policy : Tdx, snp ? Rmp : null);
        Guest = new Guest(Vm);
        TdxGuest = Tdx is null ? null : new TdxGuest(Vm, Tdx);
        if (options.RmpOpt)
        {
            // SNP is enabled on the host whatever the VM type: a SW_PROTECTED guest's memory is RMP-checked too.
            RmpOpt = Rmp.EnableRmpOpt();
            Vm.Gmem.RmpOpt = RmpOpt;
        }

        if (guestBytes != 0)
        {
            Fd = CreateGuestMemfd(guestBytes);
            Check(Vm.SetUserMemoryRegion2(Region(0, 0, guestBytes, 0)), "KVM_SET_USER_MEMORY_REGION2");
            SetPrivate(0, guestBytes, true);
        }

        _metrics = EngineMetrics.Register(this);
    }

    /// <summary>Host memory for a guest of <paramref name="guestBytes"/>, in 4 KiB pages: twice the guest plus 1 GiB, at least 4 GiB.</summary>
    public static ulong DefaultHostPages(ulong guestBytes) => Math.Max(1UL << 20, ((guestBytes >> PageSize.Shift4K) * 2) + (1UL << 18));

    /// <summary>The host allocator seen through traced pfns (replay with <see cref="HostOptions.TracedPfns"/>), else null.</summary>
    public TracedPfnAllocator? TracedPfns { get; }

    /// <summary>Guest memory bound at GPA 0 when the host was built (0: none).</summary>
    public ulong GuestBytes { get; }

    /// <summary>The guest_memfd of the guest's memory (the last one <see cref="CreateGuestMemfd"/> made).</summary>
    public int Fd { get; internal set; }

    /// <summary>The host's page allocator.</summary>
    public BuddyAllocator Allocator { get; }

    /// <summary>The host's RMP.</summary>
    public RmpTable Rmp { get; }

    /// <summary>The host's RMPOPT summary (<see cref="HostOptions.RmpOpt"/>), or null.</summary>
    public RmpOptSummary? RmpOpt { get; }

    /// <summary>The policy: the VM's vendor hooks (SNP), unused for a SW_PROTECTED VM.</summary>
    public SnpPolicy Policy { get; }

    /// <summary>KVM's TDX hooks with the TD's side of the TDX module and the host's PAMT (a TDX host), else null.</summary>
    public TdxArch? Tdx { get; }

    /// <summary>The TD's CPU (a TDX host), else null.</summary>
    public TdxGuest? TdxGuest { get; }

    /// <summary>The design under test: the policy's name, or the TDX design's.</summary>
    public string Design => Tdx?.Design.Name() ?? Policy.Name;

    /// <summary>The VM.</summary>
    public Vm Vm { get; }

    /// <summary>The guest's CPU.</summary>
    public Guest Guest { get; }

    /// <summary>SNP_LAUNCH_UPDATE calls that failed (a policy that converted the payload's folio before populate).</summary>
    public long LaunchFailures { get; set; }

    /// <inheritdoc />
    long IMetricsSource.Events => 0;

    /// <inheritdoc />
    long IMetricsSource.Faults => _disposed ? 0 : Vm.Counters.FaultsPrivate + Vm.Counters.FaultsShared;

    /// <inheritdoc />
    long IMetricsSource.RmpOperations => _disposed ? 0 : Rmp.Counters.Operations;

    /// <inheritdoc />
    long IMetricsSource.BytesRead => 0;

    /// <summary>KVM_CREATE_GUEST_MEMFD of <paramref name="bytes"/> from userspace; returns the fd (also kept in <see cref="Fd"/>).</summary>
    /// <exception cref="InvalidOperationException">KVM refused it.</exception>
    /// <remarks>
    /// The flags are <see cref="HostOptions.GmemFlags"/>; by default none, and GUEST_MEMFD_FLAG_MMAP under a kernel with
    /// in-place conversion, where the VMM uses guest_memfd for shared memory too.
    /// </remarks>
    public int CreateGuestMemfd(ulong bytes)
    {
        var flags = _gmemFlags ?? (Vm.Config.Kernel.InPlaceConversion ? GuestMemfdFlags.Mmap : GuestMemfdFlags.None);
        Check(Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = bytes, flags = (ulong)flags }, out int fd), "KVM_CREATE_GUEST_MEMFD");
        Fd = fd;
        return fd;
    }

    /// <summary>A KVM_SET_USER_MEMORY_REGION2 request for a slot of <see cref="Fd"/>.</summary>
    public kvm_userspace_memory_region2 Region(uint slot, ulong gpa, ulong size, ulong offset, MemslotFlags extra = 0)
        => new()
        {
            slot = slot,
            flags = (uint)(MemslotFlags.GuestMemfd | extra),
            guest_phys_addr = gpa,
            memory_size = size,
            userspace_addr = 0x7f00_0000_0000 + gpa,
            guest_memfd = (uint)Fd,
            guest_memfd_offset = offset,
        };

    /// <summary>KVM_SET_MEMORY_ATTRIBUTES from userspace.</summary>
    /// <exception cref="InvalidOperationException">KVM refused it.</exception>
    public void SetPrivate(ulong gpa, ulong size, bool isPrivate)
        => Check(Vm.ConvertMemory(new gpa_t(gpa), size, isPrivate, out _), "KVM_SET_MEMORY_ATTRIBUTES");

    /// <summary>
    /// KVM_TDX_INIT_MEM_REGION of [<paramref name="gpa"/>, +<paramref name="pages"/> pages) (<c>tdx_vcpu_init_mem_region</c>,
    /// arch/x86/kvm/vmx/tdx.c, 6.16): page by page, guest_memfd's populate, the mirror root's map at 4 KiB
    /// (<c>kvm_tdp_map_page</c>), then TDH.MEM.PAGE.ADD and, with <paramref name="measure"/>, TDH.MR.EXTEND.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not a TDX host, the TD is finalized, or KVM refused.</exception>
    public void InitMemRegion(ulong gpa, ulong pages, bool measure = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var tdx = Tdx ?? throw new InvalidOperationException("KVM_TDX_INIT_MEM_REGION needs a TDX host.");
        if (tdx.Module.Finalized)
        {
            throw new InvalidOperationException("KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM: EINVAL.");
        }

        for (ulong i = 0; i < pages; i++)
        {
            var gfn = new gpa_t(gpa).Gfn + i;
            if (TdxGuest!.Fault(gfn, isPrivate: true, write: true, out _, out _) != FaultResult.Fixed) // kvm_tdp_map_page
            {
                throw new InvalidOperationException($"KVM_TDX_INIT_MEM_REGION could not map gfn {gfn}.");
            }

            Check(tdx.AddInitialPage(gfn, Vm.Npt.Lookup(gfn).Pfn, measure) == 0 ? Errno.Ok : Errno.EIO, "TDH.MEM.PAGE.ADD");
        }
    }

    /// <summary>KVM_TDX_FINALIZE_VM: the TD's build is over and its vCPUs may run.</summary>
    /// <exception cref="InvalidOperationException">Not a TDX host, or pages are mapped but not added.</exception>
    public void FinalizeTd()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check((Tdx ?? throw new InvalidOperationException("KVM_TDX_FINALIZE_VM needs a TDX host.")).FinalizeVm(), "KVM_TDX_FINALIZE_VM");
    }

    /// <summary>
    /// The counters (in report order) and the host's memory map at the end of a run of <paramref name="workload"/>,
    /// after checking the VM's and the allocator's invariants (unless <paramref name="verify"/> is false).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The host was disposed.</exception>
    public RunResult Result(string workload, bool verify = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (verify)
        {
            Vm.Verify();
            Allocator.Verify();
        }

        var count = new GuestEntryCounter(Rmp, Asid);
        foreach (var file in Vm.Gmem.Files)
        {
            file.ForEachFolioRun(ref count);
        }

        long rmp2M = count.Rmp2M, rmp4K = count.Rmp4K;
        var folios = count.Folios;

        ref var vm = ref Vm.Counters;
        ref var rmp = ref Rmp.Counters;
        var counters = ImmutableArray.Create(
            CounterCatalog.FaultsPrivate.With(vm.FaultsPrivate),
            CounterCatalog.FaultsShared.With(vm.FaultsShared),
            CounterCatalog.MemoryFaultExits.With(vm.MemoryFaultExits),
            CounterCatalog.HypercallExits.With(vm.HypercallExits),
            CounterCatalog.SharedFromGmem.With(vm.SharedFromGmem),
            CounterCatalog.ConversionsBusy.With(vm.ConversionsBusy),
            CounterCatalog.LaunchUpdateFailures.With(LaunchFailures),
            CounterCatalog.StuckAccesses.With(Guest.StuckAccesses),
            CounterCatalog.Retries.With(vm.Retries),
            CounterCatalog.RmpUpdate4K.With(rmp.RmpUpdate4K),
            CounterCatalog.RmpUpdate2M.With(rmp.RmpUpdate2M),
            CounterCatalog.RmpUpdateToPrivate.With(rmp.RmpUpdateToPrivate),
            CounterCatalog.RmpUpdateToShared.With(rmp.RmpUpdateToShared),
            CounterCatalog.RmpUpdateFailed.With(rmp.RmpUpdateFailed),
            CounterCatalog.Psmash.With(rmp.Psmash),
            CounterCatalog.RmpLookups.With(Policy.Counters.RmpLookups),
            CounterCatalog.RmpNpf.With(vm.RmpNpf),
            CounterCatalog.Zapped.With(vm.Zapped),
            CounterCatalog.WpFaults.With(vm.WpFaults),
            CounterCatalog.HugeSplits.With(Vm.Npt.Splits),
            CounterCatalog.Mapped4K.With(vm.Mapped.Level4K),
            CounterCatalog.Mapped2M.With(vm.Mapped.Level2M),
            CounterCatalog.Mapped1G.With(vm.Mapped.Level1G),
            CounterCatalog.Npt4K.With(Vm.Npt.Leaves4K),
            CounterCatalog.Npt2M.With(Vm.Npt.Leaves2M),
            CounterCatalog.Npt1G.With(Vm.Npt.Leaves1G),
            CounterCatalog.Rmp2MEntries.With(rmp2M),
            CounterCatalog.Rmp4KEntries.With(rmp4K),
            CounterCatalog.Folios4K.With(folios[0]),
            CounterCatalog.Folios2M.With(folios[9]),
            CounterCatalog.Folios1G.With(folios[18]),
            CounterCatalog.FragmentationIndexOrder9.With(Allocator.FragmentationIndex(9)));
        if (RmpOpt is { } opt)
        {
            ref var o = ref opt.Counters;
            counters = counters.AddRange(
                CounterCatalog.RmpOptRegionsOptimized.With(o.RegionsOptimized),
                CounterCatalog.RmpOptRegionsDisabled.With(o.RegionsDisabled),
                CounterCatalog.RmpOptRegionsReenabled.With(o.RegionsReenabled),
                CounterCatalog.RmpOptRegionsOn.With(opt.OptimizedRegions),
                CounterCatalog.RmpOptChecksSkipped.With(o.HostWritesSkipped),
                CounterCatalog.RmpOptChecksMade.With(o.HostWritesChecked));
        }

        if (Tdx is { } t)
        {
            ref var c = ref t.Module.Counters;
            var pamt = t.Module.Pamt;
            counters = counters.AddRange(
                CounterCatalog.TdxPageAdd.With(c.PageAdd),
                CounterCatalog.TdxPageAug4K.With(c.PageAug4K),
                CounterCatalog.TdxPageAug2M.With(c.PageAug2M),
                CounterCatalog.TdxSeptAdd.With(c.SeptAdd),
                CounterCatalog.TdxRangeBlock.With(c.RangeBlock),
                CounterCatalog.TdxTrack.With(c.Track),
                CounterCatalog.TdxDemote.With(c.Demote),
                CounterCatalog.TdxRemove.With(c.Remove),
                CounterCatalog.TdxWbinvd.With(c.Wbinvd),
                CounterCatalog.TdxAccepted4K.With(c.Accepted4K),
                CounterCatalog.TdxAccepted2M.With(c.Accepted2M),
                CounterCatalog.TdxAcceptSizeMismatch.With(c.AcceptSizeMismatch),
                CounterCatalog.TdxAcceptEptViolations.With(c.AcceptEptViolations),
                CounterCatalog.TdxAcceptSplits.With(c.AcceptSplits),
                CounterCatalog.TdxUnacceptedAccesses.With(c.UnacceptedAccesses),
                CounterCatalog.TdxPamtAdd.With(pamt.PamtAdds),
                CounterCatalog.TdxPamtRemove.With(pamt.PamtRemoves),
                CounterCatalog.TdxSeptPages.With(t.Module.SeptPages),
                CounterCatalog.TdxPamtBytes.With(pamt.Bytes),
                CounterCatalog.TdxPamtPeakBytes.With(pamt.PeakBytes));
        }

        return new RunResult
        {
            Workload = workload,
            Policy = Design,
            FolioOrder = Vm.Config.FolioOrder,
            Kernel = Vm.Config.Kernel.Name,
            RmpOpt = RmpOpt is not null,
            Counters = counters,
            Map = Tdx is null ? HostMemoryMap.Capture(Rmp, Allocator, Asid) : HostMemoryMap.CaptureMirror(Vm.Npt, Allocator),
            StuckReason = Guest.StuckReason,
        };
    }

    /// <summary>
    /// Tears the guest down as the kernel does when an SNP VM goes away: every folio of every guest_memfd file is
    /// freed (the files' release truncates them; modelled as a PUNCH_HOLE of each whole file, which zaps the NPT and
    /// calls the policy's invalidate hook, <c>sev_gmem_invalidate</c>: the RMP entries go back to shared), then the
    /// RMPOPT pass the kernel schedules from <c>sev_vm_destroy</c> runs (<c>snp_rmpopt_all_physmem</c>, RMPOPT v10 6/6,
    /// 2026-06-30: delayed 10 s after the last teardown, so it sees the pages invalidated). Returns the regions the
    /// pass re-enabled (0 without <see cref="HostOptions.RmpOpt"/>).
    /// </summary>
    /// <remarks>
    /// The VM, its memslots and its files stay (empty): the model keeps its counters readable. The VMM's shared memory
    /// is not freed (it is never assigned, so it does not matter to RMPOPT).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The host was disposed.</exception>
    /// <exception cref="InvalidOperationException">guest_memfd refused the truncation.</exception>
    public long TeardownGuest()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var file in Vm.Gmem.Files.ToArray())
        {
            Check(file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0, file.Size), "fallocate(PUNCH_HOLE) of a whole guest_memfd");
        }

        return RmpOpt?.Pass(Rmp, afterTeardown: true) ?? 0;
    }

    /// <summary>Frees the model. Later calls do nothing.</summary>
    /// <remarks>
    /// The VM's memory is discarded without modelling its teardown (no RMP updates, no allocator frees): the RMP and
    /// the allocator go with it, and modelling millions of returns to shared would be wasted work.
    /// </remarks>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _metrics.Dispose(); // reads the final counts: before anything is freed
        _disposed = true;
        Vm.Discard();
        Rmp.Dispose();
        Allocator.Dispose();
    }

    private static void Check(Errno error, string what)
    {
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"{what} failed: {error}.");
        }
    }
}
