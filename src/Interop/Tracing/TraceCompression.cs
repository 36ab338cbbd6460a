using System.Buffers.Binary;
using System.IO.Compression;

namespace FastRmp.Interop.Tracing;

/// <summary>The whole-file compressions FastRmp reads around a trace (text or trace.dat).</summary>
public enum TraceCompressionKind
{
    /// <summary>Not compressed.</summary>
    None,

    /// <summary>gzip (RFC 1952), <c>.gz</c>.</summary>
    Gzip,

    /// <summary>xz (LZMA2), <c>.xz</c>.</summary>
    Xz,

    /// <summary>Zstandard frames, <c>.zst</c>.</summary>
    Zstd,
}

/// <summary>Tells a compressed trace by its magic bytes and decompresses it as a forward-only stream.</summary>
/// <remarks>
/// The magic decides, not the file name: <c>1f 8b</c> gzip, <c>fd 37 7a 58 5a 00</c> xz, <c>28 b5 2f fd</c> zstd
/// (RFC 1952, the xz file format 1.2, RFC 8878). Decompression streams: text goes through the text reader's 1 MiB
/// blocks and a trace.dat to a temporary file, so a decompression bomb costs disk (bounded by it), never memory.
/// gzip is the BCL's; zstd is ZstdSharp.Port (already used for trace.dat v7 chunks); xz is SharpCompress's managed
/// decoder. A corrupt or truncated stream ends with a <see cref="TraceFormatException"/> naming the input and how far
/// it got.
/// </remarks>
public static class TraceCompression
{
    /// <summary>The compression <paramref name="head"/> starts with, or <see cref="TraceCompressionKind.None"/>.</summary>
    public static TraceCompressionKind Detect(ReadOnlySpan<byte> head) =>
        head.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b]) ? TraceCompressionKind.Gzip
        : head.StartsWith((ReadOnlySpan<byte>)[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ? TraceCompressionKind.Xz
        : head.StartsWith((ReadOnlySpan<byte>)[0x28, 0xb5, 0x2f, 0xfd]) ? TraceCompressionKind.Zstd
        : TraceCompressionKind.None;

    /// <summary>Wraps <paramref name="compressed"/> (owned) in a decompressing stream whose errors name <paramref name="name"/>.</summary>
    internal static Stream Decompress(TraceCompressionKind kind, Stream compressed, string name)
    {
        var tail = kind == TraceCompressionKind.Gzip ? new TailStream(compressed) : null;
        Stream inner = kind switch
        {
            TraceCompressionKind.Gzip => new GZipStream(tail!, CompressionMode.Decompress, leaveOpen: false),
            TraceCompressionKind.Zstd => new ZstdSharp.DecompressionStream(compressed, leaveOpen: false),
            TraceCompressionKind.Xz => new SharpCompress.Compressors.Xz.XZStream(compressed),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return new GuardedStream(inner, compressed, tail, kind, name);
    }

    /// <summary>Turns a decoder's exceptions into one-line input errors and closes the compressed stream with it.</summary>
    /// <remarks>
    /// GZipStream ends quietly when its input stops in the middle of a member, which would make a truncated
    /// <c>.gz</c> a shorter trace; so at the end the last member's trailer (ISIZE, the size modulo 2^32, RFC 1952
    /// 2.3.1) must match what came out. Concatenated members (<c>cat a.gz b.gz</c>) fail that check too and are
    /// told to go through <c>zcat</c>.
    /// </remarks>
    private sealed class GuardedStream(Stream inner, Stream compressed, TailStream? tail, TraceCompressionKind kind, string name) : ForwardReadStream
    {
        private bool _checkedEnd;

        protected override int ReadCore(Span<byte> buffer)
        {
            int n;
            try
            {
                n = inner.Read(buffer);
            }
            catch (Exception ex) when (ex is not (OutOfMemoryException or TraceFormatException) && ex.GetType() != typeof(IOException))
            {
                // A plain IOException is the underlying file or pipe failing, reported as such by the caller; every
                // other exception (InvalidDataException, ZstdException, SharpCompress's format errors, end of
                // stream) is the compressed data being bad.
                throw Corrupt(ex);
            }

            if (n == 0 && !buffer.IsEmpty && tail is not null && !_checkedEnd)
            {
                _checkedEnd = true;
                if (tail.Position < 8 || BinaryPrimitives.ReadUInt32LittleEndian(tail.Last8[4..]) != (uint)Position)
                {
                    throw new TraceFormatException($"{name}: the gzip data stops after {Position:N0} decompressed bytes without its trailer (truncated?); if it is several gzip files joined, decompress it with 'zcat FILE | fastrmp ... -'");
                }
            }

            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                compressed.Dispose();
            }

            base.Dispose(disposing);
        }

        private TraceFormatException Corrupt(Exception ex) =>
            new($"{name}: the {kind.ToString().ToLowerInvariant()} data is corrupt or truncated after {Position:N0} decompressed bytes ({ex.Message.ReplaceLineEndings(" ")})");
    }

    /// <summary>Passes reads through and keeps the last 8 bytes read (the gzip trailer at the end).</summary>
    private sealed class TailStream(Stream source) : ForwardReadStream
    {
        private readonly byte[] _last = new byte[8];

        /// <summary>The last 8 bytes read (fewer than 8 of them valid while <see cref="Stream.Position"/> is below 8).</summary>
        public ReadOnlySpan<byte> Last8 => _last;

        protected override int ReadCore(Span<byte> buffer)
        {
            int n = source.Read(buffer);
            if (n >= 8)
            {
                buffer.Slice(n - 8, 8).CopyTo(_last);
            }
            else if (n > 0)
            {
                _last.AsSpan(n).CopyTo(_last);
                buffer[..n].CopyTo(_last.AsSpan(8 - n));
            }

            return n;
        }
    }
}
