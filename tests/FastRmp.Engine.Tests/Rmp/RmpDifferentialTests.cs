using FastRmp.Engine.Allocation;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Tests.Common;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>
/// The raw store, the compact store and the C reference (native-stubs rmp_ref.c) run the same random operation
/// sequences and must agree on every result code, every #NPF code and every entry.
/// </summary>
public sealed class RmpDifferentialTests
{
    [Theory]
    [InlineData(1, 4096UL, 100_000)]
    [InlineData(2, 4096UL, 100_000)]
    [InlineData(3, 5000UL, 100_000)]
    [InlineData(4, 4096UL, 100_000)]
    [InlineData(5, 1UL << 20, 150_000)]
    [InlineData(6, 1UL << 20, 150_000)]
    [InlineData(7, (1UL << 20) - 300, 150_000)]
    [InlineData(8, 1UL << 20, 150_000)]
    public void Raw_compact_and_C_agree_on_random_sequences(int seed, ulong pages, int operations)
    {
        using var trio = new Trio(pages);
        var random = new Random(seed);
        var hot = new ulong[8];
        ulong regions = (pages + 511) / 512;
        for (int step = 0; step < operations; step++)
        {
            if (step % 2000 == 0)
            {
                for (int i = 0; i < hot.Length; i++)
                {
                    hot[i] = (ulong)random.NextInt64((long)regions);
                }
            }

            ulong pfn = PickPfn(random, hot, pages);
            trio.Step(random, pfn, step);
        }

        trio.CompareAll();
        trio.AssertEveryPathWasTaken();
    }

    /// <summary>
    /// The run operations the fault path and the whole-VM checks use (each table's store answers them in its own way:
    /// bitmaps and templates, or entry by entry) interleaved with the random instructions: the three tables must agree
    /// with each other, and with the C reference executing or reading the same pages one by one.
    /// </summary>
    [Theory]
    [InlineData(11, 4096UL, 60_000)]
    [InlineData(12, 5000UL, 60_000)]
    [InlineData(13, 1UL << 20, 100_000)]
    [InlineData(14, (1UL << 20) - 300, 100_000)]
    public void Run_operations_agree_across_stores_and_with_C_page_by_page(int seed, ulong pages, int operations)
    {
        using var trio = new Trio(pages, runs: true);
        var random = new Random(seed);
        var hot = new ulong[8];
        ulong regions = (pages + 511) / 512;
        for (int step = 0; step < operations; step++)
        {
            if (step % 2000 == 0)
            {
                for (int i = 0; i < hot.Length; i++)
                {
                    hot[i] = (ulong)random.NextInt64((long)regions);
                }
            }

            trio.Step(random, PickPfn(random, hot, pages), step);
        }

        trio.CompareAll();
        trio.AssertRunPathsWereTaken();
    }

    private static ulong PickPfn(Random random, ulong[] hot, ulong pages)
    {
        if (random.Next(20) == 0)
        {
            return (ulong)random.NextInt64((long)pages);
        }

        ulong head = hot[random.Next(hot.Length)] * 512;
        ulong pfn = random.Next(2) == 0 ? head : head + (ulong)random.Next(512);
        return Math.Min(pfn, pages - 1);
    }

    private sealed class Trio(ulong pages, bool runs = false) : IDisposable
    {
        private long _runWrites, _runValidations, _guestRuns;

        private readonly (string Name, RmpTable Table)[] _tables =
        [
            ("raw", RmpTable.CreateRaw(pages)),
            ("compact", RmpTable.CreateCompact(pages)),
            ("segmented", RmpTable.CreateSegmented(pages, segmentShift: 30)),
        ];

        private readonly NativeRmpReference _c = new(pages);
        private readonly List<ulong> _inUse = [];

        public void Step(Random r, ulong pfn, int step)
        {
            if (runs && r.Next(100) < 15)
            {
                RunStep(r, pfn, step);
                return;
            }

            var p = new kvm_pfn_t(pfn);
            var current = _c.Read(pfn);
            bool fromEntry = r.Next(10) < 8 && current.assigned;
            uint asid = fromEntry ? current.asid : (uint)r.Next(4);
            ulong gfn = fromEntry ? current.gpa : (r.Next(2) == 0 ? pfn : (ulong)r.NextInt64(1L << 39));
            bool size2M = r.Next(10) < 3;
            if (size2M && fromEntry && r.Next(4) != 0)
            {
                gfn &= ~511UL;
                p = new kvm_pfn_t(pfn & ~511UL);
            }

            var g = new gfn_t(gfn);
            var size = size2M ? RmpPageSize.Size2M : RmpPageSize.Size4K;
            string what;
            int op = r.Next(100);
            if (op < 4)
            {
                // Return a whole region to the hypervisor page by page, as guest_memfd's invalidate does for 4K
                // entries, so later 2M updates find empty regions.
                what = "evict region";
                ulong head = p.Value & ~511UL;
                var headEntry = _c.Read(head);
                if (headEntry.assigned && headEntry.pagesize)
                {
                    Evict(step, head, huge: true);
                }
                else
                {
                    for (ulong q = head; q < Math.Min(head + 512, pages); q++)
                    {
                        if (_c.Read(q).assigned)
                        {
                            Evict(step, q, huge: false);
                        }
                    }
                }
            }
            else if (op < 30)
            {
                var state = RandomState(r, p.Value, size2M);
                what = $"RMPUPDATE {state.assigned}/{state.pagesize}";
                Same(what, step, _c.Update(p.Value, state), t => (long)t.RmpUpdate(p, state));
            }
            else if (op < 38)
            {
                what = "PSMASH";
                Same(what, step, _c.Psmash(p.Value), t => (long)t.Psmash(p));
            }
            else if (op < 58)
            {
                bool validate = r.Next(3) != 0;
                what = $"PVALIDATE {size}";
                int c = _c.Pvalidate(p.Value, asid, gfn, size2M, validate, out ulong nc);
                Same(what, step, Combine(c, nc), t => Combine((int)t.Pvalidate(p, asid, g, size, validate, out var n), (ulong)n));
            }
            else if (op < 68)
            {
                int caller = r.Next(2), target = r.Next(4);
                byte perms = (byte)r.Next(0x22);
                bool vmsa = r.Next(10) == 0;
                what = $"RMPADJUST {size}";
                int c = _c.Adjust(p.Value, asid, gfn, size2M, caller, target, perms, vmsa, out ulong nc);
                Same(what, step, Combine(c, nc), t => Combine((int)t.RmpAdjust(p, asid, g, size, caller, target, perms, vmsa, out var n), (ulong)n));
            }
            else if (op < 83)
            {
                bool isPrivate = r.Next(10) < 7, write = r.Next(2) == 0;
                var level = (PgLevel)(1 + r.Next(3));
                what = "access";
                ulong c = _c.GuestAccess(p.Value, asid, gfn, isPrivate, write, (int)level, out bool vc);
                Same(what, step, Combine(vc ? 1 : 0, c), t =>
                {
                    var code = t.CheckGuestAccess(p, asid, g, isPrivate, write, level, out bool v);
                    return Combine(v ? 1 : 0, (ulong)code);
                });
            }
            else if (op < 88)
            {
                var level = r.Next(200) == 0 ? PgLevel.Level1G : (PgLevel)(1 + r.Next(2));
                what = "host write";
                Same(what, step, (long)_c.HostWrite(p.Value, (int)level), t => (long)t.CheckHostWrite(p, level));
            }
            else if (op < 90)
            {
                // Pages in use are running vCPUs' VMSAs: few at a time (the C reference holds up to 64).
                bool inUse = _inUse.Count < 8 && r.Next(2) == 0;
                if (!inUse && _inUse.Count > 0)
                {
                    p = new kvm_pfn_t(_inUse[r.Next(_inUse.Count)]);
                    _inUse.Remove(p.Value);
                }
                else if (inUse && !_inUse.Contains(p.Value))
                {
                    _inUse.Add(p.Value);
                }

                _c.SetInUse(p.Value, inUse);
                foreach (var (_, table) in _tables)
                {
                    table.SetInUse(p, inUse);
                }

                what = "in use";
            }
            else
            {
                what = "lookup";
                Same(what, step, ReferenceLookup(p.Value), t => t.Lookup(p).Raw);
            }

            CompareEntry(p.Value, step, what);
            CompareEntry(p.Value & ~511UL, step, what);
            CompareEntry(Math.Min((p.Value & ~511UL) + (ulong)r.Next(512), pages - 1), step, what);
        }

        public void CompareAll()
        {
            for (ulong pfn = 0; pfn < pages; pfn++)
            {
                CompareEntry(pfn, -1, "final");
            }
        }

        public void AssertEveryPathWasTaken()
        {
            foreach (var (name, table) in _tables)
            {
                ref var n = ref table.Counters;
                string all = $"{name}: 4K {n.RmpUpdate4K}, 2M {n.RmpUpdate2M}, shared {n.RmpUpdateToShared}, failed {n.RmpUpdateFailed}, psmash {n.Psmash}, pvalidate {n.Pvalidate}, adjust {n.RmpAdjust}, npf {n.NestedPageFaults}, host {n.HostFaults}";
                Assert.True(n.RmpUpdate4K > 100 && n.RmpUpdate2M > 100 && n.RmpUpdateToShared > 100, "RMPUPDATE paths: " + all);
                Assert.True(n.Psmash > 10 && n.Pvalidate > 100 && n.RmpAdjust > 10, "successes: " + all);
                Assert.True(n.NestedPageFaults > 100 && n.HostFaults > 10 && n.RmpUpdateFailed > 100, "faults: " + all);
            }
        }

        public void AssertRunPathsWereTaken()
        {
            Assert.True(_runWrites > 100 && _runValidations > 100 && _guestRuns > 100, $"run writes {_runWrites}, validated runs {_runValidations}, guest runs {_guestRuns}");
            foreach (var (name, table) in _tables)
            {
                Assert.True(table.Counters.Equals(_tables[0].Table.Counters), $"{name}'s counters differ from {_tables[0].Name}'s");
            }
        }

        public void Dispose()
        {
            foreach (var (_, table) in _tables)
            {
                table.Dispose();
            }

            _c.Dispose();
        }

        // A run of up to two ranges from pfn: written to private (RmpUpdateRun4K; C page by page), then sometimes
        // validated (PvalidateRun4K; C page by page for the pages the tables did), then queried.
        private void RunStep(Random r, ulong pfn, int step)
        {
            ulong count = Math.Min((ulong)(r.Next(4) == 0 ? r.Next(1, 1300) : r.Next(1, 40)), pages - pfn);
            ulong split = count > 1 && r.Next(3) == 0 ? (ulong)r.Next(1, (int)count) : count;
            PfnRange[] ranges = split == count
                ? [new PfnRange(new kvm_pfn_t(pfn), count)]
                : [new PfnRange(new kvm_pfn_t(pfn), split), new PfnRange(new kvm_pfn_t(pfn + split), count - split)];
            uint asid = (uint)r.Next(1, 4);
            ulong gfn = r.Next(3) != 0 ? pfn + 0x100000 : (ulong)r.NextInt64((1L << 39) - 2000);
            if (r.Next(2) == 0)
            {
                _runWrites++;
                long written = 0;
                for (ulong i = 0; i < count; i++)
                {
                    var state = new rmp_state { assigned = 1, asid = asid, gpa = (gfn + i) << 12 };
                    written += _c.Update(pfn + i, state) == 0 ? 1 : 0;
                }

                Same("RmpUpdateRun4K", step, written, t => (long)t.RmpUpdateRun4K(ranges, asid, new gfn_t(gfn)));
                if (r.Next(2) == 0)
                {
                    long done = (long)_tables[0].Table.PvalidateRun4K(ranges, asid, new gfn_t(gfn));
                    Same("PvalidateRun4K", step, done, t => t == _tables[0].Table ? done : (long)t.PvalidateRun4K(ranges, asid, new gfn_t(gfn)));
                    _runValidations += done > 0 ? 1 : 0;
                    for (ulong i = 0; i < (ulong)done; i++)
                    {
                        Assert.Equal(0, _c.Pvalidate(pfn + i, asid, gfn + i, false, true, out _));
                    }
                }
            }
            else if (r.Next(2) == 0)
            {
                var e = _c.Read(pfn); // ask about the run the entry would start, so some answers are true
                asid = e.asid;
                gfn = e.gpa;
            }

            long any = 0, guest = 1, heads = 0, entries4K = 0;
            bool inUse = _inUse.Exists(q => q - pfn < count);
            for (ulong i = 0; i < count; i++)
            {
                var e = _c.Read(pfn + i);
                any |= e.assigned ? 1L : 0L;
                guest &= e.assigned && e.asid == asid && e.gpa == gfn + i ? 1L : 0L;
                if (e.assigned && e.asid == asid)
                {
                    if (e.pagesize)
                    {
                        heads++;
                    }
                    else if (!IsHugeInC(pfn + i))
                    {
                        entries4K++;
                    }
                }
            }

            _guestRuns += guest;
            Same("IsGuestRun", step, guest, t => t.IsGuestRun(new kvm_pfn_t(pfn), count, asid, new gfn_t(gfn)) ? 1 : 0);
            Same("IsHypervisorOwnedRun", step, any == 0 && !inUse ? 1 : 0, t => t.IsHypervisorOwnedRun(new kvm_pfn_t(pfn), count) ? 1 : 0);
            Same("LookupRunUnassigned", step, 1 - any, t => t.LookupRunUnassigned(ranges) ? 1 : 0);
            Same("CountGuestEntries", step, (heads << 32) | entries4K, t =>
            {
                long h = 0, n = 0;
                t.CountGuestEntries(new kvm_pfn_t(pfn), count, asid, ref h, ref n);
                return (h << 32) | n;
            });
            Same("CountGuestEntries with the mask cache", step, (heads << 32) | entries4K, t =>
            {
                var cache = t.CreateGuestMaskCache(asid);
                long h = 0, n = 0;
                foreach (var range in ranges)
                {
                    t.CountGuestEntries(range.First, range.Count, asid, ref h, ref n, cache);
                }

                return (h << 32) | n;
            });

            CompareEntry(pfn, step, "run");
            CompareEntry(pfn + count - 1, step, "run");
            CompareEntry(pfn + (ulong)r.Next((int)count), step, "run");
        }

        private bool IsHugeInC(ulong pfn)
        {
            var head = _c.Read(pfn & ~511UL);
            return head.assigned && head.pagesize;
        }

        private static long Combine(int code, ulong fault) => (long)(fault << 8) | (uint)code;

        private void Evict(int step, ulong pfn, bool huge)
        {
            var shared = new rmp_state { pagesize = huge ? (byte)1 : (byte)0 };
            var p = new kvm_pfn_t(pfn);
            Same("evict", step, _c.Update(pfn, shared), t => (long)t.RmpUpdate(p, shared));
        }

        private void Same(string what, int step, long expected, Func<RmpTable, long> run)
        {
            foreach (var (name, table) in _tables)
            {
                long actual = run(table);
                if (actual != expected)
                {
                    Assert.Fail($"{what} at step {step}: C {expected}, {name} {actual}");
                }
            }
        }

        private int ReferenceLookup(ulong pfn)
        {
            var e = _c.Read(pfn);
            var head = _c.Read(pfn & ~511UL);
            return (e.assigned ? 1 : 0) | ((head.assigned && head.pagesize ? 2 : 1) << 1);
        }

        private void CompareEntry(ulong pfn, int step, string after)
        {
            var c = _c.Read(pfn);
            foreach (var (name, table) in _tables)
            {
                var e = table.Read(new kvm_pfn_t(pfn));
                if (e.lo != c.lo || e.hi != c.hi)
                {
                    Assert.Fail($"entry of pfn 0x{pfn:x} after {after} (step {step}): C {c.lo:x16}/{c.hi:x}, {name} {e.lo:x16}/{e.hi:x}");
                }
            }
        }

        private static rmp_state RandomState(Random r, ulong pfn, bool size2M)
        {
            var state = new rmp_state { pagesize = size2M ? (byte)1 : (byte)0 };
            if (r.Next(10) < 7)
            {
                state.assigned = 1;
                ulong gfn = r.Next(2) == 0 ? pfn + 0x100000 : (ulong)r.NextInt64(1L << 39);
                state.gpa = (size2M ? gfn & ~511UL : gfn) << 12;
                state.asid = (uint)r.Next(1, 4);

                // Firmware-owned (immutable) pages can never change again; keep them to region 0 so they do not
                // freeze the whole table over a long sequence.
                if (pfn < 512 && r.Next(10) == 0)
                {
                    state.immutable = 1;
                    state.asid = 0;
                }
            }

            switch (r.Next(40))
            {
                case 0: state.rsvd = 1; break;
                case 1: state.asid = 1024; break;
                case 2: state.gpa |= 0x800; break;
                case 3: state.gpa = (ulong)r.NextInt64(1L << 39) << 12; break;
            }

            return state;
        }
    }
}
