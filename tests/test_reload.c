/*
 * test_reload.c - changing rules without a restart: a threshold changed
 * through the control topic mid-stream applies from then on, and the alerts
 * after it carry the new rule-set version; a bad control message is refused
 * and changes nothing.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerts/alert.h"
#include "consumers/control.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

static pid_t start_fundguard(const fg_e2e_t *e) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(e->log, "w", stderr);
        (void)f;
        /* idle exit: it stops once everything produced has been processed */
        execl(fg_test_bin(), fg_test_bin(), "run", "--config", e->cfg, "--idle-exit-ms", "5000", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* waits (bounded) until fundguard's log contains needle */
static void wait_log(const fg_e2e_t *e, const char *needle, int count) {
    for (int i = 0; i < 600; i++) {
        char *log = fg_tp_read(e->log);
        int n = 0;
        for (const char *p = log; p && (p = strstr(p, needle)); p++) n++;
        free(log);
        if (n >= count) return;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("fundguard never logged \"%s\" (x%d); see %s", needle, count, e->log);
}

static void produce_split_stay(const fg_e2e_t *e, const char *patient, const char *inst, int gap_days) {
    char lines[2048], b1[512], b2[512], b3[512];
    long long t0 = FG_T0, day = 86400000LL;
    snprintf(b1, sizeof(b1),
             "%s|{\"event_id\":\"%s-a1\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"%s\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"%s\",\"admission_id\":\"S1\",\"type\":\"ADMIT\"}\n",
             patient, patient, t0, inst, patient);
    snprintf(b2, sizeof(b2),
             "%s|{\"event_id\":\"%s-d1\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"%s\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"%s\",\"admission_id\":\"S1\",\"type\":\"DISCHARGE\"}\n",
             patient, patient, t0 + 2 * day, inst, patient);
    snprintf(b3, sizeof(b3),
             "%s|{\"event_id\":\"%s-a2\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"%s\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"%s\",\"admission_id\":\"S2\",\"type\":\"ADMIT\"}\n",
             patient, patient, t0 + (2 + gap_days) * day, inst, patient);
    snprintf(lines, sizeof(lines), "%s%s%s", b1, b2, b3);
    fg_tk_produce_lines(e->inpatient, lines);
}

static const char *split_id(char out[FG_ALERT_ID_LEN + 1], const char *patient, const char *inst) {
    char wkey[128];
    snprintf(wkey, sizeof(wkey), "%s\x1fS1>%s\x1fS2", inst, inst);
    fg_alert_make_id(out, "readmission_burst", "split_stay", "patient", patient, wkey);
    return out;
}

Test(reload, control_topic_threshold_change_applies_from_then_on, .timeout = 240) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200];
    snprintf(group, sizeof(group), "%s-g", e.base);
    fg_e2e_config(&e, group, "");
    fg_tk_touch(e.control);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.invoicing);

    /* before: default readmit_days 15, a 10-day gap fires */
    produce_split_stay(&e, "R1", "H1", 10);
    pid_t pid = start_fundguard(&e);
    wait_log(&e, "rule=readmission_burst pattern=split_stay", 1);

    /* an invalid message is refused and changes nothing; then the real change */
    const char *bad = "{\"op\":\"set\",\"key\":\"redis.port\",\"value\":1}";
    fg_tk_produce(e.control, "ctl", bad, strlen(bad)); /* one key: one partition, in order */
    const char *set = "{\"op\":\"set\",\"key\":\"detectors.readmission_burst.readmit_days\",\"value\":5,"
                      "\"version\":\"rules-2026-11-23\"}";
    fg_tk_produce(e.control, "ctl", set, strlen(set));
    fg_tk_produce_lines(e.inpatient, "tick|{\"event_id\":\"tick\"}\n"); /* a batch boundary to apply it at */
    wait_log(&e, "control @1 applied: set detectors.readmission_burst.readmit_days=5", 1);

    /* after: the same 10-day gap is no longer a split stay; a 3-day gap is, under the new version */
    produce_split_stay(&e, "R2", "H2", 10);
    produce_split_stay(&e, "R3", "H3", 3);
    int status = 0;
    for (int i = 0; i < 1200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("fundguard did not stop after its input went idle; see %s", e.log);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fundguard exit status %d, see %s", status, e.log);

    char *log = fg_tp_read(e.log);
    cr_assert(strstr(log, "only detectors.* keys change at run time"), "the bad control message was not refused");
    free(log);

    fg_tmsgs_t alerts = fg_tk_read_all(e.alerts);
    char id1[FG_ALERT_ID_LEN + 1], id2[FG_ALERT_ID_LEN + 1], id3[FG_ALERT_ID_LEN + 1];
    split_id(id1, "R1", "H1");
    split_id(id2, "R2", "H2");
    split_id(id3, "R3", "H3");
    int seen1 = 0, seen2 = 0, seen3 = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        json_t *a = json_loads(alerts.v[i].value, 0, NULL);
        const char *id = json_string_value(json_object_get(a, "alert_id"));
        const char *ver = json_string_value(json_object_get(a, "ruleset_version"));
        if (!strcmp(id, id1)) {
            seen1++;
            cr_assert(strncmp(ver, "rs-", 3) == 0, "before the change: a digest version, got %s", ver);
        }
        if (!strcmp(id, id2)) seen2++;
        if (!strcmp(id, id3)) {
            seen3++;
            cr_assert_str_eq(ver, "rules-2026-11-23");
        }
        json_decref(a);
    }
    fg_tk_free(&alerts);
    cr_assert_eq(seen1, 1, "10-day gap under the old 15-day threshold must fire");
    cr_assert_eq(seen2, 0, "10-day gap under the new 5-day threshold must not fire");
    cr_assert_eq(seen3, 1, "3-day gap under the new threshold must fire");
}

Test(reload, control_messages_are_parsed_strictly) {
    fg_control_msg_t m;
    char why[256];
    cr_assert_eq(fg_control_parse("{\"op\":\"blacklist_add\",\"list\":\"doctor\",\"id\":\"D-9\"}", 49, &m, why,
                                  sizeof(why)),
                 0, "%s", why);
    cr_assert_eq(m.op, FG_CTL_BLACKLIST_ADD);
    cr_assert_str_eq(m.id, "D-9");
    const char *bad[] = {"{}", "[1]", "{\"op\":\"drop\"}", "{\"op\":\"set\",\"key\":\"detectors.x.y\"}",
                         "{\"op\":\"blacklist_add\",\"list\":\"hospital\",\"id\":\"x\"}",
                         "{\"op\":\"set\",\"key\":\"kafka.bootstrap.servers\",\"value\":\"evil:9092\"}", "not json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(fg_control_parse(bad[i], strlen(bad[i]), &m, why, sizeof(why)), -1, "accepted: %s", bad[i]);
}

static void admit_by_doctor(const fg_e2e_t *e, const char *eid, const char *patient, const char *doctor, int day) {
    char line[1024];
    snprintf(line, sizeof(line),
             "%s|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"H5\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"%s\",\"admission_id\":\"%s\",\"type\":\"ADMIT\","
             "\"doctor_id\":\"%s\"}\n",
             patient, eid, (long long)FG_T0 + day * 86400000LL, patient, eid, doctor);
    fg_tk_produce_lines(e->inpatient, line);
}

Test(reload, sighup_rereads_the_blacklists_without_losing_events, .timeout = 240) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200], lists[256], extra[512];
    snprintf(group, sizeof(group), "%s-g", e.base);
    snprintf(lists, sizeof(lists), "/tmp/%s-blacklists.json", e.base);
    fg_tp_write(lists, "{\"version\": \"v1\", \"doctors\": []}");
    snprintf(extra, sizeof(extra), "\"reference\": {\"blacklists\": \"%s\"}", lists);
    fg_e2e_config(&e, group, extra);
    fg_tk_touch(e.control);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.invoicing);

    admit_by_doctor(&e, "before", "S1", "D-NEW-1", 0);
    /* an invalid event behind it on the same partition: once it is dead-lettered, "before" has been processed */
    fg_tk_produce_lines(e.inpatient, "S1|{\"event_id\":\"marker\"}\n");
    pid_t pid = start_fundguard(&e);
    wait_log(&e, "dead-letter", 1);
    fg_tp_write(lists, "{\"version\": \"v2\", \"doctors\": [\"D-NEW-1\"]}");
    kill(pid, SIGHUP);
    admit_by_doctor(&e, "tick", "S0", "D-OTHER", 0); /* a batch boundary at which the reload happens */
    wait_log(&e, "reference data reloaded (SIGHUP)", 1);
    admit_by_doctor(&e, "after", "S2", "D-NEW-1", 1);

    int status = 0;
    for (int i = 0; i < 1200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("fundguard did not stop after its input went idle; see %s", e.log);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d, see %s", status, e.log);

    /* the doctor was listed only from the reload on: the day-1 admission fires, the day-0 one did not */
    fg_tmsgs_t alerts = fg_tk_read_all(e.alerts);
    int hits = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        json_t *a = json_loads(alerts.v[i].value, 0, NULL);
        if (!strcmp(json_string_value(json_object_get(a, "rule_id")), "blacklist_hit")) {
            hits++;
            cr_assert_str_eq(json_string_value(json_object_get(a, "subject_id")), "D-NEW-1");
            json_t *ev = json_object_get(json_object_get(a, "evidence"), "event_ids");
            cr_assert_eq(json_array_size(ev), 1);
            cr_assert_str_eq(json_string_value(json_array_get(ev, 0)), "after");
        }
        json_decref(a);
    }
    fg_tk_free(&alerts);
    cr_assert_eq(hits, 1, "expected one blacklist alert after the reload, got %d (log %s)", hits, e.log);
    remove(lists);
}
