/*
 * claims_during_stay.c - 住院期间门诊/购药 (outpatient or pharmacy claims during an inpatient stay).
 *
 * Reads claims and inpatient (both keyed by patient, so one patient's events meet in one
 * per-patient hash whichever topic is ahead). An OUTPATIENT / PHARMACY / EMERGENCY claim whose
 * event time t lies inside a stay of the same patient at ANOTHER institution
 * (admit <= t < discharge, or admitted and no discharge known) should not have been paid by the
 * fund, and also hints at a phantom in-patient (挂床) or a borrowed card.
 *
 * Open stays and topic lag (confirm_open_stay, default on): when the claims topic runs ahead of the
 * inpatient topic, a claim made after a discharge that is still in flight would see the stay as open.
 * The inpatient topic is ordered per patient, so once it has reported ANY event of the patient at or
 * after the claim's time (presence check, transfer, discharge, another admission) with no discharge of
 * the stay before it, the stay was open at that time. Until then the claim waits in state (kept past
 * the usual horizon while an open stay could still cover it) and fires when that inpatient event
 * arrives: usually the next daily presence check, at the latest the discharge.
 *
 * State: one hash per patient, kind "cds":
 *   "s\x1f<institution>\x1f<admission>" -> "admit_ms\x1fdischarge_ms\x1fadmit_event\x1fdischarge_event\x1fregion
 *                                           \x1fadmit_late\x1fdischarge_late"
 *   "c\x1f<claim id>"                   -> "t_ms\x1finstitution\x1ffund_paid_fen\x1fregion\x1flate"
 *   "~max"                              -> event-time watermark of the patient (both streams)
 *   "~ip"                               -> newest inpatient event time of the patient (see above)
 * A claim checks the stays; an admit/discharge checks the stored claims, so either arrival order
 * fires, with the id made of stay + claim only. Fields are keyed by event/stay, so a re-delivered
 * event rewrites the same field and the same finding. An event's late flag is judged the first time it
 * is seen and kept with its record: a re-delivery or a full re-read (watermark already past it) reuses
 * it, so late_events (late contributing events: admit, claim, discharge) and the alert do not change.
 *
 * Retention (why claims are kept much shorter than stays): a stay can cover claims for up to
 * max_stay_days after its admission, so open stays are kept that long. A claim only has to wait for
 * an admission that arrives AFTER it; such an admission has admit <= t and, unless it is late, is
 * within allowed lateness of the watermark, so a claim older than watermark - lateness can only
 * meet late admissions. Keeping claims for lateness + 1 day instead of 180 days is what makes
 * storing every outpatient claim affordable. The exception, few by nature: a claim inside a kept stay
 * at another institution (or before a discharge whose admission has not arrived) is kept as long as
 * the stay. It is, or may become, a finding's evidence, and its record holds its first late verdict:
 * dropped, a re-read would see it again as new and late, and publish the finding again.
 *
 * A discharge arriving after a finding adds its evidence to the same alert id (window_end = discharge).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "util.h"

#define CDS_MAX_STAYS 32   /* hostile input bound: stays kept per patient (newest win) */
#define CDS_MAX_CLAIMS 256 /* hostile input bound: outpatient claims kept per patient (newest win) */
#define CDS_SEP '\x1f'
#define CDS_IP_FIELD "~ip"

typedef struct {
    int64_t max_stay_ms;
    int same_institution, confirm_open_stay;
} cds_cfg_t;

typedef struct {
    char field[2 * FG_ALERT_STR + 4];
    char inst[FG_ALERT_STR], adm[FG_ALERT_STR];
    int64_t admit_ms, discharge_ms; /* -1 unknown */
    char admit_eid[FG_ALERT_STR], discharge_eid[FG_ALERT_STR], region[FG_ALERT_STR];
    int admit_late, discharge_late; /* judged at first sight of the admit / discharge event */
} cds_stay_t;

typedef struct {
    char field[FG_ALERT_STR + 4];
    char id[FG_ALERT_STR], inst[FG_ALERT_STR], region[FG_ALERT_STR];
    int64_t t_ms, fund_fen;
    int late; /* judged at first sight of the claim */
} cds_claim_t;

typedef struct {
    cds_stay_t *stays;
    size_t n_stays;
    cds_claim_t *claims;
    size_t n_claims;
} cds_view_t;

static const fg_conf_decl_t g_conf[] = {
    {"max_stay_days", FG_CONF_INT, "180", 1, 3650, 0,
     "Longest stay considered: an admission with no discharge covers claims for at most this many days, "
     "and stays are remembered this long after admission."},
    {"same_institution", FG_CONF_BOOL, "false", 0, 0, 0,
     "Also flag outpatient/pharmacy claims at the hospital where the patient is admitted (off by default: "
     "many hospitals legitimately settle some items as outpatient during a stay)."},
    {"confirm_open_stay", FG_CONF_BOOL, "true", 0, 0, 0,
     "A stay with no discharge yet covers a claim only once the inpatient stream has reported an event of the "
     "patient at or after the claim's time (the discharge may still be in flight on a lagging topic). false: fire "
     "at once, faster, but a claim just after a not-yet-consumed discharge fires falsely."},
};

extern const fg_detector_t fg_det_claims_during_stay;
#define SELF (&fg_det_claims_during_stay)

static int cds_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    cds_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "claims_during_stay: out of memory");
    snprintf(k, sizeof(k), "%smax_stay_days", prefix);
    c->max_stay_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%ssame_institution", prefix);
    c->same_institution = fg_config_bool(cf, k);
    snprintf(k, sizeof(k), "%sconfirm_open_stay", prefix);
    c->confirm_open_stay = fg_config_bool(cf, k);
    *priv = c;
    return FG_OK;
}

static void cds_destroy(void *priv) { free(priv); }

static int is_outpatient_claim(const fg_event_t *ev) {
    if (ev->stream != FG_STREAM_CLAIMS) return 0;
    fg_visit_t v = ev->u.claim.visit_type;
    return v == FG_VISIT_OUTPATIENT || v == FG_VISIT_PHARMACY || v == FG_VISIT_EMERGENCY;
}

/* every inpatient event is news that the patient's stays went on (or ended) up to its time */
static int is_stay_event(const fg_event_t *ev) { return ev->stream == FG_STREAM_INPATIENT; }

static int opens_or_closes(const fg_event_t *ev) {
    return ev->u.inpatient.admission_id &&
           (ev->u.inpatient.type == FG_IP_ADMIT || ev->u.inpatient.type == FG_IP_DISCHARGE);
}

static void cds_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    char key[256];
    if ((is_outpatient_claim(ev) || is_stay_event(ev)) && fg_dctx_patient_key(dc, key, sizeof(key), "cds") > 0)
        fg_state_want(dc->st, key);
}

static int load(const char *field, const char *val, size_t len, void *ud) {
    cds_view_t *w = ud;
    char p[7][FG_ALERT_STR];
    if (field[0] == 's' && field[1] == CDS_SEP && w->n_stays < CDS_MAX_STAYS + 1) {
        char id[2][FG_ALERT_STR];
        int np = fg_rec_split(val, len, CDS_SEP, p, 7);
        if (np < 5 || fg_rec_split(field + 2, strlen(field + 2), CDS_SEP, id, 2) != 2) return 0;
        cds_stay_t *s = &w->stays[w->n_stays++];
        fg_alert_set(s->field, sizeof(s->field), field);
        fg_alert_set(s->inst, sizeof(s->inst), id[0]);
        fg_alert_set(s->adm, sizeof(s->adm), id[1]);
        s->admit_ms = strtoll(p[0], NULL, 10);
        s->discharge_ms = strtoll(p[1], NULL, 10);
        fg_alert_set(s->admit_eid, sizeof(s->admit_eid), p[2]);
        fg_alert_set(s->discharge_eid, sizeof(s->discharge_eid), p[3]);
        fg_alert_set(s->region, sizeof(s->region), p[4]);
        s->admit_late = np > 5 && p[5][0] == '1'; /* records written before the flags existed: not late */
        s->discharge_late = np > 6 && p[6][0] == '1';
    } else if (field[0] == 'c' && field[1] == CDS_SEP && w->n_claims < CDS_MAX_CLAIMS + 1) {
        int np = fg_rec_split(val, len, CDS_SEP, p, 5);
        if (np < 4) return 0;
        cds_claim_t *c = &w->claims[w->n_claims++];
        fg_alert_set(c->field, sizeof(c->field), field);
        fg_alert_set(c->id, sizeof(c->id), field + 2);
        c->t_ms = strtoll(p[0], NULL, 10);
        fg_alert_set(c->inst, sizeof(c->inst), p[1]);
        c->fund_fen = strtoll(p[2], NULL, 10);
        fg_alert_set(c->region, sizeof(c->region), p[3]);
        c->late = np > 4 && p[4][0] == '1';
    }
    return 0; /* "~max" and foreign fields are skipped; they expire with the key */
}

static void store_stay(fg_state_t *st, const char *key, const cds_stay_t *s) {
    char v[4 * FG_ALERT_STR + 64];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%s%c%s%c%s%c%d%c%d", (long long)s->admit_ms, CDS_SEP,
                     (long long)s->discharge_ms, CDS_SEP, s->admit_eid, CDS_SEP, s->discharge_eid, CDS_SEP, s->region,
                     CDS_SEP, s->admit_late, CDS_SEP, s->discharge_late);
    fg_state_hset(st, key, s->field, v, (size_t)n);
}

static void store_claim(fg_state_t *st, const char *key, const cds_claim_t *c) {
    char v[2 * FG_ALERT_STR + 64];
    int n = snprintf(v, sizeof(v), "%lld%c%s%c%lld%c%s%c%d", (long long)c->t_ms, CDS_SEP, c->inst, CDS_SEP,
                     (long long)c->fund_fen, CDS_SEP, c->region, CDS_SEP, c->late);
    fg_state_hset(st, key, c->field, v, (size_t)n);
}

/* the newest event time a stay can still matter for */
static int64_t stay_end(const cds_cfg_t *cf, const cds_stay_t *s) {
    if (s->discharge_ms >= 0) return s->discharge_ms;
    return s->admit_ms + cf->max_stay_ms;
}

/* ip_wm: newest inpatient event time of the patient */
static int covers(const cds_cfg_t *cf, const cds_stay_t *s, const cds_claim_t *c, int64_t ip_wm) {
    if (s->admit_ms < 0 || c->t_ms < s->admit_ms) return 0;
    if (!cf->same_institution && !strcmp(s->inst, c->inst)) return 0;
    if (c->t_ms >= stay_end(cf, s)) return 0;
    return s->discharge_ms >= 0 || !cf->confirm_open_stay || c->t_ms <= ip_wm;
}

/* a claim an open stay may still cover once the inpatient stream confirms it */
static int pending(const cds_cfg_t *cf, const cds_view_t *w, const cds_claim_t *c) {
    for (size_t i = 0; i < w->n_stays; i++) {
        const cds_stay_t *s = &w->stays[i];
        if (s->admit_ms >= 0 && s->discharge_ms < 0 && c->t_ms >= s->admit_ms && c->t_ms < stay_end(cf, s)) return 1;
    }
    return 0;
}

static void finding(fg_dctx_t *dc, const cds_cfg_t *cf, const fg_event_t *ev, const cds_stay_t *s,
                    const cds_claim_t *c) {
    char wkey[sizeof(s->field) + sizeof(c->id) + 2];
    snprintf(wkey, sizeof(wkey), "%s%c%s>%s", s->inst, CDS_SEP, s->adm, c->id);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "claim_in_stay", "patient", ev->patient_id, wkey);
    a->severity = FG_SEV_HIGH;
    a->score = strcmp(s->inst, c->inst) ? 0.9 : 0.6;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), c->inst);
    fg_alert_set(a->region, sizeof(a->region), c->region);
    a->window_start = s->admit_ms;
    a->window_end = s->discharge_ms >= 0 ? s->discharge_ms : c->t_ms;
    a->event_time = c->t_ms > s->admit_ms ? c->t_ms : s->admit_ms;
    a->n_event_ids = 0;
    fg_alert_add_event(a, s->admit_eid);
    fg_alert_add_event(a, c->id);
    if (s->discharge_ms >= 0) fg_alert_add_event(a, s->discharge_eid);
    a->n_figures = 0;
    double hours_in = (double)(c->t_ms - s->admit_ms) / (double)FG_MS_PER_HOUR;
    fg_alert_add_figure(a, "hours_after_admission", hours_in, 0, ">=");
    if (s->discharge_ms >= 0)
        fg_alert_add_figure(a, "hours_before_discharge", (double)(s->discharge_ms - c->t_ms) / (double)FG_MS_PER_HOUR,
                            0, ">");
    fg_alert_add_figure(a, "claim_fund_paid_yuan", (double)c->fund_fen / 100.0, 0, ">");
    a->amount_at_risk_fen = c->fund_fen;
    /* from the stored first-sight verdicts, so a re-read that finds them behind the watermark changes nothing */
    a->late_events = s->admit_late + c->late + (s->discharge_ms >= 0 ? s->discharge_late : 0);
    (void)cf;
    snprintf(
        a->summary, sizeof(a->summary),
        "claim %.64s at %.64s settled %.1f hours into the patient's stay %.64s at %.64s%.64s (fund paid %.2f yuan)",
        c->id, c->inst, hours_in, s->adm, s->inst, s->discharge_ms >= 0 ? "" : " (no discharge yet)",
        (double)c->fund_fen / 100.0);
}

/*
 * a claim a kept stay covers or may cover once its admission arrives: kept with the stay (see the header),
 * so a re-read finds its record and its first late verdict
 */
static int evidence(const cds_cfg_t *cf, const cds_view_t *w, const cds_claim_t *c) {
    for (size_t i = 0; i < w->n_stays; i++) {
        const cds_stay_t *s = &w->stays[i];
        if (!cf->same_institution && !strcmp(s->inst, c->inst)) continue;
        if (s->admit_ms >= 0 && c->t_ms >= s->admit_ms && c->t_ms < stay_end(cf, s)) return 1;
        if (s->admit_ms < 0 && c->t_ms < s->discharge_ms && c->t_ms >= s->discharge_ms - cf->max_stay_ms) return 1;
    }
    return 0;
}

/* drops stays/claims that can no longer meet a non-late event, then enforces the hostile-input caps */
static void prune(fg_state_t *st, const char *key, const cds_cfg_t *cf, cds_view_t *w, int64_t maxt, int64_t lateness) {
    int64_t horizon = maxt - lateness - FG_MS_PER_DAY;
    size_t o = 0;
    for (size_t i = 0; i < w->n_stays; i++) {
        cds_stay_t *s = &w->stays[i];
        int64_t end = s->admit_ms >= 0 ? stay_end(cf, s) : s->discharge_ms;
        if (end < horizon) {
            fg_state_hdel(st, key, s->field);
            continue;
        }
        if (o != i) w->stays[o] = *s;
        o++;
    }
    w->n_stays = o;
    while (w->n_stays > CDS_MAX_STAYS) {
        size_t old = 0;
        for (size_t i = 1; i < w->n_stays; i++)
            if (stay_end(cf, &w->stays[i]) < stay_end(cf, &w->stays[old])) old = i;
        fg_state_hdel(st, key, w->stays[old].field);
        w->stays[old] = w->stays[--w->n_stays];
    }
    o = 0;
    for (size_t i = 0; i < w->n_claims; i++) {
        if (w->claims[i].t_ms < horizon && !(cf->confirm_open_stay && pending(cf, w, &w->claims[i])) &&
            !evidence(cf, w, &w->claims[i])) {
            fg_state_hdel(st, key, w->claims[i].field);
            continue;
        }
        if (o != i) w->claims[o] = w->claims[i];
        o++;
    }
    w->n_claims = o;
    while (w->n_claims > CDS_MAX_CLAIMS) {
        size_t old = 0;
        for (size_t i = 1; i < w->n_claims; i++)
            if (w->claims[i].t_ms < w->claims[old].t_ms) old = i;
        fg_state_hdel(st, key, w->claims[old].field);
        w->claims[old] = w->claims[--w->n_claims];
    }
}

static void cds_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const cds_cfg_t *cf = priv;
    char key[256];
    int claim = is_outpatient_claim(ev);
    if ((!claim && !is_stay_event(ev)) || fg_dctx_patient_key(dc, key, sizeof(key), "cds") <= 0) return;

    static _Thread_local cds_stay_t stays[CDS_MAX_STAYS + 2];
    static _Thread_local cds_claim_t claims[CDS_MAX_CLAIMS + 2];
    cds_view_t w = {stays, 0, claims, 0};
    fg_state_hforeach(dc->st, key, load, &w);

    int64_t maxt = 0;
    int late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    const char *region = ev->region ? ev->region : "";

    if (claim) {
        cds_claim_t *c = NULL;
        char field[sizeof(claims[0].field)];
        snprintf(field, sizeof(field), "c%c%s", CDS_SEP, ev->event_id);
        for (size_t i = 0; i < w.n_claims; i++)
            if (!strcmp(w.claims[i].field, field)) c = &w.claims[i];
        int c_late = late;
        if (c)
            c_late = c->late; /* seen before: keep its first verdict */
        else
            c = &w.claims[w.n_claims++];
        memset(c, 0, sizeof(*c));
        c->late = c_late;
        fg_alert_set(c->field, sizeof(c->field), field);
        fg_alert_set(c->id, sizeof(c->id), ev->event_id);
        fg_alert_set(c->inst, sizeof(c->inst), ev->institution_id);
        fg_alert_set(c->region, sizeof(c->region), region);
        c->t_ms = ev->event_time_ms;
        c->fund_fen = ev->u.claim.fund_paid_fen;
        store_claim(dc->st, key, c);
        cds_claim_t cur = *c;
        prune(dc->st, key, cf, &w, maxt, dc->allowed_lateness_ms);
        int64_t ip_wm = fg_state_hget_int(dc->st, key, CDS_IP_FIELD);
        for (size_t i = 0; i < w.n_stays; i++)
            if (covers(cf, &w.stays[i], &cur, ip_wm)) finding(dc, cf, ev, &w.stays[i], &cur);
    } else {
        /* advance the inpatient watermark: claims up to it are confirmed inside the open stays */
        int64_t old_ip = fg_state_hget_int(dc->st, key, CDS_IP_FIELD), ip_wm = old_ip;
        if (!fg_state_hget(dc->st, key, CDS_IP_FIELD, NULL)) old_ip = INT64_MIN;
        if (ev->event_time_ms > ip_wm || old_ip == INT64_MIN) {
            fg_state_hset_int(dc->st, key, CDS_IP_FIELD, ev->event_time_ms);
            ip_wm = ev->event_time_ms;
        }
        prune(dc->st, key, cf, &w, maxt, dc->allowed_lateness_ms);
        if (!opens_or_closes(ev)) {
            for (size_t i = 0; i < w.n_stays; i++)
                for (size_t j = 0; j < w.n_claims; j++)
                    if (w.claims[j].t_ms > old_ip && covers(cf, &w.stays[i], &w.claims[j], ip_wm))
                        finding(dc, cf, ev, &w.stays[i], &w.claims[j]);
            fg_state_expire(dc->st, key, cf->max_stay_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);
            return;
        }
        const fg_inpatient_t *ip = &ev->u.inpatient;
        char field[sizeof(stays[0].field)];
        snprintf(field, sizeof(field), "s%c%s%c%s", CDS_SEP, ev->institution_id, CDS_SEP, ip->admission_id);
        cds_stay_t *s = NULL;
        for (size_t i = 0; i < w.n_stays; i++)
            if (!strcmp(w.stays[i].field, field)) s = &w.stays[i];
        if (!s) {
            s = &w.stays[w.n_stays++];
            memset(s, 0, sizeof(*s));
            fg_alert_set(s->field, sizeof(s->field), field);
            fg_alert_set(s->inst, sizeof(s->inst), ev->institution_id);
            fg_alert_set(s->adm, sizeof(s->adm), ip->admission_id);
            s->admit_ms = s->discharge_ms = -1;
        }
        fg_alert_set(s->region, sizeof(s->region), region);
        if (ip->type == FG_IP_ADMIT) {
            if (s->admit_ms < 0 || strcmp(s->admit_eid, ev->event_id)) s->admit_late = late;
            s->admit_ms = ev->event_time_ms;
            fg_alert_set(s->admit_eid, sizeof(s->admit_eid), ev->event_id);
        } else {
            if (s->discharge_ms < 0 || strcmp(s->discharge_eid, ev->event_id)) s->discharge_late = late;
            s->discharge_ms = ev->event_time_ms;
            fg_alert_set(s->discharge_eid, sizeof(s->discharge_eid), ev->event_id);
        }
        store_stay(dc->st, key, s);
        /* this stay against every claim; the other open stays against the claims just confirmed */
        for (size_t i = 0; i < w.n_stays; i++)
            for (size_t j = 0; j < w.n_claims; j++)
                if ((&w.stays[i] == s || w.claims[j].t_ms > old_ip) && covers(cf, &w.stays[i], &w.claims[j], ip_wm))
                    finding(dc, cf, ev, &w.stays[i], &w.claims[j]);
    }
    fg_state_expire(dc->st, key, cf->max_stay_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);
}

const fg_detector_t fg_det_claims_during_stay = {
    .name = "claims_during_stay",
    .name_zh = "住院期间门诊/购药",
    .name_en = "outpatient or pharmacy claim during an inpatient stay",
    .description = "An outpatient, pharmacy or emergency claim whose event time lies inside an open inpatient stay "
                   "of the same patient at another institution (admit <= t < discharge, or admitted and not yet "
                   "discharged). Fires whichever of the claim and the admission arrives first.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INPATIENT),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = cds_init,
    .want = cds_want,
    .on_event = cds_on_event,
    .destroy = cds_destroy,
};
