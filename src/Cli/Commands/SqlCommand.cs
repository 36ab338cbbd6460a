using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using FastRmp.Cli.Options;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Replay;
using FastRmp.Export.Sql;

namespace FastRmp.Cli.Commands;

/// <summary>
/// <c>fastrmp sql "SELECT ..." DIR|TRACE... [--format table|csv|json]</c>: SQL on embedded DuckDB over a dataset
/// <c>fastrmp export</c> wrote, or over traces exported to a temporary dataset first (docs/sql.md).
/// </summary>
internal static class SqlCommand
{
    public static Command Create()
    {
        var query = new Argument<string>("QUERY") { Description = "The SQL (DuckDB's dialect); the tables are views named after the events (kvm_page_fault, ...), events, decisions and runs (docs/sql.md)." };
        var inputs = new Argument<string[]>("DIR|TRACE")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "A dataset directory written by 'fastrmp export', or one or more traces (exported to a temporary dataset first, each its own host).",
        };
        var format = CliOptions.OneOf(
            new Option<string>("--format") { Description = "table, csv or json (an array of objects).", DefaultValueFactory = _ => "table" },
            "format",
            "use one of",
            ["table", "csv", "json"]);
        var replay = new Option<bool>("--replay") { Description = "With traces: also replay them under every policy, for the decisions and runs tables." };
        var command = new Command("sql", "Run SQL on embedded DuckDB over a Parquet dataset from 'fastrmp export' (or over traces, exported on the fly).")
        {
            query, inputs, format, replay,
        };
        command.SetAction(parse => Run(parse.GetValue(query)!, parse.GetValue(inputs)!, parse.GetValue(format)!, parse.GetValue(replay), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    internal static int Run(string sql, string[] inputs, string format, bool replay, TextWriter stdout, TextWriter stderr)
    {
        if (inputs.Length == 1 && Directory.Exists(inputs[0]))
        {
            if (replay)
            {
                throw new CliUsageException("--replay replays traces; a dataset has its decisions already when it was exported with --replay.");
            }

            return Query(sql, inputs[0], format, stdout);
        }

        if (inputs.FirstOrDefault(Directory.Exists) is { } dir)
        {
            throw new CliUsageException($"{dir}: a dataset directory is queried alone; give one directory or only traces.");
        }

        string temp = Path.Combine(Path.GetTempPath(), "fastrmp-sql-" + Guid.NewGuid().ToString("N"));
        try
        {
            string[] hosts = [.. inputs.Select(ExportCommand.HostName)];
            if (hosts.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            {
                throw new CliUsageException($"two traces make host '{twice.Key}' (hosts are named after the file up to its first '.'); rename one.");
            }

            var options = replay ? new ReplayOptions(0, 1UL << 40, Interop.Uapi.KvmVmType.Snp, FolioAuto: true) : null;
            int exit = ExportCommand.Run(inputs, hosts, temp, Export.Parquet.ParquetDataset.DefaultRowGroupRows, options, [.. PolicyCatalog.Names], null, TextWriter.Null, stderr);
            if (exit != ExitCodes.Ok)
            {
                return exit;
            }

            return Query(sql, temp, format, stdout);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static int Query(string sql, string dir, string format, TextWriter stdout)
    {
        DatasetQuery db;
        try
        {
            db = new DatasetQuery(dir);
        }
        catch (Exception ex) when (ex is InvalidDataException or DirectoryNotFoundException)
        {
            throw new CliInputException(ex.Message);
        }

        using (db)
        {
            DbDataReader reader;
            try
            {
                reader = db.Query(sql);
            }
            catch (SqlQueryException ex)
            {
                throw new CliInputException($"sql: {OneLine(ex.Message)}");
            }

            using (reader)
            {
                try
                {
                    switch (format)
                    {
                        case "csv": WriteCsv(reader, stdout); break;
                        case "json": WriteJson(reader, stdout); break;
                        default: WriteTable(reader, stdout); break;
                    }
                }
                catch (DbException ex)
                {
                    throw new CliInputException($"sql: {OneLine(ex.Message)}");
                }
            }
        }

        return ExitCodes.Ok;
    }

    private static string OneLine(string message) => string.Join(" ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Text(object value) => value switch
    {
        DBNull => "",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static void WriteTable(DbDataReader reader, TextWriter o)
    {
        // Rows are held to size the columns: a query for a terminal is small; use --format csv for big results.
        var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        var rows = new List<string[]>();
        var numeric = new bool[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            var t = reader.GetFieldType(i);
            numeric[i] = t.IsPrimitive && t != typeof(bool) || t == typeof(decimal) || t == typeof(BigInteger);
        }

        while (reader.Read())
        {
            var row = new string[names.Length];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = Text(reader.GetValue(i));
            }

            rows.Add(row);
        }

        var widths = names.Select((n, i) => Math.Max(n.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        void Line(string[] cells, bool header)
        {
            sb.Clear();
            for (int i = 0; i < cells.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append("  ");
                }

                sb.Append(numeric[i] && !header ? cells[i].PadLeft(widths[i]) : cells[i].PadRight(widths[i]));
            }

            o.WriteLine(sb.ToString().TrimEnd());
        }

        Line(names, header: true);
        Line([.. widths.Select(w => new string('-', w))], header: true);
        foreach (var row in rows)
        {
            Line(row, header: false);
        }

        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"({rows.Count} row{(rows.Count == 1 ? "" : "s")})"));
    }

    private static void WriteCsv(DbDataReader reader, TextWriter o)
    {
        o.WriteLine(string.Join(",", Enumerable.Range(0, reader.FieldCount).Select(i => Csv(reader.GetName(i)))));
        var cells = new string[reader.FieldCount];
        while (reader.Read())
        {
            for (int i = 0; i < cells.Length; i++)
            {
                cells[i] = Csv(Text(reader.GetValue(i)));
            }

            o.WriteLine(string.Join(",", cells));
        }
    }

    private static string Csv(string value) => value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    private static void WriteJson(DbDataReader reader, TextWriter o)
    {
        using var sink = Utf8Output.For(o);
        using var w = new Utf8JsonWriter(sink, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        w.WriteStartArray();
        while (reader.Read())
        {
            w.WriteStartObject();
            for (int i = 0; i < names.Length; i++)
            {
                w.WritePropertyName(names[i]);
                switch (reader.GetValue(i))
                {
                    case DBNull: w.WriteNullValue(); break;
                    case bool b: w.WriteBooleanValue(b); break;
                    case long l: w.WriteNumberValue(l); break;
                    case int n: w.WriteNumberValue(n); break;
                    case short s: w.WriteNumberValue(s); break;
                    case sbyte s: w.WriteNumberValue(s); break;
                    case ulong u: w.WriteNumberValue(u); break;
                    case uint u: w.WriteNumberValue(u); break;
                    case ushort u: w.WriteNumberValue(u); break;
                    case byte u: w.WriteNumberValue(u); break;
                    case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
                    case float f when float.IsFinite(f): w.WriteNumberValue(f); break;
                    case decimal m: w.WriteNumberValue(m); break;
                    case BigInteger bi: w.WriteRawValue(bi.ToString(CultureInfo.InvariantCulture)); break;
                    case var v: w.WriteStringValue(Text(v)); break;
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.Flush();
        sink.Write("\n"u8);
    }
}
