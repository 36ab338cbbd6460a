using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace FastRmp.Fuzz;

/// <summary>
/// The <c>replayops</c> target's input language: each op is an opcode byte and its operands, turned into one tracefs
/// line of the events the replay models (QEMU's memslots, conversions and launch updates, KVM's exits, faults, leaves,
/// attribute changes, userspace exits and unmaps). Byte mutations then change event kinds and values directly,
/// instead of having to keep text well-formed: hostile pfns, gfns, sizes, levels and orders reach the model at once.
/// </summary>
public static class ReplayOps
{
    private static readonly ulong[] s_values =
    [
        0, 1, 0x1000, 0x1ff, 0x200, 0x200000, 0x3ff00000, 0x40000000, 0x80000000, 0xfffff000, 0x100000000, 0x100000,
        0xfffffffff000, 0xffffffffffff000, 0xfffffffffffff000, 0xffffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff,
    ];

    /// <summary>
    /// The most ops one input stands for. The replay's work is proportional to the pages a trace touches (a 1 GiB
    /// launch update populates 262,144 pages, ~25 ms), as the kernel's is: a cap keeps a legitimate but long trace from
    /// reading as a hang under the 10 s bound.
    /// </summary>
    public const int MaxOps = 128;

    /// <summary>The trace text the op bytes stand for; <paramref name="lines"/> is how many event lines it has.</summary>
    public static string ToText(ReadOnlySpan<byte> ops, out int lines)
    {
        var sb = new StringBuilder("# tracer: nop\n");
        int at = 0;
        lines = 0;
        ulong ts = 1_000_000;
        while (at < ops.Length && lines < MaxOps)
        {
            byte op = ops[at++];
            string t = $"{ts / 1_000_000}.{ts % 1_000_000:D6}";
            ts += 1 + (ulong)(op & 3);
            string qemu = $" qemu-system-x86-7000 [000] ..... {t}: tracing_mark_write: ";
            string vcpu = $"       CPU 0/KVM-7001 [001] ..... {t}: ";
            switch (op % 11)
            {
                case 0:
                    sb.Append(qemu).Append(CultureInfo.InvariantCulture, $"kvm_set_user_memory AddrSpace#{Small(ops, ref at) & 1} Slot#{Small(ops, ref at)} flags=0x{Small(ops, ref at) & 7:x} gpa=0x{Value(ops, ref at):x} size=0x{Value(ops, ref at):x} ua=0x7f0000000000 guest_memfd={(int)(Small(ops, ref at) % 40) - 1} guest_memfd_offset=0x{Value(ops, ref at):x} ret={-(int)(Small(ops, ref at) & 1)}");
                    break;
                case 1:
                    sb.Append(qemu).Append(CultureInfo.InvariantCulture, $"kvm_convert_memory start 0x{Value(ops, ref at):x} size 0x{Value(ops, ref at):x} {((Small(ops, ref at) & 1) == 0 ? "to_private" : "to_shared")}");
                    break;
                case 2:
                    sb.Append(qemu).Append(CultureInfo.InvariantCulture, $"kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x{Value(ops, ref at):x} len 0x{Value(ops, ref at):x} (Normal page)");
                    break;
                case 3:
                    sb.Append(vcpu).Append(CultureInfo.InvariantCulture, $"kvm_page_fault: vcpu 0 rip 0x0 address 0x{Value(ops, ref at):x} error_code 0x{ErrorCode(ops, ref at):x}");
                    break;
                case 4:
                    sb.Append(vcpu).Append(CultureInfo.InvariantCulture, $"kvm_mmu_spte_requested: gfn {Value(ops, ref at):x} pfn {Value(ops, ref at):x} level {Small(ops, ref at) % 6}");
                    break;
                case 5:
                    sb.Append(vcpu).Append(CultureInfo.InvariantCulture, $"kvm_vm_set_mem_attributes: 0x{Value(ops, ref at):x} -- 0x{Value(ops, ref at):x} [0x{(Small(ops, ref at) & 1) << 3:x}]");
                    break;
                case 6:
                    sb.Append(vcpu).Append("kvm_userspace_exit: reason KVM_EXIT_MEMORY_FAULT (39)");
                    break;
                case 7:
                    sb.Append(vcpu).Append(CultureInfo.InvariantCulture, $"kvm_exit: vcpu 0 reason NPF rip 0x0 info1 0x{ErrorCode(ops, ref at):x} info2 0x{Value(ops, ref at):x} intr_info 0x00000000 error_code 0x00000000");
                    break;
                case 8:
                    sb.Append(vcpu).Append("kvm_entry: vcpu 0, rip 0x0");
                    break;
                case 9:
                    sb.Append(vcpu).Append(CultureInfo.InvariantCulture, $"kvm_unmap_hva_range: mmu notifier unmap range: 0x{0x7f0000000000 + Value(ops, ref at):x} -- 0x{0x7f0000000000 + Value(ops, ref at):x}");
                    break;
                default:
                    sb.Append(qemu).Append(CultureInfo.InvariantCulture, $"kvm_memory_fault gpa 0x{Value(ops, ref at):x} size 0x{Value(ops, ref at):x} is_private {Small(ops, ref at) & 1}");
                    break;
            }

            sb.Append('\n');
            lines++;
        }

        return sb.ToString();
    }

    /// <summary>Seeds: an SNP guest's start (memslot, attributes, launch update) and faults of each kind.</summary>
    public static IReadOnlyList<byte[]> Seeds() =>
    [
        // memslot 1 GiB at 0 on fd 30; launch update of 2 MiB; private fault + its 4K leaf; shared fault, memory-fault
        // exit, conversion to private, the fault again
        [0, 0, 0, 4, 0xC0, 0xC7, 31, 0xC0, 0, 2, 0xC0, 0xC5, 3, 1, 0, 3, 4, 0xC1, 0x10, 0x01, 1, 3, 2, 0, 2, 6,
         1, 2, 0, 0xC2, 0, 3, 2, 0, 3],
        // without memslot events (slots inferred): an NPF exit, a private fault and its 2M leaf, an unmap of the range,
        // a shared fault, an entry
        [7, 1, 0xC5, 3, 0xC5, 3, 4, 0xC4, 0, 0x02, 2, 9, 0xC5, 0, 0x04, 3, 0x10, 0, 2, 8],
    ];

    private static byte Small(ReadOnlySpan<byte> ops, ref int at) => at < ops.Length ? ops[at++] : (byte)0;

    /// <summary>An operand: 0x00-0xbf a small page-aligned value, 0xc0-0xcf a value of the table, 0xd0+ a raw little-endian u64.</summary>
    private static ulong Value(ReadOnlySpan<byte> ops, ref int at)
    {
        byte kind = Small(ops, ref at);
        if (kind < 0xC0)
        {
            return ((ulong)kind << 12) | ((ulong)Small(ops, ref at) << 20);
        }

        if (kind < 0xD0)
        {
            return s_values[(kind - 0xC0) % s_values.Length];
        }

        if (at + 8 > ops.Length)
        {
            at = ops.Length;
            return ulong.MaxValue;
        }

        ulong raw = BinaryPrimitives.ReadUInt64LittleEndian(ops[at..]);
        at += 8;
        return raw;
    }

    private static ulong ErrorCode(ReadOnlySpan<byte> ops, ref int at)
    {
        byte bits = Small(ops, ref at);
        return ((bits & 1) != 0 ? 1UL << 34 : 0) | ((bits & 2) != 0 ? 2UL : 0) | ((bits & 4) != 0 ? 1UL << 32 : 0) | 4 | ((bits & 8) != 0 ? 1UL << 33 : 0);
    }
}
