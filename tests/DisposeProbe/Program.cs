namespace FastRmp.DisposeProbe;

/// <summary>
/// Disposes one engine type twice, then calls its public members that touch native memory: each must throw
/// <see cref="ObjectDisposedException"/>. Runs in its own process so that a use-after-free or double free kills only
/// the probe (a signal, exit 134 or 139) and the test that started it can say which type did it.
/// </summary>
/// <remarks>
/// <c>DisposeProbe TYPE</c> (a full name from <c>--list</c>, or the short name): exit 0 when every call threw
/// <see cref="ObjectDisposedException"/>; 3, with one line per call that did not, otherwise; 2 for a usage error.
/// </remarks>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args is ["--list"])
        {
            foreach (var c in ProbeTable.Cases)
            {
                Console.WriteLine(c.Name);
            }

            return 0;
        }

        if (args.Length != 1 || ProbeTable.Find(args[0]) is not { } probe)
        {
            Console.Error.WriteLine("usage: DisposeProbe TYPE | --list (TYPE: a full or short name from --list)");
            return 2;
        }

        var subject = probe.Create();
        subject.Dispose();
        subject.Dispose(); // a second Dispose must do nothing
        int failures = 0;
        foreach (var call in subject.Calls)
        {
            string? failure = null;
            try
            {
                call.Call();
                failure = "returned normally";
            }
            catch (ObjectDisposedException)
            {
            }
            catch (Exception e)
            {
                failure = $"threw {e.GetType().Name}: {e.Message}";
            }

            if (failure is not null)
            {
                failures++;
                Console.WriteLine($"{probe.Type.Name}.{call.Name} after Dispose {failure}");
            }
        }

        Console.WriteLine($"{probe.Type.Name}: {subject.Calls.Count - failures} of {subject.Calls.Count} calls threw ObjectDisposedException");
        return failures == 0 ? 0 : 3;
    }
}
