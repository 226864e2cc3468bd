/*
 * test_large_unregistered.c - 大额消费未登记 against a real redis-server. Each case
 * states a claim and the exact alert id it must produce (none for near misses);
 * every case runs as one batch and again claim by claim, which must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "detectors/detector.h"
#include "support/scenario.h"

/* Only this rule runs: other rules' findings on the same events are their tests' business. */
static void start_only(fg_scn_t *s, const char *rule, const char **o, int n) {
    static char buf[32][96];
    const char *all[32];
    int k = 0;
    for (size_t i = 0; fg_detectors[i] && k < 24; i++)
        if (strcmp(fg_detectors[i]->name, rule)) {
            snprintf(buf[k], sizeof(buf[k]), "detectors.%s.enabled=false", fg_detectors[i]->name);
            all[k] = buf[k];
            k++;
        }
    for (int i = 0; i < n && k < 32; i++) all[k++] = o[i];
    fg_scn_init(s, all, k);
}

typedef struct {
    char name[100];
    char inst[8];
    fg_inst_type_t inst_type;
    fg_visit_t visit;
    int64_t total_fen;
    bool registered;
    bool fires;
} lu_case_t;

static lu_case_t g_cases[] = {
    {"a pharmacy settles exactly 2,000 yuan unregistered: fires", "P1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 200000,
     false, true},
    {"a pharmacy settles 8,500 yuan unregistered: fires", "P1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 850000, false,
     true},
    {"near miss: 1,999.99 yuan does not fire", "P1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 199999, false, false},
    {"near miss: 5,000 yuan with the buyer registered does not fire", "P1", FG_INST_PHARMACY, FG_VISIT_PHARMACY,
     500000, true, false},
    {"near miss: 5,000 yuan at a hospital outpatient visit is not a pharmacy sale", "H1", FG_INST_HOSPITAL,
     FG_VISIT_OUTPATIENT, 500000, false, false},
    {"a primary-care pharmacy visit of 3,000 yuan unregistered: fires", "C1", FG_INST_PRIMARY, FG_VISIT_PHARMACY,
     300000, false, true},
};

ParameterizedTestParameters(large_unregistered, scenarios) {
    return cr_make_param_array(lu_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static fg_event_t make(const char *claim, const char *inst, fg_inst_type_t type, fg_visit_t visit, int64_t total,
                       bool registered) {
    fg_titem_t item = {"XA10ABG053B002010180201", FG_ITEM_DRUG, 1, total, 30, NULL};
    fg_event_t ev = fg_ev_claim(claim, "P-L", inst, type, visit, 1.5, &item, 1);
    ev.u.claim.buyer_registered = registered;
    return ev;
}

ParameterizedTest(lu_case_t *c, large_unregistered, scenarios) {
    for (int mode = 0; mode < 2; mode++) {
        fg_scn_t s;
        start_only(&s, "large_unregistered", NULL, 0);
        fg_event_t evs[] = {make("c1", c->inst, c->inst_type, c->visit, c->total_fen, c->registered),
                            make("c0", "P9", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 1000, false)}; /* a small sale */
        if (mode) fg_scn_run_each(&s, evs, 2);
        else fg_scn_run(&s, evs, 2);
        cr_assert_eq(s.n_ids, c->fires ? 1u : 0u, "[%s] %s: got %zu alert(s)", mode ? "each" : "batch", c->name,
                     s.n_ids);
        if (c->fires) {
            char id[FG_ALERT_ID_LEN + 1];
            fg_alert_make_id(id, "large_unregistered", "unregistered_buyer", "institution", c->inst, "c1");
            cr_assert(fg_scn_alert(&s, id), "%s: missing alert", c->name);
        }
        fg_scn_fini(&s);
    }
}

Test(large_unregistered, alert_carries_its_evidence) {
    fg_scn_t s;
    start_only(&s, "large_unregistered", NULL, 0);
    fg_event_t ev = make("big-1", "P3", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 400000, false);
    fg_scn_run(&s, &ev, 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "large_unregistered", "unregistered_buyer", "institution", "P3", "big-1");
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "大额消费未登记");
    cr_assert_str_eq(a->subject_id, "P3");
    cr_assert_str_eq(a->institution_id, "P3");
    cr_assert_eq(a->severity, FG_SEV_MEDIUM);
    cr_assert_eq(a->amount_at_risk_fen, 280000);
    cr_assert_eq(a->event_time, FG_T0 + FG_MS_PER_DAY * 3 / 2);
    cr_assert_str_eq(a->event_ids[0], "big-1");
    cr_assert_str_eq(a->figures[0].name, "total_fen");
    cr_assert_float_eq(a->figures[0].value, 400000.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 200000.0, 1e-9);
    cr_assert_float_eq(a->score, 0.75, 1e-9);
    cr_assert(strstr(a->summary, "4000.00 yuan"), "%s", a->summary);
    fg_scn_fini(&s);
}

Test(large_unregistered, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    start_only(&s, "large_unregistered", NULL, 0);
    fg_event_t ev = make("big-2", "P3", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 400000, false);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 1);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 0);
    fg_scn_fini(&s);
}

Test(large_unregistered, threshold_comes_from_config) {
    const char *o[] = {"detectors.large_unregistered.min_total_fen=100000"};
    fg_scn_t s;
    start_only(&s, "large_unregistered", o, 1);
    fg_event_t ev = make("mid-1", "P3", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 150000, false);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 1, "1,500 yuan reaches a configured 1,000-yuan threshold");
    fg_scn_fini(&s);

    start_only(&s, "large_unregistered", NULL, 0);
    ev = make("mid-1", "P3", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 150000, false); /* events live until fini */
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0, "but not the default 2,000");
    fg_scn_fini(&s);

    const char *o2[] = {"detectors.large_unregistered.enabled=false"};
    start_only(&s, "large_unregistered", o2, 1);
    ev = make("big-3", "P3", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 900000, false);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_scn_fini(&s);
}
