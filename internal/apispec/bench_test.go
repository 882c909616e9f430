package apispec

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkCheck is the cost the validation adds to one REST exchange of
// the end-to-end tests (a send and its answer).
func BenchmarkCheck(b *testing.B) {
	start := time.Now()
	spec, err := OpenAPI()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("parsing the document took %v", time.Since(start))
	reqBody := []byte(`{"room_id":"lobby","text":"Hello World","user_id":"42","name":"Ada"}`)
	respBody := []byte(`{"users":[{"connection_id":"Zq3VYb1kPl0sW9e=","room_id":"lobby","user_id":"7","timestamp":1}],"message":` + goodMessage + `,"delivered":1}`)
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:8080/chat/", strings.NewReader(string(reqBody)))
	req.Header.Set("Content-Type", "application/json")
	resp := &http.Response{StatusCode: 200, Header: http.Header{
		"Content-Type":                {"application/json; charset=utf-8"},
		"Access-Control-Allow-Origin": {"*"},
	}}
	for b.Loop() {
		if err := spec.Check(req, reqBody, resp, respBody); err != nil {
			b.Fatal(err)
		}
	}
}
