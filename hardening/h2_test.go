package hardening

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSignedFiles writes a certificate for 127.0.0.1 and its key.
func selfSignedFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// A minimal HTTP/2 client written by hand (frames and literal HPACK
// fields), so the test can send what a real client library refuses to.
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2GoAway       = 0x7
	h2FlagEndStrm  = 0x1
	h2FlagAck      = 0x1
	h2FlagEndHdrs  = 0x4
	h2ClientPreamb = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

// hpackInt appends an HPACK integer with an n-bit prefix (RFC 7541 5.1).
func hpackInt(b []byte, first byte, n uint, v int) []byte {
	max := 1<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	for v -= max; v >= 128; v >>= 7 {
		b = append(b, byte(v%128+128))
	}
	return append(b, byte(v))
}

// hpackLiteral is a literal field without indexing, new name, no Huffman.
func hpackLiteral(b []byte, name, value string) []byte {
	b = append(b, 0x00)
	b = hpackInt(b, 0, 7, len(name))
	b = append(b, name...)
	b = hpackInt(b, 0, 7, len(value))
	return append(b, value...)
}

// h2Request opens an HTTP/2 connection to addr, sends one request made of
// the given header fields (in order, not validated) and DATA frames, and
// reports how stream 1 ended: 200 or 400 when the answer's :status is one
// of those (HPACK static entries), 0 for another status, -1 for
// RST_STREAM, GOAWAY or a closed connection.
func h2Request(t *testing.T, addr string, fields [][2]string, data ...[]byte) int {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("tls: %v", err)
	}
	defer conn.Close()
	if conn.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("h2 not negotiated")
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var hb []byte
	for _, f := range fields {
		hb = hpackLiteral(hb, f[0], f[1])
	}
	out := []byte(h2ClientPreamb)
	out = append(out, h2Frame(h2Settings, 0, 0, nil)...)
	flags := byte(h2FlagEndHdrs)
	if len(data) == 0 {
		flags |= h2FlagEndStrm
	}
	out = append(out, h2Frame(h2Headers, flags, 1, hb)...)
	for i, d := range data {
		var f byte
		if i == len(data)-1 {
			f = h2FlagEndStrm
		}
		out = append(out, h2Frame(h2Data, f, 1, d)...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return -1
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		stream := uint32(hdr[5]&0x7f)<<24 | uint32(hdr[6])<<16 | uint32(hdr[7])<<8 | uint32(hdr[8])
		payload := make([]byte, n)
		if _, err := io.ReadFull(conn, payload); err != nil {
			return -1
		}
		switch {
		case typ == h2Settings && flags&h2FlagAck == 0:
			_, _ = conn.Write(h2Frame(h2Settings, h2FlagAck, 0, nil))
		case typ == h2RSTStream && stream == 1, typ == h2GoAway:
			return -1
		case typ == h2Headers && stream == 1 && n > 0:
			switch payload[0] { // an indexed :status from the static table
			case 0x88:
				return 200
			case 0x8c:
				return 400
			}
			return 0
		}
	}
}

// TestHTTP2SmugglingRefused: on the TLS listener (h2), requests that an
// HTTP/1.1 downgrade could turn into two requests are refused (RST_STREAM
// or 400) and never reach the upstream: a DATA frame longer than the
// declared content-length holding a hidden request, a transfer-encoding
// header, CR/LF in a header value, a request line smuggled in :path.
func TestHTTP2SmugglingRefused(t *testing.T) {
	app := newHTTPApp(t)
	certFile, keyFile := selfSignedFiles(t)
	g := startGateway(t, "tls: {listen: 127.0.0.1:0, cert_file: "+certFile+", key_file: "+keyFile+", redirect_http: false}\n"+
		passthroughYAML(app.srv.URL))
	tlsAddr := g.srv.TLSAddr()
	hidden := "GET /app/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	base := func(method, path string, extra ...[2]string) [][2]string {
		f := [][2]string{{":method", method}, {":scheme", "https"}, {":authority", "x"}, {":path", path}}
		return append(f, extra...)
	}
	cases := []struct {
		name   string
		fields [][2]string
		data   [][]byte
	}{
		{"H2.CL", base("POST", "/app/cl", [2]string{"content-length", "5"}), [][]byte{[]byte("hello" + hidden)}},
		{"H2.TE", base("POST", "/app/te", [2]string{"transfer-encoding", "chunked"}), [][]byte{[]byte("0\r\n\r\n" + hidden)}},
		{"CRLF in a header value", base("GET", "/app/crlf", [2]string{"x-a", "a\r\nx-injected: 1"}), nil},
		{"request line in :path", base("GET", "/app/p HTTP/1.1\r\nHost: x\r\n\r\n"+hidden), nil},
		{"connection header", base("GET", "/app/conn", [2]string{"connection", "close"}), nil},
		{"upgrade header", base("GET", "/app/up", [2]string{"upgrade", "websocket"}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := h2Request(t, tlsAddr, tc.fields, tc.data...); got != -1 && got != 400 {
				t.Errorf("answer %d, want RST_STREAM or 400", got)
			}
		})
	}
	// A well-formed h2 request is served (the test's client works).
	if got := h2Request(t, tlsAddr, base("POST", "/app/ok", [2]string{"content-length", "2"}), []byte("ok")); got != 200 {
		t.Errorf("valid h2 request answered %d", got)
	}
	for _, r := range app.seen() {
		if r.uri == "/app/ok" && r.body == "ok" {
			continue
		}
		if strings.Contains(r.uri, "smuggled") || r.header.Get("X-Injected") != "" || r.bodyErr == nil {
			t.Errorf("upstream received %s %s (body %q, err %v)", r.method, r.uri, r.body, r.bodyErr)
		}
	}
}
