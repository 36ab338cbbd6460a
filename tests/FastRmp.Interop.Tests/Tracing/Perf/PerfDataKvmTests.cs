using System.Text.Json;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>The typed KVM events decode from perf.data as from trace.dat, with perf's values.</summary>
public class PerfDataKvmTests
{
    [Theory]
    [InlineData("kvm-long.data")]
    [InlineData("kvm-long-pipe.data")]
    [InlineData("kvm-long-zstd.data")]
    [InlineData("kvm-long-pipe-zstd.data")]
    public void Kvm_userspace_exit_and_pio_decode_to_perfs_values(string name)
    {
        var expected = File.ReadAllLines(PerfFixtures.Path_(Path.ChangeExtension(name, ".perf-fields.jsonl")))
            .Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var decoder = new KvmEventDecoder();
        using var reader = TraceFile.OpenReader(PerfFixtures.Path_(name));
        int i = 0, exits = 0, pios = 0, walks = 0;
        while (reader.MoveNext(out var r))
        {
            var e = expected[i++];
            var fields = e.GetProperty("fields");
            if (decoder.Classify(r) == KvmEventKind.UserspaceExit)
            {
                Assert.True(decoder.TryRead(r, out KvmUserspaceExit u));
                Assert.Equal(fields.GetProperty("reason").GetUInt32(), u.Reason);
                Assert.Equal(fields.GetProperty("errno").GetInt32(), u.Errno);
                Assert.Contains(u.Reason, (uint[])[2, 5]); // KVM_EXIT_IO (out to port 0x10), KVM_EXIT_HLT (the last hlt)
                exits++;
            }
            else if (r.Format.FullName == "kvm:kvm_pio")
            {
                Assert.Equal(0x10UL, r.GetUInt64(r.Format.Require("port")));
                Assert.Equal(fields.GetProperty("val").GetUInt64(), r.GetUInt64(r.Format.Require("val")));
                pios++;
            }
            else if (r.Format.FullName == "kvmmmu:kvm_mmu_pagetable_walk")
            {
                Assert.Equal(fields.GetProperty("addr").GetUInt64(), r.GetUInt64(r.Format.Require("addr")));
                walks++;
            }
        }

        Assert.Equal(3, pios);
        Assert.True(exits >= 3, $"{exits} kvm_userspace_exit");
        Assert.True(walks > 0);
    }
}
