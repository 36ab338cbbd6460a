// Runs one of the debate's scenarios under every guest_memfd conversion policy and prints one counter.
// Usage: PolicyCounter [SCENARIO [COUNTER]]   (default: share-4k-keep rmp_lookups, with 2M folios; counter names:
// fastrmp counters)
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;

string scenario = args.Length > 0 ? args[0] : "share-4k-keep";
string counter = args.Length > 1 ? args[1] : "rmp_lookups";
const int FolioOrder = 9; // 2M guest_memfd folios

foreach (string policy in PolicyCatalog.Names)
{
    var result = ScenarioCatalog.Run(scenario, policy, FolioOrder);
    Console.WriteLine($"{policy,-14} {counter} = {result[counter]}");
}

return 0;
