using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace FastRmp.Cli.Reports;

/// <summary>Writes a report file for an option such as <c>--html</c>, turning file errors into one-line input errors.</summary>
internal static class ReportFile
{
    /// <summary>
    /// Creates (or replaces) <paramref name="file"/> and lets <paramref name="write"/> fill it as UTF-8 text.
    /// </summary>
    /// <exception cref="CliInputException">The file cannot be written (a directory, a missing folder, no permission).</exception>
    public static void Write(FileInfo file, string option, Action<TextWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        WriteStream(file, option, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            write(writer);
        });
    }

    /// <summary>Creates (or replaces) <paramref name="file"/> with <paramref name="value"/> as JSON, serialized by the generated <paramref name="type"/>.</summary>
    /// <exception cref="CliInputException">The file cannot be written.</exception>
    public static void WriteJson<T>(FileInfo file, string option, T value, JsonTypeInfo<T> type)
    {
        ArgumentNullException.ThrowIfNull(type);
        WriteStream(file, option, stream => JsonSerializer.Serialize(stream, value, type));
    }

    /// <summary>Creates (or replaces) <paramref name="file"/> and lets <paramref name="write"/> fill it with bytes.</summary>
    /// <exception cref="CliInputException">The file cannot be written; the message names <paramref name="option"/>.</exception>
    public static void WriteStream(FileInfo file, string option, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(write);
        if (Directory.Exists(file.FullName))
        {
            throw new CliInputException($"{option}: {file.FullName} is a directory.");
        }

        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            write(stream);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{option}: cannot write {file.FullName}: {ex.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>A result's counters as the JSON reports carry them: by name, in the result's (catalog) order.</summary>
    public static OrderedDictionary<string, long> Counters(IEnumerable<KeyValuePair<string, long>> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var map = new OrderedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, value) in counters)
        {
            map.Add(name, value);
        }

        return map;
    }

    /// <summary>The version line reports carry, e.g. <c>FastRmp 1.0.0</c>.</summary>
    public static string Version()
    {
        var assembly = typeof(ReportFile).Assembly;
        string? version = System.Reflection.CustomAttributeExtensions
            .GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(assembly)?.InformationalVersion;
        return $"FastRmp {version?.Split('+')[0] ?? "dev"}";
    }
}
