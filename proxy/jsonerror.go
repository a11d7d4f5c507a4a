package proxy

import (
	"encoding/json"
	"net/http"
)

// errorBody is the JSON shape of every error bridgeway answers itself.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteJSONError answers {"error":code,"message":message} with status.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(errorBody{Error: code, Message: message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// rawJSONResponse is a complete HTTP/1.1 response written straight to a
// connection (no http.Server involved), always ending the connection.
func rawJSONResponse(status int, code, message string, extraHeaders string) []byte {
	body, _ := json.Marshal(errorBody{Error: code, Message: message})
	body = append(body, '\n')
	head := "HTTP/1.1 " + itoa(status) + " " + http.StatusText(status) + "\r\n" +
		"Content-Type: application/json\r\n" +
		extraHeaders +
		"Connection: close\r\n" +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}
