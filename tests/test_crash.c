/*
 * test_crash.c - crash safety: the mixed scenario (tests/support/mixed.c, every
 * pattern of every detector) is replayed twice from the same input topics:
 *
 *  A  uninterrupted: `fundguard run --idle-exit-ms`, group G0, Redis prefix A,
 *     alerts topic A;
 *  B  crashed: group G1, Redis prefix B, alerts topic B, its own copy of the
 *     input topics (same keys, so every partition holds the same events in the
 *     same order); fundguard is started, SIGKILLed, restarted, FG_CRASH_KILLS (10)
 *     times while input is still pending (the last 20 % of each input stream is
 *     produced only after the kills, or as soon as B has consumed the rest); then
 *     it runs to completion with --idle-exit-ms. Kill points are random amounts
 *     of committed progress (one in each tenth of the first 85 % of what was
 *     produced), each a random 0-40 ms after the group's commits reach it, so
 *     kills land anywhere in a batch's cycle (read, rules, MULTI/EXEC, publishing,
 *     commit). Restarts cost the mock broker's group rejoin (session.timeout.ms
 *     3500, the lowest it accepts with its 3 s first-join wait: ~6 s each), which
 *     is most of the ~80 s the test takes.
 *
 * Then (README, Operations: delivery guarantee; the effect is exactly once, the
 * wire at least once):
 *  - the set of distinct alert ids of B equals A's;
 *  - per id (the alerts topic is an upsert stream keyed by id), B's last message
 *    has the content (detection_time removed, the only field allowed to differ) of
 *    A's last message; every earlier message of either run names the same finding
 *    (identity fields equal): the README's "a later message with the same id is a
 *    more complete version of the same finding". Which partial versions appear
 *    depends on how the input partitions interleave into batches, which differs
 *    between any two runs (see the check's comment below);
 *  - Redis holds the same keys (name with the prefix swapped) and the same
 *    content, every field (HGETALL / GET; TTLs ignored): late counters, evidence
 *    and watermarks included, which holds because lateness is judged per source
 *    partition and nothing is written below a pruning horizon (detector.h,
 *    fg_dctx_watermark). One precisely scoped exception:
 *    alert markers (`<prefix>:al:{a:<id>}`, the digest of the last acknowledged
 *    version) are written in the flush of the NEXT batch (or at a clean stop), so
 *    a kill between a batch's commit and the next flush loses the markers of that
 *    batch's alerts. A marker missing from B is therefore allowed only for an id
 *    that B published, and a marker differing from A's only if it holds the digest
 *    of an earlier version B published (the later version's marker was the one
 *    lost); A's markers must be the digests of A's last versions (recomputed from
 *    the published JSON), and no marker may exist in B that A lacks.
 *
 * Reproduce a run with FG_CRASH_SEED=<seed printed on stderr>; FG_CRASH_KILLS=0 runs B
 * uninterrupted too (a control run for diagnosing a difference).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "schemas/codec.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"

#define FG_CRASH_KILLS 10
#define FG_CRASH_BATCH 5

/* ---- time, PRNG ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_uniform(double lo, double hi) { return lo + (hi - lo) * (double)(rng_next() >> 11) / 9007199254740992.0; }

/* ---- configuration: one run's topics, group and Redis prefix ---- */

typedef struct {
    char group[200], prefix[200], alerts[200], risk[200], cases[200], dlq[200], cfg[300], log[300];
} run_t;

static void run_init(run_t *r, const fg_e2e_t *e, const char *tag) {
    snprintf(r->group, sizeof(r->group), "%s-g%s", e->base, tag);
    snprintf(r->prefix, sizeof(r->prefix), "%s-%s", e->base, tag);
    snprintf(r->alerts, sizeof(r->alerts), "%s-alerts-%s", e->base, tag);
    snprintf(r->risk, sizeof(r->risk), "%s-risk-%s", e->base, tag);
    snprintf(r->cases, sizeof(r->cases), "%s-cases-%s", e->base, tag);
    snprintf(r->dlq, sizeof(r->dlq), "%s-dlq-%s", e->base, tag);
    snprintf(r->cfg, sizeof(r->cfg), "/tmp/%s-%s.json", e->base, tag);
    snprintf(r->log, sizeof(r->log), "/tmp/%s-%s.log", e->base, tag);
    char text[8192];
    /* modelled on tests/support/e2e.c, with this run's prefix and output topics */
    snprintf(text, sizeof(text),
             "{\n"
             "  \"kafka\": {\"bootstrap.servers\": \"%s\", \"group.id\": \"%s\",\n"
             "            \"session.timeout.ms\": \"3500\", \"heartbeat.interval.ms\": \"500\",\n"
             "            \"fetch.wait.max.ms\": \"50\"},\n"
             "  \"redis\": {\"port\": %d, \"prefix\": \"%s\"},\n"
             "  \"topics\": {\"claims\": \"%s\", \"inpatient\": \"%s\", \"invoicing\": \"%s\",\n"
             "             \"alerts\": \"%s\", \"dead_letter\": \"%s\", \"control\": \"%s\", \"risk\": \"%s\",\n"
             "             \"cases\": \"%s\"},\n"
             "  \"schemas\": {\"avro_ids\": {\"7\": \"%s/schemas/inpatient.avsc\"}},\n"
             "  \"reference\": {\"catalogue\": \"%s/reference/catalogue.json\",\n"
             "                \"blacklists\": \"%s/reference/blacklists.json\"},\n"
             "  \"http\": {\"listen\": \"\"},\n"
             "  \"pipeline\": {\"batch_max\": %d, \"batch_wait_ms\": 10, \"stats_interval_ms\": 0}\n"
             "}\n",
             fg_test_bootstrap(), r->group, fg_test_redis_port(), r->prefix, e->claims, e->inpatient, e->invoicing,
             r->alerts, r->dlq, e->control, r->risk, r->cases, fg_test_source_dir(), fg_test_source_dir(),
             fg_test_source_dir(), FG_CRASH_BATCH);
    fg_tp_write(r->cfg, text);
}

/* ---- input ---- */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void buf_add(buf_t *b, const char *key, const char *json) {
    size_t need = strlen(key) + strlen(json) + 3;
    if (b->n + need >= b->cap) {
        b->cap = (b->cap + need) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    b->n += (size_t)sprintf(b->p + b->n, "%s|%s\n", key, json);
}

/* the input as produced: per stream, one "key|json" line per event in event order */
typedef struct {
    char **line[FG_STREAM_COUNT];
    size_t n[FG_STREAM_COUNT];
} input_t;

/* as test_catalogue_replay.c: claims/inpatient keyed by patient, invoicing by institution */
static void input_build(const fg_mixed_t *m, input_t *in) {
    memset(in, 0, sizeof(*in));
    for (int st = 0; st < FG_STREAM_COUNT; st++) {
        in->line[st] = calloc(m->n, sizeof(char *));
        cr_assert(in->line[st]);
    }
    for (size_t i = 0; i < m->n; i++) {
        const fg_event_t *ev = &m->v[i];
        char *json = fg_codec_encode_json(ev);
        cr_assert(json && !strchr(json, '\n'), "event %s: no one-line JSON", ev->event_id);
        buf_t b = {0};
        buf_add(&b, ev->stream == FG_STREAM_INVOICING ? ev->institution_id : ev->patient_id, json);
        in->line[ev->stream][in->n[ev->stream]++] = b.p;
        free(json);
    }
    for (int st = 0; st < FG_STREAM_COUNT; st++) cr_assert(in->n[st], "no %s events", fg_stream_name((fg_stream_t)st));
}

/* lines [n * lo, n * hi) of every stream to the topics: a partition gets its messages in the same order
 * whether the input is produced at once or in parts */
static size_t input_produce(const input_t *in, const fg_e2e_t *e, double lo, double hi) {
    const char *topic[FG_STREAM_COUNT] = {e->claims, e->inpatient, e->invoicing};
    size_t total = 0;
    for (int st = 0; st < FG_STREAM_COUNT; st++) {
        size_t from = (size_t)((double)in->n[st] * lo), to = hi >= 1.0 ? in->n[st] : (size_t)((double)in->n[st] * hi);
        buf_t b = {0};
        for (size_t i = from; i < to; i++) {
            size_t l = strlen(in->line[st][i]);
            if (b.n + l + 1 >= b.cap) {
                b.cap = (b.cap + l + 1) * 2;
                b.p = realloc(b.p, b.cap);
                cr_assert(b.p);
            }
            memcpy(b.p + b.n, in->line[st][i], l + 1);
            b.n += l;
        }
        if (b.n) fg_tk_produce_lines(topic[st], b.p);
        free(b.p);
        total += to - from;
    }
    return total;
}

static void input_free(input_t *in) {
    for (int st = 0; st < FG_STREAM_COUNT; st++) {
        for (size_t i = 0; i < in->n[st]; i++) free(in->line[st][i]);
        free(in->line[st]);
    }
}

/* ---- committed progress of a group over the three input topics (one client, never joins) ---- */

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *parts;
    long long end; /* sum of the high watermarks (the input is complete before the runs) */
} progress_t;

static void progress_open(progress_t *p, const fg_e2e_t *e, const char *group) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", fg_test_bootstrap(), err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", group, err, sizeof(err));
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
    p->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    cr_assert(p->rk, "kafka client: %s", err);
    p->parts = rd_kafka_topic_partition_list_new(16);
    p->end = 0;
    const char *topics[3] = {e->claims, e->inpatient, e->invoicing};
    for (int i = 0; i < 3; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(p->rk, topics[i], NULL);
        const rd_kafka_metadata_t *md = NULL;
        cr_assert_eq(rd_kafka_metadata(p->rk, 0, t, &md, 5000), 0, "metadata for %s", topics[i]);
        int np = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        for (int k = 0; k < np; k++) {
            int64_t lo, hi;
            cr_assert_eq(rd_kafka_query_watermark_offsets(p->rk, topics[i], k, &lo, &hi, 5000), 0);
            p->end += hi;
            rd_kafka_topic_partition_list_add(p->parts, topics[i], k);
        }
    }
}

/* @returns the committed offsets' sum (nothing committed counts 0), or -1 if the broker did not answer */
static long long progress_committed(progress_t *p) {
    for (int i = 0; i < p->parts->cnt; i++) p->parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (rd_kafka_committed(p->rk, p->parts, 5000)) return -1;
    long long sum = 0;
    for (int i = 0; i < p->parts->cnt; i++)
        if (p->parts->elems[i].offset > 0) sum += p->parts->elems[i].offset;
    return sum;
}

static void progress_close(progress_t *p) {
    rd_kafka_topic_partition_list_destroy(p->parts);
    rd_kafka_destroy(p->rk);
}

/* ---- running fundguard ---- */

static pid_t spawn(const char *log, const char *const *args) {
    const char *argv[16];
    int n = 0;
    argv[n++] = fg_test_bin();
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644); /* one log over all restarts */
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* @returns 1 and *status if pid ended within timeout_s */
static int wait_for(pid_t pid, double timeout_s, int *status) {
    double until = now_s() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (now_s() >= until) return 0;
        sleep_s(0.02);
    }
}

static void finish_clean(pid_t pid, const char *log, double timeout_s) {
    int status = 0;
    if (!wait_for(pid, timeout_s, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("fundguard did not finish within %.0f s (log %s)", timeout_s, log);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fundguard ended with status 0x%x (log %s)", status, log);
}

/* ---- alerts: per id, every version in publication order ---- */

typedef struct {
    char *id;
    int partition;
    char **content; /* canonical JSON without detection_time, in offset order */
    char (*digest)[17]; /* per message: what fundguard's alert marker holds for it (fg_alert_digest) */
    size_t n, cap;
} alert_rec_t;

typedef struct {
    alert_rec_t *v;
    size_t n, cap;
    size_t messages;
} alerts_t;

static int cmp_msg(const void *a, const void *b) {
    const fg_tmsg_t *x = a, *y = b;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static alert_rec_t *alerts_find(const alerts_t *s, const char *id) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id)) return &s->v[i];
    return NULL;
}

static void read_alerts(const char *topic, alerts_t *out) {
    memset(out, 0, sizeof(*out));
    fg_tmsgs_t a = fg_tk_read_all(topic);
    qsort(a.v, a.n, sizeof(*a.v), cmp_msg); /* per partition, in offset (= publication) order */
    for (size_t i = 0; i < a.n; i++) {
        json_error_t je;
        json_t *j = json_loads(a.v[i].value, 0, &je);
        cr_assert(j, "%s: alert is not JSON: %s", topic, je.text);
        const char *id = json_string_value(json_object_get(j, "alert_id"));
        cr_assert(id && *id, "%s: alert without alert_id: %s", topic, a.v[i].value);
        cr_assert(json_object_get(j, "detection_time"), "%s: alert without detection_time: %s", topic, a.v[i].value);
        json_object_del(j, "detection_time");
        char *canon = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        cr_assert(canon);
        /* the marker digest: SHA-256 of the alert's JSON without detection_time, as fundguard
         * dumps it (document order, compact, 10 significant digits), first 16 hex digits */
        char *doc = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
        cr_assert(doc);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_Digest(doc, strlen(doc), md, &mdlen, EVP_sha256(), NULL);
        free(doc);
        alert_rec_t *r = alerts_find(out, id);
        if (!r) {
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 256;
                out->v = realloc(out->v, out->cap * sizeof(*out->v));
                cr_assert(out->v);
            }
            r = &out->v[out->n++];
            memset(r, 0, sizeof(*r));
            r->id = strdup(id);
            r->partition = a.v[i].partition;
        }
        /* keyed by institution: one id always lands in one partition, so offset order is publication order */
        cr_assert_eq(r->partition, a.v[i].partition, "%s: alert %s in partitions %d and %d", topic, id, r->partition,
                     a.v[i].partition);
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 4;
            r->content = realloc(r->content, r->cap * sizeof(char *));
            r->digest = realloc(r->digest, r->cap * sizeof(*r->digest));
            cr_assert(r->content && r->digest);
        }
        for (int k = 0; k < 8; k++) sprintf(r->digest[r->n] + 2 * k, "%02x", md[k]);
        r->content[r->n++] = canon;
        out->messages++;
        json_decref(j);
    }
    fg_tk_free(&a);
}

static size_t distinct_versions(const alert_rec_t *r) {
    size_t d = 0;
    for (size_t i = 0; i < r->n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++) seen = !strcmp(r->content[k], r->content[i]);
        d += !seen;
    }
    return d;
}

static int has_version(const alert_rec_t *r, const char *c) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->content[i], c)) return 1;
    return 0;
}

/*
 * Is `early` a less complete version of the finding `final` (README: "a later message
 * with the same id is a more complete version of the same finding")? Yes only if it
 * names the same finding: every identity field equal (rule, pattern, subject,
 * institution, region, window, ruleset). Severity, score, figures, summary, amounts
 * and evidence are what more input changes; evidence is not even a subset in general
 * (it is capped, e.g. institution_indicators keeps 8 event ids, and later events can
 * displace earlier ones). Where such earlier versions may appear is restricted by the
 * caller: only before the final content. @returns NULL if so, else the differing field.
 */
static const char *refinement_error(const char *early, const char *final) {
    static const char *const same[] = {"alert_id",     "rule_id",        "pattern",   "rule_name_zh",
                                       "rule_name_en", "subject_type",   "subject_id", "institution_id",
                                       "region",       "window_start",   "window_end", "ruleset_version"};
    json_t *e = json_loads(early, 0, NULL), *f = json_loads(final, 0, NULL);
    cr_assert(e && f);
    const char *why = NULL;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]) && !why; i++)
        if (!json_equal(json_object_get(e, same[i]), json_object_get(f, same[i]))) why = same[i];
    json_decref(e);
    json_decref(f);
    return why;
}

static void alerts_free(alerts_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->v[i].n; k++) free(s->v[i].content[k]);
        free(s->v[i].content);
        free(s->v[i].digest);
        free(s->v[i].id);
    }
    free(s->v);
}

/* ---- Redis: every key of a prefix with its content, TTL ignored ---- */

typedef struct {
    char *name;    /* without the prefix: ":<kind>:{<tag>:<id>}" */
    char *content; /* "hash" + sorted field=value lines, or "string" + value */
} rkey_t;

typedef struct {
    rkey_t *v;
    size_t n, cap;
} rkeys_t;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_rkey(const void *a, const void *b) { return strcmp(((const rkey_t *)a)->name, ((const rkey_t *)b)->name); }

static char *hex_or_text(const char *s, size_t n) {
    int bin = 0;
    for (size_t i = 0; i < n; i++) bin |= (unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f;
    char *o = malloc(2 * n + 8);
    cr_assert(o);
    if (!bin) {
        memcpy(o, s, n);
        o[n] = '\0';
        return o;
    }
    strcpy(o, "0x");
    for (size_t i = 0; i < n; i++) sprintf(o + 2 + 2 * i, "%02x", (unsigned char)s[i]);
    return o;
}

static char *key_content(redisContext *c, const char *key) {
    redisReply *t = redisCommand(c, "TYPE %s", key);
    cr_assert(t && t->type == REDIS_REPLY_STATUS, "TYPE %s failed", key);
    char *out = NULL;
    if (!strcmp(t->str, "hash")) {
        redisReply *h = redisCommand(c, "HGETALL %s", key);
        cr_assert(h && h->type == REDIS_REPLY_ARRAY && h->elements % 2 == 0, "HGETALL %s failed", key);
        size_t nf = h->elements / 2, len = 8;
        char **lines = calloc(nf + 1, sizeof(char *));
        for (size_t i = 0; i < nf; i++) {
            char *f = hex_or_text(h->element[2 * i]->str, h->element[2 * i]->len);
            char *v = hex_or_text(h->element[2 * i + 1]->str, h->element[2 * i + 1]->len);
            lines[i] = malloc(strlen(f) + strlen(v) + 3);
            sprintf(lines[i], "%s=%s\n", f, v);
            len += strlen(lines[i]);
            free(f);
            free(v);
        }
        qsort(lines, nf, sizeof(char *), cmp_str);
        out = malloc(len + 1);
        strcpy(out, "hash\n");
        for (size_t i = 0; i < nf; i++) {
            strcat(out, lines[i]);
            free(lines[i]);
        }
        free(lines);
        freeReplyObject(h);
    } else if (!strcmp(t->str, "string")) {
        redisReply *g = redisCommand(c, "GET %s", key);
        cr_assert(g && g->type == REDIS_REPLY_STRING, "GET %s failed", key);
        char *v = hex_or_text(g->str, g->len);
        out = malloc(strlen(v) + 8);
        sprintf(out, "string\n%s", v);
        free(v);
        freeReplyObject(g);
    } else if (!strcmp(t->str, "none")) {
        out = strdup("none (expired or deleted during the scan)");
    } else {
        cr_assert_fail("key %s has unexpected type %s", key, t->str);
    }
    freeReplyObject(t);
    return out;
}

static void scan_prefix(redisContext *c, const char *prefix, rkeys_t *out) {
    memset(out, 0, sizeof(*out));
    char match[256];
    snprintf(match, sizeof(match), "%s:*", prefix);
    size_t plen = strlen(prefix);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "SCAN failed: %s", c->errstr);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            cr_assert(!strncmp(k, prefix, plen) && k[plen] == ':', "SCAN returned %s", k);
            int dup = 0;
            for (size_t d = 0; d < out->n && !dup; d++) dup = !strcmp(out->v[d].name, k + plen);
            if (dup) continue; /* SCAN may return a key twice */
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 512;
                out->v = realloc(out->v, out->cap * sizeof(*out->v));
                cr_assert(out->v);
            }
            out->v[out->n].name = strdup(k + plen);
            out->v[out->n].content = key_content(c, k);
            out->n++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    qsort(out->v, out->n, sizeof(*out->v), cmp_rkey);
}

static const rkey_t *rkeys_find(const rkeys_t *s, const char *name) {
    rkey_t k = {(char *)name, NULL};
    return bsearch(&k, s->v, s->n, sizeof(*s->v), cmp_rkey);
}

static void rkeys_free(rkeys_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].content);
    }
    free(s->v);
}

/* the lines of one key's content that the other run's lacks, "A| " / "B| " prefixed (caller frees) */
static char *content_diff(const char *a, const char *b) {
    size_t cap = strlen(a) + strlen(b) + 64, n = 0;
    char *out = malloc(cap);
    cr_assert(out);
    out[0] = '\0';
    const char *side[2][2] = {{a, b}, {b, a}};
    for (int s = 0; s < 2; s++) {
        const char *x = side[s][0], *y = side[s][1];
        for (const char *l = x; *l;) {
            size_t len = strcspn(l, "\n");
            int found = 0;
            for (const char *m = y; *m && !found;) {
                size_t ml = strcspn(m, "\n");
                found = ml == len && !memcmp(l, m, len);
                m += ml + (m[ml] == '\n');
            }
            if (!found) n += (size_t)snprintf(out + n, cap - n, "  %s| %.*s\n", s ? "B" : "A", (int)len, l);
            l += len + (l[len] == '\n');
        }
    }
    return out;
}

/* ":al:{a:<id>}" -> <id> (into buf), or NULL if name is not an alert marker */
static const char *marker_id(const char *name, char *buf, size_t size) {
    static const char pre[] = ":al:{a:";
    size_t n = strlen(name);
    if (strncmp(name, pre, sizeof(pre) - 1) || n < sizeof(pre) || name[n - 1] != '}') return NULL;
    snprintf(buf, size, "%.*s", (int)(n - sizeof(pre)), name + sizeof(pre) - 1);
    return buf;
}

static size_t count_kind(const rkeys_t *s, const char *kind) {
    size_t n = 0, l = strlen(kind);
    for (size_t i = 0; i < s->n; i++) n += s->v[i].name[0] == ':' && !strncmp(s->v[i].name + 1, kind, l) &&
                                          s->v[i].name[1 + l] == ':';
    return n;
}

/* ---- the test ---- */

Test(crash, kill9_at_random_points_same_alerts_and_state, .timeout = 400) {
    double t0 = now_s();
    const char *seed_env = getenv("FG_CRASH_SEED");
    uint64_t seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 0)
                                          : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    rng_state = seed;
    fprintf(stderr, "crash: seed %llu (reproduce with FG_CRASH_SEED=%llu)\n", (unsigned long long)seed,
            (unsigned long long)seed);

    /* 1. input: the mixed scenario to fresh topics */
    fg_mixed_t m;
    fg_mixed_build(&m);
    fg_e2e_t e, eb;
    fg_e2e_setup(&e);
    /* B reads its own copy of the input (same keys, so the same partitions, in the same order), whose
     * tail is produced only after the kills: input is pending at every kill however fast B runs */
    eb = e;
    snprintf(eb.claims, sizeof(eb.claims), "%s-B-claims", e.base);
    snprintf(eb.inpatient, sizeof(eb.inpatient), "%s-B-inpatient", e.base);
    snprintf(eb.invoicing, sizeof(eb.invoicing), "%s-B-invoicing", e.base);
    run_t A, B;
    run_init(&A, &e, "A");
    run_init(&B, &eb, "B");
    input_t in;
    input_build(&m, &in);
    cr_assert_eq(input_produce(&in, &e, 0, 1), m.n);
    const double head = 0.8;
    size_t head_n = input_produce(&in, &eb, 0, head);
    const char *outs[] = {A.alerts, A.dlq, A.risk, A.cases, B.alerts, B.dlq, B.risk, B.cases, e.control};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) fg_tk_touch(outs[i]);
    fprintf(stderr, "crash: %zu events on %s-{claims,inpatient,invoicing}, batch_max %d\n", m.n, e.base,
            FG_CRASH_BATCH);

    /* 2. the uninterrupted reference */
    double ta = now_s();
    const char *argsA[] = {"run", "--config", A.cfg, "--idle-exit-ms", "2500", NULL};
    progress_t pa;
    progress_open(&pa, &e, A.group);
    pid_t pid_a = spawn(A.log, argsA);
    /* watch its commits to learn how fast it processes, so the kills of B can be spread over B's run */
    double first_a = 0, done_a = 0;
    int status_a = 0;
    while (waitpid(pid_a, &status_a, WNOHANG) != pid_a) {
        if (now_s() - ta > 150) {
            kill(pid_a, SIGKILL);
            waitpid(pid_a, &status_a, 0);
            cr_assert_fail("run A did not finish within 150 s (log %s)", A.log);
        }
        long long x = progress_committed(&pa);
        if (x > 0 && !first_a) first_a = now_s();
        if (x >= pa.end && !done_a) done_a = now_s();
        sleep_s(0.02);
    }
    cr_assert(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0, "run A ended with status 0x%x (log %s)", status_a,
              A.log);
    double run_a = now_s() - ta;
    long long ca = progress_committed(&pa);
    cr_assert(first_a > 0 && done_a >= first_a, "run A: no commits observed while it ran (log %s)", A.log);
    /* events per second while processing (the first batch's commit is when we start counting) */
    double rate = (double)m.n / (done_a - first_a + 0.05);
    cr_assert_eq(ca, pa.end, "run A committed %lld of %lld (log %s)", ca, pa.end, A.log);
    progress_close(&pa);
    fprintf(stderr, "crash: run A (uninterrupted) took %.1f s, processing %.2f s (%.0f events/s)\n", run_a,
            done_a - first_a, rate);

    /* 3. the crash run: kill -9 at random points while input is pending, restart each time */
    progress_t pb;
    progress_open(&pb, &eb, B.group);
    cr_assert_eq(pb.end, (long long)head_n, "input high watermarks %lld, events produced %zu", pb.end, head_n);
    pb.end = (long long)m.n; /* with the tail, produced later */
    int tail_done = 0;
    const char *argsB[] = {"run", "--config", B.cfg, NULL};
    int kills = 0, starts = 0;
    long long last = 0; /* committed at the previous kill */
    char kill_log[4096] = "";
    size_t kl = 0;
    double tb = now_s();
    /* FG_CRASH_KILLS=0 in the environment: a control run (B uninterrupted too), for diagnosing differences */
    const char *kenv = getenv("FG_CRASH_KILLS");
    int want_kills = kenv && *kenv ? atoi(kenv) : FG_CRASH_KILLS;
    if (want_kills != FG_CRASH_KILLS) fprintf(stderr, "crash: FG_CRASH_KILLS=%d (diagnostic run)\n", want_kills);
    /*
     * Kill points: random amounts of committed progress, one in each of want_kills equal slices of
     * the first 85 % of the produced head (the tail is still to come at every kill), each a further random
     * 0-40 ms after the group's commits reached it, so kills land anywhere in a batch's cycle
     * (decoding, Redis exchanges, publishing, committing) rather than right after a commit.
     */
    long long target[64];
    if (want_kills > 64) want_kills = 64;
    for (int k = 0; k < want_kills; k++)
        target[k] = (long long)((double)head_n * 0.85 * ((double)k + rng_uniform(0.05, 0.95)) / (double)want_kills);
    while (kills < want_kills) {
        cr_assert(now_s() - tb < 220, "crash phase too slow: %d kills in %.0f s (log %s)", kills, now_s() - tb, B.log);
        pid_t pid = spawn(B.log, argsB);
        starts++;
        double started = now_s();
        /* wait for progress since the previous kill and for the kill point (bounded) */
        long long c = last;
        int status = 0, ended = 0;
        while ((c <= last || c < target[kills]) && now_s() - started < 40) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                ended = 1;
                break;
            }
            sleep_s(0.005);
            long long x = progress_committed(&pb);
            if (x >= 0) c = x;
            if (!tail_done && c >= (long long)head_n) { /* overshot: B consumed all it had, give it the rest */
                input_produce(&in, &eb, head, 1);
                tail_done = 1;
            }
        }
        cr_assert(!ended, "fundguard (start %d) exited by itself with status 0x%x (log %s)", starts, status, B.log);
        cr_assert(c > last && c >= target[kills], "no progress to %lld within 40 s after start %d (committed %lld, log %s)",
                  target[kills], starts, c, B.log);
        double delay = rng_uniform(0.0, 0.04);
        sleep_s(delay);
        if (waitpid(pid, &status, WNOHANG) == pid) cr_assert_fail("fundguard exited by itself (log %s)", B.log);
        long long before = progress_committed(&pb);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
        long long after = progress_committed(&pb);
        if (after < 0) after = before;
        cr_assert(after < pb.end, "kill %d came after the whole input was committed (%lld of %lld): not a crash during "
                  "the replay", kills + 1, after, pb.end);
        kills++;
        last = after;
        kl += (size_t)snprintf(kill_log + kl, sizeof(kill_log) - kl, " #%d@%lld+%.0fms:%lld", kills, target[kills - 1],
                               delay * 1000, after);
        fprintf(stderr, "crash: kill %d: target %lld, %.0f ms after reaching it (%.2f s after start), committed %lld of %lld\n",
                kills, target[kills - 1], delay * 1000, now_s() - started, after, pb.end);
    }
    if (!tail_done) input_produce(&in, &eb, head, 1);
    input_free(&in);
    /* let it finish */
    const char *argsB2[] = {"run", "--config", B.cfg, "--idle-exit-ms", "2500", NULL};
    finish_clean(spawn(B.log, argsB2), B.log, 150);
    starts++;
    long long cb = progress_committed(&pb);
    cr_assert_eq(cb, pb.end, "run B committed %lld of %lld (log %s)", cb, pb.end, B.log);
    progress_close(&pb);
    double run_b = now_s() - tb;

    /* 4a. no dead letters in either run */
    fg_tmsgs_t dla = fg_tk_read_all(A.dlq), dlb = fg_tk_read_all(B.dlq);
    cr_assert_eq(dla.n, 0, "run A: %zu dead letters, the first: %s", dla.n, dla.n ? dla.v[0].reason : "");
    cr_assert_eq(dlb.n, 0, "run B: %zu dead letters, the first: %s", dlb.n, dlb.n ? dlb.v[0].reason : "");
    fg_tk_free(&dla);
    fg_tk_free(&dlb);

    /* 4b. alerts: same ids; B's content per id is A's (last) content */
    alerts_t aa, ab;
    read_alerts(A.alerts, &aa);
    read_alerts(B.alerts, &ab);
    cr_assert(aa.n > 0, "run A published no alerts (log %s)", A.log);
    /*
     * Per id: B's last message equals A's last (the final finding is the same); every
     * earlier message of either run is A's final content again (a re-publication after a
     * lost acknowledgement) or a less complete version of it (refinement_error: the
     * finding published when its threshold was first crossed, before the rest of its
     * evidence was processed - which events are in by then depends on how the input
     * partitions interleave into batches, so it varies between any two runs, crashed or
     * not). A version other than the final one after the final one is allowed (upsert
     * stream: the last message is what counts) and counted in the figures.
     */
    size_t multi_a = 0, dup_b = 0, multi_b = 0, after_final = 0;
    char early_ids[2048] = "";
    size_t el = 0;
    for (size_t i = 0; i < aa.n; i++) {
        const alert_rec_t *ra = &aa.v[i];
        const alert_rec_t *rb = alerts_find(&ab, ra->id);
        cr_assert(rb, "alert %s of run A missing from run B (A's content: %s; logs %s, %s)", ra->id,
                  ra->content[ra->n - 1], A.log, B.log);
        const char *last_a = ra->content[ra->n - 1];
        cr_assert_str_eq(rb->content[rb->n - 1], last_a,
                         "alert %s: run B's last version differs from run A's\n  A: %s\n  B: %s", ra->id, last_a,
                         rb->content[rb->n - 1]);
        multi_a += distinct_versions(ra) > 1;
        multi_b += distinct_versions(rb) > 1;
        dup_b += rb->n > 1;
        for (size_t k = 0; k + 1 < ra->n; k++) {
            const char *why = strcmp(ra->content[k], last_a) ? refinement_error(ra->content[k], last_a) : NULL;
            cr_assert(!why, "alert %s: run A's message %zu of %zu is neither its final content nor a less complete "
                      "version of it (%s)\n  early: %s\n  final: %s", ra->id, k + 1, ra->n, why, ra->content[k], last_a);
        }
        int final_seen = 0;
        for (size_t k = 0; k < rb->n; k++) {
            if (!strcmp(rb->content[k], last_a)) {
                final_seen = 1;
                continue;
            }
            after_final += final_seen; /* an upsert stream: allowed, the last message is what counts */
            const char *why = refinement_error(rb->content[k], last_a);
            cr_assert(!why, "alert %s: run B's message %zu of %zu differs from run A's content and is not a less "
                      "complete version of it (%s)\n  A: %s\n  B: %s", ra->id, k + 1, rb->n, why, last_a, rb->content[k]);
            if (!has_version(ra, rb->content[k]) && !strstr(early_ids, ra->id) && el < sizeof(early_ids))
                el += (size_t)snprintf(early_ids + el, sizeof(early_ids) - el, " %s", ra->id);
        }
    }
    for (size_t i = 0; i < ab.n; i++)
        cr_assert(alerts_find(&aa, ab.v[i].id), "alert %s of run B never published by run A: %s", ab.v[i].id,
                  ab.v[i].content[ab.v[i].n - 1]);
    cr_assert_eq(aa.n, ab.n);

    /* 4c. Redis: same keys, same content (TTL ignored), markers as described above */
    redisContext *rc = redisConnect("127.0.0.1", fg_test_redis_port());
    cr_assert(rc && !rc->err, "redis: %s", rc ? rc->errstr : "no memory");
    rkeys_t ka, kb;
    scan_prefix(rc, A.prefix, &ka);
    scan_prefix(rc, B.prefix, &kb);
    redisFree(rc);
    cr_assert(ka.n > 0, "no Redis keys under %s", A.prefix);
    size_t compared = 0, markers_lost = 0, markers_cmp = 0, markers_stale = 0;
    char lost_ids[2048] = "";
    size_t ll = 0;
    for (size_t i = 0; i < ka.n; i++) {
        const rkey_t *a = &ka.v[i];
        const rkey_t *b = rkeys_find(&kb, a->name);
        char idbuf[256];
        const char *mid = marker_id(a->name, idbuf, sizeof(idbuf));
        if (!b) {
            /* only a marker may be missing, and only for an alert B did publish (lost with the batch after it) */
            cr_assert(mid && alerts_find(&ab, mid), "Redis key %s%s of run A missing under %s\n  A: %s", A.prefix,
                      a->name, B.prefix, a->content);
            markers_lost++;
            if (ll < sizeof(lost_ids)) ll += (size_t)snprintf(lost_ids + ll, sizeof(lost_ids) - ll, " %s", mid);
            continue;
        }
        if (mid) {
            /* A's marker is the digest of A's last version (checks the digest recomputation too) */
            const alert_rec_t *ra = alerts_find(&aa, mid), *rb = alerts_find(&ab, mid);
            cr_assert(ra, "run A holds a marker for %s, an alert it never published", mid);
            cr_assert(!strcmp(a->content + 7, ra->digest[ra->n - 1]),
                      "run A's marker for %s (%s) is not the digest of its last version (%s)", mid, a->content + 7,
                      ra->digest[ra->n - 1]);
            if (strcmp(b->content, a->content)) {
                /* lost the same way as a missing one, but after an earlier version's marker was written:
                 * B's marker must then be the digest of a version B published before its last one */
                int earlier = 0;
                for (size_t k = 0; rb && k + 1 < rb->n && !earlier; k++)
                    earlier = !strcmp(b->content + 7, rb->digest[k]) && strcmp(rb->digest[k], rb->digest[rb->n - 1]);
                cr_assert(earlier, "alert marker %s: run B holds %s, neither A's %s nor the digest of an earlier "
                          "version B published", mid, b->content + 7, a->content + 7);
                markers_stale++;
                if (ll < sizeof(lost_ids)) ll += (size_t)snprintf(lost_ids + ll, sizeof(lost_ids) - ll, " %s(stale)", mid);
                continue;
            }
        }
        if (strcmp(b->content, a->content)) {
            char *d = content_diff(a->content, b->content);
            cr_assert_fail("Redis key %s differs between run A (%s) and run B (%s); lines only in one run:\n%s", a->name,
                           A.prefix, B.prefix, d);
        }
        compared++;
        markers_cmp += mid != NULL;
    }
    for (size_t i = 0; i < kb.n; i++)
        cr_assert(rkeys_find(&ka, kb.v[i].name), "Redis key %s%s of run B not in run A\n  B: %s", B.prefix,
                  kb.v[i].name, kb.v[i].content);

    fprintf(stderr,
            "crash: %d kills over %d starts:%s\n"
            "crash: alerts: %zu ids in both; run A %zu messages (%zu ids with several versions), run B %zu messages "
            "(%zu ids published more than once, %zu with several versions, %zu versions after the final one; earlier "
            "versions A never published:%s)\n"
            "crash: redis: %zu keys under A, %zu under B; %zu compared equal (%zu alert markers, %zu risk, %zu "
            "case keys); %zu markers lost in B, %zu stale:%s\n"
            "crash: timing: run A %.1f s, run B (kills + final run) %.1f s, total %.1f s\n",
            kills, starts, kill_log, aa.n, aa.messages, multi_a, ab.messages, dup_b, multi_b, after_final, early_ids[0] ? early_ids : " none", ka.n, kb.n, compared,
            markers_cmp, count_kind(&kb, "risk"), count_kind(&kb, "case"), markers_lost, markers_stale, lost_ids[0] ? lost_ids : " none", run_a, run_b,
            now_s() - t0);

    rkeys_free(&ka);
    rkeys_free(&kb);
    alerts_free(&aa);
    alerts_free(&ab);
    fg_mixed_free(&m);
    remove(A.cfg);
    remove(B.cfg);
}
