// The clients against a node of the cluster: the original client's wire
// format with members of its room on another node, and the Go client
// moved by a load balancer to another node when its own dies.

package main

import "testing"

// TestClusterOriginalClientFlow: the original client's session on node 0
// of a cluster of two, the second member of its room on node 1, who gets
// the same pushes in the original's format; the users a send answers
// with are the cluster's. The original client hears of joins and leaves
// on another node as it does on one: in the users of its next send's
// answer, never as a frame it does not know.
func TestClusterOriginalClientFlow(t *testing.T) {
	nodes, _ := startCluster(t, 2, ServeConfig{})
	originalFlow(t, nodes[0].URL, nodes[1].URL, "roomA", "roomB")

	const room = "roomC"
	here := dial(t, nodes[0].URL, "here", originalQuery("3001", room))
	there := dial(t, nodes[1].URL, "there", originalQuery("3002", room))
	originalSend(t, nodes[0].URL, room, "3001", "Dan", "who is here?", "3001", "3002")
	checkPush(here, room, "3001", "Dan", "who is here?")
	checkPush(there, room, "3001", "Dan", "who is here?")
	there.close()
	eventually(t, "node 0 lists the member on node 1 gone", func() bool { return len(getUsers(t, nodes[0].URL, room)) == 1 })
	originalSend(t, nodes[0].URL, room, "3001", "Dan", "alone?", "3001")
	checkPush(here, room, "3001", "Dan", "alone?") // no leave frame before it
}
