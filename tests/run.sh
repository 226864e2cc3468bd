#!/usr/bin/env bash
# tests/run.sh - the full test suite: installs deps, builds with -Werror, starts
# the services the tests talk to (a real redis-server and the embedded broker,
# `fundguard broker`, both on free loopback ports), runs ctest, and always stops
# what it started. This is the README's test command and what CI runs.
#
# usage: tests/run.sh [--sanitize] [--build-dir DIR] [ctest args...]
#   --sanitize       ASan+UBSan build (default build dir: build-asan)
#   --build-dir DIR  build here instead of build / build-asan
#   anything else    passed to ctest (e.g. -R test_broker, -j2, -V)
# The services contract the tests read is tests/support/harness.h:
#   FG_TEST_REDIS_PORT, FG_TEST_BOOTSTRAP (FG_BIN, FG_SOURCE_DIR come from CTest).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$(date +%s)
SANITIZE=0
BUILD_DIR=""
CTEST_ARGS=()

say() { printf 'run.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) SANITIZE=1 ;;
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a value"; BUILD_DIR="$2"; shift ;;
    --build-dir=*) BUILD_DIR="${1#*=}" ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; CTEST_ARGS+=("$@"); break ;;
    *) CTEST_ARGS+=("$1") ;;
  esac
  shift
done
[ -n "$BUILD_DIR" ] || { [ "$SANITIZE" = 1 ] && BUILD_DIR="$ROOT/build-asan" || BUILD_DIR="$ROOT/build"; }
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
MODE=$([ "$SANITIZE" = 1 ] && echo "asan+ubsan" || echo "normal")

TMP=""
# shellcheck source=../deploy/services.sh
. "$ROOT/deploy/services.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_services
  [ -n "$TMP" ] && rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# --- 1. dependencies, 2. build -----------------------------------------------
say "installing dependencies (idempotent)"
"$ROOT/deploy/install-deps.sh"

CMAKE_ARGS=(-S "$ROOT" -B "$BUILD_DIR" -DFG_WERROR=ON -DFG_TESTS=ON)
if [ "$SANITIZE" = 1 ]; then
  CMAKE_ARGS+=(-DFG_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  CMAKE_ARGS+=(-DFG_SANITIZE=OFF)
fi
say "configuring $MODE build in $BUILD_DIR"
cmake "${CMAKE_ARGS[@]}" >/dev/null || { say "FAIL ($MODE): cmake configure failed"; exit 1; }
say "building with $(nproc) jobs"
cmake --build "$BUILD_DIR" -j "$(nproc)" || { say "FAIL ($MODE): build failed"; exit 1; }
FG_BIN_PATH="$BUILD_DIR/fundguard"
[ -x "$FG_BIN_PATH" ] || die "$FG_BIN_PATH was not built"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fundguard-tests.XXXXXX")

services_start "$FG_BIN_PATH" "$TMP"

# --- 5. ctest ----------------------------------------------------------------
export FG_TEST_REDIS_PORT="$REDIS_PORT"
export FG_TEST_BOOTSTRAP="$BOOTSTRAP"
say "ctest --output-on-failure ${CTEST_ARGS[*]:-}"
# In the background with wait, so INT/TERM reach our trap at once; in its own
# group, so the trap can stop ctest and every test process it started.
cd "$BUILD_DIR"
setsid bash -c 'ctest --output-on-failure "$@" 2>&1 </dev/null | tee "$0"; exit "${PIPESTATUS[0]}"' \
  "$TMP/ctest.out" "${CTEST_ARGS[@]}" &
CTEST_PID=$!
PGIDS+=("$CTEST_PID")
set +e
wait "$CTEST_PID"
RC=$?
set -e
forget_last_bg
TALLY=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$TMP/ctest.out" | tail -n 1 || true)
[ -n "$TALLY" ] || TALLY="no ctest tally"
[ "$RC" -eq 0 ] || FAILED_LOGS=1
stop_services

ELAPSED=$(($(date +%s) - START))
if [ "$RC" -eq 0 ]; then
  say "PASS ($MODE build, $BUILD_DIR): $TALLY, ${ELAPSED}s"
else
  say "FAIL ($MODE build, $BUILD_DIR): $TALLY, ctest exit $RC, ${ELAPSED}s"
fi
exit "$RC"
