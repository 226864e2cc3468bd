#!/usr/bin/env python3
"""benches/report.py - the analysis half of the benchmark harness (benches/run.sh
drives the processes; this turns what they left behind into figures).

Python 3 standard library only. Subcommands:
  machine    --bin FG --out F           the machine and software the run measured
  redis-mem  --port P --prefix X --out F [--before F]
                                        Redis memory by hash-tag kind after a detect run
  phase      --dir D                    one phase (one fundguard run over one replay):
                                        counts check, throughput, Redis cost, RSS, latency
  summarize  --out DIR [--no-plot]      every phase of the run -> report.json, report.md, plots

A phase directory holds what run.sh wrote: phase.env (KEY=VALUE: mode, size, run,
rate, replayed, ...), fundguard.log (its final "stats:" line), ack.log (replay's
"topic partition offset ack_wall_time_us" lines) and, in detect mode, alerts.kcat
(the alert topic read back by `kcat -C -J`: Kafka timestamp, headers, payload).
"""
import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict

# ---------------------------------------------------------------- helpers


def die(msg):
    print("report.py: error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2.0


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - best effort: the report says "unknown"
        return ""


# ---------------------------------------------------------------- machine


def cmd_machine(a):
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    pkgs = {}
    for p in ["librdkafka1", "librdkafka-dev", "libavro23", "libavro-dev", "libjansson4", "libhiredis0.14",
              "redis-server", "kcat", "gcc", "cmake", "gnuplot-nox"]:
        v = sh("dpkg-query -W -f='${Version}' %s 2>/dev/null" % p)
        if v:
            pkgs[p] = v
    root = a.root or os.getcwd()
    rev = sh("git -C '%s' rev-parse HEAD" % root)
    dirty = bool(sh("git -C '%s' status --porcelain --untracked-files=no" % root))
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    out = {
        "host": socket.gethostname(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1048576.0, 2),
        "kernel": platform.release(),
        "os": os_name,
        "packages": pkgs,
        "git_rev": rev or "unknown",
        "git_dirty": dirty,
        "fundguard_version": sh("'%s' version" % a.bin) if a.bin else "",
        "loadavg_at_start": sh("cat /proc/loadavg"),
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


# ---------------------------------------------------------------- Redis (RESP over a socket)


class Resp:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=60)
        self.f = self.s.makefile("rb")

    @staticmethod
    def enc(*args):
        out = [b"*%d\r\n" % len(args)]
        for x in args:
            b = x if isinstance(x, bytes) else str(x).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        if not line:
            raise IOError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise IOError("redis: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise IOError("redis: unexpected reply %r" % line)

    def call(self, *args):
        self.s.sendall(self.enc(*args))
        return self.read()

    def pipeline(self, cmds):
        self.s.sendall(b"".join(self.enc(*c) for c in cmds))
        return [self.read() for _ in cmds]


def redis_info_memory(r):
    info = r.call("INFO", "memory").decode()
    m = re.search(r"used_memory:(\d+)", info)
    return int(m.group(1)) if m else None


def cmd_redis_mem(a):
    r = Resp("127.0.0.1", a.port)
    used = redis_info_memory(r)
    kinds = defaultdict(lambda: {"keys": 0, "bytes": 0, "subjects": set()})
    cursor = b"0"
    match = (a.prefix + "*").encode()
    while True:
        cursor, keys = r.call("SCAN", cursor, "MATCH", match, "COUNT", 2000)
        if keys:
            sizes = r.pipeline([("MEMORY", "USAGE", k, "SAMPLES", "0") for k in keys])
            for k, sz in zip(keys, sizes):
                ks = k.decode("utf-8", "replace")
                m = re.search(r"\{([^}]*)\}", ks)
                tag = m.group(1) if m else ""
                kind = {"p": "patient", "i": "institution"}.get(tag.split(":", 1)[0] if ":" in tag else "", "other")
                d = kinds[kind]
                d["keys"] += 1
                d["bytes"] += sz or 0
                if tag:
                    d["subjects"].add(tag)
        if cursor in (b"0", 0, "0"):
            break
    before = None
    if a.before and os.path.exists(a.before):
        with open(a.before) as f:
            before = json.load(f).get("used_memory")
    out = {"prefix": a.prefix, "used_memory": used, "used_memory_before": before,
           "used_memory_delta": (used - before) if (used is not None and before is not None) else None,
           "kinds": {}}
    for kind, d in kinds.items():
        n = len(d["subjects"])
        out["kinds"][kind] = {"keys": d["keys"], "bytes": d["bytes"], "subjects": n,
                              "bytes_per_subject": round(d["bytes"] / n, 1) if n else None}
    pat = out["kinds"].get("patient", {})
    out["bytes_per_patient"] = pat.get("bytes_per_subject")
    out["bytes_per_institution"] = out["kinds"].get("institution", {}).get("bytes_per_subject")
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


def cmd_redis_used(a):
    r = Resp("127.0.0.1", a.port)
    with open(a.out, "w") as f:
        json.dump({"used_memory": redis_info_memory(r)}, f)


# ---------------------------------------------------------------- one phase

STATS_RE = re.compile(r"stats: (.*)$")


def parse_stats(log_path):
    last = None
    with open(log_path, errors="replace") as f:
        for line in f:
            m = STATS_RE.search(line.rstrip("\n"))
            if m:
                last = m.group(1)
    if last is None:
        return None
    vals = {}
    for k, v in re.findall(r"(\w+)=(\S+)", last):
        try:
            vals[k] = float(v) if "." in v else int(v)
        except ValueError:
            vals[k] = v
    return vals


def read_ack(path, wanted=None):
    """ack.log -> count, first/last ack time, and {(topic,partition,offset): ack_us} for wanted keys."""
    n, first, last, found = 0, None, None, {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 4:
                continue
            n += 1
            t = int(p[3])
            first = t if first is None or t < first else first
            last = t if last is None or t > last else last
            if wanted is not None:
                key = (p[0], int(p[1]), int(p[2]))
                if key in wanted:
                    found[key] = t
    return n, first, last, found


def peak_rate(path):
    """Most messages acknowledged in one wall-clock second (the offered load's peak)."""
    per_s = defaultdict(int)
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 4:
                    per_s[int(p[3]) // 1000000] += 1
    except OSError:
        return None
    return max(per_s.values()) if per_s else None


def read_alerts(path):
    """kcat -J lines -> list of (ts_ms, headers dict, payload str, partition, offset)."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                m = json.loads(line)
            except ValueError:
                continue
            hl = m.get("headers") or []
            hdr = {hl[i]: hl[i + 1] for i in range(0, len(hl) - 1, 2)}
            out.append((m.get("ts"), hdr, m.get("payload"), m.get("partition"), m.get("offset")))
    return out


def cmd_phase(a):
    d = a.dir
    env = read_env(os.path.join(d, "phase.env"))
    st = parse_stats(os.path.join(d, "fundguard.log"))
    if st is None:
        die("%s: fundguard left no stats line (did it crash? see %s/fundguard.log)" % (d, d))
    replayed = int(env.get("replayed", "-1"))
    consumed = sum(int(st.get(s, 0)) for s in ("claims", "inpatient", "invoicing"))
    dead = int(st.get("dead_letter", 0))
    res = {k: env[k] for k in ("mode", "size", "size_label", "run", "rate", "phase") if k in env}
    res.update({
        "replayed": replayed, "consumed": consumed, "dead_lettered": dead, "processed": consumed + dead,
        "alerts_published": int(st.get("alerts", 0)),
        "fundguard_exit": int(env.get("fundguard_exit", "-1")),
        "replay_exit": int(env.get("replay_exit", "-1")),
    })
    res["count_ok"] = replayed >= 0 and replayed == consumed + dead
    first, last = int(st.get("first_consume_us", 0)), int(st.get("last_commit_us", 0))
    busy = (last - first) / 1e6 if first and last > first else None
    res["busy_seconds"] = busy
    res["events_per_s"] = round((consumed + dead) / busy, 1) if busy else None
    n_ev = max(consumed, 1)
    res["redis_round_trips"] = int(st.get("redis_round_trips", 0))
    res["redis_commands"] = int(st.get("redis_commands", 0))
    res["redis_round_trips_per_event"] = round(res["redis_round_trips"] / n_ev, 5)
    res["redis_commands_per_event"] = round(res["redis_commands"] / n_ev, 4)
    res["commits"] = int(st.get("commits", 0))
    res["peak_rss_mb"] = round(int(st.get("max_rss_kb", 0)) / 1024.0, 1)
    res["cpu_user_s"] = st.get("cpu_user_s")
    res["cpu_sys_s"] = st.get("cpu_sys_s")
    res["late"] = int(st.get("late", 0))
    for k in ("replay_seconds", "offered_rate", "speed", "redis_cpu_s"):
        if k in env:
            try:
                res[k] = float(env[k])
            except ValueError:
                pass

    alerts_path = os.path.join(d, "alerts.kcat")
    lat = None
    if os.path.exists(alerts_path):
        alerts = read_alerts(alerts_path)
        wanted = set()
        for ts, hdr, _, _, _ in alerts:
            if "fg.source.topic" in hdr:
                wanted.add((hdr["fg.source.topic"], int(hdr["fg.source.partition"]), int(hdr["fg.source.offset"])))
        n_ack, a_first, a_last, acks = read_ack(os.path.join(d, "ack.log"), wanted)
        lats, missing = [], 0
        for ts, hdr, _, _, _ in alerts:
            key = ("fg.source.topic" in hdr and
                   (hdr["fg.source.topic"], int(hdr["fg.source.partition"]), int(hdr["fg.source.offset"])))
            if not key or key not in acks or ts is None:
                missing += 1
                continue
            lats.append((ts * 1000 - acks[key]) / 1000.0)  # ms
        lats.sort()
        lat = {"alert_messages": len(alerts), "measured": len(lats), "without_source": missing,
               "p50_ms": percentile(lats, 50), "p95_ms": percentile(lats, 95), "p99_ms": percentile(lats, 99),
               "max_ms": lats[-1] if lats else None}
        # latest version of each alert id, for scoring against the generator's truth
        latest = {}
        for ts, hdr, payload, part, off in alerts:
            try:
                doc = json.loads(payload)
            except (TypeError, ValueError):
                continue
            aid = doc.get("alert_id")
            if aid:
                latest[aid] = ((part, off), payload)
        with open(os.path.join(d, "alerts.jsonl"), "w") as f:
            for _, payload in sorted(latest.values(), key=lambda x: (x[0][0] or 0, x[0][1] or 0)):
                f.write(payload.strip() + "\n")
        res["distinct_alert_ids"] = len(latest)
    else:
        n_ack, a_first, a_last, _ = read_ack(os.path.join(d, "ack.log"))
    res["ack_lines"] = n_ack
    # fundguard done within 250 ms of the replay's last acknowledgement: it kept pace with the
    # producer, so its rate is the replay's, a lower bound of what fundguard can do
    res["bounded_by_replay"] = bool(a_last and last and last - a_last < 250000)
    res["replay_peak_1s_rate"] = peak_rate(os.path.join(d, "ack.log"))
    if a_first and a_last and a_last > a_first:
        res["replay_rate_achieved"] = round(n_ack / ((a_last - a_first) / 1e6), 1)
    res["latency"] = lat
    for name in ("score.json", "redis-mem.json"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            with open(p) as f:
                res[name.split(".")[0].replace("-", "_")] = json.load(f)
    with open(os.path.join(d, "phase.json"), "w") as f:
        json.dump(res, f, indent=2)
    if not res["count_ok"]:
        die("%s: COUNT MISMATCH: replayed %d messages but fundguard processed %d (consumed %d + dead-lettered %d)"
            % (d, replayed, consumed + dead, consumed, dead))


# ---------------------------------------------------------------- replay speed for an offered rate


def find_num(obj, names):
    """First numeric value under any of names, searched depth-first through dicts."""
    if isinstance(obj, dict):
        for n in names:
            if isinstance(obj.get(n), (int, float)) and not isinstance(obj.get(n), bool):
                return obj[n]
        for v in obj.values():
            r = find_num(v, names)
            if r is not None:
                return r
    return None


def cmd_speed(a):
    """replay --speed K multiplies event time: K = rate x event-time span (s) / events."""
    path = os.path.join(a.data, "manifest.json")
    try:
        with open(path) as f:
            man = json.load(f)
    except (OSError, ValueError) as e:
        die("%s: %s" % (path, e))
    first = find_num(man, ["first_timestamp_ms", "first_ts_ms", "min_timestamp_ms", "start_ms", "first_event_time_ms"])
    last = find_num(man, ["last_timestamp_ms", "last_ts_ms", "max_timestamp_ms", "end_ms", "last_event_time_ms"])
    span = (last - first) / 1000.0 if first is not None and last is not None and last > first else None
    if span is None:
        days = find_num(man, ["days"])
        span = days * 86400.0 if days else None
    # fundguard gen's manifest: {"events": {"total": N, ...}, "params": {"days": D, ...}}
    ev = man.get("events")
    events = ev.get("total") if isinstance(ev, dict) else ev if isinstance(ev, (int, float)) else None
    if not span or not events:
        die("%s: cannot tell the event-time span and the event count" % path)
    print("%.6g" % (a.rate * span / events))


# ---------------------------------------------------------------- summary

TARGETS = {
    "e2e_ratio_min": 0.5,
    "redis_round_trips_per_event_max": 0.02,
    "alert_p99_ms_at_20k_max": 250.0,
    "redis_bytes_per_patient_max": 256.0,
    "recall_min": 0.95,
    "precision_min": 0.9,
}


def load_phases(out):
    phases = []
    for root, _, files in os.walk(out):
        if "phase.json" in files:
            with open(os.path.join(root, "phase.json")) as f:
                p = json.load(f)
            p["dir"] = os.path.relpath(root, out)
            phases.append(p)
    return phases


def per_rule(score):
    """Accepts the scorer's JSON in a few plausible shapes -> {rule: {tp,fp,fn,precision,recall}}."""
    if not score:
        return {}
    rules = score.get("rules", score.get("per_rule", score))
    if isinstance(rules, list):
        rules = {r.get("rule") or r.get("rule_id"): r for r in rules}
    out = {}
    for name, r in rules.items():
        if not isinstance(r, dict) or name in ("total", "overall"):
            continue
        tp, fp, fn = r.get("tp", r.get("TP")), r.get("fp", r.get("FP")), r.get("fn", r.get("FN"))
        if tp is None:
            continue
        prec = r.get("precision", tp / (tp + fp) if (tp + fp) else None)
        rec = r.get("recall", tp / (tp + fn) if (tp + fn) else None)
        out[name] = {"tp": tp, "fp": fp, "fn": fn, "precision": prec, "recall": rec}
    return out


def fmt(v, nd=0, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        s = ("%%.%df" % nd) % v
    else:
        s = str(v)
    return s + unit


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def cmd_summarize(a):
    out = a.out
    machine = {}
    if os.path.exists(os.path.join(out, "machine.json")):
        with open(os.path.join(out, "machine.json")) as f:
            machine = json.load(f)
    params = read_env(os.path.join(out, "params.env")) if os.path.exists(os.path.join(out, "params.env")) else {}
    phases = load_phases(out)
    if not phases:
        die("no phase results under %s" % out)
    sizes = sorted({int(p["size"]) for p in phases})
    by_size = []
    failures = [p["dir"] for p in phases if not p.get("count_ok")]
    for n in sizes:
        ps = [p for p in phases if int(p["size"]) == n]
        label = next((p.get("size_label") for p in ps if p.get("size_label")), str(n))
        ceil = [p for p in ps if p.get("phase") == "ceiling"]
        det = [p for p in ps if p.get("phase") == "detect"]
        paced = sorted([p for p in ps if p.get("phase") == "paced"], key=lambda p: float(p.get("rate", 0)))
        row = {"size": n, "label": label, "runs": len(det)}
        row["ceiling_events_per_s"] = median([p.get("events_per_s") for p in ceil])
        row["ceiling_runs"] = [p.get("events_per_s") for p in ceil]
        row["e2e_events_per_s"] = median([p.get("events_per_s") for p in det])
        row["e2e_runs"] = [p.get("events_per_s") for p in det]
        row["ceiling_bounded_by_replay"] = any(p.get("bounded_by_replay") for p in ceil)
        row["e2e_bounded_by_replay"] = any(p.get("bounded_by_replay") for p in det)
        row["ratio"] = (round(row["e2e_events_per_s"] / row["ceiling_events_per_s"], 3)
                        if row["e2e_events_per_s"] and row["ceiling_events_per_s"] else None)
        row["redis_round_trips_per_event"] = median([p.get("redis_round_trips_per_event") for p in det])
        row["redis_commands_per_event"] = median([p.get("redis_commands_per_event") for p in det])
        row["peak_rss_mb"] = max([p.get("peak_rss_mb") or 0 for p in det] or [0]) or None
        row["ceiling_peak_rss_mb"] = max([p.get("peak_rss_mb") or 0 for p in ceil] or [0]) or None
        row["cpu_s_per_1k_events"] = median([((p.get("cpu_user_s") or 0) + (p.get("cpu_sys_s") or 0)) * 1000.0 /
                                             max(p.get("processed") or 1, 1) for p in det])
        mem = next((p.get("redis_mem") for p in det if p.get("redis_mem")), None)
        row["redis_bytes_per_patient"] = mem.get("bytes_per_patient") if mem else None
        row["redis_bytes_per_institution"] = mem.get("bytes_per_institution") if mem else None
        row["redis_used_memory_delta"] = mem.get("used_memory_delta") if mem else None
        row["redis_patients"] = mem.get("kinds", {}).get("patient", {}).get("subjects") if mem else None
        row["redis_institutions"] = mem.get("kinds", {}).get("institution", {}).get("subjects") if mem else None
        row["redis_memory"] = mem
        row["latency_full_speed"] = next((p.get("latency") for p in det if p.get("latency")), None)
        row["latency_paced"] = [{"offered_rate": float(p.get("rate")), "achieved_rate": p.get("replay_rate_achieved"),
                                 "peak_1s_rate": p.get("replay_peak_1s_rate"), "events": p.get("processed"),
                                 **(p.get("latency") or {})} for p in paced]
        score = next((p.get("score") for p in det if p.get("score")), None)
        row["quality"] = per_rule(score)
        row["quality_raw"] = score
        by_size.append(row)

    # targets, judged on the largest size measured (the most state; the headline)
    big = by_size[-1]
    t = {}
    t["e2e_ratio"] = {"target": ">= %.2f" % TARGETS["e2e_ratio_min"], "measured": big["ratio"],
                      "met": None if big["ratio"] is None else big["ratio"] >= TARGETS["e2e_ratio_min"]}
    rt = big["redis_round_trips_per_event"]
    t["redis_round_trips_per_event"] = {"target": "<= %.2f" % TARGETS["redis_round_trips_per_event_max"],
                                        "measured": rt,
                                        "met": None if rt is None else rt <= TARGETS["redis_round_trips_per_event_max"]}
    p20 = next((x for x in big["latency_paced"] if abs(x["offered_rate"] - 20000) < 1), None)
    p99 = p20.get("p99_ms") if p20 else None
    t["alert_p99_ms_at_20k"] = {"target": "< %.0f ms" % TARGETS["alert_p99_ms_at_20k_max"], "measured": p99,
                                "met": None if p99 is None else p99 < TARGETS["alert_p99_ms_at_20k_max"]}
    bp = big["redis_bytes_per_patient"]
    t["redis_bytes_per_patient"] = {"target": "<= %.0f B" % TARGETS["redis_bytes_per_patient_max"], "measured": bp,
                                    "met": None if bp is None else bp <= TARGETS["redis_bytes_per_patient_max"]}
    q = big["quality"]
    rec_ok = [r["recall"] is not None and r["recall"] >= TARGETS["recall_min"] for r in q.values() if r["tp"] + r["fn"]]
    pre_ok = [r["precision"] is not None and r["precision"] >= TARGETS["precision_min"]
              for r in q.values() if r["tp"] + r["fp"]]
    t["per_rule_recall"] = {"target": ">= %.2f every rule" % TARGETS["recall_min"],
                            "measured": "%d of %d rules" % (sum(rec_ok), len(rec_ok)),
                            "met": None if not q else all(rec_ok)}
    t["per_rule_precision"] = {"target": ">= %.2f every rule" % TARGETS["precision_min"],
                               "measured": "%d of %d rules" % (sum(pre_ok), len(pre_ok)),
                               "met": None if not q else all(pre_ok)}

    report = {"machine": machine, "params": params, "targets": t, "judged_on_size": big["label"],
              "sizes": by_size, "count_check_failures": failures,
              "definitions": {
                  "throughput": "events (consumed + dead-lettered) / (last offset commit - first message consumed), "
                                "wall clock inside fundguard (stats line first_consume_us, last_commit_us); "
                                "median over runs. The replay runs on the same machine, paced by the measured "
                                "group's lag; it fills that backlog before fundguard starts, then keeps producing "
                                "while fundguard consumes. \">=\": fundguard kept pace with the replay (lower bound).",
                  "ceiling": "the same fundguard binary and consumer loop with pipeline.mode=decode_only "
                             "(consume, decode, validate, dead-letter, commit; no Redis, detectors or alerts), on "
                             "the same generated data, in the same run",
                  "latency": "alert message Kafka timestamp (CreateTime, stamped by fundguard's producer when it "
                             "hands the alert to Kafka after detection; ms resolution) minus the ack wall time of "
                             "the input message named by the alert's fg.source.topic/partition/offset headers in "
                             "the replay's --ack-log (its delivery report, just after the append). Every alert "
                             "message counts, updates included. Both clocks are this machine's wall clock.",
                  "redis_memory": "after the first detect run of a size: SCAN the run's key prefix, MEMORY USAGE "
                                  "(SAMPLES 0) per key, grouped by hash tag kind ({p:..} patient, {i:..} "
                                  "institution); bytes per subject = bytes of that kind / distinct tags",
              }}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    write_md(out, report)
    if not a.no_plot:
        plot(out, by_size)
    if failures:
        die("count check failed in: %s" % ", ".join(failures))


def write_md(out, r):
    m = r["machine"]
    L = []
    L.append("# fundguard benchmark — %s" % m.get("date_utc", ""))
    L.append("")
    L.append("Machine: %s, %s cores (%s), %s GB RAM, kernel %s, %s. fundguard %s at `%s`%s." % (
        m.get("host"), m.get("nproc"), m.get("cpu_model"), m.get("ram_gb"), m.get("kernel"), m.get("os"),
        m.get("fundguard_version", ""), m.get("git_rev", "")[:12], " (uncommitted changes)" if m.get("git_dirty") else ""))
    L.append("Packages: " + ", ".join("%s %s" % kv for kv in sorted(m.get("packages", {}).items())) + ".")
    p = r.get("params", {})
    if p:
        L.append("Parameters: " + ", ".join("%s=%s" % kv for kv in sorted(p.items())) + ".")
    L.append("")
    L.append("## Targets (judged on the largest size, %s events)" % r["judged_on_size"])
    L.append("")
    L.append("| target | wanted | measured | |")
    L.append("|---|---|---|---|")
    for k, v in r["targets"].items():
        L.append("| %s | %s | %s | %s |" % (k, v["target"], fmt(v["measured"], 3) if isinstance(v["measured"], float)
                                          else fmt(v["measured"]), verdict(v["met"])))
    L.append("")
    L.append("## Throughput and cost by size")
    L.append("")
    L.append("| events | ceiling ev/s (decode only) | end-to-end ev/s | ratio | Redis round trips/event | "
             "Redis commands/event | peak RSS MB | CPU s / 1k events | Redis B/patient | Redis B/institution | "
             "used_memory delta MB |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["label"], (">= " if s["ceiling_bounded_by_replay"] else "") + fmt(s["ceiling_events_per_s"]),
            (">= " if s["e2e_bounded_by_replay"] else "") + fmt(s["e2e_events_per_s"]), fmt(s["ratio"], 3),
            fmt(s["redis_round_trips_per_event"], 4), fmt(s["redis_commands_per_event"], 3), fmt(s["peak_rss_mb"], 1),
            fmt(s["cpu_s_per_1k_events"], 3), fmt(s["redis_bytes_per_patient"], 1),
            fmt(s["redis_bytes_per_institution"], 1),
            fmt(s["redis_used_memory_delta"] / 1048576.0 if s["redis_used_memory_delta"] is not None else None, 1)))
    L.append("")
    L.append("\">=\": fundguard finished within 250 ms of the replay's last acknowledgement, so it ran at the "
             "replay's pace and the figure is a lower bound (the replay shares the machine's cores).")
    L.append("")
    L.append("Throughput per run (median shown above): " + "; ".join(
        "%s: ceiling %s, e2e %s" % (s["label"], s["ceiling_runs"], s["e2e_runs"]) for s in r["sizes"]))
    L.append("")
    L.append("## Alert latency (input appended -> alert appended)")
    L.append("")
    L.append("| events | offered ev/s (average) | achieved ev/s | peak 1 s | alert messages | p50 ms | p95 ms | "
             "p99 ms | max ms |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        rows = list(s["latency_paced"])
        if s["latency_full_speed"]:
            rows.append(dict(offered_rate=None, achieved_rate=None, peak_1s_rate=None, **s["latency_full_speed"]))
        for x in rows:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s["label"], fmt(x["offered_rate"]) if x["offered_rate"] else "full speed",
                fmt(x.get("achieved_rate")), fmt(x.get("peak_1s_rate")), fmt(x.get("measured")), fmt(x.get("p50_ms"), 1),
                fmt(x.get("p95_ms"), 1), fmt(x.get("p99_ms"), 1), fmt(x.get("max_ms"), 1)))
    L.append("")
    L.append("## Detection quality per rule (against the generator's ground truth)")
    L.append("")
    for s in r["sizes"]:
        L.append("### %s events" % s["label"])
        L.append("")
        if not s["quality"]:
            L.append("(no score)")
            L.append("")
            continue
        L.append("| rule | TP | FP | FN | precision | recall |")
        L.append("|---|---|---|---|---|---|")
        for name in sorted(s["quality"]):
            q = s["quality"][name]
            L.append("| %s | %s | %s | %s | %s | %s |" % (name, q["tp"], q["fp"], q["fn"], fmt(q["precision"], 3),
                                                      fmt(q["recall"], 3)))
        L.append("")
    L.append("## Definitions")
    L.append("")
    for k, v in r["definitions"].items():
        L.append("- **%s**: %s" % (k, v))
    if r["count_check_failures"]:
        L.append("")
        L.append("**COUNT CHECK FAILED** in: " + ", ".join(r["count_check_failures"]))
    L.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L))


def plot(out, by_size):
    with open(os.path.join(out, "throughput.dat"), "w") as f:
        f.write("# events ceiling_ev_s e2e_ev_s\n")
        for s in by_size:
            f.write("%d %s %s\n" % (s["size"], s["ceiling_events_per_s"] or "NaN", s["e2e_events_per_s"] or "NaN"))
    with open(os.path.join(out, "latency.dat"), "w") as f:
        f.write("# label events offered p50 p95 p99\n")
        for s in by_size:
            rows = [(x["offered_rate"], x) for x in s["latency_paced"]]
            if s["latency_full_speed"]:
                rows.append((0, s["latency_full_speed"]))
            for rate, x in rows:
                f.write('"%s %s" %d %s %s %s %s\n' % (
                    s["label"], "%dk/s" % (rate / 1000) if rate else "max", s["size"], rate,
                    x.get("p50_ms") if x.get("p50_ms") is not None else "NaN",
                    x.get("p95_ms") if x.get("p95_ms") is not None else "NaN",
                    x.get("p99_ms") if x.get("p99_ms") is not None else "NaN"))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.gp")
    rc = subprocess.run(["gnuplot", "-e", "dir='%s'" % out, gp], capture_output=True, text=True)
    if rc.returncode != 0:
        print("report.py: warning: gnuplot failed: %s" % rc.stderr.strip(), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("machine")
    p.add_argument("--bin")
    p.add_argument("--root")
    p.add_argument("--out", required=True)
    p = sub.add_parser("redis-mem")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--before")
    p.add_argument("--out", required=True)
    p = sub.add_parser("redis-used")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("phase")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--data", required=True)
    p.add_argument("--rate", type=float, required=True)
    p = sub.add_parser("summarize")
    p.add_argument("--out", required=True)
    p.add_argument("--no-plot", action="store_true")
    a = ap.parse_args()
    {"machine": cmd_machine, "redis-mem": cmd_redis_mem, "redis-used": cmd_redis_used, "phase": cmd_phase, "speed": cmd_speed,
     "summarize": cmd_summarize}[a.cmd](a)


if __name__ == "__main__":
    main()
