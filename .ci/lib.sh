# shellcheck shell=bash
# Helpers shared by the .ci scripts (sourced).

fail() { echo "$(basename "$0"): FAIL: $*" >&2; exit 1; }

# free_port FROM prints the first port from FROM on that nothing on
# 127.0.0.1 answers.
free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port from $1"
}

# wait_for URL PID: until URL answers 2xx, or fails when PID (if given) has
# exited; gives up after 20 s.
wait_for() {
  for _ in $(seq 200); do
    curl -sf -o /dev/null "$1" 2>/dev/null && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}
