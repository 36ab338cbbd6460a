using FastRmp.Engine.Guests;

namespace FastRmp.Engine.Replay;

/// <summary>
/// Receives each traced fault with what one policy's model decided for it (<see cref="ReplaySession.Decisions"/>):
/// the rows of <c>fastrmp export --replay</c>'s <c>decisions</c> table.
/// </summary>
/// <remarks>Called on the replaying thread, once per fault per session, after the model applied it.</remarks>
public interface IFaultDecisionSink
{
    /// <summary>The model of <paramref name="session"/> applied the traced fault <paramref name="op"/> and decided <paramref name="decision"/>.</summary>
    void Decided(ReplaySession session, in ReplayOp op, in FaultDecision decision);
}

/// <summary>What a policy's model did with one traced fault.</summary>
/// <param name="Gfn">The faulting gfn as the model took it (a TD's shared bit stripped).</param>
/// <param name="Private">The access was private (the #NPF's ENC or PFERR_PRIVATE_ACCESS bit, a TD's GPA without the shared bit).</param>
/// <param name="Outcome">The guest access's outcome (result, level, leaf); default when <paramref name="Stuck"/>.</param>
/// <param name="RmpFaults">RMP #NPFs the access (and the inferred PVALIDATE of a page the guest had not validated) took.</param>
/// <param name="RmpUpdates">RMPUPDATE instructions (4K, 2M and failed) the model ran for the fault.</param>
/// <param name="Psmashes">PSMASH instructions (successful and failed) the model ran for the fault.</param>
/// <param name="InferredConversion">The access's kind disagreed with the attributes and the replay took it as an untraced conversion.</param>
/// <param name="Stuck">The access cannot complete under the policy (the guest would re-fault forever).</param>
public readonly record struct FaultDecision(ulong Gfn, bool Private, AccessOutcome Outcome, int RmpFaults, long RmpUpdates, long Psmashes, bool InferredConversion, bool Stuck);
