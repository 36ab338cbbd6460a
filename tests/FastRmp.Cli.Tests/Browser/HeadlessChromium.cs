using System.Diagnostics;

namespace FastRmp.Cli.Tests.Browser;

/// <summary>
/// Debian's chromium started headless as a child process, with a fresh profile and the DevTools endpoint on a port
/// the browser picks (read from its "DevTools listening on ws://..." line). Disposal kills the whole process tree and
/// deletes the profile.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;

    private HeadlessChromium(Process process, string profile, Uri endpoint)
    {
        _process = process;
        _profile = profile;
        Endpoint = endpoint;
    }

    /// <summary>The browser's DevTools WebSocket.</summary>
    public Uri Endpoint { get; }

    public static bool IsInstalled => File.Exists(ExecutablePath);

    public static async Task<HeadlessChromium> StartAsync(CancellationToken cancel)
    {
        string profile = Directory.CreateTempSubdirectory("fastrmp-chromium-").FullName;
        var start = new ProcessStartInfo(ExecutablePath)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--mute-audio", $"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var endpoint = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            stderr.Enqueue(line);
            const string marker = "DevTools listening on ";
            int at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                endpoint.TrySetResult(new Uri(line[(at + marker.Length)..].Trim()));
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.Exited += (_, _) => endpoint.TrySetException(new InvalidOperationException(
            $"chromium exited before it listened: {string.Join(" | ", stderr.TakeLast(5))}"));
        try
        {
            process.Start();
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var uri = await endpoint.Task.WaitAsync(TimeSpan.FromSeconds(30), cancel);
            return new HeadlessChromium(process, profile, uri);
        }
        catch
        {
            await StopAsync(process, profile);
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(_process, _profile));

    private static async Task StopAsync(Process process, string profile)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // not started, or already gone
        }
        finally
        {
            process.Dispose();
        }

        for (int attempt = 0; attempt < 5 && Directory.Exists(profile); attempt++)
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                await Task.Delay(200);
            }
            catch (UnauthorizedAccessException)
            {
                await Task.Delay(200);
            }
        }
    }
}
