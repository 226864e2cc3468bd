/*
 * baseline.h - per-key daily series and their trailing baselines, on top of
 * the state hash API (state.h).
 *
 * Rules that compare "today" with an entity's own history (an institution's
 * cost per visit, its use of one high-value item...) keep one integer per
 * event-time day and series in a Redis hash: field "<series>:<day>", where day
 * is the day number in a fixed-offset calendar (China Standard Time, UTC+8, for
 * fundguard: a hospital's day ends at its local midnight). Several series of one
 * entity share its hash, so one fetch brings all of them. Counters are HINCRBY
 * (additive, so several consumer processes can feed one institution).
 *
 * The baseline of day D is computed over the n previous days D-n .. D-1
 * (D itself excluded, so a spike cannot raise its own bar) from the bucket
 * values only: no wall clock, no arrival order. Days with no data are not
 * observations (a closed day is not a zero-volume day): the EWMA runs over the
 * days with data, oldest first.
 *
 * Evidence: a series may also hold, per day, a small ranked list of event ids
 * (the K highest-ranked contributing events, ties broken by id), so an alert
 * built from a day's counters can name the same events whatever the batching.
 */
#ifndef FG_BASELINE_H
#define FG_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/** China Standard Time: the calendar day of Chinese institutions (no DST). */
#define FG_CST_OFFSET_MS (8 * FG_MS_PER_HOUR)
/** Longest series name accepted ("<series>:<day>" must fit a small buffer). */
#define FG_BASELINE_SERIES_MAX 32
/** Longest series window fg_baseline_load accepts. */
#define FG_BASELINE_MAX_DAYS 400
/** Evidence entries kept per series and day. */
#define FG_EVIDENCE_MAX 8
/** Event ids are validated to <= 128 bytes upstream. */
#define FG_EVIDENCE_ID 136

/** @returns the day number of t_ms in the calendar offset_ms ahead of UTC (floor, also before 1970). */
int64_t fg_day_of(int64_t t_ms, int64_t offset_ms);
/** @returns the UTC ms at which day starts in that calendar. */
int64_t fg_day_start_ms(int64_t day, int64_t offset_ms);
/** @brief "YYYY-MM-DD" of day (a window key for alerts). @returns length, or -1 if it does not fit. */
int fg_day_str(int64_t day, char *buf, size_t size);

/** @brief Forms the field "<series>:<day>". @returns length, or -1 if it does not fit. */
int fg_baseline_field(char *buf, size_t size, const char *series, int64_t day);
/** @brief HINCRBY of the day's bucket (the key's TTL is the caller's). @returns the new value. */
int64_t fg_baseline_add(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t delta);
/** @returns 1 and *val if the day's bucket exists and is an integer, 0 otherwise (*val = 0). */
int fg_baseline_get(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t *val);
/**
 * @brief Reads days [day-n, day) of a series, oldest first: vals[i] is day-n+i,
 * has[i] says whether that bucket exists. n is clamped to FG_BASELINE_MAX_DAYS.
 * @returns the number of days with data.
 */
size_t fg_baseline_load(fg_state_t *st, const char *key, const char *series, int64_t day, size_t n, int64_t *vals,
                        unsigned char *has);

/** Trailing statistics of a series (all 0 when days == 0). */
typedef struct fg_baseline {
    size_t days;        /**< observations (days with data) */
    double mean, std;   /**< plain mean and sample standard deviation (n-1; 0 with one day) */
    double ewma_mean;   /**< exponentially weighted mean, alpha on the newest day */
    double ewma_std;    /**< sqrt of the matching exponentially weighted variance */
} fg_baseline_t;

/**
 * @brief Statistics of x[0..n) (oldest first), skipping entries with has[i] == 0
 * (has may be NULL: all present). EWMA (West/Finch incremental form): the first
 * observation seeds mean = x0, var = 0; then for each x: d = x - mean,
 * mean += alpha d, var = (1 - alpha)(var + alpha d^2). alpha outside (0, 1] is
 * treated as 1 (mean = last value). Pure: depends on the values only.
 */
void fg_baseline_stats(const double *x, const unsigned char *has, size_t n, double alpha, fg_baseline_t *out);

/**
 * @brief The bar a day's value must exceed to be anomalous: mean + sigma x std,
 * with the EWMA figures when alpha is in (0, 1], the plain ones when alpha is 0.
 * std is floored at min_std_pct % of |mean| and, for counts (is_count), at
 * sqrt(|mean|) (Poisson noise), so a flat history does not turn every small
 * rise into an anomaly.
 * @param mean, std receive the figures used (may be NULL).
 * @returns the threshold.
 */
double fg_baseline_bar(const fg_baseline_t *bl, double alpha, double sigma, double min_std_pct, int is_count,
                       double *mean, double *std);

/** @brief fg_baseline_load + fg_baseline_stats of one integer series over [day-n, day). */
void fg_baseline_series(fg_state_t *st, const char *key, const char *series, int64_t day, size_t n, double alpha,
                        fg_baseline_t *out);

/**
 * @brief Deletes the "<series>:<day>" fields with day < before_day: of one series,
 * or of every series (counters and evidence) when series is NULL; other fields
 * (e.g. the "~max" watermark) are kept. Walks the key: call it when the key's
 * event-time day advances, not on every event.
 */
void fg_baseline_prune(fg_state_t *st, const char *key, const char *series, int64_t before_day);

/** Day horizons of a shared entity key (see fg_baseline_horizon). */
typedef struct fg_horizon {
    int64_t judge_from; /**< first day still judged; its evidence is kept */
    int64_t keep_from;  /**< first day whose counters are kept: judge_from - baseline_days */
} fg_horizon_t;

/**
 * @brief Horizons of a key fed by many source partitions (an institution's daily
 * series), from the key-wide newest day max_day ("~max"):
 * judge_from = max_day - ceil(lateness) - skew_days - 1, keep_from = judge_from -
 * baseline_days, so every judged day still has its whole baseline.
 *
 * Why skew_days: lateness is judged against the event's own source partition
 * (fg_dctx_watermark), so an event that is on time may still be far behind another
 * partition feeding the same key: a consumer that works off a backlog is further
 * behind on some partitions than on others. A day stays judged (and re-judged when
 * it or a day of its baseline changes) while such an on-time event can reach it,
 * up to skew_days of cross-partition skew; with skew_days = 0 only events within
 * the lateness of the key-wide newest event are. Both follow max_day, a maximum,
 * so they only advance and their final value depends on the set of events only.
 */
void fg_baseline_horizon(int64_t max_day, int64_t baseline_days, int64_t lateness_ms, int64_t skew_days,
                         fg_horizon_t *h);

/** A day's evidence: up to FG_EVIDENCE_MAX event ids, highest rank first. */
typedef struct fg_evidence {
    int64_t max_t;      /**< latest event time among every event added (not only the kept ones) */
    size_t n;
    int64_t rank[FG_EVIDENCE_MAX];
    char id[FG_EVIDENCE_MAX][FG_EVIDENCE_ID];
} fg_evidence_t;

/**
 * @brief Adds event_id with rank (and its time t_ms) to the day's evidence of
 * series, keeping the k (<= FG_EVIDENCE_MAX) highest ranks, ties by smaller id.
 * The same id again replaces its entry, so re-delivery changes nothing. The
 * result depends on the set of events only, not on their order. A read-modify-write
 * of one field: two processes writing the same institution concurrently may lose
 * one another's entry (evidence only; counters are additive).
 */
void fg_evidence_add(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t rank,
                     const char *event_id, int64_t t_ms, size_t k);
/** @brief Reads the day's evidence of series into ev (n = 0 when none). */
void fg_evidence_get(fg_state_t *st, const char *key, const char *series, int64_t day, fg_evidence_t *ev);

#endif
