using System.Diagnostics;

namespace FastRmp.Cli.Tests;

/// <summary>Starts the built <c>fastrmp</c> as a child process (for tests that need a separate runtime).</summary>
internal static class FastrmpProcess
{
    /// <summary>
    /// The Cli project's own output (artifacts/bin/FastRmp.Cli/&lt;config&gt;, next to this project's output under
    /// the repository's ArtifactsPath), with its apphost so the process is named <c>fastrmp</c>; else the copy of
    /// fastrmp.dll this project's reference brought, run through <c>dotnet</c>.
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        string testOutput = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string config = Path.GetFileName(testOutput);
        string cliOutput = Path.GetFullPath(Path.Combine(testOutput, "..", "..", "FastRmp.Cli", config));
        string apphost = Path.Combine(cliOutput, OperatingSystem.IsWindows() ? "fastrmp.exe" : "fastrmp");
        ProcessStartInfo info;
        if (File.Exists(apphost))
        {
            info = new ProcessStartInfo(apphost);
        }
        else
        {
            string dll = File.Exists(Path.Combine(cliOutput, "fastrmp.dll")) ? Path.Combine(cliOutput, "fastrmp.dll") : Path.Combine(testOutput, "fastrmp.dll");
            info = new ProcessStartInfo("dotnet");
            info.ArgumentList.Add(dll);
        }

        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        return info;
    }
}
