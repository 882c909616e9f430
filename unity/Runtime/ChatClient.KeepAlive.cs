// The keepalive: {"action":"ping"} every KeepAliveInterval on the
// connected socket, and a socket that stays silent for KeepAliveTimeout
// after one closed as dead, so that it reconnects (docs/protocol.md,
// Keepalive).
using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // The keepalive message.
        private const string PingFrame = "{\"action\":\"ping\"}";
        // The floor of KeepAliveInterval and KeepAliveTimeout: a tiny
        // interval would flood billed messages, a tiny timeout kill every
        // connection whose round-trip is longer.
        private static readonly TimeSpan MinKeepAlive = TimeSpan.FromSeconds(1);

        // Guarded by gate:
        // The answer the newest socket's keepalive awaits (set by any frame
        // of it, or false when the socket ends); null when none is out.
        private TaskCompletionSource<bool> pong;

        // StartKeepAlive runs KeepAliveAsync on the thread pool; it ends
        // with its socket.
        private void StartKeepAlive(int gen, IWebSocketTransport t)
        {
            Task.Run(() => KeepAliveAsync(gen, t));
        }

        // KeepAliveAsync sends the keepalive message on socket gen every
        // KeepAliveInterval until it is replaced or closed: it waits for the
        // answer (any frame of the socket completes the awaited task), at
        // most KeepAliveTimeout, then for what is left of the interval,
        // counted from the send, so that the messages are KeepAliveInterval
        // apart, not the interval plus the answer's wait. One unanswered
        // within the timeout means the connection is dead: it is closed,
        // and its Closed event reconnects as for any other loss. Both are
        // at least MinKeepAlive.
        private async Task KeepAliveAsync(int gen, IWebSocketTransport t)
        {
            TimeSpan interval = options.KeepAliveInterval < MinKeepAlive ? MinKeepAlive : options.KeepAliveInterval;
            TimeSpan timeout = options.KeepAliveTimeout < MinKeepAlive ? MinKeepAlive : options.KeepAliveTimeout;
            TimeSpan wait = interval;
            try
            {
                while (true)
                {
                    await Task.Delay(wait, lifetime.Token).ConfigureAwait(false);
                    // Continuations run on the thread pool, not inline in
                    // OnFrame, which holds the gate.
                    var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    lock (gate)
                    {
                        if (gen != generation || socketClosed)
                        {
                            return;
                        }
                        pong = answer;
                    }
                    Stopwatch sent = Stopwatch.StartNew();
                    using (var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token))
                    {
                        cts.CancelAfter(timeout);
                        await t.SendAsync(PingFrame, cts.Token).ConfigureAwait(false);
                        // The rest of the timeout; cancelled by Close too.
                        var late = Task.Delay(Timeout.InfiniteTimeSpan, cts.Token);
                        await Task.WhenAny(answer.Task, late).ConfigureAwait(false);
                        cts.Cancel(); // ends late, if the answer came first
                    }
                    lock (gate)
                    {
                        if (gen != generation || socketClosed)
                        {
                            return;
                        }
                        pong = null;
                        if (!answer.Task.IsCompleted)
                        {
                            break;
                        }
                    }
                    wait = interval - sent.Elapsed;
                    if (wait < TimeSpan.Zero)
                    {
                        wait = TimeSpan.Zero;
                    }
                }
            }
            catch (Exception)
            {
                // Closed by the client, or the send failed: the socket's
                // Closed event, if any, reconnects.
                return;
            }
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                try
                {
                    await t.CloseAsync(4000, "keepalive unanswered", cts.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    t.Dispose(); // aborts: Closed follows
                }
            }
        }
    }
}
