namespace FastRmp.Cli.Tests;

/// <summary>The repository the tests run from (the folder with FastRmp.sln above the test assembly).</summary>
internal static class Repository
{
    /// <summary>The repository's root folder.</summary>
    public static string Root()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "FastRmp.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        return root.FullName;
    }
}
