#!/usr/bin/env bash
# tests/check_deploy.sh - syntax and consistency checks of deploy/ (CTest: deploy_files).
#
# Docker and Kubernetes cannot run on the CI machines, so the deployment files are
# checked statically:
#   1. every YAML file under deploy/ parses (python3 + PyYAML, Debian python3-yaml);
#   2. docker-compose.yml has the kafka (KRaft), kafka-init, redis and fundguard services,
#      creates every topic its fundguard config names, health-checks /healthz;
#   3. the Kubernetes manifests: kinds present, namespace, probes /healthz and /readyz on
#      9464, non-root, resources, ConfigMap/Secret references resolve, selectors match;
#   4. the JSON configs embedded in compose and the ConfigMap pass
#      `fundguard run --check-config` (FG_BIN, set by CTest);
#   5. `systemd-analyze verify` on the unit, where systemd-analyze exists, plus the
#      directives the operations guide relies on.
# Exits non-zero on the first failed group, after printing every problem in it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$ROOT/deploy"
FAILS=0
say() { printf 'check_deploy: %s\n' "$*"; }
fail() { printf 'check_deploy: FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/fg-check-deploy.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT

# Debian's python3 carries python3-yaml (deploy/install-deps.sh); a python3 earlier on
# PATH (pyenv, venv) may not have PyYAML, so take the first one that imports it.
PY=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { fail "no python3 with PyYAML (apt-get install python3-yaml)"; exit 1; }

# --- 1-3: YAML parse and structure (also writes the embedded configs to $TMPD) ----------
if ! "$PY" - "$DEPLOY" "$TMPD" <<'PYEOF'; then
import glob, json, os, re, sys
import yaml

deploy, tmpd = sys.argv[1], sys.argv[2]
errors = []
def err(msg): errors.append(msg)

# 1. every YAML file parses
docs_by_file = {}
files = sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True) +
               glob.glob(os.path.join(deploy, "**", "*.yml"), recursive=True))
if not files:
    err("no YAML files under deploy/")
for f in files:
    try:
        with open(f, encoding="utf-8") as fh:
            docs_by_file[f] = [d for d in yaml.safe_load_all(fh) if d is not None]
        print("check_deploy: parsed %s (%d document(s))" % (os.path.relpath(f, deploy), len(docs_by_file[f])))
    except yaml.YAMLError as e:
        err("%s: YAML error: %s" % (f, e))

def dig(d, *path, default=None):
    for p in path:
        if isinstance(d, dict) and p in d: d = d[p]
        elif isinstance(d, list) and isinstance(p, int) and p < len(d): d = d[p]
        else: return default
    return d

# 2. docker-compose.yml
compose_path = os.path.join(deploy, "docker-compose.yml")
compose = (docs_by_file.get(compose_path) or [None])[0]
if not isinstance(compose, dict):
    err("docker-compose.yml: missing or not a mapping")
else:
    svcs = compose.get("services") or {}
    for s in ("kafka", "kafka-init", "redis", "fundguard"):
        if s not in svcs: err("docker-compose.yml: no service %r" % s)
    k = svcs.get("kafka", {})
    if not str(k.get("image", "")).startswith("apache/kafka:"):
        err("docker-compose.yml: kafka must use the apache/kafka image, got %r" % k.get("image"))
    roles = str(dig(k, "environment", "KAFKA_PROCESS_ROLES", default=""))
    if "controller" not in roles or "broker" not in roles:
        err("docker-compose.yml: kafka is not a KRaft broker+controller (KAFKA_PROCESS_ROLES=%r)" % roles)
    if not str(svcs.get("redis", {}).get("image", "")).startswith("redis:7"):
        err("docker-compose.yml: redis must be Redis 7")
    rcmd = " ".join(map(str, svcs.get("redis", {}).get("command") or []))
    if "--user fundguard on" not in rcmd or "noeviction" not in rcmd:
        err("docker-compose.yml: redis needs the ACL user fundguard and maxmemory-policy noeviction")
    fg = svcs.get("fundguard", {})
    dockerfile = dig(fg, "build", "dockerfile", default="")
    ctx = os.path.normpath(os.path.join(deploy, dig(fg, "build", "context", default=".")))
    if not os.path.isfile(os.path.join(ctx, dockerfile)):
        err("docker-compose.yml: fundguard build file %r not found from context %s" % (dockerfile, ctx))
    hc = " ".join(map(str, dig(fg, "healthcheck", "test", default=[]) or []))
    if "/healthz" not in hc or "9464" not in hc:
        err("docker-compose.yml: fundguard healthcheck must GET :9464/healthz, got %r" % hc)
    deps = fg.get("depends_on") or {}
    if dig(deps, "kafka-init", "condition") != "service_completed_successfully":
        err("docker-compose.yml: fundguard must wait for kafka-init to complete")
    if dig(deps, "redis", "condition") != "service_healthy":
        err("docker-compose.yml: fundguard must wait for a healthy redis")
    cfg = None
    for v in fg.get("volumes") or []:
        src, _, rest = str(v).partition(":")
        if rest.startswith("/etc/fundguard/fundguard.json"):
            cfg = os.path.normpath(os.path.join(deploy, src))
    if not cfg or not os.path.isfile(cfg):
        err("docker-compose.yml: fundguard must mount an existing config at /etc/fundguard/fundguard.json")
    else:
        with open(cfg, encoding="utf-8") as fh:
            conf = json.load(fh)
        with open(os.path.join(tmpd, "compose.json"), "w") as out:
            json.dump(conf, out)
        if dig(conf, "http", "listen") != "0.0.0.0:9464":
            err("%s: http.listen must be 0.0.0.0:9464 in a container" % cfg)
        init = " ".join(map(str, dig(svcs, "kafka-init", "command", default=[]) or []))
        found = re.findall(r"^\s*create\s+(\S+)\s+(\S+)(.*)$", init, re.M)
        created = dict((m[0], m[1]) for m in found)    # topic -> partitions
        for key, topic in (conf.get("topics") or {}).items():
            if topic not in created: err("docker-compose.yml: kafka-init does not create topics.%s %r" % (key, topic))
        if created.get("fundguard-control") != "1":
            err("docker-compose.yml: the control topic must have exactly 1 partition")
        init_lines = dict((m[0], m[2]) for m in found)  # topic -> --config options
        for t in ("fundguard-institution-risk", "fundguard-cases"):
            if "cleanup.policy=compact" not in init_lines.get(t, ""):
                err("docker-compose.yml: topic %s must be compacted" % t)
        if created.get(conf["topics"].get("claims")) != created.get(conf["topics"].get("inpatient")):
            err("docker-compose.yml: claims and inpatient need the same partition count (co-partitioned by patient)")

# 3. Kubernetes manifests
k8s = {}
for f, docs in docs_by_file.items():
    if os.path.dirname(f) != os.path.join(deploy, "k8s"): continue
    for d in docs:
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
            err("%s: a document without apiVersion/kind" % f); continue
        if d["kind"] == "Kustomization":
            for r in d.get("resources") or []:
                if not os.path.isfile(os.path.join(deploy, "k8s", r)): err("kustomization.yaml: missing %s" % r)
            listed = set(d.get("resources") or [])
            for other in docs_by_file:
                b = os.path.basename(other)
                if os.path.dirname(other) == os.path.join(deploy, "k8s") and b != "kustomization.yaml" and b not in listed:
                    err("kustomization.yaml does not list %s" % b)
            continue
        name = dig(d, "metadata", "name")
        if not name: err("%s: %s without metadata.name" % (f, d["kind"])); continue
        if d["kind"] != "Namespace" and dig(d, "metadata", "namespace") != "fundguard":
            err("%s: %s/%s not in namespace fundguard" % (f, d["kind"], name))
        k8s[(d["kind"], name)] = d
for kind in ("Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"):
    if not any(k == kind for k, _ in k8s): err("k8s: no %s" % kind)
dep = next((d for (k, _), d in k8s.items() if k == "Deployment"), None)
if dep:
    pod = dig(dep, "spec", "template", "spec", default={})
    labels = dig(dep, "spec", "template", "metadata", "labels", default={})
    sel = dig(dep, "spec", "selector", "matchLabels", default={})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        err("Deployment: selector does not match the pod labels")
    if not isinstance(dig(dep, "spec", "replicas"), int) or dig(dep, "spec", "replicas") < 1:
        err("Deployment: spec.replicas must be a positive integer")
    c = dig(pod, "containers", 0, default={})
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = (dig(c, probe, "httpGet", "path"), dig(c, probe, "httpGet", "port"))
        if got != (path, 9464): err("Deployment: %s must GET %s on 9464, got %r" % (probe, path, got))
    if 9464 not in [p.get("containerPort") for p in c.get("ports") or []]:
        err("Deployment: container port 9464 not declared")
    if not dig(pod, "securityContext", "runAsNonRoot") and not dig(c, "securityContext", "runAsNonRoot"):
        err("Deployment: runAsNonRoot must be true")
    if dig(c, "securityContext", "allowPrivilegeEscalation") is not False:
        err("Deployment: allowPrivilegeEscalation must be false")
    if not dig(c, "resources", "requests") or not dig(c, "resources", "limits", "memory"):
        err("Deployment: resources.requests and a memory limit are required")
    args = c.get("args") or []
    if args[:1] != ["run"] or "--config" not in args:
        err("Deployment: container args must be run --config FILE, got %r" % args)
    for e in c.get("env") or []:
        ref = dig(e, "valueFrom", "secretKeyRef")
        if ref:
            s = k8s.get(("Secret", ref.get("name")))
            if not s or ref.get("key") not in (s.get("stringData") or s.get("data") or {}):
                err("Deployment: env %s refers to a missing Secret key %r" % (e.get("name"), ref))
    for v in pod.get("volumes") or []:
        if "configMap" in v and ("ConfigMap", v["configMap"].get("name")) not in k8s:
            err("Deployment: volume %s refers to a missing ConfigMap" % v.get("name"))
        if "secret" in v:
            s = k8s.get(("Secret", v["secret"].get("secretName")))
            if not s: err("Deployment: volume %s refers to a missing Secret" % v.get("name")); continue
            for it in v["secret"].get("items") or []:
                if it.get("key") not in (s.get("stringData") or s.get("data") or {}):
                    err("Deployment: volume %s refers to a missing Secret key %r" % (v.get("name"), it.get("key")))
    for (kind, name), d in k8s.items():
        s = dig(d, "spec", "selector", "matchLabels") if kind == "PodDisruptionBudget" else \
            dig(d, "spec", "selector") if kind == "Service" else None
        if kind in ("Service", "PodDisruptionBudget") and (not s or any(labels.get(a) != b for a, b in s.items())):
            err("%s/%s: selector does not match the Deployment's pods" % (kind, name))
    svc = next((d for (k, _), d in k8s.items() if k == "Service"), {})
    if dig(svc, "metadata", "annotations", "prometheus.io/scrape") != "true":
        err("Service: prometheus.io/scrape annotation missing")
for (kind, name), d in k8s.items():
    if kind == "ConfigMap" and "fundguard.json" in (d.get("data") or {}):
        try:
            conf = json.loads(d["data"]["fundguard.json"])
        except ValueError as e:
            err("ConfigMap %s: fundguard.json is not JSON: %s" % (name, e)); continue
        if dig(conf, "http", "listen") != "0.0.0.0:9464":
            err("ConfigMap %s: http.listen must be 0.0.0.0:9464" % name)
        with open(os.path.join(tmpd, "k8s.json"), "w") as out:
            json.dump(conf, out)

for e in errors: print("check_deploy: FAIL: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
    fail "YAML files (see above)"
fi

# --- 4: the embedded configs pass fundguard's own validation ------------------------------
# http.listen is added by the HTTP endpoint work; a binary that does not know it yet
# validates everything else (the "http" object is dropped from a copy), and says so.
if [ -n "${FG_BIN:-}" ] && [ -x "$FG_BIN" ]; then
    knows_http=1
    "$FG_BIN" config-doc 2>/dev/null | grep -q 'http\.listen' || knows_http=0
    [ "$knows_http" = 1 ] || say "note: $FG_BIN has no http.listen yet; validating the configs without it"
    for c in "$TMPD"/compose.json "$TMPD"/k8s.json; do
        [ -f "$c" ] || continue
        if [ "$knows_http" = 0 ]; then
            "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("http",None); json.dump(c,open(sys.argv[1],"w"))' "$c"
        fi
        if out=$(FUNDGUARD_REDIS_PASSWORD=placeholder FUNDGUARD_HMAC_KEY=placeholder-key-0123456789 \
                 "$FG_BIN" run --check-config --config "$c" 2>&1 >/dev/null); then
            say "config $(basename "$c" .json): fundguard --check-config OK"
        else
            fail "config from $(basename "$c" .json): $out"
        fi
    done
else
    say "skipped --check-config: FG_BIN not set (CTest sets it)"
fi

# --- 5: systemd unit -------------------------------------------------------------------
UNIT="$DEPLOY/systemd/fundguard.service"
# Directives the guide and the exit-code contract depend on (checked even without systemd).
# shellcheck disable=SC2016 # $MAINPID is literal text in the unit
for d in 'User=fundguard' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'KillSignal=SIGTERM' \
         'Restart=on-failure' 'RestartPreventExitStatus=3' 'EnvironmentFile=' 'TimeoutStopSec=' \
         'ExecReload=/bin/kill -HUP $MAINPID'; do
    grep -qF -- "$d" "$UNIT" || fail "fundguard.service lacks $d"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify checks that ExecStart's binary exists and is executable, so it runs on a copy
    # pointing at the binary just built (or /bin/true without one); nothing else is
    # changed. It does not need the fundguard user or the EnvironmentFile (those are
    # only resolved at start). It exits 0 even for unknown keys and unparsable values
    # ("Unknown key ...", "Failed to parse ..., ignoring"), so ANY output is an error.
    mkdir -p "$TMPD/unit"
    bin="${FG_BIN:-}"; [ -n "$bin" ] && [ -x "$bin" ] || bin=/bin/true
    sed -e "s#^ExecStart=/usr/bin/fundguard #ExecStart=$bin #" "$UNIT" >"$TMPD/unit/fundguard.service"
    set +e
    out=$(cd "$TMPD/unit" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify ./fundguard.service 2>&1)
    rc=$?
    set -e
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        fail "systemd-analyze verify (exit $rc): $out"
    else
        say "systemd-analyze verify fundguard.service: OK"
    fi
else
    say "skipped systemd-analyze verify: systemd-analyze not installed"
fi

# --- the Dockerfile: static checks (no docker daemon on CI) ------------------------------
DF="$DEPLOY/Dockerfile"
if ! grep -qE '^FROM debian:\$\{DEBIAN_TAG\} AS build' "$DF" || ! grep -qE '^ARG DEBIAN_TAG=12' "$DF"; then
    fail "Dockerfile: build stage must be Debian 12"
fi
grep -qE '^USER [1-9][0-9]*' "$DF" || fail "Dockerfile: must switch to a numeric non-root USER"
grep -qE '^EXPOSE 9464$' "$DF" || fail "Dockerfile: must EXPOSE 9464"
grep -qF '"run", "--config", "/etc/fundguard/fundguard.json"' "$DF" || fail "Dockerfile: CMD must run the mounted config"

if [ "$FAILS" -ne 0 ]; then
    say "$FAILS check group(s) failed"
    exit 1
fi
say "all deployment files OK"
