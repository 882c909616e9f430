package httperror

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestJSON(t *testing.T) {
	cases := []struct {
		name        string
		handler     http.HandlerFunc
		status      int
		contentType string
		body        string
	}{
		{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			404, "application/json; charset=utf-8", `{"error":{"code":"not_found","message":"page not found"}}`},
		{"first line of a long text", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "An error has occurred while serving metrics:\n\ndetails", 500)
		}, 500, "application/json; charset=utf-8", `{"error":{"code":"internal","message":"An error has occurred while serving metrics:"}}`},
		{"no body, no type", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
			503, "application/json; charset=utf-8", `{"error":{"code":"unavailable","message":"service unavailable"}}`},
		{"JSON passes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(409)
			w.Write([]byte(`{"error":{"code":"conflict","message":"x"}}`))
		}, 409, "application/json", `{"error":{"code":"conflict","message":"x"}}`},
		{"success passes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("page"))
		}, 200, "text/html", "page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			JSON(c.handler).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			if rec.Code != c.status || rec.Header().Get("Content-Type") != c.contentType || rec.Body.String() != c.body {
				t.Errorf("got %d %q %s, want %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.status, c.contentType, c.body)
			}
		})
	}
}
