namespace FastRmp.Engine.Replay;

/// <summary>One place where the model decided differently from the traced kernel.</summary>
/// <param name="Timestamp">The trace event's timestamp (ns).</param>
/// <param name="What">What was compared: <c>level</c>, <c>exit</c> or <c>rmp-fault</c>.</param>
/// <param name="Gpa">The guest physical address.</param>
/// <param name="Trace">What the trace shows.</param>
/// <param name="Model">What the model did.</param>
public sealed record Disagreement(ulong Timestamp, string What, ulong Gpa, string Trace, string Model);

/// <summary>
/// How closely a policy's model followed the traced kernel, decision by decision: the mapping level of each fault
/// the trace resolves (<c>kvm_mmu_spte_requested</c>), whether a fault exited to userspace (KVM_EXIT_MEMORY_FAULT),
/// and which 2 MiB regions took an RMP fault (<c>kvm_rmp_fault</c>).
/// </summary>
/// <remarks>
/// The policy that matches the traced kernel's should agree everywhere the model has the facts; another policy's
/// disagreements are the difference the debate is about. Not thread-safe.
/// </remarks>
public sealed class Fidelity(int maxDisagreements = 10)
{
    private readonly List<Disagreement> _first = [];
    private readonly Dictionary<ulong, ulong> _traceRmpRegions = [];
    private readonly Dictionary<ulong, ulong> _modelRmpRegions = [];
    private int _commonRmpRegions = -1;

    /// <summary>Faults whose traced level was compared with the model's.</summary>
    public long LevelsCompared { get; private set; }

    /// <summary>Of those, the ones where the levels were equal.</summary>
    public long LevelsAgreed { get; private set; }

    /// <summary>Faults whose traced outcome (mapped or exited) was compared.</summary>
    public long ExitsCompared { get; private set; }

    /// <summary>Of those, the ones with the same outcome.</summary>
    public long ExitsAgreed { get; private set; }

    /// <summary>2 MiB regions with a traced RMP fault.</summary>
    public int TraceRmpRegions => _traceRmpRegions.Count;

    /// <summary>2 MiB regions where the model took an RMP #NPF.</summary>
    public int ModelRmpRegions => _modelRmpRegions.Count;

    /// <summary>Regions in both.</summary>
    public int CommonRmpRegions => _commonRmpRegions >= 0 ? _commonRmpRegions : _traceRmpRegions.Keys.Count(_modelRmpRegions.ContainsKey);

    /// <summary>Every disagreement counted (RMP regions once <see cref="Finish"/> has run).</summary>
    public long Disagreements { get; private set; }

    /// <summary>The first disagreements in trace order (at most the number given at construction; complete after <see cref="Finish"/>).</summary>
    public IReadOnlyList<Disagreement> First => _first;

    /// <summary>Agreement over every comparison: decisions agreed / decisions compared (each RMP region in either set counts once); 1 when nothing was compared.</summary>
    public double AgreementRate
    {
        get
        {
            int common = CommonRmpRegions;
            long compared = LevelsCompared + ExitsCompared + _traceRmpRegions.Count + _modelRmpRegions.Count - common;
            return compared == 0 ? 1.0 : (double)(LevelsAgreed + ExitsAgreed + common) / compared;
        }
    }

    /// <summary>Compares the level of a fault the trace resolved (PG_LEVEL numbers; 0 = the model mapped nothing).</summary>
    public void Level(ulong timestamp, ulong gpa, int traced, int model)
    {
        LevelsCompared++;
        if (traced == model)
        {
            LevelsAgreed++;
            return;
        }

        Disagree(new Disagreement(timestamp, "level", gpa, LevelName(traced), LevelName(model)));
    }

    /// <summary>Compares whether a fault exited to userspace.</summary>
    public void Exit(ulong timestamp, ulong gpa, bool tracedExit, bool modelExit)
    {
        ExitsCompared++;
        if (tracedExit == modelExit)
        {
            ExitsAgreed++;
            return;
        }

        Disagree(new Disagreement(timestamp, "exit", gpa, tracedExit ? "memory-fault exit" : "mapped", modelExit ? "memory-fault exit" : "mapped"));
    }

    /// <summary>The trace shows an RMP fault at <paramref name="gpa"/>.</summary>
    public void TraceRmpFault(ulong timestamp, ulong gpa) => _traceRmpRegions.TryAdd(gpa >> 21, timestamp);

    /// <summary>The model took an RMP #NPF at <paramref name="gpa"/> while replaying the event at <paramref name="timestamp"/>.</summary>
    public void ModelRmpFault(ulong timestamp, ulong gpa) => _modelRmpRegions.TryAdd(gpa >> 21, timestamp);

    /// <summary>Adds the RMP-region disagreements once the trace has ended and keeps the first ones in time order.</summary>
    public void Finish()
    {
        if (_commonRmpRegions >= 0)
        {
            return;
        }

        var regions = new List<Disagreement>();
        foreach (var (region, at) in _traceRmpRegions)
        {
            if (!_modelRmpRegions.ContainsKey(region))
            {
                regions.Add(new Disagreement(at, "rmp-fault", region << 21, "RMP fault", "none"));
            }
        }

        foreach (var (region, at) in _modelRmpRegions)
        {
            if (!_traceRmpRegions.ContainsKey(region))
            {
                regions.Add(new Disagreement(at, "rmp-fault", region << 21, "none", "RMP fault"));
            }
        }

        _commonRmpRegions = (_traceRmpRegions.Count + _modelRmpRegions.Count - regions.Count) / 2;
        Disagreements += regions.Count;
        _first.AddRange(regions);
        _first.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
        if (_first.Count > maxDisagreements)
        {
            _first.RemoveRange(maxDisagreements, _first.Count - maxDisagreements);
        }
    }

    private void Disagree(Disagreement d)
    {
        Disagreements++;
        if (_first.Count < maxDisagreements)
        {
            _first.Add(d);
        }
    }

    private static string LevelName(int level) => level switch { 0 => "no mapping", 1 => "4K", 2 => "2M", 3 => "1G", _ => $"level {level}" };
}
