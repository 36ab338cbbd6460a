using System.Text;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// The pretty print forms of the events the replay reads, one line each, with the values worked out by hand from the
/// print fmt in tracefs-formats-linux-6.18/kvm_kvmmmu_formats.txt (and ftrace:print's <c>"%ps: %s"</c>).
/// </summary>
public sealed class PrettyPrintFormsTests
{
    private const string Prefix = "       CPU 0/KVM-7001  [001]     5.000001: ";

    // "reason %s (%d)": errno < 0 ? (errno == -4 ? "restart" : "error") : __print_symbolic(reason), errno < 0 ? -errno : reason
    [Theory]
    [InlineData("reason error (14)", 0u, -14)] // kernel, errno -EFAULT: the reason is not printed
    [InlineData("reason restart (4)", 0u, -4)] // kernel, errno -EINTR
    [InlineData("reason KVM_EXIT_IO (2)", 2u, 0)] // kernel, errno 0: symbol and reason
    [InlineData("reason KVM_EXIT_X86_WRMSR (30)", 30u, 0)] // the last symbol of the list
    [InlineData("reason 0x27 (39)", 39u, 0)] // kernel, a reason outside the list (__print_symbolic prints it in hex)
    [InlineData("reason 39 (-14)", 39u, -14)] // libtraceevent: reason in decimal, errno as is
    [InlineData("reason 2 (0)", 2u, 0)]
    [InlineData("reason 2 (-4)", 2u, -4)]
    [InlineData("reason=39 errno=-14", 39u, -14)] // report -R
    public void Userspace_exit_reason_and_errno_from_every_printer(string payload, uint reason, int errno)
    {
        var (kind, r, e) = Read("kvm_userspace_exit:   " + payload, static (KvmEventDecoder d, in TraceRecord rec) => d.TryRead(rec, out KvmUserspaceExit x) ? (x.Reason, x.Errno) : (uint.MaxValue, int.MaxValue));
        Assert.Equal(KvmEventKind.UserspaceExit, kind);
        Assert.Equal((reason, errno), (r, e));
    }

    [Theory]
    [InlineData("0xffffffff81000000: kvm_convert_memory start 0x84d000 size 0x22000 to_shared")] // no kallsyms
    [InlineData("tracing_mark_write: kvm_convert_memory start 0x84d000 size 0x22000 to_shared")] // kallsyms
    [InlineData("__trace_marker_write.isra.0+0x1a/0x40: kvm_convert_memory start 0x84d000 size 0x22000 to_shared")]
    [InlineData("ip=0xffffffff81000000 buf=kvm_convert_memory start 0x84d000 size 0x22000 to_shared")] // report -R
    [InlineData("kvm_convert_memory start 0x84d000 size 0x22000 to_shared")] // no caller printed
    public void A_qemu_marker_is_found_behind_any_caller_address(string payload)
    {
        var (kind, start, size) = Read("print:                " + payload, static (KvmEventDecoder d, in TraceRecord rec) => d.TryRead(rec, out QemuConvertMemory c) && !c.ToPrivate ? (c.Start, c.Size) : (0UL, 0UL));
        Assert.Equal(KvmEventKind.QemuConvertMemory, kind);
        Assert.Equal((0x84d000UL, 0x22000UL), (start, size));
    }

    [Theory]
    [InlineData("0xffffffff81000000: kvm_set_user_memory: not the event")]
    [InlineData("0xffffffff81000000:")]
    [InlineData("0xffffffff8100zz00: kvm_convert_memory start 0x1000 size 0x1000 to_shared")]
    public void Other_markers_are_not_qemu_events(string payload)
    {
        var (kind, _, _) = Read("print:                " + payload, static (KvmEventDecoder _, in TraceRecord _) => (0, 0));
        Assert.Equal(KvmEventKind.None, kind);
    }

    // "%#016llx -- %#016llx [0x%lx]": '#' adds no 0x to zero, so gfn 0 prints as 16 zeros
    [Fact]
    public void Mem_attributes_from_gfn_zero_without_0x()
    {
        var (kind, range, attr) = Read("kvm_vm_set_mem_attributes: 0000000000000000 -- 0x00000000080000 [0x8]", static (KvmEventDecoder d, in TraceRecord rec) => d.TryRead(rec, out KvmVmSetMemAttributes a) ? ((a.Start, a.End), a.Attr) : ((1UL, 1UL), 1UL));
        Assert.Equal(KvmEventKind.SetMemAttributes, kind);
        Assert.Equal(((0UL, 0x80000UL), 8UL), (range, attr));
    }

    // "vcpu %u gpa %016llx pfn 0x%llx error_code 0x%llx rmp_level %d psmash_ret %d"
    [Fact]
    public void Rmp_fault_gpa_is_hex_without_0x_and_psmash_ret_signed()
    {
        var (kind, f, _) = Read("kvm_rmp_fault:        vcpu 0 gpa 0000000023456000 pfn 0x100010 error_code 0x80000004 rmp_level 1 psmash_ret -16", static (KvmEventDecoder d, in TraceRecord rec) => d.TryRead(rec, out KvmRmpFault x) ? (x, 0) : (default, 0));
        Assert.Equal(KvmEventKind.RmpFault, kind);
        Assert.Equal(new KvmRmpFault(0, 0x23456000, 0x100010, 0x80000004, 1, -16), f);
    }

    [Fact(Timeout = 60_000)]
    public void Real_samples_give_their_qemu_markers_and_userspace_exits()
    {
        var ct = TestContext.Current.CancellationToken;
        var decoder = new KvmEventDecoder();

        // trace-cmd 3.1 report of a VM recording with kallsyms: two QEMU events written to trace_marker by hand
        var kinds = new List<KvmEventKind>();
        using (var reader = TraceFile.OpenReader(Sample("text-local/report-marker-print-events.txt")))
        {
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                if (r.Format.Name == "print")
                {
                    kinds.Add(decoder.Classify(r));
                }
            }
        }

        Assert.Equal([KvmEventKind.QemuSetUserMemory, KvmEventKind.QemuConvertMemory], kinds);

        // a real host's tracefs text: "reason KVM_EXIT_IO (2)" is reason 2, errno 0
        int exits = 0;
        using (var reader = TraceFile.OpenReader(Sample("text-public/intel-host-tracefs-trace-kvm-mmu-linuxmaxxing.txt")))
        {
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                if (decoder.Classify(r) == KvmEventKind.UserspaceExit && r.Text.Contains("KVM_EXIT_IO (2)", StringComparison.Ordinal))
                {
                    Assert.True(decoder.TryRead(r, out KvmUserspaceExit e));
                    Assert.Equal(new KvmUserspaceExit(2, 0), e);
                    exits++;
                }
            }
        }

        Assert.True(exits > 0, "no KVM_EXIT_IO exit in the sample");
    }

    private static string Sample(string relative)
    {
        string path = Samples.Path_(relative);
        if (!File.Exists(path))
        {
            Assert.Skip($"sample {relative} is not in ../shared/samples");
        }

        return path;
    }

    private delegate (TA, TB) Reader<TA, TB>(KvmEventDecoder decoder, in TraceRecord record);

    private static (KvmEventKind Kind, TA A, TB B) Read<TA, TB>(string eventAndPayload, Reader<TA, TB> read)
    {
        byte[] text = Encoding.UTF8.GetBytes("cpus=2\n" + Prefix + eventAndPayload + "\n");
        using var reader = TraceFile.OpenText(text, "line.txt");
        Assert.True(reader.MoveNext(out var record));
        var decoder = new KvmEventDecoder();
        var kind = decoder.Classify(record);
        var (a, b) = read(decoder, record);
        return (kind, a, b);
    }
}
