using System.Text;

namespace FastRmp.Export.Parquet;

/// <summary>Names in a dataset: Hive partition values and column names kept to characters every reader takes.</summary>
internal static class DatasetPaths
{
    /// <summary>
    /// A partition value (an event's <c>system.name</c>, a host name) with every character other than letters, digits,
    /// '.', '-' and '_' replaced by '_': Hive readers URL-decode values and split on '/' and '=', so those never appear.
    /// </summary>
    public static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        }

        return sb.Length == 0 ? "_" : sb.ToString();
    }

    /// <summary>A column name: as the format names the field, with characters outside letters, digits and '_' as '_'.</summary>
    public static string ColumnName(string field)
    {
        var sb = new StringBuilder(field.Length);
        foreach (char c in field)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        return sb.Length == 0 ? "_" : sb.ToString();
    }
}
