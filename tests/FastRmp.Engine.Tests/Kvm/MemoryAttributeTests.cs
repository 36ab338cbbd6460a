using FastRmp.Engine.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>KVM_SET_MEMORY_ATTRIBUTES and the MIXED flag (kvm_main.c, mmu.c; kernel-domain.md 3.2, 5.4).</summary>
public sealed class MemoryAttributeTests
{
    private static kvm_memory_attributes Private(ulong address, ulong size) => new() { address = address, size = size, attributes = (ulong)MemoryAttributes.Private };

    private static kvm_memory_attributes Shared(ulong address, ulong size) => new() { address = address, size = size };

    [Fact]
    public void Invalid_requests_are_einval()
    {
        using var map = new MemoryAttributeMap();
        Assert.Equal(Errno.EINVAL, map.Set(Private(0, 0x1000) with { flags = 1 }, out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(0, 0x1000) with { attributes = 1 }, out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(0, 0), out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(0x800, 0x1000), out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(0, 0x1800), out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(0xFFFF_FFFF_FFFF_F000, 0x2000), out _));
        Assert.Equal(Errno.EINVAL, map.Set(Private(1UL << 48, 0x1000), out _));
        Assert.Equal(0UL, map.CountPrivate());
    }

    [Fact]
    public void Ranges_become_private_and_shared_and_a_no_op_reports_no_change()
    {
        using var map = new MemoryAttributeMap();
        Assert.Equal(Errno.Ok, map.Set(Private(0x3FFF_F000, 0x3000), out bool changed)); // crosses the 1 GiB chunk boundary
        Assert.True(changed);
        Assert.True(map.IsPrivate(new gfn_t(0x3FFFF)));
        Assert.True(map.IsPrivate(new gfn_t(0x40001)));
        Assert.False(map.IsPrivate(new gfn_t(0x40002)));
        Assert.Equal(3UL, map.CountPrivate());
        Assert.Equal(Errno.Ok, map.Set(Private(0x4000_0000, 0x1000), out changed));
        Assert.False(changed);
        Assert.Equal(Errno.Ok, map.Set(Shared(0x4000_0000, 0x1000), out changed));
        Assert.True(changed);
        Assert.Equal(2UL, map.CountPrivate());
    }

    [Fact]
    public void One_private_page_makes_its_2M_and_1G_hugepages_mixed_until_the_whole_range_agrees()
    {
        using var slots = new Memslots(options: new MemslotOptions(PrivateMemory: true));
        using var map = new MemoryAttributeMap();
        Assert.Equal(Errno.Ok, slots.Set(MemslotsTests.Region(0, 0, 0x4000_0000)));
        int index = slots.Find(0, new gfn_t(0));
        HugepageAttributes.InitializeSlot(slots, map, index);
        Assert.False(slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200)).IsMixed);

        map.Set(Private(0x20_1000, 0x1000), out _); // gfn 0x201
        HugepageAttributes.Recompute(slots, map, new gfn_t(0x201), new gfn_t(0x202));
        Assert.True(slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200)).IsMixed);
        Assert.False(slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x400)).IsMixed);
        Assert.True(slots.LpageInfo(index, PgLevel.Level1G, new gfn_t(0)).IsMixed);

        map.Set(Private(0x20_0000, 0x20_0000), out _); // the whole 2M hugepage at gfn 0x200
        HugepageAttributes.Recompute(slots, map, new gfn_t(0x200), new gfn_t(0x400));
        Assert.False(slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200)).IsMixed);
        Assert.True(slots.LpageInfo(index, PgLevel.Level1G, new gfn_t(0)).IsMixed); // the rest of the GiB is shared

        map.Set(Private(0, 0x4000_0000), out _);
        HugepageAttributes.Recompute(slots, map, new gfn_t(0), new gfn_t(0x4_0000));
        Assert.False(slots.LpageInfo(index, PgLevel.Level1G, new gfn_t(0)).IsMixed);
        Assert.Equal(0, slots.LpageInfo(index, PgLevel.Level1G, new gfn_t(0)).disallow_lpage);
    }

    [Fact]
    public void Mixed_is_a_flag_beside_the_disallow_counter()
    {
        using var slots = new Memslots(options: new MemslotOptions(PrivateMemory: true));
        using var map = new MemoryAttributeMap();
        slots.Set(MemslotsTests.Region(0, 0x1000, 0x40_0000)); // starts at gfn 1: the first 2M entry has disallow 1
        int index = slots.Find(0, new gfn_t(1));
        map.Set(Private(0x20_0000, 0x1000), out _);
        HugepageAttributes.InitializeSlot(slots, map, index);
        ref var info = ref slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(0x200));
        Assert.True(info.IsMixed);
        Assert.Equal(0, info.Count);
        Assert.Equal(1, slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(1)).Count);
    }
}
