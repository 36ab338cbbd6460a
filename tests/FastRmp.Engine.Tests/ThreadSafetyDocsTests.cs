using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace FastRmp.Engine.Tests;

/// <summary>
/// Issue 18, item 11: every public class of the libraries says in its documentation whether it may be used from
/// several threads ("thread-safe", "not thread-safe", "immutable"...). Records, static classes, exceptions, attributes
/// and delegates are left out: records and static classes hold no hidden mutable state of their own, and the others
/// are the runtime's patterns. Reads the XML documentation the build writes beside each assembly.
/// </summary>
public sealed class ThreadSafetyDocsTests
{
    [Theory]
    [InlineData(typeof(FastRmp.Interop.Tracing.TraceFile))]
    [InlineData(typeof(FastRmp.Engine.Hosting.Host))]
    public void Every_public_class_says_whether_it_is_thread_safe(Type inAssembly)
    {
        var assembly = inAssembly.Assembly;
        string xml = Path.ChangeExtension(assembly.Location, ".xml");
        Assert.True(File.Exists(xml), $"{xml} is missing: GenerateDocumentationFile writes it");
        var docs = XDocument.Load(xml).Descendants("member").ToDictionary(m => (string)m.Attribute("name")!, m => m.Value);
        var silent = new List<string>();
        int checkedTypes = 0;
        foreach (var type in assembly.GetExportedTypes())
        {
            if (!type.IsClass || (type.IsAbstract && type.IsSealed) || typeof(Delegate).IsAssignableFrom(type)
                || typeof(Exception).IsAssignableFrom(type) || typeof(Attribute).IsAssignableFrom(type) || type.GetMethod("<Clone>$") is not null)
            {
                continue;
            }

            checkedTypes++;
            string key = "T:" + Regex.Replace(type.FullName!, @"\[.*", "").Replace('+', '.');
            if (!docs.TryGetValue(key, out string? text) || !Regex.IsMatch(text, "thread|[Ii]mmutable"))
            {
                silent.Add(type.FullName!);
            }
        }

        Assert.True(checkedTypes >= 10, $"only {checkedTypes} public classes found in {assembly.GetName().Name}");
        Assert.True(silent.Count == 0, $"public classes that do not say whether they are thread-safe:\n  {string.Join("\n  ", silent)}");
    }
}
