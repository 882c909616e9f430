// The harness's two modes of one check each (see Program.cs): --keepalive N,
// a client that sends only its keepalive stays connected; --flap N, the
// reconnects to a server that closes each connection soon count as failed
// attempts, with the backoff growing.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal static partial class Program
    {
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
    }
}
