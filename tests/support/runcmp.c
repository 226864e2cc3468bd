/* runcmp.c - runs of one input compared (see runcmp.h). */
#include "runcmp.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "kafka.h"
#include "proc.h"
#include "schemas/codec.h"

double fg_rc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fg_rc_sleep(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

double fg_rc_env_seconds(const char *name, double def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end = NULL;
    double d = strtod(v, &end);
    return end && !*end && d > 0 ? d : def;
}

/* ---- runs ---- */

void fg_rc_run_init(fg_rc_run_t *r, const fg_e2e_t *e, const char *tag, const fg_rc_opts_t *o) {
    snprintf(r->group, sizeof(r->group), "%s-g%s", e->base, tag);
    snprintf(r->prefix, sizeof(r->prefix), "%s-%s", e->base, tag);
    snprintf(r->alerts, sizeof(r->alerts), "%s-alerts-%s", e->base, tag);
    snprintf(r->risk, sizeof(r->risk), "%s-risk-%s", e->base, tag);
    snprintf(r->cases, sizeof(r->cases), "%s-cases-%s", e->base, tag);
    snprintf(r->dlq, sizeof(r->dlq), "%s-dlq-%s", e->base, tag);
    snprintf(r->cfg, sizeof(r->cfg), "/tmp/%s-%s.json", e->base, tag);
    snprintf(r->log, sizeof(r->log), "/tmp/%s-%s.log", e->base, tag);
    char http[64] = "", batch[64] = "";
    if (o && o->http_port) snprintf(http, sizeof(http), "127.0.0.1:%d", o->http_port);
    if (o && o->batch_max) snprintf(batch, sizeof(batch), "\"batch_max\": %d, ", o->batch_max);
    char text[8192];
    snprintf(text, sizeof(text),
             "{\n"
             "  \"kafka\": {\"bootstrap.servers\": \"%s\", \"group.id\": \"%s\",\n"
             "            \"session.timeout.ms\": \"6000\", \"fetch.wait.max.ms\": \"50\"},\n"
             "  \"redis\": {\"port\": %d, \"prefix\": \"%s\", \"timeout_ms\": 1000},\n"
             "  \"topics\": {\"claims\": \"%s\", \"inpatient\": \"%s\", \"invoicing\": \"%s\",\n"
             "             \"alerts\": \"%s\", \"dead_letter\": \"%s\", \"control\": \"%s\", \"risk\": \"%s\",\n"
             "             \"cases\": \"%s\"},\n"
             "  \"schemas\": {\"avro_ids\": {\"7\": \"%s/schemas/inpatient.avsc\"}},\n"
             "  \"reference\": {\"catalogue\": \"%s/reference/catalogue.json\",\n"
             "                \"blacklists\": \"%s/reference/blacklists.json\"},\n"
             "  \"http\": {\"listen\": \"%s\", \"required\": %s},\n"
             "  \"pipeline\": {%s\"batch_wait_ms\": 10, \"backoff_max_ms\": 1000, \"stats_interval_ms\": 1000}\n"
             "}\n",
             fg_test_bootstrap(), r->group, o && o->redis_port ? o->redis_port : fg_test_redis_port(), r->prefix,
             e->claims, e->inpatient, e->invoicing, r->alerts, r->dlq, e->control, r->risk, r->cases,
             fg_test_source_dir(), fg_test_source_dir(), fg_test_source_dir(), http, http[0] ? "true" : "false",
             batch);
    fg_tp_write(r->cfg, text);
}

void fg_rc_run_touch(const fg_rc_run_t *r) {
    const char *outs[] = {r->alerts, r->dlq, r->risk, r->cases};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) fg_tk_touch(outs[i]);
}

/* ---- input ---- */

typedef struct {
    char *p;
    size_t n, cap;
} fg_rc_buf_t;

static void buf_add(fg_rc_buf_t *b, const char *key, const char *json) {
    size_t need = strlen(key) + strlen(json) + 3;
    if (b->n + need >= b->cap) {
        b->cap = (b->cap + need) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    b->n += (size_t)sprintf(b->p + b->n, "%s|%s\n", key, json);
}

void fg_rc_produce_mixed(const fg_mixed_t *m, const fg_e2e_t *e, size_t from, size_t to) {
    fg_rc_buf_t t[FG_STREAM_COUNT] = {{0}};
    for (size_t i = from; i < to && i < m->n; i++) {
        const fg_event_t *ev = &m->v[i];
        char *json = fg_codec_encode_json(ev);
        cr_assert(json && !strchr(json, '\n'), "event %s: no one-line JSON", ev->event_id);
        buf_add(&t[ev->stream], ev->stream == FG_STREAM_INVOICING ? ev->institution_id : ev->patient_id, json);
        free(json);
    }
    const char *topic[FG_STREAM_COUNT] = {e->claims, e->inpatient, e->invoicing};
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        if (t[s].n) fg_tk_produce_lines(topic[s], t[s].p);
        free(t[s].p);
    }
}

/* ---- progress ---- */

void fg_rc_progress_open(fg_rc_progress_t *p, const fg_e2e_t *e, const char *group) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", fg_test_bootstrap(), err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", group, err, sizeof(err));
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err)); /* broker outages are expected here */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    cr_assert(rk, "kafka client: %s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(32);
    const char *topics[3] = {e->claims, e->inpatient, e->invoicing};
    for (int i = 0; i < 3; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topics[i], NULL);
        const rd_kafka_metadata_t *md = NULL;
        cr_assert_eq(rd_kafka_metadata(rk, 0, t, &md, 5000), 0, "metadata for %s", topics[i]);
        int np = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        for (int k = 0; k < np; k++) rd_kafka_topic_partition_list_add(parts, topics[i], k);
    }
    p->rk = rk;
    p->parts = parts;
    p->partitions = parts->cnt;
}

long long fg_rc_progress_committed(fg_rc_progress_t *p, int timeout_ms) {
    rd_kafka_topic_partition_list_t *l = p->parts;
    for (int i = 0; i < l->cnt; i++) l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (rd_kafka_committed(p->rk, l, timeout_ms)) return -1;
    long long sum = 0;
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].err) return -1;
        if (l->elems[i].offset > 0) sum += l->elems[i].offset;
    }
    return sum;
}

long long fg_rc_progress_end(fg_rc_progress_t *p) {
    rd_kafka_topic_partition_list_t *l = p->parts;
    long long sum = 0;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(p->rk, l->elems[i].topic, l->elems[i].partition, &lo, &hi, 5000))
            return -1;
        sum += hi;
    }
    return sum;
}

void fg_rc_progress_close(fg_rc_progress_t *p) {
    if (p->parts) rd_kafka_topic_partition_list_destroy(p->parts);
    if (p->rk) rd_kafka_destroy(p->rk);
    memset(p, 0, sizeof(*p));
}

/* ---- alerts ---- */

static int cmp_msg(const void *a, const void *b) {
    const fg_tmsg_t *x = a, *y = b;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static fg_rc_alert_t *alerts_find(const fg_rc_alerts_t *s, const char *id) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id)) return &s->v[i];
    return NULL;
}

void fg_rc_alerts_read(const char *topic, fg_rc_alerts_t *out) {
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
        fg_rc_alert_t *r = alerts_find(out, id);
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
        free(r->last);
        r->last = canon;
        r->messages++;
        out->messages++;
        json_decref(j);
    }
    fg_tk_free(&a);
}

size_t fg_rc_alerts_diff(const fg_rc_alerts_t *ref, const fg_rc_alerts_t *got, char *why, size_t why_size) {
    size_t n = 0, len = 0;
    if (why_size) why[0] = '\0';
#define FG_RC_SAY(...)                                                                                                 \
    do {                                                                                                               \
        if (len < why_size) len += (size_t)snprintf(why + len, why_size - len, __VA_ARGS__);                           \
    } while (0)
    for (size_t i = 0; i < ref->n; i++) {
        const fg_rc_alert_t *g = alerts_find(got, ref->v[i].id);
        if (!g) {
            n++;
            FG_RC_SAY("\n  missing %s: %s", ref->v[i].id, ref->v[i].last);
        } else if (strcmp(g->last, ref->v[i].last)) {
            n++;
            FG_RC_SAY("\n  %s differs:\n    reference: %s\n    got:       %s", ref->v[i].id, ref->v[i].last, g->last);
        }
    }
    for (size_t i = 0; i < got->n; i++)
        if (!alerts_find(ref, got->v[i].id)) {
            n++;
            FG_RC_SAY("\n  unexpected %s: %s", got->v[i].id, got->v[i].last);
        }
#undef FG_RC_SAY
    return n;
}

void fg_rc_alerts_free(fg_rc_alerts_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].id);
        free(s->v[i].last);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- monitoring ---- */

int fg_rc_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* GET over HTTP/1.0 (the server closes after the response) */
char *fg_rc_http_get(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    cr_assert(buf);
    for (;;) {
        if (len + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            cr_assert(buf);
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    char *body = NULL;
    if (!strncmp(buf, "HTTP/1.", 7) && len > 12 && atoi(buf + 9) == 200 && sep) body = strdup(sep + 4);
    free(buf);
    return body;
}

double fg_rc_metric(const char *body, const char *series) {
    size_t l = strlen(series);
    for (const char *p = body; p && *p;) {
        if (!strncmp(p, series, l) && p[l] == ' ') return strtod(p + l + 1, NULL);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}
