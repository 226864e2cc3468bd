#!/usr/bin/env bash
# benches/run.sh - the fundguard benchmark, in one run on one machine: starts
# redis-server, and for every phase a fresh embedded broker, replays a generated
# province (fixed seed) through `fundguard run` and writes report.json,
# report.md, throughput.png and latency.png. See benches/README.md.
#
# usage: benches/run.sh [--sizes 100k,1M,10M] [--runs 3] [--out DIR]
#                       [--rates 5000,20000] [--paced-seconds 60] [--format avro|jsonl]
#                       [--encoding avro|json]
#                       [--partitions 16] [--max-lag 50000] [--seed 42] [--days 30]
#                       [--data DIR] [--build-dir DIR | --bin FILE] [--smoke] [--keep] [--profile]
#   --sizes          events per size (k/M suffixes); cost is measured at each
#   --runs           throughput runs per size (ceiling + detect each); median reported
#   --out            results directory (default benches/results/<date>-<host>)
#   --rates          offered loads (events/s) for the paced latency phases
#   --paced-seconds  length of a paced phase: min(size, rate x this) events
#   --format         file format the generator writes and the replay reads (not measured)
#   --encoding       message encoding on the input topics (avro: the throughput format)
#   --partitions     partitions of every input topic (the mock keeps ~100k msgs / 5 MB per partition)
#   --max-lag        replay pauses while the measured group is this many messages behind
#   --data           where generated data sets are kept between runs (default /var/tmp/fundguard-bench)
#   --build-dir      build (or reuse) fundguard here (default build-bench, RelWithDebInfo, no tests)
#   --bin            measure this fundguard binary instead of building one
#   --smoke          CI size: --sizes 5k --runs 1 --rates 2000 --paced-seconds 3
#   --keep           keep per-phase logs, ack logs and alert dumps (default: deleted once summarised)
#   --profile        run the first detect phase of each size under `perf record -e cpu-clock`
#                    and write its top functions to profile.txt (slows that phase down a little)
# Exit status: 0 report written; 1 set-up error, a process failed, or the count
# check (replayed == consumed + dead-lettered) failed in some phase.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES="100k,1M,10M"
RUNS=3
OUT=""
RATES="5000,20000"
PACED_SECONDS=60
FORMAT="avro"
ENCODING="avro"
PARTITIONS=16
MAX_LAG=50000
SEED=42
DAYS=30
DATA="${FG_BENCH_DATA:-/var/tmp/fundguard-bench}"
BUILD_DIR="$ROOT/build-bench"
FG=""
KEEP=0
PROFILE=0
PHASE_TIMEOUT=${FG_BENCH_PHASE_TIMEOUT:-14400} # seconds per replay; a hung phase fails the run

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_val() { [ $# -ge 2 ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) need_val "$@"; SIZES=$2; shift ;;
    --runs) need_val "$@"; RUNS=$2; shift ;;
    --out) need_val "$@"; OUT=$2; shift ;;
    --rates) need_val "$@"; RATES=$2; shift ;;
    --paced-seconds) need_val "$@"; PACED_SECONDS=$2; shift ;;
    --format) need_val "$@"; FORMAT=$2; shift ;;
    --encoding) need_val "$@"; ENCODING=$2; shift ;;
    --partitions) need_val "$@"; PARTITIONS=$2; shift ;;
    --max-lag) need_val "$@"; MAX_LAG=$2; shift ;;
    --seed) need_val "$@"; SEED=$2; shift ;;
    --days) need_val "$@"; DAYS=$2; shift ;;
    --data) need_val "$@"; DATA=$2; shift ;;
    --build-dir) need_val "$@"; BUILD_DIR=$2; shift ;;
    --bin) need_val "$@"; FG=$2; shift ;;
    --smoke) SIZES=5k; RUNS=1; RATES=2000; PACED_SECONDS=3 ;;
    --keep) KEEP=1 ;;
    --profile) PROFILE=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
case "$FORMAT" in avro|jsonl) ;; *) die "--format: avro or jsonl, got '$FORMAT'" ;; esac
case "$ENCODING" in avro|json) ;; *) die "--encoding: avro or json, got '$ENCODING'" ;; esac
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs: a positive integer, got '$RUNS'"
[[ "$PARTITIONS" =~ ^[1-9][0-9]*$ ]] || die "--partitions: a positive integer, got '$PARTITIONS'"
[[ "$PACED_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "--paced-seconds: a positive integer, got '$PACED_SECONDS'"

# "100k" -> 100000, "1M" -> 1000000
parse_size() {
  local s=$1
  case "$s" in
    *[kK]) s=$((${s%?} * 1000)) ;;
    *[mM]) s=$((${s%?} * 1000000)) ;;
  esac
  [[ "$s" =~ ^[1-9][0-9]*$ ]] || die "bad size '$1' (e.g. 100k, 1M, 10M)"
  echo "$s"
}

[ -n "$OUT" ] || OUT="$ROOT/benches/results/$(date -u +%Y%m%d-%H%M%S)-$(hostname -s)"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
mkdir -p "$OUT" "$DATA"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fundguard-bench.XXXXXX")

# shellcheck source=../deploy/services.sh
. "$ROOT/deploy/services.sh"   # start_bg, stop_group, port_in_use, stop_services
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_services
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# --- build -----------------------------------------------------------------
for t in redis-server redis-cli kcat python3 gnuplot; do
  command -v "$t" >/dev/null || die "$t not found: run deploy/install-deps.sh"
done
BUILD_TYPE=prebuilt
if [ -z "$FG" ]; then
  say "building fundguard in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DFG_TESTS=OFF -DFG_SANITIZE=OFF >/dev/null || die "cmake configure failed"
  cmake --build "$BUILD_DIR" -j "$(nproc)" >"$TMP/build.log" 2>&1 || { tail -n 30 "$TMP/build.log" >&2; die "build failed"; }
  FG="$BUILD_DIR/fundguard"
  BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
fi
[ -x "$FG" ] || die "$FG is not an executable"
"$FG" gen --help >/dev/null 2>&1 || die "'fundguard gen' is not available in this build (benches/gen)"
"$FG" replay --help >/dev/null 2>&1 || die "'fundguard replay' is not available in this build (consumers/replay.c)"
REPORT="python3 $ROOT/benches/report.py"

$REPORT machine --bin "$FG" --root "$ROOT" --out "$OUT/machine.json"
cat >"$OUT/params.env" <<EOF
sizes=$SIZES
runs=$RUNS
rates=$RATES
paced_seconds=$PACED_SECONDS
format=$FORMAT
encoding=$ENCODING
partitions=$PARTITIONS
max_lag=$MAX_LAG
seed=$SEED
days=$DAYS
build_type=$BUILD_TYPE
EOF

# --- redis-server (one for the whole run; every phase has its own key prefix) --
REDIS_PORT=""
for attempt in $(seq 20); do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  port_in_use "$p" && continue
  mkdir -p "$TMP/redis"
  start_bg "$TMP/redis.log" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$TMP/redis"
  for i in $(seq 100); do
    [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && { REDIS_PORT=$p; break; }
    kill -0 "$BG_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$REDIS_PORT" ] && break
  stop_group "$BG_PID"; forget_last_bg
done
[ -n "$REDIS_PORT" ] || die "could not start redis-server"
say "redis-server $(redis-server --version | grep -o 'v=[0-9.]*') on 127.0.0.1:$REDIS_PORT"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
redis_cpu() { rcli info cpu | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.2f", s}'; }

# --- data sets -----------------------------------------------------------------
# gen_data N -> prints the directory holding claims/inpatient/invoicing + truth.jsonl
gen_data() {
  local n=$1
  local dir="$DATA/seed$SEED-days$DAYS-$n-$FORMAT"
  if [ ! -s "$dir/manifest.json" ]; then
    say "generating $n events (seed $SEED, $DAYS days, $FORMAT) into $dir"
    rm -rf "$dir.tmp"
    "$FG" gen --out "$dir.tmp" --seed "$SEED" --events "$n" --days "$DAYS" --format "$FORMAT" >"$TMP/gen.log" 2>&1 \
      || { tail -n 20 "$TMP/gen.log" >&2; die "fundguard gen failed for $n events"; }
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

data_files() { ls "$1"/claims.* "$1"/inpatient.* "$1"/invoicing.* 2>/dev/null | grep -E "\\.$FORMAT\$"; }

# --- one phase -------------------------------------------------------------------
forget_pg() { # drop one stopped process group from the cleanup list
  local keep=() g
  for g in "${PGIDS[@]}"; do [ "$g" = "$1" ] || keep+=("$g"); done
  PGIDS=("${keep[@]}")
}

http_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$p" || { echo "$p"; return; }
  done
  die "no free port for the metrics endpoint"
}

# processed so far, from fundguard's /metrics: events consumed + dead-lettered
http_get() { # port path: the body and headers of an HTTP/1.0 GET on loopback (no curl needed)
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET %s HTTP/1.0\r\n\r\n" "$1" >&3 && cat <&3' \
    "$1" "$2" 2>/dev/null || true
}
metrics_processed() {
  http_get "$1" /metrics |
    awk '/^fundguard_(events_consumed|dead_letters)_total/ {s += $NF} END {printf "%d", s}'
}

write_config() { # file base group mode bootstrap
  local f=$1 b=$2 g=$3 mode=$4 boot=$5
  cat >"$f" <<EOF
{
  "kafka": {"bootstrap.servers": "$boot"},
  "kafka_consumer": {"group.id": "$g", "session.timeout.ms": "6000", "fetch.wait.max.ms": "10",
                     "queued.min.messages": "1000000"},
  "kafka_producer": {"linger.ms": "1"},
  "redis": {"port": $REDIS_PORT, "prefix": "$b"},
  "topics": {"claims": "$b-claims", "inpatient": "$b-inpatient", "invoicing": "$b-invoicing",
             "alerts": "$b-alerts", "dead_letter": "$b-dlq", "control": "$b-control",
             "risk": "$b-risk", "cases": "$b-cases"},
  "schemas": {"avro_ids": {"1": "$ROOT/schemas/claims.avsc", "2": "$ROOT/schemas/inpatient.avsc",
                           "3": "$ROOT/schemas/invoicing.avsc"}},
  "reference": {"catalogue": "$ROOT/reference/catalogue.json", "blacklists": "$ROOT/reference/blacklists.json"},
  "pipeline": {"mode": "$mode", "stats_interval_ms": 0},
  "broker": {"partitions": $PARTITIONS},
  "http": {"listen": "127.0.0.1:$HTTP_PORT", "required": true}
}
EOF
}

# run_phase KIND SIZE LABEL RUN RATE DATASET: fresh broker, fresh topics, group and
# prefix; fundguard first, then the replay paced by that group's lag (and by RATE
# when > 0); waits until fundguard processed every replayed message, stops it and
# collects what the report needs into $OUT/<size>/<run>-<kind>[-<rate>]/.
run_phase() {
  local kind=$1 n=$2 label=$3 run=$4 rate=$5
  DATASET=$6
  local mode=detect
  [ "$kind" = ceiling ] && mode=decode_only
  local name="$run-$kind" ; [ "$rate" -gt 0 ] && name="$name-$rate"
  local d="$OUT/$label/$name"
  rm -rf "$d"; mkdir -p "$d"
  local base="fgb-$label-$name-$$-$RANDOM"
  local group="$base-g"
  HTTP_PORT=$(http_port)
  rcli flushall >/dev/null
  $REPORT redis-used --port "$REDIS_PORT" --out "$d/redis-before.json"
  local rcpu0; rcpu0=$(redis_cpu)

  write_config "$d/config.json" "$base" "$group" "$mode" ""
  rm -f "$TMP/bootstrap"
  # every topic up front: one a producer auto-creates costs a metadata round of ~1 s mid-run
  start_bg "$d/broker.log" "$FG" broker --config "$d/config.json" --partitions "$PARTITIONS" \
    --topic "$base-control:1" --topic "$base-risk" --topic "$base-cases" --bootstrap-file "$TMP/bootstrap"
  local broker_pg=$BG_PID
  for _ in $(seq 150); do [ -s "$TMP/bootstrap" ] && break; sleep 0.1; done
  [ -s "$TMP/bootstrap" ] || die "$name: broker did not start (see $d/broker.log)"
  local boot; boot=$(head -n 1 "$TMP/bootstrap")
  write_config "$d/config.json" "$base" "$group" "$mode" "$boot"

  local wrap=()
  if [ "$PROFILE" = 1 ] && [ "$kind" = detect ] && [ "$run" = 1 ]; then
    command -v perf >/dev/null || die "--profile needs perf (linux-perf)"
    # shellcheck disable=SC2206 # FG_BENCH_PERF_ARGS: extra perf record options, e.g. "-g"
    wrap=(perf record -q -e cpu-clock ${FG_BENCH_PERF_ARGS:-} -o "$d/perf.data" --)
  fi
  local speed=max
  if [ "$rate" -gt 0 ]; then
    speed=$($REPORT speed --data "$DATASET" --rate "$rate") || die "$name: cannot compute the replay speed"
  fi
  # shellcheck disable=SC2046
  local replay=(timeout -k 10 "$PHASE_TIMEOUT" "$FG" replay --config "$d/config.json" $(data_files "$DATASET")
    --speed "$speed" --lag-group "$group" --max-lag "$MAX_LAG" --progress off --ack-log "$d/ack.log"
    --encoding "$ENCODING" $([ "$ENCODING" = avro ] && echo --schema-id claims=1,inpatient=2,invoicing=3))
  local t0 t1 rrc=0 replay_pg="" fg_pg
  t0=$(date +%s.%N)
  if [ "$rate" -eq 0 ]; then
    # throughput phases: the replay first fills the backlog its lag pacing allows (the group
    # has committed nothing yet), so fundguard starts on a full queue and is measured at its
    # own pace for as long as the replay can stay ahead of it
    say "$label run $run $kind: replaying (backlog first, then fundguard)"
    start_bg "$d/replay.log" "${replay[@]}"
    replay_pg=$BG_PID
    local sz=-1 same=0
    while kill -0 "$replay_pg" 2>/dev/null && [ "$same" -lt 10 ]; do
      sleep 0.1
      local now; now=$(stat -c %s "$d/ack.log" 2>/dev/null || echo 0)
      if [ "$now" = "$sz" ] && [ "$now" != 0 ]; then same=$((same + 1)); else same=0; sz=$now; fi
    done
  fi
  start_bg "$d/fundguard.log" "${wrap[@]}" "$FG" run --config "$d/config.json"
  fg_pg=$BG_PID
  # paced phases replay once the group owns every input partition: latency never includes the join
  local want=$((3 * PARTITIONS)) i
  for i in $(seq 600); do
    [ "$(grep -c 'assigned .*\[[0-9]*\] from' "$d/fundguard.log" 2>/dev/null || true)" -ge "$want" ] && break
    kill -0 "$fg_pg" 2>/dev/null || { tail -n 20 "$d/fundguard.log" >&2; die "$name: fundguard run exited at start"; }
    sleep 0.1
  done
  [ "$i" -lt 600 ] || die "$name: fundguard was not assigned the $want input partitions within 60 s (see $d/fundguard.log)"
  if [ -n "$replay_pg" ]; then
    wait "$replay_pg" 2>/dev/null || rrc=$?
    forget_pg "$replay_pg"
  else
    say "$label run $run $kind at $rate ev/s (replay --speed $speed): replaying"
    "${replay[@]}" >"$d/replay.log" 2>&1 || rrc=$?
  fi
  t1=$(date +%s.%N)
  [ "$rrc" -eq 0 ] || say "$name: fundguard replay exited $rrc (see $d/replay.log)"
  local replayed; replayed=$(wc -l <"$d/ack.log" 2>/dev/null || echo 0)

  # until fundguard has processed all of it (or stops making progress for 60 s)
  local done_n=0 last=-1 still=0
  while :; do
    done_n=$(metrics_processed "$HTTP_PORT")
    [ "${done_n:-0}" -ge "$replayed" ] && break
    kill -0 "$fg_pg" 2>/dev/null || break
    if [ "$done_n" = "$last" ]; then still=$((still + 1)); else still=0; last=$done_n; fi
    [ "$still" -lt 600 ] || { say "$name: fundguard stuck at $done_n of $replayed for 60 s"; break; }
    sleep 0.1
  done
  sleep 0.5 # the commit follows the metrics by one batch
  kill -TERM -- "-$fg_pg" 2>/dev/null || true
  local frc=0
  for _ in $(seq 600); do kill -0 "$fg_pg" 2>/dev/null || break; sleep 0.1; done
  wait "$fg_pg" 2>/dev/null || frc=$?
  if [ "${#wrap[@]}" -gt 0 ]; then # perf's own status on SIGTERM is 143: take fundguard's from its log
    frc=$(sed -n 's/.*fundguard stopped (exit code \([0-9]*\)).*/\1/p' "$d/fundguard.log" | tail -n 1)
    frc=${frc:-1}
  fi
  forget_pg "$fg_pg"

  if [ -s "$d/perf.data" ]; then
    perf report -i "$d/perf.data" --stdio --sort dso,symbol --percent-limit 0.5 2>/dev/null |
      grep -v '^$' | head -n 120 >"$d/profile.txt" || true
    say "$name: profile in $d/profile.txt"
  fi
  if [ "$mode" = detect ]; then
    kcat -C -q -b "$boot" -t "$base-alerts" -o beginning -e -J >"$d/alerts.kcat" 2>"$d/kcat.err" ||
      die "$name: could not read the alert topic back (see $d/kcat.err)"
  fi
  stop_group "$broker_pg"
  wait "$broker_pg" 2>/dev/null || true
  forget_pg "$broker_pg"

  cat >"$d/phase.env" <<EOF
phase=$kind
mode=$mode
size=$n
size_label=$label
run=$run
rate=$rate
speed=$speed
replayed=$replayed
replay_exit=$rrc
fundguard_exit=$frc
replay_seconds=$(python3 -c "print(round($t1 - $t0, 3))")
redis_cpu_s=$(python3 -c "print(round($(redis_cpu) - $rcpu0, 2))")
EOF
  if [ "$mode" = detect ]; then
    # scored before the phase summary so phase.json carries it; alerts.jsonl comes from the summary
    $REPORT phase --dir "$d" || true
    if [ -s "$DATASET/truth.jsonl" ]; then
      "$FG" gen score --truth "$DATASET/truth.jsonl" --alerts "$d/alerts.jsonl" --json "$d/score.json" \
        >"$d/score.txt" 2>&1 || die "$name: fundguard gen score failed (see $d/score.txt)"
    fi
    [ "$kind" = detect ] && [ "$run" = 1 ] &&
      $REPORT redis-mem --port "$REDIS_PORT" --prefix "$base" --before "$d/redis-before.json" --out "$d/redis-mem.json"
  fi
  $REPORT phase --dir "$d" || FAILED=1
  [ "$frc" -eq 0 ] || { say "$name: fundguard run exited $frc (see $d/fundguard.log)"; FAILED=1; }
  [ "$rrc" -eq 0 ] || FAILED=1
  python3 - "$d/phase.json" <<'EOF' >&2
import json, sys
p = json.load(open(sys.argv[1]))
lat = p.get("latency") or {}
print("bench:   %s events: %s ev/s, %s round trips/event, RSS %s MB%s" % (
    p["processed"], p.get("events_per_s"), p.get("redis_round_trips_per_event"), p.get("peak_rss_mb"),
    ", alert p50/p99 %s/%s ms" % (lat.get("p50_ms"), lat.get("p99_ms")) if lat else ""))
EOF
  if [ "$KEEP" = 0 ]; then rm -f "$d/ack.log" "$d/alerts.kcat" "$d/broker.log" "$d/perf.data"; fi
}

# --- the run -------------------------------------------------------------------------
FAILED=0
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
IFS=, read -r -a RATE_LIST <<<"$RATES"
START=$(date +%s)
for label in "${SIZE_LIST[@]}"; do
  n=$(parse_size "$label")
  ds=$(gen_data "$n")
  [ -n "$(data_files "$ds")" ] || die "$ds holds no .$FORMAT stream files"
  for run in $(seq "$RUNS"); do
    run_phase ceiling "$n" "$label" "$run" 0 "$ds"
    run_phase detect "$n" "$label" "$run" 0 "$ds"
  done
  for rate in "${RATE_LIST[@]}"; do
    [[ "$rate" =~ ^[1-9][0-9]*$ ]] || die "--rates: positive integers, got '$rate'"
    m=$((rate * PACED_SECONDS)); [ "$m" -lt "$n" ] || m=$n
    pds=$(gen_data "$m")
    run_phase paced "$n" "$label" 1 "$rate" "$pds"
  done
done

$REPORT summarize --out "$OUT" || FAILED=1
say "done in $(($(date +%s) - START)) s: $OUT/report.md"
[ "$FAILED" = 0 ] || die "some phase failed (see above); the report marks it"
