package main

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/gateway"
)

// TestRIEResponseOverLambdaPayloadIs502: under the runtime interface
// emulator (--functions rie) a function's response over Lambda's 6 MB
// payload quota is refused by the emulator itself, as Lambda refuses it:
// the runtime's post gets 413 and the function fails, and the gateway
// answers the REST client 502. The boundary is the gateway's own for
// in-process functions (gateway.MaxResponsePayloadBytes, counted on the
// response as JSON): testdata/bigresponse answers a body of ?bytes= bytes.
func TestRIEResponseOverLambdaPayloadIs502(t *testing.T) {
	url, _ := serveTestFunction(t, "bigresponse", 0)

	// {"statusCode":200,"headers":null,"multiValueHeaders":null,"body":""}
	const envelope = 68
	for _, c := range []struct {
		bytes, want int
	}{
		{10, http.StatusOK},
		{gateway.MaxResponsePayloadBytes - envelope, http.StatusOK},
		{gateway.MaxResponsePayloadBytes - envelope + 1, http.StatusBadGateway},
		{gateway.MaxResponsePayloadBytes - envelope, http.StatusOK}, // the function runs again
	} {
		resp, err := (&http.Client{Timeout: time.Minute}).Get(url + "/r?bytes=" + strconv.Itoa(c.bytes))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || c.want == http.StatusOK && n != int64(c.bytes) {
			t.Errorf("a body of %d bytes: %d with %d bytes, want %d", c.bytes, resp.StatusCode, n, c.want)
		}
	}
}
