/*
 * card_misuse.c - 冒名就医 / 违规使用社保卡 (someone else's card, card misuse), from the claims stream.
 *
 * Two patterns, per social-security card (card_id; claims without one are ignored):
 *  - two_regions: the card settles in two different regions (统筹区) within
 *    region_window_hours (inclusive) of each other: one card cannot be in two places.
 *    Alert key: the two claims, "<earlier>><later>" ordered by event time then claim id,
 *    so either arrival order gives the same id; each such pair is one finding.
 *  - pharmacy_hopping: the card settles at >= max_pharmacies_per_day distinct pharmacies
 *    in one local day (the cash-out pattern 套取现金). Alert key: the day "2026-01-03";
 *    later pharmacies that day update the same alert.
 * Subject: "card", the card id of the payload.
 *
 * State: per card, "cm" {c:<card pseudonym>}: field claim id ->
 * "t_ms\x1flate\x1fpharmacy(0/1)\x1ffund_fen\x1fregion\x1finstitution". Keyed by claim
 * id, so a re-delivered claim rewrites its own field. Kept for max(region window, one
 * day boundary + a day) + lateness, which covers both patterns. Alerts are rebuilt from
 * the records, so they do not depend on arrival order or re-delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "util.h"

#define CM_MAX_CLAIMS 256 /* hostile input bound: records kept per card, the newest win */
#define CM_SEP '\x1f'

typedef struct {
    int64_t region_ms, max_pharmacies, off_ms;
} cm_cfg_t;

typedef struct {
    char id[FG_ALERT_STR];
    int64_t t_ms, fund_fen;
    int late, pharmacy;
    char region[FG_ALERT_STR], inst[FG_ALERT_STR];
} cm_rec_t;

typedef struct {
    cm_rec_t *v;
    size_t n;
} cm_recs_t;

static const fg_conf_decl_t g_conf[] = {
    {"region_window_hours", FG_CONF_INT, "2", 0, 720, 0,
     "two_regions fires when one card settles in two different regions within this many hours (inclusive)."},
    {"max_pharmacies_per_day", FG_CONF_INT, "4", 2, 1000, 0,
     "pharmacy_hopping fires when one card settles at this many distinct pharmacies in one day."},
    {"day_offset_hours", FG_CONF_INT, "8", -12, 14, 0,
     "Offset of local time from UTC for day boundaries (8: China Standard Time)."},
};

extern const fg_detector_t fg_det_card_misuse;
#define SELF (&fg_det_card_misuse)

static int cm_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    cm_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "card_misuse: out of memory");
    snprintf(k, sizeof(k), "%sregion_window_hours", prefix);
    c->region_ms = fg_config_int(cf, k) * FG_MS_PER_HOUR;
    snprintf(k, sizeof(k), "%smax_pharmacies_per_day", prefix);
    c->max_pharmacies = fg_config_int(cf, k);
    snprintf(k, sizeof(k), "%sday_offset_hours", prefix);
    c->off_ms = fg_config_int(cf, k) * FG_MS_PER_HOUR;
    *priv = c;
    return FG_OK;
}

static void cm_destroy(void *priv) { free(priv); }



static int relevant(const fg_event_t *ev, const fg_dctx_t *dc) {
    return ev->stream == FG_STREAM_CLAIMS && ev->card_id && *ev->card_id && dc->card_pseudo && ev->event_id;
}

static int card_key(const fg_dctx_t *dc, char *buf, size_t size) {
    return fg_state_key(dc->st, buf, size, "cm", 'c', dc->card_pseudo);
}

static void cm_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    (void)priv;
    char key[256];
    if (relevant(ev, dc) && card_key(dc, key, sizeof(key)) > 0) fg_state_want(dc->st, key);
}

static int load_rec(const char *field, const char *val, size_t len, void *ud) {
    cm_recs_t *s = ud;
    if (field[0] == '~' || s->n >= CM_MAX_CLAIMS + 1) return 0;
    char parts[6][FG_ALERT_STR];
    if (fg_rec_split(val, len, CM_SEP, parts, 6) != 6) return 0;
    cm_rec_t *r = &s->v[s->n++];
    fg_alert_set(r->id, sizeof(r->id), field);
    r->t_ms = strtoll(parts[0], NULL, 10);
    r->late = parts[1][0] == '1';
    r->pharmacy = parts[2][0] == '1';
    r->fund_fen = strtoll(parts[3], NULL, 10);
    fg_alert_set(r->region, sizeof(r->region), parts[4]);
    fg_alert_set(r->inst, sizeof(r->inst), parts[5]);
    return 0;
}

static void store_rec(fg_state_t *st, const char *key, const cm_rec_t *r) {
    char v[2 * FG_ALERT_STR + 80];
    int n = snprintf(v, sizeof(v), "%lld%c%d%c%d%c%lld%c%s%c%s", (long long)r->t_ms, CM_SEP, r->late, CM_SEP,
                     r->pharmacy, CM_SEP, (long long)r->fund_fen, CM_SEP, r->region, CM_SEP, r->inst);
    if (n > 0 && (size_t)n < sizeof(v)) fg_state_hset(st, key, r->id, v, (size_t)n);
}

static int by_time(const void *x, const void *y) {
    const cm_rec_t *a = x, *b = y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->id, b->id); /* ties broken by claim id, never by arrival */
}

static void prune_recs(fg_state_t *st, const char *key, cm_recs_t *s, int64_t horizon) {
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
    while (s->n > CM_MAX_CLAIMS) {
        size_t oldest = 0;
        for (size_t i = 1; i < s->n; i++)
            if (by_time(&s->v[i], &s->v[oldest]) < 0) oldest = i;
        fg_state_hdel(st, key, s->v[oldest].id);
        s->v[oldest] = s->v[--s->n];
    }
}

static void two_regions(fg_dctx_t *dc, const cm_cfg_t *c, const fg_event_t *ev, const cm_rec_t *a0,
                        const cm_rec_t *b0) {
    const cm_rec_t *e = by_time(a0, b0) < 0 ? a0 : b0, *l = e == a0 ? b0 : a0;
    char wkey[2 * FG_ALERT_STR + 2];
    snprintf(wkey, sizeof(wkey), "%s>%s", e->id, l->id);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "two_regions", "card", ev->card_id, wkey);
    double hours = (double)(l->t_ms - e->t_ms) / (double)FG_MS_PER_HOUR;
    double limit_h = (double)c->region_ms / (double)FG_MS_PER_HOUR;
    a->severity = FG_SEV_HIGH;
    a->score = limit_h > 0 ? 1.0 - hours / (limit_h + 1.0) : 1.0;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), l->inst);
    fg_alert_set(a->region, sizeof(a->region), l->region);
    a->window_start = e->t_ms;
    a->window_end = l->t_ms;
    a->event_time = l->t_ms;
    a->n_event_ids = 0;
    fg_alert_add_event(a, e->id);
    fg_alert_add_event(a, l->id);
    a->late_events = e->late + l->late;
    /* which of the two settlements is the impostor's is unknown: both are at risk */
    a->amount_at_risk_fen = e->fund_fen + l->fund_fen;
    a->n_figures = 0;
    fg_alert_add_figure(a, "hours_between_regions", hours, limit_h, "<=");
    snprintf(a->summary, sizeof(a->summary),
             "card settled in region %.32s at %.64s and %.2f hours later in region %.32s at %.64s (threshold %.0f h)",
             e->region, e->inst, hours, l->region, l->inst, limit_h);
}

static void pharmacy_hopping(fg_dctx_t *dc, const cm_cfg_t *c, const fg_event_t *ev, cm_recs_t *s, int64_t day) {
    static _Thread_local const cm_rec_t *sel[CM_MAX_CLAIMS + 2];
    qsort(s->v, s->n, sizeof(s->v[0]), by_time);
    size_t n = 0, distinct = 0;
    for (size_t i = 0; i < s->n; i++) {
        const cm_rec_t *r = &s->v[i];
        if (!r->pharmacy || fg_floor_div(r->t_ms + c->off_ms, FG_MS_PER_DAY) != day) continue;
        size_t j = 0;
        while (j < n && strcmp(sel[j]->inst, r->inst)) j++;
        distinct += j == n;
        sel[n++] = r;
    }
    if ((int64_t)distinct < c->max_pharmacies) return;
    char label[16];
    fg_day_label(day * FG_MS_PER_DAY, label);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "pharmacy_hopping", "card", ev->card_id, label);
    const cm_rec_t *last = sel[n - 1];
    a->severity = FG_SEV_HIGH;
    a->score = 1.0 - (double)c->max_pharmacies / (double)(distinct + c->max_pharmacies);
    fg_alert_set(a->institution_id, sizeof(a->institution_id), last->inst);
    fg_alert_set(a->region, sizeof(a->region), last->region);
    a->window_start = day * FG_MS_PER_DAY - c->off_ms;
    a->window_end = (day + 1) * FG_MS_PER_DAY - c->off_ms;
    a->event_time = last->t_ms;
    a->n_event_ids = 0;
    a->late_events = 0;
    a->amount_at_risk_fen = 0;
    for (size_t i = 0; i < n; i++) {
        fg_alert_add_event(a, sel[i]->id);
        a->late_events += sel[i]->late;
        a->amount_at_risk_fen += sel[i]->fund_fen;
    }
    a->n_figures = 0;
    fg_alert_add_figure(a, "distinct_pharmacies", (double)distinct, (double)c->max_pharmacies, ">=");
    fg_alert_add_figure(a, "pharmacy_claims", (double)n, 0, ">");
    snprintf(a->summary, sizeof(a->summary), "card settled at %zu distinct pharmacies on %s (threshold %lld)",
             distinct, label, (long long)c->max_pharmacies);
}

static void cm_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const cm_cfg_t *c = priv;
    char key[256];
    if (!relevant(ev, dc) || card_key(dc, key, sizeof(key)) <= 0) return;

    static _Thread_local cm_rec_t buf[CM_MAX_CLAIMS + 2];
    cm_recs_t s = {buf, 0};
    fg_state_hforeach(dc->st, key, load_rec, &s);
    int64_t maxt = 0;
    int is_late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);

    cm_rec_t *x = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].id, ev->event_id)) x = &s.v[i];
    if (!x) {
        x = &s.v[s.n++];
        memset(x, 0, sizeof(*x));
        fg_alert_set(x->id, sizeof(x->id), ev->event_id);
        x->late = is_late; /* judged at first sight; a re-delivery keeps the verdict */
    }
    x->t_ms = ev->event_time_ms;
    x->pharmacy = ev->institution_type == FG_INST_PHARMACY;
    x->fund_fen = ev->u.claim.fund_paid_fen;
    fg_alert_set(x->region, sizeof(x->region), ev->region ? ev->region : "");
    fg_alert_set(x->inst, sizeof(x->inst), ev->institution_id ? ev->institution_id : "");
    store_rec(dc->st, key, x);

    int64_t span = c->region_ms > 2 * FG_MS_PER_DAY ? c->region_ms : 2 * FG_MS_PER_DAY;
    int64_t keep = span + dc->allowed_lateness_ms;
    prune_recs(dc->st, key, &s, maxt - keep);
    fg_state_expire(dc->st, key, keep + FG_MS_PER_DAY);

    const cm_rec_t *cur = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.v[i].id, ev->event_id)) cur = &s.v[i];
    if (!cur) return; /* beyond every horizon */
    cm_rec_t me = *cur; /* pharmacy_hopping sorts the records */

    if (me.region[0])
        for (size_t i = 0; i < s.n; i++) {
            const cm_rec_t *y = &s.v[i];
            if (!strcmp(y->id, me.id) || !y->region[0] || !strcmp(y->region, me.region)) continue;
            int64_t gap = y->t_ms > me.t_ms ? y->t_ms - me.t_ms : me.t_ms - y->t_ms;
            if (gap <= c->region_ms) two_regions(dc, c, ev, y, &me);
        }
    if (me.pharmacy && me.inst[0]) pharmacy_hopping(dc, c, ev, &s, fg_floor_div(me.t_ms + c->off_ms, FG_MS_PER_DAY));
}

const fg_detector_t fg_det_card_misuse = {
    .name = "card_misuse",
    .name_zh = "冒名就医 / 违规使用社保卡",
    .name_en = "impersonation / social-security card misuse",
    .description = "One card settled in two different regions within region_window_hours, or at "
                   "max_pharmacies_per_day or more distinct pharmacies in one day (cash-out).",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = cm_init,
    .want = cm_want,
    .on_event = cm_on_event,
    .destroy = cm_destroy,
};
