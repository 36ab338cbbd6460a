using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Memory;
using FastRmp.Engine.Replay;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Uapi;

namespace FastRmp.DisposeProbe;

/// <summary>One public call made on a disposed object; it must throw <see cref="ObjectDisposedException"/>.</summary>
/// <param name="Name">What the call is, for the report.</param>
/// <param name="Call">The call.</param>
internal readonly record struct ProbeCall(string Name, Action Call);

/// <summary>An object in use, how to dispose it, and the calls to make afterwards.</summary>
/// <param name="Dispose">Disposes the object (the probe calls it twice).</param>
/// <param name="Calls">Calls that touch native memory while the object is alive.</param>
internal sealed record ProbeSubject(Action Dispose, IReadOnlyList<ProbeCall> Calls);

/// <summary>A probed type and how to build one that has native memory in use.</summary>
/// <param name="Type">The type (a generic type definition for a generic owner).</param>
/// <param name="Create">Builds the object and its calls.</param>
internal sealed record ProbeCase(Type Type, Func<ProbeSubject> Create)
{
    /// <summary>The name the probe is run with: the type's full name.</summary>
    public string Name => Type.FullName!;
}

/// <summary>
/// The types whose disposal the probe checks: each is built and put to use so that it holds native memory, disposed
/// twice, then called through public members that would read or write that memory. Shared with
/// FastRmp.Engine.Tests (linked), which runs the probe once per case and checks that every disposable type of the
/// engine is here or excluded on purpose.
/// </summary>
internal static unsafe class ProbeTable
{
    private static nint s_sink;

    /// <summary>Every case.</summary>
    public static IReadOnlyList<ProbeCase> Cases { get; } =
    [
        new(typeof(NativeBuffer), () =>
        {
            var buffer = new NativeBuffer(4096);
            buffer.AsSpan<byte>(0, 1)[0] = 1;
            return Subject(buffer.Dispose, ("Pointer", () => Sink((nint)buffer.Pointer)), ("AsSpan", () => buffer.AsSpan<byte>(0, 1)[0] = 2));
        }),
        new(typeof(NativeArray<>), () =>
        {
            var array = new NativeArray<ulong>(4);
            array.Resize(8)[7] = 1;
            return Subject(array.Dispose, ("Pointer", () => Sink((nint)array.Pointer)), ("Resize", () => array.Resize(16)[15] = 2));
        }),
        new(typeof(NativeChunkTable), () =>
        {
            var table = new NativeChunkTable(16, 4096);
            ((byte*)table.Allocate(3))[0] = 1;
            return Subject(table.Dispose, ("Slots", () => Sink((nint)table.Slots[3])), ("Allocate", () => Sink((nint)table.Allocate(4))));
        }),
        new(typeof(PageSlab), () =>
        {
            var slab = new PageSlab();
            nint block = (nint)slab.Allocate();
            return Subject(slab.Dispose, ("Allocate", () => Sink((nint)slab.Allocate())), ("Free", () => slab.Free((void*)block)));
        }),
        new(typeof(NptMap), () =>
        {
            var npt = new NptMap();
            var gfn = new gfn_t(0x12345);
            npt.Map(gfn, new kvm_pfn_t(0x777), PgLevel.Level4K, isPrivate: true);
            return Subject(
                npt.Dispose,
                ("Lookup", () => Sink((nint)npt.Lookup(gfn).Pfn.Value)),
                ("Map", () => npt.Map(gfn + 1, new kvm_pfn_t(0x778), PgLevel.Level4K, isPrivate: true)),
                ("Zap", () => npt.Zap(new gfn_t(0), new gfn_t(1UL << 20))),
                ("ForEachLeaf", () =>
                {
                    var visitor = default(LeafCounter);
                    npt.ForEachLeaf(ref visitor);
                }));
        }),
        new(typeof(MemoryAttributeMap), () =>
        {
            var map = new MemoryAttributeMap();
            var toPrivate = new kvm_memory_attributes { address = 2UL << 20, size = 2UL << 20, attributes = (ulong)MemoryAttributes.Private };
            var toShared = toPrivate with { attributes = 0 };
            map.Set(toPrivate, out _);
            return Subject(
                map.Dispose,
                ("IsPrivate", () => Sink(map.IsPrivate(new gfn_t(0x200)) ? 1 : 0)),
                ("Set", () => map.Set(toShared, out _)),
                ("RangeIs", () => Sink(map.RangeIs(new gfn_t(0x200), 512, isPrivate: true) ? 1 : 0)),
                ("CountPrivate", () => Sink((nint)map.CountPrivate())));
        }),
        new(typeof(Memslots), () =>
        {
            var slots = new Memslots(capacity: 8, gmem: null, new MemslotOptions(PrivateMemory: false));
            var region = new kvm_userspace_memory_region2 { slot = 0, memory_size = 4UL << 20, userspace_addr = 0x7f0000000000 };
            var second = region with { slot = 1, guest_phys_addr = 8UL << 20 };
            Check(slots.Set(region) == Errno.Ok, "Memslots.Set");
            return Subject(
                slots.Dispose,
                ("this[]", () => Sink((nint)slots[0].npages)),
                ("Pointer", () => Sink((nint)slots.Pointer(0))),
                ("Set", () => slots.Set(second)),
                ("Find", () => Sink(slots.Find(0, new gfn_t(1)))),
                ("LpageInfo", () => Sink(slots.LpageInfo(0, PgLevel.Level2M, new gfn_t(0)).disallow_lpage)),
                ("LpageCount", () => Sink((nint)slots.LpageCount(0, PgLevel.Level2M))));
        }),
        new(typeof(GmemFiles), () =>
        {
            var files = new GmemFiles(new BuddyAllocator(new kvm_pfn_t(0), 1 << 12));
            var request = new kvm_create_guest_memfd { size = 4UL << 20 };
            Check(files.Create(request, out int fd) == Errno.Ok, "GmemFiles.Create");
            Check(files.Get(fd)!.Fallocate(FallocateMode.KeepSize, 0, 1UL << 20) == Errno.Ok, "GuestMemfd.Fallocate");
            return Subject(files.Dispose, ("Create", () => files.Create(request, out _)));
        }),
        new(typeof(GuestMemfd), () =>
        {
            var files = new GmemFiles(new BuddyAllocator(new kvm_pfn_t(0), 1 << 12));
            Check(files.Create(new kvm_create_guest_memfd { size = 4UL << 20 }, out int fd) == Errno.Ok, "GmemFiles.Create");
            var file = files.Get(fd)!;
            Check(file.Fallocate(FallocateMode.KeepSize, 0, 1UL << 20) == Errno.Ok, "GuestMemfd.Fallocate");
            var slot = default(kvm_memory_slot);
            return Subject(
                file.Dispose,
                ("Fallocate", () => file.Fallocate(FallocateMode.KeepSize, 0, 1UL << 20)),
                ("Folio", () => Sink(file.Folio(0).Present ? 1 : 0)),
                ("Poison", () => file.Poison(1)),
                ("ForEachFolio", () => file.ForEachFolio((_, _, _) => { })),
                ("GetPfn", () => file.GetPfn(0, ref slot, new gfn_t(0), out _, out _)),
                ("PopulatePage", () => file.PopulatePage(0, ref slot, new gfn_t(0), out _)));
        }),
        new(typeof(CompactRmpStore), () =>
        {
            var store = new CompactRmpStore(4096);
            return Store(store, ("AnyAssignedTo", () => Sink(store.AnyAssignedTo(0, 1) ? 1 : 0)));
        }),
        new(typeof(RawRmpStore), () =>
        {
            var store = new RawRmpStore(4096);
            return Store(store, ("TableBase", () => Sink((nint)store.TableBase)), ("Entries", () => Sink((nint)store.Entries)));
        }),
        new(typeof(SegmentedRmpStore), () =>
        {
            var store = new SegmentedRmpStore(4096, segmentShift: 30);
            return Store(store, ("TableBase", () => Sink((nint)store.TableBase)), ("Entry", () => Sink((nint)store.Entry(1)->lo)));
        }),
        new(typeof(RmpTable), () =>
        {
            var rmp = RmpTable.CreateCompact(4096);
            var state = new rmp_state { assigned = 1, asid = 1, gpa = 0x5000 };
            Check(rmp.RmpUpdate(new kvm_pfn_t(5), state) == RmpUpdateResult.Success, "RmpTable.RmpUpdate");
            return Subject(
                rmp.Dispose,
                ("Read", () => Sink((nint)rmp.Read(new kvm_pfn_t(5)).lo)),
                ("Lookup", () => Sink(rmp.Lookup(new kvm_pfn_t(5)).Raw)),
                ("RmpUpdate", () => rmp.RmpUpdate(new kvm_pfn_t(6), state with { gpa = 0x6000 })),
                ("Psmash", () => rmp.Psmash(new kvm_pfn_t(512))),
                ("Pvalidate", () => rmp.Pvalidate(new kvm_pfn_t(5), 1, new gfn_t(5), RmpPageSize.Size4K, validate: true, out _)),
                ("CheckGuestAccess", () => rmp.CheckGuestAccess(new kvm_pfn_t(5), 1, new gfn_t(5), isPrivate: true, write: true, PgLevel.Level4K, out _)),
                ("CheckHostWrite", () => rmp.CheckHostWrite(new kvm_pfn_t(5), PgLevel.Level4K)),
                ("EnableRmpOpt", () => rmp.EnableRmpOpt()));
        }),
        new(typeof(Vm), () =>
        {
            // The VM alone over a host's parts: disposing it tears down its guest_memfd, memslots, attributes and NPT.
            var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20);
            var vm = host.Vm;
            Check(host.Guest.Access(new gpa_t(0x1000), isPrivate: true).Result == AccessResult.NotValidated, "Guest.Access");
            return Subject(
                vm.Dispose,
                ("HandleFault", () =>
                {
                    var fault = new kvm_page_fault_v6_13 { addr = new gpa_t(0x2000), error_code = (ulong)PageFaultErrorCode.PrivateAccess };
                    vm.HandleFault(ref fault);
                }),
                ("HandleRmpFault", () => vm.HandleRmpFault(new gpa_t(0x1000), PageFaultErrorCode.GuestRmp)),
                ("SetMemoryAttributes", () => vm.SetMemoryAttributes(new kvm_memory_attributes { address = 0, size = 0x1000 })),
                ("SetUserMemoryRegion2", () => vm.SetUserMemoryRegion2(host.Region(1, 1UL << 30, 0x20_0000, 0))),
                ("CreateGuestMemfd", () => vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = 1 << 20 }, out _)),
                ("Populate", () => vm.Populate(new gfn_t(0), 1)),
                ("PunchGuestMemfd", () => vm.PunchGuestMemfd(new gpa_t(0x1000), 0x1000)),
                ("PreFaultMemory", () =>
                {
                    var range = new kvm_pre_fault_memory { gpa = 0, size = 0x1000 };
                    vm.PreFaultMemory(ref range);
                }),
                ("Verify", () => vm.Verify()),
                ("Guest.Access", () => host.Guest.Access(new gpa_t(0x1000), isPrivate: true)),
                ("Guest.Pvalidate", () => host.Guest.Pvalidate(new gpa_t(0x1000), RmpPageSize.Size4K, validate: true)),
                ("Guest.PvalidateRange", () => host.Guest.PvalidateRange(new gpa_t(0x20_0000), 512, validate: true)),
                ("Host.Dispose after the VM's", () =>
                {
                    host.Dispose(); // must not free anything twice
                    host.Result("after");
                }));
        }),
        new(typeof(Host), () =>
        {
            var host = new Host("first-use", folioOrder: 9, guestBytes: 16 << 20, new HostOptions(RmpOpt: true));
            host.Guest.Access(new gpa_t(0x20_0000), isPrivate: true);
            return Subject(
                host.Dispose,
                ("Result", () => host.Result("after")),
                ("TeardownGuest", () => host.TeardownGuest()),
                ("SetPrivate", () => host.SetPrivate(0, 0x1000, false)),
                ("CreateGuestMemfd", () => host.CreateGuestMemfd(1 << 20)),
                ("Guest.Access", () => host.Guest.Access(new gpa_t(0x20_0000), isPrivate: true)),
                ("Rmp.Lookup", () => Sink(host.Rmp.Lookup(new kvm_pfn_t(1)).Raw)),
                ("Allocator.TryAllocate", () => host.Allocator.TryAllocate(0, out _)));
        }),
        new(typeof(ReplaySession), () =>
        {
            var session = new ReplaySession("first-use", new ReplayOptions(0, 4UL << 30));
            var op = new ReplayOp { Kind = ReplayOpKind.Fault, Gpa = 0x1000, ErrorCode = 0x500000004 };
            session.Apply(op);
            return Subject(session.Dispose, ("Apply", () => session.Apply(op)), ("Result", () => session.Result("after")));
        }),
        new(typeof(Replayer), () =>
        {
            var reader = TraceFile.OpenText("       CPU 0/KVM-7001    (   7000) [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"u8.ToArray());
            var replayer = new Replayer(reader, new ReplayOptions(0, 4UL << 30), ["first-use"]);
            replayer.Run();
            return Subject(
                () =>
                {
                    replayer.Dispose();
                    reader.Dispose();
                },
                ("Run", () => replayer.Run()),
                ("Results", () => replayer.Results("after")));
        }),
        new(typeof(BuddyAllocator), () =>
        {
            var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1 << 12);
            Check(allocator.TryAllocate(0, out var pfn), "BuddyAllocator.TryAllocate");
            return Subject(
                allocator.Dispose,
                ("TryAllocate", () => allocator.TryAllocate(0, out _)),
                ("Free", () => allocator.Free(pfn, 0)),
                ("Claim", () => allocator.Claim(pfn + 8, 0)),
                ("TryClaim", () => allocator.TryClaim(pfn + 8, 0)),
                ("IsRangeFree", () => allocator.IsRangeFree(pfn, 0)),
                ("IsFree", () => allocator.IsFree(pfn)),
                ("Split", () => allocator.Split(pfn, 0)),
                ("AnyFree", () => allocator.AnyFree(pfn, 16)),
                ("IsSpanFree", () => allocator.IsSpanFree(pfn, 16)),
                ("TryAllocateRun", () =>
                {
                    var filter = default(AnyPfn);
                    allocator.TryAllocateRun(4, new PfnRange[4], out _, ref filter);
                }),
                ("Verify", allocator.Verify));
        }),
        new(typeof(TracedPfnAllocator), () =>
        {
            // Not disposable itself: it wraps a buddy allocator it does not own. Disposing that allocator must make
            // every call through the wrapper throw, the hinted path included.
            var inner = new BuddyAllocator(new kvm_pfn_t(0), 1 << 12);
            var traced = new TracedPfnAllocator(inner);
            Check(traced.TryAllocate(0, out var pfn), "TracedPfnAllocator.TryAllocate");
            return Subject(
                inner.Dispose,
                ("TryAllocate", () => traced.TryAllocate(0, out _)),
                ("TryAllocate with a hint", () =>
                {
                    traced.Hint(100);
                    traced.TryAllocate(0, out _);
                }),
                ("Free", () => traced.Free(pfn, 0)),
                ("IsFree", () => traced.IsFree(pfn)),
                ("Split", () => traced.Split(pfn, 0)));
        }),
    ];

    /// <summary>The case for a type's full or short name, or null.</summary>
    public static ProbeCase? Find(string name)
        => Cases.FirstOrDefault(c => c.Name == name || c.Type.Name == name);

    private static ProbeSubject Subject(Action dispose, params (string Name, Action Call)[] calls)
        => new(dispose, [.. calls.Select(c => new ProbeCall(c.Name, c.Call))]);

    // The calls every RMP store must refuse once disposed: IRmpStore's members that read or write the table. Not
    // AnyAssignedTo where a store keeps IRmpStore's default: that reads entries only through IsAssigned and Read, for
    // pfns below Pages, and a disposed store has none, so it touches nothing.
    private static ProbeSubject Store(IRmpStore store, params (string Name, Action Call)[] extra)
    {
        var entry = new rmpentry_raw { assigned = true, asid = 1, gpa = 7 };
        store.Write4K(7, entry);
        store.Write2M(1, entry with { gpa = 512 });
        (string, Action)[] calls =
        [
            ("IsAssigned", () => Sink(store.IsAssigned(7) ? 1 : 0)),
            ("IsHuge", () => Sink(store.IsHuge(1) ? 1 : 0)),
            ("Lookup", () => Sink(store.Lookup(7).Raw)),
            ("Lookup batch", () => store.Lookup([7, 8], new RmpLookup[2])),
            ("Read", () => Sink((nint)store.Read(7).lo)),
            ("AnyAssigned", () => Sink(store.AnyAssigned(0) ? 1 : 0)),
            ("AnyImmutable", () => Sink(store.AnyImmutable(0) ? 1 : 0)),
            ("Write4K", () => store.Write4K(9, entry with { gpa = 9 })),
            ("Write2M", () => store.Write2M(2, entry with { gpa = 1024 })),
            ("Clear2M", () => store.Clear2M(1)),
            ("Smash", () => store.Smash(1)),
            ("NoneAssigned", () => Sink(store.NoneAssigned(0, 16) ? 1 : 0)),
            ("WriteRun4K", () => store.WriteRun4K(1024, 4, 1, 1024)),
            ("TryValidateRun4K", () => Sink(store.TryValidateRun4K(7, 1, 1, 7) ? 1 : 0)),
            ("SetValidated", () => store.SetValidated(7, true)),
            ("IsGuestRun", () => Sink(store.IsGuestRun(7, 1, 1, 7) ? 1 : 0)),
            ("CountGuestEntries", () =>
            {
                long heads = 0, entries = 0;
                store.CountGuestEntries(0, 1024, 1, ref heads, ref entries);
            }),
            ("GuestMask", () => store.GuestMask(0, 1, new ulong[8])),
        ];
        return Subject(store.Dispose, [.. calls, .. extra]);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Probe setup failed: {what}.");
        }
    }

    private static void Sink(nint value) => s_sink ^= value;

    private struct LeafCounter : INptVisitor
    {
        public long Leaves;

        public void Leaf(gfn_t gfn, NptLeaf leaf) => Leaves++;
    }

    private struct AnyPfn : IPfnRunFilter
    {
        public readonly bool Accept(kvm_pfn_t first, ulong count) => true;
    }
}
