package jsonerr

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The body keeps the bytes the proxy's answers had before they shared this
// package: encoding/json's escaping, so a reflected path cannot carry raw
// <, > or & into the answer.
func TestEncodeEscapesLikeEncodingJSON(t *testing.T) {
	got := string(Encode("route_not_found", "no route matches /<a>&\"\u2028\x01"))
	want := `{"error":"route_not_found","message":"no route matches /\u003ca\u003e\u0026\"\u2028\u0001"}` + "\n"
	if got != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
}

func TestWriteSetsStatusHeadersAndBody(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "1")
	Write(rec, http.StatusServiceUnavailable, "shutting_down", "retry shortly")
	body := `{"error":"shutting_down","message":"retry shortly"}` + "\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != body {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	want := map[string]string{
		"Content-Type":           "application/json",
		"Content-Length":         "52",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Retry-After":            "1",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestResponseIsAWholeHTTPResponse(t *testing.T) {
	got := string(Response(429, "too_many", "slow down", "Retry-After: 1\r\n"))
	want := "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n" +
		"Connection: close\r\nContent-Length: 43\r\n\r\n" +
		`{"error":"too_many","message":"slow down"}` + "\n"
	if got != want {
		t.Fatalf("Response =\n%q\nwant\n%q", got, want)
	}
}
