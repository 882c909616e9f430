// The token (ChatClientOptions.Token): the user id it names, keeping it
// out of messages, and telling a handshake refused for it (or for the
// room) from a server that is down.
using System;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // RefusalAsync finds out why a handshake failed, which a WebSocket
        // client (a browser's, Mono's) does not always tell: the REST API
        // answers a token and a room as the handshake does, so
        // one GET of the members says whether the server refuses us for
        // good (a 4xx but 408 and 429: docs/protocol.md, "Client
        // algorithm"). It returns that refusal (Refusal set), or null when
        // the server did not refuse (it is down, busy, or refused for
        // another reason: the caller retries).
        private async Task<ChatException> RefusalAsync(CancellationToken cancellationToken)
        {
            string url = options.RestUrl.TrimEnd('/') + "/users?room_id=" + Uri.EscapeDataString(options.RoomId);
            HttpTransportResponse resp;
            try
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.Token))
                {
                    resp = await http.SendAsync(NewRequest("GET", url), cts.Token).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                return null;
            }
            if (IsRefusal(resp.StatusCode))
            {
                ChatException e = ErrorFrom(resp);
                return new ChatException(e.Code, "the server refused the WebSocket connection: " + e.Message, resp.StatusCode) { Refusal = true };
            }
            string sub = TokenSubject(options.Token);
            if (resp.StatusCode == 200 && !string.IsNullOrEmpty(options.UserId) && sub != null && sub != options.UserId)
            {
                // The members list names no user; the handshake does.
                return new ChatException(ChatError.Forbidden, "the server refused the WebSocket connection: user_id " + options.UserId + " is not the user of the token (" + sub + ")", 403) { Refusal = true };
            }
            return null;
        }

        // IsRefusal: an answer that a retry cannot change, a 4xx other than
        // 408 and 429 (the same for a handshake and a PUT).
        private static bool IsRefusal(int status)
        {
            return status >= 400 && status < 500 && !Retryable(status);
        }

        // TokenSubject reads a JWT's sub claim without verifying it; null
        // when token is not a JWT with a string sub.
        internal static string TokenSubject(string token)
        {
            if (string.IsNullOrEmpty(token))
            {
                return null;
            }
            string[] parts = token.Split('.');
            if (parts.Length != 3)
            {
                return null;
            }
            try
            {
                string b64 = parts[1].Replace('-', '+').Replace('_', '/');
                switch (b64.Length % 4)
                {
                    case 2:
                        b64 += "==";
                        break;
                    case 3:
                        b64 += "=";
                        break;
                }
                string json = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(b64));
                string sub = ChatJson.GetString(ChatJson.ParseObject(json), "sub");
                return string.IsNullOrEmpty(sub) ? null : sub;
            }
            catch (FormatException)
            {
                return null;
            }
            catch (ArgumentException)
            {
                return null;
            }
        }

        // Redact takes the token out of a message (an exception's may hold
        // the WebSocket URL).
        private string Redact(string s)
        {
            string token = options.Token;
            if (string.IsNullOrEmpty(s) || string.IsNullOrEmpty(token))
            {
                return s;
            }
            return s.Replace(Uri.EscapeDataString(token), "REDACTED").Replace(token, "REDACTED");
        }
    }
}
