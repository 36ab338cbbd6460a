// Reads a host trace (trace-cmd trace.dat, ftrace text or perf script; compressed too) and counts its events by type.
// Usage: CountEvents TRACE
using FastRmp.Interop.Tracing;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: CountEvents TRACE");
    return 2;
}

var counts = new Dictionary<string, long>();
long total = 0;
using (var reader = TraceFile.OpenReader(args[0]))
{
    while (reader.MoveNext(out var record))
    {
        string name = record.Format.FullName;
        counts[name] = counts.GetValueOrDefault(name) + 1;
        total++;
    }
}

foreach (var (name, count) in counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal))
{
    Console.WriteLine($"{count,10}  {name}");
}

Console.WriteLine($"{total,10}  records");
return 0;
