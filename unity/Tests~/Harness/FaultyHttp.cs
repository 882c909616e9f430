// An HTTP transport that makes PUTs fail (Fault) before or after they reach
// the server, for the checks of retried sends (Run.SafeRetries.cs,
// Run.SocketSends.cs, AuthRun.cs).
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    // Fault is what FaultyHttp does to one PUT.
    internal enum Fault
    {
        None,
        DropBefore, // the request never reaches the server
        DropAfter, // the server stores it, the answer is lost
        Status503Before, // 503 without reaching the server
        Status503After, // stored, but the caller sees 503 (a gateway timeout)
        Status429RetryAfter, // 429 with FaultyHttp.RetryAfter, without reaching the server
    }

    // FaultyHttp forwards to a real transport and injects failures.
    internal sealed class FaultyHttp : IHttpTransport
    {
        private readonly IHttpTransport inner;
        public Func<int, Fault> PutFault = n => Fault.None; // by PUT number, from 1
        public TimeSpan RetryAfter; // of Status429RetryAfter
        public readonly List<string> PutKeys = new List<string>();
        public int Puts;
        public int Forwarded;

        public FaultyHttp(IHttpTransport inner)
        {
            this.inner = inner;
        }

        public void Reset(Func<int, Fault> plan)
        {
            lock (PutKeys)
            {
                PutKeys.Clear();
                Puts = 0;
                Forwarded = 0;
                PutFault = plan;
            }
        }

        public async Task<HttpTransportResponse> SendAsync(HttpTransportRequest request, CancellationToken cancellationToken)
        {
            if (request.Method != "PUT")
            {
                return await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            Fault f;
            lock (PutKeys)
            {
                Puts++;
                string key;
                request.Headers.TryGetValue("Idempotency-Key", out key);
                PutKeys.Add(key);
                f = PutFault(Puts);
            }
            switch (f)
            {
                case Fault.DropBefore:
                    throw new System.Net.Http.HttpRequestException("injected: connection reset before the request was sent");
                case Fault.Status503Before:
                    return new HttpTransportResponse(503, "{\"error\":{\"code\":\"internal\",\"message\":\"injected\"}}");
                case Fault.Status429RetryAfter:
                    return new HttpTransportResponse(429, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"injected\"}}", RetryAfter);
            }
            HttpTransportResponse resp = await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref Forwarded);
            switch (f)
            {
                case Fault.DropAfter:
                    throw new TimeoutException("injected: the answer was lost");
                case Fault.Status503After:
                    return new HttpTransportResponse(503, "<html>Service Unavailable</html>");
            }
            return resp;
        }
    }
}
