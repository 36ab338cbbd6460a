using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Hosting;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Benchmarks;

/// <summary>
/// The whole private fault path (memslot lookup, attributes, guest_memfd get_pfn, the policy's prepare, the RMP
/// clamp, hugepage adjust, the NPT leaf) for 4 KiB steady-state faults on a 64 GiB SNP guest: every folio exists and
/// is prepared, the NPT was zapped (as after an invalidation), and the guest touches 1 M gfns, in random order or in
/// address order (as a guest re-touching its memory linearly does).
/// </summary>
/// <remarks>
/// <c>tdx</c> is the same workload on a TDX host (KVM's TDX as merged): each fault also links and AUGs the page in the
/// TD's Secure EPT, and the zap between iterations removes every page from it (BLOCK, TRACK, REMOVE), as KVM's does.
/// </remarks>
[InvocationCount(1)]
public class FaultPathBenchmarks
{
    private const int Faults = 1 << 20;
    private const ulong GuestBytes = 64UL << 30;

    private const ulong ErrorCode = (ulong)(PageFaultErrorCode.PrivateAccess | PageFaultErrorCode.GuestEnc | PageFaultErrorCode.Write);

    private Host _host = null!;
    private ulong[] _gfns = null!;

    [Params("first-use", "every-get-pfn", "tdx")]
    public string Policy { get; set; } = "first-use";

    [Params("random", "sequential")]
    public string Order { get; set; } = "random";

    [GlobalSetup]
    public void Setup()
    {
        bool tdx = Policy == Engine.Tdx.TdxDesigns.MergedName;
        _host = new Host(Policy, folioOrder: 0, GuestBytes, new HostOptions(VmType: tdx ? KvmVmType.Tdx : KvmVmType.Snp));
        if (tdx)
        {
            _host.FinalizeTd();
        }

        var random = new Random(7);
        _gfns = new ulong[Faults];
        for (int i = 0; i < Faults; i++)
        {
            _gfns[i] = Order == "random" ? (ulong)random.NextInt64((long)(GuestBytes >> 12)) : (ulong)i;
        }

        foreach (ulong gfn in _gfns)
        {
            var fault = new kvm_page_fault_v6_13 { addr = new gfn_t(gfn).Gpa, error_code = ErrorCode };
            _host.Vm.HandleFault(ref fault); // allocate and prepare (SNP: and the guest would validate; TDX: AUG)
        }
    }

    [IterationSetup]
    public void Zap() => _host.Vm.ZapGfnRange(new gfn_t(0), new gfn_t(GuestBytes >> 12));

    [GlobalCleanup]
    public void Cleanup() => _host.Dispose();

    [Benchmark(OperationsPerInvoke = Faults, Description = "4K private fault, steady state")]
    [BenchmarkCategory("Fault")]
    public long Fault()
    {
        var vm = _host.Vm;
        long fixedFaults = 0;
        foreach (ulong gfn in _gfns)
        {
            var fault = new kvm_page_fault_v6_13
            {
                addr = new gfn_t(gfn).Gpa,
                error_code = ErrorCode,
            };
            fixedFaults += vm.HandleFault(ref fault) == FaultResult.Fixed ? 1 : 0;
        }

        return fixedFaults;
    }

    /// <summary>The same faults, each gfn's first lines requested 16 faults ahead (<see cref="Vm.PrefetchFault"/>), as the replay does.</summary>
    [Benchmark(OperationsPerInvoke = Faults, Description = "4K private fault, steady state, prefetched 16 ahead")]
    [BenchmarkCategory("Fault")]
    public long FaultPrefetched()
    {
        const int Ahead = 16;
        var vm = _host.Vm;
        var gfns = _gfns;
        long fixedFaults = 0;
        for (int i = 0; i < gfns.Length; i++)
        {
            if (i + Ahead < gfns.Length)
            {
                vm.PrefetchFault(new gfn_t(gfns[i + Ahead]));
            }

            var fault = new kvm_page_fault_v6_13
            {
                addr = new gfn_t(gfns[i]).Gpa,
                error_code = ErrorCode,
            };
            fixedFaults += vm.HandleFault(ref fault) == FaultResult.Fixed ? 1 : 0;
        }

        return fixedFaults;
    }
}
