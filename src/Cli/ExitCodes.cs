namespace FastRmp.Cli;

/// <summary>The command's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>Bad input: a file, a value or a version that cannot be used.</summary>
    public const int InputError = 1;

    /// <summary>Bad usage: unknown command or option, missing argument.</summary>
    public const int Usage = 2;
}
