/*
 * detector.h - the interface every fraud rule implements.
 *
 * A detector is a static descriptor: names, the streams it reads, its
 * configuration table and callbacks. The processor owns the loop, Kafka and
 * Redis; a detector only declares which state keys an event needs (want),
 * then reads/changes that state and emits alerts (on_event). Everything is in
 * event time: a detector never looks at the wall clock, so a replay at any
 * speed makes the same decisions. Adding a rule = one file here + one line in
 * registry.c.
 */
#ifndef FG_DETECTOR_H
#define FG_DETECTOR_H

#include "alerts/alert.h"
#include "core/config.h"
#include "core/pseudo.h"
#include "reference/kb.h"
#include "schemas/event.h"
#include "state/state.h"

/** Per-event context handed to want/on_event by the processor. */
typedef struct fg_dctx {
    fg_state_t *st;              /**< batch-scoped state view */
    fg_alerts_t *alerts;         /**< the batch's alerts (use fg_dctx_alert) */
    const char *patient_pseudo;  /**< pseudonym of ev->patient_id, or NULL (invoicing) */
    const char *card_pseudo;     /**< pseudonym of ev->card_id, or NULL */
    const char *ruleset_version;
    int64_t detection_time_ms;   /**< wall clock of the batch, for the alert only */
    int64_t allowed_lateness_ms; /**< events.allowed_lateness_days */
    const fg_kb_t *kb;           /**< reference data; never NULL (empty when none is configured) */
    int late;                    /**< a detector sets it when it judged this event late (metrics) */
    const fg_event_t *ev;        /**< the event being processed (set by the processor) */
} fg_dctx_t;

typedef struct fg_detector {
    const char *name;         /**< rule id, e.g. "readmission_burst"; config under detectors.<name>. */
    const char *name_zh;      /**< e.g. "分解住院 / 频繁住院" */
    const char *name_en;      /**< e.g. "split hospitalisation / frequent admission" */
    const char *description;  /**< one paragraph for the README and config reference */
    unsigned streams;         /**< FG_STREAM_BIT(...) of the streams it reads */
    const fg_conf_decl_t *conf; /**< its thresholds; "enabled" is declared for every detector */
    size_t n_conf;

    /** @brief Reads its thresholds (prefix = "detectors.<name>."). @returns FG_OK or FG_ERR. */
    int (*init)(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size);
    /** @brief Declares the state keys ev needs (fg_state_want). */
    void (*want)(void *priv, const fg_event_t *ev, fg_dctx_t *dc);
    /** @brief Updates state and emits alerts for one event. */
    void (*on_event)(void *priv, const fg_event_t *ev, fg_dctx_t *dc);
    void (*destroy)(void *priv); /**< optional */
} fg_detector_t;

/** NULL-terminated list of every detector compiled in (registry.c). */
extern const fg_detector_t *const fg_detectors[];

/** @returns the registered detector with this name, or NULL. */
const fg_detector_t *fg_detector_find(const char *name);

/** @brief Declares "detectors.<name>.enabled" and each detector's table in cf. */
void fg_detectors_declare(fg_config_t *cf);

/**
 * @brief Starts (or continues, same id in this batch) an alert of detector det, with
 * its id made from pattern + subject + window_key, names, ruleset version and
 * detection time filled in. @returns the alert, borrowed until the batch ends.
 */
fg_alert_t *fg_dctx_alert(fg_dctx_t *dc, const fg_detector_t *det, const char *pattern,
                          const char *subject_type, const char *subject_id, const char *window_key);

/** @brief "<prefix>:<kind>:{p:<pseudonym>}" for the event's patient. @returns length or -1. */
int fg_dctx_patient_key(const fg_dctx_t *dc, char *buf, size_t size, const char *kind);
/** @brief "<prefix>:<kind>:{i:<institution id>}". @returns length or -1. */
int fg_dctx_inst_key(const fg_dctx_t *dc, char *buf, size_t size, const char *kind, const char *institution_id);

/**
 * @brief Event-time watermark of one state key (hash field "~max"): advances it
 * to t_ms if newer and reports whether the event is later than allowed lateness.
 *
 * What "late" is measured against: the watermark of the event's own source
 * partition on this key (field "~max/<stream>/<partition>", e.g. "~max/claims/3",
 * the newest event time that partition has delivered to the key before). A
 * partition is one ordered sequence, so the verdict is a function of the input,
 * not of how a consumer interleaves partitions into batches or where a crash
 * cut them: shared keys (an institution's, a card's) are fed by many partitions,
 * and a verdict against the key-wide "~max" would differ between two replays of
 * the same input. Events without a Kafka source (src_partition < 0: tests, one
 * ordered file) are judged against "~max" itself. Both fields are written with
 * the batch, in the same MULTI/EXEC as the state they guard.
 *
 * "~max" (the key-wide maximum, returned in maxt) is what detectors prune by:
 * being a maximum, its final value depends only on the set of events.
 * Late events are still processed; detectors count them in their alert
 * (late_events) and this sets dc->late for the metrics. Fields starting with
 * '~' are the store's, not records: record loaders skip them.
 * @param maxt receives the key-wide watermark after the update.
 * @returns 1 if late, 0 otherwise.
 */
int fg_dctx_watermark(fg_dctx_t *dc, const char *key, int64_t t_ms, int64_t *maxt);
#define FG_WATERMARK_FIELD "~max"

#endif
