using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary>
    /// HTTP as <see cref="ChatClient"/> uses it: one request, its whole
    /// answer. <see cref="HttpClientTransport"/> implements it on
    /// System.Net.Http.HttpClient; a WebGL build implements it on
    /// UnityWebRequest (see the package README).
    /// </summary>
    public interface IHttpTransport
    {
        /// <summary>
        /// Sends the request and returns the response, whatever its status.
        /// Throws when no response came: the connection failed or timed out
        /// (any exception), or cancellationToken was cancelled
        /// (OperationCanceledException).
        /// </summary>
        Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken);
    }

    /// <summary>One HTTP request.</summary>
    public sealed class HttpTransportRequest
    {
        /// <summary>Creates a request.</summary>
        public HttpTransportRequest(string method, string url, string body = null)
        {
            Method = method;
            Url = url;
            Body = body;
            Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        /// <summary>"GET" or "PUT".</summary>
        public string Method { get; private set; }
        /// <summary>The absolute URL, query included.</summary>
        public string Url { get; private set; }
        /// <summary>A JSON body (sent as application/json; charset=utf-8), or null.</summary>
        public string Body { get; private set; }
        /// <summary>Extra headers, e.g. Idempotency-Key.</summary>
        public IDictionary<string, string> Headers { get; private set; }
    }

    /// <summary>One HTTP response.</summary>
    public sealed class HttpTransportResponse
    {
        /// <summary>Creates a response.</summary>
        public HttpTransportResponse(int statusCode, string body, TimeSpan? retryAfter = null)
        {
            StatusCode = statusCode;
            Body = body ?? "";
            RetryAfter = retryAfter;
        }

        /// <summary>The HTTP status.</summary>
        public int StatusCode { get; private set; }
        /// <summary>The body, decoded as UTF-8.</summary>
        public string Body { get; private set; }
        /// <summary>The Retry-After header, when the server sent one.</summary>
        public TimeSpan? RetryAfter { get; private set; }
    }
}
