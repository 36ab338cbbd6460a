using System.Text;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>
/// Values at their limits in a trace (issue 18, items 2 and 3): the replay must neither crash nor loop over what no
/// model can hold. Each trace is ftrace text built here.
/// </summary>
public sealed class ReplayHostileValuesTests
{
    private const string Slot = " qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0\n";

    private static ReplayResult Replay(string text)
    {
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes("# tracer: nop\n" + text));
        using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 4UL << 30), ["first-use"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        return replayer.Results("t")[0];
    }

    [Theory]
    [InlineData("ffffffffffffffff")]
    [InlineData("fffffffffffffe00")]
    [InlineData("100000")] // just past the 4 GiB host: outside, allocated by the model instead
    public void A_traced_pfn_outside_the_host_is_allocated_by_the_model_instead(string pfn)
    {
        var result = Replay(Slot
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n"
            + $"       CPU 0/KVM-7001 [001] ..... 1.000011: kvm_mmu_spte_requested: gfn 200 pfn {pfn} level 1\n");
        Assert.Equal(0, result.Counters["pfns_from_trace"]);
        Assert.Equal(1, result.Counters["pfns_not_free"]);
        Assert.Equal(1, result.Counters["faults_private"]);
    }

    [Theory]
    [InlineData("0xffffffffffff000")]
    [InlineData("0xfffffffffffff000")]
    public void A_launch_update_larger_than_its_memslot_is_clamped_to_it(string len)
    {
        // kvm_gmem_populate clamps the range to the slot of its first gfn: 1 GiB from gpa 0x3ff00000 leaves 256 pages.
        var result = Replay(Slot + $" qemu-system-x86-7000 [000] ..... 1.000005: tracing_mark_write: kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x3ff00000 len {len} (Normal page)\n");
        Assert.Equal(256, result.Counters["rmpupdate_to_private"]);
        Assert.Equal(0, result.Counters["launch_update_failures"]);
    }

    [Fact]
    public void A_launch_update_outside_every_memslot_is_refused()
    {
        var result = Replay(Slot + " qemu-system-x86-7000 [000] ..... 1.000005: tracing_mark_write: kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x80000000 len 0x1000 (Normal page)\n");
        Assert.Equal(1, result.Counters["launch_update_failures"]);
        Assert.Equal(0, result.Counters["rmpupdate_to_private"]);
    }

    [Theory]
    [InlineData("to_shared")]
    [InlineData("to_private")]
    public void A_conversion_of_a_huge_range_finishes(string direction)
    {
        // QEMU's kvm_convert_memory with a size no guest has: the model refuses a range beyond the guest physical
        // address space (MemoryAttributeMap.Validate; the kernel would store it in its xarray, which no memslot can
        // reach), so nothing is converted or discarded page by page, and the replay goes on with one attribute error.
        var result = Replay(Slot + $" qemu-system-x86-7000 [000] ..... 1.000005: tracing_mark_write: kvm_convert_memory start 0x0 size 0xfffffffffffff000 {direction}\n"
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n");
        Assert.Equal(1, result.Counters["replay_faults"]);
        Assert.Equal(1, result.Counters["attribute_errors"]);
    }

    [Fact]
    public void Many_guest_memfd_files_cost_what_they_hold_and_past_the_limit_are_refused()
    {
        // 1,100 memslots of 4 KiB, each on its own guest_memfd (issue 18, item 5: 20,000 such files ran out of memory
        // when each model file was 64 TiB). The model sizes its files by their bindings (1 GiB each here) and refuses
        // files past 1,024 with a reason.
        var text = new StringBuilder();
        for (int i = 0; i < 1100; i++)
        {
            text.Append($" qemu-system-x86-7000 [000] ..... 1.{i:D6}: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#{i} flags=0x4 gpa=0x{(ulong)i << 12:x} size=0x1000 ua=0x7f0000000000 guest_memfd={100 + i} guest_memfd_offset=0x0 ret=0\n");
        }

        var result = Replay(text.ToString());
        Assert.Equal(1100 - 1024, result.Counters["memslot_errors"]);
        Assert.Contains("more than 1024 guest_memfd files", result.FirstRefusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Inferred_memslots_under_in_place_conversion_cost_what_they_hold(bool convertEverything)
    {
        // Found by fuzzing the replay: with no memslot events the model backs inferred slots by one sparse 64 TiB
        // guest_memfd, and a kernel that converts in place (kvm-x86 2026) gave that file a dense shared/private bitmap:
        // 2 GiB of managed memory per policy for a three-line trace. The bits are now blocks, copied on first write.
        string text = "# tracer: nop\n"
            + "       CPU 0/KVM-7001 [001] ..... 2.000001: kvm_userspace_exit: reason KVM_EXIT_MEMORY_FAULT (39)\n"
            + "       CPU 0/KVM-7001 [001] ..... 2.000002: kvm_page_fault: vcpu 0 rip 0x0 address 0x201000 error_code 0x500000006\n"
            + (convertEverything ? " qemu-system-x86-7000 [000] ..... 2.000003: tracing_mark_write: kvm_convert_memory start 0x0 size 0x400000000000 to_shared\n" : "")
            + "       CPU 0/KVM-7001 [001] ..... 2.000004: kvm_page_fault: vcpu 0 rip 0x0 address 0x202000 error_code 0x100000006\n";
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes(text));
        using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 1UL << 30, Kernel: FastRmp.Engine.Kvm.KvmKernel.KvmX86_2026), ["first-use", "fault-hook"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        var result = replayer.Results("t")[0];
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2, result.Counters["replay_faults"]);
        Assert.True(allocated < 64L << 20, $"allocated {allocated >> 20} MiB");
    }

    [Theory]
    [InlineData("to_private")]
    [InlineData("to_shared")]
    public void A_conversion_larger_than_the_host_is_refused_at_once(string direction)
    {
        // Found by fuzzing the replay: 51 TiB, inside the guest physical address space, so the attribute map took it
        // and built bitmaps for all of it (15 s, 3.4 GB). More than the host's memory cannot be RAM the host backs.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = Replay(" qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_convert_memory start 0xff00000 size 0x32ffffffffff " + direction + "\n"
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n");
        Assert.Equal(1, result.Counters["attribute_errors"]);
        Assert.Equal(1, result.Counters["replay_faults"]);
        Assert.Contains("more than the host's", result.FirstRefusal, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}"); // 2.5 s and 1.6 GB of bitmaps before
    }
}
