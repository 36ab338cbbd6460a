using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Tests.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Gmem;

/// <summary>
/// Page-cache chunks kept as linear runs must be indistinguishable from chunks with a buffer: two files, one with
/// <see cref="GuestMemfd.LinearChunks"/> off, take the same random mix of in-order faults, runs of fresh folios,
/// random faults, populates, punches and poisonings, and must agree entry by entry, run by run.
/// </summary>
public sealed class GuestMemfdLinearChunkTests
{
    private const ulong Pages = (2UL << 18) + 1000; // two whole page-cache chunks and part of a third

    private sealed class Side : IDisposable
    {
        public Side(bool linear, int folioOrder = 0)
        {
            Allocator = new BuddyAllocator(new kvm_pfn_t(0), 1UL << 21, maxOrder: 18);
            Files = new GmemFiles(Allocator, folioOrder);
            Slots = new Memslots(gmem: Files, options: new MemslotOptions(PrivateMemory: true));
            Assert.Equal(Errno.Ok, Files.Create(new kvm_create_guest_memfd { size = Pages << 12 }, out int fd));
            File = Files.Get(fd)!;
            File.LinearChunks = linear;
            Assert.Equal(Errno.Ok, Slots.Set(MemslotsTests.Region(0, 0, Pages << 12, MemslotFlags.GuestMemfd, fd: (uint)fd)));
        }

        public BuddyAllocator Allocator { get; }

        public GmemFiles Files { get; }

        public Memslots Slots { get; }

        public GuestMemfd File { get; }

        public Errno GetPfn(ulong index, out kvm_pfn_t pfn) => File.GetPfn(0, ref Slots[0], new gfn_t(index), out pfn, out _);

        public void Dispose()
        {
            Slots.Dispose();
            Files.Dispose();
            Allocator.Dispose();
        }
    }

    private struct AcceptAll : IPfnRunFilter
    {
        public readonly bool Accept(kvm_pfn_t first, ulong count) => true;
    }

    private readonly struct RunList(List<(ulong, ulong, int, ulong)> runs) : IFolioRunVisitor
    {
        public void Run(ulong index, kvm_pfn_t pfn, int order, ulong folios) => runs.Add((index, pfn.Value, order, folios));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(4, 9)]
    [InlineData(5, 9)]
    [InlineData(6, 18)]
    public void Linear_chunks_behave_as_chunks_with_buffers(int seed, int folioOrder)
    {
        var random = new Random(seed);
        using var linear = new Side(linear: true, folioOrder);
        using var buffered = new Side(linear: false, folioOrder);
        var sides = new[] { linear, buffered };
        var ranges = new PfnRange[512];
        ulong folioMask = (1UL << folioOrder) - 1;
        ulong cursor = (1UL << 18) - 700; // the first runs cross from the first chunk into the second
        for (int step = 0; step < 4000; step++)
        {
            int kind = random.Next(100);
            ulong at = (ulong)random.NextInt64((long)Pages);
            if (kind < 55)
            {
                Assert.Equal(linear.GetPfn(cursor, out var a), buffered.GetPfn(cursor, out var b));
                Assert.Equal(a, b);
                cursor = (random.Next(3) == 0 ? (cursor | folioMask) + 1 : cursor + 1) % Pages; // on to the next folio, or page
            }
            else if (kind < 75)
            {
                ulong want = (ulong)random.Next(1, 512);
                ulong n = linear.File.FreshRun(0, cursor, want);
                Assert.Equal(n, buffered.File.FreshRun(0, cursor, want));
                if (n != 0)
                {
                    foreach (var side in sides)
                    {
                        var filter = new AcceptAll();
                        Assert.Equal(n, side.Allocator.TryAllocateRun(n, ranges, out int rangeCount, ref filter));
                        side.File.InsertFreshRun(cursor, ranges.AsSpan(0, rangeCount));
                    }
                }

                cursor = (cursor + Math.Max(n, 1)) % Pages;
            }
            else if (kind < 85)
            {
                Assert.Equal(linear.GetPfn(at, out var a), buffered.GetPfn(at, out var b));
                Assert.Equal(a, b);
            }
            else if (kind < 90)
            {
                // Half of them at the cursor: a new folio there continues the linear run, and populate marks one page.
                if (random.Next(2) == 0)
                {
                    at = cursor;
                    cursor = ((cursor | folioMask) + 1) % Pages;
                }

                Assert.Equal(linear.File.PopulatePage(0, ref linear.Slots[0], new gfn_t(at), out var a), buffered.File.PopulatePage(0, ref buffered.Slots[0], new gfn_t(at), out var b));
                Assert.Equal(a, b);
            }
            else if (kind < 96)
            {
                ulong length = (ulong)random.Next(1, 40) << 12;
                Assert.Equal(
                    linear.File.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, at << 12, length),
                    buffered.File.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, at << 12, length));
            }
            else if (kind < 98)
            {
                linear.File.Poison(at);
                buffered.File.Poison(at);
            }
            else
            {
                ulong want = (ulong)random.Next(1, 600);
                Assert.Equal(buffered.File.FreshRun(0, at, want), linear.File.FreshRun(0, at, want));
            }

            Assert.Equal(buffered.File.FoliosByOrder, linear.File.FoliosByOrder);
            Assert.True(linear.Allocator.HasSameStateAs(buffered.Allocator), $"step {step}: the allocators differ");
            for (int probe = 0; probe < 16; probe++)
            {
                ulong index = probe < 4 ? (cursor + Pages - 2 + (ulong)probe) % Pages : (ulong)random.NextInt64((long)Pages);
                Assert.Equal(buffered.File.Folio(index), linear.File.Folio(index));
            }

            if (step % 500 == 499)
            {
                AssertSameEverywhere(linear.File, buffered.File);
            }
        }

        AssertSameEverywhere(linear.File, buffered.File);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void Faulting_a_chunk_in_order_keeps_it_without_a_buffer(int folioOrder)
    {
        using var side = new Side(linear: true, folioOrder);
        for (ulong index = 0; index < 4096; index++)
        {
            Assert.Equal(Errno.Ok, side.GetPfn(index, out _));
        }

        var runs = new List<(ulong, ulong, int, ulong)>();
        var visitor = new RunList(runs);
        side.File.ForEachFolioRun(ref visitor);
        Assert.Equal([(0UL, 0UL, folioOrder, 4096UL >> folioOrder)], runs);
        Assert.Equal((true, new kvm_pfn_t(4095), folioOrder, true), side.File.Folio(4095));
        Assert.Equal(0, side.File.BufferedChunks);
    }

    private static void AssertSameEverywhere(GuestMemfd linear, GuestMemfd buffered)
    {
        for (ulong index = 0; index < Pages; index++)
        {
            if (buffered.Folio(index) != linear.Folio(index))
            {
                Assert.Fail($"index 0x{index:x}: with buffers {buffered.Folio(index)}, linear {linear.Folio(index)}");
            }
        }

        var a = new List<(ulong, ulong, int, ulong)>();
        var b = new List<(ulong, ulong, int, ulong)>();
        var va = new RunList(a);
        var vb = new RunList(b);
        linear.ForEachFolioRun(ref va);
        buffered.ForEachFolioRun(ref vb);
        Assert.Equal(b, a);

        var ea = new List<(ulong, ulong, int)>();
        var eb = new List<(ulong, ulong, int)>();
        linear.ForEachFolio((i, p, o) => ea.Add((i, p.Value, o)));
        buffered.ForEachFolio((i, p, o) => eb.Add((i, p.Value, o)));
        Assert.Equal(eb, ea);
    }
}
