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

    private static void AssertPrivateExit(AccessOutcome outcome, ulong gpa)
    {
        Assert.Equal(AccessResult.MemoryFaultExit, outcome.Result);
        Assert.Equal(gpa, outcome.Exit.Run.gpa);
        Assert.Equal(PageSz, outcome.Exit.Run.size);
        Assert.Equal(KvmUapi.KVM_MEMORY_EXIT_FLAG_PRIVATE, outcome.Exit.Run.flags);
        Assert.Equal(Errno.EFAULT, outcome.Exit.Errno);
    }
}
