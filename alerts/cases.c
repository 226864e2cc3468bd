/* cases.c - alerts of one institution and period grouped into a case, kept in Redis, published as JSON. */
#include "cases.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fg_cases {
    fg_state_t *st;
    int64_t period_ms, retention_ms;
    int period_days, max_ids;
};

fg_cases_t *fg_cases_create(const fg_config_t *cf, fg_state_t *st) {
    fg_cases_t *c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->st = st;
    c->period_days = (int)fg_config_int(cf, "cases.period_days");
    c->period_ms = c->period_days * FG_MS_PER_DAY;
    c->retention_ms = fg_config_int(cf, "cases.retention_days") * FG_MS_PER_DAY;
    c->max_ids = (int)fg_config_int(cf, "cases.max_alert_ids");
    return c;
}

void fg_cases_destroy(fg_cases_t *c) { free(c); }

int64_t fg_case_period_start(const fg_cases_t *c, int64_t t) {
    int64_t q = t / c->period_ms;
    if (t < 0 && q * c->period_ms != t) q--; /* floor, not truncation */
    return q * c->period_ms;
}

void fg_case_make_id(char out[FG_ALERT_ID_LEN + 1], const char *institution, int64_t period_start) {
    char p[24];
    snprintf(p, sizeof(p), "%lld", (long long)period_start);
    /* a namespace of its own ("case") so a case id can never equal an alert id */
    fg_alert_make_id(out, "case", "period", "institution", institution, p);
}

/* the Redis key of one case: the institution is the hash tag, so it shares a slot with the risk key */
static int case_key(const fg_cases_t *c, char *buf, size_t size, const char *institution, int64_t period_start) {
    char kind[40];
    snprintf(kind, sizeof(kind), "case:%lld", (long long)period_start);
    return fg_state_key(c->st, buf, size, kind, 'i', institution);
}

typedef struct {
    const char *id;
    int64_t t;
} fg_case_ref_t;

typedef struct {
    char rule[48];
    int n;
} fg_rule_count_t;

typedef struct {
    fg_case_ref_t *refs;
    size_t n, cap;
    int64_t amount, t_min, t_max;
    int max_sev;
    fg_rule_count_t rules[32];
    int n_rules;
    char region[FG_ALERT_STR];
    const char *region_of; /* alert id the region was taken from */
} fg_case_fold_t;

/* field = alert id, value = "event_time|amount_fen|severity|rule_id|region" */
static int fold(const char *field, const char *val, size_t len, void *ud) {
    fg_case_fold_t *f = ud;
    (void)len;
    long long t = 0, amount = 0;
    int sev = 0, used = 0;
    if (sscanf(val, "%lld|%lld|%d|%n", &t, &amount, &sev, &used) != 3 || !used) return 0;
    const char *rule = val + used, *bar = strchr(rule, '|');
    size_t rlen = bar ? (size_t)(bar - rule) : strlen(rule);
    const char *region = bar ? bar + 1 : "";
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        fg_case_ref_t *v = realloc(f->refs, cap * sizeof(*v));
        if (!v) abort();
        f->refs = v;
        f->cap = cap;
    }
    f->refs[f->n++] = (fg_case_ref_t){field, t};
    f->amount += amount;
    if (sev > f->max_sev) f->max_sev = sev;
    if (f->n == 1 || t < f->t_min) f->t_min = t;
    /* the region of the latest alert (ties: the larger id, so the result does not depend on hash order) */
    if (f->n == 1 || t > f->t_max || (t == f->t_max && strcmp(field, f->region_of) > 0)) {
        fg_alert_set(f->region, sizeof(f->region), region);
        f->region_of = field;
        f->t_max = t;
    }
    int r = 0;
    while (r < f->n_rules && (strlen(f->rules[r].rule) != rlen || strncmp(f->rules[r].rule, rule, rlen))) r++;
    if (r == f->n_rules && f->n_rules < (int)FG_ARRAY_SIZE(f->rules)) {
        size_t cp = rlen < sizeof(f->rules[0].rule) ? rlen : sizeof(f->rules[0].rule) - 1;
        memcpy(f->rules[r].rule, rule, cp);
        f->rules[r].rule[cp] = '\0';
        f->rules[r].n = 0;
        f->n_rules++;
    }
    if (r < f->n_rules) f->rules[r].n++;
    return 0;
}

static int ref_cmp(const void *a, const void *b) {
    const fg_case_ref_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int rule_cmp(const void *a, const void *b) {
    return strcmp(((const fg_rule_count_t *)a)->rule, ((const fg_rule_count_t *)b)->rule);
}

static fg_case_record_t *rec_add(fg_case_records_t *out) {
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        fg_case_record_t *v = realloc(out->v, cap * sizeof(*v));
        if (!v) abort();
        out->v = v;
        out->cap = cap;
    }
    fg_case_record_t *r = &out->v[out->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

static char *case_json(const fg_cases_t *c, const fg_case_record_t *rec, fg_case_fold_t *f) {
    qsort(f->refs, f->n, sizeof(*f->refs), ref_cmp);
    qsort(f->rules, (size_t)f->n_rules, sizeof(f->rules[0]), rule_cmp);
    json_t *ids = json_array();
    /* the earliest alerts of the case, in event-time order; alert_count says how many there are in all */
    for (size_t i = 0; i < f->n && i < (size_t)c->max_ids; i++) json_array_append_new(ids, json_string(f->refs[i].id));
    json_t *by_rule = json_object();
    for (int r = 0; r < f->n_rules; r++) json_object_set_new(by_rule, f->rules[r].rule, json_integer(f->rules[r].n));
    char yuan[32];
    snprintf(yuan, sizeof(yuan), "%lld.%02lld", (long long)(f->amount / 100), (long long)(f->amount % 100));
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:o, s:b, s:I, s:s, s:s, s:o, s:I, s:I}", "case_id",
                          rec->case_id, "institution_id", rec->institution_id, "region", f->region, "period_start",
                          (json_int_t)rec->period_start, "period_end", (json_int_t)(rec->period_start + c->period_ms),
                          "period_days", c->period_days, "alert_count", (int)f->n, "alert_ids", ids,
                          "alert_ids_truncated", f->n > (size_t)c->max_ids, "amount_at_risk_fen",
                          (json_int_t)f->amount, "amount_at_risk_yuan", yuan, "highest_severity",
                          fg_severity_name((fg_severity_t)f->max_sev), "alerts_by_rule", by_rule,
                          "first_event_time", (json_int_t)f->t_min, "last_event_time", (json_int_t)f->t_max);
    if (!o) abort();
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) abort();
    return s;
}

int fg_cases_update(fg_cases_t *c, const fg_alerts_t *alerts, fg_case_records_t *out, char *errstr,
                    size_t errstr_size) {
    if (!alerts->n) return FG_OK;
    char key[512];
    fg_state_begin(c->st);
    for (size_t i = 0; i < alerts->n; i++) {
        const fg_alert_t *a = &alerts->v[i];
        if (a->institution_id[0] &&
            case_key(c, key, sizeof(key), a->institution_id, fg_case_period_start(c, a->event_time)) > 0)
            fg_state_want(c->st, key);
    }
    int rc = fg_state_fetch(c->st, errstr, errstr_size);
    if (rc != FG_OK) return rc;

    size_t first = out->n;
    for (size_t i = 0; i < alerts->n; i++) {
        const fg_alert_t *a = &alerts->v[i];
        int64_t ps = fg_case_period_start(c, a->event_time);
        if (!a->institution_id[0] || case_key(c, key, sizeof(key), a->institution_id, ps) < 0) continue;
        char v[FG_ALERT_STR + 160];
        int n = snprintf(v, sizeof(v), "%lld|%lld|%d|%s|%s", (long long)a->event_time,
                         (long long)a->amount_at_risk_fen, (int)a->severity, a->rule_id ? a->rule_id : "",
                         a->region);
        if (n < 0 || (size_t)n >= sizeof(v)) n = (int)strlen(v);
        fg_state_hset(c->st, key, a->id, v, (size_t)n);
        fg_state_expire(c->st, key, c->retention_ms);
        size_t j = first;
        while (j < out->n && (out->v[j].period_start != ps || strcmp(out->v[j].institution_id, a->institution_id))) j++;
        if (j == out->n) {
            fg_case_record_t *rec = rec_add(out);
            fg_alert_set(rec->institution_id, sizeof(rec->institution_id), a->institution_id);
            rec->period_start = ps;
            fg_case_make_id(rec->case_id, a->institution_id, ps);
        }
    }
    for (size_t j = first; j < out->n; j++) {
        fg_case_record_t *rec = &out->v[j];
        case_key(c, key, sizeof(key), rec->institution_id, rec->period_start);
        fg_case_fold_t f = {0};
        fg_state_hforeach(c->st, key, fold, &f);
        rec->json = case_json(c, rec, &f);
        free(f.refs);
    }
    rc = fg_state_flush(c->st, errstr, errstr_size);
    if (rc != FG_OK) {
        for (size_t j = first; j < out->n; j++) free(out->v[j].json);
        out->n = first;
    }
    return rc;
}

void fg_case_records_clear(fg_case_records_t *out) {
    for (size_t i = 0; i < out->n; i++) free(out->v[i].json);
    out->n = 0;
}

void fg_case_records_free(fg_case_records_t *out) {
    fg_case_records_clear(out);
    free(out->v);
    memset(out, 0, sizeof(*out));
}
