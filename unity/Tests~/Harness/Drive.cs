// The harness's driven mode, for TestUnityClientAlgorithm
// (cmd/chatapp/algorithm_unity_test.go), which runs docs/protocol.md's
// client algorithm scenario against the package:
//
//   mono harness.exe --drive ROOM http://127.0.0.1:PORT
//
// One client, user "ada" named "Ada", in ROOM, with the default options. It
// prints one line per event, flushed:
//
//   CONNECTED, RECONNECTED     connected (and caught up), the first time or again
//   MSG ID "TEXT"              a message delivered, TEXT as a JSON string; the
//                              first page's messages first, in its order
//   ERROR CODE MESSAGE         the Error event
//   SENT | SEND-FAILED WHY     the answer to a send-ws command
//
// and reads commands from stdin, one a line:
//
//   send-ws TEXT   wait until connected, then SendOverWebSocketAsync(TEXT)
//   quit           close the client and exit (as does the end of stdin)
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using ChatApp.Client;

namespace ChatApp.Client.Harness
{
    internal static class Drive
    {
        // ConnectWait bounds a send-ws command's wait for the connection.
        private static readonly TimeSpan ConnectWait = TimeSpan.FromSeconds(20);

        public static async Task RunAsync(string url, string room)
        {
            ChatClientOptions o = ChatClientOptions.ForServer(url, room, "ada", "Ada");
            using (var c = new ChatClient(o))
            {
                // Messages raised before ConnectAsync returns its page wait
                // for the page's lines: the page is the older part.
                var gate = new object();
                List<string> early = new List<string>();
                c.MessageReceived += m =>
                {
                    string line = Line(m);
                    lock (gate)
                    {
                        if (early != null)
                        {
                            early.Add(line);
                            return;
                        }
                    }
                    Program.Say(line);
                };
                c.Connected += i => Program.Say(i.Reconnected ? "RECONNECTED" : "CONNECTED");
                c.Error += e => Program.Say("ERROR " + e.Code + " " + OneLine(e.Message));
                c.Reconnecting += i => Program.Say("RECONNECTING attempt " + i.Attempt + " in " + (int)i.Delay.TotalMilliseconds + " ms: " + OneLine(i.Reason));
                c.Disconnected += i => Program.Say("DISCONNECTED " + OneLine(i.Reason));

                HistoryPage page = await c.ConnectAsync().ConfigureAwait(false);
                lock (gate)
                {
                    foreach (ChatMessage m in page.Messages)
                    {
                        Program.Say(Line(m));
                    }
                    foreach (string line in early)
                    {
                        Program.Say(line);
                    }
                    early = null;
                }

                string command;
                while ((command = Console.In.ReadLine()) != null && command != "quit")
                {
                    const string sendWS = "send-ws ";
                    if (command.StartsWith(sendWS, StringComparison.Ordinal))
                    {
                        Program.Say(await SendOverWebSocketAsync(c, command.Substring(sendWS.Length)).ConfigureAwait(false));
                    }
                    else
                    {
                        Program.Say("UNKNOWN-COMMAND " + OneLine(command));
                    }
                }
                await c.CloseAsync().ConfigureAwait(false);
            }
        }

        // SendOverWebSocketAsync waits until c is connected and sends text
        // on its socket; it returns the answer line.
        private static async Task<string> SendOverWebSocketAsync(ChatClient c, string text)
        {
            DateTime deadline = DateTime.UtcNow + ConnectWait;
            while (true)
            {
                if (c.State == ChatConnectionState.Connected)
                {
                    try
                    {
                        await c.SendOverWebSocketAsync(text).ConfigureAwait(false);
                        return "SENT";
                    }
                    catch (ChatException e)
                    {
                        if (e.Code != ChatError.NotConnected)
                        {
                            return "SEND-FAILED " + e.Code + " " + OneLine(e.Message);
                        }
                        // Lost between the check and the send: wait again.
                    }
                    catch (Exception e)
                    {
                        return "SEND-FAILED " + OneLine(e.ToString());
                    }
                }
                if (DateTime.UtcNow > deadline)
                {
                    return "SEND-FAILED not connected within " + ConnectWait.TotalSeconds + " s (" + c.State + ")";
                }
                await Task.Delay(20).ConfigureAwait(false);
            }
        }

        private static string Line(ChatMessage m)
        {
            return "MSG " + m.Id + " " + ChatJson.Quote(m.Text);
        }

        private static string OneLine(string s)
        {
            return (s ?? "").Replace("\r", " ").Replace("\n", " ");
        }
    }
}
