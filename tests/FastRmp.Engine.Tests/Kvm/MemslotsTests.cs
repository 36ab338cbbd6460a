using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>KVM_SET_USER_MEMORY_REGION2 rules and lpage_info setup (kvm_main.c, x86.c; kernel-domain.md 2.2, 3.1).</summary>
public sealed class MemslotsTests
{
    private static readonly MemslotOptions Snp = new(PrivateMemory: true);

    internal static kvm_userspace_memory_region2 Region(uint slot, ulong gpa, ulong size, MemslotFlags flags = 0, ulong hva = 0x7f00_0000_0000, uint fd = 0, ulong offset = 0)
        => new()
        {
            slot = slot,
            flags = (uint)flags,
            guest_phys_addr = gpa,
            memory_size = size,
            userspace_addr = hva + gpa,
            guest_memfd = fd,
            guest_memfd_offset = offset,
        };

    [Fact]
    public void Every_user_slot_of_both_address_spaces_can_be_set_found_moved_and_deleted()
    {
        // KVM_USER_MEM_SLOTS (32764) per address space, one page each, interleaved: overlaps are EEXIST, ids are found
        // again, deleted indexes are reused, and a full set is ENOSPC (issue 18, item 14: this took O(n^2)).
        const int PerSpace = KvmLimits.UserMemslots;
        using var slots = new Memslots(PerSpace * 2, options: Snp);
        for (int i = 0; i < PerSpace; i++)
        {
            Assert.Equal(Errno.Ok, slots.Set(Region((uint)i, (ulong)i * 2 * PageSize.Size4K, PageSize.Size4K)));
            Assert.Equal(Errno.Ok, slots.Set(Region((1u << 16) | (uint)i, (ulong)i * 2 * PageSize.Size4K, PageSize.Size4K)));
        }

        Assert.Equal(PerSpace * 2, slots.Count);
        Assert.Equal(Errno.EEXIST, slots.Set(Region(5, 12 * PageSize.Size4K, PageSize.Size4K))); // moving slot 5 onto slot 6
        for (int i = 0; i < PerSpace; i += 997)
        {
            int index = slots.Find(0, new gfn_t((ulong)i * 2));
            Assert.Equal(i, slots[index].id);
            Assert.Equal(-1, slots.Find(0, new gfn_t(((ulong)i * 2) + 1)));
        }

        // delete slot 7, move slot 8 into the hole it leaves, and reuse the freed index for a new slot
        Assert.Equal(Errno.Ok, slots.Set(Region(7, 14 * PageSize.Size4K, 0)));
        Assert.Equal(Errno.Ok, slots.Set(Region(8, 14 * PageSize.Size4K, PageSize.Size4K)));
        Assert.Equal(8, slots[slots.Find(0, new gfn_t(14))].id);
        Assert.Equal(-1, slots.Find(0, new gfn_t(16)));
        Assert.Equal(Errno.Ok, slots.Set(Region(7, 16 * PageSize.Size4K, PageSize.Size4K)));
        Assert.Equal(7, slots[slots.Find(0, new gfn_t(16))].id);
        Assert.Equal(Errno.EINVAL, slots.Set(Region(PerSpace, 1UL << 40, PageSize.Size4K))); // id past KVM_USER_MEM_SLOTS
    }

    [Fact]
    public void Find_at_or_above_gives_the_slot_holding_a_gfn_else_the_next_one()
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(-1, slots.FindAtOrAbove(0, new gfn_t(0)));
        Assert.Equal(Errno.Ok, slots.Set(Region(1, 0x10_0000, 0x2000)));
        Assert.Equal(Errno.Ok, slots.Set(Region(2, 0x20_0000, 0x1000)));
        int low = slots.Find(0, new gfn_t(0x100)), high = slots.Find(0, new gfn_t(0x200));
        Assert.Equal(low, slots.FindAtOrAbove(0, new gfn_t(0)));     // below every slot: the first
        Assert.Equal(low, slots.FindAtOrAbove(0, new gfn_t(0x101))); // inside it
        Assert.Equal(high, slots.FindAtOrAbove(0, new gfn_t(0x102))); // in the gap: the next
        Assert.Equal(-1, slots.FindAtOrAbove(0, new gfn_t(0x201)));  // above every slot
        Assert.Equal(-1, slots.FindAtOrAbove(1, new gfn_t(0)));      // another address space
    }

    [Fact]
    public void A_slot_is_stored_as_a_kvm_memory_slot_and_found_by_gfn()
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(Errno.Ok, slots.Set(Region(3, 0x1_0000_0000, 0x4000_0000)));
        int index = slots.Find(0, new gfn_t(0x10_0000 + 5));
        Assert.True(index >= 0);
        ref var slot = ref slots[index];
        Assert.Equal(new gfn_t(0x10_0000), slot.base_gfn);
        Assert.Equal(0x4_0000UL, slot.npages);
        Assert.Equal(3, slot.id);
        Assert.Equal(-1, slots.Find(0, new gfn_t(0x10_0000 + 0x4_0000)));
        Assert.Equal(-1, slots.Find(0, new gfn_t(0xF_FFFF)));
        Assert.Equal(-1, slots.Find(1, new gfn_t(0x10_0000)));
    }

    [Theory]
    [InlineData(0x1001UL, 0x1000UL)] // gpa not page-aligned
    [InlineData(0x1000UL, 0x800UL)] // size not page-aligned
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 0x2000UL)] // gpa + size overflows
    public void Misaligned_or_overflowing_regions_are_einval(ulong gpa, ulong size)
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, gpa, size)));
        Assert.Equal(0, slots.Count);
    }

    [Fact]
    public void Bad_slot_ids_address_spaces_and_flags_are_einval()
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(Errno.EINVAL, slots.Set(Region(2u << 16, 0, 0x1000))); // as_id 2
        Assert.Equal(Errno.EINVAL, slots.Set(Region(32764, 0, 0x1000)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0x1000, (MemslotFlags)8)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0x1000, MemslotFlags.Invalid)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0))); // deleting a slot that does not exist
    }

    [Fact]
    public void Guest_memfd_slots_reject_dirty_logging_and_readonly_unless_the_what_if_allows_it()
    {
        var gmem = new FakeGmem();
        using var slots = new Memslots(gmem: gmem, options: Snp);
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0x20_0000, MemslotFlags.GuestMemfd | MemslotFlags.LogDirtyPages, fd: 9)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0x20_0000, MemslotFlags.GuestMemfd | MemslotFlags.ReadOnly, fd: 9)));
        using var whatIf = new Memslots(gmem: gmem, options: Snp with { AllowDirtyLoggingOnGmem = true });
        Assert.Equal(Errno.Ok, whatIf.Set(Region(0, 0, 0x20_0000, MemslotFlags.GuestMemfd | MemslotFlags.LogDirtyPages, fd: 9)));
        using var plain = new Memslots(gmem: gmem, options: new MemslotOptions(PrivateMemory: false));
        Assert.Equal(Errno.EINVAL, plain.Set(Region(0, 0, 0x20_0000, MemslotFlags.GuestMemfd, fd: 9)));
    }

    [Fact]
    public void Overlapping_slots_are_eexist_in_the_same_address_space_only()
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0x10_0000, 0x10_0000)));
        Assert.Equal(Errno.EEXIST, slots.Set(Region(1, 0x1F_F000, 0x2000)));
        Assert.Equal(Errno.Ok, slots.Set(Region(1, 0x20_0000, 0x2000)));
        Assert.Equal(Errno.Ok, slots.Set(Region((1u << 16) | 2, 0x10_0000, 0x10_0000))); // SMM address space
    }

    [Fact]
    public void A_slot_can_be_moved_or_deleted_but_not_resized_and_a_gmem_slot_only_deleted()
    {
        var gmem = new FakeGmem();
        using var slots = new Memslots(gmem: gmem, options: Snp);
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0, 0x20_0000)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(0, 0, 0x40_0000)));
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0x40_0000, 0x20_0000)));
        Assert.Equal(-1, slots.Find(0, new gfn_t(0)));
        Assert.True(slots.Find(0, new gfn_t(0x400)) >= 0);
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0x40_0000, 0x20_0000, MemslotFlags.LogDirtyPages)));

        Assert.Equal(Errno.Ok, slots.Set(Region(1, 0x100_0000, 0x20_0000, MemslotFlags.GuestMemfd, fd: 4)));
        Assert.Equal(Errno.EINVAL, slots.Set(Region(1, 0x200_0000, 0x20_0000, MemslotFlags.GuestMemfd, fd: 4)));
        Assert.Equal(Errno.Ok, slots.Set(Region(1, 0x100_0000, 0)));
        Assert.Equal(1, gmem.Unbinds);
        Assert.Equal(1, slots.Count);
    }

    [Fact]
    public void A_gmem_binding_error_is_returned_and_nothing_is_created()
    {
        var gmem = new FakeGmem { Result = Errno.EBADF };
        using var slots = new Memslots(gmem: gmem, options: Snp);
        Assert.Equal(Errno.EBADF, slots.Set(Region(0, 0, 0x20_0000, MemslotFlags.GuestMemfd, fd: 77)));
        Assert.Equal(0, slots.Count);
    }

    [Fact]
    public void The_gmem_block_holds_the_bound_file_and_the_page_offset()
    {
        var gmem = new FakeGmem();
        using var slots = new Memslots(gmem: gmem, options: Snp);
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0x8000_0000, 0x20_0000, MemslotFlags.GuestMemfd, fd: 5, offset: 0x40_0000)));
        ref var slot = ref slots[slots.Find(0, new gfn_t(0x8_0000))];
        Assert.Equal(0x400UL, slot.gmem.pgoff);
        Assert.Equal(1005UL, slot.gmem.file);
        Assert.Equal(((uint)5, 0x40_0000UL, 512UL), gmem.LastBind);
    }

    [Fact]
    public void Lpage_info_disallows_hugepages_at_unaligned_slot_edges()
    {
        using var slots = new Memslots(options: Snp);
        // gfns 0x100 .. 0x100 + 0x600: 2M hugepages 0 (partial head), 1, 2, 3 (partial tail: ends at 0x700).
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0x10_0000, 0x60_0000)));
        int index = slots.Find(0, new gfn_t(0x100));
        Assert.Equal(4UL, slots.LpageCount(index, PgLevel.Level2M));
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x100)).disallow_lpage);
        Assert.Equal(0, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200)).disallow_lpage);
        Assert.Equal(0, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x400)).disallow_lpage);
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x6FF)).disallow_lpage);
        Assert.Equal(1UL, slots.LpageCount(index, PgLevel.Level1G));
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level1G, new gfn_t(0x100)).disallow_lpage);
    }

    [Fact]
    public void A_userspace_address_misaligned_with_the_gfn_disallows_every_hugepage()
    {
        using var slots = new Memslots(options: Snp);
        Assert.Equal(Errno.Ok, slots.Set(Region(0, 0, 0x40_0000, hva: 0x7f00_0000_1000)));
        int index = slots.Find(0, new gfn_t(0));
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0)).disallow_lpage);
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200)).disallow_lpage);
    }

    [Fact]
    public void Five_hundred_twelve_one_page_slots_each_disallow_2M()
    {
        var gmem = new FakeGmem();
        using var slots = new Memslots(capacity: 600, gmem: gmem, options: Snp);
        for (uint i = 0; i < 512; i++)
        {
            Assert.Equal(Errno.Ok, slots.Set(Region(i, 0x20_0000 + (i * 0x1000UL), 0x1000, MemslotFlags.GuestMemfd, fd: 3, offset: i * 0x1000UL)));
        }

        Assert.Equal(512, slots.Count);
        for (uint i = 0; i < 512; i += 51)
        {
            int index = slots.Find(0, new gfn_t(0x200 + i));
            Assert.Equal(i, (uint)slots[index].id);
            Assert.NotEqual(0, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200 + i)).disallow_lpage);
        }
    }

    private sealed class FakeGmem : IGmemBindings
    {
        public Errno Result { get; init; } = Errno.Ok;

        public int Unbinds { get; private set; }

        public (uint Fd, ulong Offset, ulong Pages) LastBind { get; private set; }

        public Errno Bind(uint fd, ulong offset, ulong npages, int slot, gfn_t baseGfn, out ulong file)
        {
            LastBind = (fd, offset, npages);
            file = Result == Errno.Ok ? 1000 + fd : 0;
            return Result;
        }

        public void Unbind(ulong file, ulong pgoff, ulong npages) => Unbinds++;
    }
}
