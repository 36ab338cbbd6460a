namespace FastRmp.Interop.Tracing.Perf;

/// <content>A pipe-mode perf.data saved as a file is read through a forward stream.</content>
public sealed partial class PerfDataFile
{
    /// <summary>A forward-only stream over a <see cref="TraceInput"/> (a pipe-mode perf.data saved as a file).</summary>
    private sealed class TraceInputStream(TraceInput input, bool ownsInput) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => input.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = input.ReadAt(_position, buffer);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && ownsInput)
            {
                input.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
