using FastRmp.Engine.Guests;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Rmp;
using FastRmp.Engine.Tests.Gmem;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>KVM's private-fault path (mmu.c 6.18) and the SNP hooks (svm/sev.c; kernel-domain.md 4.6, 5.3-5.5).</summary>
public sealed class FaultPathTests
{
    private const ulong MiB2 = 0x20_0000;
    private const ulong HostPages = 1 << 20;

    private sealed class Rig : IDisposable
    {
        public Rig(KvmVmType type, int folioOrder = 0, bool dirtyLogWhatIf = false)
        {
            Allocator = new TestFolioAllocator(HostPages);
            if (type == KvmVmType.Snp)
            {
                Rmp = RmpTable.CreateCompact(HostPages);
                Hooks = new GetPfnPreparePolicy(Rmp, asid: 5);
            }

            // A unit rig of KVM alone: the VM over a checked test allocator instead of a Host's buddy allocator.
            Vm = new Vm(new VmConfig(type, Asid: 5, FolioOrder: folioOrder, AllowDirtyLoggingOnGmem: dirtyLogWhatIf), Allocator, Hooks, Rmp);
            Guest = new Guest(Vm);
        }

        public TestFolioAllocator Allocator { get; }

        public RmpTable? Rmp { get; }

        public SnpPolicy? Hooks { get; }

        public Vm Vm { get; }

        public Guest Guest { get; }

        /// <summary>A guest_memfd slot over [gpa, gpa + size) at file offset 0, all of it private.</summary>
        public void PrivateSlot(ulong gpa, ulong size, MemslotFlags extra = 0)
        {
            Assert.Equal(Errno.Ok, Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = size }, out int fd));
            Assert.Equal(Errno.Ok, Vm.SetUserMemoryRegion2(MemslotsTests.Region(0, gpa, size, MemslotFlags.GuestMemfd | extra, fd: (uint)fd)));
            SetPrivate(gpa, size, true);
        }

        public void SetPrivate(ulong gpa, ulong size, bool isPrivate)
            => Assert.Equal(Errno.Ok, Vm.SetMemoryAttributes(new kvm_memory_attributes { address = gpa, size = size, attributes = isPrivate ? (ulong)MemoryAttributes.Private : 0 }));

        public FaultResult Fault(ulong gpa, bool isPrivate, out kvm_page_fault_v6_13 fault) => Fault(gpa, isPrivate, out fault, out _);

        public FaultResult Fault(ulong gpa, bool isPrivate, out kvm_page_fault_v6_13 fault, out MemoryFaultExit exit)
        {
            fault = new kvm_page_fault_v6_13
            {
                addr = new gpa_t(gpa),
                error_code = isPrivate ? (ulong)PageFaultErrorCode.PrivateAccess : 0,
            };
            return Vm.HandleFault(ref fault, out exit);
        }

        public void Dispose()
        {
            Vm.Dispose();
            Rmp?.Dispose();
        }
    }

    [Fact]
    public void A_private_fault_on_4K_folios_maps_a_private_4K_leaf_and_fills_the_fault()
    {
        using var rig = new Rig(KvmVmType.SwProtected);
        rig.PrivateSlot(0x1_0000_0000, 4 * MiB2);
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x1_0000_3123, isPrivate: true, out var fault));
        Assert.Equal(new gfn_t(0x10_0003), fault.gfn);
        Assert.Equal((byte)PgLevel.Level4K, fault.max_level); // kvm_max_level_for_order(0)
        Assert.Equal((byte)PgLevel.Level4K, fault.goal_level);
        Assert.NotEqual(0UL, fault.slot);
        Assert.True(fault.map_writable);
        var leaf = rig.Vm.Npt.Lookup(new gfn_t(0x10_0003));
        Assert.Equal(new NptLeaf(PgLevel.Level4K, fault.pfn, IsPrivate: true), leaf);
        Assert.Equal(1, rig.Vm.Counters.FaultsPrivate);
        Assert.Equal(1, rig.Vm.Counters.Mapped.Level4K);
    }

    [Fact]
    public unsafe void FaultLines_names_the_attribute_word_page_cache_entry_and_leaf_slot_a_fault_reads()
    {
        using var rig = new Rig(KvmVmType.SwProtected);
        Span<nint> lines = stackalloc nint[Vm.MaxFaultLines];
        Assert.Equal(0, rig.Vm.FaultLines(new gfn_t(0x10_0003), lines)); // no memslot yet
        rig.PrivateSlot(0x1_0000_0000, 4 * MiB2);
        Assert.Equal(1, rig.Vm.FaultLines(new gfn_t(0x10_0003), lines)); // only the attributes exist before the first fault
        Assert.Equal(1UL << 3, *(ulong*)lines[0] & (1UL << 3)); // gfn 0x100003: bit 3 of its word, private

        // out of order, so the page cache and the NPT hold real tables (in-order fills are kept as linear descriptors,
        // which have no entry to load)
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x1_0001_0000, isPrivate: true, out _));
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x1_0000_3000, isPrivate: true, out var fault));
        Assert.Equal(3, rig.Vm.FaultLines(new gfn_t(0x10_0003), lines));
        Assert.Equal(fault.pfn.Value, *(ulong*)lines[2] >> 12 & ((1UL << 40) - 1)); // the NPT leaf maps the folio
        Assert.NotEqual(0UL, *(ulong*)lines[1]); // the page-cache entry holds the folio
        Assert.Equal(3, rig.Vm.FaultLines(new gfn_t(0x10_0004), lines)); // a neighbour: same tables, next slots
        Assert.Equal(0UL, *(ulong*)lines[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Vm.FaultLines(new gfn_t(0x10_0003), new nint[2]));
    }

    [Fact]
    public void A_private_shared_mismatch_exits_with_the_gpa_size_and_private_flag()
    {
        using var rig = new Rig(KvmVmType.SwProtected);
        rig.PrivateSlot(0, MiB2);
        rig.SetPrivate(0x5000, 0x1000, false);
        Assert.Equal(FaultResult.MemoryFaultExit, rig.Fault(0x5000, isPrivate: true, out _, out var exit));
        Assert.Equal(0x5000UL, exit.Run.gpa);
        Assert.Equal(4096UL, exit.Run.size);
        Assert.Equal(KvmUapi.KVM_MEMORY_EXIT_FLAG_PRIVATE, exit.Run.flags);
        Assert.Equal(Errno.EFAULT, exit.Errno);
        Assert.Equal(FaultResult.MemoryFaultExit, rig.Fault(0x6000, isPrivate: false, out _, out exit));
        Assert.Equal(0UL, exit.Run.flags);
        Assert.Equal(2, rig.Vm.Counters.MemoryFaultExits);
    }

    [Fact]
    public void No_slot_is_mmio_for_shared_and_an_exit_for_private()
    {
        using var rig = new Rig(KvmVmType.SwProtected);
        Assert.Equal(FaultResult.Emulate, rig.Fault(0xFEE0_0000, isPrivate: false, out _));
        rig.SetPrivate(0x4000_0000, 0x1000, true);
        Assert.Equal(FaultResult.MemoryFaultExit, rig.Fault(0x4000_0000, isPrivate: true, out _));
    }

    [Fact]
    public void Two_mib_folios_map_2M_unless_the_hugepage_is_mixed()
    {
        using var rig = new Rig(KvmVmType.SwProtected, folioOrder: 9);
        rig.PrivateSlot(0x4000_0000, 4 * MiB2);
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x4000_0000 + 0x7000, isPrivate: true, out var fault));
        Assert.Equal((byte)PgLevel.Level2M, fault.goal_level);
        Assert.Equal(0UL, fault.pfn.Value & 511);

        rig.SetPrivate(0x4000_0000 + MiB2 + 0x3000, 0x1000, false); // one shared page in the second 2 MiB
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x4000_0000 + MiB2 + 0x5000, isPrivate: true, out fault));
        Assert.Equal((byte)PgLevel.Level2M, fault.max_level);
        Assert.Equal((byte)PgLevel.Level4K, fault.req_level);
        Assert.Equal((byte)PgLevel.Level4K, fault.goal_level);
    }

    [Fact]
    public void Dirty_logging_on_a_gmem_slot_what_if_forces_4K()
    {
        using var rig = new Rig(KvmVmType.SwProtected, folioOrder: 9, dirtyLogWhatIf: true);
        rig.PrivateSlot(0, MiB2, MemslotFlags.LogDirtyPages);
        Assert.Equal(FaultResult.Fixed, rig.Fault(0x1000, isPrivate: true, out var fault));
        Assert.Equal((byte)PgLevel.Level4K, fault.goal_level);
    }

    [Fact]
    public void An_snp_private_access_on_4K_folios_prepares_one_4K_rmp_entry()
    {
        using var rig = new Rig(KvmVmType.Snp);
        rig.PrivateSlot(0x8000_0000, MiB2);
        Assert.Equal(AccessResult.NotValidated, rig.Guest.Access(new gpa_t(0x8000_2000), isPrivate: true).Result);
        var pfn = rig.Vm.Npt.Lookup(new gfn_t(0x8_0002)).Pfn;
        var entry = rig.Rmp!.Read(pfn);
        Assert.True(entry.assigned);
        Assert.Equal(0x8_0002UL, entry.gpa);
        Assert.Equal(5u, entry.asid);
        Assert.Equal(1, rig.Rmp.Counters.RmpUpdate4K);
        Assert.Equal(PvalidateResult.Success, rig.Rmp.Pvalidate(pfn, 5, new gfn_t(0x8_0002), RmpPageSize.Size4K, true, out _));
        Assert.Equal(AccessResult.Ok, rig.Guest.Access(new gpa_t(0x8000_2000), isPrivate: true).Result);
        Assert.Equal(0, rig.Vm.Counters.RmpNpf);
        Assert.Equal(1, rig.Vm.Counters.FaultsPrivate);
    }

    [Fact]
    public void An_snp_2M_folio_becomes_one_2M_rmp_entry_mapped_at_2M()
    {
        using var rig = new Rig(KvmVmType.Snp, folioOrder: 9);
        rig.PrivateSlot(0x8000_0000, MiB2);
        var access = rig.Guest.Access(new gpa_t(0x8000_0000), isPrivate: true);
        var pfn = rig.Vm.Npt.Lookup(new gfn_t(0x8_0000)).Pfn;
        Assert.Equal(PgLevel.Level2M, access.Leaf.Level);
        Assert.Equal(1, rig.Rmp!.Counters.RmpUpdate2M);
        Assert.Equal(PgLevel.Level2M, rig.Rmp.Lookup(pfn).Level);
        Assert.Equal(PvalidateResult.Success, rig.Rmp.Pvalidate(pfn, 5, new gfn_t(0x8_0000), RmpPageSize.Size2M, true, out _));
        Assert.Equal(AccessResult.Ok, rig.Guest.Access(new gpa_t(0x8000_0000 + 0x1F_F000), isPrivate: true).Result);
        Assert.Equal(0, rig.Vm.Counters.RmpNpf);
    }

    [Fact]
    public void A_4K_mapping_over_a_2M_rmp_entry_takes_one_extra_npf_psmash_and_a_zap()
    {
        // Roth, 2023-07-22: the RMP is 2M, the NPT maps 4K (here because one gfn of the 2 MiB is shared, so the
        // hugepage is MIXED), the first private access faults with RMP|SIZEM and the host PSMASHes.
        using var rig = new Rig(KvmVmType.Snp, folioOrder: 9);
        rig.PrivateSlot(0x8000_0000, MiB2);
        rig.SetPrivate(0x8000_0000 + 0x10_0000, 0x1000, false);
        var access = rig.Guest.Access(new gpa_t(0x8000_4000), isPrivate: true);
        Assert.Equal(AccessResult.NotValidated, access.Result);
        Assert.Equal(1, rig.Rmp!.Counters.RmpUpdate2M); // prepare saw 512 unassigned entries and made a 2M entry
        Assert.Equal(1, rig.Vm.Counters.RmpNpf);
        Assert.Equal(1, rig.Rmp.Counters.Psmash);
        Assert.Equal(1, rig.Vm.Counters.Zapped); // the one 4K leaf of the 2 MiB range
        Assert.Equal(2, rig.Vm.Counters.FaultsPrivate); // the first fault and the re-fault after the zap
        var pfn = rig.Vm.Npt.Lookup(new gfn_t(0x8_0004)).Pfn;
        Assert.Equal(PgLevel.Level4K, rig.Rmp.Lookup(pfn).Level);
        Assert.Equal(PgLevel.Level4K, access.Leaf.Level);
        Assert.Equal(1, access.RmpFaults);
    }

    [Fact]
    public void Punching_a_private_page_zaps_it_and_returns_it_to_shared_in_the_rmp()
    {
        using var rig = new Rig(KvmVmType.Snp);
        rig.PrivateSlot(0x8000_0000, MiB2);
        rig.Guest.Access(new gpa_t(0x8000_1000), isPrivate: true);
        var pfn = rig.Vm.Npt.Lookup(new gfn_t(0x8_0001)).Pfn;
        var file = rig.Vm.Gmem.Files.Single();
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x1000, 0x1000));
        Assert.False(rig.Vm.Npt.Lookup(new gfn_t(0x8_0001)).IsPresent);
        Assert.False(rig.Rmp!.Read(pfn).assigned);
        Assert.Equal(1, rig.Rmp.Counters.RmpUpdateToShared);
        Assert.Empty(rig.Allocator.Live);
    }
}
