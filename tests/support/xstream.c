/* xstream.c - the four-way table runner for cross-stream rule tests (see xstream.h). */
#include "xstream.h"

#include <criterion/criterion.h>
#include <string.h>

/*
 * builds the case's events; swap: the streams in the reverse order of their first appearance, each
 * stream keeping its own order (a topic partition is ordered, topics are not ordered against each other)
 */
size_t fg_xs_build(const fg_xs_case_t *c, int swap, fg_event_t *evs) {
    size_t order[10], n_order = 0;
    char streams[3];
    size_t n_streams = 0;
    for (size_t k = 0; k < c->n_steps; k++)
        if (!memchr(streams, c->steps[k].src, n_streams)) streams[n_streams++] = c->steps[k].src;
    for (size_t j = 0; j < n_streams; j++)
        for (size_t k = 0; k < c->n_steps; k++)
            if (c->steps[k].src == streams[swap ? n_streams - 1 - j : j]) order[n_order++] = k;
    for (size_t k = 0; k < c->n_steps; k++) {
        const fg_xs_step_t *s = &c->steps[swap ? order[k] : k];
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
size_t fg_xs_rule_alerts(fg_scn_t *s, const char *rule) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_ids; i++) {
        const fg_alert_t *a = fg_scn_alert(s, s->ids[i]);
        if (a && !strcmp(a->rule_id, rule)) n++;
    }
    return n;
}

/* publications of this rule so far, counting re-publications */
int fg_xs_rule_publications(fg_scn_t *s, const char *rule) {
    int n = 0;
    for (size_t i = 0; i < s->n_ids; i++) {
        const fg_alert_t *a = fg_scn_alert(s, s->ids[i]);
        if (a && !strcmp(a->rule_id, rule)) n += s->published[i];
    }
    return n;
}

const fg_alert_t *fg_xs_expect_alert(fg_scn_t *s, const char *rule, const char *pattern, const char *subject_type,
                                     const char *subject, const char *wkey) {
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, rule, pattern, subject_type, subject, wkey);
    return fg_scn_alert(s, id);
}

void fg_xs_assert_case(fg_scn_t *s, const fg_xs_case_t *c, const char *rule, const char *subject_type,
                       const char *mode) {
    cr_assert_eq(fg_xs_rule_alerts(s, rule), c->n_expect, "[%s] %s: expected %zu alert(s), got %zu", mode, c->name,
                 c->n_expect, fg_xs_rule_alerts(s, rule));
    for (size_t i = 0; i < c->n_expect; i++) {
        const fg_xs_expect_t *e = &c->expect[i];
        const fg_alert_t *a = fg_xs_expect_alert(s, rule, e->pattern, subject_type, e->subject, e->wkey);
        cr_assert(a, "[%s] %s: missing %s alert", mode, c->name, e->pattern);
        if (e->amount >= 0)
            cr_assert_eq(a->amount_at_risk_fen, e->amount, "[%s] %s: amount %lld, expected %lld", mode, c->name,
                         (long long)a->amount_at_risk_fen, (long long)e->amount);
    }
}

/* one batch and event by event, in the given order and with the other stream first: all four must agree */
void fg_xs_run_case(const fg_xs_case_t *c, const char *rule, const char *subject_type, const char **o, int no) {
    static const char *modes[4] = {"one batch", "event by event", "other stream first, batch",
                                   "other stream first, event by event"};
    for (int m = 0; m < 4; m++) {
        fg_event_t evs[10];
        fg_scn_t s;
        fg_scn_init(&s, o, no);
        size_t n = fg_xs_build(c, m >= 2, evs);
        if (m % 2)
            fg_scn_run_each(&s, evs, n);
        else
            fg_scn_run(&s, evs, n);
        fg_xs_assert_case(&s, c, rule, subject_type, modes[m]);
        fg_scn_fini(&s);
    }
}

