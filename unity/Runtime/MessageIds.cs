using System;
using System.Collections.Generic;
using System.Text;

namespace ChatApp.Client
{
    /// <summary>
    /// Message ids are ULIDs: 26 Crockford base32 characters, the first 10
    /// the millisecond they were made, so that they sort in time order.
    /// </summary>
    public static class MessageIds
    {
        private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

        /// <summary>The smallest id: every message comes after it.</summary>
        public const string Zero = "00000000000000000000000000";

        /// <summary>Orders ids (ordinal, which is time order for ULIDs).</summary>
        public static int Compare(string a, string b)
        {
            return string.CompareOrdinal(a, b);
        }

        /// <summary>The later of two ids; null counts as before every id.</summary>
        public static string Max(string a, string b)
        {
            if (a == null)
            {
                return b;
            }
            if (b == null)
            {
                return a;
            }
            return Compare(a, b) >= 0 ? a : b;
        }

        /// <summary>The millisecond of id, or -1 if it is not a ULID.</summary>
        public static long TimestampOf(string id)
        {
            if (id == null || id.Length != 26)
            {
                return -1;
            }
            long ms = 0;
            for (int i = 0; i < 10; i++)
            {
                int v = Alphabet.IndexOf(char.ToUpperInvariant(id[i]));
                if (v < 0)
                {
                    return -1;
                }
                ms = ms * 32 + v;
            }
            return ms <= 0xFFFFFFFFFFFFL ? ms : -1;
        }

        /// <summary>The smallest id of millisecond ms: after= it means "from ms on".</summary>
        public static string FirstOf(long ms)
        {
            if (ms < 0)
            {
                ms = 0;
            }
            var sb = new StringBuilder(26);
            for (int i = 9; i >= 0; i--)
            {
                sb.Append(Alphabet[(int)((ms >> (5 * i)) & 31)]);
            }
            return sb.Append('0', 16).ToString();
        }

        /// <summary>
        /// An id overlap earlier than id (but not before floor), for asking
        /// after= with some overlap; id itself when it is not a ULID.
        /// </summary>
        public static string Rewind(string id, TimeSpan overlap, string floor)
        {
            long ms = TimestampOf(id);
            string r = id;
            if (ms >= 0 && overlap > TimeSpan.Zero)
            {
                r = FirstOf(ms - (long)overlap.TotalMilliseconds);
            }
            return Max(r, floor);
        }
    }

    /// <summary>
    /// The most recent ids seen, for dropping duplicates; bounded, oldest
    /// forgotten first.
    /// </summary>
    internal sealed class SeenIds
    {
        private readonly HashSet<string> ids = new HashSet<string>(StringComparer.Ordinal);
        private readonly Queue<string> order = new Queue<string>();
        private readonly int capacity;

        public SeenIds(int capacity)
        {
            this.capacity = capacity;
        }

        public bool Contains(string id)
        {
            return ids.Contains(id);
        }

        /// <summary>Adds id; false if it was there already.</summary>
        public bool Add(string id)
        {
            if (!ids.Add(id))
            {
                return false;
            }
            order.Enqueue(id);
            while (order.Count > capacity)
            {
                ids.Remove(order.Dequeue());
            }
            return true;
        }
    }
}
