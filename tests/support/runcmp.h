/*
 * runcmp.h - comparing `fundguard run`s of one input: a run's private group,
 * Redis prefix and output topics; the mixed scenario produced to the input
 * topics; a group's committed progress; alerts read back and compared with a
 * reference run; a metric read from /metrics. Shared by the fault tests
 * (test_redis_outage.c, test_broker_outage.c, test_rebalance.c); the crash test
 * (tests/wip/test_crash.c) has its own copy of the run and alert parts.
 *
 * "Same final alerts" (what the fault tests assert): the same set of alert ids,
 * and per id the same content of the last message published (offset order in
 * its partition; detection_time, the only field allowed to differ, removed).
 * How many times an id was published, and which less complete versions came
 * first, depend on how the input partitions interleave into batches and are
 * not compared (README: a later message with the same id is a more complete
 * version of the same finding; delivery is at least once).
 */
#ifndef FG_TEST_RUNCMP_H
#define FG_TEST_RUNCMP_H

#include <stddef.h>

#include "e2e.h"
#include "mixed.h"

typedef struct fg_rc_run {
    char group[200], prefix[200], alerts[200], risk[200], cases[200], dlq[200], cfg[300], log[300];
} fg_rc_run_t;

typedef struct fg_rc_opts {
    int redis_port; /* 0: the harness's redis-server */
    int http_port;  /* 0: no endpoint */
    int batch_max;  /* 0: the default */
} fg_rc_opts_t;

/**
 * @brief Names run r (tag: "A", "B", ...) over e's input topics and writes its config
 * (the current FG_TEST_BOOTSTRAP broker, session.timeout.ms=6000, fetch.wait.max.ms=50,
 * the sample reference data, schema id 7, batch_wait_ms 10, stats every second).
 */
void fg_rc_run_init(fg_rc_run_t *r, const fg_e2e_t *e, const char *tag, const fg_rc_opts_t *o);
/** @brief Touches r's output topics so readers find them even if nothing was published. */
void fg_rc_run_touch(const fg_rc_run_t *r);

/**
 * @brief Produces events [from, to) of the mixed scenario (event-time order) to e's
 * input topics as one-line JSON; claims and inpatient keyed by patient, invoicing by
 * institution (as tests/test_catalogue_replay.c).
 */
void fg_rc_produce_mixed(const fg_mixed_t *m, const fg_e2e_t *e, size_t from, size_t to);

/* ---- a group's committed offsets over e's three input topics (one client, never joins) ---- */
typedef struct fg_rc_progress {
    void *rk;    /* rd_kafka_t */
    void *parts; /* rd_kafka_topic_partition_list_t */
    int partitions;
} fg_rc_progress_t;

void fg_rc_progress_open(fg_rc_progress_t *p, const fg_e2e_t *e, const char *group);
/** @returns the committed offsets' sum (nothing committed counts 0), or -1 if the broker did not answer within timeout_ms. */
long long fg_rc_progress_committed(fg_rc_progress_t *p, int timeout_ms);
/** @returns the sum of the input partitions' high watermarks, or -1 if the broker did not answer. */
long long fg_rc_progress_end(fg_rc_progress_t *p);
void fg_rc_progress_close(fg_rc_progress_t *p);

/* ---- alerts ---- */
typedef struct fg_rc_alert {
    char *id;
    int partition;
    char *last;      /* canonical JSON (sorted keys) of the last message, detection_time removed */
    size_t messages; /* how often it was published */
} fg_rc_alert_t;

typedef struct fg_rc_alerts {
    fg_rc_alert_t *v;
    size_t n, cap;
    size_t messages;
} fg_rc_alerts_t;

/** @brief Reads every alert of topic (fails the test on a malformed one). Free with fg_rc_alerts_free. */
void fg_rc_alerts_read(const char *topic, fg_rc_alerts_t *out);
/**
 * @brief Compares got with the reference ref ("same final alerts", above).
 * @returns 0 if equal, else the number of differences, described (truncated) in why.
 */
size_t fg_rc_alerts_diff(const fg_rc_alerts_t *ref, const fg_rc_alerts_t *got, char *why, size_t why_size);
void fg_rc_alerts_free(fg_rc_alerts_t *s);

/* ---- monitoring ---- */
/** @returns the body of GET http://127.0.0.1:port/path if it answered 200 (caller frees), else NULL. */
char *fg_rc_http_get(int port, const char *path);
/** @returns the value of the series named exactly `series` (e.g. "fundguard_state_store_paused") in a /metrics body, or -1 if absent. */
double fg_rc_metric(const char *body, const char *series);
/** @returns a loopback TCP port that was free a moment ago. */
int fg_rc_free_port(void);

/** @returns seconds on a monotonic clock. */
double fg_rc_now(void);
void fg_rc_sleep(double seconds);
/** @returns $name as a positive number of seconds, or def if unset or invalid. */
double fg_rc_env_seconds(const char *name, double def);

#endif
