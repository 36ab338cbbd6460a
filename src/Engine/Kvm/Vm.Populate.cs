using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>
    /// Models <c>kvm_gmem_populate</c> with SNP's callback (<c>sev_gmem_post_populate</c> for SNP_LAUNCH_UPDATE;
    /// kernel-domain.md 4.6): each gfn must be private (EINVAL otherwise); its page is made private and immutable in
    /// the RMP, and the firmware then measures it and leaves it validated for the guest. The payload is copied into the
    /// page before that (a host write; with an RMPOPT summary it is counted, docs/rmpopt.md).
    /// </summary>
    public Errno Populate(gfn_t start, ulong npages)
    {
        ThrowIfDisposed();
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

            if (!Config.Kernel.PrepareTracking && Rmp.Read(pfn).assigned)
            {
                // 7.0 on, guest_memfd no longer refuses an up-to-date folio, so sev_gmem_post_populate's own lookup of
                // each page (EEXIST when assigned) is what stops a second SNP_LAUNCH_UPDATE of a page.
                return Errno.EEXIST;
            }

            // sev_gmem_post_populate copies the payload page in before it makes the page private: a host write.
            Gmem.RmpOpt?.HostWrite(pfn, 1);
            var state = new rmp_state { assigned = 1, immutable = 1, asid = Config.Asid, gpa = gfn.Gpa.Value };
            if (Rmp.RmpUpdate(pfn, state) != RmpUpdateResult.Success || !Rmp.FirmwareLaunchPage(pfn))
            {
                return Errno.EIO;
            }
        }

        return Errno.Ok;
    }

    /// <summary>
    /// Userspace's <c>fallocate(PUNCH_HOLE | KEEP_SIZE)</c> of the guest_memfd pages that back
    /// [<paramref name="gpa"/>, + <paramref name="size"/>) (QEMU's discard after a conversion to shared): one punch per
    /// guest_memfd slot the range meets; nothing where no such slot covers it.
    /// </summary>
    public void PunchGuestMemfd(gpa_t gpa, ulong size)
    {
        ThrowIfDisposed();
        ulong g = gpa.Gfn.Value;
        ulong end = g + (size >> PageSize.Shift4K);
        for (int slotIndex; g < end && (slotIndex = NextGmemSlot(g, end)) >= 0;)
        {
            ref var slot = ref Memslots[slotIndex];
            g = Math.Max(g, slot.base_gfn.Value);
            ulong stop = Math.Min(end, slot.base_gfn.Value + slot.npages);
            ulong index = g - slot.base_gfn.Value + slot.gmem.pgoff;
            Gmem.ByFileId(slot.gmem.file)!.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, index << PageSize.Shift4K, (stop - g) << PageSize.Shift4K);
            g = stop;
        }
    }
}
