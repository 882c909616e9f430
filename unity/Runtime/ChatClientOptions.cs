using System;

namespace ChatApp.Client
{
    /// <summary>
    /// Where and who a <see cref="ChatClient"/> is, and how it retries. The
    /// defaults of CatchUpOverlap, CatchUpPageSize, ReconnectMinDelay,
    /// ReconnectMaxDelay, StableConnection, SendConfirmTimeout and
    /// SendMaxAttempts are the constants of docs/protocol.md's "Client
    /// algorithm", which the Go client and the web page share.
    /// </summary>
    public sealed class ChatClientOptions
    {
        /// <summary>Options with the defaults below; set the URLs, room and user.</summary>
        public ChatClientOptions()
        {
            Name = "";
            PresenceEvents = true;
            HistoryPageSize = 50;
            ConnectTimeout = TimeSpan.FromSeconds(10);
            ReconnectMinDelay = TimeSpan.FromMilliseconds(500);
            ReconnectMaxDelay = TimeSpan.FromSeconds(10);
            StableConnection = TimeSpan.FromSeconds(5);
            SendMaxAttempts = 4;
            SendConfirmTimeout = TimeSpan.FromSeconds(10);
            RetryMinDelay = TimeSpan.FromMilliseconds(250);
            RetryMaxDelay = TimeSpan.FromSeconds(5);
            CatchUpOverlap = TimeSpan.FromSeconds(5);
            CatchUpPageSize = 1000;
            CatchUpMaxPages = 100;
            KeepAliveInterval = TimeSpan.FromMinutes(4);
            KeepAliveTimeout = TimeSpan.FromSeconds(30);
        }

        /// <summary>
        /// Options for a chatapp server at baseUrl, as <c>chatapp serve</c>
        /// prints it (http://127.0.0.1:8080): REST at baseUrl/chat,
        /// WebSocket at ws://.../ws (wss:// for https://).
        /// </summary>
        public static ChatClientOptions ForServer(string baseUrl, string roomId, string userId, string name = "")
        {
            if (string.IsNullOrEmpty(baseUrl))
            {
                throw new ArgumentException("baseUrl is required", "baseUrl");
            }
            string b = baseUrl.TrimEnd('/');
            string ws;
            if (b.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                ws = "wss://" + b.Substring("https://".Length);
            }
            else if (b.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                ws = "ws://" + b.Substring("http://".Length);
            }
            else
            {
                throw new ArgumentException("baseUrl must start with http:// or https://", "baseUrl");
            }
            return new ChatClientOptions
            {
                RestUrl = b + "/chat",
                WebSocketUrl = ws + "/ws",
                RoomId = roomId,
                UserId = userId,
                Name = name ?? "",
            };
        }

        /// <summary>
        /// The REST chat resource: http://HOST/chat locally, or on AWS the
        /// REST API's https://{id}.execute-api.{region}.amazonaws.com/{stage}/chat.
        /// Members are read from RestUrl/users.
        /// </summary>
        public string RestUrl { get; set; }

        /// <summary>
        /// The WebSocket API: ws://HOST/ws locally, or on AWS
        /// wss://{id}.execute-api.{region}.amazonaws.com/{stage}. The client
        /// adds room_id, user_id, name and events to the query.
        /// </summary>
        public string WebSocketUrl { get; set; }

        /// <summary>The room: 1–128 letters, digits and -_.:@+.</summary>
        public string RoomId { get; set; }

        /// <summary>
        /// The user id: same rules as the room. May be empty with a
        /// <see cref="Token"/>: the server takes the user from the token,
        /// and refuses (forbidden) a user id that is not the token's.
        /// </summary>
        public string UserId { get; set; }

        /// <summary>
        /// A bearer token (a JWT) for a server with auth on (docs/auth.md):
        /// sent as Authorization: Bearer on every REST request and as the
        /// token query parameter of the WebSocket (where a browser, and so a
        /// WebGL build, cannot set headers). The server takes the user id
        /// and the display name from it. Null or empty: no token (a server
        /// with auth off). It is read for each request and each (re)connect,
        /// so a renewed token may be set on <see cref="ChatClient.Options"/>
        /// while the client runs.
        /// </summary>
        public string Token { get; set; }

        /// <summary>The display name: at most 64 printable characters; may be empty.</summary>
        public string Name { get; set; }

        /// <summary>Ask for join and leave events (events=presence). Default true.</summary>
        public bool PresenceEvents { get; set; }

        /// <summary>How many of the latest messages ConnectAsync returns. Default 50.</summary>
        public int HistoryPageSize { get; set; }

        /// <summary>How long one WebSocket handshake may take. Default 10 s.</summary>
        public TimeSpan ConnectTimeout { get; set; }

        /// <summary>
        /// The backoff's base (the protocol's 0.5 s): reconnect attempt n
        /// (from 1), and the retry of a failed PUT after n attempts, waits
        /// a random time in [0, min(ReconnectMaxDelay, ReconnectMinDelay * 2^n)]
        /// (full jitter). Default 0.5 s.
        /// </summary>
        public TimeSpan ReconnectMinDelay { get; set; }

        /// <summary>The backoff's cap (the protocol's 10 s): the longest wait before a reconnect attempt or a PUT's retry. Default 10 s.</summary>
        public TimeSpan ReconnectMaxDelay { get; set; }

        /// <summary>
        /// How long a connection must stay up for the next reconnect to
        /// start the backoff again from attempt 1. One that ends sooner
        /// counts as a failed attempt: a server that closes every socket
        /// right after the handshake is met with a growing backoff, not a
        /// connection (and a catch-up) every ReconnectMinDelay. Default 5 s.
        /// </summary>
        public TimeSpan StableConnection { get; set; }

        /// <summary>
        /// Give up after this many reconnect attempts in a row; 0 (the
        /// default) never gives up. A connection that lasted less than
        /// <see cref="StableConnection"/> counts as a failed attempt: the
        /// count (and the backoff) starts again only after one that stayed up.
        /// </summary>
        public int MaxReconnectAttempts { get; set; }

        /// <summary>
        /// The most PUT requests one send makes (all with its one
        /// Idempotency-Key), and the most tries of one idempotent GET. Default 4.
        /// </summary>
        public int SendMaxAttempts { get; set; }

        /// <summary>
        /// How long a send on the WebSocket waits for its push (the user's
        /// own message with its text) before it is sent again by PUT, with
        /// the same idempotency key. Default 10 s.
        /// </summary>
        public TimeSpan SendConfirmTimeout { get; set; }

        /// <summary>The delay before the first retry of a GET, before jitter (PUTs use the reconnect backoff). Default 0.25 s.</summary>
        public TimeSpan RetryMinDelay { get; set; }

        /// <summary>The longest delay between retries of a GET. Default 5 s.</summary>
        public TimeSpan RetryMaxDelay { get; set; }

        /// <summary>
        /// How far before the last message id delivered a catch-up starts
        /// reading (but never before the first page's newest id), so that a
        /// message committed after a newer one was delivered (on AWS, two
        /// Lambda instances' sends commit out of id order) is not skipped.
        /// Messages read twice are dropped by id. Zero reads exactly after=
        /// the last id. Default 5 s.
        /// </summary>
        public TimeSpan CatchUpOverlap { get; set; }

        /// <summary>The limit of each after= page of a catch-up. Default 1000 (the server's most).</summary>
        public int CatchUpPageSize { get; set; }

        /// <summary>
        /// The most pages one catch-up reads; past that the Error event says
        /// catch_up_truncated and older missed messages are only in history. Default 100.
        /// </summary>
        public int CatchUpMaxPages { get; set; }

        /// <summary>
        /// How often the client sends the keepalive message
        /// ({"action":"ping"}, answered {"type":"pong"}) on its WebSocket.
        /// It keeps the connection from the server's idle timeout (API
        /// Gateway's is 10 minutes; WebSocket pings are not documented to
        /// count, and a WebGL build cannot send them). Default 4 minutes,
        /// at least 1 s (a shorter one is raised to it: each keepalive is a
        /// billed message); behind a proxy that drops connections idle for
        /// 60 s, use less.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; }

        /// <summary>
        /// How long after a keepalive message the client waits for a frame,
        /// any frame: the pong, an error frame (on AWS a throttled ping gets
        /// one), a message. With none by then the connection is dead: the
        /// client closes it and reconnects. It does not shrink with a short
        /// <see cref="KeepAliveInterval"/>, which would make connections
        /// whose round-trip is longer die over and over. Default 30 s, at
        /// least 1 s (a shorter one is raised to it).
        /// </summary>
        public TimeSpan KeepAliveTimeout { get; set; }

        /// <summary>HTTP; default: a new <see cref="HttpClientTransport"/> (disposed with the client).</summary>
        public IHttpTransport Http { get; set; }

        /// <summary>Makes a WebSocket per connection; default: a new <see cref="ClientWebSocketTransport"/>.</summary>
        public Func<IWebSocketTransport> WebSocketFactory { get; set; }

        internal void Validate()
        {
            if (string.IsNullOrEmpty(RestUrl))
            {
                throw new ArgumentException("RestUrl is required");
            }
            if (string.IsNullOrEmpty(WebSocketUrl))
            {
                throw new ArgumentException("WebSocketUrl is required");
            }
            if (string.IsNullOrEmpty(RoomId))
            {
                throw new ArgumentException("RoomId is required");
            }
            if (string.IsNullOrEmpty(UserId) && string.IsNullOrEmpty(Token))
            {
                throw new ArgumentException("UserId is required (or a Token, whose user the server takes)");
            }
            if (HistoryPageSize < 1 || CatchUpPageSize < 1 || CatchUpMaxPages < 1 || SendMaxAttempts < 1)
            {
                throw new ArgumentException("page sizes, page counts and attempts must be at least 1");
            }
            if (KeepAliveInterval <= TimeSpan.Zero || KeepAliveTimeout <= TimeSpan.Zero || SendConfirmTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentException("KeepAliveInterval, KeepAliveTimeout and SendConfirmTimeout must be positive");
            }
            if (MaxReconnectAttempts < 0)
            {
                throw new ArgumentException("MaxReconnectAttempts must be 0 (never give up) or more");
            }
        }
    }
}
