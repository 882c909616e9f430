// An HTTP transport that records each request's method, status and bearer
// token, for AuthRun's checks that a refusal is not retried and that each
// request carries its client's token.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    // CountingHttp forwards to a real transport and records each request.
    internal sealed class CountingHttp : IHttpTransport
    {
        private readonly IHttpTransport inner;
        private readonly IDictionary<string, string> names;
        private readonly List<string> seen = new List<string>();

        // names maps tokens to the names that Requests shows them by.
        public CountingHttp(IHttpTransport inner, IDictionary<string, string> names)
        {
            this.inner = inner;
            this.names = names;
        }

        // Requests lists "METHOD status TOKEN" per request so far: the
        // name of the bearer token sent, "-" for none, "?" for another.
        public List<string> Requests()
        {
            lock (seen)
            {
                return new List<string>(seen);
            }
        }

        public void Clear()
        {
            lock (seen)
            {
                seen.Clear();
            }
        }

        public async Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken)
        {
            HttpTransportResponse resp = await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            string authz, name = "-";
            if (request.Headers.TryGetValue("Authorization", out authz))
            {
                string token = authz.StartsWith("Bearer ", StringComparison.Ordinal) ? authz.Substring(7) : "";
                if (!names.TryGetValue(token, out name))
                {
                    name = "?";
                }
            }
            lock (seen)
            {
                seen.Add(request.Method + " " + resp.StatusCode + " " + name);
            }
            return resp;
        }
    }
}
