using FastRmp.Engine.Gmem;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Gmem;

/// <summary>
/// The kernel's own expectations of guest_memfd and private faults, one test per selftest case that the other test
/// files did not reproduce (ids and expected results from kernel-domain.md 7.1 and 7.3: guest_memfd_test.c at
/// torvalds 6.8 and private_mem_kvm_exits_test.c, 6.8). page_size is 4 KiB, total_size 4 pages, as in the test.
/// </summary>
public sealed class GuestMemfdSelftestTests
{
    private const ulong PageSz = PageSize.Size4K;
    private const ulong Total = 4 * PageSz;

    private static (GmemFiles Files, GuestMemfd File) Create(ulong size = Total)
    {
        var files = new GmemFiles(new TestFolioAllocator(1 << 16));
        Assert.Equal(Errno.Ok, files.Create(new kvm_create_guest_memfd { size = size }, out int fd));
        return (files, files.Get(fd)!);
    }

    [Fact]
    public void GM_4b_punching_at_an_unaligned_offset_fails()
    {
        var (files, file) = Create();
        using var _ = files;
        Assert.NotEqual(Errno.Ok, file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, PageSz - 1, PageSz));
    }

    [Fact]
    public void GM_4e_allocating_an_unaligned_length_fails()
    {
        var (files, file) = Create();
        using var _ = files;
        Assert.NotEqual(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, PageSz, PageSz - 1));
    }

    [Fact]
    public void GM_4a_to_4g_allocate_punch_and_reallocate_the_punched_page_in_the_selftests_order()
    {
        var (files, file) = Create();
        using var _ = files;
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, 0, Total)); // 4a
        Assert.NotEqual(Errno.Ok, file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, PageSz - 1, PageSz)); // 4b
        Assert.Equal(Errno.EINVAL, file.Fallocate(FallocateMode.KeepSize, Total, PageSz)); // 4c
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, Total, PageSz)); // 4d
        Assert.NotEqual(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, PageSz, PageSz - 1)); // 4e
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, PageSz, PageSz)); // 4f
        Assert.False(file.Folio(1).Present);
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, PageSz, PageSz)); // 4g
        Assert.True(file.Folio(1).Present);
    }

    [Theory]
    [InlineData(0UL, 1UL)]
    [InlineData(0UL, PageSz - 1)]
    [InlineData(0UL, PageSz + 1)]
    [InlineData(1UL, 1UL)]
    [InlineData(1UL, PageSz - 1)]
    [InlineData(1UL, PageSz)]
    [InlineData(1UL, PageSz + 1)]
    [InlineData(PageSz, 1UL)]
    [InlineData(PageSz, PageSz - 1)]
    [InlineData(PageSz, PageSz + 1)]
    public void GM_5_an_unaligned_punch_is_EINVAL(ulong offset, ulong length)
    {
        var (files, file) = Create();
        using var _ = files;
        Assert.Equal(Errno.EINVAL, file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, offset, length));
    }

    [Fact]
    public void GM_8_two_files_have_their_own_sizes_and_identities()
    {
        using var files = new GmemFiles(new TestFolioAllocator(1 << 16));
        Assert.Equal(Errno.Ok, files.Create(new kvm_create_guest_memfd { size = 4096 }, out int small));
        Assert.Equal(Errno.Ok, files.Create(new kvm_create_guest_memfd { size = 8192 }, out int large));
        Assert.Equal(4096UL, files.Get(small)!.Size);
        Assert.Equal(8192UL, files.Get(large)!.Size);
        Assert.NotEqual(small, large);
        Assert.NotEqual(files.Get(small)!.FileId, files.Get(large)!.FileId); // what kvm_memory_slot.gmem.file holds: the inode
    }

    [Fact]
    public void Exits_a_a_private_access_after_its_memslot_is_deleted_exits_with_the_page_private_flag_and_EFAULT()
    {
        // private_mem_kvm_exits_test (a): KVM_EXIT_MEMORY_FAULT, flags = PRIVATE, gpa = the page, size = 4096; KVM_RUN
        // returns EFAULT.
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 0, new HostOptions(VmType: KvmVmType.SwProtected));
        host.CreateGuestMemfd(2 << 20);
        const ulong gpa = 1UL << 32;
        Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(10, gpa, 2 << 20, 0)));
        host.SetPrivate(gpa, 2 << 20, true);
        Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(10, gpa, 0, 0))); // delete the slot
        AssertPrivateExit(host.Guest.Access(new gpa_t(gpa + 0x3000), isPrivate: true), gpa + 0x3000);
    }

    [Fact]
    public void Exits_b_a_private_access_to_a_slot_without_guest_memfd_exits_with_the_page_private_flag_and_EFAULT()
    {
        // private_mem_kvm_exits_test (b): a memslot without guest_memfd but with the PRIVATE attribute: the same exit.
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 0, new HostOptions(VmType: KvmVmType.SwProtected));
        const ulong gpa = 1UL << 32;
        var region = host.Region(10, gpa, 2 << 20, 0) with { flags = 0 };
        Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(region));
        host.SetPrivate(gpa, 2 << 20, true);
        AssertPrivateExit(host.Guest.Access(new gpa_t(gpa + 0x5000), isPrivate: true), gpa + 0x5000);
    }

    [Fact]
    public void PC_4_a_guest_memfd_outlives_its_VM_and_still_punches_and_allocates()
    {
        // private_mem_conversions_test / guest_memfd_test (kernel-domain.md 7.3, PC-4): after the VM is destroyed,
        // fallocate(PUNCH_HOLE) and fallocate(allocate) on the still-open guest_memfd both succeed: the file holds its
        // own reference to the VM (kvm_gmem_create takes kvm_get_kvm, kvm_gmem_release drops it; guest_memfd.c, 6.8).
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 2 << 20);
        host.Guest.Pvalidate(new gpa_t(0x3000), FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
        var file = host.Vm.Gmem.Get(host.Fd)!;
        ulong allocated = host.Allocator.AllocatedPages;

        host.Vm.CloseVmFd();
        Assert.False(host.Vm.IsDisposed); // the file keeps the VM alive
        Assert.Throws<ObjectDisposedException>(() => host.Vm.SetMemoryAttributes(new kvm_memory_attributes { address = 0, size = PageSz }));
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x3000, PageSz));
        Assert.False(file.Folio(3).Present);
        Assert.Equal(allocated - 1, host.Allocator.AllocatedPages);
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize, 0, Total));
        Assert.True(file.Folio(3).Present);

        // Closing the last file destroys the VM: every folio goes back to the host.
        Assert.Equal(Errno.Ok, host.Vm.Gmem.Close(host.Fd));
        Assert.True(host.Vm.IsDisposed);
        Assert.Equal(0UL, host.Allocator.AllocatedPages);
    }

    [Fact]
    public void GM_6_a_size_below_one_page_is_EINVAL()
    {
        // guest_memfd_test.c test_create_guest_memfd_invalid_sizes: every size 1 .. page_size - 1 fails with EINVAL.
        var files = new GmemFiles(new TestFolioAllocator(1 << 10));
        for (ulong size = 1; size < PageSz; size++)
        {
            Assert.Equal(Errno.EINVAL, files.Create(new kvm_create_guest_memfd { size = size }, out _));
        }

        Assert.Empty(files.Files);
    }

    [Theory]
    [InlineData("6.13")]
    [InlineData("6.18")]
    [InlineData("kvm-x86-2026")]
    public void GM_7_and_GM_9_each_supported_flag_creates_and_every_other_bit_is_EINVAL(string kernel)
    {
        // guest_memfd_test.c: for each bit of KVM_CAP_GUEST_MEMFD_FLAGS a create succeeds (INIT_SHARED needs MMAP);
        // every other bit fails with EINVAL. The supported bits are the kernel's (kvm_gmem_get_supported_flags).
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 0, new HostOptions(Kernel: FastRmp.Engine.Kvm.KvmKernel.Parse(kernel)));
        var supported = (ulong)host.Vm.Gmem.SupportedFlags;
        for (int bit = 0; bit < 64; bit++)
        {
            ulong flag = 1UL << bit;
            ulong flags = flag == (ulong)GuestMemfdFlags.InitShared ? flag | (ulong)GuestMemfdFlags.Mmap : flag;
            var expected = (flags & ~supported) == 0 ? Errno.Ok : Errno.EINVAL;
            Assert.Equal(expected, host.Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = Total, flags = flags }, out _));
        }
    }

    [Fact]
    public void GM_10_and_GM_12_userspace_faults_on_a_private_page_or_past_the_end_are_refused()
    {
        // guest_memfd_test.c (6.18): a file with MMAP but not INIT_SHARED cannot be faulted through its mapping
        // (kvm_gmem_fault_user_mapping: VM_FAULT_SIGBUS; the model's EACCES), nor past i_size (SIGBUS; EINVAL); a file
        // without MMAP cannot be mapped at all (kvm_gmem_mmap: ENODEV, GM-2).
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 0, new HostOptions(Kernel: FastRmp.Engine.Kvm.KvmKernel.V6_18));
        Assert.Equal(Errno.Ok, host.Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = Total, flags = (ulong)GuestMemfdFlags.Mmap }, out int mmap));
        Assert.Equal(Errno.EACCES, host.Vm.Gmem.Get(mmap)!.Pin(0));
        Assert.Equal(Errno.EINVAL, host.Vm.Gmem.Get(mmap)!.Pin(Total / PageSz));
        Assert.Equal(Errno.Ok, host.Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = Total }, out int plain));
        Assert.Equal(Errno.ENODEV, host.Vm.Gmem.Get(plain)!.Pin(0));
    }

    [Theory]
    [InlineData(0UL, 0x1000UL)]
    [InlineData(0UL, 0x20_0000UL)]
    [InlineData(0x1000UL, 0x1000UL)]
    [InlineData(0x1000UL, 0x20_0000UL)]
    [InlineData(0x20_0000UL, 0x1000UL)]
    public void PC_1_a_range_converted_to_shared_and_back_keeps_private_and_shared_memory_apart(ulong offset, ulong size)
    {
        // private_mem_conversions_test.c (kernel-domain.md 7.2, PC-1), 6.18 semantics: the guest converts [offset,
        // +size) of its private memory to shared and back (no hole punch). While shared, the host's view is the VMM's
        // own page (a different pfn: private writes are never visible to it) and the private page stays the guest's;
        // pages outside the range keep their mappings; back to private, each page is the same guest_memfd page as
        // before (its contents kept).
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 4 << 20);
        const ulong Region = 4 << 20;
        for (ulong gpa = 0; gpa < Region; gpa += PageSz)
        {
            host.Guest.Pvalidate(new gpa_t(gpa), FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
        }

        var before = new kvm_pfn_t[Region / PageSz];
        for (ulong i = 0; i < (ulong)before.Length; i++)
        {
            before[i] = host.Vm.Npt.Lookup(new gfn_t(i)).Pfn;
        }

        for (ulong gpa = offset; gpa < offset + size; gpa += PageSz)
        {
            host.Guest.Pvalidate(new gpa_t(gpa), FastRmp.Interop.Hardware.RmpPageSize.Size4K, false);
        }

        host.Guest.PageStateChange(new gpa_t(offset), size, toPrivate: false, punchHole: false);
        for (ulong i = 0; i < (ulong)before.Length; i++)
        {
            bool inRange = i * PageSz >= offset && i * PageSz < offset + size;
            var outcome = host.Guest.Access(new gpa_t(i * PageSz), isPrivate: !inRange, write: true);
            Assert.Equal(AccessResult.Ok, outcome.Result);
            if (inRange)
            {
                Assert.NotEqual(before[i], outcome.Leaf.Pfn);
                Assert.True(host.Rmp.Read(before[i]).assigned);
            }
            else
            {
                Assert.Equal(before[i], outcome.Leaf.Pfn);
            }
        }

        host.Guest.PageStateChange(new gpa_t(offset), size, toPrivate: true, punchHole: false);
        for (ulong gpa = offset; gpa < offset + size; gpa += PageSz)
        {
            host.Guest.Pvalidate(new gpa_t(gpa), FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
            var outcome = host.Guest.Access(new gpa_t(gpa), isPrivate: true);
            Assert.Equal(AccessResult.Ok, outcome.Result);
            Assert.Equal(before[gpa / PageSz], outcome.Leaf.Pfn);
        }

        host.Vm.Verify();
    }

    [Fact]
    public void PC_2_odd_frames_shared_one_by_one_make_the_2M_region_mixed_and_map_at_4K()
    {
        // private_mem_conversions_test.c (PC-2): the odd 4K frames of a 2 MiB region are converted to shared one by
        // one; the region's attributes are mixed (KVM_LPAGE_MIXED_FLAG on its 2M lpage_info) and, with 2M folios, every
        // frame is mapped at 4K, the private ones at their own pfns inside the folio.
        using var host = new Host("first-use", folioOrder: 9, guestBytes: 4 << 20);
        const ulong Chunk = 2 << 20;
        for (ulong gpa = Chunk + PageSz; gpa < 2 * Chunk; gpa += 2 * PageSz)
        {
            host.Guest.PageStateChange(new gpa_t(gpa), PageSz, toPrivate: false, punchHole: false);
        }

        Assert.True(host.Vm.Memslots.LpageInfo(0, FastRmp.Interop.Kernel.PgLevel.Level2M, new gpa_t(Chunk).Gfn).IsMixed);
        for (ulong gpa = Chunk; gpa < 2 * Chunk; gpa += PageSz)
        {
            bool isPrivate = (gpa / PageSz) % 2 == 0;
            if (isPrivate)
            {
                host.Guest.Pvalidate(new gpa_t(gpa), FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
            }

            var outcome = host.Guest.Access(new gpa_t(gpa), isPrivate);
            Assert.Equal(AccessResult.Ok, outcome.Result);
            Assert.Equal(FastRmp.Interop.Kernel.PgLevel.Level4K, outcome.Leaf.Level);
        }

        host.Vm.Verify();
    }

    [Fact]
    public void PC_3_after_a_punch_of_private_memory_the_guest_gets_a_fresh_page()
    {
        // private_mem_conversions_test.c punch-hole case: after PUNCH_HOLE of private memory the guest reads zeros: the
        // page is gone from guest_memfd (its folio freed, back to shared in the RMP through the invalidate hook), the
        // next access allocates and prepares a fresh folio, which the guest has not validated (#VC, so a Linux guest
        // accepts it again: the test's guest sees a zeroed page).
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 2 << 20);
        var gpa = new gpa_t(0x3000);
        host.Guest.Pvalidate(gpa, FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
        Assert.Equal(AccessResult.Ok, host.Guest.Access(gpa, isPrivate: true).Result);
        var file = host.Vm.Gmem.Get(host.Fd)!;
        var old = file.Folio(3).Pfn;
        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x3000, PageSz));
        Assert.False(file.Folio(3).Present);
        Assert.False(host.Rmp.Read(old).assigned);
        Assert.Equal(AccessResult.NotValidated, host.Guest.Access(gpa, isPrivate: true).Result);
        Assert.False(file.Folio(3).Uptodate && host.Rmp.Read(file.Folio(3).Pfn).validated);
    }

    [Fact]
    public void PC_5_several_memslots_convert_independently_with_no_exit_but_the_hypercalls()
    {
        // private_mem_conversions_test.c with several vCPUs and memslots: each vCPU converts and uses its own region
        // (here four 2 MiB slots, each on its own guest_memfd); no exit other than the guest's page-state changes
        // (KVM_HC_MAP_GPA_RANGE) appears.
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 0);
        for (uint slot = 0; slot < 4; slot++)
        {
            host.CreateGuestMemfd(2 << 20);
            Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(slot, slot * (4UL << 20), 2 << 20, 0)));
            host.SetPrivate(slot * (4UL << 20), 2 << 20, true);
        }

        for (ulong slot = 0; slot < 4; slot++)
        {
            var gpa = new gpa_t((slot * (4UL << 20)) + (slot * PageSz));
            host.Guest.Pvalidate(gpa, FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
            Assert.Equal(AccessResult.Ok, host.Guest.Access(gpa, isPrivate: true, write: true).Result);
            host.Guest.Pvalidate(gpa, FastRmp.Interop.Hardware.RmpPageSize.Size4K, false);
            host.Guest.PageStateChange(gpa, PageSz, toPrivate: false, punchHole: false);
            Assert.Equal(AccessResult.Ok, host.Guest.Access(gpa, isPrivate: false, write: true).Result);
            host.Guest.PageStateChange(gpa, PageSz, toPrivate: true, punchHole: false);
            host.Guest.Pvalidate(gpa, FastRmp.Interop.Hardware.RmpPageSize.Size4K, true);
            Assert.Equal(AccessResult.Ok, host.Guest.Access(gpa, isPrivate: true).Result);
        }

        Assert.Equal(0, host.Vm.Counters.MemoryFaultExits);
        Assert.Equal(8, host.Vm.Counters.HypercallExits);
        host.Vm.Verify();
    }

    private static void AssertPrivateExit(AccessOutcome outcome, ulong gpa)
    {
        Assert.Equal(AccessResult.MemoryFaultExit, outcome.Result);
        Assert.Equal(gpa, outcome.Exit.Run.gpa);
        Assert.Equal(PageSz, outcome.Exit.Run.size);
        Assert.Equal(KvmUapi.KVM_MEMORY_EXIT_FLAG_PRIVATE, outcome.Exit.Run.flags);
        Assert.Equal(Errno.EFAULT, outcome.Exit.Errno);
    }
}
