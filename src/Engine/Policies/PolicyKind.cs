namespace FastRmp.Engine.Policies;

/// <summary>
/// The SNP designs FastRmp runs, as a type: the four policies of the 2023 debate and the extra design
/// <see cref="FirstUse1GRework"/>. <see cref="PolicyCatalog"/> names them, parses them and builds them.
/// </summary>
public enum PolicyKind
{
    /// <summary><c>fault-hook</c>: convert in the private-fault path (the RFC of 2023, <see cref="FaultHookPolicy"/>).</summary>
    FaultHook,

    /// <summary><c>alloc-blind</c>: convert at allocation, shared again on free, the RMP clamp separate (Sean's proposal, <see cref="AllocBlindPolicy"/>).</summary>
    AllocBlind,

    /// <summary><c>first-use</c>: prepare on the folio's first get_pfn (merged 6.11, <see cref="GetPfnPreparePolicy"/>).</summary>
    FirstUse,

    /// <summary><c>every-get-pfn</c>: prepare on every get_pfn (7.0's rule as a policy).</summary>
    EveryGetPfn,

    /// <summary><c>first-use-1g-rework</c>: first use with Roth's 2024 rework for folios above 2 MiB (<see cref="RangePreparePolicy"/>).</summary>
    FirstUse1GRework,
}
