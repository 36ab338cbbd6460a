using System.Text.Json;
using System.Text.RegularExpressions;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Reports;

namespace FastRmp.Cli.Tests;

/// <summary>The HTML report as text: escaping, the embedded map data, size, and the --html options.</summary>
public sealed partial class HtmlReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-html-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Render(string title, string source, params ReportRun[] runs)
    {
        using var w = new StringWriter();
        HtmlReport.Write(w, title, source, runs);
        return w.ToString();
    }

    private static KeyValuePair<string, long>[] Counters(params (string, long)[] pairs) => [.. pairs.Select(p => new KeyValuePair<string, long>(p.Item1, p.Item2))];

    private static JsonElement Data(string html)
    {
        var match = DataScript().Match(html);
        Assert.True(match.Success, "no embedded data");
        using var doc = JsonDocument.Parse(match.Groups[1].Value);
        return doc.RootElement.Clone();
    }

    [GeneratedRegex("<script type=\"application/json\" id=\"fastrmp-data\">(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex DataScript();

    [Fact]
    public void Text_is_escaped_in_html_and_in_the_embedded_json()
    {
        const string evil = "</script><script>alert('x')</script> & <marquee>";
        var map = HostMemoryMap.FromRegions(1024, [HostRegionState.Free, HostRegionState.Smashed]);
        string html = Render(evil, evil, new ReportRun(evil, "2m", Counters(("psmash", 1)), map, evil));
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<marquee>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;/script&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;marquee&gt;", html, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(html, "<script", RegexOptions.IgnoreCase)); // the data and the page's own script
        var run = Data(html).GetProperty("runs")[0];
        Assert.Equal(evil, run.GetProperty("label").GetString());
        Assert.Equal(evil, run.GetProperty("group").GetString());
    }

    [Fact]
    public void The_page_is_self_contained()
    {
        var map = HostMemoryMap.FromRegions(512 * 64, [.. Enumerable.Repeat(HostRegionState.Shared, 64)]);
        string html = Render("t", "s", new ReportRun("a", "4k", Counters(("npt_4k", 3)), map));
        Assert.DoesNotMatch("(src|href)\\s*=", html);
        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.Ordinal);
        Assert.Contains("<style>", html, StringComparison.Ordinal);
        Assert.Contains("getContext('2d')", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_table_has_every_counter_and_marks_what_differs()
    {
        var a = new ReportRun("fault-hook", "2m", Counters(("psmash", 0), ("rmp_npf", 1)), null, "g");
        var b = new ReportRun("first-use", "2m", Counters(("psmash", 1), ("rmp_npf", 1)), null, "g");
        string html = Render("t", "s", a, b);
        foreach (string counter in HtmlReport.TableCounters)
        {
            Assert.Contains(counter.Replace("_", "_<wbr>", StringComparison.Ordinal), html, StringComparison.Ordinal);
        }

        Assert.Equal(14, HtmlReport.TableCounters.Count);
        Assert.Equal(2, Regex.Count(html, "<td class=\"differs\">")); // psmash 0 vs 1; rmp_npf equal
        Assert.Contains("&ndash;", html, StringComparison.Ordinal);   // counters the runs do not have
        Assert.Contains("No host memory map", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "rle")]
    [InlineData(7, "nibbles")]
    public void The_embedded_map_decodes_to_the_map(int period, string expected)
    {
        // 3000 regions; period 1 is one long run (run-length wins), period 7 changes state every region (nibbles win).
        var states = Enumerable.Range(0, 3000).Select(i => (HostRegionState)(period == 1 ? 2 : i % 5)).ToArray();
        var map = HostMemoryMap.FromRegions(3000 * 512 - 100, states);
        var data = Data(Render("t", "s", new ReportRun("r", "4k", [], map)));
        var embedded = data.GetProperty("runs")[0].GetProperty("map");
        Assert.Equal(expected, embedded.GetProperty("encoding").GetString());
        Assert.Equal(3000, embedded.GetProperty("regions").GetInt32());
        Assert.Equal(map.HostPages, embedded.GetProperty("pages").GetUInt64());
        var decoded = MapEncoding.Decode(embedded.GetProperty("encoding").GetString()!, embedded.GetProperty("data").GetString()!, 3000);
        Assert.Equal(states, decoded);
    }

    [Fact]
    public void Run_lengths_round_trip_on_random_maps()
    {
        var random = new Random(6);
        for (int n = 1; n < 400; n += 13)
        {
            var states = new HostRegionState[n];
            for (int i = 0; i < n; i++)
            {
                states[i] = random.Next(4) == 0 ? (HostRegionState)random.Next(5) : (i > 0 ? states[i - 1] : HostRegionState.Free);
            }

            var (encoding, base64) = MapEncoding.Encode(states);
            Assert.Equal(states, MapEncoding.Decode(encoding, base64, n));
        }
    }

    [Fact]
    public void A_1_TiB_map_stays_small()
    {
        const int regions = 524_288; // 1 TiB of 2 MiB regions
        var random = new Random(1);
        var worst = new HostRegionState[regions];
        for (int i = 0; i < regions; i++)
        {
            worst[i] = (HostRegionState)random.Next(5);
        }

        var typical = new HostRegionState[regions];
        typical.AsSpan(0, 200_000).Fill(HostRegionState.Private2M);
        typical[5] = HostRegionState.Smashed;
        typical[6] = HostRegionState.Private4K;
        typical.AsSpan(200_000, 100).Fill(HostRegionState.Shared);

        ulong pages = (ulong)regions * 512;
        string one = Render("1 TiB", "s", new ReportRun("worst", "2m", [], HostMemoryMap.FromRegions(pages, worst)));
        Assert.True(one.Length < 400_000, $"a 1 TiB map of random states took {one.Length} bytes");
        var four = Enumerable.Range(0, 4).Select(i => new ReportRun($"p{i}", "2m", [], HostMemoryMap.FromRegions(pages, i == 0 ? worst : typical))).ToArray();
        string page = Render("1 TiB", "s", four);
        Assert.True(page.Length < 500_000, $"four 1 TiB maps took {page.Length} bytes");
        Assert.Contains("one row = 2 GiB", page, StringComparison.Ordinal); // 1024 columns of 2 MiB
    }

    [Fact]
    public void Html_option_writes_the_comparison_with_a_map_per_run()
    {
        string file = Path.Combine(_dir, "all.html");
        var (exit, _, err) = CliRunner.Run("--folio", "2m", "--html", file);
        Assert.Equal(0, exit);
        Assert.Empty(err);
        string html = File.ReadAllText(file);
        var runs = Data(html).GetProperty("runs");
        int expected = (FastRmp.Engine.Scenarios.ScenarioCatalog.All.Length * 4) + 5; // every scenario x 4 policies, and the 5 TDX runs of the side-by-side table
        Assert.Equal(expected, runs.GetArrayLength());
        Assert.All(runs.EnumerateArray(), r => Assert.True(r.TryGetProperty("map", out _)));
        Assert.Equal(expected, Regex.Count(html, "<canvas class=\"map\""));
        Assert.Contains("share-4k-keep, folio 2m", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_option_on_one_scenario()
    {
        string file = Path.Combine(_dir, "one.html");
        var (exit, _, _) = CliRunner.Run("scenario", "psmash-roundtrip", "--folio", "2m", "--policy", "fault-hook", "--html", file);
        Assert.Equal(0, exit);
        string html = File.ReadAllText(file);
        Assert.Contains("<title>FastRmp: psmash-roundtrip, fault-hook, folio 2m</title>", html, StringComparison.Ordinal);
        Assert.Single(Data(html).GetProperty("runs").EnumerateArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Unwritable_html_files_are_one_line_and_exit_1(bool directory)
    {
        string target = directory ? _dir : Path.Combine(_dir, "no-such-dir", "x.html");
        var (exit, output, err) = CliRunner.Run("scenario", "share-4k-keep", "--html", target);
        Assert.Equal(1, exit);
        Assert.Contains("--html", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.DoesNotContain("Exception", output + err, StringComparison.Ordinal);
    }
}
