package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/client"
)

// Chat in the lobby of a local `chatapp serve`: print every message and
// connection change, and send one message.
func Example() {
	ctx := context.Background()
	api, ws := client.LocalURLs("http://127.0.0.1:8080")
	c, err := client.Dial(ctx, client.Config{
		APIURL:       api,
		WebSocketURL: ws,
		Room:         "lobby",
		UserID:       "42",
		Name:         "Ada",
		Backlog:      20, // start with the last 20 messages
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	go func() {
		// Drain the events until Close closes the channel.
		for ev := range c.Events() {
			switch ev.Kind {
			case client.KindMessage:
				fmt.Printf("%s: %s\n", ev.Message.Name, ev.Message.Text)
			case client.KindReconnecting:
				fmt.Printf("reconnecting (attempt %d, in %v): %v\n", ev.Attempt, ev.Delay, ev.Err)
			case client.KindConnected:
				fmt.Println("connected")
			}
		}
	}()

	m, err := c.Send(ctx, "Hello World")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored as", m.ID)
}

// Connect to a stage deployed on AWS, with join and leave events.
func ExampleDial_aws() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		APIURL:       "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/chat",
		WebSocketURL: "wss://def456.execute-api.eu-west-1.amazonaws.com/dev",
		Room:         "lobby",
		UserID:       "42",
		Name:         "Ada",
		Presence:     true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for ev := range c.Events() {
		if ev.Kind == client.KindJoin {
			fmt.Println(ev.Presence.Name, "joined")
		}
	}
}

// Read the whole history of a room, newest page first.
func ExampleClient_History() {
	ctx := context.Background()
	var c *client.Client // from Dial
	opts := client.HistoryOptions{Limit: 100}
	for {
		page, err := c.History(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range page.Messages { // oldest first within a page
			fmt.Println(m.ID, m.Name, m.Text)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
}

// Errors answered by the server are *client.Error, with the code and the
// HTTP status.
func ExampleError() {
	var c *client.Client // from Dial
	_, err := c.Send(context.Background(), "   ")
	var e *client.Error
	if errors.As(err, &e) && e.Code == chatapp.EINVALID {
		fmt.Println(e.StatusCode, e.Message) // 400 text is required
	}
}
