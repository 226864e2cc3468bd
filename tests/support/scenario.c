/* scenario.c - detector test driver: real Redis, no Kafka (the processor is the capture sink). */
#include "scenario.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/settings.h"
#include "harness.h"

static fg_alert_t g_last[256]; /* last published version per id (index as in s->ids) */

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

void fg_scn_fini(fg_scn_t *s) {
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
