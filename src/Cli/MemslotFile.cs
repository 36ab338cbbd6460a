using System.Globalization;
using System.Text.Json;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Uapi;

namespace FastRmp.Cli;

/// <summary>
/// The <c>--memslots</c> file: a JSON array of objects mirroring <c>struct kvm_userspace_memory_region2</c>
/// (docs/replay.md): <c>slot</c>, <c>flags</c>, <c>guest_phys_addr</c>, <c>memory_size</c>, <c>userspace_addr</c>,
/// <c>guest_memfd</c>, <c>guest_memfd_offset</c>, and an optional <c>as_id</c> (address space). Numbers are JSON
/// numbers or strings such as <c>"0x100000000"</c>; <c>guest_memfd</c> may be -1, QEMU's value for a slot without
/// guest_memfd. Or QEMU's log: the <c>kvm_set_user_memory</c> lines <c>-trace kvm_set_user_memory</c> prints on
/// stderr (optionally <c>pid@sec.usec:</c>-prefixed), applied in order as KVM would (size 0 deletes a slot, a failed
/// call changes nothing), giving the slots in place at the end of the log.
/// </summary>
internal static class MemslotFile
{
    private const uint KvmMemGuestMemfd = 4;
    private const string QemuEvent = "kvm_set_user_memory ";

    private static readonly string[] s_fields = ["slot", "as_id", "flags", "guest_phys_addr", "memory_size", "userspace_addr", "guest_memfd", "guest_memfd_offset"];

    /// <summary>Reads and checks the file: sizes and addresses 4 KiB-aligned and non-zero, no two slots of one address space overlapping or sharing an id.</summary>
    public static IReadOnlyList<kvm_userspace_memory_region2> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--memslots: cannot read {path} ({ex.Message})");
        }

        return Parse(text, path);
    }

    /// <summary>Parses and checks memslot JSON; <paramref name="name"/> names it in errors.</summary>
    public static IReadOnlyList<kvm_userspace_memory_region2> Parse(string text, string name)
    {
        var start = text.AsSpan().TrimStart();
        if (!start.IsEmpty && start[0] is not ('[' or '{') && text.Contains(QemuEvent, StringComparison.Ordinal))
        {
            return ParseQemuLog(text, name);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            // The position, not JsonException's message: that quotes the bad literal, which may hold line breaks and
            // made the error several lines long (found by fuzzing).
            throw new CliInputException($"--memslots: {name}: not JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}) and no QEMU kvm_set_user_memory line (run QEMU with '-trace kvm_set_user_memory' and pass its stderr)");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new CliInputException($"--memslots: {name}: expected a JSON array of memslots");
            }

            var slots = new List<kvm_userspace_memory_region2>();
            int index = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                slots.Add(ParseOne(e, $"{name}: memslot [{index++}]"));
            }

            Check(slots, name);
            return slots;
        }
    }

    private static kvm_userspace_memory_region2 ParseOne(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new CliInputException($"--memslots: {where}: expected an object");
        }

        foreach (var p in e.EnumerateObject())
        {
            if (!s_fields.Contains(p.Name))
            {
                throw new CliInputException($"--memslots: {where}: unknown field '{p.Name}' (fields: {string.Join(", ", s_fields)})");
            }
        }

        ulong Get(string field, bool required)
        {
            if (!e.TryGetProperty(field, out var v))
            {
                return required ? throw new CliInputException($"--memslots: {where}: '{field}' is missing") : 0UL;
            }

            if (v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out ulong n))
            {
                return n;
            }

            if (v.ValueKind == JsonValueKind.String && v.GetString() is { } s)
            {
                bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
                if (ulong.TryParse(hex ? s[2..] : s, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out n))
                {
                    return n;
                }
            }

            throw new CliInputException($"--memslots: {where}: '{field}' is not a non-negative number ({v.GetRawText()})");
        }

        ulong slot = Get("slot", true), asId = Get("as_id", false);
        if (slot > 0x7fff || asId > 1)
        {
            throw new CliInputException($"--memslots: {where}: slot must be below 32768 and as_id 0 or 1");
        }

        ulong flags = Get("flags", false);
        if (flags > uint.MaxValue)
        {
            throw new CliInputException($"--memslots: {where}: 'flags' is 0x{flags:x}; kvm_userspace_memory_region2.flags is a __u32");
        }

        var region = new kvm_userspace_memory_region2
        {
            slot = (uint)((asId << 16) | slot),
            flags = (uint)flags,
            guest_phys_addr = Get("guest_phys_addr", true),
            memory_size = Get("memory_size", true),
            userspace_addr = Get("userspace_addr", false),
            guest_memfd = GuestMemfd(e, where, () => Get("guest_memfd", false)),
            guest_memfd_offset = Get("guest_memfd_offset", false),
        };
        Validate(region, where);
        return region;
    }

    /// <summary>guest_memfd: a file number, or -1 (QEMU's value for a slot without guest_memfd, kept as the __u32 QEMU passes: 0xffffffff).</summary>
    private static uint GuestMemfd(JsonElement e, string where, Func<ulong> get)
    {
        if (e.TryGetProperty("guest_memfd", out var v)
            && ((v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) && n == -1) || (v.ValueKind == JsonValueKind.String && v.GetString() == "-1")))
        {
            return uint.MaxValue;
        }

        ulong fd = get();
        return fd <= int.MaxValue ? (uint)fd : throw new CliInputException($"--memslots: {where}: 'guest_memfd' is {fd}: a file number (0 to {int.MaxValue}) or -1 for a slot without guest_memfd");
    }

    private static void Validate(in kvm_userspace_memory_region2 region, string where)
    {
        if (region.memory_size == 0 || ((region.memory_size | region.guest_phys_addr | region.userspace_addr | region.guest_memfd_offset) & 0xfff) != 0
            || region.guest_phys_addr + region.memory_size < region.guest_phys_addr)
        {
            throw new CliInputException($"--memslots: {where}: guest_phys_addr, memory_size, userspace_addr and guest_memfd_offset must be 4 KiB-aligned, and memory_size non-zero and within the address space");
        }

        if ((region.flags & KvmMemGuestMemfd) != 0 && region.guest_memfd == uint.MaxValue)
        {
            throw new CliInputException($"--memslots: {where}: flags has 0x4 (KVM_MEM_GUEST_MEMFD) but guest_memfd is -1, which KVM refuses (EBADF); give the guest_memfd's number or drop flag 0x4");
        }
    }

    /// <summary>QEMU's log lines, applied in order; the slots in place at the end, by address space and slot id.</summary>
    private static IReadOnlyList<kvm_userspace_memory_region2> ParseQemuLog(string text, string name)
    {
        var slots = new SortedDictionary<uint, kvm_userspace_memory_region2>();
        int lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = raw.TrimStart();
            int at = line.IndexOf(QemuEvent, StringComparison.Ordinal);
            if (line.StartsWith('#') || at < 0 || (at > 0 && line[at - 1] is not (':' or ' ' or '\t')))
            {
                continue;
            }

            string where = $"{name}:{lineNo}";
            if (!KvmEventDecoder.TryParseSetUserMemory(line[(at + QemuEvent.Length)..], out var m))
            {
                throw new CliInputException($"--memslots: {where}: a kvm_set_user_memory line without Slot#, gpa= or size=");
            }

            if (m.Ret != 0)
            {
                continue; // KVM refused the call: its memslots did not change
            }

            if (m.AddressSpace is < 0 or > 1 || m.Slot is < 0 or > 0x7fff)
            {
                throw new CliInputException($"--memslots: {where}: slot must be below 32768 and AddrSpace 0 or 1 (AddrSpace#{m.AddressSpace} Slot#{m.Slot})");
            }

            var region = m.ToRegion();
            slots.Remove(region.slot);
            if (m.Size == 0)
            {
                continue; // size 0 deletes the slot
            }

            Validate(region, where);
            slots[region.slot] = region;
        }

        if (slots.Count == 0)
        {
            throw new CliInputException($"--memslots: {name}: the QEMU log leaves no memslot in place (every kvm_set_user_memory line failed or was deleted)");
        }

        var list = slots.Values.ToList();
        Check(list, name);
        return list;
    }

    private static void Check(List<kvm_userspace_memory_region2> slots, string name)
    {
        for (int i = 0; i < slots.Count; i++)
        {
            for (int j = 0; j < i; j++)
            {
                var a = slots[i];
                var b = slots[j];
                if (a.slot >> 16 != b.slot >> 16)
                {
                    continue;
                }

                if (a.slot == b.slot)
                {
                    throw new CliInputException($"--memslots: {name}: memslots [{j}] and [{i}] have the same slot id {a.slot & 0xffff}");
                }

                if (a.guest_phys_addr < b.guest_phys_addr + b.memory_size && b.guest_phys_addr < a.guest_phys_addr + a.memory_size)
                {
                    throw new CliInputException($"--memslots: {name}: memslots [{j}] and [{i}] overlap (0x{b.guest_phys_addr:x}+0x{b.memory_size:x} and 0x{a.guest_phys_addr:x}+0x{a.memory_size:x})");
                }
            }
        }
    }
}
