/*
 * test_duplicate_billing.c - 重复收费 / 超限定频次 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for
 * near-misses); every case runs as one batch and again event by event, which
 * must give the same alerts. Scenario day 0 is 2026-01-01 08:00 China time.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "reference/kb.h"
#include "support/harness.h"
#include "support/scenario.h"

#define PRICE 1000 /* fen per unit */

static const char *g_catalogue =
    "{\"version\": \"t1\", \"items\": ["
    "{\"code\": \"S-DAY\", \"kind\": \"SERVICE\", \"daily_limit\": 2},"
    "{\"code\": \"B-BED\", \"kind\": \"BED\", \"daily_limit\": 1, \"stay_limit\": 3},"
    "{\"code\": \"E-STAY\", \"kind\": \"EXAM\", \"stay_limit\": 2},"
    "{\"code\": \"S-FREE\", \"kind\": \"SERVICE\"}"
    "]}";

static fg_kb_t *load_kb(void) {
    char path[256];
    snprintf(path, sizeof(path), "/tmp/%s.json", fg_test_unique("fg-db-kb"));
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
    char eid[12], code[12];
    double qty, day;
    char adm[8]; /* "" : not inpatient */
} step_t;

typedef struct {
    char pattern[16], wkey[40];
} expect_t;

typedef struct {
    char name[120];
    step_t steps[8];
    size_t n_steps;
    expect_t expect[2];
    size_t n_expect;
} db_case_t;

static db_case_t g_cases[] = {
    {"daily: an item with daily_limit 2 billed 3 times in a day fires",
     {{"c1", "S-DAY", 1, 0, ""}, {"c2", "S-DAY", 1, 0.1, ""}, {"c3", "S-DAY", 1, 0.2, ""}}, 3,
     {{"daily", "S-DAY:2026-01-01"}}, 1},
    {"near miss: daily_limit 2 reached but not exceeded",
     {{"c1", "S-DAY", 1, 0, ""}, {"c2", "S-DAY", 1, 0.1, ""}}, 2, {{"", ""}}, 0},
    {"daily: one line of quantity 3 counts 3 times and fires",
     {{"c1", "S-DAY", 3, 2, ""}}, 1, {{"daily", "S-DAY:2026-01-03"}}, 1},
    {"near miss: 2 + 2 times on two days",
     {{"c1", "S-DAY", 2, 0, ""}, {"c2", "S-DAY", 2, 1, ""}}, 2, {{"", ""}}, 0},
    {"near miss: 2 + 1 times on one UTC day but two China days (22:24 and 00:48)",
     {{"c1", "S-DAY", 2, 0.6, ""}, {"c2", "S-DAY", 1, 0.7, ""}}, 2, {{"", ""}}, 0},
    {"stay: an exam with stay_limit 2 billed 3 times in one stay fires",
     {{"c1", "E-STAY", 1, 0, "A1"}, {"c2", "E-STAY", 1, 2, "A1"}, {"c3", "E-STAY", 1, 4, "A1"}}, 3,
     {{"stay", "E-STAY@A1"}}, 1},
    {"stay: the same claims arriving in reverse order fire the same alert",
     {{"c3", "E-STAY", 1, 4, "A1"}, {"c2", "E-STAY", 1, 2, "A1"}, {"c1", "E-STAY", 1, 0, "A1"}}, 3,
     {{"stay", "E-STAY@A1"}}, 1},
    {"near miss: stay_limit 2 reached but not exceeded",
     {{"c1", "E-STAY", 1, 0, "A1"}, {"c2", "E-STAY", 1, 2, "A1"}}, 2, {{"", ""}}, 0},
    {"near miss: 2 times in each of two stays",
     {{"c1", "E-STAY", 1, 0, "A1"}, {"c2", "E-STAY", 1, 2, "A1"}, {"c3", "E-STAY", 1, 20, "A2"},
      {"c4", "E-STAY", 1, 22, "A2"}},
     4, {{"", ""}}, 0},
    {"near miss: items unknown to the catalogue or without limits are not counted",
     {{"c1", "S-UNK", 10, 0, ""}, {"c2", "S-FREE", 10, 0, "A1"}}, 2, {{"", ""}}, 0},
    {"both: 2 bed-days on day 0 (daily limit 1) and 4 in the stay (stay limit 3)",
     {{"c1", "B-BED", 2, 0, "A1"}, {"c2", "B-BED", 1, 1, "A1"}, {"c3", "B-BED", 1, 2, "A1"}}, 3,
     {{"daily", "B-BED:2026-01-01"}, {"stay", "B-BED@A1"}}, 2},
};

/* alerts of this rule only: other rules may see the same events */
static size_t mine(fg_scn_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_ids; i++) n += !strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "duplicate_billing");
    return n;
}

static size_t first(fg_scn_t *s) {
    for (size_t i = 0; i < s->n_ids; i++)
        if (!strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "duplicate_billing")) return i;
    cr_assert_fail("no duplicate_billing alert");
    return 0;
}

ParameterizedTestParameters(duplicate_billing, scenarios) {
    return cr_make_param_array(db_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static fg_event_t claim(const step_t *s, const char *patient) {
    fg_titem_t it = {s->code, FG_ITEM_SERVICE, s->qty, PRICE, FG_DAYS_ABSENT, NULL};
    fg_event_t ev = fg_ev_claim(s->eid, patient, "H1", FG_INST_HOSPITAL,
                                s->adm[0] ? FG_VISIT_INPATIENT : FG_VISIT_OUTPATIENT, s->day, &it, 1);
    if (s->adm[0]) ev.u.claim.admission_id = s->adm;
    return ev;
}

ParameterizedTest(db_case_t *c, duplicate_billing, scenarios) {
    fg_kb_t *kb = load_kb();
    fg_event_t evs[8];
    for (int mode = 0; mode < 2; mode++) {
        const char *mname = mode == 0 ? "one batch" : "event by event";
        fg_scn_t s;
        fg_scn_init(&s, NULL, 0);
        fg_scn_set_kb(&s, kb);
        for (size_t i = 0; i < c->n_steps; i++) evs[i] = claim(&c->steps[i], "P1");
        if (mode == 0) fg_scn_run(&s, evs, c->n_steps);
        else fg_scn_run_each(&s, evs, c->n_steps);
        cr_assert_eq(mine(&s), c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mname, c->name, c->n_expect,
                     mine(&s));
        for (size_t i = 0; i < c->n_expect; i++) {
            char id[FG_ALERT_ID_LEN + 1];
            fg_alert_make_id(id, "duplicate_billing", c->expect[i].pattern, "patient", "P1", c->expect[i].wkey);
            cr_assert(fg_scn_alert(&s, id), "[%s] %s: missing %s alert", mname, c->name, c->expect[i].pattern);
        }
        fg_scn_fini(&s);
    }
    fg_kb_destroy(kb);
}

Test(duplicate_billing, daily_alert_carries_its_evidence) {
    fg_kb_t *kb = load_kb();
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_scn_set_kb(&s, kb);
    step_t st[] = {{"k1", "S-DAY", 2, 0, ""}, {"k2", "S-DAY", 2, 0.25, ""}};
    fg_event_t evs[] = {claim(&st[0], "P9"), claim(&st[1], "P9")};
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(mine(&s), 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "duplicate_billing", "daily", "patient", "P9", "S-DAY:2026-01-01");
    cr_assert_str_eq(a->id, id);
    cr_assert_str_eq(a->rule_name_zh, "重复收费 / 超限定频次");
    cr_assert_str_eq(a->institution_id, "H1");
    cr_assert_eq(a->window_start, FG_T0 - 8 * FG_MS_PER_HOUR, "the China day starts at 16:00 UTC");
    cr_assert_eq(a->window_end, FG_T0 + 16 * FG_MS_PER_HOUR);
    cr_assert_eq(a->event_time, FG_T0 + 6 * FG_MS_PER_HOUR);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "k1");
    cr_assert_str_eq(a->event_ids[1], "k2");
    cr_assert_str_eq(a->figures[0].name, "times_billed");
    cr_assert_float_eq(a->figures[0].value, 4.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 2.0, 1e-9);
    /* 4 x 1000 fen, 70 % fund paid, 2 of the 4 times are beyond the limit */
    cr_assert_eq(a->amount_at_risk_fen, 4 * PRICE * 7 / 10 / 2);
    fg_scn_fini(&s);
    fg_kb_destroy(kb);
}

Test(duplicate_billing, a_further_time_updates_the_same_alert) {
    fg_kb_t *kb = load_kb();
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_scn_set_kb(&s, kb);
    step_t st[] = {{"k1", "S-DAY", 3, 0, ""}, {"k2", "S-DAY", 1, 0.25, ""}};
    fg_event_t evs[] = {claim(&st[0], "P4"), claim(&st[1], "P4")};
    fg_scn_run(&s, evs, 1);
    fg_scn_run(&s, &evs[1], 1);
    cr_assert_eq(mine(&s), 1);
    cr_assert_eq(s.published[first(&s)], 2);
    cr_assert_float_eq(fg_scn_alert(&s, s.ids[first(&s)])->figures[0].value, 4.0, 1e-9);
    fg_scn_fini(&s);
    fg_kb_destroy(kb);
}

Test(duplicate_billing, redelivered_claims_count_once) {
    fg_kb_t *kb = load_kb();
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_scn_set_kb(&s, kb);
    step_t st[] = {{"k1", "S-DAY", 2, 0, ""}};
    fg_event_t ev = claim(&st[0], "P5");
    fg_scn_run(&s, &ev, 1);
    fg_scn_run(&s, &ev, 1);
    fg_event_t twice[] = {ev, ev};
    fg_scn_run(&s, twice, 2);
    cr_assert_eq(mine(&s), 0, "the same claim re-delivered is still 2 times, not 8");
    fg_scn_fini(&s);
    fg_kb_destroy(kb);
}

Test(duplicate_billing, redelivered_batch_publishes_nothing_new) {
    fg_kb_t *kb = load_kb();
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_scn_set_kb(&s, kb);
    step_t st[] = {{"c1", "B-BED", 2, 0, "A1"}, {"c2", "B-BED", 1, 1, "A1"}, {"c3", "B-BED", 1, 2, "A1"}};
    fg_event_t evs[] = {claim(&st[0], "P6"), claim(&st[1], "P6"), claim(&st[2], "P6")};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(mine(&s), 2);
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.last_run_count, 0);
    cr_assert_eq(mine(&s), 2);
    fg_scn_fini(&s);
    fg_kb_destroy(kb);
}

Test(duplicate_billing, tolerance_comes_from_config) {
    const char *o[] = {"detectors.duplicate_billing.tolerance=1"};
    fg_kb_t *kb = load_kb();
    fg_scn_t s;
    fg_scn_init(&s, o, 1);
    fg_scn_set_kb(&s, kb);
    step_t st[] = {{"k1", "S-DAY", 3, 0, ""}};
    fg_event_t ev = claim(&st[0], "P7");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(mine(&s), 0, "3 times is within daily_limit 2 + tolerance 1");
    fg_scn_fini(&s);
    fg_kb_destroy(kb);
}

Test(duplicate_billing, without_a_catalogue_nothing_fires) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"k1", "S-DAY", 30, 0, ""}};
    fg_event_t ev = claim(&st[0], "P8");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(mine(&s), 0);
    fg_scn_fini(&s);
}
