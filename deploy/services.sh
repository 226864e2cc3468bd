#!/usr/bin/env bash
# deploy/services.sh - sourced by tests/run.sh and deploy/demo.sh: starts a real
# redis-server and the embedded broker (`fundguard broker`) on free loopback
# ports, each in its own process group, and stops them again.
#
#   services_start FUNDGUARD_BIN TMPDIR [broker args...]
#       sets REDIS_PORT, BOOTSTRAP, BROKER_PID; dies with the service's log tail on failure
#   stop_services   stops everything started, newest first; checks the broker exited 0
# The caller defines say() and die() and calls stop_services from its EXIT trap.

# --- cleanup: everything started below is in its own process group ----------
BROKER_PID=""
PGIDS=()        # process groups to stop, in start order
FAILED_LOGS=0   # show service logs when tests fail

stop_group() { # pgid: TERM, wait up to 5 s, then KILL
  local pg=$1 i
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 -- "-$pg" 2>/dev/null || return 0
    sleep 0.1
  done
  say "process group $pg ignored SIGTERM; killing it"
  kill -KILL -- "-$pg" 2>/dev/null || true
}

# Stops everything started below, newest first, and checks how the broker
# ended: it must exit 0 on SIGTERM (a crash or a sanitizer report during the
# tests shows up here). Shows the service logs when something failed.
stop_services() {
  local i brc
  for ((i = ${#PGIDS[@]} - 1; i >= 0; i--)); do stop_group "${PGIDS[$i]}"; done
  PGIDS=()
  if [ -n "$BROKER_PID" ]; then
    wait "$BROKER_PID" 2>/dev/null && brc=0 || brc=$?
    BROKER_PID=""
    [ "$brc" -eq 0 ] || { say "warning: fundguard broker ended with status $brc"; FAILED_LOGS=1; }
  fi
  if [ "$FAILED_LOGS" = 1 ] && [ -n "$TMP" ]; then
    for f in "$TMP"/broker.log "$TMP"/redis.log; do
      [ -s "$f" ] && { say "last lines of $(basename "$f"):"; tail -n 20 "$f" >&2; }
    done
    FAILED_LOGS=0
  fi
}

# start_bg LOG CMD...: runs CMD in a new session (its own process group, so
# stopping it takes its children too and a Ctrl-C here does not race us), and
# sets BG_PID. setsid does not fork here (we are not a group leader), so the
# pid is the group id.
start_bg() {
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  BG_PID=$!
  PGIDS+=("$BG_PID")
}

forget_last_bg() { unset 'PGIDS[${#PGIDS[@]}-1]'; PGIDS=("${PGIDS[@]}"); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }


services_start() {
  local FG_BIN_PATH=$1 p pid i attempt
  TMP=$2
  shift 2
  # --- 3. redis-server on a free port -----------------------------------------
  # The port can be taken between the check and the bind, so a start that fails
  # is retried on another port.
  REDIS_PORT=""
  mkdir -p "$TMP/redis"
  for attempt in $(seq 20); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000)) # 20000..59999
    port_in_use "$p" && continue
    start_bg "$TMP/redis.log" redis-server --port "$p" --bind 127.0.0.1 --save '' \
      --appendonly no --daemonize no --dir "$TMP/redis"
    pid=$BG_PID
    for i in $(seq 100); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = "PONG" ]; then REDIS_PORT=$p; break; fi
      sleep 0.1
    done
    [ -n "$REDIS_PORT" ] && break
    say "redis-server did not start on port $p (attempt $attempt): $(tail -n 1 "$TMP/redis.log")"
    stop_group "$pid"
    wait "$pid" 2>/dev/null || true
    forget_last_bg
  done
  [ -n "$REDIS_PORT" ] || die "could not start redis-server on a free port"
  say "redis-server on 127.0.0.1:$REDIS_PORT"

  # --- 4. the embedded broker --------------------------------------------------
  # It picks its own ephemeral ports and writes them atomically to the file.
  start_bg "$TMP/broker.log" "$FG_BIN_PATH" broker --bootstrap-file "$TMP/bootstrap" "$@"
  BROKER_PID=$BG_PID
  for i in $(seq 150); do
    [ -s "$TMP/bootstrap" ] && break
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      FAILED_LOGS=1
      die "fundguard broker exited before writing its bootstrap file"
    fi
    sleep 0.1
  done
  if [ ! -s "$TMP/bootstrap" ]; then
    FAILED_LOGS=1
    die "fundguard broker did not write its bootstrap file within 15 s"
  fi
  BOOTSTRAP=$(head -n 1 "$TMP/bootstrap")
  say "broker on $BOOTSTRAP"

}
