/*
 * trace_code_reuse.c - 回流药 / 追溯码重复 (a drug box's traceability code settled more than once).
 *
 * Every box of a drug carries a unique traceability code (药品追溯码). A code settled twice by the
 * fund means a box was sold twice: billed without being dispensed, or taken back from the patient
 * and resold (回流药). Reads claims (item trace_codes) and invoicing: a PURCHASE of a code that was
 * already settled to a patient is the box flowing back into a pharmacy's stock (reflux); invoicing
 * SALEs count as settlements only if count_invoicing_sales (an insured sale is usually reported on
 * both streams, which would double every box).
 *
 * State: one hash per code, kind "tc", hash tag 't' (codes are province-wide, not per patient):
 *   "c\x1f<claim id>"  -> "t_ms\x1finstitution\x1fregion\x1fshare_fen"   settlement on a claim
 *   "s\x1f<event id>"  -> same                                            invoicing sale (optional)
 *   "p\x1f<event id>"  -> "t_ms\x1finstitution\x1fregion\x1f0"           invoicing purchase
 * Keyed by event id: the same claim re-delivered rewrites its own field and finds nothing new.
 * Findings are computed from the whole set each time, so arrival order does not matter:
 *  - reuse:  >= 2 distinct settlements; alert subject = the code, window key "" (one case per code);
 *            evidence every settlement, amount = the fund-paid share of every settlement after the
 *            first (by event time, then id).
 *  - reflux: a purchase later in event time than the first settlement; window key "reflux";
 *            amount = the first settlement's fund-paid share (the fund paid for a box now resold).
 * Kept retention_days (long: a box can come back months later); each code holds a handful of fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "util.h"

#define TC_MAX_RECS 32   /* records kept per code (hostile input: a cloned code on thousands of claims) */
#define TC_MAX_CODES 256 /* codes of one event looked at (hostile input bound) */
#define TC_SEP '\x1f'

typedef struct {
    int64_t retention_ms;
    int count_sales;
} tc_cfg_t;

typedef struct {
    char field[FG_ALERT_STR + 4];
    char eid[FG_ALERT_STR], inst[FG_ALERT_STR], region[FG_ALERT_STR];
    char type; /* 'c' claim, 's' invoicing sale, 'p' purchase */
    int64_t t_ms, share_fen;
} tc_rec_t;

typedef struct {
    tc_rec_t *v;
    size_t n;
} tc_view_t;

static const fg_conf_decl_t g_conf[] = {
    {"retention_days", FG_CONF_INT, "730", 1, 3650, 0,
     "How long a settled traceability code is remembered (a reused or returned box can surface months later)."},
    {"count_invoicing_sales", FG_CONF_BOOL, "false", 0, 0, 0,
     "Count invoicing SALE records with trace codes as settlements too. Off by default: an insured sale is "
     "usually reported both as a claim and as an invoicing sale."},
};

extern const fg_detector_t fg_det_trace_code_reuse;
#define SELF (&fg_det_trace_code_reuse)

static int tc_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    tc_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "trace_code_reuse: out of memory");
    snprintf(k, sizeof(k), "%sretention_days", prefix);
    c->retention_ms = fg_config_int(cf, k) * FG_MS_PER_DAY;
    snprintf(k, sizeof(k), "%scount_invoicing_sales", prefix);
    c->count_sales = fg_config_bool(cf, k);
    *priv = c;
    return FG_OK;
}

static void tc_destroy(void *priv) { free(priv); }

/* 'c', 's', 'p' for the record this event makes, or 0 if it makes none */
static char rec_type(const tc_cfg_t *c, const fg_event_t *ev) {
    if (ev->stream == FG_STREAM_CLAIMS) return 'c';
    if (ev->stream != FG_STREAM_INVOICING) return 0;
    if (ev->u.invoicing.type == FG_INV_PURCHASE) return 'p';
    if (ev->u.invoicing.type == FG_INV_SALE && c->count_sales) return 's';
    return 0;
}

typedef int(tc_code_cb)(const fg_item_t *it, const char *code, void *ud);

/* calls cb for the event's first TC_MAX_CODES trace codes (duplicates included) */
static void foreach_code(const fg_event_t *ev, tc_code_cb *cb, void *ud) {
    const fg_item_t *items = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.items : ev->u.invoicing.items;
    uint32_t n = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.n_items : ev->u.invoicing.n_items;
    size_t seen = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < items[i].n_trace_codes; j++) {
            const char *code = items[i].trace_codes[j];
            if (!code || !*code) continue;
            if (seen++ >= TC_MAX_CODES) return;
            if (cb(&items[i], code, ud)) return;
        }
}

typedef struct {
    fg_dctx_t *dc;
    const tc_cfg_t *c;
    const fg_event_t *ev;
    char type;
} tc_ctx_t;

static int want_code(const fg_item_t *it, const char *code, void *ud) {
    tc_ctx_t *x = ud;
    char key[256];
    (void)it;
    if (fg_state_key(x->dc->st, key, sizeof(key), "tc", 't', code) > 0) fg_state_want(x->dc->st, key);
    return 0;
}

static void tc_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    tc_ctx_t x = {dc, priv, ev, rec_type(priv, ev)};
    if (x.type) foreach_code(ev, want_code, &x);
}


static int load(const char *field, const char *val, size_t len, void *ud) {
    tc_view_t *w = ud;
    char p[4][FG_ALERT_STR];
    if ((field[0] != 'c' && field[0] != 's' && field[0] != 'p') || field[1] != TC_SEP || w->n >= TC_MAX_RECS + 1)
        return 0;
    if (fg_rec_split(val, len, TC_SEP, p, 4) != 4) return 0;
    tc_rec_t *r = &w->v[w->n++];
    fg_alert_set(r->field, sizeof(r->field), field);
    fg_alert_set(r->eid, sizeof(r->eid), field + 2);
    r->type = field[0];
    r->t_ms = strtoll(p[0], NULL, 10);
    fg_alert_set(r->inst, sizeof(r->inst), p[1]);
    fg_alert_set(r->region, sizeof(r->region), p[2]);
    r->share_fen = strtoll(p[3], NULL, 10);
    return 0;
}

static int by_time(const void *x, const void *y) {
    const tc_rec_t *a = *(tc_rec_t *const *)x, *b = *(tc_rec_t *const *)y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->field, b->field);
}

static void findings(fg_dctx_t *dc, const char *code, tc_view_t *w) {
    tc_rec_t *set[TC_MAX_RECS + 2], *pur[TC_MAX_RECS + 2];
    size_t ns = 0, np = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].type == 'p')
            pur[np++] = &w->v[i];
        else
            set[ns++] = &w->v[i];
    }
    if (!ns) return;
    qsort(set, ns, sizeof(set[0]), by_time);
    qsort(pur, np, sizeof(pur[0]), by_time);
    const tc_rec_t *first = set[0];

    if (ns >= 2) {
        const tc_rec_t *last = set[ns - 1];
        fg_alert_t *a = fg_dctx_alert(dc, SELF, "reuse", "trace_code", code, "");
        a->severity = FG_SEV_HIGH;
        a->score = 1.0 - 1.0 / (double)ns;
        fg_alert_set(a->institution_id, sizeof(a->institution_id), last->inst);
        fg_alert_set(a->region, sizeof(a->region), last->region);
        a->window_start = first->t_ms;
        a->window_end = last->t_ms;
        a->event_time = last->t_ms;
        a->n_event_ids = 0;
        int64_t amount = 0;
        for (size_t i = 0; i < ns; i++) {
            fg_alert_add_event(a, set[i]->eid);
            if (i) amount += set[i]->share_fen;
        }
        a->amount_at_risk_fen = amount;
        a->n_figures = 0;
        fg_alert_add_figure(a, "settlements", (double)ns, 1, ">");
        snprintf(a->summary, sizeof(a->summary),
                 "drug box trace code %.64s settled %zu times (first %.64s at %.64s, latest %.64s at %.64s)", code, ns,
                 first->eid, first->inst, last->eid, last->inst);
    }

    size_t k = 0;
    while (k < np && pur[k]->t_ms <= first->t_ms) k++;
    if (k == np) return; /* purchases before the sale are the normal supply chain */
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "reflux", "trace_code", code, "reflux");
    a->severity = FG_SEV_HIGH;
    a->score = 0.9;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), pur[k]->inst);
    fg_alert_set(a->region, sizeof(a->region), pur[k]->region);
    a->window_start = first->t_ms;
    a->window_end = pur[np - 1]->t_ms;
    a->event_time = pur[np - 1]->t_ms;
    a->n_event_ids = 0;
    fg_alert_add_event(a, first->eid);
    for (size_t i = k; i < np; i++) fg_alert_add_event(a, pur[i]->eid);
    a->amount_at_risk_fen = first->share_fen;
    a->n_figures = 0;
    double days = (double)(pur[k]->t_ms - first->t_ms) / (double)FG_MS_PER_DAY;
    fg_alert_add_figure(a, "purchases_after_settlement", (double)(np - k), 0, ">");
    fg_alert_add_figure(a, "days_after_settlement", days, 0, ">");
    snprintf(
        a->summary, sizeof(a->summary),
        "drug box trace code %.64s settled on %.64s at %.64s was purchased again by %.64s %.1f days later (回流药)",
        code, first->eid, first->inst, pur[k]->inst, days);
}

static int on_code(const fg_item_t *it, const char *code, void *ud) {
    tc_ctx_t *x = ud;
    fg_dctx_t *dc = x->dc;
    const fg_event_t *ev = x->ev;
    char key[256];
    if (fg_state_key(dc->st, key, sizeof(key), "tc", 't', code) <= 0) return 0;

    static _Thread_local tc_rec_t buf[TC_MAX_RECS + 2];
    tc_view_t w = {buf, 0};
    fg_state_hforeach(dc->st, key, load, &w);

    char field[sizeof(buf[0].field)];
    snprintf(field, sizeof(field), "%c%c%s", x->type, TC_SEP, ev->event_id);
    int64_t share = 0;
    if (ev->stream == FG_STREAM_CLAIMS && ev->u.claim.total_fen > 0) {
        /* the fund pays the claim: this box's part of it is the item's share over its boxes */
        double item = (double)ev->u.claim.fund_paid_fen * (double)it->amount_fen / (double)ev->u.claim.total_fen;
        share = (int64_t)(item / (double)(it->n_trace_codes ? it->n_trace_codes : 1) + 0.5);
    }
    size_t i = 0;
    while (i < w.n && strcmp(w.v[i].field, field)) i++;
    if (i == w.n) {
        if (w.n >= TC_MAX_RECS) {
            /* hostile input: keep the earliest records, they carry the first settlement */
            size_t late_i = 0;
            for (size_t j = 1; j < w.n; j++)
                if (w.v[j].t_ms > w.v[late_i].t_ms) late_i = j;
            if (w.v[late_i].t_ms < ev->event_time_ms) return 0;
            fg_state_hdel(dc->st, key, w.v[late_i].field);
            w.v[late_i] = w.v[--w.n];
        }
        i = w.n++;
    }
    tc_rec_t *r = &w.v[i];
    fg_alert_set(r->field, sizeof(r->field), field);
    fg_alert_set(r->eid, sizeof(r->eid), ev->event_id);
    fg_alert_set(r->inst, sizeof(r->inst), ev->institution_id);
    fg_alert_set(r->region, sizeof(r->region), ev->region ? ev->region : "");
    r->type = x->type;
    r->t_ms = ev->event_time_ms;
    r->share_fen = share;
    char v[3 * FG_ALERT_STR + 48];
    int n = snprintf(v, sizeof(v), "%lld%c%s%c%s%c%lld", (long long)r->t_ms, TC_SEP, r->inst, TC_SEP, r->region, TC_SEP,
                     (long long)r->share_fen);
    fg_state_hset(dc->st, key, field, v, (size_t)n);
    fg_state_expire(dc->st, key, x->c->retention_ms + dc->allowed_lateness_ms + FG_MS_PER_DAY);

    findings(dc, code, &w);
    return 0;
}

static void tc_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    tc_ctx_t x = {dc, priv, ev, rec_type(priv, ev)};
    if (x.type && ev->event_id && ev->institution_id) foreach_code(ev, on_code, &x);
}

const fg_detector_t fg_det_trace_code_reuse = {
    .name = "trace_code_reuse",
    .name_zh = "回流药 / 追溯码重复",
    .name_en = "reflux drugs / traceability code reused",
    .description = "One drug-box traceability code settled on more than one claim anywhere in the province, or "
                   "purchased into a pharmacy's stock after it was settled to a patient (reflux, 回流药).",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INVOICING),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = tc_init,
    .want = tc_want,
    .on_event = tc_on_event,
    .destroy = tc_destroy,
};
