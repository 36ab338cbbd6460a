using FastRmp.Export.Perfetto;

namespace FastRmp.Export.Tests.Perfetto;

/// <summary>What keeps memory bounded on hostile input: thread tracks and interned names stop growing at their limits, and the file stays valid.</summary>
public class PerfettoBoundsTests
{
    [Fact]
    public void Threads_past_the_limit_share_one_track()
    {
        using var output = new MemoryStream();
        int threads = RecordEvents.MaxThreads + 100;
        using (var writer = new PerfettoWriter(output, leaveOpen: true))
        {
            var records = new RecordEvents(writer);
            ulong name = writer.EventName("e");
            for (int tid = 1; tid <= threads; tid++)
            {
                ulong track = records.ThreadUuid(tid, 0, "t");
                writer.BeginInstant((ulong)tid, track, 0, "e", name);
                writer.EndEvent();
            }

            writer.Flush();
        }

        var view = PerfettoView.Read(output.ToArray());
        Assert.Equal(threads, view.Events.Count);
        Assert.Equal(RecordEvents.MaxThreads, view.Tracks.Values.Count(t => t.Tid is not null));
        var other = Assert.Single(view.Tracks.Values, t => t.Name == "other threads");
        Assert.Equal(100, view.Events.Count(e => e.Track == other.Uuid));
    }

    [Fact]
    public void A_thread_whose_comm_changes_is_described_again_under_the_same_track()
    {
        using var output = new MemoryStream();
        using (var writer = new PerfettoWriter(output, leaveOpen: true))
        {
            var records = new RecordEvents(writer);
            ulong a = records.ThreadUuid(42, 0, "qemu-system-x86");
            ulong b = records.ThreadUuid(42, 0, "qemu-system-x86");
            ulong c = records.ThreadUuid(42, 0, "CPU 0/KVM");
            Assert.Equal(a, b);
            Assert.Equal(a, c);
            Assert.Equal(2, writer.Tracks);
            writer.Flush();
        }

        var view = PerfettoView.Read(output.ToArray());
        Assert.Equal("CPU 0/KVM", Assert.Single(view.Tracks.Values).ThreadName);
        Assert.Equal(2, view.Descriptors);
    }

    [Fact]
    public void Names_past_the_interning_limit_are_written_inline()
    {
        using var output = new MemoryStream();
        int names = PerfettoWriter.MaxInterned + 10;
        using (var writer = new PerfettoWriter(output, leaveOpen: true))
        {
            ulong track = writer.NewUuid();
            writer.DescribeTrack(track, "t");
            for (int i = 0; i < names; i++)
            {
                string argName = $"field{i}";
                writer.BeginInstant((ulong)i + 1, track, writer.Category("c"), "e", writer.EventName("e"));
                writer.ArgUInt(writer.AnnotationName(argName), argName, (ulong)i);
                writer.EndEvent();
            }

            Assert.Equal(0UL, writer.AnnotationName("one more")); // no more ids
            Assert.NotEqual(0UL, writer.AnnotationName("field0")); // the first ones keep theirs
            writer.Flush();
        }

        var view = PerfettoView.Read(output.ToArray());
        Assert.Equal(names, view.Events.Count);
        for (int i = 0; i < names; i++)
        {
            Assert.Equal((ulong)i, view.Events[i].Args[$"field{i}"]);
        }
    }
}
