#!/usr/bin/env bash
# deploy/demo.sh - the demo on the embedded defaults: installs dependencies if
# missing, builds, starts redis-server and the embedded broker on free loopback
# ports, feeds a small scenario (deploy/demo/*.txt: a split stay, a frequent
# admission, a pharmacy purchase during a stay, a reused drug trace code, a
# prescription drug sold without prescription in a large unregistered sale, a
# gender-restricted item, one card in two regions, a near miss that must not
# fire, and two bad events) with the sample reference data, runs
# `fundguard run` until the input is drained, prints the alerts and dead letters
# it produced, and stops everything it started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

TMP=""
# shellcheck source=services.sh
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
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/deploy/install-deps.sh" >&2
BUILD="${FG_BUILD_DIR:-$ROOT/build}"
say "building fundguard in $BUILD"
cmake -S "$ROOT" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target fundguard >/dev/null
FG="$BUILD/fundguard"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fundguard-demo.XXXXXX")
services_start "$FG" "$TMP" --config "$ROOT/deploy/demo.json"

say "feeding the scenario: $(wc -l <"$ROOT/deploy/demo/inpatient.txt") inpatient and $(wc -l <"$ROOT/deploy/demo/claims.txt") claims events"
kcat -b "$BOOTSTRAP" -P -t inpatient -K '|' -l "$ROOT/deploy/demo/inpatient.txt"
kcat -b "$BOOTSTRAP" -P -t claims -K '|' -l "$ROOT/deploy/demo/claims.txt"

say "running: fundguard run --config deploy/demo.json (until the input has been idle for 3 s)"
"$FG" run --config "$ROOT/deploy/demo.json" --set "kafka.bootstrap.servers=$BOOTSTRAP" \
  --set "redis.port=$REDIS_PORT" --set "reference.catalogue=$ROOT/reference/catalogue.json" \
  --set "reference.blacklists=$ROOT/reference/blacklists.json" --idle-exit-ms 3000 2>"$TMP/fundguard.log" ||
  { cat "$TMP/fundguard.log" >&2; die "fundguard run failed"; }
grep -E ' (alert|dead-letter) |stats:' "$TMP/fundguard.log" | sed 's/^/  /' >&2 || true

echo
echo "== fundguard alerts   (what a case officer sees; one line per alert)"
"$FG" alerts -b "$BOOTSTRAP" --group demo-officer
echo
echo "== fundguard alerts show 77f7cb9d   (one alert with all its evidence)"
"$FG" alerts -b "$BOOTSTRAP" show 77f7cb9d
echo
echo "== institution risk (topic fundguard-institution-risk, key = institution)"
kcat -b "$BOOTSTRAP" -C -t fundguard-institution-risk -o beginning -e -q -f '%k  %s\n'
echo
echo "== dead letters (topic fundguard-dead-letter)"
kcat -b "$BOOTSTRAP" -C -t fundguard-dead-letter -o beginning -e -q -f '%h\n  original: %s\n'
