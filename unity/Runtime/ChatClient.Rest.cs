// The REST plumbing of the other parts: requests with the token's
// Authorization header, GETs of a JSON object retried with backoff (and
// GetMembersAsync), ChatExceptions from error answers, and the text of a
// failure for messages.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // NewRequest makes a request with the token's Authorization header.
        private HttpTransportRequest NewRequest(string method, string url, string body = null)
        {
            var req = new HttpTransportRequest(method, url, body);
            if (!string.IsNullOrEmpty(options.Token))
            {
                req.Headers["Authorization"] = "Bearer " + options.Token;
            }
            return req;
        }

        /// <summary>The room's open connections (one per connection, so a user may be listed twice).</summary>
        public async Task<IList<ChatMember>> GetMembersAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            string url = options.RestUrl.TrimEnd('/') + "/users?room_id=" + Uri.EscapeDataString(options.RoomId);
            Dictionary<string, object> o = await GetJsonAsync(url, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
            return ChatMember.ListFromJson(ChatJson.GetArray(o, "users"));
        }

        // GetJsonAsync GETs url and returns its JSON object, retrying failed
        // requests (no answer, 408, 429, 5xx) with backoff up to attempts
        // times; a 4xx is thrown at once.
        private async Task<Dictionary<string, object>> GetJsonAsync(string url, int attempts, CancellationToken cancellationToken)
        {
            string failure = "";
            for (int i = 1; i <= attempts; i++)
            {
                if (i > 1)
                {
                    await Task.Delay(retryBackoff.Delay(i - 1), cancellationToken).ConfigureAwait(false);
                }
                HttpTransportResponse resp;
                try
                {
                    resp = await http.SendAsync(NewRequest("GET", url), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    failure = "request cancelled";
                    continue;
                }
                catch (Exception e)
                {
                    failure = Describe(e);
                    continue;
                }
                if (resp.StatusCode == 200)
                {
                    try
                    {
                        return ChatJson.ParseObject(resp.Body);
                    }
                    catch (FormatException e)
                    {
                        throw new ChatException(ChatError.BadResponse, "GET " + url + ": " + e.Message, 200, e);
                    }
                }
                ChatException err = ErrorFrom(resp);
                if (!Retryable(resp.StatusCode))
                {
                    throw err;
                }
                failure = "HTTP " + resp.StatusCode + " " + err.Code + ": " + err.Message;
            }
            throw new ChatException(ChatError.Unavailable, "GET " + url + " failed " + attempts + " times; last: " + failure);
        }

        private static bool Retryable(int status)
        {
            return status == 408 || status == 429 || status >= 500;
        }

        private static ChatException ErrorFrom(HttpTransportResponse resp)
        {
            ChatError e = null;
            try
            {
                e = ChatError.FromJson(ChatJson.ParseObject(resp.Body));
            }
            catch (FormatException)
            {
                // Not the server's JSON (a proxy's page): go by the status.
            }
            if (e == null || e.Code.Length == 0)
            {
                string code = resp.StatusCode >= 500 ? ChatError.Internal
                    : resp.StatusCode == 401 ? ChatError.Unauthorized
                    : resp.StatusCode == 403 ? ChatError.Forbidden
                    : "http_" + resp.StatusCode;
                e = new ChatError(code, "HTTP " + resp.StatusCode + ": " + Truncate(resp.Body));
            }
            return new ChatException(e.Code, e.Message, resp.StatusCode);
        }

        private static string Describe(Exception e)
        {
            var ce = e as ChatException;
            if (ce != null)
            {
                return ce.Code + ": " + ce.Message;
            }
            string s = e.GetType().Name + ": " + e.Message;
            if (e.InnerException != null)
            {
                s += " (" + e.InnerException.GetType().Name + ": " + e.InnerException.Message + ")";
            }
            return s;
        }

        private static string Truncate(string s)
        {
            return s.Length > 200 ? s.Substring(0, 200) + "..." : s;
        }
    }
}
