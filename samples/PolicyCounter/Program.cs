// Runs one of the debate's scenarios under every guest_memfd conversion policy and prints one counter.
// Usage: PolicyCounter [SCENARIO [COUNTER]]   (default: share-4k-keep rmp_lookups, with 2M folios; counter names:
// fastrmp counters)
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;

var scenario = ScenarioCatalog.Get(args.Length > 0 ? args[0] : "share-4k-keep");
var counter = CounterCatalog.Get(args.Length > 1 ? args[1] : CounterCatalog.RmpLookups.Name);

foreach (var policy in PolicyCatalog.Kinds)
{
    var result = ScenarioCatalog.Run(scenario, policy, FolioSize.Size2M);
    Console.WriteLine($"{policy.Name(),-14} {counter.Name} = {result[counter]}");
}

return 0;
