/*
 * mixed.h - a deterministic mixed scenario for replay tests: ~40 days of event
 * time from FG_T0 with a background of normal activity (hospitals, a primary
 * clinic, pharmacies, one-day outpatients, short stays, weekly purchases) and at
 * least one instance of every pattern of every detector, built against the
 * sample knowledge base (reference/catalogue.json, reference/blacklists.json).
 *
 * Design rules that make every instance independent of arrival order across
 * topics and partitions, and of a full re-read with a new consumer group over
 * the same Redis prefix:
 *  - background patients live one day (one claim, or one short stay), so no
 *    per-patient idempotence record of theirs expires before a re-read;
 *  - the events of each pattern's subject span less than the allowed lateness
 *    (7 days), so no contributing event is ever judged late;
 *  - baseline spikes (institution_indicators, high_value_usage) are built from
 *    patients who each contribute both baseline days and the spike day: every
 *    patient's events are one ordered partition, so when the last spike-day
 *    event is processed the whole baseline has been;
 *  - background volumes stay below every baseline rule's minimum volume.
 */
#ifndef FG_TEST_MIXED_H
#define FG_TEST_MIXED_H

#include <stddef.h>

#include "schemas/event.h"

typedef struct fg_mixed {
    fg_event_t *v; /* in event-time order (ties: stream, then event id) */
    size_t n, cap;
    void *pool; /* every string and item array of the events */
} fg_mixed_t;

/** @brief Builds the scenario (self-contained: nothing borrowed from the fg_scn arena). */
void fg_mixed_build(fg_mixed_t *m);
void fg_mixed_free(fg_mixed_t *m);

/* Subjects and keys of a few instances, for alert ids computed independently. */
#define FG_MIX_SPLIT_PATIENT "MX-RA1"
#define FG_MIX_SPLIT_WKEY "MX-H1\x1f" "MX-RA1-A1>MX-H1\x1f" "MX-RA1-A2"
#define FG_MIX_RX_PHARMACY "MX-PH2"
#define FG_MIX_RX_CLAIM "MX-RX1-C1"
#define FG_MIX_HOP_CARD "C-MX-CM2"
#define FG_MIX_HOP_DAY "2026-01-23"
#define FG_MIX_IM_PHARMACY "MX-PH-IM"
#define FG_MIX_IM_WKEY "XA11GAW059A001010100001\x1f" "2026-01-07"
#define FG_MIX_DB_PATIENT "MX-DB1"
#define FG_MIX_DB_WKEY "110200001:2026-01-19"
#define FG_MIX_BL_INSTITUTION "H14010500871"
#define FG_MIX_BL_DAY "2026-01-25"

#endif
