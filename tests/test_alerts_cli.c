/*
 * test_alerts_cli.c - `fundguard alerts` against the harness's broker: alerts
 * produced to a private topic, the command run as a process, its filtered,
 * de-duplicated output checked; and, end to end, `fundguard run` routing an
 * alert to its region's topic (alerts.topic_by_region) and publishing its case.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert.h"
#include "alerts/cases.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

#define DAY 86400000LL
#define HOUR 3600000LL

static char g_topic[160];
static char g_a[FG_ALERT_ID_LEN + 1], g_b[FG_ALERT_ID_LEN + 1], g_c[FG_ALERT_ID_LEN + 1];

static void produce_alert(const fg_alert_t *a) {
    char *s = fg_alert_to_json(a, 1);
    fg_tk_produce(g_topic, a->institution_id, s, strlen(s));
    free(s);
}

static fg_alert_t make(const char *rule, const char *pattern, const char *zh, fg_severity_t sev, const char *subject,
                       const char *inst, const char *region, int64_t fen, int64_t t, const char *summary) {
    fg_alert_t a;
    memset(&a, 0, sizeof(a));
    fg_alert_make_id(a.id, rule, pattern, "patient", subject, inst);
    a.rule_id = rule;
    a.pattern = pattern;
    a.rule_name_zh = zh;
    a.rule_name_en = "test rule";
    a.severity = sev;
    a.score = 0.5;
    fg_alert_set(a.subject_type, sizeof(a.subject_type), "patient");
    fg_alert_set(a.subject_id, sizeof(a.subject_id), subject);
    fg_alert_set(a.institution_id, sizeof(a.institution_id), inst);
    fg_alert_set(a.region, sizeof(a.region), region);
    a.amount_at_risk_fen = fen;
    a.event_time = t;
    a.window_start = t - 8 * DAY;
    a.window_end = t;
    a.detection_time = 1800000000000LL;
    a.ruleset_version = "test-v1";
    fg_alert_set(a.summary, sizeof(a.summary), summary);
    return a;
}

/* Three alerts, one of them published twice (the second version has more evidence). */
static void setup_topic(void) {
    snprintf(g_topic, sizeof(g_topic), "%s", fg_test_unique("alerts-cli"));
    fg_alert_t a = make("readmission_burst", "split_stay", "分解住院 / 频繁住院", FG_SEV_HIGH, "P-1001", "H1", "140100",
                        0, FG_T0 + DAY, "re-admitted 3 days after discharge");
    fg_alert_add_event(&a, "e1");
    fg_alert_add_event(&a, "e2");
    fg_alert_add_figure(&a, "days_since_discharge", 3, 15, "<=");
    produce_alert(&a);
    fg_alert_t b = make("blacklist_hit", "institution", "黑名单命中", FG_SEV_CRITICAL, "P-2002", "H2", "140200", 500000,
                        FG_T0 + 2 * DAY, "institution on the blacklist");
    produce_alert(&b);
    fg_alert_t c = make("card_misuse", "shared_card", "冒名使用医保卡", FG_SEV_LOW, "P-3003", "H1", "140100", 1050,
                        FG_T0 + 3 * DAY + 2 * HOUR, "card used at two places");
    produce_alert(&c);
    /* a later version of a: one more event, a new summary */
    fg_alert_add_event(&a, "e3");
    fg_alert_set(a.summary, sizeof(a.summary), "re-admitted 3 days after discharge (3 events)");
    a.detection_time += 1000;
    produce_alert(&a);
    snprintf(g_a, sizeof(g_a), "%s", a.id);
    snprintf(g_b, sizeof(g_b), "%s", b.id);
    snprintf(g_c, sizeof(g_c), "%s", c.id);
}

/* Runs `fundguard alerts <args> -b <bootstrap> --topic g_topic --group <fresh>`; @returns its output (stdout+stderr). */
static char *alerts_cli(int expect_rc, const char *group, const char *a1, const char *a2, const char *a3,
                        const char *a4) {
    const char *args[32];
    int n = 0;
    char log[256], grp[200];
    snprintf(log, sizeof(log), "/tmp/%s.log", fg_test_unique("alerts-cli-out"));
    snprintf(grp, sizeof(grp), "%s", group ? group : fg_test_unique("officer"));
    args[n++] = "alerts";
    const char *extra[] = {a1, a2, a3, a4};
    int i = 0;
    if (a1 && !strcmp(a1, "show")) {
        args[n++] = a1;
        args[n++] = a2;
        i = 2;
    }
    args[n++] = "-b";
    args[n++] = fg_test_bootstrap();
    args[n++] = "--topic";
    args[n++] = g_topic;
    args[n++] = "--group";
    args[n++] = grp;
    /* the embedded broker lets a group's next member in only after the last one's session expired */
    args[n++] = "--set";
    args[n++] = "kafka.session.timeout.ms=6000";
    args[n++] = "--set";
    args[n++] = "kafka.fetch.wait.max.ms=50";
    for (; i < 4; i++)
        if (extra[i]) args[n++] = extra[i];
    args[n] = NULL;
    int rc = fg_tp_run(log, 90, args);
    char *out = fg_tp_read(log);
    cr_assert(out);
    cr_assert_eq(rc, expect_rc, "fundguard alerts exited %d, expected %d; output:\n%s", rc, expect_rc, out);
    remove(log);
    return out;
}

/* the alert lines of the output (stderr may hold client warnings), in order */
static int alert_lines(const char *out, char lines[][1024], int max) {
    int n = 0;
    for (const char *s = out; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if ((strstr(s, " (id ") && (size_t)(strstr(s, " (id ") - s) < len) || (len && *s == '{')) {
            if (n < max) snprintf(lines[n], 1024, "%.*s", (int)len, s);
            n++;
        }
        s += len + (nl ? 1 : 0);
    }
    return n;
}

static int has_line_with(char lines[][1024], int n, const char *needle) {
    for (int i = 0; i < n; i++)
        if (strstr(lines[i], needle)) return 1;
    return 0;
}

Test(alerts_cli, lists_filters_deduplicates_and_shows, .timeout = 300) {
    setup_topic();
    char lines[16][1024];
    char ida[16], idb[16], idc[16];
    snprintf(ida, sizeof(ida), "(id %.8s)", g_a);
    snprintf(idb, sizeof(idb), "(id %.8s)", g_b);
    snprintf(idc, sizeof(idc), "(id %.8s)", g_c);

    /* everything, once per id (the re-published one in its latest version), oldest event first */
    char group[200];
    snprintf(group, sizeof(group), "%s", fg_test_unique("officer"));
    char *out = alerts_cli(0, group, NULL, NULL, NULL, NULL);
    int n = alert_lines(out, lines, 16);
    cr_assert_eq(n, 3, "expected 3 alert lines, got %d:\n%s", n, out);
    char expect[1024];
    snprintf(expect, sizeof(expect),
             "2026-01-02 08:00  HIGH      分解住院 / 频繁住院 (readmission_burst/split_stay)  H1  patient P-1001  "
             "¥0.00  re-admitted 3 days after discharge (3 events) (id %.8s)",
             g_a);
    cr_assert_str_eq(lines[0], expect);
    cr_assert(strstr(lines[1], idb) && strstr(lines[1], "CRITICAL") && strstr(lines[1], "¥5000.00"), "%s", lines[1]);
    cr_assert(strstr(lines[2], idc) && strstr(lines[2], "2026-01-04 10:00") && strstr(lines[2], "¥10.50"), "%s",
              lines[2]);
    free(out);

    /* the officer's group remembers what was read: the next run has nothing new */
    out = alerts_cli(0, group, NULL, NULL, NULL, NULL);
    cr_assert_eq(alert_lines(out, lines, 16), 0, "a second run of the same group listed again:\n%s", out);
    free(out);
    /* unless asked to read everything again */
    out = alerts_cli(0, group, "--from-beginning", NULL, NULL, NULL);
    cr_assert_eq(alert_lines(out, lines, 16), 3, "%s", out);
    free(out);

    out = alerts_cli(0, NULL, "--severity", "high", NULL, NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 2 && has_line_with(lines, n, ida) && has_line_with(lines, n, idb), "severity filter:\n%s", out);
    free(out);

    out = alerts_cli(0, NULL, "--institution", "H1", NULL, NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 2 && has_line_with(lines, n, ida) && has_line_with(lines, n, idc), "institution filter:\n%s", out);
    free(out);

    out = alerts_cli(0, NULL, "--min-yuan", "10.5", NULL, NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 2 && has_line_with(lines, n, idb) && has_line_with(lines, n, idc), "min-yuan 10.5:\n%s", out);
    free(out);
    out = alerts_cli(0, NULL, "--min-yuan", "10.51", NULL, NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && has_line_with(lines, n, idb), "min-yuan 10.51:\n%s", out);
    free(out);

    out = alerts_cli(0, NULL, "--region", "140200", "--rule", "blacklist_hit");
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && has_line_with(lines, n, idb), "region + rule:\n%s", out);
    free(out);
    out = alerts_cli(0, NULL, "--rule", "split_stay", NULL, NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && has_line_with(lines, n, ida), "rule by pattern:\n%s", out);
    free(out);

    /* one day (UTC+8): b happened 2026-01-03 08:00 there */
    out = alerts_cli(0, NULL, "--since", "2026-01-03", "--until", "2026-01-03");
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && has_line_with(lines, n, idb), "time range:\n%s", out);
    free(out);
    out = alerts_cli(0, NULL, "--since", "2026-01-03T00:00:01Z", "--utc", NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && has_line_with(lines, n, idc) && strstr(lines[0], "2026-01-04 02:00"), "since (UTC):\n%s", out);
    free(out);

    /* JSON lines: the alerts as published, latest version */
    out = alerts_cli(0, NULL, "--json", "--severity", "HIGH", NULL);
    n = alert_lines(out, lines, 16);
    cr_assert_eq(n, 2, "%s", out);
    int seen_a = 0;
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *o = json_loads(lines[i], 0, &je);
        cr_assert(o, "not JSON: %s: %s", je.text, lines[i]);
        if (!strcmp(json_string_value(json_object_get(o, "alert_id")), g_a)) {
            seen_a = 1;
            cr_assert_eq(json_array_size(json_object_get(json_object_get(o, "evidence"), "event_ids")), 3);
        }
        json_decref(o);
    }
    cr_assert(seen_a);
    free(out);

    /* show: by an id prefix, every piece of evidence */
    char prefix[12];
    snprintf(prefix, sizeof(prefix), "%.10s", g_a);
    out = alerts_cli(0, NULL, "show", prefix, NULL, NULL);
    cr_assert(strstr(out, g_a), "%s", out);
    cr_assert(strstr(out, "days_since_discharge") && strstr(out, "3 <= 15"), "figures:\n%s", out);
    cr_assert(strstr(out, "Events (3)") && strstr(out, "    e3"), "events:\n%s", out);
    cr_assert(strstr(out, "2 version(s)"), "versions:\n%s", out);
    cr_assert(strstr(out, "test-v1") && strstr(out, "Detected at:"), "%s", out);
    cr_assert(strstr(out, "2025-12-25 08:00:00 .. 2026-01-02 08:00:00 UTC+8"), "window:\n%s", out);
    free(out);
    out = alerts_cli(0, NULL, "show", g_b, "--json", NULL);
    n = alert_lines(out, lines, 16);
    cr_assert(n == 1 && strstr(lines[0], g_b), "%s", out);
    free(out);
    out = alerts_cli(1, NULL, "show", "ffffffffffffffffnotthere", NULL, NULL);
    cr_assert(strstr(out, "no alert"), "%s", out);
    free(out);
    out = alerts_cli(1, NULL, "--severity", "URGENT", NULL, NULL);
    cr_assert(strstr(out, "--severity"), "%s", out);
    free(out);
}

/* split stay of P1 at H1 in region 140100: admitted day 0, discharged day 5, re-admitted day 8 */
static void ip_line(char *buf, size_t n, const char *eid, const char *type, const char *adm, long long day) {
    snprintf(buf, n,
             "P1|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"H1\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P1\",\"admission_id\":\"%s\",\"type\":\"%s\"}\n",
             eid, FG_T0 + day * DAY, adm, type);
}

Test(alerts_cli, region_routing_and_cases_end_to_end, .timeout = 300) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200], region_topic[200], cases_topic[200], extra[512], set_cases[256];
    snprintf(group, sizeof(group), "%s-g", e.base);
    snprintf(region_topic, sizeof(region_topic), "%s-alerts-140100", e.base);
    snprintf(cases_topic, sizeof(cases_topic), "%s-cases", e.base);
    snprintf(set_cases, sizeof(set_cases), "topics.cases=%s", cases_topic);
    snprintf(extra, sizeof(extra), "\"alerts\": {\"topic_by_region\": {\"140100\": \"%s\", \"140200\": \"%s-other\"}}",
             region_topic, e.base);
    fg_e2e_config(&e, group, extra);

    char lines[4096] = "", b[512];
    ip_line(b, sizeof(b), "a1", "ADMIT", "A1", 0);
    strcat(lines, b);
    ip_line(b, sizeof(b), "d1", "DISCHARGE", "A1", 5);
    strcat(lines, b);
    ip_line(b, sizeof(b), "a2", "ADMIT", "A2", 8);
    strcat(lines, b);
    fg_tk_produce_lines(e.inpatient, lines);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.invoicing);
    fg_tk_touch(e.alerts);

    const char *args[] = {"run", "--config", e.cfg, "--set", set_cases, "--idle-exit-ms", "3000", NULL};
    cr_assert_eq(fg_tp_run(e.log, 120, args), 0, "fundguard run failed, see %s", e.log);

    char id[FG_ALERT_ID_LEN + 1];
    fg_alert_make_id(id, "readmission_burst", "split_stay", "patient", "P1", "H1\x1f" "A1>H1\x1f" "A2");
    fg_tmsgs_t routed = fg_tk_read_all(region_topic);
    cr_assert_eq(routed.n, 1, "expected the alert on %s, got %zu (log %s)", region_topic, routed.n, e.log);
    cr_assert(strstr(routed.v[0].value, id), "%s", routed.v[0].value);
    cr_assert_str_eq(routed.v[0].key, "H1");
    fg_tk_free(&routed);
    fg_tmsgs_t plain = fg_tk_read_all(e.alerts);
    cr_assert_eq(plain.n, 0, "a routed alert must not also go to topics.alerts");
    fg_tk_free(&plain);

    /* its case: keyed by case id, institution + 30-day period of the alert's event time (day 8) */
    fg_tmsgs_t cases = fg_tk_read_all(cases_topic);
    cr_assert_eq(cases.n, 1, "expected one case record, got %zu (log %s)", cases.n, e.log);
    long long t = FG_T0 + 8 * DAY, period = 30 * DAY;
    char case_id[FG_ALERT_ID_LEN + 1];
    fg_case_make_id(case_id, "H1", t / period * period);
    cr_assert_str_eq(cases.v[0].key, case_id);
    json_t *c = json_loads(cases.v[0].value, 0, NULL);
    cr_assert(c);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "alert_ids"), 0)), id);
    cr_assert_str_eq(json_string_value(json_object_get(c, "highest_severity")), "HIGH");
    cr_assert_str_eq(json_string_value(json_object_get(c, "region")), "140100");
    json_decref(c);
    fg_tk_free(&cases);

    /* `fundguard alerts --config` reads topics.alerts and every routed topic by default */
    char log[300];
    snprintf(log, sizeof(log), "%s.alerts", e.log);
    const char *cli[] = {"alerts", "--config", e.cfg, "--group", fg_test_unique("officer"), NULL};
    cr_assert_eq(fg_tp_run(log, 90, cli), 0, "fundguard alerts failed, see %s", log);
    char *out = fg_tp_read(log);
    char want[16];
    snprintf(want, sizeof(want), "(id %.8s)", id);
    cr_assert(out && strstr(out, want) && strstr(out, "分解住院"), "routed alert not listed:\n%s", out ? out : "");
    free(out);
    remove(log);
    remove(e.cfg);
}
