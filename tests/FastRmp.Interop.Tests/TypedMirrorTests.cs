using System.Runtime.InteropServices;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;
using FastRmp.Tests.Common;

namespace FastRmp.Interop.Tests;

/// <summary>Typed reads through the mirrors, and the bitfield accessors at their bounds.</summary>
public sealed class TypedMirrorTests
{
    private static uint IndexOf(string structName, string field)
        => NativeStubs.Fields().Single(f => f.Struct == structName && f.Name == field).Index;

    [Fact]
    public void A_kvm_page_fault_filled_by_C_reads_field_by_field_through_the_mirror()
    {
        const string name = "kvm_page_fault_v6_13";
        var buffer = new byte[80];
        Assert.Equal(0, NativeStubs.Fill(name, buffer));
        ref var f = ref MemoryMarshal.AsRef<kvm_page_fault_v6_13>(buffer.AsSpan());
        Assert.Equal(FieldPattern.Value(IndexOf(name, "addr")), f.addr.Value);
        Assert.Equal(FieldPattern.Value(IndexOf(name, "error_code")), f.error_code);
        Assert.Equal((byte)FieldPattern.Value(IndexOf(name, "max_level")), f.max_level);
        Assert.Equal((byte)FieldPattern.Value(IndexOf(name, "goal_level")), f.goal_level);
        Assert.Equal((FieldPattern.Value(IndexOf(name, "is_private")) & 1) != 0, (bool)f.is_private);
        Assert.Equal((FieldPattern.Value(IndexOf(name, "map_writable")) & 1) != 0, (bool)f.map_writable);
        Assert.Equal(FieldPattern.Value(IndexOf(name, "gfn")), f.gfn.Value);
        Assert.Equal(FieldPattern.Value(IndexOf(name, "pfn")), f.pfn.Value);
        Assert.Equal(FieldPattern.Value(IndexOf(name, "refcounted_page")), f.refcounted_page);
    }

    [Fact]
    public void A_kvm_memory_slot_filled_by_C_reads_its_gmem_binding_through_the_mirror()
    {
        var buffer = new byte[280];
        Assert.Equal(0, NativeStubs.Fill("kvm_memory_slot", buffer));
        ref var slot = ref MemoryMarshal.AsRef<kvm_memory_slot>(buffer.AsSpan());
        Assert.Equal(FieldPattern.Value(IndexOf("kvm_memory_slot", "gmem.pgoff")), slot.gmem.pgoff);
        Assert.Equal(FieldPattern.Value(IndexOf("kvm_memory_slot", "base_gfn")), slot.base_gfn.Value);
        Assert.Equal((short)FieldPattern.Value(IndexOf("kvm_memory_slot", "id")), slot.id);
    }

    [Fact]
    public void A_kvm_run_memory_fault_exit_reads_through_the_union_view()
    {
        var buffer = new byte[288];
        Assert.Equal(0, NativeStubs.Fill("kvm_run", buffer));
        ref var run = ref MemoryMarshal.AsRef<kvm_run>(buffer.AsSpan());
        Assert.Equal(FieldPattern.Value(IndexOf("kvm_run", "memory_fault.gpa")), run.memory_fault.gpa);
        Assert.Equal(run.memory_fault.flags, run.hypercall.nr); // both views start at offset 32
    }

    [Fact]
    public void CBool_reads_any_nonzero_byte_as_true_and_keeps_the_raw_byte()
    {
        var raw = new CBool(2);
        Assert.True(raw);
        Assert.True(raw == true);
        Assert.Equal(2, raw.Raw);
        Assert.Equal(1, ((CBool)true).Raw);
        Assert.Equal(0, ((CBool)false).Raw);

        var buffer = new byte[80];
        buffer[23] = 0x80; // is_private of the 6.13 layout, as a dump might hold it
        Assert.True(MemoryMarshal.AsRef<kvm_page_fault_v6_13>(buffer.AsSpan()).is_private);
    }

    [Fact]
    public void Rmpentry_raw_bitfields_hold_their_maximum_and_leave_neighbours_alone()
    {
        var e = default(rmpentry_raw);
        e.gpa = rmpentry_raw.GpaMax;
        Assert.Equal(0x7F_FFFF_FFFFUL, e.gpa); // 39 bits
        Assert.Equal(0x0007_FFFF_FFFF_F000UL, e.lo); // bits 12..50
        e.asid = rmpentry_raw.AsidMax;
        Assert.Equal(1023u, e.asid);
        Assert.Equal(0x1FF8_0000_0000_0000UL, e.lo & ~0x0007_FFFF_FFFF_F000UL); // bits 51..60
        e.validated = true;
        Assert.Equal(1UL << 62, e.lo & (1UL << 62));
        e.vmsa = true;
        e.assigned = true;
        e.pagesize = true;
        e.immutable = true;
        Assert.Equal(0x7FFF_FFFF_FFFF_F007UL, e.lo); // every named bit set, reserved 3..11 and 63 clear
        e.asid = 0;
        Assert.Equal(rmpentry_raw.GpaMax, e.gpa);
        Assert.True(e.vmsa);
        Assert.Equal(0UL, e.hi);
    }

    [Fact]
    public void Rmpentry_raw_setters_reject_values_wider_than_the_field()
    {
        var e = default(rmpentry_raw);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.gpa = rmpentry_raw.GpaMax + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.asid = 1024);
        Assert.Equal(0UL, e.lo);
    }

    [Fact]
    public void Psc_entry_bitfields_hold_their_bounds()
    {
        var e = default(psc_entry);
        e.gfn = (1UL << 40) - 1;
        e.cur_page = 4095;
        e.operation = (ulong)PscOperation.Shared;
        e.pagesize = true;
        Assert.Equal(0x012F_FFFF_FFFF_FFFFUL, e.Raw);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.operation = 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.cur_page = 4096);
        Assert.Equal(0x012F_FFFF_FFFF_FFFFUL, e.Raw);
    }

    [Fact]
    public void Rmpentry_rmpread_bits_live_in_their_own_bytes()
    {
        var e = default(rmpentry);
        e.assigned = true;
        e.hpage_region_status = true;
        e.immutable = true;
        var bytes = MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref e, 1));
        Assert.Equal(new byte[] { 1, 2, 1, 0 }, bytes[8..12].ToArray());
        Assert.False(e.pagesize);
    }

    [Fact]
    public void Address_types_convert_between_pages_and_frames()
    {
        var gpa = new gpa_t(0x1_2345_6789);
        Assert.Equal(new gfn_t(0x123456), gpa.Gfn);
        Assert.Equal(0x789u, gpa.PageOffset);
        Assert.Equal(new gpa_t(0x1_2345_6000), gpa.Gfn.Gpa);
        Assert.Equal(0x2000UL, new kvm_pfn_t(2).PhysicalAddress);
        Assert.Equal(512UL, (new gfn_t(0x400) + 512) - new gfn_t(0x400));
    }

    [Fact]
    public void Region2_slot_word_splits_into_address_space_and_id()
    {
        var r = new kvm_userspace_memory_region2 { slot = (1u << 16) | 7 };
        Assert.Equal(1, r.AddressSpace);
        Assert.Equal(7, r.SlotId);
    }
}
