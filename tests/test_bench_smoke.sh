#!/usr/bin/env bash
# tests/test_bench_smoke.sh - the benchmark harness at CI size (benches/run.sh --smoke:
# ~5k events, one run): it must complete, pass its own count check (every replayed
# message consumed or dead-lettered) and write a report with precision and recall
# per rule. No assertion on speed: CI machines are not benchmark machines.
#
# usage: tests/test_bench_smoke.sh [--bin FUNDGUARD] [--out DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) ARGS+=(--bin "$2"); shift ;;
    --out) OUT=$2; shift ;;
    *) echo "test_bench_smoke: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
KEEP_OUT=1
[ -n "$OUT" ] || { OUT=$(mktemp -d "${TMPDIR:-/tmp}/fundguard-bench-smoke.XXXXXX"); KEEP_OUT=0; }
DATA=$(mktemp -d "${TMPDIR:-/tmp}/fundguard-bench-data.XXXXXX")
trap '[ "$KEEP_OUT" = 1 ] || rm -rf "$OUT"; rm -rf "$DATA"' EXIT

"$ROOT/benches/run.sh" --smoke --out "$OUT" --data "$DATA" "${ARGS[@]}"

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def fail(msg):
    print("test_bench_smoke: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
for f in ("report.json", "report.md", "machine.json", "throughput.png", "latency.png"):
    if not os.path.exists(os.path.join(out, f)) or os.path.getsize(os.path.join(out, f)) == 0:
        fail("%s missing or empty" % f)
r = json.load(open(os.path.join(out, "report.json")))
if r["count_check_failures"]:
    fail("count check failed: %s" % r["count_check_failures"])
s = r["sizes"][0]
for k in ("ceiling_events_per_s", "e2e_events_per_s", "redis_round_trips_per_event", "peak_rss_mb"):
    if not isinstance(s.get(k), (int, float)):
        fail("%s not measured" % k)
q = s["quality"]
if not q:
    fail("no per-rule quality (scoring against the generator's truth did not happen)")
for rule, v in q.items():
    for k in ("tp", "fp", "fn"):
        if not isinstance(v.get(k), int):
            fail("rule %s: %s not counted" % (rule, k))
    if v["tp"] + v["fn"] and not isinstance(v.get("recall"), (int, float)):
        fail("rule %s: recall not computed" % rule)
    if v["tp"] + v["fp"] and not isinstance(v.get("precision"), (int, float)):
        fail("rule %s: precision not computed" % rule)
if not s["latency_paced"] or s["latency_paced"][0].get("measured") is None:
    fail("no paced latency phase")
print("test_bench_smoke: PASS: %d rules scored; ceiling %.0f ev/s, end-to-end %.0f ev/s (not asserted)" % (
    len(q), s["ceiling_events_per_s"], s["e2e_events_per_s"]))
PY
