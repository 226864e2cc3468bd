/*
 * score.h - scoring alerts against the generator's ground truth (truth.jsonl).
 *
 * A truth line names an injected case: rule, pattern (or null: any pattern of the
 * rule), subject type and id, and the event-time span [from_ms, to_ms] of the events
 * that constitute it. An alert matches a truth line when rule, pattern (unless null),
 * subject type and subject id are equal and its window [window_start, window_end]
 * (event_time when it has none) overlaps the case's span widened by the rule's own
 * horizon (fg_gen_score_widen_ms). Per rule: a case is found when some alert matches
 * it (recall = found / cases); an alert is right when it matches some case
 * (precision = right / alerts). Alerts are de-duplicated by alert_id, keeping the
 * last version read (the latest published content).
 */
#ifndef FG_GEN_SCORE_H
#define FG_GEN_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fg_gen_score fg_gen_score_t;

typedef struct {
    char rule[48];
    uint64_t cases, cases_found;
    uint64_t alerts, alerts_right;
    double precision; /**< 1 when the rule raised no alert */
    double recall;    /**< 1 when the rule has no case */
} fg_gen_score_rule_t;

/** @returns an empty scorer; caller frees with fg_gen_score_destroy(). */
fg_gen_score_t *fg_gen_score_create(void);
void fg_gen_score_destroy(fg_gen_score_t *s); /* accepts NULL */

/** @brief Adds one truth line (JSON). @returns 0, or -1 with errstr (not JSON, missing field). */
int fg_gen_score_add_truth(fg_gen_score_t *s, const char *json_line, char *errstr, size_t errstr_size);
/** @brief Adds one alert (the JSON published on the alert topic). @returns 0, or -1 with errstr. */
int fg_gen_score_add_alert(fg_gen_score_t *s, const char *json_line, char *errstr, size_t errstr_size);

/** @brief Adds every line of a file with add (blank lines skipped). @returns 0, or -1 with errstr naming file:line. */
int fg_gen_score_add_file(fg_gen_score_t *s, const char *path, int truth, char *errstr, size_t errstr_size);

/**
 * @brief Scores. @returns the number of rules seen in truth or alerts (sorted by name); the
 * first max of them are written to out (out may be NULL with max 0 to count).
 */
size_t fg_gen_score_compute(fg_gen_score_t *s, fg_gen_score_rule_t *out, size_t max);

/** @returns the result as JSON {"rules":[{rule,cases,found,alerts,right,precision,recall}...],"total":{...}};
 *  caller frees with free(). */
char *fg_gen_score_json(fg_gen_score_t *s);

/** @brief Prints the per-rule table, then up to max_misses missed cases and unmatched alerts. */
void fg_gen_score_print(fg_gen_score_t *s, FILE *out, size_t max_misses);

/** @returns how far (ms) a case's span is widened on each side for rule. */
int64_t fg_gen_score_widen_ms(const char *rule);

#endif
