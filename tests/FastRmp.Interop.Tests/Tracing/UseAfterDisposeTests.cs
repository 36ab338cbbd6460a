using System.Text;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// Issue 18, item 11, for the readers: each public disposable type of the tracing API, disposed twice, then used,
/// throws <see cref="ObjectDisposedException"/> (a trace.dat reader's page buffers are gone after Dispose, so reading
/// on would read memory that is no longer the reader's). The engine's native owners are probed in
/// FastRmp.Engine.Tests (DisposeProbeTests).
/// </summary>
public sealed class UseAfterDisposeTests
{
    private static byte[] SmallDat()
    {
        var w = new KvmTraceWriter(new TraceDatWriterOptions(7, "zstd", 1));
        w.PageFault(0, 1000, 7001, 0, 0x200000, 0x500000004);
        w.SpteRequested(0, 1001, 7001, 0x200, 0x1234, 1);
        var stream = new MemoryStream();
        w.Writer.WriteTo(stream);
        return stream.ToArray();
    }

    [Fact]
    public void A_disposed_trace_dat_reader_throws()
    {
        using var file = TraceDatFile.Open(TraceInput.FromMemory(SmallDat()), ownsInput: true);
        var reader = file.CreateReader();
        Assert.True(reader.MoveNext(out _));
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.MoveNext(out _));
    }

    [Fact]
    public void A_disposed_trace_dat_file_and_its_input_throw()
    {
        var input = TraceInput.FromMemory(SmallDat());
        var file = TraceDatFile.Open(input, ownsInput: true);
        file.Dispose();
        file.Dispose();
        Assert.True(input.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => file.CreateReader());
        Assert.Throws<ObjectDisposedException>(() => input.ReadAt(0, new byte[4]));
        Assert.Throws<ObjectDisposedException>(() => input.ReadExactly(0, new byte[4], "magic"));
    }

    [Fact]
    public void A_disposed_file_input_throws()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-dispose-{Environment.ProcessId}.dat");
        File.WriteAllBytes(path, SmallDat());
        try
        {
            var input = TraceInput.FromFile(path);
            input.Dispose();
            input.Dispose();
            Assert.Throws<ObjectDisposedException>(() => input.ReadAt(0, new byte[4]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_disposed_text_reader_throws()
    {
        var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes("# tracer: nop\n a-1 [000] 1.000001: kvm_entry: vcpu 0, rip 0x0\n a-1 [000] 1.000002: kvm_entry: vcpu 0, rip 0x0\n"));
        Assert.True(reader.MoveNext(out _));
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.MoveNext(out _));
    }

    [Fact]
    public void A_disposed_reader_of_any_input_throws()
    {
        var reader = TraceFile.OpenReader(new MemoryStream(SmallDat()), "pipe");
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.MoveNext(out _));
    }
}
