using System.Diagnostics;
using System.IO.Compression;

namespace FastRmp.Cli.Tests;

/// <summary><c>dotnet pack</c> of the Cli gives a .NET tool named <c>fastrmp</c> that installs and runs (issue 6).</summary>
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-tool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 300_000)]
    public void The_packed_tool_installs_into_a_tool_path_and_runs()
    {
        // the Cli project was built in this configuration as this project's reference; pack it without rebuilding
        string config = Path.GetFileName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)) == "debug" ? "Debug" : "Release";
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "FastRmp.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var ct = TestContext.Current.CancellationToken;
        string packages = Path.Combine(_dir, "pkg"), tools = Path.Combine(_dir, "tools");
        Run("dotnet", ["pack", Path.Combine(root.FullName, "src", "Cli", "FastRmp.Cli.csproj"), "-c", config, "--no-build", "-o", packages], ct);
        string package = Assert.Single(Directory.GetFiles(packages, "fastrmp.*.nupkg"));
        using (var zip = ZipFile.OpenRead(package))
        {
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            Assert.Contains(zip.Entries, e => e.FullName.StartsWith("tools/net10.0/any/", StringComparison.Ordinal) && e.Name == "fastrmp.dll");
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        }

        string version = Path.GetFileNameWithoutExtension(package)["fastrmp.".Length..];
        Run("dotnet", ["tool", "install", "fastrmp", "--tool-path", tools, "--add-source", packages, "--version", version, "--ignore-failed-sources"], ct);
        string output = Run(Path.Combine(tools, OperatingSystem.IsWindows() ? "fastrmp.exe" : "fastrmp"), ["scenarios"], ct);
        Assert.Contains("snp-boot", output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public void A_full_pack_makes_a_ReadyToRun_linux_x64_package_and_an_any_fallback_while_no_build_packs_stay_portable()
    {
        // What dotnet pack will do, read from the project's evaluation (packing for real takes a minute and rebuilds):
        // RID-specific tool packages for linux-x64 (precompiled) and 'any', framework-dependent; with no-build, none.
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "FastRmp.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var ct = TestContext.Current.CancellationToken;
        string project = Path.Combine(root.FullName, "src", "Cli", "FastRmp.Cli.csproj");
        string[] query = ["-getProperty:RuntimeIdentifiers", "-getProperty:PublishReadyToRun", "-getProperty:SelfContained", "-getProperty:PackAsTool"];
        string full = Run("dotnet", ["msbuild", project, "-p:Configuration=Release", .. query], ct);
        Assert.Contains("\"RuntimeIdentifiers\": \"linux-x64;any\"", full, StringComparison.Ordinal);
        Assert.Contains("\"PublishReadyToRun\": \"true\"", full, StringComparison.Ordinal);
        Assert.Contains("\"SelfContained\": \"false\"", full, StringComparison.Ordinal);
        Assert.Contains("\"PackAsTool\": \"true\"", full, StringComparison.Ordinal);
        string noBuild = Run("dotnet", ["msbuild", project, "-p:Configuration=Release", "-p:NoBuild=true", .. query], ct);
        Assert.Contains("\"RuntimeIdentifiers\": \"\"", noBuild, StringComparison.Ordinal);
        Assert.Contains("\"PublishReadyToRun\": \"\"", noBuild, StringComparison.Ordinal);
    }

    private static string Run(string file, string[] args, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(info)!;
        using var kill = ct.Register(() => p.Kill(entireProcessTree: true));
        var stderr = p.StandardError.ReadToEndAsync(ct);
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        ct.ThrowIfCancellationRequested();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stdout} {stderr.Result}");
        return stdout;
    }
}
