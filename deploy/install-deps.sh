#!/usr/bin/env bash
# Installs everything fundguard needs to build, test and run its demo, from
# Debian packages only. Idempotent: packages already present are skipped, so
# CI and the README commands can call it every time.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  librdkafka-dev libavro-dev libjansson-dev libhiredis-dev libcriterion-dev
  libssl-dev libmicrohttpd-dev redis-server redis-tools kcat
  zlib1g-dev  # deflate blocks of recorded .avro files (schemas/recfile.c)
  python3-yaml  # tests/check_deploy.sh parses deploy/*.yaml
  chromium fonts-noto-cjk  # headless page test of web/ (tests/test_page.c); CJK glyphs for 中文 labels
  gnuplot-nox  # benches/run.sh plots throughput and latency
)
[ "${FUNDGUARD_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$FUNDGUARD_DEPS_EXTRA" && PKGS+=("${extra[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-deps: all ${#PKGS[@]} packages present"; exit 0; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# redis-server's package starts a system instance; fundguard starts its own on
# free ports, so the system one is left as the package configured it.
echo "install-deps: done"
