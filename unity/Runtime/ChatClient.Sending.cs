// Sending: over the WebSocket (over REST instead when the transport
// cannot fragment a frame that large), and over REST with an
// Idempotency-Key, retried only when the history shows the message was
// not stored.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
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
    }
}
