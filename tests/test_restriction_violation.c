/*
 * test_restriction_violation.c - 限性别 / 限年龄 against a real redis-server and
 * the sample catalogue (reference/catalogue.json). Each case states a claim and
 * the exact alert ids it must produce (none for near misses); every case runs as
 * one batch and again claim by claim, which must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/symbols.h"
#include "detectors/detector.h"
#include "support/scenario.h"

#define M FG_GENDER_MALE
#define F FG_GENDER_FEMALE
#define U FG_GENDER_UNKNOWN

/* sample catalogue codes */
#define PSA "250403027"           /* M only */
#define TAMSULOSIN "XG04CAT015N001010104567" /* M only */
#define CAESAREAN "331303001"     /* F only, ages 14..55 */
#define ANTENATAL "311201001"     /* F only, ages 14..55 */
#define PAED_AMOX "XJ01CRA088P001010103377" /* ages <= 14 */
#define PAED_MASSAGE "340200023"  /* ages <= 14 */
#define LEVOFLOX "XJ01MAL069B002010101953" /* ages >= 18 */
#define DONEPEZIL "XN06DAD048A001010103451" /* ages >= 60 */
#define BLOOD "250101015"         /* no restriction */
#define VITC "XA11GAW059A001010100001"

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
    start_only(s, "restriction_violation", o, n);
    fg_scn_set_kb(s, g_kb);
}

static int32_t born(int y, int m, int d) {
    return y ? (int32_t)fg_days_from_civil(y, (unsigned)m, (unsigned)d) : FG_DATE_ABSENT;
}

typedef struct {
    char claim[8];
    fg_gender_t gender;
    int by, bm, bd; /* birth date, by == 0: unknown */
    double day;     /* days after 2026-01-01 */
    char codes[3][32];
    size_t n_codes;
} rv_claim_t;

typedef struct {
    char pattern[8];
    char wkey[48]; /* "<claim id>\x1f<item code>" */
} expect_t;

typedef struct {
    char name[100];
    rv_claim_t claims[3];
    size_t n_claims;
    expect_t expect[3];
    size_t n_expect;
} rv_case_t;

static rv_case_t g_cases[] = {
    {"gender: a PSA test billed for a woman fires", {{"c1", F, 1970, 5, 1, 0, {PSA, BLOOD}, 2}}, 1,
     {{"gender", "c1\x1f" PSA}}, 1},
    {"gender: a caesarean section billed for a man fires", {{"c1", M, 1990, 5, 1, 0, {CAESAREAN}, 1}}, 1,
     {{"gender", "c1\x1f" CAESAREAN}}, 1},
    {"gender: a male-only drug for a woman fires", {{"c1", F, 0, 0, 0, 0, {TAMSULOSIN}, 1}}, 1,
     {{"gender", "c1\x1f" TAMSULOSIN}}, 1},
    {"near miss: a PSA test for a man does not fire", {{"c1", M, 1960, 5, 1, 0, {PSA}, 1}}, 1, {{"", ""}}, 0},
    {"near miss: a PSA test for a patient of unknown gender does not fire", {{"c1", U, 1960, 5, 1, 0, {PSA}, 1}}, 1,
     {{"", ""}}, 0},
    {"age: a paediatric drug for a 15-year-old fires", {{"c1", M, 2010, 12, 31, 0, {PAED_AMOX}, 1}}, 1,
     {{"age", "c1\x1f" PAED_AMOX}}, 1},
    {"near miss: a paediatric drug the day before the 15th birthday does not fire (14 is inside)",
     {{"c1", M, 2011, 1, 2, 0, {PAED_AMOX}, 1}}, 1, {{"", ""}}, 0},
    {"age: a paediatric drug on the 15th birthday fires", {{"c1", M, 2011, 1, 1, 0, {PAED_AMOX}, 1}}, 1,
     {{"age", "c1\x1f" PAED_AMOX}}, 1},
    {"age: paediatric massage for an adult fires", {{"c1", F, 1996, 1, 1, 0, {PAED_MASSAGE}, 1}}, 1,
     {{"age", "c1\x1f" PAED_MASSAGE}}, 1},
    {"age: an adults-only drug for a 17-year-old fires", {{"c1", F, 2008, 1, 2, 0, {LEVOFLOX}, 1}}, 1,
     {{"age", "c1\x1f" LEVOFLOX}}, 1},
    {"near miss: an adults-only drug on the 18th birthday does not fire", {{"c1", F, 2008, 1, 1, 0, {LEVOFLOX}, 1}},
     1, {{"", ""}}, 0},
    {"near miss: a geriatric drug at exactly 60 does not fire", {{"c1", M, 1966, 1, 1, 0, {DONEPEZIL}, 1}}, 1,
     {{"", ""}}, 0},
    {"age: a geriatric drug at 59 fires", {{"c1", M, 1966, 1, 2, 0, {DONEPEZIL}, 1}}, 1,
     {{"age", "c1\x1f" DONEPEZIL}}, 1},
    {"near miss: a paediatric drug for a patient of unknown birth date does not fire",
     {{"c1", M, 0, 0, 0, 0, {PAED_AMOX}, 1}}, 1, {{"", ""}}, 0},
    {"both: antenatal care for a 60-year-old man fires gender and age",
     {{"c1", M, 1965, 6, 1, 0, {ANTENATAL, BLOOD}, 2}}, 1,
     {{"gender", "c1\x1f" ANTENATAL}, {"age", "c1\x1f" ANTENATAL}}, 2},
    {"near miss: unrestricted and unknown items do not fire", {{"c1", F, 2020, 1, 1, 0, {BLOOD, VITC, "NOPE-1"}, 3}},
     1, {{"", ""}}, 0},
    {"two claims, two alerts: the same item in different claims is two findings",
     {{"c1", F, 1980, 1, 1, 0, {PSA}, 1}, {"c2", F, 1980, 1, 1, 3, {PSA}, 1}}, 2,
     {{"gender", "c1\x1f" PSA}, {"gender", "c2\x1f" PSA}}, 2},
};

ParameterizedTestParameters(restriction_violation, scenarios) {
    return cr_make_param_array(rv_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static size_t build(const rv_case_t *c, const char *patient, fg_event_t *evs) {
    for (size_t i = 0; i < c->n_claims; i++) {
        const rv_claim_t *x = &c->claims[i];
        fg_titem_t items[3];
        for (size_t k = 0; k < x->n_codes; k++)
            items[k] = (fg_titem_t){x->codes[k], FG_ITEM_SERVICE, 1, 5000, FG_DAYS_ABSENT, NULL};
        evs[i] = fg_ev_claim(x->claim, patient, "H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, x->day, items,
                             (uint32_t)x->n_codes);
        evs[i].u.claim.gender = x->gender;
        evs[i].u.claim.birth_date_days = born(x->by, x->bm, x->bd);
    }
    return c->n_claims;
}

static void assert_ids(fg_scn_t *s, const rv_case_t *c, const char *patient, const char *mode) {
    cr_assert_eq(s->n_ids, c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name, c->n_expect,
                 s->n_ids);
    for (size_t i = 0; i < c->n_expect; i++) {
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, "restriction_violation", c->expect[i].pattern, "patient", patient, c->expect[i].wkey);
        cr_assert(fg_scn_alert(s, id), "[%s] %s: missing %s alert", mode, c->name, c->expect[i].pattern);
    }
}

ParameterizedTest(rv_case_t *c, restriction_violation, scenarios) {
    fg_event_t evs[3];
    fg_scn_t s;
    start(&s, NULL, 0);
    size_t n = build(c, "P-batch", evs);
    fg_scn_run(&s, evs, n);
    assert_ids(&s, c, "P-batch", "one batch");
    fg_scn_fini(&s);

    start(&s, NULL, 0);
    n = build(c, "P-each", evs);
    fg_scn_run_each(&s, evs, n);
    assert_ids(&s, c, "P-each", "claim by claim");
    fg_scn_fini(&s);
}

static fg_event_t psa_for_a_woman(const char *claim) {
    fg_titem_t items[] = {{PSA, FG_ITEM_EXAM, 1, 6000, FG_DAYS_ABSENT, NULL},
                          {BLOOD, FG_ITEM_EXAM, 1, 2500, FG_DAYS_ABSENT, NULL}};
    fg_event_t ev = fg_ev_claim(claim, "P-W", "H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 2.5, items, 2);
    ev.u.claim.gender = F;
    ev.u.claim.birth_date_days = born(1975, 3, 3);
    return ev;
}

Test(restriction_violation, gender_alert_carries_its_evidence) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_event_t ev = psa_for_a_woman("cl-9");
    fg_scn_run(&s, &ev, 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "restriction_violation", "gender", "patient", "P-W", "cl-9\x1f" PSA);
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert(a);
    cr_assert_str_eq(a->rule_id, "restriction_violation");
    cr_assert_str_eq(a->rule_name_zh, "限性别 / 限年龄");
    cr_assert_str_eq(a->subject_type, "patient");
    cr_assert_str_eq(a->subject_id, "P-W");
    cr_assert_str_eq(a->institution_id, "H3");
    cr_assert_str_eq(a->region, "140100");
    cr_assert_eq(a->severity, FG_SEV_HIGH);
    cr_assert_eq(a->event_time, FG_T0 + FG_MS_PER_DAY * 5 / 2);
    cr_assert_eq(a->n_event_ids, 1);
    cr_assert_str_eq(a->event_ids[0], "cl-9");
    /* total 8500, fund paid 70 % = 5950; the PSA's share: 6000 x 5950 / 8500 = 4200 */
    cr_assert_eq(a->amount_at_risk_fen, 4200);
    cr_assert_str_eq(a->figures[0].name, "patient_gender");
    cr_assert_float_eq(a->figures[0].value, (double)FG_GENDER_FEMALE, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, (double)FG_GENDER_MALE, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "item_amount_fen");
    cr_assert_float_eq(a->figures[1].value, 6000.0, 1e-9);
    cr_assert(strstr(a->summary, PSA) && strstr(a->summary, "female"), "%s", a->summary);
    fg_scn_fini(&s);
}

Test(restriction_violation, age_alert_carries_its_evidence) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t items[] = {{PAED_AMOX, FG_ITEM_DRUG, 2, 1500, 7, NULL}};
    fg_event_t ev = fg_ev_claim("cl-a", "P-A", "H4", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 0, items, 1);
    ev.u.claim.gender = M;
    ev.u.claim.birth_date_days = born(1990, 7, 1); /* 35 on 2026-01-01 */
    fg_scn_run(&s, &ev, 1);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "restriction_violation", "age", "patient", "P-A", "cl-a\x1f" PAED_AMOX);
    const fg_alert_t *a = fg_scn_alert(&s, id);
    cr_assert(a);
    cr_assert_eq(a->severity, FG_SEV_MEDIUM);
    cr_assert_str_eq(a->figures[0].name, "age_years");
    cr_assert_float_eq(a->figures[0].value, 35.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 14.0, 1e-9);
    cr_assert_str_eq(a->figures[0].op, ">");
    cr_assert_eq(a->amount_at_risk_fen, 2100); /* the whole claim: 3000 x 70 % */
    cr_assert(a->score > 0.5 && a->score <= 1.0);
    fg_scn_fini(&s);
}

Test(restriction_violation, two_lines_of_one_item_are_one_alert_with_their_sum) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t items[] = {{PSA, FG_ITEM_EXAM, 1, 6000, FG_DAYS_ABSENT, NULL},
                          {BLOOD, FG_ITEM_EXAM, 1, 2000, FG_DAYS_ABSENT, NULL},
                          {PSA, FG_ITEM_EXAM, 1, 2000, FG_DAYS_ABSENT, NULL}};
    fg_event_t ev = fg_ev_claim("cl-2", "P-2", "H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 0, items, 3);
    ev.u.claim.gender = F;
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
    cr_assert_float_eq(a->figures[1].value, 8000.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 5600); /* 8000 of 10000, fund 7000 */
    fg_scn_fini(&s);
}

Test(restriction_violation, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_event_t ev = psa_for_a_woman("cl-r");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 1);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.last_run_count, 0, "the same claim again is the same finding with the same content");
    cr_assert_eq(s.n_ids, 1);
    fg_scn_fini(&s);
}

static fg_event_t antenatal_for_an_old_man(void) {
    fg_titem_t items[] = {{ANTENATAL, FG_ITEM_SERVICE, 1, 3000, FG_DAYS_ABSENT, NULL}};
    fg_event_t ev = fg_ev_claim("cl-g", "P-G", "H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 0, items, 1);
    ev.u.claim.gender = M;
    ev.u.claim.birth_date_days = born(1960, 1, 1);
    return ev;
}

Test(restriction_violation, checks_are_switched_by_config) {
    const char *o[] = {"detectors.restriction_violation.check_gender=false"};
    fg_scn_t s;
    start(&s, o, 1);
    fg_event_t ev = antenatal_for_an_old_man();
    fg_scn_run(&s, &ev, 1);
    char id[FG_ALERT_ID_LEN + 1];
    cr_assert_eq(s.n_ids, 1, "only the age finding remains");
    fg_alert_make_id(id, "restriction_violation", "age", "patient", "P-G", "cl-g\x1f" ANTENATAL);
    cr_assert(fg_scn_alert(&s, id));
    fg_scn_fini(&s);

    const char *o2[] = {"detectors.restriction_violation.check_age=false"};
    start(&s, o2, 1);
    ev = antenatal_for_an_old_man(); /* events live until fg_scn_fini */
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 1, "only the gender finding remains");
    fg_alert_make_id(id, "restriction_violation", "gender", "patient", "P-G", "cl-g\x1f" ANTENATAL);
    cr_assert(fg_scn_alert(&s, id));
    fg_scn_fini(&s);

    const char *o3[] = {"detectors.restriction_violation.enabled=false"};
    start(&s, o3, 1);
    ev = antenatal_for_an_old_man();
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_scn_fini(&s);
}

Test(restriction_violation, an_empty_catalogue_never_fires) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_scn_set_kb(&s, NULL);
    fg_event_t ev = psa_for_a_woman("cl-e");
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_scn_fini(&s);
}
