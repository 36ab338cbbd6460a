using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastRmp.Interop.Layout;

/// <summary>Reads a bitfield through a mirror's accessor.</summary>
/// <typeparam name="T">The mirror.</typeparam>
public delegate ulong BitfieldGetter<T>(in T value);

/// <summary>Writes a bitfield through a mirror's accessor.</summary>
/// <typeparam name="T">The mirror.</typeparam>
public delegate void BitfieldSetter<T>(ref T value, ulong bits);

/// <summary>
/// Builds a <see cref="MirrorLayout"/> by measuring fields of a live instance: each call passes a reference to a
/// field of the instance the builder was created over, and the offset is the distance between the two references.
/// </summary>
/// <typeparam name="T">The mirror.</typeparam>
public ref struct MirrorLayoutBuilder<T> where T : unmanaged
{
    private readonly ref T _root;
    private readonly string _name;
    private readonly string _cName;
    private readonly string _summary;
    private ImmutableArray<MirrorField>.Builder _fields;
    private ImmutableArray<MirrorBitfield>.Builder _bits;
    private int _allocatedAlignment;

    /// <summary>Starts describing <paramref name="root"/>, an instance of the mirror.</summary>
    public MirrorLayoutBuilder(ref T root, string name, string cName, string summary)
    {
        _root = ref root;
        _name = name;
        _cName = cName;
        _summary = summary;
        _fields = ImmutableArray.CreateBuilder<MirrorField>();
        _bits = ImmutableArray.CreateBuilder<MirrorBitfield>();
    }

    /// <summary>Adds a field; its kind follows from its C# type.</summary>
    public MirrorLayoutBuilder<T> Field<TField>(ref TField field, string name, string cType) where TField : unmanaged
        => Add(ref field, name, cType, KindOf<TField>());

    /// <summary>Adds the storage shared with bitfields (kind <see cref="MirrorFieldKind.Union"/>).</summary>
    public MirrorLayoutBuilder<T> Union<TField>(ref TField field, string name, string cType) where TField : unmanaged
        => Add(ref field, name, cType, MirrorFieldKind.Union);

    /// <summary>Adds a bitfield read and written through the mirror's accessors.</summary>
    public MirrorLayoutBuilder<T> Bits(string name, int bitOffset, int bitWidth, BitfieldGetter<T> get, BitfieldSetter<T> set)
    {
        _bits.Add(new MirrorBitfield(
            name,
            bitOffset,
            bitWidth,
            bytes => get(in MemoryMarshal.AsRef<T>(bytes)),
            (bytes, bits) => set(ref MemoryMarshal.AsRef<T>(bytes), bits)));
        return this;
    }

    /// <summary>Finishes the layout.</summary>
    public readonly MirrorLayout Build()
        => new(_name, _cName, typeof(T), Unsafe.SizeOf<T>(), Math.Max(AlignOf(), _allocatedAlignment), _summary, _fields.ToImmutable(), _bits.ToImmutable());

    /// <summary>
    /// The C type is <c>__aligned(<paramref name="alignment"/>)</c>, more than a managed value can be: the layout
    /// states that alignment, which native memory holding the struct must have (the mirror's size already includes the
    /// padding it implies).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a power of two, or not a divisor of the mirror's size.</exception>
    public MirrorLayoutBuilder<T> AllocatedAligned(int alignment)
    {
        if (alignment <= 0 || !int.IsPow2(alignment) || Unsafe.SizeOf<T>() % alignment != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, $"{_name}: an alignment must be a power of two that divides the size ({Unsafe.SizeOf<T>()}).");
        }

        _allocatedAlignment = alignment;
        return this;
    }

    private MirrorLayoutBuilder<T> Add<TField>(ref TField field, string name, string cType, MirrorFieldKind kind)
        where TField : unmanaged
    {
        nint offset = Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref _root), ref Unsafe.As<TField, byte>(ref field));
        if (offset < 0 || offset + Unsafe.SizeOf<TField>() > Unsafe.SizeOf<T>())
        {
            throw new ArgumentException($"{_name}.{name} is not a field of the instance being described.", nameof(field));
        }

        _fields.Add(new MirrorField(name, (int)offset, Unsafe.SizeOf<TField>(), cType, kind));
        return this;
    }

    private static MirrorFieldKind KindOf<TField>()
    {
        if (typeof(TField) == typeof(CBool))
        {
            return MirrorFieldKind.Bool;
        }

        return typeof(TField).IsPrimitive || typeof(TField) == typeof(gpa_t) || typeof(TField) == typeof(gfn_t)
            || typeof(TField) == typeof(kvm_pfn_t) || typeof(TField) == typeof(hva_t)
            ? MirrorFieldKind.Int
            : MirrorFieldKind.Bytes;
    }

    private static int AlignOf()
    {
        AlignProbe probe = default;
        return (int)Unsafe.ByteOffset(ref probe.Pad, ref Unsafe.As<T, byte>(ref probe.Value));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct AlignProbe
    {
        public byte Pad;
        public T Value;
    }
}
