package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
)

// clusterWiring connects to the cluster state when cluster.redis is set
// (nil, nil otherwise). The connection is lazy: an unreachable Redis makes
// /readyz 503 and new sessions 503, it does not stop the start. A changed
// cluster.redis takes effect on restart, not on reload.
func clusterWiring(logger *zap.Logger, reg prometheus.Registerer, cfg *config.Config) (*cluster.Client, error) {
	if cfg.Cluster == nil || cfg.Cluster.Redis == "" {
		return nil, nil
	}
	cluster.RedirectRedisLogs(logger)
	host, _ := os.Hostname()
	cl, err := cluster.New(cluster.Options{
		URL:        cfg.Cluster.Redis,
		InstanceID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomSuffix()),
		Logger:     logger,
		Registry:   reg,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return cl, nil
}

// readyCheck is the proxy's extra /readyz condition: Redis answers.
func readyCheck(cl *cluster.Client) func(context.Context) error {
	if cl == nil {
		return nil
	}
	return cl.Ready
}

// randomSuffix tells apart two instances on one host with the same pid
// (containers).
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
