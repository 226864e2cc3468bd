/*
 * scenario.h - building events and running them through a processor backed
 * by the harness's real redis-server, for detector tests.
 */
#ifndef FG_TEST_SCENARIO_H
#define FG_TEST_SCENARIO_H

#include "consumers/processor.h"
#include "core/config.h"
#include "schemas/event.h"
#include "state/state.h"

#define FG_T0 1767225600000LL /* 2026-01-01T00:00:00Z: scenario day 0 */

typedef struct fg_scn {
    fg_config_t *cf;
    fg_state_t *st;
    fg_processor_t *proc;
    char prefix[128];
    /* every alert id published so far, in order, and how often each was published */
    char ids[256][40];
    int published[256];
    size_t n_ids;
    size_t last_run_count; /* alerts returned by the last fg_scn_run */
} fg_scn_t;

/** @brief Processor with default settings plus "key=value" overrides and a fresh key prefix. */
void fg_scn_init(fg_scn_t *s, const char **overrides, int n);
void fg_scn_fini(fg_scn_t *s);
/** @brief Runs events as one batch, acknowledges its alerts (as Kafka would). */
void fg_scn_run(fg_scn_t *s, const fg_event_t *evs, size_t n);
/** @brief Runs each event as its own batch. */
void fg_scn_run_each(fg_scn_t *s, const fg_event_t *evs, size_t n);
/** @returns the last published version of alert id, or NULL. */
const fg_alert_t *fg_scn_alert(fg_scn_t *s, const char *id);

/** @brief Uses kb (borrowed; NULL: empty) for the following runs. */
void fg_scn_set_kb(fg_scn_t *s, const fg_kb_t *kb);

/** A line item for fg_ev_claim / fg_ev_invoicing. trace: one trace code or NULL. */
typedef struct fg_titem {
    const char *code;
    fg_item_kind_t kind;
    double qty;
    int64_t unit_price_fen;
    int32_t days_supply; /* FG_DAYS_ABSENT if none */
    const char *trace;
} fg_titem_t;

/**
 * @remark Events from fg_ev_claim / fg_ev_invoicing keep their items in storage
 * that fg_scn_fini frees: build them again (or deep-copy them) after a fini.
 *
 * @brief A claim at FG_T0 + day days: amounts are qty x unit price, total their
 * sum, fund_paid 70 % of it. region "140100", card "C-<patient>", gender and birth
 * date unknown: set ev.u.claim fields afterwards to change them. Items are copied
 * into storage that lives until fg_scn_fini; strings are borrowed.
 */
fg_event_t fg_ev_claim(const char *claim_id, const char *patient, const char *inst, fg_inst_type_t inst_type,
                       fg_visit_t visit, double day, const fg_titem_t *items, uint32_t n_items);
/** @brief An invoicing record of an institution (same conventions). */
fg_event_t fg_ev_invoicing(const char *event_id, const char *inst, fg_inv_type_t type, double day,
                           const fg_titem_t *items, uint32_t n_items);

/** @brief An inpatient event at FG_T0 + day days. Strings borrowed. */
fg_event_t fg_ev_inpatient(const char *event_id, fg_ip_type_t type, const char *patient, const char *inst,
                           const char *admission, double day);

#endif
