using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The Native AOT publish of the Cli, what the linux-x64 tool package holds (<c>dotnet publish -r linux-x64</c>),
/// made once per test process for the tests that need it (a minute or two on 2 cores) and deleted when it ends.
/// </summary>
internal static class NativeTool
{
    private static readonly Lock s_lock = new();
    private static string? s_binary;

    /// <summary>Why the native tool cannot be built or run here, or null when it can.</summary>
    public static string? WhyNot()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64 || !Avx2.IsSupported || !Bmi2.IsSupported)
        {
            return "the native tool is built for linux-x64 with x86-64-v3 (AVX2, BMI2)";
        }

        // Native AOT links with clang, else gcc (https://aka.ms/nativeaot-prerequisites).
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        bool onPath(string name) => path.Any(d => File.Exists(Path.Combine(d, name)));
        return onPath("clang") || onPath("gcc") ? null : "no native toolchain for Native AOT (neither clang nor gcc on PATH)";
    }

    /// <summary>The published native <c>fastrmp</c> (publishes it on the first call).</summary>
    public static string Binary(CancellationToken ct)
    {
        lock (s_lock)
        {
            if (s_binary is not null)
            {
                return s_binary;
            }

            string dir = Directory.CreateTempSubdirectory("fastrmp-native-").FullName;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            };
            ChildProcess.Run("dotnet", ["publish", Path.Combine(Repository.Root(), "src", "Cli", "FastRmp.Cli.csproj"), "-c", "Release", "-r", "linux-x64", "-o", dir], ct);
            string binary = Path.Combine(dir, "fastrmp");
            Assert.True(File.Exists(binary), "the publish made no native fastrmp");
            Assert.False(File.Exists(Path.Combine(dir, "fastrmp.dll")), "the linux-x64 publish is not Native AOT");
            s_binary = binary;
            return binary;
        }
    }
}
