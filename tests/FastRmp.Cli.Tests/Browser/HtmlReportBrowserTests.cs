using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Reports;
using FastRmp.Engine.Scenarios;

namespace FastRmp.Cli.Tests.Browser;

/// <summary>
/// The HTML report in a real browser (headless chromium over the DevTools protocol): it loads without errors, every
/// map is drawn, and the colours on each canvas, sampled at every cell's centre, count exactly the regions the
/// <see cref="HostMemoryMap"/> has in each state; a screenshot of the whole page is saved next to the test binaries.
/// </summary>
public sealed class HtmlReportBrowserTests
{
    private static readonly string s_output = Path.Combine(AppContext.BaseDirectory, "report-screenshots");

    // Pixel check done by the test's own script, not the page's: palette from the page's data, cell geometry from
    // its layout, one sample at the centre of each region's cell.
    private const string SampleCanvases = """
        JSON.stringify((() => {
          const data = JSON.parse(document.getElementById('fastrmp-data').textContent);
          const palette = data.colors.map(h => { const v = parseInt(h.slice(1), 16); return [(v >> 16) & 255, (v >> 8) & 255, v & 255]; });
          return Array.from(document.querySelectorAll('canvas.map')).map(c => {
            const run = Number(c.dataset.run), regions = data.runs[run].map.regions, cell = data.cell;
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const counts = [0, 0, 0, 0, 0];
            let unknown = 0;
            for (let r = 0; r < regions; r++) {
              const x = (r % data.columns) * cell + (cell >> 1), y = Math.floor(r / data.columns) * cell + (cell >> 1);
              const o = (y * c.width + x) * 4;
              const k = palette.findIndex(p => p[0] === px[o] && p[1] === px[o + 1] && p[2] === px[o + 2] && px[o + 3] === 255);
              if (k < 0) unknown++; else counts[k]++;
            }
            return { run, counts, unknown };
          });
        })())
        """;

    [Fact]
    public async Task The_report_renders_every_map_with_the_right_colours_and_no_errors()
    {
        if (!HeadlessChromium.IsInstalled)
        {
            Assert.Skip($"{HeadlessChromium.ExecutablePath} is not installed (Debian: apt-get install chromium; .ci/run installs it).");
        }

        var results = PolicyCatalog.Names.Select(p => ScenarioCatalog.Run("share-4k-keep", p, 9)).ToList();
        results.Add(ScenarioCatalog.Run("snp-boot", "first-use", 9, 256UL << 20));
        results.Add(ScenarioCatalog.Run("snp-boot", "fault-hook", 0, 256UL << 20));
        var runs = results.Select(ReportRun.From).ToList();
        Directory.CreateDirectory(s_output);
        string html = Path.Combine(s_output, "report.html");
        using (var writer = new StreamWriter(html))
        {
            HtmlReport.Write(writer, "FastRmp browser test <&>", "tests/FastRmp.Cli.Tests", runs);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        var cancel = timeout.Token;
        await using var browser = await HeadlessChromium.StartAsync(cancel);
        await using var devtools = await DevToolsSession.ConnectAsync(browser.Endpoint, cancel);
        string session = await OpenAsync(devtools, html, cancel);

        Assert.Equal("FastRmp browser test <&>", await devtools.EvaluateAsync(session, "document.title", cancel));
        Assert.Equal(runs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), await devtools.EvaluateAsync(session, "document.documentElement.dataset.rendered", cancel));
        Assert.Equal(
            JsonSerializer.Serialize(HtmlReport.StateColors),
            await devtools.EvaluateAsync(session, "JSON.stringify(JSON.parse(document.getElementById('fastrmp-data').textContent).colors)", cancel));

        using (var decoded = JsonDocument.Parse(await devtools.EvaluateAsync(session, "JSON.stringify(window.fastrmpReport)", cancel)))
        {
            Assert.Empty(decoded.RootElement.GetProperty("errors").EnumerateArray());
            foreach (var run in decoded.RootElement.GetProperty("runs").EnumerateArray())
            {
                var map = runs[run.GetProperty("run").GetInt32()].Map!;
                Assert.Equal(map.Regions.Length, run.GetProperty("regions").GetInt32());
                Assert.Equal(Counts(map), run.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()).ToArray());
            }
        }

        using (var sampled = JsonDocument.Parse(await devtools.EvaluateAsync(session, SampleCanvases, cancel)))
        {
            Assert.Equal(runs.Count, sampled.RootElement.GetArrayLength());
            foreach (var canvas in sampled.RootElement.EnumerateArray())
            {
                var map = runs[canvas.GetProperty("run").GetInt32()].Map!;
                Assert.Equal(0, canvas.GetProperty("unknown").GetInt32());
                Assert.Equal(Counts(map), canvas.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()).ToArray());
            }
        }

        // The maps really differ: the 2M-folio share-4k-keep runs show a smashed region, the 4K snp-boot none.
        Assert.Equal(1, runs[0].Map!.Count(HostRegionState.Smashed));
        Assert.True(runs[^1].Map!.Count(HostRegionState.Private4K) > 0);

        var metrics = await devtools.SendAsync("Page.getLayoutMetrics", null, session, cancel);
        var size = metrics.GetProperty("cssContentSize");
        var shot = await devtools.SendAsync(
            "Page.captureScreenshot",
            new JsonObject
            {
                ["format"] = "png",
                ["captureBeyondViewport"] = true,
                ["clip"] = new JsonObject { ["x"] = 0, ["y"] = 0, ["width"] = size.GetProperty("width").GetDouble(), ["height"] = size.GetProperty("height").GetDouble(), ["scale"] = 1 },
            },
            session,
            cancel);
        byte[] png = Convert.FromBase64String(shot.GetProperty("data").GetString()!);
        await File.WriteAllBytesAsync(Path.Combine(s_output, "report.png"), png, cancel);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.True(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)) >= 1000, "screenshot width");
        Assert.True(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)) >= 1000, "screenshot height");
        Assert.True(png.Length > 20_000, $"a {png.Length}-byte screenshot is too small to show the page");

        Assert.Empty(devtools.Errors);
    }

    [Fact]
    public async Task The_difference_map_shows_the_expected_number_of_differing_cells()
    {
        if (!HeadlessChromium.IsInstalled)
        {
            Assert.Skip($"{HeadlessChromium.ExecutablePath} is not installed (Debian: apt-get install chromium; .ci/run installs it).");
        }

        // A known trace (DifferenceMapTests: the 2M blocks the trace maps are the regions 4K folios cannot follow).
        string dir = Directory.CreateTempSubdirectory("fastrmp-diffmap-browser-").FullName;
        try
        {
            var (html, huge) = DifferenceMapTests.Replay(dir, "4k");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            var cancel = timeout.Token;
            await using var browser = await HeadlessChromium.StartAsync(cancel);
            await using var devtools = await DevToolsSession.ConnectAsync(browser.Endpoint, cancel);
            string session = await OpenAsync(devtools, html, cancel);
            using (var decoded = JsonDocument.Parse(await devtools.EvaluateAsync(session, "JSON.stringify(window.fastrmpReport)", cancel)))
            {
                Assert.Empty(decoded.RootElement.GetProperty("errors").EnumerateArray());
                var diff = Assert.Single(decoded.RootElement.GetProperty("diffs").EnumerateArray());
                Assert.Equal(huge, diff.GetProperty("differing").GetInt64());
            }

            // The pixels: one sample at the centre of each cell of the canvas, in the page's "disagrees" colour.
            const string sample = """
                JSON.stringify((() => {
                  const data = JSON.parse(document.getElementById('fastrmp-data').textContent);
                  const c = document.querySelector('canvas.diff'), cell = data.cell, regions = data.runs[Number(c.dataset.run)].diff.regions;
                  const v = parseInt(data.diffColors[1].slice(1), 16), want = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
                  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let marked = 0;
                  for (let r = 0; r < regions; r++) {
                    const x = (r % data.columns) * cell + (cell >> 1), y = Math.floor(r / data.columns) * cell + (cell >> 1);
                    const o = (y * c.width + x) * 4;
                    if (px[o] === want[0] && px[o + 1] === want[1] && px[o + 2] === want[2]) marked++;
                  }
                  return { marked };
                })())
                """;
            using var pixels = JsonDocument.Parse(await devtools.EvaluateAsync(session, sample, cancel));
            Assert.Equal(huge, pixels.RootElement.GetProperty("marked").GetInt64());

            // The table's trace row is on the page, and its npt_2m cell (the traced 2M leaves) shows the 2M blocks.
            string column = (HtmlReport.TableCounters.ToList().IndexOf("npt_2m") + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string cell = await devtools.EvaluateAsync(session, $"document.querySelectorAll('tr.trace td')[{column}].textContent", cancel);
            Assert.Equal(huge.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), cell);
            Assert.Equal("true", await devtools.EvaluateAsync(session, "String(document.querySelector('tr.trace').getBoundingClientRect().height > 0)", cancel));
            Assert.Empty(devtools.Errors);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Opens <paramref name="html"/> in a new page target at 1400x1000 and returns the page's session.</summary>
    private static async Task<string> OpenAsync(DevToolsSession devtools, string html, CancellationToken cancel)
    {
        var target = await devtools.SendAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, null, cancel);
        var attached = await devtools.SendAsync(
            "Target.attachToTarget", new JsonObject { ["targetId"] = target.GetProperty("targetId").GetString(), ["flatten"] = true }, null, cancel);
        string session = attached.GetProperty("sessionId").GetString()!;
        foreach (string domain in new[] { "Runtime.enable", "Log.enable", "Page.enable" })
        {
            await devtools.SendAsync(domain, null, session, cancel);
        }

        await devtools.SendAsync(
            "Emulation.setDeviceMetricsOverride",
            new JsonObject { ["width"] = 1400, ["height"] = 1000, ["deviceScaleFactor"] = 1, ["mobile"] = false },
            session,
            cancel);
        await devtools.NavigateAsync(session, new Uri(html), cancel);
        return session;
    }

    private static long[] Counts(HostMemoryMap map)
        => [.. Enumerable.Range(0, 5).Select(s => map.Count((HostRegionState)s))];
}
