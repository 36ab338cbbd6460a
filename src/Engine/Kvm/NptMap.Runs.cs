using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

/// <summary>Receives runs of leaves from <see cref="NptMap.ForEachLeafRun{TVisitor}"/>.</summary>
internal interface INptRunVisitor
{
    /// <summary>
    /// <paramref name="leaves"/> leaves like <paramref name="first"/> (same level, privacy and write permission), the first mapping
    /// <paramref name="gfn"/>, each next one the next gfns of its size onto the next frames.
    /// </summary>
    void Run(gfn_t gfn, NptLeaf first, ulong leaves);
}

public sealed unsafe partial class NptMap
{
    /// <summary>
    /// Every leaf, as <see cref="ForEachLeaf{TVisitor}"/> visits them, with the 4K leaves of one table that map
    /// consecutive gfns onto consecutive frames grouped into one run (a whole-VM check then tests a run at once).
    /// </summary>
    internal void ForEachLeafRun<TVisitor>(ref TVisitor visitor) where TVisitor : struct, INptRunVisitor
    {
        for (ulong i = 0; i < _topEntries; i++)
        {
            ulong e1 = _top[i];
            if (e1 == 0)
            {
                continue;
            }

            if ((e1 & Present) != 0)
            {
                visitor.Run(new gfn_t(i << 18), LeafOf(e1, 3), 1);
                continue;
            }

            var table2 = (ulong*)e1;
            for (ulong j = 0; j < 512; j++)
            {
                ulong e2 = table2[j];
                ulong gfn2 = (i << 18) | (j << 9);
                if (e2 == 0)
                {
                    continue;
                }

                if ((e2 & Present) != 0)
                {
                    visitor.Run(new gfn_t(gfn2), LeafOf(e2, 2), 1);
                    continue;
                }

                if ((e2 & LinearTable) != 0)
                {
                    visitor.Run(new gfn_t(gfn2), LeafOf(LinearLeaf(e2, 0), 1), 512); // what Runs4K finds in its table
                    continue;
                }

                Runs4K((ulong*)e2, gfn2, ref visitor);
            }
        }
    }

    private static void Runs4K<TVisitor>(ulong* table, ulong gfn, ref TVisitor visitor) where TVisitor : struct, INptRunVisitor
    {
        for (int k = 0; k < 512;)
        {
            ulong e = table[k];
            if ((e & Present) == 0)
            {
                k++;
                continue;
            }

            int n = 1;
            while (k + n < 512 && table[k + n] == e + ((ulong)n << 12))
            {
                n++;
            }

            visitor.Run(new gfn_t(gfn + (ulong)k), LeafOf(e, 1), (ulong)n);
            k += n;
        }
    }

    /// <summary>
    /// The address of the 4K leaf slot of <paramref name="gfn"/> when its tables exist (upper levels are few and stay
    /// cached), else null: a prefetch hint, so that a fault's miss on it overlaps the misses that come before the map.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void* LeafLine(gfn_t gfn)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries)
        {
            return null;
        }

        ulong e = _top[g >> 18];
        if (e == 0 || (e & Present) != 0)
        {
            return null;
        }

        e = ((ulong*)e)[(g >> 9) & 511];
        return e != 0 && (e & (Present | LinearTable)) == 0 ? (ulong*)e + (g & 511) : null;
    }

    /// <summary>Starts loading <see cref="LeafLine"/> (a hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Prefetch(gfn_t gfn)
    {
        if (Sse.IsSupported && LeafLine(gfn) is var line && line != null)
        {
            Sse.Prefetch0(line);
        }
    }

    private static NptLeaf LeafOf(ulong e, int level) => new((PgLevel)level, new kvm_pfn_t(e >> 12), (e & PrivateBit) != 0, (e & WriteProtected) == 0);
}
