using FastRmp.Engine.Guests;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Replay;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>Agreement with the trace (docs/replay.md, "Agreement with the trace").</summary>
public sealed class FidelityTests : IDisposable
{
    private const ulong PrivateRead = 0x500000004;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"fastrmp-fidelity-{Guid.NewGuid():N}.dat");

    public void Dispose() => File.Delete(_path);

    private static ReplayOp Traced(TracedOutcome outcome, byte level = 1, ulong gpa = 0x200000, ulong ts = 100)
        => new() { Kind = ReplayOpKind.Fault, Outcome = outcome, Level = level, Gpa = gpa, Timestamp = ts, Cpu = 3, Pid = 7001, ErrorCode = PrivateRead, Pfn = 0x1234, HasPfn = outcome == TracedOutcome.Mapped };

    private static AccessOutcome Mapped(PgLevel level) => new(AccessResult.Ok, level, new NptLeaf(level, new kvm_pfn_t(0x1234), IsPrivate: true), 0, default);

    [Fact]
    public void Nothing_compared_is_no_rate_rather_than_full_agreement()
    {
        var f = new Fidelity();
        f.Fault(Traced(TracedOutcome.Unknown), Mapped(PgLevel.Level4K), inferredConversion: false); // the trace says nothing: not compared
        f.Finish();
        Assert.Equal(0, f.Compared);
        Assert.Null(f.AgreementRate);
    }

    [Fact]
    public void A_stuck_access_counts_as_compared_and_not_agreed()
    {
        var f = new Fidelity();
        f.Fault(Traced(TracedOutcome.Mapped), Mapped(PgLevel.Level4K), inferredConversion: false); // agrees: exit and level
        f.Stuck(Traced(TracedOutcome.Mapped, level: 2, gpa: 0x400000, ts: 200), "spins"); // disagrees: exit and level
        f.Stuck(Traced(TracedOutcome.MemoryFaultExit, gpa: 0x600000, ts: 300), "spins"); // disagrees: exit only
        f.Stuck(Traced(TracedOutcome.Unknown, ts: 400), "spins"); // the trace shows no decision: nothing to compare
        f.Finish();

        Assert.Equal((3L, 1L, 2L, 1L, 2L), (f.ExitsCompared, f.ExitsAgreed, f.LevelsCompared, f.LevelsAgreed, f.StuckCompared));
        Assert.Equal(3, f.Disagreements);
        Assert.Equal(2.0 / 5.0, f.AgreementRate);
        var level = Assert.Single(f.FirstOf("level"));
        Assert.Equal((200UL, "2M", "stuck", 3, 7001, 2, (ulong?)0x1234UL), (level.Timestamp, level.Trace, level.Model, level.Cpu, level.Pid, level.TracedLevel, level.TracedPfn));
        Assert.Contains("spins", level.Why, StringComparison.Ordinal);
        Assert.Equal(["mapped", "memory-fault exit"], f.FirstOf("exit").Select(d => d.Trace));
        Assert.Empty(f.FirstOf("rmp-region"));
    }

    [Fact]
    public void Every_disagreement_reaches_the_listener_while_only_the_first_are_kept()
    {
        var f = new Fidelity(maxDisagreements: 2);
        var heard = new List<Disagreement>();
        f.Listener = heard.Add;
        for (ulong i = 0; i < 5; i++)
        {
            f.Fault(Traced(TracedOutcome.Mapped, level: 1, gpa: i << 21, ts: 1000 + i), Mapped(PgLevel.Level2M), inferredConversion: false);
        }

        f.ModelRmpFault(Traced(TracedOutcome.Mapped, ts: 10), 0x40000000); // a region only the model faulted in, earliest of all
        f.TraceRmpFault(new ReplayOp { Kind = ReplayOpKind.RmpFault, Gpa = 0x80000000, Timestamp = 2000 });
        f.Finish();

        // five level disagreements (4K traced, 2M modelled) and two regions, one on each side
        Assert.Equal(7, f.Disagreements);
        Assert.Equal(7, heard.Count);
        Assert.Equal(["level", "level", "level", "level", "level", "rmp-region", "rmp-region"], heard.Select(d => d.What));
        Assert.Equal([10UL, 1000UL], f.First.Select(d => d.Timestamp)); // the first two in time, the early region included
        Assert.Equal([1000UL, 1001UL], f.FirstOf("level").Select(d => d.Timestamp));
        Assert.Equal([(10UL, "none", "RMP fault"), (2000UL, "RMP fault", "none")], f.FirstOf("rmp-region").Select(d => (d.Timestamp, d.Trace, d.Model)));
        Assert.Equal(5 + 5 + 2, f.Compared); // five levels, five exits (agreed), and each region once
    }

    [Fact]
    public void A_policy_stuck_under_1g_folios_keeps_its_stuck_accesses_in_the_denominators()
    {
        var written = SnpTraceFixture.Write(_path, faults: 400, sharedEvery: 20);
        using var reader = TraceFile.OpenReader(_path);
        using var replayer = new Replayer(reader, new ReplayOptions(FolioOrder: 18, HostBytes: 64UL << 30), ["first-use"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        var r = replayer.Results("1g")[0];
        var f = r.Fidelity;
        long stuck = r.Counters["stuck_accesses"];

        // Every traced fault has a traced outcome (the fixture writes one for each): each is compared, stuck or not;
        // the first fault of each shared access exits, the others (and the retries) are mapped at 4K.
        Assert.True(stuck > 0, "first-use with 1 GiB folios should get stuck on this trace");
        Assert.Equal(stuck, f.StuckCompared);
        Assert.Equal(written.Faults, f.ExitsCompared);
        Assert.Equal(written.Faults - written.SharedConversions, f.LevelsCompared);
        Assert.True(f.ExitsCompared - f.ExitsAgreed >= stuck);
        Assert.True(f.AgreementRate < 1.0 - ((double)stuck / f.Compared) + 1e-12);
    }

    [Fact]
    public void Leaves_and_rmp_entries_read_as_words_in_messages()
    {
        Assert.Equal("2M leaf to pfn 0x200, private", new NptLeaf(PgLevel.Level2M, new kvm_pfn_t(0x200), IsPrivate: true).ToString());
        Assert.Equal("4K leaf to pfn 0x7, shared, write-protected", new NptLeaf(PgLevel.Level4K, new kvm_pfn_t(7), IsPrivate: false, IsWritable: false).ToString());
        Assert.Equal("not mapped", default(NptLeaf).ToString());
        var entry = new FastRmp.Interop.Hardware.rmpentry_raw { assigned = true, asid = 3, gpa = 0x17c087, validated = true };
        Assert.Equal("assigned to ASID 3 at gpa 0x17c087000, 4K, validated", entry.ToString()); // the entry holds the gfn; the text shows the gpa
        Assert.Equal("hypervisor-owned, 4K", default(FastRmp.Interop.Hardware.rmpentry_raw).ToString());
    }

    [Fact]
    public void Disagreements_past_the_kept_ones_allocate_nothing()
    {
        var f = new Fidelity(maxDisagreements: 2);
        var op = Traced(TracedOutcome.Mapped, level: 1);
        var exit = new AccessOutcome(AccessResult.MemoryFaultExit, PgLevel.None, default, 0, default);
        var huge = Mapped(PgLevel.Level2M);
        for (int i = 0; i < 10; i++)
        {
            f.Fault(op, exit, inferredConversion: false); // fills the kept exit disagreements (and warms up)
            f.Fault(op, huge, inferredConversion: false); // and the level ones
            f.Stuck(op, "spins");
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            f.Fault(op, exit, inferredConversion: false);
            f.Fault(op, huge, inferredConversion: false);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal((10 * 4) + 2000, f.Disagreements); // per round: an exit, a level, and the stuck access's exit and level
    }
}
