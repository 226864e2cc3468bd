/*
 * readmission_burst.c - 分解住院 / 频繁住院 (split hospitalisation, frequent admission).
 *
 * Reads the inpatient stream. Per patient it keeps the stays of the last
 * burst_days (+ allowed lateness) in one Redis hash: field "<institution>\x1f<admission id>",
 * value "admit_ms\x1fdischarge_ms\x1finstitution\x1fregion\x1fadmit_event\x1fdischarge_event".
 *
 * Two patterns:
 *  - split_stay: a stay at institution I admitted within readmit_days of the
 *    discharge of an earlier stay at I. Evaluated whenever either side arrives,
 *    so admit/discharge order and lateness do not matter. Alert id: rule +
 *    patient + the two stays.
 *  - frequent_admission: >= burst_count admissions (any institution) whose
 *    admission times span <= burst_days. Alert id: rule + patient + the first
 *    stay of the window; a later admission in the same window updates that alert.
 * State keyed by stay makes re-delivery idempotent: the same event writes the same field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "util.h"

#define RA_MAX_STAYS 256 /* hostile input bound: a patient with more live stays keeps the newest */
#define RA_SEP '\x1f'

typedef struct {
    int64_t readmit_ms, burst_ms, keep_ms;
    int64_t burst_count;
} ra_cfg_t;

typedef struct {
    char field[2 * FG_ALERT_STR + 2];
    int64_t admit_ms, discharge_ms; /* -1 unknown */
    char inst[FG_ALERT_STR], region[FG_ALERT_STR];
    char admit_eid[FG_ALERT_STR], discharge_eid[FG_ALERT_STR];
} ra_stay_t;

typedef struct {
    ra_stay_t *v;
    size_t n;
} ra_stays_t;

static const fg_conf_decl_t g_conf[] = {
    {"readmit_days", FG_CONF_INT, "15", 1, 365, 0,
     "split_stay fires when a patient is re-admitted to the same institution within this many days "
     "of the previous discharge (inclusive)."},
    {"burst_count", FG_CONF_INT, "3", 2, 1000, 0,
     "frequent_admission fires at this many admissions, at any institutions, within burst_days."},
    {"burst_days", FG_CONF_INT, "90", 1, 3650, 0,
     "Span (days, inclusive) within which burst_count admissions fire frequent_admission."},
};

extern const fg_detector_t fg_det_readmission_burst;
#define SELF (&fg_det_readmission_burst)

static int ra_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    ra_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "readmission_burst: out of memory");
    snprintf(k, sizeof(k), "%sreadmit_days", prefix);
    c->readmit_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%sburst_days", prefix);
    c->burst_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%sburst_count", prefix);
    c->burst_count = fg_config_int(cf, k);
    c->keep_ms = c->burst_ms > c->readmit_ms ? c->burst_ms : c->readmit_ms;
    *priv = c;
    return FG_OK;
}

static void ra_destroy(void *priv) { free(priv); }

static int relevant(const fg_event_t *ev) {
    return ev->stream == FG_STREAM_INPATIENT &&
           (ev->u.inpatient.type == FG_IP_ADMIT || ev->u.inpatient.type == FG_IP_DISCHARGE);
}

static void ra_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    char key[256];
    if (relevant(ev) && fg_dctx_patient_key(dc, key, sizeof(key), "ra") > 0) fg_state_want(dc->st, key);
}

static int load_stay(const char *field, const char *val, size_t len, void *ud) {
    ra_stays_t *s = ud;
    if (field[0] == '~' || s->n >= RA_MAX_STAYS + 1) return 0; /* watermarks */
    char parts[6][FG_ALERT_STR];
    if (fg_rec_split(val, len, RA_SEP, parts, 6) != 6) return 0; /* foreign or corrupt value: ignore, it expires */
    ra_stay_t *st = &s->v[s->n++];
    memset(st, 0, sizeof(*st));
    fg_alert_set(st->field, sizeof(st->field), field);
    st->admit_ms = strtoll(parts[0], NULL, 10);
    st->discharge_ms = strtoll(parts[1], NULL, 10);
    fg_alert_set(st->inst, sizeof(st->inst), parts[2]);
    fg_alert_set(st->region, sizeof(st->region), parts[3]);
    fg_alert_set(st->admit_eid, sizeof(st->admit_eid), parts[4]);
    fg_alert_set(st->discharge_eid, sizeof(st->discharge_eid), parts[5]);
    return 0;
}

static void store_stay(fg_state_t *st, const char *key, const ra_stay_t *s) {
    char v[6 * FG_ALERT_STR + 64];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%s%c%s%c%s%c%s", (long long)s->admit_ms, RA_SEP,
                     (long long)s->discharge_ms, RA_SEP, s->inst, RA_SEP, s->region, RA_SEP, s->admit_eid,
                     RA_SEP, s->discharge_eid);
    fg_state_hset(st, key, s->field, v, (size_t)n);
}

static void split_alert(fg_dctx_t *dc, const ra_cfg_t *c, const fg_event_t *ev, const ra_stay_t *first,
                        const ra_stay_t *again) {
    int64_t gap = again->admit_ms - first->discharge_ms;
    char wkey[sizeof(first->field) * 2 + 2];
    snprintf(wkey, sizeof(wkey), "%s>%s", first->field, again->field);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "split_stay", "patient", ev->patient_id, wkey);
    a->severity = FG_SEV_HIGH;
    a->score = 1.0 - (double)gap / (double)(c->readmit_ms + FG_MS_PER_DAY);
    fg_alert_set(a->institution_id, sizeof(a->institution_id), again->inst);
    fg_alert_set(a->region, sizeof(a->region), again->region);
    a->window_start = first->discharge_ms;
    a->window_end = again->admit_ms;
    a->event_time = again->admit_ms;
    fg_alert_add_event(a, first->admit_eid);
    fg_alert_add_event(a, first->discharge_eid);
    fg_alert_add_event(a, again->admit_eid);
    double days = (double)gap / (double)FG_MS_PER_DAY;
    fg_alert_add_figure(a, "days_since_discharge", days, (double)(c->readmit_ms / FG_MS_PER_DAY), "<=");
    snprintf(a->summary, sizeof(a->summary),
             "re-admitted to %s %.1f days after discharge from the same institution (threshold %lld days)",
             again->inst, days, (long long)(c->readmit_ms / FG_MS_PER_DAY));
}

static int by_admit(const void *x, const void *y) {
    const ra_stay_t *a = *(ra_stay_t *const *)x, *b = *(ra_stay_t *const *)y;
    if (a->admit_ms != b->admit_ms) return a->admit_ms < b->admit_ms ? -1 : 1;
    return strcmp(a->field, b->field); /* ties broken by stay, never by arrival */
}

static void burst_emit(fg_dctx_t *dc, const ra_cfg_t *c, const fg_event_t *ev, ra_stay_t **adm, size_t f,
                       size_t k) {
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "frequent_admission", "patient", ev->patient_id, adm[f]->field);
    int64_t count = (int64_t)(k - f + 1);
    double span_days = (double)(adm[k]->admit_ms - adm[f]->admit_ms) / (double)FG_MS_PER_DAY;
    a->severity = FG_SEV_MEDIUM;
    a->score = (double)count / (double)(c->burst_count + count);
    fg_alert_set(a->institution_id, sizeof(a->institution_id), adm[k]->inst);
    fg_alert_set(a->region, sizeof(a->region), adm[k]->region);
    a->window_start = adm[f]->admit_ms;
    a->window_end = adm[k]->admit_ms;
    a->event_time = adm[k]->admit_ms;
    a->n_event_ids = 0;
    for (size_t i = f; i <= k; i++) fg_alert_add_event(a, adm[i]->admit_eid);
    fg_alert_add_figure(a, "admissions", (double)count, (double)c->burst_count, ">=");
    fg_alert_add_figure(a, "span_days", span_days, (double)(c->burst_ms / FG_MS_PER_DAY), "<=");
    snprintf(a->summary, sizeof(a->summary), "%lld admissions within %.1f days (threshold %lld within %lld days)",
             (long long)count, span_days, (long long)c->burst_count, (long long)(c->burst_ms / FG_MS_PER_DAY));
}

/*
 * Every window [adm[first] .. adm[k]] spanning <= burst_ms that contains x and
 * holds >= burst_count admissions is a finding. Windows with the same first
 * stay are one alert (the largest of them), so a patient who keeps being
 * admitted updates one alert rather than raising one per admission.
 */
static void burst_alerts(fg_dctx_t *dc, const ra_cfg_t *c, const fg_event_t *ev, ra_stays_t *s,
                         const ra_stay_t *x) {
    ra_stay_t *adm[RA_MAX_STAYS + 1];
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].admit_ms >= 0) adm[n++] = &s->v[i];
    if ((int64_t)n < c->burst_count) return;
    qsort(adm, n, sizeof(adm[0]), by_admit);

    size_t first = 0;
    long cur_first = -1, cur_k = -1;
    for (size_t k = 0; k < n; k++) {
        while (adm[k]->admit_ms - adm[first]->admit_ms > c->burst_ms) first++;
        if (x->admit_ms < adm[first]->admit_ms || x->admit_ms > adm[k]->admit_ms) continue;
        if ((int64_t)(k - first + 1) < c->burst_count) continue;
        if (cur_first >= 0 && (size_t)cur_first != first) burst_emit(dc, c, ev, adm, (size_t)cur_first, (size_t)cur_k);
        cur_first = (long)first;
        cur_k = (long)k;
    }
    if (cur_first >= 0) burst_emit(dc, c, ev, adm, (size_t)cur_first, (size_t)cur_k);
}

/* drops the stays that can no longer take part in any window */
static void prune(fg_state_t *st, const char *key, ra_stays_t *s, int64_t horizon) {
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t last = s->v[i].admit_ms > s->v[i].discharge_ms ? s->v[i].admit_ms : s->v[i].discharge_ms;
        if (last < horizon) {
            fg_state_hdel(st, key, s->v[i].field);
            continue;
        }
        if (w != i) s->v[w] = s->v[i];
        w++;
    }
    s->n = w;
    /* hostile input: more live stays than the bound; forget the oldest admissions */
    while (s->n > RA_MAX_STAYS) {
        size_t oldest = 0;
        for (size_t i = 1; i < s->n; i++)
            if (s->v[i].admit_ms < s->v[oldest].admit_ms) oldest = i;
        fg_state_hdel(st, key, s->v[oldest].field);
        s->v[oldest] = s->v[--s->n];
    }
}

static void ra_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const ra_cfg_t *c = priv;
    char key[256];
    if (!relevant(ev) || fg_dctx_patient_key(dc, key, sizeof(key), "ra") <= 0) return;
    const fg_inpatient_t *ip = &ev->u.inpatient;

    static _Thread_local ra_stay_t buf[RA_MAX_STAYS + 2];
    ra_stays_t s = {buf, 0};
    fg_state_hforeach(dc->st, key, load_stay, &s);

    char field[sizeof(buf[0].field)];
    snprintf(field, sizeof(field), "%s%c%s", ev->institution_id, RA_SEP, ip->admission_id);
    ra_stay_t *x = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].field, field)) x = &s.v[i];
    if (!x) {
        x = &s.v[s.n++];
        memset(x, 0, sizeof(*x));
        fg_alert_set(x->field, sizeof(x->field), field);
        x->admit_ms = x->discharge_ms = -1;
    }
    fg_alert_set(x->inst, sizeof(x->inst), ev->institution_id);
    fg_alert_set(x->region, sizeof(x->region), ev->region);
    if (ip->type == FG_IP_ADMIT) {
        x->admit_ms = ev->event_time_ms;
        fg_alert_set(x->admit_eid, sizeof(x->admit_eid), ev->event_id);
    } else {
        x->discharge_ms = ev->event_time_ms;
        fg_alert_set(x->discharge_eid, sizeof(x->discharge_eid), ev->event_id);
    }
    store_stay(dc->st, key, x);
    ra_stay_t cur = *x; /* prune may move x */

    /* event-time horizon: the newest event seen for the patient, minus what a window and lateness need */
    int64_t maxt = 0;
    fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    prune(dc->st, key, &s, maxt - c->keep_ms - dc->allowed_lateness_ms);
    fg_state_expire(dc->st, key, c->keep_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);

    for (size_t i = 0; i < s.n; i++) {
        const ra_stay_t *y = &s.v[i];
        if (!strcmp(y->field, cur.field) || strcmp(y->inst, cur.inst)) continue;
        if (y->discharge_ms >= 0 && cur.admit_ms >= y->discharge_ms && cur.admit_ms - y->discharge_ms <= c->readmit_ms)
            split_alert(dc, c, ev, y, &cur);
        if (cur.discharge_ms >= 0 && y->admit_ms >= cur.discharge_ms && y->admit_ms - cur.discharge_ms <= c->readmit_ms)
            split_alert(dc, c, ev, &cur, y);
    }
    if (cur.admit_ms >= 0) burst_alerts(dc, c, ev, &s, &cur);
}

const fg_detector_t fg_det_readmission_burst = {
    .name = "readmission_burst",
    .name_zh = "分解住院 / 频繁住院",
    .name_en = "split hospitalisation / frequent admission",
    .description = "Re-admission to the same institution within readmit_days of a discharge (a stay split "
                   "to bill twice), or burst_count admissions anywhere within burst_days.",
    .streams = FG_STREAM_BIT(FG_STREAM_INPATIENT),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = ra_init,
    .want = ra_want,
    .on_event = ra_on_event,
    .destroy = ra_destroy,
};
