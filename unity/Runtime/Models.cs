using System;
using System.Collections.Generic;

namespace ChatApp.Client
{
    /// <summary>
    /// A chat message: a history entry and a push frame. On the wire:
    /// {"id","room_id","timestamp","message","user_id","name"}.
    /// </summary>
    public sealed class ChatMessage
    {
        /// <summary>"id": a ULID, unique, sorting in time order.</summary>
        public string Id { get; set; }
        /// <summary>"room_id".</summary>
        public string RoomId { get; set; }
        /// <summary>"timestamp": epoch milliseconds, set by the server.</summary>
        public long Timestamp { get; set; }
        /// <summary>"message": the text.</summary>
        public string Text { get; set; }
        /// <summary>"user_id".</summary>
        public string UserId { get; set; }
        /// <summary>"name": the display name, possibly empty.</summary>
        public string Name { get; set; }

        /// <summary>The server's timestamp as a time.</summary>
        public DateTimeOffset Time
        {
            get { return DateTimeOffset.FromUnixTimeMilliseconds(Timestamp); }
        }

        /// <summary>Maps a decoded JSON object; null unless it has an id and a message.</summary>
        public static ChatMessage FromJson(IDictionary<string, object> o)
        {
            string id = ChatJson.GetString(o, "id");
            string text = ChatJson.GetString(o, "message");
            if (string.IsNullOrEmpty(id) || text == null)
            {
                return null;
            }
            return new ChatMessage
            {
                Id = id,
                RoomId = ChatJson.GetString(o, "room_id"),
                Timestamp = ChatJson.GetLong(o, "timestamp"),
                Text = text,
                UserId = ChatJson.GetString(o, "user_id"),
                Name = ChatJson.GetString(o, "name") ?? "",
            };
        }

        /// <summary>The wire form, snake_case as the server writes it.</summary>
        public string ToJson()
        {
            return new ChatJson.ObjectWriter()
                .Add("id", Id)
                .Add("room_id", RoomId)
                .Add("timestamp", Timestamp)
                .Add("message", Text)
                .Add("user_id", UserId)
                .Add("name", Name ?? "")
                .ToString();
        }

        /// <summary>For logs.</summary>
        public override string ToString()
        {
            return Id + " " + UserId + ": " + Text;
        }
    }

    /// <summary>
    /// One open connection of a room (an entry of "users"):
    /// {"connection_id","room_id","user_id","name","timestamp"}.
    /// </summary>
    public sealed class ChatMember
    {
        /// <summary>"connection_id".</summary>
        public string ConnectionId { get; set; }
        /// <summary>"room_id".</summary>
        public string RoomId { get; set; }
        /// <summary>"user_id".</summary>
        public string UserId { get; set; }
        /// <summary>"name".</summary>
        public string Name { get; set; }
        /// <summary>"timestamp": when it connected, epoch milliseconds.</summary>
        public long Timestamp { get; set; }

        /// <summary>Maps a decoded JSON object.</summary>
        public static ChatMember FromJson(IDictionary<string, object> o)
        {
            return new ChatMember
            {
                ConnectionId = ChatJson.GetString(o, "connection_id"),
                RoomId = ChatJson.GetString(o, "room_id"),
                UserId = ChatJson.GetString(o, "user_id"),
                Name = ChatJson.GetString(o, "name") ?? "",
                Timestamp = ChatJson.GetLong(o, "timestamp"),
            };
        }

        internal static List<ChatMember> ListFromJson(List<object> a)
        {
            var list = new List<ChatMember>();
            if (a == null)
            {
                return list;
            }
            foreach (object v in a)
            {
                var o = v as Dictionary<string, object>;
                if (o != null)
                {
                    list.Add(FromJson(o));
                }
            }
            return list;
        }
    }

    /// <summary>
    /// A join or leave in the room, for a client connected with presence
    /// events: {"type":"join"|"leave","room_id","connection_id","user_id","name","timestamp"}.
    /// </summary>
    public sealed class PresenceEvent
    {
        /// <summary>"type": "join" or "leave".</summary>
        public string Type { get; set; }
        /// <summary>"room_id".</summary>
        public string RoomId { get; set; }
        /// <summary>"connection_id".</summary>
        public string ConnectionId { get; set; }
        /// <summary>"user_id".</summary>
        public string UserId { get; set; }
        /// <summary>"name".</summary>
        public string Name { get; set; }
        /// <summary>"timestamp", epoch milliseconds.</summary>
        public long Timestamp { get; set; }

        /// <summary>Maps a decoded JSON object.</summary>
        public static PresenceEvent FromJson(IDictionary<string, object> o)
        {
            return new PresenceEvent
            {
                Type = ChatJson.GetString(o, "type"),
                RoomId = ChatJson.GetString(o, "room_id"),
                ConnectionId = ChatJson.GetString(o, "connection_id"),
                UserId = ChatJson.GetString(o, "user_id"),
                Name = ChatJson.GetString(o, "name") ?? "",
                Timestamp = ChatJson.GetLong(o, "timestamp"),
            };
        }
    }

    /// <summary>An error: {"error":{"code","message"}} from the server, or one of the client's own codes.</summary>
    public sealed class ChatError
    {
        /// <summary>Missing or malformed input (HTTP 400).</summary>
        public const string Invalid = "invalid";
        /// <summary>Unknown resource or connection (404).</summary>
        public const string NotFound = "not_found";
        /// <summary>Text over 16 KiB, or a body over 128 KiB (413).</summary>
        public const string TooLarge = "too_large";
        /// <summary>A server fault (500, 502).</summary>
        public const string Internal = "internal";
        /// <summary>No token, or an expired, forged or malformed one (401); also a refused WebSocket handshake. Not retried.</summary>
        public const string Unauthorized = "unauthorized";
        /// <summary>The token does not allow this room, or names another user than UserId (403). Not retried.</summary>
        public const string Forbidden = "forbidden";
        /// <summary>An idempotency key its user already used in the room for another text (409).</summary>
        public const string Conflict = "conflict";
        /// <summary>Too many sends by the user, frames on the connection, or connections of the user (429); retried.</summary>
        public const string RateLimited = "rate_limited";
        /// <summary>
        /// Client: the server could not be reached, or kept failing (also
        /// 503, 504). A send that failed so after every attempt may have
        /// been stored, once (its attempts share an idempotency key), or not.
        /// </summary>
        public const string Unavailable = "unavailable";
        /// <summary>Client: sending on the WebSocket while it is not connected.</summary>
        public const string NotConnected = "not_connected";
        /// <summary>Client: a frame or body that is not the protocol's JSON.</summary>
        public const string BadResponse = "bad_response";
        /// <summary>Client: catching up after a reconnect stopped before the end (more than the page limit).</summary>
        public const string CatchUpTruncated = "catch_up_truncated";
        /// <summary>Client: an event handler threw; Message has the exception.</summary>
        public const string HandlerFailed = "handler_failed";

        /// <summary>Creates an error.</summary>
        public ChatError(string code, string message)
        {
            Code = code;
            Message = message;
        }

        /// <summary>"code".</summary>
        public string Code { get; private set; }
        /// <summary>"message".</summary>
        public string Message { get; private set; }

        /// <summary>Reads {"error":{...}}; null if o is not an error.</summary>
        public static ChatError FromJson(IDictionary<string, object> o)
        {
            var e = ChatJson.GetObject(o, "error");
            if (e == null)
            {
                return null;
            }
            return new ChatError(ChatJson.GetString(e, "code") ?? "", ChatJson.GetString(e, "message") ?? "");
        }

        /// <summary>"code: message".</summary>
        public override string ToString()
        {
            return Code + ": " + Message;
        }
    }

    /// <summary>A failed request: the server's error, or the client's (see <see cref="ChatError"/> codes).</summary>
    public sealed class ChatException : Exception
    {
        /// <summary>Creates the exception.</summary>
        public ChatException(string code, string message, int statusCode = 0, Exception inner = null)
            : base(message, inner)
        {
            Code = code;
            StatusCode = statusCode;
        }

        /// <summary>The error code, e.g. "invalid".</summary>
        public string Code { get; private set; }
        /// <summary>The HTTP status of the response, or 0 when there was none.</summary>
        public int StatusCode { get; private set; }
        /// <summary>REST sends that were made, for <see cref="ChatClient.SendAsync"/>.</summary>
        public int Attempts { get; internal set; }

        // Refusal: the server refused the WebSocket handshake for good (a
        // 4xx but 408 and 429): the client does not reconnect.
        internal bool Refusal { get; set; }

        /// <summary>The error as a <see cref="ChatError"/>.</summary>
        public ChatError Error
        {
            get { return new ChatError(Code, Message); }
        }
    }

    /// <summary>A page of history, oldest first.</summary>
    public sealed class HistoryPage
    {
        internal HistoryPage(List<ChatMessage> messages, string nextCursor, bool hasMore)
        {
            Messages = messages;
            NextCursor = nextCursor;
            HasMore = hasMore;
        }

        /// <summary>"messages", oldest first.</summary>
        public IList<ChatMessage> Messages { get; private set; }
        /// <summary>"next_cursor": pass as cursor for the page before; null when there is none.</summary>
        public string NextCursor { get; private set; }
        /// <summary>"has_more": an after= page stopped at its limit; ask again after its last id.</summary>
        public bool HasMore { get; private set; }
    }

    /// <summary>What a REST send did.</summary>
    public sealed class SendResult
    {
        /// <summary>The stored message, with its id.</summary>
        public ChatMessage Message { get; internal set; }
        /// <summary>The room's connections when it was sent.</summary>
        public IList<ChatMember> Users { get; internal set; }
        /// <summary>
        /// How many connections the push was handed to; 0 when the answer
        /// was a replay (an earlier attempt with the same key had stored
        /// and pushed it); -1 when the answer did not say.
        /// </summary>
        public int Delivered { get; internal set; }
        /// <summary>PUT requests made: 1 unless an attempt failed.</summary>
        public int Attempts { get; internal set; }
        /// <summary>The Idempotency-Key header sent with every attempt of this send.</summary>
        public string IdempotencyKey { get; internal set; }
    }

    /// <summary>The state of a <see cref="ChatClient"/>'s WebSocket.</summary>
    public enum ChatConnectionState
    {
        /// <summary>Not connected yet.</summary>
        Disconnected,
        /// <summary>ConnectAsync is running.</summary>
        Connecting,
        /// <summary>Connected and caught up.</summary>
        Connected,
        /// <summary>The connection was lost; waiting to connect again, or connecting and catching up.</summary>
        Reconnecting,
        /// <summary>Closed by <see cref="ChatClient.CloseAsync"/>, or reconnecting gave up; final.</summary>
        Closed,
    }

    /// <summary>The <see cref="ChatClient.Connected"/> event.</summary>
    public sealed class ConnectedInfo
    {
        /// <summary>False for the first connection, true after a reconnect.</summary>
        public bool Reconnected { get; internal set; }
        /// <summary>Messages delivered by the catch-up of this reconnect (0 on the first connect).</summary>
        public int CaughtUp { get; internal set; }
        /// <summary>Which reconnect attempt succeeded, counted from the last connection that stayed up <see cref="ChatClientOptions.StableConnection"/> (0 on the first connect).</summary>
        public int Attempt { get; internal set; }
    }

    /// <summary>The <see cref="ChatClient.Reconnecting"/> event.</summary>
    public sealed class ReconnectingInfo
    {
        /// <summary>
        /// 1 for the first attempt after a connection that stayed up
        /// <see cref="ChatClientOptions.StableConnection"/> was lost; after
        /// one that lasted less, the count goes on from that connection's
        /// attempt, and so does the backoff.
        /// </summary>
        public int Attempt { get; internal set; }
        /// <summary>How long the client waits before this attempt.</summary>
        public TimeSpan Delay { get; internal set; }
        /// <summary>Why: the close code and reason, or the previous attempt's error.</summary>
        public string Reason { get; internal set; }
    }

    /// <summary>The <see cref="ChatClient.Disconnected"/> event: the client is closed for good.</summary>
    public sealed class DisconnectedInfo
    {
        /// <summary>True when <see cref="ChatClient.CloseAsync"/> or Dispose closed it.</summary>
        public bool ByClient { get; internal set; }
        /// <summary>Why.</summary>
        public string Reason { get; internal set; }
        /// <summary>
        /// When the server refused a reconnect (a 4xx other than 408 and
        /// 429; code unauthorized: the token expired; forbidden; invalid):
        /// the error; null otherwise. Reconnect with a
        /// new <see cref="ChatClient"/> and a new token.
        /// </summary>
        public ChatError Error { get; internal set; }
    }
}
