using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary><see cref="TraceRecordBatch"/>: records copied out of a reader read back as they were, and misuse is an exception, not a wrong record.</summary>
public sealed class TraceRecordBatchTests
{
    [Fact]
    public void Records_read_back_as_the_reader_gave_them_after_it_moved_on()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-batch-{Environment.ProcessId}.dat");
        try
        {
            KvmFixture.Write(path, new TraceDatWriterOptions(7, "none"), faults: 50);
            var batch = new TraceRecordBatch(capacity: 64);
            var expected = new List<string>();
            using (var reader = TraceFile.OpenReader(path))
            {
                while (!batch.IsFull && reader.MoveNext(out var r))
                {
                    expected.Add(Describe(r));
                    batch.Add(r, r.Comm);
                }
            }

            Assert.Equal(64, batch.Count);
            Assert.Equal(expected, Enumerable.Range(0, batch.Count).Select(i => Describe(batch.Record(i))));
            Assert.Throws<InvalidOperationException>(() => batch.Add(default, "x"));
            Assert.Throws<ArgumentOutOfRangeException>(() => batch.Record(64));
            Assert.Throws<ArgumentOutOfRangeException>(() => batch.Timestamp(-1));
            batch.Clear();
            Assert.Equal(0, batch.Count);
            Assert.Throws<ArgumentOutOfRangeException>(() => batch.Record(0));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Describe(in TraceRecord r) =>
        $"{r.Timestamp} {r.Cpu} {r.Pid} {r.Comm} {r.Format.FullName} {Convert.ToHexString(r.Payload)}";
}
