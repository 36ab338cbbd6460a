using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing;

/// <summary>The event formats of one trace, found by ID (the record's <c>common_type</c>) or by <c>system:name</c>.</summary>
/// <remarks>Built once while a file's metadata is read; read-only afterwards and safe to share between threads.</remarks>
public sealed class TraceFormats
{
    private readonly List<EventFormat> _all = [];
    private readonly Dictionary<string, EventFormat> _byName = new(StringComparer.Ordinal);
    private EventFormat?[] _byId = [];

    /// <summary>Every format in the order it was added.</summary>
    public IReadOnlyList<EventFormat> All => _all;

    /// <summary>The format with this ID, or null.</summary>
    public EventFormat? ById(int id) => (uint)id < (uint)_byId.Length ? _byId[id] : null;

    /// <summary>The format named <c>system:name</c>, or null.</summary>
    public EventFormat? ByName(string fullName) => _byName.GetValueOrDefault(fullName);

    /// <summary>The formats whose event name (without system) is <paramref name="name"/>.</summary>
    public ImmutableArray<EventFormat> ByEventName(string name) => [.. _all.Where(f => f.Name == name)];

    /// <summary>Adds a format; a later format with the same ID replaces the earlier one for ID lookups.</summary>
    public void Add(EventFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        format.Index = _all.Count;
        _all.Add(format);
        _byName[format.FullName] = format;
        if (format.Id is >= 0 and <= ushort.MaxValue)
        {
            if (format.Id >= _byId.Length)
            {
                Array.Resize(ref _byId, Math.Max(format.Id + 1, _byId.Length * 2));
            }

            _byId[format.Id] = format;
        }
    }
}
