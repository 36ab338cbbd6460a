using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>The per-fault decision hook (<see cref="ReplaySession.Decisions"/>) sees every fault and changes nothing.</summary>
public sealed class FaultDecisionSinkTests : IDisposable
{
    private readonly string _trace = Path.Combine(Path.GetTempPath(), $"fastrmp-decisions-{Guid.NewGuid():N}.dat");

    public void Dispose() => File.Delete(_trace);

    private sealed class Sink : IFaultDecisionSink
    {
        public Dictionary<string, (long Faults, long Updates, long Psmashes, long Mapped)> Per { get; } = [];

        public void Decided(ReplaySession session, in ReplayOp op, in FaultDecision decision)
        {
            Assert.Equal(ReplayOpKind.Fault, op.Kind);
            var (faults, updates, psmashes, mapped) = Per.GetValueOrDefault(session.Policy);
            Per[session.Policy] = (faults + 1, updates + decision.RmpUpdates, psmashes + decision.Psmashes, mapped + (decision.Outcome.Leaf.IsPresent ? 1 : 0));
        }
    }

    private (IReadOnlyList<ReplayResult> Results, long Faults) Replay(Sink? sink)
    {
        using var reader = TraceFile.OpenReader(_trace);
        using var replayer = new Replayer(reader, new ReplayOptions(9, 1UL << 36), ["first-use", "fault-hook", "every-get-pfn"]);
        if (sink is not null)
        {
            replayer.SessionCreated = (_, session) => session.Decisions = sink;
        }

        replayer.Run(cancel: TestContext.Current.CancellationToken);
        return (replayer.Results("t"), replayer.Vms.Single().Sessions[0].Counters.Faults);
    }

    [Fact]
    public void Every_fault_is_decided_once_per_policy_and_the_results_are_those_without_a_sink()
    {
        SnpTraceFixture.Write(_trace, 1500, seed: 21, hugeEvery: 7);
        var sink = new Sink();
        var (with, traced) = Replay(sink);
        var (without, _) = Replay(null);
        Assert.True(traced > 1000, $"{traced} faults replayed");
        Assert.Equal(3, sink.Per.Count);
        for (int i = 0; i < with.Count; i++)
        {
            var r = with[i];
            Assert.Equal(without[i].Counters.Counters, r.Counters.Counters);
            Assert.Equal(without[i].Fidelity.LevelsAgreed, r.Fidelity.LevelsAgreed);
            var (faults, updates, psmashes, mapped) = sink.Per[r.Policy];
            Assert.Equal(traced, faults);
            Assert.InRange(updates, 1, r.Counters["rmpupdate_4k"] + r.Counters["rmpupdate_2m"] + r.Counters["rmpupdate_failed"]);
            Assert.InRange(psmashes, 0, r.Counters["psmash"]);
            Assert.InRange(mapped, 1, faults);
        }
    }
}
