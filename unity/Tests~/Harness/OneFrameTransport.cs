// A WebSocket transport that cannot fragment a message, as WebGL's, for
// Run's check that the largest message then goes over REST.
using System;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    // OneFrameTransport is a WebGL transport as ChatClient sees it: a
    // browser's WebSocket sends each message as one frame, and API Gateway
    // closes a connection on a frame over 32 KB, so it cannot send a
    // message over ClientWebSocketTransport.MaxFrameBytes: it refuses one
    // (Refused), and is no IFragmentingWebSocketTransport. It connects,
    // sends and receives through a ClientWebSocketTransport.
    internal sealed class OneFrameTransport : IWebSocketTransport
    {
        private readonly ClientWebSocketTransport inner = new ClientWebSocketTransport();
        public int Sent; // messages sent (the keepalive's too)
        public int Refused; // messages over MaxFrameBytes

        public event Action<string> MessageReceived
        {
            add { inner.MessageReceived += value; }
            remove { inner.MessageReceived -= value; }
        }

        public event Action<WebSocketCloseInfo> Closed
        {
            add { inner.Closed += value; }
            remove { inner.Closed -= value; }
        }

        public Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            return inner.ConnectAsync(uri, cancellationToken);
        }

        public Task SendAsync(string text, CancellationToken cancellationToken)
        {
            int n = System.Text.Encoding.UTF8.GetByteCount(text);
            if (n > ClientWebSocketTransport.MaxFrameBytes)
            {
                Interlocked.Increment(ref Refused);
                throw new InvalidOperationException("a browser would send this message of " + n + " bytes as one frame, which API Gateway closes the connection on (1009)");
            }
            Interlocked.Increment(ref Sent);
            return inner.SendAsync(text, cancellationToken);
        }

        public Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
        {
            return inner.CloseAsync(code, reason, cancellationToken);
        }

        public void Dispose()
        {
            inner.Dispose();
        }
    }
}
