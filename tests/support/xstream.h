/*
 * xstream.h - the table runner shared by the tests of rules that join
 * streams (bed_hanging, claims_during_stay, inventory_mismatch,
 * trace_code_reuse): a case lists events of several streams and the alerts
 * it must produce; every case runs four ways (one batch, event by event, and
 * both again with the other stream first, each stream keeping its own order)
 * and all four must agree. A test defines RULE and SUBJECT_TYPE, then
 * includes this header.
 */
#ifndef FG_TEST_XSTREAM_H
#define FG_TEST_XSTREAM_H

#include "scenario.h"

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
} fg_xs_step_t;

typedef struct {
    char pattern[24];
    char subject[24];
    char wkey[48];
    int64_t amount; /* -1: not checked */
} fg_xs_expect_t;

typedef struct {
    char name[112];
    fg_xs_step_t steps[10];
    size_t n_steps;
    fg_xs_expect_t expect[3];
    size_t n_expect;
} fg_xs_case_t;

/** @brief Builds the case's events; swap: the streams in reverse order of first appearance. */
size_t fg_xs_build(const fg_xs_case_t *c, int swap, fg_event_t *evs);
/** @returns the alerts of rule published so far (other rules run in the same processor). */
size_t fg_xs_rule_alerts(fg_scn_t *s, const char *rule);
/** @returns the publications of rule so far, counting re-publications. */
int fg_xs_rule_publications(fg_scn_t *s, const char *rule);
const fg_alert_t *fg_xs_expect_alert(fg_scn_t *s, const char *rule, const char *pattern, const char *subject_type,
                                     const char *subject, const char *wkey);
void fg_xs_assert_case(fg_scn_t *s, const fg_xs_case_t *c, const char *rule, const char *subject_type,
                       const char *mode);
void fg_xs_run_case(const fg_xs_case_t *c, const char *rule, const char *subject_type, const char **o, int no);

#if defined(RULE) && defined(SUBJECT_TYPE)
typedef fg_xs_step_t step_t;
typedef fg_xs_expect_t expect_t;
typedef fg_xs_case_t case_t;
static inline size_t build(const case_t *c, int swap, fg_event_t *evs) { return fg_xs_build(c, swap, evs); }
static inline size_t rule_alerts(fg_scn_t *s) { return fg_xs_rule_alerts(s, RULE); }
static inline int rule_publications(fg_scn_t *s) { return fg_xs_rule_publications(s, RULE); }
static inline const fg_alert_t *expect_alert(fg_scn_t *s, const char *pattern, const char *subject_type,
                                             const char *subject, const char *wkey) {
    return fg_xs_expect_alert(s, RULE, pattern, subject_type, subject, wkey);
}
static inline void assert_case(fg_scn_t *s, const case_t *c, const char *mode) {
    fg_xs_assert_case(s, c, RULE, SUBJECT_TYPE, mode);
}
static inline void run_case(const case_t *c, const char **o, int no) { fg_xs_run_case(c, RULE, SUBJECT_TYPE, o, no); }
#endif

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


#endif
