using System;
using System.Globalization;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary><see cref="IHttpTransport"/> on System.Net.Http.HttpClient.</summary>
    public sealed class HttpClientTransport : IHttpTransport, IDisposable
    {
        private readonly HttpClient client;
        private readonly bool ownsClient;

        /// <summary>
        /// Uses client, or a new HttpClient of its own (disposed with this).
        /// The transport applies <see cref="Timeout"/> per request itself.
        /// </summary>
        public HttpClientTransport(HttpClient client = null)
        {
            if (client == null)
            {
                client = new HttpClient();
                client.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
                ownsClient = true;
            }
            this.client = client;
            Timeout = TimeSpan.FromSeconds(30); // docs/protocol.md, "Client algorithm"
        }

        /// <summary>How long one request may take before it fails with a TimeoutException.</summary>
        public TimeSpan Timeout { get; set; }

        /// <inheritdoc />
        public async Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken)
        {
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var msg = new HttpRequestMessage(new HttpMethod(request.Method), request.Url))
            {
                cts.CancelAfter(Timeout);
                if (request.Body != null)
                {
                    msg.Content = new StringContent(request.Body, new UTF8Encoding(false), "application/json");
                }
                foreach (var h in request.Headers)
                {
                    msg.Headers.TryAddWithoutValidation(h.Key, h.Value);
                }
                try
                {
                    using (HttpResponseMessage resp = await client.SendAsync(msg, HttpCompletionOption.ResponseContentRead, cts.Token).ConfigureAwait(false))
                    {
                        byte[] body = await resp.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                        return new HttpTransportResponse((int)resp.StatusCode, Encoding.UTF8.GetString(body), RetryAfter(resp));
                    }
                }
                catch (OperationCanceledException e)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    throw new TimeoutException(request.Method + " " + request.Url + ": no response within " + Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s", e);
                }
            }
        }

        private static TimeSpan? RetryAfter(HttpResponseMessage resp)
        {
            var ra = resp.Headers.RetryAfter;
            if (ra == null)
            {
                return null;
            }
            if (ra.Delta.HasValue)
            {
                return ra.Delta.Value;
            }
            if (ra.Date.HasValue)
            {
                TimeSpan d = ra.Date.Value - DateTimeOffset.UtcNow;
                return d > TimeSpan.Zero ? d : TimeSpan.Zero;
            }
            return null;
        }

        /// <summary>Disposes of the HttpClient if this transport made it.</summary>
        public void Dispose()
        {
            if (ownsClient)
            {
                client.Dispose();
            }
        }
    }
}
