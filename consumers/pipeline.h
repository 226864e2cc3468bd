/*
 * pipeline.h - Kafka in, alerts out: the consumer group over the three
 * streams, decoding and dead-lettering, the processor, alert production with
 * delivery reports, and offset commits.
 *
 * Guarantee: a batch's offsets are committed only after its state changes are
 * in Redis and every alert and dead letter it produced has been acknowledged
 * by Kafka. A crash anywhere before that re-delivers the batch; state updates
 * are idempotent and alert ids deterministic, so the effect is exactly once
 * and the wire is at-least-once (subscribers de-duplicate by alert_id).
 */
#ifndef FG_PIPELINE_H
#define FG_PIPELINE_H

#include <signal.h>

#include "core/config.h"

/* exit codes of `fundguard run` */
#define FG_EXIT_OK 0
#define FG_EXIT_CONFIG 1     /**< bad configuration or start-up failure */
#define FG_EXIT_DATA_LOSS 3  /**< a committed offset fell out of the broker's retention */
#define FG_EXIT_KAFKA 4      /**< fatal Kafka client error */

typedef struct fg_pipeline fg_pipeline_t;

/** @returns the pipeline connected to Kafka and Redis, or NULL with errstr set. */
/** @param cf borrowed, and changed by control-topic "set" messages; must outlive the pipeline. */
fg_pipeline_t *fg_pipeline_create(fg_config_t *cf, char *errstr, size_t errstr_size);
void fg_pipeline_destroy(fg_pipeline_t *pl); /* accepts NULL */

/**
 * @brief Consumes until *stop becomes non-zero (signal handler), or the input has
 * been idle for idle_exit_ms (> 0; for demos, tests and replays). When *reload
 * becomes non-zero (SIGHUP) the reference files are read again between batches
 * and *reload is cleared. @returns an FG_EXIT_* code.
 */
int fg_pipeline_run(fg_pipeline_t *pl, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                    int64_t idle_exit_ms);

#endif
