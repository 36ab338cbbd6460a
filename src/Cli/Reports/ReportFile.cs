using System.Text;
using System.Text.Json;

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

    /// <summary>Creates (or replaces) <paramref name="file"/> and lets <paramref name="write"/> fill it as indented JSON.</summary>
    /// <exception cref="CliInputException">The file cannot be written.</exception>
    public static void WriteJson(FileInfo file, string option, Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        WriteStream(file, option, stream =>
        {
            using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            write(writer);
        });
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

    /// <summary>Writes <c>"counters": {name: value, ...}</c>, the counter object every JSON report shares.</summary>
    public static void WriteCounters(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, long>> counters)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(counters);
        w.WriteStartObject("counters");
        foreach (var (counter, value) in counters)
        {
            w.WriteNumber(counter, value);
        }

        w.WriteEndObject();
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
