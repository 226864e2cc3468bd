/*
 * duplicate_billing.c - 重复收费 / 超限定频次 (duplicate billing, billing above the frequency limit),
 * from the claims stream.
 *
 * The catalogue says how many times an item is billable per patient per day (daily_limit)
 * and per inpatient stay (stay_limit). "Times" is counted as the quantity summed over all
 * lines of the item (a bed-day billed as one line of quantity 3 is 3 times, as is the
 * same item on three lines of quantity 1), per local calendar day and per admission_id.
 * Two patterns:
 *  - daily: the patient's item total on one day exceeds daily_limit + tolerance.
 *    Alert key: item + day ("<code>:2026-01-03").
 *  - stay: the total over one stay exceeds stay_limit + tolerance. Alert key:
 *    item + admission ("<code>@<admission id>").
 * Items not in the catalogue, or without a limit, are not looked at (no state either).
 *
 * State: per patient + item, "db:<code>" {p:<pseudonym>}: field claim id ->
 * "qty_milli\x1ft_ms\x1ffund_fen\x1flate\x1fadmission\x1finstitution\x1fregion" (the
 * claim's lines of the item summed). Keyed by claim id, so a re-delivered claim rewrites
 * its own field and counts once. Records without an admission are kept for their day +
 * lateness; records of a stay for stay_days + lateness. Both totals and every alert are
 * recomputed from the records, so arrival order and re-delivery do not change them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "util.h"

#define DB_MAX_CLAIMS 256 /* hostile input bound: records kept per patient+item, the newest win */
#define DB_MAX_GROUPS 256 /* distinct limited items evaluated per claim */
#define DB_SEP '\x1f'
#define DB_MILLI 1000.0

typedef struct {
    double tolerance;
    int64_t stay_ms, off_ms;
} db_cfg_t;

typedef struct {
    char id[FG_ALERT_STR];
    int64_t qty_milli, t_ms, fund_fen;
    int late;
    char adm[FG_ALERT_STR], inst[FG_ALERT_STR], region[FG_ALERT_STR];
} db_rec_t;

typedef struct {
    db_rec_t *v;
    size_t n;
} db_recs_t;

typedef struct {
    const char *code;
    const fg_kb_item_t *cat;
    uint64_t h;
    int64_t qty_milli, amount_fen;
} db_group_t;

static const fg_conf_decl_t g_conf[] = {
    {"tolerance", FG_CONF_DOUBLE, "0", 0, 1000, 0,
     "Times an item may be billed above its catalogue daily_limit or stay_limit before it fires "
     "(fires when the count exceeds limit + tolerance; 0: any excess)."},
    {"stay_days", FG_CONF_INT, "90", 1, 3650, 0,
     "How long (days) the claims of an inpatient stay are kept for the stay_limit count; a stay longer than "
     "this is counted over its last stay_days."},
    {"day_offset_hours", FG_CONF_INT, "8", -12, 14, 0,
     "Offset of local time from UTC for day boundaries (8: China Standard Time)."},
};

extern const fg_detector_t fg_det_duplicate_billing;
#define SELF (&fg_det_duplicate_billing)

static int db_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    db_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "duplicate_billing: out of memory");
    snprintf(k, sizeof(k), "%stolerance", prefix);
    c->tolerance = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%sstay_days", prefix);
    c->stay_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%sday_offset_hours", prefix);
    c->off_ms = fg_config_int(cf, k) * FG_MS_PER_HOUR;
    *priv = c;
    return FG_OK;
}

static void db_destroy(void *priv) { free(priv); }




/* The claim's lines of catalogue items that have a limit, grouped by code. */
static size_t group_items(const fg_event_t *ev, const fg_kb_t *kb, db_group_t *g) {
    const fg_claim_t *cl = &ev->u.claim;
    size_t n = 0;
    for (uint32_t i = 0; i < cl->n_items; i++) {
        const fg_item_t *it = &cl->items[i];
        if (!it->code) continue;
        uint64_t h = fg_fnv1a(it->code);
        size_t j = 0;
        while (j < n && (g[j].h != h || strcmp(g[j].code, it->code))) j++;
        if (j == n) {
            const fg_kb_item_t *cat = fg_kb_item(kb, it->code);
            if (!cat || (cat->daily_limit == FG_KB_NONE && cat->stay_limit == FG_KB_NONE) || n == DB_MAX_GROUPS)
                continue;
            memset(&g[n], 0, sizeof(g[n]));
            g[n].code = it->code;
            g[n].cat = cat;
            g[n].h = h;
            n++;
        }
        g[j].qty_milli += llround(it->quantity * DB_MILLI);
        g[j].amount_fen += it->amount_fen;
    }
    return n;
}

static int relevant(const fg_event_t *ev, const fg_dctx_t *dc) {
    return ev->stream == FG_STREAM_CLAIMS && dc->patient_pseudo && ev->event_id && ev->u.claim.n_items;
}

static void db_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    if (!relevant(ev, dc)) return;
    static _Thread_local db_group_t g[DB_MAX_GROUPS];
    size_t n = group_items(ev, dc->kb, g);
    char kind[160], key[512];
    for (size_t i = 0; i < n; i++) {
        fg_key_kind(kind, sizeof(kind), "db:", g[i].code);
        if (fg_dctx_patient_key(dc, key, sizeof(key), kind) > 0) fg_state_want(dc->st, key);
    }
}

static int load_rec(const char *field, const char *val, size_t len, void *ud) {
    db_recs_t *s = ud;
    if (field[0] == '~' || s->n >= DB_MAX_CLAIMS + 1) return 0;
    char parts[7][FG_ALERT_STR];
    if (fg_rec_split(val, len, DB_SEP, parts, 7) != 7) return 0;
    db_rec_t *r = &s->v[s->n++];
    fg_alert_set(r->id, sizeof(r->id), field);
    r->qty_milli = strtoll(parts[0], NULL, 10);
    r->t_ms = strtoll(parts[1], NULL, 10);
    r->fund_fen = strtoll(parts[2], NULL, 10);
    r->late = parts[3][0] == '1';
    fg_alert_set(r->adm, sizeof(r->adm), parts[4]);
    fg_alert_set(r->inst, sizeof(r->inst), parts[5]);
    fg_alert_set(r->region, sizeof(r->region), parts[6]);
    return 0;
}

static void store_rec(fg_state_t *st, const char *key, const db_rec_t *r) {
    char v[3 * FG_ALERT_STR + 96];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%lld%c%d%c%s%c%s%c%s", (long long)r->qty_milli, DB_SEP,
                     (long long)r->t_ms, DB_SEP, (long long)r->fund_fen, DB_SEP, r->late, DB_SEP, r->adm, DB_SEP,
                     r->inst, DB_SEP, r->region);
    if (n > 0 && (size_t)n < sizeof(v)) fg_state_hset(st, key, r->id, v, (size_t)n);
}

static int by_time(const void *x, const void *y) {
    const db_rec_t *a = x, *b = y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* drops records whose day (or stay) can no longer be counted, then the oldest beyond the bound */
static void prune_recs(fg_state_t *st, const char *key, db_recs_t *s, int64_t day_horizon, int64_t stay_horizon) {
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].t_ms < (s->v[i].adm[0] ? stay_horizon : day_horizon)) {
            fg_state_hdel(st, key, s->v[i].id);
            continue;
        }
        if (w != i) s->v[w] = s->v[i];
        w++;
    }
    s->n = w;
    while (s->n > DB_MAX_CLAIMS) {
        size_t oldest = 0;
        for (size_t i = 1; i < s->n; i++)
            if (by_time(&s->v[i], &s->v[oldest]) < 0) oldest = i;
        fg_state_hdel(st, key, s->v[oldest].id);
        s->v[oldest] = s->v[--s->n];
    }
}

/* One finding over the records selected in sel (sorted by time). */
static void emit(fg_dctx_t *dc, const db_cfg_t *c, const fg_event_t *ev, const char *pattern, const char *wkey,
                 const char *code, const char *what, db_rec_t **sel, size_t n, int64_t sum, int32_t limit,
                 int64_t w_start, int64_t w_end) {
    fg_alert_t *a = fg_dctx_alert(dc, SELF, pattern, "patient", ev->patient_id, wkey);
    double times = (double)sum / DB_MILLI;
    a->severity = FG_SEV_MEDIUM;
    a->score = times > 0 ? 1.0 - (double)limit / times : 0;
    if (a->score < 0) a->score = 0;
    const db_rec_t *last = sel[n - 1];
    fg_alert_set(a->institution_id, sizeof(a->institution_id), last->inst);
    fg_alert_set(a->region, sizeof(a->region), last->region);
    a->window_start = w_start;
    a->window_end = w_end;
    a->event_time = last->t_ms;
    a->n_event_ids = 0;
    a->late_events = 0;
    int64_t fund = 0;
    for (size_t i = 0; i < n; i++) {
        fg_alert_add_event(a, sel[i]->id);
        a->late_events += sel[i]->late;
        fund += sel[i]->fund_fen;
    }
    /* only the times billed beyond the limit are money at risk */
    a->amount_at_risk_fen = times > 0 ? llround((double)fund * (times - limit) / times) : 0;
    a->n_figures = 0;
    fg_alert_add_figure(a, "times_billed", times, (double)limit + c->tolerance, ">");
    fg_alert_add_figure(a, "limit", (double)limit, (double)limit, "=");
    fg_alert_add_figure(a, "claims", (double)n, 0, ">");
    snprintf(a->summary, sizeof(a->summary), "item %.64s billed %.3f times %s (catalogue limit %d%s)", code, times,
             what, (int)limit, c->tolerance > 0 ? " + tolerance" : "");
}

static void evaluate(fg_dctx_t *dc, const db_cfg_t *c, const fg_event_t *ev, const db_group_t *g, db_recs_t *s,
                     const db_rec_t *x) {
    static _Thread_local db_rec_t *sel[DB_MAX_CLAIMS + 2];
    qsort(s->v, s->n, sizeof(s->v[0]), by_time);
    char wkey[2 * FG_ALERT_STR + 8], what[FG_ALERT_STR + 32];

    if (g->cat->daily_limit != FG_KB_NONE) {
        int64_t day = fg_floor_div(x->t_ms + c->off_ms, FG_MS_PER_DAY);
        size_t n = 0;
        int64_t sum = 0;
        for (size_t i = 0; i < s->n; i++)
            if (fg_floor_div(s->v[i].t_ms + c->off_ms, FG_MS_PER_DAY) == day) {
                sel[n++] = &s->v[i];
                sum += s->v[i].qty_milli;
            }
        if (n && (double)sum / DB_MILLI > (double)g->cat->daily_limit + c->tolerance) {
            char label[16];
            fg_day_label(day * FG_MS_PER_DAY, label);
            snprintf(wkey, sizeof(wkey), "%s:%s", g->code, label);
            snprintf(what, sizeof(what), "on %s", label);
            emit(dc, c, ev, "daily", wkey, g->code, what, sel, n, sum, g->cat->daily_limit,
                 day * FG_MS_PER_DAY - c->off_ms, (day + 1) * FG_MS_PER_DAY - c->off_ms);
        }
    }
    if (g->cat->stay_limit != FG_KB_NONE && x->adm[0]) {
        size_t n = 0;
        int64_t sum = 0;
        for (size_t i = 0; i < s->n; i++)
            if (!strcmp(s->v[i].adm, x->adm)) {
                sel[n++] = &s->v[i];
                sum += s->v[i].qty_milli;
            }
        if (n && (double)sum / DB_MILLI > (double)g->cat->stay_limit + c->tolerance) {
            snprintf(wkey, sizeof(wkey), "%s@%s", g->code, x->adm);
            snprintf(what, sizeof(what), "during stay %.64s", x->adm);
            emit(dc, c, ev, "stay", wkey, g->code, what, sel, n, sum, g->cat->stay_limit, sel[0]->t_ms,
                 sel[n - 1]->t_ms);
        }
    }
}

static void one_item(fg_dctx_t *dc, const db_cfg_t *c, const fg_event_t *ev, const db_group_t *g) {
    char kind[160], key[512];
    fg_key_kind(kind, sizeof(kind), "db:", g->code);
    if (fg_dctx_patient_key(dc, key, sizeof(key), kind) <= 0) return;

    static _Thread_local db_rec_t buf[DB_MAX_CLAIMS + 2];
    db_recs_t s = {buf, 0};
    fg_state_hforeach(dc->st, key, load_rec, &s);
    int64_t maxt = 0;
    int is_late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);

    db_rec_t *x = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].id, ev->event_id)) x = &s.v[i];
    if (!x) {
        x = &s.v[s.n++];
        memset(x, 0, sizeof(*x));
        fg_alert_set(x->id, sizeof(x->id), ev->event_id);
        x->late = is_late; /* judged at first sight; a re-delivery keeps the verdict */
    }
    x->qty_milli = g->qty_milli;
    x->t_ms = ev->event_time_ms;
    x->fund_fen = fg_fund_share(&ev->u.claim, g->amount_fen);
    fg_alert_set(x->adm, sizeof(x->adm), ev->u.claim.admission_id ? ev->u.claim.admission_id : "");
    fg_alert_set(x->inst, sizeof(x->inst), ev->institution_id ? ev->institution_id : "");
    fg_alert_set(x->region, sizeof(x->region), ev->region ? ev->region : "");
    store_rec(dc->st, key, x);

    int64_t day_keep = 2 * FG_MS_PER_DAY + dc->allowed_lateness_ms; /* a day boundary + the day + lateness */
    int64_t stay_keep = c->stay_ms + dc->allowed_lateness_ms;
    prune_recs(dc->st, key, &s, maxt - day_keep, maxt - stay_keep);
    int any_stay = 0;
    const db_rec_t *mine = NULL;
    for (size_t i = 0; i < s.n; i++) {
        any_stay |= s.v[i].adm[0] != '\0';
        if (!strcmp(s.v[i].id, ev->event_id)) mine = &s.v[i];
    }
    /* PEXPIRE replaces the TTL on each write: keep a stay's records alive whatever claim came last */
    fg_state_expire(dc->st, key, (any_stay ? stay_keep : day_keep) + FG_MS_PER_DAY);
    if (!mine) return; /* beyond every horizon: nothing of its day or stay is kept */
    db_rec_t cur = *mine; /* evaluate sorts the records */
    evaluate(dc, c, ev, g, &s, &cur);
}

static void db_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const db_cfg_t *c = priv;
    if (!relevant(ev, dc)) return;
    static _Thread_local db_group_t g[DB_MAX_GROUPS];
    size_t n = group_items(ev, dc->kb, g);
    for (size_t i = 0; i < n; i++) one_item(dc, c, ev, &g[i]);
}

const fg_detector_t fg_det_duplicate_billing = {
    .name = "duplicate_billing",
    .name_zh = "重复收费 / 超限定频次",
    .name_en = "duplicate billing / billing above the frequency limit",
    .description = "An item billed to one patient more times (quantity summed over lines) in one day than its "
                   "catalogue daily_limit, or in one inpatient stay than its stay_limit, plus tolerance.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = db_init,
    .want = db_want,
    .on_event = db_on_event,
    .destroy = db_destroy,
};
