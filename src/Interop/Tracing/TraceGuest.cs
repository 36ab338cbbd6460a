namespace FastRmp.Interop.Tracing;

/// <summary>One vCPU of a traced guest: its number and the host thread that runs it.</summary>
/// <param name="Vcpu">The guest CPU id.</param>
/// <param name="HostPid">The host thread (the <c>CPU n/KVM</c> thread of QEMU) running that vCPU.</param>
public readonly record struct TraceGuestVcpu(int Vcpu, int HostPid);

/// <summary>
/// A guest traced with its host (<c>trace-cmd record -A</c> / <c>trace-cmd agent</c>): the GUEST option (13) of the
/// host's trace.dat, which maps each vCPU to the host thread running it.
/// </summary>
/// <remarks>
/// Layout (traces.md 2.2, and trace-cmd's reader of the option): the guest's name, NUL-terminated; a 64-bit trace id
/// (the guest file's TRACEID); a 32-bit vCPU count; per vCPU a 32-bit CPU id and a 32-bit host pid; numbers in the
/// file's byte order.
/// </remarks>
/// <param name="Name">The guest's name.</param>
/// <param name="TraceId">The trace id of the guest's own trace.dat.</param>
/// <param name="Vcpus">The vCPUs and their host threads, in the option's order.</param>
public sealed record TraceGuest(string Name, ulong TraceId, IReadOnlyList<TraceGuestVcpu> Vcpus)
{
    /// <summary>Reads the option's bytes; null when they are too short for what they claim.</summary>
    internal static TraceGuest? Parse(ReadOnlySpan<byte> data, bool bigEndian)
    {
        int nul = data.IndexOf((byte)0);
        if (nul < 0 || data.Length - nul - 1 < 12)
        {
            return null;
        }

        string name = System.Text.Encoding.UTF8.GetString(data[..nul]);
        var rest = data[(nul + 1)..];
        ulong id = bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(rest) : System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(rest);
        int count = I32(rest[8..], bigEndian);
        rest = rest[12..];
        if (count < 0 || count > rest.Length / 8)
        {
            return null;
        }

        var vcpus = new TraceGuestVcpu[count];
        for (int i = 0; i < count; i++)
        {
            vcpus[i] = new TraceGuestVcpu(I32(rest[(8 * i)..], bigEndian), I32(rest[((8 * i) + 4)..], bigEndian));
        }

        return new TraceGuest(name, id, vcpus);
    }

    private static int I32(ReadOnlySpan<byte> b, bool bigEndian) =>
        bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(b) : System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(b);
}
