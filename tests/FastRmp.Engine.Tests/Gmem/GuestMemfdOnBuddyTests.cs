using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Tests.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Gmem;

/// <summary>guest_memfd with its folios from the real page-order allocator.</summary>
public sealed class GuestMemfdOnBuddyTests
{
    [Fact]
    public void A_2M_folio_is_one_order_9_block_a_partial_punch_splits_it_and_release_returns_everything()
    {
        using var buddy = new BuddyAllocator(new kvm_pfn_t(0), 1 << 16);
        ulong free = buddy.FreePages;
        using var files = new GmemFiles(buddy, folioOrder: 9);
        using var slots = new Memslots(gmem: files, options: new MemslotOptions(PrivateMemory: true));
        Assert.Equal(Errno.Ok, files.Create(new kvm_create_guest_memfd { size = 0x40_0000 }, out int fd));
        var file = files.Get(fd)!;
        Assert.Equal(Errno.Ok, slots.Set(MemslotsTests.Region(0, 0, 0x40_0000, MemslotFlags.GuestMemfd, fd: (uint)fd)));
        Assert.Equal(Errno.Ok, file.GetPfn(0, ref slots[0], new gfn_t(3), out var pfn, out int order));
        Assert.Equal(9, order);
        Assert.Equal(free - 512, buddy.FreePages);
        Assert.Equal(0UL, (pfn.Value - 3) % 512);

        Assert.Equal(Errno.Ok, file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0x3000, 0x2000));
        Assert.Equal(free - 510, buddy.FreePages);
        buddy.Verify();

        Assert.Equal(Errno.Ok, files.Close(fd));
        Assert.Equal(free, buddy.FreePages);
        buddy.Verify();
    }

    [Fact]
    public void Split_turns_an_allocated_block_into_pages_that_free_one_by_one()
    {
        using var buddy = new BuddyAllocator(new kvm_pfn_t(0x100000), 4096);
        Assert.True(buddy.TryAllocate(9, out var pfn));
        buddy.Split(pfn, 9);
        Assert.Throws<InvalidOperationException>(() => buddy.Free(pfn, 9));
        for (ulong i = 0; i < 512; i++)
        {
            buddy.Free(pfn + i, 0);
        }

        Assert.Equal(4096UL, buddy.FreePages);
        buddy.Verify();
    }
}
