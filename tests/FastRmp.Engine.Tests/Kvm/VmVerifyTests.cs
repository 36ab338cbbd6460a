using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>The VM invariants, and that they catch a broken state.</summary>
public sealed class VmVerifyTests
{
    [Fact]
    public void A_private_leaf_over_a_page_given_to_another_guest_is_reported()
    {
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20);
        host.Guest.ValidateChunk(ScenarioCatalog.Chunk);
        host.Vm.Verify();
        var pfn = host.Vm.Npt.Lookup(new gpa_t(ScenarioCatalog.Chunk).Gfn).Pfn;
        Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(pfn, new rmp_state())); // behind KVM's back
        Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(pfn, new rmp_state { assigned = 1, asid = Host.Asid + 1, gpa = ScenarioCatalog.Chunk }));
        var ex = Assert.Throws<InvalidOperationException>(() => host.Vm.Verify());
        Assert.Contains("mapped private", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_private_leaf_over_a_page_assigned_to_nobody_is_allowed()
    {
        // KVM maps what guest_memfd hands it; a page the hooks left hypervisor-owned (merged sev_gmem_prepare with
        // 1 GiB folios) cannot be used by the guest (#NPF(RMP) on every access) but leaks nothing.
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20);
        host.Guest.ValidateChunk(ScenarioCatalog.Chunk);
        var pfn = host.Vm.Npt.Lookup(new gpa_t(ScenarioCatalog.Chunk).Gfn).Pfn;
        Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(pfn, new rmp_state()));
        host.Vm.Verify();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_freed_page_left_assigned_in_the_rmp_is_reported(bool tracedPfns)
    {
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20, options: new HostOptions(TracedPfns: tracedPfns));
        Assert.Equal(AccessResult.NotValidated, host.Guest.Access(new gpa_t(ScenarioCatalog.Chunk), isPrivate: true).Result);
        host.Vm.Verify();
        var pfn = host.Allocator.TryAllocate(0, out var spare) ? spare : throw new InvalidOperationException();
        Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(pfn, new rmp_state { assigned = 1, asid = Host.Asid, gpa = 0x1000 }));
        host.Allocator.Free(pfn, 0);
        var ex = Assert.Throws<InvalidOperationException>(() => host.Vm.Verify());
        Assert.Contains("free in the host allocator but still assigned", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_folio_whose_page_the_allocator_has_free_is_reported(bool tracedPfns)
    {
        // With a replay's traced-pfn allocator the range tests go to the buddy allocator behind it; same verdict.
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20, options: new HostOptions(TracedPfns: tracedPfns));
        for (ulong gpa = ScenarioCatalog.Chunk; gpa < ScenarioCatalog.Chunk + (64 << 12); gpa += 0x1000)
        {
            Assert.Equal(AccessResult.NotValidated, host.Guest.Access(new gpa_t(gpa), isPrivate: true).Result);
        }

        host.Vm.Verify();
        var pfn = host.Vm.Npt.Lookup(new gpa_t(ScenarioCatalog.Chunk + (5 << 12)).Gfn).Pfn;
        Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(pfn, new rmp_state())); // shared again, then freed behind guest_memfd's back
        host.Allocator.Free(pfn, 0);
        var ex = Assert.Throws<InvalidOperationException>(() => host.Vm.Verify(freedAreShared: false));
        Assert.Contains($"pfn 0x{pfn.Value:x} (guest_memfd", ex.Message, StringComparison.Ordinal);
        Assert.Contains("is free in the host allocator", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Steady_state_private_faults_allocate_no_managed_memory()
    {
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 64 << 20);
        for (ulong gpa = 0; gpa < 64 << 20; gpa += 0x1000)
        {
            Assert.Equal(AccessResult.NotValidated, host.Guest.Access(new gpa_t(gpa), isPrivate: true).Result); // allocate and prepare every folio
        }

        var fault = default(FastRmp.Interop.Kernel.kvm_page_fault_v6_13);
        RefaultAll(host.Vm, ref fault); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 8; round++)
        {
            RefaultAll(host.Vm, ref fault);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(host.Vm.Counters.FaultsPrivate >= 10 * 16384);
    }

    private static void RefaultAll(Vm vm, ref FastRmp.Interop.Kernel.kvm_page_fault_v6_13 fault)
    {
        vm.Npt.Zap(new gfn_t(0), new gfn_t(16384));
        for (ulong gfn = 0; gfn < 16384; gfn++)
        {
            fault = new FastRmp.Interop.Kernel.kvm_page_fault_v6_13
            {
                addr = new gfn_t(gfn).Gpa,
                error_code = (ulong)(FastRmp.Interop.Kernel.PageFaultErrorCode.PrivateAccess | FastRmp.Interop.Kernel.PageFaultErrorCode.GuestEnc),
            };
            if (vm.HandleFault(ref fault) != FaultResult.Fixed)
            {
                throw new InvalidOperationException($"gfn 0x{gfn:x} did not fault in");
            }
        }
    }
}
