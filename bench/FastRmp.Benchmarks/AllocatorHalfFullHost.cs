using FastRmp.Engine.Allocation;
using FastRmp.Engine.Tests.Allocation;
using FastRmp.Interop;

namespace FastRmp.Benchmarks;

/// <summary>
/// The same half-full 64 GiB host in both allocators: every 2 MiB chunk is one order-9 block (7 in 8) or 512
/// order-0 pages (1 in 8), and a seeded coin keeps each block allocated or leaves it free.
/// </summary>
internal static class AllocatorHalfFullHost
{
    public const ulong BasePfn = 0x100000;
    public const ulong Pages = 64UL << 18; // 64 GiB of 4 KiB pages

    public static BuddyAllocator Build()
    {
        var allocator = new BuddyAllocator(new kvm_pfn_t(BasePfn), Pages);
        Fill((pfn, order) => allocator.Claim(new kvm_pfn_t(pfn), order));
        return allocator;
    }

    public static NaiveBuddyModel BuildNaive()
    {
        var model = new NaiveBuddyModel(BasePfn, Pages, BuddyAllocator.DefaultMaxOrder);
        Fill((pfn, order) =>
        {
            if (!model.TryClaim(pfn, order))
            {
                throw new InvalidOperationException($"naive claim 0x{pfn:x}/{order} failed");
            }
        });
        return model;
    }

    private static void Fill(Action<ulong, int> claim)
    {
        var random = new Random(42);
        for (ulong chunk = BasePfn; chunk < BasePfn + Pages; chunk += 512)
        {
            if (random.Next(8) != 0)
            {
                if (random.Next(2) == 0)
                {
                    claim(chunk, 9);
                }

                continue;
            }

            for (ulong pfn = chunk; pfn < chunk + 512; pfn++)
            {
                if (random.Next(2) == 0)
                {
                    claim(pfn, 0);
                }
            }
        }
    }
}
