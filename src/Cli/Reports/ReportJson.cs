using System.Text.Json.Serialization;

namespace FastRmp.Cli.Reports;

// The JSON reports' shapes (docs/cli.md, docs/replay.md). Property names come from the context's snake_case policy;
// the serializer is generated at build time (ReportJsonContext), so the Native AOT tool needs no reflection.

/// <summary>One scenario run in <c>--json</c> of <c>fastrmp</c> and <c>fastrmp scenario</c>.</summary>
/// <param name="Scenario">The scenario's name.</param>
/// <param name="Policy">The policy's name.</param>
/// <param name="Folio">The folio size, <c>4k</c>, <c>2m</c> or <c>1g</c>.</param>
/// <param name="Kernel">The kernel whose KVM the model followed (<c>--kernel</c>).</param>
/// <param name="RmpOpt">Whether the host had RMPOPT (<c>--rmpopt</c>, or the teardown-rmpopt scenario); its counters are then in <paramref name="Counters"/>.</param>
/// <param name="Counters">Every counter by name, in catalog order.</param>
internal sealed record ScenarioRunJson(string Scenario, string Policy, string Folio, string Kernel, [property: JsonPropertyName("rmpopt")] bool RmpOpt, OrderedDictionary<string, long> Counters);

/// <summary>The <c>--json</c> report of <c>fastrmp replay</c> and <c>fastrmp compare</c>.</summary>
/// <param name="Trace">The trace and what the replay read of it.</param>
/// <param name="Options">The model's options.</param>
/// <param name="Runs">One entry per VM and policy, VM by VM.</param>
/// <param name="Vms">What the trace shows VM by VM (the trace column of the tables) and the memslots the replay used.</param>
/// <param name="Warnings">What the numbers do not mean for this trace (not an SNP host's trace; traced pfns outside the model's host).</param>
internal sealed record ReplayReportJson(ReplayTraceJson Trace, ReplayOptionsJson Options, IReadOnlyList<ReplayRunJson> Runs, IReadOnlyList<ReplayVmTraceJson> Vms, IReadOnlyList<string> Warnings);

/// <summary>One VM as the trace shows it.</summary>
/// <param name="Process">Its QEMU process (0 when the trace does not say).</param>
/// <param name="Name">That process's name as traced.</param>
/// <param name="MemslotSource">Where the memslots came from: <c>trace</c>, <c>file</c>, <c>inferred</c> or <c>none</c>.</param>
/// <param name="Traced">The trace's counts.</param>
/// <param name="Memslots">The memslots the replay used at the end of the trace.</param>
internal sealed record ReplayVmTraceJson(int Process, string Name, string MemslotSource, TracedJson Traced, IReadOnlyList<TracedMemslotJson> Memslots);

/// <summary>What the trace shows for one VM (<see cref="Engine.Replay.TraceTally"/>).</summary>
/// <param name="Faults">Guest accesses (kvm_page_fault without the RMP bit).</param>
/// <param name="FaultsPrivate">Of those, private ones.</param>
/// <param name="FaultsShared">Of those, shared ones.</param>
/// <param name="FaultsUnresolved">Faults with no traced outcome.</param>
/// <param name="Levels">Faults mapped, by the level of their kvm_mmu_spte_requested.</param>
/// <param name="MemoryFaultExits">Faults that ended in KVM_EXIT_MEMORY_FAULT.</param>
/// <param name="HypercallExits">Hypercall exits to userspace (KVM_HC_MAP_GPA_RANGE).</param>
/// <param name="RmpFaults">kvm_rmp_fault events.</param>
/// <param name="RmpRegions">2 MiB regions with a kvm_rmp_fault.</param>
/// <param name="Conversions">Attribute changes and QEMU conversions.</param>
/// <param name="LaunchUpdates">SNP_LAUNCH_UPDATE ranges.</param>
/// <param name="MemslotEvents">QEMU memslot changes.</param>
internal sealed record TracedJson(long Faults, long FaultsPrivate, long FaultsShared, long FaultsUnresolved, TracedLevelsJson Levels, long MemoryFaultExits, long HypercallExits, long RmpFaults, int RmpRegions, long Conversions, long LaunchUpdates, long MemslotEvents);

/// <summary>Traced mappings by level; <paramref name="Other"/> counts any level other than 4K, 2M and 1G.</summary>
internal sealed record TracedLevelsJson([property: JsonPropertyName("4k")] long Level4K, [property: JsonPropertyName("2m")] long Level2M, [property: JsonPropertyName("1g")] long Level1G, long Other);

/// <summary>A memslot the replay used; addresses are hexadecimal text.</summary>
internal sealed record TracedMemslotJson(int Slot, int AsId, string GpaStart, string GpaEnd, bool GuestMemfd);

/// <summary>The trace part of <see cref="ReplayReportJson"/>.</summary>
internal sealed record ReplayTraceJson(
    string Path,
    string Format,
    string Version,
    long Records,
    long KvmEvents,
    long Faults,
    long RmpBitFaults,
    long SpteRequested,
    long MemoryFaultExits,
    long RmpFaults,
    long MemslotEvents,
    long Conversions,
    long LaunchUpdates,
    long ThreadsWithProcess,
    int Vms,
    ulong FirstTimestampNs,
    ulong LastTimestampNs,
    long LostEvents,
    long DamagedRegions,
    string? Error,
    double ReplaySeconds);

/// <summary>The options part of <see cref="ReplayReportJson"/>.</summary>
/// <param name="Folio">The folio size, <c>4k</c>, <c>2m</c> or <c>1g</c>.</param>
/// <param name="HostBytes">The host's memory in bytes.</param>
/// <param name="VmType">The VM type, <c>snp</c>, <c>sw-protected</c> or <c>tdx</c>.</param>
/// <param name="Kernel">The kernel whose KVM the model followed (<c>--kernel</c>).</param>
/// <param name="RmpOpt">Whether the model's host had RMPOPT (<c>--rmpopt</c>).</param>
internal sealed record ReplayOptionsJson(string Folio, ulong HostBytes, string VmType, string Kernel, [property: JsonPropertyName("rmpopt")] bool RmpOpt);

/// <summary>One VM under one policy in <see cref="ReplayReportJson.Runs"/>.</summary>
internal sealed record ReplayRunJson(
    string Policy,
    string Kernel,
    ReplayVmJson Vm,
    string MemslotSource,
    OrderedDictionary<string, long> Counters,
    FidelityJson Fidelity,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FirstRefusal,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? InvariantViolation);

/// <summary>The VM of a run: its QEMU process (0 when unknown) and that process's name as traced.</summary>
internal sealed record ReplayVmJson(int Process, string Name);

/// <summary>A run's agreement with the traced kernel (<see cref="Engine.Replay.Fidelity"/>).</summary>
/// <param name="AgreementRate">Agreed / compared, or null when nothing was compared.</param>
/// <param name="LevelsCompared">Faults whose traced level was compared (stuck accesses the trace mapped included).</param>
/// <param name="LevelsAgreed">Of those, the ones with the same level.</param>
/// <param name="ExitsCompared">Faults whose traced outcome was compared (stuck accesses included).</param>
/// <param name="ExitsAgreed">Of those, the ones with the same outcome.</param>
/// <param name="StuckCompared">Accesses with a traced outcome that the model could not complete: compared, never agreed.</param>
/// <param name="TraceRmpRegions">2 MiB regions with a traced RMP fault.</param>
/// <param name="ModelRmpRegions">2 MiB regions where the model took an #NPF(RMP).</param>
/// <param name="CommonRmpRegions">Regions in both.</param>
/// <param name="Disagreements">Every disagreement.</param>
/// <param name="First">The first disagreements in trace order.</param>
internal sealed record FidelityJson(
    double? AgreementRate,
    long LevelsCompared,
    long LevelsAgreed,
    long ExitsCompared,
    long ExitsAgreed,
    long StuckCompared,
    int TraceRmpRegions,
    int ModelRmpRegions,
    int CommonRmpRegions,
    long Disagreements,
    IReadOnlyList<DisagreementJson> First);

/// <summary>One disagreement with the trace; <paramref name="Gpa"/> is hexadecimal text, e.g. <c>0x19ec9000</c>.</summary>
/// <param name="TimestampNs">The traced event's time.</param>
/// <param name="What">The category: <c>level</c>, <c>exit</c> or <c>rmp-region</c>.</param>
/// <param name="Gpa">The guest physical address.</param>
/// <param name="Trace">What the trace shows.</param>
/// <param name="Model">What the model did.</param>
/// <param name="Cpu">The CPU of the traced event (-1 when not known).</param>
/// <param name="Pid">The thread of the traced event (the vCPU thread for faults).</param>
/// <param name="Why">The model's reason, as far as it can say.</param>
internal sealed record DisagreementJson(ulong TimestampNs, string What, string Gpa, string Trace, string Model, int Cpu, int Pid, string Why);

/// <summary>One entry of <c>fastrmp counters --json</c> (<see cref="Engine.Metrics.CounterInfo"/>).</summary>
/// <param name="Name">The counter's name in results.</param>
/// <param name="Title">Its short title.</param>
/// <param name="Unit">Its unit, plural.</param>
/// <param name="Description">What it counts.</param>
/// <param name="Source">Where the kernel or hardware counts it, or <c>model: ...</c>.</param>
/// <param name="Set"><c>model</c> (every result) or <c>replay</c> (replay and compare only).</param>
internal sealed record CounterJson(string Name, string Title, string Unit, string Description, string Source, string Set);

/// <summary><c>fastrmp layouts --json</c>: the kernel asked for (or <c>all</c>) and every mirrored struct.</summary>
internal sealed record LayoutsJson(string Kernel, IReadOnlyList<LayoutStructJson> Structs);

/// <summary>One mirrored struct: its C name, the mirror's name (the generation), size, alignment and source.</summary>
internal sealed record LayoutStructJson(string Name, string Mirror, int Size, int Align, string Source, IReadOnlyList<LayoutFieldJson> Fields, IReadOnlyList<LayoutBitfieldJson> Bitfields);

/// <summary>One field of a mirrored struct.</summary>
internal sealed record LayoutFieldJson(string Name, int Offset, int Size, string Type);

/// <summary>One bitfield of a mirrored struct.</summary>
internal sealed record LayoutBitfieldJson(string Name, int BitOffset, int BitWidth);

/// <summary>
/// The serializers of the JSON reports, generated at build time: indented, snake_case names, fields in declaration
/// order, null written where a record does not say otherwise.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<ScenarioRunJson>))]
[JsonSerializable(typeof(ReplayReportJson))]
[JsonSerializable(typeof(IReadOnlyList<CounterJson>))]
[JsonSerializable(typeof(LayoutsJson))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
