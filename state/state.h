/*
 * state.h - the Redis window store detectors keep their state in.
 *
 * One poll batch is one cycle with exactly two pipelined exchanges:
 *   fg_state_begin()        clear the local view
 *   fg_state_want(key) ...  detectors declare the keys the batch needs
 *   fg_state_fetch()        ONE pipelined round trip: HGETALL of every wanted key
 *   hget/hset/hincrby/...   detectors read and change the local view; each
 *                           change is also queued as a Redis write
 *   fg_state_flush()        ONE pipelined round trip: MULTI, the queued writes
 *                           (coalesced per key and field), a PEXPIRE on every
 *                           written key, EXEC; plus any extra reads appended
 *                           with fg_state_flush_get()
 * So the batch's updates apply all-or-nothing, state costs two round trips per
 * batch rather than one per event, and several events on one key in a batch
 * cost one read and one write.
 *
 * Every key is a Redis hash named <prefix>:<kind>:{<tag>:<id>}: the braces are
 * a Redis Cluster hash tag, so all of one patient's (or institution's) keys
 * share a slot. Every written key gets a TTL, so state never grows without bound:
 * the largest fg_state_expire() of the batch for that key, or 400 days if none
 * was asked for (PEXPIRE replaces the key's previous TTL on every write).
 */
#ifndef FG_STATE_H
#define FG_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/common.h"

typedef struct fg_state fg_state_t;

typedef struct fg_state_opts {
    const char *host;        /**< default "127.0.0.1" */
    int port;                /**< default 6379 */
    const char *username;    /**< ACL user, or NULL for "default" */
    const char *password;    /**< or NULL */
    int db;                  /**< SELECT db, default 0 */
    const char *prefix;      /**< key prefix, default "fg" */
    int timeout_ms;          /**< connect and command timeout, default 2000 */
} fg_state_opts_t;

/** Counters for metrics and benchmarks. */
typedef struct fg_state_stats {
    uint64_t round_trips;    /**< pipelined exchanges with Redis */
    uint64_t commands;       /**< commands sent */
    uint64_t errors;         /**< failed exchanges (connection lost, error reply) */
    uint64_t conflicts;      /**< batches whose EXEC another client pre-empted (WATCH); redone */
    uint64_t reconnects;
} fg_state_stats_t;

/**
 * @brief Optimistic concurrency on shared keys: while on, each fetch WATCHes the non-patient
 * keys it reads (institution, card, trace code...), and a flush whose EXEC another client
 * pre-empted returns FG_CONFLICT with nothing applied (redo the batch from fg_state_begin).
 * The pipeline turns it on while other group members may write the same shared keys
 * (this process does not own every input partition). Default on.
 */
void fg_state_watch_shared(fg_state_t *st, int on);

/**
 * @brief Connects (AUTH and SELECT if configured).
 * @returns the store, or NULL with errstr set ("redis 127.0.0.1:6380: Connection refused",
 *          "redis AUTH failed: WRONGPASS ...").
 */
fg_state_t *fg_state_create(const fg_state_opts_t *opts, char *errstr, size_t errstr_size);
void fg_state_destroy(fg_state_t *st); /* accepts NULL */

/** @brief Forms "<prefix>:<kind>:{<tag>:<id>}" into buf. @returns length, or -1 if it does not fit. */
int fg_state_key(const fg_state_t *st, char *buf, size_t size, const char *kind, char tag, const char *id);

/** @brief Starts a batch cycle: drops the previous batch's local view and queued writes. */
void fg_state_begin(fg_state_t *st);
/** @brief Declares a hash key this batch reads. Duplicates are fine. */
void fg_state_want(fg_state_t *st, const char *key);
/**
 * @brief One pipelined HGETALL of every wanted key, into the local view.
 * @returns FG_OK, or FG_AGAIN if Redis is unreachable (call again after a backoff;
 *          the store reconnects by itself), or FG_ERR if Redis refused a read (e.g.
 *          WRONGTYPE: a key that is not a hash) or refused AUTH/SELECT on reconnect.
 */
int fg_state_fetch(fg_state_t *st, char *errstr, size_t errstr_size);

/*
 * Local view. Keys not fetched are treated as empty (and logged once at DEBUG):
 * detectors must want() what they read. Values are byte strings; *len excludes
 * the NUL terminator that is always present.
 */
const char *fg_state_hget(fg_state_t *st, const char *key, const char *field, size_t *len);
/** @returns the field as an integer, or 0 if absent or not a number. */
int64_t fg_state_hget_int(fg_state_t *st, const char *key, const char *field);
void fg_state_hset(fg_state_t *st, const char *key, const char *field, const char *val, size_t len);
/** @brief fg_state_hset of v in decimal (the text "%lld" gives), without printf. */
void fg_state_hset_int(fg_state_t *st, const char *key, const char *field, int64_t v);
/** @returns the new value. */
int64_t fg_state_hincrby(fg_state_t *st, const char *key, const char *field, int64_t delta);
void fg_state_hdel(fg_state_t *st, const char *key, const char *field);
/** @brief Number of fields the key has in the local view. */
size_t fg_state_hlen(fg_state_t *st, const char *key);
/** @brief Calls cb for each field of key in the local view; stop early by returning non-zero. */
typedef int(fg_state_field_cb)(const char *field, const char *val, size_t len, void *ud);
void fg_state_hforeach(fg_state_t *st, const char *key, fg_state_field_cb *cb, void *ud);
/** @brief TTL applied to key at flush (the largest asked for in the batch wins). */
void fg_state_expire(fg_state_t *st, const char *key, int64_t ttl_ms);

/**
 * @brief Queues a plain GET whose reply is returned by fg_state_flush_reply()
 * after the flush (used for alert de-duplication markers). @returns its index.
 */
int fg_state_flush_get(fg_state_t *st, const char *key);
/** @brief Queues SET key val PX ttl_ms outside the transaction (alert markers). */
void fg_state_flush_set(fg_state_t *st, const char *key, const char *val, int64_t ttl_ms);
/**
 * @brief Sends the batch's writes in one MULTI/EXEC and the queued GET/SETs in the
 * same pipelined round trip. No-op (FG_OK, no round trip) when nothing is queued.
 * Per key: one HSET of every field set, one HDEL of every field deleted, one
 * HINCRBY per field only incremented (summed deltas, so concurrent writers add
 * up), then PEXPIRE. GET/SETs follow EXEC in the order they were queued.
 * @returns FG_OK;
 *          FG_AGAIN if Redis is unreachable or refused the transaction as a whole
 *          (EXECABORT, OOM, LOADING...): redo the batch from fg_state_begin().
 *          Nothing applied if the connection failed before the batch was sent;
 *          if it was lost while awaiting the replies (timeout, dropped connection),
 *          the transaction applied either fully or not at all and the store cannot
 *          tell which (logged at WARN, errstr says "outcome unknown"). The redo
 *          must start again from fg_state_begin(): its fetch then sees whatever
 *          the lost transaction applied, and every HINCRBY of fundguard is guarded
 *          by a first-sight record written in the same transaction (detectors: the
 *          event id in a per-patient or per-record field), so the redo adds
 *          nothing twice. Calling fg_state_flush() again instead would re-send
 *          the same increments and count them twice (tests/test_lost_reply.c);
 *          FG_ERR if a command failed inside EXEC (e.g. HINCRBY on a field that
 *          holds a non-integer in Redis but was not fetched): Redis does not roll
 *          back, so the batch's other writes DID apply; do not redo the batch.
 */
int fg_state_flush(fg_state_t *st, char *errstr, size_t errstr_size);
/** @returns the reply of the idx-th fg_state_flush_get() of the last flush, or NULL if nil. */
const char *fg_state_flush_reply(fg_state_t *st, int idx, size_t *len);

/** @brief One PING round trip; FG_OK or FG_AGAIN (for readiness and back-off probes). */
int fg_state_ping(fg_state_t *st, char *errstr, size_t errstr_size);
void fg_state_stats(const fg_state_t *st, fg_state_stats_t *out);
/**
 * @brief Observer called after each fetch, flush or ping that talked to Redis (or failed to
 * connect): seconds the exchange took (-1 when no connection could be made) and how many
 * errors it counted. For metrics; runs on the caller's thread. NULL removes it.
 */
typedef void fg_state_observer_fn(void *ud, double seconds, int failed);
void fg_state_set_observer(fg_state_t *st, fg_state_observer_fn *fn, void *ud);

/*
 * Windows on top of hashes (state/window.c): event-time buckets as fields.
 * A bucketed counter is a hash whose fields are bucket start times (ms, decimal)
 * and values integer sums.
 */
/** @brief Adds delta to the bucket containing t_ms; also sets the key's TTL. */
void fg_window_add(fg_state_t *st, const char *key, int64_t bucket_ms, int64_t t_ms, int64_t delta,
                   int64_t ttl_ms);
/** @returns the sum of buckets whose start lies in [from_ms, to_ms). */
int64_t fg_window_sum(fg_state_t *st, const char *key, int64_t from_ms, int64_t to_ms);
/** @brief Deletes buckets that start before before_ms (event-time expiry). */
void fg_window_prune(fg_state_t *st, const char *key, int64_t before_ms);

#endif
