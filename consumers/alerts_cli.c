/*
 * alerts_cli.c - `fundguard alerts`: the case officer's view of the alert
 * topic(s). Reads with its own consumer group (never the pipeline's), filters,
 * de-duplicates by alert_id (a later version of an id replaces the earlier
 * one: same id, more complete evidence) and prints one readable line per
 * alert, or JSON lines. `fundguard alerts show ID` prints one alert with all
 * its evidence. Times are shown and parsed in China Standard Time (UTC+8,
 * no daylight saving) unless --utc, because that is the officers' clock.
 */
#include <ctype.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consumers/pipeline.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/settings.h"

#define CST_OFFSET_MS (8 * FG_MS_PER_HOUR)
#define NO_TIME INT64_MIN

static volatile sig_atomic_t g_stop = 0;
static void on_stop(int sig) {
    (void)sig;
    g_stop = 1;
}

static const char *const g_sev[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};

static int sev_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (s && !strcasecmp(s, g_sev[i])) return i;
    return -1;
}

typedef struct {
    const char *region, *institution, *rule;
    int min_sev;
    int64_t min_fen, since, until; /* since inclusive, until exclusive (ms); NO_TIME: open */
} fg_filter_t;

typedef struct {
    char *id;
    json_t *doc;      /* latest version */
    char *content;    /* latest content without detection_time (to tell a new version from a repeat) */
    char topic[256];
    int partition;
    long long offset;
    int versions;     /* distinct contents seen */
    int printed;      /* follow: the latest version was printed */
} fg_entry_t;

typedef struct {
    fg_entry_t **slots; /* open addressing by id */
    size_t cap, n;
    fg_entry_t **order; /* first-seen order */
    size_t n_order, cap_order;
} fg_store_t;

typedef struct {
    rd_kafka_t *rk;
    int from_beginning;
    struct {
        char topic[256];
        int partition, eof;
    } *parts;
    int n_parts, assigned_once;
} fg_reader_t;

typedef struct {
    int json, utc, follow;
    fg_filter_t f;
} fg_view_t;

/* ---- time ---- */

static int64_t zone_ms(const fg_view_t *v) { return v->utc ? 0 : CST_OFFSET_MS; }

static void fmt_time(char *buf, size_t size, int64_t ms, int64_t zone, int seconds) {
    time_t t = (time_t)((ms + zone) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
}

/*
 * "2026-10-11", "2026-10-11 09:00", "2026-10-11T09:00:30", optionally ending in
 * "Z" or "+08:00"/"-0500"; without a zone, in the view's zone. *date_only tells
 * whether only a date was given (--until then means the end of that day).
 */
static int parse_time(const char *s, int64_t zone, int64_t *out, int *date_only) {
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3) return -1;
    const char *p = s + used;
    *date_only = 1;
    if (*p == 'T' || *p == ' ') {
        int u2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &u2) != 2) return -1;
        p += 1 + u2;
        if (*p == ':') {
            int u3 = 0;
            if (sscanf(p + 1, "%2d%n", &sec, &u3) != 1) return -1;
            p += 1 + u3;
        }
        *date_only = 0;
    }
    if (*p == 'Z' && !p[1]) {
        zone = 0;
    } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
        int zh = 0, zm = 0;
        if (sscanf(p + 1, "%2d:%2d", &zh, &zm) != 2 && sscanf(p + 1, "%2d%2d", &zh, &zm) < 1) return -1;
        zone = (*p == '-' ? -1 : 1) * ((int64_t)zh * FG_MS_PER_HOUR + (int64_t)zm * 60000);
    } else if (*p) {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *out = (int64_t)timegm(&tm) * 1000 - zone;
    return 0;
}

/* "12.5" yuan -> 1250 fen, without floating point (money is exact) */
static int parse_yuan(const char *s, int64_t *fen) {
    long long y = 0;
    int used = 0;
    if (sscanf(s, "%lld%n", &y, &used) != 1 || y < 0) return -1;
    int64_t f = (int64_t)y * 100;
    const char *p = s + used;
    if (*p == '.') {
        p++;
        if (isdigit((unsigned char)*p)) f += (*p++ - '0') * 10;
        if (isdigit((unsigned char)*p)) f += (*p++ - '0');
        while (*p == '0') p++;
    }
    if (*p) return -1;
    *fen = f;
    return 0;
}

/* ---- alert documents ---- */

static const char *jstr(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}
static int64_t jint(const json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }
/* summary and late_events sit in "evidence" (schemas/alert.avsc) */
static const json_t *evidence(const json_t *a) { return json_object_get(a, "evidence"); }

static int matches(const fg_filter_t *f, const json_t *a) {
    if (f->region && strcmp(jstr(a, "region"), f->region)) return 0;
    if (f->institution && strcmp(jstr(a, "institution_id"), f->institution)) return 0;
    if (f->rule && strcmp(jstr(a, "rule_id"), f->rule) && strcmp(jstr(a, "pattern"), f->rule)) return 0;
    if (f->min_sev > 0 && sev_parse(jstr(a, "severity")) < f->min_sev) return 0;
    if (f->min_fen > 0 && jint(a, "amount_at_risk_fen") < f->min_fen) return 0;
    int64_t t = jint(a, "event_time");
    if (f->since != NO_TIME && t < f->since) return 0;
    if (f->until != NO_TIME && t >= f->until) return 0;
    return 1;
}

static void print_money(FILE *out, int64_t fen) {
    fprintf(out, "¥%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
}

/* the summary on one line: officers grep and sort these */
static void print_flat(FILE *out, const char *s) {
    for (; *s; s++) fputc(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, out);
}

static void print_line(const fg_view_t *v, const fg_entry_t *e, int updated) {
    const json_t *a = e->doc;
    if (v->json) {
        char *s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (s) puts(s);
        free(s);
        fflush(stdout);
        return;
    }
    char t[32];
    fmt_time(t, sizeof(t), jint(a, "event_time"), zone_ms(v), 0);
    printf("%s  %-8s  %s (%s/%s)  %s  %s %s  ", t, jstr(a, "severity"), jstr(a, "rule_name_zh"), jstr(a, "rule_id"),
           jstr(a, "pattern"), jstr(a, "institution_id"), jstr(a, "subject_type"), jstr(a, "subject_id"));
    print_money(stdout, jint(a, "amount_at_risk_fen"));
    printf("  ");
    print_flat(stdout, jstr(evidence(a), "summary"));
    printf(" (id %.8s)%s\n", e->id, updated ? " [updated]" : "");
    fflush(stdout);
}

static void print_show(const fg_view_t *v, const fg_entry_t *e) {
    const json_t *a = e->doc;
    if (v->json) {
        print_line(v, e, 0);
        return;
    }
    const char *zone = v->utc ? "UTC" : "UTC+8";
    char t1[32], t2[32];
    printf("Alert %s\n", e->id);
    printf("  Rule:           %s — %s\n", jstr(a, "rule_name_zh"), jstr(a, "rule_name_en"));
    printf("                  rule %s, pattern %s\n", jstr(a, "rule_id"), jstr(a, "pattern"));
    printf("  Severity:       %s (score %.3f)\n", jstr(a, "severity"),
           json_number_value(json_object_get(a, "score")));
    printf("  Subject:        %s %s\n", jstr(a, "subject_type"), jstr(a, "subject_id"));
    printf("  Institution:    %s, region %s\n", jstr(a, "institution_id"), jstr(a, "region"));
    printf("  Money at risk:  ");
    print_money(stdout, jint(a, "amount_at_risk_fen"));
    printf(" (%lld fen)\n", (long long)jint(a, "amount_at_risk_fen"));
    fmt_time(t1, sizeof(t1), jint(a, "event_time"), zone_ms(v), 1);
    printf("  Event time:     %s %s\n", t1, zone);
    fmt_time(t1, sizeof(t1), jint(a, "window_start"), zone_ms(v), 1);
    fmt_time(t2, sizeof(t2), jint(a, "window_end"), zone_ms(v), 1);
    printf("  Window:         %s .. %s %s\n", t1, t2, zone);
    printf("  Summary:        ");
    print_flat(stdout, jstr(evidence(a), "summary"));
    printf("\n");
    const json_t *ev = evidence(a);
    const json_t *figs = json_object_get(ev, "figures");
    printf("  Figures (measured vs threshold):\n");
    if (!json_array_size(figs)) printf("    (none)\n");
    for (size_t i = 0; i < json_array_size(figs); i++) {
        const json_t *g = json_array_get(figs, i);
        printf("    %-32s %.10g %s %.10g\n", jstr(g, "name"), json_number_value(json_object_get(g, "value")),
               jstr(g, "op"), json_number_value(json_object_get(g, "threshold")));
    }
    const json_t *ids = json_object_get(ev, "event_ids");
    printf("  Events (%zu):\n", json_array_size(ids));
    for (size_t i = 0; i < json_array_size(ids); i++) printf("    %s\n", json_string_value(json_array_get(ids, i)));
    printf("  Late events:    %lld\n", (long long)jint(evidence(a), "late_events"));
    printf("  Rule set:       %s\n", jstr(a, "ruleset_version"));
    if (json_object_get(a, "detection_time")) {
        fmt_time(t1, sizeof(t1), jint(a, "detection_time"), zone_ms(v), 1);
        printf("  Detected at:    %s %s\n", t1, zone);
    }
    printf("  Version:        %d version(s) of this id seen; shown: the latest, %s[%d]@%lld\n", e->versions,
           e->topic, e->partition, e->offset);
}

/* ---- de-duplication store ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static fg_entry_t **store_slot(fg_store_t *st, const char *id) {
    size_t i = (size_t)(hash_str(id) & (st->cap - 1));
    while (st->slots[i] && strcmp(st->slots[i]->id, id)) i = (i + 1) & (st->cap - 1);
    return &st->slots[i];
}

static void store_grow(fg_store_t *st) {
    fg_entry_t **old = st->slots;
    size_t old_cap = st->cap;
    st->cap = st->cap ? st->cap * 2 : 1024;
    st->slots = calloc(st->cap, sizeof(*st->slots));
    if (!st->slots) abort();
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) *store_slot(st, old[i]->id) = old[i];
    free(old);
}

static void store_free(fg_store_t *st) {
    for (size_t i = 0; i < st->n_order; i++) {
        fg_entry_t *e = st->order[i];
        free(e->id);
        free(e->content);
        json_decref(e->doc);
        free(e);
    }
    free(st->slots);
    free(st->order);
    memset(st, 0, sizeof(*st));
}

/*
 * Adds one message. @returns the entry when it is a new id or new content
 * (*is_new tells which), NULL when it repeats the latest version or is not an alert.
 */
static fg_entry_t *store_add(fg_store_t *st, const rd_kafka_message_t *m, int *is_new) {
    json_t *doc = json_loadb(m->payload, m->len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "alert_id"));
    if (!doc || !json_is_object(doc) || !id || !*id) {
        fprintf(stderr, "fundguard alerts: %s[%d]@%lld is not an alert (no alert_id): skipped\n",
                rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
        json_decref(doc);
        return NULL;
    }
    /* detection_time is wall clock: the same finding re-published later is not a new version */
    json_t *c = json_deep_copy(doc);
    json_object_del(c, "detection_time");
    char *content = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    if (!content) abort();
    if ((st->n + 1) * 2 > st->cap) store_grow(st);
    fg_entry_t **slot = store_slot(st, id);
    fg_entry_t *e = *slot;
    *is_new = !e;
    if (e && !strcmp(e->content, content)) {
        free(content);
        json_decref(doc);
        return NULL;
    }
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) abort();
        e->id = strdup(id);
        *slot = e;
        st->n++;
        if (st->n_order == st->cap_order) {
            st->cap_order = st->cap_order ? st->cap_order * 2 : 256;
            st->order = realloc(st->order, st->cap_order * sizeof(*st->order));
            if (!st->order) abort();
        }
        st->order[st->n_order++] = e;
    }
    json_decref(e->doc);
    free(e->content);
    e->doc = doc;
    e->content = content;
    e->versions++;
    e->printed = 0;
    snprintf(e->topic, sizeof(e->topic), "%s", rd_kafka_topic_name(m->rkt));
    e->partition = (int)m->partition;
    e->offset = (long long)m->offset;
    return e;
}

static int by_event_time(const void *x, const void *y) {
    const fg_entry_t *a = *(fg_entry_t *const *)x, *b = *(fg_entry_t *const *)y;
    int64_t ta = jint(a->doc, "event_time"), tb = jint(b->doc, "event_time");
    if (ta != tb) return ta < tb ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* ---- Kafka ---- */

static void reader_set_parts(fg_reader_t *r, const rd_kafka_topic_partition_list_t *parts, int add) {
    if (!add) {
        r->n_parts = 0;
        return;
    }
    void *v = realloc(r->parts, (size_t)(r->n_parts + parts->cnt) * sizeof(*r->parts));
    if (!v && parts->cnt) abort();
    r->parts = v;
    for (int i = 0; i < parts->cnt; i++) {
        snprintf(r->parts[r->n_parts].topic, sizeof(r->parts[0].topic), "%s", parts->elems[i].topic);
        r->parts[r->n_parts].partition = (int)parts->elems[i].partition;
        r->parts[r->n_parts].eof = 0;
        r->n_parts++;
    }
    r->assigned_once = 1;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    fg_reader_t *r = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (r->from_beginning)
            for (int i = 0; i < parts->cnt; i++) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        reader_set_parts(r, parts, 1);
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        reader_set_parts(r, parts, 0); /* a revocation starts the count over: the next assignment re-reports EOF */
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
}

static void mark_eof(fg_reader_t *r, const rd_kafka_message_t *m, int eof) {
    for (int i = 0; i < r->n_parts; i++)
        if (r->parts[i].partition == m->partition && !strcmp(r->parts[i].topic, rd_kafka_topic_name(m->rkt)))
            r->parts[i].eof = eof;
}

static int all_eof(const fg_reader_t *r) {
    if (!r->n_parts) return 0;
    for (int i = 0; i < r->n_parts; i++)
        if (!r->parts[i].eof) return 0;
    return 1;
}

typedef struct {
    rd_kafka_conf_t *conf;
    char *errstr;
    size_t errstr_size;
    int failed;
} fg_kc_t;

static void kc_set(const char *k, const char *v, void *ud) {
    fg_kc_t *kc = ud;
    /* the officer's view never joins or moves the pipeline's group */
    if (kc->failed || !strcmp(k, "group.id") || !strcmp(k, "group.instance.id")) return;
    char e[512];
    if (rd_kafka_conf_set(kc->conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(kc->errstr, kc->errstr_size, "kafka property \"%s\": %s", k, e);
        kc->failed = 1;
    }
}

static void kc_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    fprintf(stderr, "fundguard alerts: kafka: %s: %s\n", rd_kafka_err2name(err), reason);
    if (rd_kafka_fatal_error(rk, NULL, 0)) g_stop = 2;
}

static rd_kafka_t *open_consumer(const fg_config_t *cf, fg_reader_t *r, const char *group, int commit, int latest,
                                 char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    fg_kc_t kc = {c, errstr, errstr_size, 0};
    kc_set("client.id", "fundguard-alerts", &kc);
    fg_config_kafka_foreach(cf, "consumer", kc_set, &kc);
    kc_set("enable.partition.eof", "true", &kc);
    kc_set("auto.offset.reset", latest ? "latest" : "earliest", &kc);
    kc_set("enable.auto.commit", commit ? "true" : "false", &kc);
    kc_set("enable.auto.offset.store", "true", &kc);
    char e[512];
    if (!kc.failed && rd_kafka_conf_set(c, "group.id", group, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "group.id: %s", e);
        kc.failed = 1;
    }
    if (kc.failed) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_error_cb(c, kc_error);
    rd_kafka_conf_set_opaque(c, r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        snprintf(errstr, errstr_size, "kafka consumer: %s", e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* ---- command ---- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: fundguard alerts [options]            list alerts, one line each\n"
            "       fundguard alerts show ID [options]    one alert with all its evidence (ID or a unique prefix)\n"
            "\n"
            "  --config FILE        JSON configuration (topics, kafka.* client settings), as for `run`\n"
            "  --set KEY=VALUE      override one key\n"
            "  -b, --bootstrap H:P  shortcut for --set kafka.bootstrap.servers=H:P\n"
            "  --topic T            read T (repeatable); default: topics.alerts and every topic of\n"
            "                       alerts.topic_by_region\n"
            "  --group G            consumer group (default fundguard-alerts-<user>); never the pipeline's group.\n"
            "                       A new group starts at the earliest alert; an existing one where it left off\n"
            "  --from-beginning     read everything again even if the group has read it before\n"
            "  --new-only           a new group starts at the end (only alerts published from now on)\n"
            "  --follow             keep waiting for new alerts like tail -f (Ctrl-C stops); without it, stop at\n"
            "                       the end of every partition\n"
            "  --region R           only region (统筹区) R\n"
            "  --institution I      only institution I\n"
            "  --rule ID            only rule ID (rule id or pattern, e.g. readmission_burst or split_stay)\n"
            "  --severity MIN       only MIN and above: LOW < MEDIUM < HIGH < CRITICAL\n"
            "  --min-yuan X         only alerts with at least X yuan of fund money at risk\n"
            "  --since T            only event time >= T; T is 2026-10-11, 2026-10-11 09:00 or 2026-10-11T09:00:00,\n"
            "                       optionally ending in Z or +08:00; otherwise China Standard Time (UTC+8)\n"
            "  --until T            only event time < T; a date alone means up to the end of that day\n"
            "  --json               one JSON object per line (the alert as published)\n"
            "  --utc                show and read times in UTC instead of UTC+8\n"
            "\n"
            "Alerts are de-duplicated by alert_id: a later version of the same id (more complete evidence)\n"
            "replaces the earlier one; without --follow the latest version of each is printed, oldest event first.\n"
            "With --follow, a changed alert is printed again (marked [updated]).\n"
            "Line: event time, severity, rule (中文, rule/pattern), institution, subject, money at risk,\n"
            "summary, (id prefix for `show`).\n"
            "Exit codes: 0 ok, 1 usage/configuration error or alert not found, 4 Kafka error.\n");
}

typedef struct {
    const char *topic[32];
    int n;
} fg_topics_t;

static void topic_add(fg_topics_t *t, const char *name) {
    if (!name || !*name) return;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->topic[i], name)) return;
    if (t->n < (int)FG_ARRAY_SIZE(t->topic)) t->topic[t->n++] = name;
}

static void topic_map_cb(const char *k, const char *v, void *ud) {
    (void)k;
    topic_add(ud, v);
}

/* every partition of every topic from the beginning, without a group (for `show`) */
static rd_kafka_resp_err_t assign_all(rd_kafka_t *rk, fg_reader_t *r, const fg_topics_t *topics) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int t = 0; t < topics->n && !err; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics->topic[t], NULL);
        const rd_kafka_metadata_t *md = NULL;
        err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (!err && md->topic_cnt == 1 && !md->topics[0].err)
            for (int p = 0; p < md->topics[0].partition_cnt; p++)
                rd_kafka_topic_partition_list_add(l, topics->topic[t], md->topics[0].partitions[p].id)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        else if (!err)
            fprintf(stderr, "fundguard alerts: topic %s: %s\n", topics->topic[t], rd_kafka_err2str(md->topics[0].err));
        if (md) rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    if (!err) {
        reader_set_parts(r, l, 1);
        err = rd_kafka_assign(rk, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

int fg_cli_alerts(int argc, char **argv) {
    const char *path = NULL, *group = NULL, *show_id = NULL;
    char **sets = calloc((size_t)argc + 2, sizeof(char *));
    char bootstrap[1100] = "";
    int n_sets = 0, from_beginning = 0, latest = 0;
    fg_view_t v = {.f = {.min_sev = 0, .since = NO_TIME, .until = NO_TIME}};
    const char *since = NULL, *until = NULL, *min_yuan = NULL, *severity = NULL;
    fg_topics_t topics = {.n = 0};
    int rc = FG_EXIT_CONFIG;
    int i = 1;
    if (argc > 1 && !strcmp(argv[1], "show")) {
        if (argc < 3 || argv[2][0] == '-') {
            fprintf(stderr, "fundguard alerts show: which alert? (an id or a unique prefix of one)\n");
            free(sets);
            return FG_EXIT_CONFIG;
        }
        show_id = argv[2];
        i = 3;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && val && ++i)
        if (!show_id && OPT("show")) show_id = val; /* `alerts -b H:P show ID` reads as well as `alerts show ID` */
        else if (OPT("--config")) path = val;
        else if (OPT("--set")) sets[n_sets++] = (char *)val;
        else if (OPT("-b") || OPT("--bootstrap")) snprintf(bootstrap, sizeof(bootstrap), "kafka.bootstrap.servers=%s", val);
        else if (OPT("--topic")) topic_add(&topics, val);
        else if (OPT("--group")) group = val;
        else if (OPT("--region")) v.f.region = val;
        else if (OPT("--institution")) v.f.institution = val;
        else if (OPT("--rule")) v.f.rule = val;
        else if (OPT("--severity")) severity = val;
        else if (OPT("--min-yuan")) min_yuan = val;
        else if (OPT("--since")) since = val;
        else if (OPT("--until")) until = val;
        else if (!strcmp(a, "--from-beginning")) from_beginning = 1;
        else if (!strcmp(a, "--new-only")) latest = 1;
        else if (!strcmp(a, "--follow") || !strcmp(a, "-f")) v.follow = 1;
        else if (!strcmp(a, "--json")) v.json = 1;
        else if (!strcmp(a, "--utc")) v.utc = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(sets);
            return 0;
        } else {
            fprintf(stderr, "fundguard alerts: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            free(sets);
            return FG_EXIT_CONFIG;
        }
#undef OPT
    }
    if (bootstrap[0]) sets[n_sets++] = bootstrap;
    int date_only = 0;
    if (severity && (v.f.min_sev = sev_parse(severity)) < 0) {
        fprintf(stderr, "fundguard alerts: --severity: expected LOW, MEDIUM, HIGH or CRITICAL, got \"%s\"\n", severity);
        free(sets);
        return FG_EXIT_CONFIG;
    }
    if (min_yuan && parse_yuan(min_yuan, &v.f.min_fen)) {
        fprintf(stderr, "fundguard alerts: --min-yuan: expected an amount like 100 or 99.50, got \"%s\"\n", min_yuan);
        free(sets);
        return FG_EXIT_CONFIG;
    }
    if (since && parse_time(since, zone_ms(&v), &v.f.since, &date_only)) {
        fprintf(stderr, "fundguard alerts: --since: expected a date or date and time, got \"%s\"\n", since);
        free(sets);
        return FG_EXIT_CONFIG;
    }
    if (until) {
        if (parse_time(until, zone_ms(&v), &v.f.until, &date_only)) {
            fprintf(stderr, "fundguard alerts: --until: expected a date or date and time, got \"%s\"\n", until);
            free(sets);
            return FG_EXIT_CONFIG;
        }
        if (date_only) v.f.until += FG_MS_PER_DAY;
    }

    char err[1024];
    fg_config_t *cf = fg_settings_load(path, sets, n_sets, err, sizeof(err));
    free(sets);
    if (!cf) {
        fprintf(stderr, "fundguard alerts: configuration error: %s\n", err);
        return FG_EXIT_CONFIG;
    }
    if (!topics.n) {
        topic_add(&topics, fg_config_str(cf, "topics.alerts"));
        fg_config_map_foreach(cf, "alerts.topic_by_region", topic_map_cb, &topics);
    }
    char group_buf[300];
    if (show_id) {
        /* a throwaway group that never commits: looking at one alert must not move the officer's position */
        snprintf(group_buf, sizeof(group_buf), "fundguard-alerts-show-%d-%lld", (int)getpid(), (long long)fg_now_ms());
        group = group_buf;
        from_beginning = 1;
        v.follow = 0;
    } else if (!group) {
        const char *user = getenv("USER");
        struct passwd *pw = user ? NULL : getpwuid(getuid());
        snprintf(group_buf, sizeof(group_buf), "fundguard-alerts-%s", user ? user : pw ? pw->pw_name : "user");
        group = group_buf;
    }

    fg_reader_t r = {.from_beginning = from_beginning};
    rd_kafka_t *rk = open_consumer(cf, &r, group, !show_id, latest, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "fundguard alerts: %s\n", err);
        fg_config_destroy(cf);
        return FG_EXIT_CONFIG;
    }
    rd_kafka_resp_err_t kerr;
    fg_store_t st = {0};
    if (show_id)
        kerr = assign_all(rk, &r, &topics); /* no group join: reading one alert should take a moment, not seconds */
    else {
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(topics.n);
        for (int t = 0; t < topics.n; t++)
            rd_kafka_topic_partition_list_add(subs, topics.topic[t], RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
    }
    if (kerr) {
        fprintf(stderr, "fundguard alerts: %s: %s\n", show_id ? "reading the topics" : "subscribe",
                rd_kafka_err2str(kerr));
        rc = FG_EXIT_KAFKA;
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int caught_up = 0;
    int64_t start_us = fg_mono_us();
    rc = 0;
    while (!g_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                mark_eof(&r, m, 1);
            } else if (m->err) {
                fprintf(stderr, "fundguard alerts: %s\n", rd_kafka_message_errstr(m));
                if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
                    fprintf(stderr, "fundguard alerts: (does the topic exist? see --topic and topics.alerts)\n");
            } else {
                mark_eof(&r, m, 0);
                int is_new = 0;
                fg_entry_t *e = store_add(&st, m, &is_new);
                if (e && caught_up && matches(&v.f, e->doc)) {
                    print_line(&v, e, !is_new);
                    e->printed = 1;
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (!caught_up && all_eof(&r)) {
            caught_up = 1;
            if (show_id) break;
            if (st.n_order) qsort(st.order, st.n_order, sizeof(*st.order), by_event_time);
            for (size_t k = 0; k < st.n_order; k++)
                if (matches(&v.f, st.order[k]->doc)) {
                    print_line(&v, st.order[k], 0);
                    st.order[k]->printed = 1;
                }
            if (!v.follow) break;
        }
        if (!r.assigned_once && !v.follow && fg_mono_us() - start_us > 60LL * 1000000) {
            fprintf(stderr, "fundguard alerts: no partitions assigned within 60 s: is the broker reachable "
                            "(kafka.bootstrap.servers) and do the topics exist?\n");
            rc = FG_EXIT_KAFKA;
            break;
        }
    }
    if (g_stop == 2) rc = FG_EXIT_KAFKA;

    if (show_id && !rc) {
        fg_entry_t *found = NULL;
        int n_found = 0;
        size_t idlen = strlen(show_id);
        for (size_t k = 0; k < st.n_order; k++)
            if (!strncmp(st.order[k]->id, show_id, idlen)) {
                n_found++;
                if (!found || !strcmp(st.order[k]->id, show_id)) found = st.order[k];
            }
        if (!found) {
            fprintf(stderr, "fundguard alerts: no alert %s in", show_id);
            for (int t = 0; t < topics.n; t++) fprintf(stderr, " %s", topics.topic[t]);
            fprintf(stderr, "\n");
            rc = FG_EXIT_CONFIG;
        } else if (n_found > 1 && strcmp(found->id, show_id)) {
            fprintf(stderr, "fundguard alerts: %s matches %d alerts; give more of the id:\n", show_id, n_found);
            for (size_t k = 0; k < st.n_order; k++)
                if (!strncmp(st.order[k]->id, show_id, idlen)) fprintf(stderr, "  %s\n", st.order[k]->id);
            rc = FG_EXIT_CONFIG;
        } else {
            print_show(&v, found);
        }
    }
out:
    /* leaving the group commits what was read (auto-commit), so the next run continues from here */
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    store_free(&st);
    free(r.parts);
    fg_config_destroy(cf);
    return rc;
}
