using System.Globalization;
using System.Text.Json;
using FastRmp.Interop.Uapi;

namespace FastRmp.Cli;

/// <summary>
/// The <c>--memslots</c> file: a JSON array of objects mirroring <c>struct kvm_userspace_memory_region2</c>
/// (docs/replay.md): <c>slot</c>, <c>flags</c>, <c>guest_phys_addr</c>, <c>memory_size</c>, <c>userspace_addr</c>,
/// <c>guest_memfd</c>, <c>guest_memfd_offset</c>, and an optional <c>as_id</c> (address space). Numbers are JSON
/// numbers or strings such as <c>"0x100000000"</c>.
/// </summary>
internal static class MemslotFile
{
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
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new CliInputException($"--memslots: {name}: not JSON ({ex.Message})");
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

        var region = new kvm_userspace_memory_region2
        {
            slot = (uint)((asId << 16) | slot),
            flags = (uint)Get("flags", false),
            guest_phys_addr = Get("guest_phys_addr", true),
            memory_size = Get("memory_size", true),
            userspace_addr = Get("userspace_addr", false),
            guest_memfd = (uint)Get("guest_memfd", false),
            guest_memfd_offset = Get("guest_memfd_offset", false),
        };
        if (region.memory_size == 0 || ((region.memory_size | region.guest_phys_addr | region.userspace_addr | region.guest_memfd_offset) & 0xfff) != 0
            || region.guest_phys_addr + region.memory_size < region.guest_phys_addr)
        {
            throw new CliInputException($"--memslots: {where}: guest_phys_addr, memory_size, userspace_addr and guest_memfd_offset must be 4 KiB-aligned, and memory_size non-zero and within the address space");
        }

        return region;
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
