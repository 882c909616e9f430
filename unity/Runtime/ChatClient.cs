using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary>
    /// A chatapp client for one user in one room: history, members, sending
    /// over REST (with safe retries) or over the WebSocket, and live
    /// messages and presence over a WebSocket that reconnects by itself.
    /// </summary>
    /// <remarks>
    /// <para><b>Delivery.</b> <see cref="ConnectAsync"/> returns the latest page
    /// of history; every message stored after it is raised once as
    /// <see cref="MessageReceived"/>, in id order within each batch, also
    /// across reconnects: after a reconnect the client reads the history
    /// after the last message it delivered (<see cref="ChatClientOptions.CatchUpOverlap"/>
    /// earlier) while holding back the new socket's pushes, raises what it
    /// missed, then the held pushes, dropping every id it has raised before.</para>
    /// <para><b>Threads.</b> Events are raised one at a time, in order, on a
    /// thread-pool thread, never on the caller's. A Unity script queues
    /// them to the main thread (see the ChatSample). A handler that throws
    /// is reported by the <see cref="Error"/> event (code handler_failed).</para>
    /// <para><b>Sends.</b> See <see cref="SendAsync"/> for what a REST send
    /// guarantees when a request fails.</para>
    /// </remarks>
    public sealed class ChatClient : IDisposable
    {
        private const int SeenCapacity = 10000;
        // The keepalive message.
        private const string PingFrame = "{\"action\":\"ping\"}";
        // The floor of KeepAliveInterval and KeepAliveTimeout: a tiny
        // interval would flood billed messages, a tiny timeout kill every
        // connection whose round-trip is longer.
        private static readonly TimeSpan MinKeepAlive = TimeSpan.FromSeconds(1);
        // How long a connection must stay up for the next reconnect to
        // start the backoff again from attempt 1 (the web page's
        // STABLE_CONNECTION_MS). One that ends sooner counts as a failed
        // attempt: a server that closes every socket right after the
        // handshake is met with a growing backoff, not a connection (and a
        // catch-up) every ReconnectMinDelay.
        private static readonly TimeSpan StableConnection = TimeSpan.FromSeconds(5);

        private readonly ChatClientOptions options;
        private readonly IHttpTransport http;
        private readonly IDisposable ownedHttp;
        private readonly Func<IWebSocketTransport> socketFactory;
        private readonly Backoff reconnectBackoff;
        private readonly Backoff retryBackoff;
        private readonly EventPump pump;
        private readonly CancellationTokenSource lifetime = new CancellationTokenSource();

        private readonly object gate = new object();
        // Guarded by gate:
        private ChatConnectionState state = ChatConnectionState.Disconnected;
        private IWebSocketTransport socket; // the connected one, or null
        private int generation; // of the newest socket; frames of older ones are ignored
        private bool socketClosed; // the newest socket ended
        private bool catchingUp; // hold pushes in pending
        private readonly List<ChatMessage> pending = new List<ChatMessage>();
        private readonly SeenIds seen = new SeenIds(SeenCapacity); // ids raised or in the first page
        private readonly SeenIds claimed = new SeenIds(1000); // ids SendAsync returned
        private string floorId; // newest id of the first page: older messages are history
        private string lastId; // newest id delivered (or of the first page)
        private string latestKnownId; // newest id known to exist: where a send's check starts
        private int duplicatesDropped;
        // The answer the newest socket's keepalive awaits (set by any frame
        // of it, or false when the socket ends); null when none is out.
        private TaskCompletionSource<bool> pong;
        // The reconnect attempt that made the newest connection (0: the
        // first), and when it was made: where the next reconnect counts
        // from, unless it stayed up StableConnection.
        private int connectedAttempt;
        private Stopwatch connectedFor;

        /// <summary>Creates a client; nothing is sent until a method is called.</summary>
        public ChatClient(ChatClientOptions options)
        {
            if (options == null)
            {
                throw new ArgumentNullException("options");
            }
            options.Validate();
            this.options = options;
            http = options.Http;
            if (http == null)
            {
                var h = new HttpClientTransport();
                http = h;
                ownedHttp = h;
            }
            socketFactory = options.WebSocketFactory ?? (() => new ClientWebSocketTransport());
            reconnectBackoff = new Backoff(options.ReconnectMinDelay, options.ReconnectMaxDelay);
            retryBackoff = new Backoff(options.RetryMinDelay, options.RetryMaxDelay);
            pump = new EventPump(ReportHandlerFailure);
        }

        /// <summary>A message of the room, raised once per message id.</summary>
        public event Action<ChatMessage> MessageReceived;
        /// <summary>A connection joined the room (with <see cref="ChatClientOptions.PresenceEvents"/>).</summary>
        public event Action<PresenceEvent> MemberJoined;
        /// <summary>A connection left the room (with <see cref="ChatClientOptions.PresenceEvents"/>).</summary>
        public event Action<PresenceEvent> MemberLeft;
        /// <summary>Connected and caught up: after ConnectAsync, and after each reconnect.</summary>
        public event Action<ConnectedInfo> Connected;
        /// <summary>The connection was lost (or an attempt failed); the client waits Delay, then tries again.</summary>
        public event Action<ReconnectingInfo> Reconnecting;
        /// <summary>Closed for good: by CloseAsync/Dispose, after MaxReconnectAttempts, or when the server refused a reconnect (401/403; see DisconnectedInfo.Error).</summary>
        public event Action<DisconnectedInfo> Disconnected;
        /// <summary>An error frame from the server (a bad WebSocket send), or a problem in the background.</summary>
        public event Action<ChatError> Error;
        /// <summary>The connection state changed.</summary>
        public event Action<ChatConnectionState> StateChanged;

        /// <summary>The options the client was made with.</summary>
        public ChatClientOptions Options
        {
            get { return options; }
        }

        /// <summary>The connection state.</summary>
        public ChatConnectionState State
        {
            get { lock (gate) return state; }
        }

        /// <summary>The newest message id delivered (or in ConnectAsync's page); null before any.</summary>
        public string LastMessageId
        {
            get { lock (gate) return lastId; }
        }

        /// <summary>Messages received more than once (a push and a catch-up) and raised only once.</summary>
        public int DuplicatesDropped
        {
            get { lock (gate) return duplicatesDropped; }
        }

        // ---- connecting -----------------------------------------------------

        /// <summary>
        /// Opens the WebSocket, then reads and returns the latest
        /// <see cref="ChatClientOptions.HistoryPageSize"/> messages. Every
        /// message after that page is raised as <see cref="MessageReceived"/>,
        /// the first ones possibly before this returns. Throws
        /// <see cref="ChatException"/> when the server cannot be reached or
        /// refuses the connection; then ConnectAsync may be called again.
        /// A refusal for the token (code unauthorized, 401) or the room or
        /// user id (forbidden, 403) is told apart from an unreachable server
        /// (unavailable) by one GET of the members after the failed
        /// handshake. Once connected, a lost connection is reconnected by
        /// itself, except after such a refusal: then the client closes
        /// (<see cref="Disconnected"/> with the error).
        /// </summary>
        public async Task<HistoryPage> ConnectAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            lock (gate)
            {
                if (state != ChatConnectionState.Disconnected)
                {
                    throw new InvalidOperationException("ConnectAsync: the client is " + state);
                }
                SetState(ChatConnectionState.Connecting);
            }
            try
            {
                return await OpenAsync(0, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception)
            {
                lock (gate)
                {
                    if (state == ChatConnectionState.Connecting)
                    {
                        SetState(ChatConnectionState.Disconnected);
                    }
                }
                throw;
            }
        }

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
                catchingUp = true;
                pending.Clear();
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
                    int caughtUp = 0;
                    if (page != null)
                    {
                        string newest = null;
                        foreach (ChatMessage m in page.Messages)
                        {
                            seen.Add(m.Id);
                            newest = MessageIds.Max(newest, m.Id);
                        }
                        floorId = newest ?? MessageIds.Zero;
                        lastId = MessageIds.Max(lastId, newest);
                        latestKnownId = MessageIds.Max(latestKnownId, floorId);
                    }
                    else
                    {
                        foreach (ChatMessage m in missed)
                        {
                            if (MessageIds.Compare(m.Id, floorId) > 0 && Deliver(m))
                            {
                                caughtUp++;
                            }
                        }
                    }
                    foreach (ChatMessage m in pending)
                    {
                        Deliver(m);
                    }
                    pending.Clear();
                    catchingUp = false;
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
                        catchingUp = false;
                        pending.Clear();
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

        // RefusalAsync finds out why a handshake failed, which a WebSocket
        // client (a browser's, Mono's) does not always tell: the REST API
        // answers a token and a room the same way, so one GET of the
        // members says whether the server refuses us (401/403). It returns
        // that refusal, or null when the server did not refuse (it is down,
        // or refused for another reason: the caller retries).
        private async Task<ChatException> RefusalAsync(CancellationToken cancellationToken)
        {
            string url = options.RestUrl.TrimEnd('/') + "/users?room_id=" + Uri.EscapeDataString(options.RoomId);
            HttpTransportResponse resp;
            try
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.Token))
                {
                    resp = await http.SendAsync(NewRequest("GET", url), cts.Token).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                return null;
            }
            if (IsRefusal(resp.StatusCode))
            {
                ChatException e = ErrorFrom(resp);
                return new ChatException(e.Code, "the server refused the WebSocket connection: " + e.Message, resp.StatusCode);
            }
            string sub = TokenSubject(options.Token);
            if (resp.StatusCode == 200 && !string.IsNullOrEmpty(options.UserId) && sub != null && sub != options.UserId)
            {
                // The members list names no user; the handshake does.
                return new ChatException(ChatError.Forbidden, "the server refused the WebSocket connection: user_id " + options.UserId + " is not the user of the token (" + sub + ")", 403);
            }
            return null;
        }

        // IsRefusal: an answer that a retry with the same token cannot change.
        private static bool IsRefusal(int status)
        {
            return status == 401 || status == 403;
        }

        /// <summary>
        /// The user id the client is: <see cref="ChatClientOptions.UserId"/>,
        /// or without one the sub claim of the token (read, not verified:
        /// the server verifies it); null if neither says.
        /// </summary>
        public string UserId
        {
            get
            {
                return string.IsNullOrEmpty(options.UserId) ? TokenSubject(options.Token) : options.UserId;
            }
        }

        // TokenSubject reads a JWT's sub claim without verifying it; null
        // when token is not a JWT with a string sub.
        internal static string TokenSubject(string token)
        {
            if (string.IsNullOrEmpty(token))
            {
                return null;
            }
            string[] parts = token.Split('.');
            if (parts.Length != 3)
            {
                return null;
            }
            try
            {
                string b64 = parts[1].Replace('-', '+').Replace('_', '/');
                switch (b64.Length % 4)
                {
                    case 2:
                        b64 += "==";
                        break;
                    case 3:
                        b64 += "=";
                        break;
                }
                string json = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(b64));
                string sub = ChatJson.GetString(ChatJson.ParseObject(json), "sub");
                return string.IsNullOrEmpty(sub) ? null : sub;
            }
            catch (FormatException)
            {
                return null;
            }
            catch (ArgumentException)
            {
                return null;
            }
        }

        // NewRequest makes a request with the token's Authorization header.
        private HttpTransportRequest NewRequest(string method, string url, string body = null)
        {
            var req = new HttpTransportRequest(method, url, body);
            if (!string.IsNullOrEmpty(options.Token))
            {
                req.Headers["Authorization"] = "Bearer " + options.Token;
            }
            return req;
        }

        // Redact takes the token out of a message (an exception's may hold
        // the WebSocket URL).
        private string Redact(string s)
        {
            string token = options.Token;
            if (string.IsNullOrEmpty(s) || string.IsNullOrEmpty(token))
            {
                return s;
            }
            return s.Replace(Uri.EscapeDataString(token), "REDACTED").Replace(token, "REDACTED");
        }

        // ReadMissedAsync reads the history after the last message
        // delivered, from CatchUpOverlap earlier, page by page.
        private async Task<List<ChatMessage>> ReadMissedAsync(CancellationToken cancellationToken)
        {
            string after;
            lock (gate)
            {
                after = MessageIds.Rewind(lastId ?? floorId, options.CatchUpOverlap, floorId);
            }
            var missed = new List<ChatMessage>();
            for (int i = 0; i < options.CatchUpMaxPages; i++)
            {
                HistoryPage p = await GetPageAsync(options.CatchUpPageSize, null, after, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
                missed.AddRange(p.Messages);
                if (!p.HasMore || p.Messages.Count == 0)
                {
                    return missed;
                }
                after = p.Messages[p.Messages.Count - 1].Id;
            }
            Post(() => Raise(Error, new ChatError(ChatError.CatchUpTruncated,
                "more than " + options.CatchUpMaxPages + " pages were missed; read the rest with GetHistoryAsync")));
            return missed;
        }

        // Deliver raises m unless its id was raised before. Under gate.
        private bool Deliver(ChatMessage m)
        {
            if (!seen.Add(m.Id))
            {
                duplicatesDropped++;
                return false;
            }
            lastId = MessageIds.Max(lastId, m.Id);
            latestKnownId = MessageIds.Max(latestKnownId, m.Id);
            Post(() => Raise(MessageReceived, m));
            return true;
        }

        private void OnFrame(int gen, string text)
        {
            Dictionary<string, object> o = null;
            string bad = null;
            try
            {
                o = ChatJson.ParseObject(text);
            }
            catch (FormatException e)
            {
                bad = e.Message;
            }
            lock (gate)
            {
                if (gen != generation)
                {
                    return;
                }
                if (pong != null)
                {
                    // Any frame answers the keepalive, not only the pong:
                    // on AWS a throttled ping gets an error frame, and a
                    // connection that delivers frames is alive.
                    pong.TrySetResult(true);
                }
                if (bad != null)
                {
                    Post(() => Raise(Error, new ChatError(ChatError.BadResponse, "frame is not a JSON object: " + bad)));
                    return;
                }
                ChatError err = ChatError.FromJson(o);
                if (err != null)
                {
                    Post(() => Raise(Error, err));
                    return;
                }
                string type = ChatJson.GetString(o, "type");
                if (type == "pong")
                {
                    return; // the keepalive's answer, taken above
                }
                if (type != null)
                {
                    PresenceEvent p = PresenceEvent.FromJson(o);
                    if (type == "join")
                    {
                        Post(() => Raise(MemberJoined, p));
                    }
                    else if (type == "leave")
                    {
                        Post(() => Raise(MemberLeft, p));
                    }
                    return; // other event types are for newer clients
                }
                ChatMessage m = ChatMessage.FromJson(o);
                if (m == null)
                {
                    Post(() => Raise(Error, new ChatError(ChatError.BadResponse, "unrecognized frame: " + Truncate(text))));
                    return;
                }
                if (catchingUp)
                {
                    pending.Add(m);
                }
                else
                {
                    Deliver(m);
                }
            }
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
                        if (connectedFor != null && connectedFor.Elapsed < StableConnection)
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

        // ReconnectAsync reconnects from the attempt after the one that
        // made the lost connection (0 when it stayed up StableConnection).
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
                    if (ce != null && (ce.Code == ChatError.Unauthorized || ce.Code == ChatError.Forbidden))
                    {
                        // The token expired, or no longer allows the room:
                        // retrying cannot help.
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

        /// <summary>
        /// Closes the WebSocket (1000) and stops reconnecting; the client is
        /// done. <see cref="Disconnected"/> is the last event.
        /// </summary>
        public async Task CloseAsync()
        {
            IWebSocketTransport s = Shutdown();
            if (s != null)
            {
                try
                {
                    using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
                    {
                        await s.CloseAsync(1000, "bye", cts.Token).ConfigureAwait(false);
                    }
                }
                catch (Exception)
                {
                    // Closing is best effort; Dispose aborts.
                }
                s.Dispose();
            }
        }

        /// <summary>Aborts the WebSocket, stops reconnecting and frees the HTTP transport it made.</summary>
        public void Dispose()
        {
            IWebSocketTransport s = Shutdown();
            if (s != null)
            {
                s.Dispose();
            }
            if (ownedHttp != null)
            {
                ownedHttp.Dispose();
            }
        }

        private IWebSocketTransport Shutdown()
        {
            lifetime.Cancel();
            lock (gate)
            {
                if (state == ChatConnectionState.Closed)
                {
                    return null;
                }
                generation++; // the socket's close is ours, not a reason to reconnect
                IWebSocketTransport s = socket;
                socket = null;
                SetState(ChatConnectionState.Closed);
                var info = new DisconnectedInfo { ByClient = true, Reason = "closed by the client" };
                Post(() => Raise(Disconnected, info));
                return s;
            }
        }

        // ---- sending --------------------------------------------------------

        /// <summary>
        /// Sends text on the WebSocket ({"action":"sendmessage"}); it comes
        /// back as <see cref="MessageReceived"/>. Bad input comes back as an
        /// <see cref="Error"/> event. Not retried: if the connection is lost
        /// the frame may or may not have been received (use
        /// <see cref="SendAsync"/> for a send that is retried safely).
        /// </summary>
        /// <remarks>
        /// API Gateway closes a connection with 1009 on a frame over 32 KB.
        /// A transport that is an <see cref="IFragmentingWebSocketTransport"/>
        /// (<see cref="ClientWebSocketTransport"/>) sends any message in
        /// frames within it; any other (a WebGL one: a browser sends each
        /// message as one frame) is given no message over
        /// <see cref="ClientWebSocketTransport.MaxFrameBytes"/>: a longer one
        /// (up to 16 KiB of text that JSON escapes, ~96 KB) is sent over REST
        /// instead, as <see cref="SendAsync"/> sends it, as the web page
        /// does. It still comes back as <see cref="MessageReceived"/>, but a
        /// refusal is then thrown as a <see cref="ChatException"/>.
        /// </remarks>
        public Task SendOverWebSocketAsync(string text, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (text == null)
            {
                throw new ArgumentNullException("text");
            }
            IWebSocketTransport s;
            lock (gate)
            {
                s = state == ChatConnectionState.Connected ? socket : null;
            }
            if (s == null)
            {
                throw new ChatException(ChatError.NotConnected, "the WebSocket is not connected (" + State + ")");
            }
            string frame = new ChatJson.ObjectWriter()
                .Add("action", "sendmessage")
                .Add("text", text)
                .Add("name", options.Name ?? "")
                .ToString();
            if (!(s is IFragmentingWebSocketTransport) &&
                System.Text.Encoding.UTF8.GetByteCount(frame) > ClientWebSocketTransport.MaxFrameBytes)
            {
                return SendAsync(text, cancellationToken);
            }
            return s.SendAsync(frame, cancellationToken);
        }

        /// <summary>
        /// Sends text over REST (PUT /chat) and returns the stored message.
        /// The client need not be connected.
        /// </summary>
        /// <remarks>
        /// <para>Every PUT of one call carries the same Idempotency-Key (a new
        /// GUID per call), so that a server that honours it stores the
        /// message once whatever happens.</para>
        /// <para>Until then the client retries only when that cannot store
        /// the message twice, as far as the room's history can tell: a 4xx
        /// answer (other than 408 and 429) is thrown at once as a
        /// <see cref="ChatException"/> with the server's code, never retried.
        /// After a failed attempt (no answer, a timeout, 408, 429 or 5xx)
        /// the client waits (backoff with jitter, or Retry-After), then reads
        /// the history after the newest message it knew of before the call
        /// (<see cref="ChatClientOptions.CatchUpOverlap"/> earlier): if it
        /// finds a message of this user with exactly this text that it had
        /// not seen before the call and no earlier send returned, it returns
        /// that one (<see cref="SendResult.Recovered"/>) and does not send
        /// again; only if the history shows no such message does it send
        /// again, up to <see cref="ChatClientOptions.SendMaxAttempts"/> PUTs.
        /// If the history cannot be read either, it throws code
        /// outcome_unknown without sending again; if every attempt failed
        /// and the history shows nothing, code unavailable (not stored).</para>
        /// <para>So a message is stored twice only if a failed attempt is
        /// committed by the server after the history read that followed it
        /// (a request held up longer than the client's wait), which the
        /// Idempotency-Key closes once the server dedupes. Conversely, if
        /// another client of the same user id stores the same text in that
        /// window, this send is reported as sent (Recovered) though only the
        /// other's was stored. Cancelling the token leaves the outcome unknown.</para>
        /// </remarks>
        public async Task<SendResult> SendAsync(string text, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (text == null)
            {
                throw new ArgumentNullException("text");
            }
            string key = Guid.NewGuid().ToString("D");
            string body = new ChatJson.ObjectWriter()
                .Add("room_id", options.RoomId)
                .Add("text", text)
                .Add("user_id", string.IsNullOrEmpty(options.UserId) ? null : options.UserId)
                .Add("name", options.Name ?? "")
                .ToString();
            string checkpoint;
            long seenMark;
            lock (gate)
            {
                checkpoint = latestKnownId;
                seenMark = seen.Next;
            }
            if (checkpoint == null)
            {
                // Nothing known of the room: learn its newest id before
                // sending, so that a check after a failure can tell this
                // message from older ones. Nothing is sent yet if it fails.
                checkpoint = await NewestIdAsync(cancellationToken).ConfigureAwait(false);
            }

            for (int puts = 1; ; puts++)
            {
                var req = NewRequest("PUT", options.RestUrl, body);
                req.Headers["Idempotency-Key"] = key;
                HttpTransportResponse resp = null;
                string failure;
                try
                {
                    resp = await http.SendAsync(req, cancellationToken).ConfigureAwait(false);
                    failure = "HTTP " + resp.StatusCode;
                }
                catch (OperationCanceledException)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    failure = "request cancelled";
                }
                catch (Exception e)
                {
                    failure = Describe(e);
                }
                if (resp != null && resp.StatusCode == 200)
                {
                    return SentResult(resp, key, puts);
                }
                if (resp != null && !Retryable(resp.StatusCode))
                {
                    ChatException rejected = ErrorFrom(resp);
                    rejected.Attempts = puts;
                    throw rejected;
                }
                if (resp != null)
                {
                    ChatException fault = ErrorFrom(resp);
                    failure += " " + fault.Code + ": " + fault.Message;
                }

                // The attempt may have been stored: wait, then look.
                TimeSpan wait = retryBackoff.Delay(puts);
                if (resp != null && resp.RetryAfter.HasValue && resp.RetryAfter.Value > wait)
                {
                    wait = resp.RetryAfter.Value < options.ReconnectMaxDelay ? resp.RetryAfter.Value : options.ReconnectMaxDelay;
                }
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                ChatMessage found;
                try
                {
                    found = await FindSentAsync(checkpoint, seenMark, text, cancellationToken).ConfigureAwait(false);
                }
                catch (ChatException e)
                {
                    throw new ChatException(ChatError.OutcomeUnknown,
                        "send failed (" + failure + ") and the history could not be checked (" + e.Message + "): the message may or may not be stored",
                        e.StatusCode, e) { Attempts = puts };
                }
                if (found != null)
                {
                    return new SendResult
                    {
                        Message = found,
                        Users = new List<ChatMember>(),
                        Delivered = -1,
                        Attempts = puts,
                        Recovered = true,
                        IdempotencyKey = key,
                    };
                }
                if (puts >= options.SendMaxAttempts)
                {
                    throw new ChatException(ChatError.Unavailable,
                        "not sent after " + puts + " attempts (last: " + failure + "); the history shows it was not stored")
                    { Attempts = puts };
                }
            }
        }

        private static bool Retryable(int status)
        {
            return status == 408 || status == 429 || status >= 500;
        }

        private SendResult SentResult(HttpTransportResponse resp, string key, int puts)
        {
            Dictionary<string, object> o;
            try
            {
                o = ChatJson.ParseObject(resp.Body);
            }
            catch (FormatException)
            {
                o = new Dictionary<string, object>();
            }
            var msgObj = ChatJson.GetObject(o, "message");
            ChatMessage m = msgObj != null ? ChatMessage.FromJson(msgObj) : null;
            if (m != null)
            {
                lock (gate)
                {
                    claimed.Add(m.Id);
                    latestKnownId = MessageIds.Max(latestKnownId, m.Id);
                }
            }
            return new SendResult
            {
                Message = m,
                Users = ChatMember.ListFromJson(ChatJson.GetArray(o, "users")),
                Delivered = (int)ChatJson.GetLong(o, "delivered", -1),
                Attempts = puts,
                Recovered = false,
                IdempotencyKey = key,
            };
        }

        // FindSentAsync looks for a stored copy of this send: a message of
        // this user with this text, after the checkpoint (with overlap), not
        // seen before the send began, not returned by an earlier send. A
        // match is claimed, so that two failed sends of one text do not
        // both take it. Throws ChatException when the history cannot be read.
        private async Task<ChatMessage> FindSentAsync(string checkpoint, long seenMark, string text, CancellationToken cancellationToken)
        {
            string after = MessageIds.Rewind(checkpoint, options.CatchUpOverlap, null);
            string me = UserId;
            for (int i = 0; i < options.CatchUpMaxPages; i++)
            {
                HistoryPage p = await GetPageAsync(options.CatchUpPageSize, null, after, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
                lock (gate)
                {
                    foreach (ChatMessage m in p.Messages)
                    {
                        if (m.UserId == me && m.Text == text &&
                            !seen.AddedBefore(m.Id, seenMark) && !claimed.Contains(m.Id))
                        {
                            claimed.Add(m.Id);
                            latestKnownId = MessageIds.Max(latestKnownId, m.Id);
                            return m;
                        }
                    }
                }
                if (!p.HasMore || p.Messages.Count == 0)
                {
                    return null;
                }
                after = p.Messages[p.Messages.Count - 1].Id;
            }
            throw new ChatException(ChatError.Unavailable, "too much history since the send to check it");
        }

        private async Task<string> NewestIdAsync(CancellationToken cancellationToken)
        {
            HistoryPage p = await GetPageAsync(1, null, null, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
            string newest = p.Messages.Count > 0 ? p.Messages[p.Messages.Count - 1].Id : MessageIds.Zero;
            lock (gate)
            {
                latestKnownId = MessageIds.Max(latestKnownId, newest);
            }
            return newest;
        }

        // ---- reading --------------------------------------------------------

        /// <summary>
        /// Reads a page of history, oldest first: the latest limit messages
        /// (limit 0: the server's default, 100), or with cursor the page
        /// before it (a page's NextCursor), or with after the messages after
        /// that id (HasMore: ask again after the last one). Failed requests
        /// are retried (a GET is safe to repeat). It raises no events.
        /// </summary>
        public Task<HistoryPage> GetHistoryAsync(int limit = 0, string cursor = null, string after = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return GetPageAsync(limit, cursor, after, options.SendMaxAttempts, cancellationToken);
        }

        /// <summary>The room's open connections (one per connection, so a user may be listed twice).</summary>
        public async Task<IList<ChatMember>> GetMembersAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            string url = options.RestUrl.TrimEnd('/') + "/users?room_id=" + Uri.EscapeDataString(options.RoomId);
            Dictionary<string, object> o = await GetJsonAsync(url, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
            return ChatMember.ListFromJson(ChatJson.GetArray(o, "users"));
        }

        private async Task<HistoryPage> GetPageAsync(int limit, string cursor, string after, int attempts, CancellationToken cancellationToken)
        {
            string url = options.RestUrl + "?room_id=" + Uri.EscapeDataString(options.RoomId);
            if (limit > 0)
            {
                url += "&limit=" + limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (!string.IsNullOrEmpty(cursor))
            {
                url += "&cursor=" + Uri.EscapeDataString(cursor);
            }
            if (!string.IsNullOrEmpty(after))
            {
                url += "&after=" + Uri.EscapeDataString(after);
            }
            Dictionary<string, object> o = await GetJsonAsync(url, attempts, cancellationToken).ConfigureAwait(false);
            List<object> raw = ChatJson.GetArray(o, "messages");
            if (raw == null)
            {
                throw new ChatException(ChatError.BadResponse, "history without a messages array");
            }
            var messages = new List<ChatMessage>(raw.Count);
            foreach (object v in raw)
            {
                var mo = v as Dictionary<string, object>;
                ChatMessage m = mo != null ? ChatMessage.FromJson(mo) : null;
                if (m == null)
                {
                    throw new ChatException(ChatError.BadResponse, "history entry is not a message");
                }
                messages.Add(m);
            }
            string next = ChatJson.GetString(o, "next_cursor");
            var page = new HistoryPage(messages, string.IsNullOrEmpty(next) ? null : next, ChatJson.GetBool(o, "has_more"));
            if (messages.Count > 0)
            {
                lock (gate)
                {
                    latestKnownId = MessageIds.Max(latestKnownId, messages[messages.Count - 1].Id);
                }
            }
            return page;
        }

        // GetJsonAsync GETs url and returns its JSON object, retrying failed
        // requests (no answer, 408, 429, 5xx) with backoff up to attempts
        // times; a 4xx is thrown at once.
        private async Task<Dictionary<string, object>> GetJsonAsync(string url, int attempts, CancellationToken cancellationToken)
        {
            string failure = "";
            for (int i = 1; i <= attempts; i++)
            {
                if (i > 1)
                {
                    await Task.Delay(retryBackoff.Delay(i - 1), cancellationToken).ConfigureAwait(false);
                }
                HttpTransportResponse resp;
                try
                {
                    resp = await http.SendAsync(NewRequest("GET", url), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    failure = "request cancelled";
                    continue;
                }
                catch (Exception e)
                {
                    failure = Describe(e);
                    continue;
                }
                if (resp.StatusCode == 200)
                {
                    try
                    {
                        return ChatJson.ParseObject(resp.Body);
                    }
                    catch (FormatException e)
                    {
                        throw new ChatException(ChatError.BadResponse, "GET " + url + ": " + e.Message, 200, e);
                    }
                }
                ChatException err = ErrorFrom(resp);
                if (!Retryable(resp.StatusCode))
                {
                    throw err;
                }
                failure = "HTTP " + resp.StatusCode + " " + err.Code + ": " + err.Message;
            }
            throw new ChatException(ChatError.Unavailable, "GET " + url + " failed " + attempts + " times; last: " + failure);
        }

        private static ChatException ErrorFrom(HttpTransportResponse resp)
        {
            ChatError e = null;
            try
            {
                e = ChatError.FromJson(ChatJson.ParseObject(resp.Body));
            }
            catch (FormatException)
            {
                // Not the server's JSON (a proxy's page): go by the status.
            }
            if (e == null || e.Code.Length == 0)
            {
                string code = resp.StatusCode >= 500 ? ChatError.Internal
                    : resp.StatusCode == 401 ? ChatError.Unauthorized
                    : resp.StatusCode == 403 ? ChatError.Forbidden
                    : "http_" + resp.StatusCode;
                e = new ChatError(code, "HTTP " + resp.StatusCode + ": " + Truncate(resp.Body));
            }
            return new ChatException(e.Code, e.Message, resp.StatusCode);
        }

        // ---- events ---------------------------------------------------------

        // SetState changes the state and queues StateChanged. Under gate.
        private void SetState(ChatConnectionState s)
        {
            if (state == s)
            {
                return;
            }
            state = s;
            Post(() => Raise(StateChanged, s));
        }

        private void Post(Action a)
        {
            pump.Post(a);
        }

        private static void Raise<T>(Action<T> handler, T arg)
        {
            if (handler != null)
            {
                handler(arg);
            }
        }

        private void ReportHandlerFailure(Exception e)
        {
            var handler = Error;
            if (handler == null)
            {
                return;
            }
            try
            {
                handler(new ChatError(ChatError.HandlerFailed, e.ToString()));
            }
            catch (Exception)
            {
                // The Error handler itself failed: nothing left to tell.
            }
        }

        private static string Describe(Exception e)
        {
            var ce = e as ChatException;
            if (ce != null)
            {
                return ce.Code + ": " + ce.Message;
            }
            string s = e.GetType().Name + ": " + e.Message;
            if (e.InnerException != null)
            {
                s += " (" + e.InnerException.GetType().Name + ": " + e.InnerException.Message + ")";
            }
            return s;
        }

        private static string Truncate(string s)
        {
            return s.Length > 200 ? s.Substring(0, 200) + "..." : s;
        }
    }

    /// <summary>Runs actions one at a time, in the order posted, on the thread pool.</summary>
    internal sealed class EventPump
    {
        private readonly object gate = new object();
        private readonly Action<Exception> onError;
        private Task tail = Task.FromResult(true);

        public EventPump(Action<Exception> onError)
        {
            this.onError = onError;
        }

        public void Post(Action a)
        {
            lock (gate)
            {
                tail = tail.ContinueWith(_ => Run(a), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }

        private void Run(Action a)
        {
            try
            {
                a();
            }
            catch (Exception e)
            {
                onError(e);
            }
        }
    }
}
