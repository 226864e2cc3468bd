/*
 * gen.h - the synthetic province (`fundguard gen`): institutions, insured persons,
 * doctors and a drug/item catalogue drawn from the sample knowledge base, then N
 * days of the three streams (claims, inpatient, invoicing) with daily and weekly
 * rhythms, inpatient stays, prescriptions and 进销存 flows, plus injected cases of
 * every fraud pattern of the detector catalogue with their ground truth.
 *
 * Streaming: the generator works one Beijing calendar day at a time and hands each
 * day's events to the sink in event-time order; memory is O(persons + institutions
 * + open cases + one day of events), never O(all events). Deterministic for a seed:
 * the same parameters give the same events, ids and truth lines, byte for byte.
 *
 * Background traffic is built to stay below every rule at default thresholds
 * (docs/CONFIGURATION.md) with reference/catalogue.json and reference/blacklists.json,
 * so that alerts come from injected cases only.
 */
#ifndef FG_GEN_H
#define FG_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "schemas/event.h"

#define FG_GEN_VERSION "fundguard-gen/1"

/** The injectable patterns, one per (rule, pattern) finding the detectors emit. */
typedef enum {
    FG_GP_SPLIT_STAY = 0,
    FG_GP_FREQUENT_ADMISSION,
    FG_GP_ABSENT_CHECKS,
    FG_GP_BED_ONLY_DAYS,
    FG_GP_CLAIM_IN_STAY,
    FG_GP_PATIENT_SUPPLY,
    FG_GP_INSTITUTION_DAILY,
    FG_GP_SALES_EXCEED_SUPPLY,
    FG_GP_TRACE_REUSE,
    FG_GP_TRACE_REFLUX,
    FG_GP_NO_PRESCRIPTION,
    FG_GP_UNREGISTERED_BUYER,
    FG_GP_DUP_DAILY,
    FG_GP_DUP_STAY,
    FG_GP_GENDER,
    FG_GP_AGE,
    FG_GP_TWO_REGIONS,
    FG_GP_PHARMACY_HOPPING,
    FG_GP_COST_PER_VISIT,
    FG_GP_LENGTH_OF_STAY,
    FG_GP_ADMISSIONS,
    FG_GP_USAGE_SPIKE,
    FG_GP_BL_INSTITUTION,
    FG_GP_BL_DOCTOR,
    FG_GP_BL_PERSON,
    FG_GP_COUNT
} fg_gen_pattern_t;

/** @returns the detector name of a pattern ("readmission_burst" ...). */
const char *fg_gen_pattern_rule(fg_gen_pattern_t p);
/** @returns the pattern string the detector emits ("split_stay" ...). */
const char *fg_gen_pattern_name(fg_gen_pattern_t p);

typedef struct fg_gen_params {
    uint64_t seed;     /**< default 1 */
    int days;          /**< default 30; 28..3650 (baseline rules need weeks of history, inventory a 30-day window) */
    int32_t start_day; /**< first day, days since 1970-01-01 (Beijing calendar), 2000..2058; default 2026-01-01 */
    uint64_t target_events; /**< approximate total of the three streams; default 100000 */
    /** injected cases per 10,000 events, per pattern (default 1); a pattern with rate > 0 gets >= 1 case */
    double rates[FG_GP_COUNT];
    const char *blacklists; /**< blacklists JSON (borrowed); NULL: the ids of the sample reference/blacklists.json */
} fg_gen_params_t;

/** Counts of one run (filled by fg_gen_run into sink->stats when set). */
typedef struct fg_gen_stats {
    uint64_t events[FG_STREAM_COUNT];
    uint64_t claims_by_visit[4];   /**< by fg_visit_t */
    uint64_t inpatient_by_type[6]; /**< by fg_ip_type_t */
    uint64_t invoicing_by_type[4]; /**< by fg_inv_type_t */
    uint64_t cases[FG_GP_COUNT];   /**< injected cases per pattern */
    uint64_t truth_lines;
    uint32_t institutions[3]; /**< hospitals, primary care, pharmacies */
    uint32_t regions, doctors;
    uint64_t persons;      /**< background insured persons */
    uint64_t case_persons; /**< persons created for injected cases */
} fg_gen_stats_t;

/**
 * Where generated data goes. Callbacks return 0 to go on, non-zero to stop the run
 * (fg_gen_run then fails with "sink stopped").
 */
typedef struct fg_gen_sink {
    void *ctx;
    /**
     * One event, in event-time order per stream (within a day: time, then stream,
     * then id). key: patient_id for claims and inpatient, institution_id for
     * invoicing. ev and everything it points to are borrowed for the call only.
     */
    int (*event)(void *ctx, const char *key, size_t key_len, int64_t timestamp_ms, const fg_event_t *ev);
    /** One ground-truth line (JSON object, no newline), borrowed for the call only. */
    int (*truth)(void *ctx, const char *json_line);
    fg_gen_stats_t *stats; /**< optional: filled at the end of the run */
} fg_gen_sink_t;

/** @brief Defaults: seed 1, 30 days from 2026-01-01, ~100k events, every rate 1 per 10k events. */
void fg_gen_params_default(fg_gen_params_t *p);

/**
 * @brief Sets rates from "PATTERN=R": PATTERN is "all", a rule ("card_misuse", every
 * pattern of it) or "rule.pattern" ("card_misuse.two_regions"); R >= 0 cases per
 * 10,000 events. @returns 0, or -1 with errstr naming what was wrong.
 */
int fg_gen_params_set_rate(fg_gen_params_t *p, const char *spec, char *errstr, size_t errstr_size);

/** @brief Parses "YYYY-MM-DD" (years 2000..2058) into days since the epoch. @returns 0, or -1 if malformed. */
int fg_gen_parse_date(const char *s, int32_t *days);

/**
 * @brief Generates the province, streaming to sink.
 * @returns 0, or -1 with errstr set (bad parameters, unreadable blacklists, sink stopped).
 */
int fg_gen_run(const fg_gen_params_t *p, fg_gen_sink_t *sink, char *errstr, size_t errstr_size);

/** @brief `fundguard gen ...` and `fundguard gen score ...`; argv[0] is "gen". @returns the exit code. */
int fg_cli_gen(int argc, char **argv);

#endif
