/*
 * test_claims_during_stay.c - 住院期间门诊/购药 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for near-misses);
 * every case runs as one batch, event by event, and both again with the other stream's events first
 * (claims and inpatient topics are not ordered against each other): all four must agree.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "support/scenario.h"

#define RULE "claims_during_stay"
#define SUBJECT_TYPE "patient"
#define ADMIT FG_IP_ADMIT
#define DISCH FG_IP_DISCHARGE
#define OUTP FG_VISIT_OUTPATIENT
#define PHAR FG_VISIT_PHARMACY
#define INPT FG_VISIT_INPATIENT
#define DRUG FG_ITEM_DRUG
#define H (1.0 / 24.0)
#define S "\x1f"

#include "support/xstream.h"

static case_t g_cases[] = {
    {"pharmacy claim during an open stay elsewhere fires once a later presence check confirms the stay",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 2, "D1", DRUG, 2, 1000),
      CHK("k1", "P1", "H1", "A1", 3, 1)},
     3, {{"claim_in_stay", "P1", "H1" S "A1>c1", 1400}}, 1},
    {"not yet: an open stay with no inpatient news after the claim does not fire (discharge may be in flight)",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 2, "D1", DRUG, 2, 1000),
      CHK("k1", "P1", "H1", "A1", 2 - H, 1)},
     3, NONE},
    {"outpatient claim between admit and discharge at another hospital fires",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), IP("d1", DISCH, "P1", "H1", "A1", 5),
      CL("c1", OUTP, "P1", "H2", "", 3, "S1", FG_ITEM_SERVICE, 1, 5000)},
     3, {{"claim_in_stay", "P1", "H1" S "A1>c1", 3500}}, 1},
    {"emergency claim one hour before discharge fires",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), IP("d1", DISCH, "P1", "H1", "A1", 5),
      CL("c1", FG_VISIT_EMERGENCY, "P1", "H2", "", 5 - H, "S1", FG_ITEM_SERVICE, 1, 100)},
     3, {{"claim_in_stay", "P1", "H1" S "A1>c1", 70}}, 1},
    {"near miss: claim one hour after discharge does not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), IP("d1", DISCH, "P1", "H1", "A1", 5),
      CL("c1", PHAR, "P1", "R1", "", 5 + H, "D1", DRUG, 2, 1000)},
     3, NONE},
    {"near miss: claim one hour before admission does not fire",
     {CL("c1", PHAR, "P1", "R1", "", 1 - H, "D1", DRUG, 2, 1000), IP("a1", ADMIT, "P1", "H1", "A1", 1)}, 2, NONE},
    {"near miss: outpatient claim at the same hospital does not fire (same_institution off)",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", OUTP, "P1", "H1", "", 2, "S1", FG_ITEM_SERVICE, 1, 5000),
      IP("d1", DISCH, "P1", "H1", "A1", 4)},
     3,
     NONE},
    {"near miss: an inpatient claim of another stay is not an outpatient claim",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", INPT, "P1", "H2", "B1", 2, "S1", FG_ITEM_SERVICE, 1, 5000),
      IP("d1", DISCH, "P1", "H1", "A1", 4)},
     3,
     NONE},
    {"near miss: another patient's claim does not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P2", "R1", "", 2, "D1", DRUG, 2, 1000),
      IP("d1", DISCH, "P1", "H1", "A1", 4)},
     3, NONE},
    {"two claims during one stay fire two alerts keyed by claim",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 1, "D1", DRUG, 1, 1000),
      CL("c2", PHAR, "P1", "R2", "", 2, "D1", DRUG, 1, 2000), IP("d1", DISCH, "P1", "H1", "A1", 4)},
     4, {{"claim_in_stay", "P1", "H1" S "A1>c1", 700}, {"claim_in_stay", "P1", "H1" S "A1>c2", 1400}}, 2},
};

ParameterizedTestParameters(claims_during_stay, scenarios) {
    return cr_make_param_array(case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

ParameterizedTest(case_t *c, claims_during_stay, scenarios) { run_case(c, NULL, 0); }

Test(claims_during_stay, alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it[] = {{"D1", FG_ITEM_DRUG, 3, 1000, FG_DAYS_ABSENT, NULL}};
    fg_event_t evs[] = {fg_ev_inpatient("adm-1", ADMIT, "P9", "H7", "S1", 0),
                        fg_ev_claim("clm-1", "P9", "R3", FG_INST_PHARMACY, PHAR, 2.5, it, 1),
                        fg_ev_inpatient("dis-1", DISCH, "P9", "H7", "S1", 10)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "claim_in_stay", "patient", "P9", "H7" S "S1>clm-1");
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "住院期间门诊/购药");
    cr_assert_str_eq(a->subject_id, "P9");
    cr_assert_str_eq(a->institution_id, "R3");
    cr_assert_eq(a->severity, FG_SEV_HIGH);
    cr_assert_eq(a->amount_at_risk_fen, 2100);
    cr_assert_eq(a->window_start, FG_T0);
    cr_assert_eq(a->window_end, FG_T0 + 10 * FG_MS_PER_DAY);
    cr_assert_eq(a->event_time, FG_T0 + (int64_t)(2.5 * FG_MS_PER_DAY));
    cr_assert_eq(a->n_event_ids, 3);
    cr_assert_str_eq(a->event_ids[0], "adm-1");
    cr_assert_str_eq(a->event_ids[1], "clm-1");
    cr_assert_str_eq(a->event_ids[2], "dis-1");
    cr_assert_str_eq(a->figures[0].name, "hours_after_admission");
    cr_assert_float_eq(a->figures[0].value, 60.0, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "hours_before_discharge");
    cr_assert_float_eq(a->figures[1].value, 180.0, 1e-9);
    fg_scn_fini(&s);
}

Test(claims_during_stay, discharge_arriving_later_updates_the_same_alert) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it[] = {{"D1", FG_ITEM_DRUG, 1, 1000, FG_DAYS_ABSENT, NULL}};
    fg_event_t evs[] = {fg_ev_inpatient("a", ADMIT, "P8", "H1", "A1", 0),
                        fg_ev_claim("c", "P8", "R1", FG_INST_PHARMACY, PHAR, 1, it, 1),
                        fg_ev_inpatient("k", FG_IP_PRESENCE_CHECK, "P8", "H1", "A1", 2),
                        fg_ev_inpatient("d", DISCH, "P8", "H1", "A1", 3)};
    evs[2].u.inpatient.present = 1;
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(rule_alerts(&s), 0, "the stay is not confirmed open at the claim's time yet");
    fg_scn_run(&s, &evs[2], 1);
    cr_assert_eq(rule_alerts(&s), 1, "the presence check a day later confirms it");
    cr_assert_eq(expect_alert(&s, "claim_in_stay", "patient", "P8", "H1" S "A1>c")->n_event_ids, 2);
    fg_scn_run(&s, &evs[3], 1);
    cr_assert_eq(rule_alerts(&s), 1, "the discharge adds evidence to the same alert id");
    const fg_alert_t *a = expect_alert(&s, "claim_in_stay", "patient", "P8", "H1" S "A1>c");
    cr_assert_eq(a->n_event_ids, 3);
    fg_scn_fini(&s);
}

Test(claims_during_stay, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it[] = {{"D1", FG_ITEM_DRUG, 1, 1000, FG_DAYS_ABSENT, NULL}};
    fg_event_t evs[] = {fg_ev_inpatient("a", ADMIT, "P5", "H1", "A1", 0),
                        fg_ev_claim("c", "P5", "R1", FG_INST_PHARMACY, PHAR, 1, it, 1),
                        fg_ev_inpatient("d", DISCH, "P5", "H1", "A1", 2)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(rule_publications(&s), 1);
    fg_scn_run(&s, evs, 3);
    fg_scn_run_each(&s, evs, 3);
    cr_assert_eq(rule_publications(&s), 1, "the same finding is not published again");
    fg_scn_fini(&s);
}

Test(claims_during_stay, same_institution_comes_from_config) {
    case_t c = {"same hospital counts when configured",
                {IP("a1", ADMIT, "P1", "H1", "A1", 0),
                 CL("c1", OUTP, "P1", "H1", "", 2, "S1", FG_ITEM_SERVICE, 1, 5000),
                 IP("d1", DISCH, "P1", "H1", "A1", 3)},
                3,
                {{"claim_in_stay", "P1", "H1" S "A1>c1", 3500}},
                1};
    const char *o[] = {"detectors.claims_during_stay.same_institution=true"};
    run_case(&c, o, 1);
}

Test(claims_during_stay, confirm_open_stay_off_fires_at_once) {
    case_t c = {"open stay, no later inpatient news, confirm_open_stay=false: fires",
                {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 2, "D1", DRUG, 2, 1000)},
                2,
                {{"claim_in_stay", "P1", "H1" S "A1>c1", 1400}},
                1};
    const char *o[] = {"detectors.claims_during_stay.confirm_open_stay=false"};
    run_case(&c, o, 1);
}

Test(claims_during_stay, max_stay_days_bounds_an_open_stay) {
    case_t c = {"an admission with no discharge covers max_stay_days only",
                {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 6, "D1", DRUG, 1, 100),
                 CHK("k1", "P1", "H1", "A1", 7, 1)},
                3, NONE};
    const char *o[] = {"detectors.claims_during_stay.max_stay_days=5"};
    run_case(&c, o, 1);
}

Test(claims_during_stay, switched_off_rule_never_fires) {
    case_t c = {"off",
                {IP("a1", ADMIT, "P1", "H1", "A1", 0), CL("c1", PHAR, "P1", "R1", "", 2, "D1", DRUG, 2, 1000),
                 IP("d1", DISCH, "P1", "H1", "A1", 3)},
                3, NONE};
    const char *o[] = {"detectors.claims_during_stay.enabled=false"};
    run_case(&c, o, 1);
}

/*
 * A full re-read (a new consumer group re-processing everything into the same Redis) must publish
 * nothing new: lateness is judged at first sight and stored, so the old events, now far behind the
 * watermark, do not change late_events. A 12-day stay (more than the 7 days of allowed lateness) with
 * a pharmacy claim on day 2, in order; the inpatient stream first (the claim is late); and the
 * later events first (discharge, claim, admit: claim and admit are late).
 */
static void reread_case(int order, int each) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t it[] = {{"D1", FG_ITEM_DRUG, 2, 1000, FG_DAYS_ABSENT, NULL}};
    fg_event_t a = fg_ev_inpatient("ra", ADMIT, "P6", "H1", "A1", 0);
    fg_event_t c = fg_ev_claim("rc", "P6", "R1", FG_INST_PHARMACY, PHAR, 2, it, 1);
    fg_event_t d = fg_ev_inpatient("rd", DISCH, "P6", "H1", "A1", 12);
    static const int expect_late[3] = {0, 1, 2};
    fg_event_t orders[3][3] = {{a, c, d}, {a, d, c}, {d, c, a}};
    fg_event_t *evs = orders[order];
    if (each)
        fg_scn_run_each(&s, evs, 3);
    else
        fg_scn_run(&s, evs, 3);
    int pubs = rule_publications(&s);
    cr_assert_eq(rule_alerts(&s), 1, "order %d: %zu alert(s)", order, rule_alerts(&s));
    const fg_alert_t *x = expect_alert(&s, "claim_in_stay", "patient", "P6", "H1" S "A1>rc");
    cr_assert(x);
    cr_assert_eq(x->n_event_ids, 3);
    cr_assert_eq(x->late_events, expect_late[order], "order %d: late_events %d", order, x->late_events);
    fg_scn_run(&s, evs, 3); /* the re-read, as one batch */
    cr_assert_eq(s.last_run_count, 0, "order %d: the re-read published %zu alert(s)", order, s.last_run_count);
    fg_event_t fwd[] = {a, c, d};
    fg_scn_run_each(&s, fwd, 3); /* and again event by event, in event-time order */
    cr_assert_eq(rule_publications(&s), pubs, "order %d: a re-read published %d time(s) more", order,
                 rule_publications(&s) - pubs);
    cr_assert_eq(expect_alert(&s, "claim_in_stay", "patient", "P6", "H1" S "A1>rc")->late_events, expect_late[order]);
    fg_scn_fini(&s);
}

Test(claims_during_stay, reread_publishes_nothing_new) {
    for (int order = 0; order < 3; order++) {
        reread_case(order, 0);
        reread_case(order, 1);
    }
}
