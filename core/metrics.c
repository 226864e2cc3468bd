/*
 * metrics.c - the metrics registry, its Prometheus text exposition, and the
 * fundguard instruments: counters the pipeline bumps per batch, plus the small
 * in-memory picture behind /api/summary (rates, alerts per rule over the last
 * hour, the newest alerts, institutions ranked by risk).
 */
#include "metrics.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define FG_MAX_LABELS 4

typedef struct fg_series {
    char *values[FG_MAX_LABELS];
    double value;       /* counter, gauge */
    uint64_t *buckets;  /* histogram: per-bucket (not cumulative) counts */
    double sum;
    uint64_t count;
} fg_series_t;

struct fg_metric_family {
    fg_metrics_t *reg;
    char *name, *help;
    fg_metric_type_t type;
    char *labels[FG_MAX_LABELS];
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    fg_series_t *series;
    size_t n_series, cap_series;
};

struct fg_metrics {
    pthread_mutex_t mu;
    fg_metric_family_t **fam;
    size_t n_fam, cap_fam;
};

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) abort();
    return q;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) abort();
    return d;
}

/* ---- string builder ---- */

typedef struct {
    char *s;
    size_t n, cap;
} fg_sb_t;

static void sb_grow(fg_sb_t *b, size_t more) {
    if (b->n + more + 1 <= b->cap) return;
    size_t c = b->cap ? b->cap : 1024;
    while (c < b->n + more + 1) c *= 2;
    b->s = xrealloc(b->s, c);
    b->cap = c;
}

static void sb_put(fg_sb_t *b, const char *s, size_t n) {
    sb_grow(b, n);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(fg_sb_t *b, const char *s) { sb_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void sb_printf(fg_sb_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* escapes \ and newline, and " too inside label values */
static void sb_escaped(fg_sb_t *b, const char *s, int quote) {
    for (; *s; s++) {
        if (*s == '\\')
            sb_str(b, "\\\\");
        else if (*s == '\n')
            sb_str(b, "\\n");
        else if (*s == '"' && quote)
            sb_str(b, "\\\"");
        else
            sb_put(b, s, 1);
    }
}

static void sb_number(fg_sb_t *b, double v) {
    if (isnan(v))
        sb_str(b, "NaN");
    else if (isinf(v))
        sb_str(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        sb_printf(b, "%lld", (long long)v);
    else {
        /* the shortest of %.15g and %.17g that reads back as v: 0.4187 rather than 0.41870000000000002 */
        char t[40];
        snprintf(t, sizeof(t), "%.15g", v);
        if (strtod(t, NULL) != v) snprintf(t, sizeof(t), "%.17g", v);
        sb_str(b, t);
    }
}

/* ---- registry ---- */

fg_metrics_t *fg_metrics_create(void) {
    fg_metrics_t *m = calloc(1, sizeof(*m));
    if (!m) abort();
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void series_free(fg_metric_family_t *f, fg_series_t *s) {
    for (size_t i = 0; i < f->n_labels; i++) free(s->values[i]);
    free(s->buckets);
}

void fg_metrics_destroy(fg_metrics_t *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_fam; i++) {
        fg_metric_family_t *f = m->fam[i];
        for (size_t s = 0; s < f->n_series; s++) series_free(f, &f->series[s]);
        for (size_t l = 0; l < f->n_labels; l++) free(f->labels[l]);
        free(f->series);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m->fam);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* caller holds the lock; creates the series if absent */
static fg_series_t *series_get(fg_metric_family_t *f, const char *const *values, int create) {
    for (size_t i = 0; i < f->n_series; i++) {
        size_t l = 0;
        while (l < f->n_labels && !strcmp(f->series[i].values[l], values[l] ? values[l] : "")) l++;
        if (l == f->n_labels) return &f->series[i];
    }
    if (!create) return NULL;
    if (f->n_series == f->cap_series) {
        f->cap_series = f->cap_series ? f->cap_series * 2 : 8;
        f->series = xrealloc(f->series, f->cap_series * sizeof(*f->series));
    }
    fg_series_t *s = &f->series[f->n_series++];
    memset(s, 0, sizeof(*s));
    for (size_t l = 0; l < f->n_labels; l++) s->values[l] = xstrdup(values[l]);
    if (f->type == FG_METRIC_HISTOGRAM) {
        s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets));
        if (!s->buckets) abort();
    }
    return s;
}

fg_metric_family_t *fg_metrics_declare(fg_metrics_t *m, const char *name, const char *help, fg_metric_type_t type,
                                       const char *labels, const double *buckets, size_t n_buckets) {
    if (!m || !name || !*name) return NULL;
    fg_metric_family_t *f = calloc(1, sizeof(*f));
    if (!f) abort();
    f->reg = m;
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->type = type;
    if (labels && *labels) {
        char *copy = xstrdup(labels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (f->n_labels == FG_MAX_LABELS) break;
            f->labels[f->n_labels++] = xstrdup(t);
        }
        free(copy);
    }
    if (type == FG_METRIC_HISTOGRAM && n_buckets) {
        f->bounds = xrealloc(NULL, n_buckets * sizeof(*f->bounds));
        memcpy(f->bounds, buckets, n_buckets * sizeof(*f->bounds));
        f->n_bounds = n_buckets;
    }
    pthread_mutex_lock(&m->mu);
    if (!f->n_labels) series_get(f, NULL, 1); /* exposed as 0 before the first event */
    if (m->n_fam == m->cap_fam) {
        m->cap_fam = m->cap_fam ? m->cap_fam * 2 : 16;
        m->fam = xrealloc(m->fam, m->cap_fam * sizeof(*m->fam));
    }
    m->fam[m->n_fam++] = f;
    pthread_mutex_unlock(&m->mu);
    return f;
}

void fg_metric_add(fg_metric_family_t *f, const char *const *values, double delta) {
    if (!f || f->type == FG_METRIC_HISTOGRAM) return;
    pthread_mutex_lock(&f->reg->mu);
    series_get(f, values, 1)->value += delta;
    pthread_mutex_unlock(&f->reg->mu);
}

void fg_metric_set(fg_metric_family_t *f, const char *const *values, double v) {
    if (!f || f->type == FG_METRIC_HISTOGRAM) return;
    pthread_mutex_lock(&f->reg->mu);
    series_get(f, values, 1)->value = v;
    pthread_mutex_unlock(&f->reg->mu);
}

void fg_metric_observe(fg_metric_family_t *f, const char *const *values, double v) {
    if (!f || f->type != FG_METRIC_HISTOGRAM) return;
    pthread_mutex_lock(&f->reg->mu);
    fg_series_t *s = series_get(f, values, 1);
    size_t b = 0;
    while (b < f->n_bounds && v > f->bounds[b]) b++; /* le: upper bounds are inclusive */
    s->buckets[b]++;
    s->sum += v;
    s->count++;
    pthread_mutex_unlock(&f->reg->mu);
}

static void reset_locked(fg_metric_family_t *f) {
    for (size_t s = 0; s < f->n_series; s++) series_free(f, &f->series[s]);
    f->n_series = 0;
    if (!f->n_labels) series_get(f, NULL, 1);
}

void fg_metric_reset(fg_metric_family_t *f) {
    if (!f) return;
    pthread_mutex_lock(&f->reg->mu);
    reset_locked(f);
    pthread_mutex_unlock(&f->reg->mu);
}

double fg_metric_get(fg_metric_family_t *f, const char *const *values) {
    if (!f) return 0;
    pthread_mutex_lock(&f->reg->mu);
    fg_series_t *s = series_get(f, values, 0);
    double v = !s ? 0 : f->type == FG_METRIC_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&f->reg->mu);
    return v;
}

/* name{a="x",b="y"[,le="..."]} */
static void render_labels(fg_sb_t *b, const fg_metric_family_t *f, const fg_series_t *s, const char *le) {
    if (!f->n_labels && !le) return;
    sb_str(b, "{");
    for (size_t l = 0; l < f->n_labels; l++) {
        sb_printf(b, "%s%s=\"", l ? "," : "", f->labels[l]);
        sb_escaped(b, s->values[l], 1);
        sb_str(b, "\"");
    }
    if (le) sb_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    sb_str(b, "}");
}

char *fg_metrics_render(fg_metrics_t *m) {
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fg_sb_t b = {0};
    sb_grow(&b, 4096);
    b.s[0] = '\0';
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_fam; i++) {
        const fg_metric_family_t *f = m->fam[i];
        sb_printf(&b, "# HELP %s ", f->name);
        sb_escaped(&b, f->help, 0);
        sb_printf(&b, "\n# TYPE %s %s\n", f->name, types[f->type]);
        for (size_t si = 0; si < f->n_series; si++) {
            const fg_series_t *s = &f->series[si];
            if (f->type != FG_METRIC_HISTOGRAM) {
                sb_str(&b, f->name);
                render_labels(&b, f, s, NULL);
                sb_str(&b, " ");
                sb_number(&b, s->value);
                sb_str(&b, "\n");
                continue;
            }
            uint64_t cum = 0;
            for (size_t k = 0; k <= f->n_bounds; k++) {
                char le[40];
                cum += s->buckets[k];
                if (k < f->n_bounds)
                    snprintf(le, sizeof(le), "%g", f->bounds[k]);
                else
                    snprintf(le, sizeof(le), "+Inf");
                sb_printf(&b, "%s_bucket", f->name);
                render_labels(&b, f, s, le);
                sb_printf(&b, " %llu\n", (unsigned long long)cum);
            }
            sb_printf(&b, "%s_sum", f->name);
            render_labels(&b, f, s, NULL);
            sb_str(&b, " ");
            sb_number(&b, s->sum);
            sb_printf(&b, "\n%s_count", f->name);
            render_labels(&b, f, s, NULL);
            sb_printf(&b, " %llu\n", (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return b.s;
}

/* ---- fundguard instruments ---- */

#define FG_MON_STREAMS 8
#define FG_MON_RECENT 50
#define FG_MON_TOP 20
#define FG_MON_MAX_INST 4096 /* institutions kept for the ranking; the lowest scores make room */
#define FG_MON_RATE_SAMPLES 32
#define FG_MON_RATE_WINDOW_MS 10000
#define FG_MON_RULES 64

typedef struct {
    char *rule_id, *name_zh;
    int64_t minute[60]; /* wall-clock minute number of each slot */
    uint32_t count[60];
} fg_mon_rule_t;

typedef struct {
    char institution_id[128];
    double score;
    char *json;
} fg_mon_inst_t;

typedef struct {
    int64_t mono_ms;
    uint64_t consumed[FG_MON_STREAMS];
} fg_mon_sample_t;

static struct {
    pthread_once_t once;
    pthread_mutex_t mu; /* the summary data below; taken before the registry's, never inside it */
    fg_metrics_t *reg;
    fg_metric_family_t *consumed, *lag, *dead, *alerts, *batch, *redis_rt, *redis_err, *paused, *pauses, *late, *conflicts,
        *ruleset, *control, *commits, *ready;
    atomic_int kafka_ok, redis_ok, assigned;
    int paused_now;
    char ruleset_version[256];

    int n_streams;
    char stream[FG_MON_STREAMS][64], topic[FG_MON_STREAMS][256];
    uint64_t n_consumed[FG_MON_STREAMS];
    int64_t lag_sum[FG_MON_STREAMS];
    fg_mon_sample_t samples[FG_MON_RATE_SAMPLES];
    size_t n_samples, next_sample;

    fg_mon_rule_t rules[FG_MON_RULES];
    size_t n_rules;
    char *recent[FG_MON_RECENT]; /* ring, newest at recent_head - 1 */
    size_t recent_head, n_recent;
    fg_mon_inst_t *inst;
    size_t n_inst, cap_inst;
    uint64_t dead_lettered, late_events;
} g_mon = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static void mon_init(void) {
    static const double batch_b[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    static const double redis_b[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    fg_metrics_t *m = g_mon.reg = fg_metrics_create();
    g_mon.consumed = fg_metrics_declare(m, "fundguard_events_consumed_total",
                                        "Events decoded from an input stream and processed.", FG_METRIC_COUNTER,
                                        "stream", NULL, 0);
    g_mon.lag = fg_metrics_declare(m, "fundguard_consumer_lag",
                                   "Messages between the consumer position and the high watermark, per assigned "
                                   "partition.",
                                   FG_METRIC_GAUGE, "topic,partition", NULL, 0);
    g_mon.dead = fg_metrics_declare(m, "fundguard_dead_letters_total",
                                    "Events sent to the dead-letter topic, by reason class.", FG_METRIC_COUNTER,
                                    "reason", NULL, 0);
    g_mon.alerts = fg_metrics_declare(m, "fundguard_alerts_total", "Alerts published and acknowledged by Kafka.",
                                      FG_METRIC_COUNTER, "rule,severity", NULL, 0);
    g_mon.batch = fg_metrics_declare(m, "fundguard_batch_seconds",
                                     "Time to process one poll batch: decode, detect, publish, commit.",
                                     FG_METRIC_HISTOGRAM, NULL, batch_b, FG_ARRAY_SIZE(batch_b));
    g_mon.redis_rt = fg_metrics_declare(m, "fundguard_redis_roundtrip_seconds",
                                        "Duration of one pipelined exchange with Redis.", FG_METRIC_HISTOGRAM, NULL,
                                        redis_b, FG_ARRAY_SIZE(redis_b));
    g_mon.redis_err = fg_metrics_declare(m, "fundguard_redis_errors_total",
                                         "Failed exchanges with Redis (connection lost, error reply).",
                                         FG_METRIC_COUNTER, NULL, NULL, 0);
    g_mon.paused = fg_metrics_declare(m, "fundguard_state_store_paused",
                                      "1 while the pipeline holds a batch because Redis is unavailable.",
                                      FG_METRIC_GAUGE, NULL, NULL, 0);
    g_mon.pauses = fg_metrics_declare(m, "fundguard_state_store_pauses_total",
                                      "Times the pipeline paused for a state store outage.", FG_METRIC_COUNTER, NULL,
                                      NULL, 0);
    g_mon.conflicts = fg_metrics_declare(m, "fundguard_state_conflicts_total",
                                         "Batches redone because another replica changed a key they read "
                                         "(Redis WATCH).", FG_METRIC_COUNTER, NULL, NULL, 0);
    g_mon.late = fg_metrics_declare(m, "fundguard_late_events_total",
                                    "Events later than the allowed lateness behind their key's newest event.",
                                    FG_METRIC_COUNTER, NULL, NULL, 0);
    g_mon.ruleset = fg_metrics_declare(m, "fundguard_ruleset_info", "The rule-set version in force (value 1).",
                                       FG_METRIC_GAUGE, "version", NULL, 0);
    g_mon.control = fg_metrics_declare(m, "fundguard_control_messages_total",
                                       "Control-topic messages applied.", FG_METRIC_COUNTER, NULL, NULL, 0);
    g_mon.commits = fg_metrics_declare(m, "fundguard_commits_total", "Offset commits of processed batches.",
                                       FG_METRIC_COUNTER, NULL, NULL, 0);
    g_mon.ready = fg_metrics_declare(m, "fundguard_ready",
                                     "1 when connected to Kafka and Redis with a partition assignment (/readyz).",
                                     FG_METRIC_GAUGE, NULL, NULL, 0);
    atomic_store(&g_mon.redis_ok, 1);
}

fg_metrics_t *fg_mon_registry(void) {
    pthread_once(&g_mon.once, mon_init);
    return g_mon.reg;
}

#define MON() (void)fg_mon_registry()

void fg_mon_stream(int idx, const char *name, const char *topic) {
    MON();
    if (idx < 0 || idx >= FG_MON_STREAMS) return;
    pthread_mutex_lock(&g_mon.mu);
    snprintf(g_mon.stream[idx], sizeof(g_mon.stream[idx]), "%s", name);
    snprintf(g_mon.topic[idx], sizeof(g_mon.topic[idx]), "%s", topic);
    if (idx >= g_mon.n_streams) g_mon.n_streams = idx + 1;
    pthread_mutex_unlock(&g_mon.mu);
    fg_metric_add(g_mon.consumed, (const char *[]){name}, 0); /* exposed as 0 from the start */
}

void fg_mon_consumed(int idx, uint64_t n) {
    MON();
    if (idx < 0 || idx >= FG_MON_STREAMS || !n) return;
    pthread_mutex_lock(&g_mon.mu);
    g_mon.n_consumed[idx] += n;
    char name[64];
    snprintf(name, sizeof(name), "%s", g_mon.stream[idx]);
    pthread_mutex_unlock(&g_mon.mu);
    fg_metric_add(g_mon.consumed, (const char *[]){name}, (double)n);
}

const char *fg_mon_reason_class(const char *reason) {
    if (!reason) return "validation";
    if (strstr(reason, "is not an input stream")) return "unknown_topic";
    /* the codecs prefix "<stream>: "; the stream names are fixed words */
    const char *r = reason;
    const char *colon = strstr(r, ": ");
    if (colon && colon - r < 16 && !memchr(r, ' ', (size_t)(colon - r))) r = colon + 2;
    if (!strncmp(r, "empty message", 13)) return "empty";
    if (!strncmp(r, "invalid JSON", 12)) return "invalid_json";
    if (!strncmp(r, "JSON message is not an object", 29)) return "not_an_object";
    if (!strncmp(r, "neither JSON nor Confluent Avro", 31)) return "unknown_format";
    if (!strncmp(r, "avro:", 5)) return "avro";
    if (!strncmp(r, "missing required field", 22)) return "missing_field";
    if (!strncmp(r, "field \"", 7)) {
        if (strstr(r, "\": expected ")) return "wrong_type";
        return "invalid_value";
    }
    return "validation";
}

void fg_mon_dead_letter(const char *reason) {
    MON();
    pthread_mutex_lock(&g_mon.mu);
    g_mon.dead_lettered++;
    pthread_mutex_unlock(&g_mon.mu);
    fg_metric_add(g_mon.dead, (const char *[]){fg_mon_reason_class(reason)}, 1);
}

void fg_mon_alert_published(const char *rule, const char *severity, const char *rule_name_zh,
                            int64_t detection_ms, const char *json) {
    MON();
    fg_metric_add(g_mon.alerts, (const char *[]){rule, severity}, 1);
    pthread_mutex_lock(&g_mon.mu);
    fg_mon_rule_t *r = NULL;
    for (size_t i = 0; i < g_mon.n_rules && !r; i++)
        if (!strcmp(g_mon.rules[i].rule_id, rule ? rule : "")) r = &g_mon.rules[i];
    if (!r && g_mon.n_rules < FG_MON_RULES) {
        r = &g_mon.rules[g_mon.n_rules++];
        r->rule_id = xstrdup(rule);
        r->name_zh = xstrdup(rule_name_zh);
    }
    if (r) {
        int64_t minute = detection_ms / 60000;
        size_t slot = (size_t)(minute % 60);
        if (r->minute[slot] != minute) {
            r->minute[slot] = minute;
            r->count[slot] = 0;
        }
        r->count[slot]++;
    }
    if (json) {
        free(g_mon.recent[g_mon.recent_head]);
        g_mon.recent[g_mon.recent_head] = xstrdup(json);
        g_mon.recent_head = (g_mon.recent_head + 1) % FG_MON_RECENT;
        if (g_mon.n_recent < FG_MON_RECENT) g_mon.n_recent++;
    }
    pthread_mutex_unlock(&g_mon.mu);
}

void fg_mon_risk_published(const char *institution_id, const char *json) {
    MON();
    if (!institution_id || !json) return;
    json_t *j = json_loads(json, 0, NULL);
    double score = j ? json_number_value(json_object_get(j, "score")) : 0;
    json_decref(j);
    pthread_mutex_lock(&g_mon.mu);
    fg_mon_inst_t *it = NULL;
    for (size_t i = 0; i < g_mon.n_inst && !it; i++)
        if (!strcmp(g_mon.inst[i].institution_id, institution_id)) it = &g_mon.inst[i];
    if (!it && g_mon.n_inst == FG_MON_MAX_INST) {
        size_t low = 0;
        for (size_t i = 1; i < g_mon.n_inst; i++)
            if (g_mon.inst[i].score < g_mon.inst[low].score) low = i;
        if (g_mon.inst[low].score <= score) {
            it = &g_mon.inst[low];
            free(it->json);
            it->json = NULL;
        }
    } else if (!it) {
        if (g_mon.n_inst == g_mon.cap_inst) {
            g_mon.cap_inst = g_mon.cap_inst ? g_mon.cap_inst * 2 : 64;
            g_mon.inst = xrealloc(g_mon.inst, g_mon.cap_inst * sizeof(*g_mon.inst));
        }
        it = &g_mon.inst[g_mon.n_inst++];
        it->json = NULL;
    }
    if (it) {
        snprintf(it->institution_id, sizeof(it->institution_id), "%s", institution_id);
        free(it->json);
        it->json = xstrdup(json);
        it->score = score;
    }
    pthread_mutex_unlock(&g_mon.mu);
}

void fg_mon_batch_seconds(double s) {
    MON();
    fg_metric_observe(g_mon.batch, NULL, s);
}

void fg_mon_redis_exchange(void *ud, double seconds, int failed) {
    (void)ud;
    MON();
    if (seconds >= 0) fg_metric_observe(g_mon.redis_rt, NULL, seconds);
    if (failed > 0) fg_metric_add(g_mon.redis_err, NULL, failed);
    atomic_store(&g_mon.redis_ok, failed > 0 ? 0 : 1);
}

void fg_mon_paused(int paused) {
    MON();
    pthread_mutex_lock(&g_mon.mu);
    int was = g_mon.paused_now;
    g_mon.paused_now = paused ? 1 : 0;
    pthread_mutex_unlock(&g_mon.mu);
    if (paused && !was) fg_metric_add(g_mon.pauses, NULL, 1);
    fg_metric_set(g_mon.paused, NULL, paused ? 1 : 0);
}

void fg_mon_state_conflict(void) {
    MON();
    fg_metric_add(g_mon.conflicts, NULL, 1);
}

void fg_mon_late_events(uint64_t n) {
    MON();
    if (!n) return;
    pthread_mutex_lock(&g_mon.mu);
    g_mon.late_events += n;
    pthread_mutex_unlock(&g_mon.mu);
    fg_metric_add(g_mon.late, NULL, (double)n);
}

void fg_mon_control_message(void) {
    MON();
    fg_metric_add(g_mon.control, NULL, 1);
}

void fg_mon_commit(void) {
    MON();
    fg_metric_add(g_mon.commits, NULL, 1);
}

void fg_mon_ruleset(const char *version) {
    MON();
    if (!version) version = "";
    pthread_mutex_lock(&g_mon.mu);
    int same = !strcmp(g_mon.ruleset_version, version) && g_mon.ruleset_version[0];
    if (!same) snprintf(g_mon.ruleset_version, sizeof(g_mon.ruleset_version), "%s", version);
    pthread_mutex_unlock(&g_mon.mu);
    if (same) return;
    pthread_mutex_lock(&g_mon.reg->mu);
    reset_locked(g_mon.ruleset);
    series_get(g_mon.ruleset, (const char *[]){version}, 1)->value = 1;
    pthread_mutex_unlock(&g_mon.reg->mu);
}

void fg_mon_lag(const char *const *topics, const int32_t *partitions, const int64_t *lags, size_t n) {
    MON();
    int64_t sums[FG_MON_STREAMS] = {0};
    pthread_mutex_lock(&g_mon.mu);
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < g_mon.n_streams; s++)
            if (!strcmp(g_mon.topic[s], topics[i])) sums[s] += lags[i];
    memcpy(g_mon.lag_sum, sums, sizeof(sums));
    pthread_mutex_unlock(&g_mon.mu);
    /* one lock for the whole replacement: a scrape never sees a partial set */
    pthread_mutex_lock(&g_mon.reg->mu);
    reset_locked(g_mon.lag);
    for (size_t i = 0; i < n; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)partitions[i]);
        series_get(g_mon.lag, (const char *[]){topics[i], part}, 1)->value = (double)lags[i];
    }
    pthread_mutex_unlock(&g_mon.reg->mu);
}

void fg_mon_tick(int64_t mono_ms) {
    MON();
    pthread_mutex_lock(&g_mon.mu);
    fg_mon_sample_t *s = &g_mon.samples[g_mon.next_sample];
    s->mono_ms = mono_ms;
    memcpy(s->consumed, g_mon.n_consumed, sizeof(s->consumed));
    g_mon.next_sample = (g_mon.next_sample + 1) % FG_MON_RATE_SAMPLES;
    if (g_mon.n_samples < FG_MON_RATE_SAMPLES) g_mon.n_samples++;
    pthread_mutex_unlock(&g_mon.mu);
}

void fg_mon_set_kafka(int ok) {
    MON();
    atomic_store(&g_mon.kafka_ok, ok ? 1 : 0);
}
void fg_mon_set_redis(int ok) {
    MON();
    atomic_store(&g_mon.redis_ok, ok ? 1 : 0);
}
void fg_mon_set_assigned(int ok) {
    MON();
    atomic_store(&g_mon.assigned, ok ? 1 : 0);
}

int fg_mon_ready(char *why, size_t why_size) {
    MON();
    const char *r = !atomic_load(&g_mon.kafka_ok)   ? "kafka not connected"
                    : !atomic_load(&g_mon.redis_ok) ? "redis did not answer the last exchange"
                    : !atomic_load(&g_mon.assigned) ? "no partition assignment received yet"
                                                    : NULL;
    if (why && why_size) snprintf(why, why_size, "%s", r ? r : "ready");
    return r == NULL;
}

char *fg_mon_render(void) {
    MON();
    fg_metric_set(g_mon.ready, NULL, fg_mon_ready(NULL, 0));
    return fg_metrics_render(g_mon.reg);
}

static int inst_cmp(const void *a, const void *b) {
    const fg_mon_inst_t *x = *(const fg_mon_inst_t *const *)a, *y = *(const fg_mon_inst_t *const *)b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return strcmp(x->institution_id, y->institution_id);
}

/* parsed JSON, or the text as a string if it somehow is not JSON */
static json_t *json_or_string(const char *s) {
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(s);
}

char *fg_mon_summary_json(int64_t now_ms, int64_t mono_ms) {
    MON();
    int ready = fg_mon_ready(NULL, 0);
    json_t *o = json_object();
    pthread_mutex_lock(&g_mon.mu);
    json_object_set_new(o, "now", json_integer(now_ms));
    json_object_set_new(o, "ruleset_version", json_string(g_mon.ruleset_version));
    json_object_set_new(o, "ready", json_boolean(ready));

    /* rate over the last ~10 s: against the newest sample at least that old, else the oldest */
    const fg_mon_sample_t *base = NULL;
    for (size_t k = 0; k < g_mon.n_samples; k++) {
        const fg_mon_sample_t *s = &g_mon.samples[(g_mon.next_sample + FG_MON_RATE_SAMPLES - 1 - k) %
                                                  FG_MON_RATE_SAMPLES];
        base = s;
        if (mono_ms - s->mono_ms >= FG_MON_RATE_WINDOW_MS) break;
    }
    json_t *streams = json_array();
    for (int s = 0; s < g_mon.n_streams; s++) {
        double rate = 0;
        if (base && mono_ms > base->mono_ms)
            rate = (double)(g_mon.n_consumed[s] - base->consumed[s]) * 1000.0 / (double)(mono_ms - base->mono_ms);
        json_array_append_new(streams, json_pack("{s:s, s:s, s:I, s:f, s:I}", "stream", g_mon.stream[s], "topic",
                                                 g_mon.topic[s], "consumed", (json_int_t)g_mon.n_consumed[s],
                                                 "rate_per_s", rate, "lag", (json_int_t)g_mon.lag_sum[s]));
    }
    json_object_set_new(o, "streams", streams);

    json_t *by_rule = json_array();
    int64_t now_min = now_ms / 60000;
    for (size_t i = 0; i < g_mon.n_rules; i++) {
        const fg_mon_rule_t *r = &g_mon.rules[i];
        uint64_t n = 0;
        for (int k = 0; k < 60; k++)
            if (r->minute[k] > now_min - 60 && r->minute[k] <= now_min) n += r->count[k];
        if (n)
            json_array_append_new(by_rule, json_pack("{s:s, s:s, s:I}", "rule_id", r->rule_id, "rule_name_zh",
                                                     r->name_zh, "count", (json_int_t)n));
    }
    json_object_set_new(o, "alerts_last_hour_by_rule", by_rule);

    json_t *recent = json_array();
    for (size_t k = 0; k < g_mon.n_recent; k++) {
        size_t slot = (g_mon.recent_head + FG_MON_RECENT - 1 - k) % FG_MON_RECENT;
        json_array_append_new(recent, json_or_string(g_mon.recent[slot]));
    }
    json_object_set_new(o, "recent_alerts", recent);

    json_t *inst = json_array();
    if (g_mon.n_inst) {
        const fg_mon_inst_t **v = xrealloc(NULL, g_mon.n_inst * sizeof(*v));
        for (size_t i = 0; i < g_mon.n_inst; i++) v[i] = &g_mon.inst[i];
        qsort(v, g_mon.n_inst, sizeof(*v), inst_cmp);
        for (size_t i = 0; i < g_mon.n_inst && i < FG_MON_TOP; i++)
            json_array_append_new(inst, json_or_string(v[i]->json));
        free(v);
    }
    json_object_set_new(o, "institutions", inst);
    json_object_set_new(o, "dead_lettered", json_integer((json_int_t)g_mon.dead_lettered));
    json_object_set_new(o, "late_events", json_integer((json_int_t)g_mon.late_events));
    pthread_mutex_unlock(&g_mon.mu);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
