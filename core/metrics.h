/*
 * metrics.h - a small metrics registry with Prometheus text exposition, and the
 * fundguard instruments (fg_mon_*) the pipeline feeds and the HTTP endpoint reads.
 *
 * Thread safety: the HTTP server's thread renders while the consumer thread
 * writes, so every registry operation takes the registry's mutex. Writers call
 * in per batch (or per rare event), never per message in a hot loop, so one
 * mutex costs nothing measurable.
 *
 * Exposition format (text 0.0.4): "# HELP" and "# TYPE" per family, one line per
 * series; label values escape \\, \" and \n; HELP escapes \\ and \n; histograms
 * give cumulative _bucket{le=...} lines ending with le="+Inf" (= _count), then
 * _sum and _count.
 */
#ifndef FG_METRICS_H
#define FG_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { FG_METRIC_COUNTER = 0, FG_METRIC_GAUGE, FG_METRIC_HISTOGRAM } fg_metric_type_t;

typedef struct fg_metrics fg_metrics_t;
typedef struct fg_metric_family fg_metric_family_t;

fg_metrics_t *fg_metrics_create(void);
void fg_metrics_destroy(fg_metrics_t *m); /* accepts NULL */

/**
 * @brief Declares a family. @param labels comma-separated label names ("" or NULL: none);
 * @param buckets histogram upper bounds, ascending, without +Inf (ignored otherwise).
 * A family without labels exposes its single series (0) from the start.
 * @returns the family (owned by the registry), or NULL on bad arguments.
 */
fg_metric_family_t *fg_metrics_declare(fg_metrics_t *m, const char *name, const char *help, fg_metric_type_t type,
                                       const char *labels, const double *buckets, size_t n_buckets);
/** @brief Counter or gauge: adds delta to the series of these label values (one per label name). */
void fg_metric_add(fg_metric_family_t *f, const char *const *values, double delta);
/** @brief Gauge: sets the series. */
void fg_metric_set(fg_metric_family_t *f, const char *const *values, double v);
/** @brief Histogram: records one observation. */
void fg_metric_observe(fg_metric_family_t *f, const char *const *values, double v);
/** @brief Drops every series of the family (gauges whose label sets come and go, e.g. partitions). */
void fg_metric_reset(fg_metric_family_t *f);
/** @returns a counter's or gauge's value, a histogram's count; 0 for an unknown series. */
double fg_metric_get(fg_metric_family_t *f, const char *const *values);
/** @returns the exposition text (malloc'd; free()). */
char *fg_metrics_render(fg_metrics_t *m);

/* ---- fundguard instruments (one process-wide registry) ---- */

/** @returns the process-wide registry with every fundguard_* family declared. */
fg_metrics_t *fg_mon_registry(void);
/** @brief Names input stream idx (0..7) and its topic, for per-stream figures. */
void fg_mon_stream(int idx, const char *name, const char *topic);
void fg_mon_consumed(int idx, uint64_t n);
/** @brief Counts a dead letter under fg_mon_reason_class(reason): the text itself never leaves. */
void fg_mon_dead_letter(const char *reason);
/**
 * @returns a short category for a dead-letter reason: "invalid_json", "not_an_object", "missing_field",
 * "wrong_type", "invalid_value", "avro", "unknown_format", "empty", "unknown_topic" or "validation".
 * Derived from the reason's fixed wording only, because the rest may quote personal data.
 */
const char *fg_mon_reason_class(const char *reason);
/** @brief An alert Kafka acknowledged: counted, kept for the summary (json copied). */
void fg_mon_alert_published(const char *rule, const char *severity, const char *rule_name_zh,
                            int64_t detection_ms, const char *json);
/** @brief A risk record Kafka acknowledged (json as published; its "score" ranks it). */
void fg_mon_risk_published(const char *institution_id, const char *json);
void fg_mon_batch_seconds(double s);
/** @brief fg_state observer: one Redis exchange took seconds (< 0: none was made) and failed times. */
void fg_mon_redis_exchange(void *ud, double seconds, int failed);
/** @brief 1 while a batch is held during a state-store outage; counts each pause. */
void fg_mon_paused(int paused);
/** @brief A batch was redone because another replica changed a key it read (WATCH). */
void fg_mon_state_conflict(void);
void fg_mon_late_events(uint64_t n);
void fg_mon_control_message(void);
void fg_mon_commit(void);
void fg_mon_ruleset(const char *version);
/** @brief Replaces every consumer-lag series at once (n partitions). */
void fg_mon_lag(const char *const *topics, const int32_t *partitions, const int64_t *lags, size_t n);
/** @brief Samples the consumed totals for rate_per_s; call about once a second (monotonic ms). */
void fg_mon_tick(int64_t mono_ms);
/* readiness inputs */
void fg_mon_set_kafka(int ok);
void fg_mon_set_redis(int ok);
void fg_mon_set_assigned(int ok);
/** @returns 1 if ready; else 0 with a one-line reason in why. */
int fg_mon_ready(char *why, size_t why_size);
/** @returns /metrics text (malloc'd). */
char *fg_mon_render(void);
/** @returns the /api/summary JSON (malloc'd); now_ms is the wall clock, mono_ms the monotonic one. */
char *fg_mon_summary_json(int64_t now_ms, int64_t mono_ms);

#endif
