// The harness's checks and what they print: Check runs one, printing "PASS
// name" or "FAIL: name: reason" (a failed check ends the run with
// CheckFailed); a check's body asserts with Expect, Equal, Throws and
// Eventually. Say prints a line at once, which the harness's driver may be
// waiting for.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal sealed class CheckFailed : Exception
    {
        public CheckFailed(string message) : base(message)
        {
        }
    }

    internal static partial class Program
    {
        private static readonly TimeSpan Wait = TimeSpan.FromSeconds(8);
        private static int passed;
        private static bool noDrop;
        private static int skipped;

        internal static void Say(string line)
        {
            lock (Console.Out)
            {
                Console.Out.WriteLine(line);
                Console.Out.Flush();
            }
        }

        // CheckWithDrop is Check for a check that prints DROP-CONNECTION:
        // skipped, and said so, with --no-drop.
        internal static Task CheckWithDrop(string name, Func<Task> body)
        {
            if (noDrop)
            {
                skipped++;
                Say("SKIP " + name + ": --no-drop (DeleteConnection needs the gateway's credentials; go test -run Unity ./cmd/chatapp/ runs it)");
                return Task.FromResult(0);
            }
            return Check(name, body);
        }

        internal static async Task Check(string name, Func<Task> body)
        {
            try
            {
                await body().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                string why = e is CheckFailed ? e.Message : e.ToString();
                Say("FAIL: " + name + ": " + why.Replace("\n", "\n    "));
                throw new CheckFailed(name);
            }
            passed++;
            Say("PASS " + name);
        }

        internal static void Expect(bool ok, string what)
        {
            if (!ok)
            {
                throw new CheckFailed(what);
            }
        }

        internal static void Equal<T>(T want, T got, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(want, got))
            {
                throw new CheckFailed(what + ": got " + Show(got) + ", want " + Show(want));
            }
        }

        internal static string Show(object v)
        {
            if (v == null)
            {
                return "null";
            }
            var s = v as string;
            if (s != null && s.Length > 200)
            {
                return ChatJson.Quote(s.Substring(0, 60)) + "... (" + s.Length + " chars)";
            }
            return s != null ? ChatJson.Quote(s) : v.ToString();
        }

        internal static async Task<ChatException> Throws(Func<Task> body, string what)
        {
            try
            {
                await body().ConfigureAwait(false);
            }
            catch (ChatException e)
            {
                return e;
            }
            throw new CheckFailed(what + ": no ChatException");
        }

        // Eventually polls cond until it holds, failing after Wait.
        internal static async Task Eventually(string what, Func<bool> cond)
        {
            DateTime deadline = DateTime.UtcNow + Wait;
            while (!cond())
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new CheckFailed("timed out after " + Wait.TotalSeconds + " s waiting until " + what);
                }
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }
}
