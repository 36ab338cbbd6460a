using System.Collections.Immutable;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Tdx;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Scenarios;

/// <summary>
/// The debate's cases on a TDX host (docs/tdx.md gives the expected counts and their derivations): the SNP scenarios
/// where they mean something for a TD, and TDX's own. All work on the 2 MiB chunk at GPA 2 MiB
/// (<see cref="ScenarioCatalog.Chunk"/>) of a TD whose memory is private guest_memfd; the designs are
/// <see cref="Tdx.TdxDesigns.Names"/>. Stateless: thread-safe.
/// </summary>
public static class TdxScenarioCatalog
{
    /// <summary>Every TDX scenario.</summary>
    public static ImmutableArray<ScenarioDefinition> All { get; } =
    [
        new("share-4k-keep", "the TD shares one 4 KiB page of an accepted 2 MiB chunk (MapGPA); userspace does not PUNCH_HOLE", "Sean Christopherson, 2023-07-21, example 1; tdx_map_gpa (6.16)"),
        new("share-4k-punch", "as share-4k-keep, and userspace punches the shared page out of guest_memfd", "the same, with QEMU's discard"),
        new("memslots-512", "512 memslots, each covering 4 KiB of one 2 MiB guest_memfd chunk, accepted by the TD", "Sean Christopherson, 2023-07-21, example 3"),
        new("psmash-roundtrip", "the chunk accepted, one 4 KiB page shared without a hole punch, then made private and accepted again (TDX: DEMOTE where SNP PSMASHes)", "Michael Roth, 2023-07-22"),
        new("td-boot", "the initial image added and measured (KVM_TDX_INIT_MEM_REGION), the TD finalized, the rest of memory accepted lazily as Linux does, every page touched", "tdx_vcpu_init_mem_region, tdx_accept_memory (6.16)"),
        new("accept-mismatch", "KVM pre-faults the chunk, then the TD accepts only its first 4 KiB page (a guest that accepts at 4 KiB)", "TDX huge-page series RFC v2, open 1-2 (Yan Zhao, 2025-08-07)"),
        new("dpamt-growth", "the TD accepts one 4 KiB page in each 2 MiB chunk of its memory, then gives half of them back to shared with a hole punch", "Dynamic PAMT (tip x86/tdx, 2026-09)"),
    ];

    /// <summary>Runs <paramref name="scenario"/> under <paramref name="design"/> with <paramref name="folio"/> folios; <paramref name="guestBytes"/> sizes td-boot's TD.</summary>
    /// <exception cref="ArgumentException">Not a TDX scenario, or a guest size td-boot cannot use.</exception>
    public static RunResult Run(ScenarioDefinition scenario, Tdx.TdxDesign design, Gmem.FolioSize folio, ulong? guestBytes = null, HostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return Run(scenario.Name, design.Name(), folio.Order, guestBytes, options);
    }

    /// <summary>Runs <paramref name="scenario"/> under the TDX design <paramref name="design"/>; <paramref name="guestBytes"/> sizes td-boot's TD.</summary>
    /// <exception cref="ArgumentException">Unknown scenario or design, or a guest size td-boot cannot use.</exception>
    public static RunResult Run(string scenario, string design, int folioOrder, ulong? guestBytes = null, HostOptions? options = null)
    {
        options = (options ?? new HostOptions()) with { VmType = KvmVmType.Tdx };
        ulong guest = ScenarioCatalog.GuestBytes(folioOrder);
        switch (scenario)
        {
            case "share-4k-keep":
            case "share-4k-punch":
            {
                using var host = Runnable(design, folioOrder, guest, options, out var td);
                AcceptAndTouch(td, ScenarioCatalog.Chunk);
                Check(td.MapGpa(new gpa_t(ScenarioCatalog.SharedPage), PageSize.Size4K, toPrivate: false, punchHole: scenario == "share-4k-punch"), "MapGPA to shared");
                Touch(td, ScenarioCatalog.SharedPage, isPrivate: false);
                TouchChunk(td, ScenarioCatalog.Chunk, skip: ScenarioCatalog.SharedPage);
                return host.Result(scenario);
            }

            case "memslots-512":
            {
                using var host = new Host(design, folioOrder, guestBytes: 0, options with { HostPages = options.HostPages ?? Host.DefaultHostPages(guest) });
                host.CreateGuestMemfd(guest);
                Bind(host, host.Region(0, 0, ScenarioCatalog.Chunk, 0));
                for (uint i = 0; i < 512; i++)
                {
                    ulong gpa = ScenarioCatalog.Chunk + (i * PageSize.Size4K);
                    Bind(host, host.Region(i + 1, gpa, PageSize.Size4K, gpa));
                }

                ulong rest = ScenarioCatalog.Chunk + PageSize.Size2M;
                Bind(host, host.Region(513, rest, guest - rest, rest));
                host.SetPrivate(0, guest, true);
                host.FinalizeTd();
                var td = host.TdxGuest!;
                AcceptAndTouch(td, ScenarioCatalog.Chunk);
                return host.Result(scenario);
            }

            case "psmash-roundtrip":
            {
                using var host = Runnable(design, folioOrder, guest, options, out var td);
                AcceptAndTouch(td, ScenarioCatalog.Chunk);
                Check(td.MapGpa(new gpa_t(ScenarioCatalog.SharedPage), PageSize.Size4K, toPrivate: false), "MapGPA to shared");
                Check(td.MapGpa(new gpa_t(ScenarioCatalog.SharedPage), PageSize.Size4K, toPrivate: true), "MapGPA to private");
                TouchChunk(td, ScenarioCatalog.Chunk);
                return host.Result(scenario);
            }

            case "td-boot":
            {
                guest = guestBytes ?? guest;
                if (guest < ScenarioCatalog.GuestBytes(folioOrder) || guest % (PageSize.Size4K << folioOrder) != 0 || guest > 1UL << 40)
                {
                    throw new ArgumentException($"td-boot needs a TD of 16 MiB to 1 TiB, a multiple of the folio size ({PageSize.Size4K << folioOrder} bytes).", nameof(guestBytes));
                }

                using var host = new Host(design, folioOrder, guest, options);
                host.InitMemRegion(0, ScenarioCatalog.PayloadPages, measure: true);
                host.FinalizeTd();
                var td = host.TdxGuest!;
                ulong start = ScenarioCatalog.PayloadPages * PageSize.Size4K;
                if (!td.Accept(new gpa_t(start), guest - start))
                {
                    throw new InvalidOperationException("The TD could not accept its memory.");
                }

                for (ulong gpa = 0; gpa < guest; gpa += PageSize.Size4K)
                {
                    Touch(td, gpa, isPrivate: true);
                }

                return host.Result(scenario);
            }

            case "accept-mismatch":
            {
                using var host = Runnable(design, folioOrder, guest, options, out var td);
                var range = new kvm_pre_fault_memory { gpa = ScenarioCatalog.Chunk, size = PageSize.Size2M };
                Check(host.Vm.PreFaultMemory(ref range), "KVM_PRE_FAULT_MEMORY");
                if (!td.Accept(new gpa_t(ScenarioCatalog.Chunk), PageSize.Size4K))
                {
                    throw new InvalidOperationException("The TD could not accept its page.");
                }

                Touch(td, ScenarioCatalog.Chunk, isPrivate: true);
                return host.Result(scenario);
            }

            case "dpamt-growth":
            {
                using var host = Runnable(design, folioOrder, guest, options with { DynamicPamt = true }, out var td);
                for (ulong gpa = 0; gpa < guest; gpa += PageSize.Size2M)
                {
                    if (!td.Accept(new gpa_t(gpa), PageSize.Size4K))
                    {
                        throw new InvalidOperationException($"The TD could not accept gpa 0x{gpa:x}.");
                    }
                }

                for (ulong gpa = 0; gpa < guest; gpa += 2 * PageSize.Size2M)
                {
                    Check(td.MapGpa(new gpa_t(gpa), PageSize.Size4K, toPrivate: false, punchHole: true), "MapGPA to shared");
                }

                return host.Result(scenario);
            }

            default:
                throw new ArgumentException($"Unknown TDX scenario '{scenario}' (known: {string.Join(", ", All.Select(s => s.Name))}).", nameof(scenario));
        }
    }

    private static Host Runnable(string design, int folioOrder, ulong guest, HostOptions options, out TdxGuest td)
    {
        var host = new Host(design, folioOrder, guest, options);
        host.FinalizeTd();
        td = host.TdxGuest!;
        return host;
    }

    private static void AcceptAndTouch(TdxGuest td, ulong chunk)
    {
        if (!td.Accept(new gpa_t(chunk), PageSize.Size2M))
        {
            throw new InvalidOperationException($"The TD could not accept the chunk at 0x{chunk:x}.");
        }

        TouchChunk(td, chunk);
    }

    private static void TouchChunk(TdxGuest td, ulong chunk, ulong skip = ulong.MaxValue)
    {
        for (ulong gpa = chunk; gpa < chunk + PageSize.Size2M; gpa += PageSize.Size4K)
        {
            if (gpa != skip)
            {
                Touch(td, gpa, isPrivate: true);
            }
        }
    }

    private static void Touch(TdxGuest td, ulong gpa, bool isPrivate)
    {
        if (!td.Access(new gpa_t(gpa), write: false, isPrivate))
        {
            throw new InvalidOperationException($"The TD's {(isPrivate ? "private" : "shared")} access to 0x{gpa:x} did not complete.");
        }
    }

    private static void Bind(Host host, in kvm_userspace_memory_region2 region) => Check(host.Vm.SetUserMemoryRegion2(region), "KVM_SET_USER_MEMORY_REGION2");

    private static void Check(Errno error, string what)
    {
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"{what} failed: {error}.");
        }
    }
}
