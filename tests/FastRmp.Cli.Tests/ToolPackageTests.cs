using System.IO.Compression;

namespace FastRmp.Cli.Tests;

/// <summary><c>dotnet pack</c> of the Cli gives a .NET tool named <c>fastrmp</c> that installs and runs (issue 6).</summary>
[Collection(HeavyProcesses.Name)]
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-tool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 300_000)]
    public void The_packed_tool_installs_into_a_tool_path_and_runs()
    {
        // the Cli project was built in this configuration as this project's reference; pack it without rebuilding
        string config = Path.GetFileName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)) == "debug" ? "Debug" : "Release";
        var ct = TestContext.Current.CancellationToken;
        string packages = Path.Combine(_dir, "pkg"), tools = Path.Combine(_dir, "tools");
        ChildProcess.Run("dotnet", ["pack", Path.Combine(Repository.Root(), "src", "Cli", "FastRmp.Cli.csproj"), "-c", config, "--no-build", "-o", packages], ct);
        string package = Assert.Single(Directory.GetFiles(packages, "fastrmp.*.nupkg"));
        using (var zip = ZipFile.OpenRead(package))
        {
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            Assert.Contains(zip.Entries, e => e.FullName.StartsWith("tools/net10.0/any/", StringComparison.Ordinal) && e.Name == "fastrmp.dll");
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        }

        string version = Path.GetFileNameWithoutExtension(package)["fastrmp.".Length..];
        ChildProcess.Run("dotnet", ["tool", "install", "fastrmp", "--tool-path", tools, "--add-source", packages, "--version", version, "--ignore-failed-sources"], ct);
        string output = ChildProcess.Run(Path.Combine(tools, OperatingSystem.IsWindows() ? "fastrmp.exe" : "fastrmp"), ["scenarios"], ct);
        Assert.Contains("snp-boot", output, StringComparison.Ordinal);
    }

    [Theory(Timeout = 300_000)]
    [InlineData("Interop")]
    [InlineData("Engine")]
    [InlineData("Export")]
    public void A_library_package_carries_its_readme_the_licence_symbols_with_SourceLink_and_the_repository(string name)
    {
        // what nuget.org shows and needs (issue 19), packed from this build without warnings
        string config = Path.GetFileName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)) == "debug" ? "Debug" : "Release";
        var ct = TestContext.Current.CancellationToken;
        string packages = Path.Combine(_dir, "lib");
        string output = ChildProcess.Run("dotnet", ["pack", Path.Combine(Repository.Root(), "src", name, $"FastRmp.{name}.csproj"), "-c", config, "--no-build", "-o", packages], ct);
        Assert.DoesNotContain("warning", output, StringComparison.OrdinalIgnoreCase);
        string package = Assert.Single(Directory.GetFiles(packages, $"FastRmp.{name}.*.nupkg"));
        string version = Path.GetFileNameWithoutExtension(package)[$"FastRmp.{name}.".Length..];
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$", version);
        Assert.NotEqual("1.0.0", version); // from git (MinVer), not the SDK's fixed default
        using (var zip = ZipFile.OpenRead(package))
        {
            string readme = Read(zip, "README.md");
            Assert.StartsWith($"# FastRmp.{name}", readme, StringComparison.Ordinal); // its own readme, not the repository's
            Assert.DoesNotContain("](docs/", readme, StringComparison.Ordinal); // links that work on nuget.org
            Assert.Contains("MIT License", Read(zip, "LICENSE"), StringComparison.Ordinal);
            string nuspec = Read(zip, $"FastRmp.{name}.nuspec");
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec, StringComparison.Ordinal);
            Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
            Assert.Contains("<repository type=\"git\" url=\"https://github.com/fastrmp/fastrmp\"", nuspec, StringComparison.Ordinal);
            Assert.Contains("<projectUrl>https://github.com/fastrmp/fastrmp</projectUrl>", nuspec, StringComparison.Ordinal);
            Assert.Matches("<description>.{40,}</description>", nuspec);
        }

        string symbols = Path.ChangeExtension(package, ".snupkg");
        Assert.True(File.Exists(symbols), "no symbol package beside " + package);
        using (var zip = ZipFile.OpenRead(symbols))
        {
            var pdb = Assert.Single(zip.Entries, e => e.Name == $"FastRmp.{name}.pdb");
            using var stream = pdb.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            // the PDB's SourceLink map points at the canonical repository
            Assert.Contains("https://raw.githubusercontent.com/fastrmp/fastrmp/", System.Text.Encoding.UTF8.GetString(copy.ToArray()), StringComparison.Ordinal);
        }
    }

    private static string Read(ZipArchive zip, string entry)
    {
        using var reader = new StreamReader(Assert.Single(zip.Entries, e => e.FullName == entry).Open());
        return reader.ReadToEnd();
    }

    [Fact(Timeout = 120_000)]
    public void A_full_pack_makes_a_native_linux_x64_package_and_an_any_fallback_while_no_build_packs_stay_portable()
    {
        // What dotnet pack will do, read from the project's evaluation (packing for real takes minutes and rebuilds):
        // RID-specific tool packages, linux-x64 compiled ahead of time for x86-64-v3 (EventSource kept for
        // dotnet-counters) and 'any' framework-dependent; a plain build stays managed; with no-build, no RIDs.
        string project = Path.Combine(Repository.Root(), "src", "Cli", "FastRmp.Cli.csproj");
        var ct = TestContext.Current.CancellationToken;
        string[] query = ["-getProperty:ToolPackageRuntimeIdentifiers", "-getProperty:PublishAot", "-getProperty:IlcInstructionSet", "-getProperty:EventSourceSupport", "-getProperty:PackAsTool"];
        string native = ChildProcess.Run("dotnet", ["msbuild", project, "-p:Configuration=Release", "-p:RuntimeIdentifier=linux-x64", .. query], ct);
        Assert.Contains("\"ToolPackageRuntimeIdentifiers\": \"linux-x64;any\"", native, StringComparison.Ordinal);
        Assert.Contains("\"PublishAot\": \"true\"", native, StringComparison.Ordinal);
        Assert.Contains("\"IlcInstructionSet\": \"x86-64-v3\"", native, StringComparison.Ordinal);
        Assert.Contains("\"EventSourceSupport\": \"true\"", native, StringComparison.Ordinal);
        Assert.Contains("\"PackAsTool\": \"true\"", native, StringComparison.Ordinal);
        string plain = ChildProcess.Run("dotnet", ["msbuild", project, "-p:Configuration=Release", .. query], ct);
        Assert.Contains("\"ToolPackageRuntimeIdentifiers\": \"linux-x64;any\"", plain, StringComparison.Ordinal);
        Assert.Contains("\"PublishAot\": \"\"", plain, StringComparison.Ordinal);
        string noBuild = ChildProcess.Run("dotnet", ["msbuild", project, "-p:Configuration=Release", "-p:NoBuild=true", .. query], ct);
        Assert.Contains("\"ToolPackageRuntimeIdentifiers\": \"\"", noBuild, StringComparison.Ordinal);
        Assert.Contains("\"PublishAot\": \"\"", noBuild, StringComparison.Ordinal);
    }

    [Fact(Timeout = 600_000)]
    public void The_native_linux_x64_build_replays_a_trace_exactly_as_the_managed_one()
    {
        // What the linux-x64 tool package holds: the Native AOT publish of the Cli. Its replay must give the same
        // JSON as the managed build in this process (all but the wall-clock time), for every policy at once.
        if (NativeTool.WhyNot() is { } why)
        {
            Assert.Skip(why);
        }

        var ct = TestContext.Current.CancellationToken;
        string binary = NativeTool.Binary(ct);

        string trace = Path.Combine(_dir, "snp.dat");
        FastRmp.Tests.Common.SnpTraceFixture.WriteVms(trace, vms: 2, faultsEach: 3000);
        string[] args = ["compare", trace, "--policies", "first-use,alloc-blind,fault-hook,every-get-pfn", "--json"];
        string nativeJson = Path.Combine(_dir, "native.json"), managedJson = Path.Combine(_dir, "managed.json");
        string output = ChildProcess.Run(binary, [.. args, nativeJson], ct);
        Assert.Contains("agreement with the trace", output, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run([.. args, managedJson]).Exit);
        Assert.Equal(WithoutTime(File.ReadAllText(managedJson)), WithoutTime(File.ReadAllText(nativeJson)));
        Assert.Contains("\"policy\": \"every-get-pfn\"", File.ReadAllText(nativeJson), StringComparison.Ordinal);
    }

    private static string WithoutTime(string json) => System.Text.RegularExpressions.Regex.Replace(json, "\"replay_seconds\": [0-9.eE+-]+", "");
}
