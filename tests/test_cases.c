/*
 * test_cases.c - grouping alerts into cases (alerts/cases.c) against the
 * harness's real redis-server: one case per institution and period, a stable
 * case id, summed money, highest severity, and idempotence under re-delivery.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/cases.h"
#include "core/settings.h"
#include "support/harness.h"
#include "support/scenario.h"

#define DAY 86400000LL

typedef struct {
    fg_config_t *cf;
    fg_state_t *st;
    fg_cases_t *cases;
    fg_case_records_t out;
} fg_ctx_t;

static void ctx_init(fg_ctx_t *c, const char *extra_set) {
    memset(c, 0, sizeof(*c));
    char prefix[160], set_prefix[200], err[512];
    snprintf(prefix, sizeof(prefix), "%s", fg_test_unique("cases"));
    snprintf(set_prefix, sizeof(set_prefix), "redis.prefix=%s", prefix);
    char *sets[2] = {set_prefix, (char *)extra_set};
    c->cf = fg_settings_load(NULL, sets, extra_set ? 2 : 1, err, sizeof(err));
    cr_assert(c->cf, "config: %s", err);
    fg_state_opts_t so = {.host = "127.0.0.1", .port = fg_test_redis_port(), .prefix = prefix, .timeout_ms = 2000};
    c->st = fg_state_create(&so, err, sizeof(err));
    cr_assert(c->st, "redis: %s", err);
    c->cases = fg_cases_create(c->cf, c->st);
}

static void ctx_fini(fg_ctx_t *c) {
    fg_case_records_free(&c->out);
    fg_cases_destroy(c->cases);
    fg_state_destroy(c->st);
    fg_config_destroy(c->cf);
}

static fg_alert_t *add_alert(fg_alerts_t *l, const char *subject, const char *inst, const char *rule,
                             fg_severity_t sev, int64_t fen, double day) {
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, rule, "p", "patient", subject, inst);
    fg_alert_t *a = fg_alerts_upsert(l, id);
    a->rule_id = rule;
    a->pattern = "p";
    a->severity = sev;
    a->amount_at_risk_fen = fen;
    a->event_time = FG_T0 + (int64_t)(day * (double)DAY);
    fg_alert_set(a->subject_type, sizeof(a->subject_type), "patient");
    fg_alert_set(a->subject_id, sizeof(a->subject_id), subject);
    fg_alert_set(a->institution_id, sizeof(a->institution_id), inst);
    fg_alert_set(a->region, sizeof(a->region), "140100");
    return a;
}

/* runs one batch; @returns the parsed record of case_id (caller decrefs), or NULL if none was emitted */
static json_t *run(fg_ctx_t *c, const fg_alerts_t *alerts, const char *case_id) {
    char err[256];
    fg_case_records_clear(&c->out);
    cr_assert_eq(fg_cases_update(c->cases, alerts, &c->out, err, sizeof(err)), FG_OK, "update: %s", err);
    for (size_t i = 0; i < c->out.n; i++)
        if (!strcmp(c->out.v[i].case_id, case_id)) {
            json_error_t je;
            json_t *o = json_loads(c->out.v[i].json, 0, &je);
            cr_assert(o, "case is not JSON: %s", je.text);
            cr_assert_str_eq(json_string_value(json_object_get(o, "case_id")), case_id);
            return o;
        }
    return NULL;
}

static int has_id(const json_t *o, const char *id) {
    const json_t *ids = json_object_get(o, "alert_ids");
    for (size_t i = 0; i < json_array_size(ids); i++)
        if (!strcmp(json_string_value(json_array_get(ids, i)), id)) return 1;
    return 0;
}

Test(cases, two_alerts_of_one_institution_and_period_form_one_case) {
    fg_ctx_t c;
    ctx_init(&c, NULL); /* cases.period_days = 30 */
    fg_alerts_t l;
    fg_alerts_init(&l);
    /* FG_T0 (2026-01-01) + 1 and + 3 days lie in the same 30-day period (2025-12-08 .. 2026-01-07) */
    fg_alert_t *a1 = add_alert(&l, "P1", "H1", "readmission_burst", FG_SEV_HIGH, 12345, 1);
    fg_alert_t *a2 = add_alert(&l, "P2", "H1", "blacklist_hit", FG_SEV_CRITICAL, 100000, 3);
    char id1[FG_ALERT_ID_LEN + 1], id2[FG_ALERT_ID_LEN + 1];
    snprintf(id1, sizeof(id1), "%s", a1->id);
    snprintf(id2, sizeof(id2), "%s", a2->id);

    int64_t ps = fg_case_period_start(c.cases, FG_T0 + DAY);
    cr_assert_eq(ps % (30 * DAY), 0, "periods are aligned on the epoch");
    cr_assert(ps <= FG_T0 + DAY && FG_T0 + 3 * DAY < ps + 30 * DAY);
    char case_id[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(case_id, "H1", ps);

    json_t *o = run(&c, &l, case_id);
    cr_assert(o, "no case for H1");
    cr_assert_eq(c.out.n, 1, "one case for one institution and period, got %zu", c.out.n);
    cr_assert_str_eq(c.out.v[0].institution_id, "H1");
    cr_assert_eq(json_integer_value(json_object_get(o, "alert_count")), 2);
    cr_assert(has_id(o, id1) && has_id(o, id2), "both alert ids listed");
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_at_risk_fen")), 112345);
    cr_assert_str_eq(json_string_value(json_object_get(o, "amount_at_risk_yuan")), "1123.45");
    cr_assert_str_eq(json_string_value(json_object_get(o, "highest_severity")), "CRITICAL");
    cr_assert_str_eq(json_string_value(json_object_get(o, "institution_id")), "H1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "region")), "140100");
    cr_assert_eq(json_integer_value(json_object_get(o, "period_start")), ps);
    cr_assert_eq(json_integer_value(json_object_get(o, "period_end")), ps + 30 * DAY);
    const json_t *by_rule = json_object_get(o, "alerts_by_rule");
    cr_assert_eq(json_integer_value(json_object_get(by_rule, "readmission_burst")), 1);
    cr_assert_eq(json_integer_value(json_object_get(by_rule, "blacklist_hit")), 1);
    json_decref(o);

    /* the case id is a digest of institution + period start: the same on every replica */
    char again[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(again, "H1", ps);
    cr_assert_str_eq(again, case_id);
    fg_case_make_id(again, "H2", ps);
    cr_assert_str_neq(again, case_id);

    fg_alerts_free(&l);
    ctx_fini(&c);
}

Test(cases, alerts_in_separate_batches_accumulate_and_another_period_is_another_case) {
    fg_ctx_t c;
    ctx_init(&c, NULL);
    fg_alerts_t l;
    fg_alerts_init(&l);
    int64_t ps = fg_case_period_start(c.cases, FG_T0 + DAY);
    char case1[FG_ALERT_ID_LEN + 1], case2[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(case1, "H1", ps);
    fg_case_make_id(case2, "H1", ps + 30 * DAY);
    cr_assert_str_neq(case1, case2);

    add_alert(&l, "P1", "H1", "readmission_burst", FG_SEV_MEDIUM, 500, 1);
    json_t *o = run(&c, &l, case1);
    cr_assert(o);
    cr_assert_eq(json_integer_value(json_object_get(o, "alert_count")), 1);
    json_decref(o);

    /* a later batch: an alert in the same period joins the case (state from Redis) */
    fg_alerts_clear(&l);
    add_alert(&l, "P2", "H1", "readmission_burst", FG_SEV_LOW, 700, 2);
    o = run(&c, &l, case1);
    cr_assert(o);
    cr_assert_eq(json_integer_value(json_object_get(o, "alert_count")), 2);
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_at_risk_fen")), 1200);
    cr_assert_str_eq(json_string_value(json_object_get(o, "highest_severity")), "MEDIUM");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "alerts_by_rule"), "readmission_burst")), 2);
    json_decref(o);

    /* the next period is a new case with its own id, and leaves the first one alone */
    fg_alerts_clear(&l);
    int64_t day_next = (ps + 30 * DAY - FG_T0) / DAY + 1;
    fg_alert_t *a3 = add_alert(&l, "P3", "H1", "card_misuse", FG_SEV_HIGH, 900, (double)day_next);
    cr_assert_eq(fg_case_period_start(c.cases, a3->event_time), ps + 30 * DAY);
    o = run(&c, &l, case2);
    cr_assert(o, "no case for the next period");
    cr_assert_eq(c.out.n, 1, "the first period's case is not touched");
    cr_assert_eq(json_integer_value(json_object_get(o, "alert_count")), 1);
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_at_risk_fen")), 900);
    cr_assert(has_id(o, a3->id));
    json_decref(o);

    fg_alerts_free(&l);
    ctx_fini(&c);
}

Test(cases, redelivered_alerts_do_not_change_the_case) {
    fg_ctx_t c;
    ctx_init(&c, NULL);
    fg_alerts_t l;
    fg_alerts_init(&l);
    add_alert(&l, "P1", "H1", "readmission_burst", FG_SEV_HIGH, 1000, 1);
    add_alert(&l, "P2", "H1", "readmission_burst", FG_SEV_LOW, 2000, 2);
    char case_id[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(case_id, "H1", fg_case_period_start(c.cases, FG_T0 + DAY));
    json_t *first = run(&c, &l, case_id);
    cr_assert(first);
    char *text1 = json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS);

    /* the same batch again (re-delivery after a crash before commit), then each alert alone */
    json_t *again = run(&c, &l, case_id);
    cr_assert(again);
    char *text2 = json_dumps(again, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text2, text1, "re-delivery changed the case");
    fg_alerts_t one;
    fg_alerts_init(&one);
    *fg_alerts_upsert(&one, l.v[1].id) = l.v[1];
    json_t *third = run(&c, &one, case_id);
    cr_assert(third);
    char *text3 = json_dumps(third, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text3, text1, "re-publishing one alert changed the case");
    cr_assert_eq(json_integer_value(json_object_get(third, "alert_count")), 2);
    cr_assert_eq(json_integer_value(json_object_get(third, "amount_at_risk_fen")), 3000);

    /* a later version of an alert (more money found) replaces its earlier one, not adds to it */
    one.v[0].amount_at_risk_fen = 2500;
    json_t *fourth = run(&c, &one, case_id);
    cr_assert(fourth);
    cr_assert_eq(json_integer_value(json_object_get(fourth, "alert_count")), 2);
    cr_assert_eq(json_integer_value(json_object_get(fourth, "amount_at_risk_fen")), 3500);

    free(text1);
    free(text2);
    free(text3);
    json_decref(first);
    json_decref(again);
    json_decref(third);
    json_decref(fourth);
    fg_alerts_free(&one);
    fg_alerts_free(&l);
    ctx_fini(&c);
}

Test(cases, the_id_list_is_bounded_but_the_totals_are_not) {
    fg_ctx_t c;
    ctx_init(&c, "cases.max_alert_ids=3");
    fg_alerts_t l;
    fg_alerts_init(&l);
    for (int i = 0; i < 5; i++) {
        char subj[16];
        snprintf(subj, sizeof(subj), "P%d", i);
        add_alert(&l, subj, "H9", "readmission_burst", FG_SEV_LOW, 100, 1 + 0.1 * i);
    }
    char case_id[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(case_id, "H9", fg_case_period_start(c.cases, FG_T0 + DAY));
    json_t *o = run(&c, &l, case_id);
    cr_assert(o);
    cr_assert_eq(json_array_size(json_object_get(o, "alert_ids")), 3);
    cr_assert(json_is_true(json_object_get(o, "alert_ids_truncated")));
    cr_assert_eq(json_integer_value(json_object_get(o, "alert_count")), 5);
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_at_risk_fen")), 500);
    /* the earliest by event time are listed */
    cr_assert(has_id(o, l.v[0].id) && has_id(o, l.v[1].id) && has_id(o, l.v[2].id));
    json_decref(o);
    fg_alerts_free(&l);
    ctx_fini(&c);
}
