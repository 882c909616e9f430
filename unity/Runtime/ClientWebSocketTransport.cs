using System;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary>
    /// <see cref="IWebSocketTransport"/> on System.Net.WebSockets.ClientWebSocket:
    /// the Unity editor, desktop and mobile players (not WebGL). A receive
    /// loop on the thread pool raises the events.
    /// </summary>
    public sealed class ClientWebSocketTransport : IFragmentingWebSocketTransport
    {
        private readonly ClientWebSocket socket = new ClientWebSocket();
        private readonly SemaphoreSlim sendLock = new SemaphoreSlim(1, 1);
        private readonly CancellationTokenSource stop = new CancellationTokenSource();
        private readonly TaskCompletionSource<bool> ended = new TaskCompletionSource<bool>();
        private int connected;
        private int disposed;

        /// <summary>Creates a transport with a 30 s keep-alive and a 1 MiB frame limit.</summary>
        public ClientWebSocketTransport()
        {
            KeepAliveInterval = TimeSpan.FromSeconds(30);
            MaxMessageBytes = 1 << 20;
        }

        /// <summary>
        /// How often the socket sends a keep-alive control frame (no answer
        /// expected). It may help middleboxes, but AWS does not document
        /// that control frames keep API Gateway's 10-minute idle timeout
        /// away: <see cref="ChatClient"/> sends its keepalive message
        /// (<see cref="ChatClientOptions.KeepAliveInterval"/>) for that.
        /// Set before ConnectAsync.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; }

        /// <summary>A frame larger than this closes the connection with 1009.</summary>
        public int MaxMessageBytes { get; set; }

        /// <inheritdoc />
        public event Action<string> MessageReceived;

        /// <inheritdoc />
        public event Action<WebSocketCloseInfo> Closed;

        /// <inheritdoc />
        public async Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref connected, 1) != 0)
            {
                throw new InvalidOperationException("a ClientWebSocketTransport connects once");
            }
            socket.Options.KeepAliveInterval = KeepAliveInterval;
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
            StartReceiving();
        }

        // StartReceiving runs the receive loop on the thread pool; it ends
        // by raising Closed.
        private void StartReceiving()
        {
            Task.Run(() => ReceiveLoopAsync());
        }

        private async Task ReceiveLoopAsync()
        {
            var buffer = new byte[16 * 1024];
            var frame = new MemoryStream();
            WebSocketCloseInfo info;
            try
            {
                while (true)
                {
                    WebSocketReceiveResult r = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), stop.Token).ConfigureAwait(false);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        int code = r.CloseStatus.HasValue ? (int)r.CloseStatus.Value : 1005;
                        info = new WebSocketCloseInfo(code, r.CloseStatusDescription);
                        await FinishCloseAsync().ConfigureAwait(false);
                        break;
                    }
                    frame.Write(buffer, 0, r.Count);
                    if (frame.Length > MaxMessageBytes)
                    {
                        info = new WebSocketCloseInfo(1009, "frame over " + MaxMessageBytes + " bytes");
                        await CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "too big").ConfigureAwait(false);
                        break;
                    }
                    if (!r.EndOfMessage)
                    {
                        continue;
                    }
                    if (r.MessageType == WebSocketMessageType.Text)
                    {
                        string text = Encoding.UTF8.GetString(frame.GetBuffer(), 0, (int)frame.Length);
                        var handler = MessageReceived;
                        if (handler != null)
                        {
                            handler(text);
                        }
                    }
                    frame.SetLength(0);
                }
            }
            catch (Exception e)
            {
                info = new WebSocketCloseInfo(WebSocketCloseInfo.Abnormal, "", e);
            }
            socket.Abort();
            ended.TrySetResult(true);
            var closed = Closed;
            if (closed != null)
            {
                closed(info);
            }
        }

        // FinishCloseAsync answers the server's close frame, completing the
        // closing handshake; a failure only means the peer is gone already.
        private async Task FinishCloseAsync()
        {
            if (socket.State == WebSocketState.CloseReceived)
            {
                await CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "").ConfigureAwait(false);
            }
        }

        private async Task CloseOutputAsync(WebSocketCloseStatus status, string reason)
        {
            await sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
                {
                    await socket.CloseOutputAsync(status, reason, cts.Token).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // The connection is ending either way.
            }
            finally
            {
                sendLock.Release();
            }
        }

        /// <summary>
        /// The most one frame that SendAsync writes carries. API Gateway
        /// closes a connection with 1009 on a client frame over 32 KB (a
        /// message may be 128 KB, in several frames); 32,000 bytes is
        /// within 32 KB whether a KB is 1,000 bytes or 1,024. It is also
        /// the longest message <see cref="ChatClient"/> gives a transport
        /// that cannot fragment (not an <see cref="IFragmentingWebSocketTransport"/>).
        /// </summary>
        public const int MaxFrameBytes = 32000;

        /// <inheritdoc />
        /// <remarks>A message over <see cref="MaxFrameBytes"/> goes in
        /// several frames (endOfMessage false on all but the last).</remarks>
        public async Task SendAsync(string text, CancellationToken cancellationToken)
        {
            byte[] data = Encoding.UTF8.GetBytes(text);
            await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                int offset = 0;
                do
                {
                    int n = Math.Min(MaxFrameBytes, data.Length - offset);
                    bool last = offset + n == data.Length;
                    await socket.SendAsync(new ArraySegment<byte>(data, offset, n), WebSocketMessageType.Text, last, cancellationToken).ConfigureAwait(false);
                    offset += n;
                }
                while (offset < data.Length);
            }
            finally
            {
                sendLock.Release();
            }
        }

        /// <inheritdoc />
        public async Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
        {
            if (connected == 0 || ended.Task.IsCompleted)
            {
                return;
            }
            WebSocketState state = socket.State;
            if (state == WebSocketState.Open || state == WebSocketState.CloseReceived)
            {
                await CloseOutputAsync((WebSocketCloseStatus)code, reason ?? "").ConfigureAwait(false);
            }
            // Wait (bounded) for the server's close frame, which ends the
            // receive loop; then stop it.
            var wait = Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            await Task.WhenAny(ended.Task, wait).ConfigureAwait(false);
            if (!ended.Task.IsCompleted)
            {
                stop.Cancel();
                socket.Abort();
                await Task.WhenAny(ended.Task, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
            }
        }

        /// <summary>Aborts the connection if open and frees the socket.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            stop.Cancel();
            socket.Abort();
            socket.Dispose();
        }
    }
}
