/*
 * processor.h - one poll batch through the detectors, with no Kafka in sight.
 *
 * The pipeline hands it the batch's decoded events; it asks every enabled
 * detector which state keys they need, fetches them in one Redis exchange,
 * runs the detectors in event order, and writes state plus alert
 * de-duplication reads in a second exchange. It returns the alerts that are
 * new or changed since they were last published. Tests and benchmarks drive
 * it directly (the "capture sink"); the pipeline publishes its output to Kafka.
 */
#ifndef FG_PROCESSOR_H
#define FG_PROCESSOR_H

#include "alerts/alert.h"
#include "core/config.h"
#include "schemas/event.h"
#include "reference/kb.h"
#include "state/state.h"

typedef struct fg_processor fg_processor_t;

typedef struct fg_processor_stats {
    uint64_t batches, events;
    uint64_t alerts_emitted;    /**< returned for publishing */
    uint64_t alerts_suppressed; /**< already published with the same content */
    uint64_t late_events;       /**< events some detector judged later than the allowed lateness */
} fg_processor_stats_t;

/**
 * @brief Initialises every enabled detector from cf.
 * @param st the state store (borrowed; must outlive the processor).
 * @returns the processor, or NULL with errstr set.
 */
fg_processor_t *fg_processor_create(const fg_config_t *cf, fg_state_t *st, char *errstr, size_t errstr_size);
void fg_processor_destroy(fg_processor_t *p); /* accepts NULL */

/**
 * @brief Runs the batch.
 * @param now_ms wall clock for alerts' detection_time only.
 * @param out on FG_OK, the alerts to publish (borrowed until the next run).
 * @returns FG_OK; or FG_AGAIN when Redis is unavailable: nothing was applied,
 *          run the same events again later.
 */
int fg_processor_run(fg_processor_t *p, const fg_event_t *evs, size_t n, int64_t now_ms, const fg_alerts_t **out,
                     char *errstr, size_t errstr_size);

/**
 * @brief Records that the alerts returned by the last run were acknowledged by
 * Kafka: their markers are written with the next run's flush (or fg_processor_sync),
 * so the same content is not published again.
 */
void fg_processor_published(fg_processor_t *p);
/** @brief Writes pending markers now (shutdown). @returns FG_OK or FG_AGAIN. */
int fg_processor_sync(fg_processor_t *p, char *errstr, size_t errstr_size);

/**
 * @brief Reference data for the following runs (borrowed: keep it alive until
 * replaced; NULL means an empty knowledge base).
 */
void fg_processor_set_kb(fg_processor_t *p, const fg_kb_t *kb);

/**
 * @brief Re-reads every detector's settings from cf (after a control-topic change):
 * initialises the new set first and keeps the old one if that fails.
 * @returns FG_OK or FG_ERR with errstr.
 */
int fg_processor_reconfigure(fg_processor_t *p, const fg_config_t *cf, char *errstr, size_t errstr_size);
/**
 * @brief Names the rule-set version stamped on alerts ("" or NULL: a digest of every
 * rule's settings and the reference data's version and generation).
 */
void fg_processor_set_version(fg_processor_t *p, const char *version);

const char *fg_processor_ruleset_version(const fg_processor_t *p);
void fg_processor_stats(const fg_processor_t *p, fg_processor_stats_t *out);
/** @returns how many detectors are enabled. */
size_t fg_processor_detector_count(const fg_processor_t *p);

#endif
