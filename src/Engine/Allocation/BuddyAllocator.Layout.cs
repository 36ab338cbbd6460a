namespace FastRmp.Engine.Allocation;

public sealed partial class BuddyAllocator
{
    // Where each bitmap lives inside the one metadata block. Every order gets the same number of summary levels
    // (the number order 0 needs to reach one word), so the hot path indexes a flat table; the extra levels of the
    // higher orders are one word each. Every array starts on a 64-byte line.
    private readonly struct Layout
    {
        private readonly long[] _levelOffsets;
        private readonly long[] _splitOffsets;

        public Layout(ulong origin, ulong end, int maxOrder)
        {
            ulong span = RoundUp(end - origin, 1UL << maxOrder);
            ulong words0 = Words(span);
            int depth = 1;
            for (ulong w = words0; w > 1; w = Words(w))
            {
                depth++;
            }

            if (depth > LimitDepth)
            {
                throw new ArgumentOutOfRangeException(nameof(end), $"A range of {span} pages needs {depth} summary levels; at most {LimitDepth} are supported.");
            }

            Depth = depth;
            SpanPages = span;
            _levelOffsets = new long[(maxOrder + 1) * depth];
            _splitOffsets = new long[maxOrder + 1];
            long offset = 0;
            for (int k = 0; k <= maxOrder; k++)
            {
                ulong words = Words(span >> k);
                for (int l = 0; l < depth; l++)
                {
                    _levelOffsets[(k * depth) + l] = offset;
                    offset = checked(offset + (long)RoundUp(words * sizeof(ulong), 64));
                    words = Words(words);
                }

                if (k >= 1)
                {
                    _splitOffsets[k] = offset;
                    offset = checked(offset + (long)RoundUp(Words(span >> k) * sizeof(ulong), 64));
                }
            }

            TotalBytes = offset;
        }

        public int Depth { get; }

        public ulong SpanPages { get; }

        public long TotalBytes { get; }

        public long LevelOffset(int order, int level) => _levelOffsets[(order * Depth) + level];

        public long SplitOffset(int order) => _splitOffsets[order];

        private static ulong Words(ulong bits) => (bits + 63) / 64;

        private static ulong RoundUp(ulong value, ulong multiple) => (value + multiple - 1) / multiple * multiple;
    }
}
