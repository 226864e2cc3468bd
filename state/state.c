/*
 * state.c - the Redis window store (see state.h for the batch cycle).
 *
 * Per batch we keep a local view: a key table, and per key a small field
 * table (open addressing, never deleted from within a batch: a removed field
 * stays as an entry marked absent, which is also what remembers that it must
 * be HDEL'd). Table slots hold the full hash next to the pointer, so a probe
 * only dereferences an entry whose hash matches, and a key's fields sit in
 * their own table, close together, rather than in one batch-wide table.
 * Each field carries its pending write (none / set / del / incr), so many
 * events on one field coalesce into one write, and all of a key's set fields go
 * out in one HSET. Fetched names and values point into the HGETALL replies,
 * which are built in the batch arena (see arena_reply) and live until the
 * next begin(), so they are not copied again.
 */
#include "state.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "../core/log.h"

/* Applied to written keys nobody gave a TTL, so no state key lives forever. */
#define FG_STATE_DEFAULT_TTL_MS ((int64_t)(400 * FG_MS_PER_DAY))

enum { OP_NONE = 0, OP_SET, OP_DEL, OP_INCR };

typedef struct fg_key fg_key_t;

/* One open-addressing slot: the entry's hash inline, so a mismatch costs no
 * dereference; p == NULL marks an empty slot. */
typedef struct fg_slot {
    uint64_t hash;
    void *p;
} fg_slot_t;

typedef struct fg_field {
    fg_key_t *key;
    const char *name;
    size_t nlen;
    const char *val; /* NUL-terminated; arena (ours, or inside a fetched reply) */
    size_t vlen;
    char *own;       /* arena buffer we may overwrite in place (hincrby) */
    size_t own_cap;
    int present;
    int op;
    int64_t delta; /* OP_INCR: sum of this batch's deltas */
    struct fg_field *next; /* in key, insertion order */
} fg_field_t;

struct fg_key {
    const char *name;
    size_t nlen;
    int wanted, fetched, warned, dirty;
    int64_t ttl_ms; /* 0: none asked */
    size_t nfields; /* present ones */
    fg_field_t *head, *tail;
    fg_slot_t *ftab; /* this key's fields (arena), capacity fcap (power of 2) */
    size_t fcap, fcount;
};

typedef struct fg_extra {
    int is_set;
    const char *key;
    const char *val;
    size_t vlen;
    int64_t ttl_ms;
    int idx; /* GET: index into replies */
} fg_extra_t;

typedef struct fg_reply_slot {
    const char *val;
    size_t len;
} fg_reply_slot_t;

/* A growable array of pointers (reused across batches). */
typedef struct fg_vec {
    void **v;
    size_t n, cap;
} fg_vec_t;

struct fg_state {
    char *host, *username, *password, *prefix;
    int port, db, timeout_ms;
    redisContext *c;
    int ever_connected;

    fg_arena_t *arena;
    fg_slot_t *ktab; /* open addressing, capacity kcap (power of 2) */
    size_t kcap, kcount;
    fg_key_t *last; /* the key last looked up: detectors touch one key many times in a row */
    fg_vec_t keys;    /* fg_key_t*, first-touch order */
    fg_vec_t extras;  /* fg_extra_t* */
    int nget;
    fg_reply_slot_t *replies;
    int nreplies;

    /* argv scratch for building commands */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
    char *cmdbuf; /* one command in RESP, reused (see append_argv) */
    size_t cmdcap;

    int watching; /* WATCH is active on the connection (cleared by EXEC, UNWATCH or a new connection) */
    int watch_shared; /* WATCH shared (non-patient) keys: set while other replicas may write them */

    fg_state_stats_t stats;
    fg_state_observer_fn *observer; /* metrics hook, see fg_state_set_observer */
    void *observer_ud;
};

/* ---------- small helpers ---------- */

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "fundguard: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = xrealloc(NULL, n);
    memcpy(p, s, n);
    return p;
}

static void vec_push(fg_vec_t *v, void *p) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
    }
    v->v[v->n++] = p;
}

/* Eight bytes at a time with a multiply-xorshift mix (names are 10-60 bytes, so
 * a byte-wise hash spent more time than the probes). Internal only: tables never
 * decide an order anything outside sees (fields keep insertion order). */
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0xFF51AFD7ED558CCDULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++) w |= (uint64_t)(unsigned char)s[i] << (8 * i);
        h = (h ^ w) * 0x94D049BB133111EBULL;
        h ^= h >> 29;
    }
    h *= 0xD6E8FEB86659FD93ULL;
    return h ^ (h >> 32);
}

/* Decimal int64 into buf (>= 21 bytes), NUL-terminated; @returns the length.
 * The same text as "%" PRId64, without printf's machinery. */
static int fmt_i64(char *buf, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int len = 0;
    if (v < 0) buf[len++] = '-';
    while (n) buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* Strict decimal int64, like Redis's string2ll: what HINCRBY would accept. */
static int parse_i64(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 20) return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return 0;
    }
    if (s[i] == '0' && n > i + 1) return 0; /* no leading zeros */
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        if (v == 0) return 0; /* "-0" is not canonical */
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    return 1;
}

static void ensure_argv(fg_state_t *st, size_t n) {
    if (n <= st->argcap) return;
    size_t cap = st->argcap ? st->argcap : 64;
    while (cap < n) cap *= 2;
    st->argv = xrealloc(st->argv, cap * sizeof(*st->argv));
    st->argvlen = xrealloc(st->argvlen, cap * sizeof(*st->argvlen));
    st->argcap = cap;
}

/* Writes "<c><n>\r\n" at o; @returns the end. */
static char *resp_len(char *o, char c, size_t n) {
    char d[24];
    int nd = 0;
    do {
        d[nd++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *o++ = c;
    while (nd) *o++ = d[--nd];
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

/* Queues one command, formatted here in RESP into a reused buffer: the same
 * bytes redisAppendCommandArgv sends, without its per-command sds allocations
 * and printf-style formatting (a few percent of the detect phase). */
static int append_argv(fg_state_t *st, int argc, const char *const *argv, const size_t *argvlen) {
    size_t need = 1 + 20 + 2;
    for (int i = 0; i < argc; i++) need += 1 + 20 + 2 + argvlen[i] + 2;
    if (need > st->cmdcap) {
        size_t cap = st->cmdcap ? st->cmdcap : 4096;
        while (cap < need) cap *= 2;
        st->cmdbuf = xrealloc(st->cmdbuf, cap);
        st->cmdcap = cap;
    }
    char *o = resp_len(st->cmdbuf, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        o = resp_len(o, '$', argvlen[i]);
        if (argvlen[i]) memcpy(o, argv[i], argvlen[i]);
        o += argvlen[i];
        *o++ = '\r';
        *o++ = '\n';
    }
    return redisAppendFormattedCommand(st->c, st->cmdbuf, (size_t)(o - st->cmdbuf)) == REDIS_OK ? 0 : -1;
}

static int append(fg_state_t *st, int argc) {
    st->stats.commands++;
    return append_argv(st, argc, st->argv, st->argvlen);
}

static void arg(fg_state_t *st, size_t i, const char *s, size_t n) {
    st->argv[i] = s;
    st->argvlen[i] = n;
}

/* ---------- connection ---------- */

static struct timeval ms_to_tv(int ms) {
    /* tv_usec must stay below 1e6: hiredis 0.14 silently returns a broken
     * context otherwise (hiredis issue #165). */
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

static void drop_conn(fg_state_t *st) {
    if (st->c) redisFree(st->c);
    st->c = NULL;
    st->watching = 0;
}

/* One blocking command during connection set-up; argv is binary-safe. */
static redisReply *setup_cmd(fg_state_t *st, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(st->c, argc, argv, NULL);
    if (r) st->stats.commands++, st->stats.round_trips++;
    return r;
}

/* Connects, AUTHs and SELECTs. FG_OK, FG_AGAIN (unreachable) or FG_ERR (refused
 * credentials or db). The password never appears in errstr. */
static int do_connect(fg_state_t *st, char *errstr, size_t errstr_size) {
    struct timeval tv = ms_to_tv(st->timeout_ms);
    redisContext *c = redisConnectWithTimeout(st->host, st->port, tv);
    if (!c) return fg_err(errstr, errstr_size, FG_AGAIN, "redis %s:%d: out of memory", st->host, st->port);
    if (c->err) {
        fg_err(errstr, errstr_size, FG_AGAIN, "redis %s:%d: %s", st->host, st->port, c->errstr);
        redisFree(c);
        return FG_AGAIN;
    }
    /* The connect timeout is not applied to reads and writes in 0.14: set it
     * explicitly so a hung server costs timeout_ms, not forever. */
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        fg_err(errstr, errstr_size, FG_AGAIN, "redis %s:%d: setting timeout: %s", st->host, st->port,
               c->errstr);
        redisFree(c);
        return FG_AGAIN;
    }
    st->c = c;

    if (st->password) {
        const char *argv[3] = {"AUTH", NULL, NULL};
        int argc;
        if (st->username) {
            argv[1] = st->username;
            argv[2] = st->password;
            argc = 3;
        } else {
            argv[1] = st->password;
            argc = 2;
        }
        redisReply *r = setup_cmd(st, argc, argv);
        if (!r) goto io_err;
        if (r->type == REDIS_REPLY_ERROR) {
            if (st->username)
                fg_err(errstr, errstr_size, FG_ERR, "redis AUTH as user '%s' failed: %s", st->username,
                       r->str);
            else
                fg_err(errstr, errstr_size, FG_ERR, "redis AUTH failed: %s", r->str);
            freeReplyObject(r);
            drop_conn(st);
            return FG_ERR;
        }
        freeReplyObject(r);
    }
    if (st->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", st->db);
        const char *argv[2] = {"SELECT", db};
        redisReply *r = setup_cmd(st, 2, argv);
        if (!r) goto io_err;
        if (r->type == REDIS_REPLY_ERROR) {
            fg_err(errstr, errstr_size, FG_ERR, "redis SELECT %d failed: %s", st->db, r->str);
            freeReplyObject(r);
            drop_conn(st);
            return FG_ERR;
        }
        freeReplyObject(r);
    }
    {
        /* one PING so a server that refuses this client (no AUTH where the default
         * user is off, an ACL without PING) fails start-up now, not the first batch */
        const char *argv[1] = {"PING"};
        redisReply *r = setup_cmd(st, 1, argv);
        if (!r) goto io_err;
        if (r->type == REDIS_REPLY_ERROR) {
            fg_err(errstr, errstr_size, FG_ERR, "redis %s:%d refused the connection: %s (check redis.username / "
                   "redis.password)", st->host, st->port, r->str);
            freeReplyObject(r);
            drop_conn(st);
            return FG_ERR;
        }
        freeReplyObject(r);
    }
    if (st->ever_connected) st->stats.reconnects++;
    st->ever_connected = 1;
    return FG_OK;

io_err:
    fg_err(errstr, errstr_size, FG_AGAIN, "redis %s:%d: %s", st->host, st->port, st->c->errstr);
    drop_conn(st);
    return FG_AGAIN;
}

static int ensure_conn(fg_state_t *st, char *errstr, size_t errstr_size) {
    if (st->c) return FG_OK;
    int rc = do_connect(st, errstr, errstr_size);
    if (rc != FG_OK) st->stats.errors++;
    return rc;
}

/* Transient server-side conditions: retrying the same batch later is right. */
static int error_reply_rc(const char *msg) {
    static const char *const transient[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                            "CLUSTERDOWN", "READONLY", "OOM"};
    for (size_t i = 0; i < FG_ARRAY_SIZE(transient); i++) {
        size_t n = strlen(transient[i]);
        if (strncmp(msg, transient[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0')) return FG_AGAIN;
    }
    return FG_ERR;
}

/* ---------- create / destroy ---------- */

fg_state_t *fg_state_create(const fg_state_opts_t *opts, char *errstr, size_t errstr_size) {
    fg_state_opts_t o = {0};
    if (opts) o = *opts;
    fg_state_t *st = xrealloc(NULL, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->host = xstrdup(o.host && *o.host ? o.host : "127.0.0.1");
    st->port = o.port > 0 ? o.port : 6379;
    st->username = o.username && *o.username ? xstrdup(o.username) : NULL;
    st->password = o.password && *o.password ? xstrdup(o.password) : NULL;
    st->db = o.db;
    st->prefix = xstrdup(o.prefix && *o.prefix ? o.prefix : "fg");
    st->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 2000;
    st->arena = fg_arena_create(256 * 1024);
    st->watch_shared = 1; /* safe until the pipeline knows it owns every input partition */
    if (do_connect(st, errstr, errstr_size) != FG_OK) {
        fg_state_destroy(st);
        return NULL;
    }
    return st;
}

void fg_state_destroy(fg_state_t *st) {
    if (!st) return;
    drop_conn(st);
    if (st->password) {
        /* do not leave the secret in freed heap memory */
        volatile char *p = st->password;
        while (*p) *p++ = 0;
    }
    free(st->host);
    free(st->username);
    free(st->password);
    free(st->prefix);
    fg_arena_destroy(st->arena);
    free(st->ktab);
    free(st->keys.v);
    free(st->extras.v);
    free(st->argv);
    free(st->argvlen);
    free(st->cmdbuf);
    free(st);
}

int fg_state_key(const fg_state_t *st, char *buf, size_t size, const char *kind, char tag, const char *id) {
    /* "%s:%s:{%c:%s}" by hand: every detector builds keys per event */
    size_t np = strlen(st->prefix), nk = strlen(kind), ni = strlen(id);
    size_t n = np + 1 + nk + 2 + 2 + ni + 1;
    if (n >= size || n > INT_MAX) return -1;
    char *o = buf;
    memcpy(o, st->prefix, np);
    o += np;
    *o++ = ':';
    memcpy(o, kind, nk);
    o += nk;
    *o++ = ':';
    *o++ = '{';
    *o++ = tag;
    *o++ = ':';
    memcpy(o, id, ni);
    o += ni;
    *o++ = '}';
    *o = '\0';
    return (int)n;
}

/* ---------- local view ---------- */

void fg_state_begin(fg_state_t *st) {
    fg_arena_reset(st->arena);
    /* Shrink tables a big batch grew, so one spike does not cost every later
     * begin() a large memset. */
    if (st->kcap > 4096 && st->kcount * 8 < st->kcap) {
        free(st->ktab);
        st->ktab = NULL;
        st->kcap = 0;
    }
    if (st->ktab) memset(st->ktab, 0, st->kcap * sizeof(*st->ktab));
    st->kcount = 0;
    st->last = NULL;
    st->keys.n = 0;
    st->extras.n = 0;
    st->nget = 0;
    st->replies = NULL;
    st->nreplies = 0;
}

/* Inserts p (hash h) into a table with a free slot. */
static void slot_put(fg_slot_t *t, size_t cap, uint64_t h, void *p) {
    size_t i = h & (cap - 1);
    while (t[i].p) i = (i + 1) & (cap - 1);
    t[i].hash = h;
    t[i].p = p;
}

static void ktab_grow(fg_state_t *st) {
    size_t ncap = st->kcap ? st->kcap * 2 : 256;
    fg_slot_t *nt = xrealloc(NULL, ncap * sizeof(*nt));
    memset(nt, 0, ncap * sizeof(*nt));
    for (size_t i = 0; i < st->kcap; i++)
        if (st->ktab[i].p) slot_put(nt, ncap, st->ktab[i].hash, st->ktab[i].p);
    free(st->ktab);
    st->ktab = nt;
    st->kcap = ncap;
}

static fg_key_t *key_get(fg_state_t *st, const char *name, int create) {
    size_t n = strlen(name);
    fg_key_t *last = st->last;
    if (last && last->nlen == n && memcmp(last->name, name, n) == 0) return last;
    uint64_t h = hash_bytes(name, n);
    if (st->kcap) {
        size_t i = h & (st->kcap - 1);
        for (; st->ktab[i].p; i = (i + 1) & (st->kcap - 1)) {
            if (st->ktab[i].hash != h) continue;
            fg_key_t *k = st->ktab[i].p;
            if (k->nlen == n && memcmp(k->name, name, n) == 0) return st->last = k;
        }
    }
    if (!create) return NULL;
    if ((st->kcount + 1) * 2 > st->kcap) ktab_grow(st);
    fg_key_t *k = fg_arena_alloc(st->arena, sizeof(*k));
    k->name = fg_arena_strndup(st->arena, name, n);
    k->nlen = n;
    slot_put(st->ktab, st->kcap, h, k);
    st->kcount++;
    vec_push(&st->keys, k);
    return st->last = k;
}

/* Makes room for at least want fields in k's table (load <= 2/3). The table is
 * arena memory: an outgrown one is simply left behind until begin(). */
static void ftab_reserve(fg_state_t *st, fg_key_t *k, size_t want) {
    if (want * 3 <= k->fcap * 2) return;
    size_t ncap = k->fcap ? k->fcap * 2 : 8;
    while (want * 3 > ncap * 2) ncap *= 2;
    fg_slot_t *nt = fg_arena_alloc(st->arena, ncap * sizeof(*nt));
    for (size_t i = 0; i < k->fcap; i++)
        if (k->ftab[i].p) slot_put(nt, ncap, k->ftab[i].hash, k->ftab[i].p);
    k->ftab = nt;
    k->fcap = ncap;
}

static fg_field_t *field_lookup(const fg_key_t *k, const char *name, size_t n, uint64_t h) {
    if (!k->fcap) return NULL;
    size_t mask = k->fcap - 1;
    for (size_t i = h & mask; k->ftab[i].p; i = (i + 1) & mask) {
        if (k->ftab[i].hash != h) continue;
        fg_field_t *f = k->ftab[i].p;
        if (f->nlen == n && memcmp(f->name, name, n) == 0) return f;
    }
    return NULL;
}

/* name/nlen are stored as given: the caller passes memory that lives until
 * begin() (arena, possibly inside a fetched reply). */
static fg_field_t *field_insert(fg_state_t *st, fg_key_t *k, const char *name, size_t n, uint64_t h) {
    ftab_reserve(st, k, k->fcount + 1);
    fg_field_t *f = fg_arena_alloc(st->arena, sizeof(*f));
    f->key = k;
    f->name = name;
    f->nlen = n;
    f->val = "";
    slot_put(k->ftab, k->fcap, h, f);
    k->fcount++;
    if (k->tail)
        k->tail->next = f;
    else
        k->head = f;
    k->tail = f;
    return f;
}

/* Field for a write: created (with a copied name) if new. */
static fg_field_t *field_for_write(fg_state_t *st, fg_key_t *k, const char *name) {
    size_t n = strlen(name);
    uint64_t h = hash_bytes(name, n);
    fg_field_t *f = field_lookup(k, name, n, h);
    if (!f) f = field_insert(st, k, fg_arena_strndup(st->arena, name, n), n, h);
    return f;
}

/* Reads of a key the batch never fetched see it as empty: say so once, since
 * it usually means a detector forgot to want() it. */
static void note_read(fg_key_t *k) {
    if (!k->fetched && !k->warned) {
        k->warned = 1;
        FG_DEBUG("state: key %s read but not fetched this batch (missing fg_state_want?); treated as empty",
                 k->name);
    }
}

static void set_present(fg_field_t *f, int present) {
    if (f->present != present) {
        if (present)
            f->key->nfields++;
        else
            f->key->nfields--;
        f->present = present;
    }
}

static void field_store(fg_state_t *st, fg_field_t *f, const char *val, size_t len) {
    if (!f->own || len >= f->own_cap) {
        size_t cap = len + 1 < 24 ? 24 : len + 1;
        f->own = fg_arena_alloc(st->arena, cap);
        f->own_cap = cap;
    }
    if (len) memcpy(f->own, val, len);
    f->own[len] = '\0';
    f->val = f->own;
    f->vlen = len;
    set_present(f, 1);
}

static void mark_dirty(fg_key_t *k) { k->dirty = 1; }

void fg_state_want(fg_state_t *st, const char *key) { key_get(st, key, 1)->wanted = 1; }

const char *fg_state_hget(fg_state_t *st, const char *key, const char *field, size_t *len) {
    fg_key_t *k = key_get(st, key, 1);
    note_read(k);
    size_t n = strlen(field);
    fg_field_t *f = field_lookup(k, field, n, hash_bytes(field, n));
    if (!f || !f->present) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = f->vlen;
    return f->val;
}

int64_t fg_state_hget_int(fg_state_t *st, const char *key, const char *field) {
    size_t len;
    const char *v = fg_state_hget(st, key, field, &len);
    int64_t x;
    if (v && parse_i64(v, len, &x)) return x;
    return 0;
}

void fg_state_hset(fg_state_t *st, const char *key, const char *field, const char *val, size_t len) {
    fg_key_t *k = key_get(st, key, 1);
    fg_field_t *f = field_for_write(st, k, field);
    field_store(st, f, val, len);
    f->op = OP_SET;
    f->delta = 0;
    mark_dirty(k);
}

void fg_state_hset_int(fg_state_t *st, const char *key, const char *field, int64_t v) {
    char buf[24];
    int n = fmt_i64(buf, v);
    fg_state_hset(st, key, field, buf, (size_t)n);
}

int64_t fg_state_hincrby(fg_state_t *st, const char *key, const char *field, int64_t delta) {
    fg_key_t *k = key_get(st, key, 1);
    note_read(k);
    fg_field_t *f = field_for_write(st, k, field);
    int64_t cur = 0;
    int numeric = 1;
    if (f->present && !parse_i64(f->val, f->vlen, &cur)) {
        cur = 0;
        numeric = 0;
    }
    /* wrap rather than overflow (undefined); Redis would refuse the overflow */
    int64_t nv = (int64_t)((uint64_t)cur + (uint64_t)delta);
    char buf[24];
    int n = fmt_i64(buf, nv);
    field_store(st, f, buf, (size_t)n);
    if (f->op == OP_SET || f->op == OP_DEL || !numeric) {
        /* The batch already fixed this field's value (or Redis holds a
         * non-number HINCRBY would reject): send the final value. */
        f->op = OP_SET;
        f->delta = 0;
    } else {
        f->op = OP_INCR;
        f->delta = (int64_t)((uint64_t)f->delta + (uint64_t)delta);
    }
    mark_dirty(k);
    return nv;
}

void fg_state_hdel(fg_state_t *st, const char *key, const char *field) {
    fg_key_t *k = key_get(st, key, 1);
    fg_field_t *f = field_for_write(st, k, field);
    set_present(f, 0);
    f->val = "";
    f->vlen = 0;
    f->op = OP_DEL;
    f->delta = 0;
    mark_dirty(k);
}

size_t fg_state_hlen(fg_state_t *st, const char *key) {
    fg_key_t *k = key_get(st, key, 1);
    note_read(k);
    return k->nfields;
}

void fg_state_hforeach(fg_state_t *st, const char *key, fg_state_field_cb *cb, void *ud) {
    fg_key_t *k = key_get(st, key, 1);
    note_read(k);
    /* hset/hdel of an existing field from cb is safe: neither relinks the
     * list; a field added from cb is appended and visited too. */
    for (fg_field_t *f = k->head; f; f = f->next)
        if (f->present && cb(f->name, f->val, f->vlen, ud)) break;
}

void fg_state_expire(fg_state_t *st, const char *key, int64_t ttl_ms) {
    fg_key_t *k = key_get(st, key, 1);
    if (ttl_ms > k->ttl_ms) k->ttl_ms = ttl_ms;
}

/* ---------- fetch ---------- */

/* Merges one fetched field; pending writes of this batch stay on top. */
static void merge_fetched(fg_state_t *st, fg_key_t *k, const redisReply *fr, const redisReply *vr) {
    const char *name = fr->str;
    size_t n = fr->len;
    uint64_t h = hash_bytes(name, n);
    fg_field_t *f = field_lookup(k, name, n, h);
    if (!f) {
        f = field_insert(st, k, name, n, h);
        f->val = vr->str;
        f->vlen = vr->len;
        set_present(f, 1);
        return;
    }
    if (f->op == OP_SET || f->op == OP_DEL) return;
    if (f->op == OP_INCR) {
        int64_t base;
        if (!parse_i64(vr->str, vr->len, &base)) {
            f->op = OP_SET; /* HINCRBY would fail on it; view counted from 0 */
            return;
        }
        char buf[24];
        int len = fmt_i64(buf, (int64_t)((uint64_t)base + (uint64_t)f->delta));
        field_store(st, f, buf, (size_t)len);
        return;
    }
    f->val = vr->str;
    f->vlen = vr->len;
    f->own = NULL;
    set_present(f, 1);
}

/*
 * HGETALL replies are built in the batch arena instead of hiredis's malloc'd
 * objects (one per field name and value, freed at the next begin(): that
 * malloc/free was about a tenth of the detect phase). Same redisReply layout,
 * so the rest of the code reads them as usual; freeing is the arena's reset.
 * Installed on the reader only while fetch drains its replies; a connection
 * dropped meanwhile is freed with them installed (the no-op free).
 */
static redisReply *arena_reply(const redisReadTask *task, int type) {
    redisReply *r = fg_arena_alloc(task->privdata, sizeof(*r));
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}
static void *arena_string(const redisReadTask *task, char *str, size_t len) {
    redisReply *r = arena_reply(task, task->type);
    r->str = fg_arena_strndup(task->privdata, str, len);
    r->len = len;
    return r;
}
static void *arena_array(const redisReadTask *task, int elements) {
    redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY);
    if (elements > 0) {
        r->element = fg_arena_alloc(task->privdata, (size_t)elements * sizeof(*r->element));
        r->elements = (size_t)elements;
    }
    return r;
}
static void *arena_integer(const redisReadTask *task, long long value) {
    redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER);
    r->integer = value;
    return r;
}
static void *arena_nil(const redisReadTask *task) { return arena_reply(task, REDIS_REPLY_NIL); }
static void arena_free(void *reply) { (void)reply; }
static redisReplyObjectFunctions arena_reply_fns = {arena_string, arena_array, arena_integer, arena_nil, arena_free};

/* After a lost connection: count it, drop the context so the next call
 * reconnects, and say what happened. */
static int conn_failed(fg_state_t *st, const char *what, char *errstr, size_t errstr_size) {
    fg_err(errstr, errstr_size, FG_AGAIN, "redis %s:%d: %s: %s", st->host, st->port, what,
           st->c && st->c->errstr[0] ? st->c->errstr : "connection lost");
    st->stats.errors++;
    drop_conn(st);
    return FG_AGAIN;
}

static int fetch_once(fg_state_t *st, char *errstr, size_t errstr_size) {
    size_t nk = 0;
    for (size_t i = 0; i < st->keys.n; i++) {
        fg_key_t *k = st->keys.v[i];
        if (k->wanted && !k->fetched) nk++;
    }
    if (nk == 0) return FG_OK;
    int rc = ensure_conn(st, errstr, errstr_size);
    if (rc != FG_OK) return rc;

    /* Optimistic concurrency for keys other replicas may write. Patient keys ({p:...}) have one
     * writer: the member that owns the patient's partition. Institution, card, trace-code and
     * other shared keys are fed by every partition, so while this process shares the input with
     * other members (fg_state_watch_shared) the batch WATCHes those it reads, in the same round
     * trip: if another client writes one before our EXEC, EXEC answers nil, nothing is applied,
     * and the batch is redone from a fresh read (FG_CONFLICT) instead of overwriting the other
     * replica's update with values computed from a stale read. (Redis 7.0's WATCH costs grow
     * with the square of the keys one client watches: hence only shared keys, only when shared.) */
    int unwatch = st->watching; /* left over from a batch that wrote nothing: drop it first */
    if (unwatch) {
        ensure_argv(st, 1);
        arg(st, 0, "UNWATCH", 7);
        if (append(st, 1)) return conn_failed(st, "queueing UNWATCH", errstr, errstr_size);
        st->watching = 0;
    }
    int watch = 0;
    if (st->watch_shared) {
        ensure_argv(st, nk + 1);
        arg(st, 0, "WATCH", 5);
        size_t j = 1;
        for (size_t i = 0; i < st->keys.n; i++) {
            fg_key_t *k = st->keys.v[i];
            if (k->wanted && !k->fetched && !strstr(k->name, ":{p:")) arg(st, j++, k->name, k->nlen);
        }
        if (j > 1) {
            if (append(st, (int)j)) return conn_failed(st, "queueing WATCH", errstr, errstr_size);
            watch = 1;
            st->watching = 1;
        }
    }

    size_t sent = 0;
    for (size_t i = 0; i < st->keys.n; i++) {
        fg_key_t *k = st->keys.v[i];
        if (!k->wanted || k->fetched) continue;
        const char *argv[2] = {"HGETALL", k->name};
        size_t argvlen[2] = {7, k->nlen};
        if (append_argv(st, 2, argv, argvlen))
            return conn_failed(st, "queueing HGETALL", errstr, errstr_size);
        sent++;
    }
    st->stats.commands += sent;
    st->stats.round_trips++;

    /* Drain every reply even after an error, keeping the stream in sync. */
    rc = FG_OK;
    redisReplyObjectFunctions *heap_fns = st->c->reader->fn;
    st->c->reader->fn = &arena_reply_fns;
    st->c->reader->privdata = st->arena;
    for (int w = 0; w < unwatch + watch; w++) { /* [UNWATCH,] [WATCH] (replies live in the arena) */
        redisReply *wrep = NULL;
        if (redisGetReply(st->c, (void **)&wrep) != REDIS_OK || !wrep) {
            st->c->reader->fn = heap_fns;
            return conn_failed(st, "WATCH", errstr, errstr_size);
        }
        if (wrep->type == REDIS_REPLY_ERROR && rc == FG_OK) {
            rc = fg_err(errstr, errstr_size, error_reply_rc(wrep->str), "redis %s: %s",
                        w < unwatch ? "UNWATCH" : "WATCH", wrep->str);
            st->stats.errors++;
        }
    }
    size_t i = 0;
    for (size_t r = 0; r < sent; r++) {
        while (i < st->keys.n) {
            fg_key_t *k = st->keys.v[i];
            if (k->wanted && !k->fetched) break;
            i++;
        }
        fg_key_t *k = st->keys.v[i++];
        redisReply *rep = NULL;
        if (redisGetReply(st->c, (void **)&rep) != REDIS_OK || !rep) {
            /* keys fetched so far stay merged; the caller redoes the batch */
            return conn_failed(st, "HGETALL", errstr, errstr_size);
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            if (rc == FG_OK) {
                rc = fg_err(errstr, errstr_size, error_reply_rc(rep->str), "redis HGETALL %s: %s", k->name,
                            rep->str);
                st->stats.errors++;
            }
            continue;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) {
            if (rc == FG_OK) {
                rc = fg_err(errstr, errstr_size, FG_ERR, "redis HGETALL %s: unexpected reply type %d",
                            k->name, rep->type);
                st->stats.errors++;
            }
            continue;
        }
        k->fetched = 1;
        ftab_reserve(st, k, k->fcount + rep->elements / 2);
        for (size_t e = 0; e + 1 < rep->elements; e += 2) {
            const redisReply *fr = rep->element[e], *vr = rep->element[e + 1];
            if (fr->type != REDIS_REPLY_STRING || vr->type != REDIS_REPLY_STRING) continue;
            merge_fetched(st, k, fr, vr);
        }
    }
    st->c->reader->fn = heap_fns;
    st->c->reader->privdata = NULL;
    return rc;
}

/* ---------- flush ---------- */

/* Queues one key's coalesced writes; returns how many commands, or -1. */
static int append_key_writes(fg_state_t *st, fg_key_t *k) {
    size_t nset = 0, ndel = 0;
    int ncmd = 0;
    for (fg_field_t *f = k->head; f; f = f->next) {
        if (f->op == OP_SET) nset++;
        if (f->op == OP_DEL) ndel++;
    }
    if (nset) {
        ensure_argv(st, 2 + 2 * nset);
        size_t a = 0;
        arg(st, a++, "HSET", 4);
        arg(st, a++, k->name, k->nlen);
        for (fg_field_t *f = k->head; f; f = f->next)
            if (f->op == OP_SET) {
                arg(st, a++, f->name, f->nlen);
                arg(st, a++, f->val, f->vlen);
            }
        if (append(st, (int)a)) return -1;
        ncmd++;
    }
    if (ndel) {
        ensure_argv(st, 2 + ndel);
        size_t a = 0;
        arg(st, a++, "HDEL", 4);
        arg(st, a++, k->name, k->nlen);
        for (fg_field_t *f = k->head; f; f = f->next)
            if (f->op == OP_DEL) arg(st, a++, f->name, f->nlen);
        if (append(st, (int)a)) return -1;
        ncmd++;
    }
    ensure_argv(st, 4);
    for (fg_field_t *f = k->head; f; f = f->next) {
        if (f->op != OP_INCR) continue;
        char d[24];
        int n = fmt_i64(d, f->delta);
        arg(st, 0, "HINCRBY", 7);
        arg(st, 1, k->name, k->nlen);
        arg(st, 2, f->name, f->nlen);
        arg(st, 3, d, (size_t)n);
        if (append(st, 4)) return -1;
        ncmd++;
    }
    char ttl[24];
    int n = fmt_i64(ttl, k->ttl_ms > 0 ? k->ttl_ms : FG_STATE_DEFAULT_TTL_MS);
    arg(st, 0, "PEXPIRE", 7);
    arg(st, 1, k->name, k->nlen);
    arg(st, 2, ttl, (size_t)n);
    if (append(st, 3)) return -1;
    return ncmd + 1;
}

/* Keeps the first error of the exchange in errstr; later ones only count. */
#define FIRST_ERR(rc, nrc, ...)                                                  \
    do {                                                                         \
        if ((rc) == FG_OK) (rc) = fg_err(errstr, errstr_size, (nrc), __VA_ARGS__); \
    } while (0)

static int flush_once(fg_state_t *st, char *errstr, size_t errstr_size) {
    size_t ndirty = 0;
    for (size_t i = 0; i < st->keys.n; i++)
        if (((fg_key_t *)st->keys.v[i])->dirty) ndirty++;
    if (ndirty == 0 && st->extras.n == 0) return FG_OK;
    int rc = ensure_conn(st, errstr, errstr_size);
    if (rc != FG_OK) return rc;

    /* Queue: MULTI, per key HSET/HDEL/HINCRBY.../PEXPIRE, EXEC, then extras. */
    size_t nqueued = 0; /* commands inside MULTI */
    ensure_argv(st, 8);
    if (ndirty) {
        arg(st, 0, "MULTI", 5);
        if (append(st, 1)) goto append_failed;
        for (size_t i = 0; i < st->keys.n; i++) {
            fg_key_t *k = st->keys.v[i];
            if (!k->dirty) continue;
            int n = append_key_writes(st, k);
            if (n < 0) goto append_failed;
            nqueued += (size_t)n;
        }
        arg(st, 0, "EXEC", 4);
        if (append(st, 1)) goto append_failed;
    }
    /* EXEC ends the WATCH; a batch that writes nothing leaves it, and the next fetch sends
     * UNWATCH first (no round trip of its own). A batch that writes without fetching anything
     * under a leftover WATCH can at worst be pre-empted once: the nil EXEC clears it. */
    if (ndirty) st->watching = 0;
    for (size_t i = 0; i < st->extras.n; i++) {
        fg_extra_t *x = st->extras.v[i];
        if (x->is_set) {
            char ttl[24];
            int n = fmt_i64(ttl, x->ttl_ms > 0 ? x->ttl_ms : FG_STATE_DEFAULT_TTL_MS);
            arg(st, 0, "SET", 3);
            arg(st, 1, x->key, strlen(x->key));
            arg(st, 2, x->val, x->vlen);
            arg(st, 3, "PX", 2);
            arg(st, 4, ttl, (size_t)n);
            if (append(st, 5)) goto append_failed;
        } else {
            arg(st, 0, "GET", 3);
            arg(st, 1, x->key, strlen(x->key));
            if (append(st, 2)) goto append_failed;
        }
    }
    st->stats.round_trips++;

    /* Write everything first: if that fails EXEC never reached Redis in full,
     * so nothing applied; a failure after this point leaves the outcome
     * unknown (all or nothing, but we cannot tell which). */
    int done = 0;
    while (!done)
        if (redisBufferWrite(st->c, &done) != REDIS_OK)
            return conn_failed(st, "sending batch (nothing applied)", errstr, errstr_size);

    rc = FG_OK;
    if (st->nget > st->nreplies) {
        /* a second flush in one batch keeps the first one's replies */
        fg_reply_slot_t *nr = fg_arena_alloc(st->arena, (size_t)st->nget * sizeof(*nr));
        if (st->nreplies) memcpy(nr, st->replies, (size_t)st->nreplies * sizeof(*nr));
        st->replies = nr;
        st->nreplies = st->nget;
    }
    size_t total = (ndirty ? nqueued + 2 : 0) + st->extras.n;
    redisReply *queue_err = NULL; /* first error answered instead of QUEUED */
    for (size_t r = 0; r < total; r++) {
        redisReply *rep = NULL;
        if (redisGetReply(st->c, (void **)&rep) != REDIS_OK || !rep) {
            if (queue_err) freeReplyObject(queue_err);
            FG_WARN("state: connection lost awaiting flush replies; the transaction may or may not "
                    "have applied");
            return conn_failed(st, "awaiting flush replies (outcome unknown)", errstr, errstr_size);
        }
        int in_tx = ndirty && r < nqueued + 2;
        int is_exec = ndirty && r == nqueued + 1;
        if (in_tx && !is_exec) {
            /* MULTI's +OK and each command's +QUEUED */
            if (rep->type == REDIS_REPLY_ERROR && !queue_err) {
                queue_err = rep;
                continue;
            }
            freeReplyObject(rep);
            continue;
        }
        if (is_exec) {
            if (rep->type == REDIS_REPLY_ERROR) {
                /* EXECABORT: a command was refused at queue time, nothing applied */
                const char *why = queue_err ? queue_err->str : rep->str;
                FIRST_ERR(rc, error_reply_rc(why), "redis MULTI/EXEC discarded, nothing applied: %s", why);
            } else if (rep->type == REDIS_REPLY_NIL) {
                /* a WATCHed key changed since this batch read it: another replica wrote it */
                st->stats.conflicts++;
                FIRST_ERR(rc, FG_CONFLICT, "redis EXEC pre-empted: a key this batch read was changed by another "
                                           "client (WATCH); nothing applied, redo the batch");
            } else if (rep->type == REDIS_REPLY_ARRAY) {
                for (size_t e = 0; e < rep->elements; e++)
                    if (rep->element[e]->type == REDIS_REPLY_ERROR) {
                        /* Redis does not roll back: the other writes applied.
                         * Not retryable as is (increments would repeat). */
                        FIRST_ERR(rc, FG_ERR, "redis transaction command failed (the batch's other "
                                              "writes applied): %s", rep->element[e]->str);
                        break;
                    }
            }
            freeReplyObject(rep);
            continue;
        }
        fg_extra_t *x = st->extras.v[r - (ndirty ? nqueued + 2 : 0)];
        if (rep->type == REDIS_REPLY_ERROR) {
            FIRST_ERR(rc, error_reply_rc(rep->str), "redis %s %s: %s", x->is_set ? "SET" : "GET", x->key,
                      rep->str);
        } else if (!x->is_set && rep->type == REDIS_REPLY_STRING) {
            st->replies[x->idx].val = fg_arena_strndup(st->arena, rep->str, rep->len);
            st->replies[x->idx].len = rep->len;
        }
        freeReplyObject(rep);
    }
    if (queue_err) freeReplyObject(queue_err);
    if (rc != FG_OK) {
        if (rc != FG_CONFLICT) st->stats.errors++;
        return rc;
    }
    /* Written: a second flush in this batch sends only what changes next. */
    for (size_t i = 0; i < st->keys.n; i++) {
        fg_key_t *k = st->keys.v[i];
        if (!k->dirty) continue;
        k->dirty = 0;
        for (fg_field_t *f = k->head; f; f = f->next) {
            f->op = OP_NONE;
            f->delta = 0;
        }
    }
    st->extras.n = 0;
    return FG_OK;

append_failed:
    /* hiredis only fails to append on out-of-memory; the buffer is unusable */
    return conn_failed(st, "queueing batch", errstr, errstr_size);
}

int fg_state_flush_get(fg_state_t *st, const char *key) {
    fg_extra_t *x = fg_arena_alloc(st->arena, sizeof(*x));
    x->key = fg_arena_strndup(st->arena, key, strlen(key));
    x->idx = st->nget++;
    vec_push(&st->extras, x);
    return x->idx;
}

void fg_state_flush_set(fg_state_t *st, const char *key, const char *val, int64_t ttl_ms) {
    fg_extra_t *x = fg_arena_alloc(st->arena, sizeof(*x));
    x->is_set = 1;
    x->key = fg_arena_strndup(st->arena, key, strlen(key));
    x->vlen = strlen(val);
    x->val = fg_arena_strndup(st->arena, val, x->vlen);
    x->ttl_ms = ttl_ms;
    vec_push(&st->extras, x);
}

const char *fg_state_flush_reply(fg_state_t *st, int idx, size_t *len) {
    if (idx < 0 || idx >= st->nreplies || !st->replies || !st->replies[idx].val) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = st->replies[idx].len;
    return st->replies[idx].val;
}

static int ping_once(fg_state_t *st, char *errstr, size_t errstr_size) {
    int rc = ensure_conn(st, errstr, errstr_size);
    if (rc != FG_OK) return rc;
    const char *argv[1] = {"PING"};
    redisReply *r = redisCommandArgv(st->c, 1, argv, NULL);
    st->stats.commands++;
    st->stats.round_trips++;
    if (!r) return conn_failed(st, "PING", errstr, errstr_size);
    if (r->type == REDIS_REPLY_ERROR) {
        rc = fg_err(errstr, errstr_size, error_reply_rc(r->str), "redis PING: %s", r->str);
        st->stats.errors++;
    }
    freeReplyObject(r);
    return rc;
}

void fg_state_stats(const fg_state_t *st, fg_state_stats_t *out) { *out = st->stats; }

void fg_state_watch_shared(fg_state_t *st, int on) { st->watch_shared = on ? 1 : 0; }

void fg_state_set_observer(fg_state_t *st, fg_state_observer_fn *fn, void *ud) {
    st->observer = fn;
    st->observer_ud = ud;
}

/* Times one exchange for the observer; a call that needed no round trip (nothing
 * wanted or queued) is not one. */
static int observed(fg_state_t *st, int (*fn)(fg_state_t *, char *, size_t), char *errstr, size_t errstr_size) {
    if (!st->observer) return fn(st, errstr, errstr_size);
    uint64_t rt = st->stats.round_trips, er = st->stats.errors;
    int64_t t0 = fg_mono_us();
    int rc = fn(st, errstr, errstr_size);
    int failed = (int)(st->stats.errors - er);
    if (st->stats.round_trips != rt)
        st->observer(st->observer_ud, (double)(fg_mono_us() - t0) / 1e6, failed);
    else if (failed)
        st->observer(st->observer_ud, -1, failed);
    return rc;
}

int fg_state_fetch(fg_state_t *st, char *errstr, size_t errstr_size) {
    return observed(st, fetch_once, errstr, errstr_size);
}
int fg_state_flush(fg_state_t *st, char *errstr, size_t errstr_size) {
    return observed(st, flush_once, errstr, errstr_size);
}
int fg_state_ping(fg_state_t *st, char *errstr, size_t errstr_size) {
    return observed(st, ping_once, errstr, errstr_size);
}
