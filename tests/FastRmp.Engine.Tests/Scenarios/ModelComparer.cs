using FastRmp.Engine.Allocation;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// Asserts that two hosts that ran the same steps (one on the batched fault path, one page by page) ended in the same
/// model state: every counter, every RMP entry of the host, every NPT leaf, every page-cache entry, the allocator's
/// whole state, and the outcome of the whole-VM and allocator checks.
/// </summary>
internal static class ModelComparer
{
    public static void AssertSame(Host referenceHost, Host batchedHost)
    {
        Assert.Equal(referenceHost.Policy.Counters, batchedHost.Policy.Counters);
        AssertSame(referenceHost.Vm, referenceHost.Rmp, referenceHost.Allocator, batchedHost.Vm, batchedHost.Rmp, batchedHost.Allocator);
    }

    public static void AssertSame(Vm reference, RmpTable referenceRmp, BuddyAllocator referenceAllocator, Vm batched, RmpTable batchedRmp, BuddyAllocator batchedAllocator)
    {
        Assert.Equal(reference.Counters, batched.Counters);
        Assert.Equal(referenceRmp.Counters, batchedRmp.Counters);
        Assert.Equal(reference.MmuInvalidateSeq, batched.MmuInvalidateSeq);
        Assert.True(batchedAllocator.HasSameStateAs(referenceAllocator), "the allocators' states differ");

        Assert.Equal(referenceRmp.Pages, batchedRmp.Pages);
        for (ulong p = 0; p < referenceRmp.Pages; p++)
        {
            var a = referenceRmp.Read(new kvm_pfn_t(p));
            var b = batchedRmp.Read(new kvm_pfn_t(p));
            if (a.lo != b.lo || a.hi != b.hi)
            {
                Assert.Fail($"RMP entry of pfn 0x{p:x}: per page {a.lo:x16}:{a.hi:x16}, batched {b.lo:x16}:{b.hi:x16}");
            }
        }

        for (ulong region = 0; region < (referenceRmp.Pages + 511) / 512; region++)
        {
            Assert.Equal(referenceRmp.IsSmashed(region), batchedRmp.IsSmashed(region));
        }

        Assert.Equal(Leaves(reference.Npt), Leaves(batched.Npt));
        Assert.Equal(reference.Npt.Leaves4K, batched.Npt.Leaves4K);
        Assert.Equal(reference.Npt.Leaves2M, batched.Npt.Leaves2M);
        Assert.Equal(reference.Npt.Leaves1G, batched.Npt.Leaves1G);
        Assert.Equal(reference.Npt.Splits, batched.Npt.Splits);

        var files = reference.Gmem.Files.OrderBy(f => f.Fd).ToArray();
        var others = batched.Gmem.Files.OrderBy(f => f.Fd).ToArray();
        Assert.Equal(files.Length, others.Length);
        for (int f = 0; f < files.Length; f++)
        {
            Assert.Equal(files[f].FoliosByOrder, others[f].FoliosByOrder);
            Assert.Equal(files[f].FolioSplits, others[f].FolioSplits);
            for (ulong index = 0; index < files[f].Pages; index++)
            {
                if (files[f].Folio(index) != others[f].Folio(index))
                {
                    Assert.Fail($"guest_memfd {files[f].Fd} index 0x{index:x}: per page {files[f].Folio(index)}, batched {others[f].Folio(index)}");
                }
            }
        }

        Assert.Equal(Outcome(() => reference.Verify()), Outcome(() => batched.Verify()));
        Assert.Equal(Outcome(referenceAllocator.Verify), Outcome(batchedAllocator.Verify));
    }

    /// <summary>The message of the exception <paramref name="check"/> throws, or "ok".</summary>
    public static string Outcome(Action check)
    {
        try
        {
            check();
            return "ok";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    private static List<(ulong Gfn, NptLeaf Leaf)> Leaves(NptMap npt)
    {
        var collector = new LeafCollector([]);
        npt.ForEachLeaf(ref collector);
        return collector.Leaves;
    }

    private readonly struct LeafCollector(List<(ulong Gfn, NptLeaf Leaf)> leaves) : INptVisitor
    {
        public List<(ulong Gfn, NptLeaf Leaf)> Leaves => leaves;

        public void Leaf(gfn_t gfn, NptLeaf leaf) => leaves.Add((gfn.Value, leaf));
    }
}
