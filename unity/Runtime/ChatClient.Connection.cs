// The connection loop: opening a socket (for ConnectAsync and for every
// reconnect) and its URL, the loss of one, and reconnecting with backoff
// until a socket stays up or the client gives up.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // Guarded by gate:
        private IWebSocketTransport socket; // the connected one, or null
        private int generation; // of the newest socket; frames of older ones are ignored
        private bool socketClosed; // the newest socket ended
        // The reconnect attempt that made the newest connection (0: the
        // first), and when it was made: where the next reconnect counts
        // from, unless it stayed up options.StableConnection.
        private int connectedAttempt;
        private Stopwatch connectedFor;

        // OpenAsync connects a new socket and, for the first connection
        // (attempt 0), reads the latest page; for a reconnect it catches up.
        // The socket's pushes are held until then, so that events come in
        // order and each message once.
        private async Task<HistoryPage> OpenAsync(int attempt, CancellationToken cancellationToken)
        {
            IWebSocketTransport t = socketFactory();
            int gen;
            lock (gate)
            {
                gen = ++generation;
                socketClosed = false;
                HoldPushes();
            }
            t.MessageReceived += text => OnFrame(gen, text);
            t.Closed += info => OnClosed(gen, t, info);
            try
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.Token))
                {
                    cts.CancelAfter(options.ConnectTimeout);
                    Exception failed = null;
                    try
                    {
                        await t.ConnectAsync(SocketUri(), cts.Token).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        failed = e;
                    }
                    if (failed != null)
                    {
                        if (cancellationToken.IsCancellationRequested || lifetime.IsCancellationRequested)
                        {
                            throw new OperationCanceledException("connect cancelled", failed);
                        }
                        ChatException refused = await RefusalAsync(cancellationToken).ConfigureAwait(false);
                        if (refused != null)
                        {
                            throw refused;
                        }
                        throw new ChatException(ChatError.Unavailable, "WebSocket connect to " + options.WebSocketUrl + " failed: " + Redact(Describe(failed)), 0, failed);
                    }
                }
                lock (gate)
                {
                    if (gen != generation || lifetime.IsCancellationRequested)
                    {
                        throw new OperationCanceledException("client closed");
                    }
                    socket = t;
                }

                HistoryPage page = null;
                List<ChatMessage> missed = null;
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.Token))
                {
                    if (attempt == 0)
                    {
                        page = await GetPageAsync(options.HistoryPageSize, null, null, options.SendMaxAttempts, cts.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        missed = await ReadMissedAsync(cts.Token).ConfigureAwait(false);
                    }
                }

                lock (gate)
                {
                    if (gen != generation || lifetime.IsCancellationRequested)
                    {
                        throw new OperationCanceledException("client closed");
                    }
                    if (socketClosed)
                    {
                        throw new ChatException(ChatError.Unavailable, "the connection was lost while catching up");
                    }
                    int caughtUp = EndCatchUp(page, missed);
                    pong = null;
                    connectedAttempt = attempt;
                    connectedFor = Stopwatch.StartNew();
                    SetState(ChatConnectionState.Connected);
                    StartKeepAlive(gen, t);
                    var info = new ConnectedInfo { Reconnected = attempt > 0, CaughtUp = caughtUp, Attempt = attempt };
                    Post(() => Raise(Connected, info));
                }
                return page;
            }
            catch (Exception)
            {
                lock (gate)
                {
                    if (gen == generation)
                    {
                        DropHeldPushes();
                        if (socket == t)
                        {
                            socket = null;
                        }
                    }
                }
                t.Dispose();
                throw;
            }
        }

        private Uri SocketUri()
        {
            string u = options.WebSocketUrl;
            u += (u.IndexOf('?') >= 0 ? "&" : "?") +
                "room_id=" + Uri.EscapeDataString(options.RoomId);
            if (!string.IsNullOrEmpty(options.UserId))
            {
                u += "&user_id=" + Uri.EscapeDataString(options.UserId);
            }
            if (!string.IsNullOrEmpty(options.Token))
            {
                // A browser's WebSocket (WebGL) cannot send headers: the
                // query works for every transport.
                u += "&token=" + Uri.EscapeDataString(options.Token);
            }
            if (!string.IsNullOrEmpty(options.Name))
            {
                u += "&name=" + Uri.EscapeDataString(options.Name);
            }
            if (options.PresenceEvents)
            {
                u += "&events=presence";
            }
            return new Uri(u);
        }

        private void OnClosed(int gen, IWebSocketTransport t, WebSocketCloseInfo info)
        {
            bool reconnect = false;
            int after = 0;
            lock (gate)
            {
                if (gen == generation)
                {
                    socketClosed = true;
                    SocketClosedUnderSends(gen);
                    if (pong != null)
                    {
                        pong.TrySetResult(false); // its keepalive ends
                    }
                    if (state == ChatConnectionState.Connected)
                    {
                        socket = null;
                        SetState(ChatConnectionState.Reconnecting);
                        reconnect = true;
                        // A connection that did not stay up was one more
                        // failed attempt: the backoff goes on from it.
                        if (connectedFor != null && connectedFor.Elapsed < options.StableConnection)
                        {
                            after = connectedAttempt;
                        }
                    }
                }
            }
            t.Dispose();
            if (reconnect)
            {
                Task.Run(() => ReconnectAsync("connection closed: " + info, after));
            }
        }

        // ReconnectAsync reconnects from the attempt after the one that
        // made the lost connection (0 when it stayed up StableConnection).
        // It stops on a handshake the server refused for good (a 4xx but
        // 408 and 429: RefusalAsync).
        private async Task ReconnectAsync(string reason, int after)
        {
            for (int attempt = after + 1; !lifetime.IsCancellationRequested; attempt++)
            {
                if (options.MaxReconnectAttempts > 0 && attempt > options.MaxReconnectAttempts)
                {
                    lock (gate)
                    {
                        if (state == ChatConnectionState.Closed)
                        {
                            return;
                        }
                        SetState(ChatConnectionState.Closed);
                        var gaveUp = new DisconnectedInfo { ByClient = false, Reason = "gave up after " + options.MaxReconnectAttempts + " attempts: " + reason };
                        Post(() => Raise(Disconnected, gaveUp));
                    }
                    return;
                }
                TimeSpan delay = reconnectBackoff.Delay(attempt);
                var info = new ReconnectingInfo { Attempt = attempt, Delay = delay, Reason = reason };
                Post(() => Raise(Reconnecting, info));
                try
                {
                    await Task.Delay(delay, lifetime.Token).ConfigureAwait(false);
                    await OpenAsync(attempt, lifetime.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e)
                {
                    if (lifetime.IsCancellationRequested)
                    {
                        return;
                    }
                    reason = Describe(e);
                    var ce = e as ChatException;
                    if (ce != null && ce.Refusal)
                    {
                        // The token expired, or no longer allows the room,
                        // or the room is invalid: retrying cannot help.
                        lock (gate)
                        {
                            if (state == ChatConnectionState.Closed)
                            {
                                return;
                            }
                            SetState(ChatConnectionState.Closed);
                            var refused = new DisconnectedInfo { ByClient = false, Reason = "refused: " + reason, Error = ce.Error };
                            Post(() => Raise(Disconnected, refused));
                        }
                        return;
                    }
                }
            }
        }
    }
}
