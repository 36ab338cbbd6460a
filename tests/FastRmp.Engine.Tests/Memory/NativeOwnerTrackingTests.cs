using System.Runtime.CompilerServices;
using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Memory;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Memory;

/// <summary>
/// Issue 13: every unmanaged byte the engine holds is counted in <see cref="NativeBuffer.LiveBytes"/> while it lives
/// and given back, once, when its owner is disposed (or finalized, if the owner was leaked).
/// </summary>
[Collection(NativeMemoryCollection.Name)]
public sealed unsafe class NativeOwnerTrackingTests
{
    [Fact]
    public void Native_array_counts_each_resize_keeps_its_elements_and_zeroes_new_ones()
    {
        long before = NativeBuffer.LiveBytes;
        var array = new NativeArray<uint>(10);
        Assert.Equal(before + 40, NativeBuffer.LiveBytes);
        array.Pointer[9] = 7;
        uint* items = array.Resize(1000);
        Assert.Equal(7u, items[9]);
        Assert.True(new ReadOnlySpan<uint>(items + 10, 990).IndexOfAnyExcept(0u) < 0);
        Assert.Equal(before + 4000, NativeBuffer.LiveBytes);
        Assert.True(array.Resize(0) == null);
        Assert.Equal(before, NativeBuffer.LiveBytes);
        array.Resize(3);
        array.Dispose();
        array.Dispose();
        Assert.Equal(before, NativeBuffer.LiveBytes);
        Assert.True(array.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => array.Resize(1));
    }

    [Fact]
    public void Chunk_table_counts_its_chunks_and_allocates_a_slot_once()
    {
        long before = NativeBuffer.LiveBytes;
        var table = new NativeChunkTable(8, 4096);
        void* chunk = table.Allocate(5);
        Assert.True(table.Slots[5] == chunk);
        Assert.True(table.Slots[4] == null);
        Assert.Equal(1, table.AllocatedChunks);
        Assert.Equal(before + table.Bytes, NativeBuffer.LiveBytes);
        Assert.Throws<InvalidOperationException>(() => table.Allocate(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Allocate(8));
        table.Dispose();
        table.Dispose();
        Assert.Equal(before, NativeBuffer.LiveBytes);
    }

    [Fact]
    public void Npt_map_counts_its_top_table_and_slab()
    {
        long before = NativeBuffer.LiveBytes;
        var npt = new NptMap(addressBits: 40);
        npt.Map(new gfn_t(0x12345), new kvm_pfn_t(7), PgLevel.Level4K, isPrivate: true);
        Assert.Equal(before + npt.MemoryBytes, NativeBuffer.LiveBytes);
        npt.Dispose();
        npt.Dispose();
        Assert.Equal(before, NativeBuffer.LiveBytes);
    }

    [Fact]
    public void Compact_store_counts_bitmaps_detail_slabs_free_list_and_permissions()
    {
        long before = NativeBuffer.LiveBytes;
        var store = new CompactRmpStore(4096);
        store.Write4K(0, new rmpentry_raw { assigned = true, asid = 1, gpa = 100 });
        store.Write4K(1, new rmpentry_raw { assigned = true, asid = 1, gpa = 5, hi = 1UL << 8 }); // not linear; VMPL1 R
        Assert.Equal(1, store.DetailPagesInUse);
        // MemoryBytes covers bitmaps, slabs, free list and permissions; the slab table adds a pointer per slab.
        Assert.Equal(before + store.MemoryBytes + sizeof(nint), NativeBuffer.LiveBytes);
        store.Dispose();
        store.Dispose();
        Assert.Equal(before, NativeBuffer.LiveBytes);
        Assert.Equal(0UL, store.Pages);
    }

    [Fact]
    public void Attribute_map_memslots_and_guest_memfd_give_back_everything_they_counted()
    {
        long before = NativeBuffer.LiveBytes;
        var attributes = new MemoryAttributeMap(addressBits: 40);
        attributes.Set(new kvm_memory_attributes { address = 1UL << 30, size = 2UL << 20, attributes = (ulong)MemoryAttributes.Private }, out _);
        var slots = new Memslots(capacity: 4, gmem: null, new MemslotOptions(PrivateMemory: false));
        Assert.Equal(Errno.Ok, slots.Set(new kvm_userspace_memory_region2 { memory_size = 8UL << 20, userspace_addr = 0x7f0000000000 }));
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1 << 12);
        var files = new GmemFiles(allocator);
        Assert.Equal(Errno.Ok, files.Create(new kvm_create_guest_memfd { size = 4UL << 20 }, out int fd));
        files.Get(fd)!.Poison(3); // gives the first page-cache chunk its 2 MiB buffer
        long metadata = allocator.MetadataBytes;
        Assert.True(NativeBuffer.LiveBytes >= before + metadata + (2L << 20) + (32L << 10));
        attributes.Dispose();
        slots.Dispose();
        files.Dispose();
        Assert.Equal(before + metadata, NativeBuffer.LiveBytes);
    }

    [Fact]
    public void Leaked_owners_are_freed_by_their_finalizers()
    {
        // Owners that earlier tests leaked are finalized first, so that only this test's leaks move the counter below.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = NativeBuffer.LiveBytes;
        Leak();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(before, NativeBuffer.LiveBytes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak()
    {
        _ = new NativeArray<ulong>(512);
        new NativeChunkTable(4, 4096).Allocate(1);
        new CompactRmpStore(4096).Write4K(1, new rmpentry_raw { assigned = true, asid = 1, gpa = 9, hi = 1UL << 8 });
    }
}
