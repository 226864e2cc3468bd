/*
 * test_identifiers.c - alerts.identifiers through the real pipeline: the same
 * events run once with "real" (the default: case officers get the patient and
 * card ids) and once with "pseudonym" (the keyed HMAC pseudonym of Redis keys
 * instead, in subject_id and in a summary that names the subject). Alert ids
 * are the same in both runs, institution subjects are untouched, and neither
 * run's log carries a patient or card id.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert.h"
#include "core/pseudo.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/scenario.h"

#define DAY 86400000LL
#define HMAC_KEY "identifiers-test-key-0123456789"

/* every personal id the scenario uses */
static const char *const g_ids[] = {"P-ID-STAY", "P-ID-CARD", "C-ID-CARD", "P-ID-LISTED", "C-ID-LISTED"};

typedef struct {
    char id[40], rule[48], subject_type[16], subject_id[160], summary[600];
} seen_t;

/* the newest version of every alert id on topic (sorted by id) */
static size_t read_alerts(const char *topic, seen_t *out, size_t cap) {
    fg_tmsgs_t m = fg_tk_read_all(topic);
    size_t n = 0;
    for (size_t i = 0; i < m.n; i++) {
        json_t *a = json_loads(m.v[i].value, 0, NULL);
        cr_assert(a, "alert is not JSON");
        const char *id = json_string_value(json_object_get(a, "alert_id"));
        size_t j = 0;
        while (j < n && strcmp(out[j].id, id)) j++;
        if (j == n) {
            cr_assert(n < cap);
            n++;
        }
        snprintf(out[j].id, sizeof(out[j].id), "%s", id);
        snprintf(out[j].rule, sizeof(out[j].rule), "%s", json_string_value(json_object_get(a, "rule_id")));
        snprintf(out[j].subject_type, sizeof(out[j].subject_type), "%s",
                 json_string_value(json_object_get(a, "subject_type")));
        snprintf(out[j].subject_id, sizeof(out[j].subject_id), "%s", json_string_value(json_object_get(a, "subject_id")));
        snprintf(out[j].summary, sizeof(out[j].summary), "%s",
                 json_string_value(json_object_get(json_object_get(a, "evidence"), "summary")));
        json_decref(a);
    }
    fg_tk_free(&m);
    return n;
}

static const seen_t *find(const seen_t *v, size_t n, const char *rule, const char *subject_type) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].rule, rule) && !strcmp(v[i].subject_type, subject_type)) return &v[i];
    return NULL;
}

static void assert_log_clean(const char *path) {
    char *log = fg_tp_read(path);
    cr_assert(log);
    for (size_t k = 0; k < sizeof(g_ids) / sizeof(g_ids[0]); k++)
        cr_assert_null(strstr(log, g_ids[k]), "the log %s names %s", path, g_ids[k]);
    free(log);
}

static char g_claim_buf[8][700];
static const char *claim(int slot, const char *id, const char *patient, const char *card, const char *region,
                         const char *inst, const char *inst_type, const char *visit, long long t_ms, long long total) {
    snprintf(g_claim_buf[slot], sizeof(g_claim_buf[slot]),
             "%s|{\"claim_id\":\"%s\",\"event_time\":%lld,\"region\":\"%s\",\"institution_id\":\"%s\","
             "\"institution_type\":\"%s\",\"patient_id\":\"%s\",\"card_id\":\"%s\",\"visit_type\":\"%s\","
             "\"total_fen\":%lld,\"fund_paid_fen\":%lld,\"self_paid_fen\":%lld,\"items\":[{\"code\":\"XI1\","
             "\"kind\":\"SERVICE\",\"quantity\":1,\"unit_price_fen\":%lld,\"amount_fen\":%lld}]}\n",
             patient, id, t_ms, region, inst, inst_type, patient, card, visit, total, total / 2, total - total / 2,
             total, total);
    return g_claim_buf[slot];
}

Test(identifiers, pseudonym_mode_replaces_patient_and_card_ids_in_alerts_and_keeps_alert_ids, .timeout = 180) {
    setenv("FUNDGUARD_HMAC_KEY", HMAC_KEY, 1);
    fg_pseudo_set_key(HMAC_KEY, strlen(HMAC_KEY));
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char bl[256], extra[512];
    snprintf(bl, sizeof(bl), "/tmp/%s-bl.json", e.base);
    fg_tp_write(bl, "{\"persons\": [\"P-ID-LISTED\"]}");
    snprintf(extra, sizeof(extra), "\"reference\": {\"blacklists\": \"%s\"}", bl);
    char group[200];
    snprintf(group, sizeof(group), "%s-real", e.base);
    fg_e2e_config(&e, group, extra);

    /* P-ID-STAY: a split stay (patient subject). C-ID-CARD: one card in two regions 1 h apart (card subject).
       P-ID-LISTED: a blacklisted person (patient subject, named in the summary). D-ID: a large unregistered
       pharmacy purchase (institution subject, must stay as it is). */
    char lines[4096] = "", b[512];
    const char *ip[][3] = {{"i-a1", "ADMIT", "A1"}, {"i-d1", "DISCHARGE", "A1"}, {"i-a2", "ADMIT", "A2"}};
    for (int i = 0; i < 3; i++) {
        snprintf(b, sizeof(b),
                 "P-ID-STAY|{\"event_id\":\"%s\",\"event_time\":%lld,\"region\":\"140100\",\"institution_id\":\"H-ID\","
                 "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P-ID-STAY\",\"admission_id\":\"%s\",\"type\":\"%s\"}\n",
                 ip[i][0], FG_T0 + (long long)(i * 4) * DAY, ip[i][2], ip[i][1]);
        strcat(lines, b);
    }
    fg_tk_produce_lines(e.inpatient, lines);
    lines[0] = '\0';
    strcat(lines, claim(0, "c-r1", "P-ID-CARD", "C-ID-CARD", "140100", "H-ID", "HOSPITAL", "OUTPATIENT", FG_T0 + DAY,
                        1000));
    strcat(lines, claim(1, "c-r2", "P-ID-CARD", "C-ID-CARD", "140700", "H-ID2", "HOSPITAL", "OUTPATIENT",
                        FG_T0 + DAY + 3600000LL, 1000));
    strcat(lines, claim(2, "c-bl", "P-ID-LISTED", "C-ID-LISTED", "140100", "H-ID", "HOSPITAL", "OUTPATIENT",
                        FG_T0 + 2 * DAY, 1000));
    strcat(lines, claim(3, "c-big", "P-ID-BUYER", "C-ID-BUYER", "140100", "D-ID", "PHARMACY", "PHARMACY",
                        FG_T0 + 3 * DAY, 300000));
    fg_tk_produce_lines(e.claims, lines);
    fg_tk_touch(e.invoicing);

    /* run 1: the default, real ids */
    char log_real[300], log_ps[300];
    snprintf(log_real, sizeof(log_real), "%s.real", e.log);
    snprintf(log_ps, sizeof(log_ps), "%s.pseudonym", e.log);
    const char *a1[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", NULL};
    cr_assert_eq(fg_tp_run(log_real, 120, a1), 0, "fundguard run failed, see %s", log_real);

    /* run 2: same input, its own group, prefix and alert topic, pseudonyms */
    char s_group[300], s_prefix[300], s_topic[300];
    snprintf(s_group, sizeof(s_group), "kafka.group.id=%s-ps", e.base);
    snprintf(s_prefix, sizeof(s_prefix), "redis.prefix=%s-ps", e.base);
    snprintf(s_topic, sizeof(s_topic), "topics.alerts=%s-ps", e.alerts);
    const char *a2[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", "--set", s_group, "--set", s_prefix,
                        "--set", s_topic, "--set", "alerts.identifiers=pseudonym", NULL};
    cr_assert_eq(fg_tp_run(log_ps, 120, a2), 0, "fundguard run failed, see %s", log_ps);

    seen_t real[64], ps[64];
    size_t n_real = read_alerts(e.alerts, real, 64);
    char ps_topic[300];
    snprintf(ps_topic, sizeof(ps_topic), "%s-ps", e.alerts);
    size_t n_ps = read_alerts(ps_topic, ps, 64);

    /* the same findings with the same ids */
    cr_assert_eq(n_real, n_ps, "real run: %zu alert ids, pseudonym run: %zu", n_real, n_ps);
    for (size_t i = 0; i < n_real; i++) {
        size_t j = 0;
        while (j < n_ps && strcmp(real[i].id, ps[j].id)) j++;
        cr_assert(j < n_ps, "alert %s (%s) of the real run is missing from the pseudonym run", real[i].id, real[i].rule);
    }

    char p_stay[FG_PSEUDO_LEN + 1], p_card[FG_PSEUDO_LEN + 1], p_listed[FG_PSEUDO_LEN + 1];
    fg_pseudo("P-ID-STAY", p_stay);
    fg_pseudo("C-ID-CARD", p_card);
    fg_pseudo("P-ID-LISTED", p_listed);
    struct {
        const char *rule, *type, *real_id, *pseudo;
    } want[] = {{"readmission_burst", "patient", "P-ID-STAY", p_stay},
                {"card_misuse", "card", "C-ID-CARD", p_card},
                {"blacklist_hit", "patient", "P-ID-LISTED", p_listed}};
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        const seen_t *r = find(real, n_real, want[k].rule, want[k].type);
        const seen_t *p = find(ps, n_ps, want[k].rule, want[k].type);
        cr_assert(r && p, "%s alert on a %s missing (real %p, pseudonym %p; logs %s, %s)", want[k].rule, want[k].type,
                  (const void *)r, (const void *)p, log_real, log_ps);
        cr_assert_str_eq(r->subject_id, want[k].real_id, "real mode: %s", want[k].rule);
        cr_assert_str_eq(p->subject_id, want[k].pseudo, "pseudonym mode: %s", want[k].rule);
    }
    /* the blacklist summary names the person: by id, or by pseudonym */
    const seen_t *r_bl = find(real, n_real, "blacklist_hit", "patient");
    const seen_t *p_bl = find(ps, n_ps, "blacklist_hit", "patient");
    cr_assert(strstr(r_bl->summary, "P-ID-LISTED"), "real summary: %s", r_bl->summary);
    cr_assert(strstr(p_bl->summary, p_listed), "pseudonym summary: %s", p_bl->summary);
    /* nothing of the pseudonym run's alerts carries a personal id */
    fg_tmsgs_t m = fg_tk_read_all(ps_topic);
    for (size_t i = 0; i < m.n; i++)
        for (size_t k = 0; k < sizeof(g_ids) / sizeof(g_ids[0]); k++)
            cr_assert_null(strstr(m.v[i].value, g_ids[k]), "pseudonym mode published %s: %s", g_ids[k], m.v[i].value);
    fg_tk_free(&m);
    /* institution subjects are not personal: the same in both */
    const seen_t *r_inst = find(real, n_real, "large_unregistered", "institution");
    const seen_t *p_inst = find(ps, n_ps, "large_unregistered", "institution");
    cr_assert(r_inst && p_inst);
    cr_assert_str_eq(r_inst->subject_id, "D-ID");
    cr_assert_str_eq(p_inst->subject_id, "D-ID");

    /* logs: no patient or card id in either mode (alerts are logged by id, rule and institution) */
    assert_log_clean(log_real);
    assert_log_clean(log_ps);
}

Test(identifiers, an_unknown_mode_is_refused_at_start_up) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_tp_write(e.cfg, "{\"alerts\": {\"identifiers\": \"hashed\"}}");
    const char *args[] = {"run", "--config", e.cfg, "--check-config", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 1);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "alerts.identifiers") && strstr(log, "pseudonym"), "log: %s", log ? log : "");
    free(log);
}

Test(identifiers, wire_json_replaces_only_the_subject_as_a_whole_word) {
    fg_pseudo_set_key(HMAC_KEY, strlen(HMAC_KEY));
    fg_alert_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "0123456789abcdef0123456789abcdef");
    a.rule_id = "blacklist_hit";
    snprintf(a.subject_type, sizeof(a.subject_type), "patient");
    snprintf(a.subject_id, sizeof(a.subject_id), "P1");
    snprintf(a.institution_id, sizeof(a.institution_id), "H-P1");
    snprintf(a.summary, sizeof(a.summary), "blacklisted person P1 at H-P1 with P10 and P1, P1");
    fg_alert_add_event(&a, "P1-claim");
    char ps[FG_PSEUDO_LEN + 1], want[400];
    fg_pseudo("P1", ps);

    char *real = fg_alert_to_wire_json(&a, FG_ALERT_IDS_REAL);
    char *same = fg_alert_to_json(&a, 1);
    cr_assert_str_eq(real, same, "real mode is the plain JSON");
    free(same);
    free(real);

    char *pj = fg_alert_to_wire_json(&a, FG_ALERT_IDS_PSEUDONYM);
    json_t *o = json_loads(pj, 0, NULL);
    cr_assert(o, "%s", pj);
    cr_assert_str_eq(json_string_value(json_object_get(o, "subject_id")), ps);
    cr_assert_str_eq(json_string_value(json_object_get(o, "alert_id")), a.id, "the alert id is unchanged");
    cr_assert_str_eq(json_string_value(json_object_get(o, "institution_id")), "H-P1", "other ids are untouched");
    snprintf(want, sizeof(want), "blacklisted person %s at H-P1 with P10 and %s, %s", ps, ps, ps);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "evidence"), "summary")), want);
    json_decref(o);
    free(pj);
    cr_assert_str_eq(a.subject_id, "P1", "the alert itself is not changed");

    /* institution subjects stay as they are in pseudonym mode */
    snprintf(a.subject_type, sizeof(a.subject_type), "institution");
    char *inst = fg_alert_to_wire_json(&a, FG_ALERT_IDS_PSEUDONYM);
    cr_assert(strstr(inst, "\"subject_id\":\"P1\""), "%s", inst);
    free(inst);
    cr_assert_eq(fg_alert_ids_parse("real"), FG_ALERT_IDS_REAL);
    cr_assert_eq(fg_alert_ids_parse("pseudonym"), FG_ALERT_IDS_PSEUDONYM);
    cr_assert_eq(fg_alert_ids_parse("Pseudonym"), -1);
    cr_assert_eq(fg_alert_ids_parse(NULL), -1);
}
