using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Tests.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Gmem;

/// <summary>guest_memfd (virt/kvm/guest_memfd.c 6.11-6.18; kernel-domain.md 3.3, 5.2).</summary>
public sealed class GuestMemfdTests
{
    private const ulong MiB2 = 0x20_0000;

    private sealed class Rig : IDisposable
    {
        public Rig(int folioOrder = 0, ulong hostPages = 1 << 20, GmemPrepareMode mode = GmemPrepareMode.OncePerFolio)
        {
            Allocator = new TestFolioAllocator(hostPages);
            Files = new GmemFiles(Allocator, folioOrder) { Arch = Arch, Mmu = Arch, PrepareMode = mode };
            Slots = new Memslots(gmem: Files, options: new MemslotOptions(PrivateMemory: true));
        }

        public TestFolioAllocator Allocator { get; }

        public RecordingArch Arch { get; } = new();

        public GmemFiles Files { get; }

        public Memslots Slots { get; }

        public GuestMemfd Create(ulong size)
        {
            Assert.Equal(Errno.Ok, Files.Create(new kvm_create_guest_memfd { size = size }, out int fd));
            return Files.Get(fd)!;
        }

        public int Bind(GuestMemfd file, uint id, ulong gpa, ulong size, ulong offset = 0)
        {
            Assert.Equal(Errno.Ok, Slots.Set(MemslotsTests.Region(id, gpa, size, MemslotFlags.GuestMemfd, fd: (uint)file.Fd, offset: offset)));
            return Slots.Find(0, new gfn_t(gpa >> 12));
        }

        public Errno GetPfn(GuestMemfd file, int slot, ulong gfn, out kvm_pfn_t pfn, out int maxOrder)
            => file.GetPfn(slot, ref Slots[slot], new gfn_t(gfn), out pfn, out maxOrder);

        public void Dispose()
        {
            Slots.Dispose();
            Files.Dispose();
        }
    }

    [Fact]
    public void Create_rejects_bad_sizes_flags_and_reserved_words()
    {
        using var rig = new Rig();
        Assert.Equal(Errno.EINVAL, rig.Files.Create(new kvm_create_guest_memfd { size = 0 }, out _));
        Assert.Equal(Errno.EINVAL, rig.Files.Create(new kvm_create_guest_memfd { size = 0x1800 }, out _));
        Assert.Equal(Errno.EINVAL, rig.Files.Create(new kvm_create_guest_memfd { size = MiB2, flags = 1UL << 5 }, out _));
        Assert.Equal(Errno.EINVAL, rig.Files.Create(new kvm_create_guest_memfd { size = MiB2, flags = (ulong)GuestMemfdFlags.InitShared }, out _));
        var reserved = new kvm_create_guest_memfd { size = MiB2 };
        reserved.reserved[3] = 1;
        Assert.Equal(Errno.EINVAL, rig.Files.Create(reserved, out _));
        Assert.Equal(Errno.Ok, rig.Files.Create(new kvm_create_guest_memfd { size = MiB2, flags = (ulong)GuestMemfdFlags.Mmap }, out int fd));
        Assert.Equal(3, fd);
    }

    [Fact]
    public void Fallocate_needs_keep_size_alignment_and_room()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        Assert.Equal(Errno.EOPNOTSUPP, file.Fallocate(FallocateMode.None, 0, 0x1000));
        Assert.Equal(Errno.EOPNOTSUPP, file.Fallocate(FallocateMode.PunchHole, 0, 0x1000));
        Assert.Equal(Errno.EOPNOTSUPP, file.Fallocate(FallocateMode.KeepSize | (FallocateMode)0x10, 0, 0x1000));
        Assert.Equal(Errno.EINVAL, file.Fallocate(FallocateMode.KeepSize, 0x800, 0x1000));
        Assert.Equal(Errno.EINVAL, file.Fallocate(FallocateMode.KeepSize, 0, MiB2 + 0x1000));
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0, MiB2 * 4)); // clipped
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, 0, 0x3000));
        Assert.Equal(3L, file.FoliosByOrder[0]);
        Assert.Empty(rig.Arch.Prepared); // allocation neither zeroes nor prepares
    }

    [Fact]
    public void Get_pfn_uses_gfn_minus_base_plus_pgoff_and_prepares_once_per_folio()
    {
        using var rig = new Rig();
        var file = rig.Create(4 * MiB2);
        int slot = rig.Bind(file, 0, 0x1_0000_0000, MiB2, offset: MiB2);
        Assert.Equal(Errno.Ok, rig.GetPfn(file, slot, 0x10_0005, out var pfn, out int maxOrder));
        Assert.Equal(0, maxOrder);
        var folio = file.Folio(0x200 + 5); // pgoff 0x200 + 5
        Assert.True(folio.Present && folio.Uptodate);
        Assert.Equal(pfn, folio.Pfn);
        Assert.Equal(Errno.Ok, rig.GetPfn(file, slot, 0x10_0005, out var again, out _));
        Assert.Equal(pfn, again);
        Assert.Single(rig.Arch.Prepared);
        Assert.Equal((new gfn_t(0x10_0005), pfn, 0), rig.Arch.Prepared[0]);
    }

    [Theory]
    [InlineData(GmemPrepareMode.EveryGetPfn, 3)]
    [InlineData(GmemPrepareMode.OncePerFolio, 1)]
    [InlineData(GmemPrepareMode.Never, 0)]
    public void The_prepare_mode_decides_how_often_the_hook_runs(GmemPrepareMode mode, int calls)
    {
        using var rig = new Rig(mode: mode);
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Errno.Ok, rig.GetPfn(file, slot, 7, out _, out _));
        }

        Assert.Equal(calls, rig.Arch.Prepared.Count);
    }

    [Fact]
    public void Get_pfn_errors_follow_the_kernel()
    {
        using var rig = new Rig(hostPages: 0x1002);
        var file = rig.Create(MiB2);
        var other = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        Assert.Equal(Errno.EFAULT, rig.GetPfn(other, slot, 1, out _, out _)); // slot not bound to this file
        file.Poison(2);
        Assert.Equal(Errno.Ok, rig.GetPfn(file, slot, 0, out _, out _));
        Assert.Equal(Errno.Ok, rig.GetPfn(file, slot, 1, out _, out _));
        Assert.Equal(Errno.ENOMEM, rig.GetPfn(file, slot, 2, out _, out _)); // the host has no more pages
    }

    [Fact]
    public void A_failing_prepare_hook_fails_get_pfn_with_its_errno()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        rig.Arch.PrepareResult = -(int)Errno.EINVAL;
        Assert.Equal(Errno.EINVAL, rig.GetPfn(file, slot, 3, out _, out _));
        Assert.Single(rig.Arch.Prepared);
    }

    [Fact]
    public void A_poisoned_page_is_ehwpoison_and_a_closed_file_efault()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        file.Poison(9);
        Assert.Equal(Errno.EHWPOISON, rig.GetPfn(file, slot, 9, out _, out _));
        file.Release();
        Assert.Equal(Errno.EFAULT, rig.GetPfn(file, slot, 1, out _, out _));
    }

    [Fact]
    public void Bindings_must_fit_the_file_and_not_overlap()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        rig.Bind(file, 0, 0, 0x10_0000);
        Assert.Equal(Errno.EINVAL, rig.Slots.Set(MemslotsTests.Region(1, 0x4000_0000, 0x10_0000, MemslotFlags.GuestMemfd, fd: (uint)file.Fd, offset: 0x8_0000)));
        Assert.Equal(Errno.EINVAL, rig.Slots.Set(MemslotsTests.Region(1, 0x4000_0000, 0x20_0000, MemslotFlags.GuestMemfd, fd: (uint)file.Fd, offset: 0x10_0000)));
        Assert.Equal(Errno.EINVAL, rig.Slots.Set(MemslotsTests.Region(1, 0x4000_0000, 0x1000, MemslotFlags.GuestMemfd, fd: (uint)file.Fd, offset: 0x10_0800)));
        Assert.Equal(Errno.EBADF, rig.Slots.Set(MemslotsTests.Region(1, 0x4000_0000, 0x1000, MemslotFlags.GuestMemfd, fd: 99)));
        Assert.Equal(Errno.Ok, rig.Slots.Set(MemslotsTests.Region(1, 0x4000_0000, 0x10_0000, MemslotFlags.GuestMemfd, fd: (uint)file.Fd, offset: 0x10_0000)));
    }

    [Fact]
    public void Two_mib_folios_report_order_9_only_when_gfn_and_index_align()
    {
        using var rig = new Rig(folioOrder: 9);
        var file = rig.Create(4 * MiB2);
        int aligned = rig.Bind(file, 0, 0x4000_0000, MiB2);
        int shifted = rig.Bind(file, 1, 0x8000_1000, MiB2 - 0x1000, offset: MiB2 + 0x1000);
        Assert.Equal(Errno.Ok, rig.GetPfn(file, aligned, 0x4_0000 + 17, out var pfn, out int order));
        Assert.Equal(9, order);
        Assert.Equal(1L, file.FoliosByOrder[9]);
        Assert.Equal(0UL, (pfn.Value - 17) & 511);
        Assert.Single(rig.Arch.Prepared);
        Assert.Equal((new gfn_t(0x4_0000), new kvm_pfn_t(pfn.Value - 17), 9), rig.Arch.Prepared[0]);
        Assert.Equal(Errno.Ok, rig.GetPfn(file, shifted, 0x8_0001, out _, out order));
        Assert.Equal(0, order); // the folio's gfns start below the slot
    }

    [Fact]
    public void Punching_a_whole_folio_zaps_its_gfns_and_frees_it_through_the_invalidate_hook()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        rig.GetPfn(file, slot, 4, out var pfn, out _);
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x4000, 0x1000));
        Assert.Equal((slot, 4UL, 1UL), rig.Arch.Zapped.Single());
        Assert.Equal((pfn, pfn + 1), rig.Arch.Invalidated.Single());
        Assert.False(file.Folio(4).Present);
        Assert.Empty(rig.Allocator.Live);
    }

    [Fact]
    public void Punching_part_of_a_2M_folio_splits_it_and_frees_only_the_punched_pages()
    {
        using var rig = new Rig(folioOrder: 9);
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        rig.GetPfn(file, slot, 0, out var head, out _);
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x5000, 0x1000));
        Assert.Equal(1, file.FolioSplits);
        Assert.Equal(0L, file.FoliosByOrder[9]);
        Assert.Equal(511L, file.FoliosByOrder[0]);
        Assert.Equal((head + 5, head + 6), rig.Arch.Invalidated.Single());
        Assert.False(file.Folio(5).Present);
        Assert.Equal((true, head + 6, 0, true), file.Folio(6));
        Assert.Equal(511, rig.Allocator.Live.Count);
    }

    [Fact]
    public void Release_unbinds_zaps_and_frees_everything()
    {
        using var rig = new Rig();
        var file = rig.Create(MiB2);
        int slot = rig.Bind(file, 0, 0, MiB2);
        for (ulong g = 0; g < 10; g++)
        {
            rig.GetPfn(file, slot, g, out _, out _);
        }

        Assert.Equal(Errno.Ok, rig.Files.Close(file.Fd));
        Assert.Empty(rig.Allocator.Live);
        Assert.Contains((slot, 0UL, 512UL), rig.Arch.Zapped);
        Assert.Equal(Errno.EBADF, rig.Files.Close(file.Fd));
    }
}
