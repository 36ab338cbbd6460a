using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// SharpFuzz-compatible targets (<c>static void Fuzz(ReadOnlySpan&lt;byte&gt;)</c>): each runs a reader over arbitrary
/// bytes, decodes every field and typed event, and lets only <see cref="TraceFormatException"/> through as an
/// expected outcome. Any other exception, a hang or an out-of-bounds read is a bug. Internal: not part of the shipped
/// API (the tests, and a fuzzing harness given InternalsVisibleTo, reach them).
/// </summary>
internal static class TraceDatFuzz
{
    /// <summary>
    /// Reads arbitrary bytes as a trace.dat: metadata, every record of every instance, every field; then the top
    /// instance again per CPU on two threads (<see cref="TraceScan"/>), which must count the same records.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            using var input = TraceInput.FromMemory(data.ToArray());
            using var file = TraceDatFile.Open(input);
            long top = -1;
            foreach (var buffer in file.Buffers)
            {
                using var reader = file.CreateReader(buffer.Name);
                long n = FuzzDrain.Drain(reader);
                top = buffer.Name.Length == 0 ? n : top;
            }

            if (top >= 0)
            {
                using var again = file.CreateReader();
                var scan = TraceScan.Run(again, () => new long[1], static (long[] n, in TraceRecord _) => n[0]++, 2);
                long scanned = scan.Parts.Sum(p => p[0]);
                if (scanned != top)
                {
                    throw new InvalidOperationException($"the per-CPU scan read {scanned} records, the merged reader {top}");
                }
            }
        }
        catch (TraceFormatException)
        {
        }
    }
}

/// <summary>SharpFuzz-compatible target for the text readers (tracefs, trace-cmd report, perf script).</summary>
internal static class TextTraceFuzz
{
    /// <summary>Reads arbitrary bytes as trace text and decodes every typed event.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            using var reader = TraceFile.OpenText(data.ToArray());
            FuzzDrain.Drain(reader);
        }
        catch (TraceFormatException)
        {
        }
    }
}

/// <summary>
/// SharpFuzz-compatible target for forward-only input (a pipe): detection from the head, whole-file decompression
/// (gzip, xz, zstd), text streamed and trace.dat spooled to a temporary file.
/// </summary>
internal static class StreamTraceFuzz
{
    /// <summary>Reads arbitrary bytes as if piped in, and decodes every field and typed event.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            using var reader = TraceFile.OpenReader(new PrefixedStream([], 0, new MemoryStream(data.ToArray(), writable: false)), "fuzz");
            FuzzDrain.Drain(reader);
        }
        catch (TraceFormatException)
        {
        }
    }
}

/// <summary>SharpFuzz-compatible target for the tracefs format-file parser.</summary>
internal static class FormatFileFuzz
{
    /// <summary>Parses arbitrary bytes (UTF-8) as a format file.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            var f = FormatFileParser.Parse("fuzz", System.Text.Encoding.UTF8.GetString(data));
            _ = f.Find("common_pid");
        }
        catch (TraceFormatException)
        {
        }
    }
}

/// <summary>Reads every record of a reader, every field and every typed event; returns the records read.</summary>
internal static class FuzzDrain
{
    public static long Drain(ITraceReader reader)
    {
        var decoder = new KvmEventDecoder();
        ulong sink = 0;
        long records = 0;
        while (reader.MoveNext(out var r))
        {
            records++;
            foreach (var f in r.Format.Fields)
            {
                sink += f.IsNumber ? r.GetUInt64(f) : (ulong)r.GetData(f).Length;
                if (f.IsCharString)
                {
                    sink += (ulong)r.GetString(f).Length;
                }

                int n = r.ElementCount(f);
                if (n > 0)
                {
                    sink += r.GetElement(f, n - 1);
                }
            }

            switch (decoder.Classify(r))
            {
                case KvmEventKind.PageFault when decoder.TryRead(r, out KvmPageFault pf): sink += pf.FaultAddress; break;
                case KvmEventKind.Exit when decoder.TryRead(r, out KvmExit e): sink += e.Info2; break;
                case KvmEventKind.SetSpte when decoder.TryRead(r, out KvmMmuSetSpte s): sink += s.Spte; break;
                case KvmEventKind.SpteRequested when decoder.TryRead(r, out KvmMmuSpteRequested q): sink += q.Pfn; break;
                case KvmEventKind.QemuSetUserMemory when decoder.TryRead(r, out QemuSetUserMemory m): sink += m.Gpa; break;
                case KvmEventKind.QemuConvertMemory when decoder.TryRead(r, out QemuConvertMemory c): sink += c.Start; break;
                case KvmEventKind.UserspaceExit when decoder.TryRead(r, out KvmUserspaceExit u): sink += u.Reason; break;
                case KvmEventKind.SetMemAttributes when decoder.TryRead(r, out KvmVmSetMemAttributes a): sink += a.Attr; break;
                case KvmEventKind.UnmapHvaRange when decoder.TryRead(r, out KvmUnmapHvaRange h): sink += h.End; break;
                case KvmEventKind.FastPageFault when decoder.TryRead(r, out FastPageFault fp): sink += fp.ErrorCode; break;
                default: break;
            }
        }

        GC.KeepAlive(sink);
        return records;
    }
}

/// <summary>SharpFuzz-compatible target for perf.data (file mode from memory, and the same bytes as a pipe).</summary>
internal static class PerfDataFuzz
{
    /// <summary>Reads arbitrary bytes as a perf.data: header, attrs, features, tracing data, every record and field.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        byte[] bytes = data.ToArray();
        try
        {
            using var input = TraceInput.FromMemory(bytes);
            using var file = FastRmp.Interop.Tracing.Perf.PerfDataFile.Open(input);
            using var reader = file.CreateReader();
            FuzzDrain.Drain(reader);
        }
        catch (TraceFormatException)
        {
        }

        try
        {
            using var stream = FastRmp.Interop.Tracing.Perf.PerfDataFile.OpenPipe(new MemoryStream(bytes, writable: false), "fuzz");
            using var reader = stream.CreateReader();
            FuzzDrain.Drain(reader);
        }
        catch (TraceFormatException)
        {
        }
    }
}
