// Command chatapp runs the chat: `chatapp serve` starts the whole system on
// one machine (local API Gateway, the Lambda handlers in process, the
// embedded store and the web page).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `chatapp: a serverless chat backend, on AWS or on one machine.

Usage:
  chatapp serve [flags]   run the API Gateway emulator, the handlers, the store and the web page
  chatapp chat [flags]    chat in a room from the terminal
  chatapp token [flags]   print a development token for a serve started with --auth-secret

Run "chatapp serve -h" or "chatapp chat -h" for their flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chatapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "chat":
		return runChat(ctx, args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
