using Microsoft.Win32.SafeHandles;

namespace FastRmp.Interop.Tracing;

/// <summary>Random-access bytes of a trace: a file read with positioned reads, or memory (tests, fuzzing). Reads at offsets without shared position: thread-safe for concurrent reads; disposing while another thread reads is not.</summary>
/// <remarks>Positioned reads keep memory bounded for files of any size; nothing is mapped or read whole.</remarks>
public abstract class TraceInput : IDisposable
{
    /// <summary>A name for messages (the path, or <c>&lt;memory&gt;</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Total length in bytes.</summary>
    public abstract long Length { get; }

    /// <summary>Opens a file for positioned reads.</summary>
    public static TraceInput FromFile(string path) => new FileInput(path);

    /// <summary>Reads a seekable handle with positioned reads; disposing the input disposes <paramref name="owner"/> (or the handle when it is null).</summary>
    public static TraceInput FromHandle(SafeFileHandle handle, string name, IDisposable? owner = null) => new FileInput(handle, name, owner);

    /// <summary>Wraps bytes already in memory.</summary>
    public static TraceInput FromMemory(ReadOnlyMemory<byte> bytes, string name = "<memory>") => new MemoryInput(bytes, name);

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>; returns the count read (short only at the end).</summary>
    public abstract int ReadAt(long offset, Span<byte> destination);

    /// <summary>Reads exactly <c>destination.Length</c> bytes or throws a <see cref="TraceFormatException"/> naming <paramref name="what"/>.</summary>
    public void ReadExactly(long offset, Span<byte> destination, string what)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (offset < 0 || offset > Length || destination.Length > Length - offset)
        {
            throw new TraceFormatException($"{Name}: truncated: {what} needs {destination.Length} bytes at offset 0x{offset:x} but the file has {Length} bytes");
        }

        int n = ReadAt(offset, destination);
        if (n != destination.Length)
        {
            throw new TraceFormatException($"{Name}: truncated: {what} at offset 0x{offset:x}");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        IsDisposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>True once disposed: reads then throw <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Releases the file handle.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class FileInput : TraceInput
    {
        private readonly SafeFileHandle _handle;
        private readonly IDisposable _owner;

        public FileInput(string path)
            : this(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess), path, null)
        {
        }

        public FileInput(SafeFileHandle handle, string name, IDisposable? owner)
        {
            Name = name;
            _handle = handle;
            _owner = owner ?? handle;
            try
            {
                Length = RandomAccess.GetLength(_handle);
            }
            catch
            {
                _owner.Dispose();
                throw;
            }
        }

        public override string Name { get; }

        public override long Length { get; }

        public override int ReadAt(long offset, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            int total = 0;
            while (total < destination.Length)
            {
                int n = RandomAccess.Read(_handle, destination[total..], offset + total);
                if (n <= 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _owner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class MemoryInput(ReadOnlyMemory<byte> bytes, string name) : TraceInput
    {
        public override string Name => name;

        public override long Length => bytes.Length;

        public override int ReadAt(long offset, Span<byte> destination)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            if (offset < 0 || offset >= bytes.Length)
            {
                return 0;
            }

            var src = bytes.Span[(int)offset..];
            int n = Math.Min(src.Length, destination.Length);
            src[..n].CopyTo(destination);
            return n;
        }
    }
}
