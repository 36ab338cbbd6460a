using System.Reflection;
using FastRmp.Interop.Layout;
using FastRmp.Tests.Common;

namespace FastRmp.Interop.Tests;

/// <summary>
/// Proof 1 and 2: the C compiler's layout table (native-stubs, itself pinned by _Static_assert to the offsets in
/// kernel-domain.md) equals the managed layout of every C# mirror, measured with Unsafe.ByteOffset.
/// </summary>
public sealed class LayoutProofTests
{
    public static TheoryData<string> MirrorNames()
    {
        var data = new TheoryData<string>();
        foreach (var layout in KernelLayouts.All)
        {
            data.Add(layout.Name);
        }

        return data;
    }

    private static MirrorLayout Mirror(string name) => KernelLayouts.All.Single(l => l.Name == name);

    [Fact]
    public void Every_C_struct_has_a_mirror_and_every_mirror_has_a_C_struct()
    {
        var cNames = NativeStubs.Structs().Select(s => s.Name).Order().ToArray();
        var managed = KernelLayouts.All.Select(l => l.Name).Order().ToArray();
        Assert.Equal(cNames, managed);
    }

    [Fact]
    public void Every_mirror_type_in_Interop_is_registered()
    {
        var mirrorTypes = typeof(KernelLayouts).Assembly.GetTypes()
            .Where(t => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICMirror<>)))
            .Order(Comparer<Type>.Create((a, b) => string.CompareOrdinal(a.FullName, b.FullName)))
            .ToArray();
        var registered = KernelLayouts.All.Select(l => l.ClrType)
            .Order(Comparer<Type>.Create((a, b) => string.CompareOrdinal(a.FullName, b.FullName)))
            .ToArray();
        Assert.NotEmpty(mirrorTypes);
        Assert.Equal(mirrorTypes, registered);
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void Size_and_alignment_equal_C(string name)
    {
        var c = NativeStubs.Structs().Single(s => s.Name == name);
        var m = Mirror(name);
        Assert.Equal(c.Size, m.Size);
        Assert.Equal(c.Align, m.Alignment);
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void Every_field_offset_size_and_type_equals_C(string name)
    {
        var m = Mirror(name);
        var c = NativeStubs.Fields().Where(f => f.Struct == name).ToArray();
        Assert.Equal(c.Select(f => f.Name).Order(), m.Fields.Select(f => f.Name).Order());
        foreach (var cf in c)
        {
            var mf = m.FindField(cf.Name)!;
            Assert.True(cf.Offset == mf.Offset, $"{name}.{cf.Name}: C offset {cf.Offset}, C# {mf.Offset}");
            Assert.True(cf.Size == mf.Size, $"{name}.{cf.Name}: C size {cf.Size}, C# {mf.Size}");
            Assert.Equal(cf.CType, mf.CType);
            Assert.Equal(ExpectedKind(cf.Kind), mf.Kind);
        }
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void Every_bitfield_position_and_width_equals_C(string name)
    {
        var m = Mirror(name);
        var c = NativeStubs.Bitfields().Where(b => b.Struct == name).ToArray();
        Assert.Equal(c.Select(b => b.Name).Order(), m.Bitfields.Select(b => b.Name).Order());
        foreach (var cb in c)
        {
            var mb = m.Bitfields.Single(b => b.Name == cb.Name);
            Assert.True(cb.BitOffset == mb.BitOffset, $"{name}.{cb.Name}: C bit {cb.BitOffset}, C# {mb.BitOffset}");
            Assert.True(cb.BitWidth == mb.BitWidth, $"{name}.{cb.Name}: C width {cb.BitWidth}, C# {mb.BitWidth}");
        }
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void Every_public_field_of_the_mirror_is_in_its_layout(string name)
    {
        var m = Mirror(name);
        var fields = m.ClrType.GetFields(BindingFlags.Public | BindingFlags.Instance);
        foreach (var f in fields)
        {
            Assert.True(
                m.Fields.Any(d => d.Name == f.Name || d.Name.StartsWith(f.Name + ".", StringComparison.Ordinal)),
                $"{name}.{f.Name} is a public field that its layout does not describe");
        }
    }

    [Fact]
    public void Every_C_constant_has_a_CSharp_twin_with_the_same_value_and_back()
    {
        var c = NativeStubs.Constants();
        var managed = ManagedConstants();
        foreach (var (cName, value) in c)
        {
            Assert.True(managed.TryGetValue(cName, out ulong mine), $"{cName} has no C# twin");
            Assert.True(value == mine, $"{cName}: C 0x{value:x}, C# 0x{mine:x}");
        }

        Assert.Empty(managed.Keys.Except(c.Keys));
    }

    /// <summary>Const fields of [CConstants] classes and [CName] enum members of the Interop assembly.</summary>
    internal static Dictionary<string, ulong> ManagedConstants()
    {
        var map = new Dictionary<string, ulong>();
        foreach (var type in typeof(KernelLayouts).Assembly.GetTypes())
        {
            bool constantsClass = type.GetCustomAttribute<CConstantsAttribute>() != null;
            foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                string? cName = f.GetCustomAttribute<CNameAttribute>()?.Name
                    ?? (constantsClass && f.IsLiteral && !f.Name.Any(char.IsLower) ? f.Name : null);
                if (cName != null)
                {
                    map.Add(cName, Convert.ToUInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        return map;
    }

    private static MirrorFieldKind ExpectedKind(NativeStubs.CKind kind) => kind switch
    {
        NativeStubs.CKind.Int or NativeStubs.CKind.Ptr => MirrorFieldKind.Int,
        NativeStubs.CKind.Bool => MirrorFieldKind.Bool,
        NativeStubs.CKind.Bytes => MirrorFieldKind.Bytes,
        _ => MirrorFieldKind.Union,
    };
}
