namespace FastRmp.Benchmarks;

/// <summary>
/// The bytes a benchmark may allocate per operation (after <c>OperationsPerInvoke</c>); <c>--dry --budgets</c> fails
/// the run when a benchmark allocates more. On a method it overrides the class's; a benchmark with neither has a
/// budget of 0 (every hot path allocates nothing). <see cref="ExpectExceeded"/> marks the canary that proves the
/// check can fail.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, Inherited = false)]
public sealed class AllocationBudgetAttribute(long bytesPerOperation) : Attribute
{
    /// <summary>Bytes per operation allowed.</summary>
    public long BytesPerOperation { get; } = bytesPerOperation;

    /// <summary>Why the benchmark allocates (shown in the budget report).</summary>
    public string? Reason { get; init; }

    /// <summary>The benchmark must exceed its budget (the check's own canary); the run fails if it does not.</summary>
    public bool ExpectExceeded { get; init; }
}
