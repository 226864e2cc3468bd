/*
 * settings.c - the core configuration keys (topics, pipeline, Redis, schemas,
 * validation, alerts, security, embedded broker). Detectors declare their own
 * under detectors.<name>. (detectors/registry.c). docs/CONFIGURATION.md is
 * generated from these tables: `fundguard config-doc`.
 */
#include "settings.h"

#include <stdio.h>
#include <string.h>

#include "alerts/alert.h"
#include "core/log.h"
#include "detectors/detector.h"

static const fg_conf_decl_t g_core[] = {
    {"log.level", FG_CONF_STRING, "info", 0, 0, 0, "debug, info, warn or error."},
    {"log.json", FG_CONF_BOOL, "false", 0, 0, 0, "Log JSON lines instead of plain text."},

    {"topics.claims", FG_CONF_STRING, "claims", 0, 0, 0, "Input topic: settlements with line items (结算)."},
    {"topics.inpatient", FG_CONF_STRING, "inpatient", 0, 0, 0,
     "Input topic: inpatient monitoring (住院行为监控)."},
    {"topics.invoicing", FG_CONF_STRING, "invoicing", 0, 0, 0,
     "Input topic: purchase-sale-inventory (进销存)."},
    {"topics.alerts", FG_CONF_STRING, "alerts", 0, 0, 0, "Output topic for alerts, keyed by institution."},
    {"topics.dead_letter", FG_CONF_STRING, "fundguard-dead-letter", 0, 0, 0,
     "Undecodable or invalid events go here with their original bytes and the reason in headers."},
    {"topics.control", FG_CONF_STRING, "fundguard-control", 0, 0, 0,
     "Control topic: rule thresholds, rules on/off and blacklist entries changed at run time. Every "
     "fundguard process reads all of it from the beginning (no consumer group)."},
    {"topics.risk", FG_CONF_STRING, "fundguard-institution-risk", 0, 0, 0,
     "Per-institution risk score and grade, keyed by institution; configure it with "
     "cleanup.policy=compact on a real cluster so it holds the latest score of each institution."},
    {"topics.cases", FG_CONF_STRING, "fundguard-cases", 0, 0, 0,
     "Cases (alerts of one institution in one period, see cases.*), keyed by case id; configure it with "
     "cleanup.policy=compact on a real cluster so it holds the latest state of every case."},

    {"reference.catalogue", FG_CONF_STRING, NULL, 0, 0, 0,
     "Drug and item catalogue (JSON, see reference/README.md). Unset: empty; catalogue rules stay silent."},
    {"reference.blacklists", FG_CONF_STRING, NULL, 0, 0, 0,
     "Blacklists of institutions, doctors and insured persons (JSON, see reference/README.md)."},

    {"risk.half_life_days", FG_CONF_INT, "30", 1, 3650, 0,
     "An alert's weight in its institution's risk score halves every this many days (event time)."},
    {"risk.grade_b", FG_CONF_DOUBLE, "5", 0, 1e9, 0, "Risk score from which an institution is graded B (below: A)."},
    {"risk.grade_c", FG_CONF_DOUBLE, "15", 0, 1e9, 0, "Risk score from which an institution is graded C."},
    {"risk.grade_d", FG_CONF_DOUBLE, "40", 0, 1e9, 0, "Risk score from which an institution is graded D."},
    {"risk.window_days", FG_CONF_INT, "365", 1, 3650, 0,
     "Alerts older than this (event time) no longer count towards the risk score."},

    {"cases.period_days", FG_CONF_INT, "30", 1, 366, 0,
     "Alerts of one institution whose event times fall in the same period of this many days form one case. "
     "Periods are aligned on 1970-01-01 UTC, so the case id (a digest of institution + period start) is the "
     "same on every replica and replay."},
    {"cases.max_alert_ids", FG_CONF_INT, "100", 1, 10000, 0,
     "Most alert ids listed in a case record (the earliest by event time; alert_count has the total)."},
    {"cases.retention_days", FG_CONF_INT, "400", 1, 3650, 0,
     "How long (wall clock, from its latest alert) a case's alerts are kept in Redis. An alert arriving for a "
     "case older than this starts that case over, so keep it above cases.period_days plus the lateness and "
     "replay horizon you expect."},

    {"pipeline.batch_max", FG_CONF_INT, "2000", 1, 100000, 0,
     "Most events per poll batch. A batch costs two Redis round trips and one offset commit."},
    {"pipeline.batch_wait_ms", FG_CONF_INT, "20", 0, 10000, 0,
     "Longest wait to fill a batch once the first event of it has arrived."},
    {"pipeline.backoff_max_ms", FG_CONF_INT, "5000", 10, 600000, 0,
     "Upper bound of the exponential back-off while Redis or Kafka is unavailable."},
    {"pipeline.delivery_timeout_ms", FG_CONF_INT, "30000", 100, 3600000, 0,
     "How long to wait for Kafka to acknowledge a batch's alerts and dead letters before retrying them."},
    {"pipeline.stats_interval_ms", FG_CONF_INT, "10000", 0, 3600000, 0,
     "Log a throughput/state line this often (0: never)."},
    {"pipeline.mode", FG_CONF_STRING, "detect", 0, 0, 0,
     "\"detect\": the full pipeline. \"decode_only\": a benchmark and diagnostic mode that consumes, decodes, "
     "validates, dead-letters and commits, but touches no Redis, runs no detectors and publishes no alerts "
     "(the throughput ceiling benches/run.sh measures). Never for production: events pass unexamined."},

    {"redis.host", FG_CONF_STRING, "127.0.0.1", 0, 0, 0, "Redis host."},
    {"redis.port", FG_CONF_INT, "6379", 1, 65535, 0, "Redis port."},
    {"redis.username", FG_CONF_STRING, NULL, 0, 0, 0, "ACL user (unset: the default user)."},
    {"redis.password", FG_CONF_STRING, NULL, 0, 0, FG_CONF_SECRET,
     "Password; use \"${ENV_VAR}\" rather than writing it in the file."},
    {"redis.db", FG_CONF_INT, "0", 0, 15, 0, "Database number."},
    {"redis.prefix", FG_CONF_STRING, "fg", 0, 0, 0,
     "Prefix of every key fundguard writes (separate prefixes keep audit replays apart)."},
    {"redis.timeout_ms", FG_CONF_INT, "2000", 10, 60000, 0, "Connect and command timeout."},

    {"schemas.avro_ids", FG_CONF_MAP, NULL, 0, 0, 0,
     "Confluent schema id -> writer schema file (.avsc), for Avro messages, e.g. "
     "{\"1\": \"schemas/claims.avsc\"}. JSON messages need none."},

    {"validation.min_event_time_ms", FG_CONF_INT, "946684800000", 0, 4102444800000.0, 0,
     "Events older than this (ms since epoch; default 2000-01-01) are rejected as invalid."},
    {"validation.max_future_ms", FG_CONF_INT, "86400000", 0, 31536000000.0, 0,
     "Events more than this far ahead of the wall clock are rejected as invalid."},
    {"validation.max_items", FG_CONF_INT, "10000", 1, 1000000, 0, "Most line items per event."},
    {"validation.max_trace_codes", FG_CONF_INT, "10000", 1, 1000000, 0, "Most trace codes per item."},
    {"validation.max_amount_fen", FG_CONF_INT, "100000000000", 1, 1000000000000000.0, 0,
     "Largest accepted money field (total, fund-paid, self-paid, unit price, line amount), in fen; default "
     "10^11 fen (1 billion yuan). Larger values are hostile or broken input: such an event is dead-lettered, "
     "and the bound keeps every sum the rules and Redis keep exact in 64 bits."},
    {"validation.max_quantity", FG_CONF_DOUBLE, "1e8", 1, 1e15, 0,
     "Largest accepted quantity of one line item; larger ones are dead-lettered (1e300 tablets is not a claim)."},

    {"events.allowed_lateness_days", FG_CONF_INT, "7", 0, 365, 0,
     "How late (event time) an event may arrive and still find its window's state."},

    {"alerts.dedup_ttl_days", FG_CONF_INT, "30", 1, 3650, 0,
     "How long the marker that an alert id was published with some content is kept."},
    {"alerts.topic_by_region", FG_CONF_MAP, NULL, 0, 0, 0,
     "Routes alerts to one topic per region (统筹区 code -> topic), e.g. {\"140100\": \"alerts-140100\"}. "
     "Alerts of a region not listed (or without a region) go to topics.alerts. `fundguard alerts` reads "
     "topics.alerts and every topic listed here unless given --topic. Cases and risk records are not routed."},
    {"alerts.identifiers", FG_CONF_STRING, "real", 0, 0, 0,
     "Patient and card ids in the published alert: \"real\" (case officers need them to open a case) or "
     "\"pseudonym\" (subject_id, and the summary where it names the subject, carry the keyed HMAC pseudonym "
     "used in Redis keys, so officers with the key can still link alerts of one person). Alert ids are the "
     "same in both modes. Log lines never carry patient or card ids, whatever this says."},
    {"alerts.ruleset_version", FG_CONF_STRING, NULL, 0, 0, 0,
     "Rule-set version stamped on alerts; unset: a digest of every rule's settings."},

    {"security.hmac_key_file", FG_CONF_STRING, NULL, 0, 0, FG_CONF_SECRET,
     "File holding the key that pseudonymises patient and card ids in Redis keys and logs."},
    {"security.hmac_key_env", FG_CONF_STRING, "FUNDGUARD_HMAC_KEY", 0, 0, 0,
     "Environment variable holding that key, used when no file is set."},

    {"http.listen", FG_CONF_STRING, "127.0.0.1:9464", 0, 0, 0,
     "host:port of the operations endpoint: /metrics (Prometheus), /healthz, /readyz, /api/summary and the "
     "monitoring page at /. Loopback by default; \"0.0.0.0:9464\" to let Prometheus or probes in from outside "
     "the host. Empty: no endpoint."},
    {"http.required", FG_CONF_BOOL, "false", 0, 0, 0,
     "Refuse to start when http.listen cannot be bound; false: log an error and run without the endpoint "
     "(e.g. a second process on one host with the default port)."},
    {"http.web_root", FG_CONF_STRING, NULL, 0, 0, 0,
     "Directory to serve the monitoring page (index.html, app.js, style.css) from; unset: the copies of web/ "
     "built into the binary."},

    {"broker.partitions", FG_CONF_INT, "8", 1, 1024, 0,
     "`fundguard broker` only: partitions of each topic it creates."},
};

void fg_settings_declare(fg_config_t *cf) {
    fg_config_declare(cf, "", g_core, FG_ARRAY_SIZE(g_core), "Core");
    fg_detectors_declare(cf);
}

fg_config_t *fg_settings_load(const char *path, char **overrides, int n_overrides, char *errstr,
                              size_t errstr_size) {
    fg_config_t *cf = fg_config_create();
    fg_settings_declare(cf);
    if (path && fg_config_load_file(cf, path, errstr, errstr_size) != 0) goto fail;
    for (int i = 0; i < n_overrides; i++) {
        char kv[1024];
        snprintf(kv, sizeof(kv), "%s", overrides[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "--set %s: expected key=value", overrides[i]);
            goto fail;
        }
        *eq = '\0';
        if (fg_config_set(cf, kv, eq + 1, errstr, errstr_size) != 0) goto fail;
    }
    if (fg_log_level_parse(fg_config_str(cf, "log.level")) < 0) {
        snprintf(errstr, errstr_size, "log.level: expected debug, info, warn or error, got \"%s\"",
                 fg_config_str(cf, "log.level"));
        goto fail;
    }
    if (fg_alert_ids_parse(fg_config_str(cf, "alerts.identifiers")) < 0) {
        snprintf(errstr, errstr_size, "alerts.identifiers: expected \"real\" or \"pseudonym\", got \"%.64s\"",
                 fg_config_str(cf, "alerts.identifiers") ? fg_config_str(cf, "alerts.identifiers") : "(unset)");
        goto fail;
    }
    return cf;
fail:
    fg_config_destroy(cf);
    return NULL;
}
