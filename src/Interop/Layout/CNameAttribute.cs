namespace FastRmp.Interop.Layout;

/// <summary>
/// Names the C constant (macro or enumerator) that an enum member or constant mirrors, so tests can compare its
/// value with the one the C compiler computes in native-stubs.
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
public sealed class CNameAttribute(string name) : Attribute
{
    /// <summary>The C identifier.</summary>
    public string Name { get; } = name;
}

/// <summary>Marks a static class whose <c>const</c> fields carry C names and C values.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class CConstantsAttribute : Attribute;
