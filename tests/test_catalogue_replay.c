/*
 * test_catalogue_replay.c - a mixed scenario with at least one instance of every
 * pattern of every detector (tests/support/mixed.c), against the sample knowledge
 * base (reference/): run directly through the processor to get the expected set
 * of alert ids (every (rule, pattern) covered, a few ids checked independently),
 * then end to end through the broker, `fundguard run` and Redis, which must
 * publish exactly that set of ids; then re-read by a new consumer group over the
 * same Redis, which must publish nothing at all.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alert.h"
#include "reference/kb.h"
#include "schemas/codec.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"
#include "support/scenario.h"

/* ---- sets of alert ids with their rule and pattern ---- */

typedef struct {
    char id[FG_ALERT_ID_LEN + 1];
    char rule[48], pattern[48], subject[FG_ALERT_STR];
    int messages; /* how often it was published */
} idrec_t;

typedef struct {
    idrec_t *v;
    size_t n, cap;
    size_t messages;
} idset_t;

static void set_add(idset_t *s, const char *id, const char *rule, const char *pattern, const char *subject) {
    s->messages++;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id)) {
            s->v[i].messages++;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        cr_assert(s->v);
    }
    idrec_t *r = &s->v[s->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->rule, sizeof(r->rule), "%s", rule);
    snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
    snprintf(r->subject, sizeof(r->subject), "%s", subject ? subject : "");
    r->messages = 1;
}

static const idrec_t *set_find(const idset_t *s, const char *id) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id)) return &s->v[i];
    return NULL;
}

static size_t set_count(const idset_t *s, const char *rule, const char *pattern) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += !strcmp(s->v[i].rule, rule) && !strcmp(s->v[i].pattern, pattern);
    return n;
}

/* "rule/pattern id" of every id of a that b lacks, into buf; @returns how many */
static size_t set_minus(const idset_t *a, const idset_t *b, char *buf, size_t size) {
    size_t n = 0, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->n; i++) {
        if (set_find(b, a->v[i].id)) continue;
        n++;
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, " %s/%s(%s)", a->v[i].rule, a->v[i].pattern, a->v[i].id);
    }
    return n;
}

/* ---- every pattern of every detector ---- */

static const struct {
    const char *rule, *pattern;
} EXPECTED[] = {
    {"readmission_burst", "split_stay"},
    {"readmission_burst", "frequent_admission"},
    {"bed_hanging", "absent_checks"},
    {"bed_hanging", "bed_only_days"},
    {"claims_during_stay", "claim_in_stay"},
    {"prescription_volume", "patient_supply"},
    {"prescription_volume", "institution_daily"},
    {"inventory_mismatch", "sales_exceed_supply"},
    {"trace_code_reuse", "reuse"},
    {"trace_code_reuse", "reflux"},
    {"rx_without_prescription", "no_prescription"},
    {"large_unregistered", "unregistered_buyer"},
    {"duplicate_billing", "daily"},
    {"duplicate_billing", "stay"},
    {"restriction_violation", "gender"},
    {"restriction_violation", "age"},
    {"card_misuse", "two_regions"},
    {"card_misuse", "pharmacy_hopping"},
    {"institution_indicators", "cost_per_visit"},
    {"institution_indicators", "length_of_stay"},
    {"institution_indicators", "admissions"},
    {"high_value_usage", "usage_spike"},
    {"blacklist_hit", "institution"},
    {"blacklist_hit", "doctor"},
    {"blacklist_hit", "person"},
};
#define N_EXPECTED (sizeof(EXPECTED) / sizeof(EXPECTED[0]))

/* ---- the direct run: the processor against real Redis, no Kafka ---- */

static void ref_paths(char *cat, char *bl, size_t size) {
    snprintf(cat, size, "%s/reference/catalogue.json", fg_test_source_dir());
    snprintf(bl, size, "%s/reference/blacklists.json", fg_test_source_dir());
}

static void direct_run(const fg_mixed_t *m, const fg_kb_t *kb, size_t batch, idset_t *out) {
    char cat[512], bl[512], o1[600], o2[600];
    ref_paths(cat, bl, sizeof(cat));
    snprintf(o1, sizeof(o1), "reference.catalogue=%s", cat);
    snprintf(o2, sizeof(o2), "reference.blacklists=%s", bl);
    const char *ov[2] = {o1, o2};
    fg_scn_t s;
    fg_scn_init(&s, ov, 2);
    fg_scn_set_kb(&s, kb);
    for (size_t i = 0; i < m->n; i += batch) {
        size_t nb = m->n - i < batch ? m->n - i : batch;
        const fg_alerts_t *res = NULL;
        char err[512];
        cr_assert_eq(fg_processor_run(s.proc, &m->v[i], nb, 1800000000000LL, &res, err, sizeof(err)), FG_OK,
                     "run: %s", err);
        for (size_t k = 0; k < res->n; k++) set_add(out, res->v[k].id, res->v[k].rule_id, res->v[k].pattern, res->v[k].subject_id);
        fg_processor_published(s.proc);
    }
    fg_scn_fini(&s);
}

/* ---- end to end ---- */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void buf_add(buf_t *b, const char *key, const char *json) {
    size_t need = strlen(key) + strlen(json) + 3;
    if (b->n + need >= b->cap) {
        b->cap = (b->cap + need) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    b->n += (size_t)sprintf(b->p + b->n, "%s|%s\n", key, json);
}

static void produce_all(const fg_mixed_t *m, const fg_e2e_t *e) {
    buf_t t[FG_STREAM_COUNT] = {{0}};
    for (size_t i = 0; i < m->n; i++) {
        const fg_event_t *ev = &m->v[i];
        char *json = fg_codec_encode_json(ev);
        cr_assert(json && !strchr(json, '\n'), "event %s: no one-line JSON", ev->event_id);
        buf_add(&t[ev->stream], ev->stream == FG_STREAM_INVOICING ? ev->institution_id : ev->patient_id, json);
        free(json);
    }
    const char *topic[FG_STREAM_COUNT] = {e->claims, e->inpatient, e->invoicing};
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        cr_assert(t[s].n, "no %s events", fg_stream_name((fg_stream_t)s));
        fg_tk_produce_lines(topic[s], t[s].p);
        free(t[s].p);
    }
}

static void read_alerts(const char *topic, idset_t *out) {
    fg_tmsgs_t a = fg_tk_read_all(topic);
    for (size_t i = 0; i < a.n; i++) {
        json_error_t je;
        json_t *j = json_loads(a.v[i].value, 0, &je);
        cr_assert(j, "alert is not JSON: %s", je.text);
        const char *id = json_string_value(json_object_get(j, "alert_id"));
        const char *rule = json_string_value(json_object_get(j, "rule_id"));
        const char *pattern = json_string_value(json_object_get(j, "pattern"));
        const char *subject = json_string_value(json_object_get(j, "subject_id"));
        cr_assert(id && rule && pattern, "alert without id, rule or pattern: %s", a.v[i].value);
        set_add(out, id, rule, pattern, subject);
        json_decref(j);
    }
    fg_tk_free(&a);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(catalogue_replay, every_pattern_end_to_end_then_replay_publishes_nothing, .timeout = 420) {
    double t0 = now_s();
    fg_mixed_t m;
    fg_mixed_build(&m);
    size_t per_stream[FG_STREAM_COUNT] = {0};
    fg_validate_opts_t vo;
    fg_validate_opts_default(&vo);
    for (size_t i = 0; i < m.n; i++) {
        char reason[256];
        per_stream[m.v[i].stream]++;
        cr_assert_eq(fg_event_validate(&m.v[i], &vo, (int64_t)time(NULL) * 1000, reason, sizeof(reason)), FG_OK,
                     "event %s invalid: %s", m.v[i].event_id, reason);
    }

    /* 1. expected set: the processor directly, in event-time order, one event per batch and in batches */
    char cat[512], bl[512], err[512];
    ref_paths(cat, bl, sizeof(cat));
    fg_kb_t *kb = fg_kb_load(cat, bl, err, sizeof(err));
    cr_assert(kb, "kb: %s", err);
    idset_t expect = {0}, batched = {0};
    direct_run(&m, kb, 1, &expect);
    direct_run(&m, kb, 64, &batched);
    char diff[4096];
    size_t d1 = set_minus(&expect, &batched, diff, sizeof(diff));
    cr_assert_eq(d1, 0, "%zu alert ids of the per-event run missing from the batched run:%s", d1, diff);
    size_t d2 = set_minus(&batched, &expect, diff, sizeof(diff));
    cr_assert_eq(d2, 0, "%zu alert ids of the batched run missing from the per-event run:%s", d2, diff);
    double t_direct = now_s();

    /* every (rule, pattern) is there */
    char missing[2048] = "";
    size_t n_missing = 0;
    for (size_t i = 0; i < N_EXPECTED; i++)
        if (!set_count(&expect, EXPECTED[i].rule, EXPECTED[i].pattern)) {
            n_missing++;
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof(missing) - l, " %s/%s", EXPECTED[i].rule, EXPECTED[i].pattern);
        }
    cr_assert_eq(n_missing, 0, "patterns that did not fire:%s", missing);
    /* no (rule, pattern) fires that the table does not know */
    for (size_t i = 0; i < expect.n; i++) {
        int known = 0;
        for (size_t k = 0; k < N_EXPECTED && !known; k++)
            known = !strcmp(expect.v[i].rule, EXPECTED[k].rule) && !strcmp(expect.v[i].pattern, EXPECTED[k].pattern);
        cr_assert(known, "unknown rule/pattern %s/%s", expect.v[i].rule, expect.v[i].pattern);
    }

    /* a few ids computed independently from their subject and window key */
    struct {
        const char *rule, *pattern, *stype, *subject, *wkey;
    } probes[] = {
        {"readmission_burst", "split_stay", "patient", FG_MIX_SPLIT_PATIENT, FG_MIX_SPLIT_WKEY},
        {"rx_without_prescription", "no_prescription", "institution", FG_MIX_RX_PHARMACY, FG_MIX_RX_CLAIM},
        {"card_misuse", "pharmacy_hopping", "card", FG_MIX_HOP_CARD, FG_MIX_HOP_DAY},
        {"inventory_mismatch", "sales_exceed_supply", "institution", FG_MIX_IM_PHARMACY, FG_MIX_IM_WKEY},
        {"duplicate_billing", "daily", "patient", FG_MIX_DB_PATIENT, FG_MIX_DB_WKEY},
        {"blacklist_hit", "institution", "institution", FG_MIX_BL_INSTITUTION, FG_MIX_BL_DAY},
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        char id[FG_ALERT_ID_LEN + 1];
        fg_alert_make_id(id, probes[i].rule, probes[i].pattern, probes[i].stype, probes[i].subject, probes[i].wkey);
        const idrec_t *r = set_find(&expect, id);
        cr_assert(r, "%s/%s of %s: expected id %s not found", probes[i].rule, probes[i].pattern, probes[i].subject,
                  id);
        cr_assert_str_eq(r->rule, probes[i].rule);
        cr_assert_str_eq(r->pattern, probes[i].pattern);
    }

    fprintf(stderr, "catalogue_replay: %zu events (claims %zu, inpatient %zu, invoicing %zu)\n", m.n,
            per_stream[FG_STREAM_CLAIMS], per_stream[FG_STREAM_INPATIENT], per_stream[FG_STREAM_INVOICING]);
    fprintf(stderr, "catalogue_replay: direct run: %zu distinct alert ids (%zu publications per event, %zu batched)\n",
            expect.n, expect.messages, batched.messages);
    for (size_t i = 0; i < N_EXPECTED; i++)
        fprintf(stderr, "catalogue_replay:   %-24s %-20s %zu\n", EXPECTED[i].rule, EXPECTED[i].pattern,
                set_count(&expect, EXPECTED[i].rule, EXPECTED[i].pattern));
    for (size_t i = 0; i < expect.n; i++)
        fprintf(stderr, "catalogue_replay:     %s %s/%s subject %s (published %d times)\n", expect.v[i].id,
                expect.v[i].rule, expect.v[i].pattern, expect.v[i].subject, expect.v[i].messages);

    /* 2. end to end: fresh topics, JSON, claims/inpatient keyed by patient, invoicing by institution */
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200], extra[1400];
    snprintf(group, sizeof(group), "%s-g1", e.base);
    snprintf(extra, sizeof(extra), "\"reference\": {\"catalogue\": \"%s\", \"blacklists\": \"%s\"}", cat, bl);
    fg_e2e_config(&e, group, extra);
    produce_all(&m, &e);
    fg_tk_touch(e.alerts);
    fg_tk_touch(e.dlq);
    double t_produced = now_s();

    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "4000", NULL};
    cr_assert_eq(fg_tp_run(e.log, 180, args), 0, "fundguard run failed, see %s", e.log);
    double t_run1 = now_s();

    idset_t got = {0};
    read_alerts(e.alerts, &got);
    size_t lost = set_minus(&expect, &got, diff, sizeof(diff));
    char extra_ids[4096];
    size_t added = set_minus(&got, &expect, extra_ids, sizeof(extra_ids));
    cr_assert(lost == 0 && added == 0,
              "pipeline alert ids differ from the direct run (log %s): %zu missing:%s; %zu unexpected:%s", e.log, lost,
              diff, added, extra_ids);
    cr_assert_eq(got.n, expect.n);

    fg_tmsgs_t dl = fg_tk_read_all(e.dlq);
    cr_assert_eq(dl.n, 0, "%zu dead letters, the first: %s", dl.n, dl.n ? dl.v[0].reason : "");
    fg_tk_free(&dl);

    const char *inputs[3] = {e.claims, e.inpatient, e.invoicing};
    for (int i = 0; i < 3; i++) {
        long long end = 0, committed = fg_tk_committed_sum(group, inputs[i], &end);
        cr_assert_eq(committed, end, "%s: committed %lld of %lld", inputs[i], committed, end);
    }

    /* 3. replay: a new group re-reads everything over the same Redis prefix: nothing new or changed */
    snprintf(group, sizeof(group), "%s-g2", e.base);
    fg_e2e_config(&e, group, extra);
    cr_assert_eq(fg_tp_run(e.log, 180, args), 0, "second run failed, see %s", e.log);
    double t_run2 = now_s();
    idset_t again = {0};
    read_alerts(e.alerts, &again);
    if (again.messages != got.messages) {
        /* name the alerts published again */
        char which[4096] = "";
        size_t l = 0;
        for (size_t i = 0; i < again.n && l < sizeof(which); i++) {
            const idrec_t *r = set_find(&got, again.v[i].id);
            if (!r || r->messages != again.v[i].messages)
                l += (size_t)snprintf(which + l, sizeof(which) - l, " %s/%s(%s)x%d", again.v[i].rule,
                                      again.v[i].pattern, again.v[i].id,
                                      again.v[i].messages - (r ? r->messages : 0));
        }
        cr_assert_fail("re-processing published %zu new alert message(s) (log %s):%s", again.messages - got.messages,
                       e.log, which);
    }
    for (int i = 0; i < 3; i++) {
        long long end = 0, committed = fg_tk_committed_sum(group, inputs[i], &end);
        cr_assert_eq(committed, end, "replay %s: committed %lld of %lld", inputs[i], committed, end);
    }

    fprintf(stderr,
            "catalogue_replay: pipeline: %zu distinct alert ids in %zu messages; replay: +0 messages\n"
            "catalogue_replay: timing: build+direct %.1fs, produce %.1fs, run %.1fs, replay %.1fs, total %.1fs\n",
            got.n, got.messages, t_direct - t0, t_produced - t_direct, t_run1 - t_produced, t_run2 - t_run1,
            now_s() - t0);

    free(expect.v);
    free(batched.v);
    free(got.v);
    free(again.v);
    fg_kb_destroy(kb);
    fg_mixed_free(&m);
    remove(e.cfg);
}
