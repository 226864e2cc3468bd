/*
 * test_prescription_volume.c - 超量开药 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for
 * near-misses); every case runs as one batch and again event by event, which
 * must give the same alerts. Scenario day 0 is 2026-01-01 08:00 China time, so
 * the 30-day supply bucket holding scenario days 6..35 is labelled 2026-01-07.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "reference/kb.h"
#include "support/harness.h"
#include "support/scenario.h"

#define NONE FG_DAYS_ABSENT
#define PRICE 1000 /* fen per unit */

static const char *g_catalogue =
    "{\"version\": \"t1\", \"items\": ["
    "{\"code\": \"D-CAT\", \"kind\": \"DRUG\", \"max_days_supply\": 20},"
    "{\"code\": \"D-MDQ\", \"kind\": \"DRUG\", \"max_daily_qty\": 3}"
    "]}";

static fg_kb_t *load_kb(void) {
    char path[256];
    snprintf(path, sizeof(path), "/tmp/%s.json", fg_test_unique("fg-pv-kb"));
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(g_catalogue, f);
    fclose(f);
    char err[256];
    fg_kb_t *kb = fg_kb_load(path, NULL, err, sizeof(err));
    cr_assert(kb, "kb: %s", err);
    remove(path);
    return kb;
}

/* Fixed arrays, not pointers: Criterion re-executes the test binary per parameter. */
typedef struct {
    char eid[12], patient[12], inst[8];
    double day;
    char code[12];
    double qty;
    int days;
} step_t;

typedef struct {
    char pattern[24], subject_type[16], subject[16], wkey[40];
} expect_t;

typedef struct {
    char name[120];
    step_t steps[12];
    size_t n_steps;
    expect_t expect[2];
    size_t n_expect;
} pv_case_t;

/* 7 baseline days at H1, each 20 units of D-PLAIN from another patient */
#define BASE7                                                                                                     \
    {"b0", "Q0", "H1", 0, "D-PLAIN", 20, NONE}, {"b1", "Q1", "H1", 1, "D-PLAIN", 20, NONE},                     \
        {"b2", "Q2", "H1", 2, "D-PLAIN", 20, NONE}, {"b3", "Q3", "H1", 3, "D-PLAIN", 20, NONE},                 \
        {"b4", "Q4", "H1", 4, "D-PLAIN", 20, NONE}, {"b5", "Q5", "H1", 5, "D-PLAIN", 20, NONE},                 \
        {"b6", "Q6", "H1", 6, "D-PLAIN", 20, NONE}

static pv_case_t g_cases[] = {
    {"patient supply: 20 + 18 = 38 days of a drug within 30 days fires (limit 30 + 7)",
     {{"c1", "P1", "H1", 0, "D-PLAIN", 2, 20}, {"c2", "P1", "H2", 10, "D-PLAIN", 2, 18}}, 2,
     {{"patient_supply", "patient", "P1", "D-PLAIN:2026-01-07"}}, 1},
    {"near miss: 20 + 17 = 37 days is exactly 30 + 7 and does not fire",
     {{"c1", "P1", "H1", 0, "D-PLAIN", 2, 20}, {"c2", "P1", "H2", 10, "D-PLAIN", 2, 17}}, 2, {{"", "", "", ""}}, 0},
    {"patient supply: the later claim arrives first, the same alert fires",
     {{"c2", "P1", "H2", 10, "D-PLAIN", 2, 18}, {"c1", "P1", "H1", 0, "D-PLAIN", 2, 20}}, 2,
     {{"patient_supply", "patient", "P1", "D-PLAIN:2026-01-07"}}, 1},
    {"near miss: 20 + 18 days exactly 30 days apart are not in one window",
     {{"c1", "P1", "H1", 0, "D-PLAIN", 2, 20}, {"c2", "P1", "H2", 30, "D-PLAIN", 2, 18}}, 2, {{"", "", "", ""}}, 0},
    {"near miss: two drugs of 20 days each are not summed together",
     {{"c1", "P1", "H1", 0, "D-PLAIN", 2, 20}, {"c2", "P1", "H2", 10, "D-OTHER", 2, 20}}, 2, {{"", "", "", ""}}, 0},
    {"patient supply: catalogue max_days_supply 20 + 7: 15 + 13 = 28 days fires",
     {{"c1", "P1", "H1", 0, "D-CAT", 2, 15}, {"c2", "P1", "H1", 10, "D-CAT", 2, 13}}, 2,
     {{"patient_supply", "patient", "P1", "D-CAT:2026-01-07"}}, 1},
    {"near miss: catalogue max_days_supply 20 + 7: 15 + 12 = 27 days does not fire",
     {{"c1", "P1", "H1", 0, "D-CAT", 2, 15}, {"c2", "P1", "H1", 10, "D-CAT", 2, 12}}, 2, {{"", "", "", ""}}, 0},
    {"patient supply: no days_supply, 60 + 54 units at max_daily_qty 3 = 38 days fires",
     {{"c1", "P1", "H1", 7, "D-MDQ", 60, NONE}, {"c2", "P1", "H1", 8, "D-MDQ", 54, NONE}}, 2,
     {{"patient_supply", "patient", "P1", "D-MDQ:2026-01-07"}}, 1},
    {"near miss: no days_supply and no max_daily_qty counts no days",
     {{"c1", "P1", "H3", 7, "D-PLAIN", 60, NONE}, {"c2", "P1", "H3", 8, "D-PLAIN", 54, NONE}}, 2,
     {{"", "", "", ""}}, 0},
    {"institution daily: 61 units against a 7-day baseline of 20/day (> 3 x 20) fires",
     {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 31, NONE}, {"d2", "R2", "H1", 7.1, "D-PLAIN", 30, NONE}}, 9,
     {{"institution_daily", "institution", "H1", "D-PLAIN:2026-01-08"}}, 1},
    {"institution daily: the spike arrives before its baseline, fires once the 7th baseline day arrives",
     {{"d1", "R1", "H1", 7, "D-PLAIN", 61, NONE}, BASE7}, 8,
     {{"institution_daily", "institution", "H1", "D-PLAIN:2026-01-08"}}, 1},
    {"near miss: 60 units is exactly 3 x the baseline of 20/day and does not fire",
     {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 30, NONE}, {"d2", "R2", "H1", 7.1, "D-PLAIN", 30, NONE}}, 9,
     {{"", "", "", ""}}, 0},
    {"near miss: a baseline of only 6 days with data is not enough",
     {{"b1", "Q1", "H1", 1, "D-PLAIN", 20, NONE}, {"b2", "Q2", "H1", 2, "D-PLAIN", 20, NONE},
      {"b3", "Q3", "H1", 3, "D-PLAIN", 20, NONE}, {"b4", "Q4", "H1", 4, "D-PLAIN", 20, NONE},
      {"b5", "Q5", "H1", 5, "D-PLAIN", 20, NONE}, {"b6", "Q6", "H1", 6, "D-PLAIN", 20, NONE},
      {"d1", "R1", "H1", 7, "D-PLAIN", 100, NONE}},
     7, {{"", "", "", ""}}, 0},
    {"near miss: 49 units is 4.9 x a baseline of 10/day but below min_volume 50",
     {{"b0", "Q0", "H1", 0, "D-PLAIN", 10, NONE}, {"b1", "Q1", "H1", 1, "D-PLAIN", 10, NONE},
      {"b2", "Q2", "H1", 2, "D-PLAIN", 10, NONE}, {"b3", "Q3", "H1", 3, "D-PLAIN", 10, NONE},
      {"b4", "Q4", "H1", 4, "D-PLAIN", 10, NONE}, {"b5", "Q5", "H1", 5, "D-PLAIN", 10, NONE},
      {"b6", "Q6", "H1", 6, "D-PLAIN", 10, NONE}, {"d1", "R1", "H1", 7, "D-PLAIN", 49, NONE}},
     8, {{"", "", "", ""}}, 0},
    {"near miss: the spike is at another institution than the baseline",
     {BASE7, {"d1", "R1", "H9", 7, "D-PLAIN", 61, NONE}}, 8, {{"", "", "", ""}}, 0},
};

/* alerts of this rule only: other rules may see the same events */
static size_t mine(fg_scn_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_ids; i++) n += !strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "prescription_volume");
    return n;
}

static size_t first(fg_scn_t *s) {
    for (size_t i = 0; i < s->n_ids; i++)
        if (!strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "prescription_volume")) return i;
    cr_assert_fail("no prescription_volume alert");
    return 0;
}

ParameterizedTestParameters(prescription_volume, scenarios) {
    return cr_make_param_array(pv_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static fg_event_t claim(const step_t *s) {
    fg_titem_t it = {s->code, FG_ITEM_DRUG, s->qty, PRICE, s->days, NULL};
    return fg_ev_claim(s->eid, s->patient, s->inst, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, s->day, &it, 1);
}

static void assert_ids(fg_scn_t *s, const pv_case_t *c, const char *mode) {
    cr_assert_eq(mine(s), c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name, c->n_expect,
                 mine(s));
    for (size_t i = 0; i < c->n_expect; i++) {
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, "prescription_volume", c->expect[i].pattern, c->expect[i].subject_type,
                         c->expect[i].subject, c->expect[i].wkey);
        cr_assert(fg_scn_alert(s, id), "[%s] %s: missing %s alert %s", mode, c->name, c->expect[i].pattern, id);
    }
}

ParameterizedTest(pv_case_t *c, prescription_volume, scenarios) {
    fg_kb_t *kb = load_kb();
    fg_event_t evs[12];
    for (int mode = 0; mode < 2; mode++) {
        fg_scn_t s;
        fg_scn_init(&s, NULL, 0);
        fg_scn_set_kb(&s, kb);
        for (size_t i = 0; i < c->n_steps; i++) evs[i] = claim(&c->steps[i]);
        if (mode == 0) fg_scn_run(&s, evs, c->n_steps);
        else fg_scn_run_each(&s, evs, c->n_steps);
        assert_ids(&s, c, mode == 0 ? "one batch" : "event by event");
        fg_scn_fini(&s);
    }
    fg_kb_destroy(kb);
}

Test(prescription_volume, patient_supply_alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"k1", "P9", "H1", 0, "D-PLAIN", 2, 20}, {"k2", "P9", "H7", 10, "D-PLAIN", 3, 18}};
    fg_event_t evs[] = {claim(&st[0]), claim(&st[1])};
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(mine(&s), 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "prescription_volume", "patient_supply", "patient", "P9", "D-PLAIN:2026-01-07");
    cr_assert_str_eq(a->id, id);
    cr_assert_str_eq(a->rule_name_zh, "超量开药");
    cr_assert_str_eq(a->subject_id, "P9");
    cr_assert_str_eq(a->institution_id, "H7");
    cr_assert_eq(a->window_start, FG_T0);
    cr_assert_eq(a->window_end, FG_T0 + 10 * FG_MS_PER_DAY);
    cr_assert_eq(a->event_time, FG_T0 + 10 * FG_MS_PER_DAY);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "k1");
    cr_assert_str_eq(a->event_ids[1], "k2");
    cr_assert_str_eq(a->figures[0].name, "days_supplied");
    cr_assert_float_eq(a->figures[0].value, 38.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 37.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 2 * PRICE * 7 / 10 + 3 * PRICE * 7 / 10, "fund-paid of both claims");
    fg_scn_fini(&s);
}

Test(prescription_volume, a_third_claim_in_the_bucket_updates_the_same_alert) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"m1", "P4", "H1", 0, "D-PLAIN", 1, 20},
                   {"m2", "P4", "H1", 10, "D-PLAIN", 1, 20},
                   {"m3", "P4", "H1", 20, "D-PLAIN", 1, 20}};
    fg_event_t evs[] = {claim(&st[0]), claim(&st[1]), claim(&st[2])};
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(mine(&s), 1);
    fg_scn_run(&s, &evs[2], 1);
    cr_assert_eq(mine(&s), 1, "the 3rd claim in the same bucket must not open a second alert");
    cr_assert_eq(s.published[first(&s)], 2);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    cr_assert_float_eq(a->figures[0].value, 60.0, 1e-9);
    cr_assert_eq(a->n_event_ids, 3);
    fg_scn_fini(&s);
}

Test(prescription_volume, institution_daily_alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 31, NONE}, {"d2", "R2", "H1", 7.25, "D-PLAIN", 49, NONE}};
    fg_event_t evs[9];
    for (int i = 0; i < 9; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 9);
    cr_assert_eq(mine(&s), 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    cr_assert_str_eq(a->pattern, "institution_daily");
    cr_assert_str_eq(a->subject_type, "institution");
    cr_assert_str_eq(a->subject_id, "H1");
    cr_assert_str_eq(a->figures[0].name, "daily_volume");
    cr_assert_float_eq(a->figures[0].value, 80.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 60.0, 1e-9);
    cr_assert_float_eq(a->figures[1].value, 4.0, 1e-9);
    cr_assert_float_eq(a->figures[3].value, 7.0, 1e-9);
    cr_assert_eq(a->window_start, FG_T0 + 7 * FG_MS_PER_DAY - 8 * FG_MS_PER_HOUR, "local day start");
    cr_assert_eq(a->event_time, FG_T0 + 7 * FG_MS_PER_DAY + 6 * FG_MS_PER_HOUR);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "d1");
    cr_assert_str_eq(a->event_ids[1], "d2");
    /* fund paid 70 % of 80 units, 60 of which are above the baseline of 20 */
    cr_assert_eq(a->amount_at_risk_fen, 80 * PRICE * 7 / 10 * 60 / 80);
    fg_scn_fini(&s);
}

Test(prescription_volume, a_redelivered_claim_is_not_counted_twice_for_the_institution) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 40, NONE}};
    fg_event_t evs[8];
    for (int i = 0; i < 8; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 8);
    fg_scn_run(&s, &evs[7], 1);
    fg_scn_run(&s, &evs[7], 1); /* counted thrice the day would hold 120 > 60 */
    cr_assert_eq(mine(&s), 0);
    fg_scn_fini(&s);
}

Test(prescription_volume, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 61, NONE}, {"x1", "P5", "H1", 0, "D-PLAIN", 2, 20},
                   {"x2", "P5", "H1", 9, "D-PLAIN", 2, 20}};
    fg_event_t evs[10];
    for (int i = 0; i < 10; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 10);
    cr_assert_eq(mine(&s), 2);
    fg_scn_run(&s, evs, 10); /* a crash before commit re-delivers the batch */
    cr_assert_eq(s.last_run_count, 0, "the same findings with the same content are not published twice");
    cr_assert_eq(mine(&s), 2);
    fg_scn_fini(&s);
}

Test(prescription_volume, thresholds_come_from_config) {
    const char *o[] = {"detectors.prescription_volume.tolerance_days=8", "detectors.prescription_volume.k=3.1"};
    fg_scn_t s;
    fg_scn_init(&s, o, 2);
    step_t st[] = {BASE7, {"d1", "R1", "H1", 7, "D-PLAIN", 61, NONE}, {"x1", "P5", "H1", 0, "D-PLAIN", 2, 20},
                   {"x2", "P5", "H1", 9, "D-PLAIN", 2, 18}};
    fg_event_t evs[10];
    for (int i = 0; i < 10; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 10);
    cr_assert_eq(mine(&s), 0, "38 days is within 30 + 8, and 61 units is below 3.1 x 20");
    fg_scn_fini(&s);
}

Test(prescription_volume, lines_of_one_drug_in_a_claim_add_up) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it[] = {{"D-PLAIN", FG_ITEM_DRUG, 1, PRICE, 20, NULL},
                       {"SVC", FG_ITEM_SERVICE, 1, PRICE, NONE, NULL},
                       {"D-PLAIN", FG_ITEM_DRUG, 1, PRICE, 18, NULL}};
    fg_event_t ev = fg_ev_claim("L1", "P8", "H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 3, it, 3);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(mine(&s), 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    cr_assert_float_eq(a->figures[0].value, 38.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 3 * PRICE * 7 / 10 * 2 / 3, "only the drug lines' share of fund paid");
    fg_scn_fini(&s);
}

/*
 * A spike on day 10, then data until day 25: by then day 10 is more than the allowed
 * lateness (7 days) behind, so its fund, time and evidence fields are pruned while its
 * volume stays for later baselines. Reading everything again into the same Redis (a new
 * consumer group), or a claim of day 5 arriving that late, must not re-judge day 10 from
 * the pruned fields: the alert would be re-published with no events and no money.
 */
Test(prescription_volume, a_full_reread_does_not_republish_a_pruned_day_emptied) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[24];
    size_t n = 0;
    for (int d = 3; d <= 25; d++) {
        step_t x = {"", "", "H1", d, "D-PLAIN", d == 10 ? 61 : 20, NONE};
        snprintf(x.eid, sizeof(x.eid), "r%d", d);
        snprintf(x.patient, sizeof(x.patient), "Q%d", d);
        st[n++] = x;
    }
    fg_event_t evs[24];
    for (size_t i = 0; i < n; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, n);
    cr_assert_eq(mine(&s), 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "prescription_volume", "institution_daily", "institution", "H1", "D-PLAIN:2026-01-11");
    cr_assert_str_eq(s.ids[first(&s)], id);
    cr_assert_eq(s.published[first(&s)], 1);

    fg_scn_run(&s, evs, n); /* every event processed again, same Redis state */
    cr_assert_eq(s.last_run_count, 0, "nothing new: day 10 is past judging, its alert stands as published");
    fg_scn_run_each(&s, evs, n);
    cr_assert_eq(s.last_run_count, 0);
    step_t late = {"r5b", "Q99", "H1", 5, "D-PLAIN", 20, NONE}; /* joins day 10's baseline, 20 days late */
    fg_event_t lev = claim(&late);
    fg_scn_run(&s, &lev, 1);
    cr_assert_eq(s.last_run_count, 0);

    cr_assert_eq(mine(&s), 1);
    cr_assert_eq(s.published[first(&s)], 1);
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert_eq(a->n_event_ids, 1);
    cr_assert_str_eq(a->event_ids[0], "r10");
    cr_assert_eq(a->event_time, FG_T0 + 10 * FG_MS_PER_DAY);
    cr_assert_float_eq(a->figures[0].value, 61.0, 1e-9);
    /* fund paid 70 % of 61 units, 41 of which are above the baseline of 20 */
    cr_assert_eq(a->amount_at_risk_fen, 61 * PRICE * 7 / 10 * 41 / 61);
    fg_scn_fini(&s);
}

/*
 * The same for patient_supply: 20 + 18 + 20 days on days 0, 10, 20 (58 days within 30),
 * then 1-day claims until day 70. Records are kept 2 x 30 + 7 days, so day 0's is pruned;
 * reading everything again must not re-evaluate the bucket from days 10 and 20 only (38
 * days, 2 claims) and re-publish the alert with less evidence.
 */
Test(prescription_volume, a_full_reread_does_not_republish_a_pruned_supply_bucket) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"s0", "P6", "H5", 0, "D-PLAIN", 1, 20},  {"s1", "P6", "H5", 10, "D-PLAIN", 1, 18},
                   {"s2", "P6", "H5", 20, "D-PLAIN", 1, 20}, {"s3", "P6", "H5", 30, "D-PLAIN", 1, 1},
                   {"s4", "P6", "H5", 40, "D-PLAIN", 1, 1},  {"s5", "P6", "H5", 50, "D-PLAIN", 1, 1},
                   {"s6", "P6", "H5", 60, "D-PLAIN", 1, 1},  {"s7", "P6", "H5", 70, "D-PLAIN", 1, 1}};
    fg_event_t evs[8];
    for (int i = 0; i < 8; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 8);
    cr_assert_eq(mine(&s), 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "prescription_volume", "patient_supply", "patient", "P6", "D-PLAIN:2026-01-07");
    cr_assert_str_eq(s.ids[first(&s)], id);
    cr_assert_eq(fg_scn_alert(&s, id)->n_event_ids, 3);

    fg_scn_run(&s, evs, 8);
    cr_assert_eq(s.last_run_count, 0, "the bucket's first claim is pruned: it is not evaluated again");
    cr_assert_eq(mine(&s), 1);
    cr_assert_eq(s.published[first(&s)], 1);
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert_eq(a->n_event_ids, 3);
    cr_assert_float_eq(a->figures[0].value, 58.0, 1e-9);
    fg_scn_fini(&s);
}

/*
 * One busy day: 20 patients' claims of D-PLAIN at H1, odd claims from partition 1 and even
 * ones from partition 0, after the baseline week. Applied with partition 0 first, then with
 * partition 1 first (each partition in its own order): the alert names the same evidence,
 * the day's 16 smallest claim ids, and not "the first 16 to arrive".
 */
Test(prescription_volume, institution_evidence_does_not_depend_on_partition_interleaving) {
    char ids[2][16][16];
    for (int order = 0; order < 2; order++) {
        fg_scn_t s;
        fg_scn_init(&s, NULL, 0);
        step_t base[] = {BASE7};
        fg_event_t bevs[7];
        for (int i = 0; i < 7; i++) bevs[i] = claim(&base[i]);
        fg_scn_run(&s, bevs, 7);
        static step_t busy[20];
        fg_event_t p[2][10];
        for (int i = 0; i < 20; i++) {
            busy[i] = (step_t){"", "", "H1", 7 + i * 0.01, "D-PLAIN", 4, NONE};
            snprintf(busy[i].eid, sizeof(busy[i].eid), "b%02d", 19 - i); /* ids do not follow time */
            snprintf(busy[i].patient, sizeof(busy[i].patient), "B%02d", i);
            fg_event_t ev = claim(&busy[i]);
            ev.src_topic = "claims";
            ev.src_partition = i % 2;
            p[i % 2][i / 2] = ev;
        }
        fg_scn_run(&s, p[order], 10);
        fg_scn_run(&s, p[1 - order], 10);
        cr_assert_eq(mine(&s), 1, "80 units against a baseline of 20: one institution_daily alert");
        const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
        cr_assert_str_eq(a->pattern, "institution_daily");
        cr_assert_eq(a->n_event_ids, 16, "evidence is capped at 16 claims");
        for (int k = 0; k < 16; k++) snprintf(ids[order][k], sizeof(ids[0][0]), "%s", a->event_ids[k]);
        fg_scn_fini(&s);
    }
    for (int k = 0; k < 16; k++) {
        char want[16];
        snprintf(want, sizeof(want), "b%02d", k);
        cr_assert_str_eq(ids[0][k], want, "evidence %d with partition 0 first", k);
        cr_assert_str_eq(ids[1][k], want, "evidence %d with partition 1 first", k);
    }
}
