// The harness's checks of retried REST sends (docs/protocol.md, "Client
// algorithm", step 3): FaultyHttp loses a PUT or its answer, or answers 503
// or 429, and the send is tried again with its Idempotency-Key, stored once.
using System;
using System.Linq;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal sealed partial class Run
    {
        // SafeRetries: the PUTs of one REST send share its Idempotency-Key,
        // and an attempt that failed (no answer, 408, 429, 5xx) is tried
        // again with it: the server stores the message once, and a repeat
        // answers the stored one.
        private async Task SafeRetries(Recorder ra)
        {
            var faulty = new FaultyHttp(http);
            var d = new ChatClient(Options("unity-d", "Dee", faulty));

            await Program.Check("retry: answer lost after the server stored it → sent again with the same key, stored once, the same message returned", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.DropAfter : Fault.None);
                string text = "lost answer";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal(0, r.Delivered, "pushes of the repeat (a replay)");
                ChatMessage pushed = await ra.Got(text);
                Program.Equal(pushed.Id, r.Message.Id, "the stored message returned");
            });

            await Program.Check("retry: request lost before the server → sent again once, with the same key", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.DropBefore : Fault.None);
                string text = "lost request";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Puts, "PUTs");
                Program.Equal(1, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                await ra.Got(text);
            });

            await Program.Check("retry: 503 twice → third attempt stores it once", async () =>
            {
                faulty.Reset(n => n <= 2 ? Fault.Status503Before : Fault.None);
                string text = "after two 503s";
                SendResult r = await d.SendAsync(text);
                Program.Equal(3, r.Attempts, "attempts");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for the attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: 503 after the server stored it → sent again with the same key, stored once", async () =>
            {
                faulty.Reset(n => n == 1 ? Fault.Status503After : Fault.None);
                string text = "stored then 503";
                SendResult r = await d.SendAsync(text);
                Program.Equal(2, r.Attempts, "attempts");
                Program.Equal(2, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for both attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
                Program.Equal((await ra.Got(text)).Id, r.Message.Id, "the stored message returned");
            });

            await Program.Check("retry: 429 → the next attempt waits its Retry-After; one past the backoff's cap fails at once", async () =>
            {
                // The harness's cap (ReconnectMaxDelay) is 1 s.
                faulty.Reset(n => n == 1 ? Fault.Status429RetryAfter : Fault.None);
                faulty.RetryAfter = TimeSpan.FromMilliseconds(600);
                var took = System.Diagnostics.Stopwatch.StartNew();
                SendResult r = await d.SendAsync("after a 429");
                Program.Equal(2, r.Attempts, "attempts");
                Program.Expect(took.ElapsedMilliseconds >= 600, "waited " + took.ElapsedMilliseconds + " ms, want at least Retry-After, 600");
                faulty.Reset(n => n == 1 ? Fault.Status429RetryAfter : Fault.None);
                faulty.RetryAfter = TimeSpan.FromSeconds(30);
                took.Restart();
                ChatException e = await Program.Throws(() => d.SendAsync("after a long 429"), "a send answered 429 with Retry-After: 30 s");
                Program.Equal(ChatError.RateLimited, e.Code, "code");
                Program.Equal(1, e.Attempts, "attempts");
                Program.Equal(1, faulty.Puts, "PUTs");
                Program.Expect(took.ElapsedMilliseconds < 1000, "failed after " + took.ElapsedMilliseconds + " ms, want at once (the cap is 1 s)");
            });

            await Program.Check("retry: same text again is a new message, not mistaken for the old one", async () =>
            {
                faulty.Reset(n => Fault.None);
                string text = "same again";
                SendResult first = await d.SendAsync(text);
                await ra.Got(text);
                SendResult second = await d.SendAsync(text);
                faulty.Reset(n => n == 1 ? Fault.DropBefore : Fault.None);
                SendResult third = await d.SendAsync(text);
                Program.Equal(2, faulty.Puts, "third's PUTs");
                Program.Equal(3, await Count(d, text), "stored copies");
                Program.Equal(3, new[] { first.Message.Id, second.Message.Id, third.Message.Id }.Distinct().Count(), "distinct ids");
                Program.Equal(3, new[] { first.IdempotencyKey, second.IdempotencyKey, third.IdempotencyKey }.Distinct().Count(), "distinct keys");
            });

            await Program.Check("retry: server unreachable → unavailable after the attempts, nothing stored", async () =>
            {
                faulty.Reset(n => Fault.DropBefore);
                string text = "never arrives";
                ChatException e = await Program.Throws(() => d.SendAsync(text), "send");
                Program.Equal(ChatError.Unavailable, e.Code, "code");
                Program.Equal(3, e.Attempts, "attempts");
                Program.Equal(3, faulty.Puts, "PUTs");
                Program.Equal(0, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: every answer lost → unavailable after the attempts, stored once", async () =>
            {
                faulty.Reset(n => Fault.DropAfter);
                string text = "every answer lost";
                ChatException e = await Program.Throws(() => d.SendAsync(text), "send");
                Program.Equal(ChatError.Unavailable, e.Code, "code");
                Program.Equal(3, e.Attempts, "attempts");
                Program.Equal(3, faulty.Forwarded, "PUTs that reached the server");
                Program.Equal(1, faulty.PutKeys.Distinct().Count(), "one Idempotency-Key for the attempts");
                Program.Equal(1, await Count(d, text), "stored copies");
            });

            await Program.Check("retry: 4xx is never retried", async () =>
            {
                faulty.Reset(n => Fault.None);
                ChatException e = await Program.Throws(() => d.SendAsync("\t"), "blank");
                Program.Equal("invalid", e.Code, "code");
                Program.Equal(1, faulty.Puts, "PUTs");
            });
            d.Dispose();
        }
    }
}
