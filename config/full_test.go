package config

import (
	"os"
	"reflect"
	"testing"
	"time"
)

// TestFullFile reads testdata/config/valid/full.yaml, which sets every key
// of the contract, and checks each parsed value.
func TestFullFile(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/testdata/config/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseWithEnv("full.yaml", data, lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen: "127.0.0.1:8081",
		TLS: &TLS{
			Listen: ":8444",
			ACME: &ACME{
				Domains: []string{"app.example.com", "www.example.com"},
				Email:   "ops@example.com",
				CA:      "https://acme-staging-v02.api.letsencrypt.org/directory",
				CARoot:  "./testdata/pebble.minica.pem",
				Storage: "/var/lib/bridgeway/certs",
			},
			RedirectHTTP: ptr(false),
			HSTS:         &HSTS{MaxAge: Duration(17520 * time.Hour), IncludeSubdomains: true, Preload: true},
		},
		Admin: Admin{Listen: ptr("127.0.0.1:9191")},
		Log:   Log{Level: "debug", Format: "console", Access: ptr(false)},
		Limits: Limits{
			MaxConnections:      5000,
			MaxConnectionsPerIP: 50,
			MaxSessionsPerIP:    20,
			ReadHeaderTimeout:   Duration(5 * time.Second),
			BodyTimeout:         Duration(30 * time.Second),
			SendTimeout:         Duration(45 * time.Second),
			MaxHeaderBytes:      32 * 1024,
			MaxMessageBytes:     2000000,
			MaxBodyBytes:        512 * 1024,
			MaxTopics:           300,
			MaxTopicsPerIP:      7,
			MaxBatchMessages:    50,
			HTTP2MaxResets:      50,
		},
		ShutdownTimeout: Duration(20 * time.Second),
		Cluster:         &Cluster{Redis: "redis://127.0.0.1:6379/2"},
		Routes: []Route{
			{
				Path: "/chat",
				Upstream: Upstream{
					URL:            "ws://127.0.0.1:9001/chat",
					Kind:           KindWebSocket,
					Timeout:        Duration(10 * time.Second),
					Headers:        map[string]string{"X-Api-Key": testEnv["BW_TEST_KEY"], "X-Static": "plain"},
					ForwardHeaders: []string{"Cookie", "Authorization"},
					Subprotocols:   []string{"v12.stomp", "v11.stomp"},
					Reconnect:      Reconnect{Min: Duration(250 * time.Millisecond), Max: Duration(time.Minute)},
					Split:          SplitNone,
				},
				Mode:         ModeSession,
				Transports:   []string{"websocket", "sse", "longpoll"},
				Buffer:       256,
				SessionTTL:   ptr(Duration(45 * time.Second)),
				Heartbeat:    Duration(20 * time.Second),
				PollTimeout:  Duration(20 * time.Second),
				IdleClose:    ptr(Duration(10 * time.Second)),
				Snapshot:     ptr(false),
				ClientSend:   false,
				Origins:      []string{"https://app.example.com"},
				SlowClient:   SlowDisconnect,
				SSEPadding:   2048,
				PollMaxBytes: DefaultPollMaxBytes,
			},
			{
				Path: "/prices/{symbol}",
				Upstream: Upstream{
					URL:       "http://127.0.0.1:9002/prices?s={symbol}",
					Kind:      KindPoll,
					Interval:  Duration(time.Second),
					Timeout:   Duration(5 * time.Second),
					Reconnect: Reconnect{Min: DefaultReconnectMin, Max: DefaultReconnectMax},
					Split:     SplitJSONArray,
				},
				Mode:         ModeBroadcast,
				Transports:   []string{"sse", "poll", "stream", "jsonp"},
				Buffer:       DefaultBuffer,
				SessionTTL:   ptr(DefaultSessionTTL),
				Heartbeat:    DefaultHeartbeat,
				PollTimeout:  DefaultPollTimeout,
				IdleClose:    ptr(DefaultIdleClose),
				Snapshot:     ptr(true),
				ClientSend:   true,
				Origins:      []string{"*"},
				SlowClient:   SlowDropOldest,
				PollMaxBytes: DefaultPollMaxBytes,
			},
		},
		Path: "full.yaml",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parsed config differs\n got: %s\nwant: %s", dump(c), dump(want))
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/testdata/config/valid/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseWithEnv("anchors.yaml", data, lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 3 {
		t.Fatalf("got %d routes", len(c.Routes))
	}
	chat, chat2, chat3 := c.Routes[0], c.Routes[1], c.Routes[2]
	if chat.Heartbeat.D() != 30*time.Second || chat.Buffer != 64 {
		t.Errorf("chat: own key must override the merged one, merged keys fill the rest: heartbeat %v buffer %d", chat.Heartbeat, chat.Buffer)
	}
	if chat2.Upstream.URL != "ws://127.0.0.1:9001/chat" || chat2.Upstream.Reconnect.Max.D() != 10*time.Second {
		t.Errorf("chat2: alias not followed: %+v", chat2.Upstream)
	}
	if chat3.Path != "/chat3" || chat3.Heartbeat.D() != 30*time.Second || chat3.Upstream.URL != chat.Upstream.URL {
		t.Errorf("chat3: merge of a route anchor: %+v", chat3)
	}
}

func dump(c *Config) string {
	b, err := Marshal(c)
	if err != nil {
		return err.Error()
	}
	return "\n" + string(b)
}
