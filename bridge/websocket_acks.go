package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// A session WebSocket opened with ?format=json&acks=1 takes send frames
// instead of the app's raw frames, so a send can carry the session's seq:
//
//	{"seq":N,"data":"text"}                  one text message
//	{"seq":N,"data":"AQID","binary":true}    one binary message (base64)
//	{"seq":N,"messages":["a","b"]}           several text messages, in order
//
// seq is the same per-session number as POST /send's (one sequence space,
// one dedupe), so a send tried over WebSocket and retried over POST after
// a cut reaches the upstream once. Once the messages were handed to the
// upstream (or the seq was already acknowledged), the gateway answers
// {"ack":N}; the client keeps what is not acknowledged and sends it again
// after it resumes, on whatever transport.

var errBadAcks = errorf(http.StatusBadRequest, "bad_acks", "acks=1 needs format=json on a session-mode route")

// wsCloseError ends a client connection with a close code of its own.
type wsCloseError struct {
	code   int
	reason string
}

func (e *wsCloseError) Error() string { return strconv.Itoa(e.code) + " " + e.reason }

var (
	errSendFrameKind = &wsCloseError{websocket.CloseUnsupportedData, "acks=1: send frames are JSON text"}
	errSendFrame     = &wsCloseError{websocket.CloseInvalidFramePayloadData, `bad send frame: want {"seq":N,"data":".."} or {"seq":N,"messages":[..]}`}
	errSendFrameSeq  = &wsCloseError{websocket.CloseInvalidFramePayloadData, "bad send frame: seq must be a non-negative integer"}
	errSendFrameMany = &wsCloseError{websocket.ClosePolicyViolation, "too many messages"}
	errSendFrameBig  = &wsCloseError{websocket.CloseMessageTooBig, "message too large"}
)

// acksQuery reads ?acks: "" (off) or "1", which needs ?format=json and a
// session (broadcast topics have no seq to dedupe by).
func (h *RouteHandler) acksQuery(v string, jsonFormat bool) (bool, *apiError) {
	switch {
	case v == "":
		return false, nil
	case v != "1" || !jsonFormat || h.set().broadcast:
		return false, errBadAcks
	}
	return true, nil
}

// sendFrameLimit is the read limit of an acks=1 connection: a POST body's,
// or room for the largest binary message in base64 if that is more.
func (h *RouteHandler) sendFrameLimit() int64 {
	set := h.set()
	return max(set.maxBodyBytes, 4*((set.maxMessageBytes+2)/3)+1024)
}

type sendFrame struct {
	Seq      *json.Number `json:"seq"`
	Data     *string      `json:"data"`
	Binary   bool         `json:"binary"`
	Messages []string     `json:"messages"`
}

// parseSendFrame turns one acks=1 frame into its seq (-1: none) and
// messages, with their payload size.
func (h *RouteHandler) parseSendFrame(kind int, data []byte) (seq int64, msgs []msg.Message, size int, err error) {
	if kind != websocket.TextMessage {
		return 0, nil, 0, errSendFrameKind
	}
	var f sendFrame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if dec.Decode(&f) != nil || dec.More() || (f.Data == nil) == (f.Messages == nil) || (f.Binary && f.Data == nil) {
		return 0, nil, 0, errSendFrame
	}
	seq = -1
	if f.Seq != nil {
		n, err := strconv.ParseInt(f.Seq.String(), 10, 64)
		if err != nil || n < 0 {
			return 0, nil, 0, errSendFrameSeq
		}
		seq = n
	}
	set := h.set() // one load per frame, not one per message
	if !f.Binary {
		texts, limit := f.Messages, set.maxBatch
		if f.Data != nil {
			texts, limit = []string{*f.Data}, 1
		}
		var werr *wsCloseError
		msgs, size, werr = textMessages(texts, limit, set.maxMessageBytes, errSendFrameMany, errSendFrameBig)
		if werr != nil {
			return 0, nil, 0, werr
		}
		return seq, msgs, size, nil
	}
	b, derr := base64.StdEncoding.DecodeString(*f.Data)
	if derr != nil {
		return 0, nil, 0, errSendFrame
	}
	if int64(len(b)) > set.maxMessageBytes {
		return 0, nil, 0, errSendFrameBig
	}
	return seq, []msg.Message{{Data: b, Binary: true}}, len(b), nil
}

// forwardAcked sends one acks=1 frame's messages to the session's upstream,
// once per seq, then acknowledges the seq.
func (c *wsClient) forwardAcked(ctx context.Context, kind int, data []byte) error {
	seq, msgs, n, err := c.h.parseSendFrame(kind, data)
	if err != nil {
		return err
	}
	s := c.a.sess
	if err := s.send(ctx, seq, batchOf(msgs)); err != nil {
		return err
	}
	s.countIn(len(msgs), n)
	c.a.tm.messagesIn.Add(float64(len(msgs)))
	c.a.tm.bytesIn.Add(float64(n))
	if seq < 0 {
		return nil
	}
	ack := strconv.AppendInt([]byte(`{"ack":`), seq, 10)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteMessage(websocket.TextMessage, append(ack, '}'))
}
