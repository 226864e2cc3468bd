/*
 * bed_hanging.c - 挂床住院 (bed hanging: an admission kept open while the patient is not there).
 *
 * Reads inpatient (presence checks, admit, discharge) and claims (inpatient claims carrying the
 * admission id), both keyed by patient, into one hash per patient, kind "bh":
 *   "s\x1f<inst>\x1f<adm>"          -> "admit_ms\x1fdischarge_ms\x1fadmit_event\x1fdischarge_event\x1fregion
 *                                       \x1fadmit_late\x1fdischarge_late"
 *   "a\x1f<inst>\x1f<adm>\x1f<event>" -> "t_ms\x1flate"                 one absent presence check
 *   "b\x1f<inst>\x1f<adm>\x1f<claim>" -> "t_ms\x1fbed\x1ftreat\x1fbed_fund_fen\x1fregion\x1flate"  one inpatient claim
 *   "~max"                          -> event-time watermark of the patient
 * Everything is keyed by event id, so re-delivery rewrites the same fields. An event's late flag is
 * judged the first time it is seen and kept with its record: a re-delivery or a full re-read (when the
 * watermark is already past it) reuses that verdict, so an alert's late_events, the count of late
 * contributing events, and with it the alert's content stay the same.
 *
 * Two patterns, both re-evaluated over the whole stay whenever any of its events arrives, so the
 * findings depend on the set of events and not on their arrival order:
 *  - absent_checks: >= absent_checks absent checks within absent_window_hours, none at or after a
 *    known discharge. Checks are grouped greedily from the earliest: a group is the checks within
 *    the window from its first check; a group that fires is keyed by that first check's event id,
 *    and the next group starts after its window. Amount: the fund-paid share of bed items billed on
 *    the days the group spans (0 when no bed claims arrived yet; a later claim updates the alert).
 *  - bed_only_days: >= bed_only_days consecutive event-time days (Beijing time, UTC+8) of the stay
 *    with a BED item billed and no DRUG/SERVICE/EXAM/CONSUMABLE item. Keyed by the run's first day
 *    ("2026-01-03"); a longer run updates the same alert. Amount: fund-paid share of the run's bed items.
 * Records are kept max_stay_days (plus lateness) behind the patient's watermark and capped per
 * patient against hostile input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "util.h"

#define BH_MAX_STAYS 16
#define BH_MAX_CHECKS 256 /* absent checks kept per patient (newest win) */
#define BH_MAX_CLAIMS 512 /* inpatient claims kept per patient (newest win) */
#define BH_SEP '\x1f'
#define BH_TZ_MS (8 * FG_MS_PER_HOUR) /* billing days are Beijing calendar days */

typedef struct {
    int64_t absent_checks, absent_window_ms, bed_only_days, keep_ms;
} bh_cfg_t;

typedef struct {
    char field[2 * FG_ALERT_STR + 4];
    char inst[FG_ALERT_STR], adm[FG_ALERT_STR];
    int64_t admit_ms, discharge_ms;
    char admit_eid[FG_ALERT_STR], discharge_eid[FG_ALERT_STR], region[FG_ALERT_STR];
    int admit_late, discharge_late;
} bh_stay_t;

/* an absent check or an inpatient claim of some stay */
typedef struct {
    char field[3 * FG_ALERT_STR + 6];
    char stay[2 * FG_ALERT_STR + 2]; /* "<inst>\x1f<adm>" */
    char eid[FG_ALERT_STR];
    int64_t t_ms, day, bed_fund_fen;
    int bed, treat, late;
} bh_rec_t;

typedef struct {
    bh_stay_t *stays;
    size_t n_stays;
    bh_rec_t *checks;
    size_t n_checks;
    bh_rec_t *claims;
    size_t n_claims;
} bh_view_t;

static const fg_conf_decl_t g_conf[] = {
    {"absent_checks", FG_CONF_INT, "2", 1, 100, 0,
     "absent_checks fires when the patient is recorded absent at this many presence checks (ward round, face "
     "verification, bed sensor) within absent_window_hours while the stay continues."},
    {"absent_window_hours", FG_CONF_INT, "48", 1, 2160, 0,
     "Span (hours, inclusive) within which absent_checks absences fire."},
    {"bed_only_days", FG_CONF_INT, "3", 1, 365, 0,
     "bed_only_days fires at this many consecutive days of the stay billed a bed but no drug, service, exam or "
     "consumable."},
    {"max_stay_days", FG_CONF_INT, "180", 1, 3650, 0,
     "Presence checks and inpatient claims are remembered this many days (plus allowed lateness) behind the "
     "patient's newest event."},
};

extern const fg_detector_t fg_det_bed_hanging;
#define SELF (&fg_det_bed_hanging)

static int bh_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    bh_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "bed_hanging: out of memory");
    snprintf(k, sizeof(k), "%sabsent_checks", prefix);
    c->absent_checks = fg_config_int(cf, k);
    snprintf(k, sizeof(k), "%sabsent_window_hours", prefix);
    c->absent_window_ms = fg_config_int(cf, k) * FG_MS_PER_HOUR;
    snprintf(k, sizeof(k), "%sbed_only_days", prefix);
    c->bed_only_days = fg_config_int(cf, k);
    snprintf(k, sizeof(k), "%smax_stay_days", prefix);
    c->keep_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    *priv = c;
    return FG_OK;
}

static void bh_destroy(void *priv) { free(priv); }

/* the admission this event belongs to, or NULL if the rule has nothing to do with it */
static const char *admission_of(const fg_event_t *ev) {
    if (ev->stream == FG_STREAM_CLAIMS)
        return ev->u.claim.visit_type == FG_VISIT_INPATIENT ? ev->u.claim.admission_id : NULL;
    if (ev->stream != FG_STREAM_INPATIENT) return NULL;
    const fg_inpatient_t *ip = &ev->u.inpatient;
    if (ip->type == FG_IP_ADMIT || ip->type == FG_IP_DISCHARGE ||
        (ip->type == FG_IP_PRESENCE_CHECK && ip->present == 0))
        return ip->admission_id;
    return NULL;
}

static void bh_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    char key[256];
    if (admission_of(ev) && fg_dctx_patient_key(dc, key, sizeof(key), "bh") > 0) fg_state_want(dc->st, key);
}

static int64_t day_of(int64_t t_ms) {
    int64_t x = t_ms + BH_TZ_MS;
    return x >= 0 ? x / FG_MS_PER_DAY : -((-x + FG_MS_PER_DAY - 1) / FG_MS_PER_DAY);
}

static void day_name(int64_t day, char *out, size_t size) {
    time_t secs = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}


static int load(const char *field, const char *val, size_t len, void *ud) {
    bh_view_t *w = ud;
    if (field[0] == '\0' || field[1] != BH_SEP) return 0;
    char id[3][FG_ALERT_STR], p[7][FG_ALERT_STR];
    int nid = fg_rec_split(field + 2, strlen(field + 2), BH_SEP, id, 3);
    if (field[0] == 's' && nid == 2 && w->n_stays < BH_MAX_STAYS + 1) {
        int np = fg_rec_split(val, len, BH_SEP, p, 7);
        if (np < 5) return 0;
        bh_stay_t *s = &w->stays[w->n_stays++];
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
        return 0;
    }
    if (nid != 3) return 0;
    bh_rec_t *r = NULL;
    if (field[0] == 'a' && w->n_checks < BH_MAX_CHECKS + 1) {
        int np = fg_rec_split(val, len, BH_SEP, p, 2);
        r = &w->checks[w->n_checks++];
        memset(r, 0, sizeof(*r));
        r->t_ms = strtoll(p[0], NULL, 10);
        r->late = np > 1 && p[1][0] == '1';
    } else if (field[0] == 'b' && w->n_claims < BH_MAX_CLAIMS + 1) {
        int np = fg_rec_split(val, len, BH_SEP, p, 6);
        if (np < 4) return 0;
        r = &w->claims[w->n_claims++];
        memset(r, 0, sizeof(*r));
        r->t_ms = strtoll(p[0], NULL, 10);
        r->bed = p[1][0] == '1';
        r->treat = p[2][0] == '1';
        r->bed_fund_fen = strtoll(p[3], NULL, 10);
        r->late = np > 5 && p[5][0] == '1';
    } else {
        return 0;
    }
    fg_alert_set(r->field, sizeof(r->field), field);
    snprintf(r->stay, sizeof(r->stay), "%s%c%s", id[0], BH_SEP, id[1]);
    fg_alert_set(r->eid, sizeof(r->eid), id[2]);
    r->day = day_of(r->t_ms);
    return 0;
}

static int by_time(const void *x, const void *y) {
    const bh_rec_t *a = *(bh_rec_t *const *)x, *b = *(bh_rec_t *const *)y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->eid, b->eid); /* ties by event id, never by arrival */
}

/* drops records older than what any non-late event can still combine with, then enforces the caps */
static void prune_recs(fg_state_t *st, const char *key, bh_rec_t *v, size_t *n, size_t cap, int64_t horizon) {
    size_t o = 0;
    for (size_t i = 0; i < *n; i++) {
        if (v[i].t_ms < horizon) {
            fg_state_hdel(st, key, v[i].field);
            continue;
        }
        if (o != i) v[o] = v[i];
        o++;
    }
    *n = o;
    while (*n > cap) {
        size_t old = 0;
        for (size_t i = 1; i < *n; i++)
            if (v[i].t_ms < v[old].t_ms) old = i;
        fg_state_hdel(st, key, v[old].field);
        v[old] = v[--*n];
    }
}

static void prune(fg_state_t *st, const char *key, bh_view_t *w, int64_t horizon) {
    size_t o = 0;
    for (size_t i = 0; i < w->n_stays; i++) {
        bh_stay_t *s = &w->stays[i];
        int64_t last = s->admit_ms > s->discharge_ms ? s->admit_ms : s->discharge_ms;
        if (last < horizon) {
            fg_state_hdel(st, key, s->field);
            continue;
        }
        if (o != i) w->stays[o] = *s;
        o++;
    }
    w->n_stays = o;
    while (w->n_stays > BH_MAX_STAYS) {
        size_t old = 0;
        for (size_t i = 1; i < w->n_stays; i++)
            if (w->stays[i].admit_ms < w->stays[old].admit_ms) old = i;
        fg_state_hdel(st, key, w->stays[old].field);
        w->stays[old] = w->stays[--w->n_stays];
    }
    prune_recs(st, key, w->checks, &w->n_checks, BH_MAX_CHECKS, horizon);
    prune_recs(st, key, w->claims, &w->n_claims, BH_MAX_CLAIMS, horizon);
}

/* what a finding needs to know about its stay, whether or not its admit/discharge arrived */
typedef struct {
    const char *stay, *inst, *adm, *region;
    const bh_stay_t *s; /* NULL if neither admit nor discharge arrived yet */
    const char *patient;
} bh_ctx_t;

static void fill_common(fg_alert_t *a, const bh_ctx_t *x) {
    a->severity = FG_SEV_HIGH;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), x->inst);
    fg_alert_set(a->region, sizeof(a->region), x->region);
    a->n_event_ids = 0;
    a->n_figures = 0;
    a->late_events = 0;
    if (x->s && x->s->admit_ms >= 0) {
        fg_alert_add_event(a, x->s->admit_eid);
        a->late_events += x->s->admit_late;
    }
}

static void absent_alerts(fg_dctx_t *dc, const bh_cfg_t *c, const bh_ctx_t *x, bh_rec_t **chk, size_t n, bh_rec_t **cl,
                          size_t ncl) {
    size_t f = 0;
    while (f < n) {
        size_t k = f;
        while (k + 1 < n && chk[k + 1]->t_ms - chk[f]->t_ms <= c->absent_window_ms) k++;
        int64_t count = (int64_t)(k - f + 1);
        if (count < c->absent_checks) {
            f++;
            continue;
        }
        char wkey[sizeof(chk[f]->stay) + FG_ALERT_STR + 2];
        snprintf(wkey, sizeof(wkey), "%s>%s", x->stay, chk[f]->eid);
        fg_alert_t *a = fg_dctx_alert(dc, SELF, "absent_checks", "patient", x->patient, wkey);
        fill_common(a, x);
        double hours = (double)(chk[k]->t_ms - chk[f]->t_ms) / (double)FG_MS_PER_HOUR;
        a->score = (double)count / (double)(count + c->absent_checks);
        a->window_start = chk[f]->t_ms;
        a->window_end = chk[k]->t_ms;
        a->event_time = chk[k]->t_ms;
        for (size_t i = f; i <= k; i++) {
            fg_alert_add_event(a, chk[i]->eid);
            a->late_events += chk[i]->late;
        }
        int64_t amount = 0;
        for (size_t i = 0; i < ncl; i++)
            if (cl[i]->bed && cl[i]->day >= chk[f]->day && cl[i]->day <= chk[k]->day) {
                amount += cl[i]->bed_fund_fen;
                fg_alert_add_event(a, cl[i]->eid);
                a->late_events += cl[i]->late;
            }
        a->amount_at_risk_fen = amount;
        fg_alert_add_figure(a, "absent_checks", (double)count, (double)c->absent_checks, ">=");
        fg_alert_add_figure(a, "span_hours", hours, (double)(c->absent_window_ms / FG_MS_PER_HOUR), "<=");
        snprintf(a->summary, sizeof(a->summary),
                 "absent at %lld presence checks within %.1f hours during stay %.64s at %.64s (threshold %lld within "
                 "%lld h)",
                 (long long)count, hours, x->adm, x->inst, (long long)c->absent_checks,
                 (long long)(c->absent_window_ms / FG_MS_PER_HOUR));
        f = k + 1;
    }
}

static void bed_only_alerts(fg_dctx_t *dc, const bh_cfg_t *c, const bh_ctx_t *x, bh_rec_t **cl, size_t n) {
    /* cl is sorted by time: fold it into days */
    size_t i = 0;
    int64_t run_first = 0, run_last = 0, run_len = 0;
    size_t run_from = 0;
    while (i <= n) {
        size_t j = i;
        int bed = 0, treat = 0;
        int64_t day = i < n ? cl[i]->day : 0;
        while (j < n && cl[j]->day == day) {
            bed |= cl[j]->bed;
            treat |= cl[j]->treat;
            j++;
        }
        int bed_only = i < n && bed && !treat;
        if (bed_only && run_len > 0 && day == run_last + 1) {
            run_last = day;
            run_len++;
        } else {
            if (run_len >= c->bed_only_days) {
                char first[16], wkey[sizeof(cl[0]->stay) + 20];
                day_name(run_first, first, sizeof(first));
                snprintf(wkey, sizeof(wkey), "%s>%s", x->stay, first);
                fg_alert_t *a = fg_dctx_alert(dc, SELF, "bed_only_days", "patient", x->patient, wkey);
                fill_common(a, x);
                int64_t amount = 0;
                for (size_t r = run_from; r < i; r++) {
                    amount += cl[r]->bed_fund_fen;
                    fg_alert_add_event(a, cl[r]->eid);
                    a->late_events += cl[r]->late;
                }
                a->score = (double)run_len / (double)(run_len + c->bed_only_days);
                a->window_start = cl[run_from]->t_ms;
                a->window_end = cl[i - 1]->t_ms;
                a->event_time = cl[i - 1]->t_ms;
                a->amount_at_risk_fen = amount;
                fg_alert_add_figure(a, "bed_only_days", (double)run_len, (double)c->bed_only_days, ">=");
                snprintf(a->summary, sizeof(a->summary),
                         "%lld consecutive days from %.64s billed a bed and no treatment during stay %.64s at %.64s "
                         "(threshold %lld days)",
                         (long long)run_len, first, x->adm, x->inst, (long long)c->bed_only_days);
            }
            run_len = 0;
            if (bed_only) {
                run_first = run_last = day;
                run_len = 1;
                run_from = i;
            }
        }
        if (i == n) break;
        i = j;
    }
}

static void store_stay(fg_state_t *st, const char *key, const bh_stay_t *s) {
    char v[4 * FG_ALERT_STR + 64];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%s%c%s%c%s%c%d%c%d", (long long)s->admit_ms, BH_SEP,
                     (long long)s->discharge_ms, BH_SEP, s->admit_eid, BH_SEP, s->discharge_eid, BH_SEP, s->region,
                     BH_SEP, s->admit_late, BH_SEP, s->discharge_late);
    fg_state_hset(st, key, s->field, v, (size_t)n);
}

/*
 * upserts this event's record (stay, absent check or claim) into the state and the view; late is the
 * watermark's verdict now, stored only the first time the event is seen (a re-read keeps the first verdict)
 */
static void record(fg_dctx_t *dc, const char *key, const fg_event_t *ev, const char *stay, int late, bh_view_t *w) {
    char field[sizeof(w->checks[0].field)], v[FG_ALERT_STR + 96];
    const char *region = ev->region ? ev->region : "";
    if (ev->stream == FG_STREAM_INPATIENT && ev->u.inpatient.type != FG_IP_PRESENCE_CHECK) {
        snprintf(field, sizeof(field), "s%c%s", BH_SEP, stay);
        bh_stay_t *s = NULL;
        for (size_t i = 0; i < w->n_stays; i++)
            if (!strcmp(w->stays[i].field, field)) s = &w->stays[i];
        if (!s) {
            s = &w->stays[w->n_stays++];
            memset(s, 0, sizeof(*s));
            fg_alert_set(s->field, sizeof(s->field), field);
            fg_alert_set(s->inst, sizeof(s->inst), ev->institution_id);
            fg_alert_set(s->adm, sizeof(s->adm), ev->u.inpatient.admission_id);
            s->admit_ms = s->discharge_ms = -1;
        }
        fg_alert_set(s->region, sizeof(s->region), region);
        if (ev->u.inpatient.type == FG_IP_ADMIT) {
            if (s->admit_ms < 0 || strcmp(s->admit_eid, ev->event_id)) s->admit_late = late;
            s->admit_ms = ev->event_time_ms;
            fg_alert_set(s->admit_eid, sizeof(s->admit_eid), ev->event_id);
        } else {
            if (s->discharge_ms < 0 || strcmp(s->discharge_eid, ev->event_id)) s->discharge_late = late;
            s->discharge_ms = ev->event_time_ms;
            fg_alert_set(s->discharge_eid, sizeof(s->discharge_eid), ev->event_id);
        }
        store_stay(dc->st, key, s);
        return;
    }
    int is_claim = ev->stream == FG_STREAM_CLAIMS;
    snprintf(field, sizeof(field), "%c%c%s%c%s", is_claim ? 'b' : 'a', BH_SEP, stay, BH_SEP, ev->event_id);
    bh_rec_t *v_arr = is_claim ? w->claims : w->checks;
    size_t *n = is_claim ? &w->n_claims : &w->n_checks;
    bh_rec_t *r = NULL;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v_arr[i].field, field)) r = &v_arr[i];
    if (r)
        late = r->late; /* seen before: keep its first verdict */
    else
        r = &v_arr[(*n)++];
    memset(r, 0, sizeof(*r));
    r->late = late;
    fg_alert_set(r->field, sizeof(r->field), field);
    fg_alert_set(r->stay, sizeof(r->stay), stay);
    fg_alert_set(r->eid, sizeof(r->eid), ev->event_id);
    r->t_ms = ev->event_time_ms;
    r->day = day_of(r->t_ms);
    int len;
    if (is_claim) {
        const fg_claim_t *c = &ev->u.claim;
        int64_t bed_amount = 0;
        for (uint32_t i = 0; i < c->n_items; i++) {
            if (c->items[i].kind == FG_ITEM_BED) {
                r->bed = 1;
                bed_amount += c->items[i].amount_fen;
            } else {
                r->treat = 1; /* DRUG, SERVICE, EXAM, CONSUMABLE */
            }
        }
        /* the fund pays the claim, not the item: the bed's share of it */
        if (c->total_fen > 0)
            r->bed_fund_fen = (int64_t)((double)c->fund_paid_fen * (double)bed_amount / (double)c->total_fen + 0.5);
        len = snprintf(v, sizeof(v), "%lld%c%d%c%d%c%lld%c%s%c%d", (long long)r->t_ms, BH_SEP, r->bed, BH_SEP,
                       r->treat, BH_SEP, (long long)r->bed_fund_fen, BH_SEP, region, BH_SEP, r->late);
    } else {
        len = snprintf(v, sizeof(v), "%lld%c%d", (long long)r->t_ms, BH_SEP, r->late);
    }
    fg_state_hset(dc->st, key, field, v, (size_t)len);
}

static void bh_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const bh_cfg_t *c = priv;
    char key[256];
    const char *adm = admission_of(ev);
    if (!adm || !ev->institution_id || fg_dctx_patient_key(dc, key, sizeof(key), "bh") <= 0) return;

    static _Thread_local bh_stay_t stays[BH_MAX_STAYS + 2];
    static _Thread_local bh_rec_t checks[BH_MAX_CHECKS + 2], claims[BH_MAX_CLAIMS + 2];
    static _Thread_local bh_rec_t *chk[BH_MAX_CHECKS + 2], *cl[BH_MAX_CLAIMS + 2];
    bh_view_t w = {stays, 0, checks, 0, claims, 0};
    fg_state_hforeach(dc->st, key, load, &w);

    char stay[sizeof(checks[0].stay)];
    snprintf(stay, sizeof(stay), "%s%c%s", ev->institution_id, BH_SEP, adm);
    int64_t maxt = 0;
    int late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    record(dc, key, ev, stay, late, &w);
    prune(dc->st, key, &w, maxt - c->keep_ms - dc->allowed_lateness_ms);
    fg_state_expire(dc->st, key, c->keep_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);

    bh_ctx_t x = {.stay = stay,
                  .inst = ev->institution_id,
                  .adm = adm,
                  .region = ev->region ? ev->region : "",
                  .patient = ev->patient_id};
    char sfield[sizeof(stays[0].field)];
    snprintf(sfield, sizeof(sfield), "s%c%s", BH_SEP, stay);
    for (size_t i = 0; i < w.n_stays; i++)
        if (!strcmp(w.stays[i].field, sfield)) x.s = &w.stays[i];
    if (x.s && x.s->region[0]) x.region = x.s->region;

    size_t ncl = 0, nchk = 0;
    for (size_t i = 0; i < w.n_claims; i++)
        if (!strcmp(w.claims[i].stay, stay)) cl[ncl++] = &w.claims[i];
    qsort(cl, ncl, sizeof(cl[0]), by_time);
    int64_t discharge = x.s && x.s->discharge_ms >= 0 ? x.s->discharge_ms : INT64_MAX;
    for (size_t i = 0; i < w.n_checks; i++)
        if (!strcmp(w.checks[i].stay, stay) && w.checks[i].t_ms < discharge) chk[nchk++] = &w.checks[i];
    qsort(chk, nchk, sizeof(chk[0]), by_time);

    if ((int64_t)nchk >= c->absent_checks) absent_alerts(dc, c, &x, chk, nchk, cl, ncl);
    if ((int64_t)ncl >= c->bed_only_days) bed_only_alerts(dc, c, &x, cl, ncl);
}

const fg_detector_t fg_det_bed_hanging = {
    .name = "bed_hanging",
    .name_zh = "挂床住院",
    .name_en = "bed hanging (admitted but absent)",
    .description = "A patient recorded absent at absent_checks presence checks within absent_window_hours while the "
                   "stay continues, or bed_only_days consecutive days of a stay billed a bed and no treatment.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INPATIENT),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = bh_init,
    .want = bh_want,
    .on_event = bh_on_event,
    .destroy = bh_destroy,
};
