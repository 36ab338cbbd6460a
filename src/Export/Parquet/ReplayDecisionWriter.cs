using FastRmp.Engine.Guests;
using FastRmp.Engine.Replay;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// The <c>decisions</c> table (one row per traced fault and policy model: what the trace says the kernel did, what
/// the model decided, and the RMP work it took) and the <c>runs</c> table (each model's counters, one row per
/// counter) of one host's replay (docs/export.md). Made by <see cref="ParquetDataset.RecordDecisions"/>.
/// </summary>
/// <remarks>Receives decisions on the replaying thread; not thread-safe.</remarks>
public sealed class ReplayDecisionWriter : IFaultDecisionSink
{
    private static readonly ColumnSpec[] s_decisionFields =
    [
        Value<long>("ts"), Value<int>("cpu"), Value<int>("pid"), Value<int>("vcpu"),
        Value<int>("vm_pid"), Text("vm"),
        Text("policy"), Text("kernel"),
        Value<long>("gpa"), Value<long>("gfn"), Value<long>("error_code"), Value<bool>("private"),
        Text("traced_outcome"), Maybe<int>("traced_level"), Maybe<long>("traced_pfn"),
        Text("model_outcome"), Maybe<int>("model_level"), Maybe<long>("model_pfn"),
        Value<int>("rmp_faults"), Value<long>("rmp_updates"), Value<long>("psmashes"),
        Value<bool>("inferred_conversion"), Text("source"),
    ];

    private static readonly ColumnSpec[] s_runFields =
    [
        Value<int>("vm_pid"), Text("vm"), Text("policy"),
        Text("kernel"), Value<int>("folio_order"), Value<bool>("rmpopt"),
        Text("counter"), Value<long>("value"), Text("source"),
    ];

    private readonly ParquetDataset _dataset;
    private readonly string _source;
    private readonly Dictionary<ReplaySession, (int Pid, string Vm, string Kernel)> _sessions = new(ReferenceEqualityComparer.Instance);
    private RowBlock _block;
    private RowBlock? _spare;
    private bool _runsWritten;

    internal ReplayDecisionWriter(ParquetDataset dataset, string host, string source)
    {
        _dataset = dataset;
        _source = source;
        string escaped = DatasetPaths.Escape(host);
        DecisionTable = new DatasetTable(Path.Combine(dataset.Root, "decisions", "host=" + escaped), [.. s_decisionFields.Select(c => c.Field)], dataset.Metadata);
        RunTable = new DatasetTable(Path.Combine(dataset.Root, "runs", "host=" + escaped), [.. s_runFields.Select(c => c.Field)], dataset.Metadata);
        _block = NewDecisionBlock(dataset.RowGroupRows);
    }

    /// <summary>Decision rows recorded.</summary>
    public long Decisions { get; private set; }

    internal DatasetTable DecisionTable { get; }

    internal DatasetTable RunTable { get; }

    /// <inheritdoc />
    public void Decided(ReplaySession session, in ReplayOp op, in FaultDecision decision)
    {
        ArgumentNullException.ThrowIfNull(session);
        var (vmPid, vm, kernel) = _sessions[session];
        var c = _block.Columns;
        int row = _block.Count;
        Set(c[0], row, (long)op.Timestamp);
        Set(c[1], row, op.Cpu);
        Set(c[2], row, op.Pid);
        Set(c[3], row, (int)op.VcpuId);
        Set(c[4], row, vmPid);
        Set(c[5], row, vm);
        Set(c[6], row, session.Policy);
        Set(c[7], row, kernel);
        Set(c[8], row, (long)op.Gpa);
        Set(c[9], row, (long)decision.Gfn);
        Set(c[10], row, (long)op.ErrorCode);
        Set(c[11], row, decision.Private);
        Set(c[12], row, op.Outcome switch { TracedOutcome.Mapped => "mapped", TracedOutcome.MemoryFaultExit => "memory_fault_exit", _ => "unknown" });
        SetNullable<int>(c[13], row, op.Outcome == TracedOutcome.Mapped ? op.Level : null);
        SetNullable<long>(c[14], row, op.HasPfn ? (long)op.Pfn : null);
        var outcome = decision.Outcome;
        Set(c[15], row, decision.Stuck ? "stuck" : outcome.Result switch
        {
            AccessResult.Ok => "mapped",
            AccessResult.MemoryFaultExit => "memory_fault_exit",
            AccessResult.Mmio => "mmio",
            AccessResult.NotValidated => "not_validated",
            _ => outcome.Result.ToString().ToLowerInvariant(),
        });
        bool mapped = !decision.Stuck && outcome.Leaf.IsPresent && outcome.Result != AccessResult.MemoryFaultExit;
        SetNullable<int>(c[16], row, mapped ? (int)outcome.Level : null);
        SetNullable<long>(c[17], row, mapped ? (long)outcome.Leaf.Pfn.Value : null);
        Set(c[18], row, decision.RmpFaults);
        Set(c[19], row, decision.RmpUpdates);
        Set(c[20], row, decision.Psmashes);
        Set(c[21], row, decision.InferredConversion);
        Set(c[22], row, _source);
        _block.Count = row + 1;
        Decisions++;
        if (_block.IsFull)
        {
            Flush();
        }
    }

    /// <summary>Writes the <c>runs</c> rows of <paramref name="results"/> (the replay's results) and the decisions still buffered.</summary>
    public void WriteRuns(IReadOnlyList<ReplayResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (_runsWritten)
        {
            throw new InvalidOperationException("the runs of this replay are written already");
        }

        _runsWritten = true;
        Flush();
        var rows = new List<(ReplayResult R, string Counter, long Value)>();
        foreach (var r in results)
        {
            foreach (var (name, value) in r.Counters.Counters)
            {
                rows.Add((r, name, value));
            }

            var f = r.Fidelity;
            rows.Add((r, "fidelity.levels_compared", f.LevelsCompared));
            rows.Add((r, "fidelity.levels_agreed", f.LevelsAgreed));
            rows.Add((r, "fidelity.exits_compared", f.ExitsCompared));
            rows.Add((r, "fidelity.exits_agreed", f.ExitsAgreed));
            rows.Add((r, "fidelity.disagreements", f.Disagreements));
        }

        var block = new RowBlock([.. s_runFields.Select(c => c.Make(Math.Max(1, rows.Count)))], Math.Max(1, rows.Count));
        var c = block.Columns;
        for (int i = 0; i < rows.Count; i++)
        {
            var (r, counter, value) = rows[i];
            Set(c[0], i, r.Vm.Process);
            Set(c[1], i, r.Vm.Name);
            Set(c[2], i, r.Policy);
            Set(c[3], i, r.Counters.Kernel);
            Set(c[4], i, r.Counters.FolioOrder);
            Set(c[5], i, r.Counters.RmpOpt);
            Set(c[6], i, counter);
            Set(c[7], i, value);
            Set(c[8], i, _source);
        }

        block.Count = rows.Count;
        _dataset.Writer.Enqueue(RunTable, block, null);
    }

    internal void Listen(ReplayVm vm, ReplaySession session)
    {
        _sessions[session] = (vm.Process, vm.Name, session.Options.Kernel?.Name ?? Engine.Kvm.KvmKernel.Default.Name);
        session.Decisions = this;
    }

    private void Flush()
    {
        if (_block.Count == 0)
        {
            return;
        }

        var full = _block;
        _block = Interlocked.Exchange(ref _spare, null) ?? NewDecisionBlock(_dataset.RowGroupRows);
        _dataset.Writer.Enqueue(DecisionTable, full, b => Volatile.Write(ref _spare, b));
    }

    private static RowBlock NewDecisionBlock(int capacity) => new([.. s_decisionFields.Select(c => c.Make(capacity))], capacity);

    private static ColumnSpec Value<T>(string name)
        where T : struct
    {
        var field = new DataField<T>(name);
        return new ColumnSpec(field, capacity => new ValueColumn<T>(field, capacity));
    }

    private static ColumnSpec Maybe<T>(string name)
        where T : struct
    {
        var field = new DataField<T?>(name);
        return new ColumnSpec(field, capacity => new NullableColumn<T>(field, capacity));
    }

    private static ColumnSpec Text(string name)
    {
        var field = new DataField<string>(name, true);
        return new ColumnSpec(field, capacity => new StringColumn(field, capacity));
    }

    private static void Set<T>(ColumnBuffer column, int row, T value)
        where T : struct => ((ValueColumn<T>)column).Values[row] = value;

    private static void Set(ColumnBuffer column, int row, string value) => ((StringColumn)column).Values[row] = value;

    private static void SetNullable<T>(ColumnBuffer column, int row, T? value)
        where T : struct => ((NullableColumn<T>)column).Values[row] = value;
}

/// <summary>A column of a fixed table: its Parquet field and how to make its buffer.</summary>
internal sealed record ColumnSpec(DataField Field, Func<int, ColumnBuffer> Make);
