/*
 * registry.c - every detector compiled into fundguard, one line each.
 * Order is the order detectors see an event within a batch.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "detector.h"

extern const fg_detector_t fg_det_readmission_burst;
extern const fg_detector_t fg_det_blacklist_hit;
extern const fg_detector_t fg_det_restriction_violation;
extern const fg_detector_t fg_det_rx_without_prescription;
extern const fg_detector_t fg_det_large_unregistered;
extern const fg_detector_t fg_det_institution_indicators;
extern const fg_detector_t fg_det_high_value_usage;
extern const fg_detector_t fg_det_prescription_volume;
extern const fg_detector_t fg_det_duplicate_billing;
extern const fg_detector_t fg_det_card_misuse;
extern const fg_detector_t fg_det_claims_during_stay;
extern const fg_detector_t fg_det_bed_hanging;
extern const fg_detector_t fg_det_inventory_mismatch;
extern const fg_detector_t fg_det_trace_code_reuse;

const fg_detector_t *const fg_detectors[] = {
    &fg_det_readmission_burst,
    &fg_det_blacklist_hit,
    &fg_det_restriction_violation,
    &fg_det_rx_without_prescription,
    &fg_det_large_unregistered,
    &fg_det_institution_indicators,
    &fg_det_high_value_usage,
    &fg_det_prescription_volume,
    &fg_det_duplicate_billing,
    &fg_det_card_misuse,
    &fg_det_claims_during_stay,
    &fg_det_bed_hanging,
    &fg_det_inventory_mismatch,
    &fg_det_trace_code_reuse,
    NULL,
};

const fg_detector_t *fg_detector_find(const char *name) {
    for (size_t i = 0; fg_detectors[i]; i++)
        if (!strcmp(fg_detectors[i]->name, name)) return fg_detectors[i];
    return NULL;
}

static const fg_conf_decl_t g_common[] = {
    {"enabled", FG_CONF_BOOL, "true", 0, 0, 0, "Run this rule. false switches it off entirely."},
};

void fg_detectors_declare(fg_config_t *cf) {
    for (size_t i = 0; fg_detectors[i]; i++) {
        const fg_detector_t *det = fg_detectors[i];
        char prefix[128], title[256];
        snprintf(prefix, sizeof(prefix), "detectors.%s.", det->name);
        snprintf(title, sizeof(title), "Detector %s (%s)", det->name, det->name_zh);
        fg_config_declare(cf, prefix, g_common, FG_ARRAY_SIZE(g_common), title);
        if (det->n_conf) fg_config_declare(cf, prefix, det->conf, det->n_conf, title);
    }
}

fg_alert_t *fg_dctx_alert(fg_dctx_t *dc, const fg_detector_t *det, const char *pattern,
                          const char *subject_type, const char *subject_id, const char *window_key) {
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, det->name, pattern, subject_type, subject_id, window_key);
    fg_alert_t *a = fg_alerts_upsert(dc->alerts, id);
    a->rule_id = det->name;
    a->pattern = pattern;
    a->rule_name_zh = det->name_zh;
    a->rule_name_en = det->name_en;
    fg_alert_set(a->subject_type, sizeof(a->subject_type), subject_type);
    fg_alert_set(a->subject_id, sizeof(a->subject_id), subject_id);
    a->ruleset_version = dc->ruleset_version;
    a->detection_time = dc->detection_time_ms;
    if (dc->ev) {
        a->trigger_topic = dc->ev->src_topic;
        a->trigger_partition = dc->ev->src_partition;
        a->trigger_offset = dc->ev->src_offset;
    }
    return a;
}

int fg_dctx_patient_key(const fg_dctx_t *dc, char *buf, size_t size, const char *kind) {
    if (!dc->patient_pseudo) return -1;
    return fg_state_key(dc->st, buf, size, kind, 'p', dc->patient_pseudo);
}

int fg_dctx_inst_key(const fg_dctx_t *dc, char *buf, size_t size, const char *kind, const char *institution_id) {
    if (!institution_id) return -1;
    return fg_state_key(dc->st, buf, size, kind, 'i', institution_id);
}

/* "~max/<stream>/<partition>": the source partition's own watermark on one key */
static int source_field(const fg_dctx_t *dc, char *buf, size_t size) {
    if (!dc->ev || dc->ev->src_partition < 0) return 0; /* one ordered source: the key's watermark is it */
    int n = snprintf(buf, size, "%s/%s/%d", FG_WATERMARK_FIELD, fg_stream_name(dc->ev->stream),
                     (int)dc->ev->src_partition);
    return n > 0 && (size_t)n < size;
}

static int64_t advance(fg_state_t *st, const char *key, const char *field, int64_t t_ms) {
    int64_t m = fg_state_hget(st, key, field, NULL) ? fg_state_hget_int(st, key, field) : INT64_MIN;
    if (t_ms > m) {
        fg_state_hset_int(st, key, field, t_ms);
        m = t_ms;
    }
    return m;
}

int fg_dctx_watermark(fg_dctx_t *dc, const char *key, int64_t t_ms, int64_t *maxt) {
    int64_t m = fg_state_hget_int(dc->st, key, FG_WATERMARK_FIELD);
    if (t_ms > m) {
        fg_state_hset_int(dc->st, key, FG_WATERMARK_FIELD, t_ms);
        m = t_ms;
    }
    if (maxt) *maxt = m;
    /* Lateness is judged against what the event's own source partition delivered to this key
     * before it: a fixed sequence, so the verdict does not depend on how partitions interleave
     * into batches (the key-wide watermark above does, when several partitions feed the key). */
    char f[96];
    int64_t ref = m;
    if (source_field(dc, f, sizeof(f))) ref = advance(dc->st, key, f, t_ms);
    int late = t_ms < ref - dc->allowed_lateness_ms;
    if (late) dc->late = 1;
    return late;
}
