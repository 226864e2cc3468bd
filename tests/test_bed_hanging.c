/*
 * test_bed_hanging.c - 挂床住院 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for near-misses);
 * every case runs as one batch, event by event, and both again with the other stream's events first
 * (inpatient and claims topics are not ordered against each other): all four must agree.
 * Event days: FG_T0 + day; billing days are Beijing days, so day 1.5 (12:00 UTC) is 2026-01-02.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "support/scenario.h"

#define RULE "bed_hanging"
#define SUBJECT_TYPE "patient"
#define ADMIT FG_IP_ADMIT
#define DISCH FG_IP_DISCHARGE
#define INPT FG_VISIT_INPATIENT
#define BED FG_ITEM_BED
#define DRUG FG_ITEM_DRUG
#define H (1.0 / 24.0)
#define S "\x1f"

#include "support/xstream.h"

static case_t g_cases[] = {
    {"absent_checks: absent at 2 checks 20 hours apart during the stay fires",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CHK("k1", "P1", "H1", "A1", 1, 0),
      CHK("k2", "P1", "H1", "A1", 1 + 20 * H, 0)},
     3, {{"absent_checks", "P1", "H1" S "A1>k1", 0}}, 1},
    {"absent_checks: exactly 48 hours apart fires (inclusive)",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CHK("k1", "P1", "H1", "A1", 1, 0), CHK("k2", "P1", "H1", "A1", 3, 0)}, 3,
     {{"absent_checks", "P1", "H1" S "A1>k1", 0}}, 1},
    {"near miss: absent at only one check (the other present) does not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CHK("k1", "P1", "H1", "A1", 1, 0), CHK("k2", "P1", "H1", "A1", 1.5, 1)}, 3,
     NONE},
    {"near miss: absent checks 49 hours apart do not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CHK("k1", "P1", "H1", "A1", 1, 0),
      CHK("k2", "P1", "H1", "A1", 1 + 49 * H, 0)},
     3, NONE},
    {"near miss: absent checks after the discharge do not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), IP("d1", DISCH, "P1", "H1", "A1", 1), CHK("k1", "P1", "H1", "A1", 1.2, 0),
      CHK("k2", "P1", "H1", "A1", 1.4, 0)},
     4, NONE},
    {"absent_checks: amount is the fund share of the bed billed on the absent days",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0), CHK("k1", "P1", "H1", "A1", 1.5, 0), CHK("k2", "P1", "H1", "A1", 2.0, 0),
      CL2("b1", INPT, "P1", "H1", "A1", 1.6, "BED1", BED, 1, 5000, "D1", DRUG, 1, 5000)},
     4, {{"absent_checks", "P1", "H1" S "A1>k1", 3500}}, 1},
    {"bed_only_days: 3 consecutive days billed a bed and nothing else fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0.5), CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000),
      CL("b3", INPT, "P1", "H1", "A1", 3.5, "BED1", BED, 1, 5000)},
     4, {{"bed_only_days", "P1", "H1" S "A1>2026-01-02", 10500}}, 1},
    {"bed_only_days: the claims alone fire, without admit events",
     {CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000),
      CL("b3", INPT, "P1", "H1", "A1", 3.5, "BED1", BED, 1, 5000),
      CL("b4", INPT, "P1", "H1", "A1", 4.5, "BED1", BED, 1, 1000)},
     4, {{"bed_only_days", "P1", "H1" S "A1>2026-01-02", 11200}}, 1},
    {"near miss: 2 bed-only days do not fire",
     {IP("a1", ADMIT, "P1", "H1", "A1", 0.5), CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000)},
     3, NONE},
    {"near miss: a day with a drug item breaks the run",
     {CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL2("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000, "D1", DRUG, 1, 300),
      CL("b3", INPT, "P1", "H1", "A1", 3.5, "BED1", BED, 1, 5000),
      CL("b4", INPT, "P1", "H1", "A1", 4.5, "BED1", BED, 1, 5000)},
     4, NONE},
    {"near miss: a drug on a separate claim the same day also breaks the run",
     {CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000),
      CL("x2", INPT, "P1", "H1", "A1", 2.6, "D1", DRUG, 1, 300),
      CL("b3", INPT, "P1", "H1", "A1", 3.5, "BED1", BED, 1, 5000)},
     4, NONE},
    {"near miss: bed days of two different stays do not join",
     {CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
      CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000),
      CL("b3", INPT, "P1", "H2", "A9", 3.5, "BED1", BED, 1, 5000)},
     3, NONE},
};

ParameterizedTestParameters(bed_hanging, scenarios) {
    return cr_make_param_array(case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

ParameterizedTest(case_t *c, bed_hanging, scenarios) { run_case(c, NULL, 0); }

Test(bed_hanging, absent_alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[] = {fg_ev_inpatient("adm", ADMIT, "P9", "H7", "S1", 0),
                        fg_ev_inpatient("chk-1", FG_IP_PRESENCE_CHECK, "P9", "H7", "S1", 1),
                        fg_ev_inpatient("chk-2", FG_IP_PRESENCE_CHECK, "P9", "H7", "S1", 1.5)};
    evs[1].u.inpatient.present = 0;
    evs[2].u.inpatient.present = 0;
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "absent_checks", "patient", "P9", "H7" S "S1>chk-1");
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "挂床住院");
    cr_assert_str_eq(a->institution_id, "H7");
    cr_assert_eq(a->severity, FG_SEV_HIGH);
    cr_assert_eq(a->window_start, FG_T0 + FG_MS_PER_DAY);
    cr_assert_eq(a->window_end, FG_T0 + 36 * FG_MS_PER_HOUR);
    cr_assert_eq(a->n_event_ids, 3);
    cr_assert_str_eq(a->event_ids[0], "adm");
    cr_assert_str_eq(a->event_ids[1], "chk-1");
    cr_assert_str_eq(a->event_ids[2], "chk-2");
    cr_assert_str_eq(a->figures[0].name, "absent_checks");
    cr_assert_float_eq(a->figures[0].value, 2.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 2.0, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "span_hours");
    cr_assert_float_eq(a->figures[1].value, 12.0, 1e-9);
    fg_scn_fini(&s);
}

Test(bed_hanging, a_longer_run_updates_the_same_alert) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t bed[] = {{"BED1", FG_ITEM_BED, 1, 5000, FG_DAYS_ABSENT, NULL}};
    fg_event_t evs[4];
    const char *ids[] = {"b1", "b2", "b3", "b4"};
    for (int i = 0; i < 4; i++) {
        evs[i] = fg_ev_claim(ids[i], "P4", "H1", FG_INST_HOSPITAL, INPT, 1.5 + i, bed, 1);
        evs[i].u.claim.admission_id = "A1";
    }
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(rule_alerts(&s), 1);
    fg_scn_run(&s, &evs[3], 1);
    cr_assert_eq(rule_alerts(&s), 1, "day 4 extends the run, same alert id");
    const fg_alert_t *a = expect_alert(&s, "bed_only_days", "patient", "P4", "H1" S "A1>2026-01-02");
    cr_assert_float_eq(a->figures[0].value, 4.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 14000);
    cr_assert_eq(a->n_event_ids, 4);
    fg_scn_fini(&s);
}

Test(bed_hanging, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[] = {fg_ev_inpatient("k1", FG_IP_PRESENCE_CHECK, "P5", "H1", "A1", 1),
                        fg_ev_inpatient("k2", FG_IP_PRESENCE_CHECK, "P5", "H1", "A1", 1.5)};
    evs[0].u.inpatient.present = evs[1].u.inpatient.present = 0;
    fg_scn_run(&s, evs, 2);
    cr_assert_eq(rule_publications(&s), 1);
    fg_scn_run(&s, evs, 2);
    fg_scn_run_each(&s, evs, 2);
    cr_assert_eq(rule_publications(&s), 1);
    fg_scn_fini(&s);
}

Test(bed_hanging, thresholds_come_from_config) {
    case_t c = {"2 bed-only days fire when bed_only_days=2; one absence fires when absent_checks=1",
                {CL("b1", INPT, "P1", "H1", "A1", 1.5, "BED1", BED, 1, 5000),
                 CL("b2", INPT, "P1", "H1", "A1", 2.5, "BED1", BED, 1, 5000), CHK("k1", "P1", "H1", "A1", 5, 0)},
                3,
                {{"bed_only_days", "P1", "H1" S "A1>2026-01-02", 7000}, {"absent_checks", "P1", "H1" S "A1>k1", 0}},
                2};
    const char *o[] = {"detectors.bed_hanging.bed_only_days=2", "detectors.bed_hanging.absent_checks=1"};
    run_case(&c, o, 2);
    case_t w = {"absent checks 30 hours apart do not fire with a 24-hour window",
                {CHK("k1", "P1", "H1", "A1", 1, 0), CHK("k2", "P1", "H1", "A1", 1 + 30 * H, 0)}, 2, NONE};
    const char *o2[] = {"detectors.bed_hanging.absent_window_hours=24"};
    run_case(&w, o2, 1);
}

/*
 * A full re-read (a new consumer group re-processing everything into the same Redis) must publish
 * nothing new: lateness is judged at first sight and stored, so the old events, now far behind the
 * watermark, do not change late_events. Stay days 0-12 (more than the 7 days of allowed lateness),
 * absent on days 9 and 10; in order, and with the later events first (then the admit is late).
 */
static void reread_case(int later_first, int each) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t bed[] = {{"BED1", FG_ITEM_BED, 1, 5000, FG_DAYS_ABSENT, NULL}};
    fg_event_t fwd[] = {fg_ev_inpatient("ra", ADMIT, "P6", "H1", "A1", 0),
                        fg_ev_claim("rb1", "P6", "H1", FG_INST_HOSPITAL, INPT, 9.2, bed, 1),
                        fg_ev_inpatient("rk1", FG_IP_PRESENCE_CHECK, "P6", "H1", "A1", 9),
                        fg_ev_inpatient("rk2", FG_IP_PRESENCE_CHECK, "P6", "H1", "A1", 10),
                        fg_ev_inpatient("rd", DISCH, "P6", "H1", "A1", 12)};
    fwd[1].u.claim.admission_id = "A1";
    fwd[2].u.inpatient.present = fwd[3].u.inpatient.present = 0;
    fg_event_t evs[5];
    for (size_t i = 0; i < 5; i++) evs[i] = later_first ? fwd[4 - i] : fwd[i];
    if (each)
        fg_scn_run_each(&s, evs, 5);
    else
        fg_scn_run(&s, evs, 5);
    int pubs = rule_publications(&s);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "absent_checks", "patient", "P6", "H1" S "A1>rk1");
    cr_assert(a);
    cr_assert_eq(a->late_events, later_first ? 1 : 0, "late_events %d: only the admit seen after day 12 is late",
                 a->late_events);
    cr_assert_eq(a->amount_at_risk_fen, 3500);
    fg_scn_run(&s, evs, 5); /* the re-read, as one batch */
    cr_assert_eq(s.last_run_count, 0, "the re-read published %zu alert(s)", s.last_run_count);
    fg_scn_run_each(&s, fwd, 5); /* and again event by event, in event-time order */
    cr_assert_eq(rule_publications(&s), pubs, "a re-read published %d time(s) more", rule_publications(&s) - pubs);
    a = expect_alert(&s, "absent_checks", "patient", "P6", "H1" S "A1>rk1");
    cr_assert_eq(a->late_events, later_first ? 1 : 0);
    fg_scn_fini(&s);
}

Test(bed_hanging, reread_publishes_nothing_new) {
    reread_case(0, 0);
    reread_case(0, 1);
    reread_case(1, 0);
    reread_case(1, 1);
}

Test(bed_hanging, reread_of_a_bed_only_run_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t bed[] = {{"BED1", FG_ITEM_BED, 1, 5000, FG_DAYS_ABSENT, NULL}};
    fg_event_t evs[4];
    const char *ids[] = {"q1", "q2", "q3", "q4"};
    const double days[] = {20.5, 1.5, 2.5, 3.5}; /* day 20 first: the run of days 1-3 arrives late */
    for (int i = 0; i < 4; i++) {
        evs[i] = fg_ev_claim(ids[i], "P7", "H1", FG_INST_HOSPITAL, INPT, days[i], bed, 1);
        evs[i].u.claim.admission_id = "A1";
    }
    fg_scn_run_each(&s, evs, 4);
    int pubs = rule_publications(&s);
    const fg_alert_t *a = expect_alert(&s, "bed_only_days", "patient", "P7", "H1" S "A1>2026-01-02");
    cr_assert(a);
    cr_assert_eq(a->late_events, 3);
    fg_scn_run(&s, evs, 4);
    cr_assert_eq(s.last_run_count, 0, "the re-read published %zu alert(s)", s.last_run_count);
    fg_scn_run_each(&s, evs, 4);
    cr_assert_eq(rule_publications(&s), pubs);
    fg_scn_fini(&s);
}
