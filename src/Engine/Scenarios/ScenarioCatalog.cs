using System.Collections.Immutable;
using FastRmp.Engine.Hosting;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Scenarios;

/// <summary>A built-in, deterministic workload.</summary>
/// <param name="Name">The scenario's name.</param>
/// <param name="Description">What it does, in one line.</param>
/// <param name="Source">Where the case comes from (the 2023 thread, peers.md 1.1).</param>
public sealed record ScenarioDefinition(string Name, string Description, string Source);

/// <summary>
/// The seed debate's cases as runnable scenarios (docs/policies.md gives the expected counts and their reasoning).
/// All work on the 2 MiB chunk at GPA 2 MiB of a guest whose memory is private guest_memfd.
/// Stateless: thread-safe (each run builds its own host).
/// </summary>
/// <remarks>
/// A guest access that can never complete (merged <c>sev_gmem_prepare</c> with 1 GiB folios leaves most of the folio
/// hypervisor-owned, and the access spins on #NPF(RMP)) does not end the run: the guest's behaviour counts it in
/// <c>stuck_accesses</c> (a counter of every host's result), the result's
/// <see cref="RunResult.StuckReason"/> says why the first one stuck, and the scenario goes on.
/// </remarks>
public static class ScenarioCatalog
{
    /// <summary>GPA of the chunk the scenarios work on.</summary>
    public const ulong Chunk = 0x20_0000;

    /// <summary>The page the guest shares.</summary>
    public const ulong SharedPage = Chunk + 0x5000;

    /// <summary>Every scenario.</summary>
    public static ImmutableArray<ScenarioDefinition> All { get; } =
    [
        new("share-4k-keep", "the guest shares one 4 KiB page of a validated 2 MiB chunk; userspace does not PUNCH_HOLE", "Sean Christopherson, 2023-07-21, example 1"),
        new("share-4k-punch", "as share-4k-keep, and userspace punches the shared page out of guest_memfd", "the same, with QEMU's discard"),
        new("dirty-log", "dirty logging starts on the guest_memfd slot (what-if) while the chunk is mapped, then the guest writes every page", "Sean Christopherson, 2023-07-21, example 2"),
        new("memslots-512", "512 memslots, each covering 4 KiB of one 2 MiB guest_memfd chunk", "Sean Christopherson, 2023-07-21, example 3"),
        new("psmash-roundtrip", "2 MiB chunk validated at 2 MiB, one 4 KiB page shared without a hole punch, then made private again", "Michael Roth, 2023-07-22"),
        new("snp-boot", "launch payload through populate, a misaligned early shared->private conversion, acceptance of all memory, every page touched", "Michael Roth, 2023-08-29; SNP launch flow"),
        new("share-busy", "as psmash-roundtrip, but userspace still holds the shared page (a DMA) when the guest makes it private again: in place the conversion fails with EAGAIN until the reference is dropped", "guest_memfd in-place conversion v7 (kvm-x86 2026, dcde2f853ff4)"),
        new("init-shared", "guest memory starts shared (INIT_SHARED where the kernel allows it), the guest uses the chunk shared, then converts it to private page by page", "GUEST_MEMFD_FLAG_INIT_SHARED (6.18, 44c6cb9fe988); in-place conversion (kvm-x86 2026)"),
        new("teardown-rmpopt", "RMPOPT on: a 2 GiB guest takes the first GiB of host memory and part of the second, then is torn down and the regions are re-optimised", "RMPOPT series, Ashish Kalra, v10 2026-06-30 (docs/rmpopt.md)"),
    ];

    /// <summary>The guest of the teardown-rmpopt scenario: 2 GiB (a whole number of folios of every size).</summary>
    public const ulong TeardownGuestBytes = 2UL << 30;

    /// <summary>Pages of the launch payload the snp-boot scenario populates at GPA 0 (one 2 MiB chunk).</summary>
    public const ulong PayloadPages = 512;

    /// <summary>The early shared range OVMF converts back to private only in part (snp-boot).</summary>
    public const ulong EarlySharedBytes = 0x1_0000;

    /// <summary>The guest size a scenario uses for a folio order: 16 MiB, or one folio when folios are larger.</summary>
    public static ulong GuestBytes(int folioOrder) => Math.Max(16UL << 20, PageSize.Size4K << folioOrder);

    /// <summary>The scenario called <paramref name="name"/>, if any.</summary>
    public static bool TryGet(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ScenarioDefinition? scenario)
    {
        scenario = All.FirstOrDefault(s => s.Name == name);
        return scenario is not null;
    }

    /// <summary>The scenario called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No scenario has that name.</exception>
    public static ScenarioDefinition Get(string name)
        => TryGet(name, out var scenario) ? scenario : throw new ArgumentException($"Unknown scenario '{name}'; the scenarios are {string.Join(", ", All.Select(s => s.Name))}.", nameof(name));

    /// <summary>Runs <paramref name="scenario"/> under <paramref name="policy"/> with <paramref name="folio"/> folios; <paramref name="guestBytes"/> sizes snp-boot's guest.</summary>
    /// <exception cref="ArgumentException">A guest size snp-boot cannot use.</exception>
    public static RunResult Run(ScenarioDefinition scenario, Policies.PolicyKind policy, Gmem.FolioSize folio, ulong? guestBytes = null, HostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return Run(scenario.Name, Policies.PolicyCatalog.Name(policy), folio.Order, guestBytes, options);
    }

    /// <summary>Runs a scenario under a policy and folio order; <paramref name="guestBytes"/> sizes snp-boot's guest.</summary>
    /// <exception cref="ArgumentException">Unknown scenario or policy name, or a guest size snp-boot cannot use.</exception>
    public static RunResult Run(string scenario, string policy, int folioOrder, ulong? guestBytes = null)
        => Run(scenario, policy, folioOrder, guestBytes, options: null);

    /// <summary>Runs a scenario as <see cref="Run(string, string, int, ulong?)"/> does, on a host built with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">Unknown scenario or policy name, or a guest size snp-boot cannot use.</exception>
    public static RunResult Run(string scenario, string policy, int folioOrder, ulong? guestBytes, HostOptions? options)
    {
        ulong guest = GuestBytes(folioOrder);
        switch (scenario)
        {
            case "snp-boot":
            {
                guest = guestBytes ?? guest;
                if (guest < GuestBytes(folioOrder) || guest % (PageSize.Size4K << folioOrder) != 0 || guest > 1UL << 40)
                {
                    throw new ArgumentException($"snp-boot needs a guest of 16 MiB to 1 TiB, a multiple of the folio size ({PageSize.Size4K << folioOrder} bytes).", nameof(guestBytes));
                }

                using var host = new Host(policy, folioOrder, guest, options);
                SnpBoot(host, guest);
                return host.Result(scenario);
            }

            case "share-4k-keep":
            case "share-4k-punch":
            {
                using var host = new Host(policy, folioOrder, guest, options);
                ValidateAndTouch(host);
                host.Guest.Share(SharedPage, punchHole: scenario == "share-4k-punch");
                host.Guest.Touch(SharedPage, isPrivate: false);
                host.Guest.TouchChunk(Chunk);
                return host.Result(scenario);
            }

            case "dirty-log":
            {
                using var host = new Host(policy, folioOrder, guest, (options ?? new HostOptions()) with { AllowDirtyLoggingOnGmem = true });
                ValidateAndTouch(host);
                var error = host.Vm.SetUserMemoryRegion2(host.Region(0, 0, guest, 0, MemslotFlags.LogDirtyPages));
                if (error != Errno.Ok)
                {
                    throw new InvalidOperationException($"Enabling dirty logging failed: {error}.");
                }

                host.Guest.TouchChunk(Chunk, write: true);
                return host.Result(scenario);
            }

            case "memslots-512":
            {
                using var host = new Host(policy, folioOrder, guestBytes: 0, (options ?? new HostOptions()) with { HostPages = options?.HostPages ?? Host.DefaultHostPages(guest) });
                host.CreateGuestMemfd(guest);
                Bind(host, host.Region(0, 0, Chunk, 0));
                for (uint i = 0; i < 512; i++)
                {
                    ulong gpa = Chunk + (i * PageSize.Size4K);
                    Bind(host, host.Region(i + 1, gpa, PageSize.Size4K, gpa));
                }

                Bind(host, host.Region(513, Chunk + PageSize.Size2M, guest - Chunk - PageSize.Size2M, Chunk + PageSize.Size2M));
                host.SetPrivate(0, guest, true);
                ValidateAndTouch(host);
                return host.Result(scenario);
            }

            case "psmash-roundtrip":
            {
                using var host = new Host(policy, folioOrder, guest, options);
                ValidateAndTouch(host);
                host.Guest.Share(SharedPage, punchHole: false);
                host.Guest.Unshare(SharedPage);
                host.Guest.TouchChunk(Chunk);
                return host.Result(scenario);
            }

            case "share-busy":
            {
                using var host = new Host(policy, folioOrder, guest, options);
                ValidateAndTouch(host);
                host.Guest.Share(SharedPage, punchHole: false);
                host.Guest.Touch(SharedPage, isPrivate: false);
                ShareBusy(host);
                host.Guest.TouchChunk(Chunk);
                return host.Result(scenario);
            }

            case "init-shared":
            {
                using var host = new Host(policy, folioOrder, guestBytes: 0, (options ?? new HostOptions()) with { HostPages = options?.HostPages ?? Host.DefaultHostPages(guest) });
                InitShared(host, guest);
                return host.Result(scenario);
            }

            case "teardown-rmpopt":
            {
                using var host = new Host(policy, folioOrder, TeardownGuestBytes, (options ?? new HostOptions()) with { RmpOpt = true });
                TeardownRmpOpt(host);
                return host.Result(scenario);
            }

            default:
                throw new ArgumentException($"Unknown scenario '{scenario}'; the scenarios are {string.Join(", ", All.Select(s => s.Name))}.", nameof(scenario));
        }
    }

    /// <summary>
    /// SNP_LAUNCH_UPDATE of the payload chunk (pre-validated by the firmware); OVMF's early shared range
    /// [chunk, chunk + 64 KiB) converted back to private only up to 32 KiB, so the chunk stays mixed (Roth,
    /// 2023-08-29); acceptance of every other chunk (2M PVALIDATE, 4K fallback); then the guest uses its memory.
    /// </summary>
    internal static void SnpBoot(Host host, ulong guest)
    {
        if (host.Vm.Populate(new gfn_t(0), PayloadPages) != Errno.Ok)
        {
            // alloc-blind with large folios: the folio was made private (2M) when populate allocated it, so the
            // launch's 4K RMPUPDATE overlaps it (Roth's objection to preparing before the payload is in). The guest
            // then validates the payload chunk itself.
            host.LaunchFailures++;
            host.Guest.ValidateChunk(0);
        }

        host.Guest.PageStateChange(new gpa_t(Chunk), EarlySharedBytes, toPrivate: false, punchHole: false);
        host.Guest.PageStateChange(new gpa_t(Chunk), EarlySharedBytes / 2, toPrivate: true, punchHole: false);
        for (ulong chunk = PageSize.Size2M; chunk < guest; chunk += PageSize.Size2M)
        {
            host.Guest.ValidateChunk(chunk);
        }

        // Steady state: the guest uses all its memory. The payload and the mixed chunk are used page by page; every
        // other chunk is already mapped whole (2M) or page by page (by its 4K PVALIDATEs), so one access each shows it.
        host.Guest.TouchChunk(0);
        host.Guest.TouchChunk(Chunk);
        for (ulong chunk = 2 * PageSize.Size2M; chunk < guest; chunk += PageSize.Size2M)
        {
            host.Guest.Touch(chunk, isPrivate: true);
        }
    }

    /// <summary>
    /// The VMM takes a reference on the shared page (QEMU's virtio DMA; with in-place conversion a GUP pin of the
    /// guest_memfd page it mapped, otherwise of its own memory, which no conversion checks), then the guest makes the
    /// page private again. In place, KVM_SET_MEMORY_ATTRIBUTES2 fails with EAGAIN naming the page
    /// (<c>kvm_gmem_has_outstanding_references</c>); the VMM retries once the DMA is done and the reference dropped.
    /// </summary>
    private static void ShareBusy(Host host)
    {
        var gpa = new gpa_t(SharedPage);
        var file = host.Vm.Gmem.Get(host.Fd) ?? throw new InvalidOperationException("The guest's guest_memfd is gone.");
        ulong index = gpa.Gfn.Value; // the guest's memory is bound at GPA 0, offset 0
        bool pinned = file.TracksAttributes && file.Pin(index) == Errno.Ok;
        var error = host.Guest.TryPageStateChange(gpa, PageSize.Size4K, toPrivate: true, punchHole: false, out var busy);
        if (error == Errno.EAGAIN && pinned && busy == gpa)
        {
            file.Unpin(index);
            error = host.Guest.TryPageStateChange(gpa, PageSize.Size4K, toPrivate: true, punchHole: false, out _);
        }

        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"Making {gpa} private again failed: {error}.");
        }

        host.Guest.Pvalidate(gpa, RmpPageSize.Size4K, true);
    }

    /// <summary>
    /// A guest whose memory starts shared: a guest_memfd created with INIT_SHARED (and MMAP) where the kernel accepts
    /// it for an SNP VM (in-place conversion), else a plain one whose gfns are left shared by attribute. The guest
    /// uses the chunk shared, then converts it page by page (a page-state change, then PVALIDATE, per 4 KiB) and uses
    /// it private.
    /// </summary>
    internal static void InitShared(Host host, ulong guest)
    {
        var shared = GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared;
        var kvm = host.Vm.Gmem.SupportedFlags;
        bool initShared = (kvm & shared) == shared;
        var error = host.Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = guest, flags = initShared ? (ulong)shared : 0 }, out int fd);
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"KVM_CREATE_GUEST_MEMFD failed: {error}.");
        }

        host.Fd = fd;
        Bind(host, host.Region(0, 0, guest, 0));
        host.Guest.TouchChunk(Chunk);
        for (ulong page = Chunk; page < Chunk + PageSize.Size2M; page += PageSize.Size4K)
        {
            host.Guest.PageStateChange(new gpa_t(page), PageSize.Size4K, toPrivate: true, punchHole: false);
            host.Guest.Pvalidate(new gpa_t(page), RmpPageSize.Size4K, true);
        }

        host.Guest.TouchChunk(Chunk);
    }

    /// <summary>
    /// The teardown-rmpopt scenario on a host with RMPOPT: SNP_LAUNCH_UPDATE of the payload chunk at GPA 0 (as
    /// snp-boot), acceptance of every other chunk below 1 GiB, then of the chunk at 1 GiB, then the guest's teardown
    /// and the RMPOPT pass after it. Folios are allocated in address order from pfn 0, so the guest's memory fills
    /// host region 0 and starts region 1; regions 2 and above never hold an assigned page (docs/rmpopt.md derives the
    /// counts).
    /// </summary>
    internal static void TeardownRmpOpt(Host host)
    {
        if (host.Vm.Populate(new gfn_t(0), PayloadPages) != Errno.Ok)
        {
            host.LaunchFailures++; // as in snp-boot: the guest validates the payload chunk itself
            host.Guest.ValidateChunk(0);
        }

        for (ulong chunk = PageSize.Size2M; chunk <= 1UL << 30; chunk += PageSize.Size2M)
        {
            host.Guest.ValidateChunk(chunk);
        }

        host.TeardownGuest();
    }

    private static void ValidateAndTouch(Host host)
    {
        host.Guest.ValidateChunk(Chunk);
        host.Guest.TouchChunk(Chunk);
    }

    private static void Bind(Host host, kvm_userspace_memory_region2 region)
    {
        var error = host.Vm.SetUserMemoryRegion2(region);
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"Binding slot {region.slot} failed: {error}.");
        }
    }
}
