/*
 * cases.h - alerts grouped into cases (案件) for case officers: every alert of
 * one institution whose event time falls in the same period (cases.period_days,
 * periods aligned on the Unix epoch in UTC) belongs to one case. The case id is
 * a digest of institution + period start, so every replica and every replay
 * names a case the same way. A case is a function of the set of its alerts
 * (kept in Redis, one hash field per alert id), so a re-delivered or
 * re-published alert cannot change it; a later version of an alert replaces
 * its earlier one. Published on topics.cases keyed by case id: configure that
 * topic with cleanup.policy=compact so it holds the latest state of every case.
 */
#ifndef FG_CASES_H
#define FG_CASES_H

#include "alerts/alert.h"
#include "core/config.h"
#include "state/state.h"

typedef struct fg_cases fg_cases_t;

typedef struct fg_case_record {
    char case_id[FG_ALERT_ID_LEN + 1];
    char institution_id[FG_ALERT_STR];
    int64_t period_start;
    char *json; /* owned */
} fg_case_record_t;

typedef struct fg_case_records {
    fg_case_record_t *v;
    size_t n, cap;
} fg_case_records_t;

/** @param st borrowed; must outlive the cases roll-up. */
fg_cases_t *fg_cases_create(const fg_config_t *cf, fg_state_t *st);
void fg_cases_destroy(fg_cases_t *c); /* accepts NULL */

/** @brief Start (ms, UTC epoch-aligned) of the case period holding event time t. */
int64_t fg_case_period_start(const fg_cases_t *c, int64_t t);
/** @brief case id = fg_alert_make_id("case", "period", "institution", institution, "<period start ms>"). */
void fg_case_make_id(char out[FG_ALERT_ID_LEN + 1], const char *institution, int64_t period_start);

/**
 * @brief Adds alerts to their cases (two Redis round trips, only for batches that
 * have alerts) and appends one record per case touched to out.
 * @returns FG_OK, or FG_AGAIN / FG_ERR from the state store (no record appended).
 */
int fg_cases_update(fg_cases_t *c, const fg_alerts_t *alerts, fg_case_records_t *out, char *errstr,
                    size_t errstr_size);
void fg_case_records_clear(fg_case_records_t *out);
void fg_case_records_free(fg_case_records_t *out);

#endif
