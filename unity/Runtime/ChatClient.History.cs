// History and catch-up: reading pages (GetHistoryAsync), the catch-up
// after a reconnect with the new socket's pushes held meanwhile, each
// message id raised once, and the recovery of a failed REST send by
// finding its text in the history (FindSentAsync, for SendAsync).
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
        private readonly SeenIds claimed = new SeenIds(1000); // ids SendAsync returned
        private string floorId; // newest id of the first page: older messages are history
        private string lastId; // newest id delivered (or of the first page)
        private string latestKnownId; // newest id known to exist: where a send's check starts
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
            var page = new HistoryPage(messages, string.IsNullOrEmpty(next) ? null : next, ChatJson.GetBool(o, "has_more"));
            if (messages.Count > 0)
            {
                lock (gate)
                {
                    latestKnownId = MessageIds.Max(latestKnownId, messages[messages.Count - 1].Id);
                }
            }
            return page;
        }

        // ReadMissedAsync reads the history after the last message
        // delivered, from CatchUpOverlap earlier, page by page.
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
                after = p.Messages[p.Messages.Count - 1].Id;
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
        // history, not events) or delivers a reconnect's missed messages
        // newer than that page, then the held pushes, and stops holding.
        // It returns how many missed messages it raised. Under gate.
        private int EndCatchUp(HistoryPage page, List<ChatMessage> missed)
        {
            int caughtUp = 0;
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
                latestKnownId = MessageIds.Max(latestKnownId, floorId);
            }
            else
            {
                foreach (ChatMessage m in missed)
                {
                    if (MessageIds.Compare(m.Id, floorId) > 0 && Deliver(m))
                    {
                        caughtUp++;
                    }
                }
            }
            foreach (ChatMessage m in pending)
            {
                Deliver(m);
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
            latestKnownId = MessageIds.Max(latestKnownId, m.Id);
            Post(() => Raise(MessageReceived, m));
            return true;
        }

        // FindSentAsync looks for a stored copy of this send: a message of
        // this user with this text, after the checkpoint (with overlap), not
        // seen before the send began, not returned by an earlier send. A
        // match is claimed, so that two failed sends of one text do not
        // both take it. Throws ChatException when the history cannot be read.
        private async Task<ChatMessage> FindSentAsync(string checkpoint, long seenMark, string text, CancellationToken cancellationToken)
        {
            string after = MessageIds.Rewind(checkpoint, options.CatchUpOverlap, null);
            string me = UserId;
            for (int i = 0; i < options.CatchUpMaxPages; i++)
            {
                HistoryPage p = await GetPageAsync(options.CatchUpPageSize, null, after, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
                lock (gate)
                {
                    foreach (ChatMessage m in p.Messages)
                    {
                        if (m.UserId == me && m.Text == text &&
                            !seen.AddedBefore(m.Id, seenMark) && !claimed.Contains(m.Id))
                        {
                            claimed.Add(m.Id);
                            latestKnownId = MessageIds.Max(latestKnownId, m.Id);
                            return m;
                        }
                    }
                }
                if (!p.HasMore || p.Messages.Count == 0)
                {
                    return null;
                }
                after = p.Messages[p.Messages.Count - 1].Id;
            }
            throw new ChatException(ChatError.Unavailable, "too much history since the send to check it");
        }

        private async Task<string> NewestIdAsync(CancellationToken cancellationToken)
        {
            HistoryPage p = await GetPageAsync(1, null, null, options.SendMaxAttempts, cancellationToken).ConfigureAwait(false);
            string newest = p.Messages.Count > 0 ? p.Messages[p.Messages.Count - 1].Id : MessageIds.Zero;
            lock (gate)
            {
                latestKnownId = MessageIds.Max(latestKnownId, newest);
            }
            return newest;
        }
    }
}
