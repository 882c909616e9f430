// The harness's default mode: Run checks the client in a room of its own on
// a server with auth off, in order: the checks without a server
// (UnitTests.cs); REST sends; history pages; members; sends over REST and
// over the WebSocket, each received once; bad input; retried sends
// (Run.SafeRetries.cs); the socket's sends (Run.SocketSends.cs); a dropped
// connection; with --away, a restart (Run.Restart.cs); every message once.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
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
    }
}
