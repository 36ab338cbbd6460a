namespace FastRmp.Interop.Tracing.Kvm;

/// <content>Typed kernel tracepoints.</content>
public sealed partial class KvmEventDecoder
{
    /// <summary>Decodes kvm:kvm_page_fault (either generation).</summary>
    public bool TryRead(in TraceRecord record, out KvmPageFault value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.PageFault, v, out uint p) || (p & 0b1100) != 0b1100)
        {
            value = default;
            return false;
        }

        value = new KvmPageFault((uint)v[0], v[1], v[2], v[3], (p & 1) != 0);
        return true;
    }

    /// <summary>Decodes kvm:kvm_exit. From text, old <c>info A B</c> lines fill Info1/Info2.</summary>
    public bool TryRead(in TraceRecord record, out KvmExit value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.Exit, v, out uint p))
        {
            value = default;
            return false;
        }

        string? reasonText = null;
        uint reason = (p & 1) != 0 ? (uint)v[0] : uint.MaxValue;
        if (record.IsText)
        {
            var text = record.Text;
            if ((p & 1) == 0 && TextValues.TryFind(text, "reason", out var tok, out _))
            {
                reasonText = tok.ToString();
            }

            int i = text.IndexOf(" info ", StringComparison.Ordinal);
            if ((p & 0b11000) == 0 && i >= 0)
            {
                var rest = text[(i + 6)..].TrimStart();
                var first = TextValues.FirstWord(rest);
                var second = TextValues.FirstWord(rest[first.Length..]);
                _ = TextValues.TryNumber(first, 16, out v[3]);
                _ = TextValues.TryNumber(second, 16, out v[4]);
            }
        }

        value = new KvmExit((uint)v[7], reason, v[1], (uint)v[2], v[3], v[4], (uint)v[5], (uint)v[6], reasonText, (p & 0x80) != 0);
        return true;
    }

    /// <summary>Decodes kvm:kvm_entry.</summary>
    public bool TryRead(in TraceRecord record, out KvmEntry value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.Entry, v, out uint p) || (p & 1) == 0)
        {
            value = default;
            return false;
        }

        bool immediate = record.IsText ? record.Text.Contains("[immediate exit]", StringComparison.Ordinal) : v[2] != 0;
        value = new KvmEntry((uint)v[0], v[1], immediate);
        return true;
    }

    /// <summary>Decodes kvmmmu:kvm_mmu_spte_requested.</summary>
    public bool TryRead(in TraceRecord record, out KvmMmuSpteRequested value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.SpteRequested, v, out uint p) || (p & 0b111) != 0b111)
        {
            value = default;
            return false;
        }

        value = new KvmMmuSpteRequested(v[0], v[1], (int)v[2]);
        return true;
    }

    /// <summary>Decodes kvmmmu:kvm_mmu_set_spte (from text the <c>(rwxu)</c> flags give r, x and u).</summary>
    public bool TryRead(in TraceRecord record, out KvmMmuSetSpte value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.SetSpte, v, out uint p) || (p & 0b11) != 0b11)
        {
            value = default;
            return false;
        }

        bool r = v[4] != 0, x = v[5] != 0;
        int u = (int)(sbyte)(byte)v[6];
        if (record.IsText && (p & 0x10) == 0)
        {
            var text = record.Text;
            int open = text.IndexOf('(');
            int close = open >= 0 ? text[open..].IndexOf(')') : -1;
            if (close > 0)
            {
                var flags = text.Slice(open + 1, close - 1);
                r = flags.Length > 0 && flags[0] == 'r';
                x = flags.Length > 2 && flags[2] == 'x';
                u = flags.Length > 3 ? (flags[3] == 'u' ? 1 : 0) : -1;
            }
        }

        value = new KvmMmuSetSpte(v[0], v[1], v[2], (int)v[3], r, x, u);
        return true;
    }

    /// <summary>Decodes kvmmmu:kvm_tdp_mmu_spte_changed.</summary>
    public bool TryRead(in TraceRecord record, out KvmTdpMmuSpteChanged value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.TdpMmuSpteChanged, v, out uint p) || (p & 0b1111) != 0b1111)
        {
            value = default;
            return false;
        }

        value = new KvmTdpMmuSpteChanged(v[0], v[1], v[2], (int)v[3], (int)v[4]);
        return true;
    }

    /// <summary>Decodes kvmmmu:kvm_mmu_split_huge_page.</summary>
    public bool TryRead(in TraceRecord record, out KvmMmuSplitHugePage value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.SplitHugePage, v, out uint p) || (p & 0b111) != 0b111)
        {
            value = default;
            return false;
        }

        value = new KvmMmuSplitHugePage(v[0], v[1], (int)v[2], (int)v[3]);
        return true;
    }

    /// <summary>Decodes kvmmmu:fast_page_fault (from text, error_code flag names P|W|U|RSVD|F|PK|SS|SGX become bits).</summary>
    public bool TryRead(in TraceRecord record, out FastPageFault value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.FastPageFault, v, out uint p) || (p & 0b11) != 0b11)
        {
            value = default;
            return false;
        }

        if (record.IsText && (p & 0b100) == 0 && TextValues.TryFind(record.Text, "error_code", out var flags, out _))
        {
            v[2] = PfErrorFlags(flags);
        }

        value = new FastPageFault((int)v[0], v[1], v[2], v[3], v[4], v[5], (int)v[6]);
        return true;
    }

    /// <summary>
    /// Decodes kvm:kvm_userspace_exit. Text: <c>reason=39 errno=-14</c> (report -R), the kernel's <c>reason KVM_EXIT_IO (2)</c>
    /// / <c>reason error (14)</c>, or libtraceevent's <c>reason 39 (-14)</c> (see <see cref="TextValues.TryUserspaceExit"/>);
    /// a reason the text does not give (<c>reason error</c>) is 0.
    /// </summary>
    public bool TryRead(in TraceRecord record, out KvmUserspaceExit value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.UserspaceExit, v, out uint p) || (record.IsText && (p & 0b11) == 0))
        {
            value = default;
            return false;
        }

        value = new KvmUserspaceExit((uint)v[0], (int)v[1]);
        return true;
    }

    /// <summary>Decodes kvm:kvm_vm_set_mem_attributes (text: <c>0x.. -- 0x.. [0x8]</c>).</summary>
    public bool TryRead(in TraceRecord record, out KvmVmSetMemAttributes value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.SetMemAttributes, v, out uint p))
        {
            value = default;
            return false;
        }

        if (record.IsText && (p & 0b111) != 0b111)
        {
            var text = record.Text;
            int open = text.LastIndexOf('[');
            int close = text.LastIndexOf(']');
            if (!TextValues.TryRange(text, out v[0], out v[1]) || open < 0 || close < open || !TextValues.TryNumber(text[(open + 1)..close], 16, out v[2]))
            {
                value = default;
                return false;
            }
        }

        value = new KvmVmSetMemAttributes(v[0], v[1], v[2]);
        return true;
    }

    /// <summary>Decodes sched:sched_process_fork.</summary>
    public bool TryRead(in TraceRecord record, out SchedProcessFork value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        bool ok = TryValues(record, KvmEventKind.ProcessFork, v, out uint p) && (p & 0b11) == 0b11;
        value = ok ? new SchedProcessFork((int)v[0], (int)v[1]) : default;
        return ok;
    }

    /// <summary>Decodes sched:sched_process_exec.</summary>
    public bool TryRead(in TraceRecord record, out SchedProcessExec value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        bool ok = TryValues(record, KvmEventKind.ProcessExec, v, out uint p) && (p & 1) != 0;
        value = ok ? new SchedProcessExec((int)v[0]) : default;
        return ok;
    }

    /// <summary>Decodes kvm:kvm_rmp_fault.</summary>
    public bool TryRead(in TraceRecord record, out KvmRmpFault value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.RmpFault, v, out uint p) || (p & 0b110) != 0b110)
        {
            value = default;
            return false;
        }

        value = new KvmRmpFault((uint)v[0], v[1], v[2], v[3], (int)v[4], (int)v[5]);
        return true;
    }

    /// <summary>Decodes kvm:kvm_vmgexit_enter or kvm:kvm_vmgexit_exit.</summary>
    public bool TryRead(in TraceRecord record, out KvmVmgexit value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        bool isExit = false;
        if (!TryValues(record, KvmEventKind.VmgexitEnter, v, out uint p))
        {
            isExit = true;
            if (!TryValues(record, KvmEventKind.VmgexitExit, v, out p))
            {
                value = default;
                return false;
            }
        }

        if ((p & 0b11) != 0b11)
        {
            value = default;
            return false;
        }

        value = new KvmVmgexit((uint)v[0], v[1], v[2], v[3], isExit);
        return true;
    }

    /// <summary>Decodes kvm:kvm_vmgexit_msr_protocol_enter.</summary>
    public bool TryRead(in TraceRecord record, out KvmVmgexitMsrProtocol value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.VmgexitMsrProtocolEnter, v, out uint p) || (p & 0b11) != 0b11)
        {
            value = default;
            return false;
        }

        value = new KvmVmgexitMsrProtocol((uint)v[0], v[1]);
        return true;
    }

    /// <summary>Decodes kvm:kvm_hypercall.</summary>
    public bool TryRead(in TraceRecord record, out KvmHypercall value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.Hypercall, v, out uint p) || (p & 1) == 0)
        {
            value = default;
            return false;
        }

        value = new KvmHypercall(v[0], v[1], v[2], v[3], v[4]);
        return true;
    }

    /// <summary>Decodes kvm:kvm_unmap_hva_range (text: <c>mmu notifier unmap range: 0x.. -- 0x..</c>).</summary>
    public bool TryRead(in TraceRecord record, out KvmUnmapHvaRange value)
    {
        Span<ulong> v = stackalloc ulong[MaxValues];
        if (!TryValues(record, KvmEventKind.UnmapHvaRange, v, out uint p))
        {
            value = default;
            return false;
        }

        if (record.IsText && (p & 0b11) != 0b11 && !TextValues.TryRange(record.Text, out v[0], out v[1]))
        {
            value = default;
            return false;
        }

        value = new KvmUnmapHvaRange(v[0], v[1]);
        return true;
    }

    /// <summary>Turns printed page-fault error flags (<c>W|U</c>, <c>F</c>, with an optional hex remainder) into bits.</summary>
    /// <remarks>Bit names from fast_page_fault's __print_flags (kernel-domain.md 6.2): P0 W1 U2 RSVD3 F4 PK5 SS6 SGX15.</remarks>
    private static ulong PfErrorFlags(ReadOnlySpan<char> text)
    {
        ulong bits = 0;
        foreach (var range in text.Split('|'))
        {
            var part = text[range];
            bits |= part switch
            {
                "P" => 1UL,
                "W" => 2UL,
                "U" => 4UL,
                "RSVD" => 8UL,
                "F" => 16UL,
                "PK" => 32UL,
                "SS" => 64UL,
                "SGX" => 1UL << 15,
                _ => TextValues.TryNumber(part, 16, out ulong n) ? n : 0,
            };
        }

        return bits;
    }
}
