using FastRmp.Engine.Allocation;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Scenarios;
using FastRmp.Engine.Tests.Gmem;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>
/// Enabling dirty logging on a slot, on the VM alone (a SW_PROTECTED VM: no RMP in the way). Expected values derived
/// by hand from <c>kvm_mmu_slot_apply_flags</c> (arch/x86/kvm/x86.c, 6.18): with KVM_DIRTY_LOG_INITIALLY_SET it
/// returns before touching the mappings; else, with <c>eager_page_split</c>, huge leaves are split to 4K
/// (<c>kvm_mmu_slot_try_split_huge_pages</c>) and, SVM having no PML, every leaf loses its writable bit
/// (<c>kvm_mmu_slot_remove_write_access(..., PG_LEVEL_4K)</c>); nothing is zapped. A guest write then takes an
/// #NPF(present, write) that <c>fast_page_fault</c> (arch/x86/kvm/mmu/mmu.c, 6.18) fixes in place, except on a huge
/// leaf of a dirty-logged slot, which it leaves to the slow path (so the write maps 4K).
/// </summary>
public sealed class DirtyLoggingTests
{
    private const ulong MiB2 = 0x20_0000;

    private sealed class Rig : IDisposable
    {
        private readonly int _fd;

        public Rig(bool initiallySet = false, bool eagerSplit = true)
        {
            var config = new VmConfig(KvmVmType.SwProtected, FolioOrder: 9, AllowDirtyLoggingOnGmem: true)
            {
                DirtyLogInitiallySet = initiallySet,
                EagerPageSplit = eagerSplit,
            };
            Vm = new Vm(config, new TestFolioAllocator(1 << 16));
            Guest = new Guest(Vm);
            Assert.Equal(Errno.Ok, Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = MiB2 }, out _fd));
            Assert.Equal(Errno.Ok, Vm.SetUserMemoryRegion2(Slot(0)));
            Assert.Equal(Errno.Ok, Vm.SetMemoryAttributes(new kvm_memory_attributes { address = 0, size = MiB2, attributes = (ulong)MemoryAttributes.Private }));

            // The first private access maps the whole 2 MiB folio with one 2M leaf (order 9, a 2M-aligned slot).
            Assert.Equal(AccessResult.Ok, Guest.Access(new gpa_t(0), isPrivate: true).Result);
            Assert.Equal(1, Vm.Npt.Leaves2M);
            Head = Vm.Npt.Lookup(new gfn_t(0)).Pfn;
        }

        public Vm Vm { get; }

        public Guest Guest { get; }

        public kvm_pfn_t Head { get; }

        public kvm_userspace_memory_region2 Slot(MemslotFlags extra)
            => MemslotsTests.Region(0, 0, MiB2, MemslotFlags.GuestMemfd | extra, fd: (uint)_fd);

        public void EnableDirtyLogging() => Assert.Equal(Errno.Ok, Vm.SetUserMemoryRegion2(Slot(MemslotFlags.LogDirtyPages)));

        public void Dispose() => Vm.Dispose();
    }

    [Fact]
    public void Enabling_dirty_logging_splits_a_2M_leaf_into_512_write_protected_4K_leaves_and_zaps_nothing()
    {
        using var rig = new Rig();
        rig.EnableDirtyLogging();

        Assert.Equal((512L, 0L, 1L, 0L), (rig.Vm.Npt.Leaves4K, rig.Vm.Npt.Leaves2M, rig.Vm.Npt.Splits, rig.Vm.Counters.Zapped));
        for (ulong i = 0; i < 512; i++)
        {
            // Split leaves map the same frames (tdp_mmu_split_huge_page), and none is writable any more.
            Assert.Equal(new NptLeaf(PgLevel.Level4K, rig.Head + i, IsPrivate: true, IsWritable: false), rig.Vm.Npt.Lookup(new gfn_t(i)));
        }
    }

    [Fact]
    public void A_write_to_a_write_protected_leaf_is_one_fast_path_fix_without_a_new_fault()
    {
        using var rig = new Rig();
        rig.EnableDirtyLogging();

        var outcome = rig.Guest.Access(new gpa_t(0x3000), isPrivate: true, write: true);

        Assert.Equal(AccessResult.Ok, outcome.Result);
        Assert.Equal(PgLevel.None, outcome.FaultLevel); // no kvm_mmu_spte_requested: the fast path maps nothing
        Assert.Equal((1L, 1L, 0L), (rig.Vm.Counters.WpFaults, rig.Vm.Counters.FaultsPrivate, rig.Vm.Counters.Zapped));
        Assert.True(rig.Vm.Npt.Lookup(new gfn_t(3)).IsWritable);
        Assert.False(rig.Vm.Npt.Lookup(new gfn_t(4)).IsWritable);
        Assert.Equal(rig.Head + 3, rig.Vm.Npt.Lookup(new gfn_t(3)).Pfn);

        // A read needs no writable bit, and a second write finds the leaf writable: neither faults.
        rig.Guest.Access(new gpa_t(0x5000), isPrivate: true);
        rig.Guest.Access(new gpa_t(0x3000), isPrivate: true, write: true);
        Assert.Equal((1L, 1L), (rig.Vm.Counters.WpFaults, rig.Vm.Counters.FaultsPrivate));
        rig.Vm.Verify();
    }

    [Fact]
    public void With_initially_set_enabling_changes_no_leaf_and_writes_do_not_fault()
    {
        using var rig = new Rig(initiallySet: true);
        rig.EnableDirtyLogging();

        Assert.Equal((0L, 1L, 0L), (rig.Vm.Npt.Leaves4K, rig.Vm.Npt.Leaves2M, rig.Vm.Npt.Splits));
        Assert.True(rig.Vm.Npt.Lookup(new gfn_t(7)).IsWritable);

        // The 2M leaf stays writable: the write goes through without any #NPF (the pages all count as dirty).
        Assert.Equal(AccessResult.Ok, rig.Guest.Access(new gpa_t(0x7000), isPrivate: true, write: true).Result);
        Assert.Equal((0L, 1L), (rig.Vm.Counters.WpFaults, rig.Vm.Counters.FaultsPrivate));
    }

    [Fact]
    public void Without_eager_split_a_write_to_the_protected_2M_leaf_takes_the_slow_path_and_maps_4K()
    {
        using var rig = new Rig(eagerSplit: false);
        rig.EnableDirtyLogging();
        Assert.Equal(new NptLeaf(PgLevel.Level2M, rig.Head, IsPrivate: true, IsWritable: false), rig.Vm.Npt.Lookup(new gfn_t(0)));

        // fast_page_fault refuses a huge leaf in a dirty-logged slot; the slow path forces 4K (hugepage_adjust), which
        // splits the 2M leaf on the way (its children keep the write protection) and installs the writable 4K leaf.
        var outcome = rig.Guest.Access(new gpa_t(0x9000), isPrivate: true, write: true);

        Assert.Equal(AccessResult.Ok, outcome.Result);
        Assert.Equal(PgLevel.Level4K, outcome.FaultLevel);
        Assert.Equal((0L, 2L, 0L, 1L), (rig.Vm.Counters.WpFaults, rig.Vm.Counters.FaultsPrivate, rig.Vm.Counters.Zapped, rig.Vm.Npt.Splits));
        Assert.Equal(new NptLeaf(PgLevel.Level4K, rig.Head + 9, IsPrivate: true, IsWritable: true), rig.Vm.Npt.Lookup(new gfn_t(9)));
        Assert.False(rig.Vm.Npt.Lookup(new gfn_t(10)).IsWritable);
    }

    [Fact]
    public void On_snp_a_split_leaf_under_a_2M_rmp_entry_is_fixed_then_psmashed_on_the_first_write()
    {
        // A 2M folio validated at 2M (one 2M RMP entry, one 2M leaf), then dirty logging: 512 write-protected 4K
        // leaves over the 2M RMP entry, which Vm.Verify accepts (a 4K leaf under a 2M entry is not above its RMP
        // level). The first write, by hand: #NPF(present, write) fixed by fast_page_fault (1 wp fault); the retried
        // access meets a 4K NPT leaf under a 2M RMP entry: #NPF(RMP) (upstream-2024-2026.md, "Corrections"), and
        // sev_handle_rmp_fault (arch/x86/kvm/svm/sev.c, 6.18) PSMASHes and zaps the 512 gfns from the aligned gfn
        // 0x200 (512 zapped); the retry faults once more and maps 4K over a 4K entry.
        using var host = new Host("first-use", 9, 16UL << 20, new HostOptions(AllowDirtyLoggingOnGmem: true));
        host.Guest.ValidateChunk(ScenarioCatalog.Chunk);
        Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(0, 0, 16UL << 20, 0, MemslotFlags.LogDirtyPages)));
        Assert.Equal((512L, 0L, 0L), (host.Vm.Npt.Leaves4K, host.Vm.Npt.Leaves2M, host.Vm.Counters.Zapped));
        host.Vm.Verify();

        var outcome = host.Guest.Access(new gpa_t(ScenarioCatalog.Chunk), isPrivate: true, write: true);

        Assert.Equal(AccessResult.Ok, outcome.Result);
        Assert.Equal(1, outcome.RmpFaults);
        ref var c = ref host.Vm.Counters;
        Assert.Equal((1L, 1L, 512L, 2L), (c.WpFaults, c.RmpNpf, c.Zapped, c.FaultsPrivate));
        Assert.Equal(1, host.Rmp.Counters.Psmash);
        Assert.Equal(new NptLeaf(PgLevel.Level4K, outcome.Leaf.Pfn, IsPrivate: true, IsWritable: true), outcome.Leaf);
        Assert.Equal(1, host.Vm.Npt.Leaves4K);
        host.Vm.Verify();
    }

    [Fact]
    public void Write_protection_of_part_of_a_linear_table_protects_exactly_that_part()
    {
        using var npt = new NptMap();
        var gfn = new gfn_t(0x400);
        npt.MapRun4K(gfn, [new PfnRange(new kvm_pfn_t(0x9000), 512)], isPrivate: false); // one linear entry

        Assert.Equal(100, npt.WriteProtect(gfn + 12, gfn + 112));
        for (ulong i = 0; i < 512; i++)
        {
            Assert.Equal(i is < 12 or >= 112, npt.Lookup(gfn + i).IsWritable);
            Assert.Equal(new kvm_pfn_t(0x9000 + i), npt.Lookup(gfn + i).Pfn);
        }

        // The whole table: the 412 leaves still writable are protected (a second pass changes none).
        Assert.Equal(412, npt.WriteProtect(gfn, gfn + 512));
        Assert.Equal(0, npt.WriteProtect(gfn, gfn + 512));
        Assert.True(npt.MakeWritable(gfn + 500));
        Assert.False(npt.MakeWritable(gfn + 500));
        Assert.Equal(512, npt.Leaves4K);
    }

    [Fact]
    public void A_1G_leaf_splits_to_4K_only_where_the_range_reaches()
    {
        using var npt = new NptMap();
        npt.Map(new gfn_t(0x4_0000), new kvm_pfn_t(0x8_0000), PgLevel.Level1G, isPrivate: true);

        // kvm_tdp_mmu_try_split_huge_pages over two 2 MiB blocks: the 1G leaf splits once into 512 2M leaves, then the
        // two 2M leaves in the range split into 4K: 3 splits, 1024 4K leaves, 510 2M leaves.
        Assert.Equal(3, npt.SplitHugeLeaves(new gfn_t(0x4_0000), new gfn_t(0x4_0400)));
        Assert.Equal((1024L, 510L, 0L), (npt.Leaves4K, npt.Leaves2M, npt.Leaves1G));
        Assert.Equal(new NptLeaf(PgLevel.Level4K, new kvm_pfn_t(0x8_03ff), IsPrivate: true), npt.Lookup(new gfn_t(0x4_03ff)));
        Assert.Equal(new NptLeaf(PgLevel.Level2M, new kvm_pfn_t(0x8_0400), IsPrivate: true), npt.Lookup(new gfn_t(0x4_0400)));
    }
}
