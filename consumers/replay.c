/*
 * replay.c - `fundguard replay`: recorded stream files (schemas/recfile.h)
 * back onto the input topics, for audits, tests and benchmarks.
 *
 * Order: the files are merged by recorded timestamp (ties: the order of the
 * files on the command line, then file order), so streams interleave as they
 * did in life and the produced sequence is the same at every speed; paced mode
 * only adds sleeps. Each message keeps its key and its timestamp.
 *
 * Partitions are chosen here, with the partitioner the config names (the
 * librdkafka default otherwise), so the replay knows which partition every
 * message goes to before producing it. That is what lag pacing needs: the
 * embedded broker keeps only a bounded tail of each partition (about 100k
 * messages or 5 MB), so per partition the distance between what was produced
 * and what the consuming group has committed must stay below that, or the
 * consumer's offset falls out of the log. The committed offsets are read with
 * rd_kafka_committed() on a consumer handle of that group (never subscribed).
 *
 * Delivery: idempotent producer, acks=all, every delivery report awaited; any
 * failure gives a non-zero exit.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "consumers/kafka_conf.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/settings.h"
#include "schemas/codec.h"
#include "schemas/recfile.h"

#define RP_EXIT_OK 0
#define RP_EXIT_USAGE 1
#define RP_EXIT_KAFKA 4 /* a delivery failed, or the producer failed */
#define RP_EXIT_INPUT 5 /* a file is corrupt: what preceded the bad record was replayed */
#define RP_EXIT_INTERRUPTED 130

#define RP_LAG_POLL_MS 150     /* committed offsets re-read this often while blocked */
#define RP_LAG_REFRESH_MS 1000 /* and this often otherwise, for the observed maximum */

static volatile sig_atomic_t g_rp_stop = 0;
static void rp_on_signal(int sig) {
    (void)sig;
    g_rp_stop = 1;
}

static void replay_usage(FILE *out) {
    fprintf(out, "usage: fundguard replay [--config FILE] [--set KEY=VALUE]... FILE...\n"
                 "                        [--speed max|K] [--lag-group G] [--max-lag N] [--max-lag-bytes B]\n"
                 "                        [--encoding json|avro] [--schema-id ID|STREAM=ID,...]\n"
                 "                        [--progress auto|on|off] [--ack-log FILE]\n"
                 "\n"
                 "Produces each recorded file (.avro or .jsonl, from `fundguard record` or the generator) to the\n"
                 "topic of its stream (topics.* of the config), same key, message timestamp = recorded timestamp.\n"
                 "Several files are merged in timestamp order.\n"
                 "\n"
                 "  --speed max|K        max (default): as fast as possible; K: K times event time, e.g. 3600 plays\n"
                 "                       an hour of recorded time per second\n"
                 "  --lag-group G        the consumer group whose lag paces the replay (default: kafka group.id\n"
                 "                       of the config, else \"fundguard\")\n"
                 "  --max-lag N          per partition, produced minus committed offsets of G stays below N\n"
                 "                       messages (default 50000; 0 = no lag pacing at all)\n"
                 "  --max-lag-bytes B    ... and below about B bytes (default 2097152; 0 = no byte bound). The\n"
                 "                       embedded broker keeps ~100k messages or ~5 MB per partition.\n"
                 "  --encoding E         json (default) or avro (Confluent wire format; needs --schema-id)\n"
                 "  --schema-id ID       schema id for every stream, or per stream: claims=1,inpatient=7,...;\n"
                 "                       the consumer's config must map each id in schemas.avro_ids (checked\n"
                 "                       against this config)\n"
                 "  --progress P         auto (default: one updating line on a terminal, else a line every 5 s),\n"
                 "                       on (the updating line even when stderr is not a terminal), off\n"
                 "  --ack-log FILE       one line per delivered message: topic partition offset ack_wall_time_us\n"
                 "\n"
                 "Undecodable messages recorded raw are produced byte for byte.\n"
                 "Exit codes: 0 ok, 1 usage/configuration/unreadable file, 4 delivery failure,\n"
                 "5 corrupt file (the records before the bad one were replayed), 130 interrupted.\n");
}

/* ---- state ---- */

typedef int32_t (*rp_partitioner_t)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *, void *);

typedef struct {
    const char *name;
    rd_kafka_topic_t *rkt;
    int32_t n_parts;
    int64_t *produced;  /* next offset per partition: high watermark at start + messages enqueued */
    int64_t *committed; /* the lag group's committed offset (low watermark at start if none) */
    int64_t *bytes;     /* bytes enqueued per partition, for the average message size */
    int64_t *msgs;
    int in_use;
} rp_topic_t;

typedef struct {
    const char *path;
    fg_rec_reader_t *r;
    fg_arena_t *arena;
    fg_rec_t rec;
    int has;
    int empty; /* an empty JSON Lines file: no stream, no records */
    fg_stream_t stream;
} rp_src_t;

typedef struct {
    rd_kafka_t *rk;  /* producer */
    rd_kafka_t *rkc; /* committed-offset reader, group = lag group */
    rp_topic_t topics[FG_STREAM_COUNT];
    rp_partitioner_t part_fn;
    int part_random_unkeyed;
    unsigned rnd;
    FILE *ack;
    uint64_t delivered, failed;
    char first_failure[512];
    int64_t max_lag_seen;
    int64_t last_refresh_us;
} rp_t;

static int64_t wall_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void rp_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    rp_t *rp = opaque;
    if (m->err) {
        if (!rp->failed++)
            snprintf(rp->first_failure, sizeof(rp->first_failure), "%s [%d]: %s",
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition, rd_kafka_err2str(m->err));
        return;
    }
    rp->delivered++;
    if (rp->ack)
        fprintf(rp->ack, "%s %d %lld %lld\n", rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
                (long long)wall_us());
}

static void rp_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    if (rd_kafka_fatal_error(rk, NULL, 0))
        FG_ERROR("replay: kafka %s: fatal: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
    else
        FG_WARN("replay: kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* ---- configuration ---- */

static int set_partitioner(rp_t *rp, const char *name) {
    static const struct {
        const char *name;
        rp_partitioner_t fn;
        int random_unkeyed;
    } tab[] = {
        {"consistent_random", rd_kafka_msg_partitioner_consistent, 1},
        {"consistent", rd_kafka_msg_partitioner_consistent, 0},
        {"random", NULL, 1},
        {"murmur2_random", rd_kafka_msg_partitioner_murmur2, 1},
        {"murmur2", rd_kafka_msg_partitioner_murmur2, 0},
        {"fnv1a_random", rd_kafka_msg_partitioner_fnv1a, 1},
        {"fnv1a", rd_kafka_msg_partitioner_fnv1a, 0},
    };
    for (size_t i = 0; i < FG_ARRAY_SIZE(tab); i++)
        if (!strcmp(name, tab[i].name)) {
            rp->part_fn = tab[i].fn;
            rp->part_random_unkeyed = tab[i].random_unkeyed;
            return 0;
        }
    return -1;
}

/* the partition librdkafka's partitioner of that name would choose (the hash functions are pure) */
static int32_t rp_partition(rp_t *rp, rp_topic_t *t, const char *key, size_t key_len) {
    if (!rp->part_fn || (rp->part_random_unkeyed && (!key || key_len == 0)))
        return (int32_t)(rand_r(&rp->rnd) % (unsigned)t->n_parts);
    return rp->part_fn(t->rkt, key ? key : "", key ? key_len : 0, t->n_parts, NULL, NULL);
}

/* ---- lag ---- */

/* re-reads the lag group's committed offsets of every topic in use; updates the observed maximum */
static int rp_refresh_committed(rp_t *rp, char *err, size_t n) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        rp_topic_t *t = &rp->topics[s];
        if (!t->in_use) continue;
        for (int32_t p = 0; p < t->n_parts; p++)
            rd_kafka_topic_partition_list_add(l, t->name, p);
    }
    rd_kafka_resp_err_t e = rd_kafka_committed(rp->rkc, l, 5000);
    if (e) {
        snprintf(err, n, "committed offsets: %s", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    for (int i = 0; i < l->cnt; i++) {
        for (int s = 0; s < FG_STREAM_COUNT; s++) {
            rp_topic_t *t = &rp->topics[s];
            if (!t->in_use || strcmp(t->name, l->elems[i].topic)) continue;
            int32_t p = l->elems[i].partition;
            if (l->elems[i].err == 0 && l->elems[i].offset > t->committed[p]) t->committed[p] = l->elems[i].offset;
            if (t->produced[p] - t->committed[p] > rp->max_lag_seen)
                rp->max_lag_seen = t->produced[p] - t->committed[p];
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    rp->last_refresh_us = fg_mono_us();
    return 0;
}

/* the most messages partition p may run ahead of the group */
static int64_t rp_lag_limit(const rp_topic_t *t, int32_t p, int64_t max_lag, int64_t max_lag_bytes) {
    int64_t lim = max_lag > 0 ? max_lag : INT64_MAX;
    if (max_lag_bytes > 0 && t->msgs[p] > 0) {
        int64_t avg = t->bytes[p] / t->msgs[p];
        int64_t by_bytes = max_lag_bytes / (avg > 0 ? avg : 1);
        if (by_bytes < 1) by_bytes = 1;
        if (by_bytes < lim) lim = by_bytes;
    }
    return lim;
}

/* ---- progress ---- */

typedef struct {
    int mode; /* 0 off, 1 updating line, 2 periodic lines */
    int64_t start_us, last_us;
    int line_open;
} rp_progress_t;

static void rp_progress(rp_progress_t *pg, rp_src_t *src, size_t n_src, uint64_t events, int64_t lag, int force) {
    if (!pg->mode) return;
    int64_t now = fg_mono_us();
    int64_t every = pg->mode == 1 ? 250000 : 5000000;
    if (!force && now - pg->last_us < every) return;
    pg->last_us = now;
    uint64_t pos = 0, size = 0;
    for (size_t i = 0; i < n_src; i++) {
        uint64_t sz;
        pos += fg_rec_reader_position(src[i].r, &sz);
        size += sz;
    }
    double el = (double)(now - pg->start_us) / 1e6;
    double frac = size ? (double)pos / (double)size : 0;
    if (frac > 1) frac = 1;
    char eta[32] = "--:--";
    if (frac > 0.001 && el > 0.5) {
        long s = lround(el * (1 - frac) / frac);
        snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
    }
    char lagbuf[32] = "";
    if (lag >= 0) snprintf(lagbuf, sizeof(lagbuf), "  lag %lld", (long long)lag);
    fprintf(stderr, "%sreplay: %llu events  %.0f/s  %.1f%%  ETA %s%s%s", pg->mode == 1 ? "\r" : "",
            (unsigned long long)events, el > 0 ? (double)events / el : 0.0, frac * 100, eta, lagbuf,
            pg->mode == 1 ? "\033[K" : "\n");
    pg->line_open = pg->mode == 1;
    fflush(stderr);
}

/* ---- main ---- */

static int parse_schema_ids(const char *arg, int32_t ids[FG_STREAM_COUNT]) {
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg && !*end) {
        if (v < 0 || v > INT32_MAX) return -1;
        for (int s = 0; s < FG_STREAM_COUNT; s++)
            ids[s] = (int32_t)v;
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return -1;
        *eq = '\0';
        int s = fg_stream_parse(tok);
        v = strtol(eq + 1, &end, 10);
        if (s < 0 || !eq[1] || *end || v < 0 || v > INT32_MAX) return -1;
        ids[s] = (int32_t)v;
    }
    return 0;
}

static int rp_advance(rp_src_t *s, char *err, size_t n) {
    fg_arena_reset(s->arena);
    int rc = fg_rec_reader_next(s->r, s->arena, &s->rec, err, n);
    s->has = rc == FG_OK;
    return rc == FG_ERR ? -1 : 0;
}

int fg_cli_replay(int argc, char **argv) {
    const char *cfg_path = NULL, *speed_arg = "max", *lag_group = NULL, *encoding = "json", *schema_arg = NULL,
               *progress = "auto", *ack_path = NULL;
    long long max_lag = 50000, max_lag_bytes = 2 * 1024 * 1024;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    const char **files = calloc((size_t)argc + 1, sizeof(char *));
    int n_sets = 0, n_files = 0;
    const char *why = NULL;
    for (int i = 1; i < argc && !why; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--config") && more)
            cfg_path = argv[++i];
        else if (!strcmp(a, "--set") && more)
            sets[n_sets++] = argv[++i];
        else if (!strcmp(a, "--speed") && more)
            speed_arg = argv[++i];
        else if (!strcmp(a, "--lag-group") && more)
            lag_group = argv[++i];
        else if ((!strcmp(a, "--max-lag") || !strcmp(a, "--max-lag-bytes")) && more) {
            char *end;
            long long v = strtoll(argv[++i], &end, 10);
            if (*end || !*argv[i] || v < 0) why = "--max-lag and --max-lag-bytes want a number >= 0";
            if (!strcmp(a, "--max-lag"))
                max_lag = v;
            else
                max_lag_bytes = v;
        } else if (!strcmp(a, "--encoding") && more)
            encoding = argv[++i];
        else if (!strcmp(a, "--schema-id") && more)
            schema_arg = argv[++i];
        else if (!strcmp(a, "--progress") && more)
            progress = argv[++i];
        else if (!strcmp(a, "--ack-log") && more)
            ack_path = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            replay_usage(stdout);
            free(sets);
            free(files);
            return 0;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "fundguard replay: unknown or incomplete option '%s'\n\n", a);
            why = "";
        } else
            files[n_files++] = a;
    }
    double speed = 0; /* 0 = max */
    if (!why && strcmp(speed_arg, "max")) {
        char *end;
        speed = strtod(speed_arg, &end);
        if (*end || !(speed > 0) || !isfinite(speed)) why = "--speed must be max or a number > 0";
    }
    int32_t schema_ids[FG_STREAM_COUNT] = {-1, -1, -1};
    int avro = !strcmp(encoding, "avro");
    if (!why && !avro && strcmp(encoding, "json")) why = "--encoding must be json or avro";
    if (!why && avro && !schema_arg) why = "--encoding avro needs --schema-id";
    if (!why && schema_arg && parse_schema_ids(schema_arg, schema_ids))
        why = "--schema-id wants ID or STREAM=ID,... (e.g. claims=1,inpatient=2,invoicing=3)";
    int pmode = !strcmp(progress, "off") ? 0 : !strcmp(progress, "on") ? 1 : !strcmp(progress, "auto") ? -1 : -2;
    if (!why && pmode == -2) why = "--progress must be auto, on or off";
    if (!why && !n_files) why = "no files to replay";
    if (why) {
        if (*why) fprintf(stderr, "fundguard replay: %s\n\n", why);
        replay_usage(stderr);
        free(sets);
        free(files);
        return RP_EXIT_USAGE;
    }
    if (pmode == -1) pmode = isatty(STDERR_FILENO) ? 1 : 2;

    char err[1024];
    fg_config_t *cf = fg_settings_load(cfg_path, sets, n_sets, err, sizeof(err));
    free(sets);
    if (!cf) {
        fprintf(stderr, "fundguard replay: configuration error: %s\n", err);
        free(files);
        return RP_EXIT_USAGE;
    }
    fg_log_set_level((fg_log_level_t)fg_log_level_parse(fg_config_str(cf, "log.level")));
    fg_log_set_json(fg_config_bool(cf, "log.json"));

    int rc = RP_EXIT_USAGE;
    rp_t rp;
    memset(&rp, 0, sizeof(rp));
    rp.rnd = (unsigned)fg_mono_us();
    rp_src_t *src = calloc((size_t)n_files, sizeof(*src));
    fg_codec_t *enc = NULL, *check = NULL;
    int checked[FG_STREAM_COUNT] = {0};
    uint64_t per_stream[FG_STREAM_COUNT] = {0}, raw = 0, produced = 0;
    rp_progress_t pg = {.mode = pmode, .start_us = fg_mono_us()};
    int input_failed = 0;

    /* files first: a typo in a name should not wait for Kafka */
    for (int i = 0; i < n_files; i++) {
        src[i].path = files[i];
        if (!(src[i].r = fg_rec_reader_open(files[i], err, sizeof(err)))) {
            fprintf(stderr, "fundguard replay: %s\n", err);
            goto done;
        }
        src[i].stream = fg_rec_reader_stream(src[i].r);
        src[i].arena = fg_arena_create(1 << 16);
        if (src[i].stream == FG_STREAM_COUNT) { /* an empty JSON Lines file: nothing to produce */
            src[i].empty = 1;
            continue;
        }
        if (avro && schema_ids[src[i].stream] < 0) {
            fprintf(stderr, "fundguard replay: %s holds %s events but --schema-id gives no id for %s\n", files[i],
                    fg_stream_name(src[i].stream), fg_stream_name(src[i].stream));
            goto done;
        }
    }
    if (avro) {
        if (!(enc = fg_codec_create(err, sizeof(err))) || !(check = fg_codec_create(err, sizeof(err)))) {
            fprintf(stderr, "fundguard replay: %s\n", err);
            goto done;
        }
        /* the consumer must know the ids: register this config's as `run` does, check the first message */
        char ids_err[512];
        if (fg_kafka_register_schema_ids(cf, check, ids_err, sizeof(ids_err)) != FG_OK) {
            fprintf(stderr, "fundguard replay: configuration error: %s\n", ids_err);
            goto done;
        }
    }

    /* producer */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    fg_kafka_conf_t kc = {.conf = pc, .take_group = 1};
    snprintf(kc.group, sizeof(kc.group), "fundguard");
    snprintf(kc.partitioner, sizeof(kc.partitioner), "consistent_random");
    char e[512];
    rd_kafka_conf_set(pc, "client.id", "fundguard-replay", NULL, 0);
    rd_kafka_conf_set(pc, "linger.ms", "5", NULL, 0);
    if (fg_kafka_conf_apply(cf, "producer", &kc, e, sizeof(e)) != FG_OK ||
        rd_kafka_conf_set(pc, "enable.idempotence", "true", e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(pc, "acks", "all", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "fundguard replay: %s\n", e);
        rd_kafka_conf_destroy(pc);
        goto done;
    }
    if (set_partitioner(&rp, kc.partitioner)) {
        fprintf(stderr, "fundguard replay: kafka partitioner \"%s\" is not one replay can reproduce\n", kc.partitioner);
        rd_kafka_conf_destroy(pc);
        goto done;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, rp_on_delivery);
    rd_kafka_conf_set_error_cb(pc, rp_on_error);
    rd_kafka_conf_set_opaque(pc, &rp);
    if (!(rp.rk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof(e)))) {
        fprintf(stderr, "fundguard replay: kafka producer: %s\n", e);
        goto done;
    }

    /* the lag group's reader: same connection settings as the consumer */
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    fg_kafka_conf_t ckc = {.conf = cc, .take_group = 1};
    snprintf(ckc.group, sizeof(ckc.group), "%s", kc.group);
    rd_kafka_conf_set(cc, "client.id", "fundguard-replay-lag", NULL, 0);
    int ckc_failed = fg_kafka_conf_apply(cf, "consumer", &ckc, e, sizeof(e)) != FG_OK;
    if (!lag_group) lag_group = ckc.group;
    if (ckc_failed || rd_kafka_conf_set(cc, "group.id", lag_group, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(cc, "enable.auto.commit", "false", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "fundguard replay: %s\n", e);
        rd_kafka_conf_destroy(cc);
        goto done;
    }
    if (!(rp.rkc = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof(e)))) {
        fprintf(stderr, "fundguard replay: kafka consumer: %s\n", e);
        goto done;
    }

    /* topics: partition counts and the starting offsets */
    rc = RP_EXIT_KAFKA;
    static const char *const topic_key[FG_STREAM_COUNT] = {"topics.claims", "topics.inpatient", "topics.invoicing"};
    for (int i = 0; i < n_files; i++) {
        if (src[i].empty) continue;
        rp_topic_t *t = &rp.topics[src[i].stream];
        if (t->in_use) continue;
        t->in_use = 1;
        t->name = fg_config_str(cf, topic_key[src[i].stream]);
        t->rkt = rd_kafka_topic_new(rp.rk, t->name, NULL);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t me = rd_kafka_metadata(rp.rk, 0, t->rkt, &md, 10000);
        if (me || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
            fprintf(stderr, "fundguard replay: topic %s: %s\n", t->name,
                    me                                        ? rd_kafka_err2str(me)
                    : md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                              : "no partitions");
            if (md) rd_kafka_metadata_destroy(md);
            goto done;
        }
        t->n_parts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        t->produced = calloc((size_t)t->n_parts, sizeof(int64_t));
        t->committed = calloc((size_t)t->n_parts, sizeof(int64_t));
        t->bytes = calloc((size_t)t->n_parts, sizeof(int64_t));
        t->msgs = calloc((size_t)t->n_parts, sizeof(int64_t));
        for (int32_t p = 0; p < t->n_parts; p++) {
            int64_t lo = 0, hi = 0;
            rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(rp.rk, t->name, p, &lo, &hi, 10000);
            if (we) {
                fprintf(stderr, "fundguard replay: topic %s [%d]: watermarks: %s\n", t->name, (int)p,
                        rd_kafka_err2str(we));
                goto done;
            }
            /* a group without a commit starts at the low watermark */
            t->produced[p] = hi;
            t->committed[p] = lo;
        }
    }
    int pacing = max_lag > 0;
    if (pacing && rp_refresh_committed(&rp, err, sizeof(err))) {
        fprintf(stderr, "fundguard replay: lag group %s: %s\n", lag_group, err);
        goto done;
    }
    if (ack_path && !(rp.ack = fopen(ack_path, "w"))) {
        fprintf(stderr, "fundguard replay: --ack-log %s: %s\n", ack_path, strerror(errno));
        rc = RP_EXIT_USAGE;
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = rp_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (int i = 0; i < n_files; i++)
        if (!src[i].empty && rp_advance(&src[i], err, sizeof(err))) {
            fprintf(stderr, "fundguard replay: %s\n", err);
            input_failed = 1;
        }

    int64_t t0_us = fg_mono_us(), ts0 = INT64_MIN, paused_us = 0, last_ts = INT64_MIN, wait_note_us = 0;
    rc = RP_EXIT_OK;
    while (!g_rp_stop && !input_failed && !rp.failed) {
        rp_src_t *s = NULL;
        for (int i = 0; i < n_files; i++)
            if (src[i].has && (!s || src[i].rec.ts_ms < s->rec.ts_ms)) s = &src[i];
        if (!s) break;
        const fg_rec_t *rec = &s->rec;
        rp_topic_t *t = &rp.topics[s->stream];

        /* paced: wall time tracks event time / speed (time spent waiting for lag is not made up) */
        int64_t ts = rec->ts_ms >= 0 ? rec->ts_ms : last_ts;
        if (speed > 0 && ts != INT64_MIN) {
            if (ts0 == INT64_MIN) ts0 = ts;
            int64_t due = t0_us + paused_us + (int64_t)((double)(ts - ts0) * 1000.0 / speed);
            for (int64_t now = fg_mono_us(); now < due && !g_rp_stop; now = fg_mono_us()) {
                int64_t ms = (due - now) / 1000;
                rd_kafka_poll(rp.rk, ms > 100 ? 100 : ms > 0 ? (int)ms : 0);
                if (ms <= 0) {
                    struct timespec ns = {0, (long)((due - now) * 1000)};
                    nanosleep(&ns, NULL);
                }
                rp_progress(&pg, src, (size_t)n_files, produced, pacing ? rp.max_lag_seen : -1, 0);
            }
        }
        if (ts != INT64_MIN) last_ts = ts;

        int32_t p = rp_partition(&rp, t, rec->key, rec->key_len);

        /* lag: never let this partition run further ahead of the group than the limit */
        if (pacing) {
            int64_t lim = rp_lag_limit(t, p, max_lag, max_lag_bytes);
            int64_t wait_start = 0;
            while (!g_rp_stop && t->produced[p] - t->committed[p] >= lim) {
                int64_t now = fg_mono_us();
                if (!wait_start) wait_start = now;
                if (now - rp.last_refresh_us >= RP_LAG_POLL_MS * 1000 && rp_refresh_committed(&rp, err, sizeof(err)))
                    FG_WARN("replay: lag group %s: %s", lag_group, err);
                if (t->produced[p] - t->committed[p] < lim) break;
                rd_kafka_poll(rp.rk, 50);
                if (now - wait_start > 10000000 && now - wait_note_us > 10000000) {
                    wait_note_us = now;
                    if (pg.line_open) fputc('\n', stderr), pg.line_open = 0;
                    fprintf(stderr,
                            "replay: waiting for group %s: %s [%d] is %lld messages ahead of its committed offset "
                            "(limit %lld)\n",
                            lag_group, t->name, (int)p, (long long)(t->produced[p] - t->committed[p]), (long long)lim);
                }
                rp_progress(&pg, src, (size_t)n_files, produced, rp.max_lag_seen, 0);
            }
            if (wait_start) paused_us += fg_mono_us() - wait_start;
            if (g_rp_stop) break;
            if (fg_mono_us() - rp.last_refresh_us >= RP_LAG_REFRESH_MS * 1000 &&
                rp_refresh_committed(&rp, err, sizeof(err)))
                FG_WARN("replay: lag group %s: %s", lag_group, err);
        }

        /* the value */
        void *val;
        size_t len;
        if (rec->is_raw) {
            len = rec->raw_len;
            val = malloc(len ? len : 1);
            if (val && len) memcpy(val, rec->raw, len);
        } else if (avro) {
            val = fg_codec_encode_avro(enc, &rec->ev, schema_ids[s->stream], &len);
            if (val && !checked[s->stream]) {
                /* the first message of a stream must decode with this config's schemas.avro_ids */
                static fg_arena_t *ca;
                if (!ca) ca = fg_arena_create(1 << 16);
                fg_event_t ev;
                char reason[512];
                if (fg_codec_decode(check, s->stream, val, len, ca, NULL, &ev, reason, sizeof(reason)) != FG_OK &&
                    strstr(reason, "schema id")) {
                    fprintf(stderr,
                            "fundguard replay: --schema-id %d for %s: the consumer could not decode it: %s "
                            "(map the id in schemas.avro_ids)\n",
                            (int)schema_ids[s->stream], fg_stream_name(s->stream), reason);
                    free(val);
                    fg_arena_destroy(ca);
                    ca = NULL;
                    rc = RP_EXIT_USAGE;
                    break;
                }
                fg_arena_destroy(ca);
                ca = NULL;
                checked[s->stream] = 1;
            }
        } else {
            val = fg_codec_encode_json(&rec->ev);
            len = val ? strlen(val) : 0;
        }
        if (!val) {
            fprintf(stderr, "fundguard replay: %s: record %llu: cannot encode the event\n", s->path,
                    (unsigned long long)rec->index);
            input_failed = 1;
            break;
        }
        for (;;) {
            rd_kafka_resp_err_t pe = rd_kafka_producev(
                rp.rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                RD_KAFKA_V_KEY(rec->key, rec->key ? rec->key_len : 0), RD_KAFKA_V_VALUE(val, len),
                RD_KAFKA_V_TIMESTAMP(rec->ts_ms > 0 ? rec->ts_ms : 0), RD_KAFKA_V_END);
            if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rp.rk, 50);
                continue;
            }
            if (pe) {
                free(val);
                if (!rp.failed++)
                    snprintf(rp.first_failure, sizeof(rp.first_failure), "%s [%d]: produce: %s", t->name, (int)p,
                             rd_kafka_err2str(pe));
            }
            break;
        }
        if (rp.failed) break;
        t->produced[p]++;
        t->msgs[p]++;
        t->bytes[p] += (int64_t)(len + rec->key_len);
        produced++;
        if (rec->is_raw)
            raw++;
        else
            per_stream[s->stream]++;
        rd_kafka_poll(rp.rk, 0);
        rp_progress(&pg, src, (size_t)n_files, produced, pacing ? rp.max_lag_seen : -1, 0);
        if (rp_advance(s, err, sizeof(err))) {
            if (pg.line_open) fputc('\n', stderr), pg.line_open = 0;
            fprintf(stderr, "fundguard replay: %s\n", err);
            input_failed = 1;
        }
    }

    /* every delivery report, however the loop ended */
    int64_t flush_start = fg_mono_us();
    while (rd_kafka_outq_len(rp.rk) > 0 && fg_mono_us() - flush_start < 120 * 1000000LL) {
        rd_kafka_poll(rp.rk, 100);
        rp_progress(&pg, src, (size_t)n_files, produced, pacing ? rp.max_lag_seen : -1, 0);
    }
    int undelivered = rd_kafka_outq_len(rp.rk);
    if (pacing) rp_refresh_committed(&rp, err, sizeof(err));
    rp_progress(&pg, src, (size_t)n_files, produced, pacing ? rp.max_lag_seen : -1, 1);
    if (pg.line_open) fputc('\n', stderr);
    double secs = (double)(fg_mono_us() - t0_us) / 1e6;
    char lagtxt[400] = "no lag pacing";
    if (pacing) snprintf(lagtxt, sizeof(lagtxt), "max lag %lld (group %s)", (long long)rp.max_lag_seen, lag_group);
    fprintf(stderr,
            "replay: claims %llu, inpatient %llu, invoicing %llu events, %llu raw; %llu delivered, %llu failed; "
            "%.2f s, %.0f msg/s; %s\n",
            (unsigned long long)per_stream[0], (unsigned long long)per_stream[1], (unsigned long long)per_stream[2],
            (unsigned long long)raw, (unsigned long long)rp.delivered, (unsigned long long)rp.failed, secs,
            secs > 0 ? (double)produced / secs : 0.0, lagtxt);
    if (rp.failed || undelivered) {
        fprintf(stderr, "fundguard replay: delivery failed: %s\n",
                rp.failed ? rp.first_failure : "messages still unacknowledged after 120 s");
        rc = RP_EXIT_KAFKA;
    } else if (input_failed) {
        rc = RP_EXIT_INPUT;
    } else if (g_rp_stop) {
        rc = RP_EXIT_INTERRUPTED;
    }
done:
    if (rp.ack && fclose(rp.ack) != 0 && rc == RP_EXIT_OK) {
        fprintf(stderr, "fundguard replay: --ack-log: write error\n");
        rc = RP_EXIT_USAGE;
    }
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        rp_topic_t *t = &rp.topics[s];
        if (t->rkt) rd_kafka_topic_destroy(t->rkt);
        free(t->produced);
        free(t->committed);
        free(t->bytes);
        free(t->msgs);
    }
    if (rp.rk) rd_kafka_destroy(rp.rk);
    if (rp.rkc) rd_kafka_destroy(rp.rkc);
    for (int i = 0; i < n_files; i++) {
        fg_rec_reader_close(src[i].r);
        fg_arena_destroy(src[i].arena);
    }
    free(src);
    free(files);
    fg_codec_destroy(enc);
    fg_codec_destroy(check);
    fg_config_destroy(cf);
    return rc;
}
