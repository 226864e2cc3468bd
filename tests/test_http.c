/*
 * test_http.c - the operations endpoint: the exposition format of the metrics
 * registry (escaping, cumulative histogram buckets, +Inf), dead-letter reason
 * classes, and end to end: `fundguard run` with http.listen on a free port, a
 * known split stay produced, then /readyz, /metrics, /api/summary and /healthz
 * read over a plain socket, and a clean SIGTERM exit.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerts/alert.h"
#include "core/metrics.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

/* ---- exposition format ---- */

Test(metrics, exposition_escapes_labels_and_help) {
    fg_metrics_t *m = fg_metrics_create();
    fg_metric_family_t *c = fg_metrics_declare(m, "t_total", "help with \\ and\nnewline", FG_METRIC_COUNTER,
                                               "a,b", NULL, 0);
    fg_metric_add(c, (const char *[]){"x\"y", "back\\slash\nnl"}, 2);
    fg_metric_add(c, (const char *[]){"x\"y", "back\\slash\nnl"}, 1);
    fg_metric_family_t *g = fg_metrics_declare(m, "t_gauge", "a gauge", FG_METRIC_GAUGE, NULL, NULL, 0);
    fg_metric_set(g, NULL, 0.25);
    char *text = fg_metrics_render(m);
    cr_assert(strstr(text, "# HELP t_total help with \\\\ and\\nnewline\n# TYPE t_total counter\n"), "%s", text);
    cr_assert(strstr(text, "t_total{a=\"x\\\"y\",b=\"back\\\\slash\\nnl\"} 3\n"), "%s", text);
    cr_assert(strstr(text, "# TYPE t_gauge gauge\nt_gauge 0.25\n"), "%s", text);
    cr_assert_eq(fg_metric_get(c, (const char *[]){"x\"y", "back\\slash\nnl"}), 3);
    free(text);
    fg_metrics_destroy(m);
}

Test(metrics, histogram_buckets_are_cumulative_with_inf) {
    fg_metrics_t *m = fg_metrics_create();
    static const double b[] = {0.1, 1};
    fg_metric_family_t *h = fg_metrics_declare(m, "t_seconds", "durations", FG_METRIC_HISTOGRAM, NULL, b, 2);
    fg_metric_observe(h, NULL, 0.05);
    fg_metric_observe(h, NULL, 0.1); /* le is inclusive */
    fg_metric_observe(h, NULL, 0.5);
    fg_metric_observe(h, NULL, 5);
    fg_metric_family_t *hl = fg_metrics_declare(m, "t_l_seconds", "labelled", FG_METRIC_HISTOGRAM, "op", b, 2);
    fg_metric_observe(hl, (const char *[]){"get"}, 2);
    char *text = fg_metrics_render(m);
    cr_assert(strstr(text, "# TYPE t_seconds histogram\n"
                           "t_seconds_bucket{le=\"0.1\"} 2\n"
                           "t_seconds_bucket{le=\"1\"} 3\n"
                           "t_seconds_bucket{le=\"+Inf\"} 4\n"
                           "t_seconds_sum 5.65"),
              "%s", text);
    cr_assert(strstr(text, "\nt_seconds_count 4\n"), "%s", text);
    cr_assert(strstr(text, "t_l_seconds_bucket{op=\"get\",le=\"1\"} 0\n"
                           "t_l_seconds_bucket{op=\"get\",le=\"+Inf\"} 1\n"
                           "t_l_seconds_sum{op=\"get\"} 2\n"
                           "t_l_seconds_count{op=\"get\"} 1\n"),
              "%s", text);
    free(text);
    fg_metric_reset(hl);
    text = fg_metrics_render(m);
    cr_assert(strstr(text, "# TYPE t_l_seconds histogram\n") && !strstr(text, "op=\"get\""), "%s", text);
    free(text);
    fg_metrics_destroy(m);
}

Test(metrics, dead_letter_reasons_become_classes_without_their_text) {
    cr_assert_str_eq(fg_mon_reason_class("claims: invalid JSON at line 1 column 3: end of file"), "invalid_json");
    cr_assert_str_eq(fg_mon_reason_class("inpatient: missing required field \"admission_id\""), "missing_field");
    cr_assert_str_eq(fg_mon_reason_class("inpatient: field \"event_time\": expected integer, got string"),
                     "wrong_type");
    cr_assert_str_eq(fg_mon_reason_class("claims: field \"visit_type\": unknown symbol \"P-1003 Zhang\""),
                     "invalid_value");
    cr_assert_str_eq(fg_mon_reason_class("claims: total_fen: negative (-500)"), "validation");
    cr_assert_str_eq(fg_mon_reason_class("inpatient: avro: truncated body"), "avro");
    cr_assert_str_eq(fg_mon_reason_class("claims: empty message"), "empty");
    cr_assert_str_eq(fg_mon_reason_class("claims: neither JSON nor Confluent Avro (first byte 0x01)"),
                     "unknown_format");
    cr_assert_str_eq(fg_mon_reason_class("topic x is not an input stream"), "unknown_topic");
}

/* ---- a minimal HTTP client ---- */

typedef struct {
    int status;
    char *body; /* malloc'd */
} fg_resp_t;

/* GET over HTTP/1.0 (the server closes after the response); status 0 if nothing answered */
static fg_resp_t http_get(int port, const char *path) {
    fg_resp_t r = {0, NULL};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return r;
    }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    cr_assert(write(fd, req, (size_t)n) == n);
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!strncmp(buf, "HTTP/1.", 7) && sep) {
        r.status = atoi(buf + 9);
        r.body = strdup(sep + 4);
    }
    free(buf);
    return r;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void nap(void) {
    struct timespec ts = {0, 200000000L};
    nanosleep(&ts, NULL);
}

static pid_t spawn(const char *log_path, const char *const *args) {
    const char *argv[16];
    int n = 0;
    argv[n++] = fg_test_bin();
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int still_running(pid_t pid) { return waitpid(pid, NULL, WNOHANG) == 0; }

#define DAY 86400000LL
static void ip_line(char *lines, size_t size, const char *eid, const char *type, const char *adm, long long day) {
    size_t used = strlen(lines);
    snprintf(lines + used, size - used,
             "P1|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"H1\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P1\",\"admission_id\":\"%s\",\"type\":\"%s\"}\n",
             eid, FG_T0 + day * DAY, adm, type);
}

Test(http, endpoints_follow_a_live_run, .timeout = 240) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200], extra[128];
    snprintf(group, sizeof(group), "%s-g", e.base);
    int port = free_port();
    snprintf(extra, sizeof(extra), "\"http\": {\"listen\": \"127.0.0.1:%d\", \"required\": true}", port);
    fg_e2e_config(&e, group, extra);

    /* a split stay: discharged on day 5, re-admitted to the same hospital on day 8 */
    char lines[2048] = "";
    ip_line(lines, sizeof(lines), "p1-a1", "ADMIT", "A1", 0);
    ip_line(lines, sizeof(lines), "p1-d1", "DISCHARGE", "A1", 5);
    ip_line(lines, sizeof(lines), "p1-a2", "ADMIT", "A2", 8);
    fg_tk_produce_lines(e.inpatient, lines);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.invoicing);
    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "readmission_burst", "split_stay", "patient", "P1", "H1\x1f" "A1>H1\x1f" "A2");

    const char *args[] = {"run", "--config", e.cfg, NULL};
    pid_t pid = spawn(e.log, args);

    /* ready once Kafka assigned the partitions and Redis answered (bounded by the test timeout) */
    fg_resp_t r = {0};
    for (;;) {
        cr_assert(still_running(pid), "fundguard exited early, see %s", e.log);
        r = http_get(port, "/readyz");
        if (r.status == 200) break;
        if (r.status) cr_assert_eq(r.status, 503, "readyz: %d %s", r.status, r.body);
        if (r.status) cr_assert(r.body && strchr(r.body, '\n') == r.body + strlen(r.body) - 1, "one line");
        free(r.body);
        nap();
    }
    cr_assert_str_eq(r.body, "ready\n");
    free(r.body);

    /* the alert, counted once Kafka acknowledged it; the consumed events and the lag of the partitions */
    char want_lag[256];
    snprintf(want_lag, sizeof(want_lag), "fundguard_consumer_lag{topic=\"%s\",partition=\"", e.inpatient);
    for (;;) {
        cr_assert(still_running(pid), "fundguard exited early, see %s", e.log);
        r = http_get(port, "/metrics");
        cr_assert_eq(r.status, 200);
        if (strstr(r.body, "\nfundguard_alerts_total{rule=\"readmission_burst\",severity=\"HIGH\"} 1\n") &&
            strstr(r.body, "\nfundguard_events_consumed_total{stream=\"inpatient\"} 3\n") &&
            strstr(r.body, "\nfundguard_commits_total 1") && strstr(r.body, want_lag))
            break;
        free(r.body);
        nap();
    }
    static const char *const names[] = {
        "# TYPE fundguard_events_consumed_total counter\n", "# TYPE fundguard_consumer_lag gauge\n",
        "# TYPE fundguard_dead_letters_total counter\n",    "# TYPE fundguard_alerts_total counter\n",
        "# TYPE fundguard_batch_seconds histogram\n",       "# TYPE fundguard_redis_roundtrip_seconds histogram\n",
        "# TYPE fundguard_redis_errors_total counter\n",    "# TYPE fundguard_state_store_paused gauge\n",
        "# TYPE fundguard_state_store_pauses_total counter\n", "# TYPE fundguard_late_events_total counter\n",
        "# TYPE fundguard_ruleset_info gauge\n",            "# TYPE fundguard_control_messages_total counter\n",
        "# TYPE fundguard_commits_total counter\n",         "# TYPE fundguard_ready gauge\n",
        "\nfundguard_ready 1\n",                            "\nfundguard_state_store_paused 0\n",
        "\nfundguard_redis_errors_total 0\n",               "\nfundguard_ruleset_info{version=\"",
        "\nfundguard_events_consumed_total{stream=\"claims\"} 0\n",
        "\nfundguard_batch_seconds_bucket{le=\"+Inf\"} ",   "\nfundguard_redis_roundtrip_seconds_count ",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cr_assert(strstr(r.body, names[i]), "/metrics lacks \"%s\":\n%s", names[i], r.body);
    free(r.body);

    /* the monitoring page's JSON, field by field */
    r = http_get(port, "/api/summary");
    cr_assert_eq(r.status, 200);
    json_error_t je;
    json_t *s = json_loads(r.body, 0, &je);
    cr_assert(s, "summary is not JSON: %s: %s", je.text, r.body);
    cr_assert(json_is_integer(json_object_get(s, "now")) && json_integer_value(json_object_get(s, "now")) > 0);
    cr_assert(json_is_string(json_object_get(s, "ruleset_version")));
    cr_assert(json_is_true(json_object_get(s, "ready")));
    json_t *streams = json_object_get(s, "streams");
    cr_assert_eq(json_array_size(streams), 3, "%s", r.body);
    int saw_inpatient = 0;
    for (size_t i = 0; i < json_array_size(streams); i++) {
        json_t *st = json_array_get(streams, i);
        cr_assert(json_is_string(json_object_get(st, "stream")) && json_is_string(json_object_get(st, "topic")));
        cr_assert(json_is_integer(json_object_get(st, "consumed")));
        cr_assert(json_is_number(json_object_get(st, "rate_per_s")) && json_is_integer(json_object_get(st, "lag")));
        if (!strcmp(json_string_value(json_object_get(st, "stream")), "inpatient")) {
            saw_inpatient = 1;
            cr_assert_str_eq(json_string_value(json_object_get(st, "topic")), e.inpatient);
            cr_assert_eq(json_integer_value(json_object_get(st, "consumed")), 3);
        }
    }
    cr_assert(saw_inpatient);
    json_t *by_rule = json_object_get(s, "alerts_last_hour_by_rule");
    cr_assert_eq(json_array_size(by_rule), 1, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(by_rule, 0), "rule_id")), "readmission_burst");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(by_rule, 0), "rule_name_zh")),
                     "分解住院 / 频繁住院");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(by_rule, 0), "count")), 1);
    json_t *recent = json_object_get(s, "recent_alerts");
    cr_assert_eq(json_array_size(recent), 1, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 0), "alert_id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 0), "severity")), "HIGH");
    json_t *inst = json_object_get(s, "institutions");
    cr_assert_eq(json_array_size(inst), 1, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(inst, 0), "institution_id")), "H1");
    cr_assert(json_is_number(json_object_get(json_array_get(inst, 0), "score")));
    cr_assert_eq(json_integer_value(json_object_get(s, "dead_lettered")), 0);
    cr_assert(json_is_integer(json_object_get(s, "late_events")));
    json_decref(s);
    free(r.body);

    r = http_get(port, "/healthz");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    free(r.body);
    r = http_get(port, "/no-such-page");
    cr_assert_eq(r.status, 404);
    free(r.body);

    /* SIGTERM: finish, commit, leave the group, exit 0 */
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
        if (i > 600) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_assert_fail("fundguard did not stop after SIGTERM (log %s)", e.log);
        }
        nap();
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d, see %s", status, e.log);
    remove(e.cfg);
}
