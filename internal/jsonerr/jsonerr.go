// Package jsonerr writes the answers the gateway gives itself, to bad or
// unserviceable requests: {"error":CODE,"message":MESSAGE} and a newline.
// The proxy, the pass-through handler, the bridge and the client library's
// handler all answer through it, so the shape and headers exist once.
package jsonerr

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Body is the error object; tests decode answers into it.
type Body struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Encode returns {"error":code,"message":message} and a newline, escaped as
// encoding/json escapes (so <, > and & of a reflected path come out as
// \u003c, \u003e and \u0026).
func Encode(code, message string) []byte {
	b, _ := json.Marshal(Body{Error: code, Message: message})
	return append(b, '\n')
}

// Write answers status with Encode(code, message). Headers the caller set
// before (Retry-After, Allow, Connection) go out with it.
func Write(w http.ResponseWriter, status int, code, message string) {
	b := Encode(code, message)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Response returns a whole HTTP/1.1 response carrying Encode(code, message),
// for a connection no http.Server serves; it always ends the connection.
// extraHeaders is raw header lines, each ending in CRLF.
func Response(status int, code, message, extraHeaders string) []byte {
	b := Encode(code, message)
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n" +
		"Content-Type: application/json\r\n" +
		extraHeaders +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n"
	return append([]byte(head), b...)
}
