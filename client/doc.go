// Package client is a Go client of the chatapp API: it chats in one room
// against a local `chatapp serve` or a stage deployed on AWS, over the REST
// API (send, history, who is in the room) and the WebSocket API (live
// messages, presence, send).
//
// Dial connects and returns once the WebSocket is open. From then on every
// message of the room arrives on one channel, once, and in id order (but
// for a message that AWS commits out of order, delivered when it comes),
// even across dropped connections: the client reconnects by itself with
// backoff and full jitter, and reads what it missed from the history before
// it delivers live messages again. It follows the client algorithm of
// docs/protocol.md, as the web page and the Unity package do.
//
//	api, ws := client.LocalURLs("http://127.0.0.1:8080")
//	c, err := client.Dial(ctx, client.Config{
//		APIURL: api, WebSocketURL: ws,
//		Room: "lobby", UserID: "42", Name: "Ada",
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	go func() {
//		for ev := range c.Events() { // closed by Close
//			if ev.Kind == client.KindMessage {
//				fmt.Printf("%s: %s\n", ev.Message.Name, ev.Message.Text)
//			}
//		}
//	}()
//	_, err = c.Send(ctx, "Hello World")
//
// On AWS the two URLs are the stage URLs of the two APIs:
// https://{id}.execute-api.{region}.amazonaws.com/dev/chat and
// wss://{id}.execute-api.{region}.amazonaws.com/dev.
//
// The wire protocol is described in docs/protocol.md.
package client
