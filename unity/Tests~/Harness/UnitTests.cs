// The harness's checks that need no server, which Run runs first: ChatJson,
// MessageIds, Backoff, and the options' defaults, docs/protocol.md's
// constants.
using System;
using System.Collections.Generic;
using System.Globalization;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    // UnitTests are the checks that need no server.
    internal static class UnitTests
    {
        public static void Json()
        {
            var o = ChatJson.ParseObject(" {\"a\":1764067200000,\"b\":[true,false,null],\"c\":\"x\\\"y\\\\z\\/\\u00e9\\ud83d\\ude80\\n\\t\\b\\f\\r\",\"d\":-1.5e3,\"e\":{},\"f\":[],\"g\":-0,\"h\":9223372036854775808,\"i\":0.25} ");
            Program.Equal(1764067200000L, (long)o["a"], "long");
            var arr = (List<object>)o["b"];
            Program.Equal(3, arr.Count, "array");
            Program.Expect(arr[0] is bool && (bool)arr[0] && arr[1] is bool && !(bool)arr[1] && arr[2] == null, "literals");
            Program.Equal("x\"y\\z/é🚀\n\t\b\f\r", (string)o["c"], "escapes");
            Program.Equal(-1500.0, (double)o["d"], "exponent");
            Program.Equal(0, ((Dictionary<string, object>)o["e"]).Count, "empty object");
            Program.Equal(0, ((List<object>)o["f"]).Count, "empty array");
            Program.Equal(0L, (long)o["g"], "-0");
            Program.Expect(o["h"] is double, "a number past long is a double");
            Program.Equal(0.25, (double)o["i"], "fraction");
            Program.Equal("1764067200000", ChatJson.GetString(o, "a"), "number as string");
            Program.Equal(null, ChatJson.GetString(o, "b"), "array as string");
            Program.Equal(7L, ChatJson.GetLong(o, "missing", 7), "missing long");
            Program.Equal(-1500L, ChatJson.GetLong(o, "d"), "integral double as long");

            string[] bad =
            {
                "", " ", "{", "}", "{\"a\":1,}", "[1,]", "{'a':1}", "01", "1 2", "\"\u0001\"", "\"\\x\"", "nul", "tru",
                "{\"a\" 1}", "\"\\u12\"", "\"\\u12g4\"", "+1", ".5", "1.", "1e", "-", "[1 2]", "{\"a\":1 \"b\":2}",
                "\"abc", "{\"a\":}", "[", "{\"a\"", "NaN", "Infinity", "// c\n1", "1,", new string('[', 100) + new string(']', 100),
            };
            foreach (string s in bad)
            {
                try
                {
                    ChatJson.Parse(s);
                }
                catch (FormatException)
                {
                    continue;
                }
                throw new CheckFailed("parsed invalid JSON " + ChatJson.Quote(s));
            }
            ChatJson.Parse(new string('[', 60) + new string(']', 60)); // deep, but within MaxDepth
            try
            {
                ChatJson.ParseObject("[1]");
                throw new CheckFailed("ParseObject took an array");
            }
            catch (FormatException)
            {
            }

            Program.Equal("\"a\\\"b\\\\c\\n\\t\\u0001\\u2028é🚀/\"", ChatJson.Quote("a\"b\\c\n\t\u0001\u2028é🚀/"), "quote");
            var sb = new System.Text.StringBuilder();
            for (int c = 0; c < 0x300; c++)
            {
                sb.Append((char)c);
            }
            sb.Append("\ud83d\ude80\u2028\u2029\uffff");
            string all = sb.ToString();
            Program.Equal(all, (string)ChatJson.Parse(ChatJson.Quote(all)), "round trip of every character");

            string w = new ChatJson.ObjectWriter().Add("action", "sendmessage").Add("text", "hi \"you\"").Add("n", 42L).Add("t", true).Add("skip", (string)null).ToString();
            Program.Equal("{\"action\":\"sendmessage\",\"text\":\"hi \\\"you\\\"\",\"n\":42,\"t\":true}", w, "object writer");
            Program.Equal("{}", new ChatJson.ObjectWriter().ToString(), "empty object writer");

            ChatMessage m = ChatMessage.FromJson(ChatJson.ParseObject("{\"id\":\"01KAZ3F4J7Q9V2C8N6M5T0R1WX\",\"room_id\":\"lobby\",\"timestamp\":1764067200000,\"message\":\"Hello World\",\"user_id\":42}"));
            Program.Equal("42", m.UserId, "numeric user_id");
            Program.Equal("", m.Name, "missing name");
            Program.Equal(1764067200000L, m.Timestamp, "timestamp");
            Program.Equal(2025, m.Time.UtcDateTime.Year, "time");
            Program.Equal("{\"id\":\"01KAZ3F4J7Q9V2C8N6M5T0R1WX\",\"room_id\":\"lobby\",\"timestamp\":1764067200000,\"message\":\"Hello World\",\"user_id\":\"42\",\"name\":\"\"}", m.ToJson(), "message to JSON");
            ChatMessage back = ChatMessage.FromJson(ChatJson.ParseObject(m.ToJson()));
            Program.Equal(m.ToJson(), back.ToJson(), "message round trip");
            Program.Equal(null, ChatMessage.FromJson(ChatJson.ParseObject("{\"type\":\"join\"}")), "a presence frame is not a message");
            ChatError e = ChatError.FromJson(ChatJson.ParseObject("{\"error\":{\"code\":\"invalid\",\"message\":\"room_id is required\"}}"));
            Program.Equal("invalid: room_id is required", e.ToString(), "error");
            Program.Equal(null, ChatError.FromJson(ChatJson.ParseObject(m.ToJson())), "a message is not an error");
            PresenceEvent p = PresenceEvent.FromJson(ChatJson.ParseObject("{\"type\":\"leave\",\"room_id\":\"r\",\"connection_id\":\"Zq=\",\"user_id\":\"7\",\"name\":\"N\",\"timestamp\":5}"));
            Program.Equal("leave|r|Zq=|7|N|5", string.Join("|", p.Type, p.RoomId, p.ConnectionId, p.UserId, p.Name, p.Timestamp.ToString(CultureInfo.InvariantCulture)), "presence");
        }

        public static void Ids()
        {
            Program.Equal(MessageIds.Zero, MessageIds.FirstOf(0), "zero");
            Program.Equal(1764067200000L, MessageIds.TimestampOf(MessageIds.FirstOf(1764067200000L)), "timestamp round trip");
            const string id = "01KAZ3F4J7Q9V2C8N6M5T0R1WX";
            long ms = MessageIds.TimestampOf(id);
            Program.Expect(ms > 1700000000000L && ms < 1900000000000L, "a real ULID's time: " + ms);
            string r = MessageIds.Rewind(id, TimeSpan.FromSeconds(2), null);
            Program.Equal(ms - 2000, MessageIds.TimestampOf(r), "rewound 2 s");
            Program.Expect(MessageIds.Compare(r, id) < 0, "rewound id sorts before");
            Program.Equal(id, MessageIds.Rewind(id, TimeSpan.Zero, null), "no overlap");
            Program.Equal(id, MessageIds.Rewind(id, TimeSpan.FromSeconds(2), id), "clamped to the floor");
            Program.Equal("x", MessageIds.Rewind("x", TimeSpan.FromSeconds(2), null), "not a ULID");
            Program.Equal(-1L, MessageIds.TimestampOf("01KAZ3F4J7Q9V2C8N6M5T0R1W"), "short id");
            Program.Equal(-1L, MessageIds.TimestampOf("01KAZ3F4JUQ9V2C8N6M5T0R1WX"), "U is not Crockford");
            Program.Equal("b", MessageIds.Max("a", "b"), "max");
            Program.Equal("a", MessageIds.Max("a", null), "max with null");
        }

        // Backoffs: full jitter, attempt n waits random [0, min(cap, base*2^n)].
        public static void Backoffs()
        {
            var b = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
            Program.Equal(200.0, b.Ceiling(1).TotalMilliseconds, "attempt 1's ceiling: base*2");
            Program.Equal(400.0, b.Ceiling(2).TotalMilliseconds, "attempt 2's ceiling");
            Program.Equal(1000.0, b.Ceiling(4).TotalMilliseconds, "attempt 4's ceiling: the cap");
            Program.Equal(1000.0, b.Ceiling(1000).TotalMilliseconds, "a huge attempt's ceiling");
            double low = double.MaxValue, high = 0;
            for (int i = 0; i < 500; i++)
            {
                double d1 = b.Delay(1).TotalMilliseconds, d2 = b.Delay(2).TotalMilliseconds, d9 = b.Delay(9).TotalMilliseconds;
                Program.Expect(d1 >= 0 && d1 <= 200, "attempt 1: " + d1);
                Program.Expect(d2 >= 0 && d2 <= 400, "attempt 2: " + d2);
                Program.Expect(d9 >= 0 && d9 <= 1000, "attempt 9 capped: " + d9);
                low = Math.Min(low, d9);
                high = Math.Max(high, d9);
            }
            // Full jitter: the whole range, not a fraction below the ceiling.
            Program.Expect(low < 100 && high > 900, "attempt 9's delays spread over [0, 1000]: " + (int)low + " to " + (int)high);
            // The defaults are docs/protocol.md's constants.
            var defaults = new ChatClientOptions();
            Program.Equal(TimeSpan.FromSeconds(5), defaults.CatchUpOverlap, "CatchUpOverlap");
            Program.Equal(1000, defaults.CatchUpPageSize, "CatchUpPageSize");
            Program.Equal(TimeSpan.FromMilliseconds(500), defaults.ReconnectMinDelay, "ReconnectMinDelay (the backoff's base)");
            Program.Equal(TimeSpan.FromSeconds(10), defaults.ReconnectMaxDelay, "ReconnectMaxDelay (the backoff's cap)");
            Program.Equal(TimeSpan.FromSeconds(5), defaults.StableConnection, "StableConnection");
            Program.Equal(TimeSpan.FromSeconds(10), defaults.SendConfirmTimeout, "SendConfirmTimeout");
            Program.Equal(4, defaults.SendMaxAttempts, "SendMaxAttempts");
        }
    }
}
