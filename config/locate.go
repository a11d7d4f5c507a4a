package config

import (
	"errors"
	"os"
)

// KeyError is a problem with a config value that shows only when the value
// is used (a certificate file that cannot be read, a listen address in
// use). Key is the value's path as messages name it ("tls.cert_file").
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Locate turns err into a config *Error when it is or wraps a *KeyError:
// "FILE:LINE:COL: key: problem" at the key's value in the file at path
// (read again), or at 1:1 when the file leaves the key at its default. ok
// is false for other errors.
func Locate(path string, err error) (located *Error, ok bool) {
	var ke *KeyError
	if !errors.As(err, &ke) {
		return nil, false
	}
	p, found := keyPosition(path, ke.Key)
	if !found {
		p = pos{1, 1}
	}
	return &Error{File: path, Line: p.line, Col: p.col, Msg: ke.Error()}, true
}

// keyPosition is where the file at path gives key a value.
func keyPosition(path, key string) (pos, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return pos{}, false
	}
	d := newDecoder(path, os.LookupEnv)
	if !d.decodeDocument(data, &Config{}) {
		return pos{}, false
	}
	p, found := d.seen[key]
	return p, found
}
