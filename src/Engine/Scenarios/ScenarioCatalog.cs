using System.Collections.Immutable;
using FastRmp.Interop;
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
/// </summary>
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
    ];

    /// <summary>The guest size a scenario uses for a folio order: 16 MiB, or one folio when folios are larger.</summary>
    public static ulong GuestBytes(int folioOrder) => Math.Max(16UL << 20, PageSize.Size4K << folioOrder);

    /// <summary>Runs a scenario under a policy and folio order.</summary>
    /// <exception cref="ArgumentException">Unknown scenario or policy name.</exception>
    public static ScenarioResult Run(string scenario, string policy, int folioOrder)
    {
        ulong guest = GuestBytes(folioOrder);
        switch (scenario)
        {
            case "share-4k-keep":
            case "share-4k-punch":
            {
                using var host = new ScenarioHost(policy, folioOrder, guest);
                ValidateAndTouch(host);
                host.Share(SharedPage, punchHole: scenario == "share-4k-punch");
                host.Touch(SharedPage, isPrivate: false);
                host.TouchChunk(Chunk);
                return host.Result(scenario);
            }

            case "dirty-log":
            {
                using var host = new ScenarioHost(policy, folioOrder, guest, allowDirtyLoggingOnGmem: true);
                ValidateAndTouch(host);
                var error = host.Vm.SetUserMemoryRegion2(host.Region(0, 0, guest, 0, MemslotFlags.LogDirtyPages));
                if (error != Kvm.Errno.Ok)
                {
                    throw new InvalidOperationException($"Enabling dirty logging failed: {error}.");
                }

                host.TouchChunk(Chunk, write: true);
                return host.Result(scenario);
            }

            case "memslots-512":
            {
                using var host = new ScenarioHost(policy, folioOrder, guest, bindMemory: false);
                host.CreateMemory();
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
                using var host = new ScenarioHost(policy, folioOrder, guest);
                ValidateAndTouch(host);
                host.Share(SharedPage, punchHole: false);
                host.Unshare(SharedPage);
                host.TouchChunk(Chunk);
                return host.Result(scenario);
            }

            default:
                throw new ArgumentException($"Unknown scenario '{scenario}'; the scenarios are {string.Join(", ", All.Select(s => s.Name))}.", nameof(scenario));
        }
    }

    private static void ValidateAndTouch(ScenarioHost host)
    {
        host.ValidateChunk(Chunk);
        host.TouchChunk(Chunk);
    }

    private static void Bind(ScenarioHost host, kvm_userspace_memory_region2 region)
    {
        var error = host.Vm.SetUserMemoryRegion2(region);
        if (error != Kvm.Errno.Ok)
        {
            throw new InvalidOperationException($"Binding slot {region.slot} failed: {error}.");
        }
    }
}
