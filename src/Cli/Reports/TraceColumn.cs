using System.Globalization;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Uapi;

namespace FastRmp.Cli.Reports;

/// <summary>One memslot the model of a VM used: its id, address space, guest range and whether guest_memfd backs it.</summary>
/// <param name="Slot">The slot id.</param>
/// <param name="AsId">The address space (1 is SMM).</param>
/// <param name="GpaStart">The first guest physical address.</param>
/// <param name="GpaEnd">The address after the last.</param>
/// <param name="GuestMemfd">True when guest_memfd backs the slot's private memory.</param>
internal sealed record TracedMemslot(int Slot, int AsId, ulong GpaStart, ulong GpaEnd, bool GuestMemfd);

/// <summary>The trace's own column beside the policies' (<see cref="TraceTally"/>), and the memslots the replay used.</summary>
internal static class TraceColumn
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    /// <summary>What the trace shows for a model counter's row, or null when the trace has no such number.</summary>
    public static long? For(CounterInfo counter, TraceTally t)
    {
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentNullException.ThrowIfNull(t);
        return counter.Name switch
        {
            _ when counter == CounterCatalog.FaultsPrivate => t.PrivateFaults,
            _ when counter == CounterCatalog.FaultsShared => t.Faults - t.PrivateFaults,
            _ when counter == CounterCatalog.MemoryFaultExits => t.MemoryFaultExits,
            _ when counter == CounterCatalog.HypercallExits => t.HypercallExits,
            _ when counter == CounterCatalog.RmpNpf => t.RmpFaults,
            _ when counter == CounterCatalog.Npt4K => t.Mapped(1),
            _ when counter == CounterCatalog.Npt2M => t.Mapped(2),
            _ when counter == CounterCatalog.Npt1G => t.Mapped(3),
            _ => null,
        };
    }

    /// <summary>The rows only the trace has: (title, value).</summary>
    public static IReadOnlyList<(string Title, long Value)> Rows(TraceTally t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return
        [
            ("traced faults", t.Faults),
            ("traced faults without an outcome", t.Unresolved),
            ("conversions (attributes, QEMU)", t.Conversions),
            ("launch updates", t.LaunchUpdates),
            ("memslot events", t.MemslotEvents),
        ];
    }

    /// <summary>The memslots of a session's model, address space by address space, in guest address order.</summary>
    public static IReadOnlyList<TracedMemslot> Memslots(ReplaySession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        var slots = session.Host.Vm.Memslots;
        var list = new List<TracedMemslot>();
        for (int asId = 0; asId < 2; asId++)
        {
            foreach (int index in slots.InAddressSpace(asId))
            {
                ref var s = ref slots[index];
                ulong start = s.base_gfn.Value << 12;
                list.Add(new TracedMemslot(s.id, s.as_id, start, start + (s.npages << 12), (s.flags & (uint)MemslotFlags.GuestMemfd) != 0));
            }
        }

        return list;
    }

    /// <summary>A slot as one line, e.g. <c>slot 1: 0x100000000-0x180000000 (2 GiB), guest_memfd</c>.</summary>
    public static string Describe(TracedMemslot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return $"slot {s.Slot}{(s.AsId != 0 ? $" (address space {s.AsId})" : "")}: 0x{s.GpaStart:x}-0x{s.GpaEnd:x} ({Size(s.GpaEnd - s.GpaStart)}){(s.GuestMemfd ? ", guest_memfd" : "")}";
    }

    /// <summary>The per-VM part of the JSON report.</summary>
    public static ReplayVmTraceJson Json(ReplayVm vm, MemslotSource source, TraceTally t, Fidelity fidelity, IReadOnlyList<TracedMemslot> slots)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(fidelity);
        return new ReplayVmTraceJson(
            vm.Process, vm.Name, source.ToString().ToLowerInvariant(),
            new TracedJson(t.Faults, t.PrivateFaults, t.Faults - t.PrivateFaults, t.Unresolved, new TracedLevelsJson(t.Mapped(1), t.Mapped(2), t.Mapped(3), t.Mapped(0)),
                t.MemoryFaultExits, t.HypercallExits, t.RmpFaults, fidelity.TraceRmpRegions, t.Conversions, t.LaunchUpdates, t.MemslotEvents),
            [.. slots.Select(s => new TracedMemslotJson(s.Slot, s.AsId, $"0x{s.GpaStart:x}", $"0x{s.GpaEnd:x}", s.GuestMemfd))]);
    }

    private static string Size(ulong bytes) => bytes switch
    {
        >= 1UL << 30 when bytes % (1UL << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1UL << 20 when bytes % (1UL << 20) == 0 => $"{bytes >> 20} MiB",
        _ => $"{(bytes >> 10).ToString("N0", s_ci)} KiB",
    };
}
