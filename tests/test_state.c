/*
 * test_state.c - the Redis window store against a real redis-server: the one
 * tests/run.sh started (FG_TEST_REDIS_PORT), plus private servers this file
 * starts itself where a scenario needs to stop Redis, require a password or
 * read INFO commandstats without other tests' traffic.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common.h"
#include "state/state.h"
#include "support/harness.h"
#include "support/redis_priv.h"

/* ---------- helpers ---------- */

static fg_state_t *open_store(int port, const char *prefix) {
    char err[256] = "";
    fg_state_opts_t o = {.host = "127.0.0.1", .port = port, .prefix = prefix, .timeout_ms = 2000};
    fg_state_t *st = fg_state_create(&o, err, sizeof(err));
    cr_assert_not_null(st, "create: %s", err);
    return st;
}

/* A second, plain hiredis connection: checks what really is in Redis. */
static redisContext *raw(int port, const char *password) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    cr_assert(c && !c->err, "raw connect: %s", c ? c->errstr : "oom");
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        cr_assert(r && r->type != REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
    return c;
}

static long long raw_int(redisContext *c, const char *fmt, const char *a, const char *b) {
    redisReply *r = b ? redisCommand(c, fmt, a, b) : redisCommand(c, fmt, a);
    cr_assert(r, "raw command failed: %s", c->errstr);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                  : -999999;
    freeReplyObject(r);
    return v;
}

static void cycle_ok(fg_state_t *st) {
    char err[256] = "";
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_OK, "fetch: %s", err);
}

static void flush_ok(fg_state_t *st) {
    char err[256] = "";
    cr_assert_eq(fg_state_flush(st, err, sizeof(err)), FG_OK, "flush: %s", err);
}

static fg_state_stats_t stats(fg_state_t *st) {
    fg_state_stats_t s;
    fg_state_stats(st, &s);
    return s;
}

/* A private redis-server on a free port, killed at fini if a test left it up. */
static fg_tredis_t g_priv;

static void priv_start(const char *password) {
    char args[160] = "";
    if (password) snprintf(args, sizeof(args), "--requirepass %s", password);
    fg_tredis_start(&g_priv, args);
}
static void priv_stop(const char *password) { fg_tredis_stop(&g_priv, NULL, password); }
static void priv_fini(void) { fg_tredis_kill(&g_priv); }

static const char *prefix(void) { return fg_test_unique("fgt"); }

/* ---------- batch cycle ---------- */

Test(state, fetch_then_hget_sees_what_previous_batch_flushed) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[256];
    cr_assert_gt(fg_state_key(st, key, sizeof(key), "cnt", 'p', "P001"), 0);

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_null(fg_state_hget(st, key, "name", NULL));
    cr_assert_eq(fg_state_hlen(st, key), 0);
    fg_state_hset(st, key, "name", "abc", 3);
    cr_assert_eq(fg_state_hincrby(st, key, "n", 5), 5);
    flush_ok(st);

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    size_t len = 0;
    const char *v = fg_state_hget(st, key, "name", &len);
    cr_assert_not_null(v);
    cr_assert_eq(len, 3);
    cr_assert_str_eq(v, "abc");
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 5);
    cr_assert_eq(fg_state_hlen(st, key), 2);
    fg_state_destroy(st);
}

Test(state, key_is_prefix_kind_and_cluster_hash_tag_and_minus_one_when_too_long) {
    fg_state_t *st = open_store(fg_test_redis_port(), "fgx");
    char key[64];
    int n = fg_state_key(st, key, sizeof(key), "win", 'i', "H42");
    cr_assert_str_eq(key, "fgx:win:{i:H42}");
    cr_assert_eq(n, (int)strlen("fgx:win:{i:H42}"));
    char tiny[8];
    cr_assert_eq(fg_state_key(st, tiny, sizeof(tiny), "win", 'i', "H42"), -1);
    /* the boundary: room for the name but not its NUL is too small */
    char exact[16];
    cr_assert_eq(fg_state_key(st, exact, sizeof(exact), "win", 'i', "H42"), 15);
    cr_assert_str_eq(exact, "fgx:win:{i:H42}");
    cr_assert_eq(fg_state_key(st, exact, 15, "win", 'i', "H42"), -1);
    fg_state_destroy(st);
}

/* A wanted key that is not a hash: the fetch says which key and why (FG_ERR), the
 * other keys of the same exchange are still read, and the next batch works. */
Test(state, fetch_of_a_non_hash_key_fails_naming_it_and_other_keys_still_load) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    char good[128], bad[128];
    fg_state_key(st, good, sizeof(good), "h", 'p', "G1");
    fg_state_key(st, bad, sizeof(bad), "h", 'p', "B1");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s a 17 b x", good));
    freeReplyObject(redisCommand(c, "SET %s plain-string", bad));
    redisFree(c);

    fg_state_begin(st);
    fg_state_want(st, bad);
    fg_state_want(st, good);
    char err[256] = "";
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "WRONGTYPE") && strstr(err, bad), "errstr: %s", err);
    cr_assert_eq(fg_state_hget_int(st, good, "a"), 17);
    cr_assert_str_eq(fg_state_hget(st, good, "b", NULL), "x");
    cr_assert_eq(fg_state_hlen(st, bad), 0);

    fg_state_begin(st);
    fg_state_want(st, good);
    cycle_ok(st);
    cr_assert_eq(fg_state_hincrby(st, good, "a", 1), 18);
    flush_ok(st);
    fg_state_destroy(st);
}

/*
 * 48 keys x 300 fields, touched key by key in turn (every call switches key, then
 * the same key twice in a row), so the key and field tables grow many times in one
 * batch. The local view must match a plain model exactly, in the batch that wrote
 * it, after a fetch in the next batch (with more changes on top), and in Redis.
 */
#define MK 48
#define MF 300
static int64_t g_model[MK][MF];
static int g_has[MK][MF];

static void model_fields(int i, char *f, size_t fsize) { snprintf(f, fsize, "field-%d-with-a-longer-name", i); }

static void check_view(fg_state_t *st, char keys[MK][128], const char *when) {
    for (int k = 0; k < MK; k++) {
        size_t present = 0;
        for (int i = 0; i < MF; i++) {
            char f[64];
            model_fields(i, f, sizeof(f));
            size_t len = 99;
            const char *v = fg_state_hget(st, keys[k], f, &len);
            if (!g_has[k][i]) {
                cr_assert_null(v, "%s: key %d field %d should be absent", when, k, i);
                cr_assert_eq(len, 0);
                continue;
            }
            present++;
            char want[24];
            snprintf(want, sizeof(want), "%lld", (long long)g_model[k][i]);
            cr_assert_not_null(v, "%s: key %d field %d missing", when, k, i);
            cr_assert_str_eq(v, want, "%s: key %d field %d", when, k, i);
            cr_assert_eq(len, strlen(want));
        }
        cr_assert_eq(fg_state_hlen(st, keys[k]), present, "%s: hlen of key %d", when, k);
    }
}

Test(state, many_keys_and_fields_interleaved_match_a_model_in_view_after_refetch_and_in_redis) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    static char keys[MK][128];
    for (int k = 0; k < MK; k++) {
        char id[16];
        snprintf(id, sizeof(id), "P%04d", k);
        fg_state_key(st, keys[k], sizeof(keys[k]), "many", 'p', id);
    }
    memset(g_model, 0, sizeof(g_model));
    memset(g_has, 0, sizeof(g_has));

    fg_state_begin(st);
    for (int k = 0; k < MK; k++) fg_state_want(st, keys[k]);
    cycle_ok(st);
    for (int i = 0; i < MF; i++)
        for (int k = 0; k < MK; k++) {
            char f[64];
            model_fields(i, f, sizeof(f));
            int64_t d = (int64_t)(k * 1000 + i) * (i % 2 ? -1 : 1);
            cr_assert_eq(fg_state_hincrby(st, keys[k], f, d), d);
            cr_assert_eq(fg_state_hincrby(st, keys[k], f, 3), d + 3); /* same key twice in a row */
            g_model[k][i] = d + 3;
            g_has[k][i] = 1;
            if (i % 10 == 0) {
                fg_state_hdel(st, keys[k], f);
                g_has[k][i] = 0;
            }
        }
    check_view(st, keys, "batch 1");
    flush_ok(st);

    fg_state_begin(st);
    for (int k = MK - 1; k >= 0; k--) fg_state_want(st, keys[k]);
    cycle_ok(st);
    check_view(st, keys, "batch 2 after fetch");
    /* extremes keep their exact decimal text through the view */
    fg_state_hset(st, keys[0], "min", "-9223372036854775808", 20);
    cr_assert_eq(fg_state_hincrby(st, keys[0], "min", 0), INT64_MIN);
    cr_assert_str_eq(fg_state_hget(st, keys[0], "min", NULL), "-9223372036854775808");
    cr_assert_eq(fg_state_hincrby(st, keys[1], "max", INT64_MAX), INT64_MAX);
    cr_assert_str_eq(fg_state_hget(st, keys[1], "max", NULL), "9223372036854775807");
    fg_state_hdel(st, keys[0], "min");
    fg_state_hdel(st, keys[1], "max");
    for (int k = 0; k < MK; k++)
        for (int i = 0; i < MF; i += 3) {
            char f[64];
            model_fields(i, f, sizeof(f));
            int64_t base = g_has[k][i] ? g_model[k][i] : 0; /* a deleted field comes back from 0 */
            cr_assert_eq(fg_state_hincrby(st, keys[k], f, -7), base - 7, "key %d field %d", k, i);
            g_model[k][i] = base - 7;
            g_has[k][i] = 1;
        }
    check_view(st, keys, "batch 2 after changes");
    flush_ok(st);

    redisContext *c = raw(port, NULL);
    for (int k = 0; k < MK; k += 7) {
        size_t present = 0;
        for (int i = 0; i < MF; i++) {
            present += (size_t)g_has[k][i];
            if (!g_has[k][i] || i % 13) continue;
            char f[64];
            model_fields(i, f, sizeof(f));
            cr_assert_eq(raw_int(c, "HGET %s %s", keys[k], f), g_model[k][i], "redis key %d field %d", k, i);
        }
        cr_assert_eq(raw_int(c, "HLEN %s", keys[k], NULL), (long long)present, "redis HLEN of key %d", k);
    }
    redisFree(c);
    fg_state_destroy(st);
}

Test(state, binary_value_with_nul_bytes_round_trips) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[256];
    fg_state_key(st, key, sizeof(key), "bin", 'p', "x");
    const char val[] = {'a', 0, 'b', '%', 's', 0};
    fg_state_begin(st);
    fg_state_hset(st, key, "f", val, sizeof(val));
    flush_ok(st);
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    size_t len = 0;
    const char *v = fg_state_hget(st, key, "f", &len);
    cr_assert_eq(len, sizeof(val));
    cr_assert_eq(memcmp(v, val, len), 0);
    cr_assert_eq(v[len], '\0');
    fg_state_destroy(st);
}

Test(state, several_events_on_one_key_in_one_batch_make_one_hset, .fini = priv_fini) {
    /* private server: INFO commandstats must see only our traffic */
    priv_start(NULL);
    fg_state_t *st = open_store(g_priv.port, prefix());
    redisContext *c = raw(g_priv.port, NULL);
    freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));
    char key[256];
    fg_state_key(st, key, sizeof(key), "last", 'p', "P1");

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_state_stats_t s0 = stats(st);
    char buf[32];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(buf, sizeof(buf), "v%d", i);
        fg_state_hset(st, key, "last", buf, (size_t)n);
        fg_state_hset(st, key, i % 2 ? "odd" : "even", buf, (size_t)n);
    }
    flush_ok(st);
    fg_state_stats_t s1 = stats(st);
    /* MULTI, HSET key last v49 odd v49 even v48, PEXPIRE, EXEC */
    cr_assert_eq(s1.commands - s0.commands, 4, "commands: %llu",
                 (unsigned long long)(s1.commands - s0.commands));
    cr_assert_eq(s1.round_trips - s0.round_trips, 1);

    redisReply *r = redisCommand(c, "INFO commandstats");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_not_null(strstr(r->str, "cmdstat_hset:calls=1,"), "%s", r->str);
    cr_assert_not_null(strstr(r->str, "cmdstat_hgetall:calls=1,"), "%s", r->str);
    cr_assert_not_null(strstr(r->str, "cmdstat_exec:calls=1,"), "%s", r->str);
    freeReplyObject(r);
    r = redisCommand(c, "HGET %s last", key);
    cr_assert_str_eq(r->str, "v49");
    freeReplyObject(r);
    redisFree(c);
    fg_state_destroy(st);
    priv_stop(NULL);
}

Test(state, thousand_mutations_over_100_keys_cost_exactly_two_round_trips) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    char keys[100][128];
    for (int k = 0; k < 100; k++) {
        char id[16];
        snprintf(id, sizeof(id), "P%03d", k);
        fg_state_key(st, keys[k], sizeof(keys[k]), "cnt", 'p', id);
    }
    fg_state_begin(st);
    fg_state_stats_t s0 = stats(st);
    for (int e = 0; e < 1000; e++) fg_state_want(st, keys[e % 100]);
    cycle_ok(st);
    for (int e = 0; e < 1000; e++) {
        fg_state_hincrby(st, keys[e % 100], "events", 1);
        char f[16];
        snprintf(f, sizeof(f), "b%d", e % 3);
        fg_state_hincrby(st, keys[e % 100], f, 10);
    }
    flush_ok(st);
    fg_state_stats_t s1 = stats(st);
    cr_assert_eq(s1.round_trips - s0.round_trips, 2);
    /* 100 HGETALL + MULTI + 100 x (4 HINCRBY + PEXPIRE) + EXEC; patient keys have one writer
     * (their partition's owner), so they are never WATCHed */
    cr_assert_eq(s1.commands - s0.commands, 100 + 1 + 500 + 1);
    cr_log_info("1000 events x 2 increments over 100 keys: round_trips=%llu commands=%llu",
                (unsigned long long)(s1.round_trips - s0.round_trips),
                (unsigned long long)(s1.commands - s0.commands));

    redisContext *c = raw(port, NULL);
    cr_assert_eq(raw_int(c, "HGET %s events", keys[7], NULL), 10);
    redisFree(c);

    fg_state_begin(st);
    for (int k = 0; k < 100; k++) fg_state_want(st, keys[k]);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, keys[99], "events"), 10);
    cr_assert_eq(fg_state_hget_int(st, keys[0], "b0"), 40); /* e = 0,300,600,900 */
    fg_state_destroy(st);
}

Test(state, empty_batch_costs_no_round_trip) {
    fg_state_t *st = open_store(fg_test_redis_port(), prefix());
    fg_state_stats_t s0 = stats(st);
    fg_state_begin(st);
    cycle_ok(st);
    flush_ok(st);
    fg_state_stats_t s1 = stats(st);
    cr_assert_eq(s1.round_trips, s0.round_trips);
    fg_state_destroy(st);
}

Test(state, ttl_is_set_on_every_written_key_default_400_days) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char a[128], b[128], d[128];
    fg_state_key(st, a, sizeof(a), "t", 'p', "a");
    fg_state_key(st, b, sizeof(b), "t", 'p', "b");
    fg_state_key(st, d, sizeof(d), "t", 'p', "d");
    fg_state_begin(st);
    fg_state_hset(st, a, "x", "1", 1);
    fg_state_expire(st, a, 60000);
    fg_state_expire(st, a, 120000); /* the largest asked for wins */
    fg_state_expire(st, a, 30000);
    fg_state_hincrby(st, b, "x", 1); /* no TTL asked: default */
    fg_state_hset(st, d, "x", "1", 1);
    fg_state_hdel(st, d, "x");
    fg_state_hset(st, d, "y", "1", 1);
    flush_ok(st);

    redisContext *c = raw(port, NULL);
    long long ta = raw_int(c, "PTTL %s", a, NULL);
    long long tb = raw_int(c, "PTTL %s", b, NULL);
    long long td = raw_int(c, "PTTL %s", d, NULL);
    cr_assert(ta > 60000 && ta <= 120000, "PTTL a = %lld", ta);
    cr_assert(tb > 399LL * FG_MS_PER_DAY && tb <= 400LL * FG_MS_PER_DAY, "PTTL b = %lld", tb);
    cr_assert_gt(td, 0);
    redisFree(c);
    fg_state_destroy(st);
}

Test(state, hincrby_from_two_batches_and_two_stores_adds_up) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    fg_state_t *other = open_store(port, pfx);
    char key[128];
    fg_state_key(st, key, sizeof(key), "c", 'i', "1"); /* an institution key: shared by replicas */

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_state_hincrby(st, key, "n", 3);
    cr_assert_eq(fg_state_hincrby(st, key, "n", 4), 7);
    flush_ok(st);

    /* Both read 7 (two replicas sharing an institution key). The first EXEC wins; the second
     * was computed from a stale read, so WATCH pre-empts it: nothing applied, FG_CONFLICT, and
     * the redo from a fresh read sees the first one's write. */
    fg_state_begin(st);
    fg_state_begin(other);
    fg_state_want(st, key);
    fg_state_want(other, key);
    fg_state_hset(other, key, "who", "other", 5); /* a non-commutative write that must not be lost either */
    cycle_ok(st);
    cycle_ok(other);
    cr_assert_eq(fg_state_hincrby(st, key, "n", 10), 17);
    fg_state_hset(st, key, "who", "st", 2);
    cr_assert_eq(fg_state_hincrby(other, key, "n", 100), 107);
    flush_ok(st);
    char err[256] = "";
    fg_state_stats_t c0 = stats(other);
    cr_assert_eq(fg_state_flush(other, err, sizeof(err)), FG_CONFLICT, "a stale batch must be pre-empted: %s", err);
    cr_assert_eq(stats(other).conflicts - c0.conflicts, 1);
    cr_assert_eq(stats(other).errors, c0.errors, "a conflict is not a Redis error");
    fg_state_begin(other);
    fg_state_want(other, key);
    cycle_ok(other);
    cr_assert_str_eq(fg_state_hget(other, key, "who", NULL), "st");
    cr_assert_eq(fg_state_hincrby(other, key, "n", 100), 117);
    fg_state_hset(other, key, "who", "other", 5);
    flush_ok(other);

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 117);
    fg_state_destroy(other);
    fg_state_destroy(st);
}

/* Patient keys have one writer (the owner of the patient's partition) and a process that owns
 * every input partition has no competing writer at all: neither is WATCHed, so the second
 * stale flush applies as before (deltas add up) instead of being pre-empted. */
static void stale_second_flush_applies(char tag, int watch_other) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    fg_state_t *other = open_store(port, pfx);
    fg_state_watch_shared(other, watch_other);
    char key[128];
    fg_state_key(st, key, sizeof(key), "w", tag, "9");
    fg_state_begin(st);
    fg_state_begin(other);
    fg_state_want(st, key);
    fg_state_want(other, key);
    cycle_ok(st);
    cycle_ok(other);
    fg_state_hincrby(st, key, "n", 10);
    fg_state_hincrby(other, key, "n", 100);
    flush_ok(st);
    fg_state_stats_t c0 = stats(other);
    flush_ok(other);
    cr_assert_eq(stats(other).conflicts, c0.conflicts);
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 110);
    fg_state_destroy(other);
    fg_state_destroy(st);
}

Test(state, patient_keys_and_a_sole_owner_are_not_watched) {
    stale_second_flush_applies('p', 1);
    stale_second_flush_applies('i', 0);
}

Test(state, hset_then_hincrby_in_one_batch_sends_final_value_with_hset) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "c", 'p', "2");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s n 1000 m 5", key));

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_state_hset(st, key, "n", "5", 1);
    cr_assert_eq(fg_state_hincrby(st, key, "n", 2), 7);
    fg_state_hdel(st, key, "m");
    cr_assert_eq(fg_state_hincrby(st, key, "m", 1), 1); /* deleted then counted: 1 */
    fg_state_stats_t s0 = stats(st);
    flush_ok(st);
    /* MULTI, HSET n 7 m 1, PEXPIRE, EXEC */
    cr_assert_eq(stats(st).commands - s0.commands, 4);
    cr_assert_eq(raw_int(c, "HGET %s n", key, NULL), 7);
    cr_assert_eq(raw_int(c, "HGET %s m", key, NULL), 1);
    redisFree(c);
    fg_state_destroy(st);
}

Test(state, hdel_hlen_and_hforeach_follow_local_changes) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "h", 'p', "3");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s a 1 b 2 c 3", key));

    fg_state_begin(st);
    fg_state_want(st, key);
    fg_state_want(st, key); /* duplicates are fine */
    cycle_ok(st);
    cr_assert_eq(fg_state_hlen(st, key), 3);
    fg_state_hdel(st, key, "b");
    fg_state_hdel(st, key, "nosuch");
    fg_state_hset(st, key, "d", "4", 1);
    cr_assert_eq(fg_state_hlen(st, key), 3);
    cr_assert_null(fg_state_hget(st, key, "b", NULL));
    flush_ok(st);
    cr_assert_eq(raw_int(c, "HLEN %s", key, NULL), 3);
    cr_assert_eq(raw_int(c, "HEXISTS %s b", key, NULL), 0);
    redisFree(c);
    fg_state_destroy(st);
}

Test(state, unwanted_key_reads_as_empty_and_increments_stay_additive) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "u", 'p', "4");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s n 40", key));
    fg_state_begin(st);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 0); /* never wanted: empty */
    cr_assert_eq(fg_state_hincrby(st, key, "n", 2), 2);
    flush_ok(st);
    cr_assert_eq(raw_int(c, "HGET %s n", key, NULL), 42);
    redisFree(c);
    fg_state_destroy(st);
}

Test(state, fetched_non_integer_field_incremented_is_overwritten_without_error) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "u", 'p', "5");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s n junk", key));
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 0);
    cr_assert_eq(fg_state_hincrby(st, key, "n", 3), 3);
    flush_ok(st);
    cr_assert_eq(raw_int(c, "HGET %s n", key, NULL), 3);
    redisFree(c);
    fg_state_destroy(st);
}

/*
 * What happens: Redis runs every other command of the MULTI and does not roll
 * back, so flush returns FG_ERR (not FG_AGAIN: redoing would add the other
 * increments twice) naming the failed command, and the other key's write is in
 * Redis. Only reachable when the batch did not fetch the key it increments.
 */
Test(state, hincrby_on_unfetched_non_integer_field_fails_flush_with_err_other_writes_apply) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char bad[128], good[128];
    fg_state_key(st, bad, sizeof(bad), "x", 'p', "bad");
    fg_state_key(st, good, sizeof(good), "x", 'p', "good");
    redisContext *c = raw(port, NULL);
    freeReplyObject(redisCommand(c, "HSET %s n notanumber", bad));

    fg_state_begin(st);
    fg_state_hincrby(st, good, "n", 1);
    fg_state_hincrby(st, bad, "n", 1); /* not wanted: sent as HINCRBY, Redis refuses */
    int g = fg_state_flush_get(st, good);
    fg_state_stats_t s0 = stats(st);
    char err[256] = "";
    cr_assert_eq(fg_state_flush(st, err, sizeof(err)), FG_ERR);
    cr_assert_not_null(strstr(err, "hash value is not an integer"), "%s", err);
    cr_assert_not_null(strstr(err, "other writes applied"), "%s", err);
    cr_assert_eq(stats(st).errors - s0.errors, 1);
    cr_assert_eq(raw_int(c, "HGET %s n", good, NULL), 1);
    redisReply *r = redisCommand(c, "HGET %s n", bad);
    cr_assert_str_eq(r->str, "notanumber");
    freeReplyObject(r);
    cr_assert_gt(raw_int(c, "PTTL %s", good, NULL), 0);
    /* the GET after EXEC still ran (WRONGTYPE on a hash): no reply, and errstr keeps the first error */
    cr_assert_null(fg_state_flush_reply(st, g, NULL));
    redisFree(c);

    /* the connection is still usable */
    fg_state_begin(st);
    fg_state_want(st, good);
    cycle_ok(st);
    cr_assert_eq(fg_state_hget_int(st, good, "n"), 1);
    fg_state_destroy(st);
}

Test(state, flush_get_and_set_run_outside_the_transaction_in_the_same_round_trip) {
    int port = fg_test_redis_port();
    const char *pfx = prefix();
    fg_state_t *st = open_store(port, pfx);
    char marker[128], key[128];
    snprintf(marker, sizeof(marker), "%s:alert:abc", pfx);
    fg_state_key(st, key, sizeof(key), "c", 'p', "6");

    fg_state_begin(st);
    fg_state_hincrby(st, key, "n", 1);
    int g0 = fg_state_flush_get(st, marker);
    fg_state_flush_set(st, marker, "sent", 60000);
    int g1 = fg_state_flush_get(st, marker);
    fg_state_stats_t s0 = stats(st);
    flush_ok(st);
    cr_assert_eq(stats(st).round_trips - s0.round_trips, 1);
    cr_assert_null(fg_state_flush_reply(st, g0, NULL)); /* nil: not set yet */
    size_t len = 0;
    cr_assert_str_eq(fg_state_flush_reply(st, g1, &len), "sent");
    cr_assert_eq(len, 4);
    cr_assert_null(fg_state_flush_reply(st, 99, NULL));

    redisContext *c = raw(port, NULL);
    long long ttl = raw_int(c, "PTTL %s", marker, NULL);
    cr_assert(ttl > 0 && ttl <= 60000, "%lld", ttl);
    redisFree(c);

    /* only reads queued: still one round trip, no MULTI */
    fg_state_begin(st);
    int g = fg_state_flush_get(st, marker);
    s0 = stats(st);
    flush_ok(st);
    cr_assert_eq(stats(st).commands - s0.commands, 1);
    cr_assert_str_eq(fg_state_flush_reply(st, g, NULL), "sent");
    fg_state_begin(st);
    cr_assert_null(fg_state_flush_reply(st, g, NULL)); /* gone after begin() */
    fg_state_destroy(st);
}

/* ---------- failures ---------- */

Test(state, create_against_closed_port_fails_with_connection_refused) {
    int port = fg_tredis_free_port();
    char err[256] = "";
    fg_state_opts_t o = {.host = "127.0.0.1", .port = port, .timeout_ms = 1000};
    cr_assert_null(fg_state_create(&o, err, sizeof(err)));
    char want[128];
    snprintf(want, sizeof(want), "redis 127.0.0.1:%d: Connection refused", port);
    cr_assert_str_eq(err, want);
}

Test(state, auth_failure_is_refused_with_a_clear_error_without_the_password) {
    char err[256] = "";
    fg_state_opts_t o = {.host = "127.0.0.1",
                         .port = fg_test_redis_port(),
                         .username = "fg_nosuchuser",
                         .password = "Sekr3t-pw-xyz",
                         .timeout_ms = 5000};
    cr_assert_null(fg_state_create(&o, err, sizeof(err)));
    /* WRONGPASS is Redis refusing at once; a timeout would say "timed out" instead */
    cr_assert_not_null(strstr(err, "redis AUTH as user 'fg_nosuchuser' failed: WRONGPASS"), "%s", err);
    cr_assert_null(strstr(err, "Sekr3t"), "password leaked: %s", err);

    o.username = NULL;
    cr_assert_null(fg_state_create(&o, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "redis AUTH failed: "), "%s", err);
    cr_assert_null(strstr(err, "Sekr3t"), "password leaked: %s", err);
}

Test(state, redis_down_gives_again_and_store_recovers_when_it_is_back, .fini = priv_fini) {
    const char *pw = "fg-test-pw";
    priv_start(pw);
    char err[256] = "";
    fg_state_opts_t o = {.host = "127.0.0.1", .port = g_priv.port, .password = pw, .db = 2,
                         .prefix = prefix(), .timeout_ms = 1000};
    fg_state_t *st = fg_state_create(&o, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    char key[128];
    fg_state_key(st, key, sizeof(key), "r", 'p', "1");

    fg_state_begin(st);
    fg_state_hincrby(st, key, "n", 1);
    flush_ok(st);

    priv_stop(pw);
    fg_state_stats_t s0 = stats(st);
    fg_state_begin(st);
    fg_state_want(st, key);
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_AGAIN);
    cr_assert_not_null(strstr(err, "redis 127.0.0.1:"), "%s", err);
    /* the context is gone now: the next try fails fast on connect */
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_AGAIN);
    cr_assert_not_null(strstr(err, "Connection refused"), "%s", err);
    cr_assert_eq(fg_state_ping(st, err, sizeof(err)), FG_AGAIN);
    cr_assert_geq(stats(st).errors - s0.errors, 3);
    cr_assert_null(strstr(err, pw));

    priv_start(pw); /* empty: --save '' */
    fg_state_begin(st);
    fg_state_want(st, key);
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert_eq(fg_state_hget_int(st, key, "n"), 0);
    fg_state_hincrby(st, key, "n", 5);
    flush_ok(st);
    cr_assert_eq(stats(st).reconnects - s0.reconnects, 1);
    cr_assert_eq(fg_state_ping(st, err, sizeof(err)), FG_OK);

    /* the write went to db 2 */
    redisContext *c = raw(g_priv.port, pw);
    freeReplyObject(redisCommand(c, "SELECT 2"));
    cr_assert_eq(raw_int(c, "HGET %s n", key, NULL), 5);
    redisFree(c);

    /* lost between fetch and flush: flush says AGAIN, the redo applies once */
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_state_hincrby(st, key, "n", 1);
    priv_stop(pw);
    cr_assert_eq(fg_state_flush(st, err, sizeof(err)), FG_AGAIN);
    priv_start(pw);
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_state_hincrby(st, key, "n", 1);
    flush_ok(st);
    c = raw(g_priv.port, pw);
    freeReplyObject(redisCommand(c, "SELECT 2"));
    cr_assert_eq(raw_int(c, "HGET %s n", key, NULL), 1); /* the restarted server was empty */
    redisFree(c);
    fg_state_destroy(st);
    priv_stop(pw);
}

/* ---------- windows ---------- */

Test(window, add_puts_events_in_floor_buckets_including_edges_and_negative_times) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "w", 'p', "1");
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    fg_window_add(st, key, 1000, 0, 1, 60000);     /* bucket 0 */
    fg_window_add(st, key, 1000, 999, 1, 60000);   /* bucket 0 */
    fg_window_add(st, key, 1000, 1000, 1, 60000);  /* bucket 1000: edge */
    fg_window_add(st, key, 1000, -1, 1, 60000);    /* bucket -1000, not 0 */
    fg_window_add(st, key, 1000, -1000, 1, 60000); /* bucket -1000: edge */
    fg_window_add(st, key, 1000, -1001, 1, 60000); /* bucket -2000 */
    cr_assert_eq(fg_state_hget_int(st, key, "0"), 2);
    cr_assert_eq(fg_state_hget_int(st, key, "1000"), 1);
    cr_assert_eq(fg_state_hget_int(st, key, "-1000"), 2);
    cr_assert_eq(fg_state_hget_int(st, key, "-2000"), 1);
    cr_assert_eq(fg_state_hlen(st, key), 4);
    flush_ok(st);

    redisContext *c = raw(port, NULL);
    cr_assert_eq(raw_int(c, "HGET %s -1000", key, NULL), 2);
    long long ttl = raw_int(c, "PTTL %s", key, NULL);
    cr_assert(ttl > 0 && ttl <= 60000, "%lld", ttl);
    redisFree(c);
    fg_state_destroy(st);
}

Test(window, sum_counts_buckets_starting_in_half_open_range) {
    fg_state_t *st = open_store(fg_test_redis_port(), prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "w", 'p', "2");
    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    for (int64_t t = -3000; t < 3000; t += 500) fg_window_add(st, key, 1000, t, 1, 0);
    /* buckets -3000..2000, 2 events each */
    cr_assert_eq(fg_window_sum(st, key, -3000, 3000), 12);
    cr_assert_eq(fg_window_sum(st, key, 0, 1000), 2);       /* [0,1000): bucket 0 only */
    cr_assert_eq(fg_window_sum(st, key, -1000, 1000), 4);   /* buckets -1000, 0 */
    cr_assert_eq(fg_window_sum(st, key, -999, 1001), 4);    /* starts 0 and 1000 */
    cr_assert_eq(fg_window_sum(st, key, 1000, 1000), 0);    /* empty range */
    cr_assert_eq(fg_window_sum(st, key, 5000, 1000), 0);    /* inverted range */
    fg_state_hset(st, key, "junk", "7", 1);                 /* not a bucket: ignored */
    cr_assert_eq(fg_window_sum(st, key, INT64_MIN, INT64_MAX), 12);
    fg_state_destroy(st);
}

Test(window, prune_deletes_buckets_starting_before_cutoff_in_view_and_redis) {
    int port = fg_test_redis_port();
    fg_state_t *st = open_store(port, prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "w", 'p', "3");
    fg_state_begin(st);
    for (int64_t t = -2000; t < 3000; t += 1000) fg_window_add(st, key, 1000, t, 1, 60000);
    flush_ok(st);

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_eq(fg_window_sum(st, key, INT64_MIN, INT64_MAX), 5);
    fg_window_prune(st, key, 0); /* drops -2000 and -1000, keeps the bucket starting at 0 */
    cr_assert_eq(fg_state_hlen(st, key), 3);
    cr_assert_eq(fg_window_sum(st, key, INT64_MIN, INT64_MAX), 3);
    fg_window_add(st, key, 1000, 2500, 4, 60000);
    flush_ok(st);

    redisContext *c = raw(port, NULL);
    cr_assert_eq(raw_int(c, "HLEN %s", key, NULL), 3);
    cr_assert_eq(raw_int(c, "HEXISTS %s -1000", key, NULL), 0);
    cr_assert_eq(raw_int(c, "HGET %s 2000", key, NULL), 5);
    redisFree(c);

    fg_state_begin(st);
    fg_state_want(st, key);
    cycle_ok(st);
    cr_assert_eq(fg_window_sum(st, key, 0, 3000), 7);
    fg_state_destroy(st);
}

Test(window, bucket_near_int64_min_does_not_overflow) {
    fg_state_t *st = open_store(fg_test_redis_port(), prefix());
    char key[128];
    fg_state_key(st, key, sizeof(key), "w", 'p', "4");
    fg_state_begin(st);
    fg_window_add(st, key, 1000, INT64_MIN + 1, 1, 1000);
    fg_window_add(st, key, 7, INT64_MAX, 1, 1000);
    cr_assert_eq(fg_state_hlen(st, key), 2);
    fg_state_destroy(st);
}
