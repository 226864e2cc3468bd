/*
 * alert.h - what detectors emit and case officers receive.
 *
 * An alert explains itself: the rule (both names), the subject, the window,
 * the contributing event ids and the figures measured against thresholds,
 * and the fund money at risk. Its id is deterministic, a digest of rule +
 * pattern + subject + window key, so re-processing the same events can only
 * ever produce the same id again: subscribers de-duplicate by alert_id, and a
 * later version of the same id carries more complete evidence.
 */
#ifndef FG_ALERT_H
#define FG_ALERT_H

#include <stddef.h>
#include <stdint.h>

#define FG_ALERT_ID_LEN 32 /* hex chars: 128 bits of SHA-256 */
#define FG_ALERT_MAX_EVENTS 64
#define FG_ALERT_MAX_FIGURES 8
#define FG_ALERT_STR 136   /* ids are validated to <= 128 bytes */

typedef enum { FG_SEV_LOW = 0, FG_SEV_MEDIUM, FG_SEV_HIGH, FG_SEV_CRITICAL } fg_severity_t;

typedef struct fg_figure {
    char name[48];     /**< e.g. "days_since_discharge" */
    double value;      /**< measured */
    double threshold;  /**< configured */
    char op[4];        /**< how value compares to threshold when it fires: "<=", ">=", ">" ... */
} fg_figure_t;

typedef struct fg_alert {
    char id[FG_ALERT_ID_LEN + 1];
    const char *rule_id;      /**< static: detector name */
    const char *pattern;      /**< static: which variant of the rule fired */
    const char *rule_name_zh; /**< static */
    const char *rule_name_en; /**< static */
    fg_severity_t severity;
    double score;             /**< 0..1, how far past the threshold */
    char subject_type[16];    /**< "patient", "institution", "card", "doctor", "trace_code" */
    char subject_id[FG_ALERT_STR];
    char institution_id[FG_ALERT_STR];
    char region[FG_ALERT_STR];
    int64_t window_start, window_end; /**< event time, ms */
    char event_ids[FG_ALERT_MAX_EVENTS][FG_ALERT_STR];
    uint32_t n_event_ids;
    fg_figure_t figures[FG_ALERT_MAX_FIGURES];
    uint32_t n_figures;
    char summary[512];
    int32_t late_events;
    int64_t amount_at_risk_fen;
    int64_t event_time;       /**< event time of the finding (latest contributing event) */
    int64_t detection_time;   /**< wall clock when detected; not part of the content digest */
    const char *ruleset_version; /**< borrowed from the processor */
    /* the event whose processing produced this version (for log lines; not published) */
    const char *trigger_topic;   /**< borrowed, NULL when not from Kafka */
    int32_t trigger_partition;
    int64_t trigger_offset;
} fg_alert_t;

/** A batch's alerts: detectors append, the pipeline publishes. */
typedef struct fg_alerts {
    fg_alert_t *v;
    size_t n, cap;
} fg_alerts_t;

void fg_alerts_init(fg_alerts_t *l);
void fg_alerts_clear(fg_alerts_t *l);
void fg_alerts_free(fg_alerts_t *l);
/**
 * @brief Adds an alert with this id, or returns the existing one of the same id
 * in this batch (a later event updates the finding instead of duplicating it).
 * The returned alert is zeroed when new, with id set. Borrowed, valid until the
 * list changes.
 */
fg_alert_t *fg_alerts_upsert(fg_alerts_t *l, const char *id);

/** @brief id = hex(SHA-256(rule | pattern | subject_type | subject_id | window_key))[0..32). */
void fg_alert_make_id(char out[FG_ALERT_ID_LEN + 1], const char *rule, const char *pattern,
                      const char *subject_type, const char *subject_id, const char *window_key);

/** @brief Adds an event id once (duplicates and overflow beyond FG_ALERT_MAX_EVENTS ignored). */
void fg_alert_add_event(fg_alert_t *a, const char *event_id);
void fg_alert_add_figure(fg_alert_t *a, const char *name, double value, double threshold, const char *op);
/** @brief Bounded, NUL-safe copy. */
void fg_alert_set(char *dst, size_t size, const char *src);

const char *fg_severity_name(fg_severity_t s); /* "LOW" ... */

/**
 * @brief The alert as compact JSON (fields per schemas/alert.avsc).
 * @param with_detection_time 0 for the content digest, 1 for publishing.
 * @returns malloc'd text; caller frees with free().
 */
char *fg_alert_to_json(const fg_alert_t *a, int with_detection_time);
/** How patient and card ids appear in the published alert (alerts.identifiers). */
typedef enum {
    FG_ALERT_IDS_REAL = 0,  /**< the real ids: case officers need them to open a case */
    FG_ALERT_IDS_PSEUDONYM, /**< the keyed HMAC pseudonyms of core/pseudo.c, as in Redis keys */
} fg_alert_ids_t;

/** @returns the mode named "real" or "pseudonym", or -1 for anything else (NULL included). */
int fg_alert_ids_parse(const char *name);

/**
 * @brief The alert as published on the wire: fg_alert_to_json(a, 1) after, in
 * FG_ALERT_IDS_PSEUDONYM mode, replacing a patient or card subject_id by its
 * pseudonym, also where the summary repeats it as a word. The
 * alert id is not touched (it was made from the real id, so it stays the same in
 * both modes), nor is a (borrowed, unchanged).
 * @returns malloc'd text; caller frees with free().
 */
char *fg_alert_to_wire_json(const fg_alert_t *a, fg_alert_ids_t mode);

/** @brief 16 hex chars digest of the content (JSON without detection_time). */
void fg_alert_digest(const fg_alert_t *a, char out[17]);

#endif
