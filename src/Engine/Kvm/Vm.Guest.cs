using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>MAP_GPA_RANGE exits to userspace (the guest's page-state changes; kernel-domain.md 4.7).</summary>
    public long HypercallExits { get; private set; }

    /// <summary>
    /// The guest's PVALIDATE of <paramref name="gpa"/>: the CPU translates through the NPT (faulting the page in
    /// privately if it is not mapped), executes PVALIDATE on the backing pfn, and on #NPF(RMP, SIZEM) KVM's RMP fault
    /// handler PSMASHes and the guest retries. Returns the instruction's result.
    /// </summary>
    public PvalidateResult GuestPvalidate(gpa_t gpa, RmpPageSize size, bool validate)
    {
        if (Rmp is null || Arch is null)
        {
            throw new InvalidOperationException("PVALIDATE needs an SNP VM.");
        }

        var gfn = gpa.Gfn;
        for (int round = 0; round < MaxAccessRounds; round++)
        {
            var leaf = Npt.Lookup(gfn);
            if (!leaf.IsPresent)
            {
                var fault = new kvm_page_fault_v6_13
                {
                    addr = gpa,
                    error_code = (ulong)(PageFaultErrorCode.User | PageFaultErrorCode.GuestEnc | PageFaultErrorCode.PrivateAccess),
                };
                if (HandleFault(ref fault) != FaultResult.Fixed)
                {
                    return PvalidateResult.FailPermission; // the page is not private: the guest's #VC handler sees a failure
                }

                continue;
            }

            var result = Rmp.Pvalidate(leaf.Pfn, Config.Asid, gfn, size, validate, out var npf);
            if (npf == PageFaultErrorCode.None)
            {
                return result;
            }

            Counters.RmpNpf++;
            Arch.HandleRmpFault(this, gpa, npf);
        }

        throw new InvalidOperationException($"PVALIDATE of gpa {gpa} did not settle after {MaxAccessRounds} rounds.");
    }

    /// <summary>
    /// Models <c>kvm_gmem_populate</c> with SNP's callback (<c>sev_gmem_post_populate</c> for SNP_LAUNCH_UPDATE;
    /// kernel-domain.md 4.6): each gfn must be private (EINVAL otherwise); its page is made private and immutable in
    /// the RMP, and the firmware then measures it and leaves it validated for the guest.
    /// </summary>
    public Errno Populate(gfn_t start, ulong npages)
    {
        if (Rmp is null)
        {
            throw new InvalidOperationException("SNP_LAUNCH_UPDATE needs an SNP VM.");
        }

        for (ulong i = 0; i < npages; i++)
        {
            var gfn = start + i;
            int slotIndex = Memslots.Find(0, gfn);
            if (!Attributes.IsPrivate(gfn) || slotIndex < 0)
            {
                return Errno.EINVAL;
            }

            ref var slot = ref Memslots[slotIndex];
            var file = Gmem.ByFileId(slot.gmem.file);
            if (file is null)
            {
                return Errno.EINVAL;
            }

            var error = file.PopulatePage(slotIndex, ref slot, gfn, out var pfn);
            if (error != Errno.Ok)
            {
                return error;
            }

            var state = new rmp_state { assigned = 1, immutable = 1, asid = Config.Asid, gpa = gfn.Gpa.Value };
            if (Rmp.RmpUpdate(pfn, state) != RmpUpdateResult.Success || !Rmp.FirmwareLaunchPage(pfn))
            {
                return Errno.EIO;
            }
        }

        return Errno.Ok;
    }

    /// <summary>
    /// The guest's page-state change of [<paramref name="gpa"/>, + <paramref name="size"/>) through MAP_GPA_RANGE:
    /// KVM exits to userspace, which sets the memory attributes and, when converting to shared with
    /// <paramref name="punchHole"/>, punches the private pages out of guest_memfd (QEMU's discard).
    /// </summary>
    public void GuestPageStateChange(gpa_t gpa, ulong size, bool toPrivate, bool punchHole)
    {
        HypercallExits++;
        var error = SetMemoryAttributes(new Interop.Uapi.kvm_memory_attributes
        {
            address = gpa.Value,
            size = size,
            attributes = toPrivate ? (ulong)Interop.Uapi.MemoryAttributes.Private : 0,
        });
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"KVM_SET_MEMORY_ATTRIBUTES({gpa}, 0x{size:x}) failed: {error}.");
        }

        if (!toPrivate && punchHole)
        {
            for (ulong offset = 0; offset < size; offset += PageSize.Size4K)
            {
                var gfn = new gpa_t(gpa.Value + offset).Gfn;
                int slotIndex = Memslots.Find(0, gfn);
                if (slotIndex < 0)
                {
                    continue;
                }

                ref var slot = ref Memslots[slotIndex];
                var file = Gmem.ByFileId(slot.gmem.file);
                ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
                file?.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, index << PageSize.Shift4K, PageSize.Size4K);
            }
        }
    }
}
