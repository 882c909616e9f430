// Sending on the WebSocket (docs/protocol.md, "Client algorithm", step 3):
// the sendmessage frame carries an idempotency key; the send waits for its
// push, and without one within SendConfirmTimeout, or when its socket
// closes first, it is sent by PUT with the same key (ChatClient.Sending.cs),
// so that it is stored once whether or not the frame was.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // Guarded by gate: the socket sends waiting for their push, oldest first.
        private readonly List<SocketSend> socketSends = new List<SocketSend>();

        // SocketSend is a message sent on socket Generation, until its push
        // confirms it, an error frame refuses it (rate_limited: hands it to
        // PUT), or it is handed to PUT.
        private sealed class SocketSend
        {
            public SocketSend(string text, string key, int generation)
            {
                Text = text;
                Key = key;
                Generation = generation;
                Woken = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            public string Text { get; private set; }
            public string Key { get; private set; }
            public int Generation { get; private set; }
            // Wakes its watcher before the timeout: its socket closed (or
            // the frame could not be sent), or it was settled.
            public TaskCompletionSource<bool> Woken { get; private set; }
        }

        /// <summary>
        /// Sends text on the WebSocket ({"action":"sendmessage"} with an
        /// idempotency key); it comes back as <see cref="MessageReceived"/>.
        /// The returned task completes once the frame is sent, not when the
        /// message is stored.
        /// </summary>
        /// <remarks>
        /// <para>The send is confirmed by its push: a message of this user
        /// with this text on the same socket. If none comes within
        /// <see cref="ChatClientOptions.SendConfirmTimeout"/>, or the socket
        /// closes first (or the frame cannot be sent), the client sends it
        /// by PUT with the same key, as <see cref="SendAsync"/> does: the
        /// server stores it once whether or not the frame reached it. An
        /// error frame while the send waits answers it (error frames name
        /// no send: the oldest): <c>rate_limited</c> sends it by PUT, as a
        /// 429 is retried; any other code is its refusal (bad input): it
        /// comes as an <see cref="Error"/> event and is not sent again. A
        /// send whose PUT fails for good is reported as an
        /// <see cref="Error"/> event too, with the PUT's code.</para>
        /// <para>API Gateway closes a connection with 1009 on a frame over 32 KB.
        /// A transport that is an <see cref="IFragmentingWebSocketTransport"/>
        /// (<see cref="ClientWebSocketTransport"/>) sends any message in
        /// frames within it; any other (a WebGL one: a browser sends each
        /// message as one frame) is given no message over
        /// <see cref="ClientWebSocketTransport.MaxFrameBytes"/>: a longer one
        /// (up to 16 KiB of text that JSON escapes, ~96 KB) is sent over REST
        /// instead, as <see cref="SendAsync"/> sends it, as the web page
        /// does. It still comes back as <see cref="MessageReceived"/>, but a
        /// refusal is then thrown as a <see cref="ChatException"/>.</para>
        /// </remarks>
        public Task SendOverWebSocketAsync(string text, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (text == null)
            {
                throw new ArgumentNullException("text");
            }
            IWebSocketTransport s;
            int gen;
            lock (gate)
            {
                s = state == ChatConnectionState.Connected ? socket : null;
                gen = generation;
            }
            if (s == null)
            {
                throw new ChatException(ChatError.NotConnected, "the WebSocket is not connected (" + State + ")");
            }
            string key = NewIdempotencyKey();
            string frame = new ChatJson.ObjectWriter()
                .Add("action", "sendmessage")
                .Add("text", text)
                .Add("name", options.Name ?? "")
                .Add("idempotency_key", key)
                .ToString();
            if (!(s is IFragmentingWebSocketTransport) &&
                System.Text.Encoding.UTF8.GetByteCount(frame) > ClientWebSocketTransport.MaxFrameBytes)
            {
                return PutAsync(text, key, cancellationToken);
            }
            var send = new SocketSend(text, key, gen);
            lock (gate)
            {
                socketSends.Add(send);
                if (gen != generation || socketClosed)
                {
                    Decide(send, false); // closed already: by PUT
                }
            }
            Task.Run(() => WatchSocketSendAsync(send));
            return SendFrameAsync(s, frame, send, cancellationToken);
        }

        private async Task SendFrameAsync(IWebSocketTransport s, string frame, SocketSend send, CancellationToken cancellationToken)
        {
            try
            {
                await s.SendAsync(frame, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception)
            {
                bool gaveUp = cancellationToken.IsCancellationRequested;
                lock (gate)
                {
                    // The caller gave up on it; else the frame did not go,
                    // as when its socket closes first: by PUT.
                    Decide(send, gaveUp);
                }
                if (gaveUp)
                {
                    throw;
                }
            }
        }

        // WatchSocketSendAsync waits for what becomes of send: its push or
        // its refusal (settled), or its socket's end or an error frame that
        // a retry may clear (by PUT); with none within SendConfirmTimeout, by
        // PUT. It sends it by PUT with its key, and reports a failure as an
        // Error event.
        private async Task WatchSocketSendAsync(SocketSend send)
        {
            Task timeout = Task.Delay(options.SendConfirmTimeout, lifetime.Token);
            await Task.WhenAny(send.Woken.Task, timeout).ConfigureAwait(false);
            lock (gate)
            {
                Decide(send, lifetime.IsCancellationRequested); // the timeout: by PUT
            }
            bool settled = await send.Woken.Task.ConfigureAwait(false);
            if (settled || lifetime.IsCancellationRequested)
            {
                return; // confirmed or refused, or the client closed
            }
            try
            {
                await PutAsync(send.Text, send.Key, lifetime.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                if (lifetime.IsCancellationRequested)
                {
                    return;
                }
                var ce = e as ChatException;
                string code = ce != null ? ce.Code : ChatError.Unavailable;
                var err = new ChatError(code, "a message sent on the WebSocket was not confirmed, and its PUT failed: " + (ce != null ? ce.Message : Describe(e)));
                Post(() => Raise(Error, err));
            }
        }

        // Decide takes send off the waiting list, if it is still on it, with
        // what becomes of it: settled (true: no PUT) or by PUT (false). The
        // first decision wins: each one removes the send under gate, so no
        // later frame can take it again. Under gate.
        private void Decide(SocketSend send, bool settled)
        {
            if (socketSends.Remove(send))
            {
                send.Woken.TrySetResult(settled);
            }
        }

        // ConfirmSocketSend settles the oldest send on socket gen that m,
        // pushed on it, is the push of: a message of this user with its
        // text (a push carries no key). Under gate.
        private void ConfirmSocketSend(int gen, ChatMessage m)
        {
            if (socketSends.Count == 0 || m.UserId != UserId)
            {
                return;
            }
            SocketSend s = socketSends.Find(x => x.Generation == gen && x.Text == m.Text);
            if (s != null)
            {
                Decide(s, true);
            }
        }

        // RetriedCodes are the error frames' codes after which a socket
        // send goes by PUT: rate_limited (the send rate, or the frame rate,
        // whose frame was not routed), unavailable and internal (a fault:
        // the message may or may not be stored, and its key settles which).
        private static readonly HashSet<string> RetriedCodes = new HashSet<string> { ChatError.RateLimited, ChatError.Unavailable, ChatError.Internal };

        // AnswerSocketSend: an error frame on socket gen answers its oldest
        // waiting send (error frames name no send): by PUT for a code a
        // retry may clear (RetriedCodes); any other code is its refusal.
        // Under gate.
        private void AnswerSocketSend(int gen, ChatError err)
        {
            SocketSend oldest = socketSends.Find(s => s.Generation == gen);
            if (oldest != null)
            {
                Decide(oldest, !RetriedCodes.Contains(err.Code));
            }
        }

        // SocketClosedUnderSends sends the waiting sends of socket gen,
        // which closed, by PUT. Under gate.
        private void SocketClosedUnderSends(int gen)
        {
            foreach (SocketSend s in socketSends.FindAll(x => x.Generation == gen))
            {
                Decide(s, false);
            }
        }
    }
}
