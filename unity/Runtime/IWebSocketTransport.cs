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
        /// Sends one text message, in frames of at most 32 KB (API Gateway
        /// closes the connection on a larger frame; a browser's WebSocket
        /// cannot fragment, so a WebGL transport cannot send more than that).
        /// Concurrent calls must be safe (queue them).
        /// </summary>
        Task SendAsync(string text, CancellationToken cancellationToken);

        /// <summary>Starts the closing handshake with code; Closed follows.</summary>
        Task CloseAsync(int code, string reason, CancellationToken cancellationToken);
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
