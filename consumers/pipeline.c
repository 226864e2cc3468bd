/*
 * pipeline.c - the consumer loop: poll a batch, decode (dead-letter what does
 * not decode), run the processor, publish alerts, wait for Kafka's
 * acknowledgements, then commit. See pipeline.h for the guarantee.
 */
#include "pipeline.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alerts/cases.h"
#include "alerts/risk.h"
#include "consumers/control.h"
#include "consumers/kafka_conf.h"
#include "consumers/processor.h"
#include "reference/kb.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/pseudo.h"
#include "schemas/codec.h"
#include "state/state.h"

/* one message to produce and see acknowledged before the batch commits */
enum { FG_OUT_ALERT = 0, FG_OUT_DLQ, FG_OUT_RISK, FG_OUT_CASE };
typedef struct {
    int kind;                /* FG_OUT_* */
    size_t src;              /* dead letter: index of the source message in the batch */
    char *payload;           /* alert, risk, case: owned JSON */
    const char *key;         /* alert, risk: institution id; case: case id (borrowed until the batch ends) */
    const char *topic;       /* alert, risk, case: destination (borrowed from pl or the config until the batch ends) */
    char reason[256];        /* dead letter */
    int state;               /* 0 in flight, 1 acknowledged, -1 failed */
    const char *src_topic;   /* alert: the event that produced it (borrowed until the batch ends), or NULL */
    int32_t src_partition;
    int64_t src_offset;
} fg_out_t;

typedef struct {
    fg_ctl_op_t op;
    int list;
    char id[256];
} fg_ctl_list_op_t;

struct fg_pipeline {
    fg_config_t *cf;
    fg_kb_t *kb;               /* current reference data (owned) */
    fg_control_t *control;
    fg_ctl_list_op_t *ctl_ops; /* blacklist changes from the control topic, re-applied after a file reload */
    size_t n_ctl_ops, cap_ctl_ops;
    fg_risk_t *risk;
    fg_risk_records_t risk_out;
    fg_cases_t *cases;
    fg_case_records_t cases_out;
    char cases_topic[256];
    rd_kafka_t *consumer, *producer;
    fg_codec_t *codec;
    fg_state_t *st;
    fg_processor_t *proc;
    fg_arena_t *arena;
    fg_validate_opts_t vopts;
    char topic[FG_STREAM_COUNT][256];
    char alerts_topic[256], dlq_topic[256], risk_topic[256];

    rd_kafka_message_t **batch;
    size_t n, cap;
    fg_event_t *evs;
    size_t cap_evs;
    fg_out_t *out;
    size_t n_out, cap_out;

    int batch_max;
    int64_t batch_wait_ms, backoff_max_ms, delivery_timeout_ms, stats_interval_ms;
    int cooperative;
    int in_process;
    int exit_code;
    int64_t assigned_us;      /* last assignment (0: never assigned) */
    int64_t waiting_us;       /* last time seen without a broker or without partitions (idle exit) */
    volatile sig_atomic_t *stop;

    /* counters (metrics and the stats line) */
    uint64_t consumed[FG_STREAM_COUNT], dead_lettered, alerts_published, commits, redis_outages, control_applied;
    uint64_t late_reported;   /* processor late events already added to the metrics */
    int kafka_down;           /* all brokers down (error callback) until Kafka answers again */
    int decode_only;          /* pipeline.mode=decode_only: the benchmark ceiling, no Redis/detectors/alerts */
    int64_t first_consume_us, last_commit_us; /* wall clock, for the stats line (benchmarks) */
};

static int stopping(const fg_pipeline_t *pl) { return (pl->stop && *pl->stop) || pl->exit_code; }

/* readiness (/readyz): Kafka is "connected" from an assignment or any answer until all brokers are down */
static void kafka_up(fg_pipeline_t *pl, int up) {
    pl->kafka_down = !up;
    fg_mon_set_kafka(up);
}

static int64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* ---- Kafka configuration ---- */

static int conf_force(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr, size_t errstr_size) {
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK)
        return fg_err(errstr, errstr_size, FG_ERR, "kafka property \"%s\": %s", k, e);
    return FG_OK;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    fg_pipeline_t *pl = opaque;
    if (rd_kafka_fatal_error(rk, NULL, 0)) {
        FG_ERROR("kafka %s: fatal: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
        pl->exit_code = FG_EXIT_KAFKA;
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) kafka_up(pl, 0);
    /* transport errors are retried by librdkafka; say so once per occurrence */
    FG_WARN("kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    fg_pipeline_t *pl = opaque;
    size_t i = (size_t)(uintptr_t)m->_private;
    if (i >= pl->n_out) return;
    pl->out[i].state = m->err ? -1 : 1;
    if (m->err)
        FG_WARN("delivery to %s failed: %s (will retry)", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

/* ---- offsets ---- */

static rd_kafka_topic_partition_list_t *batch_offsets(fg_pipeline_t *pl) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < pl->n; i++) {
        rd_kafka_message_t *m = pl->batch[i];
        const char *t = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l, t, m->partition);
        if (!p) p = rd_kafka_topic_partition_list_add(l, t, m->partition);
        if (m->offset + 1 > p->offset) p->offset = m->offset + 1;
    }
    return l;
}

static void commit_batch(fg_pipeline_t *pl, int sync) {
    if (!pl->n) return;
    rd_kafka_topic_partition_list_t *l = batch_offsets(pl);
    rd_kafka_resp_err_t err = rd_kafka_commit(pl->consumer, l, sync ? 0 : 1);
    if (err)
        /* the group moved on (rebalance): the new owner re-processes from the last
         * commit, which idempotent state and alert ids make harmless */
        FG_WARN("offset commit failed: %s", rd_kafka_err2str(err));
    else {
        pl->commits++;
        pl->last_commit_us = wall_us();
        fg_mon_commit();
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void drop_batch(fg_pipeline_t *pl) {
    for (size_t i = 0; i < pl->n; i++) rd_kafka_message_destroy(pl->batch[i]);
    pl->n = 0;
    for (size_t i = 0; i < pl->n_out; i++) free(pl->out[i].payload);
    pl->n_out = 0;
}

/* ---- producing what a batch owes ---- */

static fg_out_t *out_add(fg_pipeline_t *pl) {
    if (pl->n_out == pl->cap_out) {
        size_t c = pl->cap_out ? pl->cap_out * 2 : 64;
        fg_out_t *v = realloc(pl->out, c * sizeof(*v));
        if (!v) abort();
        pl->out = v;
        pl->cap_out = c;
    }
    fg_out_t *o = &pl->out[pl->n_out++];
    memset(o, 0, sizeof(*o));
    return o;
}

static rd_kafka_resp_err_t produce_one(fg_pipeline_t *pl, size_t i) {
    fg_out_t *o = &pl->out[i];
    o->state = 0;
    if (o->kind == FG_OUT_ALERT && o->src_topic) {
        /* provenance: which input message raised it (operators; benchmarks measure latency with it) */
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", (int)o->src_partition);
        snprintf(off, sizeof(off), "%lld", (long long)o->src_offset);
        rd_kafka_header_add(h, "fg.source.topic", -1, o->src_topic, -1);
        rd_kafka_header_add(h, "fg.source.partition", -1, part, -1);
        rd_kafka_header_add(h, "fg.source.offset", -1, off, -1);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            pl->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(o->key, strlen(o->key)), RD_KAFKA_V_VALUE(o->payload, strlen(o->payload)),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
        if (err) rd_kafka_headers_destroy(h); /* producev owns them only on success */
        return err;
    }
    if (o->kind != FG_OUT_DLQ) {
        return rd_kafka_producev(pl->producer, RD_KAFKA_V_TOPIC(o->topic),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(o->key, strlen(o->key)),
                                 RD_KAFKA_V_VALUE(o->payload, strlen(o->payload)),
                                 RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
    }
    rd_kafka_message_t *m = pl->batch[o->src];
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)m->partition);
    snprintf(off, sizeof(off), "%lld", (long long)m->offset);
    rd_kafka_header_add(h, "fg.source.topic", -1, rd_kafka_topic_name(m->rkt), -1);
    rd_kafka_header_add(h, "fg.source.partition", -1, part, -1);
    rd_kafka_header_add(h, "fg.source.offset", -1, off, -1);
    rd_kafka_header_add(h, "fg.error.reason", -1, o->reason, -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        pl->producer, RD_KAFKA_V_TOPIC(pl->dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
    if (err) rd_kafka_headers_destroy(h); /* producev owns them only on success */
    return err;
}

/*
 * Produces every owed message and waits until Kafka acknowledged all of them,
 * re-producing failures with back-off. @returns FG_OK, or FG_AGAIN if asked to
 * stop first (the batch must then not be committed).
 */
static int deliver_all(fg_pipeline_t *pl) {
    int64_t backoff = 100;
    for (size_t i = 0; i < pl->n_out; i++) pl->out[i].state = -1;
    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i < pl->n_out; i++) {
            if (pl->out[i].state != -1) continue;
            rd_kafka_resp_err_t err;
            while ((err = produce_one(pl, i)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(pl->producer, 50);
            if (err) {
                FG_WARN("produce to %s failed: %s",
                        pl->out[i].kind == FG_OUT_DLQ ? pl->dlq_topic : pl->out[i].topic,
                        rd_kafka_err2str(err));
                pl->out[i].state = -1;
            }
            pending++;
        }
        if (!pending) return FG_OK;
        rd_kafka_flush(pl->producer, (int)pl->delivery_timeout_ms);
        size_t failed = 0;
        for (size_t i = 0; i < pl->n_out; i++)
            if (pl->out[i].state != 1) {
                pl->out[i].state = -1;
                failed++;
            }
        if (!failed) return FG_OK;
        if (stopping(pl)) return FG_AGAIN;
        FG_WARN("%zu of %zu alert/dead-letter messages not acknowledged; retrying in %lld ms", failed, pl->n_out,
                (long long)backoff);
        sleep_ms(backoff);
        backoff = backoff * 2 > pl->backoff_max_ms ? pl->backoff_max_ms : backoff * 2;
    }
}

/* ---- one batch ---- */

static int stream_of(const fg_pipeline_t *pl, const char *topic) {
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        if (!strcmp(pl->topic[s], topic)) return s;
    return -1;
}

typedef struct {
    const char *region, *topic;
} fg_route_t;

static void route_cb(const char *k, const char *v, void *ud) {
    fg_route_t *r = ud;
    if (!r->topic && !strcmp(k, r->region) && v && *v) r->topic = v;
}

/* alerts.topic_by_region: the region's own topic, else topics.alerts */
static const char *alert_topic(const fg_pipeline_t *pl, const char *region) {
    fg_route_t r = {region, NULL};
    if (region && *region) fg_config_map_foreach(pl->cf, "alerts.topic_by_region", route_cb, &r);
    return r.topic ? r.topic : pl->alerts_topic;
}

/*
 * Decode, detect, publish, commit. @returns FG_OK when committed, FG_AGAIN when
 * abandoned uncommitted because the process is stopping (re-delivered later).
 */
static int process_batch(fg_pipeline_t *pl, int sync_commit) {
    if (!pl->n) return FG_OK;
    pl->in_process = 1;
    int64_t batch_t0 = fg_mono_us();
    uint64_t batch_consumed[FG_STREAM_COUNT] = {0};
    fg_arena_reset(pl->arena);
    if (pl->cap_evs < pl->n) {
        free(pl->evs);
        pl->evs = malloc(pl->n * sizeof(*pl->evs));
        if (!pl->evs) abort();
        pl->cap_evs = pl->n;
    }
    size_t nev = 0;
    for (size_t i = 0; i < pl->n; i++) {
        rd_kafka_message_t *m = pl->batch[i];
        const char *t = rd_kafka_topic_name(m->rkt);
        int s = stream_of(pl, t);
        char reason[256];
        int rc = FG_DECLINED;
        if (s < 0)
            snprintf(reason, sizeof(reason), "topic %s is not an input stream", t);
        else if (!m->payload || !m->len)
            snprintf(reason, sizeof(reason), "%s: empty message", fg_stream_name((fg_stream_t)s));
        else
            rc = fg_codec_decode(pl->codec, (fg_stream_t)s, m->payload, m->len, pl->arena, &pl->vopts,
                                 &pl->evs[nev], reason, sizeof(reason));
        if (rc == FG_OK) {
            fg_event_t *ev = &pl->evs[nev++];
            ev->src_topic = t;
            ev->src_partition = m->partition;
            ev->src_offset = m->offset;
            pl->consumed[s]++;
            batch_consumed[s]++;
            continue;
        }
        fg_out_t *o = out_add(pl);
        o->kind = FG_OUT_DLQ;
        o->src = i;
        snprintf(o->reason, sizeof(o->reason), "%s", reason);
        pl->dead_lettered++;
        fg_mon_dead_letter(reason); /* counted by reason class only: the text may quote personal data */
        FG_WARN("dead-letter %s[%d]@%lld: %s", t, (int)m->partition, (long long)m->offset, reason);
    }

    for (int s = 0; s < FG_STREAM_COUNT; s++) fg_mon_consumed(s, batch_consumed[s]);

    if (pl->decode_only) { /* the benchmark ceiling: dead letters out, commit; no state, detectors or alerts */
        if (deliver_all(pl) != FG_OK) {
            FG_WARN("stopping before Kafka acknowledged the batch's dead letters: batch left uncommitted");
            drop_batch(pl);
            pl->in_process = 0;
            return FG_AGAIN;
        }
        commit_batch(pl, sync_commit);
        drop_batch(pl);
        pl->in_process = 0;
        fg_mon_batch_seconds((double)(fg_mono_us() - batch_t0) / 1e6);
        return FG_OK;
    }

    const fg_alerts_t *alerts = NULL;
    int64_t backoff = 50, outage_start = 0;
    char err[512];
    for (;;) {
        int rc = fg_processor_run(pl->proc, pl->evs, nev, fg_now_ms(), &alerts, err, sizeof(err));
        if (rc == FG_OK) {
            /* a redo after FG_AGAIN returns the same alerts: their markers are written only once published */
            fg_risk_records_clear(&pl->risk_out);
            rc = fg_risk_update(pl->risk, alerts, &pl->risk_out, err, sizeof(err));
        }
        if (rc == FG_OK) {
            fg_case_records_clear(&pl->cases_out);
            rc = fg_cases_update(pl->cases, alerts, &pl->cases_out, err, sizeof(err));
        }
        if (rc == FG_OK) break;
        if (rc == FG_CONFLICT && !stopping(pl)) {
            /* another replica wrote a shared (institution) key between our read and our EXEC:
             * nothing was applied; redo the batch at once from a fresh read */
            fg_mon_state_conflict();
            continue;
        }
        if (!outage_start) {
            outage_start = fg_mono_us();
            pl->redis_outages++;
            fg_mon_paused(1);
            FG_ERROR("state store unavailable: %s; holding the batch (%zu events, offsets not committed) "
                     "and retrying with back-off up to %lld ms",
                     err, pl->n, (long long)pl->backoff_max_ms);
        }
        if (stopping(pl)) {
            FG_WARN("stopping during a state store outage: batch left uncommitted, it will be re-delivered");
            drop_batch(pl);
            pl->in_process = 0;
            return FG_AGAIN;
        }
        sleep_ms(backoff);
        backoff = backoff * 2 > pl->backoff_max_ms ? pl->backoff_max_ms : backoff * 2;
    }
    if (outage_start) fg_mon_paused(0);
    if (outage_start)
        FG_INFO("state store back after %.1f s; resuming", (double)(fg_mono_us() - outage_start) / 1e6);

    for (size_t i = 0; i < alerts->n; i++) {
        fg_out_t *o = out_add(pl);
        /* real or pseudonymised patient/card ids (alerts.identifiers, checked when the config was loaded) */
        int ids = fg_alert_ids_parse(fg_config_str(pl->cf, "alerts.identifiers"));
        o->payload = fg_alert_to_wire_json(&alerts->v[i], ids < 0 ? FG_ALERT_IDS_REAL : (fg_alert_ids_t)ids);
        o->key = alerts->v[i].institution_id;
        o->topic = alert_topic(pl, alerts->v[i].region);
        const fg_alert_t *a = &alerts->v[i];
        o->src_topic = a->trigger_topic;
        o->src_partition = a->trigger_partition;
        o->src_offset = a->trigger_offset;
        /* the source event gives an operator the offset to look at; ids are institutions and alert ids only */
        FG_INFO("alert %s rule=%s pattern=%s institution=%s severity=%s source=%s[%d]@%lld", a->id, a->rule_id,
                a->pattern, a->institution_id, fg_severity_name(a->severity),
                a->trigger_topic ? a->trigger_topic : "-", (int)a->trigger_partition, (long long)a->trigger_offset);
    }
    for (size_t i = 0; i < pl->risk_out.n; i++) {
        fg_out_t *o = out_add(pl);
        o->kind = FG_OUT_RISK;
        o->payload = pl->risk_out.v[i].json;
        pl->risk_out.v[i].json = NULL; /* the outbox owns it now */
        o->key = pl->risk_out.v[i].institution_id;
        o->topic = pl->risk_topic;
    }
    for (size_t i = 0; i < pl->cases_out.n; i++) {
        fg_out_t *o = out_add(pl);
        o->kind = FG_OUT_CASE;
        o->payload = pl->cases_out.v[i].json;
        pl->cases_out.v[i].json = NULL; /* the outbox owns it now */
        o->key = pl->cases_out.v[i].case_id;
        o->topic = pl->cases_topic;
    }
    if (deliver_all(pl) != FG_OK) {
        FG_WARN("stopping before Kafka acknowledged the batch's output: batch left uncommitted");
        drop_batch(pl);
        pl->in_process = 0;
        return FG_AGAIN;
    }
    pl->alerts_published += alerts->n;
    if (pl->n_out) kafka_up(pl, 1); /* only an acknowledgement proves Kafka answers; an empty batch does not */
    /* the monitoring figures count only what Kafka acknowledged; alert outs follow the alerts' order */
    for (size_t i = 0, k = 0; i < pl->n_out; i++) {
        const fg_out_t *o = &pl->out[i];
        if (o->kind == FG_OUT_ALERT && k < alerts->n) {
            const fg_alert_t *a = &alerts->v[k++];
            fg_mon_alert_published(a->rule_id, fg_severity_name(a->severity), a->rule_name_zh, a->detection_time,
                                   o->payload);
        } else if (o->kind == FG_OUT_RISK) {
            fg_mon_risk_published(o->key, o->payload);
        }
    }
    fg_processor_stats_t ps;
    fg_processor_stats(pl->proc, &ps);
    if (ps.late_events > pl->late_reported) fg_mon_late_events(ps.late_events - pl->late_reported);
    pl->late_reported = ps.late_events;
    fg_processor_published(pl->proc);
    commit_batch(pl, sync_commit);
    drop_batch(pl);
    pl->in_process = 0;
    fg_mon_ruleset(fg_processor_ruleset_version(pl->proc));
    fg_mon_batch_seconds((double)(fg_mono_us() - batch_t0) / 1e6);
    return FG_OK;
}

/* ---- group membership ---- */

/*
 * Shared keys (institution, card, trace code) need optimistic concurrency only while another
 * member may write them. A process that owns every partition of every input topic is their
 * only writer, so WATCH (whose cost in Redis grows with the square of the keys a client
 * watches) is off; any doubt (metadata unavailable, a partial assignment) keeps it on.
 */
static void update_watch(fg_pipeline_t *pl, const rd_kafka_topic_partition_list_t *owned) {
    if (!pl->st) return;
    int sole = 0;
    const struct rd_kafka_metadata *md = NULL;
    if (owned && rd_kafka_metadata(pl->consumer, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int total = 0, mine = 0;
        for (int s = 0; s < FG_STREAM_COUNT; s++) {
            for (int t = 0; t < md->topic_cnt; t++)
                if (!strcmp(md->topics[t].topic, pl->topic[s])) total += md->topics[t].partition_cnt;
            for (int i = 0; i < owned->cnt; i++) mine += !strcmp(owned->elems[i].topic, pl->topic[s]);
        }
        sole = total > 0 && mine == total;
    }
    if (md) rd_kafka_metadata_destroy(md);
    fg_state_watch_shared(pl->st, !sole);
    FG_INFO("shared state keys: %s", sole ? "this process owns every input partition, no WATCH needed"
                                          : "other members may write them: WATCH on (optimistic concurrency)");
}

/* A brand-new group starts at the earliest offset; a partition with a committed
 * offset resumes there, and auto.offset.reset=error makes an offset that fell
 * out of retention an error instead of a silent skip. */
static void assign_with_policy(fg_pipeline_t *pl, rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 5; attempt++) {
        err = rd_kafka_committed(pl->consumer, parts, 10000);
        if (!err) break;
        FG_WARN("reading committed offsets failed: %s (attempt %d)", rd_kafka_err2str(err), attempt + 1);
        sleep_ms(500);
    }
    if (err) {
        FG_ERROR("cannot read the group's committed offsets: %s; exiting rather than guess", rd_kafka_err2str(err));
        pl->exit_code = FG_EXIT_KAFKA;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset < 0) p->offset = RD_KAFKA_OFFSET_BEGINNING;
        FG_INFO("assigned %s[%d] from %s%lld", p->topic, (int)p->partition,
                p->offset == RD_KAFKA_OFFSET_BEGINNING ? "the beginning " : "committed offset ",
                (long long)(p->offset < 0 ? 0 : p->offset));
    }
    pl->assigned_us = fg_mono_us();
    fg_mon_set_assigned(1);
    kafka_up(pl, 1);
    if (pl->cooperative) {
        rd_kafka_error_destroy(rd_kafka_incremental_assign(pl->consumer, parts));
        rd_kafka_topic_partition_list_t *a = NULL;
        if (!rd_kafka_assignment(pl->consumer, &a) && a) update_watch(pl, a);
        else update_watch(pl, NULL);
        if (a) rd_kafka_topic_partition_list_destroy(a);
    } else {
        rd_kafka_assign(pl->consumer, parts);
        update_watch(pl, parts); /* eager: parts is the whole assignment */
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    fg_pipeline_t *pl = opaque;
    pl->cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign_with_policy(pl, parts);
        return;
    }
    /* revoked: finish and commit what we hold before the partitions move */
    if (!pl->in_process && pl->n) {
        FG_INFO("partitions revoked: finishing the %zu events in hand first", pl->n);
        process_batch(pl, 1);
    }
    for (int i = 0; i < parts->cnt; i++)
        FG_INFO("revoked %s[%d]", parts->elems[i].topic, (int)parts->elems[i].partition);
    if (pl->cooperative) {
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    } else {
        rd_kafka_assign(rk, NULL);
        fg_mon_set_assigned(0); /* until the next assignment */
    }
}

static void report_lost_range(fg_pipeline_t *pl, rd_kafka_message_t *m) {
    const char *t = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    int64_t lo = -1, hi = -1;
    if (m->rkt) rd_kafka_query_watermark_offsets(pl->consumer, t, m->partition, &lo, &hi, 5000);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t, m->partition);
    rd_kafka_committed(pl->consumer, l, 5000);
    int64_t committed = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    FG_ERROR("DATA LOSS: %s[%d]: the group's committed offset %lld is no longer retained by the broker "
             "(earliest retained %lld): events %lld..%lld were never processed. fundguard does not skip "
             "silently; exiting with code %d. To accept the loss and go on, reset the group's offset for this "
             "partition to %lld (see README, Operations).",
             t, (int)m->partition, (long long)committed, (long long)lo, (long long)committed, (long long)(lo - 1),
             FG_EXIT_DATA_LOSS, (long long)lo);
    pl->exit_code = FG_EXIT_DATA_LOSS;
}

/* ---- set-up ---- */

static int load_hmac_key(const fg_config_t *cf, char *errstr, size_t errstr_size) {
    const char *file = fg_config_str(cf, "security.hmac_key_file");
    if (file && *file) {
        FILE *f = fopen(file, "rb");
        if (!f) return fg_err(errstr, errstr_size, FG_ERR, "security.hmac_key_file %s: %s", file, strerror(errno));
        unsigned char key[4096];
        size_t n = fread(key, 1, sizeof(key), f);
        fclose(f);
        while (n && (key[n - 1] == '\n' || key[n - 1] == '\r')) n--;
        if (n < 16) return fg_err(errstr, errstr_size, FG_ERR, "security.hmac_key_file %s: key shorter than 16 bytes", file);
        fg_pseudo_set_key(key, n);
        return FG_OK;
    }
    const char *var = fg_config_str(cf, "security.hmac_key_env");
    const char *v = var && *var ? getenv(var) : NULL;
    if (v && *v) {
        if (strlen(v) < 16) return fg_err(errstr, errstr_size, FG_ERR, "$%s: key shorter than 16 bytes", var);
        fg_pseudo_set_key(v, strlen(v));
        return FG_OK;
    }
    FG_WARN("no pseudonymisation key configured (security.hmac_key_file or $%s): using the built-in "
            "development key; do not run production data this way",
            var ? var : "FUNDGUARD_HMAC_KEY");
    return FG_OK;
}

/* ---- reference data and run-time control ---- */

static void ctl_remember(fg_pipeline_t *pl, const fg_control_msg_t *m) {
    if (pl->n_ctl_ops == pl->cap_ctl_ops) {
        size_t c = pl->cap_ctl_ops ? pl->cap_ctl_ops * 2 : 16;
        fg_ctl_list_op_t *v = realloc(pl->ctl_ops, c * sizeof(*v));
        if (!v) abort();
        pl->ctl_ops = v;
        pl->cap_ctl_ops = c;
    }
    fg_ctl_list_op_t *o = &pl->ctl_ops[pl->n_ctl_ops++];
    o->op = m->op;
    o->list = m->list;
    snprintf(o->id, sizeof(o->id), "%s", m->id);
}

static void ctl_apply_list(fg_kb_t *kb, const fg_ctl_list_op_t *o) {
    if (o->op == FG_CTL_BLACKLIST_ADD)
        fg_kb_list_add(kb, (fg_kb_list_t)o->list, o->id);
    else
        fg_kb_list_remove(kb, (fg_kb_list_t)o->list, o->id);
}

static void swap_kb(fg_pipeline_t *pl, fg_kb_t *kb) {
    fg_processor_set_kb(pl->proc, kb); /* between batches: nothing borrows the old one any more */
    fg_kb_destroy(pl->kb);
    pl->kb = kb;
}

/* Reads the reference files again; the control topic's blacklist changes are
 * re-applied on top so a reload never undoes them. Keeps the old data on error. */
static void reload_reference(fg_pipeline_t *pl, const char *why) {
    char err[512];
    fg_kb_t *kb = fg_kb_load(fg_config_str(pl->cf, "reference.catalogue"), fg_config_str(pl->cf, "reference.blacklists"),
                             err, sizeof(err));
    if (!kb) {
        FG_ERROR("reference data reload (%s) failed, keeping the previous version: %s", why, err);
        return;
    }
    for (size_t i = 0; i < pl->n_ctl_ops; i++) ctl_apply_list(kb, &pl->ctl_ops[i]);
    swap_kb(pl, kb);
    FG_INFO("reference data reloaded (%s): catalogue version %s, %zu items; ruleset %s", why, fg_kb_version(kb),
            fg_kb_item_count(kb), fg_processor_ruleset_version(pl->proc));
}

static void apply_control(fg_pipeline_t *pl, const fg_control_msg_t *m) {
    char err[512];
    switch (m->op) {
    case FG_CTL_SET:
        if (fg_config_set(pl->cf, m->key, m->value, err, sizeof(err)) != 0 ||
            fg_processor_reconfigure(pl->proc, pl->cf, err, sizeof(err)) != FG_OK) {
            FG_ERROR("control @%lld: set %s=%s refused: %s", m->offset, m->key, m->value, err);
            return;
        }
        break;
    case FG_CTL_BLACKLIST_ADD:
    case FG_CTL_BLACKLIST_REMOVE: {
        ctl_remember(pl, m);
        fg_kb_t *kb = fg_kb_clone(pl->kb);
        ctl_apply_list(kb, &pl->ctl_ops[pl->n_ctl_ops - 1]);
        swap_kb(pl, kb);
        break;
    }
    case FG_CTL_RELOAD: reload_reference(pl, "control topic"); break;
    }
    if (m->version[0]) fg_processor_set_version(pl->proc, m->version);
    pl->control_applied++;
    fg_mon_control_message();
    static const char *const ops[] = {"set", "blacklist_add", "blacklist_remove", "reload"};
    FG_INFO("control @%lld applied: %s %s%s%s; ruleset now %s", m->offset, ops[m->op],
            m->op == FG_CTL_SET ? m->key : m->id, m->op == FG_CTL_SET ? "=" : "", m->op == FG_CTL_SET ? m->value : "",
            fg_processor_ruleset_version(pl->proc));
}

/* Applies whatever the control topic and SIGHUP have pending, right before a batch. */
static void apply_pending_changes(fg_pipeline_t *pl, volatile sig_atomic_t *reload) {
    if (reload && *reload) {
        *reload = 0;
        reload_reference(pl, "SIGHUP");
    }
    fg_control_msg_t m;
    int rc;
    while ((rc = fg_control_poll(pl->control, &m)) != 0)
        if (rc > 0) apply_control(pl, &m);
}

fg_pipeline_t *fg_pipeline_create(fg_config_t *cf, char *errstr, size_t errstr_size) {
    fg_pipeline_t *pl = calloc(1, sizeof(*pl));
    if (!pl) return NULL;
    pl->cf = cf;
    pl->batch_max = (int)fg_config_int(cf, "pipeline.batch_max");
    pl->batch_wait_ms = fg_config_int(cf, "pipeline.batch_wait_ms");
    pl->backoff_max_ms = fg_config_int(cf, "pipeline.backoff_max_ms");
    pl->delivery_timeout_ms = fg_config_int(cf, "pipeline.delivery_timeout_ms");
    pl->stats_interval_ms = fg_config_int(cf, "pipeline.stats_interval_ms");
    const char *mode = fg_config_str(cf, "pipeline.mode");
    if (mode && !strcmp(mode, "decode_only"))
        pl->decode_only = 1;
    else if (mode && strcmp(mode, "detect")) {
        fg_err(errstr, errstr_size, FG_ERR, "pipeline.mode: expected \"detect\" or \"decode_only\", got \"%s\"",
               mode);
        goto fail;
    }
    snprintf(pl->topic[FG_STREAM_CLAIMS], sizeof(pl->topic[0]), "%s", fg_config_str(cf, "topics.claims"));
    snprintf(pl->topic[FG_STREAM_INPATIENT], sizeof(pl->topic[0]), "%s", fg_config_str(cf, "topics.inpatient"));
    snprintf(pl->topic[FG_STREAM_INVOICING], sizeof(pl->topic[0]), "%s", fg_config_str(cf, "topics.invoicing"));
    snprintf(pl->alerts_topic, sizeof(pl->alerts_topic), "%s", fg_config_str(cf, "topics.alerts"));
    snprintf(pl->dlq_topic, sizeof(pl->dlq_topic), "%s", fg_config_str(cf, "topics.dead_letter"));
    snprintf(pl->risk_topic, sizeof(pl->risk_topic), "%s", fg_config_str(cf, "topics.risk"));
    snprintf(pl->cases_topic, sizeof(pl->cases_topic), "%s", fg_config_str(cf, "topics.cases"));
    for (int a = 0; a < FG_STREAM_COUNT; a++)
        for (int b = a + 1; b < FG_STREAM_COUNT; b++)
            if (!strcmp(pl->topic[a], pl->topic[b])) {
                fg_err(errstr, errstr_size, FG_ERR, "topics.%s and topics.%s are both \"%s\"",
                       fg_stream_name((fg_stream_t)a), fg_stream_name((fg_stream_t)b), pl->topic[a]);
                goto fail;
            }

    fg_validate_opts_default(&pl->vopts);
    pl->vopts.min_event_time_ms = fg_config_int(cf, "validation.min_event_time_ms");
    pl->vopts.max_future_ms = fg_config_int(cf, "validation.max_future_ms");
    pl->vopts.max_items = (uint32_t)fg_config_int(cf, "validation.max_items");
    pl->vopts.max_trace_codes = (uint32_t)fg_config_int(cf, "validation.max_trace_codes");
    pl->vopts.max_amount_fen = fg_config_int(cf, "validation.max_amount_fen");
    pl->vopts.max_quantity = fg_config_double(cf, "validation.max_quantity");

    if (load_hmac_key(cf, errstr, errstr_size) != FG_OK) goto fail;
    if (!(pl->codec = fg_codec_create(errstr, errstr_size))) goto fail;
    if (fg_kafka_register_schema_ids(cf, pl->codec, errstr, errstr_size) != FG_OK) goto fail;
    pl->arena = fg_arena_create(1 << 20);

    if (pl->decode_only) {
        FG_WARN("pipeline.mode=decode_only: consume, decode, dead-letter and commit only; no Redis, no "
                "detectors, no alerts (a benchmark and diagnostic mode, never for production)");
        goto kafka;
    }
    fg_state_opts_t so = {.host = fg_config_str(cf, "redis.host"),
                          .port = (int)fg_config_int(cf, "redis.port"),
                          .username = fg_config_str(cf, "redis.username"),
                          .password = fg_config_str(cf, "redis.password"),
                          .db = (int)fg_config_int(cf, "redis.db"),
                          .prefix = fg_config_str(cf, "redis.prefix"),
                          .timeout_ms = (int)fg_config_int(cf, "redis.timeout_ms")};
    if (!(pl->st = fg_state_create(&so, errstr, errstr_size))) goto fail;
    fg_state_set_observer(pl->st, fg_mon_redis_exchange, NULL);
    fg_mon_set_redis(1); /* connected just now */
    if (!(pl->proc = fg_processor_create(cf, pl->st, errstr, errstr_size))) goto fail;
    if (!(pl->kb = fg_kb_load(fg_config_str(cf, "reference.catalogue"), fg_config_str(cf, "reference.blacklists"),
                              errstr, errstr_size)))
        goto fail;
    fg_processor_set_kb(pl->proc, pl->kb);
    pl->risk = fg_risk_create(cf, pl->st);
    pl->cases = fg_cases_create(cf, pl->st);

kafka:;
    /* producer: idempotent, acks=all; alerts and dead letters must not be lost or reordered */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    fg_kafka_conf_t kc = {.conf = pc};
    conf_force(pc, "client.id", "fundguard", NULL, 0);
    conf_force(pc, "linger.ms", "5", NULL, 0);
    if (fg_kafka_conf_apply(cf, "producer", &kc, errstr, errstr_size) != FG_OK ||
        conf_force(pc, "enable.idempotence", "true", errstr, errstr_size)) {
        rd_kafka_conf_destroy(pc);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_conf_set_error_cb(pc, on_error);
    rd_kafka_conf_set_opaque(pc, pl);
    char e[512];
    if (!(pl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof(e)))) {
        fg_err(errstr, errstr_size, FG_ERR, "kafka producer: %s", e);
        goto fail;
    }

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    kc = (fg_kafka_conf_t){.conf = cc};
    conf_force(cc, "client.id", "fundguard", NULL, 0);
    conf_force(cc, "group.id", "fundguard", NULL, 0);
    conf_force(cc, "fetch.wait.max.ms", "100", NULL, 0);
    /* librdkafka 2.0 backs off ~1 s when the prefetch queue reaches queued.min.messages */
    conf_force(cc, "queued.min.messages", "200000", NULL, 0);
    conf_force(cc, "queued.max.messages.kbytes", "32768", NULL, 0);
    if (fg_kafka_conf_apply(cf, "consumer", &kc, errstr, errstr_size) != FG_OK) {
        rd_kafka_conf_destroy(cc);
        goto fail;
    }
    if (kc.saw_owned)
        FG_WARN("kafka auto.offset.reset / enable.auto.commit / enable.auto.offset.store are ignored: fundguard "
                "commits after processing and never skips data (see README)");
    if (conf_force(cc, "enable.auto.commit", "false", errstr, errstr_size) ||
        conf_force(cc, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        conf_force(cc, "auto.offset.reset", "error", errstr, errstr_size)) {
        rd_kafka_conf_destroy(cc);
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    rd_kafka_conf_set_error_cb(cc, on_error);
    rd_kafka_conf_set_opaque(cc, pl);
    if (!(pl->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof(e)))) {
        fg_err(errstr, errstr_size, FG_ERR, "kafka consumer: %s", e);
        goto fail;
    }
    rd_kafka_poll_set_consumer(pl->consumer);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(FG_STREAM_COUNT);
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        rd_kafka_topic_partition_list_add(subs, pl->topic[s], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(pl->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        fg_err(errstr, errstr_size, FG_ERR, "kafka subscribe: %s", rd_kafka_err2str(err));
        goto fail;
    }
    if (!(pl->control = fg_control_create(cf, errstr, errstr_size))) goto fail;
    pl->cap = (size_t)pl->batch_max;
    pl->batch = malloc(pl->cap * sizeof(*pl->batch));
    if (!pl->batch) abort();
    for (int s = 0; s < FG_STREAM_COUNT; s++) fg_mon_stream(s, fg_stream_name((fg_stream_t)s), pl->topic[s]);
    if (pl->proc) fg_mon_ruleset(fg_processor_ruleset_version(pl->proc));
    return pl;
fail:
    fg_pipeline_destroy(pl);
    return NULL;
}

void fg_pipeline_destroy(fg_pipeline_t *pl) {
    if (!pl) return;
    if (pl->consumer) rd_kafka_destroy(pl->consumer);
    if (pl->producer) {
        rd_kafka_flush(pl->producer, 5000);
        rd_kafka_destroy(pl->producer);
    }
    drop_batch(pl);
    fg_control_destroy(pl->control);
    fg_risk_destroy(pl->risk);
    fg_risk_records_free(&pl->risk_out);
    fg_cases_destroy(pl->cases);
    fg_case_records_free(&pl->cases_out);
    fg_processor_destroy(pl->proc);
    fg_kb_destroy(pl->kb);
    free(pl->ctl_ops);
    fg_state_destroy(pl->st);
    fg_codec_destroy(pl->codec);
    fg_arena_destroy(pl->arena);
    free(pl->batch);
    free(pl->evs);
    free(pl->out);
    free(pl);
}

/*
 * Consumer lag per assigned partition for the metrics: the position against the
 * high watermark librdkafka cached from its last fetch, so no broker round trip.
 * After all brokers were down, one bounded watermark query tells whether Kafka answers again.
 */
static void refresh_lag(fg_pipeline_t *pl) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(pl->consumer, &a) || !a) return;
    if (pl->kafka_down && a->cnt) {
        int64_t lo, hi;
        if (!rd_kafka_query_watermark_offsets(pl->consumer, a->elems[0].topic, a->elems[0].partition, &lo, &hi, 200))
            kafka_up(pl, 1);
    }
    rd_kafka_position(pl->consumer, a);
    size_t n = (size_t)a->cnt, k = 0;
    const char **topics = calloc(n + 1, sizeof(*topics));
    int32_t *parts = calloc(n + 1, sizeof(*parts));
    int64_t *lags = calloc(n + 1, sizeof(*lags));
    if (!topics || !parts || !lags) abort();
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_topic_partition_t *p = &a->elems[i];
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(pl->consumer, p->topic, p->partition, &lo, &hi) || hi < 0) continue;
        int64_t pos = p->offset >= 0 ? p->offset : lo >= 0 ? lo : hi; /* nothing fetched yet: from the start */
        topics[k] = p->topic;
        parts[k] = p->partition;
        lags[k++] = hi > pos ? hi - pos : 0;
    }
    fg_mon_lag(topics, parts, lags, k);
    free(topics);
    free(parts);
    free(lags);
    rd_kafka_topic_partition_list_destroy(a);
}

static void log_stats(fg_pipeline_t *pl, int64_t since_us, uint64_t consumed_before) {
    fg_state_stats_t ss;
    fg_processor_stats_t ps;
    memset(&ss, 0, sizeof(ss));
    memset(&ps, 0, sizeof(ps));
    if (pl->st) fg_state_stats(pl->st, &ss);
    if (pl->proc) fg_processor_stats(pl->proc, &ps);
    struct rusage ru; /* peak RSS and CPU of the process so far (benchmarks read them from this line) */
    memset(&ru, 0, sizeof(ru));
    getrusage(RUSAGE_SELF, &ru);
    uint64_t total = pl->consumed[0] + pl->consumed[1] + pl->consumed[2];
    double secs = (double)(fg_mono_us() - since_us) / 1e6;
    FG_INFO("stats: consumed claims=%llu inpatient=%llu invoicing=%llu (%.0f ev/s) dead_letter=%llu alerts=%llu "
            "suppressed=%llu late=%llu control=%llu redis_round_trips=%llu redis_commands=%llu state_conflicts=%llu commits=%llu "
            "mode=%s first_consume_us=%lld last_commit_us=%lld max_rss_kb=%ld cpu_user_s=%.2f cpu_sys_s=%.2f",
            (unsigned long long)pl->consumed[0], (unsigned long long)pl->consumed[1],
            (unsigned long long)pl->consumed[2], secs > 0 ? (double)(total - consumed_before) / secs : 0.0,
            (unsigned long long)pl->dead_lettered, (unsigned long long)pl->alerts_published,
            (unsigned long long)ps.alerts_suppressed, (unsigned long long)ps.late_events,
            (unsigned long long)pl->control_applied, (unsigned long long)ss.round_trips,
            (unsigned long long)ss.commands, (unsigned long long)ss.conflicts, (unsigned long long)pl->commits,
            pl->decode_only ? "decode_only" : "detect", (long long)pl->first_consume_us,
            (long long)pl->last_commit_us, ru.ru_maxrss, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

int fg_pipeline_run(fg_pipeline_t *pl, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                    int64_t idle_exit_ms) {
    pl->stop = stop;
    int64_t last_msg_us = 0, stats_us = fg_mono_us(), start_us = fg_mono_us(), lag_us = 0;
    uint64_t consumed_at_stats = 0;
    FG_INFO("fundguard running: topics %s, %s, %s -> %s (dead letters: %s); %zu detector(s); ruleset %s",
            pl->topic[0], pl->topic[1], pl->topic[2], pl->alerts_topic, pl->dlq_topic,
            pl->proc ? fg_processor_detector_count(pl->proc) : (size_t)0,
            pl->proc ? fg_processor_ruleset_version(pl->proc) : "none (decode_only)");

    while (!stopping(pl)) {
        /* collect a batch: block for the first message, then fill for at most batch_wait_ms */
        int64_t deadline_us = 0;
        while (pl->n < (size_t)pl->batch_max && !stopping(pl)) {
            int timeout = 100;
            if (pl->n) {
                int64_t left = (deadline_us - fg_mono_us()) / 1000;
                if (left <= 0) break;
                timeout = (int)(left < 100 ? left : 100);
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(pl->consumer, timeout);
            if (!m) {
                if (!pl->n) break; /* idle: fall out to housekeeping */
                continue;
            }
            if (m->err) {
                if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
                    report_lost_range(pl, m);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    FG_WARN("consume: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            /* a message may come from the prefetch queue after the brokers went down: it proves
             * nothing about Kafka; readiness returns with an acknowledged batch, an assignment
             * or a broker answering refresh_lag's watermark query */
            if (!pl->n) deadline_us = fg_mono_us() + pl->batch_wait_ms * 1000;
            if (!pl->first_consume_us) pl->first_consume_us = wall_us();
            pl->batch[pl->n++] = m;
        }
        if (pl->exit_code) break;
        if (!pl->decode_only) apply_pending_changes(pl, reload);
        if (pl->n) {
            last_msg_us = fg_mono_us();
            process_batch(pl, 0);
        } else if (idle_exit_ms > 0) {
            /* idle counts from the last message, the last assignment or the last moment without a
             * broker or without partitions, whichever is later: during a Kafka outage or a rebalance
             * the input is not idle, and stopping then would leave it unprocessed */
            rd_kafka_topic_partition_list_t *a = NULL;
            int unassigned = pl->assigned_us && (rd_kafka_assignment(pl->consumer, &a) || !a || !a->cnt);
            if (a) rd_kafka_topic_partition_list_destroy(a);
            if (pl->kafka_down || unassigned) pl->waiting_us = fg_mono_us();
            int64_t since = last_msg_us > pl->assigned_us ? last_msg_us : pl->assigned_us;
            if (pl->waiting_us > since) since = pl->waiting_us;
            if (pl->assigned_us && fg_mono_us() - since >= idle_exit_ms * 1000) {
                FG_INFO("input idle for %lld ms: stopping", (long long)idle_exit_ms);
                break;
            }
            if (!pl->assigned_us && fg_mono_us() - start_us >= (idle_exit_ms + 60000) * 1000) {
                FG_ERROR("no partitions assigned within %lld ms: is the broker reachable and do the topics exist?",
                         (long long)(idle_exit_ms + 60000));
                pl->exit_code = FG_EXIT_KAFKA;
                break;
            }
        }
        if (fg_mono_us() - lag_us >= 1000000) { /* about once a second: cheap, local */
            lag_us = fg_mono_us();
            refresh_lag(pl);
            fg_mon_tick(lag_us / 1000);
        }
        if (pl->stats_interval_ms && fg_mono_us() - stats_us >= pl->stats_interval_ms * 1000) {
            log_stats(pl, stats_us, consumed_at_stats);
            stats_us = fg_mono_us();
            consumed_at_stats = pl->consumed[0] + pl->consumed[1] + pl->consumed[2];
        }
    }

    /* clean shutdown: finish what we hold, write alert markers, leave the group */
    if (!pl->exit_code) process_batch(pl, 1);
    char err[256];
    if (pl->proc && fg_processor_sync(pl->proc, err, sizeof(err)) != FG_OK)
        FG_WARN("could not record published alerts at shutdown (%s): they may be published once more", err);
    rd_kafka_consumer_close(pl->consumer);
    log_stats(pl, stats_us, consumed_at_stats);
    return pl->exit_code;
}
