// The harness's checks of reconnecting after the server restarts (--away N,
// see Program.cs): it prints READY-FOR-RESTART for its driver
// (scripts/unity-harness.sh, cmd/chatapp/unity_test.go), waits for both
// clients to reconnect, and checks the catch-up of the messages sent while
// they were away, then a live room.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal sealed partial class Run
    {
        private async Task Restart(ChatClient a, ChatClient b, Recorder ra, Recorder rb)
        {
            // Wait out the messages of the checks above, so that the
            // away messages are the only ones sent while the server is away.
            await Task.Delay(200);
            Program.Say("READY-FOR-RESTART room=" + room);
            await Program.Check("reconnect after the server restarts", async () =>
            {
                DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (ra.Count(ra.Connects, i => i.Reconnected) == 0 || rb.Count(rb.Connects, i => i.Reconnected) == 0)
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new CheckFailed("not reconnected within 30 s: A " + a.State + ", B " + b.State);
                    }
                    await Task.Delay(20);
                }
                Program.Say("RECONNECTED");
                // The server stays away longer than the first delay (0.1 s at most).
                Program.Expect(ra.Count(ra.Reconnects, i => i.Attempt >= 2) >= 1 && rb.Count(rb.Reconnects, i => i.Attempt >= 2) >= 1,
                    "a failed attempt and a retry for each client");
                Program.Expect(ra.Snapshot(ra.Connects).Last().Attempt >= 2, "A connected on a later attempt");
                Program.Equal(ChatConnectionState.Connected, a.State, "A state");
                Program.Equal(ChatConnectionState.Connected, b.State, "B state");
            });

            await Program.Check("messages sent while away arrive once, in order, by the catch-up", () =>
            {
                foreach (Recorder r in new[] { ra, rb })
                {
                    var got = r.Snapshot(r.Messages).Where(m => m.Text.StartsWith("away ", StringComparison.Ordinal)).ToList();
                    string want = string.Join("|", Enumerable.Range(1, away).Select(i => "away " + i));
                    Program.Equal(want, string.Join("|", got.Select(m => m.Text)), r.Name + "'s away messages");
                    ConnectedInfo c = r.Snapshot(r.Connects).Last();
                    Program.Equal(away, c.CaughtUp, r.Name + " caught up");
                }
                return Task.FromResult(0);
            });

            await Program.Check("live after reconnect, REST and WebSocket", async () =>
            {
                await a.SendOverWebSocketAsync("after restart over WebSocket");
                await rb.Got("after restart over WebSocket");
                SendResult r = await b.SendAsync("after restart over REST");
                Program.Equal(r.Message.Id, (await ra.Got("after restart over REST")).Id, "A gets B's REST send");
                IList<ChatMember> users = await a.GetMembersAsync();
                Program.Equal(2, users.Count, "members after reconnect: " + string.Join(",", users.Select(u => u.UserId)));
            });
        }
    }
}
