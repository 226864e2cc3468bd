/*
 * record.c - `fundguard record`: the input topics to recorded stream files
 * (schemas/recfile.h), for audits, reproducible tests and benchmarks; the
 * files go back on a topic with `fundguard replay`.
 *
 * Messages are decoded with the same codec and schema ids as `run`; one that
 * does not decode is kept byte for byte (recorded raw), so nothing is dropped.
 * The consumer assigns every partition itself (no group membership, no
 * rebalance wait): from the beginning, or from a group's committed offsets,
 * which it then commits for what it wrote.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "consumers/kafka_conf.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/settings.h"
#include "schemas/codec.h"
#include "schemas/recfile.h"

#define REC_EXIT_OK 0
#define REC_EXIT_USAGE 1
#define REC_EXIT_KAFKA 4
#define REC_EXIT_IO 5

static volatile sig_atomic_t g_rec_stop = 0;
static void rec_on_signal(int sig) {
    (void)sig;
    g_rec_stop = 1;
}

static void record_usage(FILE *out) {
    fprintf(out,
            "usage: fundguard record [--config FILE] [--set KEY=VALUE]... --stream claims|inpatient|invoicing|all\n"
            "                        --out DIR|FILE [--format avro|jsonl] [--from beginning|committed]\n"
            "                        [--group G] [--until-idle-ms N]\n"
            "\n"
            "  --stream S         which input topic(s) (topics.* of the config) to record\n"
            "  --out DIR|FILE     a file (name ends in .avro or .jsonl; one stream only), or a directory\n"
            "                     that receives <stream>.<format> per stream\n"
            "  --format F         avro (default: Avro object container, deflate) or jsonl (JSON Lines)\n"
            "  --from W           beginning (default): everything the topic still holds;\n"
            "                     committed: from the committed offsets of --group, which are then\n"
            "                     advanced past what was recorded (partitions without any: beginning)\n"
            "  --group G          consumer group for --from committed (default: kafka group.id of the config)\n"
            "  --until-idle-ms N  stop when every partition is at its end and nothing arrived for N ms\n"
            "                     (default 1000; 0 stops at the first end of every partition)\n"
            "\n"
            "Messages decode with the config's codec (schemas.avro_ids); those that do not are recorded\n"
            "raw, byte for byte. SIGINT/SIGTERM stop cleanly (files are completed).\n"
            "Exit codes: 0 ok, 1 usage or configuration, 4 Kafka error, 5 file write error.\n");
}

/* ---- state ---- */

typedef struct {
    const char *topic;
    fg_stream_t stream;
    fg_rec_writer_t *w;
    char path[4096];
    uint64_t events, raw;
    int32_t n_parts;
} rec_out_t;

typedef struct {
    int32_t n; /* partitions (all topics) */
    int *at_end;
} rec_eof_t;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int32_t topic_partitions(rd_kafka_t *rk, const char *topic, char *err, size_t n) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    int32_t cnt = -1;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(err, n, "topic %s: metadata: %s", topic, rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(err, n, "topic %s: %s", topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not in the metadata");
    else
        cnt = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return cnt;
}

int fg_cli_record(int argc, char **argv) {
    const char *cfg_path = NULL, *stream_arg = NULL, *out = NULL, *format = "avro", *from = "beginning",
               *group_arg = NULL;
    long long idle_ms = 1000;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--config") && more)
            cfg_path = argv[++i];
        else if (!strcmp(a, "--set") && more)
            sets[n_sets++] = argv[++i];
        else if (!strcmp(a, "--stream") && more)
            stream_arg = argv[++i];
        else if (!strcmp(a, "--out") && more)
            out = argv[++i];
        else if (!strcmp(a, "--format") && more)
            format = argv[++i];
        else if (!strcmp(a, "--from") && more)
            from = argv[++i];
        else if (!strcmp(a, "--group") && more)
            group_arg = argv[++i];
        else if (!strcmp(a, "--until-idle-ms") && more) {
            char *end;
            idle_ms = strtoll(argv[++i], &end, 10);
            if (*end || idle_ms < 0) {
                fprintf(stderr, "fundguard record: --until-idle-ms wants a number of ms >= 0, not '%s'\n", argv[i]);
                free(sets);
                return REC_EXIT_USAGE;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            record_usage(stdout);
            free(sets);
            return 0;
        } else {
            fprintf(stderr, "fundguard record: unknown or incomplete option '%s'\n\n", a);
            record_usage(stderr);
            free(sets);
            return REC_EXIT_USAGE;
        }
    }
    const char *why = NULL;
    int all = stream_arg && !strcmp(stream_arg, "all");
    int one = stream_arg && !all ? fg_stream_parse(stream_arg) : -1;
    if (!stream_arg || (!all && one < 0))
        why = "--stream must be claims, inpatient, invoicing or all";
    else if (!out)
        why = "--out is required";
    else if (strcmp(format, "avro") && strcmp(format, "jsonl"))
        why = "--format must be avro or jsonl";
    else if (strcmp(from, "beginning") && strcmp(from, "committed"))
        why = "--from must be beginning or committed";
    int out_is_file = out && fg_rec_format_of(out) >= 0;
    if (!why && out_is_file && all) why = "--stream all writes one file per stream: give --out a directory";
    if (!why && !out_is_file && !is_dir(out))
        why = "--out must be an existing directory, or a file name ending in .avro or .jsonl";
    if (why) {
        fprintf(stderr, "fundguard record: %s\n\n", why);
        record_usage(stderr);
        free(sets);
        return REC_EXIT_USAGE;
    }

    char err[1024];
    fg_config_t *cf = fg_settings_load(cfg_path, sets, n_sets, err, sizeof(err));
    free(sets);
    if (!cf) {
        fprintf(stderr, "fundguard record: configuration error: %s\n", err);
        return REC_EXIT_USAGE;
    }
    fg_log_set_level((fg_log_level_t)fg_log_level_parse(fg_config_str(cf, "log.level")));
    fg_log_set_json(fg_config_bool(cf, "log.json"));

    int rc = REC_EXIT_USAGE;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    fg_arena_t *arena = fg_arena_create(1 << 20);
    rec_out_t outs[FG_STREAM_COUNT];
    size_t n_outs = 0;
    memset(outs, 0, sizeof(outs));
    int *at_end = NULL;

    fg_codec_t *codec = fg_codec_create(err, sizeof(err));
    if (!codec) {
        fprintf(stderr, "fundguard record: %s\n", err);
        goto done;
    }
    char ids_err[512];
    if (fg_kafka_register_schema_ids(cf, codec, ids_err, sizeof(ids_err)) != FG_OK) {
        fprintf(stderr, "fundguard record: configuration error: %s\n", ids_err);
        goto done;
    }
    fg_validate_opts_t vopts;
    fg_validate_opts_default(&vopts);
    vopts.min_event_time_ms = fg_config_int(cf, "validation.min_event_time_ms");
    vopts.max_future_ms = fg_config_int(cf, "validation.max_future_ms");
    vopts.max_items = (uint32_t)fg_config_int(cf, "validation.max_items");
    vopts.max_trace_codes = (uint32_t)fg_config_int(cf, "validation.max_trace_codes");

    static const char *const topic_key[FG_STREAM_COUNT] = {"topics.claims", "topics.inpatient", "topics.invoicing"};
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        if (!all && s != one) continue;
        rec_out_t *o = &outs[n_outs++];
        o->stream = (fg_stream_t)s;
        o->topic = fg_config_str(cf, topic_key[s]);
        for (size_t k = 0; k + 1 < n_outs; k++)
            if (!strcmp(outs[k].topic, o->topic)) {
                fprintf(stderr, "fundguard record: streams %s and %s share topic %s\n", fg_stream_name(outs[k].stream),
                        fg_stream_name(o->stream), o->topic);
                goto done;
            }
        if (out_is_file)
            snprintf(o->path, sizeof(o->path), "%s", out);
        else
            snprintf(o->path, sizeof(o->path), "%s/%s.%s", out, fg_stream_name(o->stream), format);
    }

    /* consumer: assign, no subscription */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    fg_kafka_conf_t kc = {.conf = conf, .take_group = 1};
    snprintf(kc.group, sizeof(kc.group), "fundguard");
    rd_kafka_conf_set(conf, "client.id", "fundguard-record", NULL, 0);
    rd_kafka_conf_set(conf, "queued.min.messages", "200000", NULL, 0);
    char e[512];
    int kc_failed = fg_kafka_conf_apply(cf, "consumer", &kc, e, sizeof(e)) != FG_OK;
    const char *group = group_arg ? group_arg : kc.group;
    if (kc_failed || rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        /* an offset that fell out of the log must stop the recording, not skip data */
        rd_kafka_conf_set(conf, "auto.offset.reset", "error", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "fundguard record: %s\n", e);
        rd_kafka_conf_destroy(conf);
        goto done;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
        fprintf(stderr, "fundguard record: kafka consumer: %s\n", e);
        goto done;
    }
    rc = REC_EXIT_KAFKA;
    parts = rd_kafka_topic_partition_list_new(16);
    for (size_t k = 0; k < n_outs; k++) {
        if ((outs[k].n_parts = topic_partitions(rk, outs[k].topic, err, sizeof(err))) < 0) {
            fprintf(stderr, "fundguard record: %s\n", err);
            goto done;
        }
        for (int32_t p = 0; p < outs[k].n_parts; p++)
            rd_kafka_topic_partition_list_add(parts, outs[k].topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    int committed = !strcmp(from, "committed");
    if (committed) {
        rd_kafka_resp_err_t ce = rd_kafka_committed(rk, parts, 10000);
        if (ce) {
            fprintf(stderr, "fundguard record: committed offsets of group %s: %s\n", group, rd_kafka_err2str(ce));
            goto done;
        }
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset < 0) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t ae = rd_kafka_assign(rk, parts);
    if (ae) {
        fprintf(stderr, "fundguard record: assign: %s\n", rd_kafka_err2str(ae));
        goto done;
    }

    rc = REC_EXIT_IO;
    for (size_t k = 0; k < n_outs; k++)
        if (!(outs[k].w = fg_rec_writer_open(outs[k].path, outs[k].stream, err, sizeof(err)))) {
            fprintf(stderr, "fundguard record: %s\n", err);
            goto done;
        }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = rec_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    at_end = calloc((size_t)parts->cnt, sizeof(int));
    int64_t last_msg = fg_mono_us();
    int io_failed = 0, kafka_failed = 0;
    while (!g_rec_stop && !io_failed && !kafka_failed) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            int ends = 1;
            for (int i = 0; i < parts->cnt && ends; i++)
                ends = at_end[i];
            if (ends && (fg_mono_us() - last_msg) / 1000 >= idle_ms) break;
            continue;
        }
        const char *tn = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        int pi = -1;
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition == m->partition && !strcmp(parts->elems[i].topic, tn)) pi = i;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (pi >= 0) at_end[pi] = 1;
        } else if (m->err) {
            /* a gap in a recording is data loss: stop rather than skip */
            fprintf(stderr, "fundguard record: %s [%d]: %s\n", tn, (int)m->partition, rd_kafka_message_errstr(m));
            kafka_failed = rd_kafka_fatal_error(rk, NULL, 0) || m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                           m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || m->rkt;
        } else {
            last_msg = fg_mono_us();
            if (pi >= 0) {
                at_end[pi] = 0;
                parts->elems[pi].offset = m->offset + 1; /* what to commit */
            }
            rec_out_t *o = NULL;
            for (size_t k = 0; k < n_outs && !o; k++)
                if (!strcmp(outs[k].topic, tn)) o = &outs[k];
            if (o) {
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(m, &tt);
                fg_event_t ev;
                char reason[512];
                fg_arena_reset(arena);
                int drc = fg_codec_decode(codec, o->stream, m->payload, m->len, arena, &vopts, &ev, reason,
                                          sizeof(reason));
                if (drc == FG_OK) {
                    if (ts < 0) ts = ev.event_time_ms;
                    io_failed = fg_rec_writer_put(o->w, m->key, m->key_len, ts, &ev, err, sizeof(err)) != FG_OK;
                    o->events++;
                } else {
                    FG_DEBUG("record: %s [%d] @%lld recorded raw: %s", tn, (int)m->partition, (long long)m->offset,
                             reason);
                    io_failed = fg_rec_writer_put_raw(o->w, m->key, m->key_len, ts, m->payload, m->len, err,
                                                      sizeof(err)) != FG_OK;
                    o->raw++;
                }
                if (io_failed) fprintf(stderr, "fundguard record: %s\n", err);
            }
        }
        rd_kafka_message_destroy(m);
    }

    int closed_ok = 1;
    for (size_t k = 0; k < n_outs; k++) {
        if (fg_rec_writer_close(outs[k].w, err, sizeof(err)) != FG_OK) {
            fprintf(stderr, "fundguard record: %s\n", err);
            closed_ok = 0;
        }
        outs[k].w = NULL;
        fprintf(stderr, "record: %s: %llu events, %llu raw -> %s\n", outs[k].topic, (unsigned long long)outs[k].events,
                (unsigned long long)outs[k].raw, outs[k].path);
    }
    if (!closed_ok || io_failed) goto done;
    if (kafka_failed) {
        rc = REC_EXIT_KAFKA;
        goto done;
    }
    if (committed) {
        /* only what reached the files: partitions not read keep their offsets */
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(c, parts->elems[i].topic, parts->elems[i].partition)->offset =
                    parts->elems[i].offset;
        rd_kafka_resp_err_t ce = c->cnt ? rd_kafka_commit(rk, c, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_topic_partition_list_destroy(c);
        if (ce) {
            fprintf(stderr, "fundguard record: commit for group %s: %s (the files are complete)\n", group,
                    rd_kafka_err2str(ce));
            rc = REC_EXIT_KAFKA;
            goto done;
        }
    }
    rc = REC_EXIT_OK;
done:
    for (size_t k = 0; k < n_outs; k++)
        if (outs[k].w) fg_rec_writer_close(outs[k].w, NULL, 0);
    free(at_end);
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    fg_codec_destroy(codec);
    fg_arena_destroy(arena);
    fg_config_destroy(cf);
    return rc;
}
