using FastRmp.Engine.Metrics;
using FastRmp.Engine.Replay;

namespace FastRmp.Export.Perfetto;

/// <summary>
/// The model's run as Perfetto tracks: per model (policy and kernel) of each VM a group track holding one track per
/// vCPU (its faults, exits and RMP faults as instants), a track of the VM's conversions and launch updates, and
/// counter tracks over trace time: for SNP private 4K pages, private 2M pages, PSMASHes, RMP faults and NPT leaves;
/// for TDX the TDX module's PAGE.AUGs (4K, 2M), DEMOTEs, REMOVEs and the mirror table's leaves.
/// </summary>
/// <remarks>
/// Listens through the engine's seams without changing it: <see cref="Replayer.SessionCreated"/> gives each model as
/// it is made, and each gets its own <see cref="IReplayRecorder"/> (chained, for the first model of each VM, to the
/// recorder the replayer had, e.g. <c>--export-trace</c>'s). The replayer hands its <see cref="Replayer.Recorder"/> to
/// the first model of each VM right after calling <c>SessionCreated</c> for that VM's models, so the callback sets
/// both the model's recorder and, for a first model, the replayer's: either order of the two keeps it.
/// Counters are sampled when a model reports something, at most once per sampling interval of trace time; the
/// interval starts at <see cref="FirstInterval"/> ns and doubles after every <see cref="SamplesPerInterval"/> samples,
/// so a model writes O(SamplesPerInterval × log(trace span)) samples however long the trace; a last sample is taken at
/// <see cref="Complete"/>. An SNP model's private pages are the RMP's assigned 4K and 2M entries of the guest, counted
/// as the report's <c>rmp_4k_entries</c>/<c>rmp_2m_entries</c> are: a walk of the guest's folios (17-30 ms for the
/// 5 M-record benchmark trace's guest), so they are taken at every <see cref="PrivateEvery"/>th sample only; the other
/// counters are live values, read at every sample. Not thread-safe: the replayer calls recorders on its one thread.
/// </remarks>
internal sealed class ModelEvents
{
    /// <summary>The first sampling interval (ns of trace time).</summary>
    public const ulong FirstInterval = 1_000_000;

    /// <summary>Samples taken at one interval before it doubles.</summary>
    public const int SamplesPerInterval = 128;

    /// <summary>Private page counts (a folio walk) are taken at every this many samples (and at the last).</summary>
    public const int PrivateEvery = 32;

    /// <summary>vCPU tracks per model; faults of further vCPU ids go on one shared track.</summary>
    public const int MaxVcpus = 4096;

    private readonly PerfettoWriter _writer;
    private readonly List<SessionRecorder> _sessions = [];
    private ReplayVm? _lastVm;

    public ModelEvents(PerfettoWriter writer)
    {
        _writer = writer;
        Names = new ModelNames(writer);
    }

    /// <summary>Model events written (instants; counter samples are counted apart).</summary>
    public long Events { get; internal set; }

    /// <summary>Counter samples written.</summary>
    public long Samples { get; internal set; }

    /// <summary>Models seen.</summary>
    public int Models => _sessions.Count;

    internal ModelNames Names { get; }

    /// <summary>
    /// Hooks <paramref name="replayer"/> (before it runs): every model it creates records here; the first model of each
    /// VM also passes its decisions on to <paramref name="firstRecorder"/>, which <see cref="Replayer.Recorder"/> had.
    /// </summary>
    public void Attach(Replayer replayer, IReplayRecorder? firstRecorder)
    {
        var previous = replayer.SessionCreated;
        replayer.SessionCreated = (vm, session) =>
        {
            previous?.Invoke(vm, session);
            bool first = _lastVm is null || !Equals(_lastVm, vm);
            _lastVm = vm;
            var recorder = new SessionRecorder(this, vm, session, _sessions.Count, first ? firstRecorder : null);
            _sessions.Add(recorder);
            session.Recorder = recorder;
            if (first)
            {
                // the replayer then hands its Recorder to this VM's first model, over the line above (see remarks)
                replayer.Recorder = recorder;
            }
        };
    }

    /// <summary>Ends every model's open fault and takes its last counter sample.</summary>
    public void Complete()
    {
        foreach (var s in _sessions)
        {
            s.Complete();
        }
    }

    /// <summary>
    /// The counter tracks of an SNP model: private pages as the RMP's assigned guest entries (a folio walk, taken
    /// sparsely), PSMASHes, RMP #NPFs and the NPT's leaves (live values).
    /// </summary>
    private static readonly ModelCounter[] s_snpCounters =
    [
        new("private 4K pages", "assigned 4K RMP entries of the guest outside 2M entries (rmp_4k_entries), sampled more sparsely than the others", CounterCatalog.Rmp4KEntries, null),
        new("private 2M pages", "assigned 2M RMP entries of the guest (rmp_2m_entries), sampled more sparsely than the others", CounterCatalog.Rmp2MEntries, null),
        new("PSMASH", "PSMASH instructions so far (psmash)", null, h => h.Rmp.Counters.Psmash),
        new("RMP faults", "RMP #NPFs taken so far (rmp_npf)", null, h => h.Vm.Counters.RmpNpf),
        new("NPT 4K leaves", "4K leaves of the nested page table, private and shared (npt_4k)", null, h => h.Vm.Npt.Leaves4K),
        new("NPT 2M leaves", "2M leaves of the nested page table, private and shared (npt_2m)", null, h => h.Vm.Npt.Leaves2M),
    ];

    /// <summary>
    /// The counter tracks of a TDX model, which has no RMP: the TDX module's page additions and splits instead
    /// (docs/tdx.md), all live values.
    /// </summary>
    private static readonly ModelCounter[] s_tdxCounters =
    [
        new("PAGE.AUG 4K", "private 4K pages added to the TD so far (tdx_page_aug_4k)", null, h => h.Tdx!.Module.Counters.PageAug4K),
        new("PAGE.AUG 2M", "private 2M pages added to the TD so far (tdx_page_aug_2m)", null, h => h.Tdx!.Module.Counters.PageAug2M),
        new("DEMOTE", "2M private pages split so far (tdx_demote, TDX's PSMASH)", null, h => h.Tdx!.Module.Counters.Demote),
        new("REMOVE", "private pages removed so far (tdx_remove)", null, h => h.Tdx!.Module.Counters.Remove),
        new("NPT 4K leaves", "4K leaves of the mirror page table, private and shared (npt_4k)", null, h => h.Vm.Npt.Leaves4K),
        new("NPT 2M leaves", "2M leaves of the mirror page table, private and shared (npt_2m)", null, h => h.Vm.Npt.Leaves2M),
    ];

    /// <summary>One counter track: read live from the host, or from the report's counter (a walk of the guest) when <see cref="Live"/> is null.</summary>
    private sealed record ModelCounter(string Title, string Description, CounterInfo? Counter, Func<Engine.Hosting.Host, long>? Live)
    {
        public bool Walks => Live is null;
    }

    /// <summary>The interned names the model's events use, worked out once.</summary>
    internal sealed class ModelNames(PerfettoWriter w)
    {
        public ulong Category { get; } = w.Category("fastrmp.model");
        public ulong Fault { get; } = w.EventName("fault");
        public ulong Exit { get; } = w.EventName("KVM_EXIT_MEMORY_FAULT");
        public ulong RmpFault { get; } = w.EventName("RMP fault");
        public ulong ToPrivate { get; } = w.EventName("to private");
        public ulong ToShared { get; } = w.EventName("to shared");
        public ulong LaunchUpdate { get; } = w.EventName("launch update");
        public ulong Gpa { get; } = w.AnnotationName("gpa");
        public ulong ErrorCode { get; } = w.AnnotationName("error_code");
        public ulong Vcpu { get; } = w.AnnotationName("vcpu_id");
        public ulong Outcome { get; } = w.AnnotationName("outcome");
        public ulong Level { get; } = w.AnnotationName("level");
        public ulong Pfn { get; } = w.AnnotationName("pfn");
        public ulong RmpLevel { get; } = w.AnnotationName("rmp_level");
        public ulong Size { get; } = w.AnnotationName("size");
        public ulong Kind { get; } = w.AnnotationName("kind");
    }

    /// <summary>One model's tracks and recorder.</summary>
    private sealed class SessionRecorder : IReplayRecorder
    {
        private readonly ModelEvents _owner;
        private readonly ReplaySession _session;
        private readonly IReplayRecorder? _also;
        private readonly PerfettoWriter _w;
        private readonly ModelNames _n;
        private readonly ulong _group;
        private readonly ulong _vmOps;
        private readonly ulong[] _counters;
        private readonly Dictionary<uint, ulong> _vcpus = [];
        private readonly ModelCounter[] _counterSet;
        private readonly long[] _last;
        private int _samples;
        private ulong _otherVcpus;
        private ulong _lastTrack;
        private ulong _now;
        private ulong _nextSample;
        private ulong _interval = FirstInterval;
        private int _samplesAtInterval;

        // the fault reported last, until the model says how it ended
        private bool _pending;
        private ulong _pendingTs;
        private ulong _pendingTrack;
        private uint _pendingVcpu;
        private ulong _pendingGpa;
        private ulong _pendingCode;

        public SessionRecorder(ModelEvents owner, ReplayVm vm, ReplaySession session, int index, IReplayRecorder? also)
        {
            _owner = owner;
            _session = session;
            _also = also;
            _w = owner._writer;
            _n = owner.Names;
            _group = _w.NewUuid();
            string kernel = (session.Options.Kernel ?? Engine.Kvm.KvmKernel.Default).Name;
            string vmName = vm.Process == 0 ? "" : $", VM {vm.Process} ({vm.Name})";
            _w.DescribeTrack(_group, $"model {session.Policy} @ {kernel}{vmName}", description: $"fastrmp's model of the traced host under {session.Policy}, kernel {kernel}", rank: index, explicitOrder: true);
            _counterSet = session.Host.Tdx is null ? s_snpCounters : s_tdxCounters;
            _counters = new ulong[_counterSet.Length];
            _last = new long[_counterSet.Length];
            Array.Fill(_last, -1);
            for (int i = 0; i < _counterSet.Length; i++)
            {
                _counters[i] = _w.NewUuid();
                _w.DescribeCounter(_counters[i], _counterSet[i].Title, _group, _counterSet[i].Description, rank: i);
            }

            _vmOps = _w.NewUuid();
            _w.DescribeTrack(_vmOps, "conversions", _group, "memory attribute changes, QEMU's conversions and SNP launch updates, as the model applied them", rank: _counterSet.Length);
        }

        public void Fault(ulong timestamp, int cpu, int pid, uint vcpuId, ulong gpa, ulong errorCode)
        {
            _also?.Fault(timestamp, cpu, pid, vcpuId, gpa, errorCode);
            FlushPending("not mapped");
            _lastTrack = VcpuTrack(vcpuId);
            (_pending, _pendingTs, _pendingTrack, _pendingVcpu, _pendingGpa, _pendingCode) = (true, timestamp, _lastTrack, vcpuId, gpa, errorCode);
            _now = timestamp;
        }

        public void Mapped(ulong timestamp, int cpu, int pid, ulong gfn, ulong pfn, int level)
        {
            _also?.Mapped(timestamp, cpu, pid, gfn, pfn, level);
            if (_pending)
            {
                _pending = false;
                BeginFault("mapped");
                _w.ArgUInt(_n.Level, "level", (ulong)level);
                _w.ArgHex(_n.Pfn, "pfn", pfn);
                End();
            }

            Sample(timestamp);
        }

        public void MemoryFaultExit(ulong timestamp, int cpu, int pid)
        {
            _also?.MemoryFaultExit(timestamp, cpu, pid);
            ulong track = _pending ? _pendingTrack : _lastTrack != 0 ? _lastTrack : _vmOps;
            ulong gpa = _pendingGpa;
            if (_pending)
            {
                _pending = false;
                BeginFault("memory fault exit");
                End();
            }

            _w.BeginInstant(timestamp, track, _n.Category, "KVM_EXIT_MEMORY_FAULT", _n.Exit);
            _w.ArgHex(_n.Gpa, "gpa", gpa);
            End();
            Sample(timestamp);
        }

        public void RmpFault(ulong timestamp, int cpu, int pid, ulong gpa, ulong pfn, int rmpLevel)
        {
            _also?.RmpFault(timestamp, cpu, pid, gpa, pfn, rmpLevel);
            FlushPending("not mapped");
            _w.BeginInstant(timestamp, _lastTrack != 0 ? _lastTrack : _vmOps, _n.Category, "RMP fault", _n.RmpFault);
            _w.ArgHex(_n.Gpa, "gpa", gpa);
            _w.ArgHex(_n.Pfn, "pfn", pfn);
            _w.ArgUInt(_n.RmpLevel, "rmp_level", (ulong)rmpLevel);
            End();
            Sample(timestamp);
        }

        public void Attributes(ulong timestamp, int cpu, int pid, ulong startGfn, ulong endGfn, bool isPrivate)
        {
            _also?.Attributes(timestamp, cpu, pid, startGfn, endGfn, isPrivate);
            VmOp(timestamp, isPrivate, "attributes", startGfn << 12, (endGfn - startGfn) << 12);
        }

        public void Convert(ulong timestamp, int cpu, int pid, ulong gpa, ulong size, bool toPrivate)
        {
            _also?.Convert(timestamp, cpu, pid, gpa, size, toPrivate);
            VmOp(timestamp, toPrivate, "convert", gpa, size);
        }

        public void LaunchUpdate(ulong timestamp, int cpu, int pid, ulong gpa, ulong length)
        {
            _also?.LaunchUpdate(timestamp, cpu, pid, gpa, length);
            FlushPending("not mapped");
            _w.BeginInstant(timestamp, _vmOps, _n.Category, "launch update", _n.LaunchUpdate);
            _w.ArgHex(_n.Gpa, "gpa", gpa);
            _w.ArgHex(_n.Size, "size", length);
            End();
            Sample(timestamp);
        }

        public void Complete()
        {
            FlushPending("not mapped");
            if (!_session.Host.Vm.IsDisposed)
            {
                // a replayer disposed first has taken its models with it: their last samples are the ones already written
                Sample(_now, force: true);
            }
        }

        private void VmOp(ulong timestamp, bool toPrivate, string kind, ulong gpa, ulong size)
        {
            FlushPending("not mapped");
            _w.BeginInstant(timestamp, _vmOps, _n.Category, toPrivate ? "to private" : "to shared", toPrivate ? _n.ToPrivate : _n.ToShared);
            _w.ArgString(_n.Kind, "kind", kind);
            _w.ArgHex(_n.Gpa, "gpa", gpa);
            _w.ArgHex(_n.Size, "size", size);
            End();
            Sample(timestamp);
        }

        private void FlushPending(string outcome)
        {
            if (_pending)
            {
                _pending = false;
                BeginFault(outcome);
                End();
                Sample(_pendingTs);
            }
        }

        private void BeginFault(string outcome)
        {
            _w.BeginInstant(_pendingTs, _pendingTrack, _n.Category, "fault", _n.Fault);
            _w.ArgUInt(_n.Vcpu, "vcpu_id", _pendingVcpu);
            _w.ArgHex(_n.Gpa, "gpa", _pendingGpa);
            _w.ArgHex(_n.ErrorCode, "error_code", _pendingCode);
            _w.ArgString(_n.Outcome, "outcome", outcome);
        }

        private void End()
        {
            _w.EndEvent();
            _owner.Events++;
        }

        private ulong VcpuTrack(uint vcpu)
        {
            if (_vcpus.TryGetValue(vcpu, out ulong uuid))
            {
                return uuid;
            }

            if (_vcpus.Count >= MaxVcpus)
            {
                if (_otherVcpus == 0)
                {
                    _otherVcpus = _w.NewUuid();
                    _w.DescribeTrack(_otherVcpus, "other vCPUs", _group, rank: 1 << 20);
                }

                return _otherVcpus;
            }

            uuid = _w.NewUuid();
            _w.DescribeTrack(uuid, $"vCPU {vcpu}", _group, rank: 1000 + (int)Math.Min(vcpu, 1u << 20));
            _vcpus.Add(vcpu, uuid);
            return uuid;
        }

        /// <summary>Takes a counter sample at <paramref name="timestamp"/> when the sampling interval has passed (see the class remarks).</summary>
        private void Sample(ulong timestamp, bool force = false)
        {
            _now = Math.Max(_now, timestamp);
            if (!force && timestamp < _nextSample)
            {
                return;
            }

            _nextSample = timestamp + _interval;
            if (++_samplesAtInterval >= SamplesPerInterval)
            {
                _samplesAtInterval = 0;
                _interval *= 2;
            }

            var host = _session.Host;
            bool walk = force || _samples++ % PrivateEvery == 0;
            var result = walk && _counterSet.Any(c => c.Walks) ? host.Result("perfetto", verify: false) : null;
            Span<long> values = stackalloc long[_counterSet.Length];
            for (int i = 0; i < values.Length; i++)
            {
                var counter = _counterSet[i];
                values[i] = !counter.Walks ? counter.Live!(host) : result is not null ? result[counter.Counter!] : _last[i];
            }

            for (int i = 0; i < values.Length; i++)
            {
                if (values[i] != _last[i] && values[i] >= 0)
                {
                    _last[i] = values[i];
                    _w.Counter(timestamp, _counters[i], values[i]);
                    _owner.Samples++;
                }
            }
        }
    }
}
