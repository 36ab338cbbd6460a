namespace FastRmp.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        int exit = CliApp.Run(args, Console.Out, Console.Error);
        try
        {
            Console.Out.Flush(); // a full device may refuse the last buffered output only here
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"fastrmp: {ex.Message.TrimEnd('.', ' ')} (I/O error writing the output)");
            return ExitCodes.InputError;
        }

        return exit;
    }
}
