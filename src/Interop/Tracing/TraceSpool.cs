using Microsoft.Win32.SafeHandles;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Copies a trace.dat that arrives through a pipe (or out of a decompressor) to a temporary file, since its reader
/// needs positioned reads (section offsets, per-CPU streams read side by side).
/// </summary>
/// <remarks>
/// The file is created in <see cref="Path.GetTempPath"/> (<c>TMPDIR</c>) and unlinked at once on Unix, so its space
/// goes back to the disk when the handle closes, even if the process is killed; on Windows it is deleted on close.
/// Memory stays at one 1 MiB buffer whatever the size; the disk bounds the size, and a full disk or a write error
/// ends with one <see cref="TraceFormatException"/> that says what to do.
/// </remarks>
internal static class TraceSpool
{
    private const int BufferSize = 1 << 20;

    /// <summary>Writes <paramref name="content"/> to a fresh temporary file and returns it for positioned reads.</summary>
    public static TraceInput Spool(Stream content, string name) => Spool(content, name, Path.GetTempPath());

    /// <summary>Writes <paramref name="content"/> to a fresh temporary file in <paramref name="dir"/> (tests name the folder).</summary>
    internal static TraceInput Spool(Stream content, string name, string dir)
    {
        string file = Path.Combine(dir, $"fastrmp-spool-{Environment.ProcessId}-{Guid.NewGuid():N}.dat");
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Failed(name, dir, ex);
        }

        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.Delete(file);
            }

            var buffer = new byte[BufferSize];
            long offset = 0;
            while (true)
            {
                int n = content.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                if (n == 0)
                {
                    break;
                }

                try
                {
                    RandomAccess.Write(handle, buffer.AsSpan(0, n), offset);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw Failed(name, dir, ex, offset);
                }

                offset += n;
            }

            return TraceInput.FromHandle(handle, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static TraceFormatException Failed(string name, string dir, Exception ex, long written = 0) =>
        new($"{name}: a trace.dat read from a pipe or a compressed file is copied to a temporary file first (it needs seeking), and that failed in {dir} after {written:N0} bytes ({ex.Message}); set TMPDIR to a folder with room, or decompress it to a file and pass its path");
}
