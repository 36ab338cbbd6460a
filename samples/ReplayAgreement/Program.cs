// Replays a host trace through the model under every policy and prints how often the model agreed with the traced
// kernel's decisions. Usage: ReplayAgreement TRACE
using System.Globalization;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: ReplayAgreement TRACE");
    return 2;
}

using var reader = TraceFile.OpenReader(args[0]);
// FolioAuto follows the host's folio sizes from the trace, as 'fastrmp compare' does by default; so do reading ahead
// and one model thread per core (the same results, sooner).
using var replayer = new Replayer(reader, new ReplayOptions(FolioAuto: true), PolicyCatalog.Names)
{
    ReadAhead = Environment.ProcessorCount > 1,
    ModelThreads = Environment.ProcessorCount,
};
replayer.Run();
foreach (var result in replayer.Results(Path.GetFileName(args[0])))
{
    string agreement = result.Fidelity.AgreementRate is double rate ? (rate * 100).ToString("F2", CultureInfo.InvariantCulture) + " %" : "n/a";
    Console.WriteLine($"{result.Policy,-14} agreement {agreement} ({result.Fidelity.Compared} decisions compared)");
}

return 0;
