/* scenario.c - detector test driver: real Redis, no Kafka (the processor is the capture sink). */
#include "scenario.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/settings.h"
#include "harness.h"

static fg_alert_t g_last[256];
static fg_arena_t *g_arena; /* items of built events, until fg_scn_fini */ /* last published version per id (index as in s->ids) */

void fg_scn_init(fg_scn_t *s, const char **overrides, int n) {
    memset(s, 0, sizeof(*s));
    snprintf(s->prefix, sizeof(s->prefix), "%s", fg_test_unique("t"));
    char *sets[32];
    char buf[32][256];
    int k = 0;
    snprintf(buf[k], sizeof(buf[k]), "redis.prefix=%s", s->prefix);
    sets[k] = buf[k];
    k++;
    for (int i = 0; i < n && k < 32; i++, k++) {
        snprintf(buf[k], sizeof(buf[k]), "%s", overrides[i]);
        sets[k] = buf[k];
    }
    char err[512];
    s->cf = fg_settings_load(NULL, sets, k, err, sizeof(err));
    cr_assert(s->cf, "config: %s", err);
    fg_state_opts_t so = {.host = "127.0.0.1", .port = fg_test_redis_port(), .prefix = s->prefix, .timeout_ms = 2000};
    s->st = fg_state_create(&so, err, sizeof(err));
    cr_assert(s->st, "redis: %s", err);
    s->proc = fg_processor_create(s->cf, s->st, err, sizeof(err));
    cr_assert(s->proc, "processor: %s", err);
}

void fg_scn_set_kb(fg_scn_t *s, const fg_kb_t *kb) { fg_processor_set_kb(s->proc, kb); }

void fg_scn_fini(fg_scn_t *s) {
    fg_arena_destroy(g_arena);
    g_arena = NULL;
    fg_processor_destroy(s->proc);
    fg_state_destroy(s->st);
    fg_config_destroy(s->cf);
}

void fg_scn_run(fg_scn_t *s, const fg_event_t *evs, size_t n) {
    const fg_alerts_t *out = NULL;
    char err[512];
    cr_assert_eq(fg_processor_run(s->proc, evs, n, 1800000000000LL, &out, err, sizeof(err)), FG_OK, "run: %s", err);
    s->last_run_count = out->n;
    for (size_t i = 0; i < out->n; i++) {
        size_t j = 0;
        while (j < s->n_ids && strcmp(s->ids[j], out->v[i].id)) j++;
        if (j == s->n_ids) {
            cr_assert(s->n_ids < 256);
            snprintf(s->ids[s->n_ids++], sizeof(s->ids[0]), "%s", out->v[i].id);
        }
        s->published[j]++;
        g_last[j] = out->v[i];
    }
    fg_processor_published(s->proc);
}

void fg_scn_run_each(fg_scn_t *s, const fg_event_t *evs, size_t n) {
    for (size_t i = 0; i < n; i++) fg_scn_run(s, &evs[i], 1);
}

const fg_alert_t *fg_scn_alert(fg_scn_t *s, const char *id) {
    for (size_t j = 0; j < s->n_ids; j++)
        if (!strcmp(s->ids[j], id)) return &g_last[j];
    return NULL;
}

fg_event_t fg_ev_inpatient(const char *event_id, fg_ip_type_t type, const char *patient, const char *inst,
                           const char *admission, double day) {
    fg_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.stream = FG_STREAM_INPATIENT;
    ev.event_id = event_id;
    ev.event_time_ms = FG_T0 + (int64_t)(day * 86400000.0);
    ev.region = "140100";
    ev.institution_id = inst;
    ev.institution_type = FG_INST_HOSPITAL;
    ev.patient_id = patient;
    ev.u.inpatient.type = type;
    ev.u.inpatient.admission_id = admission;
    ev.u.inpatient.present = FG_PRESENT_ABSENT;
    ev.src_partition = -1;
    ev.src_offset = -1;
    return ev;
}

static fg_item_t *copy_items(const fg_titem_t *t, uint32_t n, int64_t *total) {
    if (!g_arena) g_arena = fg_arena_create(1 << 16);
    fg_item_t *v = fg_arena_alloc(g_arena, (n ? n : 1) * sizeof(fg_item_t));
    *total = 0;
    for (uint32_t i = 0; i < n; i++) {
        v[i].code = t[i].code;
        v[i].kind = t[i].kind;
        v[i].quantity = t[i].qty;
        v[i].unit_price_fen = t[i].unit_price_fen;
        v[i].amount_fen = (int64_t)(t[i].qty * (double)t[i].unit_price_fen + 0.5);
        v[i].days_supply = t[i].days_supply;
        if (t[i].trace) {
            const char **tc = fg_arena_alloc(g_arena, sizeof(char *));
            tc[0] = t[i].trace;
            v[i].trace_codes = tc;
            v[i].n_trace_codes = 1;
        }
        *total += v[i].amount_fen;
    }
    return v;
}

fg_event_t fg_ev_claim(const char *claim_id, const char *patient, const char *inst, fg_inst_type_t inst_type,
                       fg_visit_t visit, double day, const fg_titem_t *items, uint32_t n_items) {
    fg_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.stream = FG_STREAM_CLAIMS;
    ev.event_id = claim_id;
    ev.event_time_ms = FG_T0 + (int64_t)(day * 86400000.0);
    ev.region = "140100";
    ev.institution_id = inst;
    ev.institution_type = inst_type;
    ev.patient_id = patient;
    if (!g_arena) g_arena = fg_arena_create(1 << 16);
    char card[64];
    snprintf(card, sizeof(card), "C-%s", patient);
    ev.card_id = fg_arena_strndup(g_arena, card, strlen(card));
    fg_claim_t *c = &ev.u.claim;
    c->birth_date_days = FG_DATE_ABSENT;
    c->visit_type = visit;
    c->items = copy_items(items, n_items, &c->total_fen);
    c->n_items = n_items;
    c->fund_paid_fen = c->total_fen * 7 / 10;
    c->self_paid_fen = c->total_fen - c->fund_paid_fen;
    ev.src_partition = -1;
    ev.src_offset = -1;
    return ev;
}

fg_event_t fg_ev_invoicing(const char *event_id, const char *inst, fg_inv_type_t type, double day,
                           const fg_titem_t *items, uint32_t n_items) {
    fg_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.stream = FG_STREAM_INVOICING;
    ev.event_id = event_id;
    ev.event_time_ms = FG_T0 + (int64_t)(day * 86400000.0);
    ev.region = "140100";
    ev.institution_id = inst;
    ev.institution_type = FG_INST_PHARMACY;
    int64_t total;
    ev.u.invoicing.type = type;
    ev.u.invoicing.items = copy_items(items, n_items, &total);
    ev.u.invoicing.n_items = n_items;
    ev.src_partition = -1;
    ev.src_offset = -1;
    return ev;
}
