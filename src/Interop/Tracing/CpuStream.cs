using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Walks one CPU's ring-buffer sub-buffers in a trace.dat and yields its events in order. Holds one block of
/// sub-buffers (uncompressed) or one decompressed chunk at a time.
/// </summary>
/// <remarks>
/// Models the kernel ring-buffer page format as read by kbuffer (traces.md section 2.4): page header (timestamp,
/// commit word with lost-event bits 31/30), 4-byte aligned entries with a 5-bit type_len and 27-bit time delta
/// (bit order reversed on big-endian), type_len 0 (length word), 29 padding, 30 time extend, 31 absolute timestamp.
/// Damage confined to a sub-buffer or chunk is recorded in <see cref="TraceReadStats"/> and skipped. Used from one
/// thread; compressed chunks are prefetched on the thread pool (see CpuStream.Chunks.cs).
/// </remarks>
internal sealed partial class CpuStream
{
    private const int BlockPages = 16;
    private const uint CommitMask = (1u << 27) - 1;
    private const int MaxChunkBytes = 256 << 20;
    private const int MaxChunkPages = 256; // 25 times what trace-cmd writes (10 pages per chunk)
    private readonly TraceInput _input;
    private readonly ChunkDecompressor? _decompressor;
    private readonly TraceReadStats _stats;
    private readonly bool _be;
    private readonly int _pageSize;
    private readonly PageHeaderLayout _layout;
    private readonly bool _compressed;
    private readonly long _end;
    private readonly int _blockBytes;
    private byte[] _buf = [];
    private int _bufLen;
    private long _bufFileOffset;
    private long _next;
    private long _chunksLeft;
    private int _pageStart;
    private int _p;
    private int _pEnd;
    private ulong _ts;
    private bool _started;

    public CpuStream(TraceInput input, CpuData data, int pageSize, PageHeaderLayout layout, bool bigEndian, bool compressed, ChunkDecompressor? decompressor, TraceReadStats stats)
    {
        _input = input;
        _blockBytes = BlockBytes(pageSize);
        Cpu = data.Cpu;
        _pageSize = pageSize;
        _layout = layout;
        _be = bigEndian;
        _compressed = compressed;
        _decompressor = decompressor;
        _stats = stats;
        _next = data.Offset;
        _end = compressed ? input.Length : data.Offset + data.Size;
        if (compressed && data.Size > 0)
        {
            Span<byte> w = stackalloc byte[4];
            if (input.ReadAt(data.Offset, w) == 4)
            {
                _chunksLeft = _be ? BinaryPrimitives.ReadUInt32BigEndian(w) : BinaryPrimitives.ReadUInt32LittleEndian(w);
                _next = data.Offset + 4;
                if (_chunksLeft > (input.Length - _next) / 8)
                {
                    _stats.AddDamage(new TraceDamage(Cpu, data.Offset, $"CPU data: chunk count {_chunksLeft} larger than the file allows"));
                    _chunksLeft = 0;
                }
            }
            else
            {
                _stats.AddDamage(new TraceDamage(Cpu, data.Offset, "truncated chunk count"));
            }
        }
    }

    public int Cpu { get; }

    public ulong Timestamp { get; private set; }

    public int PayloadOffset { get; private set; }

    public int PayloadLength { get; private set; }

    public byte[] Buffer => _buf;

    /// <summary>Moves to the next data event; false at the end of this CPU's data.</summary>
    /// <remarks>
    /// The common entry (type_len 1..28: a data event of up to 112 bytes) is decoded here with the position and clock
    /// in locals; length-word events, padding, time stamps, page ends and damage go through <see cref="SlowEntry"/>.
    /// </remarks>
    public bool MoveNext()
    {
        ref byte buf = ref MemoryMarshal.GetArrayDataReference(_buf);
        int p = _p;
        int end = _pEnd;
        if (end - p >= 4)
        {
            uint hdr = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref buf, p));
            int typeLen;
            uint delta;
            if (_be)
            {
                hdr = BinaryPrimitives.ReverseEndianness(hdr);
                typeLen = (int)(hdr >> 27);
                delta = hdr & CommitMask;
            }
            else
            {
                typeLen = (int)(hdr & 31);
                delta = hdr >> 5;
            }

            int payload = typeLen * 4;
            if ((uint)(typeLen - 1) < 28u && payload <= end - p - 4)
            {
                ulong ts = _ts + delta;
                _ts = ts;
                Timestamp = ts;
                PayloadOffset = p + 4;
                PayloadLength = payload;
                _p = p + 4 + payload;
                return true;
            }
        }

        return SlowEntry();
    }

    /// <summary>Everything but a short data event: other entry types, the next page, damage. False at the end of the data.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SlowEntry()
    {
        while (true)
        {
            if (_p < _pEnd)
            {
                if (TryDecodeEntry())
                {
                    return true;
                }

                continue;
            }

            if (!NextPage())
            {
                return false;
            }
        }
    }

    private bool TryDecodeEntry()
    {
        var buf = _buf;
        int p = _p;
        int left = _pEnd - p;
        if (left < 4)
        {
            Corrupt("event header past the commit");
            return false;
        }

        uint hdr = Read32(buf, p);
        int typeLen;
        uint delta;
        if (_be)
        {
            typeLen = (int)(hdr >> 27);
            delta = hdr & CommitMask;
        }
        else
        {
            typeLen = (int)(hdr & 31);
            delta = hdr >> 5;
        }

        int payload;
        int dataAt;
        int advance;
        if (typeLen >= 29)
        {
            if (typeLen == 29 && delta == 0)
            {
                _p = _pEnd;
                return false;
            }

            if (left < 8)
            {
                Corrupt("extended entry past the commit");
                return false;
            }

            uint array0 = Read32(buf, p + 4);
            if (typeLen == 29)
            {
                if (array0 > (uint)(left - 4))
                {
                    Corrupt("padding past the commit");
                    return false;
                }

                _p = p + 4 + (int)((array0 + 3) & ~3u);
                return false;
            }

            _ts = typeLen == 30 ? _ts + ((ulong)array0 << 27) + delta : ((ulong)array0 << 27) | delta | (_ts & 0xF800_0000_0000_0000UL);
            _p = p + 8;
            return false;
        }

        if (typeLen == 0)
        {
            if (left < 8)
            {
                Corrupt("length word past the commit");
                return false;
            }

            uint len = Read32(buf, p + 4);
            if (len < 4 || len - 4 > (uint)(left - 8))
            {
                Corrupt($"event length {len} does not fit the sub-buffer");
                return false;
            }

            payload = (int)len - 4;
            dataAt = p + 8;
            advance = (payload + 3) & ~3;
        }
        else
        {
            payload = typeLen * 4;
            dataAt = p + 4;
            advance = payload;
            if (payload > left - 4)
            {
                Corrupt("event past the commit");
                return false;
            }
        }

        _ts += delta;
        _p = Math.Min(dataAt + advance, _pEnd);
        if (payload < 2)
        {
            return false;
        }

        Timestamp = _ts;
        PayloadOffset = dataAt;
        PayloadLength = payload;
        return true;
    }

    private bool NextPage()
    {
        while (true)
        {
            if (_started)
            {
                _pageStart += _pageSize;
            }

            _started = true;
            if (_pageStart + _layout.DataOffset > _bufLen)
            {
                if (!Refill())
                {
                    return false;
                }

                _pageStart = 0;
                if (_layout.DataOffset > _bufLen)
                {
                    // fewer bytes than a sub-buffer header (a CPU section or chunk of a few bytes): damage, then on
                    _stats.AddDamage(new TraceDamage(Cpu, PageFileOffset(), $"truncated sub-buffer ({_bufLen} bytes; its header alone is {_layout.DataOffset})"));
                    _pageStart = _bufLen;
                    continue;
                }
            }

            int avail = Math.Min(_pageSize, _bufLen - _pageStart);
            var buf = _buf;
            ulong ts = Read64(buf, _pageStart);
            ulong commit = _layout.CommitSize == 8 ? Read64(buf, _pageStart + _layout.CommitOffset) : Read32(buf, _pageStart + _layout.CommitOffset);
            int size = (int)(commit & CommitMask);
            if ((commit >> 32) != 0 || size > avail - _layout.DataOffset)
            {
                _stats.AddDamage(new TraceDamage(Cpu, PageFileOffset(), $"corrupt sub-buffer (commit 0x{commit:x} exceeds the {avail - _layout.DataOffset} data bytes)"));
                continue;
            }

            if ((commit & (1u << 31)) != 0)
            {
                _stats.LostEventMarks++;
                int at = _pageStart + _layout.DataOffset + size;
                if ((commit & (1u << 30)) != 0 && at + _layout.CommitSize <= _pageStart + avail)
                {
                    ulong lost = _layout.CommitSize == 8 ? Read64(buf, at) : Read32(buf, at);
                    _stats.LostEvents += (long)Math.Min(lost, int.MaxValue);
                }
            }

            _ts = ts;
            _p = _pageStart + _layout.DataOffset;
            _pEnd = _p + size;
            return true;
        }
    }

    private bool Refill()
    {
        _bufLen = 0;
        if (!_compressed)
        {
            if (_next >= _end)
            {
                return false;
            }

            int n = (int)Math.Min(_blockBytes, _end - _next);
            Ensure(ref _buf, n);
            int got = _input.ReadAt(_next, _buf.AsSpan(0, n));
            _bufFileOffset = _next;
            _next += n;
            _stats.BytesRead += Math.Max(got, 0);
            if (got < n)
            {
                _stats.AddDamage(new TraceDamage(Cpu, _bufFileOffset + got, $"truncated CPU data ({n - got} bytes missing)"));
                _next = _end;
            }

            _bufLen = got;
            return _bufLen > 0 || Refill();
        }

        return RefillChunk();
    }

    /// <summary>
    /// Bytes read at a time from uncompressed data: 16 sub-buffers (64 KiB with 4 KiB pages: below the large-object
    /// heap, and several CPUs' blocks stay in the L2 cache; larger blocks measured no faster).
    /// </summary>
    internal static int BlockBytes(int pageSize) => BlockPages * pageSize;

    private long PageFileOffset() => _compressed ? _bufFileOffset : _bufFileOffset + _pageStart;

    private void Corrupt(string what)
    {
        string where = _compressed ? $" (sub-buffer {_pageStart / _pageSize} of the chunk)" : "";
        _stats.AddDamage(new TraceDamage(Cpu, PageFileOffset(), $"corrupt sub-buffer: {what}{where}"));
        _p = _pEnd;
    }

    private static void Ensure(ref byte[] buffer, int size)
    {
        if (buffer.Length < size)
        {
            buffer = new byte[Math.Max(size, buffer.Length * 2)];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Read32(byte[] b, int at) => _be ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at, 4)) : BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at, 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Read64(byte[] b, int at) => _be ? BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(at, 8)) : BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at, 8));
}
