using DuckDB.NET.Data;

namespace FastRmp.Export.Tests;

/// <summary>DuckDB on its own, reading Parquet files with read_parquet: the independent reader the tests check the export with.</summary>
internal sealed class Duck : IDisposable
{
    private readonly DuckDBConnection _connection = new("DataSource=:memory:");

    public Duck() => _connection.Open();

    public static string Files(string root, string relative) => "'" + Path.Combine(root, relative).Replace("'", "''", StringComparison.Ordinal) + "'";

    public List<object?[]> Rows(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        return ReadAll(reader);
    }

    /// <summary>Every row of <paramref name="reader"/>, NULLs as null.</summary>
    public static List<object?[]> ReadAll(System.Data.Common.DbDataReader reader)
    {
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public long Long(string sql) => ToLong(Rows(sql)[0][0]);

    /// <summary>A number DuckDB returned (sums are HUGEINT: BigInteger).</summary>
    public static long ToLong(object? value) => value is System.Numerics.BigInteger big ? (long)big : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    public static ulong ToULong(object? value) => value is System.Numerics.BigInteger big ? (ulong)big : Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => _connection.Dispose();
}

/// <summary>A temporary directory removed at the end of the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fastrmp-export-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
