using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace FastRmp.Cli;

/// <summary>
/// Text output formatted straight into a large UTF-8 buffer and written in blocks of 1 MiB: to the standard output
/// stream when the command writes to the console (no UTF-16 round trip, no per-line writes), else to the given
/// <see cref="TextWriter"/> (tests). Also an <see cref="IBufferWriter{T}"/>, so a <c>Utf8JsonWriter</c> writes into it.
/// Not thread-safe.
/// </summary>
internal sealed class Utf8Output : IBufferWriter<byte>, IDisposable
{
    private const int BlockBytes = 1 << 20;
    private readonly Stream? _stream;
    private readonly TextWriter? _writer;
    private byte[] _buffer = new byte[BlockBytes];
    private int _used;

    private Utf8Output(Stream? stream, TextWriter? writer)
    {
        _stream = stream;
        _writer = writer;
    }

    /// <summary>The output for <paramref name="output"/>: the process's standard output stream when that is the console's writer.</summary>
    public static Utf8Output For(TextWriter output)
    {
        if (ReferenceEquals(output, Console.Out))
        {
            Console.Out.Flush(); // what was written through the writer goes first
            return new Utf8Output(Console.OpenStandardOutput(), null);
        }

        return new Utf8Output(null, output);
    }

    /// <summary>Appends UTF-8 bytes.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _used)
        {
            Flush();
            if (bytes.Length > _buffer.Length)
            {
                WriteOut(bytes);
                return;
            }
        }

        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    /// <summary>Appends text, encoded as UTF-8.</summary>
    public void Write(ReadOnlySpan<char> text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (max > BlockBytes)
        {
            Write(Encoding.UTF8.GetBytes(text.ToArray()));
            return;
        }

        int written = Encoding.UTF8.GetBytes(text, GetSpan(max)); // GetSpan may flush: read _used after it
        _used += written;
    }

    /// <summary>Appends one ASCII character.</summary>
    public void Write(char c)
    {
        GetSpan(1)[0] = (byte)c;
        _used++;
    }

    /// <summary>Appends <paramref name="value"/> formatted with <paramref name="format"/> (invariant culture).</summary>
    public void Write<T>(T value, ReadOnlySpan<char> format = default) where T : IUtf8SpanFormattable
    {
        var span = GetSpan(64);
        if (!value.TryFormat(span, out int written, format, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"A value did not fit 64 bytes when formatted as '{format}'.");
        }

        _used += written;
    }

    /// <summary>Appends <paramref name="value"/> in decimal, at least <paramref name="digits"/> digits (zero-padded).</summary>
    public void WriteDecimal(ulong value, byte digits = 0)
    {
        var span = GetSpan(24);
        Utf8Formatter.TryFormat(value, span, out int written, new StandardFormat('D', digits));
        _used += written;
    }

    /// <summary>Appends <paramref name="value"/> in decimal, at least <paramref name="digits"/> digits (zero-padded, after any sign).</summary>
    public void WriteDecimal(long value, byte digits = 0)
    {
        var span = GetSpan(24);
        Utf8Formatter.TryFormat(value, span, out int written, new StandardFormat('D', digits));
        _used += written;
    }

    /// <summary>Appends <paramref name="value"/> in lower-case hex, no prefix, no padding.</summary>
    public void WriteHex(ulong value)
    {
        var span = GetSpan(16);
        Utf8Formatter.TryFormat(value, span, out int written, new StandardFormat('x'));
        _used += written;
    }

    /// <inheritdoc />
    public void Advance(int count) => _used += count;

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_used);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_used);
    }

    /// <summary>Writes out what is buffered.</summary>
    public void Flush()
    {
        if (_used > 0)
        {
            WriteOut(_buffer.AsSpan(0, _used));
            _used = 0;
        }

        _stream?.Flush();
    }

    /// <summary>Flushes; the standard output stream stays open.</summary>
    public void Dispose() => Flush();

    private void Reserve(int sizeHint)
    {
        int need = Math.Max(sizeHint, 1);
        if (_buffer.Length - _used >= need)
        {
            return;
        }

        Flush();
        if (_buffer.Length < need)
        {
            _buffer = new byte[need];
        }
    }

    private void WriteOut(ReadOnlySpan<byte> bytes)
    {
        if (_stream is not null)
        {
            _stream.Write(bytes);
        }
        else
        {
            _writer!.Write(Encoding.UTF8.GetString(bytes));
        }
    }
}
