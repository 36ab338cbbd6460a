using System.Reflection;
using System.Runtime.InteropServices;

namespace FastRmp.Tests.Common;

/// <summary>
/// P/Invoke surface of libfastrmp_stubs (native-stubs/include/fastrmp_stubs.h). The library is built by the README's
/// test command into artifacts/native-stubs; FASTRMP_NATIVE_STUBS may name another directory.
/// </summary>
internal static unsafe partial class NativeStubs
{
    private const string Library = "fastrmp_stubs";

    static NativeStubs() => NativeLibrary.SetDllImportResolver(typeof(NativeStubs).Assembly, Resolve);

    /// <summary>Installs the resolver for this assembly (it runs once, from the static constructor).</summary>
    public static void EnsureResolver()
    {
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct StructRow
    {
        public byte* Name;
        public uint Size;
        public uint Align;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FieldRow
    {
        public byte* StructName;
        public byte* Field;
        public uint Offset;
        public uint Size;
        public byte* CType;
        public uint Kind;
        public uint Index;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct BitfieldRow
    {
        public byte* StructName;
        public byte* Field;
        public uint BitOffset;
        public uint BitWidth;
        public uint Index;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ConstantRow
    {
        public byte* Name;
        public ulong Value;
    }

    [LibraryImport(Library)]
    private static partial StructRow* fr_struct_rows(out nuint count);

    [LibraryImport(Library)]
    private static partial FieldRow* fr_field_rows(out nuint count);

    [LibraryImport(Library)]
    private static partial BitfieldRow* fr_bitfield_rows(out nuint count);

    [LibraryImport(Library)]
    private static partial ConstantRow* fr_constant_rows(out nuint count);

    [LibraryImport(Library)]
    private static partial ulong fr_pattern(uint index);

    [LibraryImport(Library)]
    private static partial byte fr_pattern_byte(uint index, uint j);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fr_fill(string structName, byte* buffer, nuint length);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fr_check(string structName, byte* buffer, nuint length);

    /// <summary>C field kinds (enum fr_field_kind).</summary>
    public enum CKind : uint
    {
        Int = 0,
        Bool = 1,
        Ptr = 2,
        Bytes = 3,
        Union = 4,
    }

    public sealed record CStruct(string Name, int Size, int Align);

    public sealed record CField(string Struct, string Name, int Offset, int Size, string CType, CKind Kind, uint Index);

    public sealed record CBitfield(string Struct, string Name, int BitOffset, int BitWidth, uint Index);

    public static IReadOnlyList<CStruct> Structs()
    {
        var rows = fr_struct_rows(out nuint n);
        var list = new List<CStruct>();
        for (nuint i = 0; i < n; i++)
        {
            list.Add(new CStruct(Str(rows[i].Name), (int)rows[i].Size, (int)rows[i].Align));
        }

        return list;
    }

    public static IReadOnlyList<CField> Fields()
    {
        var rows = fr_field_rows(out nuint n);
        var list = new List<CField>();
        for (nuint i = 0; i < n; i++)
        {
            ref var r = ref rows[i];
            list.Add(new CField(Str(r.StructName), Str(r.Field), (int)r.Offset, (int)r.Size, Str(r.CType), (CKind)r.Kind, r.Index));
        }

        return list;
    }

    public static IReadOnlyList<CBitfield> Bitfields()
    {
        var rows = fr_bitfield_rows(out nuint n);
        var list = new List<CBitfield>();
        for (nuint i = 0; i < n; i++)
        {
            ref var r = ref rows[i];
            list.Add(new CBitfield(Str(r.StructName), Str(r.Field), (int)r.BitOffset, (int)r.BitWidth, r.Index));
        }

        return list;
    }

    public static IReadOnlyDictionary<string, ulong> Constants()
    {
        var rows = fr_constant_rows(out nuint n);
        var map = new Dictionary<string, ulong>();
        for (nuint i = 0; i < n; i++)
        {
            map.Add(Str(rows[i].Name), rows[i].Value);
        }

        return map;
    }

    public static ulong Pattern(uint index) => fr_pattern(index);

    public static byte PatternByte(uint index, uint j) => fr_pattern_byte(index, j);

    /// <summary>C writes every field of <paramref name="structName"/> through member access.</summary>
    public static int Fill(string structName, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return fr_fill(structName, p, (nuint)buffer.Length);
        }
    }

    /// <summary>C reads every field back: 0 when all hold their pattern, else 1 + the first bad field's index.</summary>
    public static int Check(string structName, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return fr_check(structName, p, (nuint)buffer.Length);
        }
    }

    private static string Str(byte* p) => p == null ? "" : Marshal.PtrToStringUTF8((nint)p)!;

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return 0;
        }

        string file = OperatingSystem.IsWindows() ? "fastrmp_stubs.dll"
            : OperatingSystem.IsMacOS() ? "libfastrmp_stubs.dylib" : "libfastrmp_stubs.so";
        foreach (string dir in Candidates())
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
            {
                return NativeLibrary.Load(candidate);
            }
        }

        throw new DllNotFoundException(
            $"{file} was not found (looked in FASTRMP_NATIVE_STUBS and artifacts/native-stubs above {AppContext.BaseDirectory}). " +
            "Run ./test.sh, which builds native-stubs with cmake before the .NET tests.");
    }

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("FASTRMP_NATIVE_STUBS") is { Length: > 0 } env)
        {
            yield return env;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            yield return Path.Combine(dir.FullName, "artifacts", "native-stubs");
        }
    }
}
