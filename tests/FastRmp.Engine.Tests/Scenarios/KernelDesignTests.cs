using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// The designs the kernel merged after 6.18, as <c>--kernel</c> selects them (issue 14, "Every design since"; sources in
/// upstream-2024-2026.md and the doc comments of <see cref="KvmKernel"/>): 7.0 prepares on every get_pfn with the
/// folio's head (torvalds virt/kvm/guest_memfd.c after v6.19, "Remove preparation tracking"), kvm-x86-2026 calls
/// <c>make_private</c> only for private pages and converts in place (kvm-x86 guest_memfd.c with the in-place conversion
/// series v7). Every expected value below is counted by hand from those sources and the scenario's steps.
/// </summary>
public sealed class KernelDesignTests
{
    private static RunResult Run(string scenario, string kernel, int order = 0, string policy = "first-use")
        => ScenarioCatalog.Run(scenario, policy, order, null, new HostOptions(Kernel: KvmKernel.Parse(kernel)));

    [Theory]
    [InlineData("6.18", 512, 512, 0)]
    [InlineData("7.0", 513, 512, 0)]
    [InlineData("kvm-x86-2026", 514, 513, 1)]
    public void Psmash_roundtrip_with_4K_folios_counts_each_kernels_hook_calls(string kernel, long lookups, long toPrivate, long toShared)
    {
        // psmash-roundtrip, first-use, 4K folios: the chunk's 512 private faults each prepare their fresh folio (one
        // lookup, one 4K RMPUPDATE to private): 512 under every kernel. Then the guest shares one page without a punch
        // and makes it private again; its re-fault calls get_pfn once more:
        // - 6.18: the folio is uptodate, so no hook: 512 lookups; the page never left the guest: no RMPUPDATE to shared.
        // - 7.0: kvm_gmem_prepare_folio runs on every get_pfn; sev_gmem_prepare looks the pfn up, finds it assigned
        //   and returns: 513 lookups, still no RMPUPDATE to shared.
        // - kvm-x86-2026 (in place): the conversion to shared calls kvm_arch_gmem_make_shared on the page (SNP: one
        //   lookup, one RMPUPDATE to shared), and the re-fault's make_private finds it unassigned (one lookup, one
        //   RMPUPDATE to private): 514 lookups, 513 to private, 1 to shared.
        var result = Run("psmash-roundtrip", kernel);
        Assert.Equal(lookups, result["rmp_lookups"]);
        Assert.Equal(toPrivate, result["rmpupdate_to_private"]);
        Assert.Equal(toShared, result["rmpupdate_to_shared"]);
        Assert.Equal(513, result["faults_private"]);
        Assert.Equal(kernel, result.Kernel);
    }

    [Theory]
    [InlineData("6.18", 3576)]
    [InlineData("7.0", 4088)]
    [InlineData("kvm-x86-2026", 4088)]
    public void Snp_boot_with_4K_folios_prepares_populated_pages_again_from_7_0(string kernel, long lookups)
    {
        // snp-boot, 16 MiB, 4K folios: 4088 private faults (docs/policies.md, the snp-boot row). Until 6.18 the 512
        // payload pages populate filled are uptodate, so their faults call no hook: 4088 - 512 = 3576 lookups. From
        // 7.0 every get_pfn calls it, and sev_gmem_prepare (make_private) looks the page up even when it is assigned:
        // 4088. kvm-x86-2026 calls it only for private pages, and every faulting page here is private.
        Assert.Equal(lookups, Run("snp-boot", kernel)["rmp_lookups"]);
    }

    [Theory]
    [InlineData("6.18", 1, 1, 513)]
    [InlineData("7.0", 1, 1, 513)]
    [InlineData("kvm-x86-2026", 512, 0, 512)]
    public void Memslots_512_with_2M_folios_converts_at_the_order_get_pfn_reports_from_kvm_x86_2026(string kernel, long toPrivate, long psmash, long faults)
    {
        // memslots-512, 2M folios: each 4 KiB slot binds one page of a 2 MiB folio, so get_pfn reports max_order 0.
        // - 6.18 and 7.0: kvm_gmem_prepare_folio passes the folio's order (9): sev_gmem_prepare makes one 2M entry at
        //   the first fault; the 4K leaves under it take one #NPF(RMP): PSMASH, zap, re-fault: 513 faults.
        // - kvm-x86-2026: make_private gets 1 << max_order = 1 page, so each page is converted at 4K where it faults:
        //   512 RMPUPDATEs to private, no PSMASH, 512 faults.
        var result = Run("memslots-512", kernel, order: 9);
        Assert.Equal(toPrivate, result["rmpupdate_to_private"]);
        Assert.Equal(psmash, result["psmash"]);
        Assert.Equal(faults, result["faults_private"]);
    }

    [Theory]
    [InlineData("6.18", 0, 0, 2)]
    [InlineData("7.0", 0, 0, 2)]
    [InlineData("kvm-x86-2026", 1, 1, 3)]
    public void Share_busy_fails_with_EAGAIN_only_when_conversion_is_in_place(string kernel, long busy, long sharedFromGmem, long exits)
    {
        // share-busy: the guest shares a page (one MAP_GPA_RANGE exit) and touches it shared; the VMM holds a reference
        // to the shared page; the guest makes it private (a second exit).
        // - Before in-place conversion the shared page is the VMM's own memory: the gfn's private page is another page,
        //   and KVM_SET_MEMORY_ATTRIBUTES checks no reference: 2 exits, nothing busy.
        // - In place the shared page is the guest_memfd page itself (the shared fault is served from guest_memfd: 1),
        //   so kvm_gmem_has_outstanding_references refuses the conversion with -EAGAIN (1); the VMM drops the
        //   reference and the guest's page-state change is retried: 3 exits.
        var result = Run("share-busy", kernel);
        Assert.Equal(busy, result["conversions_busy"]);
        Assert.Equal(sharedFromGmem, result["shared_from_gmem"]);
        Assert.Equal(exits, result["hypercall_exits"]);
        Assert.Equal(0, result["stuck_accesses"]);
    }

    [Theory]
    [InlineData("6.18", 0, 1024)]
    [InlineData("kvm-x86-2026", 512, 512)]
    public void Init_shared_memory_is_converted_in_place_only_with_in_place_conversion(string kernel, long sharedFromGmem, long hostPages)
    {
        // init-shared: the guest touches the 512 pages of the chunk shared, then converts and validates each page.
        // - 6.18 refuses INIT_SHARED for a VM with private memory (kvm_arch_supports_gmem_init_shared is false on x86):
        //   the shared pages are the VMM's own (512 host pages), and each private fault allocates a guest_memfd folio
        //   (512 more): 1024 host pages in use.
        // - kvm-x86-2026 accepts it: the shared faults are served from guest_memfd (512), and each conversion turns
        //   the same page private (make_private at the private fault): 512 host pages.
        // Both: 512 shared and 512 private faults, one lookup and one RMPUPDATE to private per private fault.
        var reference = Run("init-shared", kernel);
        Assert.Equal(sharedFromGmem, reference["shared_from_gmem"]);
        Assert.Equal(512, reference["faults_shared"]);
        Assert.Equal(512, reference["faults_private"]);
        Assert.Equal(512, reference["rmp_lookups"]);
        Assert.Equal(512, reference["rmpupdate_to_private"]);
        Assert.Equal(512, reference["folios_4k"]);
        Assert.Equal((ulong)hostPages, InitSharedHostPages(kernel));
    }

    private static ulong InitSharedHostPages(string kernel)
    {
        // The scenario itself, measured on the host's allocator before teardown.
        using var host = new Host("first-use", 0, 0, new HostOptions(Kernel: KvmKernel.Parse(kernel), HostPages: Host.DefaultHostPages(16 << 20)));
        ulong before = host.Allocator.AllocatedPages;
        ScenarioCatalog.InitShared(host, 16 << 20);
        return host.Allocator.AllocatedPages - before;
    }

    [Fact]
    public void Seven_oh_leaves_the_unpopulated_part_of_a_large_folio_to_the_host()
    {
        // 2M folios; SNP_LAUNCH_UPDATE fills the first 256 pages of the folio at GPA 0 (4K immutable entries); then
        // the guest validates page 256.
        // - 6.18: populate remembers the folio filled in part, and its first get_pfn prepares the pages populate did
        //   not fill (kvm_gmem_populate's partial handling): page 256 is assigned, and its PVALIDATE succeeds.
        // - 7.0: get_pfn prepares the folio through its head (kvm_gmem_prepare_folio aligns the index down):
        //   sev_gmem_prepare looks the head pfn up, finds it assigned (populated) and returns 0, so page 256 stays
        //   hypervisor-owned (6538b6221cc2 removed the partial handling); the guest's PVALIDATE of a page not assigned
        //   to it fails (FAIL_PERMISSION, docs/rmp.md), so the guest cannot use the page.
        foreach (var kernel in new[] { KvmKernel.V6_18, KvmKernel.V7_0 })
        {
            using var host = new Host("first-use", 9, 16 << 20, new HostOptions(Kernel: kernel));
            Assert.Equal(Errno.Ok, host.Vm.Populate(new gfn_t(0), 256));
            var file = host.Vm.Gmem.Get(host.Fd)!;
            var page = new gpa_t(256 * PageSize.Size4K);
            if (kernel == KvmKernel.V6_18)
            {
                Assert.Equal(PvalidateResult.Success, host.Guest.Pvalidate(page, RmpPageSize.Size4K, true).Result);
                Assert.True(host.Rmp.Read(file.Folio(256).Pfn).assigned);
            }
            else
            {
                Assert.Equal(PvalidateResult.FailPermission, host.Guest.Pvalidate(page, RmpPageSize.Size4K, true).Result);
                Assert.False(host.Rmp.Read(file.Folio(256).Pfn).assigned);
            }
        }
    }

    [Fact]
    public void Seven_oh_refuses_a_second_launch_update_through_the_rmp_lookup()
    {
        // 7.0: kvm_gmem_populate no longer refuses an uptodate folio; sev_gmem_post_populate's lookup of the page
        // finds it assigned and returns -EEXIST. 6.18 refuses earlier, at the uptodate folio: EEXIST too.
        foreach (var kernel in new[] { KvmKernel.V6_18, KvmKernel.V7_0 })
        {
            using var host = new Host("first-use", 0, 16 << 20, new HostOptions(Kernel: kernel));
            Assert.Equal(Errno.Ok, host.Vm.Populate(new gfn_t(0), 1));
            Assert.Equal(Errno.EEXIST, host.Vm.Populate(new gfn_t(0), 1));
        }
    }

    [Fact]
    public void Each_kernel_accepts_the_guest_memfd_flags_of_its_release()
    {
        // kvm_gmem_get_supported_flags: no flags before 6.18; MMAP from 6.18 (3d3a04fad25a); INIT_SHARED only for VMs
        // without private memory until guest_memfd tracks shared/private itself (kvm-x86 2026).
        var expected = new Dictionary<string, GuestMemfdFlags>
        {
            ["6.11"] = 0,
            ["6.13"] = 0,
            ["6.18"] = GuestMemfdFlags.Mmap,
            ["7.0"] = GuestMemfdFlags.Mmap,
            ["kvm-x86-2026"] = GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared,
        };
        foreach (var kernel in KvmKernel.All)
        {
            using var host = new Host("first-use", 0, 0, new HostOptions(Kernel: kernel));
            Assert.Equal(expected[kernel.Name], host.Vm.Gmem.SupportedFlags);
            var error = host.Vm.CreateGuestMemfd(new kvm_create_guest_memfd { size = 1 << 20, flags = (ulong)(GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared) }, out _);
            Assert.Equal(kernel.InPlaceConversion ? Errno.Ok : Errno.EINVAL, error);
        }
    }

    [Fact]
    public void Set_memory_attributes2_follows_kvm_gmem_set_attributes()
    {
        // kvm_gmem_set_attributes / __kvm_gmem_set_attributes (kvm-x86 2026, in-place conversion v7).
        using var host = new Host("first-use", 0, 16 << 20, new HostOptions(Kernel: KvmKernel.KvmX86_2026));
        var file = host.Vm.Gmem.Get(host.Fd)!;
        Assert.True(file.IsPrivateIndex(5)); // default attributes: private without INIT_SHARED
        Assert.Equal(Errno.EACCES, file.Pin(5)); // a private page cannot be mapped by userspace (SIGBUS)

        var toShared = new kvm_memory_attributes2 { offset = 5 * PageSize.Size4K, size = PageSize.Size4K };
        var bad = toShared;
        bad.flags = 1;
        Assert.Equal(Errno.EINVAL, file.SetAttributes(bad, out _)); // flags must be zero
        bad = toShared;
        bad.size = 0;
        Assert.Equal(Errno.EINVAL, file.SetAttributes(bad, out _));
        bad = toShared;
        bad.offset = 16 << 20;
        Assert.Equal(Errno.EINVAL, file.SetAttributes(bad, out _)); // past i_size

        Assert.Equal(Errno.Ok, file.SetAttributes(toShared, out _));
        Assert.False(file.IsPrivateIndex(5));
        Assert.False(host.Vm.Attributes.IsPrivate(new gfn_t(5))); // the VM sees the file's attributes
        Assert.Equal(Errno.Ok, file.Pin(5));

        var toPrivate = toShared;
        toPrivate.attributes = (ulong)MemoryAttributes.Private;
        toPrivate.offset = 4 * PageSize.Size4K;
        toPrivate.size = 4 * PageSize.Size4K; // pages 4..7: page 5 is pinned
        Assert.Equal(Errno.EAGAIN, file.SetAttributes(toPrivate, out ulong errorOffset));
        Assert.Equal(5 * PageSize.Size4K, errorOffset);
        Assert.False(file.IsPrivateIndex(5)); // nothing changed
        Assert.True(file.Unpin(5));
        Assert.Equal(Errno.Ok, file.SetAttributes(toPrivate, out _));
        Assert.True(file.IsPrivateIndex(5));
        Assert.True(host.Vm.Attributes.IsPrivate(new gfn_t(5)));
    }

    [Fact]
    public void Attribute_runs_cross_64_page_words()
    {
        // pages [60, 200) shared, the rest private: runs end where the state changes, whatever the word boundaries
        using var host = new Host("first-use", 0, 16 << 20, new HostOptions(Kernel: KvmKernel.KvmX86_2026));
        var file = host.Vm.Gmem.Get(host.Fd)!;
        Assert.Equal(Errno.Ok, file.SetAttributes(new kvm_memory_attributes2 { offset = 60 * PageSize.Size4K, size = 140 * PageSize.Size4K }, out _));
        Assert.Equal((true, false, false, true), (file.IsPrivateIndex(59), file.IsPrivateIndex(60), file.IsPrivateIndex(199), file.IsPrivateIndex(200)));
        Assert.Equal(60UL, file.AttributeRunEnd(0, file.Pages));
        Assert.Equal(200UL, file.AttributeRunEnd(60, file.Pages));
        Assert.Equal(150UL, file.AttributeRunEnd(64, 150)); // the run goes past the end asked for
        Assert.Equal(file.Pages, file.AttributeRunEnd(200, file.Pages));
        for (ulong gfn = 0; gfn < 256; gfn++)
        {
            Assert.Equal(file.IsPrivateIndex(gfn), host.Vm.Attributes.IsPrivate(new gfn_t(gfn))); // the VM's view follows
        }
    }

    [Fact]
    public void Set_memory_attributes2_is_not_a_guest_memfd_ioctl_before_in_place_conversion()
    {
        // kvm_gmem_ioctl: -ENOTTY unless gmem_in_place_conversion.
        using var host = new Host("first-use", 0, 16 << 20, new HostOptions(Kernel: KvmKernel.V7_0));
        var file = host.Vm.Gmem.Get(host.Fd)!;
        Assert.Equal(Errno.ENOTTY, file.SetAttributes(new kvm_memory_attributes2 { size = PageSize.Size4K }, out _));
        Assert.Equal(Errno.ENODEV, file.Pin(0)); // no GUEST_MEMFD_FLAG_MMAP: the file cannot be mapped
    }
}
