using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Memory;

namespace FastRmp.Benchmarks;

/// <summary>
/// The floor under a random 4K fault: the latency of one cache miss on this machine, measured by chasing pointers
/// through a buffer of the size of the fault path's tables (128 MiB: the page cache or the NPT's 4K tables of a
/// 64 GiB guest; 2 MiB huge pages, like theirs), one chain (each load waits for the last) and two independent chains
/// (two misses in flight, as the fault path has when it prefetches). The chain is one random cycle over 64-byte lines.
/// </summary>
[InvocationCount(1)]
public unsafe class MemoryLatencyBenchmarks
{
    private const int Steps = 1 << 20;

    private NativeBuffer _buffer = null!;
    private ulong* _lines;
    private ulong _count;

    [Params(128)]
    public int MiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        long bytes = (long)MiB << 20;
        _buffer = new NativeBuffer(bytes, alignment: HugePages.Size, hugePages: true);
        _lines = (ulong*)_buffer.Pointer;
        _count = (ulong)bytes / 64;
        var order = new ulong[_count];
        for (ulong i = 0; i < _count; i++)
        {
            order[i] = i;
        }

        new Random(11).Shuffle(order);
        for (ulong i = 0; i < _count; i++)
        {
            _lines[order[i] * 8] = order[(i + 1) % _count] * 8; // word index of the next line in the cycle
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _buffer.Dispose();

    [Benchmark(OperationsPerInvoke = Steps, Description = "dependent miss (1 chain)")]
    [BenchmarkCategory("Latency")]
    public ulong OneChain()
    {
        ulong* lines = _lines;
        ulong a = 0;
        for (int i = 0; i < Steps; i++)
        {
            a = lines[a];
        }

        return a;
    }

    [Benchmark(OperationsPerInvoke = Steps, Description = "two misses in flight (2 chains), per step")]
    [BenchmarkCategory("Latency")]
    public ulong TwoChains()
    {
        ulong* lines = _lines;
        ulong a = 0, b = (_count / 2) * 8;
        for (int i = 0; i < Steps; i++)
        {
            a = lines[a];
            b = lines[b];
        }

        return a + b;
    }
}
