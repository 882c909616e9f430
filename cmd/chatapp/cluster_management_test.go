package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestClusterManagementAPIReachesEveryNode: a signed request to one node's
// /@connections/{id} reaches a connection on another node, for each of
// POST (the frame arrives), GET (the connection described) and DELETE
// (closed with 1000); once the connection is gone, each of them is 410
// GoneException, and so is a connection whose node no broker knows.
func TestClusterManagementAPIReachesEveryNode(t *testing.T) {
	nodes, _ := startCluster(t, 2, ServeConfig{})
	a, b := nodes[0], nodes[1]
	target := dial(t, b.URL, "target", originalQuery("target", "managed"))
	target.notChat() // the post below is no chat frame
	users := getUsers(t, a.URL, "managed")
	if len(users) != 1 || !b.node.Owns(users[0].ConnectionID) {
		t.Fatalf("the room's users are %+v, want one connection of node 1 (%s)", users, b.node.Tag())
	}
	connURL := a.URL + "/@connections/" + url.PathEscape(users[0].ConnectionID)

	if r := signedDo(t, a, http.MethodPost, connURL, `{"pushed":"across nodes"}`, nil); r.Status != http.StatusOK {
		t.Fatalf("POST on node 0 to node 1's connection: %d %s", r.Status, r.Body)
	}
	if got := string(target.next()); got != `{"pushed":"across nodes"}` {
		t.Errorf("the connection on node 1 got %s, want the post's body", got)
	}

	r := signedDo(t, a, http.MethodGet, connURL, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET on node 0 of node 1's connection: %d %s", r.Status, r.Body)
	}
	var info struct {
		ConnectedAt, LastActiveAt time.Time
		Identity                  struct{ SourceIp, UserAgent string }
	}
	decodeJSON(t, r.Body, &info)
	if since := time.Since(info.ConnectedAt); since < 0 || since > time.Minute || info.LastActiveAt.Before(info.ConnectedAt) || info.Identity.SourceIp != "127.0.0.1" {
		t.Errorf("GET described the connection as %s", r.Body)
	}
	var fields map[string]any
	decodeJSON(t, r.Body, &fields)
	checkKeys(t, "GET's answer", fields, "ConnectedAt", "Identity", "LastActiveAt")

	if r := signedDo(t, a, http.MethodDelete, connURL, nil, nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE on node 0 of node 1's connection: %d %s", r.Status, r.Body)
	}
	target.expectClose(websocket.StatusNormalClosure)

	eventually(t, "node 1 forgets the deleted connection", func() bool {
		return signedDo(t, a, http.MethodGet, connURL, nil, nil).Status == http.StatusGone
	})
	nowhere := a.URL + "/@connections/" + url.PathEscape("zzzz00000000000=") // a tag no node holds
	for _, u := range []string{connURL, nowhere} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			r := signedDo(t, a, method, u, nil, nil)
			if r.Status != http.StatusGone || r.Header.Get("X-Amzn-ErrorType") != "GoneException" {
				t.Errorf("%s %s: %d %s %s, want 410 GoneException", method, u, r.Status, r.Header.Get("X-Amzn-ErrorType"), r.Body)
			}
		}
	}
}
