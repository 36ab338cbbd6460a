using System.Collections.Frozen;

namespace FastRmp.Interop.Tracing.Kvm;

/// <summary>One value of a typed event: the tracepoint field name, the keyword its print format puts before it, the radix.</summary>
/// <param name="Field">Field name in the format file (and in <c>trace-cmd report -R</c> text).</param>
/// <param name="Alternates">Other field names used by other kernel generations.</param>
/// <param name="TextKey">Keyword before the value in the print format text ("" = positional, see the parser).</param>
/// <param name="Radix">Radix of the printed value when it has no 0x prefix (16 for %llx, 10 for %d/%u).</param>
/// <param name="Required">False for fields that older kernels lack.</param>
/// <param name="RawRadix">Radix of bare digits in <c>trace-cmd report -R</c> <c>field=value</c> text: libtraceevent prints
/// a field with its print-format conversion, so this is <paramref name="Radix"/> except for fields printed through
/// helpers (<c>__print_symbolic</c>, <c>__print_flags</c>), which -R prints in decimal.</param>
internal sealed record KvmValueSpec(string Field, string[] Alternates, string TextKey, int Radix, bool Required, int RawRadix);

/// <summary>
/// The field lists of the typed kernel events (KVM's, and the two sched events that tell threads' processes apart) and
/// the print-format keywords of each generation.
/// </summary>
/// <remarks>
/// Sources: ../shared/research/traces.md section 1.5 and kernel-domain.md section 6 (arch/x86/kvm/trace.h,
/// mmu/mmutrace.h, include/trace/events/kvm.h, read at 6.18 and checked against the 6.18 and Ubuntu 6.2 format files).
/// Binary records are bound by these field names; offsets always come from the file's own formats.
/// </remarks>
internal static class KvmEventSpecs
{
    private static KvmValueSpec V(string field, string key, int radix, bool required = true, int rawRadix = 0) =>
        new(field, [], key, radix, required, rawRadix == 0 ? radix : rawRadix);

    public static readonly FrozenDictionary<string, (KvmEventKind Kind, KvmValueSpec[] Values)> ByName = new Dictionary<string, (KvmEventKind, KvmValueSpec[])>
    {
        // vcpu %u reason %s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x; older: reason X rip .. info A B
        ["kvm_exit"] = (KvmEventKind.Exit, [V("exit_reason", "", 16, rawRadix: 10), V("guest_rip", "rip", 16), V("isa", "", 10, false), V("info1", "info1", 16, false),
            V("info2", "info2", 16, false), V("intr_info", "intr_info", 16, false), V("error_code", "error_code", 16, false), V("vcpu_id", "vcpu", 10, false)]),
        ["kvm_entry"] = (KvmEventKind.Entry, [V("vcpu_id", "vcpu", 10), V("rip", "rip", 16, false), V("immediate_exit", "", 10, false), V("intr_info", "intr_info", 16, false), V("error_code", "error_code", 16, false)]),
        // >= 6.1: vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx; older: address %lx error_code %x
        ["kvm_page_fault"] = (KvmEventKind.PageFault, [V("vcpu_id", "vcpu", 10, false), V("guest_rip", "rip", 16, false), V("fault_address", "address", 16), V("error_code", "error_code", 16)]),
        ["kvm_mmu_spte_requested"] = (KvmEventKind.SpteRequested, [V("gfn", "gfn", 16), V("pfn", "pfn", 16), V("level", "level", 10)]),
        ["kvm_mmu_set_spte"] = (KvmEventKind.SetSpte, [V("gfn", "gfn", 16), V("spte", "spte", 16), V("sptep", "at", 16), V("level", "level", 10), V("r", "", 10, false), V("x", "", 10, false), V("u", "", 10, false)]),
        ["kvm_tdp_mmu_spte_changed"] = (KvmEventKind.TdpMmuSpteChanged, [V("gfn", "gfn", 16), V("old_spte", "old_spte", 16), V("new_spte", "new_spte", 16), V("level", "level", 10), V("as_id", "id", 10, false)]),
        ["kvm_mmu_split_huge_page"] = (KvmEventKind.SplitHugePage, [V("gfn", "gfn", 16), V("spte", "spte", 16), V("level", "level", 10), V("errno", "errno", 10, false)]),
        ["fast_page_fault"] = (KvmEventKind.FastPageFault, [V("vcpu_id", "vcpu", 10), V("cr2_or_gpa", "gva", 16), V("error_code", "error_code", 16, rawRadix: 10), V("sptep", "sptep", 16, false),
            V("old_spte", "old", 16, false), V("new_spte", "new", 16, false), V("ret", "", 10, false)]),
        ["kvm_userspace_exit"] = (KvmEventKind.UserspaceExit, [V("reason", "", 10), V("errno", "", 10, false)]),
        ["kvm_vm_set_mem_attributes"] = (KvmEventKind.SetMemAttributes, [V("start", "", 16), V("end", "", 16), V("attr", "", 16)]),
        ["kvm_rmp_fault"] = (KvmEventKind.RmpFault, [V("vcpu_id", "vcpu", 10), V("gpa", "gpa", 16), V("pfn", "pfn", 16), V("error_code", "error_code", 16), V("rmp_level", "rmp_level", 10), V("psmash_ret", "psmash_ret", 10)]),
        ["kvm_vmgexit_enter"] = (KvmEventKind.VmgexitEnter, [V("vcpu_id", "vcpu", 10), V("exit_reason", "exit_reason", 16), V("info1", "exit_info1", 16), V("info2", "exit_info2", 16)]),
        ["kvm_vmgexit_exit"] = (KvmEventKind.VmgexitExit, [V("vcpu_id", "vcpu", 10), V("exit_reason", "exit_reason", 16), V("info1", "exit_info1", 16), V("info2", "exit_info2", 16)]),
        ["kvm_vmgexit_msr_protocol_enter"] = (KvmEventKind.VmgexitMsrProtocolEnter, [V("vcpu_id", "vcpu", 10), V("ghcb_gpa", "ghcb_gpa", 16)]),
        ["kvm_hypercall"] = (KvmEventKind.Hypercall, [V("nr", "nr", 16), V("a0", "a0", 16), V("a1", "a1", 16), V("a2", "a2", 16), V("a3", "a3", 16)]),
        ["kvm_unmap_hva_range"] = (KvmEventKind.UnmapHvaRange, [V("start", "", 16), V("end", "", 16)]),

        // include/trace/events/sched.h (6.18 format file): comm=%s pid=%d child_comm=%s child_pid=%d; filename=%s pid=%d old_pid=%d
        ["sched_process_fork"] = (KvmEventKind.ProcessFork, [V("parent_pid", "pid", 10), V("child_pid", "child_pid", 10)]),
        ["sched_process_exec"] = (KvmEventKind.ProcessExec, [V("pid", "pid", 10), V("old_pid", "old_pid", 10, false)]),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>QEMU trace event names (first word of an ftrace:print buffer or a tracing_mark_write line).</summary>
    public static readonly FrozenDictionary<string, KvmEventKind> Qemu = new Dictionary<string, KvmEventKind>
    {
        ["kvm_set_user_memory"] = KvmEventKind.QemuSetUserMemory,
        ["kvm_convert_memory"] = KvmEventKind.QemuConvertMemory,
        ["kvm_memory_fault"] = KvmEventKind.QemuMemoryFault,
        ["kvm_hc_map_gpa_range"] = KvmEventKind.QemuHcMapGpaRange,
        ["kvm_sev_snp_launch_update"] = KvmEventKind.QemuSevSnpLaunchUpdate,
    }.ToFrozenDictionary(StringComparer.Ordinal);
}
