using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace ChatApp.Client
{
    /// <summary>
    /// A small, strict JSON reader and writer, enough for the protocol's flat
    /// objects. It needs no reflection, so it works the same under Mono, the
    /// Unity editor and IL2CPP (no link.xml, no code stripping surprises), and
    /// the snake_case names of the wire format are spelled out where the
    /// models map them.
    /// </summary>
    /// <remarks>
    /// <see cref="Parse"/> returns <c>Dictionary&lt;string, object&gt;</c> for
    /// objects, <c>List&lt;object&gt;</c> for arrays, <c>string</c>,
    /// <c>long</c> for integers that fit, <c>double</c> for other numbers,
    /// <c>bool</c>, and <c>null</c>. It rejects anything that is not RFC 8259
    /// JSON (trailing commas, comments, single quotes, control characters in
    /// strings, trailing data) with a <see cref="FormatException"/>.
    /// </remarks>
    public static class ChatJson
    {
        /// <summary>Nesting deeper than this is rejected: the protocol's objects are two levels deep.</summary>
        public const int MaxDepth = 64;

        /// <summary>Parses one JSON value that makes up the whole text.</summary>
        public static object Parse(string json)
        {
            if (json == null)
            {
                throw new ArgumentNullException("json");
            }
            var r = new Reader(json);
            r.SkipWhitespace();
            object v = r.ReadValue(0);
            r.SkipWhitespace();
            if (r.Pos != json.Length)
            {
                throw r.Error("trailing data after the JSON value");
            }
            return v;
        }

        /// <summary>Parses a JSON object; anything else is a <see cref="FormatException"/>.</summary>
        public static Dictionary<string, object> ParseObject(string json)
        {
            var o = Parse(json) as Dictionary<string, object>;
            if (o == null)
            {
                throw new FormatException("JSON value is not an object");
            }
            return o;
        }

        /// <summary>
        /// The string at key. A JSON number is turned into its decimal text
        /// (the server accepts a numeric user_id on input); anything else
        /// missing or of another type gives null.
        /// </summary>
        public static string GetString(IDictionary<string, object> o, string key)
        {
            object v;
            if (o == null || !o.TryGetValue(key, out v) || v == null)
            {
                return null;
            }
            var s = v as string;
            if (s != null)
            {
                return s;
            }
            if (v is long)
            {
                return ((long)v).ToString(CultureInfo.InvariantCulture);
            }
            if (v is double)
            {
                return ((double)v).ToString("R", CultureInfo.InvariantCulture);
            }
            return null;
        }

        /// <summary>The integer at key, or fallback when missing or not an integral number.</summary>
        public static long GetLong(IDictionary<string, object> o, string key, long fallback = 0)
        {
            object v;
            if (o == null || !o.TryGetValue(key, out v) || v == null)
            {
                return fallback;
            }
            if (v is long)
            {
                return (long)v;
            }
            if (v is double)
            {
                double d = (double)v;
                if (d >= long.MinValue && d <= long.MaxValue && Math.Floor(d) == d)
                {
                    return (long)d;
                }
            }
            return fallback;
        }

        /// <summary>The boolean at key, or false.</summary>
        public static bool GetBool(IDictionary<string, object> o, string key)
        {
            object v;
            return o != null && o.TryGetValue(key, out v) && v is bool && (bool)v;
        }

        /// <summary>The object at key, or null.</summary>
        public static Dictionary<string, object> GetObject(IDictionary<string, object> o, string key)
        {
            object v;
            return o != null && o.TryGetValue(key, out v) ? v as Dictionary<string, object> : null;
        }

        /// <summary>The array at key, or null.</summary>
        public static List<object> GetArray(IDictionary<string, object> o, string key)
        {
            object v;
            return o != null && o.TryGetValue(key, out v) ? v as List<object> : null;
        }

        /// <summary>Appends s as a JSON string literal, quotes included.</summary>
        public static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        // U+2028 and U+2029 are valid JSON but end a line in
                        // JavaScript, which a WebGL build may hand frames to.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>A JSON string literal of s.</summary>
        public static string Quote(string s)
        {
            var sb = new StringBuilder(s.Length + 2);
            WriteString(sb, s);
            return sb.ToString();
        }

        /// <summary>Builds one flat JSON object, property by property, in order.</summary>
        public sealed class ObjectWriter
        {
            private readonly StringBuilder sb = new StringBuilder("{");
            private bool any;

            private void Name(string name)
            {
                if (any)
                {
                    sb.Append(',');
                }
                any = true;
                WriteString(sb, name);
                sb.Append(':');
            }

            /// <summary>Adds "name":"value"; a null value is left out.</summary>
            public ObjectWriter Add(string name, string value)
            {
                if (value != null)
                {
                    Name(name);
                    WriteString(sb, value);
                }
                return this;
            }

            /// <summary>Adds "name":value.</summary>
            public ObjectWriter Add(string name, long value)
            {
                Name(name);
                sb.Append(value.ToString(CultureInfo.InvariantCulture));
                return this;
            }

            /// <summary>Adds "name":true|false.</summary>
            public ObjectWriter Add(string name, bool value)
            {
                Name(name);
                sb.Append(value ? "true" : "false");
                return this;
            }

            /// <summary>The object's JSON text.</summary>
            public override string ToString()
            {
                return sb.ToString() + "}";
            }
        }

        private sealed class Reader
        {
            private readonly string s;
            public int Pos;

            public Reader(string s)
            {
                this.s = s;
            }

            public FormatException Error(string what)
            {
                return new FormatException("invalid JSON at offset " + Pos.ToString(CultureInfo.InvariantCulture) + ": " + what);
            }

            public void SkipWhitespace()
            {
                while (Pos < s.Length)
                {
                    char c = s[Pos];
                    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                    {
                        return;
                    }
                    Pos++;
                }
            }

            public object ReadValue(int depth)
            {
                if (Pos >= s.Length)
                {
                    throw Error("unexpected end of input");
                }
                char c = s[Pos];
                switch (c)
                {
                    case '{': return ReadObject(depth + 1);
                    case '[': return ReadArray(depth + 1);
                    case '"': return ReadString();
                    case 't': Literal("true"); return true;
                    case 'f': Literal("false"); return false;
                    case 'n': Literal("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9'))
                        {
                            return ReadNumber();
                        }
                        throw Error("unexpected character '" + c + "'");
                }
            }

            private void Literal(string word)
            {
                if (string.CompareOrdinal(s, Pos, word, 0, word.Length) != 0)
                {
                    throw Error("invalid literal");
                }
                Pos += word.Length;
            }

            private Dictionary<string, object> ReadObject(int depth)
            {
                if (depth > MaxDepth)
                {
                    throw Error("nested too deeply");
                }
                var o = new Dictionary<string, object>(StringComparer.Ordinal);
                Pos++; // {
                SkipWhitespace();
                if (Pos < s.Length && s[Pos] == '}')
                {
                    Pos++;
                    return o;
                }
                while (true)
                {
                    SkipWhitespace();
                    if (Pos >= s.Length || s[Pos] != '"')
                    {
                        throw Error("expected a property name");
                    }
                    string key = ReadString();
                    SkipWhitespace();
                    if (Pos >= s.Length || s[Pos] != ':')
                    {
                        throw Error("expected ':'");
                    }
                    Pos++;
                    SkipWhitespace();
                    o[key] = ReadValue(depth);
                    SkipWhitespace();
                    if (Pos >= s.Length)
                    {
                        throw Error("unterminated object");
                    }
                    if (s[Pos] == ',')
                    {
                        Pos++;
                        continue;
                    }
                    if (s[Pos] == '}')
                    {
                        Pos++;
                        return o;
                    }
                    throw Error("expected ',' or '}'");
                }
            }

            private List<object> ReadArray(int depth)
            {
                if (depth > MaxDepth)
                {
                    throw Error("nested too deeply");
                }
                var a = new List<object>();
                Pos++; // [
                SkipWhitespace();
                if (Pos < s.Length && s[Pos] == ']')
                {
                    Pos++;
                    return a;
                }
                while (true)
                {
                    SkipWhitespace();
                    a.Add(ReadValue(depth));
                    SkipWhitespace();
                    if (Pos >= s.Length)
                    {
                        throw Error("unterminated array");
                    }
                    if (s[Pos] == ',')
                    {
                        Pos++;
                        continue;
                    }
                    if (s[Pos] == ']')
                    {
                        Pos++;
                        return a;
                    }
                    throw Error("expected ',' or ']'");
                }
            }

            private string ReadString()
            {
                Pos++; // opening quote
                StringBuilder sb = null;
                int start = Pos;
                while (true)
                {
                    if (Pos >= s.Length)
                    {
                        throw Error("unterminated string");
                    }
                    char c = s[Pos];
                    if (c == '"')
                    {
                        string tail = s.Substring(start, Pos - start);
                        Pos++;
                        return sb == null ? tail : sb.Append(tail).ToString();
                    }
                    if (c < 0x20)
                    {
                        throw Error("control character in string");
                    }
                    if (c != '\\')
                    {
                        Pos++;
                        continue;
                    }
                    if (sb == null)
                    {
                        sb = new StringBuilder();
                    }
                    sb.Append(s, start, Pos - start);
                    Pos++; // backslash
                    if (Pos >= s.Length)
                    {
                        throw Error("unterminated escape");
                    }
                    char e = s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > s.Length)
                            {
                                throw Error("short \\u escape");
                            }
                            int code = 0;
                            for (int i = 0; i < 4; i++)
                            {
                                int h = Hex(s[Pos + i]);
                                if (h < 0)
                                {
                                    throw Error("bad \\u escape");
                                }
                                code = code * 16 + h;
                            }
                            Pos += 4;
                            sb.Append((char)code); // surrogate pairs come as two escapes
                            break;
                        default:
                            Pos--;
                            throw Error("unknown escape '\\" + e + "'");
                    }
                    start = Pos;
                }
            }

            private static int Hex(char c)
            {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            }

            private object ReadNumber()
            {
                int start = Pos;
                bool integral = true;
                if (s[Pos] == '-')
                {
                    Pos++;
                }
                if (Pos < s.Length && s[Pos] == '0')
                {
                    Pos++;
                }
                else if (!Digits())
                {
                    throw Error("bad number");
                }
                if (Pos < s.Length && s[Pos] == '.')
                {
                    integral = false;
                    Pos++;
                    if (!Digits())
                    {
                        throw Error("bad fraction");
                    }
                }
                if (Pos < s.Length && (s[Pos] == 'e' || s[Pos] == 'E'))
                {
                    integral = false;
                    Pos++;
                    if (Pos < s.Length && (s[Pos] == '+' || s[Pos] == '-'))
                    {
                        Pos++;
                    }
                    if (!Digits())
                    {
                        throw Error("bad exponent");
                    }
                }
                string text = s.Substring(start, Pos - start);
                long l;
                if (integral && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l))
                {
                    return l;
                }
                return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            private bool Digits()
            {
                int start = Pos;
                while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9')
                {
                    Pos++;
                }
                return Pos > start;
            }
        }
    }
}
