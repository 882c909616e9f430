// ChatClient's public face and lifecycle: what it is made with, its events
// and properties, ConnectAsync, CloseAsync and Dispose. The class is split
// by concern over ChatClient.*.cs: Connection (opening a socket, its loss,
// reconnecting with backoff), KeepAlive, History (pages, the catch-up after
// a reconnect, each message raised once), Sending (PUT with an idempotency
// key, retried), SocketSends (sends on the socket, confirmed by their push
// or sent again by PUT), Rest (requests, retried GETs, errors), Token, and
// Events (frames to events, raised in order by the EventPump). Together they
// follow docs/protocol.md's "Client algorithm" step by step.
using System;
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
    /// earlier, page by page) while holding back the new socket's pushes,
    /// merges what it read with the held pushes, and raises them in id
    /// order, dropping every id it has raised before.</para>
    /// <para><b>Threads.</b> Events are raised one at a time, in order, on a
    /// thread-pool thread, never on the caller's. A Unity script queues
    /// them to the main thread (see the ChatSample). A handler that throws
    /// is reported by the <see cref="Error"/> event (code handler_failed).</para>
    /// <para><b>Sends.</b> Each message gets an idempotency key that every
    /// attempt to store it carries, so that it is stored once: see
    /// <see cref="SendAsync"/> (REST) and <see cref="SendOverWebSocketAsync"/>
    /// (the socket, with REST as its fallback).</para>
    /// </remarks>
    public sealed partial class ChatClient : IDisposable
    {
        private readonly ChatClientOptions options;
        private readonly IHttpTransport http;
        private readonly IDisposable ownedHttp;
        private readonly Func<IWebSocketTransport> socketFactory;
        private readonly Backoff reconnectBackoff;
        private readonly Backoff retryBackoff;
        private readonly EventPump pump;
        private readonly CancellationTokenSource lifetime = new CancellationTokenSource();

        private readonly object gate = new object();
        // Guarded by gate (as the fields so marked in the other parts):
        private ChatConnectionState state = ChatConnectionState.Disconnected;

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
        /// <summary>Closed for good: by CloseAsync/Dispose, after MaxReconnectAttempts, or when the server refused a reconnect (a 4xx but 408 and 429; see DisconnectedInfo.Error).</summary>
        public event Action<DisconnectedInfo> Disconnected;
        /// <summary>An error frame from the server (a bad WebSocket send), a socket send that failed for good, or a problem in the background.</summary>
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

        /// <summary>
        /// Opens the WebSocket, then reads and returns the latest
        /// <see cref="ChatClientOptions.HistoryPageSize"/> messages. Every
        /// message after that page is raised as <see cref="MessageReceived"/>,
        /// the first ones possibly before this returns. Throws
        /// <see cref="ChatException"/> when the server cannot be reached or
        /// refuses the connection; then ConnectAsync may be called again.
        /// A refusal (a 4xx other than 408 and 429: the token, code
        /// unauthorized; the room or user id, forbidden; the room, invalid)
        /// is told apart from an unreachable server (unavailable) by one GET
        /// of the members after the failed handshake (which does not see a
        /// bad user id or name: unavailable). Once connected, a lost
        /// connection is reconnected by itself, except after such a refusal:
        /// then the client closes (<see cref="Disconnected"/> with the error).
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
    }
}
