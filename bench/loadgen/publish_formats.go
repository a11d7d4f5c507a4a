package loadgen

import (
	"encoding/json"
	"fmt"
)

// Publish formats: how a payload becomes the body POSTed to a server's
// publish endpoint. The run ID is the channel name of the formats that name
// one, so every run has a fresh channel, as with nchan's {run} location.
const (
	// PublishBody POSTs the payload as the body (nchan's publisher location).
	PublishBody = "body"
	// PublishCentrifugo POSTs {"channel":RUN,"data":PAYLOAD} (Centrifugo's
	// server API, /api/publish).
	PublishCentrifugo = "centrifugo"
	// PublishPushpin POSTs one GRIP item for channel RUN with an SSE event
	// (http-stream) and a WebSocket text message (ws-message) to Pushpin's
	// HTTP control port (/publish/).
	PublishPushpin = "pushpin"
)

func validPublishFormat(f string) error {
	switch f {
	case "", PublishBody, PublishCentrifugo, PublishPushpin:
		return nil
	}
	return fmt.Errorf("fanout: unknown publish format %q (body, centrifugo or pushpin)", f)
}

type centrifugoPublish struct {
	Channel string `json:"channel"`
	Data    string `json:"data"`
}

type gripContent struct {
	Content string `json:"content"`
}

type gripFormats struct {
	HTTPStream gripContent `json:"http-stream"`
	WSMessage  gripContent `json:"ws-message"`
}

type gripItem struct {
	Channel string      `json:"channel"`
	Formats gripFormats `json:"formats"`
}

type gripPublish struct {
	Items []gripItem `json:"items"`
}

// publishBody is the request body and its content type for one payload.
func publishBody(format, channel string, payload []byte) ([]byte, string, error) {
	switch format {
	case PublishCentrifugo:
		b, err := json.Marshal(centrifugoPublish{Channel: channel, Data: string(payload)})
		return b, "application/json", err
	case PublishPushpin:
		p := string(payload)
		b, err := json.Marshal(gripPublish{Items: []gripItem{{Channel: channel, Formats: gripFormats{
			HTTPStream: gripContent{Content: "data: " + p + "\n\n"},
			WSMessage:  gripContent{Content: p},
		}}}})
		return b, "application/json", err
	}
	return payload, "text/plain", nil
}
