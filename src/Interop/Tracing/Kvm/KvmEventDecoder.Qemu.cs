namespace FastRmp.Interop.Tracing.Kvm;

/// <content>QEMU trace events carried by ftrace:print (trace_marker) records.</content>
public sealed partial class KvmEventDecoder
{
    /// <summary>Decodes QEMU kvm_set_user_memory (guest_memfd also under its earlier names restricted_fd and gmem_fd).</summary>
    public bool TryRead(in TraceRecord record, out QemuSetUserMemory value)
    {
        Span<char> scratch = stackalloc char[512];
        var t = Qemu(record, KvmEventKind.QemuSetUserMemory, scratch);
        if (t.IsEmpty)
        {
            value = default;
            return false;
        }

        return TryParseSetUserMemory(t, out value);
    }

    /// <summary>
    /// Parses the arguments of QEMU's kvm_set_user_memory as its trace-events format prints them (<c>AddrSpace#%d
    /// Slot#%d flags=0x%x gpa=0x%x size=0x%x ua=0x%x guest_memfd=%d guest_memfd_offset=0x%x ret=%d</c>, with the
    /// earlier restricted_fd / gmem_fd spellings): the text after the event name, from any backend (ftrace marker,
    /// log). False when Slot, gpa or size is missing.
    /// </summary>
    public static bool TryParseSetUserMemory(ReadOnlySpan<char> t, out QemuSetUserMemory value)
    {
        if (!TextValues.TryGet(t, "Slot", 10, out ulong slot) || !TextValues.TryGet(t, "gpa", 16, out ulong gpa)
            || !TextValues.TryGet(t, "size", 16, out ulong size))
        {
            value = default;
            return false;
        }

        _ = TextValues.TryGet(t, "AddrSpace", 10, out ulong addrSpace);
        _ = TextValues.TryGet(t, "flags", 16, out ulong flags);
        _ = TextValues.TryGet(t, "ua", 16, out ulong ua);
        _ = TextValues.TryGet(t, "ret", 10, out ulong ret);
        long fd = -1;
        ulong fdOffset = 0;
        foreach (var (fdKey, offKey) in s_gmemKeys)
        {
            if (TextValues.TryGet(t, fdKey, 10, out ulong f))
            {
                fd = (long)f;
                _ = TextValues.TryGet(t, offKey, 16, out fdOffset);
                break;
            }
        }

        value = new QemuSetUserMemory((int)addrSpace, (int)slot, (uint)flags, gpa, size, ua, (int)fd, fdOffset, (int)ret);
        return true;
    }

    /// <summary>Decodes QEMU kvm_convert_memory (<c>start 0x.. size 0x.. to_private|to_shared</c>).</summary>
    public bool TryRead(in TraceRecord record, out QemuConvertMemory value)
    {
        Span<char> scratch = stackalloc char[256];
        var t = Qemu(record, KvmEventKind.QemuConvertMemory, scratch);
        if (t.IsEmpty || !TextValues.TryGet(t, "start", 16, out ulong start) || !TextValues.TryGet(t, "size", 16, out ulong size))
        {
            value = default;
            return false;
        }

        value = new QemuConvertMemory(start, size, t.Contains("to_private", StringComparison.Ordinal));
        return true;
    }

    /// <summary>Decodes QEMU kvm_memory_fault (<c>start 0x.. size 0x.. flags 0x..</c>).</summary>
    public bool TryRead(in TraceRecord record, out QemuMemoryFault value)
    {
        Span<char> scratch = stackalloc char[256];
        var t = Qemu(record, KvmEventKind.QemuMemoryFault, scratch);
        if (t.IsEmpty || !TextValues.TryGet(t, "start", 16, out ulong start) || !TextValues.TryGet(t, "size", 16, out ulong size))
        {
            value = default;
            return false;
        }

        _ = TextValues.TryGet(t, "flags", 16, out ulong flags);
        value = new QemuMemoryFault(start, size, flags);
        return true;
    }

    /// <summary>Decodes QEMU kvm_hc_map_gpa_range (<c>gpa 0x.. size 0x.. attributes 0x.. flags 0x..</c>).</summary>
    public bool TryRead(in TraceRecord record, out QemuHcMapGpaRange value)
    {
        Span<char> scratch = stackalloc char[256];
        var t = Qemu(record, KvmEventKind.QemuHcMapGpaRange, scratch);
        if (t.IsEmpty || !TextValues.TryGet(t, "gpa", 16, out ulong gpa) || !TextValues.TryGet(t, "size", 16, out ulong size))
        {
            value = default;
            return false;
        }

        _ = TextValues.TryGet(t, "attributes", 16, out ulong attributes);
        _ = TextValues.TryGet(t, "flags", 16, out ulong flags);
        value = new QemuHcMapGpaRange(gpa, size, attributes, flags);
        return true;
    }

    /// <summary>Decodes QEMU kvm_sev_snp_launch_update (<c>src 0x.. gpa 0x.. len 0x.. (Normal page)</c>).</summary>
    public bool TryRead(in TraceRecord record, out QemuSevSnpLaunchUpdate value)
    {
        Span<char> scratch = stackalloc char[256];
        var t = Qemu(record, KvmEventKind.QemuSevSnpLaunchUpdate, scratch);
        if (t.IsEmpty || !TextValues.TryGet(t, "gpa", 16, out ulong gpa) || !TextValues.TryGet(t, "len", 16, out ulong len))
        {
            value = default;
            return false;
        }

        _ = TextValues.TryGet(t, "src", 16, out ulong src);
        int open = t.LastIndexOf('(');
        int close = t.LastIndexOf(')');
        string type = open >= 0 && close > open ? t[(open + 1)..close].ToString() : "";
        value = new QemuSevSnpLaunchUpdate(src, gpa, len, type);
        return true;
    }

    private static readonly (string Fd, string Offset)[] s_gmemKeys =
        [("guest_memfd", "guest_memfd_offset"), ("restricted_fd", "restricted_offset"), ("gmem_fd", "gmem_fd_offset")];

    private ReadOnlySpan<char> Qemu(in TraceRecord record, KvmEventKind kind, Span<char> scratch)
    {
        if (Classify(record) != kind)
        {
            return default;
        }

        var text = MarkerText(record, scratch);
        var word = TextValues.FirstWord(text);
        return text[(text.IndexOf(word) + word.Length)..];
    }
}
