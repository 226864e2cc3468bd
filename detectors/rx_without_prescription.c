/*
 * rx_without_prescription.c - 无处方销售处方药 (prescription-only drug sold by a
 * pharmacy without a prescription).
 *
 * Reads claims and the catalogue (dc->kb). A pharmacy settlement (institution
 * type PHARMACY, or visit type PHARMACY at any institution) with no
 * prescription id that contains items the catalogue marks prescription_only
 * fires once per claim; the subject is the pharmacy, which made the sale.
 * Items not in the catalogue are not judged.
 *
 * Stateless: the finding is complete within one claim. Alert id: rule +
 * "no_prescription" + institution + claim id, so a re-delivered claim gives the
 * same alert with the same content (published once). Amount at risk: those
 * items' share of the claim's fund-paid amount (amount x fund_paid / total).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"

#define RX_LISTED_CODES 4 /* codes named in the summary; the figures count them all */

typedef struct {
    int64_t min_amount_fen;
} rx_cfg_t;

static const fg_conf_decl_t g_conf[] = {
    {"min_amount_fen", FG_CONF_INT, "0", 0, 1e12, 0,
     "Alert only when the prescription-only items sold without a prescription amount to at least this "
     "(fen, 0.01 yuan). 0 alerts on every such sale."},
};

extern const fg_detector_t fg_det_rx_without_prescription;
#define SELF (&fg_det_rx_without_prescription)

static int rx_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    rx_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "rx_without_prescription: out of memory");
    snprintf(k, sizeof(k), "%smin_amount_fen", prefix);
    c->min_amount_fen = fg_config_int(cf, k);
    *priv = c;
    return FG_OK;
}

static void rx_destroy(void *priv) { free(priv); }

static void rx_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const rx_cfg_t *cfg = priv;
    if (ev->stream != FG_STREAM_CLAIMS) return;
    const fg_claim_t *c = &ev->u.claim;
    if (ev->institution_type != FG_INST_PHARMACY && c->visit_type != FG_VISIT_PHARMACY) return;
    if (c->prescription_id && *c->prescription_id) return;

    int64_t amount = 0;
    uint32_t lines = 0;
    char codes[RX_LISTED_CODES * (FG_ALERT_STR + 2) + 8] = "";
    size_t cl = 0;
    for (uint32_t i = 0; i < c->n_items; i++) {
        const fg_kb_item_t *it = fg_kb_item(dc->kb, c->items[i].code);
        if (!it || !it->prescription_only) continue;
        amount += c->items[i].amount_fen;
        if (lines < RX_LISTED_CODES)
            cl += (size_t)snprintf(codes + cl, sizeof(codes) - cl, "%s%s", lines ? ", " : "", it->code);
        else if (lines == RX_LISTED_CODES)
            snprintf(codes + cl, sizeof(codes) - cl, ", ...");
        lines++;
    }
    if (!lines || amount < cfg->min_amount_fen) return;

    fg_alert_t *a = fg_dctx_alert(dc, SELF, "no_prescription", "institution", ev->institution_id, ev->event_id);
    a->severity = FG_SEV_MEDIUM;
    a->score = c->total_fen > 0 ? 0.5 + 0.5 * (double)(amount < c->total_fen ? amount : c->total_fen) /
                                            (double)c->total_fen
                                : 0.5; /* the larger the prescription-only part of the sale, the surer */
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region);
    a->window_start = a->window_end = a->event_time = ev->event_time_ms;
    fg_alert_add_event(a, ev->event_id);
    if (c->total_fen <= 0 || c->fund_paid_fen <= 0) a->amount_at_risk_fen = 0;
    else if (amount >= c->total_fen) a->amount_at_risk_fen = c->fund_paid_fen;
    else a->amount_at_risk_fen = (int64_t)((__int128)amount * c->fund_paid_fen / c->total_fen);
    fg_alert_add_figure(a, "rx_only_lines", (double)lines, 1.0, ">=");
    fg_alert_add_figure(a, "rx_only_amount_fen", (double)amount, (double)cfg->min_amount_fen, ">=");
    snprintf(a->summary, sizeof(a->summary),
             "pharmacy %s sold %u prescription-only line(s) (%s) worth %.2f yuan without a prescription",
             ev->institution_id, lines, codes, (double)amount / 100.0);
}

const fg_detector_t fg_det_rx_without_prescription = {
    .name = "rx_without_prescription",
    .name_zh = "无处方销售处方药",
    .name_en = "prescription drug sold without prescription",
    .description = "A pharmacy settlement without a prescription id that contains drugs the catalogue marks "
                   "prescription-only (处方药).",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = rx_init,
    .want = NULL,
    .on_event = rx_on_event,
    .destroy = rx_destroy,
};
