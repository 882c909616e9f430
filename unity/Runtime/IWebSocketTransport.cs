using System;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary>
    /// One WebSocket connection, as <see cref="ChatClient"/> uses it. An
    /// instance is used for one connection only: the client asks its
    /// factory (<see cref="ChatClientOptions.WebSocketFactory"/>) for a new
    /// one on every (re)connect, then disposes of it.
    /// </summary>
    /// <remarks>
    /// <see cref="ClientWebSocketTransport"/> implements it on
    /// System.Net.WebSockets.ClientWebSocket (editor, desktop, mobile). A
    /// WebGL build, where sockets are the browser's, implements it over the
    /// browser's WebSocket through a .jslib: ConnectAsync completes on
    /// onopen (or fails on onerror/onclose before open), each onmessage text
    /// raises <see cref="MessageReceived"/>, onclose raises
    /// <see cref="Closed"/>. The package README shows how.
    /// </remarks>
    public interface IWebSocketTransport : IDisposable
    {
        /// <summary>
        /// Raised for each text frame, in order, one at a time. Binary
        /// frames are not part of the protocol and may be dropped.
        /// </summary>
        event Action<string> MessageReceived;

        /// <summary>
        /// Raised exactly once when a connection that ConnectAsync opened
        /// ends, for any reason (server close, network error, CloseAsync),
        /// after the last <see cref="MessageReceived"/>. Not raised when
        /// ConnectAsync fails.
        /// </summary>
        event Action<WebSocketCloseInfo> Closed;

        /// <summary>Opens the connection (the HTTP upgrade); throws if it is refused or cannot be made.</summary>
        Task ConnectAsync(Uri uri, CancellationToken cancellationToken);

        /// <summary>
        /// Sends one text message. API Gateway closes the connection with
        /// 1009 on a frame over 32 KB: a transport that is an
        /// <see cref="IFragmentingWebSocketTransport"/> gets messages of any
        /// length and sends them in frames within that; any other gets
        /// none over <see cref="ClientWebSocketTransport.MaxFrameBytes"/>
        /// bytes of UTF-8 (<see cref="ChatClient"/> sends a longer message
        /// over REST), and may send each as one frame, as a browser's
        /// WebSocket does. Concurrent calls must be safe (queue them).
        /// </summary>
        Task SendAsync(string text, CancellationToken cancellationToken);

        /// <summary>Starts the closing handshake with code; Closed follows.</summary>
        Task CloseAsync(int code, string reason, CancellationToken cancellationToken);
    }

    /// <summary>
    /// An <see cref="IWebSocketTransport"/> whose SendAsync takes a message
    /// of any length and sends it in frames of at most 32 KB (RFC 6455
    /// fragments), as <see cref="ClientWebSocketTransport"/> does. A
    /// transport that cannot (a WebGL one: a browser's WebSocket sends each
    /// message as one frame) does not implement it, and
    /// <see cref="ChatClient"/> gives it no message over
    /// <see cref="ClientWebSocketTransport.MaxFrameBytes"/>.
    /// </summary>
    public interface IFragmentingWebSocketTransport : IWebSocketTransport
    {
    }

    /// <summary>How a WebSocket connection ended.</summary>
    public sealed class WebSocketCloseInfo
    {
        /// <summary>No close frame: the connection broke.</summary>
        public const int Abnormal = 1006;

        /// <summary>Creates the info.</summary>
        public WebSocketCloseInfo(int code, string reason, Exception error = null)
        {
            Code = code;
            Reason = reason ?? "";
            Error = error;
        }

        /// <summary>The close code (1000 normal, 1001 going away, 1006 abnormal, ...).</summary>
        public int Code { get; private set; }
        /// <summary>The close reason, possibly empty.</summary>
        public string Reason { get; private set; }
        /// <summary>The error that broke the connection, if any.</summary>
        public Exception Error { get; private set; }

        /// <summary>"1001 going away".</summary>
        public override string ToString()
        {
            string s = Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (Reason.Length > 0)
            {
                s += " " + Reason;
            }
            if (Error != null)
            {
                s += " (" + Error.GetType().Name + ": " + Error.Message + ")";
            }
            return s;
        }
    }
}
