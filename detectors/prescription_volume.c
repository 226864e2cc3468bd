/*
 * prescription_volume.c - 超量开药 (excessive prescribing), from the claims stream.
 *
 * Two patterns, both about DRUG lines:
 *  - patient_supply: a patient's days of supply of one drug over a rolling window_days
 *    (30) exceeds max_days (30) + tolerance_days (7), or the catalogue's
 *    max_days_supply + tolerance when the drug has one. A line without days_supply
 *    counts quantity / max_daily_qty days when the catalogue gives max_daily_qty,
 *    else nothing. The rolling window ending at each claim (t - window, t] is
 *    evaluated; the alert's window key is the drug + the window_days-aligned bucket
 *    (epoch-aligned in local time, labelled by its first day) holding the claim whose
 *    window exceeds. Why buckets and not "the first claim that pushed it over": the
 *    bucket depends only on that claim's own event time, so neither a late claim
 *    earlier in time nor pruning of old claims can move an alert to a new id; a
 *    patient over-supplied month after month gets one alert per bucket, updated with
 *    the worst window in it. (An excess straddling a bucket edge gives two alerts.)
 *  - institution_daily: an institution's daily volume (sum of quantity) of one drug
 *    exceeds k x its own baseline, the mean volume of the days with data among the
 *    previous baseline_days, once at least min_baseline_days have data and the day's
 *    volume is at least min_volume. Alert key: drug + local day.
 *
 * State:
 *  - per patient + drug, "pv:<drug>" {p:<pseudonym>}: field claim id ->
 *    "days_milli\x1ft_ms\x1ffund_fen\x1fqty_milli\x1flate\x1finstitution\x1fregion"
 *    (HSET per claim, so re-delivery rewrites the same field), kept 2 x window_days +
 *    lateness: evaluating a whole bucket needs the windows of its first claims, so a
 *    bucket whose windows reach before the pruning horizon is not evaluated again.
 *  - per institution + drug, "pvi:<drug>" {i:<institution>}: written by many patients'
 *    partitions, so additive: "<local day start>" -> milli-quantity (fg_window_add,
 *    HINCRBY), "f<day>" -> fund-paid share (HINCRBY), "t<day>" -> latest event time,
 *    "e<day>\x1f<claim>" -> "qty_milli\x1flate" for the PV_INST_EVIDENCE smallest claim
 *    ids of the day (the alert's evidence: a set function, so the same whatever order
 *    the patients' partitions interleave in; "the first to arrive" would not be), "~max"
 *    watermark. Volumes are kept baseline_days + 1
 *    + lateness, the other fields only for days that can still be judged (lateness), and
 *    only those days are judged: re-judging an older day from its pruned fields would
 *    re-publish its alert emptied (e.g. when a new consumer group re-reads the topic). A
 *    claim is added to the institution only when its patient record is new: the patient
 *    key is owned by one partition and written in the same MULTI/EXEC, so it is the
 *    claim-id idempotence record for the institution too, without a per-institution
 *    claim set. A claim judges its own day and the later days whose baseline it joins,
 *    so a spike that arrives before (other partitions') baseline claims still fires.
 *    The baseline mean is over days with data: a day without claims of the drug is
 *    more often a gap in what the platform has seen than a true zero.
 * Every alert is built from state only, so a re-delivered batch rebuilds the same alert
 * (suppressed by the processor) even after a crash between the Redis flush and publishing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "util.h"

#define PV_MAX_CLAIMS 256    /* hostile input bound: per patient+drug records kept, the newest win */
#define PV_MAX_GROUPS 128    /* distinct drugs evaluated per claim; a settlement with more is hostile */
#define PV_INST_EVIDENCE 16  /* claim ids kept per institution+drug+day as evidence */
#define PV_SEP '\x1f'
#define PV_MILLI 1000.0

typedef struct {
    int64_t window_ms, max_days, tol_days;
    double k, min_volume;
    int64_t baseline_days, min_baseline_days;
    int64_t off_ms;
} pv_cfg_t;

typedef struct {
    char id[FG_ALERT_STR];
    int64_t days_milli, t_ms, fund_fen, qty_milli;
    int late;
    char inst[FG_ALERT_STR], region[FG_ALERT_STR];
} pv_rec_t;

typedef struct {
    pv_rec_t *v;
    size_t n;
} pv_recs_t;

/* one drug of the claim: its lines summed */
typedef struct {
    const char *code;
    uint64_t h;
    int64_t days_milli, qty_milli, amount_fen;
} pv_group_t;

static const fg_conf_decl_t g_conf[] = {
    {"window_days", FG_CONF_INT, "30", 1, 365, 0,
     "patient_supply: length (days) of the rolling window over which a patient's days of supply of one drug "
     "are summed; also the width of the buckets that give one alert per window."},
    {"max_days", FG_CONF_INT, "30", 1, 3650, 0,
     "patient_supply: days of supply of one drug a patient may receive within window_days when the catalogue "
     "gives no max_days_supply for it."},
    {"tolerance_days", FG_CONF_INT, "7", 0, 365, 0,
     "patient_supply: days allowed above the maximum (early refills) before it fires; fires when the supply "
     "exceeds maximum + tolerance."},
    {"k", FG_CONF_DOUBLE, "3.0", 1.0, 1000.0, 0,
     "institution_daily: fires when an institution's daily volume of a drug exceeds k times its baseline."},
    {"baseline_days", FG_CONF_INT, "28", 1, 365, 0,
     "institution_daily: the baseline is the mean daily volume over the days with data among this many "
     "days before the day judged."},
    {"min_baseline_days", FG_CONF_INT, "7", 1, 365, 0,
     "institution_daily: the baseline needs at least this many days with data, else the day is not judged."},
    {"min_volume", FG_CONF_DOUBLE, "50", 0, 1e12, 0,
     "institution_daily: a day with a smaller volume (sum of quantity) of the drug never fires."},
    {"day_offset_hours", FG_CONF_INT, "8", -12, 14, 0,
     "Offset of local time from UTC for day boundaries (8: China Standard Time)."},
};

extern const fg_detector_t fg_det_prescription_volume;
#define SELF (&fg_det_prescription_volume)

static int64_t conf_int(const fg_config_t *cf, const char *prefix, const char *name) {
    char k[160];
    snprintf(k, sizeof(k), "%s%s", prefix, name);
    return fg_config_int(cf, k);
}

static double conf_double(const fg_config_t *cf, const char *prefix, const char *name) {
    char k[160];
    snprintf(k, sizeof(k), "%s%s", prefix, name);
    return fg_config_double(cf, k);
}

static int pv_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    pv_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "prescription_volume: out of memory");
    c->window_ms = conf_int(cf, prefix, "window_days") * FG_MS_PER_DAY;
    c->max_days = conf_int(cf, prefix, "max_days");
    c->tol_days = conf_int(cf, prefix, "tolerance_days");
    c->k = conf_double(cf, prefix, "k");
    c->baseline_days = conf_int(cf, prefix, "baseline_days");
    c->min_baseline_days = conf_int(cf, prefix, "min_baseline_days");
    c->min_volume = conf_double(cf, prefix, "min_volume");
    c->off_ms = conf_int(cf, prefix, "day_offset_hours") * FG_MS_PER_HOUR;
    *priv = c;
    return FG_OK;
}

static void pv_destroy(void *priv) { free(priv); }

/* ---- small helpers ---- */



static int relevant(const fg_event_t *ev, const fg_dctx_t *dc) {
    return ev->stream == FG_STREAM_CLAIMS && dc->patient_pseudo && ev->event_id;
}

/* Days of supply a line contributes, in thousandths of a day. */
static int64_t line_days_milli(const fg_item_t *it, const fg_kb_item_t *cat) {
    if (it->days_supply >= 0) return (int64_t)it->days_supply * 1000;
    if (cat && cat->max_daily_qty > 0) return llround(it->quantity / cat->max_daily_qty * PV_MILLI);
    return 0;
}

/* Groups the claim's DRUG lines by code (a drug on several lines is one contribution). */
static size_t group_drugs(const fg_event_t *ev, const fg_kb_t *kb, pv_group_t *g) {
    const fg_claim_t *cl = &ev->u.claim;
    size_t n = 0;
    for (uint32_t i = 0; i < cl->n_items; i++) {
        const fg_item_t *it = &cl->items[i];
        if (it->kind != FG_ITEM_DRUG || !it->code) continue;
        uint64_t h = fg_fnv1a(it->code);
        size_t j = 0;
        while (j < n && (g[j].h != h || strcmp(g[j].code, it->code))) j++;
        if (j == n) {
            if (n == PV_MAX_GROUPS) continue;
            memset(&g[n], 0, sizeof(g[n]));
            g[n].code = it->code;
            g[n].h = h;
            n++;
        }
        if (kb) g[j].days_milli += line_days_milli(it, fg_kb_item(kb, it->code));
        g[j].qty_milli += llround(it->quantity * PV_MILLI);
        g[j].amount_fen += it->amount_fen;
    }
    return n;
}

static void pv_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    if (!relevant(ev, dc)) return;
    static _Thread_local pv_group_t g[PV_MAX_GROUPS];
    size_t n = group_drugs(ev, NULL, g);
    char kind[160], key[512];
    for (size_t i = 0; i < n; i++) {
        fg_key_kind(kind, sizeof(kind), "pv:", g[i].code);
        if (fg_dctx_patient_key(dc, key, sizeof(key), kind) > 0) fg_state_want(dc->st, key);
        fg_key_kind(kind, sizeof(kind), "pvi:", g[i].code);
        if (fg_dctx_inst_key(dc, key, sizeof(key), kind, ev->institution_id) > 0) fg_state_want(dc->st, key);
    }
}

/* ---- patient_supply ---- */

static int load_rec(const char *field, const char *val, size_t len, void *ud) {
    pv_recs_t *s = ud;
    if (field[0] == '~' || s->n >= PV_MAX_CLAIMS + 1) return 0;
    char parts[7][FG_ALERT_STR];
    if (fg_rec_split(val, len, PV_SEP, parts, 7) != 7) return 0; /* foreign or corrupt: ignored, it expires */
    pv_rec_t *r = &s->v[s->n++];
    fg_alert_set(r->id, sizeof(r->id), field);
    r->days_milli = strtoll(parts[0], NULL, 10);
    r->t_ms = strtoll(parts[1], NULL, 10);
    r->fund_fen = strtoll(parts[2], NULL, 10);
    r->qty_milli = strtoll(parts[3], NULL, 10);
    r->late = parts[4][0] == '1';
    fg_alert_set(r->inst, sizeof(r->inst), parts[5]);
    fg_alert_set(r->region, sizeof(r->region), parts[6]);
    return 0;
}

static void store_rec(fg_state_t *st, const char *key, const pv_rec_t *r) {
    char v[2 * FG_ALERT_STR + 128];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%lld%c%lld%c%d%c%s%c%s", (long long)r->days_milli, PV_SEP,
                     (long long)r->t_ms, PV_SEP, (long long)r->fund_fen, PV_SEP, (long long)r->qty_milli, PV_SEP,
                     r->late, PV_SEP, r->inst, PV_SEP, r->region);
    if (n > 0 && (size_t)n < sizeof(v)) fg_state_hset(st, key, r->id, v, (size_t)n);
}

static int by_time(const void *x, const void *y) {
    const pv_rec_t *a = x, *b = y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->id, b->id); /* ties broken by claim id, never by arrival */
}

/* drops records no window can need any more, then the oldest beyond the bound */
static void prune_recs(fg_state_t *st, const char *key, pv_recs_t *s, int64_t horizon) {
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].t_ms < horizon) {
            fg_state_hdel(st, key, s->v[i].id);
            continue;
        }
        if (w != i) s->v[w] = s->v[i];
        w++;
    }
    s->n = w;
    while (s->n > PV_MAX_CLAIMS) {
        size_t oldest = 0;
        for (size_t i = 1; i < s->n; i++)
            if (by_time(&s->v[i], &s->v[oldest]) < 0) oldest = i;
        fg_state_hdel(st, key, s->v[oldest].id);
        s->v[oldest] = s->v[--s->n];
    }
}

static void supply_emit(fg_dctx_t *dc, const pv_cfg_t *c, const fg_event_t *ev, const char *code, int64_t bucket,
                        const pv_rec_t *r, size_t f, size_t e, int64_t sum, int64_t max_days, int from_catalogue) {
    char wkey[FG_ALERT_STR + 20], day[16];
    fg_day_label(bucket * c->window_ms, day);
    snprintf(wkey, sizeof(wkey), "%s:%s", code, day);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "patient_supply", "patient", ev->patient_id, wkey);
    int64_t limit_milli = (max_days + c->tol_days) * 1000;
    double days = (double)sum / PV_MILLI;
    a->severity = FG_SEV_MEDIUM;
    a->score = sum > 0 ? 1.0 - (double)limit_milli / (double)sum : 0.0;
    if (a->score < 0) a->score = 0;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), r[e].inst);
    fg_alert_set(a->region, sizeof(a->region), r[e].region);
    a->window_start = r[f].t_ms;
    a->window_end = r[e].t_ms;
    a->event_time = r[e].t_ms;
    a->n_event_ids = 0;
    a->late_events = 0;
    a->amount_at_risk_fen = 0;
    for (size_t i = f; i <= e; i++) {
        fg_alert_add_event(a, r[i].id);
        a->late_events += r[i].late;
        a->amount_at_risk_fen += r[i].fund_fen;
    }
    a->n_figures = 0;
    fg_alert_add_figure(a, "days_supplied", days, (double)(max_days + c->tol_days), ">");
    fg_alert_add_figure(a, "max_days", (double)max_days, (double)c->tol_days, "+");
    fg_alert_add_figure(a, "claims", (double)(e - f + 1), 0, ">");
    snprintf(a->summary, sizeof(a->summary),
             "%.3f days of drug %.64s supplied within %lld days (maximum %lld days%s + %lld days tolerance)", days,
             code, (long long)(c->window_ms / FG_MS_PER_DAY), (long long)max_days,
             from_catalogue ? " per catalogue" : "", (long long)c->tol_days);
}

/*
 * For each bucket the claim can change (its own and the next one: windows after it
 * reach window_ms forward), the worst rolling window ending at a claim of the bucket
 * is the bucket's finding. The whole bucket is judged, not just the windows holding
 * this claim, so the alert's content depends on the stored claims alone.
 */
static void supply_eval(fg_dctx_t *dc, const pv_cfg_t *c, const fg_event_t *ev, const char *code, pv_recs_t *s,
                        int64_t t_ms, int64_t horizon) {
    const fg_kb_item_t *cat = fg_kb_item(dc->kb, code);
    int from_catalogue = cat && cat->max_days_supply != FG_KB_NONE;
    int64_t max_days = from_catalogue ? cat->max_days_supply : c->max_days;
    int64_t limit_milli = (max_days + c->tol_days) * 1000;
    pv_rec_t *r = s->v;
    size_t n = s->n;
    if (!n) return;
    qsort(r, n, sizeof(r[0]), by_time);
    static _Thread_local int64_t pre[PV_MAX_CLAIMS + 3];
    pre[0] = 0;
    for (size_t i = 0; i < n; i++) pre[i + 1] = pre[i] + r[i].days_milli;

    int64_t b0 = fg_floor_div(t_ms + c->off_ms, c->window_ms);
    for (int64_t b = b0; b <= b0 + 1; b++) {
        /* Its windows reach window_ms before the bucket: if claims from there may have been
         * pruned (the claim is later than the allowed lateness), the bucket was judged while
         * complete and judging it again would re-publish its alert with less evidence. */
        if (b * c->window_ms - c->off_ms - c->window_ms < horizon) continue;
        size_t f = 0, best_f = 0, best_e = 0;
        int64_t best = -1;
        for (size_t e = 0; e < n; e++) {
            if (e + 1 < n && r[e + 1].t_ms == r[e].t_ms) continue; /* a window ends after all claims of its instant */
            if (fg_floor_div(r[e].t_ms + c->off_ms, c->window_ms) != b) continue;
            while (r[f].t_ms <= r[e].t_ms - c->window_ms) f++;
            int64_t sum = pre[e + 1] - pre[f];
            if (sum > best) {
                best = sum;
                best_f = f;
                best_e = e;
            }
        }
        if (best > limit_milli)
            supply_emit(dc, c, ev, code, b, r, best_f, best_e, best, max_days, from_catalogue);
    }
}

/* @returns 1 if the claim's record for this drug is new and kept (so it counts for the institution). */
static int patient_supply(fg_dctx_t *dc, const pv_cfg_t *c, const fg_event_t *ev, const pv_group_t *g, int *late) {
    char kind[160], key[512];
    fg_key_kind(kind, sizeof(kind), "pv:", g->code);
    if (fg_dctx_patient_key(dc, key, sizeof(key), kind) <= 0) return 0;

    static _Thread_local pv_rec_t buf[PV_MAX_CLAIMS + 2];
    pv_recs_t s = {buf, 0};
    fg_state_hforeach(dc->st, key, load_rec, &s);

    int64_t maxt = 0;
    int is_late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    pv_rec_t *x = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].id, ev->event_id)) x = &s.v[i];
    int fresh = x == NULL;
    if (fresh) {
        x = &s.v[s.n++];
        memset(x, 0, sizeof(*x));
        fg_alert_set(x->id, sizeof(x->id), ev->event_id);
        x->late = is_late; /* judged once, at first sight: a re-delivery keeps the verdict */
    }
    x->days_milli = g->days_milli;
    x->t_ms = ev->event_time_ms;
    x->qty_milli = g->qty_milli;
    x->fund_fen = fg_fund_share(&ev->u.claim, g->amount_fen);
    fg_alert_set(x->inst, sizeof(x->inst), ev->institution_id ? ev->institution_id : "");
    fg_alert_set(x->region, sizeof(x->region), ev->region ? ev->region : "");
    store_rec(dc->st, key, x);
    *late = x->late;

    int64_t keep = 2 * c->window_ms + dc->allowed_lateness_ms;
    int64_t horizon = maxt - keep; /* only grows: what is older was, or may have been, pruned */
    prune_recs(dc->st, key, &s, horizon);
    fg_state_expire(dc->st, key, keep + FG_MS_PER_DAY);
    int kept = 0;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].id, ev->event_id)) kept = 1;
    if (kept) supply_eval(dc, c, ev, g->code, &s, ev->event_time_ms, horizon);
    return fresh && kept;
}

/* ---- institution_daily ---- */

#define PV_MAX_DAYS 800 /* days a scan can cover: (baseline_days + 1) + lateness + 2, both bounded at 365 */

typedef struct {
    char id[FG_ALERT_STR];
    int late;
} pv_evid_t;

/* One pass over the institution hash: per-day figures from the horizon on, pruning older fields. */
typedef struct {
    fg_state_t *st;
    const char *key;
    int64_t horizon;    /* local day start (ms) of the first day kept */
    int64_t ev_horizon; /* first day that can still be judged: older evidence is dropped */
    size_t n_days;
    int64_t vol[PV_MAX_DAYS], fund[PV_MAX_DAYS], last_t[PV_MAX_DAYS], n_ev[PV_MAX_DAYS];
    int64_t ev_of_day;                  /* the event's day: its largest evidence field is kept */
    char ev_max[FG_ALERT_STR + 32];     /* "" when the day has none */
    /* evidence pass: the claims of one day */
    int64_t ev_day;
    pv_evid_t ev[PV_INST_EVIDENCE + 1];
    size_t n_evid;
} inst_scan_t;

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    if (!*s) return 0;
    long long v = strtoll(s, &end, 10);
    if (*end) return 0;
    *out = v;
    return 1;
}

/* field -> (tag, local day start); tag 'v' volume, 'f' fund, 't' time, 'e' evidence */
static int inst_parse(const char *field, char *tag, int64_t *day) {
    char buf[32];
    const char *num = field;
    *tag = 'v';
    if (field[0] == 'f' || field[0] == 't' || field[0] == 'e') {
        size_t l = strcspn(field + 1, "\x1f");
        if (l >= sizeof(buf)) return 0;
        memcpy(buf, field + 1, l);
        buf[l] = '\0';
        num = buf;
        *tag = field[0];
    }
    return parse_i64(num, day);
}

static int inst_field(const char *field, const char *val, size_t len, void *ud) {
    inst_scan_t *x = ud;
    char tag;
    int64_t day, v;
    (void)len;
    if (!inst_parse(field, &tag, &day)) return 0; /* the watermark, or foreign */
    /* Volumes are kept as long as a judged day's baseline reaches back; the rest (fund, time,
     * evidence: 18 fields a day) only for days that can still be judged, i.e. not late. */
    if (day < x->horizon || (tag != 'v' && day < x->ev_horizon)) {
        fg_state_hdel(x->st, x->key, field);
        return 0;
    }
    size_t i = (size_t)((day - x->horizon) / FG_MS_PER_DAY);
    if (i >= x->n_days) return 0;
    if (tag == 'e') {
        x->n_ev[i]++;
        if (day == x->ev_of_day && strcmp(field, x->ev_max) > 0) fg_alert_set(x->ev_max, sizeof(x->ev_max), field);
        return 0;
    }
    if (!parse_i64(val, &v)) return 0;
    if (tag == 'v') x->vol[i] = v;
    else if (tag == 'f') x->fund[i] = v;
    else if (v > x->last_t[i]) x->last_t[i] = v;
    return 0;
}

static int inst_evidence(const char *field, const char *val, size_t len, void *ud) {
    inst_scan_t *x = ud;
    char tag;
    int64_t day;
    if (field[0] != 'e' || !inst_parse(field, &tag, &day) || day != x->ev_day) return 0;
    const char *id = field + 1 + strcspn(field + 1, "\x1f");
    if (!*id || x->n_evid >= PV_INST_EVIDENCE) return 0;
    fg_alert_set(x->ev[x->n_evid].id, sizeof(x->ev[0].id), id + 1);
    const char *sep = memchr(val, PV_SEP, len);
    x->ev[x->n_evid].late = sep && sep[1] == '1';
    x->n_evid++;
    return 0;
}

static int by_id(const void *x, const void *y) {
    return strcmp(((const pv_evid_t *)x)->id, ((const pv_evid_t *)y)->id);
}

/* Judges day index d of the scan; everything comes from state, so any event of the
 * day or of its baseline rebuilds the same alert. */
static void inst_judge(fg_dctx_t *dc, const pv_cfg_t *c, const fg_event_t *ev, const char *code, inst_scan_t *x,
                       size_t d) {
    int64_t base_sum = 0, base_days = 0;
    size_t from = d > (size_t)c->baseline_days ? d - (size_t)c->baseline_days : 0;
    for (size_t i = from; i < d; i++)
        if (x->vol[i] > 0) {
            base_sum += x->vol[i];
            base_days++;
        }
    if (base_days < c->min_baseline_days || base_days <= 0) return;
    double vol = (double)x->vol[d] / PV_MILLI;
    double mean = (double)base_sum / PV_MILLI / (double)base_days;
    if (vol < c->min_volume || vol <= c->k * mean) return;

    int64_t day_start = x->horizon + (int64_t)d * FG_MS_PER_DAY;
    x->ev_day = day_start;
    x->n_evid = 0;
    fg_state_hforeach(dc->st, x->key, inst_evidence, x);

    char wkey[FG_ALERT_STR + 20], day[16];
    fg_day_label(day_start, day);
    snprintf(wkey, sizeof(wkey), "%s:%s", code, day);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "institution_daily", "institution", ev->institution_id, wkey);
    double ratio = vol / mean;
    a->severity = FG_SEV_HIGH;
    a->score = 1.0 - c->k / ratio;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region ? ev->region : "");
    a->window_start = day_start - c->off_ms;
    a->window_end = day_start - c->off_ms + FG_MS_PER_DAY;
    a->event_time = x->last_t[d];
    qsort(x->ev, x->n_evid, sizeof(x->ev[0]), by_id);
    a->n_event_ids = 0;
    a->late_events = 0;
    for (size_t i = 0; i < x->n_evid; i++) {
        fg_alert_add_event(a, x->ev[i].id);
        a->late_events += x->ev[i].late;
    }
    /* the money above the institution's normal volume */
    a->amount_at_risk_fen = llround((double)x->fund[d] * (vol - mean) / vol);
    a->n_figures = 0;
    fg_alert_add_figure(a, "daily_volume", vol, c->k * mean, ">");
    fg_alert_add_figure(a, "ratio_to_baseline", ratio, c->k, ">");
    fg_alert_add_figure(a, "baseline_mean", mean, 0, ">");
    fg_alert_add_figure(a, "baseline_days_with_data", (double)base_days, (double)c->min_baseline_days, ">=");
    fg_alert_add_figure(a, "min_volume", vol, c->min_volume, ">=");
    snprintf(a->summary, sizeof(a->summary),
             "%.3f units of drug %.64s dispensed on %s, %.2f x the trailing mean of %.3f over %lld days with data "
             "(threshold %.2f x)",
             vol, code, day, ratio, mean, (long long)base_days, c->k);
}

/*
 * Adds the claim's volume to its day (when count) and judges every day whose verdict it
 * can change: its own, and the following baseline_days whose baseline it is part of
 * (usually none exist yet: a claim late against other patients' claims still gets those
 * days judged with it, so the outcome does not depend on partition interleaving).
 */
static void inst_daily(fg_dctx_t *dc, const pv_cfg_t *c, const fg_event_t *ev, const pv_group_t *g, int count,
                       int late) {
    char kind[160], key[512];
    fg_key_kind(kind, sizeof(kind), "pvi:", g->code);
    if (fg_dctx_inst_key(dc, key, sizeof(key), kind, ev->institution_id) <= 0) return;

    int64_t maxt = 0;
    fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    int64_t keep = (c->baseline_days + 1) * FG_MS_PER_DAY + dc->allowed_lateness_ms;
    int64_t ttl = keep + FG_MS_PER_DAY;
    fg_state_expire(dc->st, key, ttl); /* the watermark may have been written */

    static _Thread_local inst_scan_t x;
    x.st = dc->st;
    x.key = key;
    x.horizon = fg_floor_div(maxt + c->off_ms - keep, FG_MS_PER_DAY) * FG_MS_PER_DAY;
    int64_t last_day = fg_floor_div(maxt + c->off_ms, FG_MS_PER_DAY) * FG_MS_PER_DAY;
    x.ev_horizon = fg_floor_div(maxt + c->off_ms - dc->allowed_lateness_ms, FG_MS_PER_DAY) * FG_MS_PER_DAY;
    x.n_days = (size_t)((last_day - x.horizon) / FG_MS_PER_DAY + 1);
    if (x.n_days > PV_MAX_DAYS) x.n_days = PV_MAX_DAYS;
    int64_t day = fg_floor_div(ev->event_time_ms + c->off_ms, FG_MS_PER_DAY) * FG_MS_PER_DAY;
    if (day < x.horizon) return; /* later than any baseline still kept: neither counted nor judged */
    size_t d = (size_t)((day - x.horizon) / FG_MS_PER_DAY);
    if (d >= x.n_days) return;
    memset(x.vol, 0, x.n_days * sizeof(x.vol[0]));
    memset(x.fund, 0, x.n_days * sizeof(x.fund[0]));
    memset(x.last_t, 0, x.n_days * sizeof(x.last_t[0]));
    memset(x.n_ev, 0, x.n_days * sizeof(x.n_ev[0]));
    x.ev_of_day = day;
    x.ev_max[0] = '\0';
    fg_state_hforeach(dc->st, key, inst_field, &x);

    /* Only days from ev_horizon on are judged: an older day's fund, time and evidence fields
     * are pruned (above, or by an earlier scan: the watermark only grows), so judging it again
     * would rebuild its alert emptied (no events, no money) and re-publish it over the full one,
     * e.g. when a new consumer group re-reads the topic into the same Redis. Its volume still
     * counts in later days' baselines; its verdict was given while it could be. */
    int judgeable = day >= x.ev_horizon;
    if (count) {
        char field[FG_ALERT_STR + 32], v[48];
        int64_t fund = fg_fund_share(&ev->u.claim, g->amount_fen);
        fg_window_add(dc->st, key, FG_MS_PER_DAY, ev->event_time_ms + c->off_ms, g->qty_milli, ttl);
        x.vol[d] += g->qty_milli;
        snprintf(field, sizeof(field), "f%lld", (long long)day);
        if (fund && judgeable) fg_state_hincrby(dc->st, key, field, fund);
        x.fund[d] += fund;
        if (judgeable && ev->event_time_ms > x.last_t[d]) {
            /* a plain max: a concurrent writer can only make it lag, and it is shown, not judged */
            snprintf(field, sizeof(field), "t%lld", (long long)day);
            fg_state_hset_int(dc->st, key, field, ev->event_time_ms);
            x.last_t[d] = ev->event_time_ms;
        }
        snprintf(field, sizeof(field), "e%lld%c%s", (long long)day, PV_SEP, ev->event_id);
        /* the day's evidence is its PV_INST_EVIDENCE smallest claim ids: a full set makes room
         * for a smaller id by dropping its largest (fields of one day differ only in the id) */
        if (judgeable && x.n_ev[d] >= PV_INST_EVIDENCE && x.ev_max[0] && strcmp(field, x.ev_max) < 0) {
            fg_state_hdel(dc->st, key, x.ev_max);
            x.n_ev[d]--;
        }
        if (judgeable && x.n_ev[d] < PV_INST_EVIDENCE) {
            int n = snprintf(v, sizeof(v), "%lld%c%d", (long long)g->qty_milli, PV_SEP, late);
            fg_state_hset(dc->st, key, field, v, (size_t)n);
            x.n_ev[d]++;
        }
    }
    size_t first_judged = (size_t)((x.ev_horizon - x.horizon) / FG_MS_PER_DAY); /* ev_horizon >= horizon */
    size_t end = d + (size_t)c->baseline_days;
    if (end >= x.n_days) end = x.n_days - 1;
    for (size_t i = d > first_judged ? d : first_judged; i <= end; i++)
        if (x.vol[i] > 0) inst_judge(dc, c, ev, g->code, &x, i);
}

static void pv_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const pv_cfg_t *c = priv;
    if (!relevant(ev, dc)) return;
    static _Thread_local pv_group_t g[PV_MAX_GROUPS];
    size_t n = group_drugs(ev, dc->kb, g);
    for (size_t i = 0; i < n; i++) {
        int late = 0;
        int count = patient_supply(dc, c, ev, &g[i], &late);
        if (ev->institution_id) inst_daily(dc, c, ev, &g[i], count, late);
    }
}

const fg_detector_t fg_det_prescription_volume = {
    .name = "prescription_volume",
    .name_zh = "超量开药",
    .name_en = "excessive prescribing",
    .description = "A patient's days of supply of one drug over a rolling window_days exceeds max_days (or the "
                   "catalogue's max_days_supply) + tolerance_days; or an institution's daily volume of a drug "
                   "exceeds k x its own trailing baseline.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = pv_init,
    .want = pv_want,
    .on_event = pv_on_event,
    .destroy = pv_destroy,
};
