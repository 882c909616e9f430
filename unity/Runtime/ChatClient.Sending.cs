// Sending over REST (docs/protocol.md, "Client algorithm", step 3): one
// Idempotency-Key per message, reused by every PUT of it, and a PUT tried
// again after no answer, 408, 429 or a 5xx, with the reconnect backoff.
// The socket's sends, which fall back on it, are in ChatClient.SocketSends.cs.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        /// <summary>
        /// Sends text over REST (PUT /chat) and returns the stored message.
        /// The client need not be connected.
        /// </summary>
        /// <remarks>
        /// <para>The message gets an Idempotency-Key (a new GUID per call),
        /// and every PUT of it carries that key, so that the server stores
        /// it once however many attempts reach it: a repeat is answered with
        /// the stored message.</para>
        /// <para>An attempt that got no answer (a failed connection, a
        /// timeout), or 408, 429 or a 5xx, may have been stored: it is tried
        /// again with the same key after the backoff (a random wait in
        /// [0, min(<see cref="ChatClientOptions.ReconnectMaxDelay"/>,
        /// <see cref="ChatClientOptions.ReconnectMinDelay"/> * 2^n)] after
        /// n attempts; at least the answer's Retry-After; an answer whose
        /// Retry-After is longer than ReconnectMaxDelay, the user's send
        /// rate, is thrown at once), up to <see cref="ChatClientOptions.SendMaxAttempts"/>
        /// attempts in all; then it throws code unavailable, and the message
        /// may have been stored (once) or not. Any other 4xx is final: it
        /// is thrown at once as a <see cref="ChatException"/> with the
        /// server's code (409 conflict: the key was used for another text).
        /// Cancelling the token leaves the outcome unknown.</para>
        /// </remarks>
        public Task<SendResult> SendAsync(string text, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (text == null)
            {
                throw new ArgumentNullException("text");
            }
            return PutAsync(text, NewIdempotencyKey(), cancellationToken);
        }

        private static string NewIdempotencyKey()
        {
            return Guid.NewGuid().ToString("D");
        }

        // PutAsync stores text by PUT under key, as SendAsync describes.
        private async Task<SendResult> PutAsync(string text, string key, CancellationToken cancellationToken)
        {
            string body = new ChatJson.ObjectWriter()
                .Add("room_id", options.RoomId)
                .Add("text", text)
                .Add("user_id", string.IsNullOrEmpty(options.UserId) ? null : options.UserId)
                .Add("name", options.Name ?? "")
                .ToString();
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
                if (resp != null && resp.RetryAfter.HasValue && resp.RetryAfter.Value > reconnectBackoff.Cap)
                {
                    // The server asks for longer than a client holds a
                    // message (the user's send rate): it fails now.
                    ChatException later = ErrorFrom(resp);
                    later.Attempts = puts;
                    throw later;
                }
                if (resp != null)
                {
                    ChatException fault = ErrorFrom(resp);
                    failure += " " + fault.Code + ": " + fault.Message;
                }
                if (puts >= options.SendMaxAttempts)
                {
                    throw new ChatException(ChatError.Unavailable,
                        "not sent after " + puts + " attempts (last: " + failure + "); it may have been stored, once",
                        resp != null ? resp.StatusCode : 0)
                    { Attempts = puts };
                }
                await Task.Delay(PutRetryDelay(resp, puts), cancellationToken).ConfigureAwait(false);
            }
        }

        // PutRetryDelay is the wait after a failed PUT attempt: the
        // reconnect backoff, at least the answer's Retry-After (one longer
        // than the backoff's cap failed the send before this).
        private TimeSpan PutRetryDelay(HttpTransportResponse resp, int attempt)
        {
            TimeSpan wait = reconnectBackoff.Delay(attempt);
            if (resp != null && resp.RetryAfter.HasValue && resp.RetryAfter.Value > wait)
            {
                wait = resp.RetryAfter.Value;
            }
            return wait;
        }

        private static SendResult SentResult(HttpTransportResponse resp, string key, int puts)
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
            return new SendResult
            {
                Message = msgObj != null ? ChatMessage.FromJson(msgObj) : null,
                Users = ChatMember.ListFromJson(ChatJson.GetArray(o, "users")),
                Delivered = (int)ChatJson.GetLong(o, "delivered", -1),
                Attempts = puts,
                IdempotencyKey = key,
            };
        }
    }
}
