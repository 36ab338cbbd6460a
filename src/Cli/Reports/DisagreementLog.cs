using System.Text.Json;
using FastRmp.Engine.Replay;

namespace FastRmp.Cli.Reports;

/// <summary>
/// <c>--disagreements FILE.jsonl</c>: every disagreement of every model with the trace, one JSON object per line,
/// written as the replay finds them (the memory used does not grow with their number).
/// </summary>
/// <remarks>
/// Lines come in the order found: the faults' in trace order, interleaved across policies; each model's RMP-region
/// disagreements when the trace has ended (their <c>timestamp_ns</c> is the region's first event). Schema in
/// docs/replay.md. Not thread-safe (the replay is one thread).
/// </remarks>
internal sealed class DisagreementLog : IDisposable
{
    private static readonly byte[] s_newLine = "\n"u8.ToArray();
    private readonly FileInfo _file;
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private bool _disposed;

    /// <summary>Creates (or replaces) <paramref name="file"/>.</summary>
    /// <exception cref="CliInputException">The file cannot be created.</exception>
    public DisagreementLog(FileInfo file)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file;
        if (Directory.Exists(file.FullName))
        {
            throw new CliInputException($"--disagreements: {file.FullName} is a directory.");
        }

        try
        {
            _stream = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--disagreements: cannot write {file.FullName}: {ex.Message.ReplaceLineEndings(" ")}");
        }

        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Lines written.</summary>
    public long Written { get; private set; }

    /// <summary>Sends every disagreement of <paramref name="session"/> (a model of <paramref name="vm"/>) to the file.</summary>
    public void Listen(ReplayVm vm, ReplaySession session)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(session);
        string policy = session.Policy, kernel = session.Host.Vm.Config.Kernel.Name;
        int process = vm.Process;
        session.Fidelity.Listener = d => Write(policy, kernel, process, d);
    }

    /// <summary>Writes one line.</summary>
    public void Write(string policy, string kernel, int process, Disagreement d)
    {
        ArgumentNullException.ThrowIfNull(d);
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _json.Reset();
            _json.WriteStartObject();
            _json.WriteString("policy"u8, policy);
            _json.WriteString("kernel"u8, kernel);
            _json.WriteNumber("vm"u8, process);
            _json.WriteString("category"u8, d.What);
            _json.WriteNumber("timestamp_ns"u8, d.Timestamp);
            _json.WriteNumber("cpu"u8, d.Cpu);
            _json.WriteNumber("pid"u8, d.Pid);
            _json.WriteString("gpa"u8, $"0x{d.Gpa:x}");
            _json.WriteString("gfn"u8, $"0x{d.Gpa >> 12:x}");
            WriteHexOrNull("traced_pfn"u8, d.TracedPfn);
            if (d.TracedLevel != 0)
            {
                _json.WriteNumber("traced_level"u8, d.TracedLevel);
            }
            else
            {
                _json.WriteNull("traced_level"u8);
            }

            WriteHexOrNull("error_code"u8, d.ErrorCode);
            _json.WriteString("trace"u8, d.Trace);
            _json.WriteString("model"u8, d.Model);
            _json.WriteString("why"u8, d.Why);
            _json.WriteEndObject();
            _json.Flush();
            _stream.Write(s_newLine);
            Written++;
        }
        catch (IOException ex)
        {
            throw new CliInputException($"--disagreements: cannot write {_file.FullName}: {ex.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <inheritdoc />
    /// <summary>Flushes and closes the file; later calls do nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _json.Dispose();
        _stream.Dispose();
    }

    private void WriteHexOrNull(ReadOnlySpan<byte> name, ulong? value)
    {
        if (value is { } v)
        {
            _json.WriteString(name, $"0x{v:x}");
        }
        else
        {
            _json.WriteNull(name);
        }
    }
}
