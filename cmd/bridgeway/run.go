package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// startTimeout bounds the start-up (binding listeners, loading certificates).
const startTimeout = time.Minute

// runCommand runs the gateway until SIGTERM or SIGINT; SIGHUP reloads.
func runCommand(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("run", args, stderr)
	if !ok {
		return 2
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	return runGateway(path, stderr, signals, nil)
}

// runGateway is runCommand without the process-wide parts, so tests can
// drive it: signals carries SIGHUP/SIGTERM/SIGINT, started (optional) sees
// the running server. Logs go to logOut.
func runGateway(path string, logOut io.Writer, signals <-chan os.Signal, started func(*proxy.Server)) int {
	return runGatewayFlags(path, logOut, signals, started, nil)
}

// runGatewayFlags is runGateway for a config written from command-line
// flags: problems with the keys in flags name the flag.
func runGatewayFlags(path string, logOut io.Writer, signals <-chan os.Signal, started func(*proxy.Server), flags keyFlags) int {
	cfg, err := config.Load(path)
	if err != nil {
		if !flags.printLocated(logOut, path, err) {
			printConfigError(logOut, err)
		}
		return 1
	}
	logger, err := newLogger(cfg.Log, logOut)
	if err != nil {
		fmt.Fprintf(logOut, "bridgeway: %v\n", err)
		return 1
	}
	defer func() { _ = logger.Sync() }()
	v, c := buildVersion()
	logger.Info("starting", zap.String("version", v), zap.String("commit", c), zap.String("config", path))
	logConfigWarnings(logger, cfg)

	reg := prometheus.NewRegistry()
	cl, err := clusterWiring(logger, reg, cfg)
	if err != nil {
		logger.Error("cannot set up the cluster", zap.Error(err))
		return 1
	}
	if cl != nil {
		// After the drain: routes release leases and session ownership
		// first, so other instances take over at once.
		defer func() { _ = cl.Close() }()
	}
	factory, clientJS := bridgeWiring(logger, reg, cfg, cl)
	srv, err := proxy.New(cfg, proxy.Deps{Logger: logger, Registry: reg, Bridge: factory, ClientJS: clientJS, ReadyCheck: readyCheck(cl)})
	if err != nil {
		logger.Error("cannot build the gateway", zap.Error(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	err = srv.Start(ctx)
	cancel()
	if err != nil {
		// A listener address in use or an unreadable certificate is a
		// config problem: said at its line, like validate does.
		if !flags.printLocated(logOut, path, err) {
			logger.Error("cannot start the gateway", zap.Error(err))
		}
		_ = srv.Shutdown(context.Background()) // nothing served: no drain lines
		return 1
	}
	if started != nil {
		started(srv)
	}
	notifySystemd(logger, sdReady)

	for sig := range signals {
		if sig == syscall.SIGHUP {
			notifySystemd(logger, sdReloading())
			reload(srv, path, logger)
			notifySystemd(logger, sdReady)
			continue
		}
		logger.Info("signal received, draining", zap.String("signal", sig.String()))
		notifySystemd(logger, sdStopping)
		return drain(srv, signals, logger)
	}
	notifySystemd(logger, sdStopping)
	return drain(srv, nil, logger)
}

// reload re-reads the file; an invalid file is logged and ignored, the old
// config keeps serving.
func reload(srv *proxy.Server, path string, logger *zap.Logger) {
	cfg, err := config.Load(path)
	if err != nil {
		logger.Error("reload: invalid config ignored, the running config keeps serving", zap.Error(err))
		srv.ReloadRejected()
		return
	}
	logConfigWarnings(logger, cfg)
	if err := srv.Reload(cfg); err != nil {
		logger.Error("reload failed, the running config keeps serving", zap.Error(err))
	}
}

// logConfigWarnings logs what validate prints as warnings (risky but valid
// settings), one line each with its FILE:LINE:COL, so an operator who never
// ran validate still sees them.
func logConfigWarnings(logger *zap.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		logger.Warn("config warning", zap.String("warning", w.Error()))
	}
}

// drain shuts the server down (bounded by shutdown_timeout). A second
// SIGTERM/SIGINT during the drain exits at once with code 1.
func drain(srv *proxy.Server, signals <-chan os.Signal, logger *zap.Logger) int {
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				logger.Warn("drain ended by its deadline", zap.Error(err))
			}
			logger.Info("stopped")
			return 0
		case sig, ok := <-signals:
			if !ok {
				signals = nil
				continue
			}
			if sig == syscall.SIGHUP {
				continue
			}
			logger.Warn("second signal during drain, exiting now", zap.String("signal", sig.String()))
			return 1
		}
	}
}
