package bridge

import (
	"net/http"
	"sync"
)

var (
	errTooManyTopics = errorf(http.StatusServiceUnavailable, "too_many_topics", "the gateway has max_topics broadcast topics open; join an open one or retry later")
	errTopicsPerIP   = errorf(http.StatusTooManyRequests, "too_many_topics_per_ip", "this address opened max_topics_per_ip broadcast topics that are still open; retry later")
)

// topicBudget caps the broadcast topics open at once, across the bridge's
// routes (limits.max_topics), and the open topics each client address
// caused to be opened (limits.max_topics_per_ip; 0: no cap). Each topic
// holds an upstream socket until idle_close, so a place is reserved
// before the dial and given back when the topic ends: concurrent opens
// cannot overshoot. The address is the TCP peer's. In a cluster each
// instance counts the topics it serves.
type topicBudget struct {
	max, perIP int

	mu   sync.Mutex
	open int
	byIP map[string]int
}

func newTopicBudget(max, perIP int) *topicBudget {
	return &topicBudget{max: max, perIP: perIP, byIP: map[string]int{}}
}

// take reserves a place for a new topic opened by ip, or says which cap
// refuses it.
func (b *topicBudget) take(ip string) *apiError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && b.open >= b.max {
		return errTooManyTopics
	}
	if b.perIP > 0 && ip != "" && b.byIP[ip] >= b.perIP {
		return errTopicsPerIP
	}
	b.open++
	if b.perIP > 0 && ip != "" {
		b.byIP[ip]++
	}
	return nil
}

// give hands back a place taken for ip.
func (b *topicBudget) give(ip string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open--
	if b.perIP <= 0 || ip == "" {
		return
	}
	if b.byIP[ip] <= 1 {
		delete(b.byIP, ip)
		return
	}
	b.byIP[ip]--
}
