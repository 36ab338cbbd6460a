using System.Text;

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
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(write);
        if (Directory.Exists(file.FullName))
        {
            throw new CliInputException($"{option}: {file.FullName} is a directory.");
        }

        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            write(writer);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{option}: cannot write {file.FullName}: {ex.Message.ReplaceLineEndings(" ")}");
        }
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
