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
    private static readonly DataField[] s_decisionFields =
    [
        new DataField<long>("ts"), new DataField<int>("cpu"), new DataField<int>("pid"), new DataField<int>("vcpu"),
        new DataField<int>("vm_pid"), new DataField<string>("vm", true),
        new DataField<string>("policy", true), new DataField<string>("kernel", true),
        new DataField<long>("gpa"), new DataField<long>("gfn"), new DataField<long>("error_code"), new DataField<bool>("private"),
        new DataField<string>("traced_outcome", true), new DataField<int?>("traced_level"), new DataField<long?>("traced_pfn"),
        new DataField<string>("model_outcome", true), new DataField<int?>("model_level"), new DataField<long?>("model_pfn"),
        new DataField<int>("rmp_faults"), new DataField<long>("rmp_updates"), new DataField<long>("psmashes"),
        new DataField<bool>("inferred_conversion"), new DataField<string>("source", true),
    ];

    private static readonly DataField[] s_runFields =
    [
        new DataField<int>("vm_pid"), new DataField<string>("vm", true), new DataField<string>("policy", true),
        new DataField<string>("kernel", true), new DataField<int>("folio_order"), new DataField<bool>("rmpopt"),
        new DataField<string>("counter", true), new DataField<long>("value"), new DataField<string>("source", true),
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
        DecisionTable = new DatasetTable(Path.Combine(dataset.Root, "decisions", "host=" + escaped), s_decisionFields, dataset.Metadata);
        RunTable = new DatasetTable(Path.Combine(dataset.Root, "runs", "host=" + escaped), s_runFields, dataset.Metadata);
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

        var block = new RowBlock([.. s_runFields.Select(f => NewColumn(f, Math.Max(1, rows.Count)))], Math.Max(1, rows.Count));
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

    private static RowBlock NewDecisionBlock(int capacity) => new([.. s_decisionFields.Select(f => NewColumn(f, capacity))], capacity);

    private static ColumnBuffer NewColumn(DataField field, int capacity) => field.ClrType == typeof(string)
        ? new StringColumn(field, capacity)
        : field.ClrType == typeof(long) ? (field.IsNullable ? new NullableColumn<long>(field, capacity) : new ValueColumn<long>(field, capacity))
        : field.ClrType == typeof(int) ? (field.IsNullable ? new NullableColumn<int>(field, capacity) : new ValueColumn<int>(field, capacity))
        : new ValueColumn<bool>(field, capacity);

    private static void Set<T>(ColumnBuffer column, int row, T value)
        where T : struct => ((ValueColumn<T>)column).Values[row] = value;

    private static void Set(ColumnBuffer column, int row, string value) => ((StringColumn)column).Values[row] = value;

    private static void SetNullable<T>(ColumnBuffer column, int row, T? value)
        where T : struct => ((NullableColumn<T>)column).Values[row] = value;
}
