using System.Globalization;

namespace FastRmp.Interop.Tracing.Kvm;

/// <summary>Finds <c>key value</c>, <c>key=value</c> and <c>key#value</c> pairs in printed payloads without allocating.</summary>
internal static class TextValues
{
    /// <summary>Finds the token after <paramref name="key"/> (a whole word followed by '=', '#', ':' or a space).</summary>
    public static bool TryFind(ReadOnlySpan<char> text, string key, out ReadOnlySpan<char> token, out bool assigned)
    {
        int from = 0;
        while (from < text.Length)
        {
            int i = text[from..].IndexOf(key, StringComparison.Ordinal);
            if (i < 0)
            {
                break;
            }

            i += from;
            int after = i + key.Length;
            bool startOk = i == 0 || text[i - 1] is ' ' or '(' or ',' or '\t';
            if (startOk && after < text.Length && text[after] is '=' or '#' or ' ' or ':')
            {
                assigned = text[after] is '=' or '#';
                int v = after + 1;
                while (v < text.Length && text[v] == ' ')
                {
                    v++;
                }

                int end = v;
                while (end < text.Length && text[end] is not (' ' or ',' or ')' or ']' or '\t'))
                {
                    end++;
                }

                token = text[v..end];
                return token.Length > 0;
            }

            from = after;
        }

        token = default;
        assigned = false;
        return false;
    }

    /// <summary>Parses a printed number: 0x-prefixed hex, signed decimal, or <paramref name="radix"/>.</summary>
    public static bool TryNumber(ReadOnlySpan<char> token, int radix, out ulong value)
    {
        token = token.Trim().TrimEnd(',').TrimEnd(':');
        if (token.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return ulong.TryParse(token[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }

        if (token.StartsWith("-"))
        {
            bool ok = long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long s);
            value = (ulong)s;
            return ok;
        }

        return radix == 16
            ? ulong.TryParse(token, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A number after <paramref name="key"/>; <c>key=value</c> forms are decimal unless 0x-prefixed.</summary>
    public static bool TryGet(ReadOnlySpan<char> text, string key, int radix, out ulong value)
    {
        value = 0;
        return TryFind(text, key, out var token, out bool assigned) && TryNumber(token, assigned ? 10 : radix, out value);
    }

    /// <summary>The two numbers of <c>A -- B</c> (hva and gfn ranges).</summary>
    public static bool TryRange(ReadOnlySpan<char> text, out ulong start, out ulong end)
    {
        start = end = 0;
        int dash = text.IndexOf(" -- ", StringComparison.Ordinal);
        if (dash < 0)
        {
            return false;
        }

        var left = text[..dash].TrimEnd();
        int sp = left.LastIndexOf(' ');
        var a = sp >= 0 ? left[(sp + 1)..] : left;
        var right = text[(dash + 4)..].TrimStart();
        int e = right.IndexOfAny(' ', '[');
        var b = e >= 0 ? right[..e] : right;
        return TryNumber(a, 16, out start) && TryNumber(b, 16, out end);
    }

    /// <summary>
    /// The payload of a trace_marker write: after <c>buf=</c> (<c>report -R</c>), else after the caller's address that
    /// ftrace:print's format <c>"%ps: %s"</c> puts first: <c>tracing_mark_write: </c> with kallsyms, a bare
    /// <c>0xffffffff81000000: </c> without (trace-cmd on a recording without kallsyms), or any other
    /// <c>symbol[+off/size]: </c>.
    /// </summary>
    /// <remarks>
    /// Only a first word that ends in ':' and looks like an address or a symbol is taken off; QEMU's event names never
    /// end in ':', so no QEMU event is lost by it, and marker text without the prefix (tracefs on some kernels) is kept.
    /// </remarks>
    public static ReadOnlySpan<char> MarkerText(ReadOnlySpan<char> payload)
    {
        int b = payload.IndexOf("buf=", StringComparison.Ordinal);
        if (b >= 0 && (b == 0 || payload[b - 1] == ' '))
        {
            return payload[(b + 4)..];
        }

        var t = payload.TrimStart();
        int colon = t.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0 && IsCallerAddress(t[..colon]))
        {
            return t[(colon + 2)..].TrimStart();
        }

        return t.EndsWith(':') && IsCallerAddress(t[..^1]) ? default : payload;
    }

    /// <summary>True for <c>0x</c>-hex, or a C symbol with an optional <c>+0xoff/0xsize</c> or <c>.isra.0</c>-style suffix.</summary>
    private static bool IsCallerAddress(ReadOnlySpan<char> word)
    {
        if (word.IsEmpty || word.Contains(' '))
        {
            return false;
        }

        if (word.StartsWith("0x", StringComparison.Ordinal))
        {
            return word.Length > 2 && !word[2..].ContainsAnyExcept(s_hexDigits);
        }

        return (char.IsAsciiLetter(word[0]) || word[0] == '_') && !word.ContainsAnyExcept(s_symbolChars);
    }

    private static readonly System.Buffers.SearchValues<char> s_hexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");
    private static readonly System.Buffers.SearchValues<char> s_symbolChars = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+/x[]");

    /// <summary>
    /// Reads the pretty print of kvm_userspace_exit, <c>"reason %s (%d)"</c> with the arguments
    /// <c>errno &lt; 0 ? (errno == -4 ? "restart" : "error") : __print_symbolic(reason, ...)</c> and
    /// <c>errno &lt; 0 ? -errno : reason</c> (include/trace/events/kvm.h; the 6.18 and Ubuntu 6.2 format files).
    /// </summary>
    /// <remarks>
    /// Three printers give three forms. The kernel (tracefs): <c>reason KVM_EXIT_IO (2)</c>, <c>reason error (14)</c>,
    /// <c>reason restart (4)</c>, and for a reason outside the symbol list <c>reason 0x27 (39)</c>. libtraceevent
    /// (<c>trace-cmd report</c>, checked with 1.7/trace-cmd 3.1) cannot take the string ternary apart and prints the
    /// reason in decimal and errno as it is: <c>reason 39 (-14)</c>, <c>reason 2 (0)</c>. The ioctl's errno is 0 or
    /// negative, so: after <c>error</c>/<c>restart</c> the number is -errno and the reason is not printed; otherwise
    /// the word is the reason (a number, or a name from the format's symbol list) and a negative number is errno, a
    /// non-negative one means errno 0 (it is the reason, or libtraceevent's errno 0).
    /// </remarks>
    public static bool TryUserspaceExit(ReadOnlySpan<char> text, out ulong reason, out bool hasReason, out long errno)
    {
        reason = 0;
        hasReason = false;
        errno = 0;
        int at = text.IndexOf("reason ", StringComparison.Ordinal);
        int open = text.LastIndexOf('(');
        int close = text.LastIndexOf(')');
        if (at < 0 || open < at || close < open
            || !long.TryParse(text[(open + 1)..close].Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
        {
            return false;
        }

        var word = text[(at + 7)..open].Trim();
        if (word is "error" or "restart")
        {
            errno = n > 0 ? -n : n;
            return true;
        }

        if (TryNumber(word, 10, out reason))
        {
            hasReason = true;
        }
        else if (Array.IndexOf(s_exitReasons, word.ToString()) is int i and >= 0)
        {
            reason = (ulong)i;
            hasReason = true;
        }
        else if (n >= 0)
        {
            reason = (ulong)n;
            hasReason = true;
        }

        errno = n < 0 ? n : 0;
        return true;
    }

    // The __print_symbolic list of kvm_userspace_exit's print fmt (6.18 and Ubuntu 6.2 format files), in value order.
    private static readonly string[] s_exitReasons =
    [
        "KVM_EXIT_UNKNOWN", "KVM_EXIT_EXCEPTION", "KVM_EXIT_IO", "KVM_EXIT_HYPERCALL", "KVM_EXIT_DEBUG", "KVM_EXIT_HLT",
        "KVM_EXIT_MMIO", "KVM_EXIT_IRQ_WINDOW_OPEN", "KVM_EXIT_SHUTDOWN", "KVM_EXIT_FAIL_ENTRY", "KVM_EXIT_INTR",
        "KVM_EXIT_SET_TPR", "KVM_EXIT_TPR_ACCESS", "KVM_EXIT_S390_SIEIC", "KVM_EXIT_S390_RESET", "KVM_EXIT_DCR",
        "KVM_EXIT_NMI", "KVM_EXIT_INTERNAL_ERROR", "KVM_EXIT_OSI", "KVM_EXIT_PAPR_HCALL", "KVM_EXIT_S390_UCONTROL",
        "KVM_EXIT_WATCHDOG", "KVM_EXIT_S390_TSCH", "KVM_EXIT_EPR", "KVM_EXIT_SYSTEM_EVENT", "KVM_EXIT_S390_STSI",
        "KVM_EXIT_IOAPIC_EOI", "KVM_EXIT_HYPERV", "KVM_EXIT_ARM_NISV", "KVM_EXIT_X86_RDMSR", "KVM_EXIT_X86_WRMSR",
    ];

    /// <summary>The first word of <paramref name="text"/>.</summary>
    public static ReadOnlySpan<char> FirstWord(ReadOnlySpan<char> text)
    {
        text = text.TrimStart();
        int sp = text.IndexOfAny(' ', '\n', '\t');
        return sp >= 0 ? text[..sp] : text;
    }
}
