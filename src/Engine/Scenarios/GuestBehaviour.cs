using FastRmp.Engine.Guests;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Scenarios;

/// <summary>
/// What Linux and OVMF guests do with their memory, as the scenarios drive a <see cref="Guest"/>: accept a 2 MiB
/// chunk, touch pages, share and unshare a page. Each step must succeed; a failure is a broken scenario and throws.
/// Stateless; the guest it drives is not thread-safe.
/// </summary>
public static class GuestBehaviour
{
    /// <summary>
    /// The guest validates a 2 MiB chunk as Linux and OVMF do: one 2M PVALIDATE, and on FAIL_SIZEMISMATCH a 4K
    /// PVALIDATE of each page (skipping pages that are shared).
    /// </summary>
    public static void ValidateChunk(this Guest guest, ulong gpa)
    {
        ArgumentNullException.ThrowIfNull(guest);
        bool allPrivate = guest.Vm.Attributes.RangeIs(new gfn_t(gpa >> 12), 512, true);
        if (allPrivate && guest.Pvalidate(new gpa_t(gpa), RmpPageSize.Size2M, true).Result != PvalidateResult.FailSizeMismatch)
        {
            return;
        }

        if (allPrivate)
        {
            guest.PvalidateRange(new gpa_t(gpa), 512, true);
            return;
        }

        for (ulong page = gpa; page < gpa + PageSize.Size2M; page += PageSize.Size4K)
        {
            if (guest.Vm.Attributes.IsPrivate(new gpa_t(page).Gfn))
            {
                guest.Pvalidate(new gpa_t(page), RmpPageSize.Size4K, true);
            }
        }
    }

    /// <summary>
    /// The guest reads or writes a page; the access must complete, unless it is the spin of a private page that KVM
    /// maps but nobody made private (<see cref="Guest.SpinsOnHypervisorPage"/>: merged <c>sev_gmem_prepare</c> with
    /// 1 GiB folios): then it is counted as stuck (<see cref="Guest.StuckAccesses"/>, with the reason) and the scenario
    /// goes on, as if other vCPUs made the remaining accesses. A private access that ends in the guest's #VC for a
    /// page it has not validated is counted the same way: the guest cannot use that page either.
    /// </summary>
    /// <exception cref="InvalidOperationException">The access did not complete for any other reason.</exception>
    public static void Touch(this Guest guest, ulong gpa, bool isPrivate, bool write = false)
    {
        ArgumentNullException.ThrowIfNull(guest);
        AccessOutcome outcome;
        try
        {
            outcome = guest.Access(new gpa_t(gpa), isPrivate, write);
        }
        catch (InvalidOperationException) when (guest.SpinsOnHypervisorPage(new gpa_t(gpa), isPrivate, out string? reason))
        {
            guest.CountStuck(reason);
            return;
        }

        if (outcome.Result == AccessResult.NotValidated)
        {
            // The page became private only after the guest's validation of it had failed (merged sev_gmem_prepare
            // left it hypervisor-owned, and a later prepare, e.g. every-get-pfn's after a split, converted it): the
            // access raises #VC 0x404 in the guest, which a Linux guest treats as fatal. It cannot complete either.
            guest.CountStuck($"the private access to gpa 0x{gpa:x} ended in #VC (page not validated): the page became private only after the guest's validation of it had failed");
            return;
        }

        if (outcome.Result != AccessResult.Ok)
        {
            throw new InvalidOperationException($"The guest's {(isPrivate ? "private" : "shared")} access to 0x{gpa:x} ended in {outcome.Result}.");
        }
    }

    /// <summary>The guest touches every page of a 2 MiB chunk with the kind its attributes say.</summary>
    public static void TouchChunk(this Guest guest, ulong gpa, bool write = false)
    {
        ArgumentNullException.ThrowIfNull(guest);
        for (ulong page = gpa; page < gpa + PageSize.Size2M; page += PageSize.Size4K)
        {
            guest.Touch(page, guest.Vm.Attributes.IsPrivate(new gpa_t(page).Gfn), write);
        }
    }

    /// <summary>
    /// The guest makes a private 4K page shared: it rescinds its validation first (a well-behaved guest; Roth,
    /// 2023-08-25), then asks the host with a page-state change; userspace flips the attribute and, if asked,
    /// punches the page out of guest_memfd.
    /// </summary>
    public static void Share(this Guest guest, ulong gpa, bool punchHole)
    {
        ArgumentNullException.ThrowIfNull(guest);
        guest.Pvalidate(new gpa_t(gpa), RmpPageSize.Size4K, false);
        guest.PageStateChange(new gpa_t(gpa), PageSize.Size4K, toPrivate: false, punchHole);
    }

    /// <summary>The guest makes a shared 4K page private again: page-state change, then PVALIDATE.</summary>
    public static void Unshare(this Guest guest, ulong gpa)
    {
        ArgumentNullException.ThrowIfNull(guest);
        guest.PageStateChange(new gpa_t(gpa), PageSize.Size4K, toPrivate: true, punchHole: false);
        guest.Pvalidate(new gpa_t(gpa), RmpPageSize.Size4K, true);
    }
}
