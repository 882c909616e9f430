package gateway

import (
	"crypto/rand"
	"encoding/hex"
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newConnectionID returns an id shaped like API Gateway's ("L0SM9cOFvHcCIhw="):
// 15 characters and a trailing "=", so clients and the Management API
// client meet the same "=" they meet on AWS. The first are prefix (a
// cluster node's tag, Config.ConnectionIDPrefix), the rest random.
func newConnectionID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	for i := range 15 {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	copy(b[:15], prefix)
	b[15] = '='
	return string(b)
}

// newRequestID returns a UUID-shaped request id.
func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
