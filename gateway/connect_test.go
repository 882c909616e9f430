package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatapp-dev/chatapp/gateway"
)

// TestConnectIsJSON404: a CONNECT to host:port has no path for the
// gateway's mux, which answered it with net/http's plain-text 404; the
// gateway's every error is JSON.
func TestConnectIsJSON404(t *testing.T) {
	srv := httptest.NewServer(gateway.New(gateway.Config{}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
		string(body) != `{"error":{"code":"not_found","message":"page not found"}}` {
		t.Errorf("CONNECT example.com:443: %d %q %s, want the JSON 404", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
