/*
 * test_rx_without_prescription.c - 无处方销售处方药 against a real redis-server and
 * the sample catalogue (reference/catalogue.json). Each case states a claim and
 * the exact alert id it must produce (none for near misses); every case runs as
 * one batch and again claim by claim, which must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/detector.h"
#include "support/scenario.h"

/* sample catalogue codes */
#define ATORVA "XC10AAA087A001010101445" /* prescription-only */
#define INSULIN "XA10ABG053B002010180201" /* prescription-only */
#define AMOX "XJ01CAA040E001010102375"   /* prescription-only */
#define VITC "XA11GAW059A001010100001"   /* OTC */
#define PARA "XN02BEA011A001010102007"   /* OTC */

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

static fg_kb_t *g_kb;

static void load_kb(void) {
    char dir[1024], cat[1200], err[512];
    const char *env = getenv("FG_SOURCE_DIR");
    snprintf(dir, sizeof(dir), "%s", env && *env ? env : __FILE__);
    char *t = env && *env ? NULL : strstr(dir, "/tests/");
    if (t) *t = '\0';
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", dir);
    g_kb = fg_kb_load(cat, NULL, err, sizeof(err));
    cr_assert(g_kb, "%s", err);
}

static void start(fg_scn_t *s, const char **o, int n) {
    if (!g_kb) load_kb();
    start_only(s, "rx_without_prescription", o, n);
    fg_scn_set_kb(s, g_kb);
}

typedef struct {
    char claim[8];
    char inst[8];
    fg_inst_type_t inst_type;
    fg_visit_t visit;
    char prescription[12]; /* "" = none */
    char codes[3][32];
    size_t n_codes;
} rx_claim_t;

typedef struct {
    char name[100];
    rx_claim_t claims[2];
    size_t n_claims;
    char expect[2][8]; /* claim ids that fire (window key), subject = its institution */
    char expect_inst[2][8];
    size_t n_expect;
} rx_case_t;

#define PH FG_INST_PHARMACY
#define HO FG_INST_HOSPITAL
#define PR FG_INST_PRIMARY
#define VP FG_VISIT_PHARMACY
#define VO FG_VISIT_OUTPATIENT

static rx_case_t g_cases[] = {
    {"a pharmacy sells a statin without a prescription: fires", {{"c1", "P1", PH, VP, "", {ATORVA}, 1}}, 1, {"c1"},
     {"P1"}, 1},
    {"near miss: the same sale with a prescription does not fire", {{"c1", "P1", PH, VP, "RX-88", {ATORVA}, 1}}, 1,
     {""}, {""}, 0},
    {"near miss: OTC drugs without a prescription do not fire", {{"c1", "P1", PH, VP, "", {VITC, PARA}, 2}}, 1, {""},
     {""}, 0},
    {"OTC plus insulin without a prescription: fires", {{"c1", "P1", PH, VP, "", {VITC, INSULIN}, 2}}, 1, {"c1"},
     {"P1"}, 1},
    {"a hospital's pharmacy visit without a prescription: fires", {{"c1", "H1", HO, VP, "", {AMOX}, 1}}, 1, {"c1"},
     {"H1"}, 1},
    {"a pharmacy settlement typed as outpatient still counts (institution type)",
     {{"c1", "P1", PH, VO, "", {AMOX}, 1}}, 1, {"c1"}, {"P1"}, 1},
    {"near miss: an outpatient visit at a hospital is not a pharmacy sale", {{"c1", "H1", HO, VO, "", {ATORVA}, 1}},
     1, {""}, {""}, 0},
    {"near miss: items not in the catalogue are not judged", {{"c1", "P1", PH, VP, "", {"UNKNOWN-9"}, 1}}, 1, {""},
     {""}, 0},
    {"two sales at two pharmacies: two alerts",
     {{"c1", "P1", PH, VP, "", {ATORVA}, 1}, {"c2", "P2", PR, VP, "", {AMOX}, 1}}, 2, {"c1", "c2"}, {"P1", "P2"}, 2},
};

ParameterizedTestParameters(rx_without_prescription, scenarios) {
    return cr_make_param_array(rx_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static size_t build(const rx_case_t *c, const char *patient, fg_event_t *evs) {
    for (size_t i = 0; i < c->n_claims; i++) {
        const rx_claim_t *x = &c->claims[i];
        fg_titem_t items[3];
        for (size_t k = 0; k < x->n_codes; k++)
            items[k] = (fg_titem_t){x->codes[k], FG_ITEM_DRUG, 2, 1000, 14, NULL};
        evs[i] = fg_ev_claim(x->claim, patient, x->inst, x->inst_type, x->visit, (double)i, items,
                             (uint32_t)x->n_codes);
        if (x->prescription[0]) evs[i].u.claim.prescription_id = x->prescription;
    }
    return c->n_claims;
}

static void assert_ids(fg_scn_t *s, const rx_case_t *c, const char *mode) {
    cr_assert_eq(s->n_ids, c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name, c->n_expect,
                 s->n_ids);
    for (size_t i = 0; i < c->n_expect; i++) {
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, "rx_without_prescription", "no_prescription", "institution", c->expect_inst[i],
                         c->expect[i]);
        cr_assert(fg_scn_alert(s, id), "[%s] %s: missing alert for %s", mode, c->name, c->expect[i]);
    }
}

ParameterizedTest(rx_case_t *c, rx_without_prescription, scenarios) {
    fg_event_t evs[2];
    fg_scn_t s;
    start(&s, NULL, 0);
    size_t n = build(c, "P-batch", evs);
    fg_scn_run(&s, evs, n);
    assert_ids(&s, c, "one batch");
    fg_scn_fini(&s);

    start(&s, NULL, 0);
    n = build(c, "P-each", evs);
    fg_scn_run_each(&s, evs, n);
    assert_ids(&s, c, "claim by claim");
    fg_scn_fini(&s);
}

static fg_event_t mixed_sale(const char *claim) {
    fg_titem_t items[] = {{VITC, FG_ITEM_DRUG, 2, 1000, 30, NULL},     /* OTC 2000 */
                          {INSULIN, FG_ITEM_DRUG, 1, 6000, 30, NULL},  /* Rx 6000 */
                          {ATORVA, FG_ITEM_DRUG, 10, 200, 10, NULL}};  /* Rx 2000 */
    return fg_ev_claim(claim, "P-M", "P7", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 4.25, items, 3);
}

Test(rx_without_prescription, alert_carries_its_evidence) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_event_t ev = mixed_sale("s-1");
    fg_scn_run(&s, &ev, 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "rx_without_prescription", "no_prescription", "institution", "P7", "s-1");
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "无处方销售处方药");
    cr_assert_str_eq(a->subject_type, "institution");
    cr_assert_str_eq(a->institution_id, "P7");
    cr_assert_eq(a->severity, FG_SEV_MEDIUM);
    cr_assert_eq(a->event_time, FG_T0 + FG_MS_PER_DAY * 17 / 4);
    cr_assert_eq(a->n_event_ids, 1);
    cr_assert_str_eq(a->event_ids[0], "s-1");
    /* total 10000, fund 7000; prescription-only part 8000 -> 5600 */
    cr_assert_eq(a->amount_at_risk_fen, 5600);
    cr_assert_str_eq(a->figures[0].name, "rx_only_lines");
    cr_assert_float_eq(a->figures[0].value, 2.0, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "rx_only_amount_fen");
    cr_assert_float_eq(a->figures[1].value, 8000.0, 1e-9);
    cr_assert(strstr(a->summary, INSULIN) && strstr(a->summary, ATORVA) && !strstr(a->summary, VITC), "%s",
              a->summary);
    cr_assert_float_eq(a->score, 0.9, 1e-9);
    fg_scn_fini(&s);
}

Test(rx_without_prescription, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_event_t ev = mixed_sale("s-2");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 1);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 0);
    fg_scn_fini(&s);
}

Test(rx_without_prescription, minimum_amount_comes_from_config) {
    const char *o[] = {"detectors.rx_without_prescription.min_amount_fen=8001"};
    fg_scn_t s;
    start(&s, o, 1);
    fg_event_t ev = mixed_sale("s-3");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0, "8000 fen of prescription-only drugs is under a configured 8001");
    fg_scn_fini(&s);

    const char *o2[] = {"detectors.rx_without_prescription.min_amount_fen=8000"};
    start(&s, o2, 1);
    ev = mixed_sale("s-3"); /* events live until fg_scn_fini */
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 1, "at the configured minimum it fires");
    fg_scn_fini(&s);

    const char *o3[] = {"detectors.rx_without_prescription.enabled=false"};
    start(&s, o3, 1);
    ev = mixed_sale("s-3");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_scn_fini(&s);
}
