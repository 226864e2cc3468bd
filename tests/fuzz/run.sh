#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the libFuzzer targets (clang, FG_FUZZ=ON) and runs
# each one for a bounded time over a scratch copy of its seed corpus.
#
# usage: tests/fuzz/run.sh [seconds-per-fuzzer] [fuzzer...]
#   seconds  default 60; CI runs 45, a long run is e.g. 3600 (tests/fuzz/README.md)
#   fuzzer   only these (fuzz_decode fuzz_control fuzz_config fuzz_kb); default all
# env: FG_FUZZ_BUILD_DIR (default build-fuzz), FG_FUZZ_JOBS (parallel fuzzers, default 1),
#      FG_FUZZ_KEEP_CORPUS=1 to keep the grown corpus (printed path).
# Fails on any crash, leak, timeout (>5 s on one input), OOM or contract violation;
# the reproducer is copied to $BUILD/findings/. Prints executions and coverage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECS="${1:-60}"
[ $# -gt 0 ] && shift
case "$SECS" in '' | *[!0-9]*) echo "run.sh: seconds must be a number, got '$SECS'" >&2; exit 2 ;; esac
BUILD="${FG_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
ALL=(fuzz_decode fuzz_control fuzz_config fuzz_kb)
FUZZERS=("$@")
[ ${#FUZZERS[@]} -gt 0 ] || FUZZERS=("${ALL[@]}")
say() { printf 'fuzz: %s\n' "$*" >&2; }

command -v clang >/dev/null || { say "clang is required (apt-get install clang libclang-rt-14-dev)"; exit 2; }
# Warnings are errors here too: the project sources under clang's diagnostics as well as gcc's.
say "configuring $BUILD (clang, FG_FUZZ=ON)"
CC=clang cmake -S "$ROOT" -B "$BUILD" -DFG_FUZZ=ON -DFG_TESTS=OFF -DFG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${FUZZERS[@]}"

WORK="$(mktemp -d /tmp/fg-fuzz.XXXXXX)"
[ "${FG_FUZZ_KEEP_CORPUS:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() {
  local f="$1" corpus="$WORK/corpus/$1" log="$WORK/$1.log" rc=0
  mkdir -p "$corpus" "$WORK/artifacts/$f"
  cp "$ROOT/tests/fuzz/corpus/$f/"* "$corpus/" 2>/dev/null || true
  local dict=()
  [ -f "$ROOT/tests/fuzz/$f.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$f.dict")
  (cd "$WORK" && "$BUILD/$f" "$corpus" "${dict[@]}" -max_total_time="$SECS" -max_len=65536 -timeout=5 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$f/" >"$log" 2>&1) || rc=$?
  local execs cov ft
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -ne 0 ] || ls "$WORK/artifacts/$f/"* >/dev/null 2>&1; then
    mkdir -p "$BUILD/findings"
    cp "$WORK/artifacts/$f/"* "$BUILD/findings/" 2>/dev/null || true
    say "$f FAILED (exit $rc) after ${execs:-?} executions; reproducer(s) in $BUILD/findings/ (replay: $BUILD/$f FILE):"
    ls "$WORK/artifacts/$f/" >&2 || true
    grep -E -A40 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|contract violated|ALARM|out-of-memory' "$log" | head -60 >&2 || tail -40 "$log" >&2
    return 1
  fi
  printf 'fuzz: %-13s ok  %ss  executions=%s  cov=%s  ft=%s  corpus=%s\n' "$f" "$SECS" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)"
}

say "running ${FUZZERS[*]} for ${SECS}s each (work dir $WORK)"
JOBS="${FG_FUZZ_JOBS:-1}"
fail=0
pids=()
for f in "${FUZZERS[@]}"; do
  if [ "$JOBS" -gt 1 ]; then
    run_one "$f" & pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}" || fail=1; pids=("${pids[@]:1}"); fi
  else
    run_one "$f" || fail=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ "${FG_FUZZ_KEEP_CORPUS:-0}" = 1 ] && say "grown corpus kept in $WORK/corpus"
[ "$fail" = 0 ] && say "all fuzzers clean" || say "FAILED"
exit "$fail"
