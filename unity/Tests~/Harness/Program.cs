// The console harness of the ChatApp Unity client: it runs the package's
// Runtime code (no UnityEngine) against a running chatapp server and prints
// one "PASS name" or "FAIL: name: reason" line per check; exit 0 when all
// passed. cmd/chatapp/unity_test.go compiles it with Mono's mcs and runs it:
//
//   mono harness.exe [--away N] [--no-drop] http://127.0.0.1:PORT     (or CHATAPP_URL)
//
// With --away N (N > 0) it also checks reconnecting: it prints
// "READY-FOR-RESTART room=ROOM", expects the server to go away and come back
// on the same address at least 0.5 s later (so that the first reconnect
// attempts fail), with N messages "away 1".."away N" sent to ROOM in
// between; it prints "RECONNECTED" once both of its clients are back, and
// checks that each got those messages exactly once.
//
// It prints "DROP-CONNECTION id=ID" when it expects the connection ID to be
// deleted through the Management API (DeleteConnection). With --no-drop it
// skips the checks that need this instead, printing "SKIP name: why": the
// call is signed with the gateway's credentials, which only a test in the
// server's process holds (scripts/unity-harness.sh runs it so).
//
// With --keepalive N [--interval MS] [--timeout MS] it checks only that a
// client that sends nothing but its keepalive (every MS milliseconds,
// default 1000; waiting --timeout for an answer, default the client's)
// stays connected for N seconds.
//
// With --flap N it checks only the reconnect backoff against a server that
// closes each WebSocket soon after the handshake: over N reconnects, the
// attempts count on (1, 2, ... N) and the waits grow, as after failed
// attempts, instead of starting again at attempt 1 after each connection.
//
// With --auth it checks a server with auth on instead (docs/auth.md), in
// room unity-auth, with the tokens in the environment: CHATAPP_TOKEN_A and
// CHATAPP_TOKEN_B (users with names; B's token allows only unity-auth) and
// CHATAPP_TOKEN_EXPIRED. It prints DROP-CONNECTION too.
//
// With --drive ROOM it is one client driven through stdin instead, for
// the client algorithm's scenario, without a watchdog: see Drive.cs.
//
// Main reads the arguments and runs one mode: Run (Run.cs and its parts),
// AuthRun.cs, KeepAliveAndFlap.cs or Drive.cs. Checks.cs has what the
// checks assert with and print.
using System;
using System.Globalization;
using System.Threading;

namespace ChatApp.Client.Harness
{
    internal static partial class Program
    {
        private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(55);

        private static int Main(string[] args)
        {
            string url = Environment.GetEnvironmentVariable("CHATAPP_URL");
            int away = 0;
            int keepAlive = 0;
            int interval = 1000;
            int timeout = 0;
            int flap = 0;
            bool auth = false;
            string drive = null;
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--auth")
                {
                    auth = true;
                }
                else if (args[i] == "--no-drop")
                {
                    noDrop = true;
                }
                else if (args[i] == "--keepalive" && i + 1 < args.Length)
                {
                    keepAlive = int.Parse(args[++i], CultureInfo.InvariantCulture);
                }
                else if (args[i] == "--interval" && i + 1 < args.Length)
                {
                    interval = int.Parse(args[++i], CultureInfo.InvariantCulture);
                }
                else if (args[i] == "--timeout" && i + 1 < args.Length)
                {
                    timeout = int.Parse(args[++i], CultureInfo.InvariantCulture);
                }
                else if (args[i] == "--flap" && i + 1 < args.Length)
                {
                    flap = int.Parse(args[++i], CultureInfo.InvariantCulture);
                }
                else if (args[i] == "--drive" && i + 1 < args.Length)
                {
                    drive = args[++i];
                }
                else if (args[i] == "--away" && i + 1 < args.Length)
                {
                    away = int.Parse(args[++i], CultureInfo.InvariantCulture);
                }
                else
                {
                    url = args[i];
                }
            }
            if (string.IsNullOrEmpty(url))
            {
                Console.Error.WriteLine("usage: harness.exe [--away N | --auth | --keepalive N [--interval MS] [--timeout MS] | --flap N | --drive ROOM] [--no-drop] http://HOST:PORT (or CHATAPP_URL)");
                return 2;
            }
            if (drive != null)
            {
                // Driven: it runs as long as its driver keeps stdin open.
                Drive.RunAsync(url.TrimEnd('/'), drive).GetAwaiter().GetResult();
                return 0;
            }
            var watchdog = new Timer(_ =>
            {
                Say("FAIL: watchdog: the harness ran longer than " + Watchdog.TotalSeconds + " s");
                Environment.Exit(1);
            }, null, Watchdog, Timeout.InfiniteTimeSpan);
            try
            {
                if (keepAlive > 0)
                {
                    KeepAliveRunAsync(url.TrimEnd('/'), keepAlive, TimeSpan.FromMilliseconds(interval), TimeSpan.FromMilliseconds(timeout)).GetAwaiter().GetResult();
                }
                else if (flap > 0)
                {
                    FlapRunAsync(url.TrimEnd('/'), flap).GetAwaiter().GetResult();
                }
                else if (auth)
                {
                    new AuthRun(url.TrimEnd('/')).AllAsync().GetAwaiter().GetResult();
                }
                else
                {
                    new Run(url.TrimEnd('/'), away).AllAsync().GetAwaiter().GetResult();
                }
                Say("PASS all " + passed + " checks" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
                return 0;
            }
            catch (CheckFailed)
            {
                return 1;
            }
            catch (Exception e)
            {
                Say("FAIL: harness: " + e);
                return 1;
            }
            finally
            {
                watchdog.Dispose();
            }
        }
    }
}
