/*
 * test_pipeline.c - the whole path through real processes: events produced to
 * the harness's broker, `fundguard run` consuming them with Redis, alerts and
 * dead letters read back from Kafka, committed offsets checked.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert.h"
#include "schemas/codec.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

#define DAY 86400000LL
static const char *ip_json(char *buf, size_t n, const char *eid, const char *type, const char *patient,
                           const char *inst, const char *adm, long long day) {
    snprintf(buf, n,
             "%s|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"%s\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"%s\",\"admission_id\":\"%s\",\"type\":\"%s\"}\n",
             patient, eid, FG_T0 + day * DAY, inst, patient, adm, type);
    return buf;
}

static void expect_id(char out[FG_ALERT_ID_LEN + 1], const char *patient, const char *wkey) {
    fg_alert_make_id(out, "readmission_burst", "split_stay", "patient", patient, wkey);
}

Test(pipeline, alerts_dead_letters_and_commits_end_to_end, .timeout = 240) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200];
    snprintf(group, sizeof(group), "%s-g1", e.base);
    fg_e2e_config(&e, group, "");

    /* P1: split stay (JSON). P2: re-admitted after 20 days, a near miss. */
    char lines[8192] = "", b[512];
    strcat(lines, ip_json(b, sizeof(b), "p1-a1", "ADMIT", "P1", "H1", "A1", 0));
    strcat(lines, ip_json(b, sizeof(b), "p1-d1", "DISCHARGE", "P1", "H1", "A1", 5));
    strcat(lines, ip_json(b, sizeof(b), "p1-a2", "ADMIT", "P1", "H1", "A2", 8));
    strcat(lines, ip_json(b, sizeof(b), "p2-a1", "ADMIT", "P2", "H2", "B1", 0));
    strcat(lines, ip_json(b, sizeof(b), "p2-d1", "DISCHARGE", "P2", "H2", "B1", 5));
    strcat(lines, ip_json(b, sizeof(b), "p2-a2", "ADMIT", "P2", "H2", "B2", 25));
    /* bad input: malformed JSON, and an inpatient event without its admission */
    strcat(lines, "P4|{\"event_id\": \"broken\n");
    strcat(lines, "P5|{\"event_id\":\"no-adm\",\"event_time\":1767225600000,\"region\":\"140100\","
                  "\"institution_id\":\"H1\",\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P5\","
                  "\"type\":\"ADMIT\"}\n");
    fg_tk_produce_lines(e.inpatient, lines);

    /* P3: a split stay in Avro (Confluent wire format, schema id 7) */
    char err[256];
    fg_codec_t *codec = fg_codec_create(err, sizeof(err));
    cr_assert(codec, "%s", err);
    fg_event_t evs[3] = {fg_ev_inpatient("p3-a1", FG_IP_ADMIT, "P3", "H3", "C1", 0),
                         fg_ev_inpatient("p3-d1", FG_IP_DISCHARGE, "P3", "H3", "C1", 1),
                         fg_ev_inpatient("p3-a2", FG_IP_ADMIT, "P3", "H3", "C2", 2)};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        void *buf = fg_codec_encode_avro(codec, &evs[i], 7, &len);
        cr_assert(buf && len > 5);
        fg_tk_produce(e.inpatient, "P3", buf, len);
        free(buf);
    }
    fg_codec_destroy(codec);

    /* a claim with a negative quantity goes to the dead-letter topic too */
    const char *bad_claim =
        "{\"claim_id\":\"c-neg\",\"event_time\":1767225600000,\"region\":\"140100\",\"institution_id\":\"H1\","
        "\"institution_type\":\"PHARMACY\",\"patient_id\":\"P6\",\"visit_type\":\"PHARMACY\",\"total_fen\":100,"
        "\"fund_paid_fen\":50,\"self_paid_fen\":50,\"items\":[{\"code\":\"X1\",\"kind\":\"DRUG\",\"quantity\":-3,"
        "\"unit_price_fen\":10,\"amount_fen\":30}]}";
    fg_tk_produce(e.claims, "P6", bad_claim, strlen(bad_claim));
    fg_tk_touch(e.invoicing);

    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", NULL};
    cr_assert_eq(fg_tp_run(e.log, 120, args), 0, "fundguard run failed, see %s", e.log);

    /* exactly the two split stays, keyed by institution, each with its evidence */
    fg_tmsgs_t alerts = fg_tk_read_all(e.alerts);
    cr_assert_eq(alerts.n, 2, "expected 2 alerts, got %zu (log %s)", alerts.n, e.log);
    char id1[FG_ALERT_ID_LEN + 1], id3[FG_ALERT_ID_LEN + 1];
    expect_id(id1, "P1", "H1\x1f" "A1>H1\x1f" "A2");
    expect_id(id3, "P3", "H3\x1f" "C1>H3\x1f" "C2");
    int seen1 = 0, seen3 = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        json_error_t je;
        json_t *a = json_loads(alerts.v[i].value, 0, &je);
        cr_assert(a, "alert is not JSON: %s", je.text);
        const char *id = json_string_value(json_object_get(a, "alert_id"));
        cr_assert(id);
        cr_assert_str_eq(json_string_value(json_object_get(a, "rule_name_zh")), "分解住院 / 频繁住院");
        cr_assert_str_eq(json_string_value(json_object_get(a, "institution_id")), alerts.v[i].key);
        json_t *ev = json_object_get(json_object_get(a, "evidence"), "event_ids");
        cr_assert_eq(json_array_size(ev), 3);
        cr_assert(json_integer_value(json_object_get(a, "detection_time")) > 0);
        if (!strcmp(id, id1)) seen1++;
        if (!strcmp(id, id3)) seen3++;
        json_decref(a);
    }
    cr_assert_eq(seen1, 1, "split stay of P1 (JSON input) missing");
    cr_assert_eq(seen3, 1, "split stay of P3 (Avro input) missing");
    fg_tk_free(&alerts);

    /* the three bad events, with their original bytes, source and reason */
    fg_tmsgs_t dl = fg_tk_read_all(e.dlq);
    cr_assert_eq(dl.n, 3, "expected 3 dead letters, got %zu", dl.n);
    int json_bad = 0, no_adm = 0, negative = 0;
    for (size_t i = 0; i < dl.n; i++) {
        cr_assert(dl.v[i].reason && dl.v[i].src_topic && dl.v[i].src_offset, "dead letter without headers");
        if (strstr(dl.v[i].reason, "JSON")) json_bad++;
        if (strstr(dl.v[i].reason, "admission_id")) no_adm++;
        if (strstr(dl.v[i].reason, "negative")) {
            negative++;
            cr_assert_str_eq(dl.v[i].src_topic, e.claims);
            cr_assert_str_eq(dl.v[i].value, bad_claim, "original bytes kept");
        }
    }
    cr_assert(json_bad == 1 && no_adm == 1 && negative == 1, "reasons: json=%d admission=%d negative=%d", json_bad,
              no_adm, negative);
    fg_tk_free(&dl);

    /* each alerting institution got a risk record with its score and grade */
    fg_tmsgs_t risk = fg_tk_read_all(e.risk);
    cr_assert_eq(risk.n, 2, "expected risk records for H1 and H3, got %zu", risk.n);
    for (size_t i = 0; i < risk.n; i++) {
        json_t *r = json_loads(risk.v[i].value, 0, NULL);
        cr_assert(r);
        cr_assert_str_eq(json_string_value(json_object_get(r, "institution_id")), risk.v[i].key);
        cr_assert_eq(json_integer_value(json_object_get(r, "alerts")), 1);
        /* one HIGH alert without money: weight 4, under risk.grade_b (5) */
        cr_assert_float_eq(json_real_value(json_object_get(r, "score")), 4.0, 1e-9);
        cr_assert_str_eq(json_string_value(json_object_get(r, "grade")), "A");
        json_decref(r);
    }
    fg_tk_free(&risk);

    /* nothing left behind: the group committed up to the end of every input */
    long long end = 0;
    cr_assert_eq(fg_tk_committed_sum(group, e.inpatient, &end), end, "inpatient offsets not fully committed");
    cr_assert_eq(fg_tk_committed_sum(group, e.claims, &end), end, "claims offsets not fully committed");

    /* re-processing everything (a new group, same Redis) publishes no second alert */
    snprintf(group, sizeof(group), "%s-g2", e.base);
    fg_e2e_config(&e, group, "");
    cr_assert_eq(fg_tp_run(e.log, 120, args), 0, "second run failed, see %s", e.log);
    fg_tmsgs_t again = fg_tk_read_all(e.alerts);
    cr_assert_eq(again.n, 2, "re-processing published %zu alert messages, expected still 2", again.n);
    fg_tk_free(&again);
    remove(e.cfg);
}

Test(pipeline, bad_config_fails_fast_with_a_clear_message, .timeout = 60) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_tp_write(e.cfg, "{\"redis\": {\"hots\": \"x\"}}");
    const char *args[] = {"run", "--config", e.cfg, NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 1);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "redis.hots") && strstr(log, "redis.host"), "log: %s", log ? log : "(none)");
    free(log);
    remove(e.cfg);
}

Test(pipeline, unreachable_redis_fails_start_up_with_its_address, .timeout = 60) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_e2e_config(&e, "g-unused", "");
    const char *args[] = {"run", "--config", e.cfg, "--set", "redis.port=1", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 1);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "127.0.0.1:1"), "log: %s", log ? log : "(none)");
    free(log);
    remove(e.cfg);
}
