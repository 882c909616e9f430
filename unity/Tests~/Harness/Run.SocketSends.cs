// The harness's checks of sends on the WebSocket (docs/protocol.md,
// "Client algorithm", step 3): the frame carries an idempotency key; its
// push confirms it; without one within SendConfirmTimeout it is sent by
// PUT with that key, and stored once; an error frame refuses it, but
// rate_limited, which sends it by PUT at once; a PUT
// that fails for good is an Error event. A LossyTransport loses frames on
// their way up or down.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal sealed partial class Run
    {
        private async Task SocketSends(Recorder ra)
        {
            var faulty = new FaultyHttp(http);
            ChatClientOptions o = Options("unity-h", "Hal", faulty);
            o.SendConfirmTimeout = TimeSpan.FromMilliseconds(500);
            TimeSpan waitOut = o.SendConfirmTimeout + TimeSpan.FromMilliseconds(300);
            LossyTransport lossy = null;
            o.WebSocketFactory = () => lossy = new LossyTransport();
            var h = new ChatClient(o);
            var rh = new Recorder("H", h);
            await h.ConnectAsync();

            await Program.Check("socket send: the frame carries an idempotency key, its push confirms it, no PUT", async () =>
            {
                faulty.Reset(n => Fault.None);
                string text = "confirmed by its push";
                await h.SendOverWebSocketAsync(text);
                await rh.Got(text);
                await ra.Got(text);
                await Task.Delay(waitOut);
                Program.Equal(0, faulty.Puts, "PUTs");
                Guid key;
                Program.Expect(Guid.TryParse(lossy.LastKey(), out key), "the frame's idempotency_key is a GUID: " + Program.Show(lossy.LastKey()));
            });

            await Program.Check("socket send: a frame lost on its way → PUT with its key after SendConfirmTimeout, stored once", async () =>
            {
                faulty.Reset(n => Fault.None);
                lossy.LoseUp = true;
                string text = "frame lost, sent by PUT";
                Stopwatch took = Stopwatch.StartNew();
                await h.SendOverWebSocketAsync(text);
                await rh.Got(text);
                lossy.LoseUp = false;
                Program.Expect(took.Elapsed >= o.SendConfirmTimeout, "sent by PUT after " + took.ElapsedMilliseconds + " ms, before SendConfirmTimeout");
                Program.Equal(1, faulty.Puts, "PUTs");
                Program.Equal(lossy.LastKey(), faulty.PutKeys[0], "the PUT's Idempotency-Key: the frame's");
                Program.Equal(1, await Count(h, text), "stored copies");
                await ra.Got(text);
            });

            await Program.Check("socket send: its push lost on its way → PUT with its key is a repeat, stored once", async () =>
            {
                faulty.Reset(n => Fault.None);
                lossy.LoseDown = true;
                string text = "push lost, PUT repeats it";
                await h.SendOverWebSocketAsync(text);
                await ra.Got(text);
                await Program.Eventually("H's PUT", () => faulty.Forwarded == 1);
                await Task.Delay(200);
                lossy.LoseDown = false;
                Program.Equal(lossy.LastKey(), faulty.PutKeys[0], "the PUT's Idempotency-Key: the frame's");
                Program.Equal(1, await Count(h, text), "stored copies");
            });

            await Program.Check("socket send: refused by an error frame → not sent by PUT", async () =>
            {
                faulty.Reset(n => Fault.None);
                await h.SendOverWebSocketAsync("");
                await Program.Eventually("H gets an invalid error frame", () => rh.Count(rh.Errors, x => x.Code == ChatError.Invalid) == 1);
                await Task.Delay(waitOut);
                Program.Equal(0, faulty.Puts, "PUTs");
                Program.Equal(1, rh.Count(rh.Errors, x => true), "H's errors");
            });

            await Program.Check("socket send: a rate_limited error frame → PUT with its key at once, stored once", async () =>
            {
                Stopwatch took = Stopwatch.StartNew();
                TimeSpan putAt = TimeSpan.Zero;
                faulty.Reset(n =>
                {
                    putAt = took.Elapsed;
                    return Fault.None;
                });
                lossy.LoseUp = true; // as over the frame rate: the frame was not routed
                string text = "rate limited, sent by PUT";
                await h.SendOverWebSocketAsync(text);
                lossy.InjectDown("{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many frames: slow down\"}}");
                await rh.Got(text);
                lossy.LoseUp = false;
                Program.Expect(putAt < o.SendConfirmTimeout, "sent by PUT after " + putAt.TotalMilliseconds + " ms: it waited for SendConfirmTimeout");
                Program.Equal(1, faulty.Puts, "PUTs");
                Program.Equal(lossy.LastKey(), faulty.PutKeys[0], "the PUT's Idempotency-Key: the frame's");
                Program.Equal(1, await Count(h, text), "stored copies");
                await ra.Got(text);
            });

            await Program.Check("socket send: not confirmed and its PUTs fail → an Error event", async () =>
            {
                faulty.Reset(n => Fault.DropBefore);
                lossy.LoseUp = true;
                string text = "never stored";
                await h.SendOverWebSocketAsync(text);
                await Program.Eventually("H's Error event for the send", () => rh.Count(rh.Errors, x => x.Code == ChatError.Unavailable) == 1);
                lossy.LoseUp = false;
                Program.Equal(3, faulty.Puts, "PUTs (SendMaxAttempts)");
                Program.Equal(0, await Count(h, text), "stored copies");
            });

            Program.Equal(0, rh.Count(rh.Reconnects, i => true), "H's reconnects");
            await h.CloseAsync();
            h.Dispose();
        }
    }

    // LossyTransport is a ClientWebSocketTransport that loses, while
    // LoseUp, the sendmessage frames it is given (reporting them sent), and
    // while LoseDown, every frame it receives. It keeps the sendmessage
    // frames it was given.
    internal sealed class LossyTransport : IFragmentingWebSocketTransport
    {
        private readonly ClientWebSocketTransport inner = new ClientWebSocketTransport();
        private readonly List<string> sends = new List<string>();
        public volatile bool LoseUp;
        public volatile bool LoseDown;

        public LossyTransport()
        {
            inner.MessageReceived += text =>
            {
                var handler = MessageReceived;
                if (!LoseDown && handler != null)
                {
                    handler(text);
                }
            };
        }

        public event Action<string> MessageReceived;

        // InjectDown delivers frame as if the server had sent it.
        public void InjectDown(string frame)
        {
            var handler = MessageReceived;
            if (handler != null)
            {
                handler(frame);
            }
        }

        public event Action<WebSocketCloseInfo> Closed
        {
            add { inner.Closed += value; }
            remove { inner.Closed -= value; }
        }

        // LastKey is the idempotency_key of the last sendmessage frame.
        public string LastKey()
        {
            lock (sends)
            {
                return sends.Count == 0 ? null : ChatJson.GetString(ChatJson.ParseObject(sends[sends.Count - 1]), "idempotency_key");
            }
        }

        public Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            return inner.ConnectAsync(uri, cancellationToken);
        }

        public Task SendAsync(string text, CancellationToken cancellationToken)
        {
            if (ChatJson.GetString(ChatJson.ParseObject(text), "action") == "sendmessage")
            {
                lock (sends)
                {
                    sends.Add(text);
                }
                if (LoseUp)
                {
                    return Task.FromResult(0);
                }
            }
            return inner.SendAsync(text, cancellationToken);
        }

        public Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
        {
            return inner.CloseAsync(code, reason, cancellationToken);
        }

        public void Dispose()
        {
            inner.Dispose();
        }
    }
}
