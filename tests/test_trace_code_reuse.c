/*
 * test_trace_code_reuse.c - 回流药 / 追溯码重复 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for near-misses);
 * every case runs as one batch, event by event, and both again with the other stream's events first:
 * all four must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "support/scenario.h"

#define RULE "trace_code_reuse"
#define SUBJECT_TYPE "trace_code"
#define BUY FG_INV_PURCHASE
#define SOLD FG_INV_SALE

#include "support/xstream.h"

static case_t g_cases[] = {
    {"one box code settled on two claims at two pharmacies fires",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), CLT("c2", "P2", "R2", 1, "D1", 1, 3000, "TC-1")}, 2,
     {{"reuse", "TC-1", "", 2100}}, 1},
    {"three settlements: the amount is every settlement after the first",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), CLT("c2", "P2", "R2", 1, "D1", 1, 3000, "TC-1"),
      CLT("c3", "P3", "R3", 2, "D1", 1, 1000, "TC-1")},
     3, {{"reuse", "TC-1", "", 2800}}, 1},
    {"near miss: two different codes do not fire",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), CLT("c2", "P2", "R2", 1, "D1", 1, 3000, "TC-2")}, 2, NONE},
    {"near miss: the same claim re-delivered does not fire",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1")}, 2, NONE},
    {"reflux: a settled box purchased again by a pharmacy fires",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), INV("v1", BUY, "R9", 2, "D1", 1, "TC-1")}, 2,
     {{"reflux", "TC-1", "reflux", 2100}}, 1},
    {"near miss: purchases before the settlement are the normal supply chain",
     {INV("v1", BUY, "R1", 0, "D1", 1, "TC-1"), CLT("c1", "P1", "R1", 1, "D1", 1, 3000, "TC-1")}, 2, NONE},
    {"near miss: an invoicing sale of a settled box is not a second settlement by default",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), INV("s1", SOLD, "R1", 0, "D1", 1, "TC-1")}, 2, NONE},
    {"reuse and reflux of one code fire both",
     {CLT("c1", "P1", "R1", 0, "D1", 1, 3000, "TC-1"), CLT("c2", "P2", "R2", 3, "D1", 1, 3000, "TC-1"),
      INV("v0", BUY, "R1", -1, "D1", 1, "TC-1"), INV("v1", BUY, "R2", 1, "D1", 1, "TC-1")},
     4, {{"reuse", "TC-1", "", 2100}, {"reflux", "TC-1", "reflux", 2100}}, 2},
};

ParameterizedTestParameters(trace_code_reuse, scenarios) {
    return cr_make_param_array(case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

ParameterizedTest(case_t *c, trace_code_reuse, scenarios) { run_case(c, NULL, 0); }

Test(trace_code_reuse, alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[2];
    /* the later settlement arrives first: the order of settlement is event time, not arrival */
    build(&g_cases[0], 0, evs);
    fg_event_t rev[2] = {evs[1], evs[0]};
    fg_scn_run_each(&s, rev, 2);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "reuse", "trace_code", "TC-1", "");
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "回流药 / 追溯码重复");
    cr_assert_str_eq(a->subject_id, "TC-1");
    cr_assert_str_eq(a->institution_id, "R2");
    cr_assert_eq(a->severity, FG_SEV_HIGH);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "c1");
    cr_assert_str_eq(a->event_ids[1], "c2");
    cr_assert_eq(a->window_start, FG_T0);
    cr_assert_eq(a->event_time, FG_T0 + FG_MS_PER_DAY);
    cr_assert_str_eq(a->figures[0].name, "settlements");
    cr_assert_float_eq(a->figures[0].value, 2.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 2100);
    fg_scn_fini(&s);
}

Test(trace_code_reuse, share_of_a_box_is_the_items_fund_share_over_its_codes) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it1[] = {{"D1", FG_ITEM_DRUG, 1, 3000, FG_DAYS_ABSENT, "TC-9"}};
    fg_titem_t it2[] = {{"S1", FG_ITEM_SERVICE, 1, 1000, FG_DAYS_ABSENT, NULL},
                        {"D1", FG_ITEM_DRUG, 1, 3000, FG_DAYS_ABSENT, "TC-9"}};
    fg_event_t evs[] = {fg_ev_claim("x1", "P1", "R1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 0, it1, 1),
                        fg_ev_claim("x2", "P2", "H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 1, it2, 2)};
    fg_scn_run(&s, evs, 2);
    /* claim x2: total 4000, fund 2800; the drug is 3/4 of it */
    cr_assert_eq(expect_alert(&s, "reuse", "trace_code", "TC-9", "")->amount_at_risk_fen, 2100);
    fg_scn_fini(&s);
}

Test(trace_code_reuse, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[4];
    size_t n = build(&g_cases[7], 0, evs);
    fg_scn_run(&s, evs, n);
    cr_assert_eq(rule_publications(&s), 2);
    fg_scn_run(&s, evs, n);
    fg_scn_run_each(&s, evs, n);
    cr_assert_eq(rule_publications(&s), 2);
    fg_scn_fini(&s);
}

Test(trace_code_reuse, invoicing_sales_count_when_configured) {
    case_t c = g_cases[6];
    c.n_expect = 1;
    c.expect[0] = (expect_t){"reuse", "TC-1", "", 0}; /* the later (invoicing) settlement has no fund share */
    const char *o[] = {"detectors.trace_code_reuse.count_invoicing_sales=true"};
    run_case(&c, o, 1);
}

Test(trace_code_reuse, switched_off_rule_never_fires) {
    case_t c = g_cases[0];
    c.n_expect = 0;
    const char *o[] = {"detectors.trace_code_reuse.enabled=false"};
    run_case(&c, o, 1);
}
