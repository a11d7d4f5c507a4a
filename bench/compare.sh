#!/usr/bin/env bash
# Side-by-side benchmark of bridgeway and its peers on loopback, with the
# same loads, alternating, several repetitions: nginx+nchan, Centrifugo and
# Pushpin for fan-out and idle memory, nginx as a WebSocket reverse proxy for
# echo and session memory, and the floor program (bench/floor: the same bytes
# written from one goroutine) for CPU per delivery. Writes
# bench/results/latest.md (medians) and latest.jsonl.
#
#   bench/compare.sh            # full run (~25 minutes on 2 cores)
#   bench/compare.sh --quick    # a few seconds per scenario, ~200 subscribers
#   bench/compare.sh --reps 5 --only fanout,echo-pass
#   bench/compare.sh --peers nchan,pushpin --only idle-storm-sse,idle-spread-sse
#
# Peers of the fan-out and idle rows (--peers or PEERS, default all three):
# nchan (Debian nginx + libnginx-mod-nchan, installed when missing),
# centrifugo (CENTRIFUGO_BIN, else built once with `go install` of
# CENTRIFUGO_MODULE into BENCH_CACHE, default ~/.cache/bridgeway-bench) and
# pushpin (Debian pushpin, installed when missing). A peer that cannot be
# had is left out with a note and the run goes on. The cluster3 row (three
# bridgeway instances on redis-server behind HAProxy, CLUSTER_SUBS
# subscribers, default the issue's 45,000: about 40 s a run here) has no
# peer. A smaller machine takes fewer:
#
#   CLUSTER_SUBS=sse=4500,websocket=4500 bench/compare.sh --only cluster3
#
# A process may hold 20,000 descriptors here, so that row spreads itself:
# LB_PROCS HAProxy processes on one port (SO_REUSEPORT; default one per
# 7,000 subscribers, each holds 2 descriptors per connection) and
# GEN_SHARDS generator processes (default one per 12,000 subscribers), each
# connecting from its own address 127.0.0.2, 127.0.0.3, ... (loopback has
# ~28,000 ephemeral ports per source/destination pair). CLUSTER_DRAIN
# (default 60s) bounds the wait for the last deliveries.
#
# Environment: BRIDGEWAY_BIN (a prebuilt gateway instead of ./cmd/bridgeway) and
# BRIDGEWAY_DESC (what it is, for the table header),
# FANOUT_RATE (default 200 msg/s, the issue's number), FANOUT_MID_RATE (default
# 5 msg/s: below what nchan reached here when asked for more, 6.5-10.8/s), FANOUT_LOW_RATE
# (default 2 msg/s: a rate both servers sustain easily, for clean latency), LONGPOLL_RATE
# (default 2), PUBLISHERS (concurrent publishers, default 4), DURATION (default
# 8s), NGINX_WORKERS (default: one per core), BRIDGEWAY_PROCS (each gateway
# process's GOMAXPROCS, default one per core; with NGINX_WORKERS=1 and BRIDGEWAY_PROCS=1
# both servers have one core), ECHO_CONNS (echo rows' connections, default 100), GO_BENCH=0 (skip the Go
# benchmarks of the fan-out path), and the ports BENCH_*_PORT below.
# Needs root only to install nginx+nchan.
#
# Fan-out rates. The issue's row (5,000 SSE + 5,000 WebSocket subscribers at
# 200 msg/s = 2M deliveries/s) is more than this 2-core machine can carry
# for nchan: it spends ~8-9 µs of CPU per delivery, so 2 cores top out near
# 220k deliveries/s (~20 msg/s at 10,000 subscribers) before the generator
# takes its share; measured, it publishes ~3-11 msg/s whatever the number of
# concurrent POSTs (4: 2.5-10.8/s; 16: 2.6/s; 64: 2.7/s and POSTs time out,
# because nchan answers a POST after its fan-out and queues the rest). The
# 200/s row is kept (bridgeway takes the rate; nchan shows what it reaches),
# and `fanout-mid` runs both at FANOUT_MID_RATE, a rate nchan sustains, so
# both sides deliver everything and CPU per delivery compares like with like.
# The generator's own CPU is in the log (`generator N s`) and the JSON
# (client_cpu_sec): its push subscribers parse SSE and WebSocket in place on
# their own sockets (bench/loadgen/rawstream.go), so it is not the bottleneck.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

QUICK=0
REPS=3
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; REPS=1 ;;
    --reps) REPS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --peers) PEERS="$2"; shift ;;
    -h|--help) sed -n '2,56p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

export BENCH_BRIDGEWAY_PORT=${BENCH_BRIDGEWAY_PORT:-18080}
export BENCH_NCHAN_PORT=${BENCH_NCHAN_PORT:-18081}
export BENCH_PROXY_PORT=${BENCH_PROXY_PORT:-18082}
export BENCH_UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-18091}
export BENCH_ECHO_PORT=${BENCH_ECHO_PORT:-18092}
BENCH_CENTRIFUGO_PORT=${BENCH_CENTRIFUGO_PORT:-18083}
BENCH_PUSHPIN_PORT=${BENCH_PUSHPIN_PORT:-18084}
BENCH_PUSHPIN_PUBLISH_PORT=${BENCH_PUSHPIN_PUBLISH_PORT:-18085}
BENCH_PUSHPIN_ZMQ_PORT=${BENCH_PUSHPIN_ZMQ_PORT:-18086}   # and the next two
BENCH_FLOOR_PORT=${BENCH_FLOOR_PORT:-18089}
BENCH_GRIP_PORT=${BENCH_GRIP_PORT:-18093}
BENCH_REDIS_PORT=${BENCH_REDIS_PORT:-18095}
BENCH_LB_PORT=${BENCH_LB_PORT:-18096}          # HAProxy in front of the three instances
BENCH_CLUSTER_PORT=${BENCH_CLUSTER_PORT:-18097} # instances on this port and the next two
CLUSTER_SUBS=${CLUSTER_SUBS:-sse=22500,websocket=22500}  # the issue's 45,000
CLUSTER_DRAIN=${CLUSTER_DRAIN:-60s}
PEERS=${PEERS:-nchan,centrifugo,pushpin}
CENTRIFUGO_MODULE=${CENTRIFUGO_MODULE:-github.com/centrifugal/centrifugo/v6@v6.9.1}
BENCH_CACHE=${BENCH_CACHE:-$HOME/.cache/bridgeway-bench}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
BRIDGEWAY_PROCS=${BRIDGEWAY_PROCS:-}
FANOUT_RATE=${FANOUT_RATE:-200}
FANOUT_MID_RATE=${FANOUT_MID_RATE:-5}
FANOUT_LOW_RATE=${FANOUT_LOW_RATE:-2}
LONGPOLL_RATE=${LONGPOLL_RATE:-2}
PUBLISHERS=${PUBLISHERS:-4}
DURATION=${DURATION:-8s}
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

# ---- install and build -------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 || [ ! -f "$NCHAN_MODULE" ]; then
  echo "== installing nginx and nchan"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
peer_wanted() { [[ ",$PEERS," == *",$1,"* ]]; }
NOTES=()   # peers left out, for the table's header

CENTRIFUGO=""
if peer_wanted centrifugo; then
  CENTRIFUGO=${CENTRIFUGO_BIN:-$BENCH_CACHE/bin/centrifugo}
  if [ ! -x "$CENTRIFUGO" ]; then
    echo "== building Centrifugo ($CENTRIFUGO_MODULE) into $BENCH_CACHE/bin (once)"
    mkdir -p "$BENCH_CACHE/bin"
    (cd /tmp && GOBIN="$BENCH_CACHE/bin" go install "$CENTRIFUGO_MODULE") || true
  fi
  if [ ! -x "$CENTRIFUGO" ]; then
    NOTES+=("centrifugo left out: no binary at $CENTRIFUGO and the build failed"); CENTRIFUGO=""
  fi
fi
PUSHPIN=""
if peer_wanted pushpin; then
  if ! command -v pushpin >/dev/null 2>&1; then
    echo "== installing pushpin"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pushpin >/dev/null 2>&1 || true
  fi
  PUSHPIN=$(command -v pushpin || true)
  [ -n "$PUSHPIN" ] || NOTES+=("pushpin left out: the Debian package could not be installed")
fi
peer_wanted nchan || NOTES+=("nchan left out (--peers)")

WORK=$(mktemp -d /tmp/bridgeway-bench.XXXXXX)
RESULTS="$REPO/bench/results"
mkdir -p "$RESULTS" "$WORK/nginx/tmp"
JSONL="$WORK/results.jsonl"
LOG="$RESULTS/latest.log"
: >"$LOG"

echo "== building bridgeway and bridgeway-bench into $WORK"
if [ -n "${BRIDGEWAY_BIN:-}" ]; then
  cp "$BRIDGEWAY_BIN" "$WORK/bridgeway"   # a prebuilt gateway (e.g. another commit)
else
  go build -o "$WORK/bridgeway" ./cmd/bridgeway
fi
go build -o "$WORK/bench" ./cmd/bridgeway-bench
go build -o "$WORK/floor" ./bench/floor
BENCH="$WORK/bench"

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

sed -e "s#@NCHAN_MODULE@#$NCHAN_MODULE#" -e "s#@WORKERS@#$NGINX_WORKERS#" \
    -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@NCHAN_PORT@#$BENCH_NCHAN_PORT#" \
    -e "s#@PROXY_PORT@#$BENCH_PROXY_PORT#" -e "s#@ECHO_PORT@#$BENCH_ECHO_PORT#" \
    bench/configs/nginx-nchan.conf.in >"$WORK/nginx/nginx.conf"
mkdir -p "$WORK/centrifugo" "$WORK/pushpin/run" "$WORK/pushpin/log"
sed -e "s#@CENTRIFUGO_PORT@#$BENCH_CENTRIFUGO_PORT#" bench/configs/centrifugo.json.in >"$WORK/centrifugo/config.json"
sed -e "s#@PREFIX@#$WORK/pushpin#g" -e "s#@PUSHPIN_PORT@#$BENCH_PUSHPIN_PORT#" \
    -e "s#@PUBLISH_PORT@#$BENCH_PUSHPIN_PUBLISH_PORT#" -e "s#@ZMQ_PUSH_PORT@#$BENCH_PUSHPIN_ZMQ_PORT#" \
    -e "s#@ZMQ_SUB_PORT@#$((BENCH_PUSHPIN_ZMQ_PORT + 1))#" -e "s#@ZMQ_COMMAND_PORT@#$((BENCH_PUSHPIN_ZMQ_PORT + 2))#" \
    bench/configs/pushpin.conf.in >"$WORK/pushpin/pushpin.conf"
sed -e "s#@GRIP_PORT@#$BENCH_GRIP_PORT#" bench/configs/pushpin.routes.in >"$WORK/pushpin/routes"

# ---- processes (only the ones this script started are ever stopped) ------
ECHO_PID="" GRIP_PID="" SERVER_PID="" LB_PID=""

wait_port() { # host:port
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

wait_listeners() { # port count: until count sockets listen on 127.0.0.1:port
  local i
  for i in $(seq 1 100); do
    [ "$(ss -Hltn "sport = :$1" | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "fewer than $2 listeners on port $1" >&2
  return 1
}

stop_pid() { # pid signal
  [ -n "$1" ] || return 0
  kill "-$2" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# pushpin_ready: its ports open before its processes are wired together
# (meanwhile it answers 500 "Accept service unavailable"); wait until a
# held stream is answered 200.
pushpin_ready() {
  local i code
  for i in $(seq 1 100); do
    code=$(curl -s -o /dev/null -m 0.5 -w '%{http_code}' "http://127.0.0.1:$BENCH_PUSHPIN_PORT/c/ready/sse" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "pushpin did not become ready (last status $code)" >&2
  return 1
}

# start_server NAME: one fresh server process; its pid in SERVER_PID, its
# log in $WORK/NAME.log.
start_server() {
  case "$1" in
    bridgeway)
      GOMAXPROCS="$BRIDGEWAY_PROCS" "$WORK/bridgeway" run -c bench/configs/bridgeway.yaml >>"$WORK/bridgeway.log" 2>&1 &
      SERVER_PID=$!; wait_port "127.0.0.1:$BENCH_BRIDGEWAY_PORT" ;;
    nginx-nchan|nginx-proxy)
      "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
      SERVER_PID=$!
      wait_port "127.0.0.1:$BENCH_NCHAN_PORT" && wait_port "127.0.0.1:$BENCH_PROXY_PORT" ;;
    centrifugo)
      "$CENTRIFUGO" -c "$WORK/centrifugo/config.json" >>"$WORK/centrifugo.log" 2>&1 &
      SERVER_PID=$!; wait_port "127.0.0.1:$BENCH_CENTRIFUGO_PORT" ;;
    pushpin)
      # the runner and its condure, zurl, pushpin-proxy and pushpin-handler
      # children: the generator sums the CPU and memory of all of them
      "$PUSHPIN" --config "$WORK/pushpin/pushpin.conf" >>"$WORK/pushpin.log" 2>&1 &
      SERVER_PID=$!
      wait_port "127.0.0.1:$BENCH_PUSHPIN_PORT" && wait_port "127.0.0.1:$BENCH_PUSHPIN_PUBLISH_PORT" &&
        pushpin_ready ;;
    bridgeway-x3)
      # three instances on one Redis behind HAProxy round-robin (no
      # stickiness); measured: the instances and Redis (SERVER_PID lists
      # them), not HAProxy
      redis-server --port "$BENCH_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --maxclients 10000 >>"$WORK/redis.log" 2>&1 &
      local pids=$! i
      wait_port "127.0.0.1:$BENCH_REDIS_PORT" || { SERVER_PID=$pids; return 1; }
      { cat bench/configs/bridgeway.yaml; echo "cluster: {redis: \"redis://127.0.0.1:$BENCH_REDIS_PORT/0\"}"; } >"$WORK/bridgeway-x3.yaml"
      for i in 0 1 2; do
        GOMAXPROCS="$BRIDGEWAY_PROCS" BENCH_BRIDGEWAY_PORT=$((BENCH_CLUSTER_PORT + i)) "$WORK/bridgeway" run -c "$WORK/bridgeway-x3.yaml" >>"$WORK/bridgeway-x3.log" 2>&1 &
        pids="$pids,$!"
      done
      SERVER_PID=$pids
      for i in 0 1 2; do wait_port "127.0.0.1:$((BENCH_CLUSTER_PORT + i))" || return 1; done
      sed -e "s#@LB_PORT@#$BENCH_LB_PORT#" -e "s#@PORT0@#$BENCH_CLUSTER_PORT#" \
          -e "s#@PORT1@#$((BENCH_CLUSTER_PORT + 1))#" -e "s#@PORT2@#$((BENCH_CLUSTER_PORT + 2))#" \
          bench/configs/haproxy-x3.cfg.in >"$WORK/haproxy-x3.cfg"
      # LB_PROCS processes on one port (HAProxy binds with SO_REUSEPORT):
      # the kernel spreads the connections, each round-robins its own
      for i in $(seq 1 "$LB_PROCS"); do
        /usr/sbin/haproxy -db -f "$WORK/haproxy-x3.cfg" >>"$WORK/haproxy.log" 2>&1 &
        LB_PID="${LB_PID:+$LB_PID,}$!"
      done
      wait_listeners "$BENCH_LB_PORT" "$LB_PROCS" ;;
    floor)
      "$WORK/floor" -listen "127.0.0.1:$BENCH_FLOOR_PORT" -upstream "ws://127.0.0.1:$BENCH_UPSTREAM_PORT/feed" >>"$WORK/floor.log" 2>&1 &
      SERVER_PID=$!; wait_port "127.0.0.1:$BENCH_FLOOR_PORT" ;;
  esac
}
stop_server() {
  local p
  case "$1" in
    nginx-*) stop_pid "$SERVER_PID" QUIT ;;
    *) for p in ${SERVER_PID//,/ }; do stop_pid "$p" TERM; done ;;
  esac
  for p in ${LB_PID//,/ }; do stop_pid "$p" TERM; done
  SERVER_PID="" LB_PID=""
}

cleanup() {
  stop_server any
  stop_pid "$GRIP_PID" TERM
  stop_pid "$ECHO_PID" TERM
}
trap cleanup EXIT

"$BENCH" echo-server -listen "127.0.0.1:$BENCH_ECHO_PORT" 2>>"$WORK/echo.log" &
ECHO_PID=$!
wait_port "127.0.0.1:$BENCH_ECHO_PORT"
if [ -n "$PUSHPIN" ]; then # Pushpin's origin: answers with GRIP instructions, holds nothing
  "$BENCH" grip-backend -listen "127.0.0.1:$BENCH_GRIP_PORT" 2>>"$WORK/grip.log" &
  GRIP_PID=$!
  wait_port "127.0.0.1:$BENCH_GRIP_PORT"
fi

# ---- scenarios -------------------------------------------------------
if [ "$QUICK" = 1 ]; then
  FAN_SUBS="sse=100,websocket=100"; FAN_RATE=50; FAN_MID=10; FAN_LOW=5; DUR=3s
  IDLE_N=200; SESSION_N=100; LP_N=200; LP_RATE=5; ECHO_CONNS=20; SPREAD=2s; RSS_AT=0.5s,3s; CLUSTER_SUBS="sse=100,websocket=100"
else
  FAN_SUBS="sse=5000,websocket=5000"; FAN_RATE=$FANOUT_RATE; FAN_MID=$FANOUT_MID_RATE; FAN_LOW=$FANOUT_LOW_RATE; DUR=$DURATION
  IDLE_N=15000; SESSION_N=5000; LP_N=10000; LP_RATE=$LONGPOLL_RATE; ECHO_CONNS=${ECHO_CONNS:-100}; SPREAD=10s; RSS_AT=0.5s,10s
fi
BW="http://127.0.0.1:$BENCH_BRIDGEWAY_PORT"
# cluster3 spreads its load over processes (see the header): how many
CLUSTER_TOTAL=0
for g in ${CLUSTER_SUBS//,/ }; do CLUSTER_TOTAL=$((CLUSTER_TOTAL + ${g#*=})); done
LB_PROCS=${LB_PROCS:-$(((CLUSTER_TOTAL + 6999) / 7000))}
GEN_SHARDS=${GEN_SHARDS:-$(((CLUSTER_TOTAL + 11999) / 12000))}
GEN_SOURCES=$(seq -s, -f '127.0.0.%g' 2 $((GEN_SHARDS + 1)))
# Centrifugo: a unidirectional client subscribed server-side to the run's
# channel: cf_connect={"subs":{"RUN":{}}} (URL-encoded) for uni_sse, the same
# JSON as the first message for uni_websocket.
CF_CONNECT='%7B%22subs%22%3A%7B%22{run}%22%3A%7B%7D%7D%7D'

SCENARIOS="fanout fanout-mid fanout-low floor-low floor-mid cluster3 idle-sse idle-ws idle-storm-sse idle-spread-sse idle-storm-ws idle-spread-ws session-mem longpoll echo-pass echo-session"
selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# target SERVER: the generator's arguments that reach SERVER's broadcast
# channel for this run (subscribe URL and dialect, how to publish).
target() {
  case "$1" in
    bridgeway) T=(-url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT") ;;
    floor) T=(-url "http://127.0.0.1:$BENCH_FLOOR_PORT/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT") ;;
    nginx-nchan) T=(-dialect nchan -url "http://127.0.0.1:$BENCH_NCHAN_PORT/sub/{run}" -publish "http://127.0.0.1:$BENCH_NCHAN_PORT/pub/{run}") ;;
    centrifugo) T=(-dialect plain -url "http://127.0.0.1:$BENCH_CENTRIFUGO_PORT/connection/uni_{transport}?cf_connect=$CF_CONNECT"
                   -ws-hello '{"subs":{"{run}":{}}}'
                   -publish "http://127.0.0.1:$BENCH_CENTRIFUGO_PORT/api/publish" -publish-format centrifugo) ;;
    pushpin) T=(-dialect plain -url "http://127.0.0.1:$BENCH_PUSHPIN_PORT/c/{run}/{transport}"
                -publish "http://127.0.0.1:$BENCH_PUSHPIN_PUBLISH_PORT/publish/" -publish-format pushpin) ;;
  esac
}

# redis_stats: Redis's command counts (INFO commandstats: "NAME CALLS" lines)
# and its CPU seconds (a "cpu SECONDS" line).
redis_stats() {
  redis-cli -p "$BENCH_REDIS_PORT" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'
  redis-cli -p "$BENCH_REDIS_PORT" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{print "cpu", s}'
}

# redis_report PUBLISHED: what Redis did during the generator's run (from
# before the first subscriber to after the last left): commands by name,
# in all and per published message, and its CPU seconds.
redis_report() {
  awk -v published="${1:-0}" '
    FNR == NR { before[$1] = $2; next }
    { d = $2 - before[$1]; if ($1 == "cpu") cpu = d; else if (d > 0) { total += d; list = list sprintf(" %s=%d", $1, d) } }
    END { printf "   redis-commands %d for the run (%s); published %d; %.1f per published message; redis cpu %.2f s\n",
          total, substr(list, 2), published, (published > 0 ? total / published : 0), cpu }' \
    "$WORK/redis.before" "$WORK/redis.after"
}

# run_one SCENARIO SERVER: a fresh server process per run, so every memory
# baseline is an idle process and no run inherits another's heap.
run_one() {
  local sc=$1 server=$2 args=() out="$WORK/run.out" T=()
  start_server "$server" || { echo "   $server did not start (see $WORK/$server.log)" | tee -a "$LOG"; stop_server "$server"; return 0; }
  target "$server"
  local common=(-server "$server" -pid "$SERVER_PID" -json "$JSONL")
  local fan=(-publishers "$PUBLISHERS" -subs "$FAN_SUBS" -duration "$DUR" -drain 15s)
  case "$sc/$server" in
    fanout/*) args=(fanout -label "fanout $FAN_SUBS @${FAN_RATE}/s" "${T[@]}" "${fan[@]}" -rate "$FAN_RATE") ;;
    fanout-mid/*) args=(fanout -label "fanout $FAN_SUBS @${FAN_MID}/s" "${T[@]}" "${fan[@]}" -rate "$FAN_MID") ;;
    fanout-low/*) args=(fanout -label "fanout $FAN_SUBS @${FAN_LOW}/s" "${T[@]}" "${fan[@]}" -rate "$FAN_LOW") ;;
    # the floor rows: the same load as fanout-low/-mid against the floor program
    floor-low/*) args=(fanout -label "floor $FAN_SUBS @${FAN_LOW}/s" "${T[@]}" "${fan[@]}" -rate "$FAN_LOW") ;;
    floor-mid/*) args=(fanout -label "floor $FAN_SUBS @${FAN_MID}/s" "${T[@]}" "${fan[@]}" -rate "$FAN_MID") ;;
    # -rate 0: memory is read while idle, then one probe message checks that every subscriber is alive
    # three instances on one Redis, HAProxy round-robin, one topic; Redis's
    # command count for the whole run is logged after it (redis-commands)
    cluster3/bridgeway-x3) args=(fanout -label "3 instances on Redis, $CLUSTER_SUBS @${FAN_MID}/s" -url "http://127.0.0.1:$BENCH_LB_PORT/bcast"
                                 -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -publishers "$PUBLISHERS" -subs "$CLUSTER_SUBS" -duration "$DUR"
                                 -drain "$CLUSTER_DRAIN" -rate "$FAN_MID" -connect-timeout 180s
                                 -shards "$GEN_SHARDS" -sources "$GEN_SOURCES" -front-pid "$LB_PID") ;;
    idle-sse/*) args=(fanout -label "idle sse=$IDLE_N" "${T[@]}" -subs "sse=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    idle-ws/*) args=(fanout -label "idle websocket=$IDLE_N" "${T[@]}" -subs "websocket=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    # a reconnect storm (as fast as the generator can connect) vs the same
    # subscribers arriving evenly over $SPREAD; memory read at each of $RSS_AT after the last connect
    idle-storm-sse/*) args=(fanout -label "idle sse=$IDLE_N storm" "${T[@]}" -subs "sse=$IDLE_N" -rate 0 -storm -rss-at "$RSS_AT" -drain 15s) ;;
    idle-spread-sse/*) args=(fanout -label "idle sse=$IDLE_N over $SPREAD" "${T[@]}" -subs "sse=$IDLE_N" -rate 0 -connect-over "$SPREAD" -rss-at "$RSS_AT" -drain 15s) ;;
    idle-storm-ws/*) args=(fanout -label "idle websocket=$IDLE_N storm" "${T[@]}" -subs "websocket=$IDLE_N" -rate 0 -storm -rss-at "$RSS_AT" -drain 15s) ;;
    idle-spread-ws/*) args=(fanout -label "idle websocket=$IDLE_N over $SPREAD" "${T[@]}" -subs "websocket=$IDLE_N" -rate 0 -connect-over "$SPREAD" -rss-at "$RSS_AT" -drain 15s) ;;
    # nginx's peer of a session with its own upstream WebSocket: a proxied WebSocket.
    session-mem/nginx-proxy) args=(fanout -label "session websocket=$SESSION_N (own upstream each)" -dialect nchan -url "http://127.0.0.1:$BENCH_PROXY_PORT/echo" -subs "websocket=$SESSION_N" -rate 0 -settle 3s) ;;
    session-mem/bridgeway) args=(fanout -label "session websocket=$SESSION_N (own upstream each)" -url "$BW/session" -subs "websocket=$SESSION_N" -rate 0 -settle 3s) ;;
    longpoll/nginx-nchan|longpoll/bridgeway) args=(fanout -label "longpoll=$LP_N @${LP_RATE}/s" "${T[@]}" -subs "longpoll=$LP_N" -rate "$LP_RATE" -duration "$DUR" -drain 15s) ;;
    echo-pass/nginx-proxy) args=(echo -label "ws echo pass-through, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_PROXY_PORT/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-pass/bridgeway) args=(echo -label "ws echo pass-through, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_BRIDGEWAY_PORT/pass/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-session/nginx-proxy) args=(echo -label "ws echo session route, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_PROXY_PORT/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-session/bridgeway) args=(echo -label "ws echo session route, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_BRIDGEWAY_PORT/session/ws" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    *) echo "no such run $sc/$server" >&2; stop_server "$server"; return 1 ;;
  esac
  echo "== $(date -u +%H:%M:%S) $sc on $server" | tee -a "$LOG"
  [ "$server" = bridgeway-x3 ] && redis_stats >"$WORK/redis.before"
  local rc=0
  "$BENCH" "${args[@]}" "${common[@]}" >"$out" 2>&1 || rc=$?
  cat "$out" >>"$LOG"
  # the human table only: no JSON line, no progress lines
  grep -v -e '^{' -e '^[0-9][0-9]:[0-9][0-9]:' -e '^connecting ' -e '^echoing ' "$out" | sed 's/^/   /' || true
  [ "$rc" = 0 ] || echo "   run failed (exit $rc)" | tee -a "$LOG"
  if [ "$server" = bridgeway-x3 ]; then
    redis_stats >"$WORK/redis.after"
    redis_report "$(grep -o '"published":[0-9]*' "$out" | cut -d: -f2)" | tee -a "$LOG"
  fi
  stop_server "$server"
  sleep 1
}

# peers_of SCENARIO: the servers bridgeway is compared with there.
peers_of() {
  case "$1" in
    session-mem|echo-pass|echo-session) echo nginx-proxy ;;
    floor-*) echo floor ;;
    cluster3) ;;  # no peer: nchan has no equivalent here
    longpoll) peer_wanted nchan && echo nginx-nchan ;;  # Centrifugo's and Pushpin's long-poll are not set up here
    *)
      local p=()
      peer_wanted nchan && p+=(nginx-nchan)
      [ -n "$CENTRIFUGO" ] && p+=(centrifugo)
      [ -n "$PUSHPIN" ] && p+=(pushpin)
      echo "${p[*]}" ;;
  esac
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for rep in $(seq 1 "$REPS"); do
  for sc in $SCENARIOS; do
    selected "$sc" || continue
    peers=$(peers_of "$sc" || true)
    # alternate who goes first, so no server always runs on a warmer machine
    subject=bridgeway; [ "$sc" = cluster3 ] && subject=bridgeway-x3
    if [ $((rep % 2)) = 1 ]; then order="$peers $subject"; else order="$subject $(echo "$peers" | tr ' ' '\n' | tac | xargs)"; fi
    for server in $order; do run_one "$sc" "$server"; done
  done
done

# ---- table -------------------------------------------------------------
cp "$JSONL" "$RESULTS/latest.jsonl" 2>/dev/null || : >"$RESULTS/latest.jsonl"
{
  echo "## bridgeway vs its peers — $START"
  echo
  echo "Command: \`bench/compare.sh $([ "$QUICK" = 1 ] && echo --quick) --reps $REPS${ONLY:+ --only $ONLY}\`"
  echo "(FANOUT_RATE=$FAN_RATE FANOUT_MID_RATE=$FAN_MID FANOUT_LOW_RATE=$FAN_LOW LONGPOLL_RATE=$LP_RATE PUBLISHERS=$PUBLISHERS DURATION=$DUR NGINX_WORKERS=$NGINX_WORKERS)"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM, open files $(ulimit -n), kernel $(uname -r)"
  echo "Versions: $("$NGINX" -v 2>&1 | cut -d/ -f2) with nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?'), Centrifugo $([ -n "$CENTRIFUGO" ] && echo "${CENTRIFUGO_MODULE#*@}" || echo '(left out)'), Pushpin $(dpkg-query -W -f='${Version}' pushpin 2>/dev/null || echo '(left out)'), $(go version | cut -d' ' -f3), bridgeway ${BRIDGEWAY_DESC:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')}"
  echo "Load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at the end; the 2 cores may be shared)"
  for n in "${NOTES[@]}"; do echo; echo "Note: $n"; done
  echo
  "$BENCH" table "$RESULTS/latest.jsonl"
  if [ "${GO_BENCH:-1}" = 1 ]; then
    echo "### Go benchmarks of the fan-out path"
    echo
    echo "\`go test -run '^\$' -bench 'Fanout|Deliver' -benchmem -benchtime 2000x ./bridge/ ./bridge/msglog/\`"
    echo
    echo '```'
    go test -run '^$' -bench 'Fanout|Deliver' -benchmem -benchtime 2000x ./bridge/ ./bridge/msglog/ 2>&1 |
      grep -E '^(Benchmark|ok|FAIL)' || echo "(go test -bench failed)"
    echo '```'
  fi
} >"$RESULTS/latest.md"
echo
cat "$RESULTS/latest.md"
echo "== results: $RESULTS/latest.md (runs logged in $LOG)"
