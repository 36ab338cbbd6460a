using System.Collections.Immutable;
using FastRmp.Engine.Allocation;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Reports;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Scenarios;

/// <summary>
/// A host with one SNP guest for the scenarios: a page-order allocator over the host's memory, a compact RMP, the
/// chosen policy, and a VM whose memory is one guest_memfd bound by one memslot at GPA 0 (unless the scenario binds
/// its own), all private, as QEMU sets up an SNP guest. The guest's actions are methods here. While it lives, the
/// host is an <see cref="IMetricsSource"/> of <see cref="EngineMetrics"/> (faults and RMP operations).
/// </summary>
public sealed class ScenarioHost : IDisposable, IMetricsSource
{
    private readonly IDisposable _metrics;
    private bool _disposed;

    /// <summary>The guest's ASID.</summary>
    public const uint Asid = 1;

    /// <summary>Creates the host and the VM; binds the guest's memory unless <paramref name="bindMemory"/> is false.</summary>
    public ScenarioHost(string policy, int folioOrder, ulong guestBytes, bool allowDirtyLoggingOnGmem = false, bool bindMemory = true, HostOptions? options = null)
    {
        options ??= new HostOptions();
        GuestBytes = guestBytes;
        ulong hostPages = options.HostPages ?? Math.Max(1UL << 20, ((guestBytes >> PageSize.Shift4K) * 2) + (1UL << 18));
        hostPages = (hostPages + (1UL << 18) - 1) & ~((1UL << 18) - 1);
        Allocator = new BuddyAllocator(new kvm_pfn_t(0), hostPages, maxOrder: 18);
        TracedPfns = options.TracedPfns ? new TracedPfnAllocator(Allocator) : null;
        Rmp = RmpTable.CreateCompact(hostPages);
        Policy = PolicyCatalog.Create(policy, Rmp, Asid);
        var config = new VmConfig(options.VmType, Asid, folioOrder, allowDirtyLoggingOnGmem, options.MemslotCapacity, options.BatchFreshFaults);
        bool snp = options.VmType == KvmVmType.Snp;
        Vm = new Vm(config, (IFolioAllocator?)TracedPfns ?? Allocator, snp ? Policy : null, snp ? Rmp : null);
        Policy.Vm = Vm;
        if (bindMemory)
        {
            Check(Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = guestBytes }, out int fd), "KVM_CREATE_GUEST_MEMFD");
            Fd = fd;
            Check(Vm.SetUserMemoryRegion2(Region(0, 0, guestBytes, 0)), "KVM_SET_USER_MEMORY_REGION2");
            SetPrivate(0, guestBytes, true);
        }

        _metrics = EngineMetrics.Register(this);
    }

    /// <summary>The host allocator seen through traced pfns (replay with <see cref="HostOptions.TracedPfns"/>), else null.</summary>
    public TracedPfnAllocator? TracedPfns { get; }

    /// <summary>Guest memory size.</summary>
    public ulong GuestBytes { get; }

    /// <summary>The guest_memfd of the guest's memory.</summary>
    public int Fd { get; private set; }

    /// <summary>The host's page allocator.</summary>
    public BuddyAllocator Allocator { get; }

    /// <summary>The host's RMP.</summary>
    public RmpTable Rmp { get; }

    /// <summary>The policy.</summary>
    public SnpPolicy Policy { get; }

    /// <summary>The VM.</summary>
    public Vm Vm { get; }

    /// <inheritdoc />
    long IMetricsSource.Events => 0;

    /// <inheritdoc />
    long IMetricsSource.Faults => Vm.Counters.FaultsPrivate + Vm.Counters.FaultsShared;

    /// <inheritdoc />
    long IMetricsSource.RmpOperations => Rmp.Counters.Operations;

    /// <inheritdoc />
    long IMetricsSource.BytesRead => 0;

    /// <summary>SNP_LAUNCH_UPDATE calls that failed (a policy that converted the payload's folio before populate).</summary>
    public long LaunchFailures { get; set; }

    /// <summary>A KVM_SET_USER_MEMORY_REGION2 request for a guest_memfd slot.</summary>
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

    /// <summary>Creates the guest_memfd without binding it (for scenarios that bind their own slots).</summary>
    public void CreateMemory()
    {
        Check(Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = GuestBytes }, out int fd), "KVM_CREATE_GUEST_MEMFD");
        Fd = fd;
    }

    /// <summary>KVM_SET_MEMORY_ATTRIBUTES from userspace.</summary>
    public void SetPrivate(ulong gpa, ulong size, bool isPrivate)
        => Check(Vm.SetMemoryAttributes(new kvm_memory_attributes { address = gpa, size = size, attributes = isPrivate ? (ulong)MemoryAttributes.Private : 0 }), "KVM_SET_MEMORY_ATTRIBUTES");

    /// <summary>
    /// The guest validates a 2 MiB chunk as Linux and OVMF do: one 2M PVALIDATE, and on FAIL_SIZEMISMATCH a 4K
    /// PVALIDATE of each page (skipping pages that are shared).
    /// </summary>
    public void ValidateChunk(ulong gpa)
    {
        bool allPrivate = Vm.Attributes.RangeIs(new gfn_t(gpa >> 12), 512, true);
        if (allPrivate && Vm.GuestPvalidate(new gpa_t(gpa), RmpPageSize.Size2M, true) != PvalidateResult.FailSizeMismatch)
        {
            return;
        }

        if (allPrivate)
        {
            Vm.GuestPvalidateRange(new gpa_t(gpa), 512, true);
            return;
        }

        for (ulong page = gpa; page < gpa + PageSize.Size2M; page += PageSize.Size4K)
        {
            if (Vm.Attributes.IsPrivate(new gpa_t(page).Gfn))
            {
                Vm.GuestPvalidate(new gpa_t(page), RmpPageSize.Size4K, true);
            }
        }
    }

    /// <summary>The guest reads or writes a page; the access must complete.</summary>
    public void Touch(ulong gpa, bool isPrivate, bool write = false)
    {
        var result = Vm.GuestAccess(new gpa_t(gpa), isPrivate, write);
        if (result != AccessResult.Ok)
        {
            throw new InvalidOperationException($"The guest's {(isPrivate ? "private" : "shared")} access to 0x{gpa:x} ended in {result}.");
        }
    }

    /// <summary>The guest touches every page of a 2 MiB chunk that has the given attribute.</summary>
    public void TouchChunk(ulong gpa, bool write = false)
    {
        for (ulong page = gpa; page < gpa + PageSize.Size2M; page += PageSize.Size4K)
        {
            Touch(page, Vm.Attributes.IsPrivate(new gpa_t(page).Gfn), write);
        }
    }

    /// <summary>
    /// The guest makes a private 4K page shared: it rescinds its validation first (a well-behaved guest; Roth,
    /// 2023-08-25), then asks the host with a page-state change; userspace flips the attribute and, if asked,
    /// punches the page out of guest_memfd.
    /// </summary>
    public void Share(ulong gpa, bool punchHole)
    {
        Vm.GuestPvalidate(new gpa_t(gpa), RmpPageSize.Size4K, false);
        Vm.GuestPageStateChange(new gpa_t(gpa), PageSize.Size4K, toPrivate: false, punchHole);
    }

    /// <summary>The guest makes a shared 4K page private again: page-state change, then PVALIDATE.</summary>
    public void Unshare(ulong gpa)
    {
        Vm.GuestPageStateChange(new gpa_t(gpa), PageSize.Size4K, toPrivate: true, punchHole: false);
        Vm.GuestPvalidate(new gpa_t(gpa), RmpPageSize.Size4K, true);
    }

    /// <summary>The counters and the host's memory map at the end of a scenario, after checking the VM's invariants (unless <paramref name="verify"/> is false).</summary>
    public ScenarioResult Result(string scenario, bool verify = true)
    {
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
            Pair("faults_private", vm.FaultsPrivate),
            Pair("faults_shared", vm.FaultsShared),
            Pair("memory_fault_exits", vm.MemoryFaultExits),
            Pair("hypercall_exits", Vm.HypercallExits),
            Pair("launch_update_failures", LaunchFailures),
            Pair("retries", vm.Retries),
            Pair("rmpupdate_4k", rmp.RmpUpdate4K),
            Pair("rmpupdate_2m", rmp.RmpUpdate2M),
            Pair("rmpupdate_to_private", rmp.RmpUpdateToPrivate),
            Pair("rmpupdate_to_shared", rmp.RmpUpdateToShared),
            Pair("rmpupdate_failed", rmp.RmpUpdateFailed),
            Pair("psmash", rmp.Psmash),
            Pair("rmp_lookups", vm.RmpLookups),
            Pair("rmp_npf", vm.RmpNpf),
            Pair("zapped", vm.Zapped),
            Pair("mapped_4k", vm.Mapped.Level4K),
            Pair("mapped_2m", vm.Mapped.Level2M),
            Pair("mapped_1g", vm.Mapped.Level1G),
            Pair("npt_4k", Vm.Npt.Leaves4K),
            Pair("npt_2m", Vm.Npt.Leaves2M),
            Pair("npt_1g", Vm.Npt.Leaves1G),
            Pair("rmp_2m_entries", rmp2M),
            Pair("rmp_4k_entries", rmp4K),
            Pair("folios_4k", folios[0]),
            Pair("folios_2m", folios[9]),
            Pair("folios_1g", folios[18]),
            Pair("fragmentation_index_order9", Allocator.FragmentationIndex(9)));
        return new ScenarioResult
        {
            Scenario = scenario,
            Policy = Policy.Name,
            FolioOrder = Vm.Config.FolioOrder,
            Counters = counters,
            Map = HostMemoryMap.Capture(Rmp, Allocator, Asid),
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _metrics.Dispose();
        Vm.Discard(); // the RMP and the allocator go with it: modelling 4 M returns to shared would be wasted work
        Rmp.Dispose();
        Allocator.Dispose();
    }

    private static KeyValuePair<string, long> Pair(string name, long value) => new(name, value);

    private static void Check(Errno error, string what)
    {
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"{what} failed: {error}.");
        }
    }
}
