package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
)

var (
	errClusterUnavailable = errorf(http.StatusServiceUnavailable, "cluster_unavailable", "the cluster state (Redis) is unreachable; retry shortly")
	errInboxFull          = errorf(http.StatusTooManyRequests, "send_queue_full", "too many messages are waiting for the upstream; retry shortly")
)

// topicLogGrace keeps a topic's keys this long after idle_close, so a
// subscriber that comes back soon resumes the same incarnation.
const topicLogGrace = 30 * time.Second

// openShared joins the cluster-wide topic: its log is in Redis, and one
// instance of the cluster (maybe this one) holds the upstream.
func (t *topic) openShared(req *request) {
	h := t.h
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	opts := h.upstreamOptions(req, true)
	name := cluster.TopicName(h.route.Path, t.key)
	set := h.set()
	tp, err := h.bridge.cluster.JoinTopic(req.r.Context(), name, cluster.TopicOptions{
		Log: cluster.LogOptions{
			Capacity: set.buffer,
			MaxBytes: set.logBytes,
			TTL:      set.idleClose + topicLogGrace,
			OnEvict:  func(n int) { h.metrics.drops.Add(float64(n)) },
		},
		SkipRepeat: h.route.Upstream.Kind == config.KindPoll,
		Hold: func(ctx context.Context, sink msg.Sink, lastEventID string) msg.CloseInfo {
			o := opts
			o.Header = opts.Header.Clone()
			if lastEventID != "" {
				o.Header.Set("Last-Event-ID", lastEventID)
			}
			conn, err := upstream.Dial(ctx, o)
			if err != nil {
				h.metrics.dialFailures.Inc()
				h.log.Warn("topic upstream dial failed", zap.Error(err))
				return msg.CloseInfo{Code: closeBadGateway, Reason: "upstream dial failed"}
			}
			defer conn.Close()
			if h.set().clientSend {
				// client_send: sends from every instance reach this holder.
				in, err := h.bridge.cluster.OpenTopicInbox(ctx, name, conn.Send)
				if err != nil {
					h.log.Warn("topic inbox not opened; client sends refused", zap.Error(err))
				} else {
					defer in.Close()
				}
			}
			return conn.Run(ctx, sink)
		},
	})
	if err != nil {
		h.log.Warn("joining cluster topic failed", zap.Error(err))
		if errors.Is(err, cluster.ErrUnavailable) {
			t.abandon(errClusterUnavailable, cancel)
		} else {
			t.abandon(errUpstream, cancel)
		}
		return
	}
	t.shared = tp
	t.log = tp.Log()
	h.metrics.topicsOpen.Inc()
	close(t.ready)
	go func() {
		defer h.runs.Done()
		select {
		case <-tp.Log().Done():
			// The upstream ended for good (on whichever instance held it):
			// the next subscriber opens a fresh incarnation.
			t.end("upstream ended")
		case <-ctx.Done():
		}
	}()
}

// sendShared queues client messages for whichever instance holds the
// topic's upstream (client_send in cluster mode).
func (t *topic) sendShared(ctx context.Context, msgs []msg.Message) error {
	err := t.h.bridge.cluster.SendTopic(ctx, t.shared.Name(), msgs)
	if errors.Is(err, cluster.ErrSessionNotFound) {
		return upstream.ErrNotConnected // no holder right now: retry shortly
	}
	return err
}
