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
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
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

    internal static class Program
    {
        private static readonly TimeSpan Wait = TimeSpan.FromSeconds(8);
        private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(55);
        private static int passed;
        private static bool noDrop;
        private static int skipped;

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

        // KeepAliveRunAsync: a client that sends nothing, on a server whose
        // idle timeout is a little longer than the keepalive interval,
        // stays connected for seconds, with a keepalive every interval: no
        // Reconnecting.
        private static async Task KeepAliveRunAsync(string url, int seconds, TimeSpan interval, TimeSpan timeout)
        {
            ChatClientOptions o = ChatClientOptions.ForServer(url, "unity-keepalive", "unity-keeper", "Keeper");
            o.KeepAliveInterval = interval;
            if (timeout > TimeSpan.Zero)
            {
                o.KeepAliveTimeout = timeout;
            }
            int reconnecting = 0;
            using (var c = new ChatClient(o))
            {
                c.Reconnecting += _ => Interlocked.Increment(ref reconnecting);
                await c.ConnectAsync().ConfigureAwait(false);
                await Check("a client that sends only its keepalive stays connected past the idle timeout", async () =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
                    if (reconnecting != 0 || c.State != ChatConnectionState.Connected)
                    {
                        throw new Exception("reconnected " + reconnecting + " times; state " + c.State);
                    }
                }).ConfigureAwait(false);
                await c.CloseAsync().ConfigureAwait(false);
            }
        }

        // FlapRunAsync: against a server that closes every WebSocket soon
        // after its handshake (after the catch-up, so that each reconnect
        // succeeds), n reconnects count their attempts on, 1 to n, as after
        // failed attempts, and each waits within its attempt's ceiling,
        // min(2 s, 50 ms * 2^attempt), which grows: the waits themselves are
        // random in [0, ceiling] (full jitter), so only their bounds are
        // checked. Starting at attempt 1 each time would wait at most
        // 100 ms each time.
        private static async Task FlapRunAsync(string url, int n)
        {
            ChatClientOptions o = ChatClientOptions.ForServer(url, "unity-flap", "unity-flapper", "Flapper");
            o.ReconnectMinDelay = TimeSpan.FromMilliseconds(50);
            o.ReconnectMaxDelay = TimeSpan.FromSeconds(2);
            var reconnects = new List<ReconnectingInfo>();
            using (var c = new ChatClient(o))
            {
                c.Reconnecting += i =>
                {
                    lock (reconnects)
                    {
                        reconnects.Add(i);
                    }
                };
                await c.ConnectAsync().ConfigureAwait(false);
                await Check("reconnects to a server that closes each connection soon count as failed attempts", async () =>
                {
                    DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
                    while (true)
                    {
                        lock (reconnects)
                        {
                            if (reconnects.Count >= n)
                            {
                                break;
                            }
                        }
                        if (DateTime.UtcNow > deadline)
                        {
                            throw new CheckFailed("only " + reconnects.Count + " reconnects in 40 s, want " + n);
                        }
                        await Task.Delay(20).ConfigureAwait(false);
                    }
                    List<ReconnectingInfo> got;
                    lock (reconnects)
                    {
                        got = reconnects.Take(n).ToList();
                    }
                    string attempts = string.Join(",", got.Select(i => i.Attempt.ToString(CultureInfo.InvariantCulture)));
                    double waited = got.Sum(i => i.Delay.TotalMilliseconds);
                    Say("  attempts " + attempts + ", waits " + (int)waited + " ms in all");
                    Equal(string.Join(",", Enumerable.Range(1, n).Select(i => i.ToString(CultureInfo.InvariantCulture))), attempts, "the attempts of " + n + " reconnects");
                    var backoff = new Backoff(o.ReconnectMinDelay, o.ReconnectMaxDelay);
                    foreach (ReconnectingInfo i in got)
                    {
                        Expect(i.Delay >= TimeSpan.Zero && i.Delay <= backoff.Ceiling(i.Attempt),
                            "attempt " + i.Attempt + " waited " + (int)i.Delay.TotalMilliseconds + " ms, past its ceiling " + (int)backoff.Ceiling(i.Attempt).TotalMilliseconds);
                    }
                }).ConfigureAwait(false);
                await c.CloseAsync().ConfigureAwait(false);
            }
        }

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

    // Recorder keeps what one client's events said.
    internal sealed class Recorder
    {
        private readonly object gate = new object();
        public readonly string Name;
        public readonly List<ChatMessage> Messages = new List<ChatMessage>();
        public readonly List<PresenceEvent> Joins = new List<PresenceEvent>();
        public readonly List<ChatError> Errors = new List<ChatError>();
        public readonly List<ConnectedInfo> Connects = new List<ConnectedInfo>();
        public readonly List<ReconnectingInfo> Reconnects = new List<ReconnectingInfo>();
        public readonly List<DisconnectedInfo> Disconnects = new List<DisconnectedInfo>();
        private int inHandler;
        public bool Overlapped; // two handlers ran at once

        public Recorder(string name, ChatClient c)
        {
            Name = name;
            c.MessageReceived += m => Add(Messages, m);
            c.MemberJoined += p => Add(Joins, p);
            c.Error += e => Add(Errors, e);
            c.Connected += i => Add(Connects, i);
            c.Reconnecting += i =>
            {
                Program.Say("  " + name + " reconnecting: attempt " + i.Attempt + " in " + (int)i.Delay.TotalMilliseconds + " ms: " + i.Reason);
                Add(Reconnects, i);
            };
            c.Disconnected += i => Add(Disconnects, i);
        }

        private void Add<T>(List<T> list, T item)
        {
            if (Interlocked.Increment(ref inHandler) != 1)
            {
                Overlapped = true;
            }
            lock (gate)
            {
                list.Add(item);
            }
            Interlocked.Decrement(ref inHandler);
        }

        public int Count<T>(List<T> list, Func<T, bool> match)
        {
            lock (gate)
            {
                return list.Count(match);
            }
        }

        public List<T> Snapshot<T>(List<T> list)
        {
            lock (gate)
            {
                return new List<T>(list);
            }
        }

        // Got waits until a message with text arrived and checks that it
        // has arrived once so far (a later repeat fails the final check,
        // which compares every client's messages with the history).
        public async Task<ChatMessage> Got(string text)
        {
            await Program.Eventually(Name + " receives " + Program.Show(text), () => Count(Messages, m => m.Text == text) > 0).ConfigureAwait(false);
            List<ChatMessage> got = Snapshot(Messages).Where(m => m.Text == text).ToList();
            Program.Equal(1, got.Count, Name + "'s copies of " + Program.Show(text));
            return got[0];
        }
    }

    // OneFrameTransport is a WebGL transport as ChatClient sees it: a
    // browser's WebSocket sends each message as one frame, and API Gateway
    // closes a connection on a frame over 32 KB, so it cannot send a
    // message over ClientWebSocketTransport.MaxFrameBytes: it refuses one
    // (Refused), and is no IFragmentingWebSocketTransport. It connects,
    // sends and receives through a ClientWebSocketTransport.
    internal sealed class OneFrameTransport : IWebSocketTransport
    {
        private readonly ClientWebSocketTransport inner = new ClientWebSocketTransport();
        public int Sent; // messages sent (the keepalive's too)
        public int Refused; // messages over MaxFrameBytes

        public event Action<string> MessageReceived
        {
            add { inner.MessageReceived += value; }
            remove { inner.MessageReceived -= value; }
        }

        public event Action<WebSocketCloseInfo> Closed
        {
            add { inner.Closed += value; }
            remove { inner.Closed -= value; }
        }

        public Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            return inner.ConnectAsync(uri, cancellationToken);
        }

        public Task SendAsync(string text, CancellationToken cancellationToken)
        {
            int n = System.Text.Encoding.UTF8.GetByteCount(text);
            if (n > ClientWebSocketTransport.MaxFrameBytes)
            {
                Interlocked.Increment(ref Refused);
                throw new InvalidOperationException("a browser would send this message of " + n + " bytes as one frame, which API Gateway closes the connection on (1009)");
            }
            Interlocked.Increment(ref Sent);
            return inner.SendAsync(text, cancellationToken);
        }

        public Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
        {
            return inner.CloseAsync(code, reason, cancellationToken);
        }

        public void Dispose()
        {
            inner.Dispose();
        }
    }

    // Fault is what FaultyHttp does to one PUT.
    internal enum Fault
    {
        None,
        DropBefore, // the request never reaches the server
        DropAfter, // the server stores it, the answer is lost
        Status503Before, // 503 without reaching the server
        Status503After, // stored, but the caller sees 503 (a gateway timeout)
        Status429RetryAfter, // 429 with FaultyHttp.RetryAfter, without reaching the server
    }

    // FaultyHttp forwards to a real transport and injects failures.
    internal sealed class FaultyHttp : IHttpTransport
    {
        private readonly IHttpTransport inner;
        public Func<int, Fault> PutFault = n => Fault.None; // by PUT number, from 1
        public TimeSpan RetryAfter; // of Status429RetryAfter
        public readonly List<string> PutKeys = new List<string>();
        public int Puts;
        public int Forwarded;

        public FaultyHttp(IHttpTransport inner)
        {
            this.inner = inner;
        }

        public void Reset(Func<int, Fault> plan)
        {
            lock (PutKeys)
            {
                PutKeys.Clear();
                Puts = 0;
                Forwarded = 0;
                PutFault = plan;
            }
        }

        public async Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken)
        {
            if (request.Method != "PUT")
            {
                return await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            Fault f;
            lock (PutKeys)
            {
                Puts++;
                string key;
                request.Headers.TryGetValue("Idempotency-Key", out key);
                PutKeys.Add(key);
                f = PutFault(Puts);
            }
            switch (f)
            {
                case Fault.DropBefore:
                    throw new System.Net.Http.HttpRequestException("injected: connection reset before the request was sent");
                case Fault.Status503Before:
                    return new HttpTransportResponse(503, "{\"error\":{\"code\":\"internal\",\"message\":\"injected\"}}");
                case Fault.Status429RetryAfter:
                    return new HttpTransportResponse(429, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"injected\"}}", RetryAfter);
            }
            HttpTransportResponse resp = await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref Forwarded);
            switch (f)
            {
                case Fault.DropAfter:
                    throw new TimeoutException("injected: the answer was lost");
                case Fault.Status503After:
                    return new HttpTransportResponse(503, "<html>Service Unavailable</html>");
            }
            return resp;
        }
    }

    internal sealed partial class Run
    {
        private readonly string url;
        private readonly int away;
        private readonly string room = "unity-" + Guid.NewGuid().ToString("N").Substring(0, 10);
        private readonly HttpClientTransport http = new HttpClientTransport();

        public Run(string url, int away)
        {
            this.url = url;
            this.away = away;
        }

        private ChatClientOptions Options(string user, string name, IHttpTransport transport = null)
        {
            ChatClientOptions o = ChatClientOptions.ForServer(url, room, user, name);
            o.Http = transport ?? http;
            o.ReconnectMinDelay = TimeSpan.FromMilliseconds(100);
            o.ReconnectMaxDelay = TimeSpan.FromSeconds(1);
            o.RetryMinDelay = TimeSpan.FromMilliseconds(20);
            o.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
            o.SendMaxAttempts = 3;
            return o;
        }

        // Count reads the whole room's history and counts text.
        private async Task<int> Count(ChatClient c, string text)
        {
            HistoryPage p = await c.GetHistoryAsync(1000).ConfigureAwait(false);
            return p.Messages.Count(m => m.Text == text);
        }

        public async Task AllAsync()
        {
            await Program.Check("json", () => { UnitTests.Json(); return Task.FromResult(0); });
            await Program.Check("message ids", () => { UnitTests.Ids(); return Task.FromResult(0); });
            await Program.Check("backoff", () => { UnitTests.Backoffs(); return Task.FromResult(0); });

            var seeder = new ChatClient(Options("unity-seed", "Seed"));
            await Program.Check("send over REST without connecting", async () =>
            {
                for (int i = 1; i <= 3; i++)
                {
                    SendResult r = await seeder.SendAsync("seed " + i);
                    Program.Equal(1, r.Attempts, "attempts");
                    Program.Equal("seed " + i, r.Message.Text, "stored text");
                    Program.Equal(room, r.Message.RoomId, "room");
                    Program.Equal("unity-seed", r.Message.UserId, "user");
                    Program.Equal(26, r.Message.Id.Length, "id length");
                    Program.Expect(r.Message.Timestamp > 1700000000000L, "timestamp in ms: " + r.Message.Timestamp);
                }
            });

            var a = new ChatClient(Options("unity-a", "Ada"));
            var b = new ChatClient(Options("unity-b", "Bob"));
            var ra = new Recorder("A", a);
            var rb = new Recorder("B", b);
            HistoryPage pageA = null, pageB = null;

            await Program.Check("connect returns the latest history", async () =>
            {
                pageA = await a.ConnectAsync();
                Program.Equal("seed 1|seed 2|seed 3", string.Join("|", pageA.Messages.Select(m => m.Text)), "page");
                Program.Equal(ChatConnectionState.Connected, a.State, "state");
                await Program.Eventually("A's Connected event", () => ra.Count(ra.Connects, i => !i.Reconnected) == 1);
                Program.Equal(pageA.Messages[2].Id, a.LastMessageId, "last id");
            });

            await Program.Check("history pages with cursor and after", async () =>
            {
                HistoryPage p = await a.GetHistoryAsync(2);
                Program.Equal("seed 2|seed 3", string.Join("|", p.Messages.Select(m => m.Text)), "latest 2");
                Program.Expect(p.NextCursor != null, "a next cursor");
                HistoryPage before = await a.GetHistoryAsync(2, p.NextCursor);
                Program.Equal("seed 1", string.Join("|", before.Messages.Select(m => m.Text)), "page before");
                Program.Equal(null, before.NextCursor, "no cursor on the first page");
                HistoryPage after = await a.GetHistoryAsync(0, null, pageA.Messages[0].Id);
                Program.Equal("seed 2|seed 3", string.Join("|", after.Messages.Select(m => m.Text)), "after the first");
                Program.Equal(false, after.HasMore, "has_more");
                HistoryPage after1 = await a.GetHistoryAsync(1, null, pageA.Messages[0].Id);
                Program.Equal("seed 2", string.Join("|", after1.Messages.Select(m => m.Text)), "one after the first");
                Program.Equal(true, after1.HasMore, "has_more at the limit");
            });

            await Program.Check("second client connects, first sees it join", async () =>
            {
                pageB = await b.ConnectAsync();
                Program.Equal(3, pageB.Messages.Count, "B's page");
                await Program.Eventually("A sees B join", () => ra.Count(ra.Joins, p => p.UserId == "unity-b" && p.Type == "join" && p.Name == "Bob") == 1);
            });

            await Program.Check("member list has both", async () =>
            {
                IList<ChatMember> users = await a.GetMembersAsync();
                Program.Equal(1, users.Count(u => u.UserId == "unity-a" && u.Name == "Ada"), "unity-a entries");
                Program.Equal(1, users.Count(u => u.UserId == "unity-b" && u.Name == "Bob"), "unity-b entries");
                Program.Expect(users.All(u => u.RoomId == room && !string.IsNullOrEmpty(u.ConnectionId) && u.Timestamp > 0), "complete entries");
            });

            await Program.Check("send over REST, each client gets it once", async () =>
            {
                string text = "hello over REST \"quoted\" \\ é 🚀\nline two";
                SendResult r = await a.SendAsync(text);
                Program.Equal(1, r.Attempts, "attempts");
                Program.Expect(r.Delivered >= 2, "delivered to both: " + r.Delivered);
                Program.Expect(r.Users.Any(u => u.UserId == "unity-b"), "users lists B");
                Guid key;
                Program.Expect(Guid.TryParse(r.IdempotencyKey, out key), "idempotency key is a GUID: " + r.IdempotencyKey);
                ChatMessage got = await rb.Got(text);
                Program.Equal(r.Message.Id, got.Id, "B's push id");
                Program.Equal("Ada", got.Name, "name");
                Program.Equal((await ra.Got(text)).Id, r.Message.Id, "A's own push");
            });

            await Program.Check("send over WebSocket, each client gets it once", async () =>
            {
                string text = "hello over WebSocket ünïcödé";
                await b.SendOverWebSocketAsync(text);
                ChatMessage got = await ra.Got(text);
                Program.Equal("unity-b", got.UserId, "user");
                Program.Equal("Bob", got.Name, "name");
                Program.Equal(got.Id, (await rb.Got(text)).Id, "B's own push");
            });

            await Program.Check("the largest message over WebSocket, in frames of 32 KB at most", async () =>
            {
                // 16 KiB of U+0001, which JSON escapes as six bytes each:
                // a frame of about 96 KB, which API Gateway closes with 1009.
                string text = new string('\u0001', 16 * 1024);
                await b.SendOverWebSocketAsync(text);
                ChatMessage got = await ra.Got(text);
                Program.Equal("unity-b", got.UserId, "user");
                Program.Equal(got.Id, (await rb.Got(text)).Id, "B's own push");
            });

            await Program.Check("a transport that cannot fragment (WebGL): the largest message goes over REST", async () =>
            {
                var o = Options("unity-g", "Gil");
                var transports = new List<OneFrameTransport>();
                o.WebSocketFactory = () =>
                {
                    var t = new OneFrameTransport();
                    lock (transports)
                    {
                        transports.Add(t);
                    }
                    return t;
                };
                var g = new ChatClient(o);
                var rg = new Recorder("G", g);
                await g.ConnectAsync();
                // As above, but U+0002: another text than B's.
                string text = new string('\u0002', 16 * 1024);
                await g.SendOverWebSocketAsync(text);
                ChatMessage got = await ra.Got(text);
                Program.Equal("unity-g", got.UserId, "user");
                Program.Equal(got.Id, (await rg.Got(text)).Id, "G's own push");
                await g.SendOverWebSocketAsync("small, over the socket");
                await ra.Got("small, over the socket");
                OneFrameTransport only;
                lock (transports)
                {
                    Program.Equal(1, transports.Count, "G's connections");
                    only = transports[0];
                }
                Program.Equal(0, only.Refused, "messages the transport could not send in one frame");
                Program.Equal(1, only.Sent, "messages sent over G's socket");
                Program.Equal(0, rg.Count(rg.Reconnects, i => true), "G's reconnects");
                await g.CloseAsync();
                g.Dispose();
            });

            await Program.Check("bad input is an error, not retried", async () =>
            {
                ChatException e = await Program.Throws(() => a.SendAsync(""), "empty text over REST");
                Program.Equal("invalid", e.Code, "code");
                Program.Equal(400, e.StatusCode, "status");
                Program.Equal(1, e.Attempts, "attempts");
                e = await Program.Throws(() => a.SendAsync("   "), "blank text");
                Program.Equal("invalid", e.Code, "blank code");
                e = await Program.Throws(() => a.SendAsync(new string('x', 16 * 1024 + 1)), "16 KiB + 1");
                Program.Equal("too_large", e.Code, "too large code");
                Program.Equal(1, e.Attempts, "too large attempts");
                e = await Program.Throws(() => a.GetHistoryAsync(0, "not-an-id"), "bad cursor");
                Program.Equal("invalid", e.Code, "bad cursor code");

                await b.SendOverWebSocketAsync("");
                await Program.Eventually("B gets an invalid error frame", () => rb.Count(rb.Errors, x => x.Code == "invalid") == 1);
                Program.Equal(ChatConnectionState.Connected, b.State, "B still connected");

                var bad = new ChatClient(ChatClientOptions.ForServer(url, "bad room!", "u"));
                e = await Program.Throws(() => bad.ConnectAsync(), "connect to an invalid room");
                Program.Equal(ChatError.Invalid, e.Code, "refused connect code");
                Program.Equal(400, e.StatusCode, "refused connect status");
                Program.Equal(ChatConnectionState.Disconnected, bad.State, "state after a refused connect");
                bad.Dispose();
                Program.Equal(0, ra.Count(ra.Errors, x => true), "errors on A");
            });

            await SafeRetries(ra);
            await SocketSends(ra);

            await Program.CheckWithDrop("reconnect in an empty room after the server drops the connection", async () =>
            {
                // Another room, empty when E connects: its catch-up starts
                // from the beginning of the room.
                var o = Options("unity-e", "Eve");
                o.RoomId = room + "-empty";
                var e = new ChatClient(o);
                var re = new Recorder("E", e);
                HistoryPage page = await e.ConnectAsync();
                Program.Equal(0, page.Messages.Count, "empty page");
                Program.Equal(null, e.LastMessageId, "last id");
                IList<ChatMember> users = await e.GetMembersAsync();
                Program.Equal(1, users.Count, "E's connections");
                // The Management API's DeleteConnection closes the socket
                // with 1000; a message follows at once, most likely while E
                // is away. It takes requests signed with the gateway's
                // credentials only, so the test that runs us sends it.
                Program.Say("DROP-CONNECTION id=" + users[0].ConnectionId);
                await Program.Eventually("E reconnecting", () => re.Count(re.Reconnects, i => true) > 0);
                var fo = Options("unity-f", "Fay");
                fo.RoomId = o.RoomId;
                var f = new ChatClient(fo);
                await f.SendAsync("while E was dropped");
                await re.Got("while E was dropped");
                await Program.Eventually("E reconnected", () => re.Count(re.Connects, i => i.Reconnected) == 1);
                await e.SendOverWebSocketAsync("E is back");
                await re.Got("E is back");
                await Task.Delay(200);
                Program.Equal(2, re.Count(re.Messages, m => true), "E's messages, each once");
                await e.CloseAsync();
                e.Dispose();
                f.Dispose();
            });

            if (away > 0)
            {
                await Restart(a, b, ra, rb);
            }

            await Program.Check("every message after the first page exactly once", async () =>
            {
                await Task.Delay(300);
                foreach (var pair in new[] { Tuple.Create(ra, pageA), Tuple.Create(rb, pageB) })
                {
                    Recorder r = pair.Item1;
                    var got = r.Snapshot(r.Messages);
                    var dup = got.GroupBy(m => m.Id).FirstOrDefault(g => g.Count() > 1);
                    Program.Expect(dup == null, r.Name + " got " + (dup == null ? "" : dup.Key) + " twice");
                    var want = new List<ChatMessage>();
                    string after = pair.Item2.Messages.Last().Id;
                    while (true)
                    {
                        HistoryPage p = await a.GetHistoryAsync(500, null, after);
                        want.AddRange(p.Messages);
                        if (!p.HasMore)
                        {
                            break;
                        }
                        after = p.Messages.Last().Id;
                    }
                    Program.Equal(string.Join(",", want.Select(m => m.Id).OrderBy(x => x, StringComparer.Ordinal)),
                        string.Join(",", got.Select(m => m.Id).OrderBy(x => x, StringComparer.Ordinal)),
                        r.Name + "'s messages vs the history after its first page");
                    Program.Expect(!r.Overlapped, r.Name + ": two event handlers ran at once");
                }
            });

            await Program.Check("close", async () =>
            {
                await a.CloseAsync();
                await b.CloseAsync();
                Program.Equal(ChatConnectionState.Closed, a.State, "A state");
                await Program.Eventually("Disconnected events", () => ra.Count(ra.Disconnects, i => i.ByClient) == 1 && rb.Count(rb.Disconnects, i => i.ByClient) == 1);
                await Program.Eventually("the room is empty", () => seeder.GetMembersAsync().GetAwaiter().GetResult().Count == 0);
                ChatException e = await Program.Throws(() => a.SendOverWebSocketAsync("closed"), "send after close");
                Program.Equal(ChatError.NotConnected, e.Code, "code");
                if (away == 0)
                {
                    Program.Equal(0, ra.Count(ra.Reconnects, i => true), "reconnects without a restart");
                }
            });
            a.Dispose();
            b.Dispose();
            seeder.Dispose();
        }

        // SafeRetries: the PUTs of one REST send share its Idempotency-Key,
        // and an attempt that failed (no answer, 408, 429, 5xx) is tried
        // again with it: the server stores the message once, and a repeat
        // answers the stored one.
        private async Task SafeRetries(Recorder ra)
        {
            var faulty = new FaultyHttp(http);
            var d = new ChatClient(Options("unity-d", "Dee", faulty));

            await Program.Check("retry: answer lost after the server stored it → sent again with the same key, stored once, the same message returned", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.DropAfter : Fault.None);
                string text = "lost answer";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal(0, r.Delivered, "pushes of the repeat (a replay)");
                ChatMessage pushed = await ra.Got(text);
                Program.Equal(pushed.Id, r.Message.Id, "the stored message returned");
            });

            await Program.Check("retry: request lost before the server → sent again once, with the same key", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.DropBefore : Fault.None);
                string text = "lost request";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Puts, "PUTs");
                Program.Equal(1, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                await ra.Got(text);
            });

            await Program.Check("retry: 503 twice → third attempt stores it once", async () =>
            {
                faulty.Reset(n => n <= 2 ? Fault.Status503Before : Fault.None);
                string text = "after two 503s";
                SendResult r = await d.SendAsync(text);
                Program.Equal(3, r.Attempts, "attempts");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for the attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: 503 after the server stored it → sent again with the same key, stored once", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.Status503After : Fault.None);
                string text = "stored then 503";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal((await ra.Got(text)).Id, r.Message.Id, "the stored message returned");
            });

            await Program.Check("retry: 429 → the next attempt waits its Retry-After; one past the backoff's cap fails at once", async () =>
            {
                // The harness's cap (ReconnectMaxDelay) is 1 s.
                faulty.Reset(n => n == 1 ? Fault.Status429RetryAfter : Fault.None);
                faulty.RetryAfter = TimeSpan.FromMilliseconds(600);
                var took = System.Diagnostics.Stopwatch.StartNew();
                SendResult r = await d.SendAsync("after a 429");
                Program.Equal(2, r.Attempts, "attempts");
                Program.Expect(took.ElapsedMilliseconds >= 600, "waited " + took.ElapsedMilliseconds + " ms, want at least Retry-After, 600");
                faulty.Reset(n => n == 1 ? Fault.Status429RetryAfter : Fault.None);
                faulty.RetryAfter = TimeSpan.FromSeconds(30);
                took.Restart();
                ChatException e = await Program.Throws(() => d.SendAsync("after a long 429"), "a send answered 429 with Retry-After: 30 s");
                Program.Equal(ChatError.RateLimited, e.Code, "code");
                Program.Equal(1, e.Attempts, "attempts");
                Program.Equal(1, faulty.Puts, "PUTs");
                Program.Expect(took.ElapsedMilliseconds < 1000, "failed after " + took.ElapsedMilliseconds + " ms, want at once (the cap is 1 s)");
            });

            await Program.Check("retry: same text again is a new message, not mistaken for the old one", async () =>
            {
                faulty.Reset(n => Fault.None);
                string text = "same again";
                SendResult first = await d.SendAsync(text);
                await ra.Got(text);
                SendResult second = await d.SendAsync(text);
                faulty.Reset(n => n == 1 ? Fault.DropBefore : Fault.None);
                SendResult third = await d.SendAsync(text);
                Program.Equal(2, faulty.Puts, "third's PUTs");
                Program.Equal(3, await Count(d, text), "stored copies");
                Program.Equal(3, new[] { first.Message.Id, second.Message.Id, third.Message.Id }.Distinct().Count(), "distinct ids");
                Program.Equal(3, new[] { first.IdempotencyKey, second.IdempotencyKey, third.IdempotencyKey }.Distinct().Count(), "distinct keys");
            });

            await Program.Check("retry: server unreachable → unavailable after the attempts, nothing stored", async () =>
            {
                faulty.Reset(n => Fault.DropBefore);
                string text = "never arrives";
                ChatException e = await Program.Throws(() => d.SendAsync(text), "send");
                Program.Equal(ChatError.Unavailable, e.Code, "code");
                Program.Equal(3, e.Attempts, "attempts");
                Program.Equal(3, faulty.Puts, "PUTs");
                Program.Equal(0, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: every answer lost → unavailable after the attempts, stored once", async () =>
            {
                faulty.Reset(n => Fault.DropAfter);
                string text = "every answer lost";
                ChatException e = await Program.Throws(() => d.SendAsync(text), "send");
                Program.Equal(ChatError.Unavailable, e.Code, "code");
                Program.Equal(3, e.Attempts, "attempts");
                Program.Equal(3, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for the attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: 4xx is never retried", async () =>
            {
                faulty.Reset(n => Fault.None);
                ChatException e = await Program.Throws(() => d.SendAsync("\t"), "blank");
                Program.Equal("invalid", e.Code, "code");
                Program.Equal(1, faulty.Puts, "PUTs");
            });
            d.Dispose();
        }

        private async Task Restart(ChatClient a, ChatClient b, Recorder ra, Recorder rb)
        {
            // Wait out the messages of the checks above, so that the
            // away messages are the only ones sent while the server is away.
            await Task.Delay(200);
            Program.Say("READY-FOR-RESTART room=" + room);
            await Program.Check("reconnect after the server restarts", async () =>
            {
                DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (ra.Count(ra.Connects, i => i.Reconnected) == 0 || rb.Count(rb.Connects, i => i.Reconnected) == 0)
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new CheckFailed("not reconnected within 30 s: A " + a.State + ", B " + b.State);
                    }
                    await Task.Delay(20);
                }
                Program.Say("RECONNECTED");
                // The server stays away longer than the first delay (0.1 s at most).
                Program.Expect(ra.Count(ra.Reconnects, i => i.Attempt >= 2) >= 1 && rb.Count(rb.Reconnects, i => i.Attempt >= 2) >= 1,
                    "a failed attempt and a retry for each client");
                Program.Expect(ra.Snapshot(ra.Connects).Last().Attempt >= 2, "A connected on a later attempt");
                Program.Equal(ChatConnectionState.Connected, a.State, "A state");
                Program.Equal(ChatConnectionState.Connected, b.State, "B state");
            });

            await Program.Check("messages sent while away arrive once, in order, by the catch-up", () =>
            {
                foreach (Recorder r in new[] { ra, rb })
                {
                    var got = r.Snapshot(r.Messages).Where(m => m.Text.StartsWith("away ", StringComparison.Ordinal)).ToList();
                    string want = string.Join("|", Enumerable.Range(1, away).Select(i => "away " + i));
                    Program.Equal(want, string.Join("|", got.Select(m => m.Text)), r.Name + "'s away messages");
                    ConnectedInfo c = r.Snapshot(r.Connects).Last();
                    Program.Equal(away, c.CaughtUp, r.Name + " caught up");
                }
                return Task.FromResult(0);
            });

            await Program.Check("live after reconnect, REST and WebSocket", async () =>
            {
                await a.SendOverWebSocketAsync("after restart over WebSocket");
                await rb.Got("after restart over WebSocket");
                SendResult r = await b.SendAsync("after restart over REST");
                Program.Equal(r.Message.Id, (await ra.Got("after restart over REST")).Id, "A gets B's REST send");
                IList<ChatMember> users = await a.GetMembersAsync();
                Program.Equal(2, users.Count, "members after reconnect: " + string.Join(",", users.Select(u => u.UserId)));
            });
        }
    }

    // CountingHttp forwards to a real transport and records each request.
    internal sealed class CountingHttp : IHttpTransport
    {
        private readonly IHttpTransport inner;
        private readonly IDictionary<string, string> names;
        private readonly List<string> seen = new List<string>();

        // names maps tokens to the names that Requests shows them by.
        public CountingHttp(IHttpTransport inner, IDictionary<string, string> names)
        {
            this.inner = inner;
            this.names = names;
        }

        // Requests lists "METHOD status TOKEN" per request so far: the
        // name of the bearer token sent, "-" for none, "?" for another.
        public List<string> Requests()
        {
            lock (seen)
            {
                return new List<string>(seen);
            }
        }

        public void Clear()
        {
            lock (seen)
            {
                seen.Clear();
            }
        }

        public async Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken)
        {
            HttpTransportResponse resp = await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            string authz, name = "-";
            if (request.Headers.TryGetValue("Authorization", out authz))
            {
                string token = authz.StartsWith("Bearer ", StringComparison.Ordinal) ? authz.Substring(7) : "";
                if (!names.TryGetValue(token, out name))
                {
                    name = "?";
                }
            }
            lock (seen)
            {
                seen.Add(request.Method + " " + resp.StatusCode + " " + name);
            }
            return resp;
        }
    }

    // AuthRun checks the client against a server with auth on.
    internal sealed class AuthRun
    {
        private const string Room = "unity-auth";
        private readonly string url;
        private readonly string tokenA = Environment.GetEnvironmentVariable("CHATAPP_TOKEN_A");
        private readonly string tokenB = Environment.GetEnvironmentVariable("CHATAPP_TOKEN_B");
        private readonly string expired = Environment.GetEnvironmentVariable("CHATAPP_TOKEN_EXPIRED");
        private readonly HttpClientTransport http = new HttpClientTransport();

        public AuthRun(string url)
        {
            this.url = url;
        }

        private ChatClientOptions Options(string token, string user, IHttpTransport transport = null, string room = Room)
        {
            ChatClientOptions o = ChatClientOptions.ForServer(url, room, user, "Ignored");
            o.Token = token;
            o.Http = transport ?? http;
            o.ReconnectMinDelay = TimeSpan.FromMilliseconds(100);
            o.ReconnectMaxDelay = TimeSpan.FromMilliseconds(400);
            o.RetryMinDelay = TimeSpan.FromMilliseconds(20);
            o.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
            o.SendMaxAttempts = 3;
            return o;
        }

        // NoToken fails if an error message shows a token.
        private void NoToken(string s, string what)
        {
            foreach (string t in new[] { tokenA, tokenB, expired })
            {
                Program.Expect(s.IndexOf(t, StringComparison.Ordinal) < 0 && s.IndexOf(Uri.EscapeDataString(t), StringComparison.Ordinal) < 0, what + " shows a token: " + s);
            }
        }

        // Refused checks that every way in is refused with code, each with
        // one request only: not retried.
        private async Task Refused(ChatClientOptions o, CountingHttp counter, string code, int status, string what, bool readable = false)
        {
            var c = new ChatClient(o);
            try
            {
                counter.Clear();
                ChatException e = await Program.Throws(() => c.ConnectAsync(), what + ": connect");
                Program.Equal(code, e.Code, what + ": connect code (" + e.Message + ")");
                Program.Equal(status, e.StatusCode, what + ": connect status");
                Program.Equal(ChatConnectionState.Disconnected, c.State, what + ": state after the refused connect");
                Program.Equal(1, counter.Requests().Count, what + ": requests of a refused connect: " + string.Join(", ", counter.Requests()));
                NoToken(e.ToString(), what);

                if (!readable)
                {
                    counter.Clear();
                    e = await Program.Throws(() => c.GetHistoryAsync(), what + ": history");
                    Program.Equal(code, e.Code, what + ": history code");
                    Program.Equal(status, e.StatusCode, what + ": history status");
                    Program.Equal(1, counter.Requests().Count, what + ": GETs of a refused history");
                }

                counter.Clear();
                e = await Program.Throws(() => c.SendAsync("refused " + what), what + ": send");
                Program.Equal(code, e.Code, what + ": send code");
                Program.Equal(status, e.StatusCode, what + ": send status");
                Program.Expect(e.Attempts <= 1, what + ": send attempts " + e.Attempts);
                Program.Expect(counter.Requests().Count <= 2 && counter.Requests().Count(r => r.StartsWith("PUT", StringComparison.Ordinal)) <= 1,
                    what + ": a refused send's requests: " + string.Join(", ", counter.Requests()));
                NoToken(e.ToString(), what);
            }
            finally
            {
                c.Dispose();
            }
        }

        public async Task AllAsync()
        {
            await Program.Check("auth: tokens given", () =>
            {
                Program.Expect(!string.IsNullOrEmpty(tokenA) && !string.IsNullOrEmpty(tokenB) && !string.IsNullOrEmpty(expired),
                    "CHATAPP_TOKEN_A, CHATAPP_TOKEN_B and CHATAPP_TOKEN_EXPIRED are required");
                Func<string, string, string> userOf = (token, user) =>
                {
                    using (var c = new ChatClient(Options(token, user)))
                    {
                        return c.UserId;
                    }
                };
                Program.Equal("unity-ada", userOf(tokenA, ""), "A's user id: the token's sub");
                Program.Equal("given", userOf(tokenA, "given"), "a given user id wins");
                Program.Equal(null, userOf("abc.def.ghi", ""), "garbage has no sub");
                Program.Equal(null, userOf("not a jwt", null), "not a JWT");
                Program.Equal("u", userOf(null, "u"), "no token");
                var noUser = ChatClientOptions.ForServer(url, Room, null);
                try
                {
                    new ChatClient(noUser).Dispose();
                    throw new CheckFailed("a client without a user id or a token was made");
                }
                catch (ArgumentException)
                {
                }
                return Task.FromResult(0);
            });

            var counter = new CountingHttp(http, new Dictionary<string, string> { { tokenA, "A" }, { tokenB, "B" }, { expired, "expired" } });
            await Program.Check("auth: no token is unauthorized, not retried", () =>
            {
                var o = Options(null, "unity-ada", counter);
                return Refused(o, counter, ChatError.Unauthorized, 401, "no token");
            });
            await Program.Check("auth: expired token is unauthorized, not retried", () =>
                Refused(Options(expired, "", counter), counter, ChatError.Unauthorized, 401, "expired"));
            await Program.Check("auth: another user's id is forbidden", () =>
                Refused(Options(tokenA, "unity-bob", counter), counter, ChatError.Forbidden, 403, "spoofed user id", true));
            await Program.Check("auth: a room the token does not allow is forbidden", () =>
                Refused(Options(tokenB, "", counter, Room + "-other"), counter, ChatError.Forbidden, 403, "other room"));

            var a = new ChatClient(Options(tokenA, "", counter));
            var b = new ChatClient(Options(tokenB, "unity-bob")); // the token's own id may be given
            var ra = new Recorder("A", a);
            var rb = new Recorder("B", b);
            await Program.Check("auth: connect with a token and no user id", async () =>
            {
                counter.Clear();
                await a.ConnectAsync();
                Program.Equal("unity-ada", a.UserId, "A's user id, from the token");
                Program.Expect(counter.Requests().Count > 0 && counter.Requests().All(r => r == "GET 200 A"), "A's requests carry A's token: " + string.Join(", ", counter.Requests()));
                await b.ConnectAsync();
                await Program.Eventually("A sees B join", () => ra.Count(ra.Joins, p => p.UserId == "unity-bob" && p.Name == "Bob") == 1);
                IList<ChatMember> users = await a.GetMembersAsync();
                Program.Equal("Ada|Bob", string.Join("|", users.Select(u => u.Name).OrderBy(n => n, StringComparer.Ordinal)), "members by the tokens' names");
                Program.Equal("unity-ada|unity-bob", string.Join("|", users.Select(u => u.UserId).OrderBy(n => n, StringComparer.Ordinal)), "members by the tokens' users");
            });

            await Program.Check("auth: send and receive with tokens", async () =>
            {
                SendResult r = await a.SendAsync("hello with a token");
                Program.Equal("unity-ada", r.Message.UserId, "stored user");
                Program.Equal("Ada", r.Message.Name, "stored name: the token's, not the options'");
                ChatMessage got = await rb.Got("hello with a token");
                Program.Equal(r.Message.Id, got.Id, "B's push");
                Program.Equal("Ada", got.Name, "pushed name");
                await b.SendOverWebSocketAsync("hi over the socket with a token");
                got = await ra.Got("hi over the socket with a token");
                Program.Equal("unity-bob", got.UserId, "socket sender");
                Program.Equal("Bob", got.Name, "socket sender's name");
                HistoryPage p = await b.GetHistoryAsync();
                Program.Equal("unity-ada: hello with a token|unity-bob: hi over the socket with a token",
                    string.Join("|", p.Messages.Select(m => m.UserId + ": " + m.Text)), "history");
            });

            await Program.Check("auth: a retried send is stored once, as the token's user", async () =>
            {
                var faulty = new FaultyHttp(http);
                var d = new ChatClient(Options(tokenA, "", faulty));
                faulty.Reset(n => n == 1 ? Fault.DropAfter : Fault.None);
                SendResult r = await d.SendAsync("lost answer with a token");
                Program.Equal(2, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                Program.Equal("unity-ada", r.Message.UserId, "user");
                Program.Equal(r.Message.Id, (await rb.Got("lost answer with a token")).Id, "the stored message returned");
                d.Dispose();
            });

            await Program.CheckWithDrop("auth: a refused reconnect stops the client", async () =>
            {
                // The token expires while A is connected (A swaps it), then
                // the server drops A's connection: the reconnect is refused
                // and not tried again.
                IList<ChatMember> users = await a.GetMembersAsync();
                ChatMember mine = users.First(u => u.UserId == "unity-ada");
                a.Options.Token = expired;
                counter.Clear();
                Program.Say("DROP-CONNECTION id=" + mine.ConnectionId);
                await Program.Eventually("A disconnected", () => ra.Count(ra.Disconnects, i => true) == 1);
                DisconnectedInfo info = ra.Snapshot(ra.Disconnects)[0];
                Program.Equal(false, info.ByClient, "by client");
                Program.Expect(info.Error != null, "an error in the Disconnected event: " + info.Reason);
                Program.Equal(ChatError.Unauthorized, info.Error.Code, "error code");
                Program.Equal(ChatConnectionState.Closed, a.State, "A's state");
                NoToken(info.Reason, "Disconnected reason");
                await Task.Delay(1000); // more than the longest reconnect delay
                Program.Equal(1, ra.Count(ra.Reconnects, i => true), "reconnect attempts");
                Program.Equal(1, counter.Requests().Count, "requests after the drop: " + string.Join(", ", counter.Requests()));
                ChatException e = await Program.Throws(() => a.SendOverWebSocketAsync("x"), "send on a closed client");
                Program.Equal(ChatError.NotConnected, e.Code, "code");
            });

            await b.CloseAsync();
            a.Dispose();
            b.Dispose();
        }
    }

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
