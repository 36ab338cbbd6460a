using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// A parsed tracefs <c>format</c> file: the event's system, name, ID, fields with their offsets, and the print format
/// kept as text.
/// </summary>
/// <remarks>
/// Source: tracefs <c>events/&lt;system&gt;/&lt;event&gt;/format</c> (../shared/research/traces.md section 2.5). Map events
/// by (system, name): IDs differ per kernel build. Immutable and thread-safe. <see cref="Index"/> is a small dense number
/// assigned by the <see cref="TraceFormats"/> that owns the format, used by decoders to cache per-format bindings.
/// </remarks>
public sealed class EventFormat
{
    private readonly Dictionary<string, EventField> _byName;

    /// <summary>Creates a format.</summary>
    public EventFormat(string system, string name, int id, ImmutableArray<EventField> fields, string printFormat)
    {
        System = system;
        Name = name;
        Id = id;
        Fields = fields;
        PrintFormat = printFormat;
        FullName = system.Length == 0 ? name : $"{system}:{name}";
        var dict = new Dictionary<string, EventField>(StringComparer.Ordinal);
        foreach (var f in fields)
        {
            dict.TryAdd(f.Name, f);
        }

        _byName = dict;
        var own = ImmutableArray.CreateBuilder<EventField>();
        foreach (var f in fields)
        {
            if (!f.IsCommon)
            {
                own.Add(f);
            }
        }

        EventFields = own.ToImmutable();
        PidField = Find("common_pid");
    }

    /// <summary>The trace system (<c>kvm</c>, <c>kvmmmu</c>, <c>ftrace</c>).</summary>
    public string System { get; }

    /// <summary>The event name (<c>kvm_page_fault</c>).</summary>
    public string Name { get; }

    /// <summary><c>system:name</c> (just the name when the system is unknown, as for most text input).</summary>
    public string FullName { get; }

    /// <summary>The event ID of the traced kernel (the record's <c>common_type</c>).</summary>
    public int Id { get; }

    /// <summary>Every field, common fields first, in file order.</summary>
    public ImmutableArray<EventField> Fields { get; }

    /// <summary>The fields that are not <c>common_*</c>, in file order.</summary>
    public ImmutableArray<EventField> EventFields { get; }

    /// <summary>The text after <c>print fmt:</c>, verbatim.</summary>
    public string PrintFormat { get; }

    /// <summary>The <c>common_pid</c> field, if the format has one.</summary>
    public EventField? PidField { get; }

    /// <summary>Dense index within the owning <see cref="TraceFormats"/> (-1 when not registered).</summary>
    public int Index { get; internal set; } = -1;

    /// <summary>The field with this name, or null.</summary>
    public EventField? Find(string fieldName) => _byName.GetValueOrDefault(fieldName);

    /// <summary>The field with this name; throws <see cref="TraceFormatException"/> naming the event when it is missing.</summary>
    public EventField Require(string fieldName) => Find(fieldName)
        ?? throw new TraceFormatException($"event {FullName} (ID {Id}) has no field '{fieldName}'");

    /// <inheritdoc/>
    public override string ToString() => $"{FullName} (ID {Id}, {Fields.Length} fields)";
}
