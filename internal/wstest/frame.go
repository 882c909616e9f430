// Package wstest builds WebSocket frames by hand, for tests that speak to
// the server below any client library: frames a library would refuse to
// send (a declared length it never sends, a 64-bit form of a small
// length, a reserved opcode).
package wstest

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// ClientFrame builds a masked client frame that declares length bytes of
// payload (in the 64-bit form when long64) and carries payload.
func ClientFrame(fin bool, op ws.OpCode, length uint64, long64 bool, payload []byte) []byte {
	b := []byte{byte(op)}
	if fin {
		b[0] |= 0x80
	}
	switch {
	case long64 || length > 0xffff:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), length)
	case length > 125:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(length))
	default:
		b = append(b, 0x80|byte(length))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], mask, 0)
	return b
}
