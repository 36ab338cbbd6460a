using System.Collections.Immutable;
using System.Globalization;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Parses tracefs <c>format</c> text (<c>name:</c>, <c>ID:</c>, <c>format:</c> with tab-separated
/// <c>field:...; offset:N; size:N; signed:N;</c> lines, <c>print fmt:</c>).
/// Stateless: thread-safe.
/// </summary>
/// <remarks>
/// Source: the tracefs format file syntax, ../shared/research/traces.md section 2.5, and the format samples of Linux
/// 6.18 and Ubuntu 6.2. Old kernels' extra common fields are accepted; offsets are always taken from the file.
/// Errors name the event and the line number within the text.
/// </remarks>
public static class FormatFileParser
{
    /// <summary>Parses one format file's text. <paramref name="system"/> is the system the file came from.</summary>
    /// <param name="system">The trace system (from the file path or the trace.dat system block).</param>
    /// <param name="text">The file's text.</param>
    /// <param name="longSize">The traced kernel's <c>long</c> size, used for arrays whose element size is not given.</param>
    /// <exception cref="TraceFormatException">The text is not a format file.</exception>
    public static EventFormat Parse(string system, string text, int longSize = 8)
    {
        string? name = null;
        int id = -1;
        string print = "";
        var fields = ImmutableArray.CreateBuilder<EventField>();
        int lineNo = 0;
        foreach (var rawLine in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = rawLine.Trim();
            if (line.IsEmpty)
            {
                continue;
            }

            if (line.StartsWith("name:"))
            {
                name = line[5..].Trim().ToString();
            }
            else if (line.StartsWith("ID:"))
            {
                if (!int.TryParse(line[3..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out id))
                {
                    throw new TraceFormatException($"format of {system}:{name}: line {lineNo}: bad ID '{line.ToString()}'");
                }
            }
            else if (line.StartsWith("field:"))
            {
                fields.Add(ParseField(line, system, name, lineNo, longSize));
            }
            else if (line.StartsWith("print fmt:"))
            {
                print = line[10..].Trim().ToString();
            }
        }

        if (name is null || name.Length == 0)
        {
            throw new TraceFormatException($"format text for system '{system}' has no 'name:' line");
        }

        if (id < 0)
        {
            throw new TraceFormatException($"format of {system}:{name} has no 'ID:' line");
        }

        return new EventFormat(system, name, id, fields.ToImmutable(), print);
    }

    private static EventField ParseField(ReadOnlySpan<char> line, string system, string? evName, int lineNo, int longSize)
    {
        // field:<decl>;<tab>offset:N;<tab>size:N;<tab>signed:N;
        int semi = line.IndexOf(';');
        if (semi < 0)
        {
            throw Bad(system, evName, lineNo, "field line without ';'");
        }

        var decl = line[6..semi].Trim();
        var rest = line[(semi + 1)..];
        int offset = ReadAttr(rest, "offset:", system, evName, lineNo);
        int size = ReadAttr(rest, "size:", system, evName, lineNo);
        int signedIdx = rest.IndexOf("signed:");
        bool isSigned = signedIdx >= 0 && ReadAttr(rest, "signed:", system, evName, lineNo) != 0;
        if (offset < 0 || size < 0 || offset > 0xFFFF || size > 0xFFFF)
        {
            throw Bad(system, evName, lineNo, $"offset {offset} / size {size} out of range");
        }

        FieldKind kind = FieldKind.Scalar;
        if (decl.StartsWith("__data_loc"))
        {
            kind = FieldKind.DataLoc;
        }
        else if (decl.StartsWith("__rel_loc"))
        {
            kind = FieldKind.RelLoc;
        }

        // Name: the last identifier before an optional [..] suffix.
        var d = decl;
        int elementCount = -1;
        int bracket = d.IndexOf('[');
        string arraySuffix = "";
        if (bracket >= 0 && d.LastIndexOf(']') > bracket && d.LastIndexOf(']') < d.Length - 1)
        {
            // "__data_loc char[] name": brackets belong to the type; the name follows them.
            int close = d.LastIndexOf(']');
            arraySuffix = d[bracket..(close + 1)].ToString();
            var typePart = d[..bracket].TrimEnd();
            var namePart = d[(close + 1)..].Trim();
            d = (typePart.ToString() + " " + namePart.ToString()).AsSpan();
            bracket = -1;
            if (kind == FieldKind.Scalar)
            {
                kind = size == 0 ? FieldKind.Rest : FieldKind.Array;
            }
        }

        if (bracket >= 0)
        {
            int close = d.LastIndexOf(']');
            var inside = close > bracket ? d[(bracket + 1)..close].Trim() : default;
            arraySuffix = close > bracket ? d[bracket..(close + 1)].ToString() : "[]";
            if (!inside.IsEmpty && int.TryParse(inside, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                elementCount = n;
            }

            d = d[..bracket].TrimEnd();
            if (kind == FieldKind.Scalar)
            {
                kind = size == 0 || inside.IsEmpty ? FieldKind.Rest : FieldKind.Array;
            }
        }

        int nameStart = d.Length;
        while (nameStart > 0 && (char.IsAsciiLetterOrDigit(d[nameStart - 1]) || d[nameStart - 1] == '_'))
        {
            nameStart--;
        }

        if (nameStart == d.Length)
        {
            throw Bad(system, evName, lineNo, $"no field name in '{decl.ToString()}'");
        }

        string name = d[nameStart..].ToString();
        string cType = (d[..nameStart].Trim().ToString() + arraySuffix).Trim();
        int elementSize = size;
        if (kind == FieldKind.Array)
        {
            elementSize = elementCount > 0 && size % elementCount == 0 ? size / elementCount : BaseSize(cType, longSize);
        }
        else if (kind is FieldKind.DataLoc or FieldKind.RelLoc or FieldKind.Rest)
        {
            elementSize = BaseSize(cType, longSize);
        }

        if (kind == FieldKind.Scalar && size is not (0 or 1 or 2 or 4 or 8))
        {
            // Odd-sized scalars (structs) are kept as byte arrays.
            kind = FieldKind.Array;
            elementSize = 1;
        }

        return new EventField(name, cType, offset, size, isSigned, kind, Math.Max(1, elementSize));
    }

    private static int BaseSize(string cType, int longSize)
    {
        string t = cType.Replace("__data_loc", "", StringComparison.Ordinal).Replace("__rel_loc", "", StringComparison.Ordinal);
        if (t.Contains("char", StringComparison.Ordinal) || t.Contains("u8", StringComparison.Ordinal) || t.Contains("bool", StringComparison.Ordinal))
        {
            return 1;
        }

        if (t.Contains("short", StringComparison.Ordinal) || t.Contains("16", StringComparison.Ordinal))
        {
            return 2;
        }

        if (t.Contains("long long", StringComparison.Ordinal) || t.Contains("64", StringComparison.Ordinal))
        {
            return 8;
        }

        if (t.Contains("long", StringComparison.Ordinal) || t.Contains('*', StringComparison.Ordinal))
        {
            return longSize;
        }

        return 4;
    }

    private static int ReadAttr(ReadOnlySpan<char> rest, string key, string system, string? evName, int lineNo)
    {
        int i = rest.IndexOf(key);
        if (i < 0)
        {
            throw Bad(system, evName, lineNo, $"missing '{key}'");
        }

        var v = rest[(i + key.Length)..];
        int end = v.IndexOf(';');
        if (end >= 0)
        {
            v = v[..end];
        }

        if (!int.TryParse(v.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            throw Bad(system, evName, lineNo, $"bad number after '{key}'");
        }

        return value;
    }

    private static TraceFormatException Bad(string system, string? evName, int lineNo, string what) =>
        new($"format of {system}:{evName ?? "?"}: line {lineNo}: {what}");
}
