using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;

namespace FastRmp.Export.Sql;

/// <summary>
/// SQL over a FastRmp Parquet dataset (docs/sql.md) on an embedded, in-memory DuckDB: every event table is a view
/// named after the event (<c>kvm_page_fault</c>, over every system that has an event of that name; an event named like
/// one of the other views gets <c>event_NAME</c>), with
/// <c>decisions</c>, <c>runs</c> and <c>events</c> (the common columns of every event, with the <c>event</c> name).
/// </summary>
/// <remarks>Views read the Parquet files where they are (hive partitioning: a <c>host</c> column, and <c>event</c>
/// in <c>events</c>); nothing is copied. Not thread-safe.</remarks>
public sealed class DatasetQuery : IDisposable
{
    private readonly DuckDBConnection _connection;

    /// <summary>Opens DuckDB in memory and creates the views of the dataset in <paramref name="root"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    /// <exception cref="InvalidDataException">The directory holds no FastRmp dataset, or a file DuckDB cannot read.</exception>
    public DatasetQuery(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException($"{root}: no such directory");
        }

        var events = Directory.EnumerateDirectories(Root, "event=*")
            .Select(d => Path.GetFileName(d)["event=".Length..])
            .Order(StringComparer.Ordinal)
            .ToList();
        bool decisions = Directory.Exists(Path.Combine(Root, "decisions"));
        bool runs = Directory.Exists(Path.Combine(Root, "runs"));
        if (events.Count == 0 && !decisions)
        {
            throw new InvalidDataException($"{root}: not a FastRmp dataset (no event=* or decisions directory; make one with 'fastrmp export TRACE --parquet DIR')");
        }

        _connection = new DuckDBConnection("DataSource=:memory:");
        _connection.Open();
        var views = new List<string>();
        // One view per event name over every system that has it: a text trace may name an event's system
        // differently from a binary one (the event column says which each row came from).
        foreach (var group in events.GroupBy(e => e[(e.IndexOf('.', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal))
        {
            string files = Path.Combine(Root, "event=*." + group.Key, "*", "*.parquet");
            string view = group.Key is "events" or "decisions" or "runs" ? "event_" + group.Key : group.Key;
            Execute($"CREATE VIEW {Quote(view)} AS SELECT * FROM read_parquet({Literal(files)}, hive_partitioning = true, union_by_name = true)");
            views.Add(view);
        }

        if (events.Count > 0)
        {
            Execute($"CREATE VIEW events AS SELECT replace(event, '.', ':') AS event, host, ts, cpu, pid, tgid, comm, source FROM read_parquet({Literal(Path.Combine(Root, "event=*", "*", "*.parquet"))}, hive_partitioning = true, union_by_name = true)");
            views.Add("events");
        }

        if (decisions)
        {
            Execute($"CREATE VIEW decisions AS SELECT * FROM read_parquet({Literal(Path.Combine(Root, "decisions", "*", "*.parquet"))}, hive_partitioning = true, union_by_name = true)");
            views.Add("decisions");
        }

        if (runs)
        {
            Execute($"CREATE VIEW runs AS SELECT * FROM read_parquet({Literal(Path.Combine(Root, "runs", "*", "*.parquet"))}, hive_partitioning = true, union_by_name = true)");
            views.Add("runs");
        }

        Views = views;
    }

    /// <summary>The dataset's directory (full path).</summary>
    public string Root { get; }

    /// <summary>The views created, by name.</summary>
    public IReadOnlyList<string> Views { get; }

    /// <summary>Runs <paramref name="sql"/> and returns a reader over its result (the caller disposes it).</summary>
    /// <remarks>
    /// Columns of nested types (LIST, STRUCT, MAP, UNION, arrays) come back as DuckDB's text for them (<c>[1, 2]</c>,
    /// <c>{'a': 1}</c>): the provider builds .NET collections for them by reflection, which a Native AOT build cannot
    /// do, so the query is wrapped to cast them (<c>SELECT * REPLACE (CAST(c AS VARCHAR) AS c) FROM (query)</c>) when
    /// DuckDB's DESCRIBE of the query shows any.
    /// </remarks>
    /// <exception cref="SqlQueryException">DuckDB rejected the query (its message says why).</exception>
    public DbDataReader Query(string sql)
    {
        ArgumentException.ThrowIfNullOrEmpty(sql);
        string statement = sql.Trim().TrimEnd(';').TrimEnd();
        var nested = NestedColumns(statement);
        if (nested.Count > 0)
        {
            statement = "SELECT * REPLACE (" + string.Join(", ", nested.Select(c => $"CAST({Quote(c)} AS VARCHAR) AS {Quote(c)}")) + ") FROM (" + statement + "\n)";
        }

        var command = _connection.CreateCommand();
        command.CommandText = statement;
        try
        {
            return command.ExecuteReader();
        }
        catch (DuckDBException ex)
        {
            command.Dispose();
            throw new SqlQueryException(ex.Message, ex);
        }
    }

    /// <summary>The columns of nested type in the result of <paramref name="statement"/>; none when DuckDB cannot describe it (not a query).</summary>
    private List<string> NestedColumns(string statement)
    {
        var nested = new List<string>();
        using var command = _connection.CreateCommand();
        command.CommandText = "DESCRIBE " + statement;
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                string type = reader.GetString(1);
                if (type.Contains('[', StringComparison.Ordinal) || type.StartsWith("STRUCT", StringComparison.Ordinal) || type.StartsWith("MAP", StringComparison.Ordinal) || type.StartsWith("UNION", StringComparison.Ordinal))
                {
                    nested.Add(reader.GetString(0));
                }
            }
        }
        catch (DuckDBException)
        {
            // not describable (a PRAGMA, SHOW, or an error the query itself will report): run it as it is
        }

        return nested;
    }

    /// <summary>Closes DuckDB.</summary>
    public void Dispose() => _connection.Dispose();

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException ex)
        {
            // a view is bound when made, which reads the files' schemas: a damaged or foreign file shows here
            _connection.Dispose();
            throw new InvalidDataException($"{Root}: cannot read the dataset ({ex.Message.Split('\n')[0].Trim()})", ex);
        }
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    internal static string Format(object? value) => value switch
    {
        null or DBNull => "",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>A query DuckDB rejected: a syntax error, an unknown table or column, a type error.</summary>
public sealed class SqlQueryException : Exception
{
    /// <summary>A query error with DuckDB's message.</summary>
    public SqlQueryException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
