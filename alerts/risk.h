/*
 * risk.h - the per-institution risk score and grade (信用等级 A/B/C/D) built from
 * an institution's alerts: each alert weighs by severity and money at risk, and
 * its weight halves every risk.half_life_days of event time. The score is a
 * function of the set of alerts only (kept per institution in Redis, one field
 * per alert id), so re-processing or re-publishing an alert cannot inflate it.
 * Published on topics.risk keyed by institution (a compacted topic holds the
 * latest score of every institution: the ranking fund managers look at).
 */
#ifndef FG_RISK_H
#define FG_RISK_H

#include "alerts/alert.h"
#include "core/config.h"
#include "state/state.h"

typedef struct fg_risk fg_risk_t;

typedef struct fg_risk_record {
    char institution_id[FG_ALERT_STR];
    char *json; /* owned */
} fg_risk_record_t;

typedef struct fg_risk_records {
    fg_risk_record_t *v;
    size_t n, cap;
} fg_risk_records_t;

/** @param st borrowed; must outlive the risk roll-up. */
fg_risk_t *fg_risk_create(const fg_config_t *cf, fg_state_t *st);
void fg_risk_destroy(fg_risk_t *r); /* accepts NULL */

/**
 * @brief Folds alerts into their institutions' scores (two Redis round trips,
 * only for batches that have alerts) and appends one record per institution
 * touched to out. @returns FG_OK or FG_AGAIN (Redis unavailable; nothing applied).
 */
int fg_risk_update(fg_risk_t *r, const fg_alerts_t *alerts, fg_risk_records_t *out, char *errstr,
                   size_t errstr_size);
void fg_risk_records_clear(fg_risk_records_t *out);
void fg_risk_records_free(fg_risk_records_t *out);

/** @returns 'A'..'D' for a score under the configured thresholds. */
char fg_risk_grade(const fg_risk_t *r, double score);

#endif
