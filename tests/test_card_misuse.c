/*
 * test_card_misuse.c - 冒名就医 / 违规使用社保卡 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for
 * near-misses); every case runs as one batch and again event by event, which
 * must give the same alerts. Scenario minute 0 is 2026-01-01 08:00 China time.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "core/pseudo.h"
#include "support/scenario.h"

#define PH FG_INST_PHARMACY
#define HO FG_INST_HOSPITAL
#define PRICE 1000

/* Fixed arrays, not pointers: Criterion re-executes the test binary per parameter. */
typedef struct {
    char eid[12], card[8], region[8], inst[8];
    fg_inst_type_t inst_type;
    int64_t minute; /* after FG_T0 */
} step_t;

typedef struct {
    char pattern[20], card[8], wkey[40];
} expect_t;

typedef struct {
    char name[120];
    step_t steps[8];
    size_t n_steps;
    expect_t expect[2];
    size_t n_expect;
} cm_case_t;

static cm_case_t g_cases[] = {
    {"two regions: one card in Taiyuan and Datong 90 minutes apart fires",
     {{"a", "K1", "140100", "H1", HO, 0}, {"b", "K1", "140200", "H2", HO, 90}}, 2,
     {{"two_regions", "K1", "a>b"}}, 1},
    {"two regions: exactly 2 hours apart fires (inclusive)",
     {{"a", "K1", "140100", "H1", HO, 0}, {"b", "K1", "140200", "H2", HO, 120}}, 2,
     {{"two_regions", "K1", "a>b"}}, 1},
    {"near miss: two regions 2 h 01 min apart",
     {{"a", "K1", "140100", "H1", HO, 0}, {"b", "K1", "140200", "H2", HO, 121}}, 2, {{"", "", ""}}, 0},
    {"two regions: the later claim arrives first, the same alert fires",
     {{"b", "K1", "140200", "H2", HO, 90}, {"a", "K1", "140100", "H1", HO, 0}}, 2,
     {{"two_regions", "K1", "a>b"}}, 1},
    {"near miss: two institutions in the same region 10 minutes apart",
     {{"a", "K1", "140100", "H1", HO, 0}, {"b", "K1", "140100", "H2", HO, 10}}, 2, {{"", "", ""}}, 0},
    {"near miss: two cards in two regions",
     {{"a", "K1", "140100", "H1", HO, 0}, {"b", "K2", "140200", "H2", HO, 10}}, 2, {{"", "", ""}}, 0},
    {"near miss: claims without a card are not looked at",
     {{"a", "", "140100", "H1", HO, 0}, {"b", "", "140200", "H2", HO, 10}}, 2, {{"", "", ""}}, 0},
    {"pharmacy hopping: 4 distinct pharmacies in one day fires",
     {{"p1", "K1", "140100", "Y1", PH, 0}, {"p2", "K1", "140100", "Y2", PH, 60}, {"p3", "K1", "140100", "Y3", PH, 120},
      {"p4", "K1", "140100", "Y4", PH, 180}},
     4, {{"pharmacy_hopping", "K1", "2026-01-01"}}, 1},
    {"pharmacy hopping: arriving in reverse order fires the same alert",
     {{"p4", "K1", "140100", "Y4", PH, 180}, {"p3", "K1", "140100", "Y3", PH, 120},
      {"p2", "K1", "140100", "Y2", PH, 60},
      {"p1", "K1", "140100", "Y1", PH, 0}},
     4, {{"pharmacy_hopping", "K1", "2026-01-01"}}, 1},
    {"near miss: 3 distinct pharmacies (one twice) and a hospital in one day",
     {{"p1", "K1", "140100", "Y1", PH, 0}, {"p2", "K1", "140100", "Y2", PH, 60}, {"p3", "K1", "140100", "Y3", PH, 120},
      {"p4", "K1", "140100", "Y1", PH, 180}, {"h1", "K1", "140100", "H1", HO, 200}},
     5, {{"", "", ""}}, 0},
    {"near miss: 4 pharmacies across midnight China time (2 + 2)",
     {{"p1", "K1", "140100", "Y1", PH, 900}, {"p2", "K1", "140100", "Y2", PH, 930},
      {"p3", "K1", "140100", "Y3", PH, 970},
      {"p4", "K1", "140100", "Y4", PH, 1000}},
     4, {{"", "", ""}}, 0},
    {"both: 4 pharmacies, the last in another region 50 minutes after the 3rd (2h20 after the 2nd)",
     {{"p1", "K1", "140100", "Y1", PH, 0}, {"p2", "K1", "140100", "Y2", PH, 10}, {"p3", "K1", "140100", "Y3", PH, 100},
      {"p4", "K1", "140200", "Y4", PH, 150}},
     4, {{"pharmacy_hopping", "K1", "2026-01-01"}, {"two_regions", "K1", "p3>p4"}}, 2},
};

/* alerts of this rule only: other rules may see the same events */
static size_t mine(fg_scn_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_ids; i++) n += !strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "card_misuse");
    return n;
}

static size_t first(fg_scn_t *s) {
    for (size_t i = 0; i < s->n_ids; i++)
        if (!strcmp(fg_scn_alert(s, s->ids[i])->rule_id, "card_misuse")) return i;
    cr_assert_fail("no card_misuse alert");
    return 0;
}

ParameterizedTestParameters(card_misuse, scenarios) {
    return cr_make_param_array(cm_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static fg_event_t claim(const step_t *s) {
    fg_titem_t it = {"D-X", FG_ITEM_DRUG, 1, PRICE, FG_DAYS_ABSENT, NULL};
    fg_event_t ev = fg_ev_claim(s->eid, "P1", s->inst, s->inst_type,
                                s->inst_type == PH ? FG_VISIT_PHARMACY : FG_VISIT_OUTPATIENT, 0, &it, 1);
    ev.event_time_ms = FG_T0 + s->minute * 60000;
    ev.region = s->region;
    ev.card_id = s->card[0] ? s->card : NULL;
    return ev;
}

ParameterizedTest(cm_case_t *c, card_misuse, scenarios) {
    fg_event_t evs[8];
    for (int mode = 0; mode < 2; mode++) {
        const char *mname = mode == 0 ? "one batch" : "event by event";
        fg_scn_t s;
        fg_scn_init(&s, NULL, 0);
        for (size_t i = 0; i < c->n_steps; i++) evs[i] = claim(&c->steps[i]);
        if (mode == 0) fg_scn_run(&s, evs, c->n_steps);
        else fg_scn_run_each(&s, evs, c->n_steps);
        size_t n = mine(&s);
        cr_assert_eq(n, c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mname, c->name, c->n_expect, n);
        for (size_t i = 0; i < c->n_expect; i++) {
            char id[FG_ALERT_ID_LEN + 1];
            fg_alert_make_id(id, "card_misuse", c->expect[i].pattern, "card", c->expect[i].card, c->expect[i].wkey);
            cr_assert(fg_scn_alert(&s, id), "[%s] %s: missing %s alert", mname, c->name, c->expect[i].pattern);
        }
        fg_scn_fini(&s);
    }
}

Test(card_misuse, two_regions_alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"b", "K9", "140200", "H2", HO, 45}, {"a", "K9", "140100", "H1", HO, 0}};
    fg_event_t evs[] = {claim(&st[0]), claim(&st[1])};
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(mine(&s), 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "card_misuse", "two_regions", "card", "K9", "a>b");
    cr_assert_str_eq(a->id, id);
    cr_assert_str_eq(a->rule_name_zh, "冒名就医 / 违规使用社保卡");
    cr_assert_str_eq(a->subject_type, "card");
    cr_assert_str_eq(a->subject_id, "K9");
    cr_assert_str_eq(a->institution_id, "H2");
    cr_assert_str_eq(a->region, "140200");
    cr_assert_eq(a->window_start, FG_T0);
    cr_assert_eq(a->window_end, FG_T0 + 45 * 60000);
    cr_assert_eq(a->event_time, FG_T0 + 45 * 60000, "the later claim's time, not the last to arrive");
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "a");
    cr_assert_str_eq(a->event_ids[1], "b");
    cr_assert_float_eq(a->figures[0].value, 0.75, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 2.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 2 * PRICE * 7 / 10);
    fg_scn_fini(&s);
}

Test(card_misuse, pharmacy_hopping_alert_grows_with_each_pharmacy) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"p1", "K8", "140100", "Y1", PH, 0},   {"p2", "K8", "140100", "Y2", PH, 30},
                   {"p3", "K8", "140100", "Y3", PH, 60},  {"p4", "K8", "140100", "Y4", PH, 90},
                   {"p5", "K8", "140100", "Y5", PH, 120}};
    fg_event_t evs[5];
    for (int i = 0; i < 5; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 4);
    cr_assert_eq(mine(&s), 1);
    fg_scn_run(&s, &evs[4], 1);
    cr_assert_eq(mine(&s), 1, "a 5th pharmacy the same day updates the same alert");
    cr_assert_eq(s.published[first(&s)], 2);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[first(&s)]);
    cr_assert_str_eq(a->pattern, "pharmacy_hopping");
    cr_assert_float_eq(a->figures[0].value, 5.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 4.0, 1e-9);
    cr_assert_eq(a->n_event_ids, 5);
    cr_assert_eq(a->window_start, FG_T0 - 8 * FG_MS_PER_HOUR);
    cr_assert_eq(a->event_time, FG_T0 + 120 * 60000);
    cr_assert_eq(a->amount_at_risk_fen, 5 * PRICE * 7 / 10);
    fg_scn_fini(&s);
}

Test(card_misuse, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    step_t st[] = {{"p1", "K7", "140100", "Y1", PH, 0}, {"p2", "K7", "140100", "Y2", PH, 10},
                   {"p3", "K7", "140100", "Y3", PH, 100}, {"p4", "K7", "140200", "Y4", PH, 150}};
    fg_event_t evs[4];
    for (int i = 0; i < 4; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 4);
    cr_assert_eq(mine(&s), 2);
    fg_scn_run(&s, evs, 4);
    cr_assert_eq(s.last_run_count, 0);
    cr_assert_eq(mine(&s), 2);
    fg_scn_fini(&s);
}

Test(card_misuse, thresholds_come_from_config) {
    const char *o[] = {"detectors.card_misuse.region_window_hours=1", "detectors.card_misuse.max_pharmacies_per_day=5"};
    fg_scn_t s;
    fg_scn_init(&s, o, 2);
    step_t st[] = {{"p1", "K6", "140100", "Y1", PH, 0}, {"p2", "K6", "140100", "Y2", PH, 30},
                   {"p3", "K6", "140100", "Y3", PH, 60}, {"p4", "K6", "140200", "Y4", PH, 121}};
    fg_event_t evs[4];
    for (int i = 0; i < 4; i++) evs[i] = claim(&st[i]);
    fg_scn_run(&s, evs, 4);
    cr_assert_eq(mine(&s), 0, "61 minutes is beyond 1 h, and 4 pharmacies below 5");
    fg_scn_fini(&s);
}

Test(card_misuse, a_card_with_hundreds_of_claims_keeps_bounded_state) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    static step_t st[600];
    static fg_event_t evs[600];
    for (int i = 0; i < 600; i++) {
        snprintf(st[i].eid, sizeof(st[i].eid), "h%d", i);
        snprintf(st[i].card, sizeof(st[i].card), "K5");
        snprintf(st[i].region, sizeof(st[i].region), "140100");
        snprintf(st[i].inst, sizeof(st[i].inst), "Y%d", i % 50);
        st[i].inst_type = PH;
        st[i].minute = i; /* all within 10 hours of one day */
        evs[i] = claim(&st[i]);
    }
    fg_scn_run(&s, evs, 600);
    cr_assert_eq(mine(&s), 1, "one pharmacy_hopping alert for the day");
    char ps[FG_PSEUDO_LEN + 1], key[256], err[256];
    fg_pseudo("K5", ps);
    fg_state_key(s.st, key, sizeof(key), "cm", 'c', ps);
    fg_state_begin(s.st);
    fg_state_want(s.st, key);
    cr_assert_eq(fg_state_fetch(s.st, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert_leq(fg_state_hlen(s.st, key), 257, "at most 256 claims and the watermark are kept");
    fg_scn_fini(&s);
}
