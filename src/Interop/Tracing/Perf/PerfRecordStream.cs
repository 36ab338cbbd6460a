namespace FastRmp.Interop.Tracing.Perf;

/// <summary>
/// The records of a perf.data data section in file order, read forward through one buffer: from a file section with
/// positioned reads, or from a pipe. <c>PERF_RECORD_COMPRESSED</c> records are opened in place: their zstd stream is
/// decompressed a buffer at a time and the records inside come out as if they had been in the file.
/// </summary>
/// <remarks>
/// Source: tools/perf/Documentation/perf.data-file-format.txt and tools/perf/util/session.c / zstd.c of Linux 6.18:
/// every record starts with <c>u32 type, u16 misc, u16 size</c>; the compressed records of one file form one zstd
/// stream (perf flushes, it does not end the frame, after each record), so a record inside may continue from one
/// compressed record into the next. Memory is one 1 MiB buffer (a second one once compressed data is met) and one
/// compressed payload (&lt; 64 KiB with the u16 size of <c>COMPRESSED</c>; <c>COMPRESSED2</c>'s u64 size is bounded by
/// the record). Damage: a record whose size is below 8 leaves no way to find the next one, so the rest of that stream
/// is skipped and counted; a truncated last record is counted. Not thread-safe.
/// </remarks>
internal sealed class PerfRecordStream : IDisposable
{
    private const int BufferSize = 1 << 20;
    private const int MaxCompressedPayload = 64 << 20;
    private const int MaxTrailingBytes = 1 << 30;

    private readonly TraceInput? _input;
    private readonly Stream? _stream;
    private readonly long _end;
    private readonly string _name;
    private readonly PerfByteOrder _order;
    private readonly byte[] _buf = new byte[BufferSize];
    private int _start;
    private int _endInBuf;
    private long _bufOffset;
    private bool _sourceDone;

    private ZstdSharp.Decompressor? _zstd;
    private byte[] _zIn = [];
    private int _zInPos;
    private int _zInLen;
    private bool _zPending;
    private long _zOffset;
    private byte[] _inner = [];
    private int _iStart;
    private int _iEnd;

    private bool _fromInner;
    private int _recStart;
    private int _recSize;

    /// <summary>Reads the section [<paramref name="offset"/>, +<paramref name="size"/>) of <paramref name="input"/>; a section past the end of the file is read up to it and the rest reported.</summary>
    public PerfRecordStream(TraceInput input, long offset, long size, string name, PerfByteOrder order)
    {
        _input = input;
        _bufOffset = offset;
        _end = size > input.Length - offset ? input.Length : offset + size;
        DeclaredEnd = size > long.MaxValue - offset ? long.MaxValue : offset + size;
        _name = name;
        _order = order;
    }

    /// <summary>Reads a pipe from its current position, which is file offset <paramref name="offset"/>.</summary>
    public PerfRecordStream(Stream stream, long offset, string name, PerfByteOrder order)
    {
        _stream = stream;
        _bufOffset = offset;
        _end = long.MaxValue;
        DeclaredEnd = long.MaxValue;
        _name = name;
        _order = order;
    }

    /// <summary>Where the header says the data section ends (long.MaxValue for a pipe).</summary>
    public long DeclaredEnd { get; }

    /// <summary>Input bytes consumed so far.</summary>
    public long Position => _bufOffset;

    /// <summary>The damage met while finding records (the reader adds it to its stats).</summary>
    public List<TraceDamage> Damage { get; } = [];

    /// <summary>Compressed records opened so far.</summary>
    public long CompressedRecords { get; private set; }

    /// <summary>The current record's type.</summary>
    public uint Type { get; private set; }

    /// <summary>The current record's misc bits.</summary>
    public ushort Misc { get; private set; }

    /// <summary>File offset of the current record (inside compressed data: of the compressed record it came out of).</summary>
    public long Offset { get; private set; }

    /// <summary>True when the current record came out of compressed data.</summary>
    public bool IsCompressedContent => _fromInner;

    /// <summary>The current record, header included; valid until the next call.</summary>
    public ReadOnlySpan<byte> Record => (_fromInner ? _inner : _buf).AsSpan(_recStart, _recSize);

    /// <summary>Moves to the next record; false at the end of the data.</summary>
    public bool MoveNext()
    {
        if (!_fromInner && _recSize > 0)
        {
            Consume(_recSize);
        }

        _recSize = 0;
        _fromInner = false;
        while (true)
        {
            if (TakeInner())
            {
                return true;
            }

            if (_zPending)
            {
                Inflate();
                continue;
            }

            if (!TakeOuter())
            {
                if (_iEnd > _iStart)
                {
                    Damage.Add(new TraceDamage(TraceDamage.NoCpu, _zOffset, $"{_iEnd - _iStart} bytes of a record cut off at the end of the compressed data"));
                    _iStart = _iEnd = 0;
                }

                return false;
            }

            if (Type is PerfRecordType.Compressed or PerfRecordType.Compressed2)
            {
                StartCompressed();
                Consume(_recSize);
                _recSize = 0;
                continue;
            }

            return true;
        }
    }

    /// <summary>
    /// Reads <paramref name="size"/> bytes that follow the current record outside its size (pipe mode's tracing
    /// data), then skips padding up to a multiple of 8. The result grows with the bytes that actually arrive, so a
    /// lying size costs no memory.
    /// </summary>
    /// <exception cref="TraceFormatException">The input ends first.</exception>
    public byte[] ReadTrailingBytes(long size, string what)
    {
        if (_fromInner)
        {
            throw new TraceFormatException($"{_name}: {what} record inside the compressed record at offset 0x{Offset:x} (perf writes it outside compressed data)");
        }

        long at = Offset + _recSize;
        Consume(_recSize);
        _recSize = 0;
        if (size > MaxTrailingBytes)
        {
            throw new TraceFormatException($"{_name}: {what} of {size} bytes at offset 0x{at:x} is more than FastRmp reads ({MaxTrailingBytes} bytes)");
        }

        if (size > _end - _bufOffset)
        {
            throw new TraceFormatException($"{_name}: truncated: {what} of {size} bytes at offset 0x{at:x} runs past the end of the input");
        }

        var result = new byte[Math.Min(size, BufferSize)];
        long got = 0;
        while (got < size)
        {
            if (_endInBuf == _start && !Fill())
            {
                throw new TraceFormatException($"{_name}: truncated: {what} of {size} bytes at offset 0x{at:x}: the input ends after {got}");
            }

            int n = (int)Math.Min(_endInBuf - _start, size - got);
            if (got + n > result.Length)
            {
                Array.Resize(ref result, (int)Math.Min(size, Math.Max(result.Length * 2L, got + n)));
            }

            _buf.AsSpan(_start, n).CopyTo(result.AsSpan((int)got));
            got += n;
            Consume(n);
        }

        long pad = ((size + 7) & ~7L) - size;
        while (pad > 0 && (_endInBuf > _start || Fill()))
        {
            int n = (int)Math.Min(pad, _endInBuf - _start);
            Consume(n);
            pad -= n;
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => _zstd?.Dispose();

    private void Consume(int n)
    {
        _start += n;
        _bufOffset += n;
    }

    private bool TakeOuter()
    {
        if (!Ensure(PerfRecordType.HeaderSize))
        {
            if (_endInBuf > _start)
            {
                Damage.Add(new TraceDamage(TraceDamage.NoCpu, _bufOffset, $"{_endInBuf - _start} bytes at the end of the data, too few for a record header"));
                Consume(_endInBuf - _start);
            }

            ReportShortSection();
            return false;
        }

        var h = _buf.AsSpan(_start, PerfRecordType.HeaderSize);
        Type = _order.U32(h, 0);
        Misc = _order.U16(h, 4);
        int size = _order.U16(h, 6);
        Offset = _bufOffset;
        if (size < PerfRecordType.HeaderSize)
        {
            long rest = _end == long.MaxValue ? -1 : _end - _bufOffset;
            Damage.Add(new TraceDamage(TraceDamage.NoCpu, _bufOffset, $"record of type {Type} with size {size} (below the 8-byte header), so no later record can be found; the rest of the data{(rest >= 0 ? $" ({rest} bytes)" : "")}"));
            SkipRest();
            return false;
        }

        if (!Ensure(size))
        {
            Damage.Add(new TraceDamage(TraceDamage.NoCpu, _bufOffset, $"record of type {Type} and {size} bytes cut off by the end of the data ({_endInBuf - _start} bytes left)"));
            Consume(_endInBuf - _start);
            ReportShortSection();
            return false;
        }

        _recStart = _start;
        _recSize = size;
        return true;
    }

    private void ReportShortSection()
    {
        if (_input is not null && DeclaredEnd > _end)
        {
            Damage.Add(new TraceDamage(TraceDamage.NoCpu, _end, $"data section: the header says it ends at offset 0x{DeclaredEnd:x} but the file ends at 0x{_end:x} (truncated file)"));
        }
    }

    private void SkipRest()
    {
        _bufOffset += _endInBuf - _start;
        _start = _endInBuf = 0;
        _sourceDone = true;
        _zPending = false;
        _iStart = _iEnd = 0;
    }

    /// <summary>Makes <paramref name="n"/> bytes available at <see cref="_start"/> (n &lt;= 64 KiB); false at the end of the input.</summary>
    private bool Ensure(int n)
    {
        while (_endInBuf - _start < n)
        {
            if (!Fill())
            {
                return false;
            }
        }

        return true;
    }

    private bool Fill()
    {
        if (_sourceDone)
        {
            return false;
        }

        if (_start > 0)
        {
            _buf.AsSpan(_start, _endInBuf - _start).CopyTo(_buf);
            _endInBuf -= _start;
            _start = 0;
        }

        var free = _buf.AsSpan(_endInBuf);
        int n;
        if (_input is not null)
        {
            long next = _bufOffset + (_endInBuf - _start);
            long left = _end - next;
            n = left <= 0 ? 0 : _input.ReadAt(next, free[..(int)Math.Min(free.Length, left)]);
        }
        else
        {
            n = _stream!.Read(free);
        }

        if (n <= 0)
        {
            _sourceDone = true;
            return false;
        }

        _endInBuf += n;
        return true;
    }

    private void StartCompressed()
    {
        var rec = _buf.AsSpan(_recStart, _recSize);
        var payload = rec[PerfRecordType.HeaderSize..];
        if (Type == PerfRecordType.Compressed2)
        {
            // COMPRESSED2 (perf 6.14+): u64 data_size, then the data, padded to 8 bytes.
            ulong dataSize = payload.Length >= 8 ? _order.U64(payload, 0) : ulong.MaxValue;
            if (dataSize > (ulong)(payload.Length - 8))
            {
                Damage.Add(new TraceDamage(TraceDamage.NoCpu, Offset, $"compressed record whose data size {dataSize} exceeds the record"));
                return;
            }

            payload = payload.Slice(8, (int)dataSize);
        }

        CompressedRecords++;
        _zstd ??= new ZstdSharp.Decompressor();
        if (_inner.Length == 0)
        {
            _inner = new byte[BufferSize];
        }

        if (_zIn.Length < payload.Length)
        {
            _zIn = new byte[Math.Min(Math.Max(payload.Length, 64 * 1024), MaxCompressedPayload)];
        }

        payload.CopyTo(_zIn);
        _zInPos = 0;
        _zInLen = payload.Length;
        _zPending = true;
        _zOffset = Offset;
    }

    private void Inflate()
    {
        if (_iStart > 0)
        {
            _inner.AsSpan(_iStart, _iEnd - _iStart).CopyTo(_inner);
            _iEnd -= _iStart;
            _iStart = 0;
        }

        int consumed;
        int written;
        string? error = null;
        try
        {
            if (_zstd!.UnwrapStream(_zIn.AsSpan(_zInPos, _zInLen - _zInPos), _inner.AsSpan(_iEnd), out consumed, out written) == System.Buffers.OperationStatus.InvalidData)
            {
                error = "invalid zstd data";
            }
        }
        catch (ZstdSharp.ZstdException ex)
        {
            (consumed, written, error) = (0, 0, ex.Message);
        }

        if (error is not null)
        {
            Damage.Add(new TraceDamage(TraceDamage.NoCpu, _zOffset, $"compressed record that does not decompress ({error}); the compressed records after it start afresh"));
            ResetCompression();
            return;
        }

        _zInPos += consumed;
        _iEnd += written;
        if (written == 0 && (consumed == 0 || _zInPos >= _zInLen))
        {
            _zPending = false;
        }
    }

    private void ResetCompression()
    {
        _zPending = false;
        _iStart = _iEnd = 0;
        _zstd?.ResetStream();
    }

    private bool TakeInner()
    {
        int avail = _iEnd - _iStart;
        if (avail < PerfRecordType.HeaderSize)
        {
            return false;
        }

        var h = _inner.AsSpan(_iStart, PerfRecordType.HeaderSize);
        int size = _order.U16(h, 6);
        if (size < PerfRecordType.HeaderSize)
        {
            Damage.Add(new TraceDamage(TraceDamage.NoCpu, _zOffset, $"record of size {size} inside compressed data, so no later record there can be found; the compressed stream is dropped up to the next compressed record"));
            ResetCompression();
            return false;
        }

        if (size > avail)
        {
            return false;
        }

        Type = _order.U32(h, 0);
        Misc = _order.U16(h, 4);
        Offset = _zOffset;
        _fromInner = true;
        _recStart = _iStart;
        _recSize = size;
        _iStart += size;
        return true;
    }
}
