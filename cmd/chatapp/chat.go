package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/chatapp-dev/chatapp/client"
)

const chatUsage = `Usage: chatapp chat [flags]

A terminal chat in one room of a chatapp server: a local "chatapp serve"
(--server) or a stage deployed on AWS (--api and --ws, the stack's outputs).
Enter sends, PgUp/PgDn scroll, Esc or Ctrl-C quits.

Without --user or a token, your user id is made once, from your name and a
random suffix, and kept in your config directory (chatapp/user-id), so that
every run and every terminal of yours is the same user. Delete the file for
a new id; --user uses another id without changing it.

Flags:
`

// chatConfig is what `chatapp chat` is started with.
type chatConfig struct {
	Server, API, WS string
	// Token is the bearer token for a server with auth on.
	Token string
	chatIdentity
}

func parseChatFlags(args []string, stdout, stderr io.Writer) (chatConfig, error) {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	// Help asked for goes to stdout, usage after a mistake to stderr.
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
		}
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), chatUsage)
		fs.PrintDefaults()
	}
	var cfg chatConfig
	fs.StringVar(&cfg.Server, "server", "http://127.0.0.1:8080", "a local chatapp serve; both URLs derive from it")
	fs.StringVar(&cfg.API, "api", "", "the REST API URL of a deployed stage, e.g. https://ID.execute-api.REGION.amazonaws.com/dev/chat (with --ws)")
	fs.StringVar(&cfg.WS, "ws", "", "the WebSocket API URL of a deployed stage, e.g. wss://ID.execute-api.REGION.amazonaws.com/dev (with --api)")
	fs.StringVar(&cfg.Room, "room", "lobby", "the room")
	fs.StringVar(&cfg.Name, "name", "", "your display name (default: $USER, else guest)")
	fs.StringVar(&cfg.UserID, "user", "", "your user id (default: the token's, else the one kept in "+userIDHelpPath()+")")
	fs.StringVar(&cfg.Token, "token", "", "a bearer token, for a server with auth on (default $CHATAPP_TOKEN; see chatapp token)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("CHATAPP_TOKEN")
	}
	if cfg.Token != "" {
		// The server takes who we are from the token; read it to show it.
		sub, name := tokenClaims(cfg.Token)
		cfg.UserID, cfg.Name = cmp.Or(cfg.UserID, sub), cmp.Or(name, cfg.Name)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("chat: unexpected arguments %q", fs.Args())
	}
	if (cfg.API == "") != (cfg.WS == "") {
		return cfg, errors.New("chat: --api and --ws go together")
	}
	if cfg.Name == "" {
		cfg.Name = cmp.Or(os.Getenv("USER"), "guest")
	}
	if cfg.UserID == "" {
		id, err := storedUserID(cfg.Name)
		if err != nil {
			return cfg, err
		}
		cfg.UserID = id
	}
	return cfg, nil
}

func (cfg chatConfig) clientConfig() client.Config {
	api, ws := cfg.API, cfg.WS
	if api == "" {
		api, ws = client.LocalURLs(cfg.Server)
	}
	return client.Config{
		APIURL:       api,
		WebSocketURL: ws,
		Room:         cfg.Room,
		UserID:       cfg.UserID,
		Name:         cfg.Name,
		Token:        cfg.Token,
		Presence:     true,
		Backlog:      100,
	}
}

func runChat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseChatFlags(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	c, err := client.Dial(ctx, cfg.clientConfig())
	if err != nil {
		msg := describeError(err).Long
		if errors.Is(err, syscall.ECONNREFUSED) && cfg.API == "" {
			msg += ": is chatapp serve running there? (--server says where)"
		}
		return fmt.Errorf("chat: %s", msg)
	}
	defer c.Close()
	p := tea.NewProgram(newChatModel(c, cfg.chatIdentity), tea.WithAltScreen(), tea.WithContext(ctx))
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted
	}
	return err
}

// tokenClaims reads a JWT's sub and name without verifying it: only the
// server can, and does.
func tokenClaims(token string) (sub, name string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", ""
	}
	var c struct {
		Sub  string `json:"sub"`
		Name string `json:"name"`
	}
	json.Unmarshal(payload, &c)
	return c.Sub, c.Name
}
