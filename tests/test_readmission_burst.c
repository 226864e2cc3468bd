/*
 * test_readmission_burst.c - 分解住院 / 频繁住院 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for
 * near-misses); every case runs as one batch and again event by event, which
 * must give the same alerts.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "detectors/detector.h"
#include "support/scenario.h"

#define ADMIT FG_IP_ADMIT
#define DISCH FG_IP_DISCHARGE

/* Fixed arrays, not pointers: Criterion re-executes the test binary for each
 * parameter, so pointers inside the cases would not survive. */
typedef struct {
    char eid[8];
    fg_ip_type_t type;
    char inst[8], adm[8];
    double day;
} step_t;

typedef struct {
    char pattern[24];
    char wkey[32]; /* window key: stays as "<institution>\x1f<admission>" */
} expect_t;

typedef struct {
    char name[96];
    step_t steps[8];
    size_t n_steps;
    expect_t expect[3];
    size_t n_expect;
} ra_case_t;

static ra_case_t g_cases[] = {
    {"split stay: re-admitted to the same hospital 3 days after discharge fires",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", DISCH, "H1", "A1", 5}, {"e3", ADMIT, "H1", "A2", 8}}, 3,
     {{"split_stay", "H1\x1f" "A1>H1\x1f" "A2"}}, 1},
    {"split stay: exactly 15 days after discharge fires (inclusive)",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", DISCH, "H1", "A1", 5}, {"e3", ADMIT, "H1", "A2", 20}}, 3,
     {{"split_stay", "H1\x1f" "A1>H1\x1f" "A2"}}, 1},
    {"near miss: re-admitted 15.5 days after discharge does not fire",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", DISCH, "H1", "A1", 5}, {"e3", ADMIT, "H1", "A2", 20.5}}, 3,
     {{"", ""}}, 0},
    {"near miss: re-admitted 3 days later to another hospital does not fire",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", DISCH, "H1", "A1", 5}, {"e3", ADMIT, "H2", "A2", 8}}, 3,
     {{"", ""}}, 0},
    {"split stay: the re-admission arrives before the earlier stay's events, still fires",
     {{"e3", ADMIT, "H1", "A2", 8}, {"e1", ADMIT, "H1", "A1", 0}, {"e2", DISCH, "H1", "A1", 5}}, 3,
     {{"split_stay", "H1\x1f" "A1>H1\x1f" "A2"}}, 1},
    {"frequent admission: 3 admissions at 3 hospitals within 85 days fires",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", ADMIT, "H2", "B1", 40}, {"e3", ADMIT, "H3", "C1", 85}}, 3,
     {{"frequent_admission", "H1\x1f" "A1"}}, 1},
    {"near miss: 3 admissions spanning 91 days do not fire",
     {{"e1", ADMIT, "H1", "A1", 0}, {"e2", ADMIT, "H2", "B1", 45}, {"e3", ADMIT, "H3", "C1", 91}}, 3,
     {{"", ""}}, 0},
    {"both patterns: split stay inside a burst of 3 admissions fires both",
     {{"e1", ADMIT, "H1", "A1", 0},
      {"e2", DISCH, "H1", "A1", 4},
      {"e3", ADMIT, "H1", "A2", 6},
      {"e4", ADMIT, "H2", "B1", 30}},
     4,
     {{"split_stay", "H1\x1f" "A1>H1\x1f" "A2"}, {"frequent_admission", "H1\x1f" "A1"}},
     2},
};

ParameterizedTestParameters(readmission_burst, scenarios) {
    return cr_make_param_array(ra_case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

static size_t build(const ra_case_t *c, const char *patient, fg_event_t *evs) {
    for (size_t i = 0; i < c->n_steps; i++)
        evs[i] = fg_ev_inpatient(c->steps[i].eid, c->steps[i].type, patient, c->steps[i].inst, c->steps[i].adm,
                                 c->steps[i].day);
    return c->n_steps;
}

static void assert_ids(fg_scn_t *s, const ra_case_t *c, const char *patient, const char *mode) {
    cr_assert_eq(s->n_ids, c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name, c->n_expect,
                 s->n_ids);
    for (size_t i = 0; i < c->n_expect; i++) {
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, "readmission_burst", c->expect[i].pattern, "patient", patient, c->expect[i].wkey);
        cr_assert(fg_scn_alert(s, id), "[%s] %s: missing %s alert %s", mode, c->name, c->expect[i].pattern, id);
    }
}

ParameterizedTest(ra_case_t *c, readmission_burst, scenarios) {
    fg_event_t evs[8];
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    size_t n = build(c, "P-batch", evs);
    fg_scn_run(&s, evs, n);
    assert_ids(&s, c, "P-batch", "one batch");
    fg_scn_fini(&s);

    fg_scn_init(&s, NULL, 0);
    n = build(c, "P-each", evs);
    fg_scn_run_each(&s, evs, n);
    assert_ids(&s, c, "P-each", "event by event");
    fg_scn_fini(&s);
}

Test(readmission_burst, split_stay_alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[] = {fg_ev_inpatient("adm-1", ADMIT, "P9", "H7", "S1", 0),
                        fg_ev_inpatient("dis-1", DISCH, "P9", "H7", "S1", 10),
                        fg_ev_inpatient("adm-2", ADMIT, "P9", "H7", "S2", 13)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.n_ids, 1);
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
    cr_assert_str_eq(a->rule_id, "readmission_burst");
    cr_assert_str_eq(a->pattern, "split_stay");
    cr_assert_str_eq(a->rule_name_zh, "分解住院 / 频繁住院");
    cr_assert_str_eq(a->subject_type, "patient");
    cr_assert_str_eq(a->subject_id, "P9");
    cr_assert_str_eq(a->institution_id, "H7");
    cr_assert_eq(a->severity, FG_SEV_HIGH);
    cr_assert_eq(a->window_start, FG_T0 + 10 * FG_MS_PER_DAY);
    cr_assert_eq(a->window_end, FG_T0 + 13 * FG_MS_PER_DAY);
    cr_assert_eq(a->n_event_ids, 3);
    cr_assert_str_eq(a->event_ids[0], "adm-1");
    cr_assert_str_eq(a->event_ids[1], "dis-1");
    cr_assert_str_eq(a->event_ids[2], "adm-2");
    cr_assert_eq(a->n_figures, 1);
    cr_assert_str_eq(a->figures[0].name, "days_since_discharge");
    cr_assert_float_eq(a->figures[0].value, 3.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 15.0, 1e-9);
    cr_assert(strstr(a->ruleset_version, "rs-") == a->ruleset_version);
    fg_scn_fini(&s);
}

Test(readmission_burst, a_fourth_admission_updates_the_same_alert_instead_of_a_new_one) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[] = {fg_ev_inpatient("a1", ADMIT, "P4", "H1", "A1", 0),
                        fg_ev_inpatient("a2", ADMIT, "P4", "H2", "A2", 20),
                        fg_ev_inpatient("a3", ADMIT, "P4", "H3", "A3", 40),
                        fg_ev_inpatient("a4", ADMIT, "P4", "H4", "A4", 60)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.n_ids, 1);
    fg_scn_run(&s, &evs[3], 1);
    cr_assert_eq(s.n_ids, 1, "the 4th admission must not open a second alert");
    cr_assert_eq(s.published[0], 2, "the alert is re-published once with more evidence");
    const fg_alert_t *a = fg_scn_alert(&s, s.ids[0]);
    cr_assert_eq(a->n_event_ids, 4);
    cr_assert_float_eq(a->figures[0].value, 4.0, 1e-9);
    fg_scn_fini(&s);
}

Test(readmission_burst, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[] = {fg_ev_inpatient("x1", ADMIT, "P5", "H1", "A1", 0),
                        fg_ev_inpatient("x2", DISCH, "P5", "H1", "A1", 2),
                        fg_ev_inpatient("x3", ADMIT, "P5", "H1", "A2", 3)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.last_run_count, 1);
    fg_scn_run(&s, evs, 3); /* a crash before commit re-delivers the batch */
    cr_assert_eq(s.last_run_count, 0, "the same finding with the same content is not published twice");
    cr_assert_eq(s.n_ids, 1);
    fg_scn_fini(&s);
}

Test(readmission_burst, thresholds_come_from_config) {
    const char *o[] = {"detectors.readmission_burst.readmit_days=2"};
    fg_scn_t s;
    fg_scn_init(&s, o, 1);
    fg_event_t evs[] = {fg_ev_inpatient("y1", ADMIT, "P6", "H1", "A1", 0),
                        fg_ev_inpatient("y2", DISCH, "P6", "H1", "A1", 2),
                        fg_ev_inpatient("y3", ADMIT, "P6", "H1", "A2", 5)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.n_ids, 0, "3 days is beyond a configured 2-day readmission window");
    fg_scn_fini(&s);
}

Test(readmission_burst, switched_off_rule_never_fires) {
    const char *o[] = {"detectors.readmission_burst.enabled=false"};
    fg_scn_t s;
    fg_scn_init(&s, o, 1);
    fg_event_t evs[] = {fg_ev_inpatient("z1", ADMIT, "P7", "H1", "A1", 0),
                        fg_ev_inpatient("z2", DISCH, "P7", "H1", "A1", 1),
                        fg_ev_inpatient("z3", ADMIT, "P7", "H1", "A2", 2)};
    fg_scn_run(&s, evs, 3);
    cr_assert_eq(s.n_ids, 0);
    size_t registered = 0;
    while (fg_detectors[registered]) registered++;
    cr_assert_eq(fg_processor_detector_count(s.proc), registered - 1, "only readmission_burst is off");
    fg_scn_fini(&s);
}

Test(readmission_burst, state_costs_two_redis_round_trips_per_batch_not_per_event) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    static fg_event_t evs[500];
    static char ids[500][16], pats[500][16];
    for (int i = 0; i < 500; i++) {
        snprintf(ids[i], sizeof(ids[i]), "rt%d", i);
        snprintf(pats[i], sizeof(pats[i]), "RP%d", i % 50);
        evs[i] = fg_ev_inpatient(ids[i], i % 2 ? DISCH : ADMIT, pats[i], "H1", ids[i - i % 2], i / 10.0);
    }
    fg_state_stats_t before, after;
    fg_state_stats(s.st, &before);
    fg_scn_run(&s, evs, 500);
    fg_state_stats(s.st, &after);
    cr_assert_eq(after.round_trips - before.round_trips, 2, "500 events over 50 patients: %llu round trips",
                 (unsigned long long)(after.round_trips - before.round_trips));
    fg_scn_fini(&s);
}
