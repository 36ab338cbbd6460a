using FastRmp.Engine.Kvm;
using FastRmp.Engine.Tdx;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Guests;

/// <summary>
/// A TD's CPU over one <see cref="Vm"/> with <see cref="TdxArch"/> hooks: acceptance (TDG.MEM.PAGE.ACCEPT as a Linux
/// guest issues it), accesses, and MapGPA conversions, each carried out with KVM and the TDX module as on a real host.
/// </summary>
/// <remarks>
/// Acceptance follows <c>tdx_accept_memory</c>/<c>try_accept_one</c> (arch/x86/coco/tdx/tdx-shared.c, 6.16): for each
/// address the largest of 1 GiB, 2 MiB, 4 KiB that is aligned and fits is tried first; an EPT violation exits to KVM
/// (<c>tdx_handle_ept_violation</c>: a private fault, and with the huge-page series GUEST_INHIBIT above the accept
/// level and a split of a larger pending leaf) and the same ACCEPT is retried; any other nonzero status makes the guest
/// try the next smaller size, and a failure at 4 KiB fails the acceptance. MapGPA (<c>tdx_map_gpa</c>, 6.16) exits to
/// userspace once per 2 MiB (<c>TDX_MAP_GPA_MAX_LEN</c>), each exit a QEMU <c>kvm_convert_memory</c>. Not
/// thread-safe.
/// </remarks>
public sealed class TdxGuest
{
    private const int MaxRounds = 4;
    private readonly Vm _vm;

    /// <summary>The TD of <paramref name="vm"/>, whose vendor hooks are <paramref name="arch"/>.</summary>
    public TdxGuest(Vm vm, TdxArch arch)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(arch);
        if (vm.Arch != arch)
        {
            throw new ArgumentException("The TD's hooks must be the VM's.", nameof(arch));
        }

        _vm = vm;
        Arch = arch;
    }

    /// <summary>KVM's TDX hooks of the TD.</summary>
    public TdxArch Arch { get; }

    /// <summary>The TDX module's side of the TD.</summary>
    public TdxModule Module => Arch.Module;

    /// <summary>
    /// Accepts [<paramref name="gpa"/>, +<paramref name="bytes"/>) as <c>tdx_accept_memory</c> does. Returns false when
    /// a page could not be accepted at any size (the guest would panic); the pages before it stay accepted.
    /// </summary>
    public bool Accept(gpa_t gpa, ulong bytes)
    {
        _vm.ThrowIfDisposed();
        ulong start = gpa.Value, end = gpa.Value + bytes;
        while (start < end)
        {
            ulong size = TryAcceptOne(start, end - start, PgLevel.Level1G);
            if (size == 0)
            {
                size = TryAcceptOne(start, end - start, PgLevel.Level2M);
            }

            if (size == 0)
            {
                size = TryAcceptOne(start, end - start, PgLevel.Level4K);
            }

            if (size == 0)
            {
                return false;
            }

            start += size;
        }

        return true;
    }

    /// <summary>
    /// A guest access to <paramref name="gpa"/>. Private: an unmapped page takes an EPT violation and KVM maps it
    /// pending; a pending (never accepted) page is fatal: KVM marks the TD dead (counted in
    /// <see cref="TdxCounters.UnacceptedAccesses"/>, false). Shared: a fault maps it from the VMM's memory. Returns
    /// true when the access completed.
    /// </summary>
    public bool Access(gpa_t gpa, bool write, bool isPrivate)
    {
        _vm.ThrowIfDisposed();
        var gfn = gpa.Gfn;
        for (int round = 0; round < MaxRounds; round++)
        {
            var leaf = _vm.Npt.Lookup(gfn);
            if (leaf.IsPresent && leaf.IsPrivate == isPrivate)
            {
                if (!isPrivate || Module.Lookup(gfn).State == SeptState.Mapped)
                {
                    return true;
                }

                // tdx_is_sept_violation_unexpected_pending: "Guest access before accepting", kvm_vm_dead.
                Module.Counters.UnacceptedAccesses++;
                return false;
            }

            if (Fault(gfn, isPrivate, write) == FaultResult.MemoryFaultExit)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// TDG.VP.VMCALL&lt;MapGPA&gt; of [<paramref name="gpa"/>, +<paramref name="bytes"/>): one KVM_EXIT_HYPERCALL per
    /// 2 MiB (counted in <see cref="VmCounters.HypercallExits"/>), each converted by userspace; a conversion to shared
    /// with <paramref name="punchHole"/> also discards the private pages (QEMU's discard). A conversion to private is
    /// then accepted by the guest, as <c>tdx_enc_status_changed</c> does. Returns the first refusal.
    /// </summary>
    public Errno MapGpa(gpa_t gpa, ulong bytes, bool toPrivate, bool punchHole = false)
    {
        _vm.ThrowIfDisposed();
        const ulong MaxLen = PageSize.Size2M; // TDX_MAP_GPA_MAX_LEN
        for (ulong at = gpa.Value, end = gpa.Value + bytes; at < end; at += MaxLen)
        {
            ulong chunk = Math.Min(MaxLen, end - at);
            _vm.Counters.HypercallExits++;
            var error = _vm.ConvertMemory(new gpa_t(at), chunk, toPrivate, out _);
            if (error != Errno.Ok)
            {
                return error;
            }

            if (!toPrivate && punchHole)
            {
                _vm.PunchGuestMemfd(new gpa_t(at), chunk);
            }
        }

        return toPrivate && !Accept(gpa, bytes) ? Errno.EIO : Errno.Ok;
    }

    private ulong TryAcceptOne(ulong start, ulong length, PgLevel level)
    {
        ulong size = level switch
        {
            PgLevel.Level1G => PageSize.Size1G,
            PgLevel.Level2M => PageSize.Size2M,
            _ => PageSize.Size4K,
        };
        if ((start & (size - 1)) != 0 || length < size)
        {
            return 0;
        }

        var gfn = new gpa_t(start).Gfn;
        for (int round = 0; round < MaxRounds; round++)
        {
            switch (Module.Accept(gfn, level))
            {
                case AcceptResult.Accepted:
                    return size;
                case AcceptResult.EptViolation:
                    if (Arch.Design == TdxDesign.HugePages && _vm.InhibitAboveAcceptLevel(gfn, level))
                    {
                        Module.Counters.AcceptSplits++;
                    }

                    if (Module.Lookup(gfn).IsPresent)
                    {
                        continue; // a split left a pending leaf of the accept's size: retry
                    }

                    if (Fault(gfn, isPrivate: true, write: true) == FaultResult.MemoryFaultExit)
                    {
                        return 0;
                    }

                    continue;
                default:
                    return 0; // TDX_PAGE_SIZE_MISMATCH, or already accepted (nonzero status: the 6.16 guest tries smaller)
            }
        }

        return 0;
    }

    private FaultResult Fault(gfn_t gfn, bool isPrivate, bool write) => Fault(gfn, isPrivate, write, out _, out _);

    /// <summary>
    /// An EPT violation on <paramref name="gfn"/> handled by KVM (<c>tdx_handle_ept_violation</c>, 6.16: every private
    /// EPT violation is treated as a write, TD private pages being always RWX); <paramref name="level"/> is the level it
    /// mapped (none unless fixed), <paramref name="exit"/> the memory-fault exit it prepared.
    /// </summary>
    internal FaultResult Fault(gfn_t gfn, bool isPrivate, bool write, out PgLevel level, out MemoryFaultExit exit)
    {
        var fault = new kvm_page_fault_v6_13
        {
            addr = gfn.Gpa,
            error_code = (write || isPrivate ? (ulong)PageFaultErrorCode.Write : 0) | (ulong)PageFaultErrorCode.User
                | (isPrivate ? (ulong)PageFaultErrorCode.PrivateAccess : 0),
        };
        var result = _vm.HandleFault(ref fault, out exit);
        level = result == FaultResult.Fixed ? (PgLevel)fault.goal_level : PgLevel.None;
        return result;
    }
}
