#!/usr/bin/env bash
# Side-by-side benchmark of bridgeway and nginx+nchan / nginx as a WebSocket
# reverse proxy, on loopback, with the same loads, alternating, several
# repetitions. Writes bench/results/latest.md (medians) and latest.jsonl.
#
#   bench/compare.sh            # full run (~12 minutes on 2 cores)
#   bench/compare.sh --quick    # a few seconds per scenario, ~200 subscribers
#   bench/compare.sh --reps 5 --only fanout,echo-pass
#
# Environment: BRIDGEWAY_BIN (a prebuilt gateway instead of ./cmd/bridgeway) and
# BRIDGEWAY_DESC (what it is, for the table header),
# FANOUT_RATE (default 200 msg/s, the issue's number), FANOUT_MID_RATE (default
# 5 msg/s: below what nchan reached here when asked for more, 6.5-10.8/s), FANOUT_LOW_RATE
# (default 2 msg/s: a rate both servers sustain easily, for clean latency), LONGPOLL_RATE
# (default 2), PUBLISHERS (concurrent publishers, default 4), DURATION (default
# 8s), NGINX_WORKERS (default: one per core), GO_BENCH=0 (skip the Go
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
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

export BENCH_BRIDGEWAY_PORT=${BENCH_BRIDGEWAY_PORT:-18080}
export BENCH_NCHAN_PORT=${BENCH_NCHAN_PORT:-18081}
export BENCH_PROXY_PORT=${BENCH_PROXY_PORT:-18082}
export BENCH_UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-18091}
export BENCH_ECHO_PORT=${BENCH_ECHO_PORT:-18092}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
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
BENCH="$WORK/bench"

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

sed -e "s#@NCHAN_MODULE@#$NCHAN_MODULE#" -e "s#@WORKERS@#$NGINX_WORKERS#" \
    -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@NCHAN_PORT@#$BENCH_NCHAN_PORT#" \
    -e "s#@PROXY_PORT@#$BENCH_PROXY_PORT#" -e "s#@ECHO_PORT@#$BENCH_ECHO_PORT#" \
    bench/configs/nginx-nchan.conf.in >"$WORK/nginx/nginx.conf"

# ---- processes (only the ones this script started are ever stopped) ------
ECHO_PID="" NGINX_PID="" BW_PID=""

wait_port() { # host:port
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

stop_pid() { # pid signal
  [ -n "$1" ] || return 0
  kill "-$2" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

start_nginx() {
  "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
  NGINX_PID=$!
  wait_port "127.0.0.1:$BENCH_NCHAN_PORT"
  wait_port "127.0.0.1:$BENCH_PROXY_PORT"
}
stop_nginx() { stop_pid "$NGINX_PID" QUIT; NGINX_PID=""; }

start_bridgeway() {
  "$WORK/bridgeway" run -c bench/configs/bridgeway.yaml >>"$WORK/bridgeway.log" 2>&1 &
  BW_PID=$!
  wait_port "127.0.0.1:$BENCH_BRIDGEWAY_PORT"
}
stop_bridgeway() { stop_pid "$BW_PID" TERM; BW_PID=""; }

cleanup() {
  stop_bridgeway
  stop_nginx
  stop_pid "$ECHO_PID" TERM
}
trap cleanup EXIT

"$BENCH" echo-server -listen "127.0.0.1:$BENCH_ECHO_PORT" 2>>"$WORK/echo.log" &
ECHO_PID=$!
wait_port "127.0.0.1:$BENCH_ECHO_PORT"

# ---- scenarios -------------------------------------------------------
if [ "$QUICK" = 1 ]; then
  FAN_SUBS="sse=100,websocket=100"; FAN_RATE=50; FAN_MID=10; FAN_LOW=5; DUR=3s
  IDLE_N=200; SESSION_N=100; LP_N=200; LP_RATE=5; ECHO_CONNS=20
else
  FAN_SUBS="sse=5000,websocket=5000"; FAN_RATE=$FANOUT_RATE; FAN_MID=$FANOUT_MID_RATE; FAN_LOW=$FANOUT_LOW_RATE; DUR=$DURATION
  IDLE_N=15000; SESSION_N=5000; LP_N=10000; LP_RATE=$LONGPOLL_RATE; ECHO_CONNS=100
fi
NCHAN_SUB="http://127.0.0.1:$BENCH_NCHAN_PORT/sub/{run}"
NCHAN_PUB="http://127.0.0.1:$BENCH_NCHAN_PORT/pub/{run}"
BW="http://127.0.0.1:$BENCH_BRIDGEWAY_PORT"

SCENARIOS="fanout fanout-mid fanout-low idle-sse idle-ws session-mem longpoll echo-pass echo-session"
selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# run_one SCENARIO SERVER: a fresh server process per run, so every memory
# baseline is an idle process and no run inherits another's heap.
run_one() {
  local sc=$1 server=$2 pid args=() out="$WORK/run.out"
  if [ "$server" = bridgeway ]; then
    start_bridgeway || { echo "   bridgeway did not start (see $WORK/bridgeway.log)" | tee -a "$LOG"; stop_bridgeway; return 0; }
    pid=$BW_PID
  else
    start_nginx || { echo "   nginx did not start (see $WORK/nginx/error.log)" | tee -a "$LOG"; stop_nginx; return 0; }
    pid=$NGINX_PID
  fi
  local common=(-server "$server" -pid "$pid" -json "$JSONL")
  case "$sc/$server" in
    fanout/nginx-nchan) args=(fanout -label "fanout $FAN_SUBS @${FAN_RATE}/s" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_RATE" -duration "$DUR" -drain 15s) ;;
    fanout/bridgeway) args=(fanout -label "fanout $FAN_SUBS @${FAN_RATE}/s" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_RATE" -duration "$DUR" -drain 15s) ;;
    fanout-mid/nginx-nchan) args=(fanout -label "fanout $FAN_SUBS @${FAN_MID}/s" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_MID" -duration "$DUR" -drain 15s) ;;
    fanout-mid/bridgeway) args=(fanout -label "fanout $FAN_SUBS @${FAN_MID}/s" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_MID" -duration "$DUR" -drain 15s) ;;
    fanout-low/nginx-nchan) args=(fanout -label "fanout $FAN_SUBS @${FAN_LOW}/s" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_LOW" -duration "$DUR" -drain 15s) ;;
    fanout-low/bridgeway) args=(fanout -label "fanout $FAN_SUBS @${FAN_LOW}/s" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -publishers "$PUBLISHERS" -subs "$FAN_SUBS" -rate "$FAN_LOW" -duration "$DUR" -drain 15s) ;;
    # -rate 0: memory is read while idle, then one probe message checks that every subscriber is alive
    idle-sse/nginx-nchan) args=(fanout -label "idle sse=$IDLE_N" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -subs "sse=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    idle-sse/bridgeway) args=(fanout -label "idle sse=$IDLE_N" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -subs "sse=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    idle-ws/nginx-nchan) args=(fanout -label "idle websocket=$IDLE_N" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -subs "websocket=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    idle-ws/bridgeway) args=(fanout -label "idle websocket=$IDLE_N" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -subs "websocket=$IDLE_N" -rate 0 -settle 3s -drain 15s) ;;
    # nginx's peer of a session with its own upstream WebSocket: a proxied WebSocket.
    session-mem/nginx-proxy) args=(fanout -label "session websocket=$SESSION_N (own upstream each)" -dialect nchan -url "http://127.0.0.1:$BENCH_PROXY_PORT/echo" -subs "websocket=$SESSION_N" -rate 0 -settle 3s) ;;
    session-mem/bridgeway) args=(fanout -label "session websocket=$SESSION_N (own upstream each)" -url "$BW/session" -subs "websocket=$SESSION_N" -rate 0 -settle 3s) ;;
    longpoll/nginx-nchan) args=(fanout -label "longpoll=$LP_N @${LP_RATE}/s" -dialect nchan -url "$NCHAN_SUB" -publish "$NCHAN_PUB" -subs "longpoll=$LP_N" -rate "$LP_RATE" -duration "$DUR" -drain 15s) ;;
    longpoll/bridgeway) args=(fanout -label "longpoll=$LP_N @${LP_RATE}/s" -url "$BW/bcast" -upstream-listen "127.0.0.1:$BENCH_UPSTREAM_PORT" -subs "longpoll=$LP_N" -rate "$LP_RATE" -duration "$DUR" -drain 15s) ;;
    echo-pass/nginx-proxy) args=(echo -label "ws echo pass-through, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_PROXY_PORT/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-pass/bridgeway) args=(echo -label "ws echo pass-through, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_BRIDGEWAY_PORT/pass/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-session/nginx-proxy) args=(echo -label "ws echo session route, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_PROXY_PORT/echo" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    echo-session/bridgeway) args=(echo -label "ws echo session route, $ECHO_CONNS conns" -url "ws://127.0.0.1:$BENCH_BRIDGEWAY_PORT/session/ws" -conns "$ECHO_CONNS" -duration "$DUR") ;;
    *) echo "no such run $sc/$server" >&2; return 1 ;;
  esac
  echo "== $(date -u +%H:%M:%S) $sc on $server" | tee -a "$LOG"
  local rc=0
  "$BENCH" "${args[@]}" "${common[@]}" >"$out" 2>&1 || rc=$?
  cat "$out" >>"$LOG"
  # the human table only: no JSON line, no progress lines
  grep -v -e '^{' -e '^[0-9][0-9]:[0-9][0-9]:' -e '^connecting ' -e '^echoing ' "$out" | sed 's/^/   /' || true
  [ "$rc" = 0 ] || echo "   run failed (exit $rc)" | tee -a "$LOG"
  if [ "$server" = bridgeway ]; then stop_bridgeway; else stop_nginx; fi
  sleep 1
}

peer_of() { case "$1" in session-mem|echo-pass|echo-session) echo nginx-proxy ;; *) echo nginx-nchan ;; esac; }

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for rep in $(seq 1 "$REPS"); do
  for sc in $SCENARIOS; do
    selected "$sc" || continue
    peer=$(peer_of "$sc")
    # alternate who goes first, so neither always runs on a warmer machine
    if [ $((rep % 2)) = 1 ]; then order="$peer bridgeway"; else order="bridgeway $peer"; fi
    for server in $order; do run_one "$sc" "$server"; done
  done
done

# ---- table -------------------------------------------------------------
cp "$JSONL" "$RESULTS/latest.jsonl" 2>/dev/null || : >"$RESULTS/latest.jsonl"
{
  echo "## bridgeway vs nginx+nchan — $START"
  echo
  echo "Command: \`bench/compare.sh $([ "$QUICK" = 1 ] && echo --quick) --reps $REPS${ONLY:+ --only $ONLY}\`"
  echo "(FANOUT_RATE=$FAN_RATE FANOUT_MID_RATE=$FAN_MID FANOUT_LOW_RATE=$FAN_LOW LONGPOLL_RATE=$LP_RATE PUBLISHERS=$PUBLISHERS DURATION=$DUR NGINX_WORKERS=$NGINX_WORKERS)"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM, open files $(ulimit -n), kernel $(uname -r)"
  echo "Versions: $("$NGINX" -v 2>&1 | cut -d/ -f2) with nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), bridgeway ${BRIDGEWAY_DESC:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')}"
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
