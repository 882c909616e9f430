// The harness's --auth mode (docs/auth.md): on a server with auth on, no
// token, an expired one, another user's id and a room the token does not
// allow are refused at once, not retried, the token never shown; a token
// gives its user's id and name to what the client sends; a retried send is
// stored once; a refused reconnect stops the client.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
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
}
