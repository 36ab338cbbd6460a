using FastRmp.Engine.Kvm;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Replay;

/// <summary>
/// One policy's model of the traced host: a <see cref="Hosting.Host"/> (allocator, RMP, policy, VM, guest) driven by
/// <see cref="ReplayOp"/>s, with what had to be inferred counted and every traced decision compared
/// (<see cref="Fidelity"/>).
/// </summary>
/// <remarks>
/// What a trace does not show is filled in the way QEMU and Linux guests behave, and counted
/// (docs/replay.md): memslots inferred as guest_memfd-backed 1 GiB slots when the trace has no QEMU memslot events and
/// no memslot file is given; a guest_memfd slot's range set private when it is added (QEMU's
/// <c>kvm_set_phys_mem</c> does this for SNP guests); a fault whose private bit disagrees with attributes no traced
/// event has set flips that page's attribute (the conversion happened before the trace or was not traced); a
/// private access to a page the guest has not validated is taken as the guest validating it at the size it is
/// mapped (a 2M PVALIDATE under a 2M leaf, else 4K), so the inference adds no fault: the guest's own acceptance
/// pattern, when traced, is in the trace's faults. Not thread-safe.
/// </remarks>
public sealed class ReplaySession : IDisposable
{
    private const ulong EncBit = 1UL << 34;
    private const ulong WriteBit = 1UL << 1;
    private const int InferredSlotShift = 30;
    private const ulong GmemFileBytes = 1UL << 46;
    private const uint InferredSlotBase = 0x4000;
    private readonly ReplayOptions _options;
    private const ulong GmemFileGrain = 1UL << 30; // model files grow in whole GiB
    private const int MaxModelFiles = 1024;
    private readonly Dictionary<uint, List<int>> _gmemFds = [];
    private int _modelFiles;
    private readonly MemoryAttributeMap _known = new();
    private readonly bool _private;
    private readonly bool _tdx;
    private int _inferredFd = -1;
    private bool _disposed;
    private uint _inferredSlots;
    private ReplaySessionCounters _counters;
    private (ulong Timestamp, int Cpu, int Pid) _now;

    /// <summary>Builds the host model for <paramref name="policy"/>.</summary>
    public ReplaySession(string policy, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Host = new Host(policy, options.FolioOrder, guestBytes: 0,
            new HostOptions(options.HostBytes >> PageSize.Shift4K, options.VmType, TracedPfns: true, MemslotCapacity: 4096, Kernel: options.Kernel, RmpOpt: options.RmpOpt));
        Host.Vm.PrefetchInFault = false; // the replayer prefetches every fault's lines a batch ahead (FaultLines)
        _private = options.VmType is KvmVmType.Snp or KvmVmType.SwProtected or KvmVmType.Tdx;
        _tdx = options.VmType == KvmVmType.Tdx;
        if (_tdx)
        {
            Host.FinalizeTd(); // a trace shows the TD running; its build (KVM_TDX_INIT_MEM_REGION) is not traced as such
        }

        Fidelity = new Fidelity(options.MaxDisagreements);
        if (options.Memslots is { } slots)
        {
            Source = MemslotSource.File;
            foreach (var region in slots)
            {
                SetMemslot(region);
            }
        }
    }

    /// <summary>The host model.</summary>
    public Host Host { get; }

    /// <summary>Receives each fault with the model's decision (null: none; costs nothing then).</summary>
    public IFaultDecisionSink? Decisions { get; set; }

    /// <summary>How the trace is replayed.</summary>
    public ReplayOptions Options => _options;

    /// <summary>The policy's name.</summary>
    public string Policy => Host.Design;

    /// <summary>Where the memslots came from.</summary>
    public MemslotSource Source { get; private set; }

    /// <summary>Agreement with the traced kernel.</summary>
    public Fidelity Fidelity { get; }

    /// <summary>What was inferred or refused.</summary>
    public ref ReplaySessionCounters Counters => ref _counters;

    /// <summary>Receives the model's decisions (for the exported trace), if set.</summary>
    public IReplayRecorder? Recorder { get; set; }

    /// <summary>The first memslot or attribute request the model refused, with the kernel's errno; null when none.</summary>
    public string? FirstRefusal { get; private set; }

    /// <summary>The model invariant the run broke (<see cref="Vm.Verify"/>), found when the result was taken; null when none.</summary>
    public string? InvariantViolation { get; private set; }

    /// <summary>Applies one step.</summary>
    public void Apply(in ReplayOp op)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _now = (op.Timestamp, op.Cpu, op.Pid);
        Fidelity.Traced.Observe(op);
        switch (op.Kind)
        {
            case ReplayOpKind.Fault: Fault(op); break;
            case ReplayOpKind.SetMemslot:
                if (Source == MemslotSource.File)
                {
                    _counters.MemslotEventsIgnored++;
                    break;
                }

                Source = MemslotSource.Trace;
                SetMemslot(op.Region);
                break;
            case ReplayOpKind.SetAttributes: SetAttributes(op, punchHole: false); break;
            case ReplayOpKind.Convert: SetAttributes(op, punchHole: !op.ToPrivate); break;
            case ReplayOpKind.LaunchUpdate: Launch(op); break;
            case ReplayOpKind.RmpFault: Fidelity.TraceRmpFault(op); break;
            case ReplayOpKind.HypercallExit: Host.Vm.Counters.HypercallExits++; break;
        }
    }

    /// <summary>
    /// The addresses applying <paramref name="op"/> will read first, into <paramref name="lines"/> (at least
    /// <see cref="Vm.MaxFaultLines"/> long); returns their number. A prefetch hint: the replay gathers them some ops ahead.
    /// </summary>
    internal int FaultLines(in ReplayOp op, Span<nint> lines)
        => op.Kind == ReplayOpKind.Fault ? Host.Vm.FaultLines(new gpa_t(op.Gpa).Gfn, lines) : 0;

    /// <summary>The counters of the run (every model counter, then the replay's own), after checking the model's invariants when <see cref="ReplayOptions.Verify"/> is set.</summary>
    public RunResult Result(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Fidelity.Finish();
        try
        {
            if (_options.Verify)
            {
                Host.Vm.Verify();
                Host.Allocator.Verify();
            }
        }
        catch (InvalidOperationException ex)
        {
            // A state the policy produced (e.g. a blind 4K return to shared refused inside a 2M entry leaves a freed
            // page private): reported, not thrown, so the run's counters are still shown.
            InvariantViolation = ex.Message;
        }

        var model = Host.Result(name, verify: false);
        var traced = Host.TracedPfns!;
        return model with
        {
            Counters = model.Counters.AddRange((KeyValuePair<string, long>[])
            [
                CounterCatalog.ReplayFaults.With(_counters.Faults),
                CounterCatalog.ReplayMmio.With(_counters.Mmio),
                CounterCatalog.PfnsFromTrace.With(traced.Claimed),
                CounterCatalog.PfnsNotFree.With(traced.Missed),
                CounterCatalog.InferredSlots.With(_counters.InferredSlots),
                CounterCatalog.InferredConversions.With(_counters.InferredConversions),
                CounterCatalog.FoliosInferred2M.With(_counters.FoliosInferred2M),
                CounterCatalog.SharedHugePagesInferred.With(_counters.SharedHugePagesInferred),
                CounterCatalog.InferredValidations.With(_counters.InferredValidations),
                CounterCatalog.MemslotErrors.With(_counters.MemslotErrors),
                CounterCatalog.MemslotEventsIgnored.With(_counters.MemslotEventsIgnored),
                CounterCatalog.AttributeErrors.With(_counters.AttributeErrors),
            ]),
        };
    }

    /// <inheritdoc />
    /// <summary>Frees the host model. Later calls do nothing; <see cref="Apply"/> and <see cref="Result"/> then throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _known.Dispose();
        Host.Dispose();
    }

    private void Fault(in ReplayOp op)
    {
        var vm = Host.Vm;
        ulong gpa = op.Gpa & ~PageSize.Mask4K;
        bool isPrivate = _tdx ? !Tdx.TdxGpa.StripSharedBit(ref gpa) : (op.ErrorCode & (EncBit | (ulong)PageFaultErrorCode.PrivateAccess)) != 0;
        var gfn = new gpa_t(gpa).Gfn;
        _counters.Faults++;
        if (Source is MemslotSource.None or MemslotSource.Inferred)
        {
            InferSlot(gfn);
        }

        // The trace's decision first: an access whose kind disagrees with the model's attributes exits to userspace
        // as the kernel does when the trace says it exited, or when a traced event (a conversion, or the slot's
        // creation) set the attributes and the trace does not say; it is a conversion the trace did not show when the
        // traced kernel mapped it, or when nothing traced ever set the page's attributes.
        bool inferred = _private && vm.Attributes.IsPrivate(gfn) != isPrivate && vm.Memslots.Find(0, gfn) >= 0
            && (op.Outcome == TracedOutcome.Mapped || (op.Outcome == TracedOutcome.Unknown && !_known.IsPrivate(gfn)));
        if (inferred)
        {
            _counters.InferredConversions++;
            SetAttributes(gpa, PageSize.Size4K, isPrivate);
        }

        if (_options.FolioAuto && op.Outcome == TracedOutcome.Mapped && op.Level == (byte)PgLevel.Level2M)
        {
            if (isPrivate)
            {
                Hint2M(gfn);
            }
            else if (vm.Memslots.Find(0, gfn) >= 0)
            {
                if (op.HasPfn)
                {
                    Host.TracedPfns!.Hint(op.Pfn);
                }

                if (vm.BackSharedWithHugePage(gfn))
                {
                    _counters.SharedHugePagesInferred++;
                }

                Host.TracedPfns!.ClearHint();
            }
        }

        if (op.HasPfn)
        {
            Host.TracedPfns!.Hint(op.Pfn);
        }

        var guest = Host.Guest;
        bool write = (op.ErrorCode & WriteBit) != 0;

        // The RMP instructions a fault costs are counted, not returned, by the RMP table (its callers are the policies'
        // hooks, deep in the fault path): with a decision sink attached, the fault's share is the counters' growth.
        var decisions = Decisions;
        var rmpBefore = decisions is null ? default : RmpWork();
        AccessOutcome outcome;
        int rmpFaults;
        try
        {
            if (_tdx)
            {
                outcome = TdxAccess(gpa, isPrivate, write);
                rmpFaults = 0;
            }
            else
            {
                outcome = guest.Access(new gpa_t(gpa), isPrivate, write);
                rmpFaults = outcome.RmpFaults;
                if (outcome.Result == AccessResult.NotValidated)
                {
                    // The guest validates what it touched, at the size it is mapped: no fault or PSMASH is added by the inference.
                    _counters.InferredValidations++;
                    bool huge = outcome.Leaf.Level >= PgLevel.Level2M;
                    var validated = guest.Pvalidate(new gpa_t(huge ? gpa & ~(PageSize.Size2M - 1) : gpa), huge ? Interop.Hardware.RmpPageSize.Size2M : Interop.Hardware.RmpPageSize.Size4K, true);
                    rmpFaults += validated.RmpFaults;
                    if (validated.Result == Interop.Hardware.PvalidateResult.Success && validated.RmpFaults == 0)
                    {
                        outcome = outcome with { Result = AccessResult.Ok }; // nothing moved: the retried access passes the RMP check
                    }
                    else
                    {
                        var retry = guest.Access(new gpa_t(gpa), isPrivate, write);
                        rmpFaults += retry.RmpFaults;
                        outcome = retry with { FaultLevel = outcome.FaultLevel };
                    }
                }
            }
        }
        catch (InvalidOperationException ex)
        {
            // The guest would re-fault forever here (e.g. a private access to a page the policy never made private).
            Host.Guest.CountStuck($"a guest access that cannot complete at {op.Timestamp / 1e9:F9} s: {ex.Message}");
            FirstRefusal ??= Host.Guest.StuckReason;
            Fidelity.Stuck(op, ex.Message); // compared and not agreed: a policy that gets stuck is not flattered
            Host.TracedPfns!.ClearHint();
            if (decisions is not null)
            {
                var stuckWork = RmpWork();
                decisions.Decided(this, op, new FaultDecision(gfn.Value, isPrivate, default, 0, stuckWork.Updates - rmpBefore.Updates, stuckWork.Psmashes - rmpBefore.Psmashes, inferred, Stuck: true));
            }

            return;
        }

        Host.TracedPfns!.ClearHint();
        if (outcome.Result == AccessResult.Mmio)
        {
            _counters.Mmio++;
        }

        bool modelRmpFault = rmpFaults != 0;
        if (modelRmpFault)
        {
            Fidelity.ModelRmpFault(op, gpa);
        }

        bool modelExit = outcome.Result == AccessResult.MemoryFaultExit;
        var leaf = outcome.Leaf;
        Fidelity.Fault(op, outcome, inferred);
        if (decisions is not null)
        {
            var work = RmpWork();
            decisions.Decided(this, op, new FaultDecision(gfn.Value, isPrivate, outcome, rmpFaults, work.Updates - rmpBefore.Updates, work.Psmashes - rmpBefore.Psmashes, inferred, Stuck: false));
        }

        if (Recorder is { } recorder)
        {
            // in the kernel's order: the fault, its mapping (or exit), then the RMP fault the guest's retry takes
            recorder.Fault(op.Timestamp, op.Cpu, op.Pid, op.VcpuId, op.Gpa, op.ErrorCode);
            if (modelExit)
            {
                recorder.MemoryFaultExit(op.Timestamp, op.Cpu, op.Pid);
            }
            else if (leaf.IsPresent)
            {
                recorder.Mapped(op.Timestamp, op.Cpu, op.Pid, gfn.Value, leaf.Pfn.Value, (int)outcome.Level);
            }

            if (modelRmpFault)
            {
                recorder.RmpFault(op.Timestamp, op.Cpu, op.Pid, gpa, leaf.Pfn.Value, leaf.IsPresent ? (int)leaf.Level : 0);
            }
        }
    }

    /// <summary>RMPUPDATEs and PSMASHes the model has run so far (none on a TDX host, which has no RMP).</summary>
    private (long Updates, long Psmashes) RmpWork()
    {
        if (_tdx)
        {
            return default;
        }

        ref var c = ref Host.Rmp.Counters;
        return (c.RmpUpdate4K + c.RmpUpdate2M + c.RmpUpdateFailed, c.Psmash + c.PsmashFailed);
    }

    /// <summary>
    /// The TD's access behind a traced EPT violation: a fault through KVM (with the TDX hooks: the Secure EPT's
    /// SEPT.ADD and AUG) unless a leaf of the access's kind maps the page already; a private page KVM mapped PENDING is
    /// then accepted at the leaf's size, as the guest's ACCEPT that faulted does (counted as an inferred validation).
    /// </summary>
    private AccessOutcome TdxAccess(ulong gpa, bool isPrivate, bool write)
    {
        var vm = Host.Vm;
        var gfn = new gpa_t(gpa).Gfn;
        var leaf = vm.Npt.Lookup(gfn);
        if (leaf.IsPresent && leaf.IsPrivate == isPrivate)
        {
            return new AccessOutcome(AccessResult.Ok, PgLevel.None, leaf, 0, default);
        }

        var result = Host.TdxGuest!.Fault(gfn, isPrivate, write, out var level, out var exit);
        leaf = vm.Npt.Lookup(gfn);
        var module = Host.Tdx!.Module;
        if (result == FaultResult.Fixed && isPrivate && leaf.IsPresent && module.Lookup(gfn).State == Tdx.SeptState.Pending)
        {
            var head = leaf.Level == PgLevel.Level2M ? new gfn_t(gfn.Value & ~511UL) : gfn;
            module.Accept(head, leaf.Level);
            _counters.InferredValidations++;
        }

        var access = result switch
        {
            FaultResult.MemoryFaultExit => AccessResult.MemoryFaultExit,
            FaultResult.Emulate => AccessResult.Mmio,
            _ => AccessResult.Ok,
        };
        return new AccessOutcome(access, level, leaf, 0, exit);
    }

    /// <summary>
    /// <c>--folio auto</c>: the traced kernel mapped a private 2M leaf at <paramref name="gfn"/>, so the host's
    /// guest_memfd had a folio of at least 2 MiB there (KVM maps 2M only when get_pfn's order allows it): the model's
    /// file gets a 2M folio for that block, unless a page of it is already in the page cache (counted when new).
    /// </summary>
    private void Hint2M(gfn_t gfn)
    {
        var vm = Host.Vm;
        int index = vm.Memslots.Find(0, gfn);
        if (index < 0)
        {
            return;
        }

        ref var slot = ref vm.Memslots[index];
        if (vm.Gmem.ByFileId(slot.gmem.file) is { } file && file.Hint2M(gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff))
        {
            _counters.FoliosInferred2M++;
        }
    }

    /// <summary>With no memslot source, a gfn outside every slot gets a guest_memfd-backed 1 GiB slot around it.</summary>
    private void InferSlot(gfn_t gfn)
    {
        var vm = Host.Vm;
        if (vm.Memslots.Find(0, gfn) >= 0 || (gfn.Value << PageSize.Shift4K) >= GmemFileBytes || _inferredSlots >= 4000)
        {
            return;
        }

        if (_inferredFd < 0)
        {
            if (vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = GmemFileBytes }, out _inferredFd) != Errno.Ok)
            {
                throw new InvalidOperationException("The model refused a guest_memfd for the inferred memslots.");
            }
        }

        Source = MemslotSource.Inferred;
        ulong gpa = (gfn.Value << PageSize.Shift4K) & ~((1UL << InferredSlotShift) - 1);
        var region = new kvm_userspace_memory_region2
        {
            slot = InferredSlotBase + _inferredSlots,
            flags = _private ? (uint)MemslotFlags.GuestMemfd : 0,
            guest_phys_addr = gpa,
            memory_size = 1UL << InferredSlotShift,
            userspace_addr = 0x7f00_0000_0000 + gpa,
            guest_memfd = (uint)_inferredFd,
            guest_memfd_offset = gpa,
        };
        if (Refused(vm.SetUserMemoryRegion2(region), "inferred memslot", gpa))
        {
            _counters.MemslotErrors++;
            return;
        }

        _inferredSlots++;
        _counters.InferredSlots++;
        if (_private)
        {
            DefaultPrivate(gpa, region.memory_size);
        }
    }

    /// <summary>
    /// The model's guest_memfd for a traced slot's: sized by what the bindings use (the traced file's size is not in
    /// the trace), so a trace naming many files costs what they hold. A binding that does not fit the traced file's
    /// model file gets one of its own, sized for it: bindings of one file never overlap, so their folios are the same
    /// either way. Null (refused, with the reason) past <see cref="MaxModelFiles"/> files or past the 64 TiB a model
    /// file may have.
    /// </summary>
    private int? ModelFile(in kvm_userspace_memory_region2 region)
    {
        var vm = Host.Vm;
        ulong end = region.guest_memfd_offset + region.memory_size;
        if (end < region.guest_memfd_offset || end > GmemFileBytes)
        {
            FirstRefusal ??= $"memslot {region.slot & 0xffff}: guest_memfd offset 0x{region.guest_memfd_offset:x} + size 0x{region.memory_size:x} is past the 64 TiB a model file may have";
            return null;
        }

        if (_gmemFds.TryGetValue(region.guest_memfd, out var files))
        {
            foreach (int candidate in files)
            {
                if (vm.Gmem.Get(candidate) is { } file && file.Size >= end)
                {
                    return candidate;
                }
            }
        }

        if (_modelFiles >= MaxModelFiles)
        {
            FirstRefusal ??= $"memslot {region.slot & 0xffff}: more than {MaxModelFiles} guest_memfd files (the model's limit, a process's default RLIMIT_NOFILE)";
            return null;
        }

        ulong size = Math.Min(GmemFileBytes, (end + GmemFileGrain - 1) & ~(GmemFileGrain - 1));
        if (vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = size }, out int fd) != Errno.Ok)
        {
            throw new InvalidOperationException("The model refused a guest_memfd.");
        }

        _modelFiles++;
        (files ??= _gmemFds[region.guest_memfd] = []).Add(fd);
        return fd;
    }

    private void SetMemslot(kvm_userspace_memory_region2 region)
    {
        var vm = Host.Vm;
        bool gmem = (region.flags & (uint)MemslotFlags.GuestMemfd) != 0;
        if (gmem && region.memory_size != 0)
        {
            if (ModelFile(region) is not int fd)
            {
                _counters.MemslotErrors++;
                return;
            }

            region.guest_memfd = (uint)fd;
        }

        if (Refused(vm.SetUserMemoryRegion2(region), $"memslot {region.slot & 0xffff} (address space {region.slot >> 16})", region.guest_phys_addr))
        {
            _counters.MemslotErrors++;
            return;
        }

        if (gmem && _private && region.memory_size != 0 && region.slot >> 16 == 0)
        {
            // A traced (or given) slot: its creation set the attributes, as a traced event would have.
            _known.Set(new kvm_memory_attributes { address = region.guest_phys_addr, size = region.memory_size, attributes = (ulong)MemoryAttributes.Private }, out _);
            DefaultPrivate(region.guest_phys_addr, region.memory_size);
        }
    }

    /// <summary>QEMU makes a new guest_memfd slot's range private; the exported trace shows it as the kernel would.</summary>
    private void DefaultPrivate(ulong gpa, ulong size)
    {
        if (SetAttributes(gpa, size, true))
        {
            Recorder?.Attributes(_now.Timestamp, _now.Cpu, _now.Pid, gpa >> PageSize.Shift4K, (gpa + size) >> PageSize.Shift4K, true);
        }
    }

    private void SetAttributes(in ReplayOp op, bool punchHole)
    {
        if (!_private || op.Size == 0)
        {
            return;
        }

        ulong gpa = op.Gpa & ~PageSize.Mask4K;
        ulong size = (op.Size + (op.Gpa - gpa) + PageSize.Mask4K) & ~PageSize.Mask4K;
        // A traced conversion larger than the host's memory cannot be guest RAM the host backs: refused and counted
        // like the model's own refusals, instead of giving the attribute maps bitmaps for tens of TiB (found by
        // fuzzing: one 51 TiB kvm_convert_memory took 15 s and 3.4 GB). The kernel, which stores the range gfn by gfn
        // in an xarray, would not finish it either. A memslot's own default attributes are not bounded here: a slot
        // may be larger than the host, and its range costs one bitmap per GiB of it.
        if (size > _options.HostBytes)
        {
            _counters.AttributeErrors++;
            FirstRefusal ??= $"memory attributes at gpa 0x{gpa:x}: 0x{size:x} bytes, more than the host's 0x{_options.HostBytes:x}";
            return;
        }

        if (_known.Set(new kvm_memory_attributes { address = gpa, size = size, attributes = (ulong)MemoryAttributes.Private }, out _) != Errno.Ok)
        {
            _counters.AttributeErrors++;
            return;
        }

        if (op.Kind == ReplayOpKind.Convert)
        {
            Recorder?.Convert(op.Timestamp, op.Cpu, op.Pid, gpa, size, op.ToPrivate);
        }

        if (punchHole)
        {
            // QEMU's conversion to shared and its discard of the private pages. Not a hypercall exit: those are counted
            // from the trace's own KVM_EXIT_HYPERCALL exits (ReplayOpKind.HypercallExit).
            if (SetAttributes(gpa, size, isPrivate: false))
            {
                Host.Vm.PunchGuestMemfd(new gpa_t(gpa), size);
            }

            return;
        }

        if (SetAttributes(gpa, size, op.ToPrivate) && op.Kind == ReplayOpKind.SetAttributes)
        {
            Recorder?.Attributes(op.Timestamp, op.Cpu, op.Pid, gpa >> PageSize.Shift4K, (gpa + size) >> PageSize.Shift4K, op.ToPrivate);
        }
    }

    private bool SetAttributes(ulong gpa, ulong size, bool isPrivate)
    {
        var error = Host.Vm.ConvertMemory(new gpa_t(gpa), size, isPrivate, out _);
        if (Refused(error, "memory attributes", gpa))
        {
            _counters.AttributeErrors++;
            return false;
        }

        return true;
    }

    private void Launch(in ReplayOp op)
    {
        var vm = Host.Vm;
        if (vm.Rmp is null || op.Size == 0)
        {
            return;
        }

        ulong first = op.Gpa >> PageSize.Shift4K;
        // The pages [gpa, gpa + size) covers, computed without overflow (a traced size may be anything).
        ulong pages = (op.Size >> PageSize.Shift4K) + (((op.Gpa & PageSize.Mask4K) + (op.Size & PageSize.Mask4K) + PageSize.Mask4K) >> PageSize.Shift4K);

        if (Source is MemslotSource.None or MemslotSource.Inferred)
        {
            InferSlot(new gfn_t(first));
        }

        // kvm_gmem_populate clamps the range to the memslot of its first gfn (virt/kvm/guest_memfd.c, 6.11 on): the
        // model does too, which also bounds the per-page work by what the model holds.
        int slotIndex = vm.Memslots.Find(0, new gfn_t(first));
        if (slotIndex < 0 || pages == 0)
        {
            FirstRefusal ??= $"a launch update at gpa 0x{op.Gpa:x} of 0x{op.Size:x} bytes: no memslot holds its first page";
            Host.LaunchFailures++;
            return;
        }

        ref var slot = ref vm.Memslots[slotIndex];
        ulong end = first + Math.Min(Math.Min(pages, slot.base_gfn.Value + slot.npages - first), _options.HostBytes >> PageSize.Shift4K);
        for (ulong g = first; g < end; g++)
        {
            var gfn = new gfn_t(g);
            if (!vm.Attributes.IsPrivate(gfn) && !_known.IsPrivate(gfn))
            {
                _counters.InferredConversions++;
                SetAttributes(g << PageSize.Shift4K, PageSize.Size4K, true);
            }
        }

        Recorder?.LaunchUpdate(op.Timestamp, op.Cpu, op.Pid, first << PageSize.Shift4K, (end - first) << PageSize.Shift4K);
        if (vm.Populate(new gfn_t(first), end - first) != Errno.Ok)
        {
            Host.LaunchFailures++;
        }
    }

    private bool Refused(Errno error, string what, ulong gpa)
    {
        if (error == Errno.Ok)
        {
            return false;
        }

        FirstRefusal ??= $"{what} at gpa 0x{gpa:x}: {error}";
        return true;
    }
}

/// <summary>What a replay session inferred, skipped or was refused.</summary>
public struct ReplaySessionCounters
{
    /// <summary>Guest accesses replayed.</summary>
    public long Faults;

    /// <summary>Accesses that found no slot (emulated MMIO).</summary>
    public long Mmio;

    /// <summary>Memslots inferred.</summary>
    public long InferredSlots;

    /// <summary>Attribute flips inferred from a fault's private bit.</summary>
    public long InferredConversions;

    /// <summary>PVALIDATEs inferred for private accesses to pages the guest had not validated.</summary>
    public long InferredValidations;

    /// <summary>2 MiB blocks given a 2M folio because the trace shows a private 2M leaf there (<see cref="ReplayOptions.FolioAuto"/>).</summary>
    public long FoliosInferred2M;

    /// <summary>2 MiB blocks of the VMM's shared memory backed by a huge page because the trace shows a shared 2M leaf there.</summary>
    public long SharedHugePagesInferred;

    /// <summary>Memslot requests the model refused.</summary>
    public long MemslotErrors;

    /// <summary>The trace's memslot events, ignored because a memslot file was given.</summary>
    public long MemslotEventsIgnored;

    /// <summary>Attribute requests the model refused.</summary>
    public long AttributeErrors;
}
