/*
 * test_bench_hooks.c - what the benchmark harness (benches/run.sh) relies on in
 * the pipeline: pipeline.mode=decode_only (the throughput ceiling: consume,
 * decode, dead-letter, commit; no Redis, no detectors, no alerts), the
 * fg.source.* provenance headers on every alert (alert latency is measured from
 * them), and the figures the final "stats:" line carries.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

#define DAY 86400000LL

/* A split stay of P1 at H1 (admitted again 3 days after discharge: one alert) and one malformed event. */
static void produce_split_stay(const fg_e2e_t *e) {
    char lines[4096] = "", b[512];
    const char *ev[][4] = {{"p1-a1", "ADMIT", "A1", "0"}, {"p1-d1", "DISCHARGE", "A1", "5"}, {"p1-a2", "ADMIT", "A2", "8"}};
    for (int i = 0; i < 3; i++) {
        snprintf(b, sizeof(b),
                 "P1|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"H1\","
                 "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P1\",\"admission_id\":\"%s\",\"type\":\"%s\"}\n",
                 ev[i][0], FG_T0 + atoll(ev[i][3]) * DAY, ev[i][2], ev[i][1]);
        strcat(lines, b);
    }
    strcat(lines, "P9|{\"event_id\": \"broken\n");
    fg_tk_produce_lines(e->inpatient, lines);
    fg_tk_touch(e->claims);
    fg_tk_touch(e->invoicing);
}

static long long redis_keys_with_prefix(const char *prefix) {
    redisContext *c = redisConnect("127.0.0.1", fg_test_redis_port());
    cr_assert(c && !c->err, "redis connect: %s", c ? c->errstr : "out of memory");
    redisReply *r = redisCommand(c, "KEYS %s*", prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "KEYS failed");
    long long n = (long long)r->elements;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* the value of "name=" in the last stats line of the log, or -1 */
static long long stat_of(const char *log, const char *name) {
    const char *line = NULL;
    for (const char *p = strstr(log, "stats: "); p; p = strstr(p + 1, "stats: ")) line = p;
    if (!line) return -1;
    char key[64];
    snprintf(key, sizeof(key), " %s=", name);
    const char *k = strstr(line, key);
    return k ? atoll(k + strlen(key)) : -1;
}

Test(bench_hooks, decode_only_mode_consumes_dead_letters_and_commits_but_never_detects, .timeout = 120) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200];
    snprintf(group, sizeof(group), "%s-ceiling", e.base);
    fg_e2e_config(&e, group, "\"http\": {\"listen\": \"\"}");
    produce_split_stay(&e);

    const char *args[] = {"run", "--config", e.cfg, "--set", "pipeline.mode=decode_only", "--idle-exit-ms", "2000",
                          NULL};
    cr_assert_eq(fg_tp_run(e.log, 90, args), 0, "fundguard run (decode_only) failed, see %s", e.log);

    /* the split stay would alert in detect mode (next test): here nothing is detected or stored */
    fg_tmsgs_t alerts = fg_tk_read_all(e.alerts);
    cr_assert_eq(alerts.n, 0, "decode_only published %zu alert(s)", alerts.n);
    fg_tk_free(&alerts);
    cr_assert_eq(redis_keys_with_prefix(e.base), 0, "decode_only wrote Redis keys under %s", e.base);

    /* bad input is still dead-lettered, and every offset committed */
    fg_tmsgs_t dl = fg_tk_read_all(e.dlq);
    cr_assert_eq(dl.n, 1, "expected the malformed event dead-lettered, got %zu", dl.n);
    cr_assert(dl.v[0].reason && strstr(dl.v[0].reason, "JSON"), "reason: %s", dl.v[0].reason ? dl.v[0].reason : "-");
    fg_tk_free(&dl);
    long long end = 0;
    cr_assert_eq(fg_tk_committed_sum(group, e.inpatient, &end), end, "inpatient offsets not fully committed");
    cr_assert_eq(end, 4);

    /* the stats line accounts for every message: consumed + dead-lettered = produced */
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "mode=decode_only"), "stats line does not name the mode; log %s", e.log);
    cr_assert_eq(stat_of(log, "inpatient"), 3, "log %s", e.log);
    cr_assert_eq(stat_of(log, "dead_letter"), 1, "log %s", e.log);
    cr_assert_eq(stat_of(log, "alerts"), 0, "log %s", e.log);
    cr_assert_eq(stat_of(log, "redis_round_trips"), 0, "log %s", e.log);
    long long first = stat_of(log, "first_consume_us"), last = stat_of(log, "last_commit_us");
    cr_assert(first > 0 && last >= first, "first_consume_us=%lld last_commit_us=%lld", first, last);
    cr_assert(stat_of(log, "max_rss_kb") > 0, "max_rss_kb missing; log %s", e.log);
    free(log);
    remove(e.cfg);
}

Test(bench_hooks, alert_carries_the_source_event_of_its_trigger_in_headers, .timeout = 120) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200];
    snprintf(group, sizeof(group), "%s-detect", e.base);
    fg_e2e_config(&e, group, "\"http\": {\"listen\": \"\"}");
    produce_split_stay(&e);

    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "2000", NULL};
    cr_assert_eq(fg_tp_run(e.log, 90, args), 0, "fundguard run failed, see %s", e.log);

    /* the re-admission p1-a2 completes the split stay: the alert names that message */
    fg_tmsgs_t in = fg_tk_read_all(e.inpatient);
    long long trigger = -1;
    for (size_t i = 0; i < in.n; i++)
        if (strstr(in.v[i].value, "\"p1-a2\"")) trigger = in.v[i].offset;
    fg_tk_free(&in);
    cr_assert(trigger >= 0, "p1-a2 not found in the input topic");

    fg_tmsgs_t alerts = fg_tk_read_all(e.alerts);
    cr_assert_eq(alerts.n, 1, "expected the split stay alert, got %zu (log %s)", alerts.n, e.log);
    cr_assert(alerts.v[0].src_topic && alerts.v[0].src_offset, "alert without fg.source.* headers");
    cr_assert_str_eq(alerts.v[0].src_topic, e.inpatient);
    cr_assert_eq(atoll(alerts.v[0].src_offset), trigger, "fg.source.offset %s, trigger at %lld", alerts.v[0].src_offset,
                 trigger);
    cr_assert_null(alerts.v[0].reason, "an alert is not a dead letter");
    fg_tk_free(&alerts);

    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "mode=detect"), "log %s", e.log);
    cr_assert_eq(stat_of(log, "alerts"), 1, "log %s", e.log);
    cr_assert(stat_of(log, "redis_round_trips") > 0, "log %s", e.log);
    free(log);
    remove(e.cfg);
}

Test(bench_hooks, unknown_pipeline_mode_is_refused_at_start_up, .timeout = 60) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_e2e_config(&e, "g-unused", "\"http\": {\"listen\": \"\"}");
    const char *args[] = {"run", "--config", e.cfg, "--set", "pipeline.mode=decode", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 1);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "pipeline.mode") && strstr(log, "decode_only"), "log: %s", log ? log : "(none)");
    free(log);
    remove(e.cfg);
}
