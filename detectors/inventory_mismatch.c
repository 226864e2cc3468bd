/*
 * inventory_mismatch.c - 串换药品 / 进销存不符 (insured sales of a drug exceed what the institution bought).
 *
 * Reads claims (keyed by patient: one institution's sales arrive from every patient partition) and
 * invoicing (keyed by institution). Per institution + drug and per event-time window of window_days
 * (fixed windows aligned to Beijing-time day 0 of the epoch, so a window and its alert id are the
 * same in every replay; a rolling window would need per-sale history to know what leaves it), it
 * compares insured sales (quantity of DRUG items on claims) with supply = purchases - returns +
 * opening stock, and fires when sales > supply + tolerance + tolerance_pct of supply: the
 * institution billed the fund for more boxes than it ever had (substituted or fictitious billing).
 *
 * State, one hash per institution + drug, kind "im", id "<institution>|<drug>":
 *   "s<day_ms>"               -> insured quantity sold that day, in thousandths (HINCRBY)
 *   "f<day_ms>"               -> fund-paid share of those sales, fen (HINCRBY)
 *   "l<day_ms>"               -> how many of that day's counted claims were late (HINCRBY)
 *   "p\x1f<event>\x1f<item>"    -> "t_ms\x1fqty_milli\x1flate"   purchase   (one field per invoicing line)
 *   "r\x1f<event>\x1f<item>"    -> "t_ms\x1fqty_milli\x1flate"   return to supplier
 *   "k\x1f<event>\x1f<item>"    -> "t_ms\x1fqty_milli\x1flate"   stocktake
 *   "~max"                    -> watermark
 * and per patient, kind "imx": "<claim id>" -> t_ms, the claims already counted.
 *
 * Why counters plus a per-patient "seen" set: a busy pharmacy sells a common drug hundreds of times a
 * window, so one field per sale would make every claim fetch thousands of fields. Sales are instead
 * summed per day (HINCRBY, additive across processes), and re-delivery is made harmless by the
 * patient's small set of counted claim ids, written in the same MULTI/EXEC as the increments: a
 * re-delivered claim finds its id and adds nothing. Invoicing is low-volume, so each line is its own
 * idempotent field. The seen set covers re-delivery within allowed lateness (+1 day).
 *
 * Lateness is judged once, when an event is first seen, against what its own source partition had
 * brought to the key before (fg_dctx_watermark: the same verdict however the patients' partitions
 * interleave), and kept: a line stores its flag, a claim adds
 * to its day's "l" counter only when it is counted (never on re-delivery). late_events (late sales of
 * the window + late lines among the evidence) is computed from what is stored, so a full re-read, which
 * finds the watermark already past the old events, reproduces the same alert and publishes nothing new.
 *
 * Opening stock of a window: the latest stocktake at or before its start; if none, the earliest
 * stocktake inside it (which over-states supply a little: conservative).
 *
 * When a window is judged: only once its supply side is complete, i.e. the institution's invoicing
 * stream (one ordered partition per institution) has reported an event at or after the window's end:
 * per institution, kind "imw", field "~max". Judging earlier would flag every sale whose purchase
 * record is merely still in flight on a lagging topic. Missing sales only make the figure smaller, so
 * late claims are simply added and re-judge their (already complete) window, updating the same alert.
 * Each event of a drug judges its own window and the one before it, so a window is judged at the
 * first event of that drug at the institution after its supply side completes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"

#define IM_MAX_LINES 512 /* invoicing lines kept per institution + drug (newest win) */
#define IM_MAX_SEEN 256  /* counted claim ids kept per patient (newest win) */
#define IM_MAX_DRUGS 64  /* distinct drugs of one event evaluated (hostile input bound) */
#define IM_SEP '\x1f'
#define IM_TZ_MS (8 * FG_MS_PER_HOUR) /* windows follow Beijing calendar days */

typedef struct {
    int64_t window_ms;
    double tolerance, tolerance_pct;
    int require_invoicing;
} im_cfg_t;

typedef struct {
    char field[2 * FG_ALERT_STR + 24];
    char eid[FG_ALERT_STR];
    char type; /* 'p', 'r', 'k' */
    int64_t t_ms, qty_milli;
    int late; /* judged at first sight of the line */
} im_line_t;

typedef struct {
    int64_t day_ms, qty_milli, fund_fen, late; /* late: counted claims of the day that were late */
} im_day_t;

#define IM_MAX_DAYS 512

typedef struct {
    im_line_t *lines;
    size_t n_lines;
    im_day_t *sales; /* one entry per "s" or "f" field, merged by day */
    size_t n_sales;
} im_view_t;

static const fg_conf_decl_t g_conf[] = {
    {"window_days", FG_CONF_INT, "30", 1, 366, 0,
     "Length of the fixed event-time windows (aligned to Beijing calendar days) over which sales are compared "
     "with purchases, returns and opening stock."},
    {"tolerance", FG_CONF_DOUBLE, "0", 0, 1e9, 0,
     "Units a window's insured sales may exceed supply (purchases - returns + opening stock) before firing."},
    {"tolerance_pct", FG_CONF_DOUBLE, "5", 0, 1000, 0,
     "Further allowance, in percent of supply (loose units, rounding of split packs)."},
    {"require_invoicing", FG_CONF_BOOL, "true", 0, 0, 0,
     "Only judge a drug at an institution that reported at least one purchase, return or stocktake of it: "
     "an institution that does not report 进销存 at all would otherwise flag every sale."},
};

extern const fg_detector_t fg_det_inventory_mismatch;
#define SELF (&fg_det_inventory_mismatch)

static int im_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    im_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "inventory_mismatch: out of memory");
    snprintf(k, sizeof(k), "%swindow_days", prefix);
    c->window_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%stolerance", prefix);
    c->tolerance = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%stolerance_pct", prefix);
    c->tolerance_pct = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%srequire_invoicing", prefix);
    c->require_invoicing = fg_config_bool(cf, k);
    *priv = c;
    return FG_OK;
}

static void im_destroy(void *priv) { free(priv); }

/* start of the bucket of size b containing t, buckets aligned to Beijing midnight */
static int64_t bucket(int64_t t, int64_t b) {
    int64_t x = t + IM_TZ_MS, r = x % b;
    if (r < 0) r += b;
    return x - r - IM_TZ_MS;
}

static int relevant_inv(const fg_event_t *ev) {
    fg_inv_type_t t = ev->u.invoicing.type;
    return t == FG_INV_PURCHASE || t == FG_INV_RETURN || t == FG_INV_STOCKTAKE;
}

static int drug_key(const fg_dctx_t *dc, char *buf, size_t size, const char *inst, const char *drug) {
    char id[2 * FG_ALERT_STR + 2];
    if (snprintf(id, sizeof(id), "%s|%s", inst, drug) >= (int)sizeof(id)) return -1;
    return fg_state_key(dc->st, buf, size, "im", 'i', id);
}

/* the event's distinct drug codes (first IM_MAX_DRUGS) */
static size_t drugs_of(const fg_event_t *ev, const char **out) {
    const fg_item_t *items = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.items : ev->u.invoicing.items;
    uint32_t n = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.n_items : ev->u.invoicing.n_items;
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < IM_MAX_DRUGS; i++) {
        if (items[i].kind != FG_ITEM_DRUG || !items[i].code) continue;
        size_t j = 0;
        while (j < k && strcmp(out[j], items[i].code)) j++;
        if (j == k) out[k++] = items[i].code;
    }
    return k;
}

static void im_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    char key[512];
    const char *drugs[IM_MAX_DRUGS];
    if (!ev->institution_id || (ev->stream == FG_STREAM_INVOICING && !relevant_inv(ev))) return;
    size_t n = drugs_of(ev, drugs);
    if (!n) return;
    if (ev->stream == FG_STREAM_CLAIMS && fg_dctx_patient_key(dc, key, sizeof(key), "imx") > 0)
        fg_state_want(dc->st, key);
    if (fg_dctx_inst_key(dc, key, sizeof(key), "imw", ev->institution_id) > 0) fg_state_want(dc->st, key);
    for (size_t i = 0; i < n; i++)
        if (drug_key(dc, key, sizeof(key), ev->institution_id, drugs[i]) > 0) fg_state_want(dc->st, key);
}

static int64_t parse_i64(const char *s) { return strtoll(s, NULL, 10); }

static int load(const char *field, const char *val, size_t len, void *ud) {
    im_view_t *w = ud;
    (void)len;
    if ((field[0] == 's' || field[0] == 'f' || field[0] == 'l') && field[1] >= '0' && field[1] <= '9') {
        int64_t day = parse_i64(field + 1);
        size_t i = 0;
        while (i < w->n_sales && w->sales[i].day_ms != day) i++;
        if (i == w->n_sales) {
            if (w->n_sales >= IM_MAX_DAYS) return 0;
            w->sales[w->n_sales++] = (im_day_t){day, 0, 0, 0};
        }
        if (field[0] == 's')
            w->sales[i].qty_milli = parse_i64(val);
        else if (field[0] == 'f')
            w->sales[i].fund_fen = parse_i64(val);
        else
            w->sales[i].late = parse_i64(val);
        return 0;
    }
    if ((field[0] == 'p' || field[0] == 'r' || field[0] == 'k') && field[1] == IM_SEP &&
        w->n_lines < IM_MAX_LINES + 1) {
        const char *sep = memchr(val, IM_SEP, len);
        if (!sep) return 0;
        im_line_t *l = &w->lines[w->n_lines++];
        fg_alert_set(l->field, sizeof(l->field), field);
        const char *e = field + 2, *end = strchr(e, IM_SEP);
        size_t el = end ? (size_t)(end - e) : strlen(e);
        if (el >= sizeof(l->eid)) el = sizeof(l->eid) - 1;
        memcpy(l->eid, e, el);
        l->eid[el] = '\0';
        l->type = field[0];
        l->t_ms = parse_i64(val);
        l->qty_milli = parse_i64(sep + 1);
        const char *sep2 = memchr(sep + 1, IM_SEP, len - (size_t)(sep + 1 - val));
        l->late = sep2 && (size_t)(sep2 + 1 - val) < len && sep2[1] == '1'; /* older lines without a flag: not late */
    }
    return 0;
}

static int64_t to_milli(double q) { return q > 0 ? (int64_t)llround(q * 1000.0) : 0; }

static void prune(fg_state_t *st, const char *key, im_view_t *w, int64_t oldest_window) {
    /* the stocktake that opens the oldest live window must survive */
    int64_t keep_k = INT64_MIN;
    for (size_t i = 0; i < w->n_lines; i++)
        if (w->lines[i].type == 'k' && w->lines[i].t_ms <= oldest_window && w->lines[i].t_ms > keep_k)
            keep_k = w->lines[i].t_ms;
    size_t o = 0;
    for (size_t i = 0; i < w->n_lines; i++) {
        im_line_t *l = &w->lines[i];
        if (l->t_ms < oldest_window && !(l->type == 'k' && l->t_ms == keep_k)) {
            fg_state_hdel(st, key, l->field);
            continue;
        }
        if (o != i) w->lines[o] = *l;
        o++;
    }
    w->n_lines = o;
    while (w->n_lines > IM_MAX_LINES) {
        size_t old = 0;
        for (size_t i = 1; i < w->n_lines; i++)
            if (w->lines[i].t_ms < w->lines[old].t_ms) old = i;
        fg_state_hdel(st, key, w->lines[old].field);
        w->lines[old] = w->lines[--w->n_lines];
    }
    o = 0;
    for (size_t i = 0; i < w->n_sales; i++) {
        if (w->sales[i].day_ms < oldest_window) {
            char f[32];
            snprintf(f, sizeof(f), "s%lld", (long long)w->sales[i].day_ms);
            fg_state_hdel(st, key, f);
            f[0] = 'f';
            fg_state_hdel(st, key, f);
            f[0] = 'l';
            fg_state_hdel(st, key, f);
            continue;
        }
        w->sales[o++] = w->sales[i];
    }
    w->n_sales = o;
}

static int by_eid(const void *x, const void *y) {
    const im_line_t *a = *(im_line_t *const *)x, *b = *(im_line_t *const *)y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->field, b->field);
}

static void evaluate(fg_dctx_t *dc, const im_cfg_t *c, const fg_event_t *ev, const char *drug, const im_view_t *w,
                     int64_t ws) {
    int64_t we = ws + c->window_ms;
    int64_t sales = 0, fund = 0, purchases = 0, returns = 0, latest = INT64_MIN, late = 0;
    for (size_t i = 0; i < w->n_sales; i++)
        if (w->sales[i].day_ms >= ws && w->sales[i].day_ms < we) {
            sales += w->sales[i].qty_milli;
            fund += w->sales[i].fund_fen;
            late += w->sales[i].late;
            if (w->sales[i].day_ms > latest) latest = w->sales[i].day_ms;
        }
    if (sales <= 0) return;
    if (c->require_invoicing && !w->n_lines) return;

    const im_line_t *before = NULL, *inside = NULL; /* latest stocktake <= ws, earliest inside the window */
    const im_line_t *ev_lines[IM_MAX_LINES + 2];
    size_t ne = 0;
    for (size_t i = 0; i < w->n_lines; i++) {
        const im_line_t *l = &w->lines[i];
        if (l->type == 'k') {
            if (l->t_ms <= ws) {
                if (!before || by_eid(&l, &before) > 0) before = l;
            } else if (l->t_ms < we) {
                if (!inside || by_eid(&l, &inside) < 0) inside = l;
            }
            continue;
        }
        if (l->t_ms < ws || l->t_ms >= we) continue;
        if (l->type == 'p')
            purchases += l->qty_milli;
        else
            returns += l->qty_milli;
        ev_lines[ne++] = l;
    }
    const im_line_t *open = before ? before : inside;
    int64_t stock = open ? open->qty_milli : 0;
    int64_t supply = purchases - returns + stock;
    double allowed =
        (double)supply + c->tolerance * 1000.0 + (supply > 0 ? (double)supply * c->tolerance_pct / 100.0 : 0);
    if ((double)sales <= allowed + 1e-6) return;

    int64_t excess = sales - (supply > 0 ? supply : 0);
    char wname[16], wkey[FG_ALERT_STR + 20];
    time_t secs = (time_t)((ws + IM_TZ_MS) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(wname, sizeof(wname), "%Y-%m-%d", &tm);
    snprintf(wkey, sizeof(wkey), "%s%c%s", drug, IM_SEP, wname);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "sales_exceed_supply", "institution", ev->institution_id, wkey);
    a->severity = supply <= 0 ? FG_SEV_HIGH : FG_SEV_MEDIUM;
    a->score = (double)excess / (double)(excess + (supply > 0 ? supply : 0) + 1);
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region ? ev->region : "");
    a->window_start = ws;
    a->window_end = we;
    int64_t et = latest; /* sales are known per day: the start of the latest day with sales */
    a->n_event_ids = 0;
    if (open) {
        fg_alert_add_event(a, open->eid);
        late += open->late;
        if (open->t_ms > et) et = open->t_ms;
    }
    qsort(ev_lines, ne, sizeof(ev_lines[0]), by_eid);
    for (size_t i = 0; i < ne; i++) {
        fg_alert_add_event(a, ev_lines[i]->eid);
        late += ev_lines[i]->late;
        if (ev_lines[i]->t_ms > et) et = ev_lines[i]->t_ms;
    }
    a->event_time = et;
    a->n_figures = 0;
    fg_alert_add_figure(a, "insured_sales_qty", (double)sales / 1000.0, allowed / 1000.0, ">");
    fg_alert_add_figure(a, "purchased_qty", (double)purchases / 1000.0, 0, ">=");
    fg_alert_add_figure(a, "returned_qty", (double)returns / 1000.0, 0, ">=");
    fg_alert_add_figure(a, "opening_stock_qty", (double)stock / 1000.0, 0, ">=");
    fg_alert_add_figure(a, "excess_qty", (double)excess / 1000.0, 0, ">");
    /* the fund paid for the boxes that were never there: excess x the window's fund share per unit */
    a->amount_at_risk_fen = (int64_t)((double)fund * (double)excess / (double)sales + 0.5);
    /* stored first-sight verdicts only: re-processing events the watermark has passed changes nothing */
    a->late_events = late > INT32_MAX ? INT32_MAX : (int32_t)late;
    snprintf(a->summary, sizeof(a->summary),
             "insured sales of %.64s at %.64s in the %lld days from %.64s: %.3f units, more than supply %.3f "
             "(purchases %.3f "
             "- returns %.3f + opening stock %.3f)",
             drug, ev->institution_id, (long long)(c->window_ms / FG_MS_PER_DAY), wname, (double)sales / 1000.0,
             (double)supply / 1000.0, (double)purchases / 1000.0, (double)returns / 1000.0, (double)stock / 1000.0);
}

typedef struct {
    char f[FG_ALERT_STR];
    int64_t t;
} im_seen_t;

typedef struct {
    im_seen_t *v;
    size_t n;
} im_seen_view_t;

static int load_seen(const char *field, const char *val, size_t len, void *ud) {
    im_seen_view_t *s = ud;
    (void)len;
    if (field[0] == '~' || s->n >= IM_MAX_SEEN + 1) return 0; /* watermarks */
    fg_alert_set(s->v[s->n].f, sizeof(s->v[0].f), field);
    s->v[s->n++].t = parse_i64(val);
    return 0;
}

/* Records the claim in the patient's set of counted claims. @returns 1 if it was counted before (re-delivery). */
static int seen_before(fg_dctx_t *dc, const fg_event_t *ev) {
    char key[256];
    if (fg_dctx_patient_key(dc, key, sizeof(key), "imx") <= 0) return 0;
    if (fg_state_hget(dc->st, key, ev->event_id, NULL)) return 1;
    static _Thread_local im_seen_t buf[IM_MAX_SEEN + 2];
    im_seen_view_t s = {buf, 0};
    fg_state_hforeach(dc->st, key, load_seen, &s);
    fg_state_hset_int(dc->st, key, ev->event_id, ev->event_time_ms);
    int64_t maxt = 0;
    fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
    /* re-delivery happens within allowed lateness: older ids can go; the cap bounds hostile input */
    int64_t horizon = maxt - dc->allowed_lateness_ms - FG_MS_PER_DAY;
    size_t o = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].t < horizon) {
            fg_state_hdel(dc->st, key, s.v[i].f);
            continue;
        }
        s.v[o++] = s.v[i];
    }
    s.n = o;
    while (s.n >= IM_MAX_SEEN) {
        size_t old = 0;
        for (size_t i = 1; i < s.n; i++)
            if (s.v[i].t < s.v[old].t) old = i;
        fg_state_hdel(dc->st, key, s.v[old].f);
        s.v[old] = s.v[--s.n];
    }
    fg_state_expire(dc->st, key, dc->allowed_lateness_ms + 2 * FG_MS_PER_DAY);
    return 0;
}

static void im_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const im_cfg_t *c = priv;
    const char *drugs[IM_MAX_DRUGS];
    if (!ev->institution_id || (ev->stream == FG_STREAM_INVOICING && !relevant_inv(ev))) return;
    size_t nd = drugs_of(ev, drugs);
    if (!nd) return;
    int is_claim = ev->stream == FG_STREAM_CLAIMS;
    int counted = is_claim && seen_before(dc, ev);
    const fg_item_t *items = is_claim ? ev->u.claim.items : ev->u.invoicing.items;
    uint32_t n_items = is_claim ? ev->u.claim.n_items : ev->u.invoicing.n_items;
    int64_t day = bucket(ev->event_time_ms, FG_MS_PER_DAY), ws = bucket(ev->event_time_ms, c->window_ms);
    char tcode = 0;
    if (!is_claim)
        tcode = ev->u.invoicing.type == FG_INV_PURCHASE ? 'p' : ev->u.invoicing.type == FG_INV_RETURN ? 'r' : 'k';

    /* how far the institution's invoicing stream has got: windows ending by then have their supply side */
    char wkey[512];
    int64_t inv_wm = INT64_MIN;
    if (fg_dctx_inst_key(dc, wkey, sizeof(wkey), "imw", ev->institution_id) > 0) {
        if (fg_state_hget(dc->st, wkey, FG_WATERMARK_FIELD, NULL))
            inv_wm = fg_state_hget_int(dc->st, wkey, FG_WATERMARK_FIELD);
        if (!is_claim) {
            if (ev->event_time_ms > inv_wm) {
                fg_state_hset_int(dc->st, wkey, FG_WATERMARK_FIELD, ev->event_time_ms);
                inv_wm = ev->event_time_ms;
            }
            fg_state_expire(dc->st, wkey, 2 * c->window_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);
        }
    }

    static _Thread_local im_line_t lines[IM_MAX_LINES + 2];
    static _Thread_local im_day_t days[IM_MAX_DAYS + 1];
    for (size_t d = 0; d < nd; d++) {
        char key[512];
        if (drug_key(dc, key, sizeof(key), ev->institution_id, drugs[d]) <= 0) continue;
        im_view_t w = {lines, 0, days, 0};
        fg_state_hforeach(dc->st, key, load, &w);
        int64_t maxt = 0;
        int late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);

        int late_counted = 0;
        for (uint32_t i = 0; i < n_items; i++) {
            const fg_item_t *it = &items[i];
            if (it->kind != FG_ITEM_DRUG || !it->code || strcmp(it->code, drugs[d])) continue;
            int64_t q = to_milli(it->quantity);
            if (is_claim) {
                if (counted) continue;
                int64_t share = 0;
                if (ev->u.claim.total_fen > 0)
                    share = (int64_t)((double)ev->u.claim.fund_paid_fen * (double)it->amount_fen /
                                          (double)ev->u.claim.total_fen +
                                      0.5);
                char f[32];
                snprintf(f, sizeof(f), "s%lld", (long long)day);
                fg_state_hincrby(dc->st, key, f, q);
                f[0] = 'f';
                fg_state_hincrby(dc->st, key, f, share);
                size_t k = 0;
                while (k < w.n_sales && w.sales[k].day_ms != day) k++;
                if (k == w.n_sales && w.n_sales < IM_MAX_DAYS) w.sales[w.n_sales++] = (im_day_t){day, 0, 0, 0};
                if (k < w.n_sales) {
                    w.sales[k].qty_milli += q;
                    w.sales[k].fund_fen += share;
                }
                if (late && !late_counted) { /* one claim is one late event, however many lines of the drug */
                    f[0] = 'l';
                    fg_state_hincrby(dc->st, key, f, 1);
                    if (k < w.n_sales) w.sales[k].late++;
                    late_counted = 1;
                }
            } else {
                char f[sizeof(lines[0].field)], v[48];
                snprintf(f, sizeof(f), "%c%c%s%c%u", tcode, IM_SEP, ev->event_id, IM_SEP, i);
                /* a line seen before keeps its first verdict (read from the state: the view is capped) */
                size_t olen = 0;
                const char *old = fg_state_hget(dc->st, key, f, &olen);
                int l_late = late;
                if (old) {
                    const char *s1 = memchr(old, IM_SEP, olen);
                    const char *s2 = s1 ? memchr(s1 + 1, IM_SEP, olen - (size_t)(s1 + 1 - old)) : NULL;
                    l_late = s2 && (size_t)(s2 + 1 - old) < olen && s2[1] == '1';
                }
                int n = snprintf(v, sizeof(v), "%lld%c%lld%c%d", (long long)ev->event_time_ms, IM_SEP, (long long)q,
                                 IM_SEP, l_late);
                fg_state_hset(dc->st, key, f, v, (size_t)n);
                size_t k = 0;
                while (k < w.n_lines && strcmp(w.lines[k].field, f)) k++;
                if (k == w.n_lines) {
                    if (w.n_lines > IM_MAX_LINES) continue; /* hostile record: stored, not in this view */
                    w.n_lines++;
                }
                im_line_t *l = &w.lines[k];
                fg_alert_set(l->field, sizeof(l->field), f);
                fg_alert_set(l->eid, sizeof(l->eid), ev->event_id);
                l->type = tcode;
                l->t_ms = ev->event_time_ms;
                l->qty_milli = q;
                l->late = l_late;
            }
        }
        /* live windows: the one non-late events still reach, and the one before it (judged once complete) */
        prune(dc->st, key, &w, bucket(maxt - dc->allowed_lateness_ms, c->window_ms) - c->window_ms);
        fg_state_expire(dc->st, key, 2 * c->window_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);

        for (int k = -1; k <= 1; k++) {
            int64_t from = ws + k * c->window_ms;
            /* +1: a stocktake is also the opening stock of the next window */
            if (k == 1 && tcode != 'k') continue;
            if (inv_wm != INT64_MIN && inv_wm >= from + c->window_ms)
                evaluate(dc, c, ev, drugs[d], &w, from);
        }
    }
}

const fg_detector_t fg_det_inventory_mismatch = {
    .name = "inventory_mismatch",
    .name_zh = "串换药品 / 进销存不符",
    .name_en = "drug substitution / sales exceed purchases",
    .description = "Per institution and drug over fixed windows of window_days: insured sales (claims) exceed "
                   "purchases - returns + opening stock (invoicing) by more than tolerance + tolerance_pct: the "
                   "institution billed more than it ever had. Fires whichever stream completes the picture.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INVOICING),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = im_init,
    .want = im_want,
    .on_event = im_on_event,
    .destroy = im_destroy,
};
