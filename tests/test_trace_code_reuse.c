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

/* Fixed arrays, not pointers: Criterion re-executes the test binary for each
 * parameter, so pointers inside the cases would not survive. */
typedef struct {
    char src;        /* 'c' claim, 'i' inpatient, 'v' invoicing */
    char eid[16];
    int type;        /* fg_visit_t, fg_ip_type_t or fg_inv_type_t */
    char patient[12], inst[12], adm[12];
    double day;
    int present;     /* presence checks: 0 absent, 1 present */
    struct {
        char code[12];
        fg_item_kind_t kind;
        double qty;
        int64_t price;
        char trace[24];
    } it[2];
} step_t;

typedef struct {
    char pattern[24];
    char subject[24];
    char wkey[48];
    int64_t amount; /* -1: not checked */
} expect_t;

typedef struct {
    char name[112];
    step_t steps[10];
    size_t n_steps;
    expect_t expect[3];
    size_t n_expect;
} case_t;

/*
 * builds the case's events; swap: the streams in the reverse order of their first appearance, each
 * stream keeping its own order (a topic partition is ordered, topics are not ordered against each other)
 */
static size_t build(const case_t *c, int swap, fg_event_t *evs) {
    size_t order[10], n_order = 0;
    char streams[3];
    size_t n_streams = 0;
    for (size_t k = 0; k < c->n_steps; k++)
        if (!memchr(streams, c->steps[k].src, n_streams)) streams[n_streams++] = c->steps[k].src;
    for (size_t j = 0; j < n_streams; j++)
        for (size_t k = 0; k < c->n_steps; k++)
            if (c->steps[k].src == streams[swap ? n_streams - 1 - j : j]) order[n_order++] = k;
    for (size_t k = 0; k < c->n_steps; k++) {
        const step_t *s = &c->steps[swap ? order[k] : k];
        fg_titem_t items[2];
        uint32_t n = 0;
        for (int j = 0; j < 2; j++)
            if (s->it[j].code[0])
                items[n++] = (fg_titem_t){s->it[j].code, s->it[j].kind, s->it[j].qty, s->it[j].price, FG_DAYS_ABSENT,
                                          s->it[j].trace[0] ? s->it[j].trace : NULL};
        if (s->src == 'c') {
            evs[k] = fg_ev_claim(s->eid, s->patient, s->inst, s->type == FG_VISIT_PHARMACY ? FG_INST_PHARMACY
                                                                                           : FG_INST_HOSPITAL,
                                 (fg_visit_t)s->type, s->day, items, n);
            if (s->adm[0]) evs[k].u.claim.admission_id = s->adm;
        } else if (s->src == 'i') {
            evs[k] = fg_ev_inpatient(s->eid, (fg_ip_type_t)s->type, s->patient, s->inst, s->adm, s->day);
            if (s->type == FG_IP_PRESENCE_CHECK) {
                evs[k].u.inpatient.present = s->present;
                evs[k].u.inpatient.check_method = FG_CHECK_FACE;
            }
        } else {
            evs[k] = fg_ev_invoicing(s->eid, s->inst, (fg_inv_type_t)s->type, s->day, items, n);
        }
    }
    return c->n_steps;
}

/* alerts of this rule published so far (other rules run in the same processor) */
static size_t rule_alerts(fg_scn_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_ids; i++) {
        const fg_alert_t *a = fg_scn_alert(s, s->ids[i]);
        if (a && !strcmp(a->rule_id, RULE)) n++;
    }
    return n;
}

/* publications of this rule so far, counting re-publications */
static int rule_publications(fg_scn_t *s) {
    int n = 0;
    for (size_t i = 0; i < s->n_ids; i++) {
        const fg_alert_t *a = fg_scn_alert(s, s->ids[i]);
        if (a && !strcmp(a->rule_id, RULE)) n += s->published[i];
    }
    return n;
}

static const fg_alert_t *expect_alert(fg_scn_t *s, const char *pattern, const char *subject_type,
                                      const char *subject, const char *wkey) {
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, RULE, pattern, subject_type, subject, wkey);
    return fg_scn_alert(s, id);
}

static void assert_case(fg_scn_t *s, const case_t *c, const char *mode) {
    cr_assert_eq(rule_alerts(s), c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name,
                 c->n_expect, rule_alerts(s));
    for (size_t i = 0; i < c->n_expect; i++) {
        const expect_t *e = &c->expect[i];
        const fg_alert_t *a = expect_alert(s, e->pattern, SUBJECT_TYPE, e->subject, e->wkey);
        cr_assert(a, "[%s] %s: missing %s alert", mode, c->name, e->pattern);
        if (e->amount >= 0)
            cr_assert_eq(a->amount_at_risk_fen, e->amount, "[%s] %s: amount %lld, expected %lld", mode, c->name,
                         (long long)a->amount_at_risk_fen, (long long)e->amount);
    }
}

/* one batch and event by event, in the given order and with the other stream first: all four must agree */
static void run_case(const case_t *c, const char **o, int no) {
    static const char *modes[4] = {"one batch", "event by event", "other stream first, batch",
                                   "other stream first, event by event"};
    for (int m = 0; m < 4; m++) {
        fg_event_t evs[10];
        fg_scn_t s;
        fg_scn_init(&s, o, no);
        size_t n = build(c, m >= 2, evs);
        if (m % 2)
            fg_scn_run_each(&s, evs, n);
        else
            fg_scn_run(&s, evs, n);
        assert_case(&s, c, modes[m]);
        fg_scn_fini(&s);
    }
}

#define IP(e, t, p, i, a, d)                                                                                         \
    {.src = 'i', .eid = e, .type = t, .patient = p, .inst = i, .adm = a, .day = d, .present = -1}
#define CHK(e, p, i, a, d, pres)                                                                                     \
    {.src = 'i', .eid = e, .type = FG_IP_PRESENCE_CHECK, .patient = p, .inst = i, .adm = a, .day = d, .present = pres}
#define CL(e, v, p, i, a, d, c1, k1, q1, p1)                                                                         \
    {.src = 'c', .eid = e, .type = v, .patient = p, .inst = i, .adm = a, .day = d, .it = {{c1, k1, q1, p1, ""}}}
#define CL2(e, v, p, i, a, d, c1, k1, q1, p1, c2, k2, q2, p2)                                                        \
    {.src = 'c',                                                                                                     \
     .eid = e,                                                                                                       \
     .type = v,                                                                                                      \
     .patient = p,                                                                                                   \
     .inst = i,                                                                                                      \
     .adm = a,                                                                                                       \
     .day = d,                                                                                                       \
     .it = {{c1, k1, q1, p1, ""}, {c2, k2, q2, p2, ""}}}
#define CLT(e, p, i, d, c1, q1, p1, tc)                                                                              \
    {.src = 'c', .eid = e, .type = FG_VISIT_PHARMACY, .patient = p, .inst = i, .day = d,                             \
     .it = {{c1, FG_ITEM_DRUG, q1, p1, tc}}}
#define INV(e, t, i, d, c1, q1, tc)                                                                                  \
    {.src = 'v', .eid = e, .type = t, .inst = i, .day = d, .it = {{c1, FG_ITEM_DRUG, q1, 100, tc}}}
#define NONE {{"", "", "", 0}}, 0

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
