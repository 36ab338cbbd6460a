using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace FastRmp.Interop.Layout;

/// <summary>A Linux kernel version (<c>major.minor[.patch]</c>), parsed from strings such as <c>6.12.3</c>,
/// <c>6.13-rc1</c> or <c>6.8.0-49-generic</c> (the form <c>uname -r</c> prints).</summary>
public readonly record struct KernelVersion(int Major, int Minor, int Patch = 0) : IComparable<KernelVersion>
{
    /// <summary>Parses a version; throws <see cref="FormatException"/> naming the text when it is not one.</summary>
    public static KernelVersion Parse(string text)
        => TryParse(text, out var v)
            ? v
            : throw new FormatException($"'{text}' is not a kernel version (expected MAJOR.MINOR[.PATCH], e.g. 6.12.3).");

    /// <summary>Parses a version, ignoring any <c>-suffix</c> or <c>+</c> after the numbers.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out KernelVersion version)
    {
        version = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        int end = span.IndexOfAny('-', '+', '_');
        if (end >= 0)
        {
            span = span[..end];
        }

        Span<Range> parts = stackalloc Range[4];
        int n = span.Split(parts, '.');
        if (n is < 2 or > 3)
        {
            return false;
        }

        if (!TryPart(span[parts[0]], out int major) || !TryPart(span[parts[1]], out int minor))
        {
            return false;
        }

        int patch = 0;
        if (n == 3 && !TryPart(span[parts[2]], out patch))
        {
            return false;
        }

        version = new KernelVersion(major, minor, patch);
        return true;
    }

    private static bool TryPart(ReadOnlySpan<char> s, out int value)
        => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value < 100_000;

    /// <inheritdoc />
    public int CompareTo(KernelVersion other)
        => Major != other.Major ? Major.CompareTo(other.Major)
            : Minor != other.Minor ? Minor.CompareTo(other.Minor)
            : Patch.CompareTo(other.Patch);

    /// <summary>Ordering.</summary>
    public static bool operator <(KernelVersion a, KernelVersion b) => a.CompareTo(b) < 0;

    /// <summary>Ordering.</summary>
    public static bool operator >(KernelVersion a, KernelVersion b) => a.CompareTo(b) > 0;

    /// <summary>Ordering.</summary>
    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;

    /// <summary>Ordering.</summary>
    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;

    /// <inheritdoc />
    public override string ToString()
        => Patch == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}")
            : string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}
