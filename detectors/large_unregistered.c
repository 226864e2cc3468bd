/*
 * large_unregistered.c - 大额消费未登记 (large pharmacy purchase without buyer
 * registration).
 *
 * Reads claims. A pharmacy settlement (institution type PHARMACY, or visit type
 * PHARMACY at any institution) whose total is at or above min_total_fen
 * (default 2,000 yuan) while the buyer's identity was not registered: the
 * pattern of cashing out a card through a pharmacy (套取医保基金). The subject
 * is the pharmacy, which must register such buyers.
 *
 * Stateless: the finding is complete within one claim. Alert id: rule +
 * "unregistered_buyer" + institution + claim id, so a re-delivered claim gives
 * the same alert with the same content (published once). Amount at risk: the
 * claim's fund-paid amount.
 */
#include <stdio.h>
#include <stdlib.h>

#include "detector.h"

typedef struct {
    int64_t min_total_fen;
} lu_cfg_t;

static const fg_conf_decl_t g_conf[] = {
    {"min_total_fen", FG_CONF_INT, "200000", 1, 1e12, 0,
     "A pharmacy settlement whose total (fen, 0.01 yuan) is at or above this, with no buyer registration, "
     "fires. Default 200000 = 2,000 yuan."},
};

extern const fg_detector_t fg_det_large_unregistered;
#define SELF (&fg_det_large_unregistered)

static int lu_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    lu_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "large_unregistered: out of memory");
    snprintf(k, sizeof(k), "%smin_total_fen", prefix);
    c->min_total_fen = fg_config_int(cf, k);
    *priv = c;
    return FG_OK;
}

static void lu_destroy(void *priv) { free(priv); }

static void lu_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const lu_cfg_t *cfg = priv;
    if (ev->stream != FG_STREAM_CLAIMS) return;
    const fg_claim_t *c = &ev->u.claim;
    if (ev->institution_type != FG_INST_PHARMACY && c->visit_type != FG_VISIT_PHARMACY) return;
    if (c->buyer_registered || c->total_fen < cfg->min_total_fen) return;

    fg_alert_t *a = fg_dctx_alert(dc, SELF, "unregistered_buyer", "institution", ev->institution_id, ev->event_id);
    double over = (double)c->total_fen / (double)cfg->min_total_fen; /* >= 1 */
    a->severity = FG_SEV_MEDIUM;
    a->score = 1.0 - 0.5 / over; /* 0.5 at the threshold, towards 1 for far larger sums */
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region);
    a->window_start = a->window_end = a->event_time = ev->event_time_ms;
    fg_alert_add_event(a, ev->event_id);
    a->amount_at_risk_fen = c->fund_paid_fen;
    fg_alert_add_figure(a, "total_fen", (double)c->total_fen, (double)cfg->min_total_fen, ">=");
    snprintf(a->summary, sizeof(a->summary),
             "pharmacy %s settled %.2f yuan (threshold %.2f yuan) without registering the buyer", ev->institution_id,
             (double)c->total_fen / 100.0, (double)cfg->min_total_fen / 100.0);
}

const fg_detector_t fg_det_large_unregistered = {
    .name = "large_unregistered",
    .name_zh = "大额消费未登记",
    .name_en = "large purchase without buyer registration",
    .description = "A pharmacy settlement at or above min_total_fen (2,000 yuan) whose buyer identity was not "
                   "registered.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = lu_init,
    .want = NULL,
    .on_event = lu_on_event,
    .destroy = lu_destroy,
};
