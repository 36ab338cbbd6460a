using FastRmp.Engine.Guests;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Replay;

/// <summary>One place where the model decided differently from the traced kernel.</summary>
/// <param name="Timestamp">The trace event's timestamp (ns).</param>
/// <param name="What">The decision compared: <c>level</c>, <c>exit</c> or <c>rmp-region</c>.</param>
/// <param name="Gpa">The guest physical address (the 2 MiB region's start for <c>rmp-region</c>).</param>
/// <param name="Trace">What the trace shows.</param>
/// <param name="Model">What the model did (<c>stuck</c> when it could not complete the access).</param>
public sealed record Disagreement(ulong Timestamp, string What, ulong Gpa, string Trace, string Model)
{
    /// <summary>The CPU the traced event was recorded on, or -1 when not known.</summary>
    public int Cpu { get; init; } = -1;

    /// <summary>The thread that recorded it (the vCPU thread for faults), or 0 when not known.</summary>
    public int Pid { get; init; }

    /// <summary>The fault's #NPF error code, or null for an RMP region.</summary>
    public ulong? ErrorCode { get; init; }

    /// <summary>The host pfn the traced kernel mapped, or null when the trace does not show one.</summary>
    public ulong? TracedPfn { get; init; }

    /// <summary>The level the traced kernel mapped (PG_LEVEL: 1 4K, 2 2M, 3 1G), or 0 when it did not map.</summary>
    public int TracedLevel { get; init; }

    /// <summary>Why the model decided as it did, as far as the model can say.</summary>
    public string Why { get; init; } = "";
}

/// <summary>
/// How closely a policy's model followed the traced kernel, decision by decision: the mapping level of each fault
/// the trace resolves (<c>kvm_mmu_spte_requested</c>), whether a fault exited to userspace (KVM_EXIT_MEMORY_FAULT),
/// and which 2 MiB regions took an RMP fault (<c>kvm_rmp_fault</c>).
/// </summary>
/// <remarks>
/// The policy that matches the traced kernel's should agree everywhere the model has the facts; another policy's
/// disagreements are the difference the debate is about. An access the model could not complete (a stuck access)
/// still counts: each decision the trace shows for it is compared and not agreed, so a policy that gets stuck is not
/// flattered by a smaller denominator. Memory is bounded: only the first disagreements of each kind are kept, every
/// one goes to <see cref="Listener"/> as it is found. Not thread-safe.
/// </remarks>
public sealed class Fidelity(int maxDisagreements = 10)
{
    /// <summary>The decisions compared, in the order <see cref="FirstOf"/> knows them.</summary>
    public static readonly IReadOnlyList<string> Categories = ["level", "exit", "rmp-region"];

    private readonly List<Disagreement> _first = [];
    private readonly HashSet<ulong> _regions = [];
    private readonly List<Disagreement>[] _firstOf = [[], [], []];
    private readonly long[] _countOf = new long[3];
    private readonly Dictionary<ulong, Event> _traceRmpRegions = [];
    private readonly Dictionary<ulong, Event> _modelRmpRegions = [];
    private int _commonRmpRegions = -1;

    /// <summary>What the trace shows for this VM, counted from the ops replayed (the same for every policy).</summary>
    public TraceTally Traced { get; } = new();

    /// <summary>Faults whose traced level was compared with the model's.</summary>
    public long LevelsCompared { get; private set; }

    /// <summary>Of those, the ones where the levels were equal.</summary>
    public long LevelsAgreed { get; private set; }

    /// <summary>Faults whose traced outcome (mapped or exited) was compared.</summary>
    public long ExitsCompared { get; private set; }

    /// <summary>Of those, the ones with the same outcome.</summary>
    public long ExitsAgreed { get; private set; }

    /// <summary>Accesses with a traced outcome the model could not complete (in <see cref="ExitsCompared"/>, and in <see cref="LevelsCompared"/> when the trace mapped them).</summary>
    public long StuckCompared { get; private set; }

    /// <summary>2 MiB regions with a traced RMP fault.</summary>
    public int TraceRmpRegions => _traceRmpRegions.Count;

    /// <summary>2 MiB regions where the model took an RMP #NPF.</summary>
    public int ModelRmpRegions => _modelRmpRegions.Count;

    /// <summary>Regions in both.</summary>
    public int CommonRmpRegions => _commonRmpRegions >= 0 ? _commonRmpRegions : _traceRmpRegions.Keys.Count(_modelRmpRegions.ContainsKey);

    /// <summary>Every disagreement counted (RMP regions once <see cref="Finish"/> has run).</summary>
    public long Disagreements { get; private set; }

    /// <summary>Decisions compared: levels, exits, and each RMP region in either set once.</summary>
    public long Compared => LevelsCompared + ExitsCompared + _traceRmpRegions.Count + _modelRmpRegions.Count - CommonRmpRegions;

    /// <summary>
    /// The guest's 2 MiB regions (gpa &gt;&gt; 21) where the model disagreed with the traced kernel at least once: a
    /// fault's level or exit, or an RMP fault on one side only (complete after <see cref="Finish"/>). The difference map
    /// of the HTML report draws them. One entry per region, so bounded by the guest's size.
    /// </summary>
    public IReadOnlyCollection<ulong> DisagreementRegions => _regions;

    /// <summary>The guest's 2 MiB regions up to the highest one where a fault's decisions were compared (0 when none were).</summary>
    public ulong GuestRegions { get; private set; }

    /// <summary>The first disagreements in trace order (at most the number given at construction; complete after <see cref="Finish"/>).</summary>
    public IReadOnlyList<Disagreement> First => _first;

    /// <summary>Receives every disagreement as it is found (RMP regions at <see cref="Finish"/>, in time order); set before the replay.</summary>
    public Action<Disagreement>? Listener { get; set; }

    /// <summary>Agreement over every comparison: decisions agreed / decisions compared; null when nothing was compared.</summary>
    public double? AgreementRate
    {
        get
        {
            long compared = Compared;
            return compared == 0 ? null : (double)(LevelsAgreed + ExitsAgreed + CommonRmpRegions) / compared;
        }
    }

    /// <summary>The first disagreements of one category of <see cref="Categories"/> (at most the number given at construction), in trace order.</summary>
    public IReadOnlyList<Disagreement> FirstOf(string category) => _firstOf[Index(category)];

    /// <summary>Every disagreement of one category of <see cref="Categories"/> (RMP regions once <see cref="Finish"/> has run).</summary>
    public long DisagreementsOf(string category) => _countOf[Index(category)];

    /// <summary>
    /// Compares a replayed fault with its traced outcome, when the trace shows one: mapped or exited, and for a fault
    /// the trace mapped and the model mapped too, the level (the goal level of the model's first #NPF, or its leaf
    /// when it did not fault). <paramref name="inferredConversion"/> says the model flipped the page's attributes
    /// for this fault (the trace had not set them).
    /// </summary>
    public void Fault(in ReplayOp op, in AccessOutcome outcome, bool inferredConversion)
    {
        if (op.Outcome == TracedOutcome.Unknown)
        {
            return;
        }

        GuestRegions = Math.Max(GuestRegions, (op.Gpa >> 21) + 1);
        bool tracedExit = op.Outcome == TracedOutcome.MemoryFaultExit;
        bool modelExit = outcome.Result == AccessResult.MemoryFaultExit;
        ExitsCompared++;
        if (tracedExit == modelExit)
        {
            ExitsAgreed++;
        }
        else if (Keeps("exit", op.Gpa))
        {
            Disagree(op, "exit", ExitName(tracedExit), ExitName(modelExit), ExitWhy(op, outcome, inferredConversion));
        }

        if (op.Outcome != TracedOutcome.Mapped || modelExit || outcome.Result == AccessResult.Mmio)
        {
            return;
        }

        int model = (int)outcome.Level;
        LevelsCompared++;
        if (op.Level == model)
        {
            LevelsAgreed++;
            return;
        }

        if (!Keeps("level", op.Gpa))
        {
            return;
        }

        Disagree(op, "level", LevelName(op.Level), LevelName(model), outcome.FaultLevel != PgLevel.None
            ? $"the model's first #NPF asked for {LevelName(model)} (the largest level its folio, the memslot and the attributes allowed under the policy)"
            : outcome.Leaf.IsPresent ? $"the model did not fault: a {LevelName(model)} leaf was already mapped there" : "the model mapped nothing");
    }

    /// <summary>
    /// A fault the model could not complete (the guest would re-fault forever): each decision the trace shows for it
    /// counts as compared and not agreed.
    /// </summary>
    public void Stuck(in ReplayOp op, string reason)
    {
        if (op.Outcome == TracedOutcome.Unknown)
        {
            return;
        }

        GuestRegions = Math.Max(GuestRegions, (op.Gpa >> 21) + 1);
        StuckCompared++;
        ExitsCompared++;
        string why = $"the model could not complete the access: {reason}";
        if (Keeps("exit", op.Gpa))
        {
            Disagree(op, "exit", ExitName(op.Outcome == TracedOutcome.MemoryFaultExit), "stuck", why);
        }

        if (op.Outcome == TracedOutcome.Mapped)
        {
            LevelsCompared++;
            if (Keeps("level", op.Gpa))
            {
                Disagree(op, "level", LevelName(op.Level), "stuck", why);
            }
        }
    }

    /// <summary>The trace shows an RMP fault (<c>kvm_rmp_fault</c>) at the op's gpa.</summary>
    public void TraceRmpFault(in ReplayOp op) => _traceRmpRegions.TryAdd(op.Gpa >> 21, new Event(op.Timestamp, op.Cpu, op.Pid, null));

    /// <summary>The model took an RMP #NPF at <paramref name="gpa"/> while replaying the fault <paramref name="op"/>.</summary>
    public void ModelRmpFault(in ReplayOp op, ulong gpa) => _modelRmpRegions.TryAdd(gpa >> 21, new Event(op.Timestamp, op.Cpu, op.Pid, op.ErrorCode));

    /// <summary>Adds the RMP-region disagreements once the trace has ended, in time order (later calls do nothing).</summary>
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
                regions.Add(Region(region, at, "RMP fault", "none", "the model took no #NPF(RMP) in this 2 MiB region: its RMP entries allowed every access the trace replayed there"));
            }
        }

        foreach (var (region, at) in _modelRmpRegions)
        {
            if (!_traceRmpRegions.ContainsKey(region))
            {
                regions.Add(Region(region, at, "none", "RMP fault", "the model's access took an #NPF(RMP) here (its mapping or the guest's access disagreed with the RMP entry, e.g. a 2M leaf over 4K entries); the trace shows no kvm_rmp_fault in this region"));
            }
        }

        _commonRmpRegions = (_traceRmpRegions.Count + _modelRmpRegions.Count - regions.Count) / 2;
        regions.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
        foreach (var d in regions)
        {
            Add(d);
        }

        _first.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
        if (_first.Count > maxDisagreements)
        {
            _first.RemoveRange(maxDisagreements, _first.Count - maxDisagreements);
        }
    }

    private static Disagreement Region(ulong region, Event at, string trace, string model, string why)
        => new(at.Timestamp, "rmp-region", region << 21, trace, model) { Cpu = at.Cpu, Pid = at.Pid, ErrorCode = at.ErrorCode, Why = why };

    /// <summary>
    /// True when a disagreement of <paramref name="what"/> would be kept (a listener, or room among the first); else
    /// counts it and returns false, so that its record and reason are never built: a policy that disagrees on every
    /// fault allocates nothing per fault.
    /// </summary>
    private bool Keeps(string what, ulong gpa)
    {
        if (Listener is null && _first.Count >= maxDisagreements && _firstOf[Index(what)].Count >= maxDisagreements)
        {
            _regions.Add(gpa >> 21);
            Disagreements++;
            _countOf[Index(what)]++;
            return false;
        }

        return true;
    }

    /// <summary>Builds and adds a disagreement <see cref="Keeps"/> said is kept.</summary>
    private void Disagree(in ReplayOp op, string what, string trace, string model, string why)
    {
        Add(new Disagreement(op.Timestamp, what, op.Gpa, trace, model)
        {
            Cpu = op.Cpu,
            Pid = op.Pid,
            ErrorCode = op.ErrorCode,
            TracedPfn = op.Outcome == TracedOutcome.Mapped && op.HasPfn ? op.Pfn : null,
            TracedLevel = op.Outcome == TracedOutcome.Mapped ? op.Level : 0,
            Why = why,
        });
    }

    private void Add(Disagreement d)
    {
        _regions.Add(d.Gpa >> 21);
        GuestRegions = Math.Max(GuestRegions, (d.Gpa >> 21) + 1);
        Disagreements++;
        _countOf[Index(d.What)]++;
        if (_first.Count < maxDisagreements || d.What == "rmp-region")
        {
            _first.Add(d); // regions come at the end but may be earlier than the faults kept: Finish sorts and trims
        }

        var of = _firstOf[Index(d.What)];
        if (of.Count < maxDisagreements)
        {
            of.Add(d);
        }

        Listener?.Invoke(d);
    }

    private static string ExitWhy(in ReplayOp op, in AccessOutcome outcome, bool inferredConversion)
    {
        string access = (op.ErrorCode & ((1UL << 34) | (1UL << 49))) != 0 ? "private" : "shared";
        return outcome.Result switch
        {
            AccessResult.MemoryFaultExit => $"the model exited: the {access} access disagreed with the page's memory attributes in the model (set by a traced event or the slot's creation)",
            AccessResult.Mmio => "the model found no memslot for this gfn (emulated MMIO)",
            _ when inferredConversion => $"the model mapped: the trace had not set this page's attributes, so the model took the {access} access as a conversion made before the trace (inferred_conversions)",
            _ => $"the model mapped: the {access} access matched the page's memory attributes in the model",
        };
    }

    private static int Index(string category) => category switch
    {
        "level" => 0,
        "exit" => 1,
        "rmp-region" => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(category), category, "Not a category of Fidelity.Categories."),
    };

    private static string ExitName(bool exit) => exit ? "memory-fault exit" : "mapped";

    private static string LevelName(int level) => level switch { 0 => "no mapping", 1 => "4K", 2 => "2M", 3 => "1G", _ => $"level {level}" };

    private readonly record struct Event(ulong Timestamp, int Cpu, int Pid, ulong? ErrorCode);
}
