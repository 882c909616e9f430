// Event dispatch: the socket's frames to events (messages, presence,
// errors, the keepalive's answer), the connection state, and every event
// raised one at a time, in order, by the EventPump.
using System;
using System.Collections.Generic;

namespace ChatApp.Client
{
    public sealed partial class ChatClient
    {
        // OnFrame dispatches a frame of socket gen: any frame answers the
        // keepalive; then an error, a presence event or a message. Frames
        // of a replaced socket are ignored.
        private void OnFrame(int gen, string text)
        {
            Dictionary<string, object> o = null;
            string bad = null;
            try
            {
                o = ChatJson.ParseObject(text);
            }
            catch (FormatException e)
            {
                bad = e.Message;
            }
            lock (gate)
            {
                if (gen != generation)
                {
                    return;
                }
                if (pong != null)
                {
                    // Any frame answers the keepalive, not only the pong:
                    // on AWS a throttled ping gets an error frame, and a
                    // connection that delivers frames is alive.
                    pong.TrySetResult(true);
                }
                if (bad != null)
                {
                    Post(() => Raise(Error, new ChatError(ChatError.BadResponse, "frame is not a JSON object: " + bad)));
                    return;
                }
                ChatError err = ChatError.FromJson(o);
                if (err != null)
                {
                    AnswerSocketSend(gen, err);
                    Post(() => Raise(Error, err));
                    return;
                }
                string type = ChatJson.GetString(o, "type");
                if (type == "pong")
                {
                    return; // the keepalive's answer, taken above
                }
                if (type != null)
                {
                    PresenceEvent p = PresenceEvent.FromJson(o);
                    if (type == "join")
                    {
                        Post(() => Raise(MemberJoined, p));
                    }
                    else if (type == "leave")
                    {
                        Post(() => Raise(MemberLeft, p));
                    }
                    return; // other event types are for newer clients
                }
                ChatMessage m = ChatMessage.FromJson(o);
                if (m == null)
                {
                    Post(() => Raise(Error, new ChatError(ChatError.BadResponse, "unrecognized frame: " + Truncate(text))));
                    return;
                }
                ConfirmSocketSend(gen, m);
                DeliverPush(m);
            }
        }

        // SetState changes the state and queues StateChanged. Under gate.
        private void SetState(ChatConnectionState s)
        {
            if (state == s)
            {
                return;
            }
            state = s;
            Post(() => Raise(StateChanged, s));
        }

        private void Post(Action a)
        {
            pump.Post(a);
        }

        private static void Raise<T>(Action<T> handler, T arg)
        {
            if (handler != null)
            {
                handler(arg);
            }
        }

        private void ReportHandlerFailure(Exception e)
        {
            var handler = Error;
            if (handler == null)
            {
                return;
            }
            try
            {
                handler(new ChatError(ChatError.HandlerFailed, e.ToString()));
            }
            catch (Exception)
            {
                // The Error handler itself failed: nothing left to tell.
            }
        }
    }
}
