/*
 * test_blacklist_hit.c - 黑名单 against a real redis-server and the sample
 * blacklists (reference/blacklists.json). Each case states events of the three
 * streams and the exact alert ids they must produce, with how many events each
 * alert lists (none for near misses); every case runs as one batch and again
 * event by event, which must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/detector.h"
#include "support/scenario.h"

/* Scenario times are days since 2026-01-01 00:00 China Standard Time (UTC+8), the day
 * the rule buckets by; the builders take days since FG_T0 (00:00 UTC). */
#define CST(d) ((d)-1.0 / 3.0)

/* sample blacklist ids */
#define BL_HOSP "H14010500871"
#define BL_PHARM "P14010600045"
#define BL_DOC "D140105002417"
#define BL_PERSON "140100000012345678"
#define BL_CARD "C-Q7" /* added by the test: scenario claims carry card "C-<patient>" */

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
    char dir[1024], cat[1200], bl[1200], err[512];
    const char *env = getenv("FG_SOURCE_DIR");
    snprintf(dir, sizeof(dir), "%s", env && *env ? env : __FILE__);
    char *t = env && *env ? NULL : strstr(dir, "/tests/");
    if (t) *t = '\0';
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", dir);
    snprintf(bl, sizeof(bl), "%s/reference/blacklists.json", dir);
    g_kb = fg_kb_load(cat, bl, err, sizeof(err));
    cr_assert(g_kb, "%s", err);
    cr_assert_eq(fg_kb_list_add(g_kb, FG_KB_PERSON, BL_CARD), 0);
}

static void start(fg_scn_t *s, const char **o, int n) {
    if (!g_kb) load_kb();
    start_only(s, "blacklist_hit", o, n);
    fg_scn_set_kb(s, g_kb);
}

typedef struct {
    char stream;  /* 'c' claim, 'i' inpatient (admission), 'v' invoicing (purchase) */
    char eid[8];
    char inst[16], patient[24], doctor[16];
    double day;
} step_t;

typedef struct {
    char pattern[12], stype[12], subject[24];
    char wkey[12];
    uint32_t n_events;
} expect_t;

typedef struct {
    char name[100];
    step_t steps[6];
    size_t n_steps;
    expect_t expect[3];
    size_t n_expect;
} bl_case_t;

static bl_case_t g_cases[] = {
    {"institution: a claim at a blacklisted hospital fires", {{'c', "e1", BL_HOSP, "Q1", "", 0.5}}, 1,
     {{"institution", "institution", BL_HOSP, "2026-01-01", 1}}, 1},
    {"institution: claim, admission and purchase of one day are one alert with three events",
     {{'c', "e1", BL_PHARM, "Q1", "", 0.2}, {'i', "e2", BL_PHARM, "Q2", "", 0.4}, {'v', "e3", BL_PHARM, "", "", 0.9}},
     3, {{"institution", "institution", BL_PHARM, "2026-01-01", 3}}, 1},
    {"institution: events on two days are two alerts",
     {{'c', "e1", BL_HOSP, "Q1", "", 0.5}, {'c', "e2", BL_HOSP, "Q2", "", 1.5}, {'c', "e3", BL_HOSP, "Q3", "", 1.6}},
     3,
     {{"institution", "institution", BL_HOSP, "2026-01-01", 1},
      {"institution", "institution", BL_HOSP, "2026-01-02", 2}},
     2},
    {"doctor: a claim by a blacklisted doctor at an ordinary hospital fires", {{'c', "e1", "H9", "Q1", BL_DOC, 3.1}}, 1,
     {{"doctor", "doctor", BL_DOC, "2026-01-04", 1}}, 1},
    {"doctor: an admission by a blacklisted doctor fires", {{'i', "e1", "H9", "Q1", BL_DOC, 0.1}}, 1,
     {{"doctor", "doctor", BL_DOC, "2026-01-01", 1}}, 1},
    {"person: claims and an admission of a blacklisted person on one day are one alert",
     {{'c', "e1", "H9", BL_PERSON, "", 0.1},
      {'i', "e2", "H8", BL_PERSON, "", 0.3},
      {'c', "e3", "P5", BL_PERSON, "", 0.99}},
     3, {{"person", "patient", BL_PERSON, "2026-01-01", 3}}, 1},
    {"person: a claim on a blacklisted card fires for the card", {{'c', "e1", "H9", "Q7", "", 0.1}}, 1,
     {{"person", "card", BL_CARD, "2026-01-01", 1}}, 1},
    {"three lists at once: blacklisted doctor treats a blacklisted person at a blacklisted hospital",
     {{'c', "e1", BL_HOSP, BL_PERSON, BL_DOC, 0.5}}, 1,
     {{"institution", "institution", BL_HOSP, "2026-01-01", 1},
      {"doctor", "doctor", BL_DOC, "2026-01-01", 1},
      {"person", "patient", BL_PERSON, "2026-01-01", 1}},
     3},
    {"near miss: nobody involved is listed", {{'c', "e1", "H14010500872", "Q1", "D140105002418", 0.5},
                                              {'i', "e2", "H9", "140100000012345679", "", 0.5},
                                              {'v', "e3", "P14010600046", "", "", 0.5}},
     3, {{"", "", "", "", 0}}, 0},
    {"near miss: a listed doctor's id as a patient or institution is not a hit",
     {{'c', "e1", BL_DOC, BL_DOC, "", 0.5}}, 1, {{"", "", "", "", 0}}, 0},
};

ParameterizedTestParameters(blacklist_hit, scenarios) {
    return cr_make_param_array(bl_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static fg_event_t make(const step_t *x) {
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t ev;
    if (x->stream == 'c') {
        ev = fg_ev_claim(x->eid, x->patient, x->inst, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(x->day), &item, 1);
        if (x->doctor[0]) ev.u.claim.doctor_id = x->doctor;
    } else if (x->stream == 'i') {
        ev = fg_ev_inpatient(x->eid, FG_IP_ADMIT, x->patient, x->inst, "ADM1", CST(x->day));
        if (x->doctor[0]) ev.u.inpatient.doctor_id = x->doctor;
    } else {
        ev = fg_ev_invoicing(x->eid, x->inst, FG_INV_PURCHASE, CST(x->day), &item, 1);
    }
    return ev;
}

static void assert_ids(fg_scn_t *s, const bl_case_t *c, const char *mode) {
    cr_assert_eq(s->n_ids, c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name, c->n_expect,
                 s->n_ids);
    for (size_t i = 0; i < c->n_expect; i++) {
        const expect_t *e = &c->expect[i];
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, "blacklist_hit", e->pattern, e->stype, e->subject, e->wkey);
        const fg_alert_t *a = fg_scn_alert(s, id);
        cr_assert(a, "[%s] %s: missing %s alert on %s %s", mode, c->name, e->pattern, e->subject, e->wkey);
        cr_assert_eq(a->n_event_ids, e->n_events, "[%s] %s: %s alert lists %u events, expected %u", mode, c->name,
                     e->pattern, a->n_event_ids, e->n_events);
        cr_assert_eq(a->severity, FG_SEV_HIGH);
    }
}

/* the patient ids are fixed by the lists, so each run gets its own key prefix (fg_scn_init) instead */
ParameterizedTest(bl_case_t *c, blacklist_hit, scenarios) {
    fg_event_t evs[6];
    for (size_t i = 0; i < c->n_steps; i++) evs[i] = make(&c->steps[i]);
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_scn_run(&s, evs, c->n_steps);
    assert_ids(&s, c, "one batch");
    fg_scn_fini(&s);

    for (size_t i = 0; i < c->n_steps; i++) evs[i] = make(&c->steps[i]);
    start(&s, NULL, 0);
    fg_scn_run_each(&s, evs, c->n_steps);
    assert_ids(&s, c, "event by event");
    fg_scn_fini(&s);

    /* reverse arrival order gives the same alerts */
    for (size_t i = 0; i < c->n_steps; i++) evs[c->n_steps - 1 - i] = make(&c->steps[i]);
    start(&s, NULL, 0);
    fg_scn_run_each(&s, evs, c->n_steps);
    assert_ids(&s, c, "reversed");
    fg_scn_fini(&s);
}

static const fg_alert_t *find(fg_scn_t *s, const char *pattern, const char *stype, const char *subject,
                              const char *day) {
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "blacklist_hit", pattern, stype, subject, day);
    return fg_scn_alert(s, id);
}

Test(blacklist_hit, alert_carries_its_evidence_and_money) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL}; /* 1000 fen, fund 700 */
    fg_titem_t big = {"210400001", FG_ITEM_EXAM, 1, 50000, FG_DAYS_ABSENT, NULL};   /* 50000 fen, fund 35000 */
    fg_event_t evs[] = {fg_ev_claim("k2", "Q1", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.75), &big, 1),
                        fg_ev_claim("k1", "Q2", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.25), &item, 1),
                        fg_ev_invoicing("k3", BL_HOSP, FG_INV_PURCHASE, CST(0.5), &item, 1)};
    fg_scn_run(&s, evs, 3);
    const fg_alert_t *a = find(&s, "institution", "institution", BL_HOSP, "2026-01-01");
    cr_assert(a);
    cr_assert_str_eq(a->rule_id, "blacklist_hit");
    cr_assert_str_eq(a->rule_name_zh, "黑名单");
    cr_assert_str_eq(a->pattern, "institution");
    cr_assert_str_eq(a->subject_id, BL_HOSP);
    cr_assert_str_eq(a->institution_id, BL_HOSP);
    cr_assert_str_eq(a->region, "140100");
    cr_assert_eq(a->window_start, FG_T0 - 8 * FG_MS_PER_HOUR, "the China day 2026-01-01 starts at 16:00 UTC the day before");
    cr_assert_eq(a->window_end, FG_T0 + 16 * FG_MS_PER_HOUR);
    cr_assert_eq(a->event_time, FG_T0 - 8 * FG_MS_PER_HOUR + FG_MS_PER_DAY * 3 / 4,
                 "the latest contributing event, not the last arrived");
    cr_assert_eq(a->amount_at_risk_fen, 35700, "claims' fund paid; invoicing adds nothing");
    cr_assert_eq(a->n_event_ids, 3);
    cr_assert_str_eq(a->event_ids[0], "k1", "events in event-time order");
    cr_assert_str_eq(a->event_ids[1], "k3");
    cr_assert_str_eq(a->event_ids[2], "k2");
    cr_assert_str_eq(a->figures[0].name, "events");
    cr_assert_float_eq(a->figures[0].value, 3.0, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "fund_paid_fen");
    cr_assert_float_eq(a->figures[1].value, 35700.0, 1e-9);
    cr_assert_eq(a->late_events, 0);
    fg_scn_fini(&s);
}

Test(blacklist_hit, a_later_batch_adds_evidence_to_the_same_alert) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t e1 = fg_ev_claim("m1", BL_PERSON, "H9", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1);
    fg_event_t e2 = fg_ev_claim("m2", BL_PERSON, "P5", FG_INST_PHARMACY, FG_VISIT_PHARMACY, CST(0.6), &item, 1);
    fg_scn_run(&s, &e1, 1);
    fg_scn_run(&s, &e2, 1);
    cr_assert_eq(s.n_ids, 1);
    cr_assert_eq(s.published[0], 2, "re-published once with more evidence");
    const fg_alert_t *a = find(&s, "person", "patient", BL_PERSON, "2026-01-01");
    cr_assert(a);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_eq(a->amount_at_risk_fen, 1400);
    cr_assert_str_eq(a->institution_id, "P5", "the institution of the latest event");
    fg_scn_fini(&s);
}

Test(blacklist_hit, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t evs[] = {fg_ev_claim("r1", "Q1", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1),
                        fg_ev_claim("r2", "Q2", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.2), &item, 1)};
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(s.last_run_count, 1);
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(s.last_run_count, 0, "the same events again change nothing");
    fg_scn_run(&s, &evs[0], 1);
    cr_assert_eq(s.last_run_count, 0, "one of them again changes nothing either");
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_eq(a->amount_at_risk_fen, 1400, "not counted twice");
    fg_scn_fini(&s);
}

Test(blacklist_hit, late_events_are_counted_and_kept) {
    const char *o[] = {"events.allowed_lateness_days=0"};
    fg_scn_t s;
    start(&s, o, 1);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t e1 = fg_ev_claim("l1", "Q1", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(1.5), &item, 1);
    fg_event_t e2 = fg_ev_claim("l2", "Q2", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.5), &item, 1);
    fg_scn_run(&s, &e1, 1);
    fg_scn_run(&s, &e2, 1);
    const fg_alert_t *a = find(&s, "institution", "institution", BL_HOSP, "2026-01-01");
    cr_assert(a, "a late event still fires");
    cr_assert_eq(a->late_events, 1);
    fg_scn_run(&s, &e2, 1);
    cr_assert_eq(s.last_run_count, 0, "its re-delivery keeps the late flag it first got");
    fg_scn_fini(&s);
}

Test(blacklist_hit, a_busy_day_keeps_the_earliest_events_whatever_the_order) {
    static fg_event_t evs[300];
    static char ids[300][16];
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    int64_t amount[2];
    for (int order = 0; order < 2; order++) {
        fg_scn_t s;
        start(&s, NULL, 0);
        for (int i = 0; i < 300; i++) {
            int k = order ? 299 - i : i;
            snprintf(ids[i], sizeof(ids[i]), "b%03d", k);
            evs[i] = fg_ev_claim(ids[i], "Q1", BL_PHARM, FG_INST_PHARMACY, FG_VISIT_PHARMACY, CST(k / 400.0), &item, 1);
        }
        fg_scn_run(&s, evs, 150);
        fg_scn_run(&s, evs + 150, 150);
        cr_assert_eq(s.n_ids, 1);
        const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
        cr_assert_float_eq(a->figures[0].value, 256.0, 1e-9, "events per subject and day are capped");
        cr_assert_eq(a->n_event_ids, FG_ALERT_MAX_EVENTS);
        cr_assert_str_eq(a->event_ids[0], "b000");
        cr_assert_str_eq(a->event_ids[FG_ALERT_MAX_EVENTS - 1], "b063");
        cr_assert(strstr(a->summary, "first ones kept"), "%s", a->summary);
        amount[order] = a->amount_at_risk_fen;
        fg_scn_fini(&s);
    }
    cr_assert_eq(amount[0], 256 * 700);
    cr_assert_eq(amount[1], amount[0], "the same kept set in either order");
}

Test(blacklist_hit, lists_are_switched_by_config) {
    const char *o[] = {"detectors.blacklist_hit.check_doctors=false", "detectors.blacklist_hit.check_persons=false"};
    fg_scn_t s;
    start(&s, o, 2);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t ev = fg_ev_claim("s1", BL_PERSON, BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1);
    ev.u.claim.doctor_id = BL_DOC;
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 1, "only the institution list is checked");
    cr_assert(find(&s, "institution", "institution", BL_HOSP, "2026-01-01"));
    fg_scn_fini(&s);

    const char *o2[] = {"detectors.blacklist_hit.check_institutions=false"};
    start(&s, o2, 1);
    /* events live until fg_scn_fini: build it again */
    ev = fg_ev_claim("s1", BL_PERSON, BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1);
    ev.u.claim.doctor_id = BL_DOC;
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 2);
    cr_assert(find(&s, "doctor", "doctor", BL_DOC, "2026-01-01"));
    cr_assert(find(&s, "person", "patient", BL_PERSON, "2026-01-01"));
    fg_scn_fini(&s);
}

Test(blacklist_hit, a_list_change_between_batches_takes_effect) {
    fg_scn_t s;
    start(&s, NULL, 0);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t e1 = fg_ev_claim("n1", "Q1", "H-NEW", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1);
    fg_event_t e2 = fg_ev_claim("n2", "Q2", "H-NEW", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.2), &item, 1);
    fg_scn_run(&s, &e1, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_kb_t *kb2 = fg_kb_clone(g_kb); /* what a control-topic message does */
    cr_assert_eq(fg_kb_list_add(kb2, FG_KB_INSTITUTION, "H-NEW"), 0);
    fg_scn_set_kb(&s, kb2);
    fg_scn_run(&s, &e2, 1);
    cr_assert_eq(s.n_ids, 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
    cr_assert_eq(a->n_event_ids, 1, "events before the listing are not evidence");
    cr_assert_eq(fg_kb_list_remove(kb2, FG_KB_INSTITUTION, "H-NEW"), 0);
    fg_event_t e3 = fg_ev_claim("n3", "Q3", "H-NEW", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.3), &item, 1);
    fg_scn_run(&s, &e3, 1);
    cr_assert_eq(s.last_run_count, 0, "delisted: no longer a hit");
    fg_scn_fini(&s);
    fg_kb_destroy(kb2);
}

Test(blacklist_hit, switched_off_rule_never_fires) {
    const char *o[] = {"detectors.blacklist_hit.enabled=false"};
    fg_scn_t s;
    start(&s, o, 1);
    fg_titem_t item = {"XC10AAA087A001010101445", FG_ITEM_DRUG, 10, 100, 10, NULL};
    fg_event_t ev = fg_ev_claim("z1", "Q1", BL_HOSP, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, CST(0.1), &item, 1);
    fg_scn_run(&s, &ev, 1);
    cr_assert_eq(s.n_ids, 0);
    fg_scn_fini(&s);
}
