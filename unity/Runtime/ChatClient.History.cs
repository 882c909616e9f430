// History and catch-up: reading pages (GetHistoryAsync), the catch-up
// after a reconnect with the new socket's pushes held meanwhile, and each
// message id raised once, in id order (docs/protocol.md, "Client
// algorithm", step 1).
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        private const int SeenCapacity = 10000;

        // Guarded by gate:
        private bool catchingUp; // hold pushes in pending
        private readonly List<ChatMessage> pending = new List<ChatMessage>();
        private readonly SeenIds seen = new SeenIds(SeenCapacity); // ids raised or in the first page
        private string floorId; // newest id of the first page: older messages are history
        private string lastId; // newest id delivered (or of the first page)
        private int duplicatesDropped;

        /// <summary>
        /// Reads a page of history, oldest first: the latest limit messages
        /// (limit 0: the server's default, 100), or with cursor the page
        /// before it (a page's NextCursor), or with after the messages after
        /// that id (HasMore: ask again after the last one). Failed requests
        /// are retried (a GET is safe to repeat). It raises no events.
        /// </summary>
        public Task<HistoryPage> GetHistoryAsync(int limit = 0, string cursor = null, string after = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return GetPageAsync(limit, cursor, after, options.SendMaxAttempts, cancellationToken);
        }

        private async Task<HistoryPage> GetPageAsync(int limit, string cursor, string after, int attempts, CancellationToken cancellationToken)
        {
            string url = options.RestUrl + "?room_id=" + Uri.EscapeDataString(options.RoomId);
            if (limit > 0)
            {
                url += "&limit=" + limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (!string.IsNullOrEmpty(cursor))
            {
                url += "&cursor=" + Uri.EscapeDataString(cursor);
            }
            if (!string.IsNullOrEmpty(after))
            {
                url += "&after=" + Uri.EscapeDataString(after);
            }
            Dictionary<string, object> o = await GetJsonAsync(url, attempts, cancellationToken).ConfigureAwait(false);
            List<object> raw = ChatJson.GetArray(o, "messages");
            if (raw == null)
            {
                throw new ChatException(ChatError.BadResponse, "history without a messages array");
            }
            var messages = new List<ChatMessage>(raw.Count);
            foreach (object v in raw)
            {
                var mo = v as Dictionary<string, object>;
                ChatMessage m = mo != null ? ChatMessage.FromJson(mo) : null;
                if (m == null)
                {
                    throw new ChatException(ChatError.BadResponse, "history entry is not a message");
                }
                messages.Add(m);
            }
            string next = ChatJson.GetString(o, "next_cursor");
            return new HistoryPage(messages, string.IsNullOrEmpty(next) ? null : next, ChatJson.GetBool(o, "has_more"));
        }

        // ReadMissedAsync reads the history after the last message
        // delivered, from CatchUpOverlap earlier (never before the first
        // page's newest id), page by page while a page says has_more and
        // moves on.
        private async Task<List<ChatMessage>> ReadMissedAsync(CancellationToken cancellationToken)
        {
            string after;
            lock (gate)
            {
                after = MessageIds.Rewind(lastId ?? floorId, options.CatchUpOverlap, floorId);
            }
            var missed = new List<ChatMessage>();
            for (int i = 0; i < options.CatchUpMaxPages; i++)
            {
                HistoryPage p = await GetPageAsync(options.CatchUpPageSize, null, after, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
                missed.AddRange(p.Messages);
                if (!p.HasMore || p.Messages.Count == 0)
                {
                    return missed;
                }
                string next = p.Messages[p.Messages.Count - 1].Id;
                if (MessageIds.Compare(next, after) <= 0)
                {
                    // A page that does not advance ends the catch-up: a
                    // server that says has_more without moving would
                    // otherwise be asked forever.
                    return missed;
                }
                after = next;
            }
            Post(() => Raise(Error, new ChatError(ChatError.CatchUpTruncated,
                "more than " + options.CatchUpMaxPages + " pages were missed; read the rest with GetHistoryAsync")));
            return missed;
        }

        // HoldPushes starts holding a new socket's pushes in pending until
        // EndCatchUp, so that events come in order. Under gate.
        private void HoldPushes()
        {
            catchingUp = true;
            pending.Clear();
        }

        // DropHeldPushes stops holding after a failed open. Under gate.
        private void DropHeldPushes()
        {
            catchingUp = false;
            pending.Clear();
        }

        // DeliverPush delivers a message the socket pushed, or holds it
        // while catching up. Under gate.
        private void DeliverPush(ChatMessage m)
        {
            if (catchingUp)
            {
                pending.Add(m);
            }
            else
            {
                Deliver(m);
            }
        }

        // EndCatchUp takes in the first connection's page (its ids are
        // history, not events), or merges a reconnect's missed messages
        // with the held pushes; it delivers them in id order, each id not
        // seen before, and stops holding. It returns how many of the
        // missed messages it raised. Under gate.
        private int EndCatchUp(HistoryPage page, List<ChatMessage> missed)
        {
            if (page != null)
            {
                string newest = null;
                foreach (ChatMessage m in page.Messages)
                {
                    seen.Add(m.Id);
                    newest = MessageIds.Max(newest, m.Id);
                }
                floorId = newest ?? MessageIds.Zero;
                lastId = MessageIds.Max(lastId, newest);
            }
            var merged = new List<ChatMessage>(pending);
            var fromHistory = new HashSet<string>(StringComparer.Ordinal);
            if (missed != null)
            {
                merged.AddRange(missed);
                foreach (ChatMessage m in missed)
                {
                    fromHistory.Add(m.Id);
                }
            }
            merged.Sort((x, y) => MessageIds.Compare(x.Id, y.Id));
            int caughtUp = 0;
            foreach (ChatMessage m in merged)
            {
                if (Deliver(m) && fromHistory.Contains(m.Id))
                {
                    caughtUp++;
                }
            }
            pending.Clear();
            catchingUp = false;
            return caughtUp;
        }

        // Deliver raises m unless its id was raised before. Under gate.
        private bool Deliver(ChatMessage m)
        {
            if (!seen.Add(m.Id))
            {
                duplicatesDropped++;
                return false;
            }
            lastId = MessageIds.Max(lastId, m.Id);
            Post(() => Raise(MessageReceived, m));
            return true;
        }
    }
}
