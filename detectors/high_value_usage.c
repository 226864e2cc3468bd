/*
 * high_value_usage.c - 高值耗材 / 大型设备检查: an institution's daily use of one
 * high-value consumable or large-equipment exam far above its own baseline.
 *
 * Reads claims. For catalogue items with high_value = true, per institution +
 * item and event-time day (China Standard Time): the day's billed quantity is
 * compared with the EWMA mean + sigma x EWMA std of the previous baseline_days
 * days (state/baseline.h); it fires with >= min_baseline_days days of history
 * and a day's quantity >= min_volume. Alert id: rule + "usage_spike" +
 * institution + "<item>|YYYY-MM-DD"; later claims of the day update it, and so do
 * claims of its baseline days arriving after it (they re-judge it). Amount at
 * risk: the excess share ((quantity - baseline mean) / quantity) of the fund-paid
 * money of the item that day (each claim's fund_paid split by item amount).
 *
 * State:
 *  - per institution + item, hash "hv" {u:<institution>|<item>}: daily buckets
 *    q (quantity in thousandths, so HINCRBY stays integer), f (fund-paid share,
 *    fen), lt (late claims: judged against the claim's own source partition, see
 *    fg_dctx_watermark), e (evidence: the day's claims with the largest
 *    quantity). One key per item rather than one per institution: a large
 *    hospital bills hundreds of high-value items and every batch would fetch
 *    them all. HINCRBY only, so several consumer processes add up. Pruned by
 *    the key's event-time watermark once per day.
 *  - per patient, hash "hv" {p:<pseudonym>}: "c\x1f<claim id>" -> day, the claims
 *    already counted (only claims with a high-value item). Exactly-once while the
 *    entry lives (lateness + 1 day of the patient's event time); a re-delivery
 *    later than that would be counted twice, see institution_indicators.c for the
 *    trade-off against an institution-wide set of claim ids.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "state/baseline.h"

#define HV_SEP '\x1f'
#define HV_MAX_ITEMS 32 /* distinct high-value items looked at per claim (hostile input bound) */
#define HV_PAT_MAX 256  /* claims remembered per patient (oldest dropped) */
#define HV_EVIDENCE 8
#define HV_MILLI 1000.0

typedef struct {
    int64_t baseline_days, min_baseline_days, skew_days;
    double sigma, alpha, min_std_pct, min_volume;
} hv_cfg_t;

static const fg_conf_decl_t g_conf[] = {
    {"baseline_days", FG_CONF_INT, "28", 3, 365, 0,
     "A day's use of an item is compared with the institution's own use of it over the previous this-many days."},
    {"min_baseline_days", FG_CONF_INT, "7", 2, 365, 0,
     "No alert until the item has been used on at least this many of the baseline days."},
    {"sigma", FG_CONF_DOUBLE, "3", 0.5, 50, 0,
     "Fires when the day's quantity exceeds baseline mean + sigma x baseline standard deviation."},
    {"ewma_alpha", FG_CONF_DOUBLE, "0.2", 0, 1, 0,
     "Weight of the most recent day in the exponentially weighted baseline; 0 uses the plain mean and "
     "standard deviation."},
    {"min_std_pct", FG_CONF_DOUBLE, "5", 0, 100, 0,
     "Floor on the baseline deviation, in percent of the baseline mean (besides the square root of the mean "
     "that a count's random noise gives)."},
    {"min_volume", FG_CONF_DOUBLE, "5", 0, 1e9, 0,
     "No alert for a day on which the institution billed less than this quantity of the item."},
    {"partition_skew_days", FG_CONF_INT, "30", 0, 365, 0,
     "How far (event time) one patient partition may be behind another feeding the same institution, e.g. "
     "while a consumer works off a backlog, with every day still judged on all its claims: days are kept and "
     "re-judged until the item's newest claim at the institution is this many days plus "
     "events.allowed_lateness_days past them. A claim further behind still counts, but its day is not judged "
     "again (late-events metric)."},
};

extern const fg_detector_t fg_det_high_value_usage;
#define SELF (&fg_det_high_value_usage)

static int hv_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    hv_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "high_value_usage: out of memory");
    snprintf(k, sizeof(k), "%sbaseline_days", prefix);
    c->baseline_days = fg_config_int(cf, k);
    snprintf(k, sizeof(k), "%smin_baseline_days", prefix);
    c->min_baseline_days = fg_config_int(cf, k);
    snprintf(k, sizeof(k), "%ssigma", prefix);
    c->sigma = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%sewma_alpha", prefix);
    c->alpha = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%smin_std_pct", prefix);
    c->min_std_pct = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%smin_volume", prefix);
    c->min_volume = fg_config_double(cf, k);
    snprintf(k, sizeof(k), "%spartition_skew_days", prefix);
    c->skew_days = fg_config_int(cf, k);
    if (c->min_baseline_days > c->baseline_days) {
        int64_t mb = c->min_baseline_days, b = c->baseline_days;
        free(c);
        return fg_err(errstr, errstr_size, FG_ERR,
                      "high_value_usage: min_baseline_days (%lld) exceeds baseline_days (%lld)", (long long)mb,
                      (long long)b);
    }
    *priv = c;
    return FG_OK;
}

static void hv_destroy(void *priv) { free(priv); }

/* A claim's high-value items, merged by code (several lines of one item are one use). */
typedef struct {
    const char *code;
    double qty;
    int64_t amount_fen;
} hv_use_t;

static size_t collect_items(const fg_event_t *ev, const fg_kb_t *kb, hv_use_t *out) {
    size_t n = 0;
    if (ev->stream != FG_STREAM_CLAIMS || !ev->institution_id || !ev->event_id) return 0;
    const fg_claim_t *cl = &ev->u.claim;
    for (uint32_t i = 0; i < cl->n_items; i++) {
        const fg_item_t *it = &cl->items[i];
        const fg_kb_item_t *ki = it->code ? fg_kb_item(kb, it->code) : NULL;
        if (!ki || !ki->high_value || !(it->quantity > 0)) continue;
        size_t j = 0;
        while (j < n && strcmp(out[j].code, it->code)) j++;
        if (j == n) {
            if (n == HV_MAX_ITEMS) continue;
            out[n++] = (hv_use_t){it->code, 0.0, 0};
        }
        out[j].qty += it->quantity;
        out[j].amount_fen += it->amount_fen;
    }
    return n;
}

static int item_key(const fg_dctx_t *dc, char *buf, size_t size, const char *inst, const char *code) {
    char id[2 * FG_ALERT_STR + 2];
    snprintf(id, sizeof(id), "%s|%s", inst, code);
    return fg_state_key(dc->st, buf, size, "hv", 'u', id);
}

static void hv_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    hv_use_t use[HV_MAX_ITEMS];
    char key[512];
    size_t n = collect_items(ev, dc->kb, use);
    if (!n || fg_dctx_patient_key(dc, key, sizeof(key), "hv") <= 0) return;
    fg_state_want(dc->st, key);
    for (size_t i = 0; i < n; i++)
        if (item_key(dc, key, sizeof(key), ev->institution_id, use[i].code) > 0) fg_state_want(dc->st, key);
}

/* ---------- per-patient record of counted claims ---------- */

typedef struct {
    char field[FG_ALERT_STR + 4];
    int64_t day;
} hv_ent_t;

typedef struct {
    hv_ent_t *v;
    size_t n;
} hv_ents_t;

static int collect_claim(const char *field, const char *val, size_t len, void *ud) {
    hv_ents_t *e = ud;
    (void)len;
    if (field[0] != 'c' || field[1] != HV_SEP || e->n >= HV_PAT_MAX + 8) return 0;
    fg_alert_set(e->v[e->n].field, sizeof(e->v[0].field), field);
    e->v[e->n++].day = strtoll(val, NULL, 10);
    return 0;
}

static void patient_prune(fg_dctx_t *dc, const char *pkey, int64_t t_ms) {
    int64_t maxt = fg_state_hget_int(dc->st, pkey, FG_WATERMARK_FIELD);
    if (t_ms > maxt) {
        char v[24];
        int n = snprintf(v, sizeof(v), "%lld", (long long)t_ms);
        fg_state_hset(dc->st, pkey, FG_WATERMARK_FIELD, v, (size_t)n);
        maxt = t_ms;
    }
    static _Thread_local hv_ent_t buf[HV_PAT_MAX + 8];
    hv_ents_t e = {buf, 0};
    fg_state_hforeach(dc->st, pkey, collect_claim, &e);
    int64_t keep = dc->allowed_lateness_ms + FG_MS_PER_DAY;
    int64_t before = fg_day_of(maxt - keep, FG_CST_OFFSET_MS) - 1;
    size_t live = 0;
    for (size_t i = 0; i < e.n; i++) {
        if (e.v[i].day < before) fg_state_hdel(dc->st, pkey, e.v[i].field);
        else e.v[live++] = e.v[i];
    }
    while (live > HV_PAT_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < live; i++)
            if (e.v[i].day < e.v[oldest].day) oldest = i;
        fg_state_hdel(dc->st, pkey, e.v[oldest].field);
        e.v[oldest] = e.v[--live];
    }
    fg_state_expire(dc->st, pkey, keep + FG_MS_PER_DAY);
}

/* ---------- the usage test ---------- */

static void evaluate(fg_dctx_t *dc, const hv_cfg_t *c, const fg_event_t *ev, const char *key, const char *code,
                     int64_t day) {
    int64_t q, fund, late;
    fg_baseline_get(dc->st, key, "q", day, &q);
    double value = (double)q / HV_MILLI;
    if (value < c->min_volume) return;
    fg_baseline_t bl;
    fg_baseline_series(dc->st, key, "q", day, (size_t)c->baseline_days, c->alpha, &bl);
    if ((int64_t)bl.days < c->min_baseline_days) return;
    /* the series is in thousandths: scale the statistics back to units */
    bl.mean /= HV_MILLI;
    bl.std /= HV_MILLI;
    bl.ewma_mean /= HV_MILLI;
    bl.ewma_std /= HV_MILLI;
    double mean, std;
    double threshold = fg_baseline_bar(&bl, c->alpha, c->sigma, c->min_std_pct, 1, &mean, &std);
    if (!(value > threshold) || !(std > 0.0)) return;

    char date[16], wkey[FG_ALERT_STR + 20];
    fg_day_str(day, date, sizeof(date));
    snprintf(wkey, sizeof(wkey), "%s|%s", code, date);
    fg_alert_t *a = fg_dctx_alert(dc, SELF, "usage_spike", "institution", ev->institution_id, wkey);
    double z = (value - mean) / std;
    a->severity = z >= 2.0 * c->sigma ? FG_SEV_HIGH : FG_SEV_MEDIUM;
    a->score = 1.0 - c->sigma / z;
    if (a->score < 0.0) a->score = 0.0;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region);
    a->window_start = fg_day_start_ms(day, FG_CST_OFFSET_MS);
    a->window_end = fg_day_start_ms(day + 1, FG_CST_OFFSET_MS);

    fg_evidence_t evd;
    fg_evidence_get(dc->st, key, "e", day, &evd);
    a->event_time = evd.max_t ? evd.max_t : ev->event_time_ms;
    a->n_event_ids = 0;
    for (size_t i = 0; i < evd.n; i++) fg_alert_add_event(a, evd.id[i]);

    a->n_figures = 0;
    fg_alert_add_figure(a, "daily_quantity", value, threshold, ">");
    fg_alert_add_figure(a, "z_score", z, c->sigma, ">");
    fg_alert_add_figure(a, "min_quantity", value, c->min_volume, ">=");
    fg_alert_add_figure(a, "baseline_days", (double)bl.days, (double)c->min_baseline_days, ">=");

    fg_baseline_get(dc->st, key, "f", day, &fund);
    a->amount_at_risk_fen = (int64_t)llround((double)fund * (value - mean) / value);
    fg_baseline_get(dc->st, key, "lt", day, &late);
    a->late_events = (int32_t)late;
    snprintf(a->summary, sizeof(a->summary),
             "%s billed %.2f of high-value item %s on %s, above its %zu-day baseline %.2f +/- %.2f (threshold %.2f)",
             ev->institution_id, value, code, date, bl.days, mean, std, threshold);
}

/*
 * A day's quantity changed: judge that day and every later day up to the key's
 * watermark within baseline_days after it, whose baseline it is part of. Claims of
 * different patients arrive on different partitions in any order, so a spike day
 * may be counted before (some of) its baseline days; re-judging it when they arrive
 * makes the outcome depend on the set of claims, not their order. Bounded: at most
 * baseline_days extra days, none in time order (no later day has data). Days older
 * than the judging horizon (the changed day itself included) are not judged: only a
 * claim more than partition_skew_days + allowed_lateness behind the key's newest
 * reaches them (fg_baseline_horizon: lateness is per source partition, and partitions
 * can be days apart while a backlog is worked off), their evidence is gone and is not
 * re-created, so their alert keeps the content it had.
 */
static void judge_from(fg_dctx_t *dc, const hv_cfg_t *c, const fg_event_t *ev, const char *key, const char *code,
                       int64_t day, int64_t wm_day, int64_t ev_from) {
    if (day >= ev_from) evaluate(dc, c, ev, key, code, day);
    int64_t last = day + c->baseline_days < wm_day ? day + c->baseline_days : wm_day;
    for (int64_t d = day + 1 > ev_from ? day + 1 : ev_from; d <= last; d++) evaluate(dc, c, ev, key, code, d);
}

static void hv_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const hv_cfg_t *c = priv;
    hv_use_t use[HV_MAX_ITEMS];
    char pkey[256], key[512], field[FG_ALERT_STR + 4], v[24];
    size_t n = collect_items(ev, dc->kb, use);
    if (!n || fg_dctx_patient_key(dc, pkey, sizeof(pkey), "hv") <= 0) return;
    snprintf(field, sizeof(field), "c%c%s", HV_SEP, ev->event_id);
    int64_t day = fg_day_of(ev->event_time_ms, FG_CST_OFFSET_MS);
    fg_horizon_t h;
    if (fg_state_hget(dc->st, pkey, field, NULL)) {
        /* counted already: a re-delivery (e.g. after a crash between the state write and the
         * alert's publication). Nothing is added; its days are judged again from what is
         * stored, so a finding whose publication was lost is published now (same id, content). */
        for (size_t i = 0; i < n; i++) {
            if (item_key(dc, key, sizeof(key), ev->institution_id, use[i].code) <= 0) continue;
            int64_t maxt = fg_state_hget_int(dc->st, key, FG_WATERMARK_FIELD);
            int64_t wm_day = fg_day_of(maxt, FG_CST_OFFSET_MS);
            fg_baseline_horizon(wm_day, c->baseline_days, dc->allowed_lateness_ms, c->skew_days, &h);
            judge_from(dc, c, ev, key, use[i].code, day, wm_day, h.judge_from);
        }
        return;
    }
    int len = snprintf(v, sizeof(v), "%lld", (long long)day);
    fg_state_hset(dc->st, pkey, field, v, (size_t)len);
    patient_prune(dc, pkey, ev->event_time_ms);

    const fg_claim_t *cl = &ev->u.claim;
    for (size_t i = 0; i < n; i++) {
        if (item_key(dc, key, sizeof(key), ev->institution_id, use[i].code) <= 0) continue;
        int64_t before = fg_state_hget_int(dc->st, key, FG_WATERMARK_FIELD), maxt;
        int late = fg_dctx_watermark(dc, key, ev->event_time_ms, &maxt);
        int64_t wm_day = fg_day_of(maxt, FG_CST_OFFSET_MS);
        fg_baseline_horizon(wm_day, c->baseline_days, dc->allowed_lateness_ms, c->skew_days, &h);
        int64_t ev_from = h.judge_from; /* first day whose evidence is kept */
        if (!before || fg_day_of(before, FG_CST_OFFSET_MS) < wm_day) {
            fg_baseline_prune(dc->st, key, NULL, h.keep_from);
            /* evidence is read only for days a claim can still change (see judge_from) */
            fg_baseline_prune(dc->st, key, "e", ev_from);
        }
        fg_state_expire(dc->st, key,
                        (c->baseline_days + c->skew_days + 1) * FG_MS_PER_DAY + dc->allowed_lateness_ms + FG_MS_PER_DAY);
        if (day < ev_from) dc->late = 1; /* on time for its partition, beyond the skew allowance: not judged */
        if (day < h.keep_from) continue; /* older than any baseline can use */

        /* hostile quantities: clamp so the thousandths stay far inside int64 */
        int64_t milli = llround((use[i].qty < 1e12 ? use[i].qty : 1e12) * HV_MILLI);
        int64_t share = cl->total_fen > 0
                            ? llround((double)cl->fund_paid_fen * (double)use[i].amount_fen / (double)cl->total_fen)
                            : 0;
        fg_baseline_add(dc->st, key, "q", day, milli);
        fg_baseline_add(dc->st, key, "f", day, share);
        if (late) fg_baseline_add(dc->st, key, "lt", day, 1);
        /* nothing is written below a horizon (counters above, evidence here), and everything
         * below one is deleted when it advances: so what the key holds at the end depends on
         * the set of claims, not on how patient partitions interleaved (horizons follow the
         * key-wide "~max", a maximum) */
        if (day >= ev_from) fg_evidence_add(dc->st, key, "e", day, milli, ev->event_id, ev->event_time_ms, HV_EVIDENCE);
        judge_from(dc, c, ev, key, use[i].code, day, wm_day, ev_from);
    }
}

const fg_detector_t fg_det_high_value_usage = {
    .name = "high_value_usage",
    .name_zh = "高值耗材 / 大型设备检查",
    .name_en = "high-value consumables / large-equipment exams",
    .description = "An institution's daily use of a high-value consumable or large-equipment exam (catalogue "
                   "high_value) exceeds its own trailing baseline: EWMA mean + sigma x EWMA deviation over "
                   "baseline_days, with a minimum history and a minimum quantity that day.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = hv_init,
    .want = hv_want,
    .on_event = hv_on_event,
    .destroy = hv_destroy,
};
