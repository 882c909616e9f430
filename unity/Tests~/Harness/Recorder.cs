// What one client's events said, for the checks to read: each handler adds
// to a list under a lock, and notes when two handlers ran at once (the client
// raises its events one at a time).
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    // Recorder keeps what one client's events said.
    internal sealed class Recorder
    {
        private readonly object gate = new object();
        public readonly string Name;
        public readonly List<ChatMessage> Messages = new List<ChatMessage>();
        public readonly List<PresenceEvent> Joins = new List<PresenceEvent>();
        public readonly List<ChatError> Errors = new List<ChatError>();
        public readonly List<ConnectedInfo> Connects = new List<ConnectedInfo>();
        public readonly List<ReconnectingInfo> Reconnects = new List<ReconnectingInfo>();
        public readonly List<DisconnectedInfo> Disconnects = new List<DisconnectedInfo>();
        private int inHandler;
        public bool Overlapped; // two handlers ran at once

        public Recorder(string name, ChatClient c)
        {
            Name = name;
            c.MessageReceived += m => Add(Messages, m);
            c.MemberJoined += p => Add(Joins, p);
            c.Error += e => Add(Errors, e);
            c.Connected += i => Add(Connects, i);
            c.Reconnecting += i =>
            {
                Program.Say("  " + name + " reconnecting: attempt " + i.Attempt + " in " + (int)i.Delay.TotalMilliseconds + " ms: " + i.Reason);
                Add(Reconnects, i);
            };
            c.Disconnected += i => Add(Disconnects, i);
        }

        private void Add<T>(List<T> list, T item)
        {
            if (Interlocked.Increment(ref inHandler) != 1)
            {
                Overlapped = true;
            }
            lock (gate)
            {
                list.Add(item);
            }
            Interlocked.Decrement(ref inHandler);
        }

        public int Count<T>(List<T> list, Func<T, bool> match)
        {
            lock (gate)
            {
                return list.Count(match);
            }
        }

        public List<T> Snapshot<T>(List<T> list)
        {
            lock (gate)
            {
                return new List<T>(list);
            }
        }

        // Got waits until a message with text arrived and checks that it
        // has arrived once so far (a later repeat fails the final check,
        // which compares every client's messages with the history).
        public async Task<ChatMessage> Got(string text)
        {
            await Program.Eventually(Name + " receives " + Program.Show(text), () => Count(Messages, m => m.Text == text) > 0).ConfigureAwait(false);
            List<ChatMessage> got = Snapshot(Messages).Where(m => m.Text == text).ToList();
            Program.Equal(1, got.Count, Name + "'s copies of " + Program.Show(text));
            return got[0];
        }
    }
}
